//! The vault in the app: the identity (create, import or restore, export its public key, back up
//! its secret key), unlock and lock
//! with auto-lock, autosave of the draft on screen, the drafts list, and report files opened or
//! saved explicitly. The rules are the core's (`embargo_core::vault`); these commands hold the
//! session's lock state and translate.
//!
//! Decisions:
//! - Autosave needs only the identity's public key, so it never asks for the passphrase: the
//!   draft is saved encrypted whether the vault is locked or not. Reading a draft back needs the
//!   vault unlocked.
//! - Unlocking keeps the passphrase in sequoia's `Password` (encrypted in memory, wiped on drop)
//!   for the session, so opening drafts, signing and reading replies ask once. It is dropped by
//!   `lock_vault`, by auto-lock after the configured idle minutes (activity = editing, sealing,
//!   vault commands; the UI's periodic status poll is not activity), and when the app exits.
//! - Without an identity nothing is saved: the app says so and offers to create one.

use std::time::{Duration, Instant};

use embargo_core::keys;
use embargo_core::openpgp::crypto::Password;
use embargo_core::report::Report;
use embargo_core::usecase::{self, NewIdentity};
use embargo_core::vault::{DraftFile, VaultError};
use tauri::{AppHandle, Emitter, Manager, Runtime, State};
use zeroize::Zeroizing;

use super::report::{attachment_views, prepare};
use super::{Result, KEY_FILTERS};
use crate::dto::{OpenedDraft, VaultView};
use crate::error::{CommandError, ErrorCode};
use crate::state::{AppState, Held, Inner};

const REPORT_FILTERS: &[crate::picker::Filter] = &[("Report", &["md", "markdown", "txt"])];

/// The vault's state for the UI (locks first when idle too long, without counting as activity).
pub fn view(state: &AppState) -> Result<VaultView> {
    let identity = state.vault.identity()?;
    let (drafts, broken) = state.vault.drafts()?;
    let titles = titles(state, &drafts);
    let mut inner = state.lock();
    inner.expire();
    Ok(VaultView {
        identity: identity.as_ref().map(keys::describe),
        unlocked: inner.unlocked.is_some(),
        drafts,
        titles,
        broken: broken.iter().map(ToString::to_string).collect(),
        current: inner.draft_id.clone(),
        saved_at: inner.saved_at.clone(),
        dirty: inner.dirty,
        recovered: inner.recovered,
        auto_lock_minutes: (inner.auto_lock.as_secs() / 60) as u32,
        dir: state.vault.dir().display().to_string(),
    })
}

/// The drafts' titles while the vault is unlocked (none when locked): each newest version is
/// decrypted once (the core's `draft_title`) and kept in the session until the vault locks. A
/// draft that does not open is listed without a title (`drafts()` reports broken ones).
fn titles(
    state: &AppState,
    drafts: &[embargo_core::vault::DraftInfo],
) -> std::collections::BTreeMap<String, String> {
    let (pw, mut known) = {
        let mut inner = state.lock();
        inner.expire();
        match inner.unlocked.clone() {
            Some(pw) => (pw, inner.titles.clone()),
            None => return Default::default(),
        }
    };
    let mut out = std::collections::BTreeMap::new();
    for d in drafts {
        let newest = d.versions.last().copied().unwrap_or(0);
        let title = match known.get(&d.id) {
            Some((seq, title)) if *seq == newest => title.clone(),
            _ => {
                let mut ask = |_: &str| Some(pw.clone());
                let Ok(title) = state.vault.draft_title(&d.id, &mut ask) else {
                    continue;
                };
                known.insert(d.id.clone(), (newest, title.clone()));
                title
            }
        };
        out.insert(d.id.clone(), title);
    }
    let mut inner = state.lock();
    // Still unlocked with the same session (not locked meanwhile): keep what was read.
    if inner.unlocked.is_some() {
        known.retain(|id, _| out.contains_key(id));
        inner.titles = known;
    }
    out
}

