//! The Inbox screen: the team's side of an intake, for a member whose key and token are kept in
//! the vault (`embargo_core::usecase::team`, the same use cases as `embargo team …`). Reports
//! are opened in memory; only their fields, text and attachment hashes reach the webview.

use embargo_core::keys;
use embargo_core::openpgp::crypto::Password;
use embargo_core::protocol::{ReplyCreated, ReportStatus, StatusChanged};
use embargo_core::usecase::team::{self, Connection, InboxEntry, Member};
use embargo_core::usecase::ReadReply;
use std::sync::Arc;

use embargo_core::store::Store;
use serde::Serialize;
use tauri::State;
use ts_rs::TS;

use super::{blocking, net_config, Result};
use crate::error::{CommandError, ErrorCode};
use crate::state::AppState;

/// Where the member stands.
#[derive(Debug, Clone, Serialize, TS)]
pub struct TeamView {
    /// A member key is kept in the vault.
    pub connected: bool,
    /// Its fingerprint.
    pub fingerprint: Option<String>,
    /// Its first user ID.
    pub user_id: Option<String>,
    /// Unlocked for this session.
    pub unlocked: bool,
    /// The intake (known once unlocked).
    pub intake_url: Option<String>,
}

/// One attachment of an opened report.
#[derive(Debug, Clone, Serialize, TS)]
pub struct TeamAttachment {
    /// File name.
    pub name: String,
    /// Bytes.
    #[ts(type = "number")]
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// A report opened in memory, as the Inbox shows it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct TeamReportView {
    /// The receipt.
    pub receipt: String,
    /// The title.
    pub title: Option<String>,
    /// The report as Markdown (what `embargo open` writes as report.md).
    pub text: Option<String>,
    /// The attachments with their hashes.
    pub attachments: Vec<TeamAttachment>,
    /// The researcher's signature in words.
    pub signature: String,
    /// `good`, `unknown`, `bad`, `none`.
    pub signature_kind: String,
    /// The key replies go to (the researcher's, or an anonymous report's reply key).
    pub reply_to: Option<String>,
    /// The report is anonymous and carries a reply key made for it.
    pub anonymous_reply_key: bool,
}

fn view(state: &AppState) -> TeamView {
    let member = team::member(&state.store).ok().flatten();
    let held = state.team();
    TeamView {
        connected: member.is_some(),
        fingerprint: member.as_ref().map(|c| c.fingerprint().to_hex()),
        user_id: member.as_ref().and_then(|c| {
            c.userids()
                .next()
                .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
        }),
        unlocked: held.is_some(),
        intake_url: held.as_ref().map(|m| m.connection.intake_url.clone()),
    }
}

/// Where the member stands.
#[tauri::command]
pub fn team_status(state: State<'_, AppState>) -> TeamView {
    view(&state)
}

/// Connects as a member: the key file is picked in the backend's dialog; the token and key go
/// into the vault (the token encrypted to the key, the key locked with `passphrase`).
#[tauri::command]
pub async fn team_connect(
    state: State<'_, AppState>,
    intake_url: String,
    token: String,
    program: String,
    passphrase: String,
) -> Result<TeamView> {
    let Some(path) = super::review::pick_secret_key(&state)? else {
        return Err(CommandError::new(ErrorCode::Cancelled, "no key chosen"));
    };
    let tsk = keys::read_secret_key(&path)?;
    let store = state.store.clone();
    let net = net_config(&state)?;
    let member = blocking(move || {
        let connection = Connection {
            intake_url,
            token,
            program: Some(program),
        };
        let pw = Password::from(passphrase.as_str());
        team::connect(&store, &connection, tsk, pw.clone())?;
        let mut ask = |_: &str| Some(pw.clone());
        Ok(Member::unlock(&store, &mut ask, &net)?)
    })
    .await?;
    state.set_team(Some(Arc::new(member)));
    Ok(view(&state))
}

/// Unlocks the member's key for this session.
#[tauri::command]
pub async fn team_unlock(state: State<'_, AppState>, passphrase: String) -> Result<TeamView> {
    let store = state.store.clone();
    let net = net_config(&state)?;
    let member = blocking(move || {
        let pw = Password::from(passphrase.as_str());
        let mut ask = |_: &str| Some(pw.clone());
        Ok(Member::unlock(&store, &mut ask, &net)?)
    })
    .await?;
    state.set_team(Some(Arc::new(member)));
    Ok(view(&state))
}

