//! Notifications while the app runs (Tauri's notification plugin: the desktop's notification
//! service over D-Bus on Linux). At the interval the user sets in Settings (0: off) the app
//! checks, through `usecase::notify`, for reports new in the team's inbox (while a member is
//! unlocked) and for new statuses and replies of the researcher's submitted reports (while the
//! vault is unlocked, or always when there is no identity yet). Every notification carries the
//! app's name as its title and a text that names nothing of a report ("A new report arrived",
//! "A reply to EMB-XXXX-XXXX").

use std::time::{Duration, Instant};

use embargo_core::usecase::notify::{self, Notice};
use embargo_core::usecase::team;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_notification::NotificationExt;

use crate::state::AppState;

/// How often the thread looks whether a check is due (the interval itself is the user's).
const TICK: Duration = Duration::from_secs(1);

/// Hands a notice to the plugin: the app's name as the title, the notice's text as the body.
fn show<R: Runtime>(app: &AppHandle<R>, notice: &Notice) {
    let shown = app
        .notification()
        .builder()
        .title(notify::TITLE)
        .body(notice.text())
        .show();
    if let Err(e) = shown {
        eprintln!("notification not shown: {e}");
    }
}

/// One check: the team's inbox, then the researcher's reports.
fn check<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    if let Some(member) = state.team() {
        let inbox = embargo_core::net::block_on(team::inbox(
            &state.store,
            &member,
            None,
            chrono::Utc::now(),
        ));
        if let Ok(Ok((entries, _))) = inbox {
            let news = state
                .team_watch
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .news(&entries);
            if let Some(n) = news {
                show(app, &n);
            }
        }
    }
    let Ok(records) = state.records() else {
        return; // locked: told once it is unlocked
    };
    let Ok(net) = crate::commands::net_config(&state) else {
        return;
    };
    if let Ok(Ok(notices)) = embargo_core::net::block_on(notify::researcher_news(&records, &net)) {
        for n in &notices {
            show(app, n);
        }
    }
}

/// Starts the checks for as long as the app runs.
pub fn start<R: Runtime>(app: AppHandle<R>) {
    std::thread::Builder::new()
        .name("notify".into())
        .spawn(move || {
            let mut last: Option<Instant> = None;
            loop {
                std::thread::sleep(TICK);
                let every = app
                    .state::<AppState>()
                    .store
                    .settings()
                    .ok()
                    .and_then(|s| s.notify_every());
                let Some(every) = every else { continue };
                if last.is_some_and(|l| l.elapsed() < every) {
                    continue;
                }
                last = Some(Instant::now());
                check(&app);
            }
        })
        .expect("the notify thread starts");
}
