//! STARTTLS for the relay's outbound sessions (RFC 3207): the two client configurations a
//! domain's `tls` mode chooses between, and the stream type a session runs on before and after
//! the upgrade.
//!
//! `opportunistic` and `required` encrypt without checking the certificate (as Postfix's `may`
//! and `encrypt`): most MX certificates do not name the host they are reached by, and
//! encryption against a passive listener is still worth having. `verify` checks the chain
//! against the system's roots plus `relay.tls_ca_file` (a private CA an operator pins) and the
//! name against the real server's host name.

use std::{
    io,
    path::Path,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::{
        WebPkiServerVerifier,
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    },
    crypto::{CryptoProvider, WebPkiSupportedAlgorithms},
    pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};
use tokio_rustls::{TlsConnector, client::TlsStream};

/// The relay's TLS client configurations, built once per process.
#[derive(Clone)]
pub struct TlsClients {
    /// Encrypts, accepts any certificate (signatures of the handshake are still checked).
    pub any_certificate: TlsConnector,
    /// Encrypts and checks chain and name.
    pub verified: TlsConnector,
    /// The same checks for HTTPS clients (MTA-STS policy fetches).
    pub verified_config: Arc<ClientConfig>,
}

/// Why the TLS clients could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("relay.tls_ca_file {path}: {reason}")]
    CaFile { path: String, reason: String },
    #[error("TLS client configuration: {0}")]
    Config(String),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsClients {
    /// Builds both configurations; `ca_file` adds PEM trust anchors to the system's.
    pub fn new(ca_file: Option<&Path>) -> Result<TlsClients, TlsSetupError> {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            // A system certificate rustls cannot use is skipped, as every client does.
            let _ = roots.add(cert);
        }
        if let Some(path) = ca_file {
            let shown = path.display().to_string();
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| TlsSetupError::CaFile {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?
                .collect::<Result<_, _>>()
                .map_err(|e| TlsSetupError::CaFile {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?;
            if certs.is_empty() {
                return Err(TlsSetupError::CaFile {
                    path: shown,
                    reason: "no certificate in the file".into(),
                });
            }
            for cert in certs {
                roots.add(cert).map_err(|e| TlsSetupError::CaFile {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?;
            }
        }
        let config = |verifier: Arc<dyn ServerCertVerifier>| {
            ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .map(|b| {
                    b.dangerous()
                        .with_custom_certificate_verifier(verifier)
                        .with_no_client_auth()
                })
                .map_err(|e| TlsSetupError::Config(e.to_string()))
        };
        let checking = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| TlsSetupError::Config(e.to_string()));
        // With no trust anchors at all (a bare container), `verify` domains cannot be served;
        // the others still can.
        let verified: Arc<dyn ServerCertVerifier> = match checking {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "no TLS trust anchors: relaying to `tls = verify` domains will fail");
                Arc::new(NoAnchors)
            }
        };
        let any = Arc::new(AnyCertificate {
            algorithms: provider().signature_verification_algorithms,
        });
        let verified_config = Arc::new(config(verified)?);
        Ok(TlsClients {
            any_certificate: TlsConnector::from(Arc::new(config(any)?)),
            verified: TlsConnector::from(verified_config.clone()),
            verified_config,
        })
    }
}

/// The server name to send and, for `verify`, to check: a host name or an IP address.
pub fn server_name(host: &str) -> Option<ServerName<'static>> {
    ServerName::try_from(host.trim_matches(['[', ']']).to_string()).ok()
}

/// `TLSv1.3` style name of a negotiated protocol version.
pub fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        other => format!("{other:?}"),
    }
}

/// Accepts any certificate chain but still verifies the handshake's signatures with the
/// presented key, so the session is encrypted to whoever holds that key.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Stands in for the checking verifier when there are no trust anchors: refuses everything.
#[derive(Debug)]
struct NoAnchors;

impl ServerCertVerifier for NoAnchors {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ))
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("no trust anchors".into()))
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("no trust anchors".into()))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A relay session's connection: clear text until STARTTLS, then TLS.
pub enum RelayStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl RelayStream {
    /// The negotiated TLS version, when encrypted.
    pub fn tls_version(&self) -> Option<String> {
        match self {
            RelayStream::Plain(_) => None,
            RelayStream::Tls(s) => s.get_ref().1.protocol_version().map(version_name),
        }
    }
}

impl AsyncRead for RelayStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RelayStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            RelayStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for RelayStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            RelayStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            RelayStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RelayStream::Plain(s) => Pin::new(s).poll_flush(cx),
            RelayStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RelayStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            RelayStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
