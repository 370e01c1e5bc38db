//! After an export: what the researcher does to send the report themselves ("Send it"), and
//! the record that lets Sent list it as "exported, sent by you".
//!
//! Decisions: an `.eml` is a whole PGP/MIME message, so it is opened in the mail client and sent
//! as it is; an `.asc` travels in the body of a message when it fits a mail link, else as an
//! attachment of a message the link starts (address and outer subject only). The outer subject
//! is the reference, never the title.

use std::path::Path;

use serde::Serialize;

use super::seal::{seal_report, Delivery, SealJob, SealOutcome, SealReportError};
use crate::deliver::records::{ExportRecord, Records};
use crate::export::{self, COPY_MAX, OUTER_SUBJECT};
use crate::program::Program;
use crate::seal::ProgressFn;
use crate::store::{Store, StoreError};

/// What was exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    /// A PGP/MIME email.
    Eml,
    /// The armored message.
    Asc,
}

impl ExportKind {
    /// The file extension, also the record's `format`.
    pub fn extension(self) -> &'static str {
        match self {
            ExportKind::Eml => "eml",
            ExportKind::Asc => "asc",
        }
    }
}

/// How the researcher sends an exported report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case", tag = "how")]
pub enum SendWay {
    /// Open the `.eml` in the mail client (it is the whole message) and send it.
    OpenEml,
    /// Paste the armored text into the body of a message to the address (it fits a mail link,
    /// which carries it).
    InBody {
        /// The mail link with address, subject and the armored text.
        mailto: String,
    },
    /// Attach the file to a message to the address; the link starts that message (address and
    /// subject only).
    Attach {
        /// The mail link with address and subject.
        mailto: String,
    },
    /// The program has no email address: its contact is a web form or nothing.
    NoAddress {
        /// The contact as published (a web form URL), when there is one.
        contact: Option<String>,
    },
}

/// The "Send it" instructions for one export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SendIt {
    /// The address to send to.
    pub to: Option<String>,
    /// The outer subject (the reference only).
    pub subject: String,
    /// The file written.
    pub file: String,
    /// Its size in bytes.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes: u64,
    /// The way to send it.
    pub way: SendWay,
    /// The armored text is small enough to copy (for webmail or a web form).
    pub copyable: bool,
}

/// The "Send it" instructions for a report of `program` exported as `kind` into `file`.
pub fn send_it(
    program: Option<&Program>,
    reference: &str,
    kind: ExportKind,
    file: &str,
    bytes: u64,
) -> SendIt {
    let to = program.and_then(Program::email).map(str::to_owned);
    let subject = format!("{OUTER_SUBJECT} {reference}");
    let way = match (&to, kind) {
        (None, _) => SendWay::NoAddress {
            contact: program.and_then(|p| p.contacts.first().cloned()),
        },
        (Some(_), ExportKind::Eml) => SendWay::OpenEml,
        (Some(addr), ExportKind::Asc) => {
            let text = std::fs::read_to_string(file).ok();
            match text
                .as_deref()
                .filter(|_| export::fits_mailto(bytes))
                .and_then(|t| export::mailto(addr, &subject, t, export::MAILTO_MAX))
            {
                Some(mailto) => SendWay::InBody { mailto },
                None => SendWay::Attach {
                    mailto: export::mailto_url(addr, &subject, None),
                },
            }
        }
    };
    SendIt {
        to,
        subject,
        file: file.to_owned(),
        bytes,
        way,
        copyable: kind == ExportKind::Asc && bytes <= COPY_MAX,
    }
}

