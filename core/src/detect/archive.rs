//! Looking inside archives (zip, tar, and gzip around anything) so a program or the EICAR file
//! cannot hide in one, with hard limits so an archive cannot hide behind its own size
//! (checklist section J): nesting depth, entry count, bytes per entry and in all, and the
//! expansion ratio, all enforced on the bytes actually inflated (never on sizes an archive
//! declares). What cannot be inspected (encrypted entries, limits exceeded, a zip that does not
//! parse) is reported, so the caller treats it as unscannable, never as clean.

use std::io::{Cursor, Read};

use super::filetype::{FileKind, sniff};

/// How far inspection goes.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Archives inside archives, counting the attachment itself as 1.
    pub max_depth: u32,
    /// Entries across every level.
    pub max_entries: usize,
    /// Inflated bytes across every level.
    pub max_total: u64,
    /// Inflated bytes of one entry.
    pub max_entry: u64,
    /// Inflated / compressed size of an entry larger than 1 MiB.
    pub max_ratio: u64,
    /// Time the whole inspection may take (every archive of one message together).
    pub max_time: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 5,
            max_entries: 1000,
            max_total: 64 << 20,
            max_entry: 32 << 20,
            max_ratio: 250,
            max_time: std::time::Duration::from_secs(2),
        }
    }
}

/// Why (part of) an archive could not be inspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unscannable {
    /// Password-protected entries.
    Encrypted,
    /// Nested deeper than `max_depth`.
    TooDeep,
    /// More than `max_entries` entries.
    TooManyEntries,
    /// An entry or the whole expanded past its byte or ratio limit (a decompression bomb).
    Bomb,
    /// It looks like a zip or gzip but does not parse.
    Broken,
    /// The message's archives together exceed the inspection budget (bytes inflated,
    /// entries or time across every attachment), so the rest could not be looked at.
    OverBudget,
}

impl Unscannable {
    pub fn rule(self) -> &'static str {
        match self {
            Unscannable::Encrypted => "malware.archive_encrypted",
            Unscannable::TooDeep => "malware.archive_too_deep",
            Unscannable::TooManyEntries => "malware.archive_too_many_entries",
            Unscannable::Bomb => "malware.archive_bomb",
            Unscannable::Broken => "malware.archive_broken",
            Unscannable::OverBudget => "malware.archive_over_budget",
        }
    }
}

/// One file found inside.
#[derive(Debug, Clone)]
pub struct Inner {
    /// `outer.zip/dir/inner.zip/file.exe` style path below the attachment.
    pub path: String,
    pub kind: FileKind,
    /// Byte offset of the EICAR signature in the inflated file.
    pub eicar: Option<usize>,
}

/// What inspecting an attachment found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub files: Vec<Inner>,
    /// Each problem with the path it was met at.
    pub unscannable: Vec<(Unscannable, String)>,
}

struct Walk {
    limits: Limits,
    entries: usize,
    total: u64,
    deadline: std::time::Instant,
    report: Report,
}

fn is_zip(data: &[u8]) -> bool {
    data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06")
}

fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b])
}

/// A POSIX (ustar) or GNU tar archive: the magic at offset 257 of the first header.
fn is_tar(data: &[u8]) -> bool {
    data.len() >= 512 && data[257..262] == *b"ustar"
}

/// Whether `data` is a container this module opens.
pub fn is_inspectable(data: &[u8]) -> bool {
    is_zip(data) || is_gzip(data) || is_tar(data)
}

/// The number in a tar header's octal field (NUL or space terminated).
fn octal(field: &[u8]) -> Option<u64> {
    let digits: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|b| *b == b' ')
        .take_while(|b| (b'0'..=b'7').contains(b))
        .collect();
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&digits).ok()?, 8).ok()
}

/// Inspects an archive attachment named `name` (alone: the limits are its own).
pub fn inspect(name: &str, data: &[u8], limits: Limits) -> Report {
    Inspector::new(limits).inspect(name, data)
}

/// Inspects every archive of one message under one budget: entries, inflated bytes and time
/// are counted across attachments, so 500 small archives cannot cost 500 times the limits.
pub struct Inspector {
    walk: Walk,
}

