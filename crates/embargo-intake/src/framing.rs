//! OpenPGP message framing checked without decrypting: is a body one encrypted message, and
//! does it carry a PKESK for every team key?
//!
//! The body is read packet by packet with sequoia's `PacketParser` (armored or binary, decided
//! by the bytes). Encrypted containers are never opened: their content is skipped as it
//! streams past, so a body of any size is checked in constant memory.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use embargo_core::protocol::ErrorCode;
use openpgp::parse::{PacketParserBuilder, PacketParserResult, Parse};
use openpgp::{Fingerprint, KeyHandle, Packet};
use sequoia_openpgp as openpgp;

/// A team key as the framing check sees it: its primary fingerprint and the fingerprints of
/// every key a client may have encrypted to.
#[derive(Debug, Clone)]
pub struct RecipientKey {
    pub primary: Fingerprint,
    pub encryption_keys: Vec<Fingerprint>,
}

/// What a message must be addressed to.
#[derive(Debug, Clone, Copy)]
pub enum Expect<'a> {
    /// A report: a PKESK for every team key. Hidden (wildcard) recipients are refused unless
    /// `accept_hidden`; then each one may stand in for one team key without its own PKESK.
    Team {
        keys: &'a [RecipientKey],
        accept_hidden: bool,
    },
    /// A reply to a researcher: at least one PKESK (the server does not know the researcher's
    /// key, so it cannot say which).
    AnyRecipient,
}

/// The facts of a message that passed.
#[derive(Debug, Clone)]
pub struct Framing {
    /// The body was ASCII-armored.
    pub armored: bool,
    /// PKESK recipients (`None`: hidden).
    pub recipients: Vec<Option<KeyHandle>>,
    /// Number of SKESKs (password-encrypted session keys) beside the PKESKs.
    pub skesks: usize,
}

/// Why a body is refused. Each variant has a stable [`Refusal::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error("the body is empty: send one OpenPGP message encrypted to the team's key")]
    Empty,
    #[error(
        "the body is plain text, not an OpenPGP message: seal the report to the team's key first"
    )]
    Plaintext,
    #[error("the body is not an OpenPGP message: {reason}")]
    NotOpenPgp { reason: String },
    #[error("the body is an OpenPGP key, not a message")]
    KeyMaterial,
    #[error("the message is not encrypted: it holds only literal (plaintext) data")]
    LiteralOnly,
    #[error("the message is signed but not encrypted")]
    SignedOnly,
    #[error("the message is compressed but not encrypted")]
    CompressedOnly,
    #[error(
        "the message is encrypted with a password only (SKESK), not to a public key: encrypt it to the team's key"
    )]
    SymmetricOnly,
    #[error(
        "the message is encrypted without integrity protection (SED packet), which is refused"
    )]
    Unprotected,
    #[error("the message is not encrypted to team key {}: it has no PKESK for it (every team key must be a recipient)", .missing.join(", "))]
    MissingRecipient { missing: Vec<String> },
    #[error(
        "the message has a hidden (wildcard) recipient, which this intake does not accept: name every recipient"
    )]
    HiddenRecipient,
    #[error("the message has no PKESK: it is not encrypted to anyone's public key")]
    NoRecipient,
    #[error("the body holds more than one OpenPGP message: {packet} after the encrypted data")]
    TrailingData { packet: String },
    #[error("the body has {what} the ASCII armor: send the armored message alone")]
    AroundArmor { what: &'static str },
    #[error("the ASCII armor carries header lines ({header}): send it without headers (nothing may travel beside the ciphertext)")]
    ArmorHeader { header: String },
    #[error("the message holds a Padding packet: only session keys and one encrypted data packet are accepted (nothing may travel beside the ciphertext)")]
    Padding,
    #[error("the OpenPGP message is malformed: {reason}")]
    Malformed { reason: String },
}

impl Refusal {
    /// The stable snake_case code clients switch on.
    pub fn code(&self) -> ErrorCode {
        match self {
            Refusal::Empty => ErrorCode::EmptyBody,
            Refusal::Plaintext => ErrorCode::Plaintext,
            Refusal::NotOpenPgp { .. } => ErrorCode::NotOpenpgp,
            Refusal::KeyMaterial => ErrorCode::KeyNotMessage,
            Refusal::LiteralOnly => ErrorCode::LiteralOnly,
            Refusal::SignedOnly => ErrorCode::SignedOnly,
            Refusal::CompressedOnly => ErrorCode::CompressedOnly,
            Refusal::SymmetricOnly => ErrorCode::SymmetricOnly,
            Refusal::Unprotected => ErrorCode::UnprotectedEncryption,
            Refusal::MissingRecipient { .. } => ErrorCode::MissingTeamRecipient,
            Refusal::HiddenRecipient => ErrorCode::HiddenRecipient,
            Refusal::NoRecipient => ErrorCode::NoRecipient,
            Refusal::TrailingData { .. } => ErrorCode::TrailingData,
            Refusal::AroundArmor { .. } => ErrorCode::TextAroundArmor,
            Refusal::ArmorHeader { .. } => ErrorCode::ArmorHeader,
            Refusal::Padding => ErrorCode::PaddingPacket,
            Refusal::Malformed { .. } => ErrorCode::MalformedMessage,
        }
    }
}

