//! The security team as the server knows it: its public certs (recipients, WKD, security.txt)
//! and the SHA-256 hashes of its bearer tokens.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use embargo_core::keys::{self, KeyError};
use openpgp::cert::amalgamation::ValidAmalgamation as _;
use openpgp::cert::Cert;
use openpgp::serialize::{Serialize as _, SerializeInto as _};
use openpgp::types::RevocationStatus;
use rand::RngCore;
use sequoia_openpgp as openpgp;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::framing::RecipientKey;
use embargo_core::wkd;

/// One team cert, public parts only.
#[derive(Clone)]
pub struct TeamCert {
    pub path: PathBuf,
    pub cert: Cert,
    pub recipient: RecipientKey,
    /// E-mail addresses of its valid user IDs, as written.
    pub emails: Vec<String>,
    /// The cert serialized (binary), for WKD.
    pub binary: Vec<u8>,
    /// The cert ASCII-armored, for the `Encryption:` link of security.txt.
    pub armored: String,
}

impl fmt::Debug for TeamCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeamCert")
            .field("path", &self.path)
            .field("fingerprint", &self.recipient.primary.to_hex())
            .field("emails", &self.emails)
            .finish()
    }
}

/// Why the team's certs or tokens cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TeamError {
    #[error("no team cert given: pass --team-cert FILE or set team_certs in the config")]
    NoCerts,
    #[error("team cert {path}: {source}")]
    Key { path: String, source: KeyError },
    #[error(
        "team cert {path} holds secret key material for {fingerprint}: give the server the public certificate only (the intake never holds a secret key)"
    )]
    SecretKeyMaterial { path: String, fingerprint: String },
    #[error("team cert {path} holds {fingerprint} twice")]
    Duplicate { path: String, fingerprint: String },
    #[error(
        "team token hash #{index} ({value:?}) is not a SHA-256 hash: expected 64 hex digits, as printed by `embargo-intake token new`"
    )]
    BadTokenHash { index: usize, value: String },
}

impl TeamCert {
    fn from_cert(path: &Path, cert: Cert) -> Result<TeamCert, TeamError> {
        let shown = path.display().to_string();
        if cert.is_tsk() {
            return Err(TeamError::SecretKeyMaterial {
                path: shown,
                fingerprint: cert.fingerprint().to_hex(),
            });
        }
        let policy = keys::policy();
        // The key must be usable now, for the same reasons a client would refuse it.
        keys::encryption_keys(&cert, &policy).map_err(|source| TeamError::Key {
            path: shown.clone(),
            source,
        })?;
        // A client holding an older copy of the cert may have used a subkey that has expired
        // since; the team still holds its secret, so any encryption-capable subkey that is not
        // revoked counts as addressed to the team.
        let encryption_keys = cert
            .keys()
            .with_policy(&policy, None)
            .for_storage_encryption()
            .for_transport_encryption()
            .filter(|ka| !matches!(ka.revocation_status(), RevocationStatus::Revoked(_)))
            .map(|ka| ka.key().fingerprint())
            .collect();
        let mut emails: Vec<String> = Vec::new();
        if let Ok(vc) = cert.with_policy(&policy, None) {
            for ua in vc.userids() {
                if let Ok(Some(email)) = ua.userid().email() {
                    if !emails.iter().any(|e| e.eq_ignore_ascii_case(email)) {
                        emails.push(email.to_owned());
                    }
                }
            }
        }
        let mut binary = Vec::new();
        cert.serialize(&mut binary)
            .expect("serializing a cert to memory cannot fail");
        let armored = String::from_utf8(
            cert.armored()
                .to_vec()
                .expect("serializing a cert to memory cannot fail"),
        )
        .expect("armor is ASCII");
        Ok(TeamCert {
            path: path.to_owned(),
            recipient: RecipientKey {
                primary: cert.fingerprint(),
                encryption_keys,
            },
            cert,
            emails,
            binary,
            armored,
        })
    }

    /// Upper-case hex fingerprint of the primary key.
    pub fn fingerprint(&self) -> String {
        self.recipient.primary.to_hex()
    }

