//! What the app holds between commands: the draft, attachments, a signing key file, the last
//! export, the files the user picked, the vault's lock, the running operations, and the outbox's
//! turn. Keys offered for a program are the core's (stored as the program's candidates). Report text lives here, in memory (and in the vault, encrypted), never in a
//! file or the webview's storage.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use embargo_core::bundle::Attachment;
use embargo_core::deliver::records::Records;
use embargo_core::openpgp::crypto::Password;
use embargo_core::openpgp::Cert;
use embargo_core::report::Report;
use embargo_core::store::Store;
use embargo_core::usecase::AttachmentNote;
use embargo_core::vault::Vault;

use crate::error::{CommandError, ErrorCode};
use crate::opener::Opener;
use crate::picker::{Picker, Registry};

/// An attachment chosen by the user.
#[derive(Debug, Clone)]
pub struct Held {
    /// Id for removal.
    pub id: u32,
    /// What will be sealed (scrubbed unless `keep_metadata`).
    pub attachment: Attachment,
    /// The file it came from.
    pub path: PathBuf,
    /// The researcher chose to keep its metadata.
    pub keep_metadata: bool,
    /// What was done to it.
    pub note: AttachmentNote,
}

/// An export of this session: the file written and how to send it.
#[derive(Debug, Clone)]
pub struct LastExport {
    /// The file.
    pub path: PathBuf,
    /// The core's "Send it".
    pub send_it: embargo_core::usecase::SendIt,
}

/// Mutable state.
pub struct Inner {
    /// The report being written.
    pub draft: Report,
    /// Attachments.
    pub attachments: Vec<Held>,
    /// Next attachment id.
    pub next_id: u32,
    /// The researcher's secret key (possibly passphrase-protected); never sent to the webview.
    pub signing_key: Option<Cert>,
    /// The last export of this session: what "Send it" opens.
    pub last_export: Option<LastExport>,
    /// The vault draft the draft on screen is saved as (none until its first save).
    pub draft_id: Option<String>,
    /// Changed since the last save.
    pub dirty: bool,
    /// When the draft was last saved (RFC 3339).
    pub saved_at: Option<String>,
    /// The identity's passphrase while the vault is unlocked (sequoia keeps it encrypted in
    /// memory and wipes it when dropped).
    pub unlocked: Option<Password>,
    /// The last thing the researcher did (auto-lock counts from here).
    pub last_active: Instant,
    /// Lock after this long without activity.
    pub auto_lock: Duration,
    /// The previous session ended without closing (crash, kill): its draft was recovered.
    pub recovered: bool,
    /// Drafts' titles read while unlocked, by id: the newest version's number and its title
    /// (decrypted once per version, not at every status poll); emptied when the vault locks.
    pub titles: std::collections::HashMap<String, (u64, String)>,
    /// The researcher chose to close and lose the unsaved draft (`close_discarding`).
    pub close_anyway: bool,
}

impl Inner {
    /// Locks the vault when it has been idle too long; `true` when it locked now.
    pub fn expire(&mut self) -> bool {
        if self.unlocked.is_some() && self.idle() {
            self.lock_vault();
            return true;
        }
        false
    }

    /// Locks the vault: the passphrase and what was read with it (titles) are dropped.
    pub fn lock_vault(&mut self) {
        self.unlocked = None;
        self.titles.clear();
    }

    /// Nothing done for the auto-lock time.
    pub fn idle(&self) -> bool {
        self.last_active.elapsed() >= self.auto_lock
    }

    /// Something the researcher did: the vault stays unlocked (unless it already expired).
    pub fn touch(&mut self) {
        self.expire();
        self.last_active = Instant::now();
    }
}

/// The app's state, managed by Tauri.
pub struct AppState {
    /// The data directory.
    pub store: Store,
    /// The vault in the data directory.
    pub vault: Vault,
    inner: Mutex<Inner>,
    /// Files the user picked in this session.
    pub files: Registry,
    /// The dialogs (set once the app exists).
    picker: OnceLock<Box<dyn Picker>>,
    /// What hands URLs and files to the system (set once the app exists).
    opener: OnceLock<Box<dyn Opener>>,
    /// Held while reports are being sent (a submission, an outbox round), so that the outbox
    /// never sends a report a submission is sending.
    sending: Mutex<()>,
    /// Cancel flags of running seals, by the operation id the UI chose.
    ops: Mutex<HashMap<u32, Arc<AtomicBool>>>,
    /// The team member unlocked for this session (the Inbox), if any.
    team: Mutex<Option<Arc<embargo_core::usecase::team::Member>>>,
    /// The reports the member has been listed or told of (the notifications' memory), started
    /// again with each member unlocked.
    pub team_watch: Mutex<embargo_core::usecase::notify::TeamWatch>,
}

