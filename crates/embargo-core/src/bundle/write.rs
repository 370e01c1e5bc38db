//! Writes the bundle, streaming: attachments are read, hashed and base64-encoded 64 KiB at a time.

use std::fs::File;
use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use super::{
    hex, Attachment, AttachmentSource, ReportJson, IO_CHUNK, REPLY_KEY_ASC, REPORT_JSON,
    RESEARCHER_ASC, SCHEMA_HEADER,
};
use crate::limits::MAX_REPORT_JSON_BYTES;
use crate::mime;

/// Why the bundle could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// An attachment cannot be read.
    #[error("cannot read attachment {path}: {source}")]
    Attachment {
        /// The file.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
    /// An attachment's bytes differ from when it was added.
    #[error("attachment {path} changed since it was added (size or SHA-256 differ)")]
    AttachmentChanged {
        /// The file.
        path: String,
    },
    /// report.json would be larger than `open` accepts (cannot happen for a report that passed
    /// `Report::validate`; kept as a guard so that the limits cannot drift apart).
    #[error("report.json is {size} bytes, over the limit of {MAX_REPORT_JSON_BYTES}")]
    ReportJsonTooLarge {
        /// Its size.
        size: usize,
    },
    /// The progress callback asked to stop.
    #[error("cancelled")]
    Cancelled,
    /// The sink failed.
    #[error("cannot write the bundle: {0}")]
    Output(io::Error),
}

/// Progress of a seal: bytes of attachments written so far, of the total. Return `false` to
/// cancel.
pub type ProgressFn<'a> = dyn FnMut(u64, u64) -> bool + Send + 'a;

/// What goes into one bundle.
pub struct Parts<'a> {
    /// The MIME boundary.
    pub boundary: &'a str,
    /// The title, for the protected Subject header.
    pub title: &'a str,
    /// The readable part (CRLF line ends).
    pub text: &'a str,
    /// report.json.
    pub json: &'a ReportJson,
    /// The attachments, in report.json's order.
    pub attachments: &'a [Attachment],
    /// The signer's armored public key, when signed.
    pub researcher_asc: Option<&'a str>,
    /// The anonymous report's reply key (public), when it has one.
    pub reply_key_asc: Option<&'a str>,
}

/// Writes the bundle into `out`; returns the number of bytes written.
pub fn write_bundle(
    out: &mut dyn Write,
    parts: &Parts<'_>,
    progress: &mut ProgressFn<'_>,
) -> Result<u64, WriteError> {
    let mut out = Counting {
        inner: out,
        count: 0,
    };
    let boundary = parts.boundary;
    let json_text = serde_json::to_string_pretty(parts.json)
        .expect("report.json serializes")
        .replace('\n', "\r\n");
    if json_text.len() > MAX_REPORT_JSON_BYTES {
        return Err(WriteError::ReportJsonTooLarge {
            size: json_text.len(),
        });
    }
    let w =
        |out: &mut Counting<'_>, s: &str| out.write_all(s.as_bytes()).map_err(WriteError::Output);
    w(
        &mut out,
        &format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"; protected-headers=\"v1\"; hp=\"cipher\"\r\n\
             Subject: {}\r\nMIME-Version: 1.0\r\n{SCHEMA_HEADER}: {}\r\n\r\n\
             This is an Embargo vulnerability report (MIME, RFC 2045).\r\n",
            mime::encode_header(parts.title),
            crate::report::SCHEMA,
        ),
    )?;
    w(
        &mut out,
        &format!(
            "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\
             Content-Disposition: inline\r\n\r\n{}\r\n",
            parts.text
        ),
    )?;
    w(
        &mut out,
        &format!(
            "--{boundary}\r\nContent-Type: application/json; charset=utf-8; name=\"{REPORT_JSON}\"\r\n\
             Content-Disposition: attachment; filename=\"{REPORT_JSON}\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{json_text}\r\n"
        ),
    )?;
    let total: u64 = parts.attachments.iter().map(|a| a.meta.size).sum();
    let mut done = 0u64;
    if !progress(0, total) {
        return Err(WriteError::Cancelled);
    }
    let mut buf = vec![0u8; IO_CHUNK];
    for attachment in parts.attachments {
        let meta = &attachment.meta;
        // base64, not `binary`: measured, Python's `email.message_from_binary_file` (the
        // documented way to parse a file) turns CR/LF inside binary parts into newlines and
        // corrupts them; gpg and sq only see the whole bundle and are indifferent. See README.
        w(
            &mut out,
            &format!(
                "--{boundary}\r\nContent-Type: {}; {}\r\nContent-Disposition: attachment; {}\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n",
                meta.content_type,
                mime::param("name", &meta.name),
                mime::param("filename", &meta.name),
            ),
        )?;
        let mut hash = Sha256::new();
        let mut size = 0u64;
        let mut b64 = mime::Base64Lines::default();
        let mut emit = |chunk: &[u8], out: &mut Counting<'_>| -> Result<(), WriteError> {
            hash.update(chunk);
            out.write_all(b64.push(chunk)).map_err(WriteError::Output)?;
            size += chunk.len() as u64;
            done += chunk.len() as u64;
            if progress(done, total) {
                Ok(())
            } else {
                Err(WriteError::Cancelled)
            }
        };
        let label = match &attachment.source {
            AttachmentSource::File(path) => {
                let attachment_err = |source| WriteError::Attachment {
                    path: path.display().to_string(),
                    source,
                };
                let mut file = File::open(path).map_err(attachment_err)?;
                loop {
                    let n = match file.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(attachment_err(e)),
                    };
                    emit(&buf[..n], &mut out)?;
                }
                path.display().to_string()
            }
            AttachmentSource::Memory(bytes) => {
                for chunk in bytes.chunks(IO_CHUNK) {
                    emit(chunk, &mut out)?;
                }
                meta.name.clone()
            }
        };
        out.write_all(b64.finish()).map_err(WriteError::Output)?;
        if size == 0 {
            // The delimiter's own line break: without it an empty body reads as none at all,
            // which not every MIME reader takes.
            w(&mut out, "\r\n")?;
        }
        if size != meta.size || hex(&hash.finalize()) != meta.sha256 {
            return Err(WriteError::AttachmentChanged { path: label });
        }
    }
    for (name, armored) in [
        (RESEARCHER_ASC, parts.researcher_asc),
        (REPLY_KEY_ASC, parts.reply_key_asc),
    ] {
        let Some(armored) = armored else { continue };
        let armored = armored.replace("\r\n", "\n").replace('\n', "\r\n");
        w(
            &mut out,
            &format!(
                "--{boundary}\r\nContent-Type: application/pgp-keys; name=\"{name}\"\r\n\
                 Content-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{armored}\r\n"
            ),
        )?;
    }
    w(&mut out, &format!("--{boundary}--\r\n"))?;
    Ok(out.count)
}

struct Counting<'a> {
    inner: &'a mut dyn Write,
    count: u64,
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
