//! Turning SpamAssassin's Perl regexes into patterns two engines run the same way: Hyperscan
//! (the fast path, byte mode, one database per subject) and PCRE2 (byte mode, no UTF: the
//! confirming and fallback engine for what Hyperscan refuses, such as look-around and
//! back-references, and the counter of `multiple` hits, since Perl's `//g` counts
//! non-overlapping matches where Hyperscan reports every end).
//!
//! SpamAssassin compiles with `qr//aa`: `\d \s \w \b` and `/i` are ASCII-only and the subject
//! is bytes, which is what both engines do without their UTF-8 modes.

use hyperscan::prelude::{CompileFlags, Pattern};

use super::conf::PerlRegex;

/// The pattern as text both engines accept: raw bytes ≥ 0x80 spelled `\xHH`, Perl's `(?aa)`
/// and `(?a)` (ASCII semantics, which byte mode has anyway) removed.
pub fn portable(pattern: &[u8]) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    while i < pattern.len() {
        let b = pattern[i];
        if pattern[i..].starts_with(b"(?aa)") {
            i += 5;
            continue;
        }
        if pattern[i..].starts_with(b"(?a)") {
            i += 4;
            continue;
        }
        if b >= 0x80 {
            // `\é` (an escaped literal byte) is just the byte.
            let escaped = out.ends_with('\\') && {
                let n = out.chars().rev().take_while(|c| *c == '\\').count();
                n % 2 == 1
            };
            if escaped {
                out.pop();
            }
            out.push_str(&format!("\\x{b:02X}"));
        } else {
            out.push(char::from(b));
        }
        i += 1;
    }
    out
}

/// Hyperscan flags for a rule's delimiter flags. Always one report per pattern: a report
/// only marks its rule as seen (a `multiple` rule's count and a prefilter's confirmation come
/// from PCRE2), and Hyperscan stops running a pattern once it has reported, which on a 4 KB
/// HTML body halves the body scan (many approximated look-ahead rules report on every line).
pub fn hs_flags(flags: &str) -> CompileFlags {
    let mut f = CompileFlags::empty();
    for c in flags.chars() {
        match c {
            'i' => f |= CompileFlags::CASELESS,
            'm' => f |= CompileFlags::MULTILINE,
            's' => f |= CompileFlags::DOTALL,
            _ => {}
        }
    }
    f | CompileFlags::SINGLEMATCH
}

/// Whether every match of the pattern lies within one line and needs no line boundary to
/// be found: no anchors, nothing that can match a line break (`\s`, `\W`, `\D`, a negated
/// class, `\n`, `.` under `/s`…). Conservative: when unsure, false (the rule is then
/// confirmed line by line).
pub fn stays_on_its_line(re: &PerlRegex) -> bool {
    if re.flags.contains('s') || re.flags.contains('m') || re.flags.contains('x') {
        return false;
    }
    let p = &re.pattern;
    let mut i = 0;
    let mut in_class = false;
    while i < p.len() {
        match p[i] {
            b'\\' => {
                let Some(&n) = p.get(i + 1) else {
                    return false;
                };
                if matches!(
                    n,
                    b's' | b'W'
                        | b'D'
                        | b'n'
                        | b'r'
                        | b'v'
                        | b'R'
                        | b'x'
                        | b'0'
                        | b'1'
                        | b'A'
                        | b'z'
                        | b'Z'
                        | b'B'
                        | b'G'
                        | b'X'
                        | b'N'
                        | b'p'
                        | b'P'
                        | b'c'
                        | b'e'
                        | b'f'
                        | b'H'
                        | b'V'
                        | b'Q'
                ) {
                    return false;
                }
                i += 2;
                continue;
            }
            b'[' if !in_class => {
                in_class = true;
                if p.get(i + 1) == Some(&b'^') {
                    return false;
                }
            }
            b']' if in_class => in_class = false,
            b'^' | b'$' if !in_class => return false,
            // Inline flags or look-arounds: leave them to the line-by-line check.
            b'(' if !in_class
                && p.get(i + 1) == Some(&b'?')
                && !matches!(p.get(i + 2), Some(b':')) =>
            {
                return false;
            }
            _ => {}
        }
        i += 1;
    }
    true
}

