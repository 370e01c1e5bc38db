//! `intake-load`: the intake benchmark's load client (not a test). Bounded concurrency, real
//! encrypted bodies, latency percentiles; one huge streamed upload while sampling the
//! server's RSS; and real requests timed while many slow clients hold connections (`slow`).

mod slow;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use embargo_core::keys;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::Frame;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use openpgp::cert::prelude::*;
use openpgp::parse::Parse as _;
use openpgp::serialize::stream::{Encryptor, LiteralWriter, Message};
use openpgp::serialize::SerializeInto as _;
use rand::RngCore as _;
use sequoia_openpgp as openpgp;
use tokio::sync::mpsc;

#[derive(Parser)]
#[command(
    name = "intake-load",
    about = "Load client for the embargo-intake benchmark"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a team cert for the benchmark (public part only is written).
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Submit encrypted bodies of one size with bounded concurrency for a while.
    Run {
        /// Base URL of the intake (http://127.0.0.1:PORT).
        #[arg(long)]
        url: String,
        /// Team cert the bodies are encrypted to.
        #[arg(long)]
        cert: PathBuf,
        /// Body (ciphertext) size in bytes.
        #[arg(long)]
        size: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Seconds measured.
        #[arg(long, default_value_t = 20)]
        duration: u64,
        /// Seconds of load before measuring.
        #[arg(long, default_value_t = 3)]
        warmup: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Time real requests (each on a new connection) without, then with, many slow and idle
    /// clients connected.
    Slow {
        #[arg(long)]
        url: String,
        #[arg(long)]
        cert: PathBuf,
        /// Slow clients.
        #[arg(long, default_value_t = 1000)]
        attackers: usize,
        /// Seconds of attack before measuring (every deadline passes once).
        #[arg(long, default_value_t = 15)]
        warmup: u64,
        /// Seconds measured under attack.
        #[arg(long, default_value_t = 20)]
        duration: u64,
        #[arg(long)]
        json: bool,
    },
    /// Stream one huge encrypted body (chunked, generated on the fly) and sample the server's
    /// resident memory meanwhile.
    Big {
        #[arg(long)]
        url: String,
        #[arg(long)]
        cert: PathBuf,
        /// Plaintext bytes to encrypt and send.
        #[arg(long)]
        size: u64,
        /// The server's process id, for /proc/PID/status.
        #[arg(long)]
        pid: u32,
        #[arg(long)]
        json: bool,
    },
}

fn read_cert(path: &PathBuf) -> anyhow::Result<Cert> {
    Cert::from_file(path).with_context(|| format!("read cert {}", path.display()))
}

/// Encrypts `plaintext` to `cert` the way Embargo's clients do: the recipients and the format
/// come from the core library's own selection (`keys::encryption_keys`, `keys::recipients`).
fn encrypt_into<W: std::io::Write + Send + Sync>(
    cert: &Cert,
    sink: W,
    mut fill: impl FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let p = keys::policy();
    let certs = std::slice::from_ref(cert);
    let usable = vec![keys::encryption_keys(cert, &p)?];
    let set = keys::recipients(certs, &usable, false)?;
    let message = Message::new(sink);
    let message = Encryptor::for_recipients(message, set.recipients).build()?;
    let mut literal = LiteralWriter::new(message).build()?;
    fill(&mut literal)?;
    literal.finalize()?;
    Ok(())
}

/// A message of `size` bytes of ciphertext (or just over, for tiny sizes).
fn body_of_size(cert: &Cert, size: usize) -> anyhow::Result<Bytes> {
    // PKESKs, packet headers and the MDC: measured on a one-byte message.
    let mut probe = Vec::new();
    encrypt_into(cert, &mut probe, |w| w.write_all(b"x"))?;
    let overhead = probe.len() - 1;
    let mut plaintext = vec![0u8; size.saturating_sub(overhead).max(1)];
    rand::rng().fill_bytes(&mut plaintext);
    let mut out = Vec::with_capacity(size + 512);
    encrypt_into(cert, &mut out, |w| w.write_all(&plaintext))?;
    Ok(Bytes::from(out))
}

