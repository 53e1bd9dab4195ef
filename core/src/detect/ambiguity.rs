//! MIME structures that two parsers can read two ways (checklist section I): a second, simple
//! reading of the raw header blocks, independent of mail-parser, looks for what makes the
//! scanner's reading and a mail client's differ: a `Content-Type` naming two different
//! boundaries (MIME-1: a part reachable only under the other boundary is never scanned),
//! two different `Content-Transfer-Encoding`s in one part (MIME-3), two different
//! `Content-Type`s in one part, and `message/partial` fragments that cannot be scanned whole
//! (MIME-8). Such a message is unscannable: it is quarantined like malware, never delivered
//! as clean on one reading.

use crate::model::{Finding, Severity, ThreatType};

/// Header blocks read at most (the message's and its parts').
const MAX_BLOCKS: usize = 10_000;

fn finding(rule: &str, matched: String) -> Finding {
    Finding {
        rule: rule.to_string(),
        threat_type: ThreatType::Malware,
        field: "mime".into(),
        part: None,
        range: None,
        matched,
        severity: Severity::High,
        score: None,
    }
}

/// Every header block: the message's, then each one following a boundary-like line.
fn header_blocks(raw: &[u8]) -> Vec<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    let mut in_header = true;
    for line in raw.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if in_header {
            if line.is_empty() {
                blocks.push(std::mem::take(&mut current));
                in_header = false;
                if blocks.len() >= MAX_BLOCKS {
                    break;
                }
                continue;
            }
            let text = String::from_utf8_lossy(line);
            if line[0] == b' ' || line[0] == b'\t' {
                if let Some((_, value)) = current.last_mut() {
                    value.push(' ');
                    value.push_str(text.trim());
                }
            } else if let Some((name, value)) = text.split_once(':') {
                current.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        } else if line.len() > 2 && line.starts_with(b"--") && !line[2].is_ascii_whitespace() {
            in_header = true;
        }
    }
    if in_header && !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

/// The values of every `boundary` parameter in a Content-Type value.
fn boundaries(value: &str) -> Vec<String> {
    value
        .split(';')
        .skip(1)
        .filter_map(|param| {
            let (name, v) = param.split_once('=')?;
            (name.trim().eq_ignore_ascii_case("boundary"))
                .then(|| v.trim().trim_matches('"').to_string())
        })
        .collect()
}

fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn distinct(mut values: Vec<String>) -> Vec<String> {
    values.sort();
    values.dedup();
    values
}

/// Findings for the message's ambiguous MIME structures (empty when it has one reading).
pub fn scan(raw: &[u8]) -> Vec<Finding> {
    let mut out = Vec::new();
    for block in header_blocks(raw) {
        let of = |name: &str| -> Vec<&str> {
            block
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        let types = of("content-type");
        let bounds = distinct(types.iter().flat_map(|t| boundaries(t)).collect());
        if bounds.len() > 1 {
            out.push(finding(
                "malware.mime_ambiguous_boundary",
                format!("one part names the boundaries {}", bounds.join(" and ")),
            ));
        }
        let media = distinct(types.iter().map(|t| media_type(t)).collect());
        if media.len() > 1 {
            out.push(finding(
                "malware.mime_ambiguous_type",
                format!("one part is both {}", media.join(" and ")),
            ));
        }
        if media.iter().any(|m| m == "message/partial") {
            out.push(finding(
                "malware.mime_partial",
                "message/partial fragment (cannot be scanned whole)".into(),
            ));
        }
        let encodings = distinct(
            of("content-transfer-encoding")
                .iter()
                .map(|e| e.trim().to_ascii_lowercase())
                .collect(),
        );
        if encodings.len() > 1 {
            out.push(finding(
                "malware.mime_conflicting_encoding",
                format!("one part is encoded both {}", encodings.join(" and ")),
            ));
        }
    }
    out.sort_by(|a, b| a.rule.cmp(&b.rule));
    out.dedup_by(|a, b| a.rule == b.rule);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(raw: &str) -> Vec<String> {
        scan(raw.as_bytes()).into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn one_reading_is_not_ambiguous() {
        let raw = "From: a@b\r\nContent-Type: multipart/mixed; boundary=\"A\"\r\n\r\n--A\r\n\
Content-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\nhi\r\n\
-----Original Message-----\r\nFrom: c@d\r\n\r\n--A--\r\n";
        assert!(rules(raw).is_empty(), "{:?}", rules(raw));
    }

    #[test]
    fn two_boundaries_two_encodings_two_types_and_partials_are_ambiguous() {
        // MIME-1: the payload is reachable only under boundary B.
        let raw = "From: a@b\r\nContent-Type: multipart/mixed; boundary=\"A\"; boundary=\"B\"\r\n\r\n\
--A\r\nContent-Type: text/plain\r\n\r\nclean\r\n--A--\r\n--B\r\nContent-Type: application/x-msdownload\r\n\r\nMZ\r\n--B--\r\n";
        assert_eq!(rules(raw), ["malware.mime_ambiguous_boundary"]);
        // MIME-3, folded header included.
        let raw = "From: a@b\r\nContent-Type: multipart/mixed;\r\n boundary=Z\r\n\r\n--Z\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nTVo=\r\n--Z--\r\n";
        assert_eq!(rules(raw), ["malware.mime_conflicting_encoding"]);
        let raw = "From: a@b\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\n\r\nx\r\n";
        assert_eq!(rules(raw), ["malware.mime_ambiguous_type"]);
        let raw =
            "From: a@b\r\nContent-Type: message/partial; id=\"x\"; number=1; total=2\r\n\r\nx\r\n";
        assert_eq!(rules(raw), ["malware.mime_partial"]);
    }
}
