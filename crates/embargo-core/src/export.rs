//! Delivery formats around a sealed message: the PGP/MIME (RFC 3156) email and mailto links.

use std::io::{self, Write};

/// Envelope of the exported email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailEnvelope {
    /// `To:` — the program's contact.
    pub to: String,
    /// `From:` — left out when unknown, for the mail client to fill.
    pub from: Option<String>,
}

/// The outer subject; the real one travels inside the encryption.
pub const OUTER_SUBJECT: &str = "Encrypted vulnerability report";

fn domain_of(addr: &str) -> Option<&str> {
    addr.rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>'))
        .filter(|d| !d.is_empty() && d.is_ascii())
}

/// Headers, the version part and the opening of the encrypted part.
pub fn write_email_head(w: &mut dyn Write, env: &EmailEnvelope, boundary: &str) -> io::Result<()> {
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
    head += &format!("Subject: {OUTER_SUBJECT}\r\n");
    // Lets mail clients open the file as a message to send rather than one received.
    head += "X-Unsent: 1\r\n";
    head += &format!("Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";\r\n boundary=\"{boundary}\"\r\n");
    head += "\r\nThis is an OpenPGP/MIME encrypted message (RFC 3156).\r\n";
    head += &format!("--{boundary}\r\nContent-Type: application/pgp-encrypted\r\nContent-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n\r\n");
    head += &format!(
        "--{boundary}\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\
         Content-Description: OpenPGP encrypted message\r\nContent-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n"
    );
    w.write_all(head.as_bytes())
}

/// Closes the email after the armored message.
pub fn write_email_tail(w: &mut dyn Write, boundary: &str) -> io::Result<()> {
    w.write_all(format!("\r\n--{boundary}--\r\n").as_bytes())
}

fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// Turns LF into CRLF when enabled (the armored text inside an email); passes through otherwise.
pub struct CrlfWriter<W> {
    inner: W,
    enabled: bool,
    scratch: Vec<u8>,
}

impl<W: Write> CrlfWriter<W> {
    /// Wraps a writer.
    pub fn new(inner: W, enabled: bool) -> Self {
        CrlfWriter {
            inner,
            enabled,
            scratch: Vec::new(),
        }
    }
}

impl<W: Write> Write for CrlfWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.enabled {
            return self.inner.write(buf);
        }
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

/// A `mailto:` URL with the armored message as body, when it stays under `max_len` characters
/// (mail clients and OS handlers truncate long URLs; 2000 is safe everywhere).
pub fn mailto(to: &str, armored: &str, max_len: usize) -> Option<String> {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let url = format!(
        "mailto:{}?subject={}&body={}",
        enc(to).replace("%40", "@"),
        enc(OUTER_SUBJECT),
        enc(armored)
    );
    (url.len() <= max_len).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_writer_converts_only_when_enabled() {
        let mut out = Vec::new();
        CrlfWriter::new(&mut out, true)
            .write_all(b"a\nb\r\nc")
            .unwrap();
        assert_eq!(out, b"a\r\nb\r\nc");
        let mut out = Vec::new();
        CrlfWriter::new(&mut out, false).write_all(b"a\nb").unwrap();
        assert_eq!(out, b"a\nb");
    }

    #[test]
    fn mailto_fits_or_not() {
        let url = mailto(
            "security@novu.co",
            "-----BEGIN PGP MESSAGE-----\nabc\n",
            2000,
        )
        .unwrap();
        assert!(url.starts_with("mailto:security@novu.co?subject=Encrypted%20vulnerability%20report&body=-----BEGIN%20PGP"));
        assert!(mailto("a@b", &"x".repeat(3000), 2000).is_none());
    }
}
