//! Report references: `EMB-` and eight random Crockford base32 characters in two groups of four
//! (`EMB-7K2Q-9XDA`). Random, never derived from content, so that a team can tell reports apart and
//! the reference (which travels in the outer email Subject) reveals nothing.

use std::fmt;

/// Crockford's base32 alphabet: no I, L, O or U.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A report reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference(String);

/// Why a string is not a reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a reference like EMB-7K2Q-9XDA")]
pub struct BadReference(String);

impl Reference {
    /// A new random reference (40 bits).
    pub fn generate() -> Reference {
        let mut s = String::from("EMB-");
        for i in 0..8 {
            if i == 4 {
                s.push('-');
            }
            s.push(CROCKFORD[rand::random_range(0..32)] as char);
        }
        Reference(s)
    }

    /// Parses `EMB-XXXX-XXXX` exactly as written (upper case, Crockford alphabet).
    pub fn parse(s: &str) -> Result<Reference, BadReference> {
        let b = s.as_bytes();
        let ok = b.len() == 13
            && s.starts_with("EMB-")
            && b[8] == b'-'
            && b[4..8]
                .iter()
                .chain(&b[9..13])
                .all(|c| CROCKFORD.contains(c));
        if ok {
            Ok(Reference(s.to_owned()))
        } else {
            Err(BadReference(crate::text::shown(s)))
        }
    }

    /// The reference as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_references_parse_and_differ() {
        let a = Reference::generate();
        let b = Reference::generate();
        assert_ne!(a, b);
        assert_eq!(Reference::parse(a.as_str()).unwrap(), a);
        assert!(a.as_str().starts_with("EMB-") && a.as_str().len() == 13);
        assert!(Reference::parse("EMB-7K2Q-9XDA").is_ok());
        for bad in [
            "EMB-7K2Q9XDA",
            "emb-7k2q-9xda",
            "EMB-7K2Q-9XDI",
            "EMB-7K2Q-9XD",
            "X",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }
}
