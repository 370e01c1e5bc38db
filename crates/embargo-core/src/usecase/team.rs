//! The security team's side, kept in the vault: one member's key and the team's intake.
//!
//! A team member connects once: the intake's URL, the team token, the program the intake serves
//! and the member's **own** secret key (every member has one, each pinned as a team key of the
//! program and listed to the intake with `--team-cert`, so every report is encrypted to every
//! member). Under the data directory:
//! - `vault/team/member.asc`: the member's key, every secret key locked with its passphrase
//!   (an unprotected key is locked with the passphrase given, which must pass the vault's floor);
//! - `vault/team/connection.pgp`: the URL, token and program, a message to the member's key;
//! - `vault/team/seen.pgp`: the receipts the member has opened (a report is "new" until then)
//!   and their references, a message to the member's key.
//!
//! Reports are opened in memory ([`crate::open::memory`]): nothing of one is written to disk.
//! Replies are signed by the member's key (the researcher's app names the member by its user
//! ID and verifies it against the program's pinned keys) and encrypted to the key the report
//! carried — the researcher's or an anonymous report's reply key — and to the member.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use openpgp::crypto::Password;
use openpgp::Cert;
use sequoia_openpgp as openpgp;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::deliver::client::IntakeError;
use crate::deliver::reply::{self, ReplyError};
use crate::deliver::TeamSession;
use crate::fsutil;
use crate::keys::{self, strength, KeyError, KeyProfile, PassphraseFn, Signer};
use crate::message;
use crate::net::NetConfig;
use crate::open::memory::{open_in_memory, OpenedInMemory};
use crate::open::{OpenError, SignatureStatus};
use crate::protocol::{ReplyCreated, ReportStatus, StatusChanged};
use crate::store::Store;

use super::status::{AnswerDue, ReadReply, ReplySigner};

/// Largest report opened in memory (its ciphertext as fetched, and its plaintext).
pub const MAX_OPEN_BYTES: u64 = 256 * 1024 * 1024;

/// Why a team action failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TeamError {
    /// Not connected yet.
    #[error("no team connection in this data directory: connect first (`embargo team connect`)")]
    NotConnected,
    /// The member's key cannot be used (wrong passphrase, no encryption key…).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The passphrase is too weak to lock an unprotected key with.
    #[error(transparent)]
    WeakPassphrase(#[from] strength::WeakPassphrase),
    /// The intake refused or could not be reached.
    #[error(transparent)]
    Intake(#[from] IntakeError),
    /// The report could not be opened with the member's key.
    #[error("report {receipt}: {source}")]
    Open {
        /// The receipt.
        receipt: String,
        /// Why.
        #[source]
        source: OpenError,
    },
    /// A reply could not be sealed.
    #[error("report {receipt}: {source}")]
    Reply {
        /// The receipt.
        receipt: String,
        /// Why.
        #[source]
        source: ReplyError,
    },
    /// A file of the team's part of the vault.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

fn file_err(path: &std::path::Path) -> impl Fn(String) -> TeamError + '_ {
    move |reason| TeamError::File {
        path: path.display().to_string(),
        reason,
    }
}

/// What a member connects with (the token wiped from memory when dropped).
#[derive(Serialize, Deserialize)]
pub struct Connection {
    /// The intake's base URL.
    pub intake_url: String,
    /// The team token (wiped when dropped).
    pub token: String,
    /// The program the intake serves (its promise sets each report's due date).
    pub program: Option<String>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.token);
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("intake_url", &self.intake_url)
            .field("program", &self.program)
            .finish_non_exhaustive()
    }
}

fn dir(store: &Store) -> PathBuf {
    store.root().join("vault").join("team")
}

