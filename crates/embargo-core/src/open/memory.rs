//! Opening into memory, for the app's inbox: the report is shown and attachments are written
//! only where the user saves them, so nothing of it touches the disk on the way. The same
//! decryption helper and bundle reader as `open`, with a cap on what is held.

use std::io::{self, Read, Write};

use openpgp::Cert;
use sequoia_openpgp as openpgp;
use zeroize::Zeroizing;

use super::decrypt::{self, Helper, SignatureStatus};
use super::{bundle_error, OpenError};
use crate::bundle::read::{self as bundle_read, AttachmentSink, BundleError};
use crate::bundle::{ReportJson, REPLY_KEY_ASC, RESEARCHER_ASC};
use crate::keys::{self, Format, PassphraseFn};
use crate::mime::{MimeError, MimeReader};

/// A message opened into memory (wiped when dropped).
pub struct OpenedInMemory {
    /// Signature state.
    pub signature: SignatureStatus,
    /// Encryption format.
    pub format: Format,
    /// Fingerprint of the secret key that decrypted it.
    pub decrypted_with: String,
    /// The report, when the message was an Embargo bundle.
    pub report: Option<ReportJson>,
    /// The attachments (name as it would be saved, bytes), in order.
    pub attachments: Vec<(String, Zeroizing<Vec<u8>>)>,
    /// The key the bundle carried.
    pub researcher: Option<Cert>,
    /// The reply key an anonymous report carried ([`crate::replykey`]).
    pub reply_key: Option<Cert>,
    /// The plaintext, when the message was not a bundle.
    pub plaintext: Option<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for OpenedInMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedInMemory")
            .field("signature", &self.signature)
            .field("attachments", &self.attachments.len())
            .finish_non_exhaustive()
    }
}

