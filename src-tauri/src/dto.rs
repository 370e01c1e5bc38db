//! The types that cross IPC, generated into `ui/src/bindings/` by ts-rs (see `bindings_are_current`).

use embargo_core::keys::{Format, KeyInfo};
use embargo_core::program::Program;
use embargo_core::report::{Credit, CvssScore as CoreCvss, Finding as CoreFinding, Report};
use embargo_core::seal::AttachmentMeta;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// `light`, `dark` or `system`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum Theme {
    /// Light.
    Light,
    /// Dark.
    Dark,
    /// Follow the OS.
    System,
}

/// Encrypted-data format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(rename = "Format")]
pub enum FormatView {
    /// SEIPDv1 (MDC).
    #[serde(rename = "SEIPDv1")]
    SeipdV1,
    /// SEIPDv2 (AEAD).
    #[serde(rename = "SEIPDv2")]
    SeipdV2,
}

impl From<Format> for FormatView {
    fn from(f: Format) -> Self {
        match f {
            Format::SeipdV1 => FormatView::SeipdV1,
            Format::SeipdV2 => FormatView::SeipdV2,
        }
    }
}

/// A problem with one field of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Field (front-matter key or `body`).
    pub field: String,
    /// Line in a report file, when it came from one.
    pub line: Option<u32>,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
}

impl From<CoreFinding> for Finding {
    fn from(f: CoreFinding) -> Self {
        Finding {
            field: f.field,
            line: f.line.map(|l| l as u32),
            message: f.message,
            hint: f.hint,
        }
    }
}

/// A taxonomy class.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ClassView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Suggested CWE.
    pub cwe: Option<String>,
}

/// An out-of-scope entry of a program.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OutOfScopeView {
    /// Class id.
    pub class: String,
    /// Class name.
    pub class_name: String,
    /// The policy's words.
    pub wording: String,
    /// The condition under which it is in scope after all.
    pub condition: Option<String>,
}

/// A rule the researcher attests to.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AttestationView {
    /// Id.
    pub id: String,
    /// The policy's words.
    pub wording: String,
}

/// A certificate as shown before trusting it.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    /// Full fingerprint.
    pub fingerprint: String,
    /// Grouped by four.
    pub fingerprint_grouped: String,
    /// User IDs.
    pub user_ids: Vec<String>,
    /// Primary algorithm.
    pub algorithm: String,
    /// Encryption subkeys.
    pub encryption_subkeys: Vec<String>,
    /// Creation date.
    pub created: String,
    /// Expiry, if any.
    pub expires: Option<String>,
    /// Key version.
    pub version: u8,
    /// Format messages get.
    pub format: FormatView,
    /// Why it cannot be used, if it cannot.
    pub problem: Option<String>,
}

impl From<KeyInfo> for KeyView {
    fn from(k: KeyInfo) -> Self {
        KeyView {
            fingerprint: k.fingerprint,
            fingerprint_grouped: k.fingerprint_grouped,
            user_ids: k.user_ids,
            algorithm: k.algorithm,
            encryption_subkeys: k.encryption_subkeys,
            created: k.created,
            expires: k.expires,
            version: k.version,
            format: k.format.into(),
            problem: k.problem,
        }
    }
}

/// A program in the list.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProgramSummary {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Email contact.
    pub contact: Option<String>,
    /// Intake URL.
    pub intake_url: Option<String>,
    /// Built into Embargo.
    pub builtin: bool,
    /// Pinned team key.
    pub team_key_fingerprint: Option<String>,
}

impl From<&Program> for ProgramSummary {
    fn from(p: &Program) -> Self {
        ProgramSummary {
            id: p.id.clone(),
            name: p.name.clone(),
            contact: p.email().map(str::to_owned),
            intake_url: p.intake_url.clone(),
            builtin: Program::builtin(&p.id).is_ok(),
            team_key_fingerprint: p.team_key.as_ref().map(|k| k.fingerprint.clone()),
        }
    }
}

/// A program's whole policy.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProgramView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Contacts (URIs).
    pub contacts: Vec<String>,
    /// Email contact.
    pub email: Option<String>,
    /// Policy URL.
    pub policy_url: Option<String>,
    /// Intake URL.
    pub intake_url: Option<String>,
    /// In scope, in the policy's words.
    pub in_scope: Vec<String>,
    /// What a report should contain.
    pub reporting: Option<String>,
    /// Out of scope.
    pub out_of_scope: Vec<OutOfScopeView>,
    /// Rules.
    pub attestations: Vec<AttestationView>,
    /// Response promise.
    pub response: Option<String>,
    /// Business days of the promise.
    pub response_business_days: Option<u32>,
    /// Credit policy.
    pub credit: Option<String>,
    /// Other promises.
    pub promises: Vec<String>,
    /// Built into Embargo.
    pub builtin: bool,
    /// The pinned team key.
    pub team_key: Option<KeyView>,
    /// Where the pinned key came from.
    pub team_key_source: Option<String>,
}