/// The unlocked member and the data directory, to move onto a blocking thread.
fn member(state: &AppState) -> Result<(Arc<Member>, Store)> {
    let member = state.team().ok_or_else(|| {
        CommandError::new(ErrorCode::VaultLocked, "your team key is locked")
            .hint("Unlock it with its passphrase on the Inbox screen.")
    })?;
    // Working the inbox is activity: the vault and the team key stay unlocked.
    state.lock().touch();
    Ok((member, state.store.clone()))
}

/// The inbox, `status` only when given.
#[tauri::command]
pub async fn team_inbox(
    state: State<'_, AppState>,
    status: Option<ReportStatus>,
) -> Result<Vec<InboxEntry>> {
    let (m, store) = member(&state)?;
    let entries = blocking(move || {
        let (entries, _) =
            embargo_core::net::block_on(team::inbox(&store, &m, status, chrono::Utc::now()))??;
        Ok(entries)
    })
    .await?;
    if status.is_none() {
        // Listed to the member: not news for the notifications.
        state
            .team_watch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .saw(&entries);
    }
    Ok(entries)
}

/// The thread of replies the team sent to a report, decrypted in memory for this member.
#[tauri::command]
pub async fn team_thread(state: State<'_, AppState>, receipt: String) -> Result<Vec<ReadReply>> {
    let (m, store) = member(&state)?;
    blocking(move || {
        Ok(embargo_core::net::block_on(team::thread(
            &store, &m, &receipt,
        ))??)
    })
    .await
}

/// Saves one attachment of a report where the member chooses, in the backend's save dialog (the
/// report is opened in memory again: nothing of it is kept between commands). Returns the path
/// written, or nothing when the dialog was cancelled.
#[tauri::command]
pub async fn team_save_attachment(
    state: State<'_, AppState>,
    receipt: String,
    name: String,
) -> Result<Option<String>> {
    let (m, store) = member(&state)?;
    let shown = std::path::Path::new(&name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "attachment".into());
    let Some(dest) = state.picker()?.save("Save the attachment", &shown, &[]) else {
        return Ok(None);
    };
    blocking(move || {
        let report = embargo_core::net::block_on(team::open_report(&store, &m, &receipt))??;
        team::save_attachment(&report, &name, &dest)?;
        Ok(Some(dest.display().to_string()))
    })
    .await
}

/// Opens a report in memory.
#[tauri::command]
pub async fn team_open(state: State<'_, AppState>, receipt: String) -> Result<TeamReportView> {
    let (m, store) = member(&state)?;
    blocking(move || {
        let report = embargo_core::net::block_on(team::open_report(&store, &m, &receipt))??;
        use embargo_core::open::SignatureStatus as S;
        let kind = match report.signature() {
            S::Good { .. } | S::SelfSigned { .. } => "good",
            S::Unknown { .. } => "unknown",
            S::Bad { .. } => "bad",
            S::None => "none",
        };
        Ok(TeamReportView {
            receipt: receipt.clone(),
            title: report.opened.report.as_ref().map(|r| r.title.clone()),
            text: report.readable().map(|t| t.to_string()),
            attachments: report
                .attachments()
                .into_iter()
                .map(|(name, size, sha256)| TeamAttachment { name, size, sha256 })
                .collect(),
            signature: report.signature().to_string(),
            signature_kind: kind.into(),
            reply_to: report.reply_to().map(|c| c.fingerprint().to_hex()),
            anonymous_reply_key: report.anonymous_with_reply_key(),
        })
    })
    .await
}

/// Sets a report's status.
#[tauri::command]
pub async fn team_set_status(
    state: State<'_, AppState>,
    receipt: String,
    status: ReportStatus,
) -> Result<ReportStatus> {
    let (m, _) = member(&state)?;
    blocking(move || {
        let changed: StatusChanged =
            embargo_core::net::block_on(team::set_status(&m, &receipt, status))??;
        Ok(changed.status)
    })
    .await
}

/// Replies as the member, to the key the report carried; answers when the intake took it
/// (RFC 3339).
#[tauri::command]
pub async fn team_reply(
    state: State<'_, AppState>,
    receipt: String,
    text: String,
) -> Result<String> {
    let (m, store) = member(&state)?;
    blocking(move || {
        let created: ReplyCreated =
            embargo_core::net::block_on(team::answer(&store, &m, &receipt, &text))??;
        Ok(created.created_at)
    })
    .await
}
