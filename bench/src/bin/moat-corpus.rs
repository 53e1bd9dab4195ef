//! `moat-corpus`: writes the side-by-side benchmark's inputs from a seed, so every engine in
//! `bench/compare.sh` gets the same bytes, the same DNS records and the same rules:
//!
//! - `msgs/cNNNNN.eml`: messages sized like real mail (median ≈ 2 KB, p90 ≈ 20 KB, 1 % between
//!   100 KB and 1 MB with base64 attachments), plain, multipart/alternative HTML,
//!   quoted-printable ISO-8859-1 and forwarded `message/rfc822`; 70 % DKIM-signed with RSA-2048,
//!   10 % with Ed25519, 10 % with both, 10 % unsigned, and a few signatures broken on purpose.
//! - `manifest.tsv`: per message the envelope and the expected results (DKIM, SPF, DMARC and the
//!   policies that must match), which is the correctness gate every engine is held to.
//! - `dnsmasq.conf`: the SPF, DKIM and DMARC records (`txt-record=` lines).
//! - the one policy set (2 500 literals + 20 regexes by default) in each engine's form:
//!   `moat-policies.json`, `rspamd-rules.lua` (its `regexp` module, Hyperscan-compiled) and
//!   `spamassassin.cf` (`header`/`body` rules).
//!
//! Run: `moat-corpus --out DIR [--messages 2000] [--seed 42]`.

use std::{fmt::Write as _, fs, path::PathBuf};

use anyhow::Context;
use base64::Engine;
use clap::Parser;
use mail_auth::{
    common::{
        crypto::{Ed25519Key, RsaKey, Sha256},
        headers::HeaderWriter,
    },
    dkim::DkimSigner,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "moat-corpus",
    about = "Generates the side-by-side benchmark corpus, DNS records and rule sets"
)]
struct Args {
    /// Directory to write (created; existing files are replaced).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 2000)]
    messages: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Literal policies (one literal each, half on the Subject, half on the body).
    #[arg(long, default_value_t = 2500)]
    literals: usize,
    /// Regular-expression policies (half Subject, half body).
    #[arg(long, default_value_t = 20)]
    regexes: usize,
}

/// SplitMix64: small, seedable, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo)
    }
}

const WORDS: &[&str] = &[
    "the",
    "meeting",
    "report",
    "quarter",
    "team",
    "project",
    "update",
    "please",
    "review",
    "attached",
    "schedule",
    "customer",
    "order",
    "delivery",
    "invoice",
    "thanks",
    "regards",
    "budget",
    "plan",
    "office",
    "next",
    "week",
    "monday",
    "friday",
    "call",
    "notes",
    "draft",
    "contract",
    "service",
    "support",
    "ticket",
    "release",
    "version",
    "server",
    "network",
    "weather",
    "lunch",
    "travel",
    "hotel",
    "flight",
    "conference",
    "slides",
    "agenda",
    "minutes",
    "question",
    "answer",
    "feedback",
    "design",
    "product",
    "launch",
    "market",
    "sales",
    "numbers",
    "growth",
    "target",
    "hiring",
    "interview",
    "candidate",
    "offer",
    "policy",
    "security",
    "training",
    "holiday",
    "request",
    "approval",
    "manager",
    "director",
    "finance",
    "legal",
    "and",
    "with",
    "for",
    "about",
    "from",
    "our",
    "your",
    "this",
    "that",
    "will",
    "can",
    "have",
];

/// Sender domains: the first 16 publish an SPF record that lets the benchmark's client in; the
/// last 4 publish one that does not (their mail fails SPF).
const SENDER_DOMAINS: usize = 20;
const SPF_FAIL_FROM: usize = 16;
/// The client address that engines scanning without SMTP are told (rspamd's `IP:` header,
/// SpamAssassin's Received line); Moat sees the loopback address of the SMTP connection. Both are
/// in the passing SPF record.
const CLIENT_IP: &str = "192.0.2.10";
/// The corpus's domains sit under a name with a public suffix: SpamAssassin's DMARC library
/// (Mail::DMARC) refuses author domains under reserved names such as `.test`. The DNS fixture
/// is authoritative for it (`local=/moatbench.org/`), and no query leaves the machine.
const BASE: &str = "moatbench.org";
const RCPT: &str = "user@acme.moatbench.org";