/// Whether a body starts like ASCII armor rather than binary packets (a binary packet's first
/// byte has its top bit set; leading whitespace is skipped).
pub fn is_armored(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| b & 0x80 == 0)
}

/// Checks a body held in memory.
pub fn check_bytes(bytes: &[u8], expect: Expect<'_>) -> Result<Framing, Refusal> {
    check(bytes, expect)
}

/// Checks a body read from `reader` to its end.
pub fn check<R: Read + Send + Sync>(reader: R, expect: Expect<'_>) -> Result<Framing, Refusal> {
    let mut reader = Prefix::new(reader);
    let result = parse(&mut reader, expect).and_then(|framing| {
        if framing.armored {
            armor_alone(&mut reader)?;
        }
        Ok(framing)
    });
    match result {
        Err(Failure::Parse(e)) if !parsed_any(&reader) => {
            Err(classify_unparsable(&reader.head, &e))
        }
        Err(Failure::Parse(e)) => Err(Refusal::Malformed {
            reason: format!("{e:#}"),
        }),
        Err(Failure::Refused(r)) => Err(r),
        Ok(framing) => Ok(framing),
    }
}

enum Failure {
    Refused(Refusal),
    Parse(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::Parse(e)
    }
}

fn parsed_any<R>(reader: &Prefix<R>) -> bool {
    reader.parsed_any.load(Ordering::Relaxed)
}

fn parse<R: Read + Send + Sync>(
    reader: &mut Prefix<R>,
    expect: Expect<'_>,
) -> Result<Framing, Failure> {
    let parsed = reader.parsed_any.clone();
    let head_is_armor = {
        // The parser decides armor by itself (`Dearmor::Auto`); peek so the answer is reported.
        reader.fill_head()?;
        if reader.head.iter().all(|b| b.is_ascii_whitespace()) && reader.eof {
            return Err(Failure::Refused(Refusal::Empty));
        }
        is_armored(&reader.head)
    };
    // Armor checks apply to armor: a body with no BEGIN line is plain text or garbage, which
    // the parser's failure classifies.
    if head_is_armor
        && reader
            .head
            .windows(BEGIN.len())
            .any(|w| w == BEGIN.as_bytes())
    {
        armor_head(&reader.head).map_err(Failure::Refused)?;
    }
    let mut ppr = PacketParserBuilder::from_reader(&mut *reader)?
        // Only our own top-level packets are looked at: keep sequoia from hashing or
        // buffering anything.
        .drop_unread_content()
        .automatic_hashing(false)
        .build()?;

    let mut recipients: Vec<Option<KeyHandle>> = Vec::new();
    let mut skesks = 0usize;
    let mut container_seen = false;
    // GnuPG's OCB packet (LibrePGP, tag 20): sequoia reads it as an unknown packet, which its
    // message grammar does not know, so that one check is skipped for it.
    let mut librepgp_ocb = false;
    let mut first = true;
    loop {
        let pp = match ppr {
            PacketParserResult::Some(pp) => pp,
            PacketParserResult::EOF(eof) => {
                if !container_seen {
                    // Only ESKs, markers or padding: nothing was encrypted.
                    return Err(Failure::Refused(if recipients.is_empty() && skesks == 0 {
                        Refusal::NotOpenPgp {
                            reason: "it holds no encrypted data".into(),
                        }
                    } else {
                        Refusal::Malformed {
                            reason: "session keys but no encrypted data (truncated?)".into(),
                        }
                    }));
                }
                if let Err(e) = eof.is_message() {
                    if librepgp_ocb {
                        break;
                    }
                    return Err(Failure::Refused(Refusal::Malformed {
                        reason: format!("{e:#}"),
                    }));
                }
                break;
            }
        };
        if pp.recursion_depth() > 0 {
            // `next()` never descends, so this only happens for a container the parser opened
            // on its own (compressed data), which the top-level check below refused already.
            return Err(Failure::Refused(Refusal::CompressedOnly));
        }
        if container_seen {
            match &pp.packet {
                Packet::Marker(_) => {}
                Packet::Padding(_) => return Err(Failure::Refused(Refusal::Padding)),
                other => {
                    return Err(Failure::Refused(Refusal::TrailingData {
                        packet: format!("a {} packet", other.tag()),
                    }))
                }
            }
        } else {
            match &pp.packet {
                Packet::PKESK(p) => recipients.push(p.recipient()),
                Packet::SKESK(_) => skesks += 1,
                Packet::SEIP(_) => container_seen = true,
                // A Marker's body is fixed ("PGP"): it cannot carry anything.
                Packet::Marker(_) => {}
                Packet::Padding(_) => return Err(Failure::Refused(Refusal::Padding)),
                Packet::Literal(_) => return Err(Failure::Refused(Refusal::LiteralOnly)),
                Packet::OnePassSig(_) | Packet::Signature(_) => {
                    return Err(Failure::Refused(Refusal::SignedOnly))
                }
                Packet::CompressedData(_) => return Err(Failure::Refused(Refusal::CompressedOnly)),
                Packet::PublicKey(_)
                | Packet::SecretKey(_)
                | Packet::PublicSubkey(_)
                | Packet::SecretSubkey(_)
                | Packet::UserID(_)
                | Packet::UserAttribute(_) => return Err(Failure::Refused(Refusal::KeyMaterial)),
                Packet::Unknown(u) if u.tag() == openpgp::packet::Tag::AED => {
                    container_seen = true;
                    librepgp_ocb = true;
                }
                Packet::Unknown(u) if u.tag() == openpgp::packet::Tag::SED => {
                    return Err(Failure::Refused(Refusal::Unprotected))
                }
                other => {
                    let refusal = if first {
                        Refusal::NotOpenPgp {
                            reason: format!("it starts with a {} packet", other.tag()),
                        }
                    } else {
                        Refusal::Malformed {
                            reason: format!("unexpected {} packet", other.tag()),
                        }
                    };
                    return Err(Failure::Refused(refusal));
                }
            }
            if container_seen {
                check_recipients(&recipients, skesks, expect).map_err(Failure::Refused)?;
            }
        }
        first = false;
        parsed.store(true, Ordering::Relaxed);
        ppr = pp.next()?.1;
    }
    Ok(Framing {
        armored: head_is_armor,
        recipients,
        skesks,
    })
}

