//! Byte offsets of the header fields of a raw message, for the two places that must see the
//! header exactly as sent: the author identity (section H of the reliability checklist) and the
//! removal of forged `Authentication-Results` fields (RFC 8601 section 5).

/// One header field: `raw[start..colon]` is the name, `raw[colon + 1..end]` the value with its
/// folds, and `end` is just past the field's final CRLF (or the end of the header block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub start: usize,
    pub colon: usize,
    pub end: usize,
}

impl Field {
    pub fn name<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        &raw[self.start..self.colon]
    }

    pub fn value<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        &raw[self.colon + 1..self.end]
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct HeaderScan {
    pub fields: Vec<Field>,
    /// The first line starts with white space (a continuation of nothing).
    pub leading_whitespace: bool,
}

/// Splits the header block of `raw` (up to the first empty line) into fields. Lines without a
/// colon are skipped.
pub fn scan(raw: &[u8]) -> HeaderScan {
    let mut scan = HeaderScan::default();
    let mut pos = 0;
    let mut current: Option<usize> = None;
    let push = |fields: &mut Vec<Field>, start: usize, end: usize| {
        if let Some(colon) = memchr::memchr(b':', &raw[start..end]) {
            fields.push(Field {
                start,
                colon: start + colon,
                end,
            });
        }
    };
    while pos < raw.len() {
        let line_end = memchr::memmem::find(&raw[pos..], b"\r\n").map_or(raw.len(), |i| pos + i);
        let next = (line_end + 2).min(raw.len());
        if line_end == pos {
            break; // the empty line ending the header
        }
        let continuation = matches!(raw[pos], b' ' | b'\t');
        if continuation {
            if current.is_none() {
                scan.leading_whitespace = true;
                current = Some(pos);
            }
        } else {
            if let Some(start) = current {
                push(&mut scan.fields, start, pos);
            }
            current = Some(pos);
        }
        pos = next;
    }
    if let Some(start) = current {
        push(&mut scan.fields, start, pos.min(raw.len()));
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_folds_and_the_body_boundary() {
        let raw = b"A: 1\r\nB: two\r\n  lines\r\nnocolon\r\nC:3\r\n\r\nD: body\r\n";
        let s = scan(raw);
        let names: Vec<&[u8]> = s.fields.iter().map(|f| f.name(raw)).collect();
        assert_eq!(names, vec![&b"A"[..], b"B", b"C"]);
        assert_eq!(s.fields[1].value(raw), b" two\r\n  lines\r\n");
        assert!(!s.leading_whitespace);
        assert!(scan(b" A: 1\r\n\r\n").leading_whitespace);
        assert_eq!(scan(b"\r\nA: 1\r\n").fields, vec![]);
    }
}