/// The expression Hyperscan gets (`x` has no compile flag: it goes inline).
pub fn hs_expression(re: &PerlRegex) -> String {
    let body = portable(&re.pattern);
    if re.flags.contains('x') {
        format!("(?x){body}")
    } else {
        body
    }
}

/// A Hyperscan pattern for a rule, or why Hyperscan refuses it (without building a database).
pub fn hs_pattern(re: &PerlRegex, prefilter: bool) -> Result<Pattern, String> {
    let mut flags = hs_flags(&re.flags);
    if prefilter {
        flags |= CompileFlags::PREFILTER;
    }
    let p = Pattern::with_flags(hs_expression(re), flags).map_err(|e| e.to_string())?;
    p.info().map_err(|e| e.to_string())?;
    Ok(p)
}

/// The PCRE2 form.
pub fn pcre(re: &PerlRegex, jit: bool) -> Result<pcre2::bytes::Regex, String> {
    let mut b = pcre2::bytes::RegexBuilder::new();
    b.caseless(re.flags.contains('i'))
        .multi_line(re.flags.contains('m'))
        .dotall(re.flags.contains('s'))
        .extended(re.flags.contains('x'))
        .jit_if_available(jit);
    b.build(&portable(&re.pattern)).map_err(|e| e.to_string())
}

/// Non-overlapping matches of `re` in `text` (Perl's `while (/re/g)`), at most `max`.
pub fn count(re: &pcre2::bytes::Regex, text: &[u8], max: u32) -> u32 {
    let mut n = 0;
    for m in re.find_iter(text) {
        if m.is_err() {
            break;
        }
        n += 1;
        if n >= max {
            break;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(p: &[u8], f: &str) -> PerlRegex {
        PerlRegex {
            pattern: p.to_vec(),
            flags: f.into(),
        }
    }

    #[test]
    fn bytes_and_flags_survive_translation() {
        assert_eq!(portable(b"(?aa)caf\xe9\\\xe9"), "caf\\xE9\\xE9");
        let r = pcre(&re(b"caf\xe9", "i"), false).expect("pcre");
        assert!(r.is_match(b"CAF\xe9").expect("match"));
        assert!(hs_pattern(&re(b"free\\s+money", "i"), false).is_ok());
        // Look-ahead: PCRE2 only (Hyperscan refuses), and as a prefilter it is accepted.
        let la = re(b"foo(?!bar)", "");
        assert!(hs_pattern(&la, false).is_err());
        assert!(hs_pattern(&la, true).is_ok());
        assert!(
            pcre(&la, true)
                .expect("pcre")
                .is_match(b"foobaz")
                .expect("m")
        );
        let multi = pcre(&re(b"a+b?", ""), false).expect("pcre");
        assert_eq!(
            count(&multi, b"aaa aa", 10),
            2,
            "Perl's //g count, not Hyperscan's ends"
        );
        assert_eq!(count(&multi, b"aaa aa", 1), 1);
    }

    #[test]
    fn patterns_that_stay_on_one_line_are_told_apart() {
        for (p, f, stays) in [
            (&b"\\bbuy now\\b"[..], "i", true),
            (b"(?:viagra|cialis)", "", true),
            (b"[a-z]{3,}\\d+", "", true),
            (b"click\\s+here", "i", false),
            (b"^Dear friend", "", false),
            (b"friend$", "", false),
            (b"[^a-z]pills", "", false),
            (b"a.b", "s", false),
            (b"\\Wfree\\W", "", false),
            (b"(?<!\\w)cash", "", false),
            (b"[$^]", "", true),
        ] {
            assert_eq!(
                stays_on_its_line(&re(p, f)),
                stays,
                "{}",
                String::from_utf8_lossy(p)
            );
        }
    }
}
