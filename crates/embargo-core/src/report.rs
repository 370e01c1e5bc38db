//! The report model, its file format (Markdown + TOML front matter, schema 1) and validation.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::limits::{MAX_BODY_BYTES, MAX_FIELD_BYTES, MAX_LIST_ITEMS, MAX_TITLE_BYTES};
use crate::taxonomy::{class_by_id, known_classes};
use crate::text::{first_unsafe, Shown};

/// The only schema this version reads and writes.
pub const SCHEMA: u32 = 1;

/// Front-matter keys of schema 1, in the order they are written.
pub const KEYS: &[&str] = &[
    "schema",
    "program",
    "title",
    "assets",
    "class",
    "cwe",
    "cvss",
    "severity",
    "credit",
    "attestations",
    "scope_confirmations",
    "reference",
];

const SEVERITIES: &[&str] = &["none", "low", "medium", "high", "critical"];

/// A vulnerability report. Serialized (snake_case, like report.json) for the desktop app, which
/// edits it as a draft.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Report {
    /// Schema version (1).
    pub schema: u32,
    /// Program id.
    pub program: String,
    /// One-line title; travels only inside the encryption.
    pub title: String,
    /// Affected URLs, hosts, IPs or CIDR ranges.
    pub assets: Vec<String>,
    /// Taxonomy class id.
    pub class: String,
    /// Optional `CWE-<n>`.
    pub cwe: Option<String>,
    /// Optional CVSS 3.1 or 4.0 vector.
    pub cvss: Option<String>,
    /// Optional severity; derived from `cvss` when absent.
    pub severity: Option<String>,
    /// How the researcher wants to be credited; `None` when not chosen yet.
    #[cfg_attr(
        feature = "ts",
        ts(type = "\"anonymous\" | { name: string, handle?: string | null } | null")
    )]
    pub credit: Option<Credit>,
    /// Attestation ids of the program's rules the researcher confirms.
    pub attestations: Vec<String>,
    /// Conditional out-of-scope classes whose condition the researcher confirms does not apply.
    pub scope_confirmations: Vec<String>,
    /// The report's random reference (`EMB-7K2Q-9XDA`), kept so that a re-seal keeps it.
    pub reference: Option<String>,
    /// The Markdown body.
    pub body: String,
    /// Line of each front-matter key in the file it was read from (for messages).
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub(crate) lines: BTreeMap<String, usize>,
}

/// Credit choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credit {
    /// Do not credit; Embargo then neither signs nor includes a key unless told to.
    Anonymous,
    /// Credit under this name.
    Named {
        /// Name to credit.
        name: String,
        /// Optional handle (`@ada`).
        handle: Option<String>,
    },
}

/// What `credit` may be, for error messages.
const CREDIT_FORMS: &str = "\"anonymous\" or { name = \"…\", handle = \"…\" }";

impl Serialize for Credit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Credit::Anonymous => s.serialize_str("anonymous"),
            Credit::Named { name, handle } => {
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("name", name)?;
                if let Some(h) = handle {
                    m.serialize_entry("handle", h)?;
                }
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Credit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, MapAccess, Unexpected, Visitor};

        struct CreditVisitor;
        impl<'de> Visitor<'de> for CreditVisitor {
            type Value = Credit;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(CREDIT_FORMS)
            }

            fn visit_str<E: Error>(self, v: &str) -> Result<Credit, E> {
                if v == "anonymous" {
                    Ok(Credit::Anonymous)
                } else {
                    Err(E::custom(format!(
                        "credit must be {CREDIT_FORMS}, not \"{}\"",
                        crate::text::Shown(v)
                    )))
                }
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Credit, A::Error> {
                let mut name: Option<String> = None;
                let mut handle: Option<String> = None;
                while let Some(key) = map.next_key::<String>()? {
                    let slot = match key.as_str() {
                        "name" => &mut name,
                        "handle" => &mut handle,
                        other => {
                            let hint = match closest(other, &["name", "handle"]) {
                                Some(k) => format!("; did you mean `{k}`?"),
                                None => String::new(),
                            };
                            return Err(A::Error::custom(format!(
                                "credit has an unknown key `{}` (allowed: name, handle){hint}",
                                crate::text::Shown(other)
                            )));
                        }
                    };
                    if slot.is_some() {
                        return Err(A::Error::custom(format!("credit has `{key}` twice")));
                    }
                    let value: serde_json::Value = map.next_value()?;
                    match value {
                        serde_json::Value::String(s) => *slot = Some(s),
                        // JSON (the app, report.json) writes an absent handle as null.
                        serde_json::Value::Null if key == "handle" => {}
                        other => {
                            return Err(A::Error::custom(format!(
                                "credit.{key} must be a string, found {}",
                                json_type(&other)
                            )))
                        }
                    }
                }
                let name = name.ok_or_else(|| {
                    A::Error::custom(format!(
                        "credit needs a `name` (or write credit = \"anonymous\"); allowed: {CREDIT_FORMS}"
                    ))
                })?;
                Ok(Credit::Named { name, handle })
            }

            fn visit_bool<E: Error>(self, v: bool) -> Result<Credit, E> {
                Err(E::invalid_type(Unexpected::Bool(v), &self))
            }
            fn visit_i64<E: Error>(self, v: i64) -> Result<Credit, E> {
                Err(E::invalid_type(Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: Error>(self, v: u64) -> Result<Credit, E> {
                Err(E::invalid_type(Unexpected::Unsigned(v), &self))
            }
            fn visit_f64<E: Error>(self, v: f64) -> Result<Credit, E> {
                Err(E::invalid_type(Unexpected::Float(v), &self))
            }
        }
        d.deserialize_any(CreditVisitor)
    }
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a table",
    }
}