    /// Whether this cert answers the WKD lookup (`hash` of the lower-cased local part, and for
    /// the advanced method the domain).
    pub fn matches_wkd(&self, hash: &str, domain: Option<&str>) -> bool {
        self.emails.iter().any(|email| {
            let Some((local, dom)) = email.rsplit_once('@') else {
                return false;
            };
            wkd::local_part_hash(local) == hash
                && domain.is_none_or(|d| d.eq_ignore_ascii_case(dom))
        })
    }
}

/// Reads every cert of every team cert file.
pub fn load_certs(paths: &[PathBuf]) -> Result<Vec<TeamCert>, TeamError> {
    if paths.is_empty() {
        return Err(TeamError::NoCerts);
    }
    let mut out: Vec<TeamCert> = Vec::new();
    for path in paths {
        let certs = keys::read_certs(path).map_err(|source| TeamError::Key {
            path: path.display().to_string(),
            source,
        })?;
        for cert in certs {
            let tc = TeamCert::from_cert(path, cert)?;
            if out
                .iter()
                .any(|o| o.recipient.primary == tc.recipient.primary)
            {
                return Err(TeamError::Duplicate {
                    path: path.display().to_string(),
                    fingerprint: tc.fingerprint(),
                });
            }
            out.push(tc);
        }
    }
    Ok(out)
}

/// The SHA-256 hashes of the team's bearer tokens.
#[derive(Clone, Default)]
pub struct TeamTokens {
    hashes: Vec<[u8; 32]>,
}

impl fmt::Debug for TeamTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TeamTokens({} hashes)", self.hashes.len())
    }
}

impl TeamTokens {
    /// Parses hex SHA-256 hashes as printed by `embargo-intake token new`.
    pub fn from_hex<S: AsRef<str>>(hashes: &[S]) -> Result<TeamTokens, TeamError> {
        let mut out = Vec::with_capacity(hashes.len());
        for (i, h) in hashes.iter().enumerate() {
            let h = h.as_ref().trim();
            let bad = || TeamError::BadTokenHash {
                index: i + 1,
                value: h.chars().take(80).collect(),
            };
            if h.len() != 64 {
                return Err(bad());
            }
            let mut bytes = [0u8; 32];
            for (j, slot) in bytes.iter_mut().enumerate() {
                *slot = u8::from_str_radix(&h[2 * j..2 * j + 2], 16).map_err(|_| bad())?;
            }
            out.push(bytes);
        }
        Ok(TeamTokens { hashes: out })
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Which configured token `presented` is (its index), comparing its hash with every stored
    /// hash in constant time and without stopping at a match.
    pub fn check(&self, presented: &str) -> Option<usize> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found: Option<usize> = None;
        for (i, h) in self.hashes.iter().enumerate() {
            if bool::from(h.ct_eq(&digest)) {
                found = Some(i);
            }
        }
        found
    }
}

/// A new team token: 256 random bits, base64url; and the hex SHA-256 the server stores.
pub struct NewToken {
    pub token: Zeroizing<String>,
    pub hash: String,
}

impl NewToken {
    pub fn generate() -> NewToken {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(bytes.as_mut());
        let token = Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(*bytes));
        let hash = token_hash(&token);
        NewToken { token, hash }
    }
}

/// The hex SHA-256 of a token, as the config stores it.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_their_hash_only() {
        let a = NewToken::generate();
        let b = NewToken::generate();
        assert_eq!(a.token.len(), 43);
        assert_eq!(a.hash.len(), 64);
        let tokens = TeamTokens::from_hex(&[b.hash.clone(), a.hash.to_uppercase()]).unwrap();
        assert_eq!(tokens.check(&a.token), Some(1));
        assert_eq!(tokens.check(&b.token), Some(0));
        assert_eq!(tokens.check("guess"), None);
        assert_eq!(tokens.check(&a.hash), None);
    }

    #[test]
    fn bad_hashes_are_named() {
        let err = TeamTokens::from_hex(&["abc"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "team token hash #1 (\"abc\") is not a SHA-256 hash: expected 64 hex digits, as printed by `embargo-intake token new`"
        );
        assert!(TeamTokens::from_hex(&["g".repeat(64)]).is_err());
    }
}
