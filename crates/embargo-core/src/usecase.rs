//! The use cases both shells run, one function each: check a report against the store's
//! programs, resolve recipients, build the email envelope, confirm a team key, seal to a file,
//! open to a directory. The CLI and the app parse their input, call one of these, and present.

use std::fs::File;
use std::io;
use std::path::Path;

use openpgp::Cert;
use sequoia_openpgp as openpgp;

use crate::bundle::Attachment;
use crate::export::EmailEnvelope;
use crate::ids::{normalize_fingerprint, InvalidFingerprint, ProgramId};
use crate::keys::{self, KeyError, Signer};
use crate::open::{OpenError, OpenRequest, Opened};
use crate::program::{Program, ProgramError};
use crate::reference::Reference;
use crate::report::{Finding, FindingCode, Report, ReportError};
use crate::seal::{self, OutputFormat, ProgressFn, SealError, SealRequest, Sealed};
use crate::store::{Store, StoreError};
use crate::text::{first_unsafe, Shown};

/// A report and everything `check` says about it.
#[derive(Debug)]
pub struct Checked {
    /// The report.
    pub report: Report,
    /// Its program, when the store has it.
    pub program: Option<Program>,
    /// Field errors, recommendations, and the program's scope and rules, in that order.
    pub findings: Vec<Finding>,
}

/// Why a report could not be checked at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The file is not a report.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The program's file in the data directory is broken (the error names the file).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Parses report text and checks it (see [`check`]). Structural problems of single fields are
/// findings; only text that is not a report at all is an error.
pub fn check_text(store: &Store, text: &str) -> Result<Checked, CheckError> {
    let (report, mut findings) = Report::parse(text)?;
    let checked = check(store, report)?;
    findings.extend(checked.findings);
    Ok(Checked {
        findings,
        ..checked
    })
}

/// Why report text cannot be sealed as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseReportError {
    /// Not a report at all.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Front matter with keys of the wrong type, unknown keys or an unsupported schema: sealing
    /// would drop them, so they must be fixed first.
    #[error("{}", .0.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("\n"))]
    FrontMatter(Vec<Finding>),
}

/// Parses report text for sealing: any structural finding in the front matter is an error.
pub fn parse_report(text: &str) -> Result<Report, ParseReportError> {
    let (report, findings) = Report::parse(text)?;
    if findings.is_empty() {
        Ok(report)
    } else {
        Err(ParseReportError::FrontMatter(findings))
    }
}

/// Checks a report: its fields, the recommended content, and its program's scope and rules. An
/// unknown program is a finding; a program file that does not parse is an error naming it.
pub fn check(store: &Store, report: Report) -> Result<Checked, StoreError> {
    let mut findings = report.lint();
    let mut program = None;
    if ProgramId::parse(&report.program).is_ok() {
        match store.program(&report.program) {
            Ok(p) => {
                findings.extend(p.check(&report));
                program = Some(p);
            }
            Err(StoreError::Program(ProgramError::Unknown(id))) => findings.push(
                Finding::new(
                    FindingCode::UnknownProgram,
                    "program",
                    report.line_of("program"),
                    format!("unknown program `{}`", Shown(&id)),
                )
                .hint("`embargo program list` shows the programs you have"),
            ),
            Err(e) => return Err(e),
        }
    }
    Ok(Checked {
        report,
        program,
        findings,
    })
}

/// Why no recipients could be found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecipientError {
    /// No certificate given and none pinned.
    #[error("program `{program}` has no confirmed team key")]
    NoTeamKey {
        /// The program id.
        program: String,
    },
    /// Discovery found a different primary key than the pinned one; sealing waits until the
    /// user pins again.
    #[error("KEY CHANGED for program `{program}`: discovery found {offered}, but {pinned} is pinned; sealing is refused until you compare fingerprints and pin again")]
    KeyChanged {
        /// The program id.
        program: String,
        /// The pinned fingerprint(s).
        pinned: String,
        /// The key found instead.
        offered: String,
    },
    /// No certificate given and the report's program is unknown or invalid.
    #[error("no team key: the report's program `{program}` is not one Embargo knows")]
    UnknownProgram {
        /// The program id, escaped.
        program: String,
    },
    /// The data directory could not be read (the error names the file).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The team certificates to seal to: the ones given (public parts only), else the key pinned
/// for the program.
pub fn resolve_recipients(
    store: &Store,
    program: Option<&Program>,
    report_program: &str,
    given: Vec<Cert>,
) -> Result<Vec<Cert>, RecipientError> {
    if !given.is_empty() {
        return Ok(given
            .into_iter()
            .map(|c| c.strip_secret_key_material())
            .collect());
    }
    let Some(program) = program else {
        return Err(RecipientError::UnknownProgram {
            program: Shown(report_program).to_string(),
        });
    };
    if let Some(alarm) = &program.key_alarm {
        return Err(RecipientError::KeyChanged {
            program: program.id.clone(),
            pinned: alarm.pinned.join(", "),
            offered: alarm.offered.clone(),
        });
    }
    let certs = store.team_certs(program)?;
    if certs.is_empty() {
        return Err(RecipientError::NoTeamKey {
            program: program.id.clone(),
        });
    }
    Ok(certs)
}

