//! The real `moat` binary as a child process: a config in a temporary directory, CLI calls,
//! `moat up` that is killed (SIGKILL) when dropped.

use std::{
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
};

use crate::{
    harness::{free_port, moat_binary},
    sink::Sink,
};

/// Kills the child on drop, so a failing test leaves no server behind.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn write_config(dir: &Path, smtp: u16, api: u16) -> std::path::PathBuf {
    let path = dir.join("moat.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\n[smtp]\nlisten = \"127.0.0.1:{smtp}\"\nshards = 2\npin_shards = false\nshutdown_grace_secs = 10\n\
             [api]\nlisten = \"127.0.0.1:{api}\"\nworkers = 1\n[policy]\nreload_interval_ms = 50\n\
             [spool]\nretry_initial_secs = 1\nretry_max_secs = 1\n[dns]\nstatic_zone = \"{}\"\n\
             [spamassassin]\ncache_dir = \"{}\"\n",
            dir.join("data").display(),
            dir.join("zone.txt").display(),
            crate::harness::sa_cache().display()
        ),
    )
    .expect("config written");
    std::fs::write(dir.join("zone.txt"), "# test zone: empty\n").expect("zone written");
    path
}

pub fn moat(config: &Path, args: &[&str]) -> String {
    let out = Command::new(moat_binary())
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("moat runs");
    assert!(
        out.status.success(),
        "moat {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A temporary data dir and config, with `acme.example` added through the CLI and relayed to
/// `sink`; returns the config path and the SMTP address.
pub fn setup(dir: &Path, sink: &Sink) -> (std::path::PathBuf, SocketAddr) {
    let (smtp_port, api_port) = (free_port(), free_port());
    let config = write_config(dir, smtp_port, api_port);
    let real_mx = sink.addr.to_string();
    moat(
        &config,
        &[
            "domain",
            "add",
            "acme.example",
            "--real-mx",
            &real_mx,
            "--customer",
            "acme",
            // The sink listens on loopback: the operator's exception for this domain.
            "--allow-internal",
        ],
    );
    let smtp = format!("127.0.0.1:{smtp_port}").parse().expect("addr");
    (config, smtp)
}

pub fn up(config: &Path) -> Running {
    Running(
        Command::new(moat_binary())
            .arg("--config")
            .arg(config)
            .arg("up")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moat up starts"),
    )
}
