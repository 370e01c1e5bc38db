//! The HTTPS client every network use shares (https only, bounded https redirects, timeouts,
//! explicit proxy, extra CA, DNS override; rustls with the ring provider) and the [`Transport`]
//! seam that lets the logic above it run without sockets.
//!
//! Configuration for tests and private deployments comes from two environment variables:
//! - `EMBARGO_CA_FILE`: a PEM file of extra trusted CA certificates, trusted in addition to the
//!   system's roots.
//! - `EMBARGO_RESOLVE`: `host=ip,host=ip` — connect to `ip` when a URL names `host`, like curl's
//!   `--resolve`; the URL (and so the TLS server name and `Host:` header) is unchanged. The port
//!   is the URL's (443 for every URL discovery makes). `host=ip:port` (`host=[v6]:port`) connects
//!   to that port instead, for URLs without an explicit port: this is how tests point
//!   `https://example.test/…` at a loopback server on a random port without changing any URL.
//!
//! With `--proxy socks5h://…` names are resolved by the proxy, so `EMBARGO_RESOLVE` does not
//! apply to them. No proxy is taken from the environment (`HTTPS_PROXY` is ignored): a proxy is
//! used only when given explicitly.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

/// Environment variable naming a PEM file of extra trusted CA certificates.
pub const ENV_CA_FILE: &str = "EMBARGO_CA_FILE";
/// Environment variable with DNS overrides, `host=ip[:port],…`.
pub const ENV_RESOLVE: &str = "EMBARGO_RESOLVE";

/// One DNS override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    /// Host name, lower case.
    pub host: String,
    /// Address to connect to.
    pub ip: IpAddr,
    /// Port to connect to for URLs without an explicit port; `None` keeps the URL's.
    pub port: Option<u16>,
}

/// How the client connects.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Extra trusted CA certificates (PEM), besides the system's roots.
    pub ca_file: Option<PathBuf>,
    /// DNS overrides.
    pub resolve: Vec<Resolve>,
    /// Proxy URL (`socks5h://…`, `socks5://…`, `http://…`, `https://…`).
    pub proxy: Option<String>,
    /// Time to establish a connection (TCP + TLS).
    pub connect_timeout: Duration,
    /// Time for a whole request, body included.
    pub timeout: Duration,
    /// Redirects followed (https to https only).
    pub max_redirects: usize,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            ca_file: None,
            resolve: Vec::new(),
            proxy: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(20),
            max_redirects: 5,
        }
    }
}

/// Why a client cannot be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// `EMBARGO_CA_FILE` cannot be read.
    #[error("cannot read the CA file {path} (EMBARGO_CA_FILE): {source}")]
    CaFileRead {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `EMBARGO_CA_FILE` holds no usable certificate.
    #[error("the CA file {path} (EMBARGO_CA_FILE) holds no PEM certificate: {reason}")]
    CaFileInvalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// An `EMBARGO_RESOLVE` entry is not `host=ip` or `host=ip:port`.
    #[error("EMBARGO_RESOLVE entry {entry:?} is not host=ip or host=ip:port: {reason}")]
    ResolveSyntax {
        /// The entry.
        entry: String,
        /// What is wrong.
        reason: String,
    },
    /// The proxy URL is not usable.
    #[error("proxy {proxy:?} is not usable: {reason}")]
    Proxy {
        /// The proxy as given.
        proxy: String,
        /// What is wrong.
        reason: String,
    },
    /// The TLS or HTTP client cannot be built.
    #[error("cannot set up the HTTPS client: {reason}")]
    Client {
        /// What failed.
        reason: String,
    },
    /// The async runtime cannot be started.
    #[error("cannot start the network runtime: {source}")]
    Runtime {
        /// The I/O error.
        source: std::io::Error,
    },
}

impl NetConfig {
    /// Defaults plus `EMBARGO_CA_FILE` and `EMBARGO_RESOLVE`.
    pub fn from_env() -> Result<NetConfig, NetError> {
        let mut cfg = NetConfig::default();
        if let Some(path) = std::env::var_os(ENV_CA_FILE).filter(|v| !v.is_empty()) {
            cfg.ca_file = Some(PathBuf::from(path));
        }
        if let Ok(spec) = std::env::var(ENV_RESOLVE) {
            cfg.resolve = parse_resolve(&spec)?;
        }
        Ok(cfg)
    }
}