impl fmt::Display for Credit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credit::Anonymous => f.write_str("anonymous"),
            Credit::Named {
                name,
                handle: Some(h),
            } => write!(f, "{name} ({h})"),
            Credit::Named { name, handle: None } => f.write_str(name),
        }
    }
}

/// What kind of problem a finding is: stable, so that each shell can word its own remedy (the
/// `hint` is worded for the report file, as the CLI shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FindingCode {
    /// `schema` is not one this version reads.
    UnsupportedSchema,
    /// `schema` is missing.
    MissingSchema,
    /// A key has a value of the wrong type.
    WrongType,
    /// A key that schema 1 does not have.
    UnknownKey,
    /// No program.
    MissingProgram,
    /// A program id that cannot name a program (`../x`, upper case, too long).
    InvalidProgramId,
    /// No such program in the data directory, and none built in.
    UnknownProgram,
    /// Checked against another program than the report names.
    ProgramMismatch,
    /// No title.
    MissingTitle,
    /// A title with a line break.
    TitleNotOneLine,
    /// A control or bidi character where none may be.
    ControlCharacter,
    /// A value over its size limit.
    TooLong,
    /// A list over its length limit.
    TooMany,
    /// No asset.
    MissingAsset,
    /// An asset that is not a URL, host, IP or CIDR.
    InvalidAsset,
    /// No class.
    MissingClass,
    /// A class the taxonomy lacks.
    UnknownClass,
    /// The class is out of scope for the program.
    OutOfScope,
    /// The class is out of scope unless the researcher confirms a condition.
    OutOfScopeUnlessConfirmed,
    /// A scope confirmation that confirms nothing.
    NothingToConfirm,
    /// A malformed CWE id.
    InvalidCwe,
    /// A CVSS vector that does not parse.
    InvalidCvss,
    /// A severity that is not one of none/low/medium/high/critical.
    UnknownSeverity,
    /// `credit` is neither "anonymous" nor a name.
    InvalidCredit,
    /// `credit` names nobody.
    EmptyCreditName,
    /// No credit choice.
    CreditNotChosen,
    /// An empty body.
    NoDescription,
    /// No "Steps to reproduce" section.
    NoStepsSection,
    /// A rule of the program not attested.
    MissingAttestation,
    /// An attestation the program does not have.
    UnknownAttestation,
    /// A reference that is not `EMB-XXXX-XXXX`.
    InvalidReference,
}

/// One problem with a report: the field it concerns, where, what, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Finding {
    /// What kind of problem.
    pub code: FindingCode,
    /// Front-matter key or body section (`body`).
    pub field: String,
    /// Line in the report file, when known.
    pub line: Option<usize>,
    /// What is wrong, carrying the input.
    pub message: String,
    /// What to do about it, worded for the report file.
    pub hint: Option<String>,
}

