//! Disclosure programs as data: the class taxonomy, the built-in Novu policy, and the scope check.

use serde::{Deserialize, Serialize};

use crate::report::{Finding, FindingCode, Report};
use crate::text::Shown;

pub use crate::taxonomy::{class_by_id, known_classes, Class, CLASSES};

/// A disclosure program: one vendor's policy, as data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Program {
    /// Stable id (`novu`), used as `program = "…"` in reports and as the file name in the data dir.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Contacts as URIs: `mailto:` first for email delivery, `https:` for web forms.
    #[serde(default)]
    pub contacts: Vec<String>,
    /// Where the policy text lives.
    #[serde(default)]
    pub policy_url: Option<String>,
    /// The intake server's base URL, when the team runs one.
    #[serde(default)]
    pub intake_url: Option<String>,
    /// Program file schema: 2 (1 had a single `team_key`, read and migrated).
    #[serde(default = "schema_1")]
    pub schema: u32,
    /// The pinned team keys: a team whose members each hold a key gets every report encrypted
    /// to all of them.
    #[serde(default)]
    pub team_keys: Vec<TeamKey>,
    /// Schema 1's single pinned key, read for migration and never written.
    #[serde(default, skip_serializing)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub team_key: Option<TeamKey>,
    /// The domain discovery ran against, when the program came from one.
    #[serde(default)]
    pub domain: Option<String>,
    /// Keys discovery found and the user has not pinned yet.
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    /// Set when discovery found a different primary key than the pinned one: sealing is refused
    /// until the user pins again.
    #[serde(default)]
    pub key_alarm: Option<KeyAlarm>,
    /// What the policy says is in scope, in its own words.
    #[serde(default)]
    pub in_scope: Vec<String>,
    /// What the policy says a report should contain.
    #[serde(default)]
    pub reporting: Option<String>,
    /// Out-of-scope entries, each pointing at a taxonomy class.
    #[serde(default)]
    pub out_of_scope: Vec<OutOfScope>,
    /// Rules the researcher attests to.
    #[serde(default)]
    pub attestations: Vec<Attestation>,
    /// The response promise.
    #[serde(default)]
    pub response: Option<ResponsePromise>,
    /// How the program credits researchers.
    #[serde(default)]
    pub credit: Option<CreditPolicy>,
    /// Other promises (safe harbour, confidentiality, updates).
    #[serde(default)]
    pub promises: Vec<Promise>,
}

/// The team key pinned for a program: full fingerprint and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamKey {
    /// Full primary-key fingerprint, upper-case hex without spaces.
    pub fingerprint: String,
    /// Where the key came from (`file:…`, `pasted`, `wkd:…`, `security.txt:…`).
    #[serde(default)]
    pub source: Option<String>,
    /// When the user confirmed it (RFC 3339).
    #[serde(default)]
    pub confirmed_at: Option<String>,
}

/// A key discovery found for a program, not pinned yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Candidate {
    /// Full primary-key fingerprint.
    pub fingerprint: String,
    /// Every source that vouched for it (`security.txt`, `wkd`, `vks`, `proton`).
    pub sources: Vec<String>,
    /// When it was found (RFC 3339).
    pub found_at: String,
}

/// A different primary key than the pinned one, found later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyAlarm {
    /// The pinned fingerprint(s).
    pub pinned: Vec<String>,
    /// The one found instead.
    pub offered: String,
    /// Which sources served it.
    pub sources: Vec<String>,
    /// When (RFC 3339).
    pub seen_at: String,
}

/// The schema of program files this version writes.
pub const PROGRAM_SCHEMA: u32 = 2;

fn schema_1() -> u32 {
    1
}

/// One out-of-scope entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OutOfScope {
    /// Taxonomy class id.
    pub class: String,
    /// The policy's own words.
    pub wording: String,
    /// When present, the class is in scope if the researcher confirms this statement.
    #[serde(default)]
    pub condition: Option<String>,
}

