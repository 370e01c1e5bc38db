//! One error type for every command: a stable `code` the UI switches on, the problem, the remedy.

use embargo_core::keys::KeyError;
use embargo_core::program::ProgramError;
use embargo_core::seal::SealError;
use embargo_core::store::StoreError;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What every failing command returns: `{code, message, hint}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{code}: {message}")]
pub struct CommandError {
    /// Stable machine-readable code.
    pub code: String,
    /// What went wrong, carrying the input.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl CommandError {
    /// An error with a code and message.
    pub fn new(code: &str, message: impl ToString) -> Self {
        CommandError {
            code: code.into(),
            message: message.to_string(),
            hint: None,
        }
    }

    /// Adds the remedy.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    fn with_hint(mut self, hint: Option<&str>) -> Self {
        self.hint = hint.map(str::to_owned);
        self
    }
}

fn key_code(e: &KeyError) -> &'static str {
    match e {
        KeyError::PassphraseRequired { .. } => "passphrase_required",
        KeyError::WrongPassphrase { .. } => "wrong_passphrase",
        KeyError::Read { .. } => "io",
        KeyError::Parse { .. } | KeyError::Empty { .. } => "invalid_input",
        _ => "key_unusable",
    }
}

impl From<KeyError> for CommandError {
    fn from(e: KeyError) -> Self {
        CommandError::new(key_code(&e), &e).with_hint(e.hint())
    }
}

impl From<SealError> for CommandError {
    fn from(e: SealError) -> Self {
        let code = match &e {
            SealError::InvalidReport(_) => "invalid_report",
            SealError::AnonymousSigning => "anonymous_signing",
            SealError::NoRecipients => "no_team_key",
            SealError::Key(k) => key_code(k),
            SealError::Cancelled => "cancelled",
            SealError::Attachment { .. }
            | SealError::AttachmentChanged { .. }
            | SealError::Output(_) => "io",
            _ => "internal",
        };
        CommandError::new(code, &e).with_hint(e.hint())
    }
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::KeyChanged { .. } => CommandError::new("key_changed", &e)
                .hint("compare the new fingerprint with one the team published before replacing the pinned key"),
            StoreError::Program(ProgramError::Unknown(_)) => CommandError::new("not_found", &e),
            StoreError::Exists(_) => CommandError::new("invalid_input", &e).hint("choose another name"),
            StoreError::Key(k) => k.into(),
            StoreError::Io { .. } => CommandError::new("io", &e),
            _ => CommandError::new("internal", &e),
        }
    }
}
