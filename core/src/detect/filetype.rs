//! What a file is, from its bytes rather than its declared type or name (reliability checklist
//! MIME-7): a part declared `image/png` that starts with `MZ` is an executable.

/// A file's kind as told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// PE (Windows), ELF or Mach-O.
    Executable,
    /// A text file starting with `#!`.
    Script,
    /// An OOXML (zip) office document holding a VBA project.
    OfficeMacro,
    /// An OLE2 compound document (legacy Word/Excel/PowerPoint, MSI): may carry macros.
    OfficeLegacy,
    /// zip, rar, 7z, gzip, cab.
    Archive,
    Html,
    Pdf,
    Other,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Executable => "executable",
            FileKind::Script => "script",
            FileKind::OfficeMacro => "office_macro",
            FileKind::OfficeLegacy => "office_legacy",
            FileKind::Archive => "archive",
            FileKind::Html => "html",
            FileKind::Pdf => "pdf",
            FileKind::Other => "other",
        }
    }

    pub const ALL: [FileKind; 8] = [
        FileKind::Executable,
        FileKind::Script,
        FileKind::OfficeMacro,
        FileKind::OfficeLegacy,
        FileKind::Archive,
        FileKind::Html,
        FileKind::Pdf,
        FileKind::Other,
    ];

    /// Every name [`FileKind::as_str`] gives, for validating policy conditions.
    pub const NAMES: [&'static str; 8] = [
        "executable",
        "script",
        "office_macro",
        "office_legacy",
        "archive",
        "html",
        "pdf",
        "other",
    ];
}

fn starts_with_ci(data: &[u8], prefix: &[u8]) -> bool {
    data.len() >= prefix.len() && data[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Sniffs `data`.
pub fn sniff(data: &[u8]) -> FileKind {
    const MACHO: [[u8; 4]; 4] = [
        [0xFE, 0xED, 0xFA, 0xCE],
        [0xFE, 0xED, 0xFA, 0xCF],
        [0xCF, 0xFA, 0xED, 0xFE],
        [0xCE, 0xFA, 0xED, 0xFE],
    ];
    if data.starts_with(b"MZ")
        || data.starts_with(b"\x7fELF")
        || MACHO.iter().any(|m| data.starts_with(m))
    {
        return FileKind::Executable;
    }
    if data.starts_with(b"#!") {
        return FileKind::Script;
    }
    if data.starts_with(b"PK\x03\x04") {
        let head = &data[..data.len().min(1 << 20)];
        if memchr::memmem::find(head, b"vbaProject.bin").is_some() {
            return FileKind::OfficeMacro;
        }
        return FileKind::Archive;
    }
    if data.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return FileKind::OfficeLegacy;
    }
    if data.starts_with(b"Rar!\x1a\x07")
        || data.starts_with(&[0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C])
        || data.starts_with(&[0x1F, 0x8B])
        || data.starts_with(b"MSCF")
    {
        return FileKind::Archive;
    }
    if data.starts_with(b"%PDF-") {
        return FileKind::Pdf;
    }
    let text = data.trim_ascii_start();
    let head = &text[..text.len().min(1024)];
    if starts_with_ci(head, b"<!doctype html")
        || starts_with_ci(head, b"<html")
        || starts_with_ci(head, b"<svg")
        || head.windows(7).any(|w| w.eq_ignore_ascii_case(b"<script"))
    {
        return FileKind::Html;
    }
    FileKind::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_decides_not_the_label() {
        assert_eq!(sniff(b"MZ\x90\x00rest"), FileKind::Executable);
        assert_eq!(sniff(b"\x7fELF\x02\x01"), FileKind::Executable);
        assert_eq!(sniff(b"#!/bin/sh\nrm -rf /\n"), FileKind::Script);
        assert_eq!(
            sniff(b"PK\x03\x04....word/vbaProject.bin"),
            FileKind::OfficeMacro
        );
        assert_eq!(sniff(b"PK\x03\x04....plain.txt"), FileKind::Archive);
        assert_eq!(
            sniff(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0]),
            FileKind::OfficeLegacy
        );
        assert_eq!(sniff(b"  <!DOCTYPE html><p>"), FileKind::Html);
        assert_eq!(sniff(b"hello <SCRIPT>alert(1)</script>"), FileKind::Html);
        assert_eq!(sniff(b"%PDF-1.7"), FileKind::Pdf);
        assert_eq!(sniff(b"\x89PNG\r\n"), FileKind::Other);
        assert_eq!(sniff(b""), FileKind::Other);
    }
}
