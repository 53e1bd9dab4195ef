//! `moat up` and `moat api`: run until SIGTERM or SIGINT; SIGHUP reloads what can be
//! reloaded (the configuration's policy and TLS material under `up`, the API's certificate
//! under `api`).

use std::path::Path;

use anyhow::Context;
use moat_core::config::Config;
use signal_hook::{
    consts::{SIGHUP, SIGINT, SIGTERM},
    iterator::Signals,
};

use super::{block, open_store};

/// `moat up`: the scanner and the API in one process.
pub fn up(config: Config, config_path: Option<&Path>) -> anyhow::Result<()> {
    // Registered before starting, so no signal falls into a window with default action.
    let mut signals =
        Signals::new([SIGTERM, SIGINT, SIGHUP]).context("installing signal handlers")?;
    let running = crate::up::start(config)?;
    println!(
        "moat is up: SMTP on {}, API on {}://{}/v1",
        running.smtp_addr,
        running.api_scheme(),
        running.api_addr
    );
    for signal in signals.forever() {
        if signal == SIGHUP {
            tracing::info!("SIGHUP: reloading");
            running.reload(config_path);
        } else {
            running.shutdown();
            break;
        }
    }
    Ok(())
}

/// `moat api`: the API alone (API hosts of a cluster; the scanners run `moat up`).
pub fn api(config: Config, config_path: Option<&Path>) -> anyhow::Result<()> {
    let mut signals =
        Signals::new([SIGTERM, SIGINT, SIGHUP]).context("installing signal handlers")?;
    let store = open_store(&config)?;
    let api = moat_api_sidecar::ApiServer::start(config.clone(), store.clone(), None)
        .context("starting the API")?;
    let scheme = if api.certificate.is_some() {
        "https"
    } else {
        "http"
    };
    println!("moat API is up on {scheme}://{}/v1", api.addr);
    for signal in signals.forever() {
        if signal == SIGHUP {
            // The API's certificate is what a reload can change here.
            if let (Some(cert), Ok(new)) = (&api.certificate, Config::load(config_path)) {
                match cert.reload(&new) {
                    Ok(()) => tracing::info!("API certificate reloaded"),
                    Err(e) => tracing::error!(error = %e, "API certificate not reloaded"),
                }
            }
            continue;
        }
        block(store.flush())?;
        tracing::info!("API stopped");
        break;
    }
    Ok(())
}
