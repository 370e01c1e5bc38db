//! The Review & seal screen: exactly what will be sent and who signs it, then the ways out —
//! submit to the program's intake (through the outbox), export `.eml` / `.asc` with the "Send
//! it" instructions, the armored text for the clipboard, a mail link for short reports.

use std::sync::atomic::Ordering;

use embargo_core::bundle::Attachment;
use embargo_core::export::{self, COPY_MAX};
use embargo_core::keys::{self, Signer};
use embargo_core::openpgp::crypto::Password;
use embargo_core::openpgp::Cert;
use embargo_core::render;
use embargo_core::report::Report;
use embargo_core::usecase::{self, Delivery, ExportKind, SealJob, SignWith, SigningPlan};
use tauri::{AppHandle, Emitter, Manager, Runtime, State};
use zeroize::Zeroizing;

use super::report::views_of;
use super::{blocking, net_config, Result, KEY_FILTERS};
use crate::dto::*;
use crate::error::{CommandError, ErrorCode};
use crate::state::{AppState, LastExport};

fn key_view(cert: &Cert) -> SigningKeyView {
    SigningKeyView {
        key: keys::describe(cert),
        protected: cert
            .keys()
            .secret()
            .any(|k| !k.key().has_unencrypted_secret()),
    }
}

/// The researcher's secret key file, chosen in a native dialog (`None` when cancelled).
pub(crate) fn pick_secret_key(state: &AppState) -> Result<Option<std::path::PathBuf>> {
    Ok(state
        .picker()?
        .open("Your secret key", KEY_FILTERS, false)
        .pop())
}

/// Asks for a secret key file to sign with instead of the identity; only its public facts come
/// back. `None` when cancelled.
#[tauri::command]
pub async fn choose_signing_key(state: State<'_, AppState>) -> Result<Option<SigningKeyView>> {
    let Some(path) = pick_secret_key(&state)? else {
        return Ok(None);
    };
    let tsk = keys::read_secret_key(&path)?;
    let view = key_view(&tsk);
    state.lock().signing_key = Some(tsk);
    Ok(Some(view))
}

/// Forgets the key file: the identity signs again (when the credit is named).
#[tauri::command]
pub fn clear_signing_key(state: State<'_, AppState>) {
    state.lock().signing_key = None;
}

fn sign_with(sign: bool, key_file: Option<&Cert>) -> SignWith<'_> {
    match (sign, key_file) {
        (false, _) => SignWith::Nobody,
        (true, Some(k)) => SignWith::Key(k),
        (true, None) => SignWith::Default,
    }
}

/// Who signs, as Review shows it (the core's rule: the identity when the credit is named).
fn signing_view(state: &AppState, plan: &SigningPlan, key_file: Option<&Cert>) -> SigningView {
    let unlocked = {
        let mut inner = state.lock();
        inner.expire();
        inner.unlocked.is_some()
    };
    match plan {
        SigningPlan::Identity(cert) => SigningView {
            by: SignedBy::Identity,
            key: Some(keys::describe(cert)),
            unsigned_because: None,
            needs_unlock: !unlocked,
            needs_passphrase: false,
        },
        SigningPlan::KeyFile(_) => SigningView {
            by: SignedBy::KeyFile,
            key: key_file.map(keys::describe),
            unsigned_because: None,
            needs_unlock: false,
            needs_passphrase: key_file.is_some_and(|k| key_view(k).protected),
        },
        SigningPlan::Unsigned(why) => SigningView {
            by: SignedBy::Nobody,
            key: None,
            unsigned_because: Some(*why),
            needs_unlock: false,
            needs_passphrase: false,
        },
    }
}

fn delivery_options(armored_bytes: u64) -> DeliveryOptions {
    DeliveryOptions {
        armored_bytes,
        copy: armored_bytes <= COPY_MAX,
        mailto: export::fits_mailto(armored_bytes),
    }
}

/// Exactly what will be sent, to whom, and who signs it (with the signing switch `sign`).
#[tauri::command]
pub fn preview_seal(state: State<'_, AppState>, sign: bool) -> Result<SealPreview> {
    let (draft, attachments, key_file) = {
        let inner = state.lock();
        (
            inner.draft.clone(),
            inner.attachments.clone(),
            inner.signing_key.clone(),
        )
    };
    let plan = usecase::signing_plan(&state.store, &draft, sign_with(sign, key_file.as_ref()))?;
    let metas: Vec<_> = attachments
        .iter()
        .map(|h| h.attachment.meta.clone())
        .collect();
    let p = usecase::preview(&state.store, &draft, &metas, plan.cert())?;
    Ok(SealPreview {
        body_html: render::markdown_to_safe_html(&draft.body),
        recipients: p.recipients.iter().map(keys::describe).collect(),
        format: p.format,
        signing: signing_view(&state, &plan, key_file.as_ref()),
        key_file: key_file.as_ref().map(key_view),
        anonymous: draft.is_anonymous(),
        attachments: views_of(&attachments),
        subject: draft.title.clone(),
        to: p.to,
        reference: p.reference,
        delivery: delivery_options(p.armored_bytes),
        text: p.text,
    })
}

