//! End-to-end tests: the `embargo` CLI as a user runs it, against real OpenPGP peers.

/// Tests that load the whole machine or race against its timing take turns: an app session
/// (WebKit's processes) and a thousand slow clients on the 2-core CI machine would slow each
/// other past their waits. The other tests keep running beside them.
pub static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Waits for this test's turn among those that must run [`ALONE`].
pub fn alone() -> std::sync::MutexGuard<'static, ()> {
    ALONE.lock().unwrap_or_else(|e| e.into_inner())
}

mod app_e2e;
mod attacks;
mod cli;
mod discover;
mod durability;
mod fuzz_corpus;
mod hardening;
mod intake;
mod intake_storage;
mod interop;
mod messages;
mod packages;
mod parity;
mod peers;
mod pg;
mod sop;
mod submit;
mod vault;
