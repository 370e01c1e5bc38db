//! RFC 9116 security.txt: reading every field verbatim, listing conformance problems, and
//! verifying a clear-signed file against known certificates.
//!
//! The parser never fails and never panics: whatever it cannot read becomes a [`Problem`] naming
//! the line, and the rest of the file is still read. Values are kept exactly as written (only the
//! optional whitespace around them, which RFC 9116's grammar excludes, is trimmed) and in file
//! order; what is wrong with a value is reported, never "fixed".
//!
//! Decisions where the RFC is silent:
//! - In a clear-signed file only the signed text is read. Lines before the
//!   `-----BEGIN PGP SIGNED MESSAGE-----` line or after the signature are reported as a problem
//!   and ignored, because nobody vouched for them (an attacker could append a `Contact`).
//! - Field names are matched case-insensitively; unknown fields are grouped under the spelling
//!   first seen, in order of first appearance.
//! - `Expires` and `Preferred-Languages` may appear once; when repeated, the first value is the
//!   one reported and the repetition is a problem.
//! - Recommendations (Canonical, signing, Policy, Preferred-Languages) are not problems. "Expires
//!   more than a year ahead" is reported although RFC 9116 only recommends against it, because
//!   the issue asks for it: a far-future date defeats the point of Expires.
//! - Leading whitespace before a field name is tolerated; a space inside a name
//!   (`Security policy: …`) makes the line "not a field", and the problem quotes the line so
//!   nothing is lost.

use std::fmt;
use std::io::Read;

use chrono::{DateTime, Months, Utc};
use openpgp::cert::Cert;
use openpgp::parse::stream::{
    MessageLayer, MessageStructure, VerificationError, VerificationHelper, VerifierBuilder,
};
use openpgp::parse::Parse;
use openpgp::KeyHandle;
use sequoia_openpgp as openpgp;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// The state of a file's OpenPGP clear signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Signature {
    /// Signed by one of the known certificates, and the signature verifies.
    Verified,
    /// Signed, but by none of the known certificates, so it could not be checked.
    Unverified,
    /// Signed, and the signature does not verify (or the signed message is malformed).
    Invalid,
    /// Not signed.
    None,
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signature::Verified => "verified",
            Signature::Unverified => "unverified",
            Signature::Invalid => "invalid",
            Signature::None => "none",
        })
    }
}

/// What a security.txt file said, verbatim, plus what is wrong with it.
///
/// Serializes to exactly the JSON of `embargo securitytxt --json`: `signed`, `signature`,
/// `contacts`, `encryption`, `expires`, `policy`, `canonical`, `preferred_languages`,
/// `acknowledgments`, `hiring`, `csaf`, `other`, `problems`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecurityTxt {
    /// The file is an OpenPGP clear-signed message.
    pub signed: bool,
    /// The signature's state.
    pub signature: Signature,
    /// `Contact` values.
    pub contacts: Vec<String>,
    /// `Encryption` values.
    pub encryption: Vec<String>,
    /// The first `Expires` value.
    pub expires: Option<String>,
    /// `Policy` values.
    pub policy: Vec<String>,
    /// `Canonical` values.
    pub canonical: Vec<String>,
    /// The first `Preferred-Languages` value.
    pub preferred_languages: Option<String>,
    /// `Acknowledgments` values.
    pub acknowledgments: Vec<String>,
    /// `Hiring` values.
    pub hiring: Vec<String>,
    /// `CSAF` values.
    pub csaf: Vec<String>,
    /// Fields RFC 9116 does not define, as written.
    pub other: OtherFields,
    /// Conformance problems, in file order, then the whole-file ones.
    pub problems: Vec<Problem>,
    /// Primary fingerprint of the known certificate whose signature verified.
    #[serde(skip)]
    pub signer: Option<String>,
    /// Why the signature is unverified or invalid (issuer, verification error).
    #[serde(skip)]
    pub signature_detail: Option<String>,
}

impl SecurityTxt {
    /// The addresses of `mailto:` contacts, as written after the scheme (query dropped).
    pub fn mailto_addresses(&self) -> Vec<String> {
        self.contacts
            .iter()
            .filter_map(|c| mailto_address(c))
            .collect()
    }
}

/// The address of a `mailto:` URI (`mailto:a@b.example?subject=x` → `a@b.example`), percent
/// escapes decoded; `None` for other URIs or when it holds no single address.
pub fn mailto_address(uri: &str) -> Option<String> {
    let scheme_end = uri.find(':')?;
    if !uri[..scheme_end].eq_ignore_ascii_case("mailto") {
        return None;
    }
    let rest = &uri[scheme_end + 1..];
    let addr = rest.split('?').next().unwrap_or("");
    let addr = percent_decode(addr)?;
    let (local, domain) = addr.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() || addr.contains(',') {
        return None;
    }
    Some(addr)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Unknown fields in order of first appearance, each with its values in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtherFields(Vec<(String, Vec<String>)>);

impl OtherFields {
    fn push(&mut self, name: &str, value: String) {
        match self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some((_, values)) => values.push(value),
            None => self.0.push((name.to_owned(), vec![value])),
        }
    }

    /// The values of an unknown field, looked up case-insensitively.
    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Field names (as first written) and values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// No unknown fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for OtherFields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, values) in &self.0 {
            map.serialize_entry(name, values)?;
        }
        map.end()
    }
}

