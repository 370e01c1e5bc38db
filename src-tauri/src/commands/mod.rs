//! Tauri commands, one file per screen. Each parses its arguments, calls one embargo-core use
//! case and turns the answer into a view; the rules are the core's (`embargo_core::usecase`).

pub mod programs;
pub mod report;
pub mod review;
pub mod sent;
pub mod settings;
pub mod team;
pub mod vault;

use embargo_core::net::NetConfig;
use embargo_core::usecase;

use crate::error::{CommandError, ErrorCode};
use crate::state::AppState;

pub(crate) type Result<T> = std::result::Result<T, CommandError>;

pub(crate) const KEY_FILTERS: &[crate::picker::Filter] =
    &[("OpenPGP key", &["asc", "pgp", "gpg", "key"])];

/// Runs blocking work off the async runtime's threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| CommandError::new(ErrorCode::Internal, e))?
}

/// How every request the app makes connects: the environment's test settings and the proxy
/// set in Settings (the core's rule, shared with the CLI).
pub(crate) fn net_config(state: &AppState) -> Result<NetConfig> {
    Ok(usecase::settings::net_config(&state.store, None)?)
}
