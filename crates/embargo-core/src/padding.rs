//! Padding for what the vault encrypts (drafts, their file lists, receipts, outbox entries), so
//! that a file's size says little about the text in it.
//!
//! Sizes are rounded up with Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted
//! Files and Communication with PURBs", PETS 2019): a length of L bytes becomes one of
//! O(log log L) sizes near it, at most 12 % larger, and never less than [`MIN_PADDED`]. The
//! padding stays readable to the recovery path (gpg): a JSON record gets trailing spaces, which
//! JSON allows after the value; a draft gets one closing Markdown comment,
//! `<!-- embargo-padding: … -->`, which renders as nothing and which loading removes. The
//! messages are not compressed (see `message`), so the padding costs what it says.

/// Nothing is padded to less than this.
pub const MIN_PADDED: usize = 1024;

const MD_OPEN: &[u8] = b"\n<!-- embargo-padding: ";
const MD_CLOSE: &[u8] = b" -->\n";

/// The padded size of `len` bytes: Padmé, at least [`MIN_PADDED`].
pub fn padded_len(len: usize) -> usize {
    let len = len.max(MIN_PADDED) as u64;
    // E = floor(log2 L), S = floor(log2 E) + 1; the low E - S bits are rounded up.
    let e = 63 - len.leading_zeros() as u64;
    let s = 64 - e.leading_zeros() as u64;
    let low = e - s;
    let mask = (1u64 << low) - 1;
    ((len + mask) & !mask) as usize
}

/// A JSON document padded with trailing spaces.
pub fn pad_json(mut json: Vec<u8>) -> Vec<u8> {
    let target = padded_len(json.len());
    json.resize(target, b' ');
    json
}

/// A draft's text padded with a closing comment.
pub fn pad_markdown(text: &[u8]) -> Vec<u8> {
    let fixed = text.len() + MD_OPEN.len() + MD_CLOSE.len();
    let target = padded_len(fixed);
    let mut out = Vec::with_capacity(target);
    out.extend_from_slice(text);
    out.extend_from_slice(MD_OPEN);
    out.resize(target - MD_CLOSE.len(), b'.');
    out.extend_from_slice(MD_CLOSE);
    out
}

/// A draft's text without the comment [`pad_markdown`] added (texts saved before padding have
/// none and come back as they are).
pub fn unpad_markdown(padded: &[u8]) -> &[u8] {
    let Some(body) = padded.strip_suffix(MD_CLOSE) else {
        return padded;
    };
    let Some(start) = memchr::memmem::rfind(body, MD_OPEN) else {
        return padded;
    };
    if body[start + MD_OPEN.len()..].iter().all(|&b| b == b'.') {
        &padded[..start]
    } else {
        padded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padme_rounds_up_by_at_most_12_percent() {
        assert_eq!(padded_len(0), 1024);
        assert_eq!(padded_len(1024), 1024);
        assert_eq!(padded_len(1025), 1088);
        assert_eq!(padded_len(5000), 5120);
        assert_eq!(padded_len(5100), 5120);
        for len in (1024..2_000_000).step_by(997) {
            let p = padded_len(len);
            assert!(
                p >= len && (p - len) as f64 <= len as f64 * 0.12,
                "{len} → {p}"
            );
        }
        // Few distinct sizes: every length from 64 KiB to 128 KiB lands on one of 33.
        let sizes: std::collections::BTreeSet<usize> = (65_536..131_072).map(padded_len).collect();
        assert!(sizes.len() <= 33, "{}", sizes.len());
    }

    #[test]
    fn json_and_markdown_padding_round_trip() {
        let json = br#"{"receipt":"R"}"#.to_vec();
        let padded = pad_json(json.clone());
        assert_eq!(padded.len(), 1024);
        let v: serde_json::Value = serde_json::from_slice(&padded).unwrap();
        assert_eq!(v["receipt"], "R");

        for text in [
            &b""[..],
            b"# Title\n",
            b"ends without newline",
            &[b'x'; 3000][..],
        ] {
            let padded = pad_markdown(text);
            assert_eq!(padded.len(), padded_len(padded.len()));
            assert_eq!(unpad_markdown(&padded), text);
        }
        // Two texts of nearby lengths make files of one size.
        assert_eq!(
            pad_markdown(&[b'a'; 5000]).len(),
            pad_markdown(&[b'a'; 5050]).len()
        );
        // A text that merely ends like padding is left alone.
        let own = b"my note\n<!-- embargo-padding: not dots -->\n";
        assert_eq!(unpad_markdown(own), own);
        assert_eq!(unpad_markdown(b"plain"), b"plain");
    }
}
