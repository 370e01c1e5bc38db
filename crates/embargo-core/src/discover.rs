//! Key discovery for a domain or an address: security.txt (and the keys it names), WKD, the
//! verifying key server (VKS) and Proton's key server; cross-checks between them; and the
//! "please publish a key" request when nothing usable is found.
//!
//! The logic runs over a [`Transport`], so it is tested without sockets; the real transport is
//! [`crate::net::HttpTransport`]. Nothing here prints.
//!
//! What is asked, in order:
//! 1. `https://DOMAIN/.well-known/security.txt`, then `https://DOMAIN/security.txt`.
//! 2. Each `Encryption` of the security.txt: an `https:` URL on port 443 is fetched;
//!    `openpgp4fpr:` is a fingerprint other sources must match (when none serves it, VKS is asked
//!    by fingerprint — VKS is then only the courier, security.txt is the voucher); `dns:` and
//!    anything else are noted as not followed.
//! 3. For each `mailto:` contact (and the address given, if any): WKD advanced
//!    (`https://openpgpkey.DOMAIN/.well-known/openpgpkey/DOMAIN/hu/HASH?l=LOCAL`), then WKD direct
//!    (`https://DOMAIN/.well-known/openpgpkey/hu/HASH?l=LOCAL`); VKS by email; Proton (see
//!    [`ProtonLookup`]). When the input is a domain and security.txt names no email address,
//!    `security@DOMAIN` (RFC 2142's conventional mailbox) is looked up, and a problem says so.
//!
//! A WKD, VKS or Proton cert is only a candidate when it carries a valid user ID for the address
//! looked up; otherwise it is a problem naming its fingerprint. Keys the sources disagree on are
//! a problem naming both fingerprints. Network failures are problems, never errors: discovery
//! always finishes with what it could learn.

use std::fmt;

use chrono::{DateTime, Utc};
use openpgp::Cert;
use sequoia_openpgp as openpgp;
use serde::{Serialize, Serializer};
use url::Url;

use crate::keys::{self, Format, KeyInfo};
use crate::net::{FetchError, Resolved, Transport};
use crate::securitytxt::{self, SecurityTxt, Signature};

/// Largest security.txt read.
pub const SECURITY_TXT_LIMIT: usize = 256 * 1024;
/// Largest key answer read.
pub const KEY_LIMIT: usize = 1024 * 1024;

/// What to discover keys for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A domain (ASCII, lower case).
    Domain(String),
    /// An email address and its domain.
    Email {
        /// The address as given, domain part in lower-case ASCII.
        address: String,
        /// Its domain.
        domain: String,
    },
}

/// Why an input is not a domain or an email address.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// Not a domain name.
    #[error("{input:?} is not a domain name or an email address: {reason}")]
    Invalid {
        /// The input.
        input: String,
        /// What is wrong.
        reason: String,
    },
}

impl Target {
    /// Reads `example.org`, `security@example.org`, `mailto:security@example.org` or
    /// `https://example.org/` (the host is taken).
    pub fn parse(input: &str) -> Result<Target, TargetError> {
        let invalid = |reason: &str| TargetError::Invalid {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let s = input.trim();
        let s = s
            .strip_prefix("mailto:")
            .or_else(|| s.strip_prefix("MAILTO:"))
            .unwrap_or(s);
        if let Some(rest) = s.strip_prefix("https://") {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            if host.contains(['@', ':']) {
                return Err(invalid("give the domain without user or port"));
            }
            return Ok(Target::Domain(
                crate::ids::domain_name(host).map_err(|r| invalid(&r))?,
            ));
        }
        if s.contains("://") {
            return Err(invalid(
                "only https:// URLs, domains and email addresses are accepted",
            ));
        }
        match s.rsplit_once('@') {
            Some((local, dom)) => {
                if local.is_empty() || local.contains(char::is_whitespace) {
                    return Err(invalid("the part before @ is empty or has spaces"));
                }
                let dom = crate::ids::domain_name(dom).map_err(|r| invalid(&r))?;
                Ok(Target::Email {
                    address: format!("{local}@{dom}"),
                    domain: dom,
                })
            }
            None => Ok(Target::Domain(
                crate::ids::domain_name(s).map_err(|r| invalid(&r))?,
            )),
        }
    }

    /// The domain whose security.txt is read.
    pub fn domain(&self) -> &str {
        match self {
            Target::Domain(d) | Target::Email { domain: d, .. } => d,
        }
    }
}

/// Who vouched for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// The domain's security.txt named it (Encryption URL or fingerprint).
    SecurityTxt,
    /// The address's domain publishes it through WKD.
    Wkd,
    /// keys.openpgp.org (or the configured VKS) publishes it for the verified address.
    Vks,
    /// Proton's key server publishes it for the address.
    Proton,
}

impl Source {
    /// `security.txt`, `wkd`, `vks`, `proton`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::SecurityTxt => "security.txt",
            Source::Wkd => "wkd",
            Source::Vks => "vks",
            Source::Proton => "proton",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Where one source served a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The source.
    pub source: Source,
    /// The URL the key came from (after redirects), or the security.txt that named it.
    pub url: String,
    /// The address looked up (WKD, VKS, Proton), or the `Encryption` value (security.txt).
    pub detail: String,
}

/// A key some source vouched for.
///
/// Serializes to the `--json` shape: `fingerprint`, `user_ids`, `sources`, `format`.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// Primary fingerprint: 40 (v4) or 64 (v6) upper-case hex digits, no spaces.
    pub fingerprint: String,
    /// Valid user IDs.
    pub user_ids: Vec<String>,
    /// Every source that vouched, in the order security.txt, wkd, vks, proton.
    pub sources: Vec<Source>,
    /// The message format a report sealed to it gets.
    pub format: Format,
    /// The certificate (merged when several sources served it), for pinning.
    #[serde(skip)]
    pub cert: Cert,
    /// What a person sees before trusting it: algorithms, dates, usability.
    #[serde(skip)]
    pub info: KeyInfo,
    /// How each source served it.
    #[serde(skip)]
    pub evidence: Vec<Evidence>,
    /// The security.txt's clear signature verifies with this key.
    #[serde(skip)]
    pub signed_security_txt: bool,
    /// Only security.txt named it, from a URL on another host, and none of its user IDs is an
    /// address on the program's domain: the host it came from. Such a key is not offered;
    /// pinning it takes an explicit choice (`program pin --key FILE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreign_host: Option<String>,
}

impl Candidate {
    /// It can be encrypted to now (valid, live, not revoked, has an encryption subkey) and is
    /// offered for pinning (not a key from another host that names nothing of the domain).
    pub fn usable(&self) -> bool {
        self.info.problem.is_none() && self.foreign_host.is_none()
    }
}

/// Whether `host` is `domain` or one of its subdomains.
fn on_domain(host: &str, domain: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == domain || host.ends_with(&format!(".{domain}"))
}

/// The host a key named only by security.txt came from, when that host is not on `domain` and
/// the key names no address on it.
fn foreign_host(c: &Candidate, domain: &str) -> Option<String> {
    if c.sources != [Source::SecurityTxt] {
        return None;
    }
    let hosts: Vec<String> = c
        .evidence
        .iter()
        .filter_map(|e| Url::parse(&e.url).ok())
        .filter_map(|u| u.host_str().map(str::to_owned))
        .collect();
    let foreign = hosts.iter().find(|h| !on_domain(h, domain))?;
    if hosts.iter().any(|h| on_domain(h, domain)) {
        return None;
    }
    let names_domain = c.user_ids.iter().any(|uid| {
        uid.rsplit_once('@')
            .map(|(_, d)| on_domain(d.trim_end_matches('>'), domain))
            .unwrap_or(false)
    });
    (!names_domain).then(|| foreign.clone())
}

