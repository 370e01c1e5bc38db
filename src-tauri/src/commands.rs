//! Tauri commands: each takes the state, calls one embargo-core use case, converts the result.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use embargo_core::bundle::Attachment;
use embargo_core::export;
use embargo_core::keys::{self, Signer};
use embargo_core::openpgp::crypto::Password;
use embargo_core::openpgp::Cert;
use embargo_core::program::{Class, Program, CLASSES};
use embargo_core::render;
use embargo_core::report::{parse_cvss, CvssScore, Report};
use embargo_core::store::{Settings, Theme};
use embargo_core::usecase::{self, Delivery, SealJob};
use tauri::{AppHandle, Emitter, Manager, Runtime, State};
use zeroize::Zeroizing;

use crate::dto::*;
use crate::error::{CommandError, ErrorCode};
use crate::picker::{PickedFile, Purpose};
use crate::state::{AppState, Held};

type Result<T> = std::result::Result<T, CommandError>;

const KEY_FILTERS: &[crate::picker::Filter] = &[("OpenPGP key", &["asc", "pgp", "gpg", "key"])];

fn program_view(state: &AppState, p: Program) -> Result<ProgramView> {
    let team_key = state.store.team_certs(&p)?.first().map(keys::describe);
    Ok(ProgramView {
        email: p.email().map(str::to_owned),
        builtin: Program::builtin(&p.id).is_ok(),
        trust: p.trust(),
        team_key,
        program: p,
    })
}

/// Programs in the data directory, Novu first, and the broken program files.
#[tauri::command]
pub fn list_programs(state: State<'_, AppState>) -> Result<ProgramList> {
    let listed = state.store.programs()?;
    Ok(ProgramList {
        programs: listed
            .programs
            .into_iter()
            .map(|p| program_view(&state, p))
            .collect::<Result<_>>()?,
        broken: listed.broken.iter().map(|e| e.to_string()).collect(),
    })
}

/// One program's policy and pinned key.
#[tauri::command]
pub fn get_program(state: State<'_, AppState>, id: String) -> Result<ProgramView> {
    let p = state.store.program(&id)?;
    program_view(&state, p)
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
    program_view(&state, p)
}

/// "Add program" from a domain or an address: discovery (security.txt, WKD, key servers) over
/// HTTPS, recorded as a program with its candidates; nothing is trusted until the user types
/// the published fingerprint (`confirm_team_key`). The network settings are the CLI's
/// (`EMBARGO_CA_FILE`, `EMBARGO_RESOLVE`, `EMBARGO_VKS_URL`, `EMBARGO_PROTON_URL`).
#[tauri::command]
pub async fn discover_program(
    state: State<'_, AppState>,
    domain: String,
) -> Result<DiscoveredView> {
    use embargo_core::discover::{self, DiscoveryConfig, Target};
    use embargo_core::net::{self, HttpTransport, NetConfig};
    let target =
        Target::parse(&domain).map_err(|e| CommandError::new(ErrorCode::InvalidInput, e))?;
    let cfg =
        DiscoveryConfig::from_env().map_err(|e| CommandError::new(ErrorCode::InvalidInput, e))?;
    let found = tauri::async_runtime::spawn_blocking(move || {
        let net_cfg =
            NetConfig::from_env().map_err(|e| CommandError::new(ErrorCode::InvalidInput, e))?;
        let transport =
            HttpTransport::new(&net_cfg).map_err(|e| CommandError::new(ErrorCode::Network, e))?;
        net::block_on(discover::discover(&transport, &target, &cfg))
            .map_err(|e| CommandError::new(ErrorCode::Network, e))
    })
    .await
    .map_err(|e| CommandError::new(ErrorCode::Internal, e))??;
    let candidates: Vec<FoundKey> = found
        .usable()
        .map(|c| FoundKey {
            key: keys::describe(&c.cert),
            sources: c.sources.iter().map(|s| s.as_str().to_owned()).collect(),
            agreed: c.sources.len() >= 2,
        })
        .collect();
    let key_request = candidates.is_empty().then(|| {
        let r = discover::key_request(&found.contact().unwrap_or_default());
        KeyRequestView {
            to: r.to,
            contact: r.contact,
            subject: r.subject,
            body: r.body,
            mailto: r.mailto,
        }
    });
    let problems = found.problems.iter().map(|p| p.to_string()).collect();
    let offered: Vec<(Cert, String)> = found
        .usable()
        .map(|c| {
            let sources: Vec<&str> = c.sources.iter().map(|s| s.as_str()).collect();
            (c.cert.clone(), usecase::discovery_source(&sources))
        })
        .collect();
    let done = usecase::record_discovery(&state.store, &found, None)?;
    {
        let mut inner = state.lock();
        for (cert, source) in offered {
            inner
                .candidates
                .retain(|(c, _)| c.fingerprint() != cert.fingerprint());
            inner.candidates.push((cert, source));
        }
    }
    Ok(DiscoveredView {
        program: program_view(&state, done.program)?,
        created: done.created,
        candidates,
        problems,
        key_request,
    })
}

