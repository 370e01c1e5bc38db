//! The intake client: submit with retries (same bytes, same Idempotency-Key), the researcher's
//! status, and the team's endpoints. HTTPS only, except to loopback; no redirects.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use serde::de::DeserializeOwned;
use url::Url;

use crate::net::{NetConfig, NetError};
use crate::protocol::{
    ErrorBody, ErrorCode, ReplyCreated, ReportState, ReportStatus, StatusChange, StatusChanged,
    Submitted, TeamReplies, TeamReports, WireCode,
};

/// Why a request to the intake failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntakeError {
    /// The intake URL is not one Embargo sends reports to.
    #[error("intake URL `{url}`: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// No connection (refused, unreachable, DNS, TLS handshake).
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The server did not answer in time.
    #[error("{url} did not answer in time")]
    Timeout {
        /// The URL.
        url: String,
    },
    /// The server answered with an error.
    #[error("{url} answered {status}: {message}{}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Refused {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The protocol's error code (none when the answer was not the protocol's error body).
        code: Option<WireCode>,
        /// The server's message.
        message: String,
        /// How long the server asked to wait before trying again.
        retry_after: Option<Duration>,
    },
    /// The server answered something that is not the protocol.
    #[error("{url} answered {status} with something that is not the intake protocol: {reason}")]
    Protocol {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What was wrong.
        reason: String,
    },
    /// The intake sent (or listed) more than the client takes.
    #[error("{what} is larger than {limit} bytes")]
    TooLarge {
        /// What.
        what: String,
        /// The cap.
        limit: u64,
    },
    /// Reading what to send, or writing what came, failed.
    #[error("{what}: {source}")]
    Io {
        /// The file.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The HTTP client could not be set up.
    #[error(transparent)]
    Setup(#[from] NetError),
}

impl IntakeError {
    /// Whether sending the same request again may succeed: connection failures, timeouts, and
    /// 408, 425, 429 and 5xx answers. Other 4xx answers will not change.
    pub fn retryable(&self) -> bool {
        match self {
            IntakeError::Unreachable { .. } | IntakeError::Timeout { .. } => true,
            IntakeError::Refused { status, code, .. } => {
                matches!(status, 408 | 425 | 429)
                    || (500..600).contains(status)
                    // The same key is still being stored (another attempt, another replica):
                    // the retry gets the receipt.
                    || matches!(code, Some(WireCode::Known(ErrorCode::SubmissionInProgress)))
            }
            IntakeError::Protocol { status, .. } => (500..600).contains(status),
            _ => false,
        }
    }

    /// The protocol's error code of a refusal, when it is one this version knows.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            IntakeError::Refused {
                code: Some(WireCode::Known(c)),
                ..
            } => Some(*c),
            _ => None,
        }
    }

    /// The server's Retry-After, when it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            IntakeError::Refused { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Told bytes sent so far, of the total.
pub type UploadProgress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Whether a URL may carry reports: https anywhere, plain http only to this machine.
pub fn check_intake_url(url: &str) -> Result<Url, IntakeError> {
    let bad = |reason: &str| IntakeError::BadUrl {
        url: crate::text::shown(url),
        reason: reason.to_owned(),
    };
    let mut parsed = Url::parse(url.trim()).map_err(|e| bad(&e.to_string()))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => return Err(bad("it has no host")),
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(bad(
                "plain http is allowed only to this machine (loopback); a team's intake is served over https",
            ))
        }
        _ => return Err(bad("it is not an https URL")),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("it carries credentials"));
    }
    parsed.set_query(None);
    parsed.set_fragment(None);
    if !parsed.path().ends_with('/') {
        let path = format!("{}/", parsed.path());
        parsed.set_path(&path);
    }
    Ok(parsed)
}

/// One intake server.
#[derive(Clone)]
pub struct Intake {
    base: Url,
    http: reqwest::Client,
}

/// Bytes of an answer read into memory (JSON, replies), at most.
const MAX_ANSWER_BYTES: usize = 16 << 20;

impl Intake {
    /// A client for the intake at `base` (its URL up to `/v1`).
    pub fn new(base: &str, net: &NetConfig) -> Result<Intake, IntakeError> {
        let base = check_intake_url(base)?;
        let http = crate::net::intake_client(net)?;
        Ok(Intake { base, http })
    }