/// Why the email cannot be addressed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// No `To:` given and the program has no email contact.
    #[error("program `{program}` has no email contact")]
    NoEmailContact {
        /// The program id or name.
        program: String,
    },
    /// A header value that is not an address.
    #[error("`{address}` is not an email address")]
    BadAddress {
        /// What was given, escaped.
        address: String,
    },
}

fn check_address(a: &str) -> Result<String, EnvelopeError> {
    let a = a.trim();
    let ok = a.contains('@') && first_unsafe(a).is_none() && a.len() <= 320;
    if ok {
        Ok(a.to_owned())
    } else {
        Err(EnvelopeError::BadAddress {
            address: Shown(a).to_string(),
        })
    }
}

/// The envelope of the exported email: `To:` the given address, else the program's contact.
pub fn email_envelope(
    program: Option<&Program>,
    report_program: &str,
    to: Option<&str>,
    from: Option<&str>,
    reference: &str,
) -> Result<EmailEnvelope, EnvelopeError> {
    let to = match to {
        Some(a) => check_address(a)?,
        None => program
            .and_then(Program::email)
            .map(str::to_owned)
            .ok_or_else(|| EnvelopeError::NoEmailContact {
                program: program
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| Shown(report_program).to_string()),
            })?,
    };
    let from = from.map(check_address).transpose()?;
    Ok(EmailEnvelope {
        to,
        from,
        reference: Some(reference.to_owned()),
    })
}

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
    /// No key with this fingerprint was found for the program.
    #[error("no key discovered for program `{program}` has the fingerprint {typed}")]
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

/// How the sealed report is delivered to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// ASCII armor.
    Armor,
    /// Binary OpenPGP.
    Binary,
    /// PGP/MIME `.eml`: `To:` defaults to the program's contact.
    Email {
        /// `To:` override.
        to: Option<String>,
        /// `From:`.
        from: Option<String>,
    },
}

/// One seal, as a shell asks for it.
pub struct SealJob<'a> {
    /// The report (its reference is kept; a new one is made when it has none).
    pub report: &'a Report,
    /// Team certificates given explicitly; empty means the program's pinned key.
    pub to: Vec<Cert>,
    /// Attachments.
    pub attachments: &'a [Attachment],
    /// The researcher's unlocked key.
    pub signer: Option<&'a Signer>,
    /// Sign although credit is anonymous.
    pub sign_anyway: bool,
    /// Also encrypt to the signer.
    pub encrypt_to_self: bool,
    /// SEIPDv2 for v4 keys that advertise it.
    pub aead: bool,
    /// Output shape.
    pub delivery: Delivery,
}

/// What a seal did, and what `check` said (warnings: the report was sealed anyway).
#[derive(Debug)]
pub struct SealOutcome {
    /// The sealed message.
    pub sealed: Sealed,
    /// Warnings about scope, rules and content.
    pub findings: Vec<Finding>,
    /// Whether the reference was made now (the report had none).
    pub new_reference: bool,
}