/// One thing wrong with a security.txt file. Line numbers are 1-based lines of the file as
/// given (signed files included). Serializes as its message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// An HTML page instead of a text file (a web server's fallback page, typically).
    Html,
    /// A line that is not valid UTF-8 (read with replacement characters).
    NotUtf8 {
        /// Line number.
        line: usize,
    },
    /// A line that is neither a field, a comment nor blank.
    NotAField {
        /// Line number.
        line: usize,
        /// The line as written.
        text: String,
    },
    /// Text outside the signed part of a clear-signed file; it is ignored.
    OutsideSignature {
        /// Line numbers.
        lines: Vec<usize>,
    },
    /// The clear-signed framing is broken (no signature block, no end line…).
    MalformedSignedMessage {
        /// What is missing.
        reason: String,
    },
    /// No `Contact` field.
    MissingContact,
    /// No `Expires` field.
    MissingExpires,
    /// A field that may appear once appears several times.
    Repeated {
        /// Field name as RFC 9116 spells it.
        field: &'static str,
        /// Where it appears.
        lines: Vec<usize>,
    },
    /// `Expires` is not an RFC 3339 date-time.
    ExpiresNotRfc3339 {
        /// Line number.
        line: usize,
        /// The value.
        value: String,
    },
    /// `Expires` is in the past.
    Expired {
        /// Line number.
        line: usize,
        /// The value.
        value: String,
    },
    /// `Expires` is more than a year ahead.
    ExpiresTooFar {
        /// Line number.
        line: usize,
        /// The value.
        value: String,
    },
    /// A value that must be a URI is not one.
    MalformedUri {
        /// Field name as written.
        field: String,
        /// Line number.
        line: usize,
        /// The value.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// A `Contact` without a scheme (`security@example.org` instead of `mailto:…`).
    ContactWithoutScheme {
        /// Line number.
        line: usize,
        /// The value.
        value: String,
    },
    /// A web URI with `http://` where RFC 9116 requires `https://`.
    InsecureUri {
        /// Field name as written.
        field: String,
        /// Line number.
        line: usize,
        /// The value.
        value: String,
    },
    /// An armored OpenPGP key pasted into the file instead of a URI pointing to it.
    KeyInEncryption {
        /// First line of the key.
        line: usize,
        /// Last line of the key.
        end: usize,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Html => f.write_str(
                "the file is an HTML page, not plain text (RFC 9116 requires text/plain)",
            ),
            Problem::NotUtf8 { line } => write!(f, "line {line} is not valid UTF-8"),
            Problem::NotAField { line, text } => {
                write!(f, "line {line} is not a field (`Name: value`) or a comment: {text:?}")
            }
            Problem::OutsideSignature { lines } => write!(
                f,
                "{} outside the signed text and ignored (line{} {})",
                if lines.len() == 1 { "one line is" } else { "lines are" },
                if lines.len() == 1 { "" } else { "s" },
                list(lines)
            ),
            Problem::MalformedSignedMessage { reason } => {
                write!(f, "the clear-signed message is malformed: {reason}")
            }
            Problem::MissingContact => {
                f.write_str("no Contact field (RFC 9116 requires at least one)")
            }
            Problem::MissingExpires => {
                f.write_str("no Expires field (RFC 9116 requires exactly one)")
            }
            Problem::Repeated { field, lines } => write!(
                f,
                "{field} appears {} times (lines {}); RFC 9116 allows it once",
                lines.len(),
                list(lines)
            ),
            Problem::ExpiresNotRfc3339 { line, value } => write!(
                f,
                "Expires on line {line} is not an RFC 3339 date-time (like 2026-12-31T23:59:59Z): {value:?}"
            ),
            Problem::Expired { line, value } => {
                write!(f, "the file has expired: Expires {value} (line {line}) is in the past")
            }
            Problem::ExpiresTooFar { line, value } => write!(
                f,
                "Expires {value} (line {line}) is more than a year ahead"
            ),
            Problem::MalformedUri {
                field,
                line,
                value,
                reason,
            } => write!(f, "{field} on line {line} is not a valid URI ({reason}): {value:?}"),
            Problem::ContactWithoutScheme { line, value } => write!(
                f,
                "Contact on line {line} is not a URI (no scheme such as mailto:, https: or tel:): {value:?}"
            ),
            Problem::InsecureUri { field, line, value } => write!(
                f,
                "{field} on line {line} uses http://, but RFC 9116 requires https:// for web URIs: {value}"
            ),
            Problem::KeyInEncryption { line, end } => write!(
                f,
                "a key is pasted into the file (lines {line}-{end}); Encryption must be a URI pointing to the key"
            ),
        }
    }
}

impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

fn list(lines: &[usize]) -> String {
    lines
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One physical line: number, text, byte range in the file (line end included).
struct Line<'a> {
    no: usize,
    text: std::borrow::Cow<'a, str>,
    start: usize,
    end: usize,
}