/// The security.txt discovery read.
#[derive(Debug, Clone)]
pub struct FoundSecurityTxt {
    /// Where it was finally read from (after redirects).
    pub url: Url,
    /// The file as served.
    pub bytes: Vec<u8>,
    /// What it says.
    pub parsed: SecurityTxt,
}

/// Something discovery found wrong, or could not check. Serializes as its message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoveryProblem {
    /// A request failed.
    Fetch {
        /// What was being looked up (`security.txt`, `WKD for a@b`…).
        what: String,
        /// How it failed.
        error: FetchError,
    },
    /// An unexpected HTTP status (other than 404 where "not found" is an answer).
    Status {
        /// What was being looked up.
        what: String,
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// Neither security.txt location has one.
    NoSecurityTxt {
        /// The domain.
        domain: String,
    },
    /// Found only at `/security.txt`; RFC 9116 requires `/.well-known/security.txt`.
    LegacyLocationOnly {
        /// Where it was found.
        url: String,
    },
    /// Served with a Content-Type other than text/plain.
    NotTextPlain {
        /// The URL.
        url: String,
        /// What it was served as.
        content_type: String,
    },
    /// A conformance problem of the security.txt.
    SecurityTxt {
        /// The problem.
        problem: securitytxt::Problem,
    },
    /// The security.txt's clear signature does not verify.
    SignatureInvalid {
        /// Why.
        detail: String,
    },
    /// The security.txt lists Canonical URIs and the place it was read from is not one of them.
    CanonicalMismatch {
        /// Where it was read from.
        url: String,
        /// What it lists.
        canonical: Vec<String>,
    },
    /// An `Encryption` value that is not followed.
    EncryptionNotFollowed {
        /// The value.
        value: String,
        /// Why not.
        reason: String,
    },
    /// An answer that should be a key is not one.
    NotAKey {
        /// What was being looked up.
        what: String,
        /// The URL.
        url: String,
        /// The parser's reason.
        reason: String,
    },
    /// security.txt names a fingerprint no source served.
    FingerprintNotServed {
        /// The fingerprint as written.
        fingerprint: String,
    },
    /// A WKD, VKS or Proton cert without a user ID for the address looked up.
    MissingUserId {
        /// The source.
        source: Source,
        /// The address looked up.
        address: String,
        /// The cert's fingerprint.
        fingerprint: String,
        /// Where it came from.
        url: String,
    },
    /// Two sources name different keys.
    KeysDisagree {
        /// One source and what it was asked.
        first: String,
        /// Its fingerprint(s).
        first_keys: Vec<String>,
        /// The other.
        second: String,
        /// Its fingerprint.
        second_key: String,
    },
    /// A candidate that cannot be encrypted to.
    Unusable {
        /// Its fingerprint.
        fingerprint: String,
        /// Why.
        reason: String,
    },
    /// security.txt points at a key on another host that names no address on the domain.
    ForeignKey {
        /// Its fingerprint.
        fingerprint: String,
        /// The host it was fetched from.
        host: String,
        /// The domain discovery was for.
        domain: String,
    },
    /// security.txt names an intake that is not a public https address (loopback, private,
    /// link-local, plain http): it is not recorded.
    IntakeRefused {
        /// The value.
        url: String,
        /// Why.
        reason: String,
    },
    /// No email contact was published; the conventional address was tried.
    GuessedAddress {
        /// The address tried.
        address: String,
    },
}

impl fmt::Display for DiscoveryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DiscoveryProblem as P;
        match self {
            P::Fetch { what, error } => write!(f, "{what}: {error}"),
            P::Status { what, url, status } => {
                write!(f, "{what}: {url} answered HTTP {status}")
            }
            P::NoSecurityTxt { domain } => write!(
                f,
                "no security.txt at https://{domain}/.well-known/security.txt or https://{domain}/security.txt"
            ),
            P::LegacyLocationOnly { url } => write!(
                f,
                "security.txt found only at {url}; RFC 9116 requires /.well-known/security.txt"
            ),
            P::NotTextPlain { url, content_type } => write!(
                f,
                "{url} is served as {content_type:?}; RFC 9116 requires text/plain"
            ),
            P::SecurityTxt { problem } => write!(f, "security.txt: {problem}"),
            P::SignatureInvalid { detail } => {
                write!(f, "security.txt's signature does NOT verify: {detail}")
            }
            P::CanonicalMismatch { url, canonical } => write!(
                f,
                "security.txt was read from {url}, which is not among its Canonical URIs ({})",
                canonical.join(", ")
            ),
            P::EncryptionNotFollowed { value, reason } => {
                write!(f, "Encryption {value} not followed: {reason}")
            }
            P::NotAKey { what, url, reason } => {
                write!(f, "{what}: {url} is not an OpenPGP key: {reason}")
            }
            P::FingerprintNotServed { fingerprint } => write!(
                f,
                "security.txt names key {fingerprint}, but no source served it"
            ),
            P::MissingUserId {
                source,
                address,
                fingerprint,
                url,
            } => write!(
                f,
                "{source} served key {fingerprint} for {address} ({url}), but it has no valid user ID with that address; it is not a candidate"
            ),
            P::KeysDisagree {
                first,
                first_keys,
                second,
                second_key,
            } => write!(
                f,
                "KEYS DISAGREE: {second} serves {second_key}, but {first} names {}; do not pin either until the team confirms its key",
                first_keys.join(" and ")
            ),
            P::Unusable {
                fingerprint,
                reason,
            } => write!(f, "key {fingerprint} cannot be used: {reason}"),
            P::ForeignKey {
                fingerprint,
                host,
                domain,
            } => write!(
                f,
                "security.txt points at key {fingerprint} on another host ({host}), and none of its user IDs is an address at {domain}: it is not offered. Pin it only if the team confirms it, from the key file"
            ),
            P::IntakeRefused { url, reason } => write!(
                f,
                "security.txt names the intake {url}, which is not used: {reason}"
            ),
            P::GuessedAddress { address } => write!(
                f,
                "no email contact is published; looked up {address} (RFC 2142's conventional address)"
            ),
        }
    }
}

impl Serialize for DiscoveryProblem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One request made, and what came of it (for "what was tried" displays).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// What was asked (`security.txt`, `WKD advanced for a@b`…).
    pub what: String,
    /// The URL.
    pub url: String,
    /// `found N key(s)`, `HTTP 404`, an error…
    pub outcome: String,
}

/// Everything discovery learned.
///
/// Serializes to the `--json` shape: `{"candidates": [...], "problems": [...]}`.
#[derive(Debug, Clone, Serialize)]
pub struct Discovery {
    /// Keys some source vouched for: usable ones first, then by number of sources.
    pub candidates: Vec<Candidate>,
    /// What is wrong or could not be checked.
    pub problems: Vec<DiscoveryProblem>,
    /// What was looked up.
    #[serde(skip)]
    pub target: Target,
    /// The security.txt, when one was found.
    #[serde(skip)]
    pub security_txt: Option<FoundSecurityTxt>,
    /// The addresses looked up in WKD, VKS and Proton.
    #[serde(skip)]
    pub addresses: Vec<String>,
    /// Every request and its outcome.
    #[serde(skip)]
    pub lookups: Vec<Lookup>,
    /// The intake the security.txt names (`Embargo-Intake`), when it is an https URL whose host
    /// leads to the public internet (or where the user configured it to go).
    #[serde(skip)]
    pub intake: Option<Url>,
}