/// Why a seal did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealReportError {
    /// The data directory could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No recipients.
    #[error(transparent)]
    Recipients(#[from] RecipientError),
    /// The email cannot be addressed.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// Sealing failed.
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// Checks, resolves recipients and the envelope, and seals to `path` atomically.
pub fn seal_report(
    store: &Store,
    job: SealJob<'_>,
    path: &Path,
    overwrite: bool,
    progress: &mut ProgressFn<'_>,
) -> Result<SealOutcome, SealReportError> {
    let errors = job.report.validate();
    if !errors.is_empty() {
        return Err(SealError::InvalidReport(errors).into());
    }
    let new_reference = job.report.reference.is_none();
    let mut report = job.report.clone();
    let reference = report
        .reference
        .get_or_insert_with(|| Reference::generate().to_string())
        .clone();
    let checked = check(store, report)?;
    let report = checked.report;
    let program = checked.program.as_ref();
    let recipients = resolve_recipients(store, program, &report.program, job.to)?;
    let format = match &job.delivery {
        Delivery::Armor => OutputFormat::Armor,
        Delivery::Binary => OutputFormat::Binary,
        Delivery::Email { to, from } => OutputFormat::Email(email_envelope(
            program,
            &report.program,
            to.as_deref(),
            from.as_deref(),
            &reference,
        )?),
    };
    let req = SealRequest {
        report: &report,
        program,
        recipients: &recipients,
        attachments: job.attachments,
        signer: job.signer,
        sign_anyway: job.sign_anyway,
        encrypt_to_self: job.encrypt_to_self,
        aead: job.aead,
    };
    let sealed = seal::seal_to_file(&req, &format, path, overwrite, progress)?;
    Ok(SealOutcome {
        sealed,
        findings: checked
            .findings
            .into_iter()
            .filter(|f| !f.blocks_sealing())
            .collect(),
        new_reference,
    })
}

/// A draft as an editor sees it: findings, score, and whether it can be sealed now.
#[derive(Debug)]
pub struct DraftCheck {
    /// The report, tidied (see [`Report::tidied`]).
    pub report: Report,
    /// Its program, when known.
    pub program: Option<Program>,
    /// Everything `check` says.
    pub findings: Vec<Finding>,
    /// The CVSS score when the vector parses.
    pub cvss: Option<crate::report::CvssScore>,
    /// Given or derived severity.
    pub severity: Option<String>,
    /// Nothing open at all, and a confirmed team key to seal to.
    pub ready_to_seal: bool,
    /// A seal would go through if the researcher insists ("Seal anyway"): a usable team key and
    /// no structural error; only policy findings are open. The gate is the app's; the CLI prints
    /// findings and seals (scripts rely on it).
    pub sealable_anyway: bool,
}

/// Checks a draft for an editor.
pub fn check_draft(store: &Store, draft: &Report) -> Result<DraftCheck, StoreError> {
    let checked = check(store, draft.tidied())?;
    let has_key = checked
        .program
        .as_ref()
        .is_some_and(|p| p.has_team_key() && p.key_alarm.is_none());
    // Honest readiness: ready only when nothing is open (scope, rules, recommended sections
    // included); with only such findings open the app may still seal when the researcher says
    // "Seal anyway" — the malformed ones block even that.
    let sealable_anyway = has_key && !checked.findings.iter().any(Finding::blocks_sealing);
    let ready_to_seal = has_key && checked.findings.is_empty();
    Ok(DraftCheck {
        sealable_anyway,
        cvss: checked
            .report
            .cvss
            .as_deref()
            .and_then(|v| crate::report::parse_cvss(v).ok()),
        severity: checked.report.effective_severity(),
        ready_to_seal,
        report: checked.report,
        program: checked.program,
        findings: checked.findings,
    })
}

/// Exactly what a seal would send, before sealing.
#[derive(Debug)]
pub struct Preview {
    /// The readable part as the team will see it.
    pub text: String,
    /// The team certificates.
    pub recipients: Vec<Cert>,
    /// The format they get.
    pub format: keys::Format,
    /// The email `To:`, when the program has one.
    pub to: Option<String>,
    /// The reference (the report's, or the one a seal will make).
    pub reference: String,
    /// The estimated size of the armored message.
    pub armored_bytes: u64,
}

/// What sealing this draft would produce (signed by `signer` when given).
pub fn preview(
    store: &Store,
    draft: &Report,
    attachments: &[crate::bundle::AttachmentMeta],
    signer: Option<&Cert>,
) -> Result<Preview, SealReportError> {
    let checked = check(store, draft.tidied())?;
    let program = checked.program.as_ref();
    let report = &checked.report;
    let recipients = resolve_recipients(store, program, &report.program, Vec::new())?;
    let format = keys::recipients_format(&recipients, false).map_err(SealError::Key)?;
    let reference = report
        .reference
        .clone()
        .unwrap_or_else(|| Reference::generate().to_string());
    let contact = signer.and_then(|c| {
        c.userids()
            .next()
            .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
    });
    let text = crate::bundle::render_text(
        report,
        &crate::bundle::TextContext {
            program,
            reference: Some(&reference),
            contact: contact.as_deref(),
        },
        attachments,
    );
    let researcher_bytes = signer.map_or(0, |c| keys::armored_public(c).len() as u64);
    Ok(Preview {
        armored_bytes: crate::bundle::estimate_armored_len(
            text.len() as u64 + report.body.len() as u64 * 2,
            attachments,
            researcher_bytes,
        ),
        text,
        recipients,
        format,
        to: program.and_then(Program::email).map(str::to_owned),
        reference,
    })
}

/// Opens a message file (opened once, must be a regular file) into a directory.
pub fn open_file(message: &Path, req: OpenRequest<'_>) -> Result<Opened, OpenError> {
    let file = File::open(message).map_err(OpenError::Read)?;
    let meta = file.metadata().map_err(OpenError::Read)?;
    if !meta.is_file() {
        return Err(OpenError::Read(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    crate::open::open(file, req)
}

/// The security.txt field an `embargo-intake` server adds to say where reports are submitted
/// (an extension: RFC 9116 keeps unknown fields).
pub const INTAKE_FIELD: &str = "Embargo-Intake";

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
            program.intake_url = st
                .other
                .get(INTAKE_FIELD)
                .and_then(|v| v.first())
                .filter(|u| crate::deliver::check_intake_url(u).is_ok())
                .cloned();
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
    Ok((store.cert(&fingerprint)?, discovery_source(&sources)))
}

/// Why a SECURITY.md could not become a program.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportProgramError {
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

/// Where the researcher's identity comes from.
#[derive(Debug)]
pub enum NewIdentity<'a> {
    /// A new key for this user ID.
    Generate {
        /// Name and/or address.
        userid: &'a str,
    },
    /// An existing secret key.
    Import(&'a Cert),
}

/// Creates or imports the researcher's identity, then encrypts to it the receipts and outbox
/// entries written before it existed (the rule both shells follow); the identity and how many
/// records were migrated.
pub fn adopt_identity(
    store: &Store,
    from: NewIdentity<'_>,
    passphrase: openpgp::crypto::Password,
) -> Result<(Cert, usize), crate::vault::VaultError> {
    let vault = crate::vault::Vault::of(store);
    let cert = match from {
        NewIdentity::Generate { userid } => vault.create_identity(userid, passphrase)?,
        NewIdentity::Import(tsk) => vault.import_identity(tsk.clone(), passphrase)?,
    };
    let migrated = crate::deliver::records::Records::of(store).migrate()?;
    Ok((cert, migrated))
}

/// What happened to an attachment before sealing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttachmentNote {
    /// Not a format Embargo scrubs, or nothing to remove: sealed as it is.
    AsIs,
    /// The user chose to keep its metadata.
    Kept,
    /// Metadata removed; the cleaned bytes are sealed from memory, the file is untouched.
    Scrubbed {
        /// What was removed, one line each.
        removed: Vec<String>,
        /// SHA-256 of the original file, for the researcher's record.
        original_sha256: String,
    },
    /// A type known to carry metadata Embargo does not remove (HEIC, TIFF, video…).
    MayCarryMetadata {
        /// Its type, when known.
        content_type: Option<&'static str>,
    },
}

/// An attachment ready to seal.
#[derive(Debug)]
pub struct PreparedAttachment {
    /// What goes into the bundle.
    pub attachment: Attachment,
    /// What was done to it.
    pub note: AttachmentNote,
}

/// Why an attachment could not be prepared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrepareAttachmentError {
    /// The file cannot be attached.
    #[error(transparent)]
    Attachment(#[from] crate::bundle::AttachmentError),
    /// A scrubbable file that could not be scrubbed (damaged, encrypted PDF, too large): it is
    /// not sent silently with its metadata.
    #[error(transparent)]
    Scrub(#[from] crate::scrub::ScrubError),
}

/// Prepares a file for sealing: JPEG, PNG, WebP and PDF lose their metadata (held in memory;
/// the file is not changed) unless `keep_metadata`; every other file is attached as it is.
pub fn prepare_attachment(
    path: &Path,
    keep_metadata: bool,
) -> Result<PreparedAttachment, PrepareAttachmentError> {
    use crate::scrub::{self, Outcome};
    let original = Attachment::from_file(path)?;
    let as_is = |note| PreparedAttachment {
        attachment: original.clone(),
        note,
    };
    if keep_metadata {
        return Ok(as_is(AttachmentNote::Kept));
    }
    let read_err = |source| crate::bundle::AttachmentError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut head = [0u8; 16];
    let n = File::open(path)
        .and_then(|mut f| io::Read::read(&mut f, &mut head))
        .map_err(read_err)?;
    if scrub::detect(&head[..n]).is_none() {
        return Ok(as_is(AttachmentNote::AsIs));
    }
    let bytes = zeroize::Zeroizing::new(std::fs::read(path).map_err(read_err)?);
    let name = original.meta.name.clone();
    Ok(match scrub::scrub(&name, &bytes)? {
        Outcome::Scrubbed(s) if !s.removed.is_empty() => PreparedAttachment {
            attachment: Attachment {
                original_sha256: Some(s.original_sha256.clone()),
                ..Attachment::from_memory(&name, s.bytes).map_err(|reason| {
                    crate::bundle::AttachmentError::Read {
                        path: path.display().to_string(),
                        source: io::Error::new(io::ErrorKind::InvalidData, reason),
                    }
                })?
            },
            note: AttachmentNote::Scrubbed {
                removed: s.removed,
                original_sha256: s.original_sha256,
            },
        },
        Outcome::NotApplicable {
            may_carry_metadata: true,
            content_type,
        } => as_is(AttachmentNote::MayCarryMetadata { content_type }),
        _ => as_is(AttachmentNote::AsIs),
    })
}
