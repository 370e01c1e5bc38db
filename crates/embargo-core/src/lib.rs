//! Embargo's core: reports, programs, keys, sealing and opening — no Tauri, no HTTP server, no
//! terminal code. The CLI, the desktop app and the intake server are thin shells around it.
#![deny(missing_docs)]

pub mod discover;
pub mod export;
pub mod keys;
pub mod mime;
pub mod net;
pub mod open;
pub mod program;
pub mod render;
pub mod report;
pub mod seal;
pub mod securitytxt;
pub mod store;

/// `embargo <version>`, written into every report.json.
pub const GENERATOR: &str = concat!("embargo ", env!("CARGO_PKG_VERSION"));

pub use sequoia_openpgp as openpgp;