impl Discovery {
    /// Candidates that can be encrypted to.
    pub fn usable(&self) -> impl Iterator<Item = &Candidate> {
        self.candidates.iter().filter(|c| c.usable())
    }

    /// The contact to send a key request to: the first `mailto:` contact of the security.txt,
    /// else the address given, else the first other contact (a web form).
    pub fn contact(&self) -> Option<String> {
        let contacts = self
            .security_txt
            .as_ref()
            .map(|s| s.parsed.contacts.clone())
            .unwrap_or_default();
        contacts
            .iter()
            .find(|c| securitytxt::mailto_address(c).is_some())
            .cloned()
            .or_else(|| match &self.target {
                Target::Email { address, .. } => Some(format!("mailto:{address}")),
                Target::Domain(_) => None,
            })
            .or_else(|| contacts.into_iter().find(|c| c.starts_with("https://")))
    }
}

/// When to ask Proton's key server.
///
/// Asking a key server tells it which address someone is about to write to. Proton is asked for
/// addresses at Proton's own domains, whose keys only Proton publishes; and, by default, for any
/// address no other source had a key for, because security teams often run Proton on their own
/// domain and Proton then serves their keys for it. Addresses a domain already publishes a key
/// for (WKD, VKS) are not disclosed to Proton.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProtonLookup {
    /// Never ask Proton.
    Never,
    /// Only addresses at Proton's domains (proton.me, protonmail.com, protonmail.ch, pm.me).
    ProtonDomains,
    /// Proton's domains, and any address WKD and VKS had no key for.
    #[default]
    ProtonDomainsAndFallback,
}

/// Proton's own mail domains.
pub const PROTON_DOMAINS: &[&str] = &[
    "proton.me",
    "protonmail.com",
    "protonmail.ch",
    "pm.me",
    "proton.ch",
];

/// Where to look and when "now" is.
#[derive(Debug, Clone)]
pub struct DiscoveryConfig {
    /// Base URL of the verifying key server (`/vks/v1/…` is appended).
    pub vks: Url,
    /// Base URL of Proton's key server (`/pks/lookup?…` is appended).
    pub proton: Url,
    /// When to ask Proton.
    pub proton_lookup: ProtonLookup,
    /// Decides expiry of security.txt and keys.
    pub now: DateTime<Utc>,
}

impl DiscoveryConfig {
    /// The defaults, with the key servers from `EMBARGO_VKS_URL` and `EMBARGO_PROTON_URL` when
    /// set (tests and private deployments). A set variable that is not a URL is an error naming it.
    pub fn from_env() -> Result<DiscoveryConfig, ConfigError> {
        let mut cfg = DiscoveryConfig::default();
        for (var, slot) in [
            ("EMBARGO_VKS_URL", &mut cfg.vks),
            ("EMBARGO_PROTON_URL", &mut cfg.proton),
        ] {
            if let Ok(v) = std::env::var(var) {
                *slot = Url::parse(&v).map_err(|source| ConfigError {
                    var,
                    value: v.clone(),
                    source,
                })?;
            }
        }
        Ok(cfg)
    }
}

/// A key-server variable that is not a URL.
#[derive(Debug, thiserror::Error)]
#[error("{var}={value}: {source}")]
pub struct ConfigError {
    /// The variable.
    pub var: &'static str,
    /// Its value.
    pub value: String,
    /// Why it is not a URL.
    #[source]
    pub source: url::ParseError,
}

/// `https://keys.openpgp.org`.
pub const DEFAULT_VKS: &str = "https://keys.openpgp.org";
/// `https://api.protonmail.ch`.
pub const DEFAULT_PROTON: &str = "https://api.protonmail.ch";

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            vks: Url::parse(DEFAULT_VKS).expect("constant URL"),
            proton: Url::parse(DEFAULT_PROTON).expect("constant URL"),
            proton_lookup: ProtonLookup::default(),
            now: Utc::now(),
        }
    }
}

fn join(base: &Url, path_segments: &[&str]) -> Url {
    let mut u = base.clone();
    if let Ok(mut segs) = u.path_segments_mut() {
        segs.pop_if_empty();
        for s in path_segments {
            segs.push(s);
        }
    }
    u
}

/// Whether a cert has a user ID (valid under the policy at `now`) for `address`.
pub fn has_user_id_for(cert: &Cert, address: &str, now: DateTime<Utc>) -> bool {
    let p = keys::policy();
    let Ok(vc) = cert.with_policy(&p, Some(now.into())) else {
        return false;
    };
    let want = address.to_lowercase();
    vc.userids().any(|u| match u.userid().email_normalized() {
        Ok(Some(e)) => e == want,
        _ => String::from_utf8_lossy(u.userid().value())
            .to_lowercase()
            .contains(&format!("<{want}>")),
    })
}

/// A key found by one source.
struct Found {
    cert: Cert,
    evidence: Evidence,
}

struct Run<'a, T: Transport> {
    transport: &'a T,
    cfg: &'a DiscoveryConfig,
    problems: Vec<DiscoveryProblem>,
    lookups: Vec<Lookup>,
    found: Vec<Found>,
}

/// What a key lookup returned.
enum KeyAnswer {
    Certs(Vec<Cert>, Url),
    NotFound,
    Failed,
}

