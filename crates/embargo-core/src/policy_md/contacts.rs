//! Contacts and keys mentioned in the policy.

use super::*;

pub(super) fn is_email_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

pub(super) fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let tld = domain.rsplit('.').next().unwrap_or_default();
    !local.is_empty()
        && local.chars().all(is_email_char)
        && domain.contains('.')
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && !domain.starts_with('.')
        && !domain.contains("..")
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_alphabetic())
}

pub(super) fn emails_in(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for (at, _) in text.match_indices('@') {
        let start = text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_email_char(*c))
            .last()
            .map_or(at, |(i, _)| i);
        let end = text[at + 1..]
            .char_indices()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
            .last()
            .map_or(at + 1, |(i, c)| at + 1 + i + c.len_utf8());
        let candidate = text[start..end]
            .trim_start_matches('.')
            .trim_end_matches(['.', '-']);
        // Not an address inside a URL (https://x/@user:matrix.org).
        let before = &text[..start];
        let in_url =
            before.ends_with('/') || (before.ends_with(':') && !before.ends_with("mailto:"));
        if !in_url && is_email(candidate) && !out.iter().any(|(_, e)| e == candidate) {
            out.push((start, candidate.to_owned()));
        }
    }
    out
}

pub(super) fn bare_urls(text: &str) -> Vec<(usize, String)> {
    text.match_indices("https://")
        .filter_map(|(start, _)| {
            let rest = &text[start..];
            let end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
                .unwrap_or(rest.len());
            let url = rest[..end].trim_end_matches(['.', ',', ')', ';', ':', '!', '?', '\'']);
            url::Url::parse(url).ok().map(|_| (start, url.to_owned()))
        })
        .collect()
}

/// A URL where a report can be filed privately: GitHub's private vulnerability reporting, a
/// bug-bounty platform, or a page named like a report form.
pub(super) fn contact_url(dest: &str) -> bool {
    let Ok(url) = url::Url::parse(dest) else {
        return false;
    };
    if url.scheme() != "https" {
        return false;
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let path = url.path().trim_end_matches('/');
    if host == "github.com" {
        return path.ends_with("/security/advisories/new");
    }
    const PLATFORMS: &[&str] = &[
        "hackerone.com",
        "bugcrowd.com",
        "intigriti.com",
        "app.intigriti.com",
        "yeswehack.com",
        "huntr.dev",
        "huntr.com",
    ];
    if PLATFORMS
        .iter()
        .any(|p| host == *p || host.ends_with(&format!(".{p}")))
    {
        return path.len() > 1;
    }
    let last = path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    last.contains("report") && !last.contains('.')
}

pub(super) fn key_url(dest: &str, text: &str) -> bool {
    let d = dest.to_ascii_lowercase();
    let t = text.to_lowercase();
    d.starts_with("https://")
        && ([".asc", ".gpg", ".pub", ".key"]
            .iter()
            .any(|e| d.ends_with(e))
            || has_word(&t, "pgp")
            || has_word(&t, "gpg")
            || t.contains("openpgp")
            || t.contains("public key")
            || d.contains("/pgp")
            || d.contains("pgp-key")
            || d.contains("pgpkey"))
}

/// 40- or 64-hex-digit fingerprints, written contiguous or in groups of four.
pub(super) fn fingerprints_in(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut run: Vec<(usize, &str)> = Vec::new();
    let flush = |run: &mut Vec<(usize, &str)>, out: &mut Vec<(usize, String)>| {
        let joined: String = run.iter().map(|(_, g)| *g).collect();
        let grouped = run.len() > 1 && run.iter().all(|(_, g)| g.len() == 4);
        let whole = run.len() == 1;
        if (joined.len() == 40 || joined.len() == 64) && (grouped || whole) {
            let fpr = joined.to_ascii_uppercase();
            if !out.iter().any(|(_, f)| *f == fpr) {
                out.push((run[0].0, fpr));
            }
        }
        run.clear();
    };
    for (at, token) in words_at(text) {
        let bare = token
            .trim_matches(|c: char| matches!(c, '`' | '.' | ',' | ':' | ';' | '(' | ')' | '"'));
        let bare = bare.strip_prefix("0x").unwrap_or(bare);
        if !bare.is_empty() && bare.chars().all(|c| c.is_ascii_hexdigit()) {
            if bare.len() != 4 {
                flush(&mut run, &mut out);
                run.push((at, bare));
                flush(&mut run, &mut out);
            } else {
                run.push((at, bare));
            }
        } else {
            flush(&mut run, &mut out);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// ASCII-armored public key blocks anywhere in the file (fenced, indented, quoted or not).
pub(super) fn armored_blocks(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in markdown.lines() {
        let l = line.trim().trim_start_matches('>').trim();
        if l.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
            current = Some(vec![l]);
        } else if let Some(lines) = current.as_mut() {
            lines.push(l);
            if l.starts_with("-----END PGP PUBLIC KEY BLOCK") {
                let mut block = lines.join("\n");
                block.push('\n');
                out.push(block);
                current = None;
            } else if lines.len() > 10_000 {
                current = None;
            }
        }
    }
    out
}

pub(super) fn has_contact(text: &str, links: &[(usize, String, String)]) -> bool {
    !emails_in(text).is_empty()
        || bare_urls(text).iter().any(|(_, u)| contact_url(u))
        || links.iter().any(|(_, dest, _)| {
            dest.strip_prefix("mailto:").is_some_and(is_email) || contact_url(dest)
        })
}
