//! Delivery formats around a sealed message: the PGP/MIME (RFC 3156) email and mailto links.

use std::io::{self, Write};

/// Envelope of the exported email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailEnvelope {
    /// `To:` — the program's contact.
    pub to: String,
    /// `From:` — left out when unknown, for the mail client to fill.
    pub from: Option<String>,
    /// The report's reference, the only thing the outer Subject says about it.
    pub reference: Option<String>,
}

/// The outer subject's fixed words; the real subject travels inside the encryption.
pub const OUTER_SUBJECT: &str = "Encrypted vulnerability report";

impl EmailEnvelope {
    /// The outer `Subject:`: fixed words and the random reference, never the title.
    pub fn subject(&self) -> String {
        match &self.reference {
            Some(r) => format!("{OUTER_SUBJECT} {r}"),
            None => OUTER_SUBJECT.to_owned(),
        }
    }
}

fn domain_of(addr: &str) -> Option<&str> {
    addr.rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>'))
        .filter(|d| !d.is_empty() && d.is_ascii())
}

/// A PGP/MIME (RFC 3156) email around the armored message written into it: the headers, the
/// version part and the opening of the encrypted part are written when it is made, every line
/// break of what is written through it becomes CRLF, and [`EmailWriter::finish`] closes it.
pub struct EmailWriter<W: Write> {
    inner: W,
    boundary: String,
    scratch: Vec<u8>,
}

impl<W: Write> EmailWriter<W> {
    /// Writes the email's head into `inner`.
    pub fn new(mut inner: W, env: &EmailEnvelope) -> io::Result<Self> {
        let boundary = crate::mime::boundary();
        inner.write_all(email_head(env, &boundary).as_bytes())?;
        Ok(EmailWriter {
            inner,
            boundary,
            scratch: Vec::new(),
        })
    }

    /// Closes the email; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.inner
            .write_all(format!("\r\n--{}--\r\n", self.boundary).as_bytes())?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for EmailWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.scratch.clear();
        for &b in buf {
            if b == b'\n' {
                self.scratch.push(b'\r');
            }
            if b != b'\r' {
                self.scratch.push(b);
            }
        }
        self.inner.write_all(&self.scratch)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn email_head(env: &EmailEnvelope, boundary: &str) -> String {
    let now = chrono::Utc::now();
    let id: [u8; 16] = rand::random();
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let domain = env
        .from
        .as_deref()
        .and_then(domain_of)
        .unwrap_or("embargo.invalid");
    let mut head = String::new();
    head += "MIME-Version: 1.0\r\n";
    head += &format!("Date: {}\r\n", now.format("%a, %d %b %Y %H:%M:%S +0000"));
    head += &format!("Message-ID: <{id}@{domain}>\r\n");
    if let Some(from) = &env.from {
        head += &format!("From: {}\r\n", clean(from));
    }
    head += &format!("To: {}\r\n", clean(&env.to));
    head += &format!("Subject: {}\r\n", clean(&env.subject()));
    // Lets mail clients open the file as a message to send rather than one received.
    head += "X-Unsent: 1\r\n";
    head += &format!("Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";\r\n boundary=\"{boundary}\"\r\n");
    head += "\r\nThis is an OpenPGP/MIME encrypted message (RFC 3156).\r\n";
    head += &format!("--{boundary}\r\nContent-Type: application/pgp-encrypted\r\nContent-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n\r\n");
    head += &format!(
        "--{boundary}\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\
         Content-Description: OpenPGP encrypted message\r\nContent-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n"
    );
    head
}

fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// Mail clients and OS URL handlers truncate long mailto links; 2,000 characters is safe
/// everywhere.
pub const MAILTO_MAX: usize = 2000;

/// The largest armored message offered for the clipboard (a report with a screenshot fits; a
/// video does not, and pasting megabytes into webmail fails).
pub const COPY_MAX: u64 = 1 << 20;

/// Percent-encodes for a mailto URL (RFC 6068): unreserved characters stay, and in the address
/// `@` and `+` too.
fn mailto_escape(s: &str, address: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (address && matches!(b, b'@' | b'+'));
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `mailto:` URL to `to` with a subject and, when given, a body (line breaks sent as CRLF).
/// The one builder of mail links: the key request, the report's own link and "Send it".
pub fn mailto_url(to: &str, subject: &str, body: Option<&str>) -> String {
    let mut url = format!(
        "mailto:{}?subject={}",
        mailto_escape(to, true),
        mailto_escape(subject, false)
    );
    if let Some(b) = body {
        let crlf = b.replace("\r\n", "\n").replace('\n', "\r\n");
        url.push_str("&body=");
        url.push_str(&mailto_escape(&crlf, false));
    }
    url
}

/// A `mailto:` URL with the armored message as body, when it stays under `max_len` characters
/// (else the message must travel as an attachment).
pub fn mailto(to: &str, subject: &str, armored: &str, max_len: usize) -> Option<String> {
    let url = mailto_url(to, subject, Some(armored));
    (url.len() <= max_len).then_some(url)
}

/// Whether an armored message of about `armored_bytes` fits a mail link's body: percent-encoding
/// grows armor by about a tenth (line breaks, `+`, `/`, `=`), and the address and subject take
/// about 200 characters.
pub fn fits_mailto(armored_bytes: u64) -> bool {
    armored_bytes.saturating_add(armored_bytes / 10 + 200) <= MAILTO_MAX as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_writer_wraps_with_crlf_and_never_shows_the_title() {
        let env = EmailEnvelope {
            to: "security@novu.co".into(),
            from: None,
            reference: Some("EMB-7K2Q-9XDA".into()),
        };
        let mut w = EmailWriter::new(Vec::new(), &env).unwrap();
        w.write_all(b"-----BEGIN PGP MESSAGE-----\nabc\r\n")
            .unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert!(out.contains("Subject: Encrypted vulnerability report EMB-7K2Q-9XDA\r\n"));
        assert!(out.contains("-----BEGIN PGP MESSAGE-----\r\nabc\r\n"));
        assert!(
            !out.replace("\r\n", "").contains('\n'),
            "every line ends in CRLF"
        );
        assert!(out.trim_end().ends_with("--"));
    }

    #[test]
    fn mailto_fits_or_not() {
        let url = mailto(
            "security@novu.co",
            OUTER_SUBJECT,
            "-----BEGIN PGP MESSAGE-----\nabc\n",
            2000,
        )
        .unwrap();
        assert!(url.starts_with("mailto:security@novu.co?subject=Encrypted%20vulnerability%20report&body=-----BEGIN%20PGP"));
        assert!(url.ends_with("abc%0D%0A"), "{url}");
        assert_eq!(
            mailto_url("sec+x@novu.co", "a b", None),
            "mailto:sec+x@novu.co?subject=a%20b"
        );
        assert!(mailto("a@b", OUTER_SUBJECT, &"x".repeat(3000), 2000).is_none());
    }
}