impl<T: Transport> Run<'_, T> {
    fn log(&mut self, what: &str, url: &Url, outcome: String) {
        self.lookups.push(Lookup {
            what: what.to_owned(),
            url: url.to_string(),
            outcome,
        });
    }

    /// GETs a URL expected to hold keys. `quiet_unreachable`: a host that does not exist is
    /// "not offered" (WKD's optional subdomain), not a problem.
    async fn fetch_keys(&mut self, what: &str, url: &Url, quiet_unreachable: bool) -> KeyAnswer {
        match self.transport.get(url, KEY_LIMIT).await {
            Err(e) => {
                self.log(what, url, e.to_string());
                if !(quiet_unreachable && e.is_unreachable()) {
                    self.problems.push(DiscoveryProblem::Fetch {
                        what: what.to_owned(),
                        error: e,
                    });
                }
                KeyAnswer::Failed
            }
            Ok(r) if r.status == 404 || r.status == 410 => {
                self.log(what, url, format!("HTTP {} (no key)", r.status));
                KeyAnswer::NotFound
            }
            Ok(r) if r.status != 200 => {
                self.log(what, url, format!("HTTP {}", r.status));
                self.problems.push(DiscoveryProblem::Status {
                    what: what.to_owned(),
                    url: url.to_string(),
                    status: r.status,
                });
                KeyAnswer::Failed
            }
            Ok(r) => match keys::parse_certs(&r.body, r.url.as_str()) {
                Ok(certs) => {
                    self.log(what, url, format!("{} key(s)", certs.len()));
                    KeyAnswer::Certs(certs, r.url)
                }
                Err(e) => {
                    self.log(what, url, "not a key".into());
                    self.problems.push(DiscoveryProblem::NotAKey {
                        what: what.to_owned(),
                        url: r.url.to_string(),
                        reason: e.to_string(),
                    });
                    KeyAnswer::Failed
                }
            },
        }
    }

    async fn security_txt(&mut self, domain: &str) -> Option<FoundSecurityTxt> {
        let urls = [
            format!("https://{domain}/.well-known/security.txt"),
            format!("https://{domain}/security.txt"),
        ];
        for (i, u) in urls.iter().enumerate() {
            let Ok(url) = Url::parse(u) else { continue };
            match self.transport.get(&url, SECURITY_TXT_LIMIT).await {
                Err(e) => {
                    self.log("security.txt", &url, e.to_string());
                    self.problems.push(DiscoveryProblem::Fetch {
                        what: "security.txt".into(),
                        error: e,
                    });
                }
                Ok(r) if r.status == 200 => {
                    self.log("security.txt", &url, "found".into());
                    if i == 1 {
                        self.problems.push(DiscoveryProblem::LegacyLocationOnly {
                            url: r.url.to_string(),
                        });
                    }
                    if let Some(ct) = &r.content_type {
                        let media = ct.split(';').next().unwrap_or("").trim();
                        if !media.eq_ignore_ascii_case("text/plain") {
                            self.problems.push(DiscoveryProblem::NotTextPlain {
                                url: r.url.to_string(),
                                content_type: ct.clone(),
                            });
                        }
                    }
                    let parsed = securitytxt::parse(&r.body, self.cfg.now, &[]);
                    return Some(FoundSecurityTxt {
                        url: r.url,
                        bytes: r.body,
                        parsed,
                    });
                }
                Ok(r) => {
                    self.log("security.txt", &url, format!("HTTP {}", r.status));
                    if r.status != 404 && r.status != 410 {
                        self.problems.push(DiscoveryProblem::Status {
                            what: "security.txt".into(),
                            url: url.to_string(),
                            status: r.status,
                        });
                    }
                }
            }
        }
        self.problems.push(DiscoveryProblem::NoSecurityTxt {
            domain: domain.to_owned(),
        });
        None
    }

    /// Follows one `Encryption` value; returns a fingerprint to match for `openpgp4fpr:`.
    async fn encryption(&mut self, value: &str, st_url: &Url) -> Option<String> {
        let not_followed = |reason: &str| DiscoveryProblem::EncryptionNotFollowed {
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let scheme = value.split(':').next().unwrap_or("").to_ascii_lowercase();
        match scheme.as_str() {
            "openpgp4fpr" => {
                let fpr: String = value["openpgp4fpr:".len()..]
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect::<String>()
                    .to_ascii_uppercase();
                if (fpr.len() == 40 || fpr.len() == 64)
                    && fpr.chars().all(|c| c.is_ascii_hexdigit())
                {
                    Some(fpr)
                } else {
                    self.problems
                        .push(not_followed("not a 40 or 64 hex digit fingerprint"));
                    None
                }
            }
            "https" => {
                let Ok(url) = Url::parse(value) else {
                    self.problems.push(not_followed("not a valid URL"));
                    return None;
                };
                if url.port().is_some_and(|p| p != 443) {
                    self.problems
                        .push(not_followed("discovery only connects to port 443"));
                    return None;
                }
                if let KeyAnswer::Certs(certs, final_url) = self
                    .fetch_keys("security.txt Encryption", &url, false)
                    .await
                {
                    for cert in certs {
                        self.found.push(Found {
                            cert,
                            evidence: Evidence {
                                source: Source::SecurityTxt,
                                url: final_url.to_string(),
                                detail: format!("Encryption: {value} in {st_url}"),
                            },
                        });
                    }
                }
                None
            }
            "http" => {
                self.problems.push(not_followed(
                    "not https (a key fetched over http proves nothing)",
                ));
                None
            }
            "dns" => {
                self.problems.push(not_followed(
                    "DNS (OPENPGPKEY) records are not looked up; compare the fingerprint yourself",
                ));
                None
            }
            "data" => {
                self.problems.push(not_followed(&data_uri_key(value)));
                None
            }
            _ => {
                self.problems.push(not_followed(
                    "not an https: URL or openpgp4fpr: fingerprint",
                ));
                None
            }
        }
    }

    /// Keeps the certs that carry the address; reports the others.
    fn accept(&mut self, source: Source, address: &str, certs: Vec<Cert>, url: &Url) -> usize {
        let mut n = 0;
        for cert in certs {
            if has_user_id_for(&cert, address, self.cfg.now) {
                n += 1;
                self.found.push(Found {
                    cert,
                    evidence: Evidence {
                        source,
                        url: url.to_string(),
                        detail: address.to_owned(),
                    },
                });
            } else {
                self.problems.push(DiscoveryProblem::MissingUserId {
                    source,
                    address: address.to_owned(),
                    fingerprint: cert.fingerprint().to_hex(),
                    url: url.to_string(),
                });
            }
        }
        n
    }

    async fn address(&mut self, address: &str) {
        let mut found = 0;
        if let Some((advanced, direct)) = crate::wkd::wkd_urls(address) {
            let what = format!("WKD (advanced) for {address}");
            match self.fetch_keys(&what, &advanced, true).await {
                KeyAnswer::Certs(certs, url) => {
                    found += self.accept(Source::Wkd, address, certs, &url);
                }
                KeyAnswer::NotFound | KeyAnswer::Failed => {
                    let what = format!("WKD (direct) for {address}");
                    if let KeyAnswer::Certs(certs, url) =
                        self.fetch_keys(&what, &direct, false).await
                    {
                        found += self.accept(Source::Wkd, address, certs, &url);
                    }
                }
            }
        }
        let vks = join(&self.cfg.vks, &["vks", "v1", "by-email", address]);
        let what = format!("VKS for {address}");
        if let KeyAnswer::Certs(certs, url) = self.fetch_keys(&what, &vks, false).await {
            found += self.accept(Source::Vks, address, certs, &url);
        }
        let at_proton = address
            .rsplit_once('@')
            .is_some_and(|(_, d)| PROTON_DOMAINS.contains(&d.to_ascii_lowercase().as_str()));
        let ask_proton = match self.cfg.proton_lookup {
            ProtonLookup::Never => false,
            ProtonLookup::ProtonDomains => at_proton,
            ProtonLookup::ProtonDomainsAndFallback => at_proton || found == 0,
        };
        if ask_proton {
            let mut url = join(&self.cfg.proton, &["pks", "lookup"]);
            url.query_pairs_mut()
                .append_pair("op", "get")
                .append_pair("search", address);
            let what = format!("Proton for {address}");
            if let KeyAnswer::Certs(certs, final_url) = self.fetch_keys(&what, &url, false).await {
                self.accept(Source::Proton, address, certs, &final_url);
            }
        }
    }
}