/// Parses `host=ip,host=ip:port,host=[v6]:port`.
pub fn parse_resolve(spec: &str) -> Result<Vec<Resolve>, NetError> {
    let mut out = Vec::new();
    for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let err = |reason: &str| NetError::ResolveSyntax {
            entry: entry.to_owned(),
            reason: reason.to_owned(),
        };
        let (host, target) = entry.split_once('=').ok_or_else(|| err("no `=`"))?;
        let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() || host.contains([':', '/', ' ']) {
            return Err(err("the host must be a bare name"));
        }
        let target = target.trim();
        let (ip, port) = if let Ok(sa) = target.parse::<SocketAddr>() {
            (sa.ip(), Some(sa.port()))
        } else if let Ok(ip) = target.trim_matches(['[', ']']).parse::<IpAddr>() {
            (ip, None)
        } else {
            return Err(err(
                "the target must be an IP address, optionally with :port",
            ));
        };
        if port == Some(0) {
            return Err(err("port 0"));
        }
        out.push(Resolve { host, ip, port });
    }
    Ok(out)
}

/// A refused redirect, carried through reqwest's error chain and recognised by type.
#[derive(Debug)]
struct RedirectRefused {
    location: String,
    reason: &'static str,
}

impl fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "redirect to {} refused: {}", self.location, self.reason)
    }
}

impl std::error::Error for RedirectRefused {}

fn tls_config(cfg: &NetConfig) -> Result<rustls::ClientConfig, NetError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut extra = Vec::new();
    if let Some(path) = &cfg.ca_file {
        let shown = path.display().to_string();
        let pem = std::fs::read(path).map_err(|source| NetError::CaFileRead {
            path: shown.clone(),
            source,
        })?;
        use rustls::pki_types::pem::PemObject;
        for der in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
            extra.push(der.map_err(|e| NetError::CaFileInvalid {
                path: shown.clone(),
                reason: e.to_string(),
            })?);
        }
        if extra.is_empty() {
            return Err(NetError::CaFileInvalid {
                path: shown,
                reason: "no CERTIFICATE block".into(),
            });
        }
    }
    let client_err = |e: &dyn fmt::Display| NetError::Client {
        reason: e.to_string(),
    };
    let verifier = if extra.is_empty() {
        rustls_platform_verifier::Verifier::new(provider.clone())
    } else {
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
    }
    .map_err(|e| client_err(&e))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| client_err(&e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(config)
}

/// Builds the HTTPS client: https only, redirects only to https on the same port (or 443) and
/// at most `max_redirects`, the timeouts, the proxy, the extra CA and the DNS overrides.
pub fn client(cfg: &NetConfig) -> Result<reqwest::Client, NetError> {
    let max = cfg.max_redirects;
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        let next = attempt.url().clone();
        let refuse = |reason| RedirectRefused {
            location: next.to_string(),
            reason,
        };
        if next.scheme() != "https" {
            return attempt.error(refuse("not https"));
        }
        let first_port = attempt
            .previous()
            .first()
            .and_then(Url::port_or_known_default);
        let port = next.port_or_known_default();
        if port != Some(443) && port != first_port {
            return attempt.error(refuse("another port"));
        }
        if attempt.previous().len() > max {
            return attempt.error(refuse("too many redirects"));
        }
        attempt.follow()
    });
    build(
        client_builder(cfg)?
            .https_only(true)
            .redirect(policy)
            .timeout(cfg.timeout),
    )
}

/// What every client Embargo makes shares: its TLS roots, the connect timeout, the user
/// agent, the test resolver overrides and the proxy (no system proxy is ever used implicitly).
fn client_builder(cfg: &NetConfig) -> Result<reqwest::ClientBuilder, NetError> {
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(cfg)?)
        .connect_timeout(cfg.connect_timeout)
        .no_proxy()
        .user_agent(concat!("embargo/", env!("CARGO_PKG_VERSION")));
    for r in &cfg.resolve {
        builder = builder.resolve(&r.host, SocketAddr::new(r.ip, r.port.unwrap_or(0)));
    }
    if let Some(proxy) = &cfg.proxy {
        builder = builder.proxy(check_proxy(proxy)?);
    }
    Ok(builder)
}

