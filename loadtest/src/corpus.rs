//! The messages a run sends: a corpus written by `moat-corpus` (its `manifest.tsv` gives each
//! message's envelope) or one generated message of `--size` bytes. Each is prepared once, with
//! the SMTP form dot-stuffed, so sending costs no work in the generator.

use std::{fs, path::Path};

use anyhow::{Context, bail};

/// One message and its envelope.
pub struct Item {
    pub name: String,
    pub mail_from: String,
    pub rcpt: String,
    pub helo: String,
    /// The message as stored (for HTTP and spamc).
    pub raw: Vec<u8>,
    /// The message with leading dots doubled, ready for DATA (without the final `.`).
    pub stuffed: Vec<u8>,
}

pub struct Corpus {
    pub items: Vec<Item>,
}

impl Corpus {
    /// Reads `dir/manifest.tsv` and `dir/msgs/*`.
    pub fn load(dir: &Path, rcpt_override: Option<&str>) -> anyhow::Result<Corpus> {
        let manifest = dir.join("manifest.tsv");
        let text = fs::read_to_string(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        let mut items = Vec::new();
        for (n, line) in text.lines().enumerate().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 4 {
                bail!(
                    "{}:{}: expected at least 4 columns",
                    manifest.display(),
                    n + 1
                );
            }
            let path = dir.join("msgs").join(cols[0]);
            let raw = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            items.push(Item::new(
                cols[0].to_string(),
                cols[1].to_string(),
                rcpt_override.unwrap_or(cols[2]).to_string(),
                cols[3].to_string(),
                raw,
            ));
        }
        if items.is_empty() {
            bail!("{} lists no messages", manifest.display());
        }
        Ok(Corpus { items })
    }

    /// One generated plain message of about `size` bytes.
    pub fn generated(size: usize, from: &str, rcpt: &str) -> Corpus {
        let mut body = format!(
            "From: Load <{from}>\r\nTo: <{rcpt}>\r\nSubject: load message\r\nMessage-ID: <load@loadtest.test>\r\n\r\n"
        );
        while body.len() < size {
            body.push_str("The quick brown fox jumps over the lazy dog 0123456789.\r\n");
        }
        Corpus {
            items: vec![Item::new(
                "generated".into(),
                from.into(),
                rcpt.into(),
                "loadtest.test".into(),
                body.into_bytes(),
            )],
        }
    }
}

impl Item {
    fn new(name: String, mail_from: String, rcpt: String, helo: String, raw: Vec<u8>) -> Item {
        let stuffed = dot_stuff(&raw);
        Item {
            name,
            mail_from,
            rcpt,
            helo,
            raw,
            stuffed,
        }
    }
}

/// RFC 5321 4.5.2: a line starting with `.` gets another; bare LF line ends become CRLF, and
/// the data always ends with CRLF.
pub fn dot_stuff(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 64 + 4);
    let mut at_line_start = true;
    let mut prev = 0u8;
    for &b in raw {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        at_line_start = b == b'\n';
        prev = b;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::dot_stuff;

    #[test]
    fn stuffs_dots_and_line_ends() {
        assert_eq!(dot_stuff(b".a\r\nb\n.c"), b"..a\r\nb\r\n..c\r\n");
        assert_eq!(dot_stuff(b"x\r\n"), b"x\r\n");
    }
}