/// Runs discovery for `target`. Never fails: what could not be learned is a problem.
pub async fn discover<T: Transport>(
    transport: &T,
    target: &Target,
    cfg: &DiscoveryConfig,
) -> Discovery {
    let mut run = Run {
        transport,
        cfg,
        problems: Vec::new(),
        lookups: Vec::new(),
        found: Vec::new(),
    };
    let domain = target.domain().to_owned();
    let mut security_txt = run.security_txt(&domain).await;

    let mut fingerprints = Vec::new();
    let mut addresses: Vec<String> = Vec::new();
    let push_address = |a: String, list: &mut Vec<String>| {
        if !list.iter().any(|x| x.eq_ignore_ascii_case(&a)) {
            list.push(a);
        }
    };
    if let Some(st) = &security_txt {
        for p in &st.parsed.problems {
            run.problems
                .push(DiscoveryProblem::SecurityTxt { problem: p.clone() });
        }
        if !st.parsed.canonical.is_empty()
            && !st
                .parsed
                .canonical
                .iter()
                .any(|c| Url::parse(c).is_ok_and(|c| c == st.url))
        {
            run.problems.push(DiscoveryProblem::CanonicalMismatch {
                url: st.url.to_string(),
                canonical: st.parsed.canonical.clone(),
            });
        }
        let url = st.url.clone();
        for value in st.parsed.encryption.clone() {
            if let Some(fpr) = run.encryption(&value, &url).await {
                fingerprints.push((value, fpr));
            }
        }
        for a in st.parsed.mailto_addresses() {
            push_address(a, &mut addresses);
        }
    }
    if let Target::Email { address, .. } = target {
        push_address(address.clone(), &mut addresses);
    }
    if addresses.is_empty() {
        let guess = format!("security@{domain}");
        run.problems.push(DiscoveryProblem::GuessedAddress {
            address: guess.clone(),
        });
        addresses.push(guess);
    }
    for a in &addresses {
        run.address(a).await;
    }

    // Fingerprints security.txt names: vouch for what matches, else ask VKS by fingerprint.
    let st_url = security_txt
        .as_ref()
        .map(|s| s.url.to_string())
        .unwrap_or_default();
    for (value, fpr) in &fingerprints {
        let matching: Vec<Cert> = run
            .found
            .iter()
            .filter(|f| f.cert.fingerprint().to_hex() == *fpr)
            .map(|f| f.cert.clone())
            .collect();
        let evidence = |url: String| Evidence {
            source: Source::SecurityTxt,
            url,
            detail: format!("Encryption: {value} in {st_url}"),
        };
        if let Some(cert) = matching.into_iter().next() {
            run.found.push(Found {
                cert,
                evidence: evidence(st_url.clone()),
            });
            continue;
        }
        let url = join(&cfg.vks, &["vks", "v1", "by-fingerprint", fpr]);
        let what = format!("VKS by fingerprint {fpr}");
        let mut served = false;
        if let KeyAnswer::Certs(certs, final_url) = run.fetch_keys(&what, &url, false).await {
            for cert in certs {
                if cert.fingerprint().to_hex() == *fpr {
                    served = true;
                    run.found.push(Found {
                        cert,
                        evidence: evidence(final_url.to_string()),
                    });
                }
            }
        }
        if !served {
            run.problems.push(DiscoveryProblem::FingerprintNotServed {
                fingerprint: value["openpgp4fpr:".len()..].to_owned(),
            });
        }
    }

    let named: Vec<String> = run
        .found
        .iter()
        .filter(|f| f.evidence.source == Source::SecurityTxt)
        .map(|f| f.cert.fingerprint().to_hex())
        .fold(Vec::new(), |mut v, f| {
            if !v.contains(&f) {
                v.push(f);
            }
            v
        });
    let contacts = security_txt
        .as_ref()
        .map(|s| s.parsed.mailto_addresses())
        .unwrap_or_default();
    agreement(&run.found, &named, &contacts, &mut run.problems);

    let mut candidates = merge(run.found);

    // The signature over security.txt, now that keys are known.
    if let Some(st) = &mut security_txt {
        if st.parsed.signed {
            // The same bytes, now with the keys: the fields cannot change, only the signature.
            let certs: Vec<Cert> = candidates.iter().map(|c| c.cert.clone()).collect();
            st.parsed = securitytxt::parse(&st.bytes, cfg.now, &certs);
            match st.parsed.signature {
                Signature::Verified => {
                    for c in &mut candidates {
                        if Some(&c.fingerprint) == st.parsed.signer.as_ref() {
                            c.signed_security_txt = true;
                        }
                    }
                }
                Signature::Invalid => run.problems.push(DiscoveryProblem::SignatureInvalid {
                    detail: st
                        .parsed
                        .signature_detail
                        .clone()
                        .unwrap_or_else(|| "no reason given".into()),
                }),
                Signature::Unverified | Signature::None => {}
            }
        }
    }

    for c in &mut candidates {
        c.foreign_host = foreign_host(c, target.domain());
        if let Some(host) = &c.foreign_host {
            run.problems.push(DiscoveryProblem::ForeignKey {
                fingerprint: c.fingerprint.clone(),
                host: host.clone(),
                domain: target.domain().to_owned(),
            });
        }
        if let Some(reason) = &c.info.problem {
            run.problems.push(DiscoveryProblem::Unusable {
                fingerprint: c.fingerprint.clone(),
                reason: reason.clone(),
            });
        }
    }
    candidates.sort_by_key(|c| (!c.usable(), std::cmp::Reverse(c.sources.len())));

    let intake = match security_txt
        .as_ref()
        .and_then(|st| st.parsed.other.get(INTAKE_FIELD))
        .and_then(|v| v.first())
    {
        Some(value) => match vet_intake(transport, value).await {
            Ok(url) => Some(url),
            Err(reason) => {
                run.problems.push(DiscoveryProblem::IntakeRefused {
                    url: crate::text::shown(value),
                    reason,
                });
                None
            }
        },
        None => None,
    };

    Discovery {
        candidates,
        problems: run.problems,
        target: target.clone(),
        security_txt,
        addresses,
        lookups: run.lookups,
        intake,
    }
}

