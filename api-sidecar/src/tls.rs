//! HTTPS for the API itself (`api.tls_cert` / `api.tls_key`), for sites without a reverse
//! proxy in front. The certificate is held behind a resolver that SIGHUP swaps, so a renewed
//! certificate applies to new connections without a restart. With TLS on, every answer carries
//! `Strict-Transport-Security`.

use std::{path::Path, sync::Arc};

use arc_swap::ArcSwap;
use moat_core::config::Config;
use rustls::{
    ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};

/// Why the API's certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ApiTlsError {
    #[error("set both api.tls_cert and api.tls_key, or neither")]
    Half,
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("TLS configuration: {0}")]
    Config(String),
}

fn certified(cert: &Path, key: &Path) -> Result<CertifiedKey, ApiTlsError> {
    let file = |path: &Path, reason: String| ApiTlsError::File {
        path: path.display().to_string(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| file(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(file(cert, "no certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file(key, e.to_string()))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| ApiTlsError::Config(e.to_string()))?;
    let certified = CertifiedKey::new(certs, signer);
    certified
        .keys_match()
        .map_err(|e| ApiTlsError::Config(format!("certificate and key do not match: {e}")))?;
    Ok(certified)
}

/// The API's certificate, swappable while the server runs.
#[derive(Debug)]
pub struct ApiCertificate {
    current: ArcSwap<CertifiedKey>,
}

impl ResolvesServerCert for ApiCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

impl ApiCertificate {
    /// Loads the configured pair; `None` when the API serves plain HTTP.
    pub fn load(config: &Config) -> Result<Option<Arc<ApiCertificate>>, ApiTlsError> {
        match (&config.api.tls_cert, &config.api.tls_key) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Ok(Some(Arc::new(ApiCertificate {
                current: ArcSwap::from_pointee(certified(cert, key)?),
            }))),
            _ => Err(ApiTlsError::Half),
        }
    }

    /// Reads the pair named in `config` again (SIGHUP); a bad pair keeps the current one.
    pub fn reload(&self, config: &Config) -> Result<(), ApiTlsError> {
        match (&config.api.tls_cert, &config.api.tls_key) {
            (Some(cert), Some(key)) => {
                self.current.store(Arc::new(certified(cert, key)?));
                Ok(())
            }
            _ => Err(ApiTlsError::Half),
        }
    }

    /// The rustls server configuration resolving through this certificate.
    pub fn server_config(self: &Arc<Self>) -> Result<ServerConfig, ApiTlsError> {
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| ApiTlsError::Config(e.to_string()))?
                .with_no_client_auth()
                .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}
