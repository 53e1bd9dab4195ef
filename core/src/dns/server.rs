//! Serves a [`Zone`] over DNS (UDP and TCP) on a loopback port, so that static-zone mode uses
//! the real resolver, its caches and time-outs, and nothing but this server is asked. Runs on
//! the caller's tokio runtime; dropping the [`ZoneServer`] stops it.

use std::{net::SocketAddr, sync::Arc};

use hickory_proto::{
    op::{Edns, Message, MessageType, OpCode, ResponseCode},
    rr::{
        Name, RData, Record, RecordType,
        rdata::{A, AAAA, CNAME, MX, PTR, SOA, TXT},
    },
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, UdpSocket},
    task::JoinHandle,
};

use super::zone::{Answer, Zone, ZoneData};

/// A running zone server; stops when dropped.
pub struct ZoneServer {
    pub addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for ZoneServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl ZoneServer {
    /// Binds UDP and TCP on the same free loopback port and starts answering.
    pub async fn start(zone: Arc<Zone>) -> std::io::Result<ZoneServer> {
        // The UDP port is chosen by the kernel; TCP takes the same number (retry on a clash).
        let mut last_err = None;
        for _ in 0..16 {
            let udp = UdpSocket::bind("127.0.0.1:0").await?;
            let addr = udp.local_addr()?;
            match TcpListener::bind(addr).await {
                Ok(tcp) => {
                    let tasks = vec![
                        tokio::spawn(serve_udp(udp, zone.clone())),
                        tokio::spawn(serve_tcp(tcp, zone)),
                    ];
                    return Ok(ZoneServer { addr, tasks });
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| std::io::Error::other("no free port")))
    }
}

async fn serve_udp(socket: UdpSocket, zone: Arc<Zone>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Some(reply) = answer(&zone, &buf[..n], true) else {
            continue;
        };
        let _ = socket.send_to(&reply, peer).await;
    }
}

async fn serve_tcp(listener: TcpListener, zone: Arc<Zone>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let zone = zone.clone();
        tokio::spawn(async move {
            loop {
                let Ok(len) = stream.read_u16().await else {
                    return;
                };
                let mut buf = vec![0u8; usize::from(len)];
                if stream.read_exact(&mut buf).await.is_err() {
                    return;
                }
                let Some(reply) = answer(&zone, &buf, false) else {
                    // TIMEOUT names: keep the connection silent.
                    continue;
                };
                let Ok(len) = u16::try_from(reply.len()) else {
                    return;
                };
                if stream.write_u16(len).await.is_err() || stream.write_all(&reply).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn type_name(t: RecordType) -> Option<&'static str> {
    Some(match t {
        RecordType::A => "A",
        RecordType::AAAA => "AAAA",
        RecordType::TXT => "TXT",
        RecordType::MX => "MX",
        RecordType::PTR => "PTR",
        RecordType::CNAME => "CNAME",
        _ => return None,
    })
}

fn name(s: &str) -> Option<Name> {
    Name::from_str_relaxed(format!("{}.", s.trim_end_matches('.'))).ok()
}

fn rdata(data: &ZoneData) -> Option<RData> {
    Some(match data {
        ZoneData::A(ip) => RData::A(A(*ip)),
        ZoneData::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
        // A TXT record holds at least one character-string on the wire (RFC 1035 3.3.14):
        // one with none (as a test suite may write) is served as one empty string.
        ZoneData::Txt(strings) if strings.is_empty() => RData::TXT(TXT::from_bytes(vec![b""])),
        ZoneData::Txt(strings) => {
            RData::TXT(TXT::from_bytes(strings.iter().map(Vec::as_slice).collect()))
        }
        ZoneData::Mx(pref, host) => RData::MX(MX::new(*pref, owner_name(host)?)),
        ZoneData::Ptr(host) => RData::PTR(PTR(owner_name(host)?)),
        ZoneData::Cname(host) => RData::CNAME(CNAME(name(host)?)),
        ZoneData::Timeout => return None,
    })
}

/// Seconds resolvers may remember that a name or record does not exist.
const NEGATIVE_TTL: u32 = 300;

/// The SOA record of a negative answer (RFC 2308): without it resolvers do not cache
/// NXDOMAIN or NODATA, and every look-up of a missing name would cross the loopback again.
fn negative_soa() -> Record {
    let root = Name::root();
    let soa = SOA::new(
        root.clone(),
        root.clone(),
        1,
        3600,
        600,
        86400,
        NEGATIVE_TTL,
    );
    Record::from_rdata(root, NEGATIVE_TTL, RData::SOA(soa))
}

/// The owner name of an answer, as raw label octets (so it matches a query for
/// `foo:bar/baz.example.com` or `a b.example.com` exactly); the root and other names that
/// have no label form go through the relaxed parser.
fn owner_name(s: &str) -> Option<Name> {
    super::name_from_labels(s).or_else(|| name(s))
}

/// The wire-format reply to one query message; `None` means stay silent.
fn answer(zone: &Zone, query: &[u8], udp: bool) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    if request.metadata.message_type != MessageType::Query {
        return None;
    }
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.authoritative = true;
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.add_queries(request.queries.iter().cloned());
    let max_payload = match &request.edns {
        Some(edns) => {
            let mut reply_edns = Edns::new();
            reply_edns.set_max_payload(4096);
            response.set_edns(reply_edns);
            edns.max_payload().max(512)
        }
        None => 512,
    };
    match (request.metadata.op_code, request.queries.first()) {
        (OpCode::Query, Some(q)) => match type_name(q.query_type()) {
            None => {} // a type the zone cannot hold: no data
            Some(t) => match zone.lookup(&format!("{}.", super::labels_text(q.name())), t) {
                Answer::Timeout => return None,
                Answer::NxDomain => {
                    response.metadata.response_code = ResponseCode::NXDomain;
                    response.add_authority(negative_soa());
                }
                Answer::NoData => {
                    response.add_authority(negative_soa());
                }
                Answer::Records(records) => {
                    for (owner, record) in records {
                        if let (Some(owner), Some(data)) = (owner_name(&owner), rdata(&record.data))
                        {
                            response.add_answer(Record::from_rdata(owner, record.ttl, data));
                        }
                    }
                }
            },
        },
        _ => response.metadata.response_code = ResponseCode::NotImp,
    }
    let bytes = response.to_vec().ok()?;
    if udp && bytes.len() > usize::from(max_payload) {
        return response.truncate().to_vec().ok();
    }
    Some(bytes)
}
