//! The report model, its file format (Markdown + TOML front matter, schema 1) and validation.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::program::{class_by_id, known_classes, Program};

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
];

const SEVERITIES: &[&str] = &["none", "low", "medium", "high", "critical"];

/// A vulnerability report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
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
    pub credit: Option<Credit>,
    /// Attestation ids of the program's rules the researcher confirms.
    pub attestations: Vec<String>,
    /// Conditional out-of-scope classes whose condition the researcher confirms does not apply.
    pub scope_confirmations: Vec<String>,
    /// The Markdown body.
    pub body: String,
    /// Line of each front-matter key in the file it was read from (for messages).
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

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum CreditRepr {
    Word(String),
    Named {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        handle: Option<String>,
    },
}

impl Serialize for Credit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Credit::Anonymous => CreditRepr::Word("anonymous".into()).serialize(s),
            Credit::Named { name, handle } => CreditRepr::Named {
                name: name.clone(),
                handle: handle.clone(),
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Credit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match CreditRepr::deserialize(d)? {
            CreditRepr::Word(w) if w == "anonymous" => Ok(Credit::Anonymous),
            CreditRepr::Word(w) => Err(serde::de::Error::custom(format!(
                "credit must be \"anonymous\" or {{ name = \"…\", handle = \"…\" }}, not \"{w}\""
            ))),
            CreditRepr::Named { name, handle } => Ok(Credit::Named { name, handle }),
        }
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

/// One problem with a report: the field it concerns, where, what, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Front-matter key or body section (`body`).
    pub field: String,
    /// Line in the report file, when known.
    pub line: Option<usize>,
    /// What is wrong, carrying the input.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Finding {
    /// A finding without a hint.
    pub fn new(field: &str, line: Option<usize>, message: impl Into<String>) -> Finding {
        Finding {
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
                    &key,
                    line,
                    format!("expected {expected}, found {}", value.type_str()),
                )
            };
            match key.as_str() {
                "schema" => match value.as_integer() {
                    Some(n) if n == i64::from(SCHEMA) => report.schema = SCHEMA,
                    Some(n) => findings.push(
                        Finding::new(&key, line, format!("unsupported schema {n}"))
                            .hint(format!("this version of Embargo reads schema {SCHEMA}")),
                    ),
                    None => findings.push(type_error("an integer")),
                },
                "program" | "title" | "class" | "cwe" | "cvss" | "severity" => match value.as_str()
                {
                    Some(s) => {
                        let s = s.to_owned();
                        match key.as_str() {
                            "program" => report.program = s,
                            "title" => report.title = s,
                            "class" => report.class = s,
                            "cwe" => report.cwe = Some(s),
                            "cvss" => report.cvss = Some(s),
                            _ => report.severity = Some(s),
                        }
                    }
                    None => findings.push(type_error("a string")),
                },
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
                    Err(e) => {
                        findings.push(Finding::new(&key, line, e.to_string().trim().to_owned()))
                    }
                },
                _ => {
                    let mut f =
                        Finding::new(&key, line, format!("unknown front-matter key `{key}`"));
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

    /// Checks every field's own shape (not the program's scope rules).
    pub fn validate(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let line = |k: &str| self.line_of(k);
        if self.program.trim().is_empty() {
            out.push(
                Finding::new("program", line("program"), "missing program")
                    .hint("set program = \"novu\""),
            );
        }
        if self.title.trim().is_empty() {
            out.push(
                Finding::new("title", line("title"), "missing title")
                    .hint("one line saying what is broken where"),
            );
        } else if self.title.contains(['\n', '\r']) {
            out.push(Finding::new(
                "title",
                line("title"),
                "title must be one line",
            ));
        }
        if self.assets.is_empty() {
            out.push(
                Finding::new(
                    "assets",
                    line("assets"),
                    "missing asset: name at least one affected URL, host, IP or CIDR",
                )
                .hint("assets = [\"https://web.example.com/page\"]"),
            );
        }
        for asset in &self.assets {
            if let Err(why) = validate_asset(asset) {
                out.push(Finding::new("assets", line("assets"), why));
            }
        }
        if self.class.is_empty() {
            out.push(
                Finding::new("class", line("class"), "missing class")
                    .hint(format!("one of: {}", known_classes())),
            );
        } else if class_by_id(&self.class).is_none() {
            out.push(
                Finding::new(
                    "class",
                    line("class"),
                    format!("unknown class `{}`", self.class),
                )
                .hint(format!("one of: {}", known_classes())),
            );
        }
        if let Some(cwe) = &self.cwe {
            if !is_cwe(cwe) {
                out.push(
                    Finding::new("cwe", line("cwe"), format!("malformed CWE id `{cwe}`"))
                        .hint("write it as CWE-<number>, e.g. CWE-79"),
                );
            }
        }
        if let Some(vector) = &self.cvss {
            if let Err(why) = parse_cvss(vector) {
                out.push(Finding::new("cvss", line("cvss"), why));
            }
        }
        if let Some(sev) = &self.severity {
            if !SEVERITIES.contains(&sev.as_str()) {
                out.push(
                    Finding::new(
                        "severity",
                        line("severity"),
                        format!("unknown severity `{sev}`"),
                    )
                    .hint(format!("one of: {}", SEVERITIES.join(", "))),
                );
            }
        }
        if let Some(Credit::Named { name, .. }) = &self.credit {
            if name.trim().is_empty() {
                out.push(
                    Finding::new("credit", line("credit"), "credit name is empty")
                        .hint("give a name or write credit = \"anonymous\""),
                );
            }
        }
        out
    }

    /// Everything `embargo check` reports: the fields, the body's recommended sections, and the
    /// program's scope and rules.
    pub fn check(&self, program: &Program) -> Vec<Finding> {
        let mut out = self.validate();
        if self.credit.is_none() {
            out.push(
                Finding::new("credit", None, "credit not chosen")
                    .hint("add credit = { name = \"…\" } or credit = \"anonymous\""),
            );
        }
        if self.body.trim().is_empty() {
            out.push(
                Finding::new("body", None, "the report has no description")
                    .hint("describe the problem below the front matter"),
            );
        }
        if !self.has_section("steps to reproduce") {
            out.push(
                Finding::new("body", None, "missing \"Steps to reproduce\" section")
                    .hint("add a `## Steps to reproduce` heading with numbered steps"),
            );
        }
        out.extend(program.check(self));
        out
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
        let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
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
        out += "+++\n";
        out += &self.body;
        out
    }

    /// The template `embargo new` writes for a program.
    pub fn template(program: &Program) -> String {
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
        out += "scope_confirmations = []\n+++\n";
        out += "## Summary\n\n\n## Steps to reproduce\n\n1. \n\n## Impact\n\n";
        out
    }
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
    KEYS.iter()
        .map(|k| (levenshtein(key, k), *k))
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
    use expect_test::{expect, Expect};

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
                f.extend(r.check(&Program::novu()));
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
        let (r, f) = Report::parse(&Report::template(&Program::novu())).unwrap();
        assert!(f.is_empty(), "{f:?}");
        let out = r.check(&Program::novu());
        let fields: Vec<&str> = out.iter().map(|f| f.field.as_str()).collect();
        assert!(
            fields.contains(&"title")
                && fields.contains(&"assets")
                && fields.contains(&"attestations"),
            "{fields:?}"
        );
    }
}