/// A program imported from a SECURITY.md the user picked (or dropped: its token): contacts,
/// scope, rules and promises; what could not be mapped is returned for the user to read.
/// `None` when the dialog was cancelled.
#[tauri::command]
pub async fn import_program_file(
    state: State<'_, AppState>,
    dropped: Option<u64>,
) -> Result<Option<ImportedView>> {
    let path = match dropped {
        Some(token) => state.files.path(token, Purpose::Read)?,
        None => match state
            .picker()?
            .open(
                "The program's SECURITY.md",
                &[("Markdown", &["md", "markdown", "txt"])],
                false,
            )
            .pop()
        {
            Some(p) => p,
            None => return Ok(None),
        },
    };
    let bytes = embargo_core::store::read_capped(
        &path,
        embargo_core::policy_md::MAX_IMPORT_BYTES as u64 + 1,
    )
    .map_err(|e| CommandError::new(ErrorCode::Io, format!("{}: {e}", path.display())))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        CommandError::new(
            ErrorCode::InvalidInput,
            format!("{} is not UTF-8 text", path.display()),
        )
    })?;
    let imported = usecase::import_program(&state.store, &text, None, &path.display().to_string())
        .map_err(|e| match e {
            usecase::ImportProgramError::Exists(id) => CommandError::new(
                ErrorCode::InvalidInput,
                format!("a program `{id}` already exists"),
            )
            .hint("Remove it first, or rename the folder the file is in."),
            usecase::ImportProgramError::Store(s) => s.into(),
            other => CommandError::new(ErrorCode::InvalidInput, other),
        })?;
    Ok(Some(ImportedView {
        unmapped: imported
            .unmapped
            .iter()
            .map(|u| format!("[{}] {}", u.section, u.text))
            .collect(),
        program: program_view(&state, imported.program)?,
    }))
}

fn offer_candidate(
    state: &AppState,
    program_id: &str,
    cert: Cert,
    source: String,
) -> Result<KeyCandidate> {
    let pinned: Vec<String> = state
        .store
        .program(program_id)?
        .team_keys
        .into_iter()
        .map(|k| k.fingerprint)
        .collect();
    let fpr = cert.fingerprint().to_hex();
    let candidate = KeyCandidate {
        key: keys::describe(&cert),
        differs_from_pinned: !pinned.is_empty() && !pinned.contains(&fpr),
        pinned: pinned.into_iter().next(),
    };
    let mut inner = state.lock();
    inner
        .candidates
        .retain(|(c, _)| c.fingerprint() != cert.fingerprint());
    inner.candidates.push((cert, source));
    Ok(candidate)
}

/// Reads a team key from pasted armor and shows it, before any trust is given.
#[tauri::command]
pub fn inspect_team_key(
    state: State<'_, AppState>,
    program_id: String,
    armored: String,
) -> Result<KeyCandidate> {
    let cert = keys::parse_certs(armored.as_bytes(), "the pasted text")?.remove(0);
    offer_candidate(&state, &program_id, cert, "pasted".into())
}

