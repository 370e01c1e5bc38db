//! Tauri commands: each takes the state, calls embargo-core, converts the result.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use embargo_core::export::{self, EmailEnvelope};
use embargo_core::keys::{self, Signer};
use embargo_core::openpgp::crypto::Password;
use embargo_core::openpgp::Cert;
use embargo_core::program::{class_by_id, Program, CLASSES};
use embargo_core::render;
use embargo_core::report::parse_cvss;
use embargo_core::seal::{self, OutputFormat, SealRequest, Sealed};
use embargo_core::store::Settings as StoredSettings;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};
use zeroize::Zeroizing;

use crate::dto::*;
use crate::error::CommandError;
use crate::state::{AppState, Held};

type Result<T> = std::result::Result<T, CommandError>;

fn program_view(state: &AppState, p: &Program) -> Result<ProgramView> {
    let cert = state.store.team_cert(p)?;
    Ok(ProgramView {
        id: p.id.clone(),
        name: p.name.clone(),
        contacts: p.contacts.clone(),
        email: p.email().map(str::to_owned),
        policy_url: p.policy_url.clone(),
        intake_url: p.intake_url.clone(),
        in_scope: p.in_scope.clone(),
        reporting: p.reporting.clone(),
        out_of_scope: p
            .out_of_scope
            .iter()
            .map(|o| OutOfScopeView {
                class: o.class.clone(),
                class_name: class_by_id(&o.class)
                    .map(|c| c.name.to_owned())
                    .unwrap_or_default(),
                wording: o.wording.clone(),
                condition: o.condition.clone(),
            })
            .collect(),
        attestations: p
            .attestations
            .iter()
            .map(|a| AttestationView {
                id: a.id.clone(),
                wording: a.wording.clone(),
            })
            .collect(),
        response: p.response.as_ref().map(|r| r.wording.clone()),
        response_business_days: p.response.as_ref().map(|r| r.business_days),
        credit: p.credit.as_ref().map(|c| c.wording.clone()),
        promises: p.promises.iter().map(|x| x.wording.clone()).collect(),
        builtin: Program::builtin(&p.id).is_ok(),
        team_key: cert.as_ref().map(|c| keys::describe(c).into()),
        team_key_source: p.team_key.as_ref().and_then(|k| k.source.clone()),
    })
}

/// Programs in the data directory, Novu first.
#[tauri::command]
pub fn list_programs(state: State<'_, AppState>) -> Result<Vec<ProgramSummary>> {
    Ok(state
        .store
        .programs()?
        .iter()
        .map(ProgramSummary::from)
        .collect())
}

/// One program's policy and pinned key.
#[tauri::command]
pub fn get_program(state: State<'_, AppState>, id: String) -> Result<ProgramView> {
    let p = state.store.program(&id)?;
    program_view(&state, &p)
}

/// Adds a program by hand.
#[tauri::command]
pub fn add_program(
    state: State<'_, AppState>,
    name: String,
    contact: String,
    intake_url: Option<String>,
) -> Result<ProgramView> {
    let p = state
        .store
        .add_program(&name, &contact, intake_url.as_deref())?;
    program_view(&state, &p)
}

/// Reads a team key from pasted armor or a file and shows it, before any trust is given.
#[tauri::command]
pub fn inspect_team_key(
    state: State<'_, AppState>,
    program_id: String,
    armored: Option<String>,
    path: Option<String>,
) -> Result<KeyCandidate> {
    let (certs, source) = match (armored, path) {
        (Some(text), _) if !text.trim().is_empty() => (
            keys::parse_certs(text.as_bytes(), "the pasted text")?,
            "pasted".to_owned(),
        ),
        (_, Some(path)) => (keys::read_certs(Path::new(&path))?, format!("file:{path}")),
        _ => {
            return Err(CommandError::new("invalid_input", "no key given")
                .hint("paste the team's armored public key or choose a key file"))
        }
    };
    let cert = certs
        .into_iter()
        .next()
        .expect("parse_certs returns at least one");
    if cert.is_tsk() {
        return Err(CommandError::new(
            "invalid_input",
            format!("{} is a secret key", cert.fingerprint()),
        )
        .hint("a team key for encryption is their public key; never handle their secret key"));
    }
    let program = state.store.program(&program_id)?;
    let pinned = program.team_key.map(|k| k.fingerprint);
    let fingerprint = cert.fingerprint().to_hex();
    let candidate = KeyCandidate {
        key: keys::describe(&cert).into(),
        differs_from_pinned: pinned.as_ref().is_some_and(|p| *p != fingerprint),
        pinned,
    };
    let mut inner = state.lock();
    inner
        .candidates
        .retain(|(c, _)| c.fingerprint() != cert.fingerprint());
    inner.candidates.push((cert, source));
    Ok(candidate)
}