fn sender_domain(k: usize) -> String {
    format!("s{k:02}.{BASE}")
}

fn literal(i: usize) -> String {
    // Fixed width with a closing letter: no literal is a substring of another.
    if i.is_multiple_of(2) {
        format!("limited offer ref{i:05}q")
    } else {
        format!("wallet seed code{i:05}z")
    }
}

fn regex(i: usize) -> String {
    format!(r"acc[o0]unt\s+{i:03}\s*(suspended|locked)\s+verify\w*")
}

fn regex_text(i: usize) -> String {
    format!("acc0unt {i:03} suspended verifynow")
}

fn literal_name(i: usize) -> String {
    format!("MOAT_L{i:05}")
}

fn regex_name(i: usize) -> String {
    format!("MOAT_R{i:03}")
}

fn sentence(rng: &mut Rng) -> String {
    let n = rng.range(6, 16);
    let mut s = String::new();
    for j in 0..n {
        let w = WORDS[rng.below(WORDS.len())];
        if j == 0 {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                s.extend(f.to_uppercase());
                s.push_str(c.as_str());
            }
        } else {
            s.push(' ');
            s.push_str(w);
        }
    }
    s.push('.');
    s
}

/// Plain text of about `size` bytes in lines under 78 characters.
fn text(rng: &mut Rng, size: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    while out.len() + line.len() < size {
        let s = sentence(rng);
        if line.len() + s.len() + 1 > 76 {
            out.push_str(line.trim_end());
            out.push_str("\r\n");
            line.clear();
            if rng.below(5) == 0 {
                out.push_str("\r\n");
            }
        }
        line.push_str(&s);
        line.push(' ');
    }
    out.push_str(line.trim_end());
    out.push_str("\r\n");
    out
}

fn html_of(text: &str) -> String {
    let mut html = String::from("<html><body>\r\n");
    for para in text.split("\r\n\r\n") {
        let _ = write!(
            html,
            "<p>{}</p>\r\n",
            para.trim_end().replace("\r\n", "\r\n ")
        );
    }
    html.push_str("<p><a href=\"https://www.moatbench.org/unsubscribe\">unsubscribe</a></p>\r\n</body></html>\r\n");
    html
}

/// Latin-1 text as quoted-printable (the accents become `=E9` and friends).
fn qp_latin1(text: &str) -> String {
    let mut out = String::new();
    for line in text.split("\r\n") {
        let mut encoded = String::new();
        for (n, w) in line.split(' ').enumerate() {
            if n > 0 {
                encoded.push(' ');
            }
            encoded.push_str(w);
            if n % 7 == 3 {
                encoded.push_str(" caf=E9 r=E9sum=E9");
            }
        }
        // Soft line breaks keep lines under 76 characters, never inside a word.
        let mut cur = String::new();
        for w in encoded.split(' ') {
            if cur.len() + w.len() + 2 > 74 {
                out.push_str(&cur);
                out.push_str(" =\r\n");
                cur.clear();
            } else if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(w);
        }
        out.push_str(&cur);
        out.push_str("\r\n");
    }
    out
}

