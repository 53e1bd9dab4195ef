//! Links inside PDF attachments: the targets of URI actions (`/URI (…)`), in the file as
//! written and inside its compressed (FlateDecode) streams, where PDF 1.5+ writers keep most
//! objects. Bounded: at most [`MAX_STREAMS`] streams are inflated, each to [`MAX_INFLATED`]
//! bytes, and at most [`MAX_URIS`] links are returned; a PDF that goes past them yields what
//! was found before.

use std::io::Read;

/// Compressed streams inflated per PDF.
pub const MAX_STREAMS: usize = 256;
/// Bytes one stream may inflate to.
pub const MAX_INFLATED: u64 = 4 << 20;
/// Links returned per PDF.
pub const MAX_URIS: usize = 200;

/// Whether the bytes are a PDF document.
pub fn is_pdf(data: &[u8]) -> bool {
    data.len() > 5 && memchr::memmem::find(&data[..data.len().min(1024)], b"%PDF-").is_some()
}

/// The URI action targets of a PDF, with their byte offset in the file (for compressed
/// objects: the offset of their stream).
pub fn uris(data: &[u8]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    collect(data, 0, &mut out);
    let mut streams = 0;
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&data[from..], b"stream").map(|i| from + i) {
        from = at + 6;
        if streams >= MAX_STREAMS || out.len() >= MAX_URIS {
            break;
        }
        // `endstream` also contains the word.
        if data[..at].ends_with(b"end") {
            continue;
        }
        let mut start = from;
        if data.get(start) == Some(&b'\r') {
            start += 1;
        }
        if data.get(start) == Some(&b'\n') {
            start += 1;
        }
        let Some(end) = memchr::memmem::find(&data[start..], b"endstream").map(|i| start + i)
        else {
            break;
        };
        // Only streams whose dictionary says FlateDecode.
        let dict_from = at.saturating_sub(512);
        if memchr::memmem::find(&data[dict_from..at], b"FlateDecode").is_none() {
            from = end;
            continue;
        }
        streams += 1;
        let mut inflated = Vec::new();
        // Bounded by the `take(MAX_INFLATED)` below.
        #[allow(clippy::disallowed_methods)]
        let reader = flate2::read::ZlibDecoder::new(&data[start..end]);
        // A broken stream yields what inflated before the error.
        let _ = reader.take(MAX_INFLATED).read_to_end(&mut inflated);
        collect(&inflated, start, &mut out);
        from = end;
    }
    // A stored (uncompressed) deflate block shows the same target twice.
    let mut seen = std::collections::HashSet::new();
    out.retain(|(_, u)| seen.insert(u.clone()));
    out.truncate(MAX_URIS);
    out
}

/// `/URI (…)` string objects in `data`.
fn collect(data: &[u8], base: usize, out: &mut Vec<(usize, String)>) {
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&data[from..], b"/URI").map(|i| from + i) {
        from = at + 4;
        let rest = &data[from..];
        let skip = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let Some(b'(') = rest.get(skip) else {
            continue;
        };
        let mut uri = Vec::new();
        let mut depth = 0u32;
        let mut i = skip + 1;
        while let Some(&b) = rest.get(i) {
            match b {
                b'\\' => {
                    if let Some(&n) = rest.get(i + 1) {
                        uri.push(n);
                    }
                    i += 2;
                    continue;
                }
                b'(' => depth += 1,
                b')' if depth == 0 => break,
                b')' => depth -= 1,
                _ => {}
            }
            uri.push(b);
            i += 1;
            if uri.len() > 4096 {
                break;
            }
        }
        let uri = String::from_utf8_lossy(&uri).trim().to_string();
        if !uri.is_empty() {
            out.push((base + at, uri));
        }
        if out.len() >= MAX_URIS {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn uri_actions_are_found_plain_and_compressed() {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(b"<< /A << /S /URI /URI (https://evil.web.app/login\\)x) >> >>")
            .expect("deflate");
        let compressed = z.finish().expect("deflate");
        let mut pdf = b"%PDF-1.7\n1 0 obj << /Type /Annot /A << /S /URI /URI (http://plain.example/a) >> >> endobj\n2 0 obj << /Length 9 /Filter /FlateDecode >>\nstream\n".to_vec();
        pdf.extend_from_slice(&compressed);
        pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
        assert!(is_pdf(&pdf));
        let found: Vec<String> = uris(&pdf).into_iter().map(|(_, u)| u).collect();
        assert_eq!(
            found,
            ["http://plain.example/a", "https://evil.web.app/login)x"]
        );
    }

    #[test]
    fn broken_and_hostile_pdfs_end_quietly() {
        assert!(uris(b"%PDF-1.4 /URI (unterminated").len() <= 1);
        assert!(uris(b"%PDF-1.4 stream\nnot zlib\nendstream /FlateDecode").is_empty());
        assert!(uris(b"%PDF-1.4 /URI <68747470>").is_empty());
        assert!(!is_pdf(b"hello"));
        // A stream that inflates without end is cut at the limit.
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&vec![b'a'; 20 << 20]).expect("deflate");
        let mut pdf = b"%PDF-1.7\n<< /Filter /FlateDecode >>\nstream\n".to_vec();
        pdf.extend_from_slice(&z.finish().expect("deflate"));
        pdf.extend_from_slice(b"\nendstream\n");
        assert!(uris(&pdf).is_empty());
    }
}