/// Pins an inspected key after the user compared its fingerprint.
#[tauri::command]
pub fn confirm_team_key(
    state: State<'_, AppState>,
    program_id: String,
    fingerprint: String,
) -> Result<ProgramView> {
    let wanted: String = fingerprint
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    let (cert, source) = state
        .lock()
        .candidates
        .iter()
        .find(|(c, _)| c.fingerprint().to_hex() == wanted)
        .cloned()
        .ok_or_else(|| {
            CommandError::new("not_found", format!("key {wanted} was not inspected"))
                .hint("inspect the key first")
        })?;
    keys::encryption_keys(&cert, &keys::policy())?;
    // The UI showed a loud warning when the primary key differs; confirming is the user's choice.
    let program = state
        .store
        .pin_team_key(&program_id, &cert, &source, true)?;
    state
        .lock()
        .candidates
        .retain(|(c, _)| c.fingerprint() != cert.fingerprint());
    program_view(&state, &program)
}

/// The class taxonomy.
#[tauri::command]
pub fn list_classes() -> Vec<ClassView> {
    CLASSES
        .iter()
        .map(|c| ClassView {
            id: c.id.into(),
            name: c.name.into(),
            cwe: c.cwe.map(str::to_owned),
        })
        .collect()
}

fn status(state: &AppState, draft: ReportDraft) -> DraftStatus {
    let report = draft.to_report();
    let mut findings: Vec<Finding> = Vec::new();
    let program = state.store.program(&report.program);
    let team_key = match &program {
        Ok(p) => {
            findings.extend(report.check(p).into_iter().map(Finding::from));
            p.team_key.is_some()
        }
        Err(e) => {
            findings.extend(report.validate().into_iter().map(Finding::from));
            findings.push(Finding {
                field: "program".into(),
                line: None,
                message: e.to_string(),
                hint: None,
            });
            false
        }
    };
    DraftStatus {
        cvss: report
            .cvss
            .as_deref()
            .and_then(|v| parse_cvss(v).ok())
            .map(CvssScore::from),
        severity: report.effective_severity(),
        ready_to_seal: team_key && report.validate().is_empty(),
        findings,
        draft,
    }
}

/// The current draft and what is wrong with it.
#[tauri::command]
pub fn get_draft(state: State<'_, AppState>) -> DraftStatus {
    let draft = state.lock().draft.clone();
    status(&state, draft)
}

/// Replaces the draft; returns the findings per field.
#[tauri::command]
pub fn update_draft(state: State<'_, AppState>, draft: ReportDraft) -> DraftStatus {
    state.lock().draft = draft.clone();
    status(&state, draft)
}

/// Score of a CVSS 3.1 / 4.0 vector.
#[tauri::command]
pub fn cvss_score(vector: String) -> Result<CvssScore> {
    parse_cvss(&vector)
        .map(CvssScore::from)
        .map_err(|m| CommandError::new("invalid_input", m))
}

/// Markdown to sanitized HTML.
#[tauri::command]
pub fn render_markdown(markdown: String) -> String {
    render::markdown_to_safe_html(&markdown)
}

fn attachment_views(state: &AppState) -> Vec<AttachmentView> {
    state
        .lock()
        .attachments
        .iter()
        .map(|h| AttachmentView::new(h.id, &h.meta))
        .collect()
}

fn attachments_changed<R: Runtime>(app: &AppHandle<R>, list: &[AttachmentView]) {
    // The webview may be gone (tests, shutdown); the returned list is the answer either way.
    let _ = app.emit("attachments-changed", list);
}

/// Adds a file (from the dialog or a drop): hashed and typed now, read again when sealing.
#[tauri::command]
pub async fn add_attachment<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    path: String,
) -> Result<Vec<AttachmentView>> {
    let path = PathBuf::from(path);
    let p = path.clone();
    let meta = blocking(move || Ok(seal::inspect_attachment(&p)?)).await?;
    {
        let mut inner = state.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.attachments.push(Held { id, path, meta });
    }
    let list = attachment_views(&state);
    attachments_changed(&app, &list);
    Ok(list)
}

/// Removes an attachment.
#[tauri::command]
pub fn remove_attachment<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: u32,
) -> Result<Vec<AttachmentView>> {
    let removed = {
        let mut inner = state.lock();
        let before = inner.attachments.len();
        inner.attachments.retain(|h| h.id != id);
        before != inner.attachments.len()
    };
    if !removed {
        return Err(CommandError::new(
            "not_found",
            format!("no attachment {id}"),
        ));
    }
    let list = attachment_views(&state);
    attachments_changed(&app, &list);
    Ok(list)
}

