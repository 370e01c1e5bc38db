//! The Report screen: the draft and the core's findings about it, the class taxonomy, CVSS
//! scores, the Markdown preview, and the attachments (scrubbed when added).

use std::path::PathBuf;

use embargo_core::program::{Class, CLASSES};
use embargo_core::render;
use embargo_core::report::{parse_cvss, CvssScore, Report};
use embargo_core::usecase;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

use super::{blocking, Result};
use crate::dto::{AttachmentView, DraftStatus};
use crate::error::{CommandError, ErrorCode};
use crate::picker::Purpose;
use crate::state::{AppState, Held};

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

pub(crate) fn views_of(held: &[Held]) -> Vec<AttachmentView> {
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
    Ok(usecase::prepare_attachment(path, keep_metadata)?)
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
    if paths.is_empty() {
        // Cancelled: nothing changes.
        return Ok(attachment_views(&state));
    }
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
