//! Which network addresses Moat may connect to on a customer's or a sender's say-so.
//!
//! Every outbound connection whose destination someone outside the operator chose (a domain's
//! real mail server, a webhook URL, the MX of a bounce's sender) is checked here, on the
//! addresses the name resolved to at connection time, so a name that resolves inward later
//! (DNS rebinding) is refused too. One check for all of them: an address is *internal* unless
//! it is global unicast by the IANA IPv4 and IPv6 special-purpose registries, and addresses
//! that embed an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64 `64:ff9b::/96`, 6to4
//! `2002::/16`) are judged by the IPv4 address they reach.
//!
//! The operator can allow internal targets: site-wide by network (`relay.allow_internal_targets`,
//! e.g. the ISP's own mail servers' network) or per domain (`moat domain allow-internal`); a
//! customer never can.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Whether `ip` is anything but a global unicast address: loopback, private, shared (CGNAT),
/// link-local, documentation, benchmarking, multicast, reserved, unspecified, or an IPv6
/// address that reaches one of those through an embedded IPv4 address.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0                                          // "this network" 0.0.0.0/8
        || a == 10                                  // private
        || (a == 100 && (64..128).contains(&b))     // shared address space (CGNAT)
        || a == 127                                 // loopback
        || (a == 169 && b == 254)                   // link-local
        || (a == 172 && (16..32).contains(&b))      // private
        || (a == 192 && b == 0 && c == 0)           // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)           // TEST-NET-1
        || (a == 192 && b == 88 && c == 99)         // 6to4 relay anycast
        || (a == 192 && b == 168)                   // private
        || (a == 198 && (b & 0xfe) == 18)           // benchmarking 198.18.0.0/15
        || (a == 198 && b == 51 && c == 100)        // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)         // TEST-NET-3
        || a >= 224 // multicast, reserved 240/4 and broadcast
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Addresses that carry an IPv4 address are judged by it.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_internal_v4(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] {
        // ::, ::1 and the deprecated IPv4-compatible ::/96: none is a global destination.
        return true;
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 well-known prefix: the translator connects to the embedded IPv4 address.
        return is_internal_v4(embedded_v4(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        // 6to4: the IPv4 address of the tunnel end is in bits 16..48.
        return is_internal_v4(embedded_v4(s[1], s[2]));
    }
    // Only 2000::/3 is global unicast; inside it, the special-purpose blocks.
    (s[0] & 0xe000) != 0x2000
        || (s[0] == 0x2001 && s[1] < 0x0200)   // 2001::/23 IETF protocol assignments (Teredo, ORCHID, benchmarking)
        || (s[0] == 0x2001 && s[1] == 0x0db8)  // documentation
        || (s[0] & 0xfff0) == 0x3ff0 // documentation 3fff::/20
}

fn embedded_v4(hi: u16, lo: u16) -> Ipv4Addr {
    let [a, b] = hi.to_be_bytes();
    let [c, d] = lo.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

/// The operator's exceptions: networks that may be connected to although they are internal.
#[derive(Debug, Clone, Default)]
pub struct TargetGuard {
    allowed: Vec<IpNet>,
}

/// Why a destination was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{host} resolves only to internal addresses ({addresses}); the operator has not allowed them"
)]
pub struct Refused {
    pub host: String,
    pub addresses: String,
}

