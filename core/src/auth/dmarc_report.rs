//! DMARC aggregate reports (RFC 7489 §7.2). Domain owners publish `rua=mailto:…` to learn who
//! sends mail in their name and how it authenticates; receivers are expected to send them a
//! daily report. This module holds the three pure parts: what one message's DMARC evaluation
//! contributes ([`Observation`], counted per reporting period by [`Collector`]), the report's
//! XML (Appendix C's schema) and the mail that carries it gzipped (§7.2.1.1). Where the counts
//! are kept (the store) and when reports go out (the scanner's reporter) live elsewhere.

use std::{collections::HashMap, fmt::Write as _, io::Write as _, net::IpAddr, sync::Mutex};

use base64::Engine as _;
use mail_auth::{
    DmarcOutput, DmarcResult,
    dmarc::{Alignment, Policy},
};
use serde::{Deserialize, Serialize};

use crate::model::AuthSummary;

/// The policy a domain published, as a report restates it (`policy_published`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Published {
    pub domain: String,
    /// `r` or `s`.
    pub adkim: char,
    pub aspf: char,
    pub p: String,
    pub sp: String,
    /// mail-auth 0.13 follows DMARCbis, which dropped `pct`; the schema requires it, so 100.
    pub pct: u8,
}

/// A report address a record names, with its size limit (`!10m`; 0: none).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Destination {
    pub address: String,
    pub max_size: u64,
}

/// One DMARC DKIM result of a message, as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DkimEntry {
    pub domain: String,
    pub selector: String,
    pub result: String,
}

/// What one message adds to its author domain's report. Messages with equal observations
/// are one report row with a count.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Observation {
    pub published: Published,
    pub destinations: Vec<Destination>,
    pub source_ip: IpAddr,
    pub header_from: String,
    pub envelope_from: String,
    /// What DMARC made Moat do: none, quarantine or reject.
    pub disposition: String,
    /// The policy said quarantine or reject and Moat did not (`auth.enforce_dmarc` off).
    pub local_policy_override: bool,
    /// DMARC's aligned results (pass or fail).
    pub dkim_aligned: bool,
    pub spf_aligned: bool,
    pub dkim: Vec<DkimEntry>,
    pub spf_domain: String,
    /// `mfrom`, or `helo` for bounces.
    pub spf_scope: String,
    pub spf_result: String,
}

fn policy_name(p: Policy) -> &'static str {
    match p {
        Policy::Quarantine => "quarantine",
        Policy::Reject => "reject",
        Policy::None | Policy::Unspecified => "none",
    }
}

fn alignment(a: Alignment) -> char {
    match a {
        Alignment::Strict => 's',
        Alignment::Relaxed => 'r',
    }
}

/// SPF results as the schema spells them (`policy` is a DKIM-only result).
fn spf_name(r: crate::model::AuthResult) -> &'static str {
    match r.as_str() {
        "policy" => "permerror",
        s => s,
    }
}

impl Observation {
    /// The observation of a message whose author domain publishes a record with `rua=`, or
    /// `None` (no record, no report address: nothing to report).
    ///
    /// `applied` is the disposition Moat applied because of DMARC (`None`: none).
    pub fn of(
        dmarc: &DmarcOutput,
        summary: &AuthSummary,
        source_ip: IpAddr,
        header_from: &str,
        envelope_from: &str,
        bounce: bool,
        applied: Option<&str>,
    ) -> Option<Observation> {
        let record = dmarc.dmarc_record()?;
        if record.rua.is_empty() || header_from.is_empty() {
            return None;
        }
        let failed = matches!(dmarc.result(), DmarcResult::Fail(_));
        let disposition = applied.unwrap_or("none").to_string();
        let requested = policy_name(dmarc.policy());
        Some(Observation {
            published: Published {
                domain: dmarc.domain().to_ascii_lowercase(),
                adkim: alignment(record.adkim),
                aspf: alignment(record.aspf),
                p: policy_name(record.p).into(),
                sp: policy_name(record.sp).into(),
                pct: 100,
            },
            destinations: record
                .rua
                .iter()
                .map(|u| Destination {
                    address: u.uri().to_ascii_lowercase(),
                    max_size: u.max_size() as u64,
                })
                .collect(),
            source_ip,
            header_from: header_from.to_ascii_lowercase(),
            envelope_from: envelope_from.to_ascii_lowercase(),
            local_policy_override: failed && requested != "none" && disposition == "none",
            disposition,
            dkim_aligned: matches!(dmarc.dkim_result(), DmarcResult::Pass),
            spf_aligned: matches!(dmarc.spf_result(), DmarcResult::Pass),
            dkim: summary
                .dkim
                .iter()
                .filter(|d| !d.domain.is_empty())
                .map(|d| DkimEntry {
                    domain: d.domain.to_ascii_lowercase(),
                    selector: d.selector.clone(),
                    result: d.result.as_str().into(),
                })
                .collect(),
            spf_domain: summary.spf.domain.to_ascii_lowercase(),
            spf_scope: if bounce { "helo" } else { "mfrom" }.into(),
            spf_result: spf_name(summary.spf.result).into(),
        })
    }