/// The draft, its attachments and the unlocked signer a seal needs: the identity with the
/// session's passphrase, or the key file with the passphrase typed for this seal.
fn seal_inputs(
    state: &AppState,
    options: &SealOptions,
) -> Result<(Report, Vec<Attachment>, Option<Signer>)> {
    let typed = options.passphrase.clone().map(Zeroizing::new);
    let (draft, attachments, key_file, unlocked) = {
        let mut inner = state.lock();
        inner.touch();
        (
            inner.draft.clone(),
            inner.attachments.clone(),
            inner.signing_key.clone(),
            inner.unlocked.clone(),
        )
    };
    let with = sign_with(options.sign, key_file.as_ref());
    let mut ask = |_: &str| match with {
        SignWith::Key(_) => typed
            .as_ref()
            .filter(|p| !p.is_empty())
            .map(|p| Password::from(p.as_str())),
        _ => unlocked.clone(),
    };
    let (_, signer) =
        usecase::unlock_signer(&state.store, &draft, with, &mut ask).map_err(|e| {
            match (&e, with) {
                (
                    embargo_core::vault::VaultError::Key(keys::KeyError::PassphraseRequired {
                        ..
                    }),
                    SignWith::Default,
                ) => CommandError::new(
                    ErrorCode::VaultLocked,
                    "your identity signs this report and the vault is locked",
                )
                .hint("Unlock it with your passphrase, or turn signing off."),
                _ => e.into(),
            }
        })?;
    let attachments: Vec<Attachment> = attachments.into_iter().map(|h| h.attachment).collect();
    Ok((draft, attachments, signer))
}

/// A seal as the app asks for it: to the program's pinned keys, never signing an anonymous
/// report, no encrypt-to-self, the format the keys advertise.
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
        reply_key: None,
    }
}

/// Runs `seal` (a core seal to a file) on the draft with the signing choice, emitting progress
/// and honouring `cancel_seal(op)`.
fn run_seal<R: Runtime, T>(
    app: &AppHandle<R>,
    options: SealOptions,
    delivery: Delivery,
    seal: impl FnOnce(
        &embargo_core::store::Store,
        SealJob<'_>,
        &mut embargo_core::seal::ProgressFn<'_>,
    ) -> std::result::Result<T, usecase::SealReportError>,
) -> Result<T> {
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
    let done = seal(&state.store, job, &mut progress)?;
    drop(op);
    Ok(done)
}

/// Asks where to save in a native dialog, then seals and writes `.eml` or `.asc` there,
/// records the export for Sent and says how to send it. `None` when the dialog was cancelled.
#[tauri::command]
pub async fn export_report<R: Runtime>(
    app: AppHandle<R>,
    format: ExportKind,
    options: SealOptions,
) -> Result<Option<ExportResult>> {
    let filter: crate::picker::Filter = match format {
        ExportKind::Eml => ("Email message", &["eml"]),
        ExportKind::Asc => ("ASCII-armored OpenPGP message", &["asc"]),
    };
    let state = app.state::<AppState>();
    let Some(path) = state.picker()?.save(
        "Save the sealed report",
        &format!("report.{}", format.extension()),
        &[filter],
    ) else {
        return Ok(None);
    };
    let delivery = match format {
        ExportKind::Eml => Delivery::Email {
            to: None,
            from: None,
        },
        ExportKind::Asc => Delivery::Armor,
    };
    let (handle, target) = (app.clone(), path.clone());
    let result = blocking(move || {
        let exported = run_seal(&handle, options, delivery, |store, job, progress| {
            usecase::export_report(store, job, &target, true, progress)
        })?;
        if let Some(e) = exported.unrecorded {
            return Err(e.into());
        }
        let send_it = exported.send_it.ok_or_else(|| {
            CommandError::new(ErrorCode::Internal, "an export for mail has no Send it")
        })?;
        handle.state::<AppState>().lock().last_export = Some(LastExport {
            path: target.clone(),
            send_it: send_it.clone(),
        });
        let sealed = exported.outcome.sealed;
        Ok(ExportResult {
            path: target.display().to_string(),
            format: sealed.format,
            recipients: sealed.recipients,
            signer: sealed.signer,
            bytes: exported.bytes,
            reference: sealed.reference,
            send_it,
        })
    })
    .await?;
    let _ = app.emit("seal-finished", &result);
    Ok(Some(result))
}

/// Opens what "Send it" names for the last export: the `.eml` itself in the mail client, or the
/// core's mail link (with the armored text as body when it fits, else address and subject
/// only, the file to attach). The webview names nothing: the backend opens only what it wrote
/// or built. Returns what was opened.
#[tauri::command]
pub fn open_export(state: State<'_, AppState>) -> Result<String> {
    let last = state.lock().last_export.clone().ok_or_else(|| {
        CommandError::new(ErrorCode::NotFound, "nothing was exported in this session")
    })?;
    let target = match &last.send_it.way {
        usecase::SendWay::OpenEml => last.path.display().to_string(),
        usecase::SendWay::InBody { mailto } | usecase::SendWay::Attach { mailto } => mailto.clone(),
        usecase::SendWay::NoAddress { .. } => {
            return Err(CommandError::new(
                ErrorCode::InvalidInput,
                "this program has no email address",
            )
            .hint("Send the file through the contact or form the program publishes."))
        }
    };
    state.open(&target)?;
    Ok(target)
}

