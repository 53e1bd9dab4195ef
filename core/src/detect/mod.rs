//! Moat's own detections, one module per threat class. Malware (EICAR, executables by content
//! or by any candidate name) applies whatever a customer's policies say (a `deliver` policy does
//! not let malware through); spam, phishing and BEC yield to a `deliver` policy or an allow
//! rule. File-type sniffing is shared with the attachment policy conditions; link extraction and
//! lookalike-domain checks with the phishing and BEC classes.

pub mod ambiguity;
pub mod archive;
pub mod bec;
pub mod clamd;
pub mod filetype;
pub mod hosting;
pub mod links;
pub mod lookalike;
pub mod malware;
pub mod pages;
pub mod pdf;
pub mod phishing;
pub mod qr;
pub mod reputation;
pub mod sa;
pub mod spam;