/// A proxy URL the client can use: `socks5h://`, `socks5://`, `http://` or `https://` with a
/// host (anything else would silently send requests some other way).
pub fn check_proxy(proxy: &str) -> Result<reqwest::Proxy, NetError> {
    let bad = |reason: String| NetError::Proxy {
        proxy: proxy.to_owned(),
        reason,
    };
    let url = Url::parse(proxy).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "socks5h" | "socks5" | "http" | "https") {
        return Err(bad(format!(
            "`{}` is not a proxy scheme (socks5h, socks5, http or https)",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it names no host".into()));
    }
    reqwest::Proxy::all(proxy).map_err(|e| bad(error_chain(&e)))
}

fn build(builder: reqwest::ClientBuilder) -> Result<reqwest::Client, NetError> {
    builder.build().map_err(|e| NetError::Client {
        reason: error_chain(&e),
    })
}

/// Builds the client for an intake server: redirects are never followed (a report goes where
/// the user said, or nowhere), the scheme is checked by the caller (https, or http to
/// loopback), and instead of a deadline for the whole request, which a large upload would
/// exceed, every read must make progress within the timeout.
pub fn intake_client(cfg: &NetConfig) -> Result<reqwest::Client, NetError> {
    build(
        client_builder(cfg)?
            .redirect(reqwest::redirect::Policy::none())
            .read_timeout(cfg.timeout),
    )
}

/// What a GET returned.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// The URL after redirects.
    pub url: Url,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body, at most the limit asked for.
    pub body: Vec<u8>,
}

/// Why a GET failed, naming the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Only https URLs are fetched.
    #[error("{url}: not fetched, only https:// URLs are")]
    NotHttps {
        /// The URL.
        url: String,
    },
    /// A redirect that is not https (or changes the port) was refused.
    #[error("{url}: redirect to {location} refused ({reason})")]
    RedirectRefused {
        /// The URL asked for.
        url: String,
        /// Where it redirected to.
        location: String,
        /// Why it was refused.
        reason: String,
    },
    /// No answer in time.
    #[error("{url}: timed out after {seconds} s")]
    Timeout {
        /// The URL.
        url: String,
        /// The limit, in seconds.
        seconds: u64,
    },
    /// The TLS handshake failed (untrusted certificate, wrong name…).
    #[error("{url}: TLS failed: {reason}")]
    Tls {
        /// The URL.
        url: String,
        /// rustls's reason.
        reason: String,
    },
    /// No connection (no such host, refused…).
    #[error("{url}: cannot connect: {reason}")]
    Connect {
        /// The URL.
        url: String,
        /// The reason.
        reason: String,
    },
    /// The body is larger than the limit.
    #[error("{url}: the answer is larger than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// Any other HTTP failure.
    #[error("{url}: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// The reason.
        reason: String,
    },
}

impl FetchError {
    /// The host could not be reached at all (no DNS name, connection refused): for optional
    /// lookups such as WKD's `openpgpkey.` subdomain this means "not offered", not "broken".
    pub fn is_unreachable(&self) -> bool {
        matches!(self, FetchError::Connect { .. })
    }
}

/// Fetches URLs. The real one is [`HttpTransport`]; tests may serve answers from memory.
pub trait Transport: Sync {
    /// GETs `url`, following redirects as the client allows, reading at most `limit` bytes of
    /// body (more is [`FetchError::TooLarge`]). Any HTTP status is a `Response`.
    fn get(
        &self,
        url: &Url,
        limit: usize,
    ) -> impl Future<Output = Result<Response, FetchError>> + Send;

    /// Where a host name leads, as a connection to it would go.
    fn resolve(&self, host: &str) -> impl Future<Output = Resolved> + Send;
}

/// Where a host name leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// The user said where it goes (`EMBARGO_RESOLVE`): their own choice, not checked.
    Configured,
    /// Through a proxy, which resolves names itself (looking them up here would leak them).
    ViaProxy,
    /// These addresses.
    Addresses(Vec<IpAddr>),
    /// It does not resolve.
    Unresolvable(String),
}

/// Whether an address is on the public internet: not this machine (loopback, unspecified), not
/// a private, shared (CGNAT), link-local, unique-local or multicast network. A URL from a
/// remote document must not make Embargo send anything to the researcher's own machine or
/// network.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// The reqwest implementation of [`Transport`].
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    timeout: Duration,
    resolve: Vec<Resolve>,
    proxied: bool,
}

impl HttpTransport {
    /// A transport with the client [`client`] builds.
    pub fn new(cfg: &NetConfig) -> Result<HttpTransport, NetError> {
        Ok(HttpTransport {
            client: client(cfg)?,
            timeout: cfg.timeout,
            resolve: cfg.resolve.clone(),
            proxied: cfg.proxy.is_some(),
        })
    }