/// Seals into memory for the clipboard or a mail link, when the estimate says it fits.
fn sealed_text<R: Runtime>(app: &AppHandle<R>, options: SealOptions, max: u64) -> Result<String> {
    let preview = preview_seal(app.state::<AppState>(), options.sign)?;
    if preview.delivery.armored_bytes > max {
        return Err(CommandError::new(
            ErrorCode::TooLarge,
            format!(
                "the sealed report would be about {} KB",
                preview.delivery.armored_bytes.div_ceil(1000)
            ),
        ));
    }
    // Sealed into a private temporary file: only ciphertext touches the disk.
    let dir = tempfile::tempdir().map_err(|e| CommandError::new(ErrorCode::Io, e))?;
    let path = dir.path().join("report.asc");
    // Not recorded as an export: what leaves is the text the researcher copies.
    run_seal(app, options, Delivery::Armor, |store, job, progress| {
        usecase::seal_report(store, job, &path, true, progress)
    })?;
    std::fs::read_to_string(&path).map_err(|e| CommandError::new(ErrorCode::Io, e))
}

/// The sealed report as armored text (for the clipboard or webmail), when it fits.
#[tauri::command]
pub async fn armored_report<R: Runtime>(app: AppHandle<R>, options: SealOptions) -> Result<String> {
    blocking(move || sealed_text(&app, options, COPY_MAX)).await
}

/// Opens the mail client with the armored report as the body when it fits in a mail link;
/// otherwise says so without sealing anything (the UI offers export and "Send it").
#[tauri::command]
pub async fn open_mail_client<R: Runtime>(
    app: AppHandle<R>,
    options: SealOptions,
) -> Result<MailResult> {
    let preview = preview_seal(app.state::<AppState>(), options.sign)?;
    let Some(to) = preview.to.clone() else {
        return Ok(MailResult {
            opened: None,
            too_large: false,
            no_address: true,
        });
    };
    if !preview.delivery.mailto {
        return Ok(MailResult {
            opened: None,
            too_large: true,
            no_address: false,
        });
    }
    let reference = preview.reference.clone();
    let handle = app.clone();
    let armored = blocking(move || sealed_text(&handle, options, u64::MAX)).await?;
    let subject = format!("{} {reference}", export::OUTER_SUBJECT);
    match export::mailto(&to, &subject, &armored, export::MAILTO_MAX) {
        Some(url) => {
            app.state::<AppState>().open(&url)?;
            Ok(MailResult {
                opened: Some(url),
                too_large: false,
                no_address: false,
            })
        }
        None => Ok(MailResult {
            opened: None,
            too_large: true,
            no_address: false,
        }),
    }
}

/// Cancels the seal running under `op`; its partial output is removed.
#[tauri::command]
pub fn cancel_seal(state: State<'_, AppState>, op: u32) -> bool {
    state.cancel(op)
}

/// Seals the draft and submits it to its program's intake through the outbox, retrying for
/// the settings' window; unreachable → queued (the outbox then retries by itself), never lost.
/// The receipt is kept in the data directory the CLI shares.
#[tauri::command]
pub async fn submit_report<R: Runtime>(
    app: AppHandle<R>,
    options: SealOptions,
) -> Result<SubmitResult> {
    use usecase::{SubmitError, SubmitOptions};
    let handle = app.clone();
    let out = blocking(move || {
        let state = handle.state::<AppState>();
        let (draft, attachments, signer) = seal_inputs(&state, &options)?;
        let job = app_job(&draft, &attachments, signer.as_ref(), Delivery::Binary);
        let on_retry = |_: &embargo_core::deliver::client::IntakeError, _: std::time::Duration| {};
        let opts = SubmitOptions {
            intake: None,
            retry_for: usecase::settings::retry_for(&state.store, None)?,
            net: net_config(&state)?,
            upload: None,
            on_retry: &on_retry,
        };
        // The outbox's own round waits while a submission sends, so one report is never sent
        // twice at once.
        let _sending = state.outbox_guard();
        let result =
            embargo_core::net::block_on(usecase::submit(&state.store, job, opts, &mut |_, _| {
                true
            }))?;
        let out = match result {
            Ok(s) => SubmitResult {
                receipt: Some(s.receipt),
                queued: None,
            },
            Err(SubmitError::Queued { id, source }) => SubmitResult {
                receipt: None,
                queued: Some(QueuedView {
                    id,
                    reason: source.to_string(),
                }),
            },
            Err(e) => return Err(e.into()),
        };
        Ok(out)
    })
    .await?;
    crate::outbox::changed(&app);
    Ok(out)
}
