//! Fuzzes the SMTP command layer: line limit, smtp-proto's parser and the session state machine.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    moat_scanner::fuzz_support::commands(data);
});