impl Inspector {
    /// A budget starting now.
    pub fn new(limits: Limits) -> Inspector {
        Inspector {
            walk: Walk {
                limits,
                entries: 0,
                total: 0,
                deadline: std::time::Instant::now() + limits.max_time,
                report: Report::default(),
            },
        }
    }

    /// Inspects one attachment with what is left of the budget.
    pub fn inspect(&mut self, name: &str, data: &[u8]) -> Report {
        self.walk.report = Report::default();
        if self.walk.spent() {
            self.walk.flag(Unscannable::OverBudget, name);
        } else {
            self.walk.container(name, data, 1);
        }
        std::mem::take(&mut self.walk.report)
    }
}

impl Walk {
    /// Whether the message's budget is used up (time, bytes or entries).
    fn spent(&self) -> bool {
        std::time::Instant::now() >= self.deadline
            || self.total >= self.limits.max_total
            || self.entries >= self.limits.max_entries
    }

    fn flag(&mut self, why: Unscannable, path: &str) {
        if !self.report.unscannable.iter().any(|(w, _)| *w == why) {
            self.report.unscannable.push((why, path.to_string()));
        }
    }

    /// Reads at most the entry and total budgets from `reader`; `None` (flagged) past them.
    fn inflate(&mut self, reader: impl Read, compressed: u64, path: &str) -> Option<Vec<u8>> {
        if std::time::Instant::now() >= self.deadline {
            self.flag(Unscannable::OverBudget, path);
            return None;
        }
        let left = self.limits.max_total.saturating_sub(self.total);
        let room = self.limits.max_entry.min(left);
        let mut out = Vec::new();
        let read = reader.take(room + 1).read_to_end(&mut out);
        if read.is_err() {
            self.flag(Unscannable::Broken, path);
            return None;
        }
        let n = out.len() as u64;
        self.total += n;
        let ratio_bomb = n > (1 << 20) && n / compressed.max(1) > self.limits.max_ratio;
        if ratio_bomb || (n > room && room == self.limits.max_entry) {
            self.flag(Unscannable::Bomb, path);
            return None;
        }
        if n > room {
            // This entry alone is within limits; the message's archives together are not.
            self.flag(Unscannable::OverBudget, path);
            return None;
        }
        Some(out)
    }

    fn file(&mut self, path: String, data: &[u8], depth: u32) {
        if is_inspectable(data) {
            self.container(&path, data, depth + 1);
            return;
        }
        self.report.files.push(Inner {
            eicar: memchr::memmem::find(data, super::malware::EICAR),
            kind: sniff(data),
            path,
        });
    }

    fn container(&mut self, path: &str, data: &[u8], depth: u32) {
        if depth > self.limits.max_depth {
            self.flag(Unscannable::TooDeep, path);
            return;
        }
        if is_gzip(data) {
            let inner = match (path.strip_suffix(".tgz"), path.strip_suffix(".gz")) {
                (Some(stem), _) => format!("{stem}.tar"),
                (None, Some(stem)) => stem.to_string(),
                (None, None) => format!("{path}/(gunzipped)"),
            };
            // Bounded: `inflate` reads at most the entry and message budgets.
            #[allow(clippy::disallowed_methods)]
            let decoder = flate2::read::GzDecoder::new(data);
            if let Some(bytes) = self.inflate(decoder, data.len() as u64, path) {
                self.file(inner, &bytes, depth);
            }
            return;
        }
        if is_tar(data) {
            self.tar(path, data, depth);
            return;
        }
        // Bounded: entries are counted and each is read through `inflate`.
        #[allow(clippy::disallowed_methods)]
        let opened = zip::ZipArchive::new(Cursor::new(data));
        let mut zip = match opened {
            Ok(z) => z,
            Err(_) => {
                self.flag(Unscannable::Broken, path);
                return;
            }
        };
        for i in 0..zip.len() {
            self.entries += 1;
            if self.entries > self.limits.max_entries {
                self.flag(Unscannable::TooManyEntries, path);
                return;
            }
            let (name, encrypted, is_dir, compressed) = match zip.by_index_raw(i) {
                Ok(f) => (
                    f.name().to_string(),
                    f.encrypted(),
                    f.is_dir(),
                    f.compressed_size(),
                ),
                Err(_) => {
                    self.flag(Unscannable::Broken, path);
                    return;
                }
            };
            let inner = format!("{path}/{name}");
            if encrypted {
                // The name is still visible: a program's name is reported as well.
                self.report.files.push(Inner {
                    path: inner.clone(),
                    kind: FileKind::Other,
                    eicar: None,
                });
                self.flag(Unscannable::Encrypted, &inner);
                continue;
            }
            if is_dir {
                continue;
            }
            let bytes = match zip.by_index(i) {
                Ok(entry) => self.inflate(entry, compressed, &inner),
                Err(_) => {
                    self.flag(Unscannable::Broken, &inner);
                    None
                }
            };
            if let Some(bytes) = bytes {
                self.file(inner, &bytes, depth);
            }
            if self
                .report
                .unscannable
                .iter()
                .any(|(w, _)| *w == Unscannable::Bomb)
            {
                return;
            }
        }
    }
}