fn check_recipients(
    recipients: &[Option<KeyHandle>],
    skesks: usize,
    expect: Expect<'_>,
) -> Result<(), Refusal> {
    if recipients.is_empty() {
        return Err(if skesks > 0 {
            Refusal::SymmetricOnly
        } else {
            Refusal::NoRecipient
        });
    }
    match expect {
        Expect::AnyRecipient => Ok(()),
        Expect::Team {
            keys,
            accept_hidden,
        } => {
            let hidden = recipients.iter().filter(|r| r.is_none()).count();
            if hidden > 0 && !accept_hidden {
                return Err(Refusal::HiddenRecipient);
            }
            let missing: Vec<String> = keys
                .iter()
                .filter(|key| {
                    !recipients.iter().flatten().any(|handle| {
                        key.encryption_keys
                            .iter()
                            .any(|fp| handle.aliases(KeyHandle::from(fp)))
                    })
                })
                .map(|key| key.primary.to_hex())
                .collect();
            if missing.is_empty() || missing.len() <= hidden {
                Ok(())
            } else {
                Err(Refusal::MissingRecipient { missing })
            }
        }
    }
}

/// A body that does not parse at all: plain text, or bytes of no known kind.
fn classify_unparsable(head: &[u8], error: &anyhow::Error) -> Refusal {
    let text = match std::str::from_utf8(head) {
        Ok(t) => Some(t),
        // A multi-byte character cut at the end of the peeked prefix.
        Err(e) if e.error_len().is_none() => {
            Some(std::str::from_utf8(&head[..e.valid_up_to()]).expect("valid prefix"))
        }
        Err(_) => None,
    };
    match text {
        Some(t) if t.contains("-----BEGIN PGP") => Refusal::NotOpenPgp {
            reason: format!("the ASCII armor does not decode: {error:#}"),
        },
        Some(t)
            if !t
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n')) =>
        {
            Refusal::Plaintext
        }
        _ => Refusal::NotOpenPgp {
            reason: format!("{error:#}"),
        },
    }
}

const BEGIN: &str = "-----BEGIN PGP MESSAGE-----";
const END: &str = "-----END PGP MESSAGE-----";