/// The member's key (public parts and locked secrets), when connected.
pub fn member(store: &Store) -> Result<Option<Cert>, TeamError> {
    let path = dir(store).join("member.asc");
    match fs::read(&path) {
        Ok(bytes) => Ok(Some(
            keys::parse_certs(&bytes, &path.display().to_string())?.remove(0),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(file_err(&path)(e.to_string())),
    }
}

/// Connects this data directory to a team's intake as one member: checks the URL (the URL and
/// token trimmed of blanks), locks the
/// member's key with `passphrase` when it is not locked (and checks that it unlocks with it),
/// and keeps both in the vault. Connecting again replaces the connection and the key.
pub fn connect(
    store: &Store,
    connection: &Connection,
    member_key: Cert,
    passphrase: Password,
) -> Result<Cert, TeamError> {
    // Pasted values often carry blanks around them: the URL and token as meant.
    let connection = &Connection {
        intake_url: connection.intake_url.trim().to_owned(),
        token: connection.token.trim().to_owned(),
        program: connection.program.clone(),
    };
    crate::deliver::check_intake_url(&connection.intake_url)?;
    let fingerprint = member_key.fingerprint().to_hex();
    if !member_key.is_tsk() {
        return Err(KeyError::NotSecret { fingerprint }.into());
    }
    let unprotected = member_key
        .keys()
        .secret()
        .any(|k| k.key().has_unencrypted_secret());
    let key = if unprotected {
        let user_ids: Vec<String> = member_key
            .userids()
            .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
            .collect();
        strength::check_for_user_ids(&passphrase, user_ids.iter().map(String::as_str))?;
        keys::protect(member_key, &passphrase).map_err(|e| KeyError::Generate {
            profile: KeyProfile::Rfc4880,
            message: format!("{e:#}"),
        })?
    } else {
        member_key
    };
    let mut ask = |_: &str| Some(passphrase.clone());
    let signer = Signer::from_tsk(&key, &mut ask)?;
    drop(signer);
    let public = key.clone().strip_secret_key_material();
    let json = Zeroizing::new(serde_json::to_vec(connection).expect("serializes"));
    let sealed = message::seal(&json, std::slice::from_ref(&public), None, false)
        .map_err(|e| file_err(&dir(store))(e.to_string()))?;
    let d = dir(store);
    fsutil::create_private_dir(&store.root().join("vault"))
        .map_err(|e| file_err(&d)(e.to_string()))?;
    fsutil::create_private_dir(&d).map_err(|e| file_err(&d)(e.to_string()))?;
    let armored = keys::armored_secret(&key);
    let member_path = d.join("member.asc");
    fsutil::atomic_write(&member_path, armored.as_bytes())
        .map_err(|e| file_err(&member_path)(e.to_string()))?;
    let conn_path = d.join("connection.pgp");
    fsutil::atomic_write(&conn_path, &sealed).map_err(|e| file_err(&conn_path)(e.to_string()))?;
    Ok(public)
}

/// A connected member with its key unlocked for this session (wiped when dropped).
pub struct Member {
    /// The member's key (secrets locked) and the passphrase that unlocks them.
    key: Cert,
    passphrase: Option<Password>,
    /// Its signer.
    signer: Signer,
    /// The connection.
    pub connection: Connection,
    /// The session on the intake.
    pub session: TeamSession,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("fingerprint", &self.key.fingerprint().to_hex())
            .finish_non_exhaustive()
    }
}

impl Member {
    /// Unlocks the member's key (passphrase asked through `passphrase`) and reads the
    /// connection.
    pub fn unlock(
        store: &Store,
        passphrase: &mut PassphraseFn<'_>,
        net: &NetConfig,
    ) -> Result<Member, TeamError> {
        let locked = member(store)?.ok_or(TeamError::NotConnected)?;
        let mut given: Option<Password> = None;
        let mut remember = |what: &str| {
            let p = passphrase(what);
            given.clone_from(&p);
            p
        };
        let signer = Signer::from_tsk(&locked, &mut remember)?;
        let key = locked;
        let path = dir(store).join("connection.pgp");
        let bytes = fs::read(&path).map_err(|e| file_err(&path)(e.to_string()))?;
        let mut again = |_: &str| given.clone();
        let opened = message::open(
            &bytes,
            std::slice::from_ref(&key),
            &[],
            &mut again,
            64 * 1024,
        )
        .map_err(|e| file_err(&path)(e.to_string()))?;
        let connection: Connection =
            serde_json::from_slice(&opened.text).map_err(|e| file_err(&path)(e.to_string()))?;
        let session = TeamSession::new(&connection.intake_url, &connection.token, net)?;
        Ok(Member {
            key,
            passphrase: given,
            signer,
            connection,
            session,
        })
    }

    fn ask(&self) -> impl FnMut(&str) -> Option<Password> + '_ {
        |_: &str| self.passphrase.clone()
    }

    /// The member's certificate (public parts).
    pub fn cert(&self) -> Cert {
        self.key.clone().strip_secret_key_material()
    }
}