/// Shows the team key in a file dropped on the window (`dropped`: its token), or else asks for
/// one in a native dialog; `None` when cancelled.
#[tauri::command]
pub async fn choose_team_key_file(
    state: State<'_, AppState>,
    program_id: String,
    dropped: Option<u64>,
) -> Result<Option<KeyCandidate>> {
    let path = match dropped {
        Some(token) => state.files.path(token, Purpose::Read)?,
        None => match state
            .picker()?
            .open("The team's public key", KEY_FILTERS, false)
            .pop()
        {
            Some(p) => p,
            None => return Ok(None),
        },
    };
    let cert = keys::read_certs(&path)?.remove(0);
    let source = format!("file:{}", path.display());
    offer_candidate(&state, &program_id, cert, source).map(Some)
}

/// Pins an inspected key once the fingerprint the user typed matches it (checked in the core,
/// ignoring spaces and case). Replacing another pinned key needs `replace` as well.
#[tauri::command]
pub fn confirm_team_key(
    state: State<'_, AppState>,
    program_id: String,
    typed_fingerprint: String,
    replace: bool,
) -> Result<ProgramView> {
    let wanted = embargo_core::ids::normalize_fingerprint(&typed_fingerprint).ok();
    let (cert, source) = {
        let inner = state.lock();
        let found = inner
            .candidates
            .iter()
            .find(|(c, _)| Some(c.fingerprint().to_hex()) == wanted)
            .or_else(|| inner.candidates.last());
        found.cloned().ok_or_else(|| {
            CommandError::new(ErrorCode::NotFound, "no key was offered for this program")
                .hint("Paste or choose the team's key first.")
        })?
    };
    let program = usecase::confirm_team_key(
        &state.store,
        &program_id,
        &cert,
        &typed_fingerprint,
        &source,
        if replace {
            embargo_core::store::PinMode::Replace
        } else {
            embargo_core::store::PinMode::Only
        },
    )?;
    state
        .lock()
        .candidates
        .retain(|(c, _)| c.fingerprint() != cert.fingerprint());
    program_view(&state, program)
}

/// The class taxonomy.
#[tauri::command]
pub fn list_classes() -> Vec<Class> {
    CLASSES.to_vec()
}

/// The draft with the core's findings.
pub(crate) fn draft_status(state: &AppState, draft: Report) -> Result<DraftStatus> {
    let c = usecase::check_draft(&state.store, &draft)?;
    Ok(DraftStatus {
        draft,
        findings: c.findings,
        cvss: c.cvss,
        severity: c.severity,
        ready_to_seal: c.ready_to_seal,
        sealable_anyway: c.sealable_anyway,
    })
}

/// The current draft and what is wrong with it.
#[tauri::command]
pub fn get_draft(state: State<'_, AppState>) -> Result<DraftStatus> {
    let draft = state.lock().draft.clone();
    draft_status(&state, draft)
}

/// Replaces the draft; returns the findings per field.
#[tauri::command]
pub fn update_draft(state: State<'_, AppState>, draft: Report) -> Result<DraftStatus> {
    let draft = draft.tidied();
    {
        let mut inner = state.lock();
        if inner.draft != draft {
            inner.dirty = true;
            inner.touch();
        }
        inner.draft = draft.clone();
    }
    draft_status(&state, draft)
}

/// Score of a CVSS 3.1 / 4.0 vector.
#[tauri::command]
pub fn cvss_score(vector: String) -> Result<CvssScore> {
    parse_cvss(&vector).map_err(|m| CommandError::new(ErrorCode::InvalidInput, m))
}

/// Markdown to sanitized HTML.
#[tauri::command]
pub fn render_markdown(markdown: String) -> String {
    render::markdown_to_safe_html(&markdown)
}

pub(crate) fn attachment_views(state: &AppState) -> Vec<AttachmentView> {
    views_of(&state.lock().attachments)
}

fn views_of(held: &[Held]) -> Vec<AttachmentView> {
    use usecase::AttachmentNote;
    held.iter()
        .map(|h| {
            let (removed, original_sha256, warning) = match &h.note {
                AttachmentNote::Scrubbed {
                    removed,
                    original_sha256,
                } => (removed.clone(), Some(original_sha256.clone()), None),
                AttachmentNote::MayCarryMetadata { content_type } => (
                    Vec::new(),
                    None,
                    Some(format!(
                        "{} may carry metadata (location, device) that Embargo does not remove",
                        content_type.unwrap_or("this file type")
                    )),
                ),
                _ => (Vec::new(), None, None),
            };
            AttachmentView {
                id: h.id,
                meta: h.attachment.meta.clone(),
                keep_metadata: h.keep_metadata,
                removed,
                original_sha256,
                warning,
            }
        })
        .collect()
}

