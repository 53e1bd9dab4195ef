//! The `moat` command: runs the gateway (`moat up`) and administers it (see [`moat::cli`]).

use clap::Parser;
use moat::cli::Cli;
use moat_core::config::{Config, LogFormat};

/// The log as `[log]` asks (text by default; a config that does not load is reported by
/// `run`, with the plain text log meanwhile).
fn init_log(cli: &Cli) {
    use std::io::IsTerminal;
    let format = Config::load(cli.config.as_deref())
        .map(|c| c.log.format)
        .unwrap_or_default();
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Text => {
            // Colour codes only for a person at a terminal, never into files or journald.
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            builder.with_ansi(colour).init()
        }
    }
}

fn main() {
    let cli = Cli::parse();
    init_log(&cli);
    if let Err(e) = moat::cli::run(cli) {
        eprintln!("moat: error: {e:#}");
        std::process::exit(1);
    }
}
