//! Identifiers validated wherever they come in: program ids and fingerprints, which become file
//! names in the data directory (so that `program = "../../x"` cannot name a file outside it),
//! and domain names, which become URLs.

use std::fmt;

/// Longest program id.
pub const MAX_PROGRAM_ID_LEN: usize = 64;

/// A program id: `[a-z0-9][a-z0-9-]*`, at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProgramId(String);

/// Why a string is not a program id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidProgramId {
    /// Empty.
    #[error("a program id cannot be empty")]
    Empty,
    /// Over the length limit.
    #[error("program id `{id}` is longer than {MAX_PROGRAM_ID_LEN} characters")]
    TooLong {
        /// The id, escaped for display.
        id: String,
    },
    /// A character outside `a-z`, `0-9` and `-`, or a leading `-`.
    #[error("program id `{id}` may only use a-z, 0-9 and `-` (not first)")]
    BadCharacter {
        /// The id, escaped for display.
        id: String,
    },
}

impl ProgramId {
    /// Checks a program id.
    pub fn parse(s: &str) -> Result<ProgramId, InvalidProgramId> {
        let id = || crate::text::shown(s);
        if s.is_empty() {
            return Err(InvalidProgramId::Empty);
        }
        if s.len() > MAX_PROGRAM_ID_LEN {
            return Err(InvalidProgramId::TooLong { id: id() });
        }
        let ok = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-');
        if !ok {
            return Err(InvalidProgramId::BadCharacter { id: id() });
        }
        Ok(ProgramId(s.to_owned()))
    }

    /// An id derived from a name or a domain: lower case, runs of anything else as one `-`
    /// (`example.org` → `example-org`, `Acme Corp` → `acme-corp`).
    pub fn derive(name: &str) -> Result<ProgramId, InvalidProgramId> {
        let mut id = String::new();
        for c in name.trim().to_lowercase().chars() {
            if c.is_ascii_alphanumeric() {
                id.push(c);
            } else if !id.is_empty() && !id.ends_with('-') {
                id.push('-');
            }
        }
        let id = id.trim_end_matches('-');
        let id: String = id.chars().take(MAX_PROGRAM_ID_LEN).collect();
        ProgramId::parse(id.trim_end_matches('-'))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProgramId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A fingerprint that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{given}` is not a full fingerprint: expected 40 (v4) or 64 (v6) hexadecimal digits{detail}"
)]
pub struct InvalidFingerprint {
    /// What was given, escaped for display.
    pub given: String,
    /// What is wrong with it.
    pub detail: String,
}

/// Normalises a fingerprint as people paste it (spaces, any case, an optional `0x` or
/// `openpgp4fpr:` prefix) to upper-case hex without spaces, and checks that it is a full one.
pub fn normalize_fingerprint(given: &str) -> Result<String, InvalidFingerprint> {
    let trimmed = given.trim();
    let body = trimmed
        .strip_prefix("openpgp4fpr:")
        .or_else(|| trimmed.strip_prefix("0x"))
        .unwrap_or(trimmed);
    let hex: String = body
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let bad = |detail: String| InvalidFingerprint {
        given: crate::text::shown(given),
        detail,
    };
    if let Some(c) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(bad(format!(
            "; `{}` is not one",
            crate::text::shown(&c.to_string())
        )));
    }
    match hex.len() {
        40 | 64 => Ok(hex),
        16 => Err(bad(
            "; this is a key ID, which anyone can forge: compare the full fingerprint".into(),
        )),
        n => Err(bad(format!("; it has {n}"))),
    }
}

/// A host name in lower-case ASCII (IDNA), with at least one dot, not an IP address.
pub fn domain_name(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('.');
    if s.is_empty() {
        return Err("empty".into());
    }
    match url::Host::parse(s) {
        Ok(url::Host::Domain(d)) if d.contains('.') => Ok(d),
        Ok(url::Host::Domain(_)) => Err("a domain needs a dot".into()),
        Ok(_) => Err("an IP address is not a domain".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_ids_cannot_name_paths() {
        for bad in [
            "../../x",
            "a/b",
            "A",
            "",
            "-x",
            "x y",
            "é",
            ".",
            "novu.toml",
        ] {
            assert!(ProgramId::parse(bad).is_err(), "{bad}");
        }
        assert!(ProgramId::parse(&"a".repeat(65)).is_err());
        assert!(ProgramId::parse("example-org2").is_ok());
        assert_eq!(
            ProgramId::derive("Example.org").unwrap().as_str(),
            "example-org"
        );
        assert_eq!(
            ProgramId::derive("  Acme -- Corp! ").unwrap().as_str(),
            "acme-corp"
        );
        assert!(ProgramId::derive("***").is_err());
    }

    #[test]
    fn fingerprints_are_normalised_and_checked() {
        let fp = "ABCD 1234 ABCD 1234 ABCD  1234 ABCD 1234 ABCD 1234";
        assert_eq!(normalize_fingerprint(fp).unwrap(), "ABCD1234".repeat(5));
        assert_eq!(
            normalize_fingerprint(&format!("openpgp4fpr:{}", "ab".repeat(20))).unwrap(),
            "AB".repeat(20)
        );
        assert!(normalize_fingerprint("../../etc").is_err());
        let e = normalize_fingerprint("ABCD1234ABCD1234").unwrap_err();
        assert!(e.to_string().contains("key ID"), "{e}");
    }
}