/// Reads and (unless `keep_metadata`) scrubs a file for the draft.
pub(crate) fn prepare(
    path: &std::path::Path,
    keep_metadata: bool,
) -> Result<usecase::PreparedAttachment> {
    usecase::prepare_attachment(path, keep_metadata).map_err(|e| match e {
        usecase::PrepareAttachmentError::Attachment(a) => CommandError::from(a),
        other => CommandError::new(ErrorCode::InvalidInput, other).hint(
            "Remove the file, or keep its metadata if you are sure nothing in it identifies you.",
        ),
    })
}

fn attachments_changed<R: Runtime>(app: &AppHandle<R>, list: &[AttachmentView]) {
    // The webview may be gone (tests, shutdown); the returned list is the answer either way.
    let _ = app.emit("attachments-changed", list);
}

async fn add_paths<R: Runtime>(
    app: &AppHandle<R>,
    paths: Vec<PathBuf>,
) -> Result<Vec<AttachmentView>> {
    let read = blocking(move || {
        paths
            .into_iter()
            .map(|p| prepare(&p, false).map(|prepared| (p, prepared)))
            .collect::<Result<Vec<_>>>()
    })
    .await?;
    let state = app.state::<AppState>();
    {
        let mut inner = state.lock();
        for (path, prepared) in read {
            let id = inner.next_id;
            inner.next_id += 1;
            inner.attachments.push(Held {
                id,
                attachment: prepared.attachment,
                path,
                keep_metadata: false,
                note: prepared.note,
            });
        }
        inner.dirty = true;
        inner.touch();
    }
    let list = attachment_views(&state);
    attachments_changed(app, &list);
    Ok(list)
}

/// Asks for files in a native dialog and attaches them (hashed and typed now, read again when
/// sealing).
#[tauri::command]
pub async fn choose_attachments<R: Runtime>(app: AppHandle<R>) -> Result<Vec<AttachmentView>> {
    let state = app.state::<AppState>();
    let paths = state.picker()?.open("Add files to the report", &[], true);
    add_paths(&app, paths).await
}

/// Attaches files dropped on the window (their tokens came with the `files-dropped` event).
#[tauri::command]
pub async fn add_dropped<R: Runtime>(
    app: AppHandle<R>,
    tokens: Vec<u64>,
) -> Result<Vec<AttachmentView>> {
    let state = app.state::<AppState>();
    let paths = tokens
        .iter()
        .map(|t| state.files.path(*t, Purpose::Read))
        .collect::<Result<Vec<_>>>()?;
    add_paths(&app, paths).await
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
        inner.dirty = true;
        inner.touch();
        before != inner.attachments.len()
    };
    if !removed {
        return Err(CommandError::new(
            ErrorCode::NotFound,
            format!("no attachment {id}"),
        ));
    }
    let list = attachment_views(&state);
    attachments_changed(&app, &list);
    Ok(list)
}

