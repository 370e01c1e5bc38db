//! One error type for every command: a stable `code` the UI switches on, the problem (the core's
//! words), and the remedy worded for this app (never as CLI flags).

use embargo_core::bundle::AttachmentError;
use embargo_core::deliver::client::IntakeError;
use embargo_core::keys::KeyError;
use embargo_core::net::NetError;
use embargo_core::program::ProgramError;
use embargo_core::seal::SealError;
use embargo_core::store::StoreError;
use embargo_core::usecase::settings::SettingsError;
use embargo_core::usecase::{
    EnvelopeError, ImportProgramError, PinError, PrepareAttachmentError, RecipientError,
    SealReportError, SubmitError,
};
use embargo_core::vault::VaultError;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The stable codes of [`CommandError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The report has field errors.
    InvalidReport,
    /// No confirmed team key for the program.
    NoTeamKey,
    /// A key cannot be used (expired, revoked, no encryption subkey, rejected by policy).
    KeyUnusable,
    /// A different key than the pinned one was offered.
    KeyChanged,
    /// The typed fingerprint differs from the key's.
    FingerprintMismatch,
    /// Something named does not exist (program, attachment, operation, picked file).
    NotFound,
    /// Reading or writing a file failed.
    Io,
    /// The user cancelled.
    Cancelled,
    /// The key needs its passphrase.
    PassphraseRequired,
    /// The passphrase is wrong.
    WrongPassphrase,
    /// Signing would identify an anonymous researcher.
    AnonymousSigning,
    /// The message is too large for the way asked (clipboard, mail link).
    TooLarge,
    /// Input that does not make sense.
    InvalidInput,
    /// The network failed (discovery, an intake that cannot be reached, the proxy).
    Network,
    /// The intake answered and refused; sending again will not change its answer.
    IntakeRefused,
    /// The program has no intake endpoint to submit to.
    NoIntake,
    /// The vault is locked and what was asked needs it unlocked (the identity signs, the
    /// records are encrypted to it).
    VaultLocked,
    /// A bug.
    Internal,
}

/// What every failing command returns: `{code, message, hint}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct CommandError {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// What went wrong, carrying the input.
    pub message: String,
    /// What to do about it, in the app's words.
    pub hint: Option<String>,
}

impl CommandError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl ToString) -> Self {
        CommandError {
            code,
            message: message.to_string(),
            hint: None,
        }
    }

    /// Adds the remedy.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    fn maybe_hint(mut self, hint: Option<&str>) -> Self {
        self.hint = hint.map(str::to_owned);
        self
    }
}

fn key_error(e: &KeyError) -> (ErrorCode, Option<&'static str>) {
    match e {
        KeyError::PassphraseRequired { .. } => (
            ErrorCode::PassphraseRequired,
            Some("Type the key's passphrase, then try again."),
        ),
        KeyError::WrongPassphrase { .. } => (
            ErrorCode::WrongPassphrase,
            Some("Check the passphrase and try again."),
        ),
        KeyError::Read { .. } => (ErrorCode::Io, None),
        KeyError::Parse { .. } | KeyError::Empty { .. } => (
            ErrorCode::InvalidInput,
            Some("Paste the whole armored key, from -----BEGIN PGP PUBLIC KEY BLOCK----- to its END line."),
        ),
        KeyError::NotSecret { .. } => (
            ErrorCode::InvalidInput,
            Some("Choose your secret key file (exported with its secret parts)."),
        ),
        _ => (
            ErrorCode::KeyUnusable,
            Some("Ask the team for their current key: their security.txt, WKD or policy page."),
        ),
    }
}

fn from_key(e: &KeyError) -> CommandError {
    let (code, hint) = key_error(e);
    CommandError::new(code, e).maybe_hint(hint)
}

impl From<KeyError> for CommandError {
    fn from(e: KeyError) -> Self {
        from_key(&e)
    }
}

