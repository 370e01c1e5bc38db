//! SECURITY.md import: reads a Markdown disclosure policy into a [`Program`] and lists what it could not map.
//!
//! The importer walks the document with pulldown-cmark and sorts every list item into the section
//! it belongs to — in scope, out of scope, contact channels, rules, what a report should contain,
//! promises — by the heading above it or the lead-in line (`**Out of Scope Vulnerabilities:**`,
//! "please adhere to the following:"). Paragraphs are read sentence by sentence for contacts,
//! response times, credit and rules written as prose ("Please do not …").
//!
//! It never guesses. Everything lands either in the program, verbatim, or in
//! [`ImportedProgram::unmapped`] with the reason it was left out:
//! - an out-of-scope bullet names exactly one class of the taxonomy ([`crate::program::CLASSES`])
//!   or it is unmapped; a bullet narrower than its class ("Self XSS", "… without a proof of
//!   concept") becomes a *conditional* entry only when the qualifier is one of the standard
//!   phrasings the importer knows (no sensitive actions, login/logout CSRF, non-sensitive cookies,
//!   content spoofing without an attack vector, self-XSS); any other qualifier leaves the bullet
//!   unmapped rather than marking the whole class out of scope;
//! - a rule becomes an attestation only when it matches exactly one of the known rule kinds
//!   ([`RULE_IDS`]); the id is the kind's, the wording the policy's;
//! - a response time is taken only in business (working) days; hours, calendar days and weeks are
//!   shown, not converted;
//! - credit is taken only when the policy credits by default (optionally "unless you ask
//!   otherwise") or says it never credits; credit on request or "with your permission" is shown.
//!
//! Keys are never pinned by an import: fingerprints, armored key blocks and key URLs found in the
//! file are returned as [`KeyHint`]s for the user to confirm.

use std::fmt;

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};
use serde::Serialize;

use crate::program::{Attestation, CreditPolicy, OutOfScope, Program, Promise, ResponsePromise};

/// The largest SECURITY.md the importer reads (real ones are a few KiB).
pub const MAX_IMPORT_BYTES: usize = 1 << 20;

/// Rule kinds the importer recognises, in the order they are tried; the id becomes the
/// attestation id (`attestations = […]` in a report).
pub const RULE_IDS: &[&str] = &[
    "no-automated-scanning",
    "no-exploitation",
    "confidential-until-fixed",
    "no-social-engineering-or-dos",
    "own-accounts-only",
];

/// A program read from a SECURITY.md, with everything the importer did not take.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportedProgram {
    /// The program, every wording verbatim from the file.
    pub program: Program,
    /// What the importer read but could not map, in file order; show these to the user.
    pub unmapped: Vec<Unmapped>,
    /// Key material the policy mentions; never pinned by the import.
    pub keys: Vec<KeyHint>,
}

/// One piece of the policy the importer could not map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmapped {
    /// The heading (and lead-in line, after `›`) the text stands under.
    pub section: String,
    /// The policy's own words.
    pub text: String,
    /// Why it was not mapped.
    pub reason: UnmappedReason,
}

/// Why a piece of the policy was not mapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnmappedReason {
    /// An out-of-scope entry that names no class of the taxonomy.
    NoClass,
    /// An out-of-scope entry that names several classes.
    SeveralClasses {
        /// The class ids it names.
        classes: Vec<String>,
    },
    /// An out-of-scope entry narrower than its class, with a qualifier the importer does not know.
    UnknownCondition {
        /// The class it names.
        class: String,
    },
    /// An out-of-scope entry for a class an earlier entry already covers.
    ClassAlreadyOutOfScope {
        /// The class id.
        class: String,
    },
    /// A rule that matches none of the known rule kinds.
    NoRuleId,
    /// A rule that matches several rule kinds.
    SeveralRuleIds {
        /// The kinds it matches.
        ids: Vec<String>,
    },
    /// A rule whose kind an earlier rule already took.
    RuleIdTaken {
        /// The attestation id.
        id: String,
    },
    /// A response time not given in business days.
    ResponseNotInBusinessDays {
        /// `true` when it was kept among the program's promises.
        kept_as_promise: bool,
    },
    /// A response time after the first one, which the program took.
    SecondResponseTime {
        /// Business days of the response the program took.
        taken: u32,
        /// `true` when it was kept among the program's promises.
        kept_as_promise: bool,
    },
    /// A credit statement that is neither "credited by default" nor "never credited".
    CreditUnclear {
        /// `true` when it was kept among the program's promises.
        kept_as_promise: bool,
    },
    /// A credit statement after the first one, which the program took.
    SecondCreditStatement,
    /// A contact channel that is neither an email address nor a web form Embargo can use.
    NoUsableContact,
    /// A list item under a heading the importer does not know what to do with.
    UnknownSection,
}

