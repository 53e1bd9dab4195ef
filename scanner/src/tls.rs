//! STARTTLS material: the rustls server configuration from the configured PEM files, or from a
//! self-signed pair generated under `data_dir/tls/` on first start so that a new install offers
//! TLS at once (senders that verify will want a real certificate; most MTAs accept any).

use std::{path::Path, sync::Arc};

use anyhow::{Context, bail};
use moat_core::config::Config;
use rustls::{
    ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
};

fn load(cert: &Path, key: &Path) -> anyhow::Result<Arc<ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading TLS certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing TLS certificate {}", cert.display()))?;
    if certs.is_empty() {
        bail!("{} holds no certificate", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading TLS key {}", key.display()))?;
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .context("TLS certificate and key do not match")?;
    Ok(Arc::new(config))
}

/// The STARTTLS configuration, or `None` when STARTTLS is switched off.
pub fn server_config(config: &Config) -> anyhow::Result<Option<Arc<ServerConfig>>> {
    if !config.smtp.starttls {
        return Ok(None);
    }
    match (&config.smtp.tls_cert, &config.smtp.tls_key) {
        (Some(cert), Some(key)) => load(cert, key).map(Some),
        (None, None) => {
            let dir = config.data_dir.join("tls");
            let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
            if !cert.exists() || !key.exists() {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                let generated = rcgen::generate_simple_self_signed(vec![config.hostname.clone()])
                    .context("generating a self-signed certificate")?;
                std::fs::write(&cert, generated.cert.pem())?;
                write_private(&key, generated.signing_key.serialize_pem().as_bytes())?;
                tracing::info!(cert = %cert.display(), "generated a self-signed STARTTLS certificate");
            }
            load(&cert, &key).map(Some)
        }
        _ => bail!("set both smtp.tls_cert and smtp.tls_key, or neither"),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
