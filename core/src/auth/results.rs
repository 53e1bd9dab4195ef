//! The `Authentication-Results` header (RFC 8601): Moat's own field goes on top of the message,
//! and fields arriving with the message that claim Moat's authserv-id are removed first (section
//! 5), so a sender cannot pre-write `dmarc=pass` for a downstream filter to believe.

use super::headers::scan;

/// The authserv-id of an `Authentication-Results` value: the first token, before `;`, without
/// comments or white space.
fn authserv_id(value: &[u8]) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for &b in value {
        match b {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            b';' => break,
            b' ' | b'\t' | b'\r' | b'\n' => {
                if !out.is_empty() {
                    break;
                }
            }
            _ => out.push(char::from(b.to_ascii_lowercase())),
        }
    }
    out
}

/// Byte ranges of `raw`'s header fields named `Authentication-Results` whose authserv-id is
/// `ours` (compared without case).
pub fn forged_ranges(raw: &[u8], ours: &str) -> Vec<std::ops::Range<usize>> {
    let ours = ours.to_ascii_lowercase();
    scan(raw)
        .fields
        .into_iter()
        .filter(|f| {
            f.name(raw)
                .trim_ascii()
                .eq_ignore_ascii_case(b"authentication-results")
                && authserv_id(f.value(raw)) == ours
        })
        .map(|f| f.start..f.end)
        .collect()
}

/// `prefix` (Moat's own header fields), then `message` without the `removed` ranges.
pub fn assemble(prefix: &[&[u8]], message: &[u8], removed: &[std::ops::Range<usize>]) -> Vec<u8> {
    let kept: usize = message.len() - removed.iter().map(|r| r.len()).sum::<usize>();
    let mut out = Vec::with_capacity(prefix.iter().map(|p| p.len()).sum::<usize>() + kept);
    for p in prefix {
        out.extend_from_slice(p);
    }
    let mut at = 0;
    for r in removed {
        out.extend_from_slice(&message[at..r.start]);
        at = r.end;
    }
    out.extend_from_slice(&message[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fields_claiming_our_id_are_removed() {
        let raw = b"Authentication-Results: MOAT.example; dmarc=pass\r\n\
Authentication-Results: (comment) moat.example;\r\n\tspf=pass\r\n\
Authentication-Results: other.example; dkim=pass\r\n\
authentication-results :moat.example;dkim=pass\r\n\
Subject: x\r\n\r\nAuthentication-Results: moat.example; body is not header\r\n";
        let ranges = forged_ranges(raw, "moat.example");
        assert_eq!(ranges.len(), 3);
        let out = assemble(
            &[b"Authentication-Results: moat.example; none\r\n"],
            raw,
            &ranges,
        );
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(
            text,
            "Authentication-Results: moat.example; none\r\n\
Authentication-Results: other.example; dkim=pass\r\n\
Subject: x\r\n\r\nAuthentication-Results: moat.example; body is not header\r\n"
        );
    }
}
