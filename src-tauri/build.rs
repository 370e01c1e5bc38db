//! Declares the app's commands so that permissions are generated for them and the capability in
//! `capabilities/main.json` really gates them (without a manifest every window may call every
//! command).

/// Every command the frontend may call; kept in step with `generate_handler!` in lib.rs by a test.
const COMMANDS: &[&str] = &[
    "list_programs",
    "get_program",
    "add_program",
    "discover_program",
    "discover_program_keys",
    "import_program_file",
    "inspect_team_key",
    "choose_team_key_file",
    "confirm_team_key",
    "request_key",
    "open_key_request",
    "open_policy",
    "list_classes",
    "get_draft",
    "update_draft",
    "cvss_score",
    "render_markdown",
    "choose_attachments",
    "add_dropped",
    "remove_attachment",
    "list_attachments",
    "set_keep_metadata",
    "choose_signing_key",
    "clear_signing_key",
    "preview_seal",
    "export_report",
    "open_export",
    "armored_report",
    "open_mail_client",
    "cancel_seal",
    "submit_report",
    "list_sent",
    "follow_up_report",
    "retry_outbox_now",
    "get_settings",
    "set_theme",
    "set_proxy",
    "set_retry_seconds",
    "set_notify_seconds",
    "set_role",
    "vault_status",
    "autosave",
    "create_identity",
    "import_identity",
    "export_identity",
    "backup_identity",
    "close_discarding",
    "unlock_vault",
    "lock_vault",
    "set_auto_lock",
    "open_draft",
    "new_draft",
    "duplicate_draft",
    "delete_draft",
    "open_report_file",
    "save_report_file",
    "team_status",
    "team_connect",
    "team_unlock",
    "team_inbox",
    "team_open",
    "team_thread",
    "team_save_attachment",
    "team_set_status",
    "team_reply",
];

/// Builds `ui/dist` (which Tauri embeds) when the frontend changed, so that
/// `cargo build --release -p embargo-app` alone yields the standalone app.
fn build_frontend() {
    for path in [
        "src",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "svelte.config.js",
    ] {
        println!("cargo:rerun-if-changed=../ui/{path}");
    }
    println!("cargo:rerun-if-env-changed=EMBARGO_SKIP_UI_BUILD");
    if std::env::var_os("EMBARGO_SKIP_UI_BUILD").is_some() {
        return;
    }
    let status = std::process::Command::new("bash")
        .arg("../scripts/build-ui.sh")
        .status()
        .expect("bash runs scripts/build-ui.sh");
    assert!(
        status.success(),
        "building the frontend failed (scripts/build-ui.sh needs Node.js >= 20 and npm)"
    );
}

fn main() {
    build_frontend();
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build");
}
