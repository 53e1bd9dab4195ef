//! A minimal HTTP/1.1 server on loopback that records every request: the receiving end of
//! Moat's webhooks in tests.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU16, Ordering},
    },
    thread,
};

use serde_json::Value;

/// One request the receiver took.
#[derive(Debug, Clone)]
pub struct Hit {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Hit {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A minimal HTTP/1.1 receiver answering every request with `status`.
pub struct Receiver {
    pub addr: SocketAddr,
    pub hits: Arc<Mutex<Vec<Hit>>>,
    pub status: Arc<AtomicU16>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let hits: Arc<Mutex<Vec<Hit>>> = Default::default();
        let status = Arc::new(AtomicU16::new(200));
        let (h, s) = (hits.clone(), status.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut headers = Vec::new();
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((n, v)) = line.trim_end().split_once(':') {
                        headers.push((n.trim().to_string(), v.trim().to_string()));
                    }
                }
                let len: usize = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                h.lock().expect("hits").push(Hit {
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                let code = s.load(Ordering::SeqCst);
                let _ = reader.get_mut().write_all(
                    format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                );
            }
        });
        Receiver { addr, hits, status }
    }

    pub fn of_type(&self, event: &str) -> Vec<Hit> {
        self.hits
            .lock()
            .expect("hits")
            .iter()
            .filter(|h| h.header("moat-event") == Some(event))
            .cloned()
            .collect()
    }
}