impl AppState {
    /// State over a data directory, with a new draft for Novu.
    pub fn new(store: Store) -> AppState {
        let minutes = store.settings().unwrap_or_default().auto_lock_minutes();
        AppState {
            vault: Vault::of(&store),
            store,
            inner: Mutex::new(Inner {
                draft: Report::draft(embargo_core::program::DEFAULT_PROGRAM),
                attachments: Vec::new(),
                next_id: 1,
                signing_key: None,
                last_export: None,
                draft_id: None,
                dirty: false,
                saved_at: None,
                unlocked: None,
                last_active: Instant::now(),
                auto_lock: Duration::from_secs(u64::from(minutes) * 60),
                recovered: false,
                titles: Default::default(),
                close_anyway: false,
            }),
            files: Registry::default(),
            picker: OnceLock::new(),
            opener: OnceLock::new(),
            sending: Mutex::new(()),
            ops: Mutex::new(HashMap::new()),
            team: Mutex::new(None),
            team_watch: Mutex::new(Default::default()),
        }
    }

    /// The unlocked team member, if any. The member's key follows the vault's auto-lock: idle
    /// past the auto-lock time, it is forgotten (its passphrase wiped) and must be unlocked
    /// again. Asking is not activity (the notification checks ask).
    pub fn team(&self) -> Option<Arc<embargo_core::usecase::team::Member>> {
        let idle = self.lock().idle();
        let mut team = self.team.lock().unwrap_or_else(|e| e.into_inner());
        if idle {
            *team = None;
        }
        team.clone()
    }

    /// Holds (or forgets) the unlocked team member; unlocking it is activity.
    pub fn set_team(&self, member: Option<Arc<embargo_core::usecase::team::Member>>) {
        if member.is_some() {
            self.lock().touch();
        }
        *self.team_watch.lock().unwrap_or_else(|e| e.into_inner()) = Default::default();
        *self.team.lock().unwrap_or_else(|e| e.into_inner()) = member;
    }

    /// Locks the state (a panic in another command does not poison it for good).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the dialogs; the first call wins.
    pub fn set_picker(&self, picker: Box<dyn Picker>) {
        let _ = self.picker.set(picker);
    }

    /// The dialogs.
    pub fn picker(&self) -> Result<&dyn Picker, CommandError> {
        self.picker
            .get()
            .map(|p| p.as_ref())
            .ok_or_else(|| CommandError::new(ErrorCode::Internal, "no file dialogs yet"))
    }

    /// Outbox, receipts and exports, readable when the vault is unlocked (they are encrypted to
    /// the identity when there is one).
    pub fn records(&self) -> Result<Records, CommandError> {
        let records = Records::of(&self.store);
        let unlocked = {
            let mut inner = self.lock();
            inner.expire();
            inner.unlocked.clone()
        };
        match unlocked {
            Some(pw) => Ok(records.with_passphrase(pw)),
            None if records.has_encrypted() => Err(CommandError::new(
                ErrorCode::VaultLocked,
                "your receipts are encrypted to your identity and the vault is locked",
            )
            .hint("Unlock it with your passphrase to see them.")),
            None => Ok(records),
        }
    }

    /// Sets the opener; the first call wins.
    pub fn set_opener(&self, opener: Box<dyn Opener>) {
        let _ = self.opener.set(opener);
    }

    /// Hands a URL or a file the backend chose to the system.
    pub fn open(&self, target: &str) -> Result<(), CommandError> {
        let opener = self
            .opener
            .get()
            .ok_or_else(|| CommandError::new(ErrorCode::Internal, "no opener yet"))?;
        opener
            .open(target)
            .map_err(|e| CommandError::new(ErrorCode::Io, format!("cannot open {target}: {e}")))
    }

    /// Waits for the outbox's turn (a submission, "Try now").
    pub fn outbox_guard(&self) -> MutexGuard<'_, ()> {
        self.sending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The outbox's turn if nothing is being sent now (the outbox's own rounds skip otherwise).
    pub fn try_outbox_guard(&self) -> Option<MutexGuard<'_, ()>> {
        match self.sending.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Starts an operation with a fresh cancel flag; an id still running is refused.
    pub fn begin(&self, op: u32) -> Result<Operation<'_>, CommandError> {
        let mut ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        if ops.contains_key(&op) {
            return Err(CommandError::new(
                ErrorCode::InvalidInput,
                format!("operation {op} is already running"),
            ));
        }
        let flag = Arc::new(AtomicBool::new(false));
        ops.insert(op, Arc::clone(&flag));
        Ok(Operation {
            state: self,
            id: op,
            cancel: flag,
        })
    }

    /// Cancels a running operation; `false` when none has this id.
    pub fn cancel(&self, op: u32) -> bool {
        let ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        match ops.get(&op) {
            Some(flag) => {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                true
            }
            None => false,
        }
    }
}

/// A running operation; removed from the table when dropped.
pub struct Operation<'a> {
    state: &'a AppState,
    /// The id the UI chose.
    pub id: u32,
    /// Set by `cancel_seal`.
    pub cancel: Arc<AtomicBool>,
}

impl Drop for Operation<'_> {
    fn drop(&mut self) {
        let mut ops = self.state.ops.lock().unwrap_or_else(|e| e.into_inner());
        ops.remove(&self.id);
    }
}