/// Keeps (or removes again) an attachment's metadata: the per-file opt-out of scrubbing.
#[tauri::command]
pub async fn set_keep_metadata<R: Runtime>(
    app: AppHandle<R>,
    id: u32,
    keep: bool,
) -> Result<Vec<AttachmentView>> {
    let state = app.state::<AppState>();
    let path = state
        .lock()
        .attachments
        .iter()
        .find(|h| h.id == id)
        .map(|h| h.path.clone())
        .ok_or_else(|| CommandError::new(ErrorCode::NotFound, format!("no attachment {id}")))?;
    let prepared = blocking(move || prepare(&path, keep)).await?;
    {
        let mut inner = state.lock();
        if let Some(h) = inner.attachments.iter_mut().find(|h| h.id == id) {
            h.attachment = prepared.attachment;
            h.keep_metadata = keep;
            h.note = prepared.note;
        }
        inner.dirty = true;
        inner.touch();
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
    SigningKeyView {
        key: keys::describe(cert),
        protected: cert
            .keys()
            .secret()
            .any(|k| !k.key().has_unencrypted_secret()),
    }
}

/// The researcher's secret key file, chosen in a native dialog (`None` when cancelled).
pub(crate) fn pick_secret_key(state: &AppState) -> Result<Option<PathBuf>> {
    Ok(state
        .picker()?
        .open("Your secret key", KEY_FILTERS, false)
        .pop())
}

/// Asks for the researcher's secret key file in a native dialog; only its public facts come
/// back. `None` when cancelled.
#[tauri::command]
pub async fn choose_signing_key(state: State<'_, AppState>) -> Result<Option<SigningKeyView>> {
    let Some(path) = pick_secret_key(&state)? else {
        return Ok(None);
    };
    let tsk = keys::read_secret_key(&path)?;
    let view = signing_view(&tsk);
    state.lock().signing_key = Some(tsk);
    Ok(Some(view))
}

/// Forgets the signing key.
#[tauri::command]
pub fn clear_signing_key(state: State<'_, AppState>) {
    state.lock().signing_key = None;
}

/// The largest armored message offered for the clipboard (a report with a screenshot fits;
/// a video does not, and pasting megabytes into webmail fails).
const COPY_MAX: u64 = 1 << 20;
/// Mail clients and OS URL handlers truncate long mailto links; 2000 characters is safe everywhere.
const MAILTO_MAX: usize = 2000;

fn delivery_options(armored_bytes: u64) -> DeliveryOptions {
    let copy = armored_bytes <= COPY_MAX;
    // Percent-encoding grows the armored text by about a tenth (line breaks, `+`, `/`, `=`).
    let mailto = armored_bytes.saturating_add(armored_bytes / 10 + 200) <= MAILTO_MAX as u64;
    DeliveryOptions {
        armored_bytes,
        copy,
        copy_why_not: (!copy).then(|| format!(
            "The sealed report would be about {} KB, too large to paste into a message. Save the .asc and attach it.",
            armored_bytes / 1000
        )),
        mailto,
        mailto_why_not: (!mailto).then(|| format!(
            "The sealed report would be about {} KB; a mail link holds about 2 KB. Save the .eml and open it in your mail client.",
            armored_bytes.div_ceil(1000)
        )),
    }
}

/// Exactly what will be sent, and to whom.
#[tauri::command]
pub fn preview_seal(state: State<'_, AppState>) -> Result<SealPreview> {
    let (draft, attachments, signing_key) = {
        let inner = state.lock();
        (
            inner.draft.clone(),
            inner.attachments.clone(),
            inner.signing_key.clone(),
        )
    };
    let metas: Vec<_> = attachments
        .iter()
        .map(|h| h.attachment.meta.clone())
        .collect();
    let p = usecase::preview(&state.store, &draft, &metas, signing_key.as_ref())?;
    Ok(SealPreview {
        body_html: render::markdown_to_safe_html(&draft.body),
        recipients: p.recipients.iter().map(keys::describe).collect(),
        format: p.format,
        signer: signing_key.as_ref().map(signing_view),
        anonymous: draft.is_anonymous(),
        attachments: views_of(&attachments),
        subject: draft.title.clone(),
        to: p.to,
        reference: p.reference,
        delivery: delivery_options(p.armored_bytes),
        text: p.text,
    })
}

/// Seals the draft into `path` with the signing choice, emitting progress and honouring
/// `cancel_seal(op)`.
/// The draft, its attachments and the unlocked signer a seal needs.
fn seal_inputs(
    state: &AppState,
    options: &SealOptions,
) -> Result<(Report, Vec<Attachment>, Option<Signer>)> {
    let passphrase = options.passphrase.clone().map(Zeroizing::new);
    let (draft, attachments, signing_key, unlocked) = {
        let mut inner = state.lock();
        inner.touch();
        (
            inner.draft.clone(),
            inner.attachments.clone(),
            inner.signing_key.clone(),
            inner.unlocked.clone(),
        )
    };
    let signer = match (options.sign, &signing_key) {
        (false, _) => None,
        // No key file chosen: the identity signs, when there is one and it is unlocked.
        (true, None) => match (state.vault.identity()?, unlocked) {
            (Some(identity), Some(pw)) => {
                let mut ask = |_: &str| Some(pw.clone());
                Some(Signer::from_tsk(&identity, &mut ask)?)
            }
            (Some(_), None) => {
                return Err(CommandError::new(
                    ErrorCode::PassphraseRequired,
                    "the vault is locked, so your identity cannot sign",
                )
                .hint("Unlock the vault, or turn signing off."))
            }
            (None, _) => return Err(CommandError::new(
                ErrorCode::InvalidInput,
                "no signing key chosen",
            )
            .hint(
                "Create your identity in Settings or choose your key file, or turn signing off.",
            )),
        },
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
    let attachments: Vec<Attachment> = attachments.into_iter().map(|h| h.attachment).collect();
    Ok((draft, attachments, signer))
}

/// A seal as the app asks for it: to the program's pinned key, never signing an anonymous
/// report, no encrypt-to-self, the format the key advertises.
fn app_job<'a>(
    report: &'a Report,
    attachments: &'a [Attachment],
    signer: Option<&'a Signer>,
    delivery: Delivery,
) -> SealJob<'a> {
    SealJob {
        report,
        to: Vec::new(),
        attachments,
        signer,
        sign_anyway: false,
        encrypt_to_self: false,
        aead: false,
        delivery,
    }
}