fn split_lines<'a>(bytes: &'a [u8], problems: &mut Vec<Problem>) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut no = 0;
    while start < bytes.len() {
        no += 1;
        let nl = memchr::memchr(b'\n', &bytes[start..]).map(|i| start + i);
        let end = nl.map(|i| i + 1).unwrap_or(bytes.len());
        let mut content = &bytes[start..nl.unwrap_or(bytes.len())];
        if let Some(stripped) = content.strip_suffix(b"\r") {
            content = stripped;
        }
        let mut line_start = start;
        if no == 1 {
            if let Some(stripped) = content.strip_prefix(b"\xEF\xBB\xBF") {
                content = stripped;
                line_start += 3;
            }
        }
        let text = match std::str::from_utf8(content) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(_) => {
                problems.push(Problem::NotUtf8 { line: no });
                String::from_utf8_lossy(content)
            }
        };
        lines.push(Line {
            no,
            text,
            start: line_start,
            end,
        });
        start = end;
    }
    lines
}

const BEGIN_SIGNED: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
const BEGIN_SIGNATURE: &str = "-----BEGIN PGP SIGNATURE-----";
const END_SIGNATURE: &str = "-----END PGP SIGNATURE-----";

/// The clear-signed framing found in a file.
struct Signed {
    /// Byte range of the whole message (BEGIN line to END line).
    range: std::ops::Range<usize>,
    /// Indexes of the signed text lines in the line list.
    text: std::ops::Range<usize>,
}

fn is_armor_line(line: &str, marker: &str) -> bool {
    line.trim_end() == marker
}