/// The attachments.
#[tauri::command]
pub fn list_attachments(state: State<'_, AppState>) -> Vec<AttachmentView> {
    attachment_views(&state)
}

fn signing_view(cert: &Cert) -> SigningKeyView {
    let info = keys::describe(cert);
    SigningKeyView {
        fingerprint: info.fingerprint,
        fingerprint_grouped: info.fingerprint_grouped,
        user_ids: info.user_ids,
        protected: cert
            .keys()
            .secret()
            .any(|k| !k.key().has_unencrypted_secret()),
    }
}

/// Loads the researcher's secret key from a file; only its public facts come back.
#[tauri::command]
pub fn import_signing_key(state: State<'_, AppState>, path: String) -> Result<SigningKeyView> {
    let tsk = keys::read_secret_key(Path::new(&path))?;
    let view = signing_view(&tsk);
    state.lock().signing_key = Some(tsk);
    Ok(view)
}

/// Forgets the signing key.
#[tauri::command]
pub fn clear_signing_key(state: State<'_, AppState>) {
    state.lock().signing_key = None;
}

/// What a seal needs, copied out of the state so no lock is held while sealing.
struct Snapshot {
    report: embargo_core::report::Report,
    program: Program,
    team: Cert,
    attachments: Vec<Held>,
    signing_key: Option<Cert>,
}

fn snapshot(state: &AppState) -> Result<Snapshot> {
    let (draft, attachments, signing_key) = {
        let inner = state.lock();
        (
            inner.draft.clone(),
            inner.attachments.clone(),
            inner.signing_key.clone(),
        )
    };
    let program = state.store.program(&draft.program)?;
    let team = state.store.team_cert(&program)?.ok_or_else(|| {
        CommandError::new(
            "no_team_key",
            format!("{} has no confirmed team key", program.name),
        )
        .hint("import the team's key on the Programs screen and confirm its fingerprint")
    })?;
    Ok(Snapshot {
        report: draft.to_report(),
        program,
        team,
        attachments,
        signing_key,
    })
}

/// Exactly what will be sent, and to whom.
#[tauri::command]
pub fn preview_seal(state: State<'_, AppState>) -> Result<SealPreview> {
    let s = snapshot(&state)?;
    let metas: Vec<_> = s.attachments.iter().map(|h| h.meta.clone()).collect();
    let info = keys::describe(&s.team);
    let format = keys::format_for(&s.team, false)?;
    Ok(SealPreview {
        text: seal::render_text(&s.report, Some(&s.program), &metas),
        body_html: render::markdown_to_safe_html(&s.report.body),
        recipients: vec![RecipientView {
            fingerprint: info.fingerprint,
            fingerprint_grouped: info.fingerprint_grouped,
            user_ids: info.user_ids,
            format: format.into(),
        }],
        format: format.into(),
        signer: s.signing_key.as_ref().map(signing_view),
        anonymous: s.report.is_anonymous(),
        attachments: s
            .attachments
            .iter()
            .map(|h| AttachmentView::new(h.id, &h.meta))
            .collect(),
        subject: s.report.title.clone(),
        to: s.program.email().map(str::to_owned),
    })
}

/// Seals the snapshot into `sink` or a file, emitting progress and honouring cancel.
fn run_seal<R: Runtime>(
    app: &AppHandle<R>,
    state: &AppState,
    sign: bool,
    passphrase: Option<String>,
    output: OutputFormat,
    file: Option<&Path>,
    sink: &mut Vec<u8>,
) -> Result<Sealed> {
    let passphrase = passphrase.map(Zeroizing::new);
    let s = snapshot(state)?;
    let signer = match (sign, &s.signing_key) {
        (false, _) => None,
        (true, None) => {
            return Err(
                CommandError::new("invalid_input", "no signing key imported")
                    .hint("choose your key file, or turn signing off"),
            )
        }
        (true, Some(tsk)) => {
            let mut ask = |_: &str| {
                passphrase
                    .as_ref()
                    .filter(|p| !p.is_empty())
                    .map(|p| Password::from(p.as_str()))
            };
            Some(Signer::from_tsk(tsk, &mut ask)?)
        }
    };
    let paths: Vec<PathBuf> = s.attachments.iter().map(|h| h.path.clone()).collect();
    let team = [s.team];
    let req = SealRequest {
        report: &s.report,
        program: Some(&s.program),
        recipients: &team,
        attachments: &paths,
        signer: signer.as_ref(),
        sign_anyway: false,
        encrypt_to_self: false,
        aead: false,
        output,
    };
    state.cancel.store(false, Ordering::SeqCst);
    let cancel = state.cancel.clone();
    let mut last = 0u64;
    let mut progress = |done: u64, total: u64| {
        // About a hundred events for a large file, not one per chunk.
        if done == total || done >= last + (total / 100).max(1 << 20) {
            last = done;
            let _ = app.emit("seal-progress", SealProgress { done, total });
        }
        !cancel.load(Ordering::SeqCst)
    };
    let sealed = match file {
        Some(path) => seal::seal_to_file(&req, path, true, &mut progress)?,
        None => seal::seal(&req, sink, &mut progress)?,
    };
    Ok(sealed)
}