/// Marks the session as started; remembers whether the last one crashed.
pub fn begin_session(state: &AppState) {
    if let Ok(unclean) = state.vault.begin_session() {
        let has_drafts = state
            .vault
            .drafts()
            .map(|(d, _)| !d.is_empty())
            .unwrap_or(false);
        state.lock().recovered = unclean && has_drafts;
    }
}

/// Closing now would lose the draft on screen: it changed and there is no identity to save it
/// to (with an identity, `end_session` saves it). After the researcher chose to close anyway
/// (`close_discarding`) it does not ask again.
pub fn close_would_lose_work(state: &AppState) -> bool {
    let no_identity = matches!(state.vault.identity(), Ok(None));
    let inner = state.lock();
    no_identity && inner.dirty && !inner.close_anyway
}

/// Closes the window although the draft on screen is not saved (the page asked, the researcher
/// chose to lose it).
#[tauri::command]
pub fn close_discarding<R: Runtime>(
    window: tauri::Window<R>,
    state: State<'_, AppState>,
) -> Result<()> {
    state.lock().close_anyway = true;
    window
        .close()
        .map_err(|e| CommandError::new(ErrorCode::Internal, format!("closing the window: {e}")))
}

/// Saves what is on screen and marks the session as ended cleanly (the window closes).
pub fn end_session(state: &AppState) {
    let _ = save_now(state);
    state.lock().lock_vault();
    state.set_team(None);
    let _ = state.vault.end_session();
}

/// Saves the draft on screen when it changed (no passphrase needed); a no-op without identity.
pub fn save_now(state: &AppState) -> Result<()> {
    if state.vault.identity()?.is_none() {
        return Ok(());
    }
    let (id, text, files) = {
        let inner = state.lock();
        if !inner.dirty {
            return Ok(());
        }
        (
            inner.draft_id.clone(),
            Zeroizing::new(inner.draft.to_markdown()),
            files_of(&inner),
        )
    };
    let (id, _) = state.vault.save_draft(id.as_deref(), text.as_bytes())?;
    state.vault.save_draft_files(&id, &files)?;
    let mut inner = state.lock();
    // Edits that arrived while saving keep the draft dirty for the next save.
    let unchanged =
        inner.draft.to_markdown().as_str() == text.as_str() && files_of(&inner) == files;
    inner.dirty = !unchanged;
    inner.draft_id = Some(id);
    inner.saved_at = Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    Ok(())
}

fn files_of(inner: &Inner) -> Vec<DraftFile> {
    inner
        .attachments
        .iter()
        .map(|h| DraftFile {
            path: h.path.clone(),
            keep_metadata: h.keep_metadata,
        })
        .collect()
}

fn passphrase_of(inner: &mut Inner) -> Result<Password> {
    inner.expire();
    inner.unlocked.clone().ok_or_else(|| {
        CommandError::new(ErrorCode::PassphraseRequired, "the vault is locked")
            .hint("Unlock it with your passphrase to open drafts.")
    })
}

/// The vault's state.
#[tauri::command]
pub fn vault_status(state: State<'_, AppState>) -> Result<VaultView> {
    view(&state)
}

/// Saves the draft on screen now (the UI calls this two seconds after typing stops, and on
/// blur; the backend also saves when the window closes).
#[tauri::command]
pub async fn autosave<R: Runtime>(app: AppHandle<R>) -> Result<VaultView> {
    let handle = app.clone();
    super::blocking(move || save_now(&handle.state::<AppState>())).await?;
    view(&app.state::<AppState>())
}

fn passphrase(text: &str) -> Result<Password> {
    if text.is_empty() {
        return Err(CommandError::new(
            ErrorCode::PassphraseRequired,
            "the passphrase is empty",
        ));
    }
    Ok(Password::from(text))
}

/// Creates the identity (Ed25519 + X25519, v4) protected by the passphrase, unlocks the vault and
/// saves the draft on screen into it.
#[tauri::command]
pub async fn create_identity<R: Runtime>(
    app: AppHandle<R>,
    name: String,
    email: String,
    passphrase: String,
) -> Result<VaultView> {
    let passphrase = Zeroizing::new(passphrase);
    let (name, email) = (name.trim().to_owned(), email.trim().to_owned());
    let userid = match (name.is_empty(), email.is_empty()) {
        (true, true) => {
            return Err(CommandError::new(
                ErrorCode::InvalidInput,
                "the identity needs a name or an email address",
            )
            .hint("The team sees it when you sign a report that asks for credit."))
        }
        (false, true) => name,
        (true, false) => format!("<{email}>"),
        (false, false) => format!("{name} <{email}>"),
    };
    let pw = self::passphrase(&passphrase)?;
    adopt(&app, Adopt::Generate(userid), pw).await?;
    view(&app.state::<AppState>())
}

