//! What happens at end-of-data: the message is parsed once (mail-parser borrows the received
//! buffer), each recipient domain's customer policies give that domain its verdict, then the
//! message is relayed (deliver), durably quarantined (quarantine) or dropped (reject), and one
//! SMTP reply is chosen. A reply of `250` is only given once every accepted copy is either on
//! the downstream server or committed to the store.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::Duration,
};

use moat_core::{
    config::ScannerDown,
    detect::bec,
    detect::clamd::ClamdVerdict,
    message::{MessageView, parse},
    model::{
        Action, DeliveryMode, Domain, Finding, PolicyAction, QuarantineItem, QuarantineStatus,
        RelayTls, Severity, ThreatType, VerdictRecord,
    },
    relay::{MailOptions, RelayOutcome, Route},
    time::now_ms,
    verdict::{
        Delivery, DomainContext, DomainVerdict, Scan, Sender, judge, scan::Detectors,
        verdict_record,
    },
};

use moat_core::metrics::metrics;

use crate::{ScannerContext, auth::AuthJob, spool::SpoolEnvelope};

/// The envelope of one SMTP transaction.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub queue_id: String,
    pub client_ip: String,
    /// The EHLO/HELO name the client gave.
    pub helo: String,
    pub mail_from: String,
    /// Length of Moat's own trace header at the start of the message buffer.
    pub trace_len: usize,
    /// Accepted recipients with the protected domain each belongs to.
    pub rcpts: Vec<(String, Arc<Domain>)>,
    /// The client declared SMTPUTF8 (passed on to the downstream server).
    pub smtputf8: bool,
    /// The client declared BODY=8BITMIME (passed on to the downstream server).
    pub eight_bit: bool,
    /// TLS version of the client's session (`TLSv1.3`); `None`: clear text.
    pub tls: Option<String>,
}

/// The `X-Moat-Tag` header naming matched `tag` policies (empty when none): visible ASCII
/// only, so a policy name cannot inject header lines, and at most 900 characters.
fn tag_header(tags: &[&str]) -> String {
    if tags.is_empty() {
        return String::new();
    }
    let value: String = tags
        .join(", ")
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(900)
        .collect();
    format!("X-Moat-Tag: {value}\r\n")
}

/// A copy of the message with `header` in front.
fn tagged(header: &str, raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + raw.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(raw);
    out
}

/// A finding of ClamAV about the whole message.
fn clamav_finding(rule: &str, matched: String, severity: Severity) -> Finding {
    Finding {
        rule: rule.into(),
        threat_type: ThreatType::Malware,
        field: "message".into(),
        part: None,
        range: None,
        matched,
        severity,
        score: None,
    }
}

/// The SMTP reply for the end of DATA.
pub type Reply = String;

/// The longest the scanner waits for the store's answer about a sender's history.
const HISTORY_WAIT: Duration = Duration::from_secs(2);

/// Whether `author` is a first contact of each recipient domain (by domain id). Only asked
/// for mail that talks about payments, the one case BEC detection uses it; a store that does
/// not answer within [`HISTORY_WAIT`] (or fails) leaves the sender `Unknown`, so the reply is
/// never held up by it.
async fn correspondence<'d>(
    ctx: &ScannerContext,
    author: &str,
    domains: impl Iterator<Item = &'d Domain>,
) -> HashMap<String, bec::Correspondence> {
    let mut out = HashMap::new();
    if author.is_empty() {
        return out;
    }
    let learning = ctx.config.policy.first_contact_learning_ms();
    for d in domains {
        let lookup = ctx.store.sender_history(&d.id, author);
        let wait = Box::pin(glommio::timer::sleep(HISTORY_WAIT));
        let judged = match futures::future::select(lookup, wait).await {
            futures::future::Either::Left((Ok(history), _)) => {
                bec::Correspondence::of(history, now_ms(), learning)
            }
            futures::future::Either::Left((Err(e), _)) => {
                tracing::warn!(error = %e, "sender history unavailable");
                bec::Correspondence::Unknown
            }
            futures::future::Either::Right(_) => {
                tracing::warn!("sender history took too long; judged without it");
                bec::Correspondence::Unknown
            }
        };
        out.insert(d.id.clone(), judged);
    }
    out
}

