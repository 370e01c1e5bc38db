//! Attachments as they are sealed: metadata scrubbed from images and PDFs unless kept.

use std::fs::File;
use std::io;
use std::path::Path;

use crate::bundle::Attachment;

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
                ..Attachment::from_memory(&name, s.bytes).map_err(|why| {
                    crate::bundle::AttachmentError::BadName {
                        path: path.display().to_string(),
                        why,
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