/// Makes or imports the identity (the core migrates earlier records to it), unlocks the vault
/// with its passphrase and saves the draft on screen into it.
async fn adopt<R: Runtime>(app: &AppHandle<R>, from: Adopt, pw: Password) -> Result<()> {
    let handle = app.clone();
    super::blocking(move || {
        let state = handle.state::<AppState>();
        let from = match &from {
            Adopt::Generate(userid) => NewIdentity::Generate { userid },
            Adopt::Import(tsk) => NewIdentity::Import(tsk),
        };
        usecase::adopt_identity(&state.store, from, pw.clone())?;
        {
            let mut inner = state.lock();
            inner.unlocked = Some(pw);
            inner.touch();
            inner.dirty = true;
        }
        save_now(&state)
    })
    .await
}

/// An owned identity source (the core's [`NewIdentity`] borrows), to cross into the blocking task.
enum Adopt {
    Generate(String),
    Import(Box<embargo_core::openpgp::Cert>),
}

/// Imports an existing secret key (chosen in a dialog, read by the backend) as the identity.
/// `None` when cancelled.
#[tauri::command]
pub async fn import_identity<R: Runtime>(
    app: AppHandle<R>,
    passphrase: String,
) -> Result<Option<VaultView>> {
    let passphrase = Zeroizing::new(passphrase);
    let state = app.state::<AppState>();
    let Some(path) = super::review::pick_secret_key(&state)? else {
        return Ok(None);
    };
    let pw = self::passphrase(&passphrase)?;
    let tsk = keys::read_secret_key(&path)?;
    adopt(&app, Adopt::Import(Box::new(tsk)), pw).await?;
    Ok(Some(view(&state)?))
}

/// Writes the identity's public key (armored) where the researcher chooses; the path, or `None`
/// when cancelled.
#[tauri::command]
pub fn export_identity(state: State<'_, AppState>) -> Result<Option<String>> {
    use embargo_core::openpgp::serialize::SerializeInto;
    let identity = state.vault.identity()?.ok_or(VaultError::NoIdentity)?;
    let name = format!("embargo-{}.asc", &identity.fingerprint().to_hex()[..16]);
    let Some(path) = state
        .picker()?
        .save("Export your public key", &name, KEY_FILTERS)
    else {
        return Ok(None);
    };
    let public = identity
        .armored()
        .to_vec()
        .map_err(|e| CommandError::new(ErrorCode::Internal, format!("serializing the key: {e}")))?;
    std::fs::write(&path, public)
        .map_err(|e| CommandError::new(ErrorCode::Io, format!("{}: {e}", path.display())))?;
    Ok(Some(path.display().to_string()))
}

/// Backs up the identity's secret key where the researcher chooses (a save dialog): locked with
/// the passphrase, which must unlock it (the core's `back_up_identity`, the same as `embargo
/// identity backup`). Asked even when the vault is unlocked: a backup is worth the passphrase
/// the researcher remembers. The path, or `None` when cancelled.
#[tauri::command]
pub async fn backup_identity<R: Runtime>(
    app: AppHandle<R>,
    passphrase: String,
) -> Result<Option<String>> {
    let passphrase = Zeroizing::new(passphrase);
    let pw = self::passphrase(&passphrase)?;
    let handle = app.clone();
    // The passphrase is checked before the dialog asks where.
    let backup = super::blocking(move || {
        let state = handle.state::<AppState>();
        Ok(usecase::back_up_identity(&state.store, &pw)?)
    })
    .await?;
    let name = format!(
        "embargo-identity-{}-secret.asc",
        &backup.cert().fingerprint().to_hex()[..16]
    );
    let state = app.state::<AppState>();
    let Some(path) = state
        .picker()?
        .save("Back up your identity (secret key)", &name, KEY_FILTERS)
    else {
        return Ok(None);
    };
    // The dialog asked before replacing a file.
    backup.write_to(&path, true)?;
    Ok(Some(path.display().to_string()))
}