/// A key offered for a program, before confirmation.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct KeyCandidate {
    /// The key.
    pub key: KeyView,
    /// The pinned fingerprint, if any.
    pub pinned: Option<String>,
    /// Whether the primary key differs from the pinned one.
    pub differs_from_pinned: bool,
}

/// Credit choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "camelCase")]
#[ts(rename = "Credit")]
pub enum CreditDto {
    /// Anonymous.
    Anonymous,
    /// Named.
    Named {
        /// Name.
        name: String,
        /// Handle.
        handle: Option<String>,
    },
    /// Not chosen yet.
    Unset,
}

/// The report as the editor holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReportDraft {
    /// Program id.
    pub program: String,
    /// Title.
    pub title: String,
    /// Assets.
    pub assets: Vec<String>,
    /// Class id.
    pub class: String,
    /// CWE.
    pub cwe: Option<String>,
    /// CVSS vector.
    pub cvss: Option<String>,
    /// Severity.
    pub severity: Option<String>,
    /// Credit.
    pub credit: CreditDto,
    /// Attestation ids.
    pub attestations: Vec<String>,
    /// Confirmed scope conditions.
    pub scope_confirmations: Vec<String>,
    /// Markdown body.
    pub body: String,
}

fn blank(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl ReportDraft {
    /// A new draft for a program, with the recommended sections.
    pub fn new(program: &str) -> ReportDraft {
        ReportDraft {
            program: program.to_owned(),
            title: String::new(),
            assets: Vec::new(),
            class: "other".into(),
            cwe: None,
            cvss: None,
            severity: None,
            credit: CreditDto::Unset,
            attestations: Vec::new(),
            scope_confirmations: Vec::new(),
            body: "## Summary\n\n\n## Steps to reproduce\n\n1. \n\n## Impact\n\n".into(),
        }
    }

    /// The core report (empty optional fields dropped, blank asset rows ignored).
    pub fn to_report(&self) -> Report {
        let mut r = Report::default();
        r.schema = embargo_core::report::SCHEMA;
        r.program = self.program.clone();
        r.title = self.title.trim().to_owned();
        r.assets = self
            .assets
            .iter()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect();
        r.class = self.class.clone();
        r.cwe = blank(&self.cwe);
        r.cvss = blank(&self.cvss);
        r.severity = blank(&self.severity);
        r.credit = match &self.credit {
            CreditDto::Anonymous => Some(Credit::Anonymous),
            CreditDto::Named { name, handle } => Some(Credit::Named {
                name: name.trim().to_owned(),
                handle: blank(handle),
            }),
            CreditDto::Unset => None,
        };
        r.attestations = self.attestations.clone();
        r.scope_confirmations = self.scope_confirmations.clone();
        r.body = self.body.clone();
        r
    }
}

/// A CVSS score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CvssScore {
    /// `3.1` or `4.0`.
    pub version: String,
    /// Base score.
    pub score: f64,
    /// Severity.
    pub severity: String,
}

impl From<CoreCvss> for CvssScore {
    fn from(c: CoreCvss) -> Self {
        CvssScore {
            version: c.version,
            score: c.score,
            severity: c.severity,
        }
    }
}

/// The draft with what the core says about it.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DraftStatus {
    /// The draft as stored.
    pub draft: ReportDraft,
    /// Every problem, per field.
    pub findings: Vec<Finding>,
    /// The CVSS score when the vector parses.
    pub cvss: Option<CvssScore>,
    /// Given or derived severity.
    pub severity: Option<String>,
    /// No field errors and a confirmed team key.
    pub ready_to_seal: bool,
}

/// An attachment held by the backend.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentView {
    /// Id for removal.
    pub id: u32,
    /// File name.
    pub name: String,
    /// Bytes.
    #[ts(type = "number")]
    pub size: u64,
    /// Sniffed type.
    pub content_type: String,
    /// SHA-256.
    pub sha256: String,
}

impl AttachmentView {
    /// From the core's metadata.
    pub fn new(id: u32, m: &AttachmentMeta) -> Self {
        AttachmentView {
            id,
            name: m.name.clone(),
            size: m.size,
            content_type: m.content_type.clone(),
            sha256: m.sha256.clone(),
        }
    }
}