/// Seals and writes `.eml` or `.asc` to the path the save dialog returned.
#[tauri::command]
pub async fn export_report<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    request: ExportRequest,
) -> Result<ExportResult> {
    let path = PathBuf::from(&request.path);
    let output = match request.format {
        ExportFormat::Asc => OutputFormat::Armor,
        ExportFormat::Eml => {
            let program = state.store.program(&state.lock().draft.program)?;
            let to = program.email().map(str::to_owned).ok_or_else(|| {
                CommandError::new(
                    "invalid_input",
                    format!("{} has no email contact", program.name),
                )
                .hint("save the .asc and send it as the program asks")
            })?;
            OutputFormat::Email(EmailEnvelope { to, from: None })
        }
    };
    let (handle, target) = (app.clone(), path.clone());
    let sealed = blocking(move || {
        run_seal(
            &handle,
            &handle.state::<AppState>(),
            request.sign,
            request.passphrase,
            output,
            Some(&target),
            &mut Vec::new(),
        )
    })
    .await?;
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let result = ExportResult {
        path: path.display().to_string(),
        format: sealed.format.into(),
        recipients: sealed.recipients,
        signer: sealed.signer,
        bytes,
    };
    let _ = app.emit("seal-finished", &result);
    Ok(result)
}

/// The sealed report as armored text (for the clipboard or webmail).
#[tauri::command]
pub async fn armored_report<R: Runtime>(
    app: AppHandle<R>,
    request: SealRequestDto,
) -> Result<String> {
    let out = blocking(move || armored(&app, request)).await?;
    String::from_utf8(out).map_err(|e| CommandError::new("internal", e))
}

fn armored<R: Runtime>(app: &AppHandle<R>, request: SealRequestDto) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    run_seal(
        app,
        &app.state::<AppState>(),
        request.sign,
        request.passphrase,
        OutputFormat::Armor,
        None,
        &mut out,
    )?;
    Ok(out)
}

/// Runs sealing off the async runtime's threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| CommandError::new("internal", e))?
}

/// Opens the mail client with the armored report as the body when it fits in a mailto link.
#[tauri::command]
pub async fn open_mail_client<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    request: SealRequestDto,
) -> Result<MailResult> {
    let program = state.store.program(&state.lock().draft.program)?;
    let Some(to) = program.email().map(str::to_owned) else {
        return Ok(MailResult {
            opened: false,
            instructions: Some(format!(
                "{} has no email contact: use its intake or web form.",
                program.name
            )),
        });
    };
    let out = blocking(move || armored(&app, request)).await?;
    let armored = String::from_utf8_lossy(&out);
    match export::mailto(&to, &armored, MAILTO_MAX) {
        Some(url) => {
            open::that_detached(&url).map_err(|e| CommandError::new("io", format!("cannot open the mail client: {e}")))?;
            Ok(MailResult { opened: true, instructions: None })
        }
        None => Ok(MailResult {
            opened: false,
            instructions: Some(format!(
                "The sealed report is {} characters, too long for a mailto link. Click \"Export .eml…\", then open the saved file with your mail client and send it to {to}; or attach a saved .asc to a new message to {to}.",
                armored.len()
            )),
        }),
    }
}

/// Mail clients and OS URL handlers truncate long mailto links; 2000 characters is safe everywhere.
const MAILTO_MAX: usize = 2000;

/// Cancels a running seal; its partial output is removed.
#[tauri::command]
pub fn cancel_seal(state: State<'_, AppState>) {
    state.cancel.store(true, Ordering::SeqCst);
}

fn settings_view(state: &AppState, s: &StoredSettings) -> Settings {
    Settings {
        theme: match s.theme.as_str() {
            "light" => Theme::Light,
            "dark" => Theme::Dark,
            _ => Theme::System,
        },
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
pub fn get_settings(state: State<'_, AppState>) -> Result<Settings> {
    let s = state.store.settings()?;
    Ok(settings_view(&state, &s))
}

/// Sets the theme.
#[tauri::command]
pub fn set_theme(state: State<'_, AppState>, theme: Theme) -> Result<Settings> {
    let s = StoredSettings {
        theme: match theme {
            Theme::Light => "light",
            Theme::Dark => "dark",
            Theme::System => "system",
        }
        .into(),
    };
    state.store.save_settings(&s)?;
    Ok(settings_view(&state, &s))
}