/// An armored body starts with its BEGIN line (whitespace before it aside), and the line after
/// it is the blank line that ends the (empty) header block: no `Comment:` or other header, in
/// which text could travel beside the ciphertext.
fn armor_head(head: &[u8]) -> Result<(), Refusal> {
    let text = String::from_utf8_lossy(head);
    let start = text.trim_start();
    let Some(rest) = start.strip_prefix(BEGIN) else {
        return Err(Refusal::AroundArmor {
            what: "text before",
        });
    };
    let mut lines = rest.split('\n').skip(1);
    match lines.next().map(|l| l.trim_end_matches('\r')) {
        Some("") | None => Ok(()),
        Some(line) => Err(Refusal::ArmorHeader {
            header: line
                .split(':')
                .next()
                .unwrap_or("")
                .chars()
                .take(40)
                .collect(),
        }),
    }
}

/// After the armored message: reads what is left and checks that nothing but whitespace
/// follows the END line.
fn armor_alone<R: Read>(reader: &mut Prefix<R>) -> Result<(), Failure> {
    let mut sink = [0u8; 8192];
    while reader.read(&mut sink)? > 0 {}
    let tail = String::from_utf8_lossy(&reader.tail);
    if tail.trim_end().ends_with(END) {
        Ok(())
    } else {
        Err(Failure::Refused(Refusal::AroundArmor {
            what: "text after",
        }))
    }
}

const HEAD_LEN: usize = 1024;
/// The last bytes of a body kept for [`armor_alone`].
const TAIL_LEN: usize = 4096;

/// Keeps the first bytes for classifying a body that does not parse.
struct Prefix<R> {
    inner: R,
    head: Vec<u8>,
    // Bytes of `head` not yet handed to the parser.
    pending: usize,
    eof: bool,
    // Set once a first packet parsed; shared with the parse loop, which borrows the reader.
    parsed_any: Arc<AtomicBool>,
    // The last bytes read from `inner` (the whole body when it is short).
    tail: Vec<u8>,
}

impl<R: Read> Prefix<R> {
    fn new(inner: R) -> Prefix<R> {
        Prefix {
            inner,
            head: Vec::with_capacity(HEAD_LEN),
            pending: 0,
            eof: false,
            parsed_any: Arc::new(AtomicBool::new(false)),
            tail: Vec::new(),
        }
    }

    fn keep_tail(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > TAIL_LEN {
            let cut = self.tail.len() - TAIL_LEN;
            self.tail.drain(..cut);
        }
    }