    /// The row key the store counts under (stable for equal observations).
    pub fn key(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The start (ms since the epoch, UTC) of the reporting period holding `at_ms`; periods are
/// aligned to the epoch, so daily ones run from midnight UTC to midnight UTC.
pub fn period_of(at_ms: i64, period_secs: u64) -> i64 {
    let len = (period_secs.max(1) as i64).saturating_mul(1000);
    at_ms.div_euclid(len) * len
}

/// Counted observations of one period and policy domain, as the store keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcRow {
    /// The period's start (ms).
    pub period: i64,
    /// The policy domain the report is for.
    pub domain: String,
    /// [`Observation::key`].
    pub record: String,
    pub count: u64,
}

/// Counts observations in memory between flushes to the store (one store write per distinct
/// row and flush, not per message). A crash loses at most one flush interval of counts; a
/// report is statistics, not mail.
#[derive(Debug, Default)]
pub struct Collector {
    counts: Mutex<HashMap<(i64, String, String), u64>>,
}

impl Collector {
    pub fn add(&self, observation: &Observation, period: i64) {
        let key = (
            period,
            observation.published.domain.clone(),
            observation.key(),
        );
        *self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default() += 1;
    }

    /// Everything counted since the last drain.
    pub fn drain(&self) -> Vec<DmarcRow> {
        let counts = std::mem::take(&mut *self.counts.lock().unwrap_or_else(|p| p.into_inner()));
        counts
            .into_iter()
            .map(|((period, domain, record), count)| DmarcRow {
                period,
                domain,
                record,
                count,
            })
            .collect()
    }

    /// Puts rows back (a flush that failed), so the next flush carries them.
    pub fn restore(&self, rows: Vec<DmarcRow>) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        for r in rows {
            *counts.entry((r.period, r.domain, r.record)).or_default() += r.count;
        }
    }
}

/// Who sends the reports (`[dmarc_reports]`).
#[derive(Debug, Clone)]
pub struct Reporter {
    pub org_name: String,
    /// The report's contact address and the `From` of the mail.
    pub email: String,
    pub extra_contact_info: Option<String>,
    /// The submitter named in the subject and file name: the reporting host's domain.
    pub submitter: String,
}

/// One period's report for one policy domain.
#[derive(Debug, Clone)]
pub struct Report {
    pub report_id: String,
    pub begin_ms: i64,
    pub end_ms: i64,
    pub published: Published,
    /// Observations with their counts, sorted for a stable document.
    pub rows: Vec<(Observation, u64)>,
}

impl Report {
    /// The report of `rows` (all of one period and domain); rows whose key does not parse
    /// (written by another version) are left out. `None` when nothing is left.
    pub fn from_rows(
        rows: &[DmarcRow],
        period_secs: u64,
        report_id: String,
    ) -> Option<(Report, Vec<Destination>)> {
        let first = rows.first()?;
        let mut merged: HashMap<Observation, u64> = HashMap::new();
        for r in rows {
            if let Ok(o) = serde_json::from_str::<Observation>(&r.record) {
                *merged.entry(o).or_default() += r.count;
            }
        }
        let mut rows: Vec<(Observation, u64)> = merged.into_iter().collect();
        rows.sort_by_cached_key(|r| r.0.key());
        // One policy per report: when the record changed during the period, the policy (and
        // the addresses) most messages were evaluated under.
        let (published, destinations) = {
            let mut seen: HashMap<(&Published, &Vec<Destination>), u64> = HashMap::new();
            for (o, n) in &rows {
                *seen.entry((&o.published, &o.destinations)).or_default() += n;
            }
            let ((p, d), _) = seen.into_iter().max_by_key(|(k, n)| (*n, k.0.p.clone()))?;
            (p.clone(), d.clone())
        };
        let begin_ms = first.period;
        Some((
            Report {
                report_id,
                begin_ms,
                end_ms: begin_ms + (period_secs.max(1) as i64) * 1000 - 1000,
                published,
                rows,
            },
            destinations,
        ))
    }

