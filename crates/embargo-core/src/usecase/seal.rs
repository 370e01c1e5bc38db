//! Sealing: which team certificates, which email envelope, who signs, exactly what a seal would
//! send (the preview), and the seal itself to a file.

use std::path::Path;

use openpgp::Cert;
use sequoia_openpgp as openpgp;

use crate::bundle::Attachment;
use crate::export::EmailEnvelope;
use crate::keys::{self, Signer};
use crate::program::Program;
use crate::reference::Reference;
use crate::report::{Finding, Report};
use crate::seal::{self, OutputFormat, ProgressFn, SealError, SealRequest, Sealed};
use crate::store::{Store, StoreError};
use crate::text::{first_unsafe, Shown};

use super::report::check;

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
    /// An anonymous report's reply key: [`super::submit::submit`] makes one and sets it (the
    /// shells leave it `None`).
    pub reply_key: Option<&'a Cert>,
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
        reply_key: job.reply_key,
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

/// Whom the researcher asked to sign a report.
#[derive(Debug, Clone, Copy)]
pub enum SignWith<'a> {
    /// The rule: the identity when the report's credit is named; an anonymous report is never
    /// signed (a signature and a public key would name the researcher).
    Default,
    /// This secret key (a key file the researcher chose), whatever the credit: sealing an
    /// anonymous report with it is refused unless the seal says `sign_anyway`.
    Key(&'a Cert),
    /// Nobody: the researcher turned signing off.
    Nobody,
}

/// Why a report goes unsigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum UnsignedBecause {
    /// Credit is anonymous (or not chosen).
    Anonymous,
    /// There is no identity yet, so the team cannot reply encrypted.
    NoIdentity,
    /// The researcher turned signing off.
    TurnedOff,
}

/// Who will sign, decided before anything is unlocked: what Review shows.
#[derive(Debug, Clone)]
pub enum SigningPlan {
    /// The identity in the vault.
    Identity(Cert),
    /// A key file the researcher chose.
    KeyFile(Cert),
    /// Nobody, and why.
    Unsigned(UnsignedBecause),
}

impl SigningPlan {
    /// The signer's certificate (public parts), when someone signs.
    pub fn cert(&self) -> Option<&Cert> {
        match self {
            SigningPlan::Identity(c) | SigningPlan::KeyFile(c) => Some(c),
            SigningPlan::Unsigned(_) => None,
        }
    }
}

/// Who signs `report` when the researcher asked for `with`: the one rule both shells follow.
pub fn signing_plan(
    store: &Store,
    report: &Report,
    with: SignWith<'_>,
) -> Result<SigningPlan, crate::vault::VaultError> {
    Ok(match with {
        SignWith::Nobody => SigningPlan::Unsigned(UnsignedBecause::TurnedOff),
        SignWith::Key(tsk) => SigningPlan::KeyFile(tsk.clone().strip_secret_key_material()),
        SignWith::Default if report.is_anonymous() => {
            SigningPlan::Unsigned(UnsignedBecause::Anonymous)
        }
        SignWith::Default => match crate::vault::Vault::of(store).identity()? {
            Some(identity) => SigningPlan::Identity(identity.strip_secret_key_material()),
            None => SigningPlan::Unsigned(UnsignedBecause::NoIdentity),
        },
    })
}

/// The plan, with its key unlocked (the identity's passphrase, or the key file's, asked
/// through `passphrase`).
pub fn unlock_signer(
    store: &Store,
    report: &Report,
    with: SignWith<'_>,
    passphrase: &mut crate::keys::PassphraseFn<'_>,
) -> Result<(SigningPlan, Option<Signer>), crate::vault::VaultError> {
    let plan = signing_plan(store, report, with)?;
    let signer = match (&plan, with) {
        (SigningPlan::KeyFile(_), SignWith::Key(tsk)) => Some(Signer::from_tsk(tsk, passphrase)?),
        (SigningPlan::Identity(_), _) => {
            let identity = crate::vault::Vault::of(store)
                .identity()?
                .ok_or(crate::vault::VaultError::NoIdentity)?;
            Some(Signer::from_tsk(&identity, passphrase)?)
        }
        _ => None,
    };
    Ok((plan, signer))
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