/// A rule the researcher attests to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Attestation {
    /// Stable id used in `attestations = […]`.
    pub id: String,
    /// The policy's own words.
    pub wording: String,
}

/// The team's response promise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ResponsePromise {
    /// Business days until the first assessment.
    pub business_days: u32,
    /// The policy's own words.
    pub wording: String,
}

/// How a program credits researchers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CreditPolicy {
    /// `credited` (unless declined) or `none`.
    pub default: String,
    /// The policy's own words.
    pub wording: String,
}

/// Any other promise the policy makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "PolicyPromise"))]
pub struct Promise {
    /// The policy's own words.
    pub wording: String,
}

/// Errors reading a program description.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProgramError {
    /// The TOML does not describe a program.
    #[error("program {name}: {message}")]
    Parse {
        /// File or program name.
        name: String,
        /// What the parser said, with the line.
        message: String,
    },
    /// An out-of-scope entry or similar points at a class the taxonomy lacks.
    #[error("program {program}: unknown class `{class}` (known: {known})")]
    UnknownClass {
        /// Program id.
        program: String,
        /// The offending class id.
        class: String,
        /// Known ids, comma separated.
        known: String,
    },
    /// No program with this id.
    #[error("unknown program `{0}` (built in: novu)")]
    Unknown(String),
}

const NOVU_TOML: &str = include_str!("../programs/novu.toml");

/// The program a new report is for when nothing else was chosen: Novu, built in.
pub const DEFAULT_PROGRAM: &str = "novu";