    /// The underlying client, for other requests (the intake client posts with it).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Turns a reqwest error into a [`FetchError`] naming `url`.
    pub fn classify(&self, url: &Url, e: &reqwest::Error) -> FetchError {
        classify(url, e, self.timeout)
    }
}

/// The error's message with its sources, `a: b: c`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// Finds an error of type `E` in a chain, looking inside `io::Error`s too (their `source()`
/// skips the error they wrap).
fn find_in_chain<'a, E: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if let Some(found) = c.downcast_ref::<E>() {
            return Some(found);
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(found) = find_in_chain::<E>(inner) {
                    return Some(found);
                }
            }
        }
        cur = c.source();
    }
    None
}

fn classify(url: &Url, e: &reqwest::Error, timeout: Duration) -> FetchError {
    let url_s = url.to_string();
    if let Some(r) = find_in_chain::<RedirectRefused>(e) {
        return FetchError::RedirectRefused {
            url: url_s,
            location: r.location.clone(),
            reason: r.reason.to_owned(),
        };
    }
    if e.is_timeout() {
        return FetchError::Timeout {
            url: url_s,
            seconds: timeout.as_secs(),
        };
    }
    if let Some(tls) = find_in_chain::<rustls::Error>(e) {
        return FetchError::Tls {
            url: url_s,
            reason: tls.to_string(),
        };
    }
    if e.is_connect() {
        return FetchError::Connect {
            url: url_s,
            reason: error_chain(e),
        };
    }
    FetchError::Http {
        url: url_s,
        reason: error_chain(e),
    }
}

impl Transport for HttpTransport {
    async fn resolve(&self, host: &str) -> Resolved {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if self.resolve.iter().any(|r| r.host == host) {
            return Resolved::Configured;
        }
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Resolved::Addresses(vec![ip]);
        }
        if self.proxied {
            return Resolved::ViaProxy;
        }
        let lookup = tokio::net::lookup_host(format!("{host}:443"));
        let answer = tokio::time::timeout(self.timeout, lookup).await;
        match answer {
            Ok(Ok(addrs)) => Resolved::Addresses(addrs.map(|a| a.ip()).collect()),
            Ok(Err(e)) => Resolved::Unresolvable(e.to_string()),
            Err(_) => Resolved::Unresolvable("the lookup timed out".into()),
        }
    }

    async fn get(&self, url: &Url, limit: usize) -> Result<Response, FetchError> {
        if url.scheme() != "https" {
            return Err(FetchError::NotHttps {
                url: url.to_string(),
            });
        }
        let mut resp = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| self.classify(url, &e))?;
        let too_large = || FetchError::TooLarge {
            url: url.to_string(),
            limit,
        };
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let status = resp.status().as_u16();
        let final_url = resp.url().clone();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(url, &e))? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            url: final_url,
            content_type,
            body,
        })
    }
}

/// Runs a future to completion on a current-thread runtime, for callers that are not async
/// (the CLI).
pub fn block_on<F: Future>(future: F) -> Result<F::Output, NetError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| NetError::Runtime { source })?;
    Ok(rt.block_on(future))
}

#[cfg(test)]
mod tests {
    #[test]
    fn public_addresses_are_told_from_this_machine_and_its_networks() {
        use super::is_public;
        for ok in [
            "1.1.1.1",
            "8.8.8.8",
            "2a00:1450:4001:82a::200e",
            "100.128.0.1",
        ] {
            assert!(is_public(ok.parse().unwrap()), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(bad.parse().unwrap()), "{bad}");
        }
    }

    use super::*;

    #[test]
    fn resolve_entries() {
        let r =
            parse_resolve("Example.TEST=127.0.0.1:8443, b.test=::1,c.test=[::1]:9,d.test=10.0.0.1")
                .unwrap();
        assert_eq!(r[0].host, "example.test");
        assert_eq!(r[0].port, Some(8443));
        assert_eq!(r[1].ip, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(r[1].port, None);
        assert_eq!(r[2].port, Some(9));
        assert_eq!(r[3].port, None);
        for bad in ["nohost", "a.test=not-an-ip", "=1.2.3.4", "a.test=1.2.3.4:0"] {
            let e = parse_resolve(bad).unwrap_err();
            assert!(
                e.to_string().contains(bad.split(',').next().unwrap()),
                "{e}"
            );
        }
    }
}