/// Unlocks the vault with the identity's passphrase (checked by unlocking its secret key).
#[tauri::command]
pub async fn unlock_vault<R: Runtime>(app: AppHandle<R>, passphrase: String) -> Result<VaultView> {
    let passphrase = Zeroizing::new(passphrase);
    let pw = self::passphrase(&passphrase)?;
    let handle = app.clone();
    super::blocking(move || {
        let state = handle.state::<AppState>();
        let identity = state.vault.identity()?.ok_or(VaultError::NoIdentity)?;
        let mut ask = |_: &str| Some(pw.clone());
        keys::Signer::from_tsk(&identity, &mut ask)?;
        let mut inner = state.lock();
        inner.unlocked = Some(pw);
        inner.last_active = Instant::now();
        Ok(())
    })
    .await?;
    view(&app.state::<AppState>())
}

/// Locks the vault now (the draft on screen is saved first).
#[tauri::command]
pub fn lock_vault(state: State<'_, AppState>) -> Result<VaultView> {
    save_now(&state)?;
    state.lock().lock_vault();
    state.set_team(None);
    view(&state)
}

/// Sets the auto-lock time (the core checks the range).
#[tauri::command]
pub fn set_auto_lock(state: State<'_, AppState>, minutes: u32) -> Result<VaultView> {
    let settings = embargo_core::usecase::settings::set_auto_lock(&state.store, minutes)?;
    {
        let mut inner = state.lock();
        inner.auto_lock = Duration::from_secs(u64::from(settings.auto_lock_minutes()) * 60);
        inner.touch();
    }
    view(&state)
}

/// Replaces the draft on screen (after saving it) with `report` and the attachments `files`.
fn replace_draft<R: Runtime>(
    app: &AppHandle<R>,
    report: Report,
    id: Option<String>,
    files: Vec<DraftFile>,
    problems: Vec<String>,
) -> Result<OpenedDraft> {
    let state = app.state::<AppState>();
    let mut held = Vec::new();
    let mut missing = Vec::new();
    for f in files {
        match prepare(&f.path, f.keep_metadata) {
            Ok(p) => held.push((f, p)),
            Err(e) => missing.push(format!("{}: {}", f.path.display(), e.message)),
        }
    }
    {
        let mut inner = state.lock();
        inner.draft = report.clone();
        inner.attachments.clear();
        for (f, p) in held {
            let id = inner.next_id;
            inner.next_id += 1;
            inner.attachments.push(Held {
                id,
                attachment: p.attachment,
                path: f.path,
                keep_metadata: f.keep_metadata,
                note: p.note,
            });
        }
        // A report file becomes a new draft (saved on the next autosave); a vault draft is
        // already saved, unless files went missing.
        inner.dirty = id.is_none() || !missing.is_empty();
        inner.draft_id = id;
        inner.saved_at = None;
        inner.recovered = false;
        inner.touch();
    }
    let list = attachment_views(&state);
    let _ = app.emit("attachments-changed", &list);
    Ok(OpenedDraft {
        status: super::report::draft_status(&state, report)?,
        missing,
        problems,
    })
}

/// Opens a draft from the vault (the one on screen is saved first). Needs the vault unlocked.
#[tauri::command]
pub async fn open_draft<R: Runtime>(app: AppHandle<R>, id: String) -> Result<OpenedDraft> {
    let handle = app.clone();
    super::blocking(move || {
        let state = handle.state::<AppState>();
        let pw = passphrase_of(&mut state.lock())?;
        save_now(&state)?;
        let mut ask = |_: &str| Some(pw.clone());
        let text = state.vault.load_draft_text(&id, None, &mut ask)?;
        let files = state.vault.draft_files(&id, &mut ask)?;
        let (report, _) = Report::parse(&text)
            .map_err(|e| CommandError::new(ErrorCode::InvalidInput, format!("draft {id}: {e}")))?;
        replace_draft(&handle, report, Some(id), files, Vec::new())
    })
    .await
}

