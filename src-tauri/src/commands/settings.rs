//! The Settings screen's preferences (the identity is `vault`): theme, the proxy every request
//! goes through, how long a submission retries, how often the app checks for news to notify;
//! and what the app is made of.

use embargo_core::store::{Role, Settings, Theme};
use embargo_core::usecase::settings;
use tauri::State;

use super::Result;
use crate::dto::AppSettings;
use crate::state::AppState;

fn app_settings(state: &AppState, settings: Settings) -> AppSettings {
    AppSettings {
        retry_seconds: settings.retry_for().as_secs() as u32,
        notify_seconds: settings.notify_every().map_or(0, |d| d.as_secs() as u32),
        settings,
        data_dir: state.store.root().display().to_string(),
        version: env!("CARGO_PKG_VERSION").into(),
        tauri_version: tauri::VERSION.into(),
        sequoia_version: embargo_core::openpgp::VERSION.into(),
        licenses: vec![
            "Embargo — GPL-3.0-or-later".into(),
            "sequoia-openpgp — LGPL-2.0-or-later".into(),
            "Nettle — LGPL-3.0-or-later or GPL-2.0-or-later".into(),
            "Tauri — Apache-2.0 or MIT".into(),
            "WebKitGTK — LGPL-2.1-or-later".into(),
            "Svelte — MIT".into(),
            "pulldown-cmark — MIT; ammonia — Apache-2.0 or MIT".into(),
        ],
    }
}

/// Settings and about.
#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> Result<AppSettings> {
    let s = state.store.settings()?;
    Ok(app_settings(&state, s))
}

/// Sets the theme.
#[tauri::command]
pub fn set_theme(state: State<'_, AppState>, theme: Theme) -> Result<AppSettings> {
    let s = settings::set_theme(&state.store, theme)?;
    Ok(app_settings(&state, s))
}

/// Sets the proxy every request goes through (discovery, submit, status, the outbox), checked
/// by the core; empty clears it.
#[tauri::command]
pub fn set_proxy(state: State<'_, AppState>, proxy: String) -> Result<AppSettings> {
    let s = settings::set_proxy(&state.store, Some(&proxy))?;
    Ok(app_settings(&state, s))
}

/// Sets what the app is used for: researcher, team or both (which screens it shows).
#[tauri::command]
pub fn set_role(state: State<'_, AppState>, role: Role) -> Result<AppSettings> {
    let s = settings::set_role(&state.store, role)?;
    Ok(app_settings(&state, s))
}

/// Sets how often the app checks for new reports, statuses and replies and notifies (0: off;
/// the core checks the range).
#[tauri::command]
pub fn set_notify_seconds(state: State<'_, AppState>, seconds: u32) -> Result<AppSettings> {
    let s = settings::set_notify_every(&state.store, seconds)?;
    Ok(app_settings(&state, s))
}

/// Sets how long a submission retries an unreachable intake before it waits in the outbox.
#[tauri::command]
pub fn set_retry_seconds(state: State<'_, AppState>, seconds: u32) -> Result<AppSettings> {
    let s = settings::set_retry_for(&state.store, seconds)?;
    Ok(app_settings(&state, s))
}
