//! Routing by MX (RFC 5321 5.1) for mail Moat sends on its own behalf (DSNs): the MX hosts of
//! the domain by preference, the domain itself when it has no MX record (implicit MX), nothing
//! when it publishes a null MX (RFC 7505). Runs on the relay's tokio runtime.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::proto::rr::RData;
use moat_core::{config::Config, dns::Dns};

/// Where to deliver a domain's mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxRoute {
    /// `(MX host name, ip:port)` targets, most preferred first.
    Hosts(Vec<(String, String)>),
    /// The domain accepts no mail (null MX).
    NullMx,
}

pub struct MxResolver {
    dns: Dns,
    port: u16,
}

impl MxResolver {
    /// The resolver `[dns]` describes (static zone, configured servers or the system's), built
    /// on the tokio runtime `runtime`.
    pub fn new(config: &Config, runtime: &tokio::runtime::Handle) -> Result<MxResolver, String> {
        let dns = runtime
            .block_on(Dns::start(&config.dns))
            .map_err(|e| e.to_string())?;
        Ok(MxResolver {
            dns,
            port: config.spool.mx_port,
        })
    }

    async fn addresses(&self, host: &str, out: &mut Vec<(String, String)>) -> Result<(), String> {
        let ips = self
            .dns
            .resolver
            .lookup_ip(format!("{}.", host.trim_end_matches('.')))
            .await
            .map_err(|e| format!("{host}: {e}"))?;
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        for ip in ips.iter() {
            let target = SocketAddr::new(ip, self.port).to_string();
            if !out.iter().any(|(_, t)| *t == target) {
                out.push((name.clone(), target));
            }
        }
        Ok(())
    }

    /// The id of the domain's MTA-STS record (`_mta-sts.<domain>` TXT `v=STSv1; id=…`), when
    /// it publishes one (RFC 8461 3.1).
    pub async fn mta_sts_id(&self, domain: &str) -> Option<String> {
        let name = format!("_mta-sts.{}.", domain.trim_end_matches('.'));
        let txt = self.dns.resolver.txt_lookup(name).await.ok()?;
        let ids: Vec<String> = txt
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(t) => {
                    let text: String = t
                        .txt_data
                        .iter()
                        .map(|d| String::from_utf8_lossy(d).to_string())
                        .collect();
                    moat_core::relay::mta_sts::record_id(&text)
                }
                _ => None,
            })
            .collect();
        // More than one record: treat as none (RFC 8461 3.1).
        match ids.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        }
    }

    /// Resolves where mail for `domain` goes.
    pub async fn route(&self, domain: &str) -> Result<MxRoute, String> {
        if let Ok(ip) = domain.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Ok(MxRoute::Hosts(vec![(
                ip.to_string(),
                SocketAddr::new(ip, self.port).to_string(),
            )]));
        }
        let fqdn = format!("{}.", domain.trim_end_matches('.'));
        let mut targets = Vec::new();
        match self.dns.resolver.mx_lookup(fqdn).await {
            Ok(mx) => {
                let mut records: Vec<_> = mx
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::MX(mx) => Some(mx),
                        _ => None,
                    })
                    .collect();
                records.sort_by_key(|r| r.preference);
                if records.len() == 1 && records[0].exchange.is_root() {
                    return Ok(MxRoute::NullMx);
                }
                let mut last_error = None;
                for r in records {
                    let host = r.exchange.to_ascii();
                    if let Err(e) = self.addresses(&host, &mut targets).await {
                        last_error = Some(e);
                    }
                }
                if targets.is_empty() {
                    return Err(
                        last_error.unwrap_or_else(|| format!("{domain}: MX hosts have no address"))
                    );
                }
            }
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => {
                if e.is_nx_domain() {
                    return Err(format!("{domain}: no such domain"));
                }
                self.addresses(domain, &mut targets).await?;
            }
            Err(e) => return Err(format!("{domain}: {e}")),
        }
        Ok(MxRoute::Hosts(targets))
    }
}
