//! DNS for everything Moat looks up (SPF, DKIM keys, DMARC, MX of bounce destinations): one
//! hickory resolver built from `[dns]` (the system's resolvers, configured upstreams, or a static
//! zone served on loopback), with time-outs that end in an error instead of a hung session.
//! Everything here runs on a tokio runtime, never on a glommio shard.

pub mod cache;
pub mod server;
pub mod zone;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use hickory_resolver::{
    TokioResolver,
    config::{NameServerConfig, ResolverConfig, ResolverOpts},
    net::runtime::TokioRuntimeProvider,
};
use thiserror::Error;

use crate::config::DnsConfig;

/// `text` as a DNS name whose labels are the octets between the dots, taken as written: no
/// IDNA mapping, no zone-file escapes (SPF macros put `:`, `/`, `%` and spaces into names, and
/// the static zone must answer them verbatim). `None` when a label is empty or too long.
pub fn name_from_labels(text: &str) -> Option<hickory_resolver::proto::rr::Name> {
    let text = text.strip_suffix('.').unwrap_or(text);
    hickory_resolver::proto::rr::Name::from_labels(text.split('.').map(str::as_bytes)).ok()
}

/// The inverse of [`name_from_labels`]: the labels' octets joined by dots, without the final dot.
pub fn labels_text(name: &hickory_resolver::proto::rr::Name) -> String {
    name.iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect::<Vec<_>>()
        .join(".")
}

pub use server::ZoneServer;
pub use zone::{Zone, ZoneData, ZoneError};

#[derive(Debug, Error)]
pub enum DnsSetupError {
    #[error(transparent)]
    Zone(#[from] ZoneError),
    #[error("cannot start the static-zone server: {0}")]
    Server(std::io::Error),
    #[error("cannot read the system's resolver configuration: {0}")]
    System(String),
    #[error("cannot build the resolver: {0}")]
    Build(String),
}

/// A resolver and, in static-zone mode, the server it asks.
pub struct Dns {
    pub resolver: TokioResolver,
    /// Kept so the loopback server lives as long as the resolver.
    zone_server: Option<ZoneServer>,
}

impl Dns {
    /// Builds the resolver `config` describes; must be called on a tokio runtime.
    pub async fn start(config: &DnsConfig) -> Result<Dns, DnsSetupError> {
        match &config.static_zone {
            Some(path) => {
                let zone = Zone::load(path)?;
                tracing::info!(path = %path.display(), records = zone.len(), "DNS answers come from a static zone");
                Dns::with_zone(zone, config).await
            }
            None => Ok(Dns {
                resolver: resolver_for(&config.nameservers, config)?,
                zone_server: None,
            }),
        }
    }

    /// Serves `zone` on loopback and resolves against it alone.
    pub async fn with_zone(zone: Zone, config: &DnsConfig) -> Result<Dns, DnsSetupError> {
        let server = ZoneServer::start(Arc::new(zone))
            .await
            .map_err(DnsSetupError::Server)?;
        let resolver = resolver_for(&[server.addr], config)?;
        Ok(Dns {
            resolver,
            zone_server: Some(server),
        })
    }

    /// Where the static zone is served, in static-zone mode.
    pub fn zone_addr(&self) -> Option<SocketAddr> {
        self.zone_server.as_ref().map(|s| s.addr)
    }
}

fn options(config: &DnsConfig, mut base: ResolverOpts) -> ResolverOpts {
    base.timeout = Duration::from_millis(config.timeout_ms.max(1));
    base.attempts = config.attempts.max(1);
    // The resolver's own TTL cache (SPF asks it directly) holds as many answers as Moat's.
    base.cache_size = config.cache_entries.max(16) as u64;
    base
}

/// A resolver asking `servers` (`ip:port`), or the system's resolvers when the list is empty.
fn resolver_for(
    servers: &[SocketAddr],
    config: &DnsConfig,
) -> Result<TokioResolver, DnsSetupError> {
    let mut builder = if servers.is_empty() {
        TokioResolver::builder_tokio().map_err(|e| DnsSetupError::System(e.to_string()))?
    } else {
        let name_servers = servers
            .iter()
            .map(|addr| {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                ns
            })
            .collect();
        TokioResolver::builder_with_config(
            ResolverConfig::from_parts(None, vec![], name_servers),
            TokioRuntimeProvider::default(),
        )
    };
    let opts = options(config, builder.options_mut().clone());
    *builder.options_mut() = opts;
    builder
        .build()
        .map_err(|e| DnsSetupError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_static_zone_answers_through_the_real_resolver() {
        let zone = Zone::parse(
            "example.com TXT \"v=spf1 -all\"\nexample.com MX 10 mx.example.com\n\
             mx.example.com A 192.0.2.7\nslow.example.com TIMEOUT\n",
        )
        .expect("zone");
        let config = DnsConfig {
            timeout_ms: 300,
            attempts: 1,
            ..DnsConfig::default()
        };
        let dns = Dns::with_zone(zone, &config).await.expect("starts");
        let txt = dns.resolver.txt_lookup("example.com.").await.expect("txt");
        let texts: Vec<String> = txt
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                hickory_resolver::proto::rr::RData::TXT(t) => Some(t.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(texts, vec!["v=spf1 -all".to_string()]);
        let ips = dns.resolver.lookup_ip("mx.example.com.").await.expect("ip");
        assert_eq!(ips.iter().next(), Some("192.0.2.7".parse().expect("ip")));
        let missing = dns.resolver.txt_lookup("nope.example.com.").await;
        assert!(missing.is_err_and(|e| e.is_nx_domain()));
        let started = std::time::Instant::now();
        assert!(dns.resolver.txt_lookup("slow.example.com.").await.is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
