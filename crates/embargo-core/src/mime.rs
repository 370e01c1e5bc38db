//! MIME pieces: header encoding for what we write, and a streaming multipart reader for what we
//! open (bodies are decoded as they stream, never held whole).

use std::collections::BTreeMap;
use std::io::{self, Read};

use base64::Engine as _;

use crate::limits::MAX_HEADER_BLOCK_BYTES as MAX_HEADER_BYTES;
/// Read size of the streaming reader.
const CHUNK: usize = 64 * 1024;

/// A random boundary: 128 bits, so it cannot occur in binary parts by chance.
pub fn boundary() -> String {
    let bytes: [u8; 16] = rand::random();
    format!(
        "embargo-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// A header value: as-is when it is printable ASCII, else RFC 2047 encoded words.
pub fn encode_header(value: &str) -> String {
    let value: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if value.is_ascii() {
        return value;
    }
    // Encoded words are at most 75 characters: split on character boundaries.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in value.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    words.push(chunk);
    words
        .iter()
        .map(|w| {
            format!(
                "=?utf-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w)
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// `name="…"` style parameter; RFC 2231 `name*=utf-8''…` when not plain ASCII.
pub fn param(key: &str, value: &str) -> String {
    let plain = value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if plain {
        format!("{key}=\"{value}\"")
    } else {
        let enc: String = value
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        format!("{key}*=utf-8''{enc}")
    }
}

/// Content type sniffed from the first bytes of a file.
pub fn sniff(head: &[u8]) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    let text = match std::str::from_utf8(head) {
        Ok(_) => true,
        // A multi-byte character cut at the end of the sample is still text.
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 > head.len(),
    };
    if text && !head.contains(&0) {
        "text/plain".into()
    } else {
        "application/octet-stream".into()
    }
}

/// The headers of one entity, names lower-cased, folded lines joined.
#[derive(Debug, Default, Clone)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// First value of a header.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `Content-Type` main value (lower case) and parameters.
    pub fn content_type(&self) -> (String, BTreeMap<String, String>) {
        parse_params(self.get("content-type").unwrap_or("text/plain"))
    }

    /// The file name, from `Content-Disposition` or else `Content-Type`'s `name`.
    pub fn filename(&self) -> Option<String> {
        let from_disp = self
            .get("content-disposition")
            .map(parse_params)
            .and_then(|(_, p)| p.get("filename").cloned());
        from_disp.or_else(|| self.content_type().1.get("name").cloned())
    }

    /// `Content-Transfer-Encoding`, lower case, `7bit` when absent.
    pub fn transfer_encoding(&self) -> String {
        self.get("content-transfer-encoding")
            .unwrap_or("7bit")
            .trim()
            .to_ascii_lowercase()
    }
}

/// Splits `type/sub; a=b; c="d"; e*=utf-8''%41` into the main value and decoded parameters.
pub fn parse_params(value: &str) -> (String, BTreeMap<String, String>) {
    let mut parts = split_unquoted(value);
    let main = parts.remove(0).trim().to_ascii_lowercase();
    let mut params = BTreeMap::new();
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim();
        if let Some(k) = k.strip_suffix('*') {
            // RFC 2231: charset'language'percent-encoded
            let enc = v.splitn(3, '\'').nth(2).unwrap_or(v);
            params.insert(k.to_owned(), percent_decode(enc));
        } else {
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .map(|v| v.replace("\\\"", "\"").replace("\\\\", "\\"));
            params.entry(k).or_insert_with(|| {
                v.unwrap_or_else(|| {
                    p.split_once('=')
                        .map(|x| x.1.trim().to_owned())
                        .unwrap_or_default()
                })
            });
        }
    }
    (main, params)
}

fn split_unquoted(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut escaped = false;
    for c in s.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(String::new());
                continue;
            }
            _ => {}
        }
        out.last_mut().expect("never empty").push(c);
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a MIME stream could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MimeError {
    /// The underlying stream failed (when it is a decryptor: the message is corrupt or tampered).
    #[error("reading the MIME stream failed: {0}")]
    Read(io::Error),
    /// A header block is not headers.
    #[error("malformed MIME header: {0}")]
    BadHeader(String),
    /// A header block over the limit.
    #[error("a MIME header block is over the limit of {MAX_HEADER_BYTES} bytes")]
    HeaderTooLarge,
    /// The stream ended inside a part.
    #[error("MIME stream ends before its closing boundary")]
    Truncated,
    /// Base64 that does not decode.
    #[error("bad base64 in MIME part: {0}")]
    BadBase64(String),
}

/// A buffered reader over a MIME stream that reads headers and streams multipart bodies.
pub struct MimeReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    delimiter: Vec<u8>,
    finder: memchr::memmem::Finder<'static>,
}

impl<R: Read> MimeReader<R> {
    /// Wraps a stream positioned at the start of an entity's headers.
    pub fn new(inner: R) -> Self {
        MimeReader {
            inner,
            buf: vec![0; CHUNK * 2],
            start: 0,
            end: 0,
            eof: false,
            delimiter: Vec::new(),
            finder: memchr::memmem::Finder::new(b"\n").into_owned(),
        }
    }

    /// The wrapped reader.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Unwraps the reader; buffered bytes are dropped.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn fill(&mut self) -> Result<bool, MimeError> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() + CHUNK, 0);
        }
        let n = loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(MimeError::Read(e)),
            }
        };
        if n == 0 {
            self.eof = true;
        }
        self.end += n;
        Ok(n > 0)
    }

    fn read_line(&mut self, limit: usize) -> Result<Option<Vec<u8>>, MimeError> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                let mut line = self.buf[self.start..self.start + i].to_vec();
                self.start += i + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(line));
            }
            if self.end - self.start > limit {
                return Err(MimeError::HeaderTooLarge);
            }
            if !self.fill()? {
                if self.start == self.end {
                    return Ok(None);
                }
                let line = self.buf[self.start..self.end].to_vec();
                self.start = self.end;
                return Ok(Some(line));
            }
        }
    }

    /// Reads one header block up to and including its empty line.
    pub fn read_headers(&mut self) -> Result<Headers, MimeError> {
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut total = 0;
        loop {
            let Some(line) = self.read_line(MAX_HEADER_BYTES)? else {
                return Err(MimeError::Truncated);
            };
            total += line.len() + 2;
            if total > MAX_HEADER_BYTES {
                return Err(MimeError::HeaderTooLarge);
            }
            if line.is_empty() {
                return Ok(Headers(headers));
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            if line.starts_with([' ', '\t']) {
                match headers.last_mut() {
                    Some((_, v)) => {
                        v.push(' ');
                        v.push_str(line.trim());
                    }
                    None => {
                        return Err(MimeError::BadHeader(format!(
                            "continuation without header: {}",
                            excerpt(&line)
                        )))
                    }
                }
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(MimeError::BadHeader(format!(
                    "not a header line: {}",
                    excerpt(&line)
                )));
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(MimeError::BadHeader(format!(
                    "bad header name: {}",
                    excerpt(name)
                )));
            }
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
    }

    /// Enters a multipart body with this boundary: skips the preamble up to the first delimiter.
    pub fn begin_multipart(&mut self, boundary: &str) -> Result<(), MimeError> {
        self.delimiter = format!("\n--{boundary}").into_bytes();
        self.finder = memchr::memmem::Finder::new(&self.delimiter).into_owned();
        // The first delimiter may open the body: give it the line break it lacks.
        self.unread_line_break();
        self.stream_body::<MimeError>(&mut |_| Ok(()))
    }

    /// Puts a line break back in front of the unread bytes.
    fn unread_line_break(&mut self) {
        if self.start == 0 {
            if self.end == self.buf.len() {
                self.buf.push(0);
            }
            self.buf.copy_within(0..self.end, 1);
            self.end += 1;
        } else {
            self.start -= 1;
        }
        self.buf[self.start] = b'\n';
    }

    /// After a delimiter: the next part's headers, or `None` at the closing delimiter.
    pub fn next_part(&mut self) -> Result<Option<Headers>, MimeError> {
        while self.end - self.start < 2 {
            if !self.fill()? {
                return Err(MimeError::Truncated);
            }
        }
        if &self.buf[self.start..self.start + 2] == b"--" {
            self.start += 2;
            return Ok(None);
        }
        // Transport padding up to the line end.
        self.read_line(1024)?;
        let headers = self.read_headers()?;
        // RFC 2046 makes a part's body optional: then the delimiter follows the headers at once
        // ("…\r\n\r\n--boundary"), sharing the header block's last line break.
        let dash_boundary = self.delimiter.len().saturating_sub(1);
        while self.end - self.start < dash_boundary && self.fill()? {}
        if dash_boundary > 0 && self.buf[self.start..self.end].starts_with(&self.delimiter[1..]) {
            self.unread_line_break();
        }
        Ok(Some(headers))
    }

    /// Streams the current part's raw body to `sink`, up to (not including) the next delimiter.
    /// The sink's own errors come back as they are.
    pub fn stream_body<E: From<MimeError>>(
        &mut self,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let keep = self.delimiter.len() + 1;
        loop {
            if let Some(i) = self.finder.find(&self.buf[self.start..self.end]) {
                let mut body_end = self.start + i;
                if body_end > self.start && self.buf[body_end - 1] == b'\r' {
                    body_end -= 1;
                }
                sink(&self.buf[self.start..body_end])?;
                self.start += i + self.delimiter.len();
                return Ok(());
            }
            if self.end - self.start > keep {
                let upto = self.end - keep;
                sink(&self.buf[self.start..upto])?;
                self.start = upto;
            }
            if !self.fill()? {
                return Err(MimeError::Truncated.into());
            }
        }
    }

    /// Streams the current part decoded by its transfer encoding (base64; anything else is
    /// passed through as it is).
    pub fn stream_decoded<E: From<MimeError>>(
        &mut self,
        encoding: &str,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if encoding != "base64" {
            return self.stream_body(sink);
        }
        let mut decoder = Base64Stream::default();
        let mut out = Vec::with_capacity(CHUNK);
        self.stream_body(&mut |chunk| {
            out.clear();
            decoder
                .push(chunk, &mut out)
                .map_err(MimeError::BadBase64)?;
            sink(&out)
        })?;
        out.clear();
        decoder.finish(&mut out).map_err(MimeError::BadBase64)?;
        sink(&out)
    }

    /// Reads the rest of the stream (the epilogue) and discards it.
    pub fn drain(&mut self) -> Result<(), MimeError> {
        self.start = self.end;
        while self.fill()? {
            self.start = self.end;
        }
        Ok(())
    }
}

/// Incremental base64 encoder writing 76-character lines ending in CRLF (RFC 2045).
#[derive(Default)]
pub struct Base64Lines {
    pending: Vec<u8>,
    out: Vec<u8>,
}

impl Base64Lines {
    const LINE_IN: usize = 57;

    /// Encodes what makes whole lines; keeps the rest for the next call.
    pub fn push(&mut self, mut input: &[u8]) -> &[u8] {
        self.out.clear();
        if !self.pending.is_empty() {
            let take = (Self::LINE_IN - self.pending.len()).min(input.len());
            self.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.pending.len() == Self::LINE_IN {
                let line = std::mem::take(&mut self.pending);
                self.line(&line);
            }
        }
        let whole = input.len() / Self::LINE_IN * Self::LINE_IN;
        self.out.reserve(whole / Self::LINE_IN * 78);
        for line in input[..whole].chunks_exact(Self::LINE_IN) {
            self.line(line);
        }
        self.pending.extend_from_slice(&input[whole..]);
        &self.out
    }

    /// Encodes the rest, padded, and ends the part's body with a line break.
    pub fn finish(&mut self) -> &[u8] {
        self.out.clear();
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            self.line(&rest);
        }
        &self.out
    }

    fn line(&mut self, bytes: &[u8]) {
        let start = self.out.len();
        self.out.resize(start + bytes.len().div_ceil(3) * 4, 0);
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(bytes, &mut self.out[start..])
            .expect("buffer sized for the encoding");
        self.out.truncate(start + n);
        self.out.extend_from_slice(b"\r\n");
    }
}

