//! `moat token`: the operator mints API tokens (the customer is made if new).

use clap::Subcommand;
use moat_api_sidecar::service;
use moat_core::{
    config::Config,
    model::{TokenKind, TokenScope},
};

use super::{block, open_store};

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Create an API token for a customer (created if new); prints the token once.
    Create {
        #[arg(long)]
        customer: String,
        /// A `moat_test_` token instead of a live one.
        #[arg(long)]
        test: bool,
        /// What the token may do: read_only, quarantine or admin.
        #[arg(long, default_value = "admin", value_parser = parse_scope)]
        scope: TokenScope,
    },
}

fn parse_scope(s: &str) -> Result<TokenScope, String> {
    TokenScope::parse(s).ok_or_else(|| format!("{s:?} is not one of read_only, quarantine, admin"))
}

/// Runs `moat token …`.
pub fn run(config: &Config, cmd: TokenCmd) -> anyhow::Result<()> {
    match cmd {
        TokenCmd::Create {
            customer,
            test,
            scope,
        } => {
            let store = open_store(config)?;
            let kind = if test {
                TokenKind::Test
            } else {
                TokenKind::Live
            };
            let (_, secret) = block(service::tokens::issue(&store, &customer, kind, scope))?;
            println!("{secret}");
        }
    }
    Ok(())
}