impl TargetGuard {
    /// A guard allowing the given networks (`10.1.0.0/16`, `127.0.0.1`, `fd00::/8`).
    pub fn new(allowed: &[String]) -> Result<TargetGuard, String> {
        let allowed = allowed
            .iter()
            .map(|n| {
                let n = n.trim();
                n.parse::<IpNet>()
                    .or_else(|_| n.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{n}` is not an IP network (a.b.c.d/len or an address)"))
            })
            .collect::<Result<_, _>>()?;
        Ok(TargetGuard { allowed })
    }

    /// A guard that allows everything (the operator's own tools, tests of the guard's users).
    pub fn allow_all() -> TargetGuard {
        TargetGuard {
            allowed: [
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            ]
            .into_iter()
            .filter_map(|a| IpNet::new(a, 0).ok())
            .collect(),
        }
    }

    /// Whether `ip` may be connected to; `domain_allows` is a per-domain operator exception.
    pub fn permits(&self, ip: IpAddr, domain_allows: bool) -> bool {
        domain_allows || !is_internal(ip) || self.allowed.iter().any(|n| n.contains(&ip))
    }

    /// The permitted addresses among `addrs`, or why none is.
    pub fn filter<A: Copy + Into<std::net::SocketAddr>>(
        &self,
        host: &str,
        addrs: impl IntoIterator<Item = A>,
        domain_allows: bool,
    ) -> Result<Vec<std::net::SocketAddr>, Refused> {
        let all: Vec<std::net::SocketAddr> = addrs.into_iter().map(Into::into).collect();
        let kept: Vec<_> = all
            .iter()
            .copied()
            .filter(|a| self.permits(a.ip(), domain_allows))
            .collect();
        if kept.is_empty() && !all.is_empty() {
            return Err(Refused {
                host: host.to_string(),
                addresses: all
                    .iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal(s: &str) -> bool {
        is_internal(s.parse().expect("address"))
    }

    #[test]
    fn special_purpose_ipv4_is_internal() {
        for a in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.9.9.9",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(internal(a), "{a} should be internal");
        }
        for a in [
            "8.8.8.8",
            "100.63.0.1",
            "100.128.0.1",
            "172.32.0.1",
            "193.0.2.1",
            "1.1.1.1",
        ] {
            assert!(!internal(a), "{a} should be global");
        }
    }

    #[test]
    fn special_purpose_ipv6_and_embedded_ipv4_are_internal() {
        for a in [
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",        // IPv4-compatible
            "::8.8.8.8",          // IPv4-compatible: deprecated, never a destination
            "64:ff9b::7f00:1",    // NAT64 to 127.0.0.1
            "64:ff9b::a9fe:a9fe", // NAT64 to 169.254.169.254
            "64:ff9b:1::1",       // local-use NAT64
            "2002:7f00:1::1",     // 6to4 of 127.0.0.1
            "2002:c0a8:101::1",   // 6to4 of 192.168.1.1
            "2001::1",            // Teredo
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(internal(a), "{a} should be internal");
        }
        for a in [
            "2a00:1450:4001:80b::200e",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!internal(a), "{a} should be global");
        }
    }

    #[test]
    fn the_operator_can_allow_networks_and_domains() {
        let guard = TargetGuard::new(&["127.0.0.0/8".into(), "fd00::1".into()]).expect("guard");
        assert!(guard.permits("127.0.0.2".parse().expect("ip"), false));
        assert!(guard.permits("fd00::1".parse().expect("ip"), false));
        assert!(!guard.permits("fd00::2".parse().expect("ip"), false));
        assert!(!guard.permits("10.0.0.1".parse().expect("ip"), false));
        assert!(guard.permits("10.0.0.1".parse().expect("ip"), true));
        assert!(TargetGuard::new(&["not a net".into()]).is_err());
        let all = TargetGuard::allow_all();
        assert!(all.permits("10.0.0.1".parse().expect("ip"), false));
        assert!(all.permits("::1".parse().expect("ip"), false));
        let none = TargetGuard::default();
        let refused = none
            .filter(
                "evil.example",
                [std::net::SocketAddr::from(([127, 0, 0, 1], 25))],
                false,
            )
            .expect_err("refused");
        assert_eq!(refused.addresses, "127.0.0.1");
        let mixed = none
            .filter(
                "mixed.example",
                [
                    std::net::SocketAddr::from(([127, 0, 0, 1], 25)),
                    std::net::SocketAddr::from(([8, 8, 8, 8], 25)),
                ],
                false,
            )
            .expect("one allowed");
        assert_eq!(mixed.len(), 1);
    }
}