impl Walk {
    /// The regular files of a tar archive (sizes checked against the bytes really present).
    fn tar(&mut self, path: &str, data: &[u8], depth: u32) {
        let mut at = 0usize;
        while at + 512 <= data.len() {
            let header = &data[at..at + 512];
            if header.iter().all(|b| *b == 0) {
                return;
            }
            self.entries += 1;
            if self.entries > self.limits.max_entries {
                self.flag(Unscannable::TooManyEntries, path);
                return;
            }
            let name_end = header[..100].iter().position(|b| *b == 0).unwrap_or(100);
            let name = String::from_utf8_lossy(&header[..name_end]).into_owned();
            let Some(size) = octal(&header[124..136]) else {
                self.flag(Unscannable::Broken, path);
                return;
            };
            let start = at + 512;
            let end = start.saturating_add(size as usize);
            if end > data.len() {
                self.flag(Unscannable::Broken, path);
                return;
            }
            // Regular files only ('0' or NUL); links, directories and extended headers skip.
            if matches!(header[156], b'0' | 0) {
                let inner = format!("{path}/{name}");
                if let Some(bytes) = self.inflate(&data[start..end], size.max(1), &inner) {
                    self.file(inner, &bytes, depth);
                }
                if self
                    .report
                    .unscannable
                    .iter()
                    .any(|(w, _)| *w == Unscannable::Bomb)
                {
                    return;
                }
            }
            at = start + (size as usize).div_ceil(512) * 512;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;
    use crate::detect::malware::EICAR;

    /// A zip of `(name, bytes)` entries, deflated.
    pub(crate) fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            w.start_file(*name, opts).expect("entry");
            w.write_all(bytes).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    #[test]
    fn nested_archives_are_opened_and_their_files_typed() {
        let inner = zip_of(&[("tool.exe", b"MZ\x90\x00rest"), ("readme.txt", b"hi")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(EICAR).expect("gz");
        let gz = gz.finish().expect("gz");
        let outer = zip_of(&[("docs/inner.zip", &inner), ("test.com.gz", &gz)]);
        let r = inspect("parcel.zip", &outer, Limits::default());
        assert!(r.unscannable.is_empty(), "{:?}", r.unscannable);
        let exe = r
            .files
            .iter()
            .find(|f| f.path.ends_with("tool.exe"))
            .expect("exe");
        assert_eq!(exe.path, "parcel.zip/docs/inner.zip/tool.exe");
        assert_eq!(exe.kind, FileKind::Executable);
        let eicar = r.files.iter().find(|f| f.eicar.is_some()).expect("eicar");
        assert_eq!(eicar.path, "parcel.zip/test.com");
    }

    #[test]
    fn bombs_deep_nesting_many_entries_encryption_and_junk_are_unscannable() {
        // 8 MiB of zeros deflates ~1000:1: a bomb by ratio, found after inflating 1 MiB.
        let zeros = vec![0u8; 8 << 20];
        let bomb = zip_of(&[("zeros.bin", &zeros)]);
        assert!(bomb.len() < 64 << 10);
        let r = inspect("b.zip", &bomb, Limits::default());
        assert_eq!(r.unscannable[0].0, Unscannable::Bomb);
        // Total budget across entries.
        let tight = Limits {
            max_total: 1 << 20,
            max_ratio: u64::MAX,
            ..Limits::default()
        };
        let two = zip_of(&[("a", &zeros[..700 << 10]), ("b", &zeros[..700 << 10])]);
        assert_eq!(
            inspect("t.zip", &two, tight).unscannable[0].0,
            Unscannable::OverBudget
        );
        // ... and across the attachments of one message: each alone is fine, the third finds
        // the budget spent.
        let one = zip_of(&[("a", &zeros[..400 << 10])]);
        let mut message = Inspector::new(tight);
        assert!(message.inspect("1.zip", &one).unscannable.is_empty());
        assert!(message.inspect("2.zip", &one).unscannable.is_empty());
        assert_eq!(
            message.inspect("3.zip", &one).unscannable[0].0,
            Unscannable::OverBudget
        );
        assert_eq!(
            message.inspect("4.zip", &one).unscannable[0],
            (Unscannable::OverBudget, "4.zip".to_string())
        );
        // A time budget already spent stops inspection before any work.
        let mut late = Inspector::new(Limits {
            max_time: std::time::Duration::ZERO,
            ..Limits::default()
        });
        assert_eq!(
            late.inspect("x.zip", &one).unscannable[0].0,
            Unscannable::OverBudget
        );

        let mut nested = zip_of(&[("core.txt", b"x")]);
        for level in 0..6 {
            nested = zip_of(&[(&format!("level{level}.zip"), &nested)]);
        }
        let r = inspect("deep.zip", &nested, Limits::default());
        assert_eq!(r.unscannable[0].0, Unscannable::TooDeep);

        let names: Vec<String> = (0..1001).map(|i| format!("f{i}.txt")).collect();
        let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
        let many = zip_of(&entries);
        assert_eq!(
            inspect("many.zip", &many, Limits::default()).unscannable[0].0,
            Unscannable::TooManyEntries
        );

        // Mark the entry encrypted (general purpose flag bit 0) in its local and central
        // headers, as a password-protected zip has it.
        let mut locked = zip_of(&[("invoice.pdf.exe", b"MZ....")]);
        for (sig, at) in [(&b"PK\x03\x04"[..], 6), (&b"PK\x01\x02"[..], 8)] {
            let i = memchr::memmem::find(&locked, sig).expect("header") + at;
            locked[i] |= 1;
        }
        let r = inspect("locked.zip", &locked, Limits::default());
        assert_eq!(r.unscannable[0].0, Unscannable::Encrypted);
        assert!(r.files[0].path.ends_with("invoice.pdf.exe"));

        let r = inspect(
            "junk.zip",
            b"PK\x03\x04 not really a zip",
            Limits::default(),
        );
        assert_eq!(r.unscannable[0].0, Unscannable::Broken);
    }

    /// A ustar archive of `(name, bytes)` files.
    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, bytes) in entries {
            let mut h = [0u8; 512];
            h[..name.len()].copy_from_slice(name.as_bytes());
            h[124..135].copy_from_slice(format!("{:011o}", bytes.len()).as_bytes());
            h[156] = b'0';
            h[257..263].copy_from_slice(b"ustar\0");
            out.extend_from_slice(&h);
            out.extend_from_slice(bytes);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend_from_slice(&[0u8; 1024]);
        out
    }

    #[test]
    fn tar_and_tgz_inside_tgz_are_opened() {
        let inner = tar_of(&[("clam.exe", b"MZ\x90\x00program")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&inner).expect("gz");
        let inner_tgz = gz.finish().expect("gz");
        let outer = tar_of(&[("notes.txt", b"hello"), ("clam01.tgz", &inner_tgz)]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&outer).expect("gz");
        let r = inspect("cache.tgz", &gz.finish().expect("gz"), Limits::default());
        assert!(r.unscannable.is_empty(), "{:?}", r.unscannable);
        let exe = r
            .files
            .iter()
            .find(|f| f.kind == FileKind::Executable)
            .expect("exe");
        assert_eq!(exe.path, "cache.tar/clam01.tar/clam.exe");
        // A header claiming more bytes than are there is broken, not trusted.
        let mut lying = tar_of(&[("a", b"xyz")]);
        lying[124..135].copy_from_slice(b"77777777777");
        assert_eq!(
            inspect("l.tar", &lying, Limits::default()).unscannable[0].0,
            Unscannable::Broken
        );
    }
}