fn base64_lines(bytes: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(b64.len() + b64.len() / 76 * 2 + 2);
    for chunk in b64.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

/// What one message must produce, per engine.
struct Expected {
    dkim: &'static str,
    spf: &'static str,
    dmarc: &'static str,
    policies: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut rng = Rng(args.seed);
    let msgs = args.out.join("msgs");
    fs::create_dir_all(&msgs).with_context(|| format!("creating {}", msgs.display()))?;

    let (rsa_pem_key, rsa_public) = rsa_key()?;
    let ed_pkcs8 = Ed25519Key::generate_pkcs8().map_err(|e| anyhow::anyhow!("ed25519: {e}"))?;
    let ed_key = || Ed25519Key::from_pkcs8_der(&ed_pkcs8).map_err(|e| anyhow::anyhow!("{e}"));
    let ed_public = base64::engine::general_purpose::STANDARD.encode(ed_key()?.public_key());

    // DNS records, as dnsmasq lines.
    let mut dns = format!("# Written by moat-corpus.\nlocal=/{BASE}/\n");
    let txt = |dns: &mut String, name: &str, value: &str| {
        let parts: Vec<String> = value
            .as_bytes()
            .chunks(255)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        let _ = writeln!(dns, "txt-record={name},{}", parts.join(","));
    };
    for k in 0..SENDER_DOMAINS {
        let d = sender_domain(k);
        let spf = if k < SPF_FAIL_FROM {
            format!("v=spf1 ip4:127.0.0.0/8 ip4:{CLIENT_IP}/32 -all")
        } else {
            "v=spf1 ip4:198.51.100.0/24 -all".to_string()
        };
        txt(&mut dns, &d, &spf);
        txt(&mut dns, &format!("_dmarc.{d}"), "v=DMARC1; p=none");
        txt(
            &mut dns,
            &format!("rsa._domainkey.{d}"),
            &format!("v=DKIM1; k=rsa; p={rsa_public}"),
        );
        txt(
            &mut dns,
            &format!("ed._domainkey.{d}"),
            &format!("v=DKIM1; k=ed25519; p={ed_public}"),
        );
        let _ = writeln!(dns, "host-record=mail.{d},{CLIENT_IP}");
    }
    fs::write(args.out.join("dnsmasq.conf"), dns)?;

    write_rules(&args)?;

    let mut manifest =
        String::from("file\tmail_from\trcpt\thelo\tdkim\tspf\tdmarc\tpolicies\tbytes\n");
    for i in 0..args.messages {
        let k = rng.below(SENDER_DOMAINS);
        let domain = sender_domain(k);
        let mail_from = format!("bounce@{domain}");
        let mut expected = Expected {
            dkim: "none",
            spf: if k < SPF_FAIL_FROM { "pass" } else { "fail" },
            dmarc: "fail",
            policies: Vec::new(),
        };

        // Size class: median ≈ 2 KB, p90 ≈ 20 KB, 1 % big.
        let class = rng.below(100);
        // (Headers, signatures and MIME framing add about 1 KB to the body sizes below.)
        let size = match class {
            0..=49 => rng.range(100, 800),
            50..=84 => rng.range(800, 5000),
            85..=94 => rng.range(5000, 24_000),
            95..=98 => rng.range(32_000, 64_000),
            _ => rng.range(100_000, 1_000_000),
        };
        let mut subject = format!("[c{i:05}] {}", sentence(&mut rng).trim_end_matches('.'));
        let mut body = text(&mut rng, size.min(40_000));

        // Policy hits: 5 % a literal, 2 % a regex, in the subject or the body as the rule says.
        let hit = rng.below(100);
        if hit < 5 && args.literals > 0 {
            let l = rng.below(args.literals);
            if l.is_multiple_of(2) {
                subject.push_str(&format!(" - {}", literal(l)));
            } else {
                body.push_str(&format!("Use this {} today.\r\n", literal(l)));
            }
            expected.policies.push(literal_name(l));
        } else if hit < 7 && args.regexes > 0 {
            let r = rng.below(args.regexes);
            if r.is_multiple_of(2) {
                subject.push_str(&format!(" - {}", regex_text(r)));
            } else {
                body.push_str(&format!("Your {} today.\r\n", regex_text(r)));
            }
            expected.policies.push(regex_name(r));
        }

        let boundary = format!("=_b{i:05}_{}", rng.next() % 1_000_000);
        let shape = if class >= 99 { 4 } else { rng.below(4) };
        let content = match shape {
            // Plain text.
            0 => format!(
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{body}"
            ),
            // Newsletter-like multipart/alternative.
            1 => format!(
                "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n\
This is a multi-part message in MIME format.\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n\
--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{}\r\n--{boundary}--\r\n",
                html_of(&body)
            ),
            // Latin-1 quoted-printable, with the rule text (if any) in a plain 7-bit part.
            2 => {
                let filler = text(&mut rng, 400);
                format!(
                    "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n\
--{boundary}\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}\r\n--{boundary}--\r\n",
                    qp_latin1(&filler)
                )
            }
            // A forwarded message.
            3 => {
                let inner = text(&mut rng, 600);
                format!(
                    "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n\
--{boundary}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n\
From: Old Sender <old@archive.moatbench.org>\r\nTo: {RCPT}\r\nSubject: Earlier thread\r\n\
Date: Sun, 22 Nov 2026 09:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{inner}\r\n--{boundary}--\r\n"
                )
            }
            // A big attachment (a PDF-looking blob).
            _ => {
                let mut blob = b"%PDF-1.4\n".to_vec();
                while blob.len() < size * 3 / 4 {
                    blob.extend_from_slice(&rng.next().to_le_bytes());
                }
                format!(
                    "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n\
--{boundary}\r\nContent-Type: application/pdf; name=\"scan-{i}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"scan-{i}.pdf\"\r\n\r\n{}--{boundary}--\r\n",
                    base64_lines(&blob)
                )
            }
        };
        let unsigned = format!(
            "From: Sender {k} <news@{domain}>\r\nTo: <{RCPT}>\r\nSubject: {subject}\r\n\
Date: Mon, 23 Nov 2026 08:{:02}:{:02} +0000\r\nMessage-ID: <c{i:05}.{}@{domain}>\r\nMIME-Version: 1.0\r\n{content}",
            (i / 60) % 60,
            i % 60,
            rng.next() % 1_000_000_000,
        );

        // DKIM: 70 % RSA, 10 % Ed25519, 10 % both, 10 % unsigned; 4 % of single signatures are
        // broken by a line appended after signing.
        let signing = rng.below(100);
        let broken = rng.below(100) < 4;
        let headers = ["From", "To", "Subject", "Date", "Message-ID"];
        let sign_rsa = || -> anyhow::Result<String> {
            Ok(DkimSigner::from_key(rsa_pem_key()?)
                .domain(&domain)
                .selector("rsa")
                .headers(headers)
                .sign(unsigned.as_bytes())
                .map_err(|e| anyhow::anyhow!("rsa signing: {e}"))?
                .to_header())
        };
        let sign_ed = || -> anyhow::Result<String> {
            Ok(DkimSigner::from_key(ed_key()?)
                .domain(&domain)
                .selector("ed")
                .headers(headers)
                .sign(unsigned.as_bytes())
                .map_err(|e| anyhow::anyhow!("ed25519 signing: {e}"))?
                .to_header())
        };
        let (signatures, may_break) = match signing {
            0..=69 => (sign_rsa()?, true),
            70..=79 => (sign_ed()?, true),
            80..=89 => (format!("{}{}", sign_rsa()?, sign_ed()?), false),
            _ => (String::new(), false),
        };
        let mut signed = format!("{signatures}{unsigned}");
        if !signatures.is_empty() {
            expected.dkim = "pass";
            if broken && may_break {
                signed.push_str("Tampered after signing.\r\n");
                expected.dkim = "fail";
            }
        }
        // DMARC p=none: passes when an aligned DKIM signature or SPF passes.
        if expected.dkim == "pass" || expected.spf == "pass" {
            expected.dmarc = "pass";
        }
        // What the receiving MTA adds on top: the trace other engines read the client from.
        let message = format!(
            "Return-Path: <{mail_from}>\r\nReceived: from mail.{domain} (mail.{domain} [{CLIENT_IP}])\r\n\
\tby mx.acme.moatbench.org with ESMTP id c{i:05}; Mon, 23 Nov 2026 08:00:00 +0000\r\n{signed}"
        );
        let name = format!("c{i:05}.eml");
        fs::write(msgs.join(&name), &message)?;
        let policies = if expected.policies.is_empty() {
            "-".to_string()
        } else {
            expected.policies.join(",")
        };
        let _ = writeln!(
            manifest,
            "{name}\t{mail_from}\t{RCPT}\tmail.{domain}\t{}\t{}\t{}\t{policies}\t{}",
            expected.dkim,
            expected.spf,
            expected.dmarc,
            message.len()
        );
    }
    fs::write(args.out.join("manifest.tsv"), manifest)?;
    println!(
        "wrote {} messages, {} literal and {} regex rules to {}",
        args.messages,
        args.literals,
        args.regexes,
        args.out.display()
    );
    Ok(())
}

/// The one policy set, in Moat's, Rspamd's and SpamAssassin's forms.
fn write_rules(args: &Args) -> anyhow::Result<()> {
    let mut moat = Vec::new();
    let mut rspamd = String::from(
        "-- Written by moat-corpus: the benchmark's policy set for rspamd's regexp module.\n\
local reconf = config['regexp']\n",
    );
    let mut sa = String::from("# Written by moat-corpus: the benchmark's policy set.\n");
    for i in 0..args.literals {
        let (name, lit) = (literal_name(i), literal(i));
        let escaped = regex_escape(&lit);
        if i.is_multiple_of(2) {
            moat.push(json!({"name": name, "condition": {"subject_contains": [lit]}, "action": "quarantine"}));
            let _ = writeln!(
                rspamd,
                "reconf['{name}'] = {{ re = 'Subject=/{escaped}/i{{header}}', score = 1.0 }}"
            );
            let _ = writeln!(
                sa,
                "header {name} Subject =~ /{escaped}/i\nscore {name} 1.0"
            );
        } else {
            moat.push(json!({"name": name, "condition": {"body_contains": [lit]}, "action": "quarantine"}));
            let _ = writeln!(
                rspamd,
                "reconf['{name}'] = {{ re = '/{escaped}/i{{mime}}', score = 1.0 }}"
            );
            let _ = writeln!(sa, "body {name} /{escaped}/i\nscore {name} 1.0");
        }
    }
    for i in 0..args.regexes {
        let (name, re) = (regex_name(i), regex(i));
        let lua_re = re.replace('\\', "\\\\");
        if i.is_multiple_of(2) {
            moat.push(json!({"name": name, "condition": {"subject_matches": [re]}, "action": "quarantine"}));
            let _ = writeln!(
                rspamd,
                "reconf['{name}'] = {{ re = 'Subject=/{lua_re}/i{{header}}', score = 1.0 }}"
            );
            let _ = writeln!(sa, "header {name} Subject =~ /{re}/i\nscore {name} 1.0");
        } else {
            moat.push(
                json!({"name": name, "condition": {"body_matches": [re]}, "action": "quarantine"}),
            );
            let _ = writeln!(
                rspamd,
                "reconf['{name}'] = {{ re = '/{lua_re}/i{{mime}}', score = 1.0 }}"
            );
            let _ = writeln!(sa, "body {name} /{re}/i\nscore {name} 1.0");
        }
    }
    fs::write(
        args.out.join("moat-policies.json"),
        serde_json::to_string_pretty(&moat)?,
    )?;
    fs::write(args.out.join("rspamd-rules.lua"), rspamd)?;
    fs::write(args.out.join("spamassassin.cf"), sa)?;
    Ok(())
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if !c.is_ascii_alphanumeric() && c != ' ' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The benchmark's RSA-2048 key (`bench/fixtures/`), and its public half for DNS.
#[allow(clippy::type_complexity)]
fn rsa_key() -> anyhow::Result<(impl Fn() -> anyhow::Result<RsaKey<Sha256>>, String)> {
    let pem = include_str!("../../fixtures/dkim-bench-rsa2048.pem");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .context("fixture key is not base64")?;
    let public = include_str!("../../fixtures/dkim-bench-rsa2048.pub.b64")
        .trim()
        .to_string();
    let key = move || {
        RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.clone())))
            .map_err(|e| anyhow::anyhow!("fixture key: {e}"))
    };
    Ok((key, public))
}
