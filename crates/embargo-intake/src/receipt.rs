//! Receipts (128-bit random, Crockford base32), the server secret and the status tokens derived
//! from it.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters in a receipt: 128 bits at 5 bits a character, rounded up.
pub const RECEIPT_LEN: usize = 26;

/// A report's receipt: 128 random bits, written as 26 upper-case Crockford base32 characters.
///
/// Parsing follows Crockford's decoding rules (case-insensitive; `I`/`L` read as `1`, `O` as
/// `0`; hyphens ignored), so a receipt read aloud or copied by hand still finds its report. The
/// canonical form is what [`fmt::Display`] writes and what the storage keys on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Receipt(u128);

impl Receipt {
    /// A fresh random receipt.
    pub fn random() -> Receipt {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        Receipt(u128::from_be_bytes(bytes))
    }

    /// The 128 bits (a rate-limit key, never shown).
    pub fn bits(&self) -> u128 {
        self.0
    }
}

impl fmt::Display for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // 26 characters carry 130 bits: the first character holds the top 3 bits.
        let mut out = [0u8; RECEIPT_LEN];
        for (i, slot) in out.iter_mut().enumerate() {
            let shift = 5 * (RECEIPT_LEN - 1 - i);
            let index = ((self.0 >> shift) & 0x1f) as usize;
            *slot = CROCKFORD[index];
        }
        f.write_str(std::str::from_utf8(&out).expect("alphabet is ASCII"))
    }
}

impl fmt::Debug for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Receipt({self})")
    }
}

/// Why a string is not a receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    #[error("receipt {input:?} has {len} characters, a receipt has {RECEIPT_LEN}")]
    Length { input: String, len: usize },
    #[error("receipt {input:?} has {ch:?}, which is not a Crockford base32 character")]
    Character { input: String, ch: char },
    #[error("receipt {input:?} is larger than 128 bits")]
    Overflow { input: String },
}

fn crockford_value(c: char) -> Option<u8> {
    let c = c.to_ascii_uppercase();
    let c = match c {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    CROCKFORD
        .iter()
        .position(|&a| a as char == c)
        .map(|p| p as u8)
}

impl FromStr for Receipt {
    type Err = ReceiptError;

    fn from_str(input: &str) -> Result<Receipt, ReceiptError> {
        let chars: Vec<char> = input.chars().filter(|&c| c != '-').collect();
        if chars.len() != RECEIPT_LEN {
            return Err(ReceiptError::Length {
                input: input.chars().take(64).collect(),
                len: chars.len(),
            });
        }
        let mut value: u128 = 0;
        for (i, &c) in chars.iter().enumerate() {
            let v = crockford_value(c).ok_or_else(|| ReceiptError::Character {
                input: input.to_owned(),
                ch: c,
            })?;
            // The first character carries only the top 3 bits of 128.
            if i == 0 && v > 0b111 {
                return Err(ReceiptError::Overflow {
                    input: input.to_owned(),
                });
            }
            value = (value << 5) | u128::from(v);
        }
        Ok(Receipt(value))
    }
}

/// The server's 256-bit HMAC key for status tokens. Created once, on first start, by the storage
/// backend (a 0600 file beside the SQLite database, a row in PostgreSQL shared by every replica).
#[derive(Clone)]
pub struct ServerSecret(Zeroizing<[u8; 32]>);

impl ServerSecret {
    /// Fresh random secret bytes.
    pub fn generate() -> ServerSecret {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(bytes.as_mut());
        ServerSecret(bytes)
    }

    /// The secret from stored bytes; `None` unless they are exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<ServerSecret> {
        let array: [u8; 32] = bytes.try_into().ok()?;
        Some(ServerSecret(Zeroizing::new(array)))
    }

    /// The bytes to store.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    fn mac(&self, receipt: &Receipt) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref()).expect("HMAC takes any key");
        mac.update(b"embargo-intake status token v1\0");
        mac.update(receipt.to_string().as_bytes());
        mac
    }

    /// The status token for a receipt: HMAC-SHA256 of the receipt, base64url without padding.
    pub fn status_token(&self, receipt: &Receipt) -> String {
        let tag = self.mac(receipt).finalize().into_bytes();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag)
    }

    /// Whether `token` is the receipt's status token, compared in constant time.
    pub fn verify_status_token(&self, receipt: &Receipt, token: &str) -> bool {
        let Ok(presented) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        self.mac(receipt).verify_slice(&presented).is_ok()
    }
}

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSecret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_round_trip_through_text() {
        for value in [
            0u128,
            1,
            u128::MAX,
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
        ] {
            let r = Receipt(value);
            let text = r.to_string();
            assert_eq!(text.len(), RECEIPT_LEN);
            assert_eq!(text.parse::<Receipt>().unwrap(), r);
        }
        assert_eq!(Receipt(u128::MAX).to_string(), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
        let random = Receipt::random();
        assert_eq!(random.to_string().parse::<Receipt>().unwrap(), random);
    }

    #[test]
    fn receipts_parse_crockford_aliases() {
        let r: Receipt = "01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        let lower: Receipt = "o1arz3ndektsv4rrffq69g5fav".parse().unwrap();
        let hyphens: Receipt = "01ARZ-3NDEK-TSV4R-RFFQ6-9G5FAV".parse().unwrap();
        assert_eq!(r, lower);
        assert_eq!(r, hyphens);
    }

    #[test]
    fn bad_receipts_name_the_problem() {
        assert_eq!(
            "ABC".parse::<Receipt>().unwrap_err().to_string(),
            "receipt \"ABC\" has 3 characters, a receipt has 26"
        );
        assert!(matches!(
            "01ARZ3NDEKTSV4RRFFQ69G5FAU".parse::<Receipt>(),
            Err(ReceiptError::Character { ch: 'U', .. })
        ));
        assert!(matches!(
            "81ARZ3NDEKTSV4RRFFQ69G5FAV".parse::<Receipt>(),
            Err(ReceiptError::Overflow { .. })
        ));
    }

    #[test]
    fn status_tokens_verify_only_for_their_receipt_and_secret() {
        let secret = ServerSecret::generate();
        let a = Receipt::random();
        let b = Receipt::random();
        let token = secret.status_token(&a);
        assert!(secret.verify_status_token(&a, &token));
        assert!(!secret.verify_status_token(&b, &token));
        assert!(!ServerSecret::generate().verify_status_token(&a, &token));
        assert!(!secret.verify_status_token(&a, "not base64!"));
        assert!(!secret.verify_status_token(&a, ""));
    }
}
