//! The record the store keeps of a domain's verdict: who sent what to whom, the action, the
//! threat and every finding. Built in one place so the scanner and any other front door record
//! verdicts alike.

use crate::{
    auth::AuthOutcome,
    model::{Transport, VerdictRecord},
    time::now_ms,
};

use super::DomainVerdict;

/// What the SMTP transaction knew of the message that the verdict does not.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub queue_id: &'a str,
    pub client_ip: &'a str,
    pub mail_from: &'a str,
    /// The From field as a reader sees it (`Name <address>`).
    pub from_header: &'a str,
    pub subject: &'a str,
    pub size: u64,
    pub auth: Option<&'a AuthOutcome>,
    /// TLS of the client's session (`TLSv1.3`); `None`: clear text.
    pub inbound_tls: Option<&'a str>,
}

/// The verdict record of one domain's verdict; `outbound_tls` is the relay hop's TLS when
/// the message was relayed while the client waited.
pub fn verdict_record(
    d: &Delivery<'_>,
    v: &DomainVerdict,
    outbound_tls: Option<String>,
) -> VerdictRecord {
    VerdictRecord {
        id: uuid::Uuid::now_v7().to_string(),
        queue_id: d.queue_id.to_string(),
        received_at: now_ms(),
        customer_id: v.domain.customer_id.clone(),
        domain_id: v.domain.id.clone(),
        client_ip: d.client_ip.to_string(),
        mail_from: d.mail_from.to_string(),
        rcpt_to: v.rcpts.clone(),
        from_header: d.from_header.to_string(),
        subject: d.subject.to_string(),
        size: d.size,
        action: v.action,
        threat_type: v.threat_type(),
        notify_admin: v.outcome.notify_admin(),
        findings: v.findings(),
        auth: d.auth.map(|a| a.summary.clone()),
        transport: Some(Transport {
            inbound_tls: d.inbound_tls.map(str::to_string),
            outbound_tls,
        }),
    }
}
