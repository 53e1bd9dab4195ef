//! The DATA receiver: strict end-of-data detection, dot-unstuffing and lone-line-break
//! detection in one pass, resumable at any byte boundary.
//!
//! Only `CRLF . CRLF` ends a message (RFC 5321 4.1.1.4). smtp-proto's receiver also ends on
//! `CRLF . CR CR LF`, the CR-collapsing smuggling variant, so Moat uses this one. A bare CR, a
//! bare LF or a NUL anywhere in the content sets [`DataReader::tainted`]; the session refuses
//! such messages once their real end arrives, so no byte sequence can split one client message
//! into two, here or at a downstream server that reads line breaks more loosely.

/// Where the reader is within the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line (after CRLF, or at the very start of the data).
    LineStart,
    /// Read `.` at the start of a line.
    Dot,
    /// Read `. CR` at the start of a line.
    DotCr,
    /// Inside a line.
    Mid,
    /// Read a CR inside a line.
    Cr,
}

/// Incremental DATA reader.
#[derive(Debug)]
pub struct DataReader {
    state: State,
    tainted: bool,
}

impl Default for DataReader {
    fn default() -> Self {
        DataReader {
            state: State::LineStart,
            tainted: false,
        }
    }
}

impl DataReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// True once the content held a bare CR, a bare LF or a NUL.
    pub fn tainted(&self) -> bool {
        self.tainted
    }

    /// Appends the unstuffed content of `input` to `out`. Returns `Some(consumed)` when the
    /// end-of-data line was read (bytes after it are left to the caller), `None` when all of
    /// `input` was consumed and more is needed. The final CRLF before the dot stays in `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Mid => {
                    // Fast path: copy up to the next byte that matters.
                    match memchr::memchr3(b'\r', b'\n', 0, &input[i..]) {
                        None => {
                            out.extend_from_slice(&input[i..]);
                            return None;
                        }
                        Some(off) => {
                            out.extend_from_slice(&input[i..i + off]);
                            i += off;
                            let b = input[i];
                            i += 1;
                            match b {
                                b'\r' => self.state = State::Cr,
                                b'\n' => {
                                    // A bare LF is not a line break: no dot handling after it.
                                    self.tainted = true;
                                    out.push(b'\n');
                                }
                                _ => {
                                    self.tainted = true;
                                    out.push(0);
                                }
                            }
                        }
                    }
                }
                State::Cr => {
                    let b = input[i];
                    i += 1;
                    match b {
                        b'\n' => {
                            out.extend_from_slice(b"\r\n");
                            self.state = State::LineStart;
                        }
                        b'\r' => {
                            self.tainted = true;
                            out.push(b'\r');
                        }
                        _ => {
                            self.tainted = true;
                            out.push(b'\r');
                            self.state = State::Mid;
                            i -= 1;
                        }
                    }
                }
                State::LineStart => {
                    if input[i] == b'.' {
                        i += 1;
                        self.state = State::Dot;
                    } else {
                        self.state = State::Mid;
                    }
                }
                State::Dot => {
                    if input[i] == b'\r' {
                        i += 1;
                        self.state = State::DotCr;
                    } else {
                        // A leading dot is removed (RFC 5321 4.5.2); the rest is line content.
                        self.state = State::Mid;
                    }
                }
                State::DotCr => {
                    if input[i] == b'\n' {
                        self.state = State::LineStart;
                        return Some(i + 1);
                    }
                    // `CRLF . CR x`: the CR is content, and a lone one.
                    self.tainted = true;
                    out.push(b'\r');
                    self.state = if input[i] == b'\r' {
                        i += 1;
                        State::Cr
                    } else {
                        State::Mid
                    };
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` split at every position (and byte by byte); all must agree.
    fn run(input: &[u8]) -> (Option<usize>, Vec<u8>, bool) {
        let mut r = DataReader::new();
        let mut out = Vec::new();
        let end = r.feed(input, &mut out);
        let whole = (end, out, r.tainted());
        for split in 0..=input.len() {
            let mut r = DataReader::new();
            let mut out = Vec::new();
            let end = match r.feed(&input[..split], &mut out) {
                Some(n) => Some(n),
                None => r.feed(&input[split..], &mut out).map(|n| n + split),
            };
            assert_eq!(
                (end, &out, r.tainted()),
                (whole.0, &whole.1, whole.2),
                "split at {split}"
            );
        }
        let mut r = DataReader::new();
        let mut out = Vec::new();
        let mut end = None;
        for (i, b) in input.iter().enumerate() {
            if let Some(n) = r.feed(std::slice::from_ref(b), &mut out) {
                end = Some(i + n);
                break;
            }
        }
        assert_eq!(
            (end, &out, r.tainted()),
            (whole.0, &whole.1, whole.2),
            "byte by byte"
        );
        whole
    }

    #[test]
    fn ends_only_on_crlf_dot_crlf_and_unstuffs() {
        let (end, out, tainted) = run(b"a\r\n..b\r\n.c\r\n\r\n.\r\nNEXT");
        assert_eq!(end, Some(17));
        assert_eq!(out, b"a\r\n.b\r\nc\r\n\r\n");
        assert!(!tainted);
        let (end, out, _) = run(b".\r\n");
        assert_eq!((end, out.as_slice()), (Some(3), &b""[..]));
    }

    #[test]
    fn smuggling_endings_do_not_end_and_taint() {
        for ending in [
            &b"\n.\n"[..],
            b"\n.\r\n",
            b"\r.\r",
            b"\r.\n",
            b"\n.\r",
            b"\r\n.\n",
            b"\r.\r\n",
            b"\r\n.\r",
            b"\r\n\x00.\r\n",
            b"\r\r\n.\r\r\n",
            b"\r\n.\r\r\n",
        ] {
            let mut input = b"body".to_vec();
            input.extend_from_slice(ending);
            input.extend_from_slice(b"MAIL FROM:<x>\r\n");
            let (end, _, tainted) = run(&input);
            assert_eq!(end, None, "{ending:?} must not end DATA");
            assert!(tainted, "{ending:?} must taint the message");
            input.extend_from_slice(b"\r\n.\r\n");
            let (end, _, tainted) = run(&input);
            assert_eq!(end, Some(input.len()));
            assert!(tainted);
        }
    }
}
