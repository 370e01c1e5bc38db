//! Failures: the specification's error class for the exit code, and what exactly went wrong —
//! which key, which file, why — told on standard error before the frame names the class.

use std::fmt::Display;

use embargo_core::keys::KeyError;
use sop::errors::Error;

/// Says what went wrong and returns the class the frame turns into the exit code.
pub(crate) fn fail(class: Error, detail: impl Display) -> Error {
    eprintln!("embargo-sop: {detail}");
    class
}

/// A signing key that cannot be used: KEY_CANNOT_SIGN, or BAD_DATA for a certificate where a
/// secret key was expected, KEY_IS_PROTECTED for a locked one.
pub(crate) fn signing_key(e: KeyError) -> Error {
    let class = match &e {
        KeyError::NotSecret { .. } => Error::BadData,
        KeyError::PassphraseRequired { .. } | KeyError::WrongPassphrase { .. } => {
            Error::KeyIsProtected
        }
        _ => Error::KeyCannotSign,
    };
    fail(class, e)
}

/// A recipient certificate that cannot be used: CERT_CANNOT_ENCRYPT, or
/// UNSUPPORTED_ASYMMETRIC_ALGO when its encryption subkey's algorithm is not supported here.
pub(crate) fn recipient(e: KeyError, source: Option<&str>, unsupported_algorithm: bool) -> Error {
    let class = if unsupported_algorithm {
        Error::UnsupportedAsymmetricAlgo
    } else {
        Error::CertCannotEncrypt
    };
    match source {
        Some(file) => fail(class, format!("{file}: {e}")),
        None => fail(class, e),
    }
}