/// Starts a new, empty draft for the same program (the one on screen is saved first).
#[tauri::command]
pub async fn new_draft<R: Runtime>(app: AppHandle<R>) -> Result<OpenedDraft> {
    let handle = app.clone();
    super::blocking(move || {
        let state = handle.state::<AppState>();
        save_now(&state)?;
        let program = state.lock().draft.program.clone();
        let program = if program.is_empty() {
            embargo_core::program::DEFAULT_PROGRAM.to_owned()
        } else {
            program
        };
        let opened = replace_draft(
            &handle,
            Report::draft(&program),
            None,
            Vec::new(),
            Vec::new(),
        )?;
        state.lock().dirty = false;
        Ok(opened)
    })
    .await
}

/// Copies a draft (ciphertext as it is; no passphrase needed).
#[tauri::command]
pub fn duplicate_draft(state: State<'_, AppState>, id: String) -> Result<VaultView> {
    save_now(&state)?;
    state.vault.duplicate_draft(&id)?;
    state.lock().touch();
    view(&state)
}

/// Deletes a draft and its versions. Deleting the draft on screen clears the screen too.
#[tauri::command]
pub fn delete_draft<R: Runtime>(app: AppHandle<R>, id: String) -> Result<VaultView> {
    let state = app.state::<AppState>();
    state.vault.remove_draft(&id)?;
    let current = state.lock().draft_id.as_deref() == Some(id.as_str());
    if current {
        let program = state.lock().draft.program.clone();
        replace_draft(&app, Report::draft(&program), None, Vec::new(), Vec::new())?;
        state.lock().dirty = false;
    }
    state.lock().touch();
    view(&state)
}

/// Opens a report file (`report.md`, the CLI's format) chosen in a dialog as a new draft.
/// `None` when cancelled. Fields the file gets wrong are listed, the rest is kept.
#[tauri::command]
pub async fn open_report_file<R: Runtime>(app: AppHandle<R>) -> Result<Option<OpenedDraft>> {
    let state = app.state::<AppState>();
    let Some(path) = state
        .picker()?
        .open("Open a report file", REPORT_FILTERS, false)
        .pop()
    else {
        return Ok(None);
    };
    let handle = app.clone();
    super::blocking(move || {
        let state = handle.state::<AppState>();
        let text = embargo_core::report::read_report_file(&path).map_err(|e| {
            let code = match e {
                embargo_core::report::ReadReportError::Read { .. } => ErrorCode::Io,
                _ => ErrorCode::InvalidInput,
            };
            CommandError::new(code, e)
        })?;
        let (report, findings) = Report::parse(&text).map_err(|e| {
            CommandError::new(ErrorCode::InvalidInput, format!("{}: {e}", path.display()))
                .hint("A report file starts with +++, TOML front matter, +++, then the Markdown body (as `embargo new` writes it).")
        })?;
        save_now(&state)?;
        let problems = findings
            .iter()
            .filter(|f| {
                use embargo_core::report::FindingCode::*;
                matches!(f.code, WrongType | UnknownKey | UnsupportedSchema)
            })
            .map(ToString::to_string)
            .collect();
        replace_draft(&handle, report, None, Vec::new(), problems).map(Some)
    })
    .await
}

/// Saves the draft as a report file where the researcher chooses — their own plain-text copy,
/// by their choice (the vault keeps the encrypted one). The path, or `None` when cancelled.
#[tauri::command]
pub fn save_report_file(state: State<'_, AppState>) -> Result<Option<String>> {
    let text = Zeroizing::new(state.lock().draft.to_markdown());
    let Some(path) = state.picker()?.save(
        "Save the report as a file (not encrypted)",
        "report.md",
        REPORT_FILTERS,
    ) else {
        return Ok(None);
    };
    std::fs::write(&path, text.as_bytes())
        .map_err(|e| CommandError::new(ErrorCode::Io, format!("{}: {e}", path.display())))?;
    state.lock().touch();
    Ok(Some(path.display().to_string()))
}