impl Finding {
    /// A finding without a hint.
    pub fn new(
        code: FindingCode,
        field: &str,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            code,
            field: field.to_owned(),
            line,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds the remedy.
    pub fn hint(mut self, hint: impl Into<String>) -> Finding {
        self.hint = Some(hint.into());
        self
    }

    /// Whether the report cannot be sealed with this finding (a malformed field), as opposed to a
    /// warning about scope, rules or recommended content.
    pub fn blocks_sealing(&self) -> bool {
        use FindingCode::*;
        !matches!(
            self.code,
            UnknownProgram
                | ProgramMismatch
                | OutOfScope
                | OutOfScopeUnlessConfirmed
                | NothingToConfirm
                | CreditNotChosen
                | NoDescription
                | NoStepsSection
                | MissingAttestation
                | UnknownAttestation
        )
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        write!(f, "{}: {}", self.field, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// A report file that cannot be read as one at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// No `+++` front matter.
    #[error("line 1: a report starts with a `+++` line, then TOML front matter, then `+++`")]
    MissingFrontMatter,
    /// The front matter is never closed.
    #[error("line {line}: the front matter opened on line 1 is never closed with `+++`")]
    UnclosedFrontMatter {
        /// Last line of the file.
        line: usize,
    },
    /// TOML syntax error.
    #[error("line {line}: front matter is not valid TOML: {message}")]
    Toml {
        /// Line in the report file.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// Not UTF-8.
    #[error("the report is not UTF-8 text: {0}")]
    NotUtf8(String),
}

/// A report file that cannot be read as text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadReportError {
    /// Missing, not a file, over [`crate::limits::MAX_REPORT_FILE_BYTES`]…
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not UTF-8.
    #[error("{path}: not UTF-8 text: {source}")]
    NotUtf8 {
        /// The file.
        path: String,
        /// Where.
        source: std::string::FromUtf8Error,
    },
}

/// Reads a report file as text (its bytes wiped when dropped), within the one size limit every
/// shell applies.
pub fn read_report_file(
    path: &std::path::Path,
) -> Result<zeroize::Zeroizing<String>, ReadReportError> {
    let bytes = crate::fsutil::read_capped(path, crate::limits::MAX_REPORT_FILE_BYTES).map_err(
        |source| ReadReportError::Read {
            path: path.display().to_string(),
            source,
        },
    )?;
    String::from_utf8(bytes)
        .map(zeroize::Zeroizing::new)
        .map_err(|source| ReadReportError::NotUtf8 {
            path: path.display().to_string(),
            source,
        })
}

impl Report {
    /// Parses a report file. Structural problems of single fields (wrong type, unknown key) come
    /// back as findings beside the report so that all of them can be shown at once; only input
    /// that is not a report at all is an error.
    pub fn parse(text: &str) -> Result<(Report, Vec<Finding>), ReportError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.split_inclusive('\n');
        let first = lines.next().unwrap_or("");
        if first.trim_end() != "+++" {
            return Err(ReportError::MissingFrontMatter);
        }
        let mut front_len = 0;
        let mut closed = None;
        let mut line_no = 1;
        for line in lines.by_ref() {
            line_no += 1;
            if line.trim_end() == "+++" {
                closed = Some(line.len());
                break;
            }
            front_len += line.len();
        }
        let Some(close_len) = closed else {
            return Err(ReportError::UnclosedFrontMatter { line: line_no });
        };
        let front = &text[first.len()..first.len() + front_len];
        let body = &text[first.len() + front_len + close_len..];
        let line_at = |offset: usize| 2 + front[..offset.min(front.len())].matches('\n').count();

        let table: BTreeMap<String, toml::Spanned<toml::Value>> =
            toml::from_str(front).map_err(|e| ReportError::Toml {
                line: e.span().map(|s| line_at(s.start)).unwrap_or(2),
                message: e.message().trim().to_owned(),
            })?;

        let mut report = Report {
            body: body.to_owned(),
            ..Report::default()
        };
        let mut findings = Vec::new();
        // Missing keys are reported at the closing `+++`, where they would be added.
        report.lines.insert("+++".into(), line_no);
        for (key, value) in &table {
            report
                .lines
                .insert(key.clone(), line_at(value.span().start));
        }
        for (key, value) in table {
            let line = report.lines.get(&key).copied();
            let value = value.into_inner();
            let type_error = |expected: &str| {
                Finding::new(
                    FindingCode::WrongType,
                    &key,
                    line,
                    format!("expected {expected}, found {}", value.type_str()),
                )
            };
            match key.as_str() {
                "schema" => match value.as_integer() {
                    Some(n) if n == i64::from(SCHEMA) => report.schema = SCHEMA,
                    Some(n) => findings.push(
                        Finding::new(
                            FindingCode::UnsupportedSchema,
                            &key,
                            line,
                            format!("unsupported schema {n}"),
                        )
                        .hint(format!("this version of Embargo reads schema {SCHEMA}")),
                    ),
                    None => findings.push(type_error("an integer")),
                },
                "program" | "title" | "class" | "cwe" | "cvss" | "severity" | "reference" => {
                    match value.as_str() {
                        Some(s) => {
                            let s = s.to_owned();
                            match key.as_str() {
                                "program" => report.program = s,
                                "title" => report.title = s,
                                "class" => report.class = s,
                                "cwe" => report.cwe = Some(s),
                                "cvss" => report.cvss = Some(s),
                                "reference" => report.reference = Some(s),
                                _ => report.severity = Some(s),
                            }
                        }
                        None => findings.push(type_error("a string")),
                    }
                }
                "assets" | "attestations" | "scope_confirmations" => match string_list(&value) {
                    Some(list) => match key.as_str() {
                        "assets" => report.assets = list,
                        "attestations" => report.attestations = list,
                        _ => report.scope_confirmations = list,
                    },
                    None => findings.push(type_error("a list of strings")),
                },
                "credit" => match Credit::deserialize(value.clone()) {
                    Ok(credit) => report.credit = Some(credit),
                    Err(e) => findings.push(Finding::new(
                        FindingCode::InvalidCredit,
                        &key,
                        line,
                        e.message().trim().to_owned(),
                    )),
                },
                _ => {
                    let mut f = Finding::new(
                        FindingCode::UnknownKey,
                        &key,
                        line,
                        format!("unknown front-matter key `{}`", Shown(&key)),
                    );
                    f = match closest_key(&key) {
                        Some(k) => f.hint(format!("did you mean `{k}`?")),
                        None => f.hint(format!("known keys: {}", KEYS.join(", "))),
                    };
                    findings.push(f);
                }
            }
        }
        if !table_has(&report.lines, "schema") {
            findings.push(Finding::new(
                FindingCode::MissingSchema,
                "schema",
                report.line_of("schema"),
                "missing `schema = 1`",
            ));
        }
        Ok((report, findings))
    }

    /// The line a key was read from, if the report came from a file.
    pub fn line_of(&self, key: &str) -> Option<usize> {
        self.lines
            .get(key)
            .or_else(|| self.lines.get("+++"))
            .copied()
    }

    /// Checks every field's own shape and size (not the program's scope rules). A report with any
    /// of these findings cannot be sealed.
    pub fn validate(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        self.validate_required(&mut out);
        self.validate_text(&mut out);
        self.validate_values(&mut out);
        out
    }

    /// The program and the title: present and well formed.
    fn validate_required(&self, out: &mut Vec<Finding>) {
        use FindingCode as C;
        let line = |k: &str| self.line_of(k);
        if self.program.trim().is_empty() {
            out.push(
                Finding::new(
                    C::MissingProgram,
                    "program",
                    line("program"),
                    "missing program",
                )
                .hint("set program = \"novu\""),
            );
        } else if let Err(why) = crate::ids::ProgramId::parse(&self.program) {
            out.push(Finding::new(
                C::InvalidProgramId,
                "program",
                line("program"),
                why.to_string(),
            ));
        }
        if self.title.trim().is_empty() {
            out.push(
                Finding::new(C::MissingTitle, "title", line("title"), "missing title")
                    .hint("one line saying what is broken where"),
            );
        } else if self.title.contains(['\n', '\r']) {
            out.push(Finding::new(
                C::TitleNotOneLine,
                "title",
                line("title"),
                "title must be one line",
            ));
        }
    }

    /// Sizes and characters: every field within its limit, one line where it must be, no control
    /// or bidi characters that would change what a reader sees.
    fn validate_text(&self, out: &mut Vec<Finding>) {
        use FindingCode as C;
        let line = |k: &str| self.line_of(k);
        too_long(out, "title", line("title"), &self.title, MAX_TITLE_BYTES);
        let one_line_fields = [
            ("program", Some(&self.program)),
            ("title", Some(&self.title)),
            ("class", Some(&self.class)),
            ("cwe", self.cwe.as_ref()),
            ("cvss", self.cvss.as_ref()),
            ("severity", self.severity.as_ref()),
            ("reference", self.reference.as_ref()),
        ];
        for (field, value) in one_line_fields {
            let Some(value) = value else { continue };
            if field != "title" {
                too_long(out, field, line(field), value, MAX_FIELD_BYTES);
            }
            if let Some(c) =
                first_unsafe(value).filter(|c| !(field == "title" && "\r\n".contains(*c)))
            {
                out.push(control_finding(field, line(field), c));
            }
        }
        if let Some(Credit::Named { name, handle }) = &self.credit {
            for v in std::iter::once(name).chain(handle) {
                too_long(out, "credit", line("credit"), v, MAX_FIELD_BYTES);
                if let Some(c) = first_unsafe(v) {
                    out.push(control_finding("credit", line("credit"), c));
                }
            }
        }
        for (field, list) in [
            ("assets", &self.assets),
            ("attestations", &self.attestations),
            ("scope_confirmations", &self.scope_confirmations),
        ] {
            if list.len() > MAX_LIST_ITEMS {
                out.push(Finding::new(
                    C::TooMany,
                    field,
                    line(field),
                    format!("{} entries, over the limit of {MAX_LIST_ITEMS}", list.len()),
                ));
            }
            for v in list {
                too_long(out, field, line(field), v, MAX_FIELD_BYTES);
                if let Some(c) = first_unsafe(v) {
                    out.push(control_finding(field, line(field), c));
                }
            }
        }
        if self.body.len() > MAX_BODY_BYTES {
            out.push(
                Finding::new(
                    C::TooLong,
                    "body",
                    None,
                    format!(
                        "the description is {} bytes, over the limit of {MAX_BODY_BYTES} bytes",
                        self.body.len()
                    ),
                )
                .hint("move logs and dumps into attachments"),
            );
        }
        if let Some(c) = self
            .body
            .chars()
            .find(|&c| c.is_control() && !"\t\r\n".contains(c))
        {
            out.push(control_finding("body", None, c));
        }
    }

    /// The values with a grammar: assets, class, CWE, CVSS, severity, credit and reference.
    fn validate_values(&self, out: &mut Vec<Finding>) {
        use FindingCode as C;
        let line = |k: &str| self.line_of(k);
        if self.assets.is_empty() {
            out.push(
                Finding::new(
                    C::MissingAsset,
                    "assets",
                    line("assets"),
                    "missing asset: name at least one affected URL, host, IP or CIDR",
                )
                .hint("assets = [\"https://web.example.com/page\"]"),
            );
        }
        for asset in &self.assets {
            if let Err(why) = validate_asset(asset) {
                out.push(Finding::new(C::InvalidAsset, "assets", line("assets"), why));
            }
        }
        if self.class.is_empty() {
            out.push(
                Finding::new(C::MissingClass, "class", line("class"), "missing class")
                    .hint(format!("one of: {}", known_classes())),
            );
        } else if class_by_id(&self.class).is_none() {
            out.push(
                Finding::new(
                    C::UnknownClass,
                    "class",
                    line("class"),
                    format!("unknown class `{}`", Shown(&self.class)),
                )
                .hint(format!("one of: {}", known_classes())),
            );
        }
        if let Some(cwe) = &self.cwe {
            if !is_cwe(cwe) {
                out.push(
                    Finding::new(
                        C::InvalidCwe,
                        "cwe",
                        line("cwe"),
                        format!("malformed CWE id `{}`", Shown(cwe)),
                    )
                    .hint("write it as CWE-<number>, e.g. CWE-79"),
                );
            }
        }
        if let Some(vector) = &self.cvss {
            if let Err(why) = parse_cvss(vector) {
                out.push(Finding::new(C::InvalidCvss, "cvss", line("cvss"), why));
            }
        }
        if let Some(sev) = &self.severity {
            if !SEVERITIES.contains(&sev.as_str()) {
                out.push(
                    Finding::new(
                        C::UnknownSeverity,
                        "severity",
                        line("severity"),
                        format!("unknown severity `{}`", Shown(sev)),
                    )
                    .hint(format!("one of: {}", SEVERITIES.join(", "))),
                );
            }
        }
        if let Some(Credit::Named { name, .. }) = &self.credit {
            if name.trim().is_empty() {
                out.push(
                    Finding::new(
                        C::EmptyCreditName,
                        "credit",
                        line("credit"),
                        "credit name is empty",
                    )
                    .hint("give a name or write credit = \"anonymous\""),
                );
            }
        }
        if let Some(reference) = &self.reference {
            if crate::reference::Reference::parse(reference).is_err() {
                out.push(
                    Finding::new(
                        C::InvalidReference,
                        "reference",
                        line("reference"),
                        format!(
                            "`{}` is not a reference like EMB-7K2Q-9XDA",
                            Shown(reference)
                        ),
                    )
                    .hint("delete the line: `embargo seal` makes a new one"),
                );
            }
        }
    }

    /// [`Report::validate`] plus the recommendations that do not depend on the program: a credit
    /// choice, a description, a "Steps to reproduce" section.
    pub fn lint(&self) -> Vec<Finding> {
        use FindingCode as C;
        let mut out = self.validate();
        if self.credit.is_none() {
            out.push(
                Finding::new(C::CreditNotChosen, "credit", None, "credit not chosen")
                    .hint("add credit = { name = \"…\" } or credit = \"anonymous\""),
            );
        }
        if self.body.trim().is_empty() {
            out.push(
                Finding::new(
                    C::NoDescription,
                    "body",
                    None,
                    "the report has no description",
                )
                .hint("describe the problem below the front matter"),
            );
        }
        if !self.has_section("steps to reproduce") {
            out.push(
                Finding::new(
                    C::NoStepsSection,
                    "body",
                    None,
                    "missing \"Steps to reproduce\" section",
                )
                .hint("add a `## Steps to reproduce` heading with numbered steps"),
            );
        }
        out
    }

    /// A new draft for a program: the recommended sections, class "other", a fresh reference.
    pub fn draft(program: &str) -> Report {
        Report {
            schema: SCHEMA,
            program: program.to_owned(),
            class: "other".into(),
            reference: Some(crate::reference::Reference::generate().to_string()),
            body: "## Summary\n\n\n## Steps to reproduce\n\n1. \n\n## Impact\n\n".into(),
            ..Report::default()
        }
    }

    /// The report as an editor should keep it: the title and single-line fields trimmed, empty
    /// optional fields and blank list entries dropped.
    pub fn tidied(&self) -> Report {
        let blank = |s: &Option<String>| {
            s.as_ref()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let list = |l: &[String]| {
            l.iter()
                .map(|a| a.trim().to_owned())
                .filter(|a| !a.is_empty())
                .collect()
        };
        Report {
            schema: SCHEMA,
            program: self.program.trim().to_owned(),
            title: self.title.trim().to_owned(),
            assets: list(&self.assets),
            class: self.class.trim().to_owned(),
            cwe: blank(&self.cwe),
            cvss: blank(&self.cvss),
            severity: blank(&self.severity),
            credit: self.credit.as_ref().map(|c| match c {
                Credit::Anonymous => Credit::Anonymous,
                Credit::Named { name, handle } => Credit::Named {
                    name: name.trim().to_owned(),
                    handle: blank(handle),
                },
            }),
            attestations: list(&self.attestations),
            scope_confirmations: list(&self.scope_confirmations),
            reference: blank(&self.reference),
            body: self.body.clone(),
            lines: BTreeMap::new(),
        }
    }

    /// Whether the body has a Markdown heading starting with these words (case-insensitive).
    pub fn has_section(&self, words: &str) -> bool {
        self.body.lines().any(|l| {
            let t = l.trim_start();
            t.starts_with('#')
                && t.trim_start_matches('#')
                    .trim()
                    .to_lowercase()
                    .starts_with(words)
        })
    }

    /// Severity as given, else derived from the CVSS vector.
    pub fn effective_severity(&self) -> Option<String> {
        self.severity.clone().or_else(|| {
            self.cvss
                .as_deref()
                .and_then(|v| parse_cvss(v).ok())
                .map(|c| c.severity)
        })
    }

    /// Whether the researcher chose anonymity, or has not chosen (which Embargo treats the same).
    pub fn is_anonymous(&self) -> bool {
        !matches!(self.credit, Some(Credit::Named { .. }))
    }

    /// Writes the report file: front matter in schema order, then the body verbatim.
    pub fn to_markdown(&self) -> String {
        // Always a one-line basic string: a multi-line one could hold a `+++` line, which would
        // end the front matter when the file is read again (found by cargo-fuzz, kept in
        // fuzz/corpus/report_parse/crash-plus-line-in-title).
        let q = |s: &str| {
            let mut o = String::with_capacity(s.len() + 2);
            o.push('"');
            for c in s.chars() {
                match c {
                    '"' => o.push_str("\\\""),
                    '\\' => o.push_str("\\\\"),
                    '\n' => o.push_str("\\n"),
                    '\t' => o.push_str("\\t"),
                    '\r' => o.push_str("\\r"),
                    c if (c as u32) < 0x20 || c == '\u{7f}' => {
                        o.push_str(&format!("\\u{:04X}", c as u32))
                    }
                    c => o.push(c),
                }
            }
            o.push('"');
            o
        };
        let list = |l: &[String]| {
            format!(
                "[{}]",
                l.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
            )
        };
        let mut out = String::from("+++\n");
        out += &format!(
            "schema = {}\n",
            if self.schema == 0 {
                SCHEMA
            } else {
                self.schema
            }
        );
        out += &format!("program = {}\n", q(&self.program));
        out += &format!("title = {}\n", q(&self.title));
        out += &format!("assets = {}\n", list(&self.assets));
        out += &format!("class = {}\n", q(&self.class));
        for (k, v) in [
            ("cwe", &self.cwe),
            ("cvss", &self.cvss),
            ("severity", &self.severity),
        ] {
            if let Some(v) = v {
                out += &format!("{k} = {}\n", q(v));
            }
        }
        match &self.credit {
            Some(Credit::Anonymous) => out += "credit = \"anonymous\"\n",
            Some(Credit::Named { name, handle }) => {
                out += &format!("credit = {{ name = {}", q(name));
                if let Some(h) = handle {
                    out += &format!(", handle = {}", q(h));
                }
                out += " }\n";
            }
            None => {}
        }
        out += &format!("attestations = {}\n", list(&self.attestations));
        out += &format!(
            "scope_confirmations = {}\n",
            list(&self.scope_confirmations)
        );
        if let Some(r) = &self.reference {
            out += &format!("reference = {}\n", q(r));
        }
        out += "+++\n";
        out += &self.body;
        out
    }
}

fn too_long(out: &mut Vec<Finding>, field: &str, line: Option<usize>, value: &str, limit: usize) {
    if value.len() > limit {
        out.push(Finding::new(
            FindingCode::TooLong,
            field,
            line,
            format!(
                "{field} is {} bytes, over the limit of {limit} bytes",
                value.len()
            ),
        ));
    }
}

fn control_finding(field: &str, line: Option<usize>, c: char) -> Finding {
    Finding::new(
        FindingCode::ControlCharacter,
        field,
        line,
        format!("{field} contains the control character U+{:04X}", c as u32),
    )
    .hint("remove it: control and bidi characters can disguise what a reader sees")
}

fn table_has(lines: &BTreeMap<String, usize>, key: &str) -> bool {
    lines.contains_key(key)
}

fn string_list(v: &toml::Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_str().map(str::to_owned))
        .collect()
}

fn closest_key(key: &str) -> Option<&'static str> {
    closest(key, KEYS)
}

/// The candidate nearest to `word` by edit distance, when it is near enough to be a typo.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|k| (levenshtein(word, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

fn is_cwe(s: &str) -> bool {
    s.strip_prefix("CWE-").is_some_and(|n| {
        !n.is_empty()
            && n.len() <= 6
            && n.bytes().all(|b| b.is_ascii_digit())
            && !n.starts_with('0')
    })
}

/// A parsed CVSS vector with its base score and severity.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CvssScore {
    /// `3.1` or `4.0`.
    pub version: String,
    /// Base score, 0.0–10.0.
    pub score: f64,
    /// `none`, `low`, `medium`, `high` or `critical`.
    pub severity: String,
}