fn run_seal<R: Runtime>(
    app: &AppHandle<R>,
    options: SealOptions,
    delivery: Delivery,
    path: &std::path::Path,
) -> Result<embargo_core::seal::Sealed> {
    let state = app.state::<AppState>();
    let (draft, attachments, signer) = seal_inputs(&state, &options)?;
    let op = state.begin(options.op)?;
    let cancel = op.cancel.clone();
    let mut last = 0u64;
    let mut progress = |done: u64, total: u64| {
        // About a hundred events for a large file, not one per chunk.
        if done == total || done >= last + (total / 100).max(1 << 20) {
            last = done;
            let _ = app.emit(
                "seal-progress",
                SealProgress {
                    op: options.op,
                    done,
                    total,
                },
            );
        }
        !cancel.load(Ordering::SeqCst)
    };
    let job = app_job(&draft, &attachments, signer.as_ref(), delivery);
    let outcome = usecase::seal_report(&state.store, job, path, true, &mut progress)?;
    drop(op);
    Ok(outcome.sealed)
}

/// Asks where to save in a native dialog, then seals and writes `.eml` or `.asc` there.
/// `None` when the dialog was cancelled.
#[tauri::command]
pub async fn export_report<R: Runtime>(
    app: AppHandle<R>,
    format: ExportFormat,
    options: SealOptions,
) -> Result<Option<ExportResult>> {
    let (ext, filter): (&str, crate::picker::Filter) = match format {
        ExportFormat::Eml => ("eml", ("Email message", &["eml"])),
        ExportFormat::Asc => ("asc", ("ASCII-armored OpenPGP message", &["asc"])),
    };
    let state = app.state::<AppState>();
    let Some(path) = state.picker()?.save(
        "Save the sealed report",
        &format!("report.{ext}"),
        &[filter],
    ) else {
        return Ok(None);
    };
    let delivery = match format {
        ExportFormat::Eml => Delivery::Email {
            to: None,
            from: None,
        },
        ExportFormat::Asc => Delivery::Armor,
    };
    let (handle, target) = (app.clone(), path.clone());
    let sealed = blocking(move || run_seal(&handle, options, delivery, &target)).await?;
    let result = ExportResult {
        path: path.display().to_string(),
        format: sealed.format,
        recipients: sealed.recipients,
        signer: sealed.signer,
        bytes: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
        reference: sealed.reference,
    };
    let _ = app.emit("seal-finished", &result);
    Ok(Some(result))
}

/// Seals into memory for the clipboard or a mail link, when the estimate says it fits.
fn sealed_text<R: Runtime>(
    app: &AppHandle<R>,
    options: SealOptions,
    max: u64,
    why: Option<String>,
) -> Result<String> {
    let preview = preview_seal(app.state::<AppState>())?;
    if preview.delivery.armored_bytes > max {
        return Err(CommandError::new(
            ErrorCode::TooLarge,
            why.unwrap_or_else(|| "the sealed report is too large".into()),
        ));
    }
    // Sealed into a private temporary file: only ciphertext touches the disk.
    let dir = tempfile::tempdir().map_err(|e| CommandError::new(ErrorCode::Io, e))?;
    let path = dir.path().join("report.asc");
    run_seal(app, options, Delivery::Armor, &path)?;
    std::fs::read_to_string(&path).map_err(|e| CommandError::new(ErrorCode::Io, e))
}