    /// The base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("relative protocol paths join")
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: &Url,
    ) -> Result<reqwest::Response, IntakeError> {
        let resp = req.send().await.map_err(|e| classify(url, &e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(error_answer(url, resp).await)
    }

    async fn json<T: DeserializeOwned>(
        url: &Url,
        resp: reqwest::Response,
    ) -> Result<T, IntakeError> {
        let status = resp.status().as_u16();
        let body = read_capped(url, resp).await?;
        serde_json::from_slice(&body).map_err(|e| IntakeError::Protocol {
            url: url.to_string(),
            status,
            reason: e.to_string(),
        })
    }

    /// `POST /v1/reports` once, streaming the file at `body`.
    pub async fn submit_once(
        &self,
        body: &Path,
        idempotency_key: &str,
        progress: Option<UploadProgress>,
    ) -> Result<Submitted, IntakeError> {
        let url = self.url("v1/reports");
        let io = |source| IntakeError::Io {
            what: format!("cannot read {}", body.display()),
            source,
        };
        let file = std::fs::File::open(body).map_err(io)?;
        let total = file.metadata().map_err(io)?.len();
        let stream = upload_stream(file, total, progress);
        let req = self
            .http
            .post(url.clone())
            .header(CONTENT_TYPE, "application/pgp-encrypted")
            .header(CONTENT_LENGTH, total)
            .header(
                "Idempotency-Key",
                HeaderValue::from_str(idempotency_key).map_err(|_| IntakeError::BadUrl {
                    url: url.to_string(),
                    reason: "the idempotency key is not printable ASCII".into(),
                })?,
            )
            .body(reqwest::Body::wrap_stream(stream));
        let resp = self.send(req, &url).await?;
        Self::json(&url, resp).await
    }

    /// `GET url` with a bearer token, the JSON answer read as `T`.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        token: &str,
    ) -> Result<T, IntakeError> {
        let req = self
            .http
            .get(url.clone())
            .header(AUTHORIZATION, bearer(token)?);
        let resp = self.send(req, &url).await?;
        Self::json(&url, resp).await
    }

    /// `GET /v1/reports/{receipt}` with the status token.
    pub async fn report_state(
        &self,
        receipt: &str,
        status_token: &str,
    ) -> Result<ReportState, IntakeError> {
        let url = self.url(&format!("v1/reports/{}", path_segment(receipt)));
        self.get_json(url, status_token).await
    }

    /// `GET /v1/team/reports?after=…&limit=…`.
    pub async fn team_list(
        &self,
        token: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<TeamReports, IntakeError> {
        let mut url = self.url("v1/team/reports");
        {
            let mut q = url.query_pairs_mut();
            if let Some(a) = after {
                q.append_pair("after", a);
            }
            q.append_pair("limit", &limit.to_string());
        }
        self.get_json(url, token).await
    }

    /// `GET /v1/team/reports/{receipt}/replies`: the replies the team sent.
    pub async fn team_replies(
        &self,
        token: &str,
        receipt: &str,
    ) -> Result<TeamReplies, IntakeError> {
        let url = self.url(&format!(
            "v1/team/reports/{}/replies",
            path_segment(receipt)
        ));
        self.get_json(url, token).await
    }

    /// `GET /v1/team/reports/{receipt}/message`, streamed into `sink`, at most `limit` bytes
    /// (more is [`IntakeError::TooLarge`]); returns the bytes written.
    pub async fn team_message(
        &self,
        token: &str,
        receipt: &str,
        sink: &mut (dyn Write + Send),
        limit: u64,
    ) -> Result<u64, IntakeError> {
        let url = self.url(&format!(
            "v1/team/reports/{}/message",
            path_segment(receipt)
        ));
        let req = self
            .http
            .get(url.clone())
            .header(AUTHORIZATION, bearer(token)?);
        let resp = self.send(req, &url).await?;
        let mut stream = resp.bytes_stream();
        let mut n = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| classify(&url, &e))?;
            if n + chunk.len() as u64 > limit {
                return Err(IntakeError::TooLarge {
                    what: format!("the message of {receipt}"),
                    limit,
                });
            }
            sink.write_all(&chunk).map_err(|source| IntakeError::Io {
                what: format!("cannot store the message of {receipt}"),
                source,
            })?;
            n += chunk.len() as u64;
        }
        Ok(n)
    }

    /// `PUT /v1/team/reports/{receipt}/status`.
    pub async fn team_set_status(
        &self,
        token: &str,
        receipt: &str,
        status: ReportStatus,
    ) -> Result<StatusChanged, IntakeError> {
        let url = self.url(&format!("v1/team/reports/{}/status", path_segment(receipt)));
        let req = self
            .http
            .request(Method::PUT, url.clone())
            .header(AUTHORIZATION, bearer(token)?)
            .json(&StatusChange { status });
        let resp = self.send(req, &url).await?;
        Self::json(&url, resp).await
    }

    /// `POST /v1/team/reports/{receipt}/replies` with one armored OpenPGP message.
    pub async fn team_reply(
        &self,
        token: &str,
        receipt: &str,
        armored: &str,
    ) -> Result<ReplyCreated, IntakeError> {
        let url = self.url(&format!(
            "v1/team/reports/{}/replies",
            path_segment(receipt)
        ));
        let req = self
            .http
            .post(url.clone())
            .header(AUTHORIZATION, bearer(token)?)
            .header(CONTENT_TYPE, "application/pgp-encrypted")
            .body(armored.to_owned());
        let resp = self.send(req, &url).await?;
        Self::json(&url, resp).await
    }
}

