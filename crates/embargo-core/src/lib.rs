//! Embargo's core: reports, programs, keys, sealing and opening — no Tauri, no HTTP server, no
//! terminal code. The CLI, the desktop app and the intake server are thin shells around it.
#![deny(missing_docs)]

pub mod bundle;
pub mod deliver;
pub mod discover;
pub mod export;
pub mod fsutil;
pub mod ids;
pub mod keys;
pub mod limits;
pub mod message;
pub mod mime;
pub mod net;
pub mod open;
pub mod padding;
pub mod policy_md;
pub mod process;
pub mod program;
pub mod protocol;
pub mod reference;
pub mod render;
pub mod replykey;
pub mod report;
pub mod scrub;
pub mod seal;
pub mod securitytxt;
pub mod store;
pub mod taxonomy;
pub mod text;
pub mod usecase;
pub mod vault;
pub mod wkd;

/// `embargo <version>`, written into every report.json.
pub const GENERATOR: &str = concat!("embargo ", env!("CARGO_PKG_VERSION"));

pub use sequoia_openpgp as openpgp;
