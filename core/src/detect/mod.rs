//! Moat's own detections. Malware (EICAR, executables by content or by any candidate name)
//! applies whatever a customer's policies say (a `deliver` policy does not let malware
//! through); spam (so far GTUBE) yields to a `deliver` policy. File-type sniffing is shared with
//! the attachment policy conditions.

pub mod filetype;
pub mod links;
pub mod malware;
pub mod spam;
