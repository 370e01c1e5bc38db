//! `intake-load slow`: many slow and idle clients hold connections to the intake while real
//! requests — a submission, a status lookup, security.txt — are timed, each on a new
//! connection (so each has to win one), first without the attackers, then with them.
//!
//! The attackers, in equal turns of ten: four upload a report with a valid Content-Length and
//! Idempotency-Key and send one byte every two seconds; three send a request head one byte
//! every two seconds; three open cleartext HTTP/2 (the preface and an empty SETTINGS frame) and
//! stay silent. Each reconnects 200 ms after the server closes it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rand::RngCore as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::{body_of_size, distinct, ms, percentile, read_cert};

/// A real request that takes longer than this counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const DRIP_EVERY: Duration = Duration::from_secs(2);
const RECONNECT_AFTER: Duration = Duration::from_millis(200);

#[derive(Clone, Copy)]
enum Kind {
    DripUpload,
    SlowHead,
    IdleHttp2,
}

/// Raises this process's soft open-file limit to its hard one (the attackers need sockets).
fn raise_file_limit() -> anyhow::Result<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum) {
        if current < maximum {
            limit.current = Some(maximum);
            setrlimit(Resource::Nofile, limit).context("raise the open-file limit")?;
        }
    }
    Ok(getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX))
}