impl fmt::Display for UnmappedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kept = |k: &bool| if *k { " (kept as a promise)" } else { "" };
        match self {
            Self::NoClass => write!(f, "names no class of the taxonomy"),
            Self::SeveralClasses { classes } => {
                write!(f, "names several classes ({})", classes.join(", "))
            }
            Self::UnknownCondition { class } => write!(
                f,
                "narrower than class `{class}` with a qualifier the importer does not know; \
                 not marking the whole class out of scope"
            ),
            Self::ClassAlreadyOutOfScope { class } => {
                write!(
                    f,
                    "class `{class}` is already out of scope through an earlier entry"
                )
            }
            Self::NoRuleId => write!(f, "a rule that matches no known rule id"),
            Self::SeveralRuleIds { ids } => {
                write!(
                    f,
                    "a rule that matches several rule ids ({})",
                    ids.join(", ")
                )
            }
            Self::RuleIdTaken { id } => {
                write!(f, "rule id `{id}` was already taken by an earlier rule")
            }
            Self::ResponseNotInBusinessDays { kept_as_promise } => write!(
                f,
                "response time not in business days; no response deadline set{}",
                kept(kept_as_promise)
            ),
            Self::SecondResponseTime {
                taken,
                kept_as_promise,
            } => write!(
                f,
                "another response time; the first one ({taken} business days) was taken{}",
                kept(kept_as_promise)
            ),
            Self::CreditUnclear { kept_as_promise } => write!(
                f,
                "credit neither by default nor never (e.g. on request); credit policy not set{}",
                kept(kept_as_promise)
            ),
            Self::SecondCreditStatement => {
                write!(f, "another credit statement; the first one was taken")
            }
            Self::NoUsableContact => write!(
                f,
                "a contact channel that is neither an email address nor a report form"
            ),
            Self::UnknownSection => write!(f, "under a heading the importer does not know"),
        }
    }
}

/// Key material a policy mentions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum KeyHint {
    /// A v4 (40 hex) or v6 (64 hex) fingerprint, upper case without spaces.
    Fingerprint(String),
    /// An ASCII-armored public key block, as written (line prefixes of quotes removed).
    Armored(String),
    /// A link that points at a key (`.asc`, "PGP key" pages).
    Url(String),
}

/// Errors importing a SECURITY.md.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The program id cannot name a program file.
    #[error("invalid program id `{id}`: use 1 to 64 lower-case letters, digits and single dashes")]
    InvalidId {
        /// The id given.
        id: String,
    },
    /// The file is larger than [`MAX_IMPORT_BYTES`].
    #[error("{source_name}: {size} bytes is more than the {max} bytes a SECURITY.md import reads")]
    TooLarge {
        /// The file.
        source_name: String,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Nothing in the file looks like a disclosure policy.
    #[error(
        "{source_name}: no contact, scope, rule, promise or key found; is this a SECURITY.md?"
    )]
    NothingRecognised {
        /// The file.
        source_name: String,
    },
}

