//! DKIM details Moat handles itself around mail-auth: the canonical body length (RFC 6376 3.4),
//! verification of relaxed `l=` signatures over the relaxed body (mail-auth 0.13 cuts the raw
//! body at `l`), and Moat's reading of the results (partially signed bodies are not trusted, a
//! body hash mismatch is a failure).

use mail_auth::{AuthenticatedMessage, DkimOutput, DkimResult, dkim::Canonicalization};

/// The body after relaxed canonicalisation (RFC 6376 3.4.4): white space runs become one
/// space, trailing white space and trailing empty lines go, lines end in CRLF.
pub(super) fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut pending_empty = 0usize;
    let mut lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    // A body ending in a line break has no text after the last one.
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line).trim_ascii_end();
        if line.is_empty() {
            pending_empty += 1;
            continue;
        }
        for _ in 0..pending_empty {
            out.extend_from_slice(b"\r\n");
        }
        pending_empty = 0;
        let mut in_ws = false;
        for &b in line {
            if b == b' ' || b == b'\t' {
                in_ws = true;
            } else {
                if in_ws {
                    out.push(b' ');
                    in_ws = false;
                }
                out.push(b);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Whether a signature needs the relaxed-body copy of the message.
pub(super) fn needs_relaxed_copy(message: &AuthenticatedMessage<'_>) -> bool {
    message
        .dkim_headers
        .iter()
        .any(|h| h.header.l > 0 && h.header.cb == Canonicalization::Relaxed)
}

/// The message's header block followed by its relaxed body.
pub(super) fn relaxed_copy(raw: &[u8], body_offset: u32) -> Vec<u8> {
    let split = (body_offset as usize).min(raw.len());
    let mut out = raw[..split].to_vec();
    out.extend_from_slice(&relaxed_body(&raw[split..]));
    out
}

/// `main` with each relaxed `l=` signature's result taken from `relaxed` (matched by `b=`).
pub(super) fn merge<'x>(
    main: Vec<DkimOutput<'x>>,
    relaxed: Vec<DkimOutput<'x>>,
) -> Vec<DkimOutput<'x>> {
    main.into_iter()
        .map(|o| {
            let from_relaxed = o
                .signature()
                .filter(|s| s.l > 0 && s.cb == Canonicalization::Relaxed)
                .and_then(|s| {
                    relaxed
                        .iter()
                        .position(|r| r.signature().is_some_and(|rs| rs.b == s.b))
                });
            match from_relaxed {
                Some(i) => relaxed[i].clone(),
                None => o,
            }
        })
        .collect()
}

/// Length of a body after DKIM canonicalisation (RFC 6376 3.4.3 and 3.4.4).
pub(super) fn canonical_body_len(body: &[u8], c: Canonicalization) -> u64 {
    match c {
        Canonicalization::Simple => {
            let mut end = body.len();
            while end >= 2 && &body[end - 2..end] == b"\r\n" {
                end -= 2;
            }
            end as u64 + 2
        }
        Canonicalization::Relaxed => relaxed_body(body).len() as u64,
    }
}

/// The message's own reference to `sig` (an output's signature borrows from the message, but
/// `DkimOutput::signature` hands it out with the output's lifetime).
pub(super) fn message_signature<'x>(
    messages: &[&'x AuthenticatedMessage<'x>],
    sig: &mail_auth::dkim::Signature,
) -> Option<&'x mail_auth::dkim::Signature> {
    messages
        .iter()
        .flat_map(|m| m.dkim_headers.iter())
        .find(|h| std::ptr::eq(&h.header, sig))
        .map(|h| &h.header)
}

/// Moat's reading of mail-auth's per-signature results, before DMARC sees them:
/// - a signature with `l=` that leaves part of the body unsigned proves nothing about that part
///   (checklist HDR-9): neutral, so it cannot make DMARC pass;
/// - a body hash mismatch is a failed signature (RFC 6376 6.1.3), reported as `fail`
///   (mail-auth says neutral).
pub(super) fn judge_signatures<'x>(
    messages: &[&'x AuthenticatedMessage<'x>],
    body: &[u8],
    outputs: Vec<DkimOutput<'x>>,
) -> Vec<DkimOutput<'x>> {
    enum Verdict {
        Partial(String),
        BodyMismatch,
    }
    outputs
        .into_iter()
        .map(|o| {
            let verdict = match (o.result(), o.signature()) {
                (DkimResult::Pass, Some(sig)) if sig.l > 0 => {
                    let len = canonical_body_len(body, sig.cb);
                    (len > sig.l).then(|| {
                        let why = format!("l={} leaves {} body bytes unsigned", sig.l, len - sig.l);
                        (std::ptr::from_ref(sig), Verdict::Partial(why))
                    })
                }
                (
                    DkimResult::Neutral(mail_auth::Error::Dkim(
                        mail_auth::dkim::DkimError::FailedBodyHashMatch,
                    )),
                    Some(sig),
                ) => Some((std::ptr::from_ref(sig), Verdict::BodyMismatch)),
                _ => None,
            };
            // The signature as borrowed from the message (it outlives this output).
            let rewritten = verdict.and_then(|(ptr, verdict)| {
                let sig = messages
                    .iter()
                    .flat_map(|m| m.dkim_headers.iter())
                    .find(|h| std::ptr::eq(&h.header, ptr))
                    .map(|h| &h.header)?;
                Some(match verdict {
                    Verdict::Partial(why) => {
                        DkimOutput::neutral(mail_auth::Error::Io(why)).with_signature(sig)
                    }
                    Verdict::BodyMismatch => DkimOutput::fail(mail_auth::Error::Dkim(
                        mail_auth::dkim::DkimError::FailedBodyHashMatch,
                    ))
                    .with_signature(sig),
                })
            });
            rewritten.unwrap_or(o)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_body_follows_rfc_6376() {
        assert_eq!(relaxed_body(b" C \r\nD \t E\r\n\r\n\r\n"), b" C\r\nD E\r\n");
        assert_eq!(relaxed_body(b"a\r\n\r\nb"), b"a\r\n\r\nb\r\n");
        assert_eq!(relaxed_body(b"\r\n\r\n"), b"");
    }

    #[test]
    fn canonical_lengths_follow_rfc_6376() {
        assert_eq!(canonical_body_len(b"", Canonicalization::Simple), 2);
        assert_eq!(
            canonical_body_len(b"hi\r\n\r\n\r\n", Canonicalization::Simple),
            4
        );
        assert_eq!(canonical_body_len(b"", Canonicalization::Relaxed), 0);
        // " C \r\nD \t E\r\n\r\n\r\n" relaxes to " C\r\nD E\r\n" (RFC 6376 3.4.5).
        assert_eq!(
            canonical_body_len(b" C \r\nD \t E\r\n\r\n\r\n", Canonicalization::Relaxed),
            9
        );
    }
}