/// Judges, routes and stores one received message; returns the SMTP reply.
pub async fn finish(ctx: &ScannerContext, env: &Envelope, raw: Vec<u8>) -> Reply {
    // Sender authentication (which also gives the message its Authentication-Results field)
    // and ClamAV (on a copy of the message as received; clamd parses MIME and archives
    // itself) run at the same time: each is a hop to its own side thread.
    let clamd_job = ctx.clamd.as_ref().map(|handle| (handle, raw.clone()));
    let authenticate = async {
        match &ctx.auth {
            Some(handle) => {
                let job = AuthJob {
                    client_ip: env
                        .client_ip
                        .parse()
                        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
                    helo: env.helo.clone(),
                    mail_from: env.mail_from.clone(),
                    raw,
                    trace_len: env.trace_len,
                };
                handle
                    .check(job)
                    .await
                    .map(|(outcome, rewritten)| (Some(outcome), rewritten))
            }
            None => Ok((None, raw)),
        }
    };
    let antivirus = async {
        match clamd_job {
            Some((handle, copy)) => Some(handle.scan(copy).await.0),
            None => None,
        }
    };
    let (authenticated, scanned) = futures::future::join(authenticate, antivirus).await;
    let (auth, raw) = match authenticated {
        Ok(done) => done,
        Err(_) => {
            tracing::error!(queue_id = %env.queue_id, "authentication thread gone; answering 451");
            return format!(
                "451 4.3.0 Temporary local problem, try again later [{}]\r\n",
                env.queue_id
            );
        }
    };
    // Each DMARC evaluation of a domain asking for aggregate reports is counted once.
    if let (Some(collector), Some(seen)) = (
        &ctx.dmarc_reports,
        auth.as_ref().and_then(|a| a.dmarc_report.as_ref()),
    ) {
        collector.add(
            seen,
            moat_core::auth::dmarc_report::period_of(
                moat_core::time::now_ms(),
                ctx.config.dmarc_reports.period_secs,
            ),
        );
    }
    let mut clamav: Vec<Finding> = Vec::new();
    match scanned {
        None | Some(Ok(ClamdVerdict::Clean)) => {}
        Some(Ok(ClamdVerdict::Found(name))) => {
            clamav.push(clamav_finding("malware.clamav", name, Severity::Critical))
        }
        Some(Err(why)) => match ctx.config.malware.clamd_on_error {
            ScannerDown::Tempfail => {
                tracing::warn!(queue_id = %env.queue_id, %why, "ClamAV unavailable; answering 451");
                return format!(
                    "451 4.3.0 Virus scanner unavailable, try again later [{}]\r\n",
                    env.queue_id
                );
            }
            ScannerDown::Accept => {
                tracing::warn!(queue_id = %env.queue_id, %why, "ClamAV unavailable; accepting unscanned");
                clamav.push(clamav_finding(
                    "malware.clamav_unavailable",
                    why,
                    Severity::Low,
                ));
            }
        },
    }
    let size = raw.len() as u64;
    // Group recipients by protected domain (BTreeMap: a stable order for relaying).
    let mut by_domain: BTreeMap<String, (Arc<Domain>, Vec<String>)> = BTreeMap::new();
    for (rcpt, domain) in &env.rcpts {
        by_domain
            .entry(domain.id.clone())
            .or_insert_with(|| (domain.clone(), Vec::new()))
            .1
            .push(rcpt.clone());
    }

    // Parse once; the view borrows `raw`. Everything owned we need afterwards is extracted here.
    let snapshot = ctx.snapshot.load();
    let m = metrics();
    let scan_timer = m.scan_duration.start_timer();
    let (groups, from_header, subject) = {
        let parsed = parse(&raw);
        let mut view = match &parsed {
            Some(m) => MessageView::new(m, &env.mail_from),
            None => MessageView::envelope_only(&env.mail_from),
        };
        view.auth = auth.as_ref().map(|a| &a.summary);
        let detectors = Detectors {
            spam_model: snapshot.spam_model(),
            spamassassin: ctx.spamassassin.as_deref(),
            keep_tokens: snapshot.has_customer_models(),
            now_secs: now_ms() / 1000,
        };
        let mut scan = Scan::of(&view, &raw, parsed.as_ref(), &detectors);
        // Reputation lists, when configured: the client, HELO, envelope and link domains.
        let rep = &ctx.config.reputation;
        if let Some(handle) = &ctx.auth
            && (!rep.ip_lists.is_empty() || !rep.domain_lists.is_empty())
            && let Ok(ip) = env.client_ip.parse()
        {
            let mut domains: Vec<String> = Vec::new();
            for l in &scan.rendered.links {
                if !l.host.is_empty() && !domains.contains(&l.host) {
                    domains.push(l.host.clone());
                }
            }
            let found = handle
                .reputation(
                    rep.clone(),
                    ip,
                    env.helo.clone(),
                    env.mail_from.clone(),
                    domains,
                )
                .await;
            scan.spam.add_hits(found);
        }
        let archives = std::mem::take(&mut scan.archives);
        scan.add_malware(ctx.inspect.inspect(archives).await);
        // An unavailable ClamAV is recorded, never acted on.
        let (found, unavailable): (Vec<Finding>, Vec<Finding>) = clamav
            .into_iter()
            .partition(|f| f.severity == Severity::Critical);
        scan.add_malware(found);
        scan.noted.extend(unavailable);
        let senders = if scan.asks_for_payment {
            correspondence(
                ctx,
                view.from_address,
                by_domain.values().map(|(d, _)| &**d),
            )
            .await
        } else {
            HashMap::new()
        };
        let sender = Sender {
            envelope_from: &env.mail_from,
            auth: auth.as_ref(),
        };
        let groups: Vec<DomainVerdict> = by_domain
            .into_values()
            .map(|(domain, rcpts)| {
                let correspondence = senders
                    .get(&domain.id)
                    .copied()
                    .unwrap_or(bec::Correspondence::Unknown);
                let context = DomainContext {
                    policies: snapshot.policies(&domain.customer_id),
                    gateway_model: snapshot.spam_model(),
                    customer_model: snapshot.customer_model(&domain.customer_id),
                    sender_rules: snapshot.sender_rules(&domain.id),
                    correspondence,
                    default_threshold: ctx.config.policy.spam_threshold,
                    domain,
                    rcpts,
                };
                judge(&view, &scan, &sender, context)
            })
            .collect();
        let rule_hits: Vec<String> = groups
            .iter()
            .filter_map(|g| g.sender_rule.clone())
            .collect();
        let from_header = if view.from_name.is_empty() {
            view.from_address.to_string()
        } else {
            format!("{} <{}>", view.from_name, view.from_address)
        };
        if !rule_hits.is_empty() {
            drop(ctx.store.count_sender_rule_hits(rule_hits));
        }
        (groups, from_header, view.subject.to_string())
    };
    drop(snapshot);
    scan_timer.observe_duration();
    for g in &groups {
        let threat = g.threat_type().map_or("none", |t| t.as_str());
        m.messages
            .with_label_values(&[g.action.as_str(), threat])
            .inc();
    }
    if let Some(a) = &auth
        && a.summary.dmarc.result != moat_core::model::AuthResult::Pass
        && a.summary.dmarc.result != moat_core::model::AuthResult::None
    {
        tracing::info!(
            queue_id = %env.queue_id,
            event = "auth.failed",
            spf = a.summary.spf.result.as_str(),
            dmarc = a.summary.dmarc.result.as_str(),
            domain = %a.summary.dmarc.domain,
            policy = %a.summary.dmarc.policy,
            reason = a.summary.dmarc.reason.as_deref().unwrap_or(""),
            "sender authentication failed"
        );
    }

    let delivery = Delivery {
        queue_id: &env.queue_id,
        client_ip: &env.client_ip,
        mail_from: &env.mail_from,
        from_header: &from_header,
        subject: &subject,
        size,
        auth: auth.as_ref(),
        inbound_tls: env.tls.as_deref(),
    };
    let record_with = |g: &DomainVerdict, outbound_tls: Option<String>| {
        verdict_record(&delivery, g, outbound_tls)
    };
    let record = |g: &DomainVerdict| record_with(g, None);

    if groups.iter().all(|g| g.action == Action::Reject) {
        let verdicts = groups.iter().map(record).collect();
        drop(ctx.store.record_verdicts(verdicts));
        let own_reply = groups.iter().find_map(|g| g.reject_reply.clone());
        if let Some(reply) = own_reply {
            tracing::info!(queue_id = %env.queue_id, verdict = "reject", reason = %reply, "message rejected by Moat's own checks");
            return format!("{reply} [{}]\r\n", env.queue_id);
        }
        let names: Vec<&str> = groups
            .iter()
            .flat_map(|g| g.outcome.matched.iter())
            .filter(|m| m.action == PolicyAction::Reject)
            .map(|m| m.name.as_str())
            .collect();
        tracing::info!(queue_id = %env.queue_id, verdict = "reject", policies = ?names, "message rejected");
        // The policy's name is the customer's business (it may name a confidential project):
        // it stays in the verdict and the log; the sender gets the queue id to quote.
        return format!(
            "550 5.7.1 Message rejected by policy [{}]\r\n",
            env.queue_id
        );
    }

    // Proxy-mode domains first: if a real server is unavailable the client is told to retry
    // before anything is spooled or quarantined, so a retry cannot leave two copies.
    let mut raw = raw;
    let mut perm_fail: Option<(u16, String)> = None;
    let mut delivered = false;
    // The TLS version of each proxy-mode hop, by real server, for the verdicts.
    let mut proxy_tls: HashMap<String, Option<String>> = HashMap::new();
    // Recipients and their customers, per delivery mode, real server and tag header (domains
    // whose `tag` policies matched get their own copy with `X-Moat-Tag`).
    type HostGroup = (Vec<String>, Vec<String>);
    // (mode, real server, TLS mode, internal exception, tag header)
    type HostKey = (DeliveryMode, String, RelayTls, bool, String);
    let mut by_host: BTreeMap<HostKey, HostGroup> = BTreeMap::new();
    for g in groups.iter().filter(|g| g.action == Action::Deliver) {
        let (rcpts, customers) = by_host
            .entry((
                g.domain.delivery_mode,
                g.domain.real_mx_host.clone(),
                g.domain.tls,
                g.domain.allow_internal_target,
                tag_header(&g.outcome.tags()),
            ))
            .or_default();
        rcpts.extend(g.rcpts.iter().cloned());
        if !customers.contains(&g.domain.customer_id) {
            customers.push(g.domain.customer_id.clone());
        }
    }
    let options = MailOptions {
        smtputf8: env.smtputf8,
        eight_bit: env.eight_bit,
    };
    for ((_, host, tls, allow_internal, tag), (rcpts, _)) in by_host
        .iter()
        .filter(|((m, ..), _)| *m == DeliveryMode::Proxy)
    {
        let route = Route {
            hostport: host.clone(),
            tls: *tls,
            allow_internal: *allow_internal,
            tls_name: None,
        };
        let send = |bytes| {
            ctx.relay.send(
                route.clone(),
                env.mail_from.clone(),
                rcpts.clone(),
                bytes,
                options,
            )
        };
        let (outcome, back) = if tag.is_empty() {
            send(raw).await
        } else {
            let (outcome, _) = send(tagged(tag, &raw)).await;
            (outcome, raw)
        };
        raw = back;
        m.relay.with_label_values(&["proxy", outcome.label()]).inc();
        match outcome {
            RelayOutcome::Delivered { tls, .. } => {
                delivered = true;
                proxy_tls.insert(host.clone(), tls);
            }
            RelayOutcome::TempFail(why) => {
                tracing::warn!(queue_id = %env.queue_id, host = %host, reason = %why, "relay failed temporarily; answering 451");
                return format!(
                    "451 4.4.1 Downstream server unavailable, try again later [{}]\r\n",
                    env.queue_id
                );
            }
            RelayOutcome::PermFail { code, text, .. } => {
                tracing::info!(queue_id = %env.queue_id, host = %host, code, text = %text, "downstream refused the message");
                perm_fail = Some((code, text));
            }
        }
    }

    // Spool-mode domains: written and fsynced before the reply, delivered afterwards.
    // Each spooled copy, and whether it is the untagged message (`raw` itself).
    let mut spooled: Vec<(SpoolEnvelope, bool)> = Vec::new();
    for (i, ((_, host, tls, allow_internal, tag), (rcpts, customers))) in by_host
        .into_iter()
        .filter(|((m, ..), _)| *m == DeliveryMode::Spool)
        .enumerate()
    {
        let spool_env = SpoolEnvelope {
            id: format!("{}-{i}", env.queue_id),
            queue_id: env.queue_id.clone(),
            created_at: now_ms(),
            mail_from: env.mail_from.clone(),
            rcpts,
            host,
            smtputf8: env.smtputf8,
            eight_bit: env.eight_bit,
            customers,
            tls,
            allow_internal,
        };
        let (result, back) = if tag.is_empty() {
            ctx.spool.write(spool_env.clone(), raw).await
        } else {
            let (result, _) = ctx.spool.write(spool_env.clone(), tagged(&tag, &raw)).await;
            (result, raw)
        };
        raw = back;
        if let Err(e) = result {
            tracing::error!(queue_id = %env.queue_id, error = %e, "cannot spool message; answering 451");
            for (s, _) in &spooled {
                ctx.spool.discard(&s.id);
            }
            return format!(
                "451 4.3.0 Temporary storage failure, try again later [{}]\r\n",
                env.queue_id
            );
        }
        spooled.push((spool_env, tag.is_empty()));
    }

    // Quarantine: committed durably before the reply.
    let quarantined: Vec<&DomainVerdict> = groups
        .iter()
        .filter(|g| g.action == Action::Quarantine)
        .collect();
    for (i, g) in quarantined.iter().enumerate() {
        let v = record(g);
        let item = QuarantineItem {
            id: uuid::Uuid::now_v7().to_string(),
            verdict_id: v.id.clone(),
            customer_id: v.customer_id.clone(),
            domain_id: v.domain_id.clone(),
            received_at: v.received_at,
            mail_from: v.mail_from.clone(),
            rcpt_to: v.rcpt_to.clone(),
            from_header: v.from_header.clone(),
            subject: v.subject.clone(),
            threat_type: v.threat_type.unwrap_or(ThreatType::Policy),
            status: QuarantineStatus::Quarantined,
            size,
            findings: v.findings.clone(),
            released_at: None,
        };
        // The last quarantined copy takes the buffer itself; earlier ones need their own.
        let bytes = if i + 1 == quarantined.len() {
            std::mem::take(&mut raw)
        } else {
            raw.clone()
        };
        if let Err(e) = ctx.store.quarantine(item, bytes, v).await {
            tracing::error!(queue_id = %env.queue_id, error = %e, "cannot store quarantined message; answering 451");
            for (s, _) in &spooled {
                ctx.spool.discard(&s.id);
            }
            return format!(
                "451 4.3.0 Temporary storage failure, try again later [{}]\r\n",
                env.queue_id
            );
        }
    }

    // Everything is durable: hand spooled copies to delivery (the buffer saves a re-read
    // when nothing else took it).
    let single = spooled.len() == 1;
    for (s, untagged) in spooled {
        // A tagged copy differs from `raw`: delivery reads it back from its file.
        let body = (single && untagged && !raw.is_empty()).then(|| std::mem::take(&mut raw));
        ctx.spool.submit(s, body);
    }

    let others: Vec<VerdictRecord> = groups
        .iter()
        .filter(|g| g.action != Action::Quarantine)
        .map(|g| {
            let tls = if g.domain.delivery_mode == DeliveryMode::Proxy {
                proxy_tls.get(&g.domain.real_mx_host).cloned().flatten()
            } else {
                None
            };
            record_with(g, tls)
        })
        .collect();
    if !others.is_empty() {
        drop(ctx.store.record_verdicts(others));
    }
    let actions: Vec<&str> = groups.iter().map(|g| g.action.as_str()).collect();
    tracing::info!(queue_id = %env.queue_id, client_ip = %env.client_ip, from = %env.mail_from, verdicts = ?actions, size, "message judged");

    let accepted_elsewhere = groups
        .iter()
        .any(|g| g.action == Action::Deliver && g.domain.delivery_mode == DeliveryMode::Spool);
    match perm_fail {
        Some((code, text)) if !delivered && !accepted_elsewhere && quarantined.is_empty() => {
            let code = if code == 552 || code == 554 {
                code
            } else {
                550
            };
            format!(
                "{code} 5.0.0 Downstream server refused the message: {text} [{}]\r\n",
                env.queue_id
            )
        }
        _ => format!("250 2.0.0 Ok: queued as {}\r\n", env.queue_id),
    }
}

#[cfg(test)]
mod tag_tests {
    use super::{tag_header, tagged};

    #[test]
    fn tag_headers_name_the_policies_and_cannot_inject_lines() {
        assert_eq!(tag_header(&[]), "");
        assert_eq!(
            tag_header(&["newsletters", "external"]),
            "X-Moat-Tag: newsletters, external\r\n"
        );
        let hostile = tag_header(&["x\r\nBcc: victim@example.com"]);
        assert_eq!(hostile.matches("\r\n").count(), 1, "{hostile}");
        assert!(hostile.starts_with("X-Moat-Tag: x??Bcc"));
        assert_eq!(
            tag_header(&[&"a".repeat(2000)]).len(),
            "X-Moat-Tag: \r\n".len() + 900
        );
        assert_eq!(
            tagged("X: y\r\n", b"Subject: s\r\n\r\nb"),
            b"X: y\r\nSubject: s\r\n\r\nb"
        );
    }
}
