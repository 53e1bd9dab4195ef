//! The `moat` binary's crate: it draws the architecture's last arrow. `moat-core` holds the
//! model, the verdict library and the store; `moat-scanner` (SMTP) and `moat-api-sidecar`
//! (REST) each build on it alone; this crate joins them into one process and one command.
//!
//! # Layout
//! - [`up`]: `moat up` starts the store, the scanner's shards, its side threads and the API;
//! - [`cli`]: the command line, a module per subcommand (they call the API's services).

pub mod cli;
pub mod up;
