//! Reads a bundle as it streams: recognises it, parses report.json, and writes every attachment
//! through a sink while checking its size and SHA-256 against report.json.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use super::{hex, ReportJson, REPLY_KEY_ASC, REPORT_JSON, RESEARCHER_ASC};
use crate::limits::{MAX_ATTACHMENTS, MAX_REPORT_JSON_BYTES, MAX_RESEARCHER_KEY_BYTES};
use crate::mime::{Headers, MimeError, MimeReader};
use crate::text::{safe_file_name, NameAllocator, Shown};

/// Why a bundle could not be read. Names are escaped for display.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The MIME structure is broken, or the stream under it failed.
    #[error(transparent)]
    Mime(#[from] MimeError),
    /// report.json is not the JSON of a report.
    #[error("report.json does not parse: {0}")]
    ReportJson(String),
    /// A part that is buffered is over its limit.
    #[error("{part} is over the limit of {limit} bytes")]
    TooLarge {
        /// Which part.
        part: &'static str,
        /// The limit.
        limit: usize,
    },
    /// report.json lists more attachments than a report may carry.
    #[error("report.json lists {count} attachments, over the limit of {limit}")]
    TooManyAttachments {
        /// How many it lists.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A part that report.json does not list.
    #[error("attachment {name} is not listed in report.json")]
    Unlisted {
        /// Its name.
        name: String,
    },
    /// A part whose name differs from report.json's entry at its position.
    #[error("attachment {found} is listed as {listed} in report.json")]
    NameMismatch {
        /// The part's name.
        found: String,
        /// report.json's name.
        listed: String,
    },
    /// A part whose size differs from report.json.
    #[error("attachment {name}: {found} bytes, report.json says {listed}")]
    SizeMismatch {
        /// Its name.
        name: String,
        /// report.json's size.
        listed: u64,
        /// The part's size.
        found: u64,
    },
    /// A part whose SHA-256 differs from report.json.
    #[error("attachment {name}: SHA-256 differs from report.json")]
    HashMismatch {
        /// Its name.
        name: String,
    },
    /// Fewer parts than report.json lists.
    #[error("report.json lists {listed} attachments, the bundle has {found}")]
    Missing {
        /// report.json's count.
        listed: usize,
        /// Parts found.
        found: usize,
    },
    /// The sink failed.
    #[error("cannot write attachment {name}: {source}")]
    Output {
        /// Its (safe) name.
        name: String,
        /// The error.
        source: io::Error,
    },
}

/// Where attachments go: one writer per attachment, under the name it will have.
pub trait AttachmentSink {
    /// The writer type.
    type Writer: Write;
    /// Creates the file for an attachment (`name` is safe and unique).
    fn create(&mut self, name: &str) -> io::Result<Self::Writer>;
    /// Called when an attachment is complete and checked.
    fn finish(&mut self, writer: Self::Writer) -> io::Result<()>;
}

/// A bundle read whole.
#[derive(Debug)]
pub struct Contents {
    /// report.json as it was in the bundle.
    pub json: Vec<u8>,
    /// report.json parsed.
    pub report: ReportJson,
    /// The names the attachments were written under, in order.
    pub attachments: Vec<String>,
    /// researcher.asc, when present.
    pub researcher: Option<Vec<u8>>,
    /// reply-key.asc (an anonymous report's reply key), when present.
    pub reply_key: Option<Vec<u8>>,
}

/// Reads up to the headers of report.json: `Some` when the stream is an Embargo bundle (a
/// `multipart/mixed` whose first part is text and whose second is report.json), `None` when it
/// is anything else. Only a failure of the stream itself is an error.
pub fn identify<R: Read>(mr: &mut MimeReader<R>) -> Result<Option<Headers>, MimeError> {
    fn soft<T>(r: Result<T, MimeError>) -> Result<Option<T>, MimeError> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(MimeError::Read(e)) => Err(MimeError::Read(e)),
            Err(_) => Ok(None),
        }
    }
    let Some(top) = soft(mr.read_headers())? else {
        return Ok(None);
    };
    let (ctype, params) = top.content_type();
    let Some(boundary) = params
        .get("boundary")
        .filter(|_| ctype == "multipart/mixed")
    else {
        return Ok(None);
    };
    if soft(mr.begin_multipart(boundary))?.is_none() {
        return Ok(None);
    }
    let Some(Some(first)) = soft(mr.next_part())? else {
        return Ok(None);
    };
    if first.content_type().0 != "text/plain" {
        return Ok(None);
    }
    if soft(mr.stream_body::<MimeError>(&mut |_| Ok(())))?.is_none() {
        return Ok(None);
    }
    let Some(Some(second)) = soft(mr.next_part())? else {
        return Ok(None);
    };
    if second.content_type().0 != "application/json"
        || second.filename().as_deref() != Some(REPORT_JSON)
    {
        return Ok(None);
    }
    Ok(Some(second))
}