    /// The report document (RFC 7489 Appendix C).
    pub fn to_xml(&self, by: &Reporter) -> String {
        let mut x = String::with_capacity(512 + self.rows.len() * 600);
        x.push_str(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n  <version>1.0</version>\n",
        );
        x.push_str("  <report_metadata>\n");
        element(&mut x, 4, "org_name", &by.org_name);
        element(&mut x, 4, "email", &by.email);
        if let Some(extra) = &by.extra_contact_info {
            element(&mut x, 4, "extra_contact_info", extra);
        }
        element(&mut x, 4, "report_id", &self.report_id);
        x.push_str("    <date_range>\n");
        element(&mut x, 6, "begin", &(self.begin_ms / 1000).to_string());
        element(&mut x, 6, "end", &(self.end_ms / 1000).to_string());
        x.push_str("    </date_range>\n  </report_metadata>\n  <policy_published>\n");
        let p = &self.published;
        element(&mut x, 4, "domain", &p.domain);
        element(&mut x, 4, "adkim", &p.adkim.to_string());
        element(&mut x, 4, "aspf", &p.aspf.to_string());
        element(&mut x, 4, "p", &p.p);
        element(&mut x, 4, "sp", &p.sp);
        element(&mut x, 4, "pct", &p.pct.to_string());
        x.push_str("  </policy_published>\n");
        for (o, count) in &self.rows {
            x.push_str("  <record>\n    <row>\n");
            element(&mut x, 6, "source_ip", &schema_ip(o.source_ip));
            element(&mut x, 6, "count", &count.to_string());
            x.push_str("      <policy_evaluated>\n");
            element(&mut x, 8, "disposition", &o.disposition);
            element(&mut x, 8, "dkim", pass_fail(o.dkim_aligned));
            element(&mut x, 8, "spf", pass_fail(o.spf_aligned));
            if o.local_policy_override {
                x.push_str("        <reason>\n");
                element(&mut x, 10, "type", "local_policy");
                element(
                    &mut x,
                    10,
                    "comment",
                    "the receiver does not enforce DMARC policies",
                );
                x.push_str("        </reason>\n");
            }
            x.push_str("      </policy_evaluated>\n    </row>\n    <identifiers>\n");
            element(&mut x, 6, "envelope_from", &o.envelope_from);
            element(&mut x, 6, "header_from", &o.header_from);
            x.push_str("    </identifiers>\n    <auth_results>\n");
            for d in &o.dkim {
                x.push_str("      <dkim>\n");
                element(&mut x, 8, "domain", &d.domain);
                if !d.selector.is_empty() {
                    element(&mut x, 8, "selector", &d.selector);
                }
                element(&mut x, 8, "result", &d.result);
                x.push_str("      </dkim>\n");
            }
            x.push_str("      <spf>\n");
            element(&mut x, 8, "domain", &o.spf_domain);
            element(&mut x, 8, "scope", &o.spf_scope);
            element(&mut x, 8, "result", &o.spf_result);
            x.push_str("      </spf>\n    </auth_results>\n  </record>\n");
        }
        x.push_str("</feedback>\n");
        x
    }

    /// The attachment's file name (§7.2.1.1): `receiver!policy-domain!begin!end.xml.gz`.
    pub fn file_name(&self, by: &Reporter) -> String {
        format!(
            "{}!{}!{}!{}.xml.gz",
            by.submitter,
            self.published.domain,
            self.begin_ms / 1000,
            self.end_ms / 1000
        )
    }

    /// The report mail to `to` (§7.2.1.1): a short text part and the gzipped XML.
    pub fn to_message(&self, by: &Reporter, to: &[&str], date: &str) -> std::io::Result<Vec<u8>> {
        let xml = self.to_xml(by);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(xml.as_bytes())?;
        let gz = gz.finish()?;
        let boundary = format!("moat-dmarc-{}", self.report_id);
        let mut m = String::with_capacity(gz.len() * 4 / 3 + 1024);
        let _ = write!(
            m,
            "From: {}\r\nTo: {}\r\nDate: {date}\r\nSubject: Report Domain: {} Submitter: {} Report-ID: <{}>\r\n\
             Message-ID: <{}@{}>\r\nAuto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
             --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
             DMARC aggregate report for {} from {}.\r\nReport-ID: {}\r\n\r\n\
             --{boundary}\r\nContent-Type: application/gzip\r\nContent-Transfer-Encoding: base64\r\n\
             Content-Disposition: attachment; filename=\"{}\"\r\n\r\n",
            by.email,
            to.join(", "),
            self.published.domain,
            by.submitter,
            self.report_id,
            self.report_id,
            by.submitter,
            self.published.domain,
            by.org_name,
            self.report_id,
            self.file_name(by),
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(&gz);
        for line in encoded.as_bytes().chunks(76) {
            m.push_str(std::str::from_utf8(line).unwrap_or_default());
            m.push_str("\r\n");
        }
        let _ = write!(m, "--{boundary}--\r\n");
        Ok(m.into_bytes())
    }
}

/// The schema's `IPAddress` type accepts IPv6 only as eight groups (no `::`).
fn schema_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => v6
            .segments()
            .iter()
            .map(|s| format!("{s:x}"))
            .collect::<Vec<_>>()
            .join(":"),
    }
}