async fn attacker(
    addr: SocketAddr,
    kind: Kind,
    id: usize,
    stop: Arc<AtomicBool>,
    connected: Arc<AtomicI64>,
) {
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        let Ok(stream) = TcpStream::connect(addr).await else {
            tokio::time::sleep(RECONNECT_AFTER).await;
            continue;
        };
        connected.fetch_add(1, Ordering::Relaxed);
        let (mut read, mut write) = stream.into_split();
        let talk = async {
            let (opening, drip): (Vec<u8>, &[u8]) = match kind {
                Kind::DripUpload => (
                    format!(
                        "POST /v1/reports HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/pgp-encrypted\r\n\
                         Idempotency-Key: slow-{id}-{round}\r\nContent-Length: 1000000\r\n\r\n"
                    )
                    .into_bytes(),
                    b"\xc1",
                ),
                Kind::SlowHead => (
                    format!("POST /v1/reports HTTP/1.1\r\nHost: {addr}\r\n").into_bytes(),
                    b"X",
                ),
                Kind::IdleHttp2 => {
                    let mut frame = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
                    // An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
                    frame.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
                    (frame, b"")
                }
            };
            write.write_all(&opening).await?;
            loop {
                tokio::time::sleep(DRIP_EVERY).await;
                if stop.load(Ordering::Relaxed) {
                    return Ok::<_, std::io::Error>(());
                }
                if !drip.is_empty() {
                    write.write_all(drip).await?;
                }
            }
        };
        let closed = async {
            let mut buf = [0u8; 4096];
            while let Ok(n) = read.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        };
        tokio::select! {
            _ = talk => {}
            () = closed => {}
        }
        connected.fetch_sub(1, Ordering::Relaxed);
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

/// Latencies of one kind of request.
#[derive(Default)]
struct Timings {
    ok: Vec<Duration>,
    failed: u64,
    first_failure: Option<String>,
}

impl Timings {
    fn record(&mut self, took: Duration, result: anyhow::Result<()>) {
        match result {
            Ok(()) => self.ok.push(took),
            Err(e) => {
                self.failed += 1;
                self.first_failure.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }

    fn json(&mut self) -> serde_json::Value {
        self.ok.sort();
        serde_json::json!({
            "ok": self.ok.len(), "failed": self.failed,
            "p50_ms": ms(percentile(&self.ok, 0.50)), "p99_ms": ms(percentile(&self.ok, 0.99)),
            "max_ms": ms(self.ok.last().copied().unwrap_or_default()),
            "first_failure": self.first_failure,
        })
    }

    fn line(&mut self) -> String {
        self.ok.sort();
        let mut line = format!(
            "{} ok, {} failed, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            self.ok.len(),
            self.failed,
            ms(percentile(&self.ok, 0.50)),
            ms(percentile(&self.ok, 0.99)),
            ms(self.ok.last().copied().unwrap_or_default())
        );
        if let Some(f) = &self.first_failure {
            line.push_str(&format!(" (first failure: {f})"));
        }
        line
    }
}

struct Real {
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    base: String,
    body: Bytes,
    run: u64,
    n: AtomicU64,
    receipt: String,
    token: String,
}

impl Real {
    async fn send(&self, request: Request<Full<Bytes>>, want: u16) -> anyhow::Result<Bytes> {
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, async {
            let response = self.client.request(request).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, anyhow::Error>((status, body))
        })
        .await
        .with_context(|| format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()))??;
        if answer.0 != want {
            bail!("{}: {}", answer.0, String::from_utf8_lossy(&answer.1));
        }
        Ok(answer.1)
    }

    async fn submit(&self) -> anyhow::Result<Bytes> {
        let n = self.n.fetch_add(1, Ordering::Relaxed);
        let request = Request::post(format!("{}/v1/reports", self.base))
            .header("content-type", "application/pgp-encrypted")
            .header("idempotency-key", format!("real-{:x}-{n}", self.run))
            .body(Full::new(distinct(&self.body, self.run, n)))?;
        self.send(request, 201).await
    }

    async fn status(&self) -> anyhow::Result<()> {
        let request = Request::get(format!("{}/v1/reports/{}", self.base, self.receipt))
            .header("authorization", format!("Bearer {}", self.token))
            .body(Full::new(Bytes::new()))?;
        self.send(request, 200).await.map(drop)
    }

    async fn security_txt(&self) -> anyhow::Result<()> {
        let request = Request::get(format!("{}/.well-known/security.txt", self.base))
            .body(Full::new(Bytes::new()))?;
        self.send(request, 200).await.map(drop)
    }

    /// Real requests in turn for `seconds`.
    async fn measure(&self, seconds: Duration) -> [Timings; 3] {
        let mut t: [Timings; 3] = Default::default();
        let until = Instant::now() + seconds;
        while Instant::now() < until {
            let started = Instant::now();
            let r = self.submit().await.map(drop);
            t[0].record(started.elapsed(), r);
            let started = Instant::now();
            let r = self.status().await;
            t[1].record(started.elapsed(), r);
            let started = Instant::now();
            let r = self.security_txt().await;
            t[2].record(started.elapsed(), r);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        t
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    url: String,
    cert: std::path::PathBuf,
    attackers: usize,
    warmup: u64,
    duration: u64,
    json: bool,
) -> anyhow::Result<()> {
    let file_limit = raise_file_limit()?;
    if (file_limit as usize) < attackers + 64 {
        bail!(
            "{attackers} attackers need {} open files; this process may open {file_limit}",
            attackers + 64
        );
    }
    let base = url.trim_end_matches('/').to_owned();
    let addr: SocketAddr = base
        .strip_prefix("http://")
        .context("slow clients speak cleartext: give an http:// URL")?
        .parse()
        .context("the URL must name an IP address and port")?;
    let cert = read_cert(&cert)?;
    // Every real request on a new connection: it has to win one from the attackers.
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http();
    let mut real = Real {
        client,
        base,
        body: body_of_size(&cert, 10 * 1024)?,
        run: rand::rng().next_u64(),
        n: AtomicU64::new(0),
        receipt: String::new(),
        token: String::new(),
    };
    let first: serde_json::Value = serde_json::from_slice(&real.submit().await?)?;
    real.receipt = first["receipt"].as_str().context("no receipt")?.to_owned();
    real.token = first["status_token"]
        .as_str()
        .context("no token")?
        .to_owned();

    let mut quiet = real.measure(Duration::from_secs(3)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let connected = Arc::new(AtomicI64::new(0));
    let mut tasks = Vec::new();
    for id in 0..attackers {
        let kind = match id % 10 {
            0..=3 => Kind::DripUpload,
            4..=6 => Kind::SlowHead,
            _ => Kind::IdleHttp2,
        };
        tasks.push(tokio::spawn(attacker(
            addr,
            kind,
            id,
            stop.clone(),
            connected.clone(),
        )));
    }
    // Let every kind of deadline pass once, so the measurement sees the server's steady state.
    tokio::time::sleep(Duration::from_secs(warmup)).await;
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (sampling, connected) = (sampling.clone(), connected.clone());
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while sampling.load(Ordering::Relaxed) {
                samples.push(connected.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            samples
        })
    };
    let mut attacked = real.measure(Duration::from_secs(duration)).await;
    sampling.store(false, Ordering::Relaxed);
    let samples = sampler.await?;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.abort();
    }
    let held_min = samples.iter().copied().min().unwrap_or(0);
    let held_max = samples.iter().copied().max().unwrap_or(0);
    let held_avg = samples.iter().sum::<i64>() as f64 / samples.len().max(1) as f64;
    let names = ["submit", "status", "security_txt"];
    if json {
        let mut out = serde_json::json!({
            "attackers": attackers, "attackers_connected_min": held_min,
            "attackers_connected_avg": held_avg, "attackers_connected_max": held_max,
        });
        for (i, name) in names.iter().enumerate() {
            out["quiet"][name] = quiet[i].json();
            out["attacked"][name] = attacked[i].json();
        }
        println!("{out}");
    } else {
        println!(
            "{attackers} slow clients (connected at once: {held_min}–{held_max}, {held_avg:.0} on average)"
        );
        for (i, name) in names.iter().enumerate() {
            println!("  {name:<13} quiet:    {}", quiet[i].line());
            println!("  {name:<13} attacked: {}", attacked[i].line());
        }
    }
    Ok(())
}