fn seen_path(store: &Store) -> PathBuf {
    dir(store).join("seen.pgp")
}

/// The reports this member opened: receipt → the report's reference (`EMB-…`, from inside the
/// encryption, so the inbox can name what the member has read). Written by earlier versions as
/// a plain list of receipts, which still reads.
type Seen = BTreeMap<String, Option<String>>;

fn read_seen(store: &Store, member: &Member) -> Seen {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Map(Seen),
        List(BTreeSet<String>),
    }
    let mut ask = member.ask();
    let stored = fs::read(seen_path(store))
        .ok()
        .and_then(|b| {
            message::open(
                &b,
                std::slice::from_ref(&member.key),
                &[],
                &mut ask,
                1 << 24,
            )
            .ok()
        })
        .and_then(|o| serde_json::from_slice::<Stored>(&o.text).ok());
    match stored {
        Some(Stored::Map(m)) => m,
        Some(Stored::List(l)) => l.into_iter().map(|r| (r, None)).collect(),
        None => Seen::new(),
    }
}

fn mark_seen(
    store: &Store,
    member: &Member,
    receipt: &str,
    reference: Option<String>,
) -> Result<(), TeamError> {
    let mut seen = read_seen(store, member);
    if seen.get(receipt) == Some(&reference) {
        return Ok(());
    }
    seen.insert(receipt.to_owned(), reference);
    let path = seen_path(store);
    let json = serde_json::to_vec(&seen).expect("serializes");
    let sealed = message::seal(&json, &[member.cert()], None, false)
        .map_err(|e| file_err(&path)(e.to_string()))?;
    fsutil::atomic_write(&path, &sealed).map_err(|e| file_err(&path)(e.to_string()))
}

/// One report in the team's inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InboxEntry {
    /// The receipt.
    pub receipt: String,
    /// The report's reference (`EMB-…`), known once this member has opened it (it travels
    /// inside the encryption; the intake never sees it).
    pub reference: Option<String>,
    /// The program the intake serves.
    pub program: Option<String>,
    /// When the intake stored it (RFC 3339).
    pub received_at: String,
    /// Bytes of ciphertext.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    /// Where it stands.
    pub status: ReportStatus,
    /// When the first answer is due by the program's promise (Novu: 3 business days).
    pub answer_due: Option<AnswerDue>,
    /// Not opened by this member yet.
    pub new: bool,
}

