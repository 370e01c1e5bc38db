//! Web Key Directory names (draft-koch-openpgp-webkey-service): the z-base-32 SHA-1 of an
//! address's lower-cased local part, and the two URLs a client asks. One home for the client
//! (`discover`) and the intake server, which publishes its team's keys there.

use sha1::{Digest, Sha1};
use url::Url;

const ZBASE32: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// z-base-32 without padding (bits taken most significant first).
pub fn zbase32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ZBASE32[((buffer >> bits) & 0x1f) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ZBASE32[((buffer << (5 - bits)) & 0x1f) as usize] as char);
    }
    out
}

/// The `hu/<hash>` part of a WKD URL for a local part. The draft maps only ASCII letters to
/// lower case.
pub fn local_part_hash(local: &str) -> String {
    zbase32(&Sha1::digest(local.to_ascii_lowercase().as_bytes()))
}

/// The WKD URLs for an address: advanced, then direct. `None` when it is not `local@domain`.
pub fn wkd_urls(address: &str) -> Option<(Url, Url)> {
    let (local, dom) = address.rsplit_once('@')?;
    let dom = crate::ids::domain_name(dom).ok()?;
    if local.is_empty() {
        return None;
    }
    let hash = local_part_hash(local);
    let mut advanced = Url::parse(&format!(
        "https://openpgpkey.{dom}/.well-known/openpgpkey/{dom}/hu/{hash}"
    ))
    .ok()?;
    advanced.query_pairs_mut().append_pair("l", local);
    let mut direct = Url::parse(&format!("https://{dom}/.well-known/openpgpkey/hu/{hash}")).ok()?;
    direct.query_pairs_mut().append_pair("l", local);
    Some((advanced, direct))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_drafts_example() {
        // draft-koch-openpgp-webkey-service §3.1: "Joe.Doe@Example.ORG".
        assert_eq!(
            local_part_hash("Joe.Doe"),
            "iy9q119eutrkn8s1mk4r39qejnbu3n5q"
        );
    }

    #[test]
    fn zbase32_of_short_inputs() {
        assert_eq!(zbase32(&[]), "");
        assert_eq!(zbase32(&[0]), "yy");
        assert_eq!(zbase32(&[0xff]), "9h");
    }
}
