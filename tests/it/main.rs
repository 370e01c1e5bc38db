//! End-to-end tests: the `embargo` CLI as a user runs it, against real OpenPGP peers.

mod app_e2e;
mod attacks;
mod cli;
mod discover;
mod fuzz_corpus;
mod hardening;
mod intake;
mod intake_storage;
mod interop;
mod messages;
mod parity;
mod peers;
mod pg;
mod sop;
mod submit;
mod vault;