/// Reads a SECURITY.md into a program with id `id`.
///
/// `source` says where the file came from; an `https://` URL becomes the program's
/// `policy_url`, anything else only names the file in errors. The program's name is taken from
/// the top heading when it names the project ("Security Policy of Formbricks"), else made from
/// the id (`novu` → "Novu").
pub fn import_security_md(
    markdown: &str,
    id: &str,
    source: Option<&str>,
) -> Result<ImportedProgram, ImportError> {
    let source_name = source.unwrap_or("SECURITY.md").to_owned();
    if !valid_id(id) {
        return Err(ImportError::InvalidId { id: id.to_owned() });
    }
    if markdown.len() > MAX_IMPORT_BYTES {
        return Err(ImportError::TooLarge {
            source_name,
            size: markdown.len(),
            max: MAX_IMPORT_BYTES,
        });
    }
    let mut walker = Walker::default();
    walker.walk(markdown);
    let mut b = walker.b;
    for armor in armored_blocks(markdown) {
        b.push_key(KeyHint::Armored(armor));
    }

    let name = b
        .title
        .as_deref()
        .and_then(name_from_title)
        .unwrap_or_else(|| name_from_id(id));
    let mut contacts: Vec<String> = b.emails.iter().map(|e| format!("mailto:{e}")).collect();
    contacts.extend(b.forms.iter().cloned());
    let reporting = b
        .reporting
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let program = Program {
        id: id.to_owned(),
        name,
        contacts,
        policy_url: source
            .filter(|s| s.starts_with("https://") && url::Url::parse(s).is_ok())
            .map(str::to_owned),
        intake_url: None,
        schema: crate::program::PROGRAM_SCHEMA,
        team_keys: Vec::new(),
        team_key: None,
        domain: None,
        candidates: Vec::new(),
        key_alarm: None,
        in_scope: b.in_scope,
        reporting: (!reporting.is_empty()).then_some(reporting),
        out_of_scope: b.out_of_scope,
        attestations: b.attestations,
        response: b.response,
        credit: b.credit,
        promises: b.promises,
    };
    let empty = program.contacts.is_empty()
        && program.in_scope.is_empty()
        && program.reporting.is_none()
        && program.out_of_scope.is_empty()
        && program.attestations.is_empty()
        && program.response.is_none()
        && program.credit.is_none()
        && program.promises.is_empty()
        && b.keys.is_empty();
    if empty {
        return Err(ImportError::NothingRecognised { source_name });
    }
    Ok(ImportedProgram {
        program,
        unmapped: b.unmapped,
        keys: b.keys,
    })
}

/// Fuzz entry point: any bytes, no panic; an import that succeeds yields a program that
/// round-trips through its TOML form (so every class id is one of the taxonomy's).
pub fn fuzz_import(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(imported) = import_security_md(text, "fuzz", Some("fuzz input")) {
        let toml = imported.program.to_toml();
        let back = Program::from_toml("fuzz", &toml).expect("an imported program re-reads");
        assert_eq!(back, imported.program);
        for u in &imported.unmapped {
            let _ = u.reason.to_string();
        }
    }
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
}

fn name_from_id(id: &str) -> String {
    id.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

/// "Security Policy of Formbricks" → "Formbricks"; "Security" → none.
fn name_from_title(title: &str) -> Option<String> {
    const GENERIC: &[&str] = &[
        "security",
        "policy",
        "policies",
        "vulnerability",
        "vulnerabilities",
        "disclosure",
        "responsible",
        "coordinated",
        "reporting",
        "report",
        "reports",
        "issue",
        "issues",
        "program",
        "programme",
        "of",
        "for",
        "the",
        "and",
        "&",
        "a",
    ];
    let words: Vec<&str> = title
        .split_whitespace()
        .filter(|w| {
            let bare = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '&');
            !bare.is_empty() && !GENERIC.contains(&bare.to_lowercase().as_str())
        })
        .collect();
    let name = words.join(" ");
    let name = name.trim_matches(|c: char| !c.is_alphanumeric()).to_owned();
    (!name.is_empty() && name.chars().count() <= 40).then_some(name)
}

mod classes;
mod collect;
mod contacts;
mod promises;
mod rules;
mod sections;
mod text;
mod walk;

use classes::*;
use collect::*;
use contacts::*;
use promises::*;
use rules::*;
use sections::*;
use text::*;
use walk::*;

#[cfg(test)]
mod tests;
