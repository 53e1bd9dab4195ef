//! A real ClamAV daemon for tests: Debian's `clamd` started in a temporary directory with an
//! offline test database of two MD5 signatures (EICAR's file and ClamAV's own test file,
//! `clam.exe` of Debian's clamav-testfiles), listening on a unix socket; stopped when dropped.

use std::{
    io::{Read, Write},
    os::unix::net::UnixStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use tempfile::TempDir;

pub struct Clamd {
    pub socket: PathBuf,
    child: Child,
    _dir: TempDir,
}

impl Clamd {
    /// Starts clamd and waits until it answers `PING`.
    pub fn start() -> Clamd {
        let binary = ["/usr/sbin/clamd", "/usr/bin/clamd"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("clamd is not installed (tests/run.sh installs Debian's clamav-daemon)");
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("db");
        std::fs::create_dir(&db).expect("db dir");
        // `md5:size:name` lines (ClamAV's hash signature format).
        std::fs::write(
            db.join("clamav-test.hdb"),
            "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n\
             aa15bcf478d165efd2065190eb473bcb:544:ClamAV-Test-File\n",
        )
        .expect("test signatures written");
        let socket = dir.path().join("clamd.sock");
        let conf = dir.path().join("clamd.conf");
        std::fs::write(
            &conf,
            format!(
                "DatabaseDirectory {}\nLocalSocket {}\nForeground yes\nTemporaryDirectory {}\n\
                 LogFile {}\nStreamMaxLength 50M\nAlertExceedsMax yes\n",
                db.display(),
                socket.display(),
                dir.path().display(),
                dir.path().join("clamd.log").display()
            ),
        )
        .expect("clamd.conf");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("clamd starts");
        let clamd = Clamd {
            socket,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if clamd.ping() {
                return clamd;
            }
            assert!(
                Instant::now() < deadline,
                "clamd did not answer PING in 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = UnixStream::connect(&self.socket) else {
            return false;
        };
        let mut reply = String::new();
        s.write_all(b"zPING\0").is_ok()
            && s.read_to_string(&mut reply).is_ok()
            && reply.starts_with("PONG")
    }

    /// `unix:<socket>`, as `malware.clamd` takes it.
    pub fn address(&self) -> String {
        format!("unix:{}", self.socket.display())
    }
}

impl Drop for Clamd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