fn pass_fail(pass: bool) -> &'static str {
    if pass { "pass" } else { "fail" }
}

fn element(x: &mut String, indent: usize, name: &str, text: &str) {
    let _ = write!(x, "{:indent$}<{name}>", "");
    for c in text.chars() {
        match c {
            '<' => x.push_str("&lt;"),
            '>' => x.push_str("&gt;"),
            '&' => x.push_str("&amp;"),
            '"' => x.push_str("&quot;"),
            '\'' => x.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => x.push('?'),
            c => x.push(c),
        }
    }
    let _ = writeln!(x, "</{name}>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observation(ip: &str, dkim_aligned: bool) -> Observation {
        Observation {
            published: Published {
                domain: "sender.example".into(),
                adkim: 'r',
                aspf: 'r',
                p: "reject".into(),
                sp: "reject".into(),
                pct: 100,
            },
            destinations: vec![Destination {
                address: "dmarc@sender.example".into(),
                max_size: 0,
            }],
            source_ip: ip.parse().expect("ip"),
            header_from: "sender.example".into(),
            envelope_from: "sender.example".into(),
            disposition: "none".into(),
            local_policy_override: !dkim_aligned,
            dkim_aligned,
            spf_aligned: false,
            dkim: vec![DkimEntry {
                domain: "sender.example".into(),
                selector: "s1".into(),
                result: if dkim_aligned { "pass" } else { "fail" }.into(),
            }],
            spf_domain: "sender.example".into(),
            spf_scope: "mfrom".into(),
            spf_result: "softfail".into(),
        }
    }

    #[test]
    fn equal_observations_become_one_row_with_a_count() {
        let c = Collector::default();
        let day = period_of(1_700_000_000_000, 86_400);
        assert_eq!(day % 86_400_000, 0);
        c.add(&observation("192.0.2.1", true), day);
        c.add(&observation("192.0.2.1", true), day);
        c.add(&observation("192.0.2.2", false), day);
        let rows = c.drain();
        assert_eq!(rows.len(), 2);
        assert!(c.drain().is_empty());
        let (report, to) = Report::from_rows(&rows, 86_400, "r1".into()).expect("report");
        assert_eq!(to[0].address, "dmarc@sender.example");
        assert_eq!(
            report.rows.iter().map(|(_, n)| *n).sum::<u64>(),
            3,
            "{report:?}"
        );
        assert_eq!(report.end_ms - report.begin_ms, 86_399_000);
        c.restore(rows);
        assert_eq!(c.drain().len(), 2);
    }

    #[test]
    fn text_is_escaped_and_ipv6_is_written_as_the_schema_wants() {
        let mut o = observation("2001:db8::1", true);
        o.envelope_from = "a<b>&\"c'".into();
        let rows = vec![DmarcRow {
            period: 0,
            domain: "sender.example".into(),
            record: o.key(),
            count: 1,
        }];
        let (report, _) = Report::from_rows(&rows, 3600, "id".into()).expect("report");
        let by = Reporter {
            org_name: "Org & Co".into(),
            email: "r@moat.example".into(),
            extra_contact_info: None,
            submitter: "moat.example".into(),
        };
        let xml = report.to_xml(&by);
        assert!(
            xml.contains("<source_ip>2001:db8:0:0:0:0:0:1</source_ip>"),
            "{xml}"
        );
        assert!(xml.contains("a&lt;b&gt;&amp;&quot;c&apos;"), "{xml}");
        assert!(xml.contains("<org_name>Org &amp; Co</org_name>"), "{xml}");
        assert_eq!(
            report.file_name(&by),
            "moat.example!sender.example!0!3599.xml.gz"
        );
    }
}