/// Finds the Cleartext Signature Framework framing (RFC 9580 §7) and reports what is broken.
fn find_signed(lines: &[Line<'_>], problems: &mut Vec<Problem>) -> Option<Signed> {
    let begin = lines
        .iter()
        .position(|l| is_armor_line(&l.text, BEGIN_SIGNED))?;
    // Armor headers (`Hash: …`) end at the first blank line.
    let headers_end = lines[begin + 1..]
        .iter()
        .position(|l| l.text.trim().is_empty())
        .map(|i| begin + 1 + i);
    let sig_begin = lines[begin + 1..]
        .iter()
        .position(|l| is_armor_line(&l.text, BEGIN_SIGNATURE))
        .map(|i| begin + 1 + i);
    let text_start = match (headers_end, sig_begin) {
        (Some(h), Some(s)) if h < s => h + 1,
        (Some(h), None) => h + 1,
        _ => {
            problems.push(Problem::MalformedSignedMessage {
                reason: "no blank line after the armor headers".into(),
            });
            begin + 1
        }
    };
    let Some(sig_begin) = sig_begin else {
        problems.push(Problem::MalformedSignedMessage {
            reason: format!("no {BEGIN_SIGNATURE} line"),
        });
        return Some(Signed {
            range: lines[begin].start..lines.last().map(|l| l.end).unwrap_or(0),
            text: text_start..lines.len(),
        });
    };
    let sig_end = lines[sig_begin..]
        .iter()
        .position(|l| is_armor_line(&l.text, END_SIGNATURE))
        .map(|i| sig_begin + i);
    let last = match sig_end {
        Some(e) => e,
        None => {
            problems.push(Problem::MalformedSignedMessage {
                reason: format!("no {END_SIGNATURE} line"),
            });
            lines.len() - 1
        }
    };
    let outside: Vec<usize> = lines[..begin]
        .iter()
        .chain(&lines[last + 1..])
        .filter(|l| !l.text.trim().is_empty())
        .map(|l| l.no)
        .collect();
    if !outside.is_empty() {
        problems.push(Problem::OutsideSignature { lines: outside });
    }
    Some(Signed {
        range: lines[begin].start..lines[last].end,
        text: text_start..sig_begin,
    })
}

fn looks_like_html(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(2048)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let t = head.trim_start_matches('\u{feff}').trim_start();
    t.starts_with('<')
        && [
            "<!doctype html",
            "<html",
            "<head",
            "<body",
            "<meta",
            "<title",
        ]
        .iter()
        .any(|tag| t.contains(tag))
}

fn valid_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// RFC 3986 characters (unreserved, reserved, `%`).
fn uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

fn has_scheme(value: &str) -> bool {
    match value.find(':') {
        Some(i) if i > 0 => {
            let s = &value[..i];
            s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        _ => false,
    }
}

/// Checks a value that RFC 9116 requires to be a URI.
fn check_uri(field: &str, line: usize, value: &str) -> Option<Problem> {
    let malformed = |reason: String| {
        Some(Problem::MalformedUri {
            field: field.to_owned(),
            line,
            value: value.to_owned(),
            reason,
        })
    };
    if value.is_empty() {
        return malformed("empty".into());
    }
    if !has_scheme(value) {
        if field.eq_ignore_ascii_case("contact") {
            return Some(Problem::ContactWithoutScheme {
                line,
                value: value.to_owned(),
            });
        }
        return malformed("no scheme".into());
    }
    if let Some(c) = value.chars().find(|&c| !uri_char(c)) {
        return malformed(if c.is_whitespace() {
            "contains whitespace".into()
        } else {
            format!("{c:?} is not allowed in a URI")
        });
    }
    let b = value.as_bytes();
    for (i, _) in value.match_indices('%') {
        let ok = b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if !ok {
            return malformed("`%` not followed by two hex digits".into());
        }
    }
    let url = match url::Url::parse(value) {
        Ok(u) => u,
        Err(e) => return malformed(e.to_string()),
    };
    match url.scheme() {
        "http" => Some(Problem::InsecureUri {
            field: field.to_owned(),
            line,
            value: value.to_owned(),
        }),
        "https" if url.host_str().is_none_or(str::is_empty) => malformed("no host".into()),
        "mailto" => match mailto_address(value) {
            Some(addr) if valid_domain(addr.rsplit_once('@').map(|(_, d)| d).unwrap_or("")) => None,
            _ => malformed("not an email address".into()),
        },
        _ => None,
    }
}

fn valid_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// Strict RFC 3339 `date-time` (section 5.6): `T` (or `t`) between date and time, no space.
fn parse_rfc3339(value: &str) -> Option<DateTime<Utc>> {
    if !matches!(value.as_bytes().get(10), Some(b'T' | b't')) {
        return None;
    }
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Parses a security.txt file. `now` decides "expired" and "more than a year ahead"; `certs`
/// are the certificates a clear signature may be verified with (none: a signed file is
/// `unverified`).
pub fn parse(bytes: &[u8], now: DateTime<Utc>, certs: &[Cert]) -> SecurityTxt {
    let mut problems = Vec::new();
    if looks_like_html(bytes) {
        problems.push(Problem::Html);
    }
    let lines = split_lines(bytes, &mut problems);
    let signed = find_signed(&lines, &mut problems);
    let body = match &signed {
        Some(s) => &lines[s.text.clone()],
        None => &lines[..],
    };

    let mut out = SecurityTxt {
        signed: signed.is_some(),
        signature: if signed.is_some() {
            Signature::Unverified
        } else {
            Signature::None
        },
        contacts: Vec::new(),
        encryption: Vec::new(),
        expires: None,
        policy: Vec::new(),
        canonical: Vec::new(),
        preferred_languages: None,
        acknowledgments: Vec::new(),
        hiring: Vec::new(),
        csaf: Vec::new(),
        other: OtherFields::default(),
        problems: Vec::new(),
        signer: None,
        signature_detail: None,
    };
    let mut expires_lines = Vec::new();
    let mut language_lines = Vec::new();
    let mut pasted_key: Option<usize> = None;

    for line in body {
        let raw: &str = &line.text;
        // Dash-escaped lines of a clear-signed text (RFC 9580 §7.2).
        let text = if signed.is_some() {
            raw.strip_prefix("- ").unwrap_or(raw)
        } else {
            raw
        };
        let trimmed = text.trim();
        if let Some(start) = pasted_key {
            if trimmed.starts_with("-----END PGP PUBLIC KEY BLOCK") {
                problems.push(Problem::KeyInEncryption {
                    line: start,
                    end: line.no,
                });
                pasted_key = None;
            }
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK") {
            pasted_key = Some(line.no);
            continue;
        }
        let Some((name, value)) = trimmed.split_once(':').filter(|(n, _)| valid_field_name(n))
        else {
            problems.push(Problem::NotAField {
                line: line.no,
                text: raw.to_owned(),
            });
            continue;
        };
        let value = value.trim_matches([' ', '\t']).to_owned();
        let uri_field = |problems: &mut Vec<Problem>, v: &str| {
            if let Some(p) = check_uri(name, line.no, v) {
                problems.push(p);
            }
        };
        match name.to_ascii_lowercase().as_str() {
            "contact" => {
                uri_field(&mut problems, &value);
                out.contacts.push(value);
            }
            "encryption" => {
                if value.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK") {
                    pasted_key = Some(line.no);
                } else {
                    uri_field(&mut problems, &value);
                }
                out.encryption.push(value);
            }
            "expires" => {
                expires_lines.push(line.no);
                if out.expires.is_none() {
                    out.expires = Some(value);
                }
            }
            "policy" => {
                uri_field(&mut problems, &value);
                out.policy.push(value);
            }
            "canonical" => {
                uri_field(&mut problems, &value);
                out.canonical.push(value);
            }
            "preferred-languages" => {
                language_lines.push(line.no);
                if out.preferred_languages.is_none() {
                    out.preferred_languages = Some(value);
                }
            }
            "acknowledgments" => {
                uri_field(&mut problems, &value);
                out.acknowledgments.push(value);
            }
            "hiring" => {
                uri_field(&mut problems, &value);
                out.hiring.push(value);
            }
            "csaf" => {
                uri_field(&mut problems, &value);
                out.csaf.push(value);
            }
            _ => out.other.push(name, value),
        }
    }
    if let Some(start) = pasted_key {
        let end = body.last().map(|l| l.no).unwrap_or(start);
        problems.push(Problem::KeyInEncryption { line: start, end });
    }

    if out.contacts.is_empty() {
        problems.push(Problem::MissingContact);
    }
    match (expires_lines.first(), &out.expires) {
        (Some(&line), Some(value)) => {
            if expires_lines.len() > 1 {
                problems.push(Problem::Repeated {
                    field: "Expires",
                    lines: expires_lines.clone(),
                });
            }
            match parse_rfc3339(value) {
                None => problems.push(Problem::ExpiresNotRfc3339 {
                    line,
                    value: value.to_string(),
                }),
                Some(at) if at <= now => problems.push(Problem::Expired {
                    line,
                    value: value.to_string(),
                }),
                Some(at)
                    if now
                        .checked_add_months(Months::new(12))
                        .is_some_and(|y| at > y) =>
                {
                    problems.push(Problem::ExpiresTooFar {
                        line,
                        value: value.to_string(),
                    })
                }
                Some(_) => {}
            }
        }
        _ => problems.push(Problem::MissingExpires),
    }
    if language_lines.len() > 1 {
        problems.push(Problem::Repeated {
            field: "Preferred-Languages",
            lines: language_lines,
        });
    }

    if let Some(s) = &signed {
        let parsed_text: Vec<&str> = body
            .iter()
            .map(|l| l.text.strip_prefix("- ").unwrap_or(&l.text))
            .collect();
        let framing_broken = problems
            .iter()
            .any(|p| matches!(p, Problem::MalformedSignedMessage { .. }));
        let (state, signer, detail) = if framing_broken {
            (
                Signature::Invalid,
                None,
                Some("the clear-signed framing is broken".to_owned()),
            )
        } else {
            verify(&bytes[s.range.clone()], &parsed_text, now, certs)
        };
        out.signature = state;
        out.signer = signer;
        out.signature_detail = detail;
    }
    out.problems = problems;
    out
}

/// Compares two texts the way a clear signature does: line ends and trailing whitespace do not
/// count, nor do trailing empty lines.
fn same_text<'a>(a: impl Iterator<Item = &'a str>, b: impl Iterator<Item = &'a str>) -> bool {
    fn norm<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
        let mut v: Vec<&str> = it.map(|l| l.trim_end_matches([' ', '\t', '\r'])).collect();
        while v.last().is_some_and(|l| l.is_empty()) {
            v.pop();
        }
        v
    }
    norm(a) == norm(b)
}

