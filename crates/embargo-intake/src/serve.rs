//! Serving a router on a listener: plain HTTP or TLS (rustls with the ring provider), HTTP/1.1
//! and HTTP/2, with a graceful shutdown that finishes in-flight requests and accepts no new
//! connection; connections capped, idle ones closed (see [`crate::limits`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::limits::Every;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// How long a client may take to send its request headers, or its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("cannot read TLS certificate {path}: {source}")]
    Cert {
        path: String,
        source: rustls_pki_types::pem::Error,
    },
    #[error("TLS certificate file {path} holds no certificate")]
    NoCert { path: String },
    #[error("cannot read TLS key {path}: {source}")]
    Key {
        path: String,
        source: rustls_pki_types::pem::Error,
    },
    #[error("TLS certificate {cert} and key {key} do not make a server configuration: {source}")]
    Config {
        cert: String,
        key: String,
        source: rustls::Error,
    },
}

/// A rustls server configuration from PEM files (HTTP/2 and HTTP/1.1 offered by ALPN).
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|source| TlsError::Cert {
            path: cert.display().to_string(),
            source,
        })?
        .collect::<Result<_, _>>()
        .map_err(|source| TlsError::Cert {
            path: cert.display().to_string(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCert {
            path: cert.display().to_string(),
        });
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Key {
        path: key.display().to_string(),
        source,
    })?;
    let config_err = |source| TlsError::Config {
        cert: cert.display().to_string(),
        key: key.display().to_string(),
        source,
    };
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(config_err)?
            .with_no_client_auth()
            .with_single_cert(certs, private)
            .map_err(config_err)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// How connections are held (see [`crate::limits`]).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionOptions {
    /// Open connections at most; at the cap the longest-idle one is closed for a new one.
    pub max_connections: usize,
    /// How long a connection may stay without a request in progress.
    pub idle_timeout: Duration,
    /// After SIGTERM, how long requests in flight get to finish.
    pub grace: Duration,
}

/// An idle connection asked to close gets this long to do so before it is cut.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How far ahead of "now" a just-accepted connection ranks in the eviction order (see
/// `Registry::admit`): longer than the gap between two bytes of a slow client.
const NEW_CONNECTION_HEAD_START: Duration = Duration::from_secs(3);
/// The connection-cap warning is logged at most this often.
const CAP_WARNING_EVERY: Duration = Duration::from_secs(60);

/// One connection, as the cap and the idle timeout see it.
struct Tracked {
    id: u64,
    /// Requests in progress (from dispatch until their response body is dropped).
    active: AtomicUsize,
    /// When the last request ended (or the connection was accepted).
    idle_since: Mutex<Instant>,
    /// When the connection was last heard from (bytes read, or a request ended), in
    /// milliseconds since the registry's start: the eviction order.
    touched: AtomicU64,
    epoch: Instant,
    evicted: AtomicBool,
    notify: Notify,
}