/// Records an export in the data directory (encrypted to the identity when there is one).
pub fn record_export(
    records: &Records,
    program: Option<&Program>,
    reference: &str,
    kind: ExportKind,
    file: &str,
    bytes: u64,
) -> Result<ExportRecord, StoreError> {
    records.save_export(ExportRecord {
        id: String::new(),
        program: program.map(|p| p.id.clone()),
        reference: reference.to_owned(),
        format: kind.extension().to_owned(),
        to: program.and_then(Program::email).map(str::to_owned),
        file: Some(file.to_owned()),
        bytes,
        exported_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// What an export did.
#[derive(Debug)]
pub struct Exported {
    /// The seal.
    pub outcome: SealOutcome,
    /// Bytes written.
    pub bytes: u64,
    /// How to send it (`None` for a binary seal, which is not for mail).
    pub send_it: Option<SendIt>,
    /// Why the export could not be recorded for Sent, when it could not (the file is written
    /// all the same).
    pub unrecorded: Option<StoreError>,
}

/// Seals to a file as [`seal_report`] does and, for mail (`.eml`, `.asc`), records the export
/// and says how to send it: the one rule the CLI's `seal` and the app's export follow.
pub fn export_report(
    store: &Store,
    job: SealJob<'_>,
    path: &Path,
    overwrite: bool,
    progress: &mut ProgressFn<'_>,
) -> Result<Exported, SealReportError> {
    let kind = match job.delivery {
        Delivery::Email { .. } => Some(ExportKind::Eml),
        Delivery::Armor => Some(ExportKind::Asc),
        Delivery::Binary => None,
    };
    let program = store.program(&job.report.program).ok();
    let outcome = seal_report(store, job, path, overwrite, progress)?;
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let file = path.display().to_string();
    let reference = outcome.sealed.reference.clone();
    let mut unrecorded = None;
    let send_it = kind.map(|kind| {
        if let Err(e) = record_export(
            &Records::of(store),
            program.as_ref(),
            &reference,
            kind,
            &file,
            bytes,
        ) {
            unrecorded = Some(e);
        }
        send_it(program.as_ref(), &reference, kind, &file, bytes)
    });
    Ok(Exported {
        outcome,
        bytes,
        send_it,
        unrecorded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_it_says_how_for_each_size_and_kind() {
        let novu = Program::novu();
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("r.asc");
        std::fs::write(
            &small,
            "-----BEGIN PGP MESSAGE-----\nabc\n-----END PGP MESSAGE-----\n",
        )
        .unwrap();
        let s = send_it(
            Some(&novu),
            "EMB-7K2Q-9XDA",
            ExportKind::Asc,
            small.to_str().unwrap(),
            60,
        );
        assert_eq!(s.to.as_deref(), Some("security@novu.co"));
        assert_eq!(s.subject, "Encrypted vulnerability report EMB-7K2Q-9XDA");
        assert!(s.copyable);
        match &s.way {
            SendWay::InBody { mailto } => {
                assert!(mailto.starts_with("mailto:security@novu.co?subject=Encrypted%20vulnerability%20report%20EMB-7K2Q-9XDA&body=-----BEGIN"), "{mailto}")
            }
            other => panic!("{other:?}"),
        }
        // A long report: the link starts the message, the file is attached.
        let big = dir.path().join("big.asc");
        std::fs::write(&big, "x".repeat(5000)).unwrap();
        let s = send_it(
            Some(&novu),
            "EMB-7K2Q-9XDA",
            ExportKind::Asc,
            big.to_str().unwrap(),
            5000,
        );
        assert_eq!(
            s.way,
            SendWay::Attach {
                mailto: "mailto:security@novu.co?subject=Encrypted%20vulnerability%20report%20EMB-7K2Q-9XDA".into()
            }
        );
        let s = send_it(Some(&novu), "EMB-7K2Q-9XDA", ExportKind::Eml, "r.eml", 9);
        assert_eq!(s.way, SendWay::OpenEml);
        assert!(!s.copyable);
        let s = send_it(None, "EMB-7K2Q-9XDA", ExportKind::Eml, "r.eml", 9);
        assert_eq!(s.way, SendWay::NoAddress { contact: None });
    }

    #[test]
    fn exports_are_recorded_without_their_path_unless_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::at(dir.path().to_owned());
        let records = Records::of(&store);
        let novu = Program::novu();
        let rec = record_export(
            &records,
            Some(&novu),
            "EMB-7K2Q-9XDA",
            ExportKind::Eml,
            "/home/ada/xss-in-novu.eml",
            10,
        )
        .unwrap();
        assert_eq!(rec.file, None, "plain records keep no path");
        let (all, bad) = records.exports_all().unwrap();
        assert!(bad.is_empty());
        assert_eq!(all, vec![rec]);
        assert_eq!(all[0].to.as_deref(), Some("security@novu.co"));
    }
}
