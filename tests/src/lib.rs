//! Helpers for Moat's end-to-end tests: a real downstream SMTP sink, a Moat started in-process
//! on loopback ports over a temporary SQLite file, real SMTP clients (Python smtplib, swaks, raw
//! TCP) and real HTTP calls.

pub mod client;
pub mod dns;
pub mod harness;
pub mod process;
pub mod sink;
