//! Programs and their team keys: pin a key after the user typed its fingerprint, record what
//! discovery found, import a SECURITY.md.

use std::path::Path;

use openpgp::Cert;
use sequoia_openpgp as openpgp;

use crate::ids::{normalize_fingerprint, InvalidFingerprint, ProgramId};
use crate::keys::{self, KeyError};
use crate::program::{Program, ProgramError};
use crate::store::{Store, StoreError};

/// Why a team key could not be pinned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// What the user typed is not a fingerprint.
    #[error(transparent)]
    InvalidFingerprint(#[from] InvalidFingerprint),
    /// What the user typed is not this key's fingerprint.
    #[error("the key has fingerprint {actual}, not the {typed} you typed")]
    Mismatch {
        /// What was typed, grouped.
        typed: String,
        /// The key's, grouped.
        actual: String,
    },
    /// A secret key was offered as the team's key.
    #[error("{fingerprint} is a secret key; a team key for encryption is their public key")]
    SecretKey {
        /// Its fingerprint.
        fingerprint: String,
    },
    /// The key cannot be encrypted to.
    #[error(transparent)]
    Unusable(#[from] KeyError),
    /// Another key is pinned, and replacing it was not asked for.
    #[error("program {program} has pinned key {pinned}; {offered} is a different key")]
    KeyChanged {
        /// Program id.
        program: String,
        /// The pinned fingerprint.
        pinned: String,
        /// The new fingerprint.
        offered: String,
    },
    /// No key with this fingerprint was found or offered for the program.
    #[error("no key offered for program `{program}` has the fingerprint {typed}")]
    NotACandidate {
        /// The program id.
        program: String,
        /// What was typed, grouped.
        typed: String,
    },
    /// The data directory could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Pins a team key for a program after the user typed (or pasted) the fingerprint the team
/// published: compared here, ignoring spaces and case, never on trust. A different primary key
/// than a pinned one needs `mode` to say replace or add — never a silent swap.
pub fn confirm_team_key(
    store: &Store,
    program_id: &str,
    cert: &Cert,
    typed_fingerprint: &str,
    source: &str,
    mode: crate::store::PinMode,
) -> Result<Program, PinError> {
    let typed = normalize_fingerprint(typed_fingerprint)?;
    let actual = cert.fingerprint().to_hex();
    if typed != actual {
        return Err(PinError::Mismatch {
            typed: keys::grouped_hex(&typed),
            actual: keys::grouped(&cert.fingerprint()),
        });
    }
    if cert.is_tsk() {
        return Err(PinError::SecretKey {
            fingerprint: keys::grouped(&cert.fingerprint()),
        });
    }
    keys::encryption_keys(cert, &keys::policy())?;
    match store.pin_team_key(program_id, cert, source, mode) {
        Ok(p) => Ok(p),
        Err(StoreError::KeyChanged {
            program,
            pinned,
            offered,
        }) => Err(PinError::KeyChanged {
            program,
            pinned,
            offered,
        }),
        Err(e) => Err(e.into()),
    }
}

pub use crate::discover::INTAKE_FIELD;

/// What discovering a program did to the data directory.
#[derive(Debug)]
pub struct DiscoveredProgram {
    /// The program as saved.
    pub program: Program,
    /// Whether it was made now.
    pub created: bool,
    /// Candidates whose primary key is already pinned (their new subkeys and expiry merged).
    pub merged: Vec<String>,
}

/// Why a discovery could not be recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoverProgramError {
    /// Discovery found a different primary key than the pinned one. The program is marked:
    /// `seal` refuses until the user pins again.
    #[error("KEY CHANGED for program `{program}`: discovery found {offered}, but {pinned} is pinned; sealing is refused until you compare fingerprints and pin again")]
    KeyChanged {
        /// The program id.
        program: String,
        /// The pinned fingerprint(s).
        pinned: String,
        /// The one found.
        offered: String,
    },
    /// The data directory could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records a discovery as a program (made when new, updated when known): contacts, policy,
/// intake endpoint and the candidates' keys (stored, not trusted: pinning takes the fingerprint
/// the user typed). A different primary key than a pinned one marks the program and is an
/// error; the same primary with new subkeys or a new expiry merges silently.
pub fn record_discovery(
    store: &Store,
    found: &crate::discover::Discovery,
    id: Option<&str>,
) -> Result<DiscoveredProgram, DiscoverProgramError> {
    let domain = found.target.domain().to_owned();
    let id = match id {
        Some(i) => ProgramId::parse(i).map_err(StoreError::from)?,
        None => ProgramId::derive(&domain).map_err(StoreError::from)?,
    };
    let existing = match store.program(id.as_str()) {
        Ok(p) => Some(p),
        Err(StoreError::Program(ProgramError::Unknown(_))) => None,
        Err(e) => return Err(e.into()),
    };
    let created = existing.is_none();
    let mut program = existing.unwrap_or_else(|| Program {
        id: id.to_string(),
        name: domain.clone(),
        ..Program::default()
    });
    program.domain = Some(domain);
    if let Some(st) = &found.security_txt {
        let st = &st.parsed;
        if program.contacts.is_empty() {
            program.contacts = st.contacts.clone();
        }
        if program.policy_url.is_none() {
            program.policy_url = st.policy.first().cloned();
        }
        if program.intake_url.is_none() {
            // Vetted by discovery: https, and not on this machine or its network.
            program.intake_url = found.intake.as_ref().map(|u| u.to_string());
        }
    }
    if program.contacts.is_empty() {
        if let Some(c) = found.contact() {
            program.contacts.push(format!("mailto:{c}"));
        }
    }
    let pinned: Vec<String> = program
        .team_keys
        .iter()
        .map(|k| k.fingerprint.clone())
        .collect();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut merged = Vec::new();
    let mut changed = None;
    for c in found.usable() {
        store.save_cert(&c.cert)?;
        if pinned.contains(&c.fingerprint) {
            merged.push(c.fingerprint.clone());
            continue;
        }
        let sources: Vec<String> = c.sources.iter().map(|s| s.as_str().to_owned()).collect();
        if !pinned.is_empty() && changed.is_none() {
            changed = Some(crate::program::KeyAlarm {
                pinned: pinned.clone(),
                offered: c.fingerprint.clone(),
                sources: sources.clone(),
                seen_at: now.clone(),
            });
        }
        match program
            .candidates
            .iter_mut()
            .find(|k| k.fingerprint == c.fingerprint)
        {
            Some(k) => k.sources = sources,
            None => program.candidates.push(crate::program::Candidate {
                fingerprint: c.fingerprint.clone(),
                sources,
                found_at: now.clone(),
            }),
        }
    }
    if let Some(alarm) = changed {
        let err = DiscoverProgramError::KeyChanged {
            program: program.id.clone(),
            pinned: alarm.pinned.join(", "),
            offered: alarm.offered.clone(),
        };
        program.key_alarm = Some(alarm);
        store.save_program(&program)?;
        return Err(err);
    }
    store.save_program(&program)?;
    Ok(DiscoveredProgram {
        program,
        created,
        merged,
    })
}

/// How a pin records where a discovered key came from: `discovery:security.txt+wkd`.
pub fn discovery_source<S: AsRef<str>>(sources: &[S]) -> String {
    let names: Vec<&str> = sources.iter().map(AsRef::as_ref).collect();
    if names.is_empty() {
        "discovery".to_owned()
    } else {
        format!("discovery:{}", names.join("+"))
    }
}

/// The stored certificate of a candidate discovery found for a program, by the fingerprint the
/// user typed (which must be one of the program's candidates or pinned keys), with the source
/// a pin records for it.
pub fn candidate_cert(
    store: &Store,
    program: &Program,
    typed: &str,
) -> Result<(Cert, String), PinError> {
    let fingerprint = normalize_fingerprint(typed)?;
    let known = program
        .candidates
        .iter()
        .any(|c| c.fingerprint == fingerprint)
        || program
            .team_keys
            .iter()
            .any(|k| k.fingerprint == fingerprint)
        || program
            .key_alarm
            .as_ref()
            .is_some_and(|a| a.offered == fingerprint);
    if !known {
        return Err(PinError::NotACandidate {
            program: program.id.clone(),
            typed: keys::grouped_hex(&fingerprint),
        });
    }
    let sources: Vec<String> = program
        .candidates
        .iter()
        .find(|c| c.fingerprint == fingerprint)
        .map(|c| c.sources.clone())
        .or_else(|| {
            program
                .key_alarm
                .as_ref()
                .filter(|a| a.offered == fingerprint)
                .map(|a| a.sources.clone())
        })
        .unwrap_or_default();
    Ok((store.cert(&fingerprint)?, pin_source(&sources)))
}

/// What a pin records as a key's source: the candidate's own source when the user offered it
/// (`pasted`, `file:PATH`), else the discovery sources that vouched for it.
pub fn pin_source(sources: &[String]) -> String {
    match sources {
        [one] if one == PASTED || one.starts_with("file:") => one.clone(),
        _ => discovery_source(sources),
    }
}

/// The source of a key the user pasted.
pub const PASTED: &str = "pasted";

/// A key offered for a program (discovered, pasted, or from a file), with the facts the
/// comparison shows. Nothing is trusted until the user types the published fingerprint.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OfferedKey {
    /// The key.
    pub key: keys::KeyInfo,
    /// Every source that vouched for it (`security.txt`, `wkd`, `vks`, `proton`, `pasted`,
    /// `file:PATH`).
    pub sources: Vec<String>,
    /// Two or more independent discovery sources served this same key.
    pub agreed: bool,
    /// The first pinned fingerprint, if any.
    pub pinned: Option<String>,
    /// A key is pinned and this primary key is not among them: replacing needs care.
    pub differs_from_pinned: bool,
}

/// The trust facts of `cert` offered for `program` by `sources`.
pub fn offered_key(program: &Program, cert: &Cert, sources: &[String]) -> OfferedKey {
    let fpr = cert.fingerprint().to_hex();
    let pinned: Vec<&str> = program
        .team_keys
        .iter()
        .map(|k| k.fingerprint.as_str())
        .collect();
    let discovered = sources
        .iter()
        .filter(|s| *s != PASTED && !s.starts_with("file:"))
        .count();
    OfferedKey {
        key: keys::describe(cert),
        sources: sources.to_vec(),
        agreed: discovered >= 2,
        pinned: pinned.first().map(|p| (*p).to_owned()),
        differs_from_pinned: !pinned.is_empty() && !pinned.contains(&fpr.as_str()),
    }
}

/// Offers a key the user pasted or chose for a program: stored (public parts only) and listed
/// among the program's candidates, so that pinning takes it by the fingerprint the user types,
/// as it takes a discovered one. A secret key is refused: a team key is their public key. A key
/// that cannot be encrypted to comes back with its reason ([`keys::KeyInfo::problem`]) and is
/// not offered.
pub fn offer_key(
    store: &Store,
    program_id: &str,
    cert: &Cert,
    source: &str,
) -> Result<OfferedKey, PinError> {
    if cert.is_tsk() {
        return Err(PinError::SecretKey {
            fingerprint: keys::grouped(&cert.fingerprint()),
        });
    }
    let mut program = store.program(program_id)?;
    let sources = vec![source.to_owned()];
    // A key that cannot be encrypted to is shown with its reason and never becomes a candidate.
    if keys::encryption_keys(cert, &keys::policy()).is_err() {
        return Ok(offered_key(&program, cert, &sources));
    }
    store.save_cert(cert)?;
    let fpr = cert.fingerprint().to_hex();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match program.candidates.iter_mut().find(|c| c.fingerprint == fpr) {
        Some(c) => c.sources.clone_from(&sources),
        None => program.candidates.push(crate::program::Candidate {
            fingerprint: fpr,
            sources: sources.clone(),
            found_at: now,
        }),
    }
    store.save_program(&program)?;
    Ok(offered_key(&program, cert, &sources))
}

/// The keys offered for a program and not pinned yet (discovered, pasted or from a file), each
/// with its trust facts; a stored cert that is missing is skipped.
pub fn offered_keys(store: &Store, program: &Program) -> Vec<OfferedKey> {
    program
        .candidates
        .iter()
        .filter(|c| {
            !program
                .team_keys
                .iter()
                .any(|k| k.fingerprint == c.fingerprint)
        })
        .filter_map(|c| {
            let cert = store.cert(&c.fingerprint).ok()?;
            Some(offered_key(program, &cert, &c.sources))
        })
        .collect()
}

/// The domain discovery looks at for a program: the one it was discovered from, else its
/// email contact's domain (Novu: `novu.co` from security@novu.co).
pub fn discovery_domain(program: &Program) -> Option<String> {
    program.domain.clone().or_else(|| {
        program
            .email()
            .and_then(|a| a.rsplit_once('@'))
            .map(|(_, d)| d.trim().to_ascii_lowercase())
            .filter(|d| d.contains('.'))
    })
}

/// The "please publish a key" message to a program's contact: it says nothing of the finding.
pub fn key_request(program: &Program) -> crate::discover::KeyRequest {
    crate::discover::key_request(
        program
            .email()
            .or_else(|| program.contacts.first().map(String::as_str))
            .unwrap_or_default(),
    )
}

/// Why a SECURITY.md could not become a program.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportProgramError {
    /// The file cannot be read (missing, not a regular file, over the size limit).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("{path} is not UTF-8 text")]
    NotText {
        /// The file.
        path: String,
    },
    /// The file could not be read as a policy.
    #[error(transparent)]
    Import(#[from] crate::policy_md::ImportError),
    /// A program with that id exists (saved or built in).
    #[error("a program `{0}` already exists")]
    Exists(String),
    /// The data directory could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads a SECURITY.md file (capped, UTF-8) and imports it as [`import_program`] does, the
/// file's path as its source.
pub fn import_program_file(
    store: &Store,
    path: &Path,
    id: Option<&str>,
) -> Result<crate::policy_md::ImportedProgram, ImportProgramError> {
    let shown = path.display().to_string();
    let bytes = crate::fsutil::read_capped(path, crate::policy_md::MAX_IMPORT_BYTES as u64 + 1)
        .map_err(|source| ImportProgramError::Read {
            path: shown.clone(),
            source,
        })?;
    let text = String::from_utf8(bytes).map_err(|_| ImportProgramError::NotText {
        path: shown.clone(),
    })?;
    import_program(store, &text, id, &shown)
}

/// Imports a SECURITY.md as a new program (never over an existing one) and saves it. The id
/// defaults to the file's directory name (`programs/novu/SECURITY.md` → `novu`), else to the
/// policy's title. What could not be mapped is returned for the user to read.
pub fn import_program(
    store: &Store,
    markdown: &str,
    id: Option<&str>,
    source: &str,
) -> Result<crate::policy_md::ImportedProgram, ImportProgramError> {
    let id = match id {
        Some(i) => ProgramId::parse(i).map_err(StoreError::from)?,
        None => {
            let dir = Path::new(source)
                .parent()
                .and_then(|d| d.file_name())
                .map(|d| d.to_string_lossy().into_owned())
                .filter(|d| !d.is_empty() && d != "." && d != "..")
                .unwrap_or_else(|| "imported".to_owned());
            ProgramId::derive(&dir).map_err(StoreError::from)?
        }
    };
    if store.has_program(&id) {
        return Err(ImportProgramError::Exists(id.to_string()));
    }
    let imported = crate::policy_md::import_security_md(markdown, id.as_str(), Some(source))?;
    store.save_program(&imported.program)?;
    Ok(imported)
}