/// The inbox: every report on the intake (at most [`crate::deliver::MAX_PAGES`] pages; the
/// second value says more remain), with its due date and whether it is new to this member,
/// only those at `only` when given.
pub async fn inbox(
    store: &Store,
    member: &Member,
    only: Option<ReportStatus>,
    now: DateTime<Utc>,
) -> Result<(Vec<InboxEntry>, bool), TeamError> {
    let (reports, more) = member.session.list(None).await?;
    let seen = read_seen(store, member);
    let program = member.connection.program.clone();
    let promise = program
        .as_deref()
        .and_then(|p| store.program(p).ok())
        .and_then(|p| p.response)
        .map(|r| r.business_days);
    let entries = reports
        .into_iter()
        .filter(|r| only.is_none_or(|s| s == r.status))
        .map(|r| {
            let received = DateTime::parse_from_rfc3339(&r.received_at)
                .ok()
                .map(|t| t.with_timezone(&Utc));
            InboxEntry {
                answer_due: promise
                    .zip(received)
                    .map(|(days, at)| AnswerDue::of(days, at, r.status, now)),
                new: !seen.contains_key(&r.receipt),
                reference: seen.get(&r.receipt).cloned().flatten(),
                program: program.clone(),
                receipt: r.receipt,
                received_at: r.received_at,
                size: r.size,
                status: r.status,
            }
        })
        .collect();
    Ok((entries, more.is_some()))
}

/// A report opened in memory for the member.
pub struct OpenedReport {
    /// The receipt.
    pub receipt: String,
    /// What the bundle held (wiped when dropped).
    pub opened: OpenedInMemory,
}

impl std::fmt::Debug for OpenedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedReport")
            .field("receipt", &self.receipt)
            .finish_non_exhaustive()
    }
}

impl OpenedReport {
    /// The readable report (Markdown), as `embargo open` writes `report.md`.
    pub fn readable(&self) -> Option<Zeroizing<String>> {
        self.opened
            .report
            .as_ref()
            .map(|r| Zeroizing::new(r.to_report().to_markdown()))
    }

    /// Each attachment's name, size and SHA-256.
    pub fn attachments(&self) -> Vec<(String, u64, String)> {
        use sha2::{Digest, Sha256};
        self.opened
            .attachments
            .iter()
            .map(|(name, bytes)| {
                (
                    name.clone(),
                    bytes.len() as u64,
                    crate::bundle::hex(&Sha256::digest(&bytes[..])),
                )
            })
            .collect()
    }

    /// The researcher's signature.
    pub fn signature(&self) -> &SignatureStatus {
        &self.opened.signature
    }

    /// An anonymous report that carries a reply key made for it (no key of the researcher's).
    pub fn anonymous_with_reply_key(&self) -> bool {
        self.opened.researcher.is_none() && self.opened.reply_key.is_some()
    }

    /// The key replies go to: the researcher's, or the anonymous report's reply key.
    pub fn reply_to(&self) -> Option<&Cert> {
        self.opened
            .researcher
            .as_ref()
            .or(self.opened.reply_key.as_ref())
    }
}

/// Writes one attachment of a report opened in memory to `dest`, which the member chose (the
/// only way anything of a report reaches the disk from the inbox): written whole or not at all,
/// readable by the member alone. Returns its size.
pub fn save_attachment(
    report: &OpenedReport,
    name: &str,
    dest: &std::path::Path,
) -> Result<u64, TeamError> {
    let (_, bytes) = report
        .opened
        .attachments
        .iter()
        .find(|(n, _)| n == name)
        .ok_or_else(|| TeamError::File {
            path: name.to_owned(),
            reason: format!("report {} has no attachment of that name", report.receipt),
        })?;
    fsutil::atomic_write(dest, bytes).map_err(|e| file_err(dest)(e.to_string()))?;
    Ok(bytes.len() as u64)
}

/// Fetches a report into memory (cut at the listed size and [`MAX_OPEN_BYTES`]) and opens it
/// with the member's key; it is no longer new to this member.
pub async fn open_report(
    store: &Store,
    member: &Member,
    receipt: &str,
) -> Result<OpenedReport, TeamError> {
    let mut ciphertext = Zeroizing::new(Vec::new());
    member
        .session
        .fetch(receipt, &mut *ciphertext, MAX_OPEN_BYTES)
        .await?;
    let mut ask = member.ask();
    let opened = open_in_memory(
        std::io::Cursor::new(&ciphertext[..]),
        std::slice::from_ref(&member.key),
        &[],
        &mut ask,
        MAX_OPEN_BYTES,
        false,
    )
    .map_err(|source| TeamError::Open {
        receipt: receipt.to_owned(),
        source,
    })?;
    let reference = opened.report.as_ref().and_then(|r| r.reference.clone());
    mark_seen(store, member, receipt, reference)?;
    Ok(OpenedReport {
        receipt: receipt.to_owned(),
        opened,
    })
}

