//! What the app holds between commands: the draft, attachments by path, the signing key, the
//! team keys offered but not yet confirmed. Report text lives here, in memory, not in the webview.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

use embargo_core::openpgp::Cert;
use embargo_core::seal::AttachmentMeta;
use embargo_core::store::Store;

use crate::dto::ReportDraft;

/// An attachment chosen by the user.
#[derive(Debug, Clone)]
pub struct Held {
    /// Id for removal.
    pub id: u32,
    /// Where it is read from when sealing.
    pub path: PathBuf,
    /// Name, size, hash, type.
    pub meta: AttachmentMeta,
}

/// Mutable state.
pub struct Inner {
    /// The report being written.
    pub draft: ReportDraft,
    /// Attachments.
    pub attachments: Vec<Held>,
    /// Next attachment id.
    pub next_id: u32,
    /// The researcher's secret key (possibly passphrase-protected); never sent to the webview.
    pub signing_key: Option<Cert>,
    /// Team keys inspected but not yet confirmed, with where they came from.
    pub candidates: Vec<(Cert, String)>,
}

/// The app's state, managed by Tauri.
pub struct AppState {
    /// The data directory.
    pub store: Store,
    inner: Mutex<Inner>,
    /// Set by `cancel_seal`, read by a running seal.
    pub cancel: Arc<AtomicBool>,
}

impl AppState {
    /// State over a data directory, with a new draft for Novu.
    pub fn new(store: Store) -> AppState {
        AppState {
            store,
            inner: Mutex::new(Inner {
                draft: ReportDraft::new("novu"),
                attachments: Vec::new(),
                next_id: 1,
                signing_key: None,
                candidates: Vec::new(),
            }),
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Locks the state (a panic in another command does not poison it for good).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}