impl From<SealError> for CommandError {
    fn from(e: SealError) -> Self {
        let (code, hint) = match &e {
            SealError::InvalidReport(_) => (
                ErrorCode::InvalidReport,
                Some("Fix the fields marked on the Report screen."),
            ),
            SealError::AnonymousSigning => (
                ErrorCode::AnonymousSigning,
                Some("Turn signing off, or choose named credit."),
            ),
            SealError::NoRecipients => (ErrorCode::NoTeamKey, None),
            SealError::Key(k) => return from_key(k),
            SealError::Cancelled => (ErrorCode::Cancelled, None),
            SealError::TooManyAttachments { .. } => (
                ErrorCode::TooLarge,
                Some("Put the files in one archive and attach that."),
            ),
            SealError::Bundle(_) | SealError::Output(_) | SealError::Exists { .. } => {
                (ErrorCode::Io, None)
            }
            _ => (ErrorCode::Internal, None),
        };
        CommandError::new(code, &e).maybe_hint(hint)
    }
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Program(ProgramError::Unknown(_)) | StoreError::UnknownReceipt(_) => {
                CommandError::new(ErrorCode::NotFound, &e)
            }
            StoreError::Exists(_) => {
                CommandError::new(ErrorCode::InvalidInput, &e).hint("Choose another name.")
            }
            StoreError::InvalidProgramId(_) | StoreError::InvalidFingerprint(_) => {
                CommandError::new(ErrorCode::InvalidInput, &e)
            }
            StoreError::Key(k) => k.into(),
            StoreError::Io { .. } => CommandError::new(ErrorCode::Io, &e),
            StoreError::Locked { .. } => CommandError::new(ErrorCode::VaultLocked, &e)
                .hint("Unlock the vault with your passphrase."),
            _ => CommandError::new(ErrorCode::Io, &e)
                .hint("The file named above is damaged: fix or remove it."),
        }
    }
}

impl From<RecipientError> for CommandError {
    fn from(e: RecipientError) -> Self {
        match e {
            RecipientError::Store(s) => s.into(),
            e => CommandError::new(ErrorCode::NoTeamKey, &e)
                .hint("Add the team's key on the Programs screen and confirm its fingerprint."),
        }
    }
}

impl From<EnvelopeError> for CommandError {
    fn from(e: EnvelopeError) -> Self {
        CommandError::new(ErrorCode::InvalidInput, &e)
            .hint("Save the .asc instead and send it the way the program asks.")
    }
}

impl From<SealReportError> for CommandError {
    fn from(e: SealReportError) -> Self {
        match e {
            SealReportError::Store(e) => e.into(),
            SealReportError::Recipients(e) => e.into(),
            SealReportError::Envelope(e) => e.into(),
            SealReportError::Seal(e) => e.into(),
            e => CommandError::new(ErrorCode::Internal, &e),
        }
    }
}

impl From<PinError> for CommandError {
    fn from(e: PinError) -> Self {
        let (code, hint) = match &e {
            PinError::Mismatch { .. } => (
                ErrorCode::FingerprintMismatch,
                Some("This is not the key the team published. Do not use it; check where it came from."),
            ),
            PinError::InvalidFingerprint(_) => (
                ErrorCode::InvalidInput,
                Some("Type or paste the full fingerprint the team published (40 or 64 hexadecimal digits)."),
            ),
            PinError::KeyChanged { .. } => (
                ErrorCode::KeyChanged,
                Some("Replace the key only if the team announced a new one; compare its fingerprint first."),
            ),
            PinError::SecretKey { .. } => (
                ErrorCode::InvalidInput,
                Some("Use the team's public key. Never handle their secret key."),
            ),
            PinError::Unusable(k) => return from_key(k),
            PinError::NotACandidate { .. } => (
                ErrorCode::NotFound,
                Some("Paste, choose or discover the team's key first, then type its fingerprint."),
            ),
            PinError::Store(_) => (ErrorCode::Io, None),
            _ => (ErrorCode::Internal, None),
        };
        CommandError::new(code, &e).maybe_hint(hint)
    }
}

impl From<embargo_core::usecase::DiscoverProgramError> for CommandError {
    fn from(e: embargo_core::usecase::DiscoverProgramError) -> Self {
        use embargo_core::usecase::DiscoverProgramError as D;
        match e {
            D::KeyChanged { .. } => CommandError::new(ErrorCode::KeyChanged, &e).hint(
                "Sealing for this program is stopped. Ask the team whether they changed their key; pin the new one only after comparing its fingerprint with one they published.",
            ),
            D::Store(s) => s.into(),
            other => CommandError::new(ErrorCode::Internal, other),
        }
    }
}

impl From<AttachmentError> for CommandError {
    fn from(e: AttachmentError) -> Self {
        let code = match &e {
            AttachmentError::Read { .. } => ErrorCode::Io,
            _ => ErrorCode::InvalidInput,
        };
        CommandError::new(code, &e)
    }
}

impl From<VaultError> for CommandError {
    fn from(e: VaultError) -> CommandError {
        match e {
            VaultError::Key(k) => k.into(),
            VaultError::NoIdentity => CommandError::new(ErrorCode::NotFound, "no identity yet")
                .hint("Create your identity in Settings: it keeps your drafts encrypted."),
            VaultError::UnknownDraft(id) => {
                CommandError::new(ErrorCode::NotFound, format!("no draft {id}"))
            }
            VaultError::Io { .. } => CommandError::new(ErrorCode::Io, e),
            VaultError::Corrupted { .. } => CommandError::new(ErrorCode::Io, e)
                .hint("This file cannot be read back; the other drafts are not affected."),
            VaultError::Records(s) => s.into(),
            other => CommandError::new(ErrorCode::InvalidInput, other),
        }
    }
}