    fn fill_head(&mut self) -> io::Result<()> {
        while self.head.len() < HEAD_LEN && !self.eof {
            let start = self.head.len();
            self.head.resize(HEAD_LEN, 0);
            match self.inner.read(&mut self.head[start..]) {
                Ok(0) => {
                    self.head.truncate(start);
                    self.eof = true;
                }
                Ok(n) => {
                    self.head.truncate(start + n);
                    let new = self.head[start..].to_vec();
                    self.keep_tail(&new);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.head.truncate(start),
                Err(e) => {
                    self.head.truncate(start);
                    return Err(e);
                }
            }
        }
        self.pending = self.head.len();
        Ok(())
    }
}

impl<R: Read> Read for Prefix<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pending > 0 {
            let start = self.head.len() - self.pending;
            let n = self.pending.min(buf.len());
            buf[..n].copy_from_slice(&self.head[start..start + n]);
            self.pending -= n;
            return Ok(n);
        }
        if self.eof {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.keep_tail(&buf[..n]);
        Ok(n)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Parse(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;
    use openpgp::Cert;

    fn key_of(cert: &Cert) -> RecipientKey {
        let p = openpgp::policy::StandardPolicy::new();
        RecipientKey {
            primary: cert.fingerprint(),
            encryption_keys: cert
                .keys()
                .with_policy(&p, None)
                .for_transport_encryption()
                .for_storage_encryption()
                .map(|ka| ka.key().fingerprint())
                .collect(),
        }
    }

    fn team(keys: &[RecipientKey]) -> Expect<'_> {
        Expect::Team {
            keys,
            accept_hidden: false,
        }
    }

    #[test]
    fn an_encrypted_message_to_the_team_passes_binary_and_armored() {
        let a = testutil::team_key("a@example.org");
        let keys = [key_of(&a)];
        let binary = testutil::encrypt(&[&a], b"report", false);
        let framing = check_bytes(&binary, team(&keys)).unwrap();
        assert!(!framing.armored);
        assert_eq!(framing.recipients.len(), 1);
        let armored = testutil::encrypt(&[&a], b"report", true);
        assert!(armored.starts_with(b"-----BEGIN PGP MESSAGE-----"));
        assert!(check_bytes(&armored, team(&keys)).unwrap().armored);
        // The streaming path reads the same way.
        assert!(check(&binary[..], team(&keys)).is_ok());
        // SEIPDv2: v6 PKESKs name the subkey by fingerprint.
        let v2 = testutil::encrypt_v2(&[&a], b"report");
        let framing = check_bytes(&v2, team(&keys)).unwrap();
        assert!(matches!(
            framing.recipients[0],
            Some(KeyHandle::Fingerprint(_))
        ));
        let b = testutil::team_key("b@example.org");
        assert_eq!(
            check_bytes(&v2, team(&[key_of(&b)]))
                .unwrap_err()
                .code()
                .as_str(),
            "missing_team_recipient"
        );
    }

    #[test]
    fn every_team_key_must_be_a_recipient() {
        let a = testutil::team_key("a@example.org");
        let b = testutil::team_key("b@example.org");
        let other = testutil::team_key("someone@else.example");
        let keys = [key_of(&a), key_of(&b)];
        let both = testutil::encrypt(&[&a, &b, &other], b"x", false);
        assert!(check_bytes(&both, team(&keys)).is_ok());
        let only_a = testutil::encrypt(&[&a, &other], b"x", false);
        let err = check_bytes(&only_a, team(&keys)).unwrap_err();
        assert_eq!(
            err,
            Refusal::MissingRecipient {
                missing: vec![b.fingerprint().to_hex()]
            }
        );
        assert_eq!(err.code().as_str(), "missing_team_recipient");
        assert!(err.to_string().contains(&b.fingerprint().to_hex()));
    }

    #[test]
    fn hidden_recipients_only_when_configured() {
        let a = testutil::team_key("a@example.org");
        let keys = [key_of(&a)];
        for format in [testutil::Format::V1, testutil::Format::V2] {
            let hidden = testutil::encrypt_hidden(&[&a], b"x", format);
            assert_eq!(
                check_bytes(&hidden, team(&keys)).unwrap_err(),
                Refusal::HiddenRecipient
            );
            let lenient = Expect::Team {
                keys: &keys,
                accept_hidden: true,
            };
            assert!(check_bytes(&hidden, lenient).is_ok());
        }
    }

    #[test]
    fn unencrypted_and_symmetric_messages_are_refused_by_kind() {
        let a = testutil::team_key("a@example.org");
        let keys = [key_of(&a)];
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (testutil::literal(b"plain report"), "literal_only"),
            (testutil::signed_only(&a, b"signed report"), "signed_only"),
            (
                testutil::compressed(b"compressed report"),
                "compressed_only",
            ),
            (testutil::symmetric_only(b"secret"), "symmetric_only"),
            (
                b"Dear team, here is my report in the clear.\n".to_vec(),
                "plaintext",
            ),
            (
                vec![0x00, 0x01, 0x02, 0xff, 0xfe, 0x10, 0x20, 0x30, 0x99],
                "not_openpgp",
            ),
            (Vec::new(), "empty_body"),
            (testutil::public_armored(&a), "key_not_message"),
        ];
        for (body, code) in cases {
            let err = check_bytes(&body, team(&keys)).unwrap_err();
            assert_eq!(err.code().as_str(), code, "{err}");
        }
    }

    #[test]
    fn garbage_after_the_message_and_truncation_are_refused() {
        let a = testutil::team_key("a@example.org");
        let keys = [key_of(&a)];
        let mut twice = testutil::encrypt(&[&a], b"x", false);
        twice.extend(testutil::literal(b"appended"));
        assert_eq!(
            check_bytes(&twice, team(&keys))
                .unwrap_err()
                .code()
                .as_str(),
            "trailing_data"
        );
        let whole = testutil::encrypt(&[&a], &[7u8; 5000], false);
        let cut = &whole[..whole.len() - 100];
        assert_eq!(
            check_bytes(cut, team(&keys)).unwrap_err().code().as_str(),
            "malformed_message"
        );
    }

    #[test]
    fn replies_need_some_public_key_recipient() {
        let researcher = testutil::team_key("r@example.org");
        let reply = testutil::encrypt(&[&researcher], b"thanks", true);
        assert!(check_bytes(&reply, Expect::AnyRecipient).is_ok());
        assert_eq!(
            check_bytes(&testutil::symmetric_only(b"x"), Expect::AnyRecipient).unwrap_err(),
            Refusal::SymmetricOnly
        );
    }
}