impl Program {
    /// Parses a program from TOML and checks its class ids against the taxonomy.
    pub fn from_toml(name: &str, text: &str) -> Result<Program, ProgramError> {
        let mut program: Program = toml::from_str(text).map_err(|e| ProgramError::Parse {
            name: name.to_owned(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        if program.schema > PROGRAM_SCHEMA {
            return Err(ProgramError::Parse {
                name: name.to_owned(),
                message: format!(
                    "schema {} is newer than this version of Embargo reads ({PROGRAM_SCHEMA})",
                    program.schema
                ),
            });
        }
        // Schema 1 kept one key in `team_key`.
        if let Some(k) = program.team_key.take() {
            if !program
                .team_keys
                .iter()
                .any(|t| t.fingerprint == k.fingerprint)
            {
                program.team_keys.insert(0, k);
            }
        }
        program.schema = PROGRAM_SCHEMA;
        for oos in &program.out_of_scope {
            if class_by_id(&oos.class).is_none() {
                return Err(ProgramError::UnknownClass {
                    program: program.id.clone(),
                    class: oos.class.clone(),
                    known: known_classes(),
                });
            }
        }
        Ok(program)
    }

    /// Serializes the program as TOML (the data directory's `programs/<id>.toml`).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a program always serializes")
    }

    /// The built-in Novu program.
    pub fn novu() -> Program {
        Program::from_toml("novu (built in)", NOVU_TOML).expect("the built-in Novu program parses")
    }

    /// Built-in programs by id.
    pub fn builtin(id: &str) -> Result<Program, ProgramError> {
        match id {
            DEFAULT_PROGRAM => Ok(Program::novu()),
            other => Err(ProgramError::Unknown(other.to_owned())),
        }
    }

    /// Where the program stands with its team key.
    pub fn trust(&self) -> Trust {
        if self.key_alarm.is_some() {
            Trust::KeyChanged
        } else if self.has_team_key() {
            Trust::Pinned
        } else if !self.candidates.is_empty() {
            Trust::Unverified
        } else {
            Trust::NoKey
        }
    }

    /// Whether a team key is pinned.
    pub fn has_team_key(&self) -> bool {
        !self.team_keys.is_empty()
    }

    /// The first `mailto:` contact's address.
    pub fn email(&self) -> Option<&str> {
        self.contacts.iter().find_map(|c| c.strip_prefix("mailto:"))
    }

    /// The out-of-scope entry for a class, if any.
    pub fn out_of_scope_entry(&self, class: &str) -> Option<&OutOfScope> {
        self.out_of_scope.iter().find(|o| o.class == class)
    }

    /// The report template `embargo new` writes for this program, with a new reference.
    pub fn report_template(&self) -> String {
        let program = self;
        let mut out = String::from("+++\nschema = 1\n");
        out += &format!("program = \"{}\"\n", program.id);
        out += "# One line: what is broken, where. It travels only inside the encryption.\n";
        out += "title = \"\"\n";
        out += "# Affected URLs, host names (*.example.com), IP addresses or CIDR ranges; at least one.\n";
        out += "assets = []\n";
        out += &format!("# One of: {}\n", known_classes());
        for oos in &program.out_of_scope {
            let cond = if oos.condition.is_some() {
                " (unless confirmed: see scope_confirmations)"
            } else {
                ""
            };
            out += &format!(
                "#   out of scope for {}: {} — \"{}\"{cond}\n",
                program.name, oos.class, oos.wording
            );
        }
        out += "class = \"other\"\n";
        out += "# Optional: cwe = \"CWE-79\", cvss = \"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N\" or a CVSS:4.0 vector,\n";
        out += "# severity = \"none|low|medium|high|critical\" (derived from cvss when absent).\n";
        if let Some(credit) = &program.credit {
            out += &format!("# Credit — the program says: \"{}\"\n", credit.wording);
        }
        out += "# credit = { name = \"Your Name\", handle = \"@you\" } or credit = \"anonymous\"\n";
        out += "credit = \"anonymous\"\n";
        out += "# Confirm each rule by listing its id once it holds:\n";
        for a in &program.attestations {
            out += &format!("#   {}: \"{}\"\n", a.id, a.wording);
        }
        out += "attestations = []\n";
        out += "# Conditional out-of-scope classes whose condition you confirm, e.g. [\"clickjacking\"].\n";
        out += "scope_confirmations = []\n";
        out +=
            "# A random reference the team uses to tell reports apart; kept when you seal again.\n";
        out += &format!(
            "reference = \"{}\"\n+++\n",
            crate::reference::Reference::generate()
        );
        out += "## Summary\n\n\n## Steps to reproduce\n\n1. \n\n## Impact\n\n";
        out
    }

    /// Checks a (structurally valid) report against this program's scope and rules.
    ///
    /// Returns one finding per problem; an empty list means the report is clean.
    pub fn check(&self, report: &Report) -> Vec<Finding> {
        let mut findings = Vec::new();
        let line = |field: &str| report.line_of(field);
        if report.program != self.id {
            findings.push(Finding::new(
                FindingCode::ProgramMismatch,
                "program",
                line("program"),
                format!(
                    "report is for program `{}`, checked against `{}`",
                    Shown(&report.program),
                    self.id
                ),
            ));
        }
        if let Some(oos) = self.out_of_scope_entry(&report.class) {
            let confirmed = report.scope_confirmations.iter().any(|c| c == &oos.class);
            match (&oos.condition, confirmed) {
                (None, _) => findings.push(
                    Finding::new(
                        FindingCode::OutOfScope,
                        "class",
                        line("class"),
                        format!("class `{}` is out of scope for {}: \"{}\"", oos.class, self.name, oos.wording),
                    )
                    .hint("the program will not accept this class; pick another class only if it describes the issue better"),
                ),
                (Some(condition), false) => findings.push(
                    Finding::new(
                        FindingCode::OutOfScopeUnlessConfirmed,
                        "class",
                        line("class"),
                        format!(
                            "class `{}` is out of scope for {} unless confirmed: \"{}\"",
                            oos.class, self.name, oos.wording
                        ),
                    )
                    .hint(format!(
                        "if this holds — {condition} — add \"{}\" to scope_confirmations",
                        oos.class
                    )),
                ),
                (Some(_), true) => {}
            }
        }
        for confirmation in &report.scope_confirmations {
            let conditional = self
                .out_of_scope_entry(confirmation)
                .is_some_and(|o| o.condition.is_some());
            if !conditional {
                findings.push(Finding::new(
                    FindingCode::NothingToConfirm,
                    "scope_confirmations",
                    line("scope_confirmations"),
                    format!(
                        "`{}` is not a conditional out-of-scope class of {}; nothing to confirm",
                        Shown(confirmation),
                        self.name
                    ),
                ));
            }
        }
        for attestation in &self.attestations {
            if !report.attestations.iter().any(|a| a == &attestation.id) {
                findings.push(
                    Finding::new(
                        FindingCode::MissingAttestation,
                        "attestations",
                        line("attestations"),
                        format!(
                            "missing attestation `{}`: \"{}\"",
                            attestation.id, attestation.wording
                        ),
                    )
                    .hint(format!(
                        "add \"{}\" to attestations once it holds",
                        attestation.id
                    )),
                );
            }
        }
        for given in &report.attestations {
            if !self.attestations.iter().any(|a| &a.id == given) {
                let known: Vec<&str> = self.attestations.iter().map(|a| a.id.as_str()).collect();
                findings.push(Finding::new(
                    FindingCode::UnknownAttestation,
                    "attestations",
                    line("attestations"),
                    format!(
                        "unknown attestation `{}` for {} (known: {})",
                        Shown(given),
                        self.name,
                        known.join(", ")
                    ),
                ));
            }
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn novu_program_matches_its_policy() {
        let novu = Program::novu();
        assert_eq!(novu.email(), Some("security@novu.co"));
        assert_eq!(novu.response.as_ref().unwrap().business_days, 3);
        let ids: Vec<&str> = novu.attestations.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "no-automated-scanning",
                "no-exploitation",
                "confidential-until-fixed",
                "no-social-engineering-or-dos"
            ]
        );
        let policy = include_str!("../programs/novu-SECURITY.md");
        for oos in &novu.out_of_scope {
            assert!(
                policy.contains(&oos.wording),
                "wording not from the policy: {}",
                oos.wording
            );
        }
        for a in &novu.attestations {
            assert!(
                policy.contains(&a.wording),
                "wording not from the policy: {}",
                a.wording
            );
        }
        assert!(novu
            .out_of_scope_entry("clickjacking")
            .unwrap()
            .condition
            .is_some());
        assert!(novu.out_of_scope_entry("dos").unwrap().condition.is_none());
        assert_eq!(
            Program::from_toml("round trip", &novu.to_toml()).unwrap(),
            novu
        );
    }

    #[test]
    fn taxonomy_has_the_required_ids() {
        for id in [
            "xss",
            "sqli",
            "idor",
            "ssrf",
            "rce",
            "auth-bypass",
            "csrf",
            "clickjacking",
            "open-redirect",
            "info-disclosure",
            "mitm",
            "dos",
            "content-spoofing",
            "email-spoofing",
            "missing-security-headers",
            "cookie-flags",
            "broken-link",
            "other",
        ] {
            assert!(class_by_id(id).is_some(), "{id}");
        }
    }

    #[test]
    fn program_with_unknown_class_is_refused() {
        let err = Program::from_toml(
            "x",
            "id = \"x\"\nname = \"X\"\n[[out_of_scope]]\nclass = \"nope\"\nwording = \"w\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown class `nope`"), "{err}");
    }
}

/// Where a program stands with its team key (`embargo program list`, the app's program list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// A key is pinned and discovery found no other.
    Pinned,
    /// Discovery found keys; none is pinned yet.
    Unverified,
    /// Discovery found a different key than the pinned one: sealing is refused.
    KeyChanged,
    /// No key known.
    NoKey,
}

impl Trust {
    /// The word `embargo program list` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::Pinned => "pinned",
            Trust::Unverified => "unverified",
            Trust::KeyChanged => "KEY-CHANGED",
            Trust::NoKey => "no-key",
        }
    }
}