struct Helper<'a> {
    certs: &'a [Cert],
    good: Option<String>,
    missing: Vec<String>,
    bad: Vec<String>,
}

impl VerificationHelper for Helper<'_> {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.certs.to_vec())
    }

    fn check(&mut self, structure: MessageStructure<'_>) -> openpgp::Result<()> {
        for layer in structure {
            if let MessageLayer::SignatureGroup { results } = layer {
                for r in results {
                    match r {
                        Ok(good) => {
                            self.good
                                .get_or_insert(good.ka.cert().fingerprint().to_hex());
                        }
                        Err(VerificationError::MissingKey { sig }) => self.missing.push(
                            sig.get_issuers()
                                .first()
                                .map(|h| h.to_hex())
                                .unwrap_or_else(|| "an unnamed key".into()),
                        ),
                        Err(e) => self.bad.push(format!("{e:#}")),
                    }
                }
            }
        }
        Ok(())
    }
}

/// Verifies the clear-signed message against `certs`; `parsed_text` is what the fields were
/// read from, and it must be exactly what was signed.
fn verify(
    message: &[u8],
    parsed_text: &[&str],
    now: DateTime<Utc>,
    certs: &[Cert],
) -> (Signature, Option<String>, Option<String>) {
    let invalid = |why: String| (Signature::Invalid, None, Some(why));
    let p = crate::keys::policy();
    let helper = Helper {
        certs,
        good: None,
        missing: Vec::new(),
        bad: Vec::new(),
    };
    let verifier = VerifierBuilder::from_bytes(message)
        .and_then(|b| b.with_policy(&p, Some(std::time::SystemTime::from(now)), helper));
    let mut verifier = match verifier {
        Ok(v) => v,
        Err(e) => return invalid(format!("{e:#}")),
    };
    let mut signed_text = Vec::new();
    if let Err(e) = verifier.read_to_end(&mut signed_text) {
        return invalid(format!("{e:#}"));
    }
    let helper = verifier.into_helper();
    let signed_text = String::from_utf8_lossy(&signed_text);
    if !same_text(signed_text.split('\n'), parsed_text.iter().copied()) {
        return invalid("the signed text differs from the text that was read".into());
    }
    if let Some(fpr) = helper.good {
        return (Signature::Verified, Some(fpr), None);
    }
    if let Some(bad) = helper.bad.first() {
        return invalid(bad.clone());
    }
    let detail = match helper.missing.first() {
        Some(issuer) => format!("signed by {issuer}, which is not among the known keys"),
        None => "no signature found".to_owned(),
    };
    if helper.missing.is_empty() {
        return invalid(detail);
    }
    (Signature::Unverified, None, Some(detail))
}

