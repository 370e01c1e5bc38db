//! Serving a router on a listener: plain HTTP or TLS (rustls with the ring provider), HTTP/1.1
//! and HTTP/2, with a graceful shutdown that finishes in-flight requests and accepts no new
//! connection; connections capped, idle ones closed (see [`crate::limits`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustix::net::RecvFlags;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::limits::Every;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
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
    /// Its socket, owned by its [`Metered`]: whether bytes wait unread in it (its request
    /// head, a TLS hello) tells a connection that has spoken, its task not yet run.
    socket: SocketProbe,
    epoch: Instant,
    evicted: AtomicBool,
    notify: Notify,
}

impl Tracked {
    fn touch(&self) {
        self.touched
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Ranks it as heard from `ahead` from now.
    fn touch_ahead(&self, ahead: Duration) {
        self.touched.store(
            (self.epoch.elapsed() + ahead).as_millis() as u64,
            Ordering::Relaxed,
        );
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
        // A connection just served ranks like a new one: its answer may still be on its way
        // out (hyper flushes after the body ends), and under a flood of fresh connections,
        // "heard from now" was already the longest silent, evicted before the client had read
        // the answer ("connection closed before message completed").
        self.0.touch_ahead(NEW_CONNECTION_HEAD_START);
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

/// A look at a connection's socket without owning it (a request extension: an upload slot
/// keeps one, see `limits`).
#[derive(Clone)]
pub(crate) struct SocketProbe(Weak<TcpStream>);

impl SocketProbe {
    /// Bytes wait in the socket that the server has not read yet. False once it is closed.
    pub(crate) fn has_unread_bytes(&self) -> bool {
        let Some(socket) = self.0.upgrade() else {
            return false;
        };
        let mut byte = [0u8; 1];
        matches!(
            rustix::net::recv(&*socket, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT),
            Ok((n, _)) if n > 0
        )
    }
}

/// A connection's socket, noting when bytes arrive. It is the socket's only strong owner; the
/// registry holds a [`SocketProbe`] to peek at it.
struct Metered {
    io: Arc<TcpStream>,
    tracked: Arc<Tracked>,
    _registered: Registered,
}

impl tokio::io::AsyncRead for Metered {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        loop {
            std::task::ready!(self.io.poll_read_ready(cx))?;
            match self.io.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    if n > 0 {
                        self.tracked.touch();
                    }
                    return Poll::Ready(Ok(()));
                }
                // The readiness was stale (and is cleared): wait again.
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl tokio::io::AsyncWrite for Metered {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        loop {
            std::task::ready!(self.io.poll_write_ready(cx))?;
            match self.io.try_write(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                done => return Poll::Ready(done),
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        loop {
            std::task::ready!(self.io.poll_write_ready(cx))?;
            match self.io.try_write_vectored(bufs) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                done => return Poll::Ready(done),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(
            rustix::net::shutdown(&*self.io, rustix::net::Shutdown::Write).map_err(Into::into),
        )
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
    fn new(max: usize) -> Registry {
        Registry {
            max: max.max(1),
            epoch: Instant::now(),
            closing: AtomicUsize::new(0),
            closed_one: Notify::new(),
            next: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
            warned: Every::new(CAP_WARNING_EVERY),
        }
    }

    /// Room for the connection on `socket`: at the cap, the idle connection heard from least
    /// recently is evicted; `None` when every connection has a request in progress.
    ///
    /// A connection whose bytes wait unread is never the one evicted: it is counted as heard
    /// from now and the next is looked at. Under a flood of reconnecting clients the whole
    /// pool can turn over within milliseconds, and a real client's connection, accepted and
    /// its request already in the socket but its task not yet run, was evicted before its
    /// request was read (about one real submission in a hundred in the slow-client benchmark:
    /// "connection closed before message completed").
    fn admit(&self, socket: SocketProbe) -> Option<Arc<Tracked>> {
        let mut conns = self.conns.lock().expect("connections");
        if conns.len() >= self.max {
            // The order is read once: connections touch themselves meanwhile, and a sort whose
            // keys change under it panics.
            let mut idle: Vec<(u64, &Arc<Tracked>)> = conns
                .values()
                .filter(|c| c.active.load(Ordering::Acquire) == 0)
                .map(|c| (c.touched.load(Ordering::Relaxed), c))
                .collect();
            idle.sort_unstable_by_key(|(touched, _)| *touched);
            let mut victim = None;
            for (_, c) in idle {
                if c.socket.has_unread_bytes() {
                    c.touch();
                } else {
                    victim = Some(c.id);
                    break;
                }
            }
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
            socket,
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
    let registry = Arc::new(Registry::new(options.max_connections));
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
        let stream = Arc::new(stream);
        let Some(tracked) = registry.admit(SocketProbe(Arc::downgrade(&stream))) else {
            tracing::debug!("connection closed at once: every connection is busy");
            drop(stream);
            continue;
        };
        registry.wait_for_closes().await;
        let _ = stream.set_nodelay(true);
        let stream = Metered {
            io: stream,
            tracked: tracked.clone(),
            _registered: Registered {
                tracked: tracked.clone(),
                registry: registry.clone(),
            },
        };
        let connection = Connection {
            builder: builder.clone(),
            app: app.clone(),
            tracked,
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
        let probe = tracked.socket.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            let active = Active::enter(&tracked);
            let app = app.clone();
            request.extensions_mut().insert(probe.clone());
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
        // The socket closes with `conn`; then its place in the registry is given up.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    /// A loopback connection: the client's end and the server's accepted end.
    fn connection(listener: &std::net::TcpListener) -> (std::net::TcpStream, Arc<TcpStream>) {
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        (client, Arc::new(TcpStream::from_std(server).unwrap()))
    }

    /// At the cap, a connection whose request waits unread in its socket is never the one
    /// evicted, even when it is the longest silent by the registry's count (its task has not
    /// run yet); a connection that said nothing is.
    #[tokio::test]
    async fn the_cap_never_evicts_a_connection_whose_request_waits_unread() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let registry = Registry::new(2);
        let (mut real_client, real_server) = connection(&listener);
        let real = registry
            .admit(SocketProbe(Arc::downgrade(&real_server)))
            .unwrap();
        let (_silent_client, silent_server) = connection(&listener);
        let silent = registry
            .admit(SocketProbe(Arc::downgrade(&silent_server)))
            .unwrap();
        real_client
            .write_all(b"POST /v1/reports HTTP/1.1\r\n")
            .unwrap();
        // The kernel has the bytes once the peek sees them (loopback: at once).
        let mut waited = 0;
        while !real.socket.has_unread_bytes() && waited < 100 {
            std::thread::sleep(Duration::from_millis(10));
            waited += 1;
        }
        let (_c3, s3) = connection(&listener);
        let third = registry.admit(SocketProbe(Arc::downgrade(&s3))).unwrap();
        assert!(
            silent.evicted.load(Ordering::Acquire),
            "the silent one made room"
        );
        assert!(
            !real.evicted.load(Ordering::Acquire),
            "the real one keeps its place"
        );
        // A connection with a request in progress is never evicted; when every one is busy
        // the newcomer is refused.
        let _busy_real = Active::enter(&real);
        let _busy_third = Active::enter(&third);
        let (_c4, s4) = connection(&listener);
        assert!(registry.admit(SocketProbe(Arc::downgrade(&s4))).is_none());
    }

    /// An upload slot is not taken from an upload whose body waits unread in its socket: it is
    /// not slow, its task has not run yet.
    #[tokio::test]
    async fn an_upload_whose_body_waits_unread_keeps_its_slot() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let slots = crate::limits::UploadSlots::new(1, 1000);
        let (mut client, server) = connection(&listener);
        let waiting = slots
            .admit(Some(SocketProbe(Arc::downgrade(&server))))
            .unwrap();
        client.write_all(&[7u8; 10_240]).unwrap();
        let probe = SocketProbe(Arc::downgrade(&server));
        let mut waited = 0;
        while !probe.has_unread_bytes() && waited < 100 {
            std::thread::sleep(Duration::from_millis(10));
            waited += 1;
        }
        assert!(
            slots.admit(None).is_err(),
            "the newcomer is told to come back"
        );
        assert!(!waiting.is_evicted());
        // Once it is read and the upload still has nothing counted, it is slow: evicted.
        let mut sink = vec![0u8; 20_000];
        let mut read = 0;
        while read < 10_240 {
            server.readable().await.unwrap();
            read += server.try_read(&mut sink).unwrap_or(0);
        }
        let _newcomer = slots.admit(None).unwrap();
        assert!(waiting.is_evicted());
    }
}
