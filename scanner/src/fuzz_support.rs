//! Entry points for fuzzing the SMTP front: shared by the cargo-fuzz targets in `scanner/fuzz/`
//! and by seeded randomized tests that run on every CI build. Each checks invariants, not just
//! the absence of panics.

use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use moat_core::{
    config::Config,
    model::{DeliveryMode, Domain, DomainStatus},
    snapshot::GatewaySnapshot,
    store,
};
use smtp_proto::request::receiver::RequestReceiver;

use crate::{
    ScannerContext,
    data::DataReader,
    session::{Next, Session, has_bare_line_break},
};

/// One scanner context for the whole fuzzing process (a temporary store, one protected domain).
pub fn context() -> Arc<ScannerContext> {
    static CTX: OnceLock<Arc<ScannerContext>> = OnceLock::new();
    CTX.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("moat-fuzz-{}", std::process::id()));
        let mut config = Config {
            data_dir: dir,
            ..Config::default()
        };
        config.smtp.starttls = false;
        // The command and framing layers never reach content scanning: compiling SpamAssassin's
        // rules (minutes, into a fresh directory per process) would eat the fuzzing budget.
        config.spamassassin.enabled = false;
        let store = store::open(&config).expect("fuzz store opens");
        let domain = Domain {
            id: "d1".into(),
            customer_id: "c1".into(),
            name: "acme.example".into(),
            real_mx_host: "127.0.0.1:9".into(),
            delivery_mode: DeliveryMode::Spool,
            status: DomainStatus::Active,
            created_at: 0,
            detection: Default::default(),
            verified_at: None,
            tls: Default::default(),
            allow_internal_target: false,
            verification_token: String::new(),
        };
        let snapshot = Arc::new(ArcSwap::from_pointee(GatewaySnapshot::build(
            1,
            vec![domain],
            vec![],
            vec![],
            &moat_core::policy::PolicyCache::in_memory(),
        )));
        ScannerContext::new(config, store, snapshot).expect("fuzz context starts")
    })
    .clone()
}

/// Runs `input` through the command layer (line limit, parser, session state machine).
/// Invariants: every step consumes input, and every command that does not switch the session
/// into a data phase is answered with complete reply lines.
pub fn commands(input: &[u8]) {
    let mut session = Session::new(context(), "127.0.0.1:1".parse().expect("addr"));
    let mut receiver = RequestReceiver::default();
    let mut skipping = false;
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < input.len() {
        let before = out.len();
        let (n, next) = session.next_command(&input[pos..], &mut receiver, &mut skipping, &mut out);
        pos += n;
        let Some(next) = next else {
            assert!(
                n == input.len() - (pos - n) || n == 0,
                "partial consumption without a result"
            );
            break;
        };
        assert!(n > 0, "a command result must consume input");
        match next {
            Next::Close => {
                assert!(out.len() > before, "closing is announced");
                break;
            }
            Next::Continue | Next::StartTls => {
                assert!(
                    out.len() > before && out.ends_with(b"\r\n"),
                    "one reply per command"
                );
            }
            // As if the message or chunk had been received: back to commands.
            Next::Data | Next::Bdat { .. } | Next::BdatDiscard { .. } => session.reset(),
        }
    }
}

/// Runs `input` through the DATA reader whole and split at every position (the first 256),
/// all results must agree; an end must be a real CRLF.CRLF, and untainted output must hold
/// CRLF line breaks only.
pub fn data_framing(input: &[u8]) {
    let mut whole = DataReader::new();
    let mut out = Vec::new();
    let end = whole.feed(input, &mut out);
    for split in 0..=input.len().min(256) {
        let mut parts = DataReader::new();
        let mut out2 = Vec::new();
        let end2 = match parts.feed(&input[..split], &mut out2) {
            Some(n) => Some(n),
            None => parts.feed(&input[split..], &mut out2).map(|n| n + split),
        };
        assert_eq!(
            (end, &out, whole.tainted()),
            (end2, &out2, parts.tainted()),
            "split {split}"
        );
    }
    if let Some(n) = end {
        assert!(n >= 3 && &input[n - 3..n] == b".\r\n");
        assert!(n == 3 || &input[n - 5..n - 3] == b"\r\n");
    }
    if !whole.tainted() {
        assert!(!has_bare_line_break(&out));
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng, rngs::StdRng};

    /// Seeded random command streams built from SMTP fragments and noise.
    #[test]
    fn random_command_streams_keep_the_invariants() {
        const PIECES: &[&[u8]] = &[
            b"EHLO client.test\r\n",
            b"HELO x\r\n",
            b"MAIL FROM:<a@b.test>\r\n",
            b"MAIL FROM:<> SIZE=99999999999999999999\r\n",
            b"RCPT TO:<u@acme.example>\r\n",
            b"RCPT TO:<u%x@acme.example>\r\n",
            b"RCPT TO:<u@else.test>\r\n",
            b"DATA\r\n",
            b"BDAT 10\r\n",
            b"BDAT 0 LAST\r\n",
            b"BDAT -1\r\n",
            b"RSET\r\n",
            b"NOOP\r\n",
            b"STARTTLS\r\n",
            b"QUIT\r\n",
            b"VRFY x\r\n",
            b"AUTH PLAIN\r\n",
            b"\r\n",
            b"\n",
            b"\x00",
            b"<",
            b">",
            b":",
            b" ",
            b"\xff\xfe",
            b"MAIL",
            b"RCPT TO:",
        ];
        let mut rng = StdRng::seed_from_u64(0x736d7470);
        for _ in 0..2000 {
            let mut input = Vec::new();
            for _ in 0..rng.random_range(0..20) {
                if rng.random_bool(0.05) {
                    input.extend(std::iter::repeat_n(b'a', rng.random_range(0..5000)));
                } else {
                    input.extend_from_slice(PIECES[rng.random_range(0..PIECES.len())]);
                }
            }
            super::commands(&input);
        }
    }

    #[test]
    fn random_data_streams_keep_the_invariants() {
        const ALPHABET: &[u8] = b"\r\n.\0x";
        let mut rng = StdRng::seed_from_u64(0x64617461);
        for _ in 0..5000 {
            let input: Vec<u8> = (0..rng.random_range(0..64))
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
                .collect();
            super::data_framing(&input);
        }
    }

    /// Every input of up to 7 bytes (9 with `MOAT_EXHAUSTIVE_DATA=9`) over the bytes that
    /// matter to framing, so no short sequence the random streams miss breaks an invariant.
    #[test]
    fn every_short_data_stream_keeps_the_invariants() {
        const ALPHABET: &[u8] = b"\r\n.\0x";
        let longest: u32 = std::env::var("MOAT_EXHAUSTIVE_DATA")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(7);
        let mut input = Vec::new();
        for len in 0..=longest {
            for mut n in 0..ALPHABET.len().pow(len) {
                input.clear();
                for _ in 0..len {
                    input.push(ALPHABET[n % ALPHABET.len()]);
                    n /= ALPHABET.len();
                }
                super::data_framing(&input);
            }
        }
    }
}
