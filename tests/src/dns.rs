//! A real DNS server for tests: dnsmasq (Debian package dnsmasq-base) on a loopback port,
//! serving only the records a test gives it, stopped when dropped.

use std::{
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub struct Dns {
    pub addr: SocketAddr,
    child: Child,
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dns {
    /// Starts dnsmasq with extra options such as `--mx-host=a.test,mx.a.test,10` and
    /// `--host-record=mx.a.test,127.0.0.1`. No upstream: other names are refused.
    pub fn start(records: &[String]) -> Dns {
        // The port is only known to be free for UDP; dnsmasq also binds TCP on it. When it
        // exits or stays silent (the port was taken meanwhile), try another port.
        for _ in 0..5 {
            if let Some(dns) = Self::try_start(records, Duration::from_secs(5)) {
                return dns;
            }
        }
        panic!("dnsmasq did not start on any of 5 ports");
    }

    fn try_start(records: &[String], wait: Duration) -> Option<Dns> {
        let port = crate::harness::free_udp_port();
        let child = Command::new("dnsmasq")
            .args([
                "--no-daemon",
                "--no-resolv",
                "--no-hosts",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--pid-file=",
                &format!("--port={port}"),
            ])
            .args(records)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq is installed (apt-get install dnsmasq-base)");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let mut dns = Dns { addr, child };
        // Ready once it answers a query.
        let deadline = Instant::now() + wait;
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let query = [
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4, b'p', b'i', b'n', b'g', 4, b't', b'e',
            b's', b't', 0, 0, 1, 0, 1,
        ];
        loop {
            let _ = socket.send_to(&query, addr);
            let mut buf = [0u8; 512];
            if socket.recv_from(&mut buf).is_ok() {
                return Some(dns);
            }
            let exited = matches!(dns.child.try_wait(), Ok(Some(_)));
            if exited || Instant::now() >= deadline {
                // Dropping `dns` kills the child if it still runs.
                return None;
            }
        }
    }
}