/// The sealed report as armored text (for the clipboard or webmail), when it fits.
#[tauri::command]
pub async fn armored_report<R: Runtime>(app: AppHandle<R>, options: SealOptions) -> Result<String> {
    blocking(move || {
        let why = delivery_options(u64::MAX).copy_why_not;
        sealed_text(&app, options, COPY_MAX, why)
    })
    .await
}

/// Opens the mail client with the armored report as the body when it fits in a mailto link;
/// otherwise says why and what to do, without sealing anything.
#[tauri::command]
pub async fn open_mail_client<R: Runtime>(
    app: AppHandle<R>,
    options: SealOptions,
) -> Result<MailResult> {
    let preview = preview_seal(app.state::<AppState>())?;
    let Some(to) = preview.to.clone() else {
        return Ok(MailResult {
            opened: false,
            instructions: Some(
                "This program has no email contact: use its intake or web form.".into(),
            ),
        });
    };
    if !preview.delivery.mailto {
        return Ok(MailResult {
            opened: false,
            instructions: preview.delivery.mailto_why_not,
        });
    }
    let reference = preview.reference.clone();
    let armored = blocking(move || sealed_text(&app, options, u64::MAX, None)).await?;
    let subject = export::EmailEnvelope {
        to: to.clone(),
        from: None,
        reference: Some(reference),
    }
    .subject();
    match export::mailto(&to, &subject, &armored, MAILTO_MAX) {
        Some(url) => {
            open::that_detached(&url).map_err(|e| {
                CommandError::new(ErrorCode::Io, format!("cannot open the mail client: {e}"))
            })?;
            Ok(MailResult {
                opened: true,
                instructions: None,
            })
        }
        None => Ok(MailResult {
            opened: false,
            instructions: delivery_options(u64::MAX).mailto_why_not,
        }),
    }
}

/// The program's own policy page, when it is an https URL (the only kind opened).
pub(crate) fn policy_link(program: &Program) -> Result<String> {
    let url = program.policy_url.clone().ok_or_else(|| {
        CommandError::new(
            ErrorCode::NotFound,
            format!("program {} has no policy URL", program.id),
        )
    })?;
    match tauri::Url::parse(&url) {
        Ok(u) if u.scheme() == "https" && u.host_str().is_some() => Ok(u.to_string()),
        _ => Err(CommandError::new(
            ErrorCode::InvalidInput,
            format!("the policy URL {url} is not an https address, so it is not opened"),
        )),
    }
}

/// Opens the program's own policy page in the browser. The URL is the stored program's, never
/// one from the webview (which has no opener permission).
#[tauri::command]
pub fn open_policy(state: State<'_, AppState>, program_id: String) -> Result<String> {
    let program = state.store.program(&program_id)?;
    let url = policy_link(&program)?;
    open::that_detached(&url)
        .map_err(|e| CommandError::new(ErrorCode::Io, format!("cannot open a browser: {e}")))?;
    Ok(url)
}

/// Cancels the seal running under `op`; its partial output is removed.
#[tauri::command]
pub fn cancel_seal(state: State<'_, AppState>, op: u32) -> bool {
    state.cancel(op)
}

/// Runs blocking work off the async runtime's threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| CommandError::new(ErrorCode::Internal, e))?
}

fn app_settings(state: &AppState, settings: Settings) -> AppSettings {
    AppSettings {
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
    let mut s = state.store.settings()?;
    s.theme = theme;
    state.store.save_settings(&s)?;
    Ok(app_settings(&state, s))
}

/// The file token of a file dropped on the window, registered by the drop handler.
pub fn register_drop(state: &AppState, paths: Vec<PathBuf>) -> Vec<PickedFile> {
    paths
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| state.files.register(p, Purpose::Read))
        .collect()
}

