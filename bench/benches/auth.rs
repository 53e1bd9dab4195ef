//! Sender authentication per message with a warm cache: SPF, DKIM (rsa-sha256 2048-bit or
//! ed25519), ARC and DMARC through `Authenticator::check`, DNS answered by a static zone on
//! loopback (after the first message every record comes from Moat's TTL caches).
//! Run: `cargo bench -p moat-bench --bench auth`.

use base64::Engine;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mail_auth::{
    common::{
        crypto::{Ed25519Key, RsaKey, Sha256},
        headers::HeaderWriter,
    },
    dkim::DkimSigner,
};
use moat_bench::{html_newsletter, small_plain, with_attachment};
use moat_core::{
    auth::{AuthInput, Authenticator},
    config::Config,
    dns::{Dns, Zone, ZoneData},
    model::AuthResult,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

const SIGNED_HEADERS: [&str; 5] = ["From", "To", "Subject", "Date", "Message-ID"];

/// A 2048-bit RSA key made for this benchmark only (`bench/fixtures/`).
fn rsa_key() -> (RsaKey<Sha256>, String) {
    let pem = include_str!("../fixtures/dkim-bench-rsa2048.pem");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("fixture key is base64");
    let key = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)))
        .expect("fixture key parses");
    let public = include_str!("../fixtures/dkim-bench-rsa2048.pub.b64")
        .trim()
        .to_string();
    (key, public)
}

fn txt(value: &str) -> ZoneData {
    ZoneData::Txt(value.as_bytes().chunks(255).map(<[u8]>::to_vec).collect())
}

fn criterion_auth(c: &mut Criterion) {
    let rsa_public = rsa_key().1;
    let ed_pkcs8 = Ed25519Key::generate_pkcs8().expect("ed25519 key");
    let ed = || Ed25519Key::from_pkcs8_der(&ed_pkcs8).expect("ed25519 key parses");
    let ed_public = base64::engine::general_purpose::STANDARD.encode(ed().public_key());

    // Each sample's author domain publishes SPF, DMARC p=reject and both keys.
    let samples_raw = [
        ("small_plain", "sender.test", small_plain()),
        ("html_4k", "example.com", html_newsletter()),
        ("attach_60k", "partner.test", with_attachment()),
    ];
    let mut zone = Zone::new();
    for (_, domain, _) in &samples_raw {
        zone.insert(domain, 3600, txt("v=spf1 ip4:203.0.113.0/24 -all"));
        zone.insert(&format!("_dmarc.{domain}"), 3600, txt("v=DMARC1; p=reject"));
        zone.insert(
            &format!("rsa._domainkey.{domain}"),
            3600,
            txt(&format!("v=DKIM1; k=rsa; p={rsa_public}")),
        );
        zone.insert(
            &format!("ed._domainkey.{domain}"),
            3600,
            txt(&format!("v=DKIM1; k=ed25519; p={ed_public}")),
        );
    }

    let mut samples = Vec::new();
    for (name, domain, raw) in samples_raw {
        let rsa_sig = DkimSigner::from_key(rsa_key().0)
            .domain(domain)
            .selector("rsa")
            .headers(SIGNED_HEADERS)
            .sign(&raw)
            .expect("rsa signs")
            .to_header();
        let ed_sig = DkimSigner::from_key(ed())
            .domain(domain)
            .selector("ed")
            .headers(SIGNED_HEADERS)
            .sign(&raw)
            .expect("ed25519 signs")
            .to_header();
        let mail_from = format!("bounce@{domain}");
        samples.push((
            format!("{name}/rsa2048"),
            mail_from.clone(),
            [rsa_sig.as_bytes(), &raw].concat(),
        ));
        samples.push((
            format!("{name}/ed25519"),
            mail_from,
            [ed_sig.as_bytes(), &raw].concat(),
        ));
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let config = Config::default();
    let auth = rt.block_on(async {
        let dns = Dns::with_zone(zone, &config.dns)
            .await
            .expect("zone server");
        Authenticator::with_dns(dns, &config)
    });
    let check = |mail_from: &str, raw: &[u8]| {
        rt.block_on(auth.check(&AuthInput {
            client_ip: "203.0.113.7".parse().expect("ip"),
            helo: "mail.sender.test",
            mail_from,
            message: raw,
        }))
    };
    // Warm the caches, and make sure the benchmark measures passing mail.
    for (name, mail_from, raw) in &samples {
        let out = check(mail_from, raw);
        assert_eq!(out.summary.dmarc.result, AuthResult::Pass, "{name}");
        assert_eq!(out.summary.dkim[0].result, AuthResult::Pass, "{name}");
        assert_eq!(out.summary.spf.result, AuthResult::Pass, "{name}");
    }

    let mut g = c.benchmark_group("auth_warm_cache");
    for (name, mail_from, raw) in &samples {
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::from_parameter(name), raw, |b, raw| {
            b.iter(|| check(mail_from, raw).summary.dmarc.result)
        });
    }
    g.finish();
}

criterion_group!(benches, criterion_auth);
criterion_main!(benches);
