//! End-to-end tests: the `embargo` CLI as a user runs it, against real OpenPGP peers.

mod app_e2e;
mod cli;
mod intake;
mod intake_storage;
mod interop;
mod pg;
mod support;
