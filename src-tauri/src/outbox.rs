//! The outbox retrying by itself while the app runs: every few seconds the reports whose wait
//! is over (the core's schedule, `usecase::next_attempt`) are sent once each; the sidebar and
//! the Sent screen hear of every change (`outbox-changed`). Encrypted records need the vault
//! unlocked: while it is locked the outbox is only counted.

use std::time::Duration;

use embargo_core::deliver::records::Records;
use embargo_core::usecase::{self, Retry, SubmitOptions};
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::commands::{net_config, Result};
use crate::dto::OutboxView;
use crate::state::AppState;

/// How often the outbox looks whether a report is due.
const TICK: Duration = Duration::from_secs(2);

/// The outbox as the sidebar shows it.
pub fn view(state: &AppState) -> OutboxView {
    let records = Records::of(&state.store);
    let count = records.count_pending() as u32;
    let locked = {
        let mut inner = state.lock();
        inner.expire();
        inner.unlocked.is_none()
    } && records.has_encrypted();
    if count == 0 || locked {
        return OutboxView {
            waiting: count,
            refused: 0,
            next_attempt_at: None,
            locked: locked && count > 0,
        };
    }
    match state.records().and_then(|r| Ok(r.pending()?)) {
        Ok((pending, _)) => {
            let s = usecase::outbox_state(&pending);
            OutboxView {
                waiting: s.waiting,
                refused: s.refused,
                next_attempt_at: s.next_attempt_at,
                locked: false,
            }
        }
        Err(_) => OutboxView {
            waiting: count,
            refused: 0,
            next_attempt_at: None,
            locked: true,
        },
    }
}

/// Tells the webview how the outbox stands now.
pub fn changed<R: Runtime>(app: &AppHandle<R>) {
    let v = view(&app.state::<AppState>());
    let _ = app.emit("outbox-changed", v);
}

/// One round: `Retry::Due` sends what is due (skipped while a submission sends), `Retry::All`
/// sends everything ("Try now", waiting for a submission to finish). Each report is sent once;
/// the next round comes by the schedule.
pub fn round<R: Runtime>(app: &AppHandle<R>, which: Retry) -> Result<()> {
    let state = app.state::<AppState>();
    let _turn = match which {
        Retry::All => state.outbox_guard(),
        Retry::Due(_) => match state.try_outbox_guard() {
            Some(g) => g,
            None => return Ok(()),
        },
    };
    if Records::of(&state.store).count_pending() == 0 {
        return Ok(());
    }
    let records = state.records()?;
    let (pending, _) = records.pending()?;
    if let Retry::Due(now) = which {
        let due = pending
            .iter()
            .any(|p| usecase::next_attempt(p).is_some_and(|t| t <= now));
        if !due {
            return Ok(());
        }
    }
    let on_retry = |_: &embargo_core::deliver::client::IntakeError, _: Duration| {};
    let opts = SubmitOptions {
        intake: None,
        retry_for: Duration::ZERO,
        net: net_config(&state)?,
        upload: None,
        on_retry: &on_retry,
    };
    embargo_core::net::block_on(usecase::retry_outbox(&records, opts, which))??;
    drop(_turn);
    changed(app);
    Ok(())
}

/// Starts the outbox's own rounds for as long as the app runs.
pub fn start<R: Runtime>(app: AppHandle<R>) {
    std::thread::Builder::new()
        .name("outbox".into())
        .spawn(move || {
            let mut last = None;
            loop {
                std::thread::sleep(TICK);
                let _ = round(&app, Retry::Due(chrono::Utc::now()));
                let now = view(&app.state::<AppState>());
                if last.as_ref() != Some(&now) {
                    let _ = app.emit("outbox-changed", &now);
                    last = Some(now);
                }
            }
        })
        .expect("the outbox thread starts");
}
