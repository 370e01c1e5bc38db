//! End-to-end tests: the `embargo` CLI as a user runs it, against real OpenPGP peers.

mod app_e2e;
mod cli;
mod interop;
mod peers;
mod sop;
mod support;