/// What an `Encryption: data:…` value holds, said plainly: RFC 9116 §2.5.4 asks for a URI
/// where the key can be retrieved, not the key itself; and such a value often is no OpenPGP key
/// at all.
fn data_uri_key(value: &str) -> String {
    use base64::Engine as _;
    const RFC: &str = "the key is embedded (a data: URI) where RFC 9116 §2.5.4 asks for a URI the key can be retrieved from";
    let Some((meta, data)) = value["data:".len()..].split_once(',') else {
        return format!("{RFC}, and the value is not a data: URI (no comma)");
    };
    let bytes = if meta.ends_with(";base64") {
        match base64::engine::general_purpose::STANDARD.decode(data.trim()) {
            Ok(b) => b,
            Err(e) => return format!("{RFC}, and its base64 does not decode: {e}"),
        }
    } else {
        url::form_urlencoded::parse(format!("x={data}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned().into_bytes())
            .unwrap_or_default()
    };
    match crate::keys::parse_certs(&bytes, "the data: URI") {
        Ok(certs) => format!(
            "{RFC}; it holds OpenPGP key {}, which is not taken from there: compare its fingerprint with one the team publishes",
            certs[0].fingerprint().to_hex()
        ),
        Err(_) => format!("{RFC}, and what it holds is not an OpenPGP key at all"),
    }
}

/// The security.txt field an `embargo-intake` server adds to say where reports are submitted
/// (an extension: RFC 9116 keeps unknown fields).
pub const INTAKE_FIELD: &str = "Embargo-Intake";

/// An intake URL read from a remote document: https only, and its host must lead to the public
/// internet — not this machine, its network or a link-local address (resolved, not only
/// parsed) — unless the user configured where it goes. Reports are then sent only where the
/// team's own document says and nowhere on the researcher's side.
pub async fn vet_intake<T: Transport>(transport: &T, value: &str) -> Result<Url, String> {
    let url = crate::deliver::check_intake_url(value).map_err(|e| e.to_string())?;
    if url.scheme() != "https" {
        return Err("a team's intake is served over https".into());
    }
    let host = url.host_str().unwrap_or_default().to_owned();
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return Err(format!("{host} is this machine"));
    }
    match transport.resolve(&host).await {
        Resolved::Configured | Resolved::ViaProxy => Ok(url),
        Resolved::Addresses(ips) if ips.is_empty() => Err(format!("{host} resolves to nothing")),
        Resolved::Addresses(ips) => match ips.iter().find(|ip| !crate::net::is_public(**ip)) {
            Some(ip) => Err(format!(
                "{host} leads to {ip}, an address on this machine or its network"
            )),
            None => Ok(url),
        },
        Resolved::Unresolvable(why) => Err(format!("{host} does not resolve: {why}")),
    }
}

/// Loud problems when sources disagree: a key for one of the security.txt's contacts that is not
/// a key the security.txt names, or different keys for the same address from different sources.
/// (A key for another address, such as a team member's given on the command line, is not
/// expected to be the team key.)
fn agreement(
    found: &[Found],
    named: &[String],
    contacts: &[String],
    problems: &mut Vec<DiscoveryProblem>,
) {
    let mut reported: Vec<(String, String)> = Vec::new();
    let mut report = |problems: &mut Vec<DiscoveryProblem>,
                      first: String,
                      first_keys: Vec<String>,
                      second: String,
                      second_key: String| {
        let key = (first.clone(), second_key.clone());
        if !reported.contains(&key) {
            reported.push(key);
            problems.push(DiscoveryProblem::KeysDisagree {
                first,
                first_keys,
                second,
                second_key,
            });
        }
    };
    for f in found
        .iter()
        .filter(|f| f.evidence.source != Source::SecurityTxt)
    {
        let fpr = f.cert.fingerprint().to_hex();
        let who = format!("{} for {}", f.evidence.source, f.evidence.detail);
        let is_contact = contacts
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&f.evidence.detail));
        if is_contact && !named.is_empty() && !named.contains(&fpr) {
            report(
                problems,
                "security.txt".into(),
                named.to_vec(),
                who.clone(),
                fpr.clone(),
            );
        }
        for g in found.iter().filter(|g| {
            g.evidence.source != Source::SecurityTxt
                && g.evidence.source < f.evidence.source
                && g.evidence.detail.eq_ignore_ascii_case(&f.evidence.detail)
        }) {
            let gf = g.cert.fingerprint().to_hex();
            if gf != fpr {
                report(
                    problems,
                    format!("{} for {}", g.evidence.source, g.evidence.detail),
                    vec![gf],
                    who.clone(),
                    fpr.clone(),
                );
            }
        }
    }
}

/// One candidate per primary key; certs served by several sources are merged.
fn merge(found: Vec<Found>) -> Vec<Candidate> {
    let mut out: Vec<(Cert, Vec<Evidence>)> = Vec::new();
    for f in found {
        match out
            .iter_mut()
            .find(|(c, _)| c.fingerprint() == f.cert.fingerprint())
        {
            Some((cert, evidence)) => {
                if let Ok(merged) = cert.clone().merge_public(f.cert) {
                    *cert = merged;
                }
                if !evidence.contains(&f.evidence) {
                    evidence.push(f.evidence);
                }
            }
            None => out.push((f.cert, vec![f.evidence])),
        }
    }
    out.into_iter()
        .map(|(cert, evidence)| {
            let mut sources: Vec<Source> = evidence.iter().map(|e| e.source).collect();
            sources.sort();
            sources.dedup();
            let info = keys::describe(&cert);
            Candidate {
                fingerprint: info.fingerprint.clone(),
                user_ids: info.user_ids.clone(),
                sources,
                format: info.format,
                cert,
                info,
                evidence,
                signed_security_txt: false,
                foreign_host: None,
            }
        })
        .collect()
}

/// A ready-to-send, non-sensitive request for a key: it says a confidential report is waiting
/// and asks for an OpenPGP key or another secure channel — nothing about the finding (not its
/// class, not the affected asset, not the product).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRequest {
    /// The email address, when the contact is one.
    pub to: Option<String>,
    /// The contact as given (a `mailto:` or web form URI, or an address).
    pub contact: String,
    /// Subject line.
    pub subject: String,
    /// Body (plain text, LF line ends).
    pub body: String,
    /// A `mailto:` URL with subject and body, when the contact is an email address.
    pub mailto: Option<String>,
}

/// The subject of every key request.
pub const KEY_REQUEST_SUBJECT: &str = "Request for an OpenPGP key to report a security issue";

