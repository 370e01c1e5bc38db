//! The Programs screen: the programs, their policy, discovery, the team keys offered and
//! pinned, the key request and the policy page.

use embargo_core::discover::{self, DiscoveryConfig, Target};
use embargo_core::keys;
use embargo_core::net::{self, HttpTransport};
use embargo_core::program::Program;
use embargo_core::store::PinMode;
use embargo_core::usecase;
use tauri::{AppHandle, Manager, Runtime, State};

use super::{blocking, net_config, Result, KEY_FILTERS};
use crate::dto::{DiscoveredView, ImportedView, KeyRequestView, ProgramList, ProgramView};
use crate::error::{CommandError, ErrorCode};
use crate::picker::Purpose;
use crate::state::AppState;

pub(crate) fn program_view(state: &AppState, p: Program) -> Result<ProgramView> {
    let team_key = state.store.team_certs(&p)?.first().map(keys::describe);
    Ok(ProgramView {
        email: p.email().map(str::to_owned),
        builtin: Program::builtin(&p.id).is_ok(),
        trust: p.trust(),
        team_key,
        offered: usecase::offered_keys(&state.store, &p),
        discovery_domain: usecase::discovery_domain(&p),
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

/// One program's policy, its pinned keys and the keys offered for it.
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

async fn discover_into(
    state: &AppState,
    target: Target,
    program_id: Option<String>,
) -> Result<DiscoveredView> {
    let cfg = DiscoveryConfig::from_env()?;
    let net_cfg = net_config(state)?;
    let found = blocking(move || {
        let transport = HttpTransport::new(&net_cfg)?;
        Ok(net::block_on(discover::discover(
            &transport, &target, &cfg,
        ))?)
    })
    .await?;
    let done = usecase::record_discovery(&state.store, &found, program_id.as_deref())?;
    let view = program_view(state, done.program)?;
    let key_request = view
        .offered
        .is_empty()
        .then(|| KeyRequestView::from(discover::key_request(&found.contact().unwrap_or_default())))
        .filter(|_| view.team_key.is_none());
    Ok(DiscoveredView {
        created: done.created,
        candidates: view.offered.clone(),
        problems: found.problems.iter().map(|p| p.to_string()).collect(),
        key_request,
        program: view,
    })
}

/// "Add program" from a domain or an address: discovery (security.txt, WKD, key servers) over
/// HTTPS, recorded as a program with its candidates; nothing is trusted until the user types
/// the published fingerprint (`confirm_team_key`).
#[tauri::command]
pub async fn discover_program(
    state: State<'_, AppState>,
    domain: String,
) -> Result<DiscoveredView> {
    let target =
        Target::parse(&domain).map_err(|e| CommandError::new(ErrorCode::InvalidInput, e))?;
    discover_into(&state, target, None).await
}

/// Discovery for a program the user already has (Novu, built in, publishes no key in its
/// policy): on its own domain, the candidates merged into that program, never a new one.
#[tauri::command]
pub async fn discover_program_keys(
    state: State<'_, AppState>,
    program_id: String,
) -> Result<DiscoveredView> {
    let program = state.store.program(&program_id)?;
    let domain = usecase::discovery_domain(&program).ok_or_else(|| {
        CommandError::new(
            ErrorCode::InvalidInput,
            format!(
                "program {} names no domain or email address to look at",
                program.name
            ),
        )
        .hint("Paste the team's key, or import it from a file.")
    })?;
    let target =
        Target::parse(&domain).map_err(|e| CommandError::new(ErrorCode::InvalidInput, e))?;
    discover_into(&state, target, Some(program.id)).await
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
    let imported = usecase::import_program_file(&state.store, &path, None)?;
    Ok(Some(ImportedView {
        unmapped: imported
            .unmapped
            .iter()
            .map(|u| format!("[{}] {}", u.section, u.text))
            .collect(),
        program: program_view(&state, imported.program)?,
    }))
}

/// Offers a team key from pasted armor: shown, stored as a candidate, trusted only once the
/// user types the fingerprint the team published.
#[tauri::command]
pub fn inspect_team_key(
    state: State<'_, AppState>,
    program_id: String,
    armored: String,
) -> Result<usecase::OfferedKey> {
    let cert = keys::parse_certs(armored.as_bytes(), "the pasted text")?.remove(0);
    Ok(usecase::offer_key(
        &state.store,
        &program_id,
        &cert,
        usecase::PASTED,
    )?)
}

/// Offers the team key in a file dropped on the window (`dropped`: its token), or else asks for
/// one in a native dialog; `None` when cancelled.
#[tauri::command]
pub async fn choose_team_key_file(
    state: State<'_, AppState>,
    program_id: String,
    dropped: Option<u64>,
) -> Result<Option<usecase::OfferedKey>> {
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
    Ok(Some(usecase::offer_key(
        &state.store,
        &program_id,
        &cert,
        &source,
    )?))
}

/// Pins `candidate` (the offered key on screen, by its fingerprint) once the fingerprint the
/// user typed matches it — compared in the core, ignoring spaces and case. Replacing another
/// pinned key needs `replace` as well.
#[tauri::command]
pub fn confirm_team_key(
    state: State<'_, AppState>,
    program_id: String,
    candidate: String,
    typed_fingerprint: String,
    replace: bool,
) -> Result<ProgramView> {
    let program = state.store.program(&program_id)?;
    let (cert, source) = usecase::candidate_cert(&state.store, &program, &candidate)?;
    let mode = if replace {
        PinMode::Replace
    } else {
        PinMode::Only
    };
    let program = usecase::confirm_team_key(
        &state.store,
        &program_id,
        &cert,
        &typed_fingerprint,
        &source,
        mode,
    )?;
    program_view(&state, program)
}

/// The "please publish a key" message for a program, which says nothing of the finding.
#[tauri::command]
pub fn request_key(state: State<'_, AppState>, program_id: String) -> Result<KeyRequestView> {
    let program = state.store.program(&program_id)?;
    Ok(usecase::key_request(&program).into())
}

/// Opens the mail client on the key request to the program's contact; the mailto URL is the
/// core's, built from the stored program. Returns the URL opened.
#[tauri::command]
pub fn open_key_request<R: Runtime>(app: AppHandle<R>, program_id: String) -> Result<String> {
    let state = app.state::<AppState>();
    let program = state.store.program(&program_id)?;
    let url = usecase::key_request(&program).mailto.ok_or_else(|| {
        CommandError::new(
            ErrorCode::InvalidInput,
            format!("program {} has no email contact", program.name),
        )
        .hint("Copy the message and send it through the contact the program publishes.")
    })?;
    state.open(&url)?;
    Ok(url)
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
    state.open(&url)?;
    Ok(url)
}
