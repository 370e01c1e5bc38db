//! The use cases both shells run, one function each. The CLI and the app parse their input,
//! call one of these, and present what comes back; a rule either shell needs lives here.
//! ARCHITECTURE.md's parity table maps each user action to its function here, its CLI command
//! and its app command (kept true by the `parity` test).
//!
//! - [`report`]: parse and check a report, the editor's readiness, the preview of a seal;
//! - [`seal`]: recipients, the email envelope, who signs by default, the seal to a file;
//! - [`program`]: pin a team key, record a discovery, import a SECURITY.md, the key request;
//! - [`identity`]: make or import the identity (earlier records migrate to it);
//! - [`attachment`]: scrub an attachment's metadata before it is sealed;
//! - [`submit`]: submit through the outbox, retry it, the retry schedule;
//! - [`status`]: a report's status and the team's replies, decrypted and verified;
//! - [`export`]: what the researcher does with an exported report, and the record of it;
//! - [`settings`]: the settings' ranges and the network configuration of every request;
//! - [`open`]: the team's side, a message opened into a directory;
//! - [`notify`]: what the app tells the desktop (a new report, a reply), naming nothing of it;
//! - [`team`]: the team's side kept in the vault: a member's key, the inbox, reports opened in
//!   memory, status and replies.

pub mod attachment;
pub mod export;
pub mod identity;
pub mod notify;
pub mod open;
pub mod program;
pub mod report;
pub mod seal;
pub mod settings;
pub mod status;
pub mod submit;
pub mod team;

pub use attachment::*;
pub use export::*;
pub use identity::*;
pub use open::*;
pub use program::*;
pub use report::*;
pub use seal::*;
pub use status::*;
pub use submit::*;
