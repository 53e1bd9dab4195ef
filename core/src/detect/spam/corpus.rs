//! Labelled mail for training the spam model: directories of one-message files (maildir
//! `cur/`/`new/`, corpus folders) and mbox files, read the way `moat spam train` takes them.

use std::path::{Path, PathBuf};

use crate::{
    detect::links::Rendered,
    message::{MessageView, parse},
};

use super::{Trainer, bayes};

/// Every message file under `path` (recursively for directories), in name order.
fn files(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            let hidden = e
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if !hidden {
                files(&e, out)?;
            }
        }
    } else if path.is_file() {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// Splits one file into messages: an mbox (`From ` separator lines) gives each message, any
/// other file is one message (a leading `From ` line is dropped).
fn split(raw: &[u8]) -> Vec<&[u8]> {
    if !raw.starts_with(b"From ") {
        return vec![raw];
    }
    let mut out = Vec::new();
    let mut start = raw
        .iter()
        .position(|&b| b == b'\n')
        .map_or(raw.len(), |i| i + 1);
    let mut search = start;
    while let Some(i) = memchr::memmem::find(&raw[search..], b"\nFrom ") {
        let at = search + i;
        out.push(&raw[start..at + 1]);
        start = raw[at + 1..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |j| at + 1 + j + 1);
        search = start;
    }
    if start < raw.len() {
        out.push(&raw[start..]);
    }
    out
}

/// Whether bytes start like a message: a header field name and a colon on the first line (a
/// corpus's JSON or index files beside the messages do not).
fn looks_like_message(raw: &[u8]) -> bool {
    let first = raw.split(|&b| b == b'\n').next().unwrap_or(&[]);
    match first.iter().position(|&b| b == b':') {
        Some(colon) if colon > 0 => first[..colon]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        _ => false,
    }
}

/// The model's tokens of one raw message (empty when it is not a message).
pub fn tokens_of(raw: &[u8]) -> Vec<u64> {
    if !looks_like_message(raw) {
        return Vec::new();
    }
    match parse(raw) {
        Some(msg) => {
            let view = MessageView::new(&msg, "");
            bayes::tokens(&view, &Rendered::of(&view))
        }
        None => Vec::new(),
    }
}

/// Learns every message under `path` as spam or ham; returns how many were learnt.
pub fn learn_path(trainer: &mut Trainer, path: &Path, spam: bool) -> std::io::Result<usize> {
    let mut list = Vec::new();
    files(path, &mut list)?;
    let mut n = 0;
    for file in list {
        let raw = std::fs::read(&file)?;
        for msg in split(&raw) {
            let tokens = tokens_of(msg);
            if !tokens.is_empty() {
                trainer.learn(&tokens, spam);
                n += 1;
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_files_split_into_messages() {
        let mbox = b"From a@b Mon Jan 1 00:00:00 2024\nSubject: one\n\nbody\n\nFrom c@d Mon Jan 1 00:00:00 2024\nSubject: two\n\nbody two\n";
        let parts = split(mbox);
        assert_eq!(parts.len(), 2);
        assert!(parts[0].starts_with(b"Subject: one"));
        assert!(parts[1].starts_with(b"Subject: two"));
        assert_eq!(split(b"Subject: x\n\nbody\n").len(), 1);
    }

    #[test]
    fn files_that_are_not_messages_are_not_learnt() {
        assert!(tokens_of(b"{\"id\": 1, \"label\": \"spam\"}\n").is_empty());
        assert!(tokens_of(b"just some text\n").is_empty());
        assert!(!tokens_of(b"Subject: hello there\n\nbody words here\n").is_empty());
    }
}