/// Builds the "no key yet" request for a contact (`mailto:…`, an address, or a web form URL).
/// It takes nothing from the report, so it cannot leak it.
pub fn key_request(contact: &str) -> KeyRequest {
    let contact = contact.trim();
    let to = securitytxt::mailto_address(contact).or_else(|| {
        (contact.contains('@') && !contact.contains(':') && !contact.contains(char::is_whitespace))
            .then(|| contact.to_owned())
    });
    let body = "\
Hello,

I would like to report a security issue to you confidentially. Before I send any
details, I need a way to encrypt them.

I could not find an OpenPGP key for your security contact (I looked at your
security.txt, WKD and keys.openpgp.org). Could you please either

  - publish an OpenPGP key, e.g. through the Encryption field of
    /.well-known/security.txt, WKD or keys.openpgp.org, or
  - tell me about another secure channel you accept (such as an encrypted upload
    form)?

Please also confirm the key's full fingerprint through a second channel I can
check, such as your website over HTTPS.

I will not send any details of the issue until I can encrypt them.

Thank you.
";
    let mailto = to
        .as_ref()
        .map(|addr| crate::export::mailto_url(addr, KEY_REQUEST_SUBJECT, Some(body)));
    KeyRequest {
        to,
        contact: contact.to_owned(),
        subject: KEY_REQUEST_SUBJECT.to_owned(),
        body: body.to_owned(),
        mailto,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Response;
    use openpgp::cert::CertBuilder;
    use std::collections::HashMap;

    /// Answers from memory: URL → (status, body) or an error.
    #[derive(Default)]
    struct Memory(HashMap<String, Result<(u16, Vec<u8>), FetchError>>);

    impl Memory {
        fn serve(&mut self, url: &str, body: impl Into<Vec<u8>>) -> &mut Self {
            self.0.insert(url.to_owned(), Ok((200, body.into())));
            self
        }
        fn fail(&mut self, url: &str, e: FetchError) -> &mut Self {
            self.0.insert(url.to_owned(), Err(e));
            self
        }
    }

    impl Transport for Memory {
        /// Hosts named `*.private.test` lead to this machine; every other one is as configured.
        async fn resolve(&self, host: &str) -> Resolved {
            if host.ends_with(".private.test") {
                Resolved::Addresses(vec!["127.0.0.1".parse().unwrap()])
            } else {
                Resolved::Configured
            }
        }

        async fn get(&self, url: &Url, _limit: usize) -> Result<Response, FetchError> {
            match self.0.get(url.as_str()) {
                Some(Ok((status, body))) => Ok(Response {
                    status: *status,
                    url: url.clone(),
                    content_type: Some("text/plain; charset=utf-8".into()),
                    body: body.clone(),
                }),
                Some(Err(e)) => Err(e.clone()),
                None => Ok(Response {
                    status: 404,
                    url: url.clone(),
                    content_type: None,
                    body: Vec::new(),
                }),
            }
        }
    }

    fn key(uid: &str) -> (Cert, Vec<u8>) {
        let (cert, _) = CertBuilder::general_purpose(Some(uid)).generate().unwrap();
        let cert = cert.strip_secret_key_material();
        let armored = keys::armored_public(&cert).into_bytes();
        (cert, armored)
    }

    fn security_txt(extra: &str) -> String {
        let expires = (Utc::now() + chrono::Duration::days(90)).to_rfc3339();
        format!("Contact: mailto:security@example.org\nExpires: {expires}\n{extra}")
    }

    const ST: &str = "https://example.org/.well-known/security.txt";
    const ADV: &str = "https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/t5s8ztdbon8yzntexy6oz5y48etqsnbb?l=security";
    const DIRECT: &str =
        "https://example.org/.well-known/openpgpkey/hu/t5s8ztdbon8yzntexy6oz5y48etqsnbb?l=security";
    const VKS: &str = "https://keys.openpgp.org/vks/v1/by-email/security@example.org";
    const PROTON: &str =
        "https://api.protonmail.ch/pks/lookup?op=get&search=security%40example.org";

    fn run(t: &Memory, target: &str) -> Discovery {
        let cfg = DiscoveryConfig::default();
        crate::net::block_on(discover(t, &Target::parse(target).unwrap(), &cfg)).unwrap()
    }

    fn problems(d: &Discovery) -> Vec<String> {
        d.problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn an_embedded_key_is_a_problem_said_plainly() {
        use base64::Engine as _;
        let (cert, _) = CertBuilder::general_purpose(Some("t <security@example.org>"))
            .generate()
            .unwrap();
        let b64 =
            base64::engine::general_purpose::STANDARD.encode(crate::keys::armored_public(&cert));
        let said = data_uri_key(&format!("data:application/pgp-keys;base64,{b64}"));
        assert!(said.contains("RFC 9116"), "{said}");
        assert!(said.contains(&cert.fingerprint().to_hex()), "{said}");
        let said = data_uri_key("data:text/plain;base64,aGVsbG8gd29ybGQ=");
        assert!(said.contains("not an OpenPGP key at all"), "{said}");
        let said = data_uri_key("data:,hello%20world");
        assert!(said.contains("not an OpenPGP key at all"), "{said}");
    }

    #[test]
    fn urls_are_the_documented_ones() {
        let (adv, direct) = crate::wkd::wkd_urls("security@example.org").unwrap();
        assert_eq!(adv.as_str(), ADV);
        assert_eq!(direct.as_str(), DIRECT);
    }

    #[test]
    fn agreeing_sources_make_one_candidate() {
        let (cert, armored) = key("Security <security@example.org>");
        let mut t = Memory::default();
        t.serve(
            ST,
            security_txt("Encryption: https://example.org/key.asc\n"),
        )
        .serve("https://example.org/key.asc", armored.clone())
        .serve(DIRECT, armored.clone())
        .serve(VKS, armored);
        let d = run(&t, "example.org");
        assert_eq!(problems(&d), Vec::<String>::new());
        assert_eq!(d.candidates.len(), 1);
        let c = &d.candidates[0];
        assert_eq!(c.fingerprint, cert.fingerprint().to_hex());
        assert_eq!(c.sources, [Source::SecurityTxt, Source::Wkd, Source::Vks]);
        assert!(c.usable());
        // Proton is not told about an address other sources had a key for.
        assert!(
            !d.lookups.iter().any(|l| l.url == PROTON),
            "{:?}",
            d.lookups
        );
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "candidates": [{
                    "fingerprint": cert.fingerprint().to_hex(),
                    "user_ids": ["Security <security@example.org>"],
                    "sources": ["security.txt", "wkd", "vks"],
                    "format": "SEIPDv1",
                }],
                "problems": [],
            })
        );
    }

    #[test]
    fn a_substituted_key_is_a_loud_problem() {
        let (named, named_armored) = key("Security <security@example.org>");
        let (other, other_armored) = key("Security <security@example.org>");
        let mut t = Memory::default();
        t.serve(
            ST,
            security_txt("Encryption: https://example.org/key.asc\n"),
        )
        .serve("https://example.org/key.asc", named_armored)
        .serve(ADV, other_armored);
        let d = run(&t, "example.org");
        assert_eq!(d.candidates.len(), 2);
        assert_eq!(
            problems(&d),
            [format!(
                "KEYS DISAGREE: wkd for security@example.org serves {}, but security.txt names {}; do not pin either until the team confirms its key",
                other.fingerprint().to_hex(),
                named.fingerprint().to_hex()
            )]
        );
    }

    #[test]
    fn a_personal_key_is_not_a_substitute_for_the_team_key() {
        let (_, team) = key("Security <security@example.org>");
        let (_, personal) = key("Ada <ada@example.org>");
        let ada_direct = crate::wkd::wkd_urls("ada@example.org").unwrap().1;
        let mut t = Memory::default();
        t.serve(
            ST,
            security_txt("Encryption: https://example.org/key.asc\n"),
        )
        .serve("https://example.org/key.asc", team)
        .serve(ada_direct.as_str(), personal);
        let d = run(&t, "ada@example.org");
        assert_eq!(d.candidates.len(), 2);
        assert_eq!(problems(&d), Vec::<String>::new());
    }

    #[test]
    fn sources_disagreeing_with_each_other_are_reported() {
        let (_, a) = key("Security <security@example.org>");
        let (b_cert, b) = key("Security <security@example.org>");
        let mut t = Memory::default();
        t.serve(ST, security_txt("")).serve(DIRECT, a).serve(VKS, b);
        let d = run(&t, "example.org");
        let p = problems(&d);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("KEYS DISAGREE: vks for security@example.org serves"),
            "{p:?}"
        );
        assert!(p[0].contains(&b_cert.fingerprint().to_hex()), "{p:?}");
    }

    #[test]
    fn a_wkd_cert_without_the_address_is_not_a_candidate() {
        let (cert, armored) = key("Someone <someone@elsewhere.example>");
        let mut t = Memory::default();
        t.serve(ST, security_txt("")).serve(ADV, armored);
        let d = run(&t, "example.org");
        assert!(d.candidates.is_empty());
        assert_eq!(
            problems(&d)[0],
            format!(
                "wkd served key {} for security@example.org ({ADV}), but it has no valid user ID with that address; it is not a candidate",
                cert.fingerprint().to_hex()
            )
        );
        // Nothing else had a key, so Proton was asked.
        assert!(d.lookups.iter().any(|l| l.url == PROTON), "{:?}", d.lookups);
    }

    #[test]
    fn a_fingerprint_in_security_txt_vouches_for_the_matching_key() {
        let (cert, armored) = key("Security <security@example.org>");
        let fpr = cert.fingerprint().to_hex();
        let mut t = Memory::default();
        t.serve(ST, security_txt(&format!("Encryption: openpgp4fpr:{fpr}\nEncryption: dns:x._openpgpkey.example.org?type=OPENPGPKEY\n")))
            .serve(VKS, armored);
        let d = run(&t, "example.org");
        assert_eq!(d.candidates[0].sources, [Source::SecurityTxt, Source::Vks]);
        assert_eq!(
            problems(&d),
            ["Encryption dns:x._openpgpkey.example.org?type=OPENPGPKEY not followed: DNS (OPENPGPKEY) records are not looked up; compare the fingerprint yourself"]
        );
    }

    #[test]
    fn an_unserved_fingerprint_is_fetched_from_vks_by_fingerprint() {
        let (cert, armored) = key("Security <security@example.org>");
        let fpr = cert.fingerprint().to_hex();
        let mut t = Memory::default();
        t.serve(
            ST,
            security_txt(&format!("Encryption: openpgp4fpr:{fpr}\n")),
        )
        .serve(
            &format!("https://keys.openpgp.org/vks/v1/by-fingerprint/{fpr}"),
            armored,
        );
        let d = run(&t, "example.org");
        assert_eq!(d.candidates.len(), 1);
        assert_eq!(d.candidates[0].sources, [Source::SecurityTxt]);

        let mut t = Memory::default();
        t.serve(
            ST,
            security_txt("Encryption: openpgp4fpr:0000000000000000000000000000000000000000\n"),
        );
        let d = run(&t, "example.org");
        assert!(d.candidates.is_empty());
        assert!(problems(&d).contains(
            &"security.txt names key 0000000000000000000000000000000000000000, but no source served it"
                .to_owned()
        ));
    }

    #[test]
    fn failures_are_problems_and_discovery_goes_on() {
        let (_, armored) = key("Security <security@example.org>");
        let mut t = Memory::default();
        t.fail(
            ST,
            FetchError::Timeout {
                url: ST.into(),
                seconds: 2,
            },
        )
        .serve("https://example.org/security.txt", security_txt(""))
        .fail(
            ADV,
            FetchError::Connect {
                url: ADV.into(),
                reason: "no such host".into(),
            },
        )
        .serve(VKS, armored);
        let d = run(&t, "example.org");
        assert_eq!(d.usable().count(), 1);
        assert_eq!(
            problems(&d),
            [
                format!("security.txt: {ST}: timed out after 2 s"),
                "security.txt found only at https://example.org/security.txt; RFC 9116 requires /.well-known/security.txt".to_owned(),
            ]
        );
    }

    #[test]
    fn canonical_must_name_where_it_was_read() {
        let mut t = Memory::default();
        t.serve(
            ST,
            security_txt("Canonical: https://www.example.org/.well-known/security.txt\n"),
        );
        let d = run(&t, "example.org");
        assert!(problems(&d).contains(&format!(
            "security.txt was read from {ST}, which is not among its Canonical URIs (https://www.example.org/.well-known/security.txt)"
        )));
    }

    #[test]
    fn no_security_txt_tries_the_conventional_address() {
        let t = Memory::default();
        let d = run(&t, "example.org");
        assert!(d.candidates.is_empty());
        assert_eq!(
            problems(&d),
            [
                "no security.txt at https://example.org/.well-known/security.txt or https://example.org/security.txt",
                "no email contact is published; looked up security@example.org (RFC 2142's conventional address)",
            ]
        );
        assert_eq!(d.addresses, ["security@example.org"]);
        assert_eq!(d.contact(), None);
    }

    #[test]
    fn proton_is_asked_for_proton_addresses() {
        let (cert, armored) = key("team@proton.me <team@proton.me>");
        let mut t = Memory::default();
        t.serve(
            "https://api.protonmail.ch/pks/lookup?op=get&search=team%40proton.me",
            armored,
        );
        let d = run(&t, "team@proton.me");
        assert_eq!(d.candidates.len(), 1);
        assert_eq!(d.candidates[0].fingerprint, cert.fingerprint().to_hex());
        assert_eq!(d.candidates[0].sources, [Source::Proton]);
        assert_eq!(d.contact().as_deref(), Some("mailto:team@proton.me"));
    }

    #[test]
    fn the_signature_on_security_txt_is_checked_with_the_keys_found() {
        use openpgp::serialize::stream::{Message, Signer};
        use std::io::Write;
        let (tsk, _) = CertBuilder::general_purpose(Some("Security <security@example.org>"))
            .generate()
            .unwrap();
        let p = keys::policy();
        let keypair = tsk
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
        let mut signed = Vec::new();
        {
            let m = Message::new(&mut signed);
            let mut s = Signer::new(m, keypair)
                .unwrap()
                .cleartext()
                .build()
                .unwrap();
            s.write_all(security_txt("").as_bytes()).unwrap();
            s.finalize().unwrap();
        }
        let armored = keys::armored_public(&tsk).into_bytes();
        let mut t = Memory::default();
        t.serve(ST, signed.clone()).serve(DIRECT, armored);
        let d = run(&t, "example.org");
        assert_eq!(
            d.security_txt.as_ref().unwrap().parsed.signature,
            Signature::Verified
        );
        assert!(d.candidates[0].signed_security_txt);

        // The same file with its text changed.
        let text = String::from_utf8(signed).unwrap();
        let forged = text.replace("mailto:security@", "mailto:attacker@");
        let mut t = Memory::default();
        t.serve(ST, forged.into_bytes())
            .serve(DIRECT, keys::armored_public(&tsk).into_bytes());
        let d = run(&t, "security@example.org");
        assert!(problems(&d)
            .iter()
            .any(|p| p.starts_with("security.txt's signature does NOT verify")));
    }

    #[test]
    fn the_key_request_reveals_nothing_about_the_report() {
        // What a draft report holds (DESIGN.md's example): none of it may appear.
        let secrets = [
            "Stored XSS in the workflow editor",
            "https://web.novu.co/workflows",
            "web.novu.co",
            "workflow",
            "xss",
            "CWE-79",
            "CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N",
            "high",
            "The workflow name is rendered unescaped",
            "EMB-",
        ];
        let r = key_request("mailto:security@novu.co");
        assert_eq!(r.to.as_deref(), Some("security@novu.co"));
        let all = format!(
            "{}\n{}\n{}",
            r.subject,
            r.body,
            r.mailto.as_deref().unwrap()
        );
        let lower = all.to_lowercase();
        // Whole words only: "another" does not name the class "Other".
        let words: String = lower
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { ' ' })
            .collect();
        let words = format!(
            " {} ",
            words.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        for s in &secrets {
            assert!(!lower.contains(&s.to_lowercase()), "{s:?} leaks into {all}");
        }
        for class in crate::program::CLASSES {
            let name: String = class
                .name
                .to_lowercase()
                .chars()
                .map(|c| if c.is_alphanumeric() { c } else { ' ' })
                .collect();
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                !words.contains(&format!(" {name} "))
                    && !words.contains(&format!(" {} ", class.id)),
                "class {:?} named in {all}",
                class.name
            );
        }
        let m = r.mailto.unwrap();
        assert!(
            m.starts_with("mailto:security@novu.co?subject=Request%20for%20an%20OpenPGP%20key"),
            "{m}"
        );
        assert!(
            m.contains("%0D%0A") && !m.contains(' ') && !m.contains('\n'),
            "{m}"
        );

        let form = key_request("https://example.org/report");
        assert_eq!(form.to, None);
        assert_eq!(form.mailto, None);
        assert_eq!(form.body, r.body);
    }
}