/// The researcher's signing key, as shown (never its secret parts).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeyView {
    /// Fingerprint.
    pub fingerprint: String,
    /// Grouped.
    pub fingerprint_grouped: String,
    /// User IDs.
    pub user_ids: Vec<String>,
    /// Whether a passphrase is needed.
    pub protected: bool,
}

/// One recipient.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RecipientView {
    /// Fingerprint.
    pub fingerprint: String,
    /// Grouped.
    pub fingerprint_grouped: String,
    /// User IDs.
    pub user_ids: Vec<String>,
    /// Format.
    pub format: FormatView,
}

/// Exactly what will be sent.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SealPreview {
    /// The readable part as the team sees it.
    pub text: String,
    /// The body rendered and sanitized.
    pub body_html: String,
    /// Recipients.
    pub recipients: Vec<RecipientView>,
    /// Format.
    pub format: FormatView,
    /// Signer.
    pub signer: Option<SigningKeyView>,
    /// Credit is anonymous (or not chosen).
    pub anonymous: bool,
    /// Attachments.
    pub attachments: Vec<AttachmentView>,
    /// The inner subject.
    pub subject: String,
    /// The email `To:`.
    pub to: Option<String>,
}

/// Signing choice for a seal.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SealRequestDto {
    /// Sign with the imported key.
    pub sign: bool,
    /// Its passphrase, when protected; wiped after use.
    pub passphrase: Option<String>,
}

/// `eml` or `asc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum ExportFormat {
    /// PGP/MIME email.
    Eml,
    /// ASCII armor.
    Asc,
}

/// Export to a file.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExportRequest {
    /// Format.
    pub format: ExportFormat,
    /// Target path (from the save dialog).
    pub path: String,
    /// Sign.
    pub sign: bool,
    /// Passphrase.
    pub passphrase: Option<String>,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExportResult {
    /// Where.
    pub path: String,
    /// Format.
    pub format: FormatView,
    /// Recipient fingerprints.
    pub recipients: Vec<String>,
    /// Signer fingerprint.
    pub signer: Option<String>,
    /// Bytes written.
    #[ts(type = "number")]
    pub bytes: u64,
}

/// Outcome of "open mail client".
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MailResult {
    /// A mailto link was handed to the OS.
    pub opened: bool,
    /// What to do instead, when not.
    pub instructions: Option<String>,
}

/// Settings and about.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// Theme.
    pub theme: Theme,
    /// Data directory.
    pub data_dir: String,
    /// Embargo version.
    pub version: String,
    /// Tauri version.
    pub tauri_version: String,
    /// sequoia-openpgp version.
    pub sequoia_version: String,
    /// Licenses.
    pub licenses: Vec<String>,
}

/// Progress of a seal.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SealProgress {
    /// Attachment bytes done.
    #[ts(type = "number")]
    pub done: u64,
    /// Of.
    #[ts(type = "number")]
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regenerates with `UPDATE_BINDINGS=1 cargo test -p embargo-app bindings`; otherwise fails
    /// when `ui/src/bindings/` differs from the Rust types.
    #[test]
    fn bindings_are_current() {
        let cfg = ts_rs::Config::new().with_large_int("number");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings");
        let mut stale = Vec::new();
        macro_rules! check {
            ($($t:ty),*) => {$(
                let name = <$t as TS>::ident(&cfg);
                let text = <$t as TS>::export_to_string(&cfg).expect("export");
                let path = dir.join(format!("{name}.ts"));
                if std::env::var_os("UPDATE_BINDINGS").is_some() {
                    std::fs::create_dir_all(&dir).unwrap();
                    std::fs::write(&path, &text).unwrap();
                } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                    stale.push(name);
                }
            )*};
        }
        check!(
            Theme,
            FormatView,
            Finding,
            ClassView,
            OutOfScopeView,
            AttestationView,
            KeyView,
            ProgramSummary,
            ProgramView,
            KeyCandidate,
            CreditDto,
            ReportDraft,
            CvssScore,
            DraftStatus,
            AttachmentView,
            SigningKeyView,
            RecipientView,
            SealPreview,
            SealRequestDto,
            ExportFormat,
            ExportRequest,
            ExportResult,
            MailResult,
            Settings,
            SealProgress,
            crate::error::CommandError
        );
        assert!(stale.is_empty(), "ui/src/bindings is stale for {stale:?}: run UPDATE_BINDINGS=1 cargo test -p embargo-app bindings");
    }
}