impl From<NetError> for CommandError {
    fn from(e: NetError) -> Self {
        let hint = match &e {
            NetError::Proxy { .. } => {
                Some("Check the proxy in Settings (for Tor: socks5h://127.0.0.1:9050).")
            }
            _ => None,
        };
        CommandError::new(ErrorCode::Network, &e).maybe_hint(hint)
    }
}

impl From<SettingsError> for CommandError {
    fn from(e: SettingsError) -> Self {
        match e {
            SettingsError::Proxy(n) => n.into(),
            SettingsError::Store(s) => s.into(),
            other => CommandError::new(ErrorCode::InvalidInput, other),
        }
    }
}

impl From<embargo_core::discover::ConfigError> for CommandError {
    fn from(e: embargo_core::discover::ConfigError) -> Self {
        CommandError::new(ErrorCode::InvalidInput, e)
    }
}

/// The app's code and remedy for an intake's answer (or its silence).
fn intake_error(e: &IntakeError) -> (ErrorCode, Option<&'static str>) {
    use embargo_core::protocol::ErrorCode as Wire;
    match e {
        IntakeError::BadUrl { .. } => (
            ErrorCode::InvalidInput,
            Some("The program's intake address is not one Embargo sends reports to (https only)."),
        ),
        IntakeError::Setup(_) => (ErrorCode::Network, Some("Check the proxy in Settings.")),
        IntakeError::Io { .. } => (ErrorCode::Io, None),
        _ if e.retryable() => (
            ErrorCode::Network,
            Some("The intake could not be reached; try again later."),
        ),
        _ => (
            ErrorCode::IntakeRefused,
            Some(match e.code() {
                Some(Wire::InvalidToken | Wire::MissingToken) => {
                    "The intake no longer accepts this receipt's status token."
                }
                Some(Wire::ReportNotFound) => "The intake no longer knows this receipt.",
                Some(Wire::MissingTeamRecipient | Wire::HiddenRecipient | Wire::NoRecipient) => {
                    "The intake expects reports encrypted to other team keys: compare the program's pinned keys with the team's security.txt."
                }
                Some(Wire::BodyTooLarge) => {
                    "The report is over this intake's size limit: export it and send it another way the program accepts."
                }
                _ => "The intake refused it; sending it again will not change that.",
            }),
        ),
    }
}

impl From<IntakeError> for CommandError {
    fn from(e: IntakeError) -> Self {
        let (code, hint) = intake_error(&e);
        CommandError::new(code, &e).maybe_hint(hint)
    }
}

impl From<SubmitError> for CommandError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::NoIntake { .. } => CommandError::new(ErrorCode::NoIntake, &e)
                .hint("Export the report and email it instead."),
            SubmitError::Seal(s) => s.into(),
            SubmitError::Intake(i) => i.into(),
            SubmitError::Refused { ref source, .. } => {
                let (_, hint) = intake_error(source);
                CommandError::new(ErrorCode::IntakeRefused, &e).maybe_hint(hint)
            }
            SubmitError::Store(s) => s.into(),
            other => CommandError::new(ErrorCode::Internal, other),
        }
    }
}

impl From<PrepareAttachmentError> for CommandError {
    fn from(e: PrepareAttachmentError) -> Self {
        match e {
            PrepareAttachmentError::Attachment(a) => a.into(),
            other => CommandError::new(ErrorCode::InvalidInput, other).hint(
                "Remove the file, or keep its metadata if you are sure nothing in it identifies you.",
            ),
        }
    }
}

impl From<ImportProgramError> for CommandError {
    fn from(e: ImportProgramError) -> Self {
        match e {
            ImportProgramError::Exists(_) => CommandError::new(ErrorCode::InvalidInput, &e)
                .hint("Remove it first, or rename the folder the file is in."),
            ImportProgramError::Read { .. } => CommandError::new(ErrorCode::Io, &e),
            ImportProgramError::Store(s) => s.into(),
            other => CommandError::new(ErrorCode::InvalidInput, other),
        }
    }
}

impl From<embargo_core::usecase::team::TeamError> for CommandError {
    fn from(e: embargo_core::usecase::team::TeamError) -> CommandError {
        use embargo_core::usecase::team::TeamError;
        match e {
            TeamError::Key(k) => k.into(),
            TeamError::Intake(i) => i.into(),
            TeamError::NotConnected => CommandError::new(ErrorCode::NotFound, &e)
                .hint("Connect to your team's intake on the Inbox screen."),
            TeamError::WeakPassphrase(_) => CommandError::new(ErrorCode::InvalidInput, &e),
            TeamError::Open { .. } | TeamError::Reply { .. } => {
                CommandError::new(ErrorCode::KeyUnusable, &e)
            }
            other => CommandError::new(ErrorCode::Io, other),
        }
    }
}