/// `body` with its last 16 bytes set to `run` and `n`.
fn distinct(body: &Bytes, run: u64, n: u64) -> Bytes {
    let mut copy = body.to_vec();
    let len = copy.len();
    copy[len - 16..len - 8].copy_from_slice(&run.to_be_bytes());
    copy[len - 8..].copy_from_slice(&n.to_be_bytes());
    Bytes::from(copy)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Keygen { out } => {
            let (cert, _) = CertBuilder::new()
                .add_userid("Benchmark Team <security@bench.example>")
                .add_transport_encryption_subkey()
                .add_storage_encryption_subkey()
                .generate()?;
            std::fs::write(&out, cert.armored().to_vec()?)
                .with_context(|| format!("write {}", out.display()))?;
            Ok(())
        }
        Command::Run {
            url,
            cert,
            size,
            concurrency,
            duration,
            warmup,
            json,
        } => run(url, cert, size, concurrency, duration, warmup, json).await,
        Command::Big {
            url,
            cert,
            size,
            pid,
            json,
        } => big(url, cert, size, pid, json).await,
        Command::Slow {
            url,
            cert,
            attackers,
            warmup,
            duration,
            json,
        } => slow::run(url, cert, attackers, warmup, duration, json).await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    url: String,
    cert: PathBuf,
    size: usize,
    concurrency: usize,
    duration: u64,
    warmup: u64,
    json: bool,
) -> anyhow::Result<()> {
    let cert = read_cert(&cert)?;
    // 16 encrypted bodies; each request sends one with its last 16 bytes (inside the encrypted
    // data packet) replaced by the run's id and the request's number, so that every report is
    // distinct — the intake stores identical ciphertexts once — without encrypting per request
    // on the cores the server needs. The intake checks framing and never decrypts, so this
    // costs it exactly what a fresh message would.
    let bodies: Vec<Bytes> = (0..16)
        .map(|_| body_of_size(&cert, size))
        .collect::<anyhow::Result<_>>()?;
    let actual = bodies[0].len();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build_http();
    let endpoint = format!("{}/v1/reports", url.trim_end_matches('/'));
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let seq = Arc::new(AtomicU64::new(0));
    let run_id = rand::rng().next_u64();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let client = client.clone();
        let endpoint = endpoint.clone();
        let bodies = bodies.clone();
        let (measuring, stop, errors, seq) =
            (measuring.clone(), stop.clone(), errors.clone(), seq.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = worker;
            while !stop.load(Ordering::Relaxed) {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let body = distinct(&bodies[i % bodies.len()], run_id, n);
                i += 1;
                let request = Request::post(&endpoint)
                    .header("content-type", "application/pgp-encrypted")
                    .header("idempotency-key", format!("bench-{run_id:x}-{n}"))
                    .body(Full::new(body))
                    .expect("request");
                let started = Instant::now();
                let result = client.request(request).await;
                let ok = match result {
                    Ok(response) => {
                        let status = response.status();
                        let _ = response.into_body().collect().await;
                        status == hyper::StatusCode::CREATED
                    }
                    Err(_) => false,
                };
                let took = started.elapsed();
                if measuring.load(Ordering::Relaxed) {
                    if ok {
                        latencies.push(took);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(warmup)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(duration)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    all.sort();
    let rate = all.len() as f64 / elapsed.as_secs_f64();
    let errors = errors.load(Ordering::Relaxed);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "body_bytes": actual, "concurrency": concurrency, "seconds": elapsed.as_secs_f64(),
                "ok": all.len(), "errors": errors, "per_second": rate,
                "p50_ms": ms(percentile(&all, 0.50)), "p90_ms": ms(percentile(&all, 0.90)),
                "p99_ms": ms(percentile(&all, 0.99)), "max_ms": ms(all.last().copied().unwrap_or_default()),
            })
        );
    } else {
        println!(
            "{actual} B x {concurrency}: {} ok, {errors} errors in {:.1} s = {rate:.0}/s; p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            all.len(),
            elapsed.as_secs_f64(),
            ms(percentile(&all, 0.50)),
            ms(percentile(&all, 0.90)),
            ms(percentile(&all, 0.99)),
            ms(all.last().copied().unwrap_or_default()),
        );
    }
    if errors > 0 && all.is_empty() {
        bail!("every request failed");
    }
    Ok(())
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")
}

