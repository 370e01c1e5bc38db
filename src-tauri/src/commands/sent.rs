//! The Sent screen: reports submitted (their receipts, the team's status and replies), those
//! waiting in the outbox, and those exported to send by mail.

use embargo_core::usecase::{self, notify, ReplyKey, ReportFollowUp};
use tauri::{AppHandle, Manager, Runtime, State};

use super::{blocking, Result};
use crate::dto::SentList;
use crate::state::AppState;

/// The reports submitted from this data directory, those waiting in the outbox (and when the
/// outbox tries them next), and those exported.
#[tauri::command]
pub fn list_sent(state: State<'_, AppState>) -> Result<SentList> {
    let records = state.records()?;
    let (mut receipts, broken_r) = records.receipts_all()?;
    let (pending, broken_p) = records.pending()?;
    let (mut exports, broken_e) = records.exports_all()?;
    receipts.sort_by(|a, b| b.received_at.cmp(&a.received_at));
    exports.sort_by(|a, b| b.exported_at.cmp(&a.exported_at));
    Ok(SentList {
        outbox: usecase::outbox_state(&pending),
        receipts,
        pending,
        exports,
        broken: broken_r
            .iter()
            .chain(broken_p.iter())
            .chain(broken_e.iter())
            .map(|e| e.to_string())
            .collect(),
    })
}

/// Asks the intake for a receipt's status and replies; each reply is decrypted in memory with
/// the identity (the vault must be unlocked) and verified against the program's pinned team
/// keys. Nothing of it is stored but what was seen (the status, the last reply's id), so that
/// it is not notified again.
#[tauri::command]
pub async fn follow_up_report(
    state: State<'_, AppState>,
    receipt: String,
) -> Result<ReportFollowUp> {
    let record = state.records()?.receipt(&receipt)?;
    let identity = state.vault.identity()?;
    let unlocked = {
        let mut inner = state.lock();
        inner.expire();
        inner.unlocked.clone()
    };
    let store = state.store.clone();
    let net = super::net_config(&state)?;
    let records = state.records()?;
    blocking(move || {
        let mut ask = |_: &str| unlocked.clone();
        let key = identity.as_ref().map(|key| ReplyKey {
            key,
            passphrase: &mut ask,
        });
        let follow_up = embargo_core::net::block_on(usecase::follow_up(
            &store,
            &record,
            key,
            &net,
            chrono::Utc::now(),
        ))??;
        // Shown now: not notified again.
        notify::shown(&records, &record, &follow_up)?;
        Ok(follow_up)
    })
    .await
}

/// "Try now": sends every report waiting in the outbox, refused ones included.
#[tauri::command]
pub async fn retry_outbox_now<R: Runtime>(app: AppHandle<R>) -> Result<SentList> {
    let handle = app.clone();
    blocking(move || crate::outbox::round(&handle, usecase::Retry::All)).await?;
    list_sent(app.state::<AppState>())
}