/// The entry point for the fuzz target: parses arbitrary bytes (fixed clock, no certs) and
/// serializes the result. Must never panic.
pub fn fuzz_parse(data: &[u8]) {
    let now = DateTime::<Utc>::from_timestamp(1_796_083_200, 0).unwrap_or_default();
    let parsed = parse(data, now, &[]);
    let _ = serde_json::to_string(&parsed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use openpgp::cert::CertBuilder;
    use openpgp::serialize::stream::{Message, Signer};
    use std::io::Write;
    use std::path::{Path, PathBuf};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// The corpus date: every expected JSON was written for it.
    fn now() -> DateTime<Utc> {
        at("2026-12-01T00:00:00Z")
    }

    fn corpus() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/securitytxt")
    }

    fn corpus_keys() -> Vec<Cert> {
        ["internet-nl.asc", "almalinux.asc"]
            .iter()
            .flat_map(|k| crate::keys::read_certs(&corpus().join("keys").join(k)).unwrap())
            .collect()
    }

    fn problems(st: &SecurityTxt) -> Vec<String> {
        st.problems.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn securitytxt_corpus() {
        let certs = corpus_keys();
        let mut names: Vec<PathBuf> = std::fs::read_dir(corpus())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        names.sort();
        assert!(names.len() >= 15, "the corpus has {} files", names.len());
        let mut failures = Vec::new();
        for txt in &names {
            let bytes = std::fs::read(txt).unwrap();
            let got = serde_json::to_value(parse(&bytes, now(), &certs)).unwrap();
            let want: serde_json::Value =
                serde_json::from_slice(&std::fs::read(txt.with_extension("json")).unwrap())
                    .unwrap();
            if got != want {
                failures.push(format!(
                    "{}:\n got: {}\nwant: {}",
                    txt.display(),
                    serde_json::to_string_pretty(&got).unwrap(),
                    serde_json::to_string_pretty(&want).unwrap()
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }

    #[test]
    fn json_has_exactly_the_documented_keys_in_order() {
        let st = parse(b"Contact: mailto:a@b.example\n", now(), &[]);
        let json = serde_json::to_string(&st).unwrap();
        let keys = [
            "signed",
            "signature",
            "contacts",
            "encryption",
            "expires",
            "policy",
            "canonical",
            "preferred_languages",
            "acknowledgments",
            "hiring",
            "csaf",
            "other",
            "problems",
        ];
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v.as_object().unwrap().len(), keys.len(), "{json}");
        let mut last = 0;
        for k in keys {
            let pos = json
                .find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k} in {json}"));
            assert!(pos >= last, "{k} out of order in {json}");
            last = pos;
        }
    }

    #[test]
    fn signatures_verify_only_with_the_signers_key_and_only_unchanged() {
        let bytes = std::fs::read(corpus().join("internet-nl.txt")).unwrap();
        let certs = corpus_keys();
        let st = parse(&bytes, now(), &certs);
        assert_eq!(st.signature, Signature::Verified);
        assert_eq!(
            st.signer.as_deref(),
            Some("ACB788294C7E12BAE9228C60D894E15F45028563")
        );

        // Not among the known keys: unverified, naming the issuer.
        let st = parse(&bytes, now(), &certs[1..]);
        assert_eq!(st.signature, Signature::Unverified);
        assert!(
            st.signature_detail
                .as_deref()
                .unwrap()
                .contains("D894E15F45028563"),
            "{:?}",
            st.signature_detail
        );

        // One changed character in the signed text: invalid, and the fields still read.
        let text = String::from_utf8(bytes.clone()).unwrap();
        let tampered = text.replace("mailto:question@", "mailto:attacker@");
        assert_ne!(tampered, text);
        let st = parse(tampered.as_bytes(), now(), &certs);
        assert_eq!(
            st.signature,
            Signature::Invalid,
            "{:?}",
            st.signature_detail
        );
        assert_eq!(st.contacts, ["mailto:attacker@internet.nl"]);

        // A field appended after the signature is not read, and is reported.
        let appended = format!("{text}Contact: mailto:attacker@evil.example\r\n");
        let st = parse(appended.as_bytes(), now(), &certs);
        assert_eq!(st.signature, Signature::Verified);
        assert_eq!(st.contacts, ["mailto:question@internet.nl"]);
        assert_eq!(
            problems(&st),
            ["one line is outside the signed text and ignored (line 51)"]
        );
    }

    fn sign_cleartext(text: &str) -> (Vec<u8>, Cert) {
        let (cert, _) = CertBuilder::new()
            .add_userid("Team <security@example.org>")
            .add_signing_subkey()
            .generate()
            .unwrap();
        let p = crate::keys::policy();
        let keypair = cert
            .keys()
            .secret()
            .with_policy(&p, None)
            .for_signing()
            .next()
            .unwrap()
            .key()
            .clone()
            .into_keypair()
            .unwrap();
        let mut sink = Vec::new();
        {
            let message = Message::new(&mut sink);
            let mut signer = Signer::new(message, keypair)
                .unwrap()
                .cleartext()
                .build()
                .unwrap();
            signer.write_all(text.as_bytes()).unwrap();
            signer.finalize().unwrap();
        }
        (sink, cert.strip_secret_key_material())
    }

    #[test]
    fn dash_escaped_lines_are_unescaped_and_verified() {
        // The key is made now, so this test's clock is the real one.
        let now = Utc::now();
        let expires = (now + chrono::Duration::days(30)).to_rfc3339();
        let text =
            format!("Contact: mailto:security@example.org\nExpires: {expires}\n-- the team\n");
        let (signed, cert) = sign_cleartext(&text);
        let s = String::from_utf8(signed.clone()).unwrap();
        assert!(s.contains("\n- -- the team"), "{s}");
        // Checked after signing: the key's creation second may be later than `now` (a key is not
        // live before it exists, and a second boundary can fall between the two).
        let st = parse(&signed, Utc::now(), &[cert]);
        assert_eq!(
            st.signature,
            Signature::Verified,
            "{:?}",
            st.signature_detail
        );
        assert!(st.signed);
        assert_eq!(st.contacts, ["mailto:security@example.org"]);
        assert_eq!(
            problems(&st),
            [r#"line 6 is not a field (`Name: value`) or a comment: "- -- the team""#]
        );
    }

    #[test]
    fn broken_framing_is_invalid_and_still_read() {
        let st = parse(
            b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nContact: mailto:a@b.example\nExpires: 2027-01-01T00:00:00Z\n",
            now(),
            &[],
        );
        assert!(st.signed);
        assert_eq!(st.signature, Signature::Invalid);
        assert_eq!(st.contacts, ["mailto:a@b.example"]);
        assert_eq!(
            problems(&st),
            ["the clear-signed message is malformed: no -----BEGIN PGP SIGNATURE----- line"]
        );
    }

    #[test]
    fn html_is_reported() {
        let st = parse(
            b"<!DOCTYPE html>\n<html><head><title>Not found</title></head>\n<body>Contact: us</body></html>\n",
            now(),
            &[],
        );
        let p = problems(&st);
        assert_eq!(
            p[0],
            "the file is an HTML page, not plain text (RFC 9116 requires text/plain)"
        );
        assert!(p.contains(&"no Contact field (RFC 9116 requires at least one)".to_owned()));
    }

    #[test]
    fn a_pasted_key_is_one_problem_not_many() {
        let text = "Contact: mailto:security@example.org\n\
                    Expires: 2027-06-01T00:00:00Z\n\
                    Encryption: -----BEGIN PGP PUBLIC KEY BLOCK-----\n\
                    \n\
                    mDMEZ02aTxYJKwYBBAHaRw8BAQdAURrf+h3AzY5x3m2yWmSB1Tz8f0UmRH9gB6p2\n\
                    =abcd\n\
                    -----END PGP PUBLIC KEY BLOCK-----\n\
                    Policy: https://example.org/security\n";
        let st = parse(text.as_bytes(), now(), &[]);
        assert_eq!(
            problems(&st),
            ["a key is pasted into the file (lines 3-7); Encryption must be a URI pointing to the key"]
        );
        assert_eq!(st.encryption, ["-----BEGIN PGP PUBLIC KEY BLOCK-----"]);
        assert_eq!(st.policy, ["https://example.org/security"]);
    }

    #[test]
    fn each_rule_names_its_line() {
        let text = "\u{feff}contact: security@example.org\r\n\
                    CONTACT: mailto:security@example.org\r\n\
                    Contact: https://example.org/report form\r\n\
                    Contact: mailto:not-an-address\r\n\
                    Policy: http://example.org/policy\r\n\
                    Canonical: example.org/.well-known/security.txt\r\n\
                    Hiring:\r\n\
                    Expires: 2027-01-01 00:00:00Z\r\n\
                    Expires: 2027-02-01T00:00:00Z\r\n\
                    Preferred-Languages: en\r\n\
                    Preferred-Languages: de\r\n\
                    X-Custom: one\r\n\
                    x-custom: two\r\n\
                    just words\r\n\
                    \t# an indented comment\r\n\
                    Acknowledgments: https://example.org/%zz";
        let st = parse(text.as_bytes(), now(), &[]);
        assert_eq!(
            problems(&st),
            [
                r#"Contact on line 1 is not a URI (no scheme such as mailto:, https: or tel:): "security@example.org""#,
                r#"Contact on line 3 is not a valid URI (contains whitespace): "https://example.org/report form""#,
                r#"Contact on line 4 is not a valid URI (not an email address): "mailto:not-an-address""#,
                "Policy on line 5 uses http://, but RFC 9116 requires https:// for web URIs: http://example.org/policy",
                r#"Canonical on line 6 is not a valid URI (no scheme): "example.org/.well-known/security.txt""#,
                r#"Hiring on line 7 is not a valid URI (empty): """#,
                r#"line 14 is not a field (`Name: value`) or a comment: "just words""#,
                r#"Acknowledgments on line 16 is not a valid URI (`%` not followed by two hex digits): "https://example.org/%zz""#,
                "Expires appears 2 times (lines 8, 9); RFC 9116 allows it once",
                r#"Expires on line 8 is not an RFC 3339 date-time (like 2026-12-31T23:59:59Z): "2027-01-01 00:00:00Z""#,
                "Preferred-Languages appears 2 times (lines 10, 11); RFC 9116 allows it once",
            ]
        );
        assert_eq!(st.contacts.len(), 4);
        assert_eq!(st.contacts[0], "security@example.org");
        assert_eq!(st.expires.as_deref(), Some("2027-01-01 00:00:00Z"));
        assert_eq!(st.preferred_languages.as_deref(), Some("en"));
        assert_eq!(st.hiring, [""]);
        assert_eq!(st.other.get("x-custom").unwrap(), ["one", "two"]);
        let json = serde_json::to_value(&st).unwrap();
        assert_eq!(
            json["other"],
            serde_json::json!({"X-Custom": ["one", "two"]})
        );
    }

    #[test]
    fn expiry_boundaries() {
        let file = |e: &str| format!("Contact: mailto:a@b.example\nExpires: {e}\n");
        let p = |e: &str| problems(&parse(file(e).as_bytes(), now(), &[]));
        assert_eq!(
            p("2026-12-01T00:00:00Z"),
            ["the file has expired: Expires 2026-12-01T00:00:00Z (line 2) is in the past"]
        );
        assert!(p("2026-12-01T00:00:01Z").is_empty());
        assert!(p("2027-12-01T00:00:00Z").is_empty());
        assert_eq!(
            p("2027-12-01T00:00:01Z"),
            ["Expires 2027-12-01T00:00:01Z (line 2) is more than a year ahead"]
        );
        assert!(p("2027-03-01t10:00:00+02:00").is_empty());
        assert_eq!(p("2027-02-30T00:00:00Z").len(), 1);
        assert_eq!(
            p(""),
            [r#"Expires on line 2 is not an RFC 3339 date-time (like 2026-12-31T23:59:59Z): """#]
        );
    }

    #[test]
    fn invalid_utf8_and_a_lone_carriage_return_do_not_lose_the_rest() {
        let st = parse(
            b"Contact: mailto:a@b.example\nX-Name: caf\xe9\nExpires: 2027-01-01T00:00:00Z\rHiring: https://example.org/jobs\n",
            now(),
            &[],
        );
        assert_eq!(st.other.get("X-Name").unwrap(), ["caf\u{fffd}"]);
        assert_eq!(st.contacts, ["mailto:a@b.example"]);
        // A lone CR does not end a line (RFC 9116: CRLF or LF); the value keeps it, verbatim.
        let expires = "2027-01-01T00:00:00Z\rHiring: https://example.org/jobs";
        assert_eq!(st.expires.as_deref(), Some(expires));
        assert_eq!(
            problems(&st),
            [
                "line 2 is not valid UTF-8".to_owned(),
                format!("Expires on line 3 is not an RFC 3339 date-time (like 2026-12-31T23:59:59Z): {expires:?}"),
            ]
        );
    }

    #[test]
    fn mailto_addresses() {
        assert_eq!(
            mailto_address("mailto:sec%40urity@example.org?subject=x").as_deref(),
            Some("sec@urity@example.org")
        );
        assert_eq!(
            mailto_address("MAILTO:a@b.example").as_deref(),
            Some("a@b.example")
        );
        assert_eq!(mailto_address("mailto:a@b.example,c@d.example"), None);
        assert_eq!(mailto_address("https://a@b.example"), None);
        assert_eq!(mailto_address("mailto:nobody"), None);
    }

    /// A deterministic generator (xorshift), so a failure can be replayed from its seed.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// The fuzz entry point on random bytes, and on the corpus with random damage: no panic.
    #[test]
    fn fuzz_parse_survives_random_and_damaged_input() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..2000 {
            let len = rng.below(600);
            let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            fuzz_parse(&data);
        }
        let pieces: &[&[u8]] = &[
            b"\n",
            b"\r\n",
            b":",
            b"- ",
            b"-----BEGIN PGP SIGNED MESSAGE-----\n",
            b"-----BEGIN PGP SIGNATURE-----\n",
            b"-----END PGP SIGNATURE-----\n",
            b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n",
            b"Expires: ",
            b"Contact: mailto:",
            b"\xff\xfe",
            b"<html>",
        ];
        let mut files: Vec<Vec<u8>> = std::fs::read_dir(corpus())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        files.sort();
        for file in &files {
            for _ in 0..150 {
                let mut data = file.clone();
                for _ in 0..=rng.below(4) {
                    match rng.below(4) {
                        0 if !data.is_empty() => {
                            let i = rng.below(data.len());
                            data[i] = rng.next() as u8;
                        }
                        1 => {
                            let i = rng.below(data.len() + 1);
                            data.truncate(i);
                        }
                        2 => {
                            let i = rng.below(data.len() + 1);
                            let piece = pieces[rng.below(pieces.len())];
                            data.splice(i..i, piece.iter().copied());
                        }
                        _ if !data.is_empty() => {
                            let i = rng.below(data.len());
                            let j = (i + rng.below(64)).min(data.len());
                            data.drain(i..j);
                        }
                        _ => {}
                    }
                }
                fuzz_parse(&data);
            }
        }
    }
}