/// Reads the rest of a bundle after [`identify`]: report.json, the attachments into `sink`,
/// researcher.asc.
pub fn read_rest<R: Read, S: AttachmentSink>(
    mr: &mut MimeReader<R>,
    json_part: &Headers,
    sink: &mut S,
) -> Result<Contents, BundleError> {
    let json = read_small(mr, json_part, REPORT_JSON, MAX_REPORT_JSON_BYTES)?;
    let report: ReportJson =
        serde_json::from_slice(&json).map_err(|e| BundleError::ReportJson(e.to_string()))?;
    if report.attachments.len() > MAX_ATTACHMENTS {
        return Err(BundleError::TooManyAttachments {
            count: report.attachments.len(),
            limit: MAX_ATTACHMENTS,
        });
    }
    let mut names = NameAllocator::default();
    let mut attachments = Vec::with_capacity(report.attachments.len());
    let mut researcher = None;
    let mut reply_key = None;
    while let Some(part) = mr.next_part()? {
        let raw_name = part.filename().unwrap_or_default();
        let key_part = [RESEARCHER_ASC, REPLY_KEY_ASC]
            .into_iter()
            .find(|n| *n == raw_name);
        if let (Some(name), "application/pgp-keys") = (key_part, part.content_type().0.as_str()) {
            let bytes = Some(read_small(mr, &part, name, MAX_RESEARCHER_KEY_BYTES)?);
            if name == RESEARCHER_ASC {
                researcher = bytes;
            } else {
                reply_key = bytes;
            }
            continue;
        }
        let index = attachments.len();
        let Some(meta) = report.attachments.get(index) else {
            return Err(BundleError::Unlisted {
                name: Shown(&raw_name).to_string(),
            });
        };
        if meta.name != raw_name {
            return Err(BundleError::NameMismatch {
                found: Shown(&raw_name).to_string(),
                listed: Shown(&meta.name).to_string(),
            });
        }
        let mut name = safe_file_name(&raw_name);
        if name.is_empty() {
            name = format!("attachment-{}", index + 1);
        }
        let name = names.allocate(&name);
        let output = |source| BundleError::Output {
            name: name.clone(),
            source,
        };
        let mut file = sink.create(&name).map_err(output)?;
        let mut hash = Sha256::new();
        let mut size = 0u64;
        mr.stream_decoded::<BundleError>(&part.transfer_encoding(), &mut |bytes| {
            hash.update(bytes);
            size += bytes.len() as u64;
            file.write_all(bytes).map_err(output)
        })?;
        if size != meta.size {
            return Err(BundleError::SizeMismatch {
                name: Shown(&meta.name).to_string(),
                listed: meta.size,
                found: size,
            });
        }
        if hex(&hash.finalize()) != meta.sha256 {
            return Err(BundleError::HashMismatch {
                name: Shown(&meta.name).to_string(),
            });
        }
        sink.finish(file).map_err(output)?;
        attachments.push(name);
    }
    if attachments.len() != report.attachments.len() {
        return Err(BundleError::Missing {
            listed: report.attachments.len(),
            found: attachments.len(),
        });
    }
    Ok(Contents {
        json,
        report,
        attachments,
        researcher,
        reply_key,
    })
}

fn read_small<R: Read>(
    mr: &mut MimeReader<R>,
    part: &Headers,
    what: &'static str,
    limit: usize,
) -> Result<Vec<u8>, BundleError> {
    let mut out = Vec::new();
    mr.stream_decoded::<BundleError>(&part.transfer_encoding(), &mut |b| {
        if out.len() + b.len() > limit {
            return Err(BundleError::TooLarge { part: what, limit });
        }
        out.extend_from_slice(b);
        Ok(())
    })?;
    Ok(out)
}