/// Parses a CVSS 3.1 or 4.0 vector.
pub fn parse_cvss(vector: &str) -> Result<CvssScore, String> {
    let parsed: cvss::Cvss = vector
        .parse()
        .map_err(|e: cvss::Error| format!("CVSS vector `{vector}` does not parse: {e}"))?;
    let version = match parsed {
        cvss::Cvss::CvssV31(_) => "3.1",
        cvss::Cvss::CvssV40(_) => "4.0",
        _ => {
            return Err(format!(
                "CVSS vector `{vector}`: only versions 3.1 and 4.0 are accepted"
            ))
        }
    };
    Ok(CvssScore {
        version: version.into(),
        score: parsed.score(),
        severity: parsed.severity().as_str().into(),
    })
}

/// Checks one asset: an absolute URL, a host name (wildcard allowed), an IP address or a CIDR
/// range, each with an optional port.
pub fn validate_asset(asset: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "asset `{asset}` is not a URL, host, IP or CIDR: {why}"
        ))
    };
    let a = asset.trim();
    if a.is_empty() {
        return bad("it is empty");
    }
    if a != asset || a.contains(char::is_whitespace) {
        return bad("it contains spaces");
    }
    if a.contains("://") {
        return match url::Url::parse(a) {
            Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
            Ok(_) => bad("the URL has no host"),
            Err(e) => bad(&format!("URL does not parse ({e})")),
        };
    }
    if a.parse::<IpAddr>().is_ok()
        || a.parse::<SocketAddr>().is_ok()
        || a.parse::<ipnet::IpNet>().is_ok()
    {
        return Ok(());
    }
    if let Some((ip, prefix)) = a.split_once('/') {
        if ip.parse::<IpAddr>().is_ok() {
            return bad(&format!("`{prefix}` is not a valid prefix length for {ip}"));
        }
        return bad("a path needs a scheme (https://…); a range needs an IP address before the /");
    }
    let (host, port) = match a.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (a, None),
    };
    if let Some(p) = port {
        if p.parse::<u16>().map_or(true, |p| p == 0) {
            return bad(&format!("`{p}` is not a port number"));
        }
    }
    let name = host.strip_prefix("*.").unwrap_or(host);
    if name.len() > 253 {
        return bad("host name longer than 253 characters");
    }
    let labels: Vec<&str> = name.split('.').collect();
    for label in &labels {
        if label.is_empty() || label.len() > 63 {
            return bad("empty or over-long label in host name");
        }
        if label.starts_with('-')
            || label.ends_with('-')
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return bad(&format!("`{label}` is not a valid host name label"));
        }
    }
    if labels.iter().all(|l| l.bytes().all(|b| b.is_ascii_digit())) {
        return bad("not a valid IP address");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::Program;
    use expect_test::{expect, Expect};

    /// The app sends a report as JSON, where a named credit without a handle has `"handle":
    /// null`; it once came back as "credit.handle must be a string, found null".
    #[test]
    fn credit_handle_may_be_json_null() {
        let c: Credit = serde_json::from_str(r#"{"name": "Ada", "handle": null}"#).unwrap();
        assert_eq!(
            c,
            Credit::Named {
                name: "Ada".into(),
                handle: None
            }
        );
        let e = serde_json::from_str::<Credit>(r#"{"name": null}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("credit.name must be a string, found null"),
            "{e}"
        );
    }

    const GOOD: &str = "+++
schema = 1
program = \"novu\"
title = \"Stored XSS in the workflow editor\"
assets = [\"https://web.novu.co/workflows\"]
class = \"xss\"
cwe = \"CWE-79\"
cvss = \"CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N\"
credit = { name = \"Ada Lovelace\", handle = \"@ada\" }
attestations = [\"no-automated-scanning\", \"no-exploitation\", \"confidential-until-fixed\", \"no-social-engineering-or-dos\"]
scope_confirmations = []
+++
## Summary
A payload.
## Steps to reproduce
1. Open it.
## Impact
Bad.
";

    fn findings(text: &str) -> String {
        match Report::parse(text) {
            Err(e) => format!("error: {e}"),
            Ok((r, mut f)) => {
                f.extend(r.lint());
                f.extend(Program::novu().check(&r));
                f.iter().map(|f| format!("{f}\n")).collect()
            }
        }
    }

    fn check(text: &str, expect: Expect) {
        expect.assert_eq(&findings(text));
    }

    #[test]
    fn clean_report_has_no_findings() {
        check(GOOD, expect![[""]]);
        let (r, _) = Report::parse(GOOD).unwrap();
        assert_eq!(r.effective_severity().as_deref(), Some("medium"));
        let (again, f) = Report::parse(&r.to_markdown()).unwrap();
        assert!(f.is_empty());
        assert_eq!(
            Report {
                lines: BTreeMap::new(),
                ..again
            },
            Report {
                lines: BTreeMap::new(),
                ..r
            }
        );
    }

    #[test]
    fn field_errors_name_field_and_line() {
        let text = GOOD
            .replace(
                "title = \"Stored XSS in the workflow editor\"",
                "titel = \"x\"",
            )
            .replace(
                "[\"https://web.novu.co/workflows\"]",
                "[\"web novu\", \"10.0.0.0/33\", \"ftp:/x\"]",
            )
            .replace("\"xss\"", "\"xxs\"")
            .replace("CWE-79", "79")
            .replace("S:C/C:L", "S:Q/C:L");
        check(
            &text,
            expect![[r#"
                line 4: titel: unknown front-matter key `titel` (hint: did you mean `title`?)
                line 12: title: missing title (hint: one line saying what is broken where)
                line 5: assets: asset `web novu` is not a URL, host, IP or CIDR: it contains spaces
                line 5: assets: asset `10.0.0.0/33` is not a URL, host, IP or CIDR: `33` is not a valid prefix length for 10.0.0.0
                line 5: assets: asset `ftp:/x` is not a URL, host, IP or CIDR: a path needs a scheme (https://…); a range needs an IP address before the /
                line 6: class: unknown class `xxs` (hint: one of: xss, sqli, idor, ssrf, rce, auth-bypass, csrf, clickjacking, open-redirect, info-disclosure, mitm, dos, content-spoofing, email-spoofing, missing-security-headers, cookie-flags, broken-link, other)
                line 7: cwe: malformed CWE id `79` (hint: write it as CWE-<number>, e.g. CWE-79)
                line 8: cvss: CVSS vector `CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:Q/C:L/I:L/A:N` does not parse: invalid CVSSv3 S (Scope) metric: `Q`
            "#]],
        );
    }

    #[test]
    fn scope_and_rules_findings_quote_the_policy() {
        let text = GOOD
            .replace("\"xss\"", "\"dos\"")
            .replace("\"no-exploitation\", ", "")
            .replace("## Steps to reproduce\n", "");
        check(
            &text,
            expect![[r#"
                body: missing "Steps to reproduce" section (hint: add a `## Steps to reproduce` heading with numbered steps)
                line 6: class: class `dos` is out of scope for Novu: "Any activity that could lead to the disruption of our service (DoS)." (hint: the program will not accept this class; pick another class only if it describes the issue better)
                line 10: attestations: missing attestation `no-exploitation`: "Please do not exploit the vulnerability or issue you've found, such as downloading excessive data or tampering with others' data." (hint: add "no-exploitation" to attestations once it holds)
            "#]],
        );
        let conditional = GOOD.replace("\"xss\"", "\"clickjacking\"");
        assert!(findings(&conditional).contains("out of scope for Novu unless confirmed"));
        let confirmed = conditional.replace(
            "scope_confirmations = []",
            "scope_confirmations = [\"clickjacking\"]",
        );
        check(&confirmed, expect![[""]]);
    }

    #[test]
    fn unparsable_input_is_an_error() {
        check("# no front matter\n", expect!["error: line 1: a report starts with a `+++` line, then TOML front matter, then `+++`"]);
        check(
            "+++\ntitle = \"x\"\n",
            expect!["error: line 2: the front matter opened on line 1 is never closed with `+++`"],
        );
        check(
            "+++\nschema = 1\ntitle = \n+++\n",
            expect![[
                r#"error: line 3: front matter is not valid TOML: string values must be quoted, expected literal string"#
            ]],
        );
    }

    #[test]
    fn assets_accept_urls_hosts_ips_and_ranges() {
        for ok in [
            "https://web.novu.co/workflows?id=1",
            "api.novu.co",
            "*.novu.co",
            "api.novu.co:8443",
            "192.0.2.10",
            "192.0.2.10:443",
            "2001:db8::1",
            "[2001:db8::1]:443",
            "10.0.0.0/8",
            "2001:db8::/32",
            "localhost",
        ] {
            assert_eq!(validate_asset(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "https://",
            "999.1.1.1",
            "host:99999",
            "-bad.example",
            "a..b",
            "exa mple.com",
            "/path",
        ] {
            assert!(validate_asset(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cvss_versions() {
        assert_eq!(
            parse_cvss("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
                .unwrap()
                .severity,
            "critical"
        );
        let v4 =
            parse_cvss("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").unwrap();
        assert_eq!((v4.version.as_str(), v4.score), ("4.0", 9.3));
        assert!(parse_cvss("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
            .unwrap_err()
            .contains("only versions 3.1 and 4.0"));
        assert!(parse_cvss("AV:N/AC:L/Au:N/C:P/I:P/A:P").is_err());
    }

    #[test]
    fn template_parses_and_lists_what_is_missing() {
        let (r, f) = Report::parse(&Program::novu().report_template()).unwrap();
        assert!(f.is_empty(), "{f:?}");
        assert!(r
            .reference
            .as_deref()
            .is_some_and(|r| r.starts_with("EMB-")));
        let mut out = r.lint();
        out.extend(Program::novu().check(&r));
        let fields: Vec<&str> = out.iter().map(|f| f.field.as_str()).collect();
        assert!(
            fields.contains(&"title")
                && fields.contains(&"assets")
                && fields.contains(&"attestations"),
            "{fields:?}"
        );
    }
}