/// Sends whatever the encryptor writes as body chunks.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>,
    sent: Arc<AtomicU64>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sent.fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.tx
            .blocking_send(Ok(Frame::data(Bytes::copy_from_slice(buf))))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "request gone"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn big(url: String, cert: PathBuf, size: u64, pid: u32, json: bool) -> anyhow::Result<()> {
    let cert = read_cert(&cert)?;
    let (tx, rx) = mpsc::channel(8);
    let sent = Arc::new(AtomicU64::new(0));
    let writer = ChannelWriter {
        tx,
        sent: sent.clone(),
    };
    let producer = tokio::task::spawn_blocking(move || {
        // 64 KiB at a time through the encryptor (a buffered writer keeps frames large).
        let sink = std::io::BufWriter::with_capacity(64 * 1024, writer);
        encrypt_into(&cert, sink, |w| {
            let mut block = vec![0u8; 64 * 1024];
            let mut left = size;
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            while left > 0 {
                for chunk in block.chunks_mut(8) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
                }
                let n = left.min(block.len() as u64) as usize;
                w.write_all(&block[..n])?;
                left -= n as u64;
            }
            Ok(())
        })
    });
    let body = StreamBody::new(tokio_stream_from(rx));
    let client: Client<_, StreamBody<_>> = Client::builder(TokioExecutor::new()).build_http();
    let request = Request::post(format!("{}/v1/reports", url.trim_end_matches('/')))
        .header("content-type", "application/octet-stream")
        .header(
            "idempotency-key",
            format!("big-{:x}", rand::rng().next_u64()),
        )
        .body(body)?;

    let before = rss_kib(pid)?;
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while sampling.load(Ordering::Relaxed) {
                if let Ok(kib) = rss_kib(pid) {
                    samples.push(kib);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            samples
        })
    };
    let started = Instant::now();
    let response = client.request(request).await.context("send the big body")?;
    let status = response.status();
    let answer = response.into_body().collect().await?.to_bytes();
    let took = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    let samples = sampler.await?;
    producer.await??;
    let after = rss_kib(pid)?;
    let max = samples.iter().copied().max().unwrap_or(before);
    let min = samples.iter().copied().min().unwrap_or(before);
    let bytes = sent.load(Ordering::Relaxed);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "status": status.as_u16(), "body_bytes": bytes, "seconds": took.as_secs_f64(),
                "rss_before_kib": before, "rss_min_kib": min, "rss_max_kib": max,
                "rss_after_kib": after, "samples": samples.len(),
                "answer": String::from_utf8_lossy(&answer),
            })
        );
    } else {
        println!(
            "{status}: {bytes} bytes in {:.1} s ({:.0} MB/s); server RSS before {} KiB, during {}–{} KiB ({} samples), after {} KiB; growth {} KiB",
            took.as_secs_f64(),
            bytes as f64 / 1e6 / took.as_secs_f64(),
            before,
            min,
            max,
            samples.len(),
            after,
            max.saturating_sub(before),
        );
    }
    if status != hyper::StatusCode::CREATED {
        bail!(
            "the server answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    Ok(())
}

/// The receiver as a `Stream` of frames.
fn tokio_stream_from(
    mut rx: mpsc::Receiver<Result<Frame<Bytes>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