/// Sends the same bytes with the same key until the server takes them, a refusal that will not
/// change comes back, or `retry_for` has passed: exponential backoff from half a second to
/// thirty, with full jitter, honouring Retry-After.
pub async fn submit_with_retries(
    intake: &Intake,
    body: &Path,
    idempotency_key: &str,
    retry_for: Duration,
    progress: Option<UploadProgress>,
    on_retry: &(dyn Fn(&IntakeError, Duration) + Send + Sync),
) -> Result<Submitted, IntakeError> {
    let deadline = Instant::now() + retry_for;
    let mut backoff = Duration::from_millis(500);
    loop {
        match intake
            .submit_once(body, idempotency_key, progress.clone())
            .await
        {
            Ok(s) => return Ok(s),
            Err(e) if e.retryable() => {
                let jitter =
                    Duration::from_millis(rand::random_range(0..=backoff.as_millis() as u64));
                let wait = e
                    .retry_after()
                    .unwrap_or(jitter)
                    .max(Duration::from_millis(50));
                if Instant::now() + wait > deadline {
                    return Err(e);
                }
                on_retry(&e, wait);
                tokio::time::sleep(wait).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
            Err(e) => return Err(e),
        }
    }
}

fn bearer(token: &str) -> Result<HeaderValue, IntakeError> {
    HeaderValue::from_str(&format!("Bearer {}", token.trim())).map_err(|_| IntakeError::BadUrl {
        url: String::new(),
        reason: "the token is not printable ASCII".into(),
    })
}

/// Receipts are Crockford base32; anything else is escaped rather than trusted in a path.
fn path_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn classify(url: &Url, e: &reqwest::Error) -> IntakeError {
    if e.is_timeout() {
        return IntakeError::Timeout {
            url: url.to_string(),
        };
    }
    let mut reason = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        reason = format!("{reason}: {s}");
        src = s.source();
    }
    IntakeError::Unreachable {
        url: url.to_string(),
        reason,
    }
}

async fn read_capped(url: &Url, resp: reqwest::Response) -> Result<Vec<u8>, IntakeError> {
    let status = resp.status().as_u16();
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| classify(url, &e))?;
        if out.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(IntakeError::Protocol {
                url: url.to_string(),
                status,
                reason: format!("an answer over {MAX_ANSWER_BYTES} bytes"),
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

async fn error_answer(url: &Url, resp: reqwest::Response) -> IntakeError {
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.min(300)));
    let body = match read_capped(url, resp).await {
        Ok(b) => b,
        Err(e) => return e,
    };
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(e) => IntakeError::Refused {
            url: url.to_string(),
            status: status.as_u16(),
            code: Some(match e.error.code {
                WireCode::Other(c) => WireCode::Other(crate::text::shown(&c)),
                known => known,
            }),
            message: crate::text::shown(&e.error.message),
            retry_after,
        },
        Err(_) => IntakeError::Refused {
            url: url.to_string(),
            status: status.as_u16(),
            code: None,
            message: status.canonical_reason().unwrap_or("error").to_owned(),
            retry_after,
        },
    }
}

/// The file as a stream of 64 KiB chunks, counting what went out.
fn upload_stream(
    file: std::fs::File,
    total: u64,
    progress: Option<UploadProgress>,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    futures_util::stream::try_unfold((file, 0u64), move |(mut file, sent)| {
        let progress = progress.clone();
        async move {
            let mut buf = vec![0u8; crate::bundle::IO_CHUNK];
            let n = loop {
                match file.read(&mut buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            let sent = sent + n as u64;
            if let Some(p) = &progress {
                p(sent, total);
            }
            Ok(Some((buf, (file, sent))))
        }
    })
}