/// Seals the draft and submits it to its program's intake: through the outbox, with retries for
/// a minute; unreachable → queued (`queued` set), never lost. The receipt is kept in the data
/// directory the CLI shares (`embargo status`).
#[tauri::command]
pub async fn submit_report<R: Runtime>(
    app: AppHandle<R>,
    options: SealOptions,
) -> Result<SubmitResult> {
    use embargo_core::deliver::{self, SubmitError, SubmitOptions};
    blocking(move || {
        let state = app.state::<AppState>();
        let (draft, attachments, signer) = seal_inputs(&state, &options)?;
        let job = app_job(&draft, &attachments, signer.as_ref(), Delivery::Binary);
        let net = embargo_core::net::NetConfig::from_env()
            .map_err(|e| CommandError::new(ErrorCode::InvalidInput, e))?;
        let on_retry = |_: &embargo_core::deliver::client::IntakeError, _: std::time::Duration| {};
        let opts = SubmitOptions {
            intake: None,
            retry_for: std::time::Duration::from_secs(60),
            net,
            upload: None,
            on_retry: &on_retry,
        };
        let result =
            embargo_core::net::block_on(deliver::submit(&state.store, job, opts, &mut |_, _| true))
                .map_err(|e| CommandError::new(ErrorCode::Internal, e))?;
        match result {
            Ok(s) => Ok(SubmitResult {
                receipt: Some(s.receipt),
                queued: None,
            }),
            Err(SubmitError::Queued { id, source }) => Ok(SubmitResult {
                receipt: None,
                queued: Some(format!("{source} (kept in the outbox as {id})")),
            }),
            Err(SubmitError::NoIntake { program }) => Err(CommandError::new(
                ErrorCode::InvalidInput,
                format!("program {program} has no intake endpoint"),
            )
            .hint("Export the report and email it instead.")),
            Err(SubmitError::Seal(e)) => Err(e.into()),
            Err(e) => Err(CommandError::new(ErrorCode::Network, e)),
        }
    })
    .await
}

/// Outbox and receipts, readable when the vault is unlocked (they are encrypted to the identity
/// when there is one).
fn records(state: &AppState) -> Result<embargo_core::deliver::records::Records> {
    let records = embargo_core::deliver::records::Records::of(&state.store);
    let unlocked = {
        let mut inner = state.lock();
        inner.expire();
        inner.unlocked.clone()
    };
    match unlocked {
        Some(pw) => Ok(records.with_passphrase(pw)),
        None if records.has_encrypted() => Err(CommandError::new(
            ErrorCode::PassphraseRequired,
            "your receipts are encrypted to your identity and the vault is locked",
        )
        .hint("Unlock it on the Drafts screen.")),
        None => Ok(records),
    }
}

/// The reports submitted from this data directory (receipts) and those waiting in the outbox.
#[tauri::command]
pub fn list_sent(state: State<'_, AppState>) -> Result<SentList> {
    let records = records(&state)?;
    let (mut receipts, broken_r) = records.receipts_all()?;
    let (pending, broken_p) = records.pending()?;
    receipts.sort_by(|a, b| b.received_at.cmp(&a.received_at));
    Ok(SentList {
        receipts,
        pending,
        broken: broken_r
            .iter()
            .chain(broken_p.iter())
            .map(|e| e.to_string())
            .collect(),
    })
}

/// Asks the intake for a receipt's status. Replies are counted here; they are encrypted to the
/// researcher's key and read with `embargo status`.
#[tauri::command]
pub async fn report_status(state: State<'_, AppState>, receipt: String) -> Result<StatusView> {
    let records = records(&state)?;
    let (all, _) = records.receipts_all()?;
    let record = all
        .into_iter()
        .find(|r| r.receipt == receipt)
        .ok_or_else(|| CommandError::new(ErrorCode::NotFound, format!("no receipt {receipt}")))?;
    blocking(move || {
        let net = embargo_core::net::NetConfig::from_env()
            .map_err(|e| CommandError::new(ErrorCode::InvalidInput, e))?;
        let st = embargo_core::net::block_on(embargo_core::deliver::report_state(&record, &net))
            .map_err(|e| CommandError::new(ErrorCode::Internal, e))?
            .map_err(|e| CommandError::new(ErrorCode::Network, e))?;
        Ok(StatusView {
            receipt: st.receipt,
            status: st.status,
            updated_at: st.updated_at,
            replies: st.replies.len() as u32,
        })
    })
    .await
}
