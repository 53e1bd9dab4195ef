//! The `Authentication-Results` header (RFC 8601): Moat's own field goes on top of the message,
//! and fields arriving with the message that claim Moat's authserv-id are removed first (section
//! 5), so a sender cannot pre-write `dmarc=pass` for a downstream filter to believe.

use super::headers::scan;

/// Skips folding white space and comments (RFC 5322 3.2.2: nested, with quoted-pairs).
fn skip_cfws(value: &[u8], at: &mut usize) {
    while *at < value.len() {
        match value[*at] {
            b' ' | b'\t' | b'\r' | b'\n' => *at += 1,
            b'(' => {
                let mut depth = 0usize;
                while *at < value.len() {
                    match value[*at] {
                        b'\\' => *at += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                *at += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    *at += 1;
                }
            }
            _ => return,
        }
    }
}

/// The authserv-id of an `Authentication-Results` value (RFC 8601 2.2: `value`, a token or a
/// quoted-string, after optional comments and folding white space), lower case and without a
/// trailing dot, so every spelling a receiver would read as the same id compares equal.
fn authserv_id(value: &[u8]) -> String {
    let mut at = 0;
    skip_cfws(value, &mut at);
    let mut out = Vec::new();
    if value.get(at) == Some(&b'"') {
        at += 1;
        while at < value.len() {
            match value[at] {
                b'\\' => {
                    at += 1;
                    if let Some(&b) = value.get(at) {
                        out.push(b);
                    }
                }
                b'"' => break,
                b'\r' | b'\n' => {}
                b => out.push(b),
            }
            at += 1;
        }
    } else {
        while let Some(&b) = value.get(at) {
            if b.is_ascii_whitespace() || b"();\"".contains(&b) {
                break;
            }
            out.push(b);
            at += 1;
        }
    }
    let id = String::from_utf8_lossy(&out).trim().to_lowercase();
    id.trim_end_matches('.').to_string()
}

/// Byte ranges of `raw`'s header fields named `Authentication-Results` whose authserv-id is
/// `ours` (compared without case).
pub fn forged_ranges(raw: &[u8], ours: &str) -> Vec<std::ops::Range<usize>> {
    let ours = ours.to_lowercase().trim_end_matches('.').to_string();
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

    #[test]
    fn every_rfc_spelling_of_our_id_is_removed() {
        for forged in [
            "(\\() moat.example; dmarc=pass",
            "(a (nested) comment)moat.example;dmarc=pass",
            "\"moat.example\"; dkim=pass",
            "\"moat\\.example\"; dkim=pass",
            "moat.example.; spf=pass",
            "MOAT.EXAMPLE. 1; spf=pass",
            "\r\n\t(x)\r\n moat.example (y); arc=pass",
            "moat.example",
        ] {
            let raw = format!("Authentication-Results: {forged}\r\nSubject: x\r\n\r\nb\r\n");
            assert_eq!(
                forged_ranges(raw.as_bytes(), "moat.example").len(),
                1,
                "{forged:?}"
            );
        }
        for kept in [
            "moat.example.evil; dmarc=pass",
            "(moat.example) other.example; dmarc=pass",
            "\"other.example\"; dkim=pass",
            "evil-moat.example; spf=pass",
        ] {
            let raw = format!("Authentication-Results: {kept}\r\nSubject: x\r\n\r\nb\r\n");
            assert!(
                forged_ranges(raw.as_bytes(), "moat.example").is_empty(),
                "{kept:?}"
            );
        }
    }
}