/// Holds the decrypted stream within a budget.
struct Capped<R> {
    inner: R,
    left: u64,
    exceeded: bool,
    raw: Option<Zeroizing<Vec<u8>>>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            self.exceeded = true;
            return Err(io::Error::other("over the limit"));
        }
        self.left -= n as u64;
        if let Some(raw) = &mut self.raw {
            raw.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

#[derive(Default)]
struct MemorySink {
    files: Vec<(String, Zeroizing<Vec<u8>>)>,
}

struct MemoryFile {
    name: String,
    bytes: Zeroizing<Vec<u8>>,
}

impl Write for MemoryFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AttachmentSink for MemorySink {
    type Writer = MemoryFile;
    fn create(&mut self, name: &str) -> io::Result<MemoryFile> {
        Ok(MemoryFile {
            name: name.to_owned(),
            bytes: Zeroizing::new(Vec::new()),
        })
    }
    fn finish(&mut self, file: MemoryFile) -> io::Result<()> {
        self.files.push((file.name, file.bytes));
        Ok(())
    }
}

/// Decrypts, verifies and reads a message into memory, holding at most `max_bytes` of
/// plaintext. `verify_with` works as for [`super::open`].
pub fn open_in_memory<R: Read + Send + Sync>(
    input: R,
    secret_keys: &[Cert],
    verify_with: &[Cert],
    passphrase: &mut PassphraseFn<'_>,
    max_bytes: u64,
    require_signature: bool,
) -> Result<OpenedInMemory, OpenError> {
    let p = keys::policy();
    let input = super::position_at_message(io::BufReader::new(input))?;
    let helper = Helper::new(secret_keys, verify_with, passphrase);
    let decryptor = decrypt::start(input, helper, &p).map_err(decrypt::start_error)?;
    let mut mr = MimeReader::new(Capped {
        inner: decryptor,
        left: max_bytes,
        exceeded: false,
        raw: Some(Zeroizing::new(Vec::new())),
    });
    let failed = |e: BundleError| -> OpenError {
        match e {
            BundleError::Mime(MimeError::Read(io)) => OpenError::Integrity(Box::new(io)),
            e => bundle_error(e),
        }
    };
    let mut sink = MemorySink::default();
    let contents = match bundle_read::identify(&mut mr) {
        Ok(Some(json_part)) => {
            mr.get_mut().raw = None;
            match bundle_read::read_rest(&mut mr, &json_part, &mut sink) {
                Ok(c) => Some(c),
                Err(e) => {
                    let exceeded = mr.get_mut().exceeded;
                    let drained = mr.drain();
                    if exceeded {
                        return Err(OpenError::TooLarge { limit: max_bytes });
                    }
                    if let Err(MimeError::Read(io)) = drained {
                        return Err(OpenError::Integrity(Box::new(io)));
                    }
                    return Err(failed(e));
                }
            }
        }
        Ok(None) => None,
        Err(e) => {
            if mr.get_mut().exceeded {
                return Err(OpenError::TooLarge { limit: max_bytes });
            }
            return Err(failed(BundleError::Mime(e)));
        }
    };
    // Reading to the end makes the decryptor check the MDC/AEAD tags and the signatures.
    if let Err(e) = mr.drain() {
        if mr.get_mut().exceeded {
            return Err(OpenError::TooLarge { limit: max_bytes });
        }
        return Err(failed(BundleError::Mime(e)));
    }
    let capped = mr.into_inner();
    let helper = capped.inner.into_helper();
    let format = helper.format.ok_or(OpenError::NotEncrypted)?;
    let researcher = contents
        .as_ref()
        .and_then(|c| c.researcher.as_deref())
        .and_then(|b| keys::parse_certs(b, RESEARCHER_ASC).ok())
        .map(|mut v| v.remove(0));
    let reply_key = contents
        .as_ref()
        .and_then(|c| c.reply_key.as_deref())
        .and_then(|b| keys::parse_certs(b, REPLY_KEY_ASC).ok())
        .map(|mut v| v.remove(0));
    let signature =
        decrypt::signature_status(&helper, researcher.as_ref(), !verify_with.is_empty(), &p);
    match &signature {
        SignatureStatus::Bad { .. } => return Err(OpenError::BadSignature(signature)),
        SignatureStatus::None | SignatureStatus::Unknown { .. } if require_signature => {
            return Err(OpenError::SignatureRequired(signature))
        }
        _ => {}
    }
    let decrypted_with = helper.decrypted_with.clone().unwrap_or_default();
    Ok(match contents {
        Some(c) => OpenedInMemory {
            signature,
            format,
            decrypted_with,
            report: Some(c.report),
            attachments: sink.files,
            researcher,
            reply_key,
            plaintext: None,
        },
        None => OpenedInMemory {
            signature,
            format,
            decrypted_with,
            report: None,
            attachments: Vec::new(),
            researcher: None,
            reply_key: None,
            plaintext: capped.raw,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::Attachment;
    use crate::report::Report;
    use crate::seal::{seal, SealRequest};
    use openpgp::cert::CertBuilder;

    #[test]
    fn a_sealed_report_opens_into_memory_and_a_flipped_byte_does_not() {
        let (team, _) = CertBuilder::general_purpose(Some("t")).generate().unwrap();
        let text = "+++\nschema = 1\nprogram = \"novu\"\ntitle = \"T\"\nassets = [\"example.org\"]\nclass = \"other\"\ncredit = \"anonymous\"\nattestations = []\nscope_confirmations = []\n+++\nbody\n";
        let report = Report::parse(text).unwrap().0;
        let poc = Attachment::from_memory("poc.txt", Zeroizing::new(b"proof".to_vec())).unwrap();
        let recipients = [team.clone()];
        let attachments = [poc];
        let req = SealRequest {
            report: &report,
            program: None,
            recipients: &recipients,
            attachments: &attachments,
            signer: None,
            sign_anyway: false,
            encrypt_to_self: false,
            aead: false,
            reply_key: None,
        };
        let mut sealed = Vec::new();
        seal(&req, &mut sealed, false, &mut |_, _| true).unwrap();
        let mut none = |_: &str| None;
        let opened = open_in_memory(
            &sealed[..],
            std::slice::from_ref(&team),
            &[],
            &mut none,
            1 << 20,
            false,
        )
        .unwrap();
        assert_eq!(opened.report.as_ref().unwrap().title, "T");
        assert_eq!(opened.attachments.len(), 1);
        assert_eq!(opened.attachments[0].0, "poc.txt");
        assert_eq!(&opened.attachments[0].1[..], b"proof");
        assert!(matches!(
            open_in_memory(
                &sealed[..],
                std::slice::from_ref(&team),
                &[],
                &mut none,
                100,
                false
            ),
            Err(OpenError::TooLarge { limit: 100 })
        ));
        let mut bad = sealed.clone();
        let at = bad.len() - 30;
        bad[at] ^= 1;
        assert!(matches!(
            open_in_memory(&bad[..], &[team], &[], &mut none, 1 << 20, false),
            Err(OpenError::Integrity(_))
        ));
    }
}
