//! Fuzzes DATA framing: end-of-data detection, dot-unstuffing and lone-line-break detection.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    moat_scanner::fuzz_support::data_framing(data);
});
