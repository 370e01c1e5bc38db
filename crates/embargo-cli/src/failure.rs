//! What a failed command prints and returns: the problem (the core's words), the remedy (worded
//! as this CLI's flags: the core names conditions, the CLI says what to type), and the exit code.

use embargo_core::keys::KeyError;
use embargo_core::open::{OpenError, SignatureStatus};
use embargo_core::seal::SealError;
use embargo_core::store::StoreError;
use embargo_core::usecase::{CheckError, EnvelopeError, PinError, RecipientError, SealReportError};

use crate::exit;

/// A failure: problem, remedy, exit code.
pub struct Failure {
    pub message: String,
    pub hint: Option<String>,
    pub code: u8,
}

impl Failure {
    pub fn new(code: u8, message: impl ToString) -> Failure {
        Failure {
            message: message.to_string(),
            hint: None,
            code,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }

    fn maybe_hint(mut self, hint: Option<&str>) -> Failure {
        self.hint = hint.map(str::to_owned);
        self
    }
}

pub fn key_hint(e: &KeyError) -> Option<&'static str> {
    Some(match e {
        KeyError::Revoked { .. }
        | KeyError::Expired { .. }
        | KeyError::NoEncryptionSubkey { .. }
        | KeyError::PolicyRejected { .. } => {
            "ask the team for their current key (security.txt, WKD or their policy page)"
        }
        KeyError::AeadUnsupported { .. } => "seal without --aead; SEIPDv1 is what the key asks for",
        KeyError::MixedFormats {
            v4_advertises_seipdv2: true,
            ..
        } => {
            "pass --aead (every v4 recipient advertises SEIPDv2), or seal one message per recipient"
        }
        KeyError::MixedFormats { .. } => "seal one message per recipient",
        KeyError::PassphraseRequired { .. } => {
            "give --passphrase-file, or run in a terminal to be asked"
        }
        KeyError::WrongPassphrase { .. } => {
            "check the passphrase file (its first line is the passphrase)"
        }
        KeyError::NotSecret { .. } => {
            "pass the secret key (e.g. from `gpg --export-secret-keys --armor`)"
        }
        _ => return None,
    })
}

impl From<KeyError> for Failure {
    fn from(e: KeyError) -> Self {
        let hint = key_hint(&e);
        Failure::new(exit::ERROR, e).maybe_hint(hint)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Key(k) => k.into(),
            e => Failure::new(exit::ERROR, e),
        }
    }
}

impl From<CheckError> for Failure {
    fn from(e: CheckError) -> Self {
        Failure::new(exit::UNREADABLE, e)
    }
}

impl From<RecipientError> for Failure {
    fn from(e: RecipientError) -> Self {
        let hint = match &e {
            RecipientError::NoTeamKey { program } => Some(format!(
                "pass --to TEAM_CERT, or pin the team's key: embargo program pin --program {program} --key TEAM_CERT --fingerprint FPR"
            )),
            RecipientError::UnknownProgram { .. } => Some("pass --to TEAM_CERT".into()),
            RecipientError::KeyChanged { program, .. } => Some(format!(
                "compare the new fingerprint with one the team published, then: embargo program pin --program {program} --fingerprint FPR --replace"
            )),
            RecipientError::Store(_) => None,
            _ => None,
        };
        Failure {
            hint,
            ..Failure::new(exit::ERROR, e)
        }
    }
}

impl From<EnvelopeError> for Failure {
    fn from(e: EnvelopeError) -> Self {
        Failure::new(exit::ERROR, e).hint("give --mail-to ADDRESS")
    }
}

impl From<SealError> for Failure {
    fn from(e: SealError) -> Self {
        match e {
            SealError::Key(k) => k.into(),
            SealError::InvalidReport(_) => Failure::new(exit::UNREADABLE, e)
                .hint("fix the fields above (`embargo check` lists everything)"),
            SealError::AnonymousSigning => Failure::new(exit::ERROR, e)
                .hint("drop --sign-with, or pass --sign-anyway with a separate pseudonymous key"),
            SealError::Exists { .. } => {
                Failure::new(exit::ERROR, e).hint("choose another name, or pass --force")
            }
            SealError::Cancelled => Failure::new(exit::CANCELLED, e),
            e => Failure::new(exit::ERROR, e),
        }
    }
}

impl From<SealReportError> for Failure {
    fn from(e: SealReportError) -> Self {
        match e {
            SealReportError::Store(e) => e.into(),
            SealReportError::Recipients(e) => e.into(),
            SealReportError::Envelope(e) => e.into(),
            SealReportError::Seal(e) => e.into(),
            e => Failure::new(exit::ERROR, e),
        }
    }
}

impl From<PinError> for Failure {
    fn from(e: PinError) -> Self {
        let hint = match &e {
            PinError::Mismatch { .. } | PinError::InvalidFingerprint(_) => Some(
                "compare the fingerprint with the one the team published; do not pin a key you have not verified",
            ),
            PinError::KeyChanged { .. } => {
                Some("pass --replace if the team changed its key, or --add for another member's key, after comparing the new fingerprint")
            }
            PinError::Unusable(k) => key_hint(k),
            _ => None,
        };
        Failure::new(exit::ERROR, e).maybe_hint(hint)
    }
}

impl From<OpenError> for Failure {
    fn from(e: OpenError) -> Self {
        let (code, hint) = match &e {
            OpenError::NoMatchingKey { .. } => (
                exit::INTEGRITY,
                Some("pass the secret key of the team key this report was sealed to"),
            ),
            OpenError::Integrity(_) | OpenError::NotEncrypted | OpenError::Inconsistent(_) => {
                (exit::INTEGRITY, None)
            }
            OpenError::BadSignature(_) => (
                exit::SIGNATURE,
                Some("do not trust this report's content; ask the researcher to send it again"),
            ),
            OpenError::SignatureRequired(SignatureStatus::Unknown { in_bundle: true, .. }) => (
                exit::SIGNATURE,
                Some("if you trust this key, pass its certificate (researcher.asc) with --verify-with"),
            ),
            OpenError::SignatureRequired(_) => (
                exit::SIGNATURE,
                Some("pass the researcher's certificate with --verify-with, or drop --require-signature"),
            ),
            OpenError::TooLarge { .. } | OpenError::PartTooLarge(_) => (
                exit::ERROR,
                Some("raise --max-size if you expect a report this large"),
            ),
            OpenError::OutputDir { .. } => (exit::ERROR, Some("choose a new or empty directory of your own")),
            OpenError::Key(k) => (exit::ERROR, key_hint(k)),
            OpenError::Cancelled => (exit::CANCELLED, None),
            _ => (exit::ERROR, None),
        };
        Failure::new(code, e).maybe_hint(hint)
    }
}