impl Tracked {
    fn touch(&self) {
        self.touched
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle_since(&self) -> Instant {
        *self.idle_since.lock().expect("idle lock")
    }

    /// When the idle timeout should be looked at again.
    fn next_check(&self, idle: Duration) -> Instant {
        if self.active.load(Ordering::Acquire) > 0 {
            Instant::now() + idle
        } else {
            self.idle_since() + idle
        }
    }

    fn idle_for(&self, idle: Duration) -> bool {
        self.active.load(Ordering::Acquire) == 0 && self.idle_since().elapsed() >= idle
    }

    fn evict(&self) {
        self.evicted.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    async fn evicted(&self) {
        while !self.evicted.load(Ordering::Acquire) {
            self.notify.notified().await;
        }
    }
}

/// A request in progress on a connection.
struct Active(Arc<Tracked>);

impl Active {
    fn enter(conn: &Arc<Tracked>) -> Active {
        conn.active.fetch_add(1, Ordering::AcqRel);
        Active(conn.clone())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        *self.0.idle_since.lock().expect("idle lock") = Instant::now();
        self.0.touch();
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in progress until it is sent.
struct TrackedBody {
    inner: Body,
    _active: Active,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A connection's socket, noting when bytes arrive.
struct Metered<I> {
    io: I,
    tracked: Arc<Tracked>,
}

impl<I: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Metered<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.tracked.touch();
        }
        polled
    }
}

impl<I: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Metered<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// The open connections.
struct Registry {
    max: usize,
    epoch: Instant,
    /// Evicted connections not closed yet.
    closing: AtomicUsize,
    closed_one: Notify,
    next: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Tracked>>>,
    warned: Every,
}

impl Registry {
    /// Room for a new connection: at the cap, the idle connection heard from least recently is
    /// evicted; `None` when every connection has a request in progress.
    fn admit(&self) -> Option<Arc<Tracked>> {
        let mut conns = self.conns.lock().expect("connections");
        if conns.len() >= self.max {
            let victim = conns
                .values()
                .filter(|c| c.active.load(Ordering::Acquire) == 0)
                .min_by_key(|c| c.touched.load(Ordering::Relaxed))
                .map(|c| c.id);
            self.warn_full(victim.is_some());
            let victim = conns.remove(&victim?).expect("victim listed");
            tracing::debug!(
                silent_ms = (self.epoch.elapsed().as_millis() as u64)
                    .saturating_sub(victim.touched.load(Ordering::Relaxed)),
                "evicted the idle connection heard from least recently for a new one"
            );
            victim.evict();
            self.closing.fetch_add(1, Ordering::AcqRel);
        }
        let conn = Arc::new(Tracked {
            id: self.next.fetch_add(1, Ordering::Relaxed),
            active: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            // A new connection ranks as if heard from a little in the future: until its task
            // has read its first bytes it has had no chance to speak, and under a flood of
            // accepts it would otherwise soon be the least recently heard from (a real client
            // cut before its request was read, while slow clients that drip a byte now and
            // then stayed). Connections that have been silent longer go first.
            touched: AtomicU64::new(
                (self.epoch.elapsed() + NEW_CONNECTION_HEAD_START).as_millis() as u64,
            ),
            epoch: self.epoch,
            evicted: AtomicBool::new(false),
            notify: Notify::new(),
        });
        conns.insert(conn.id, conn.clone());
        Some(conn)
    }

    fn remove(&self, tracked: &Tracked) {
        self.conns.lock().expect("connections").remove(&tracked.id);
        if tracked.evicted.load(Ordering::Acquire) {
            self.closing.fetch_sub(1, Ordering::AcqRel);
            self.closed_one.notify_waiters();
        }
    }

    /// Waits until evicted connections have closed their sockets. A burst of accepts must not
    /// open files faster than evicted connections close theirs, nor accept (and so evict) faster
    /// than new connections get to read their request heads: at the cap, accepting goes at the
    /// pace of closing.
    async fn wait_for_closes(&self) {
        loop {
            let closed = self.closed_one.notified();
            if self.closing.load(Ordering::Acquire) == 0 {
                return;
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), closed).await;
        }
    }

    fn warn_full(&self, evicting: bool) {
        if !self.warned.due() {
            return;
        }
        if evicting {
            tracing::warn!(
                max = self.max,
                "connection cap reached: closing the longest-idle connections for new ones"
            );
        } else {
            tracing::warn!(max = self.max, "connection cap reached and every connection is busy: new connections are closed at once");
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets in-flight
/// requests finish for up to `options.grace`, and returns.
pub async fn serve<F>(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<ServerConfig>>,
    shutdown: F,
    options: ConnectionOptions,
) where
    F: Future<Output = ()> + Send,
{
    let acceptor = tls.map(TlsAcceptor::from);
    let registry = Arc::new(Registry {
        max: options.max_connections.max(1),
        epoch: Instant::now(),
        closing: AtomicUsize::new(0),
        closed_one: Notify::new(),
        next: AtomicU64::new(0),
        conns: Mutex::new(HashMap::new()),
        warned: Every::new(CAP_WARNING_EVERY),
    });
    let stopping = CancellationToken::new();
    // Every connection task holds a sender; when all are gone, every connection is closed.
    let (alive, mut all_closed) = mpsc::channel::<()>(1);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.idle_timeout.min(HANDSHAKE_TIMEOUT));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(16)
        // Pings find peers that are gone while a long response is sent.
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(10));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        // The peer address is dropped unread: the intake does not record who connects.
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(tracked) = registry.admit() else {
            tracing::debug!("connection closed at once: every connection is busy");
            drop(stream);
            continue;
        };
        registry.wait_for_closes().await;
        let _ = stream.set_nodelay(true);
        let stream = Metered {
            io: stream,
            tracked: tracked.clone(),
        };
        let connection = Connection {
            builder: builder.clone(),
            app: app.clone(),
            tracked: tracked.clone(),
            _registered: Registered {
                tracked,
                registry: registry.clone(),
            },
            idle: options.idle_timeout,
            stopping: stopping.clone(),
            _alive: alive.clone(),
        };
        match &acceptor {
            None => {
                tokio::spawn(connection.run(stream));
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let handshake = acceptor.accept(stream);
                    let tls = tokio::select! {
                        done = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake) => match done {
                            Ok(Ok(tls)) => tls,
                            Ok(Err(e)) => {
                                tracing::debug!(error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => return,
                        },
                        () = connection.tracked.evicted() => return,
                    };
                    connection.run(tls).await;
                });
            }
        }
    }
    drop(listener);
    tracing::info!("shutting down: no new connections; finishing requests in flight");
    stopping.cancel();
    drop(alive);
    tokio::select! {
        _ = all_closed.recv() => tracing::info!("every connection closed"),
        () = tokio::time::sleep(options.grace) => {
            tracing::warn!(seconds = options.grace.as_secs(), "requests still running after the grace period; stopping anyway");
        }
    }
}

/// A connection's place in the registry, given up (after its socket is closed) when dropped.
struct Registered {
    tracked: Arc<Tracked>,
    registry: Arc<Registry>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.remove(&self.tracked);
    }
}

/// One accepted connection and what it needs to be served.
struct Connection {
    builder: auto::Builder<TokioExecutor>,
    app: Router,
    tracked: Arc<Tracked>,
    _registered: Registered,
    idle: Duration,
    stopping: CancellationToken,
    _alive: mpsc::Sender<()>,
}

impl Connection {
    async fn run<I>(self, io: I)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let tracked = self.tracked.clone();
        let app = self.app.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let active = Active::enter(&tracked);
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await?;
                Ok::<_, Infallible>(response.map(|inner| TrackedBody {
                    inner,
                    _active: active,
                }))
            }
        });
        let conn = self.builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        let mut stopping = false;
        // Set when the idle timeout asked the connection to close.
        let mut closing: Option<Instant> = None;
        loop {
            let wake = match closing {
                Some(at) => at + CLOSE_GRACE,
                None => self.tracked.next_check(self.idle),
            };
            tokio::select! {
                _ = conn.as_mut() => break,
                () = self.tracked.evicted() => break,
                () = self.stopping.cancelled(), if !stopping => {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = tokio::time::sleep_until(wake.into()) => {
                    if closing.is_some() {
                        break;
                    }
                    if self.tracked.idle_for(self.idle) {
                        conn.as_mut().graceful_shutdown();
                        closing = Some(Instant::now());
                    }
                }
            }
        }
        // The socket closes with `conn`; then `_registered` gives the place up.
    }
}
