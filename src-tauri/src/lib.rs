//! Embargo's desktop app: a thin Tauri shell over embargo-core. `run_app` takes the builder so
//! tests run the same app on `tauri::test::mock_builder()`.

pub mod commands;
pub mod dto;
pub mod error;
pub mod notify;
pub mod opener;
pub mod outbox;
pub mod picker;
pub mod state;

use commands::{programs, report, review, sent, settings, team, vault};
use embargo_core::store::Store;
use tauri::{App, Emitter, Manager, Runtime, Url, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

pub use state::AppState;

/// The builder with Embargo's plugins, state and commands (the list `build.rs` declares).
pub fn builder<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_notification::init())
        .manage(state)
        .on_window_event(|window, event| {
            // Dropped files are registered here, in the backend; the webview gets tokens.
            if let tauri::WindowEvent::DragDrop(tauri::DragDropEvent::Drop { paths, .. }) = event {
                let state = window.state::<AppState>();
                let files = state.files.register_drop(paths.clone());
                let _ = window.emit("files-dropped", files);
            }
            // The draft is saved before the window goes; the session ends cleanly. A draft that
            // cannot be saved (no identity yet) is not lost without asking: the page asks.
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                let state = window.state::<AppState>();
                if vault::close_would_lose_work(&state) {
                    api.prevent_close();
                    let _ = window.emit("close-requested", ());
                    return;
                }
                vault::end_session(&state);
            }
        })
        .invoke_handler(tauri::generate_handler![
            programs::list_programs,
            programs::get_program,
            programs::add_program,
            programs::discover_program,
            programs::discover_program_keys,
            programs::import_program_file,
            programs::inspect_team_key,
            programs::choose_team_key_file,
            programs::confirm_team_key,
            programs::request_key,
            programs::open_key_request,
            programs::open_policy,
            report::list_classes,
            report::get_draft,
            report::update_draft,
            report::cvss_score,
            report::render_markdown,
            report::choose_attachments,
            report::add_dropped,
            report::remove_attachment,
            report::list_attachments,
            report::set_keep_metadata,
            review::choose_signing_key,
            review::clear_signing_key,
            review::preview_seal,
            review::export_report,
            review::open_export,
            review::armored_report,
            review::open_mail_client,
            review::cancel_seal,
            review::submit_report,
            sent::list_sent,
            sent::follow_up_report,
            sent::retry_outbox_now,
            settings::get_settings,
            settings::set_theme,
            settings::set_proxy,
            settings::set_retry_seconds,
            settings::set_notify_seconds,
            settings::set_role,
            vault::vault_status,
            vault::autosave,
            vault::create_identity,
            vault::import_identity,
            vault::export_identity,
            vault::backup_identity,
            vault::close_discarding,
            vault::unlock_vault,
            vault::lock_vault,
            vault::set_auto_lock,
            vault::open_draft,
            vault::new_draft,
            vault::duplicate_draft,
            vault::delete_draft,
            vault::open_report_file,
            vault::save_report_file,
            team::team_status,
            team::team_connect,
            team::team_unlock,
            team::team_inbox,
            team::team_open,
            team::team_thread,
            team::team_save_attachment,
            team::team_set_status,
            team::team_reply,
        ])
}

/// Only the bundled app may be shown: no navigation to anything else, ever.
pub fn is_app_url(url: &Url) -> bool {
    match url.scheme() {
        "tauri" => url.host_str() == Some("localhost"),
        "http" | "https" => {
            url.host_str() == Some("tauri.localhost")
                || (cfg!(not(feature = "custom-protocol"))
                    && url.host_str() == Some("localhost")
                    && url.port() == Some(5173))
        }
        _ => false,
    }
}

/// Creates the main window with navigation locked to the app.
pub fn main_window<R: Runtime, M: tauri::Manager<R>>(
    manager: &M,
) -> tauri::Result<WebviewWindow<R>> {
    WebviewWindowBuilder::new(manager, "main", WebviewUrl::App("index.html".into()))
        .title("Embargo")
        .inner_size(1200.0, 820.0)
        .min_inner_size(480.0, 400.0)
        .zoom_hotkeys_enabled(true)
        .on_navigation(is_app_url)
        .build()
}

/// Builds the app over a data directory and runs it; `setup` runs once the window exists.
pub fn run_app<R: Runtime>(
    builder: tauri::Builder<R>,
    store: Store,
    setup: impl FnOnce(&App<R>) + Send + 'static,
) {
    // For bench/app.py: report when the page has loaded (the frontend has mounted by then).
    let probe = std::env::var_os("EMBARGO_STARTUP_PROBE").is_some();
    let app = self::builder(builder, AppState::new(store))
        .on_page_load(move |_, payload| {
            if probe && payload.event() == tauri::webview::PageLoadEvent::Finished {
                eprintln!("embargo-startup-probe: page loaded");
            }
        })
        .setup(move |app| {
            app.state::<AppState>()
                .set_picker(picker_for(app.handle().clone()));
            app.state::<AppState>().set_opener(opener_for());
            vault::begin_session(&app.state::<AppState>());
            main_window(app)?;
            outbox::start(app.handle().clone());
            notify::start(app.handle().clone());
            setup(app);
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("the Embargo app builds");
    app.run(|_, _| {});
}

/// The native dialogs; in debug builds, `EMBARGO_E2E_PICKS` names a file of scripted answers
/// for the end-to-end test (WebDriver cannot click native dialogs). Release builds ignore it,
/// unless built with the `scripted-dialogs` feature for bench/app.py.
fn picker_for<R: Runtime>(app: tauri::AppHandle<R>) -> Box<dyn picker::Picker> {
    #[cfg(any(debug_assertions, feature = "scripted-dialogs"))]
    if let Some(file) = std::env::var_os("EMBARGO_E2E_PICKS") {
        return Box::new(picker::ScriptedPicker::from_file(std::path::Path::new(
            &file,
        )));
    }
    Box::new(picker::DialogPicker { app })
}

/// The system's opener; in debug builds, `EMBARGO_E2E_OPENED` names a file where the end-to-end
/// test reads what the app asked to open (a mail client cannot be driven under Xvfb). Release
/// builds ignore it.
fn opener_for() -> Box<dyn opener::Opener> {
    #[cfg(debug_assertions)]
    if let Some(file) = std::env::var_os("EMBARGO_E2E_OPENED") {
        return Box::new(opener::RecordingOpener { log: file.into() });
    }
    Box::new(opener::SystemOpener)
}

/// The desktop app's entry point.
pub fn run() {
    let store = match Store::open_default() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    // No core file, not dumpable (WebKit's helper processes are outside this: README).
    let _ = embargo_core::process::forbid_core_dumps();
    // Unverified plaintext a killed `open` (CLI) left behind is removed first.
    for dir in embargo_core::usecase::clean_interrupted_opens(&store) {
        eprintln!(
            "removed {}: unverified plaintext left by an interrupted open",
            dir.display()
        );
    }
    run_app(tauri::Builder::default(), store, |_| {});
}

#[cfg(test)]
mod tests;