/// Incremental base64 decoder that ignores line breaks.
#[derive(Default)]
struct Base64Stream {
    pending: Vec<u8>,
}

impl Base64Stream {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        // Line breaks are the only whitespace in practice: copy the runs between them.
        let mut rest = chunk;
        while let Some(i) = memchr::memchr2(b'\r', b'\n', rest) {
            self.pending.extend_from_slice(&rest[..i]);
            rest = &rest[i + 1..];
        }
        self.pending.extend_from_slice(rest);
        if memchr::memchr2(b' ', b'\t', &self.pending).is_some() {
            self.pending.retain(|b| !b.is_ascii_whitespace());
        }
        let whole = self.pending.len() / 4 * 4;
        // Keep the last quantum back: it may carry padding that must be last.
        let cut = whole.saturating_sub(4);
        base64::engine::general_purpose::STANDARD
            .decode_vec(&self.pending[..cut], out)
            .map_err(|e| e.to_string())?;
        self.pending.drain(..cut);
        Ok(())
    }

    fn finish(self, out: &mut Vec<u8>) -> Result<(), String> {
        base64::engine::general_purpose::STANDARD
            .decode_vec(&self.pending, out)
            .map_err(|e| e.to_string())
    }
}

/// The first 60 characters of a line from a message, controls and bidi characters escaped, for
/// an error message (found by cargo-fuzz: a header name of NUL bytes reached the terminal raw).
fn excerpt(s: &str) -> String {
    crate::text::shown(&s.chars().take(60).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(stream: &[u8], chunk: usize) -> Vec<(Headers, Vec<u8>)> {
        struct Slow<'a>(&'a [u8], usize);
        impl Read for Slow<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(self.1);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut r = MimeReader::new(Slow(stream, chunk));
        let top = r.read_headers().unwrap();
        let (_, params) = top.content_type();
        r.begin_multipart(&params["boundary"]).unwrap();
        let mut out = Vec::new();
        while let Some(h) = r.next_part().unwrap() {
            let mut body = Vec::new();
            let enc = h.transfer_encoding();
            r.stream_decoded::<MimeError>(&enc, &mut |b| {
                body.extend_from_slice(b);
                Ok(())
            })
            .unwrap();
            out.push((h, body));
        }
        out
    }

    /// RFC 2046 makes a part's body optional: the delimiter may follow the header block at once.
    /// Found by fuzzing (bundle_read): an empty attachment written without the delimiter's own
    /// line break was read as a missing part.
    #[test]
    fn a_part_without_a_body() {
        let msg = b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--b--\r\n";
        for chunk in [1, 2, 5, 4096] {
            let p = parts(msg, chunk);
            assert_eq!(p.len(), 2, "chunk {chunk}");
            assert_eq!(p[0].1, b"");
            assert_eq!(p[1].1, b"second");
        }
    }

    #[test]
    fn multipart_round_trip_in_any_chunking() {
        let binary: Vec<u8> = (0..70_000u32)
            .map(|i| (i * 7 % 251) as u8)
            .chain(*b"\r\n--embargo-\r\n")
            .collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(b"hello base64 world");
        let mut msg = b"Content-Type: multipart/mixed;\r\n boundary=\"embargo-x\"\r\n\r\n--embargo-x\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--embargo-x\r\nContent-Type: application/octet-stream; name*=utf-8''%C3%A9t%C3%A9.bin\r\nContent-Transfer-Encoding: binary\r\n\r\n".to_vec();
        msg.extend(&binary);
        msg.extend(b"\r\n--embargo-x  \r\nContent-Transfer-Encoding: base64\r\n\r\n");
        msg.extend(
            b64.as_bytes()
                .chunks(5)
                .flat_map(|c| c.iter().copied().chain(*b"\r\n")),
        );
        msg.extend(b"\r\n--embargo-x--\r\nepilogue");
        for chunk in [1, 3, 17, 4096, 1 << 20] {
            let p = parts(&msg, chunk);
            assert_eq!(p.len(), 3);
            assert_eq!(p[0].1, b"first");
            assert_eq!(p[1].0.filename().as_deref(), Some("été.bin"));
            assert_eq!(p[1].1, binary, "chunk {chunk}");
            assert_eq!(p[2].1, b"hello base64 world");
        }
    }

    #[test]
    fn base64_lines_match_one_shot_encoding_in_any_chunking() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 256) as u8).collect();
        for chunk in [1, 56, 57, 58, 4096] {
            let mut enc = Base64Lines::default();
            let mut out = Vec::new();
            for c in data.chunks(chunk) {
                out.extend_from_slice(enc.push(c));
            }
            out.extend_from_slice(enc.finish());
            assert!(out.split(|&b| b == b'\n').all(|l| l.len() <= 77));
            let joined: Vec<u8> = out
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            assert_eq!(
                joined,
                base64::engine::general_purpose::STANDARD
                    .encode(&data)
                    .into_bytes(),
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn truncated_multipart_is_an_error() {
        let msg = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nno end";
        let mut r = MimeReader::new(&msg[..]);
        r.read_headers().unwrap();
        r.begin_multipart("b").unwrap();
        r.next_part().unwrap().unwrap();
        assert!(matches!(
            r.stream_body::<MimeError>(&mut |_| Ok(())),
            Err(MimeError::Truncated)
        ));
    }

    #[test]
    fn header_encoding() {
        assert_eq!(encode_header("plain"), "plain");
        assert_eq!(encode_header("é"), "=?utf-8?B?w6k=?=");
        assert_eq!(param("name", "a b.txt"), "name=\"a b.txt\"");
        assert_eq!(param("name", "é.txt"), "name*=utf-8''%C3%A9.txt");
        assert_eq!(sniff(b"%PDF-1.7 blah"), "application/pdf");
        assert_eq!(sniff(b"plain words"), "text/plain");
        assert_eq!(sniff(&[0, 1, 2, 255]), "application/octet-stream");
    }
}