/// The team's keys this data directory knows: the member's own, and the keys pinned here for
/// the program the intake serves (when the member's data directory has the program).
fn team_keys(store: &Store, member: &Member) -> Vec<Cert> {
    let mut team = vec![member.cert()];
    let pinned = member
        .connection
        .program
        .as_deref()
        .and_then(|p| store.program(p).ok())
        .and_then(|p| store.team_certs(&p).ok())
        .unwrap_or_default();
    for c in pinned {
        if !team.iter().any(|t| t.fingerprint() == c.fingerprint()) {
            team.push(c);
        }
    }
    team
}

/// Replies to a report: signed by the member, encrypted to the key the report carried, to the
/// member, and to the other team keys pinned for the program in the member's data directory
/// (so that they read the thread too).
pub async fn reply_to(
    store: &Store,
    member: &Member,
    report: &OpenedReport,
    text: &str,
) -> Result<ReplyCreated, TeamError> {
    let wrap = |source| TeamError::Reply {
        receipt: report.receipt.clone(),
        source,
    };
    let to = report
        .reply_to()
        .ok_or_else(|| wrap(ReplyError::NoResearcherKey))?;
    let mut recipients = vec![to.clone()];
    let me = member.cert().fingerprint();
    recipients.extend(
        team_keys(store, member)
            .into_iter()
            .filter(|c| c.fingerprint() != me),
    );
    let armored = reply::seal_reply(text, &member.signer, &recipients).map_err(wrap)?;
    Ok(member.session.reply(&report.receipt, &armored).await?)
}

/// The thread of replies the team sent to a report, each decrypted in memory with the
/// member's key and its signer checked against the team's keys known here ([`team_keys`]). A
/// reply another member wrote is readable when it was encrypted to this member too (their data
/// directory pins this member's key for the program); otherwise it is listed as unreadable.
pub async fn thread(
    store: &Store,
    member: &Member,
    receipt: &str,
) -> Result<Vec<ReadReply>, TeamError> {
    let replies = member.session.replies(receipt).await?;
    let team = team_keys(store, member);
    let fprs: Vec<String> = team.iter().map(|c| c.fingerprint().to_hex()).collect();
    let mut ask = member.ask();
    Ok(replies
        .into_iter()
        .map(|r| {
            let mut read = ReadReply {
                id: r.id,
                created_at: r.created_at,
                text: None,
                signer: None,
                unreadable: None,
            };
            match reply::open_reply(&r.message, std::slice::from_ref(&member.key), &team, &mut ask)
            {
                Ok(opened) => {
                    read.signer = Some(ReplySigner::of(&opened.signature, true, &fprs));
                    read.text = Some(opened.text.as_str().to_owned());
                }
                Err(e) => {
                    read.unreadable = Some(format!(
                        "not encrypted to your key ({e}): another member wrote it to the researcher and to the keys their data directory pins"
                    ))
                }
            }
            read
        })
        .collect())
}

/// Answers a report by its receipt: opens it in memory for the key it carried, then
/// [`reply_to`] — what "Send reply" and `embargo team answer` do.
pub async fn answer(
    store: &Store,
    member: &Member,
    receipt: &str,
    text: &str,
) -> Result<ReplyCreated, TeamError> {
    let report = open_report(store, member, receipt).await?;
    reply_to(store, member, &report, text).await
}

/// Sets a report's status.
pub async fn set_status(
    member: &Member,
    receipt: &str,
    status: ReportStatus,
) -> Result<StatusChanged, TeamError> {
    Ok(member.session.set_status(receipt, status).await?)
}
