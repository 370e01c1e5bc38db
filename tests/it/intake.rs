//! The intake server as real processes on 127.0.0.1, on SQLite and on PostgreSQL: the round
//! trip (researcher → intake → team, opened with gpg; reply back), every refusal, a retry after
//! a lost response, `kill -9` in the middle of a burst, graceful shutdown, two replicas on one
//! PostgreSQL, TLS, and the command line.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use openpgp::cert::prelude::*;
use openpgp::parse::Parse as _;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Armorer, Encryptor, LiteralWriter, Message, Recipient, Signer};
use openpgp::serialize::SerializeInto as _;
use openpgp::types::Features;
use reqwest::StatusCode;
use sequoia_openpgp as openpgp;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::pg::PgCluster;
use embargo_tests::{noise, stdout, Gpg};

/// The `embargo-intake` binary built next to this test binary.
pub fn intake_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("embargo-intake");
    assert!(
        bin.exists(),
        "{} is missing: build the workspace first (`cargo build --workspace --all-targets`)",
        bin.display()
    );
    bin
}

// ---------------------------------------------------------------------------------------------
// OpenPGP bodies

pub fn key(email: &str) -> Cert {
    CertBuilder::new()
        .add_userid(format!("Someone <{email}>"))
        .add_signing_subkey()
        .add_transport_encryption_subkey()
        .generate()
        .expect("generate key")
        .0
}

/// Encrypts as Embargo's core does for v4 certs: SEIPDv1, PKESKv3 naming each subkey (the
/// format every deployed tool, GnuPG included, reads).
pub fn encrypt(to: &[&Cert], plaintext: &[u8], armor: bool) -> Vec<u8> {
    let p = StandardPolicy::new();
    let recipients: Vec<Recipient<'_>> = to
        .iter()
        .flat_map(|c| {
            c.keys()
                .with_policy(&p, None)
                .supported()
                .alive()
                .revoked(false)
                .for_transport_encryption()
                .map(|ka| {
                    Recipient::new(
                        Features::empty().set_seipdv1(),
                        openpgp::KeyHandle::from(ka.key().keyid()),
                        ka.key(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut out = Vec::new();
    {
        let mut m = Message::new(&mut out);
        if armor {
            m = Armorer::new(m).build().unwrap();
        }
        let m = Encryptor::for_recipients(m, recipients).build().unwrap();
        let mut w = LiteralWriter::new(m).build().unwrap();
        w.write_all(plaintext).unwrap();
        w.finalize().unwrap();
    }
    out
}

fn literal(plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = LiteralWriter::new(Message::new(&mut out)).build().unwrap();
        w.write_all(plaintext).unwrap();
        w.finalize().unwrap();
    }
    out
}

fn signed_only(signer: &Cert, plaintext: &[u8]) -> Vec<u8> {
    let p = StandardPolicy::new();
    let keypair = signer
        .keys()
        .with_policy(&p, None)
        .secret()
        .for_signing()
        .next()
        .unwrap()
        .key()
        .clone()
        .into_keypair()
        .unwrap();
    let mut out = Vec::new();
    {
        let m = Signer::new(Message::new(&mut out), keypair)
            .unwrap()
            .build()
            .unwrap();
        let mut w = LiteralWriter::new(m).build().unwrap();
        w.write_all(plaintext).unwrap();
        w.finalize().unwrap();
    }
    out
}

fn symmetric_only(plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let m = Encryptor::with_passwords(
            Message::new(&mut out),
            Some(openpgp::crypto::Password::from("hunter2")),
        )
        .build()
        .unwrap();
        let mut w = LiteralWriter::new(m).build().unwrap();
        w.write_all(plaintext).unwrap();
        w.finalize().unwrap();
    }
    out
}

/// Decrypts with gpg, as a team without Embargo would.
fn gpg_decrypt(secret: &Cert, message: &[u8]) -> Vec<u8> {
    let gpg = Gpg::new();
    let key = gpg.home.path().join("secret.asc");
    std::fs::write(&key, secret.as_tsk().armored().to_vec().unwrap()).unwrap();
    gpg.run(["--import", key.to_str().unwrap()]);
    let input = gpg.home.path().join("message");
    std::fs::write(&input, message).unwrap();
    let out = gpg.run(["--decrypt", input.to_str().unwrap()]);
    out.stdout
}

// ---------------------------------------------------------------------------------------------
// Servers

/// A team as the server is configured with it: cert file and token (made by the CLI).
pub struct Team {
    pub key: Cert,
    pub cert_path: PathBuf,
    pub token: String,
    pub hash: String,
}

impl Team {
    /// The team's secret key as `team.key` and its token as `token` in `dir`: what `embargo
    /// team … --key team.key --token-file token` reads.
    pub fn write_secrets(&self, dir: &Path) {
        use embargo_core::openpgp::serialize::SerializeInto;
        std::fs::write(
            dir.join("team.key"),
            self.key.as_tsk().armored().to_vec().unwrap(),
        )
        .unwrap();
        std::fs::write(dir.join("token"), format!("{}\n", self.token)).unwrap();
    }

    pub fn new(dir: &Path, email: &str) -> Team {
        let key = key(email);
        let cert_path = dir.join(format!("{email}.asc"));
        std::fs::write(&cert_path, key.armored().to_vec().unwrap()).unwrap();
        let out = Command::new(intake_bin())
            .args(["token", "new", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let j: Value = serde_json::from_slice(&out.stdout).unwrap();
        Team {
            key,
            cert_path,
            token: j["token"].as_str().unwrap().to_owned(),
            hash: j["hash"].as_str().unwrap().to_owned(),
        }
    }
}

/// Where a server keeps its reports.
pub enum Store {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Store {
    fn args(&self) -> Vec<String> {
        match self {
            Store::Sqlite(dir) => vec!["--data".into(), dir.display().to_string()],
            Store::Postgres(url) => vec!["--database".into(), url.clone()],
        }
    }
}

/// A storage backend for one test, with whatever it needs kept alive.
pub struct Backend {
    pub dir: TempDir,
    pub store: Store,
    _cluster: Option<PgCluster>,
}

pub fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::Sqlite(dir.path().join("data"));
    Backend {
        dir,
        store,
        _cluster: None,
    }
}

pub fn postgres() -> Backend {
    let cluster = PgCluster::start();
    let url = cluster.database();
    Backend {
        dir: tempfile::tempdir().unwrap(),
        store: Store::Postgres(url),
        _cluster: Some(cluster),
    }
}

/// A port no other test of this run is given: ports handed out by the kernel for `:0` can come
/// back to a concurrent test between the probe and the driver's bind, and two WebDriver servers
/// on one port would drive each other's app.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 2_000) as u16 * 10;
    loop {
        let port = base.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed) % 20_000);
        if port > 1024 && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub url: String,
    log: PathBuf,
}

impl Server {
    pub fn start(backend: &Backend, team: &Team, extra: &[&str]) -> Server {
        Server::start_with(&backend.store, backend.dir.path(), team, extra)
    }

    pub fn start_logging(backend: &Backend, team: &Team, extra: &[&str], level: &str) -> Server {
        Server::start_full(&backend.store, backend.dir.path(), team, extra, level)
    }

    pub fn start_with(store: &Store, logs: &Path, team: &Team, extra: &[&str]) -> Server {
        Server::start_full(store, logs, team, extra, "info")
    }

    fn start_full(store: &Store, logs: &Path, team: &Team, extra: &[&str], level: &str) -> Server {
        Server::start_at(store, logs, team, extra, level, "127.0.0.1:0", &[])
    }

    /// Starts under a wrapper command (`prlimit --nofile=256:256 --`).
    pub fn start_wrapped(
        backend: &Backend,
        team: &Team,
        extra: &[&str],
        wrapper: &[&str],
    ) -> Server {
        Server::start_at(
            &backend.store,
            backend.dir.path(),
            team,
            extra,
            "info",
            "127.0.0.1:0",
            wrapper,
        )
    }

    /// Starts on a given address (a test that needs the intake down first, then up).
    pub fn start_on(backend: &Backend, team: &Team, listen: &str) -> Server {
        Server::start_on_with(backend, team, listen, &[])
    }

    pub fn start_on_with(backend: &Backend, team: &Team, listen: &str, extra: &[&str]) -> Server {
        Server::start_at(
            &backend.store,
            backend.dir.path(),
            team,
            extra,
            "info",
            listen,
            &[],
        )
    }

    fn start_at(
        store: &Store,
        logs: &Path,
        team: &Team,
        extra: &[&str],
        level: &str,
        listen: &str,
        wrapper: &[&str],
    ) -> Server {
        let log = tempfile::Builder::new()
            .prefix("intake-log")
            .tempfile_in(logs)
            .unwrap()
            .into_temp_path()
            .keep()
            .unwrap();
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(intake_bin());
                c
            }
            None => Command::new(intake_bin()),
        };
        let child = command
            .arg("serve")
            .args(["--listen", listen])
            .args(store.args())
            .arg("--team-cert")
            .arg(&team.cert_path)
            .args(["--team-token-hash", &team.hash])
            .args(extra)
            .env("RUST_LOG", level)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start embargo-intake");
        Server::started(child, log)
    }

    /// Starts serving TLS itself with a certificate chain and its key (PEM), written as
    /// `tls.pem` and `tls.key` beside the backend's data.
    pub fn start_tls(backend: &Backend, team: &Team, chain_pem: &str, key_pem: &str) -> Server {
        let dir = backend.dir.path();
        std::fs::write(dir.join("tls.pem"), chain_pem).unwrap();
        std::fs::write(dir.join("tls.key"), key_pem).unwrap();
        Server::start(
            backend,
            team,
            &[
                "--tls-cert",
                dir.join("tls.pem").to_str().unwrap(),
                "--tls-key",
                dir.join("tls.key").to_str().unwrap(),
            ],
        )
    }

    /// Starts `serve --config CONFIG` on a free loopback port, logging into `logs`.
    pub fn start_config(config: &Path, logs: &Path) -> Server {
        let log = tempfile::Builder::new()
            .prefix("intake-config")
            .suffix(".log")
            .tempfile_in(logs)
            .unwrap()
            .into_temp_path()
            .keep()
            .unwrap();
        let child = Command::new(intake_bin())
            .arg("serve")
            .arg("--config")
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start embargo-intake");
        Server::started(child, log)
    }

    /// Waits for a started server's "listening on ADDR" line.
    fn started(mut child: Child, log: PathBuf) -> Server {
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut reader = std::io::BufReader::new(stdout);
            let _ = std::io::BufRead::read_line(&mut reader, &mut line);
            let _ = tx.send(line);
            // Keep draining so the server never blocks on a full pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "embargo-intake did not start: {line:?}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        let addr: SocketAddr = addr.parse().unwrap();
        Server {
            child: Some(child),
            addr,
            url: format!("http://{addr}"),
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Waits for the server (or its wrapper) to exit by itself.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.take().expect("running").wait().unwrap()
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

pub async fn submit(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    body: Vec<u8>,
) -> reqwest::Result<(StatusCode, Value)> {
    let r = http
        .post(format!("{url}/v1/reports"))
        .header("content-type", "application/pgp-encrypted")
        .header("idempotency-key", key)
        .body(body)
        .send()
        .await?;
    let status = r.status();
    let j = r.json().await?;
    Ok((status, j))
}

fn code(j: &Value) -> &str {
    j["error"]["code"].as_str().unwrap_or("(no code)")
}

pub async fn list_all(http: &reqwest::Client, url: &str, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let query = match &after {
            Some(a) => format!("?limit=7&after={a}"),
            None => "?limit=7".to_owned(),
        };
        let r = http
            .get(format!("{url}/v1/team/reports{query}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let page: Value = r.json().await.unwrap();
        out.extend(page["reports"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => return out,
        }
    }
}

pub async fn message(http: &reqwest::Client, url: &str, token: &str, receipt: &str) -> Vec<u8> {
    let r = http
        .get(format!("{url}/v1/team/reports/{receipt}/message"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "message of {receipt}");
    r.bytes().await.unwrap().to_vec()
}

/// Writes a raw HTTP/1.1 request head (and optional body bytes) and reads the status code.
/// One chunk of a `Transfer-Encoding: chunked` body.
pub fn write_chunk(s: &mut TcpStream, data: &[u8]) {
    s.write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .unwrap();
    s.write_all(data).unwrap();
    s.write_all(b"\r\n").unwrap();
}

/// Runs `intake-load SUBCOMMAND --url <server> --cert <team cert> ARGS…` against a running
/// server; panics with its stderr and the server's log when it fails.
pub fn intake_load(server: &Server, team: &Team, subcommand: &str, args: &[&str]) -> Output {
    let out = Command::new(intake_bin().with_file_name("intake-load"))
        .args([subcommand, "--url", &server.url, "--cert"])
        .arg(&team.cert_path)
        .args(args)
        .output()
        .expect("run intake-load");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    out
}

/// The status line and headers of a response read off a raw socket.
pub fn read_head(s: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

fn raw_status(addr: SocketAddr, head: &str, body: &[u8]) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    // The server may answer and close before taking it all.
    let _ = s.write_all(body);
    let text = read_head(&mut s);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"))
}

// ---------------------------------------------------------------------------------------------
// The suite, on both backends

async fn round_trip(backend: Backend) {
    let team = Team::new(backend.dir.path(), "security@example.org");
    let server = Server::start_logging(&backend, &team, &[], "debug");
    let http = client();
    let url = &server.url;

    let report = "Title: IDOR in /v1/workflows\n\nAny member reads any tenant's workflow.\n";
    let body = encrypt(&[&team.key], report.as_bytes(), true);
    let (status, created) = submit(&http, url, "round-trip-1", body.clone())
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{created}\n{}", server.log());
    let receipt = created["receipt"].as_str().unwrap();
    let status_token = created["status_token"].as_str().unwrap();

    // The team pulls it and opens it with gpg.
    let listed = list_all(&http, url, &team.token).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["receipt"], receipt);
    assert_eq!(listed[0]["received_at"], created["received_at"]);
    assert_eq!(listed[0]["size"], body.len());
    let pulled = message(&http, url, &team.token, receipt).await;
    assert_eq!(pulled, body);
    assert_eq!(gpg_decrypt(&team.key, &pulled), report.as_bytes());

    // The team replies to the researcher's key and moves the status.
    let researcher = key("ada@example.net");
    let reply = encrypt(&[&researcher], b"Confirmed, fix ships Friday.", true);
    let r = http
        .post(format!("{url}/v1/team/reports/{receipt}/replies"))
        .bearer_auth(&team.token)
        .body(reply)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = http
        .put(format!("{url}/v1/team/reports/{receipt}/status"))
        .bearer_auth(&team.token)
        .body(r#"{"status":"accepted"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // The researcher sees both with the status token and reads the reply with gpg.
    let s: Value = http
        .get(format!("{url}/v1/reports/{receipt}"))
        .bearer_auth(status_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["status"], "accepted");
    let replies = s["replies"].as_array().unwrap();
    assert_eq!(replies.len(), 1);
    let armored = replies[0]["message"].as_str().unwrap();
    assert_eq!(
        gpg_decrypt(&researcher, armored.as_bytes()),
        b"Confirmed, fix ships Friday."
    );
    // The team reads the thread it sent: the same reply, behind the team token only.
    let thread = format!("{url}/v1/team/reports/{receipt}/replies");
    let t: Value = http
        .get(&thread)
        .bearer_auth(&team.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(t["replies"], s["replies"], "{t}");
    for token in [status_token, "not-a-token"] {
        let r = http.get(&thread).bearer_auth(token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{token}");
    }
    let other = format!(
        "{}{}",
        &receipt[..receipt.len() - 1],
        if receipt.ends_with('0') { '1' } else { '0' }
    );
    let r = http
        .get(format!("{url}/v1/team/reports/{other}/replies"))
        .bearer_auth(&team.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Published from flags alone: security.txt and WKD.
    let txt = http
        .get(format!("{url}/.well-known/security.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(txt.headers()["cache-control"], "no-store");
    let txt = txt.text().await.unwrap();
    assert!(
        txt.contains("Contact: mailto:security@example.org\n"),
        "{txt}"
    );
    assert!(txt.contains("Expires: "));
    assert!(txt.contains(&format!("Canonical: {url}/.well-known/security.txt")));
    let hash = embargo_core::wkd::local_part_hash("security");
    let wkd = http
        .get(format!(
            "{url}/.well-known/openpgpkey/example.org/hu/{hash}?l=security"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wkd.status(), StatusCode::OK);
    let cert = Cert::from_bytes(&wkd.bytes().await.unwrap()).unwrap();
    assert_eq!(cert.fingerprint(), team.key.fingerprint());
    assert!(!cert.is_tsk());

    // Nothing about clients is logged, even at debug level: not their address, not their
    // user agent.
    let mut raw = TcpStream::connect(server.addr).unwrap();
    let client_addr = raw.local_addr().unwrap().to_string();
    raw.write_all(
        b"GET /.well-known/security.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: NosyBrowser/9.9\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    raw.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let log = server.log();
    assert!(log.contains("report stored"), "the log is there: {log}");
    assert!(
        !log.contains(&client_addr),
        "client address in the log:\n{log}"
    );
    assert!(
        !log.contains("NosyBrowser"),
        "user agent in the log:\n{log}"
    );
    assert!(!log.contains("IDOR"), "report content in the log:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_round_trip_sqlite() {
    round_trip(sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_round_trip_postgres() {
    round_trip(postgres()).await;
}

async fn refusals(backend: Backend) {
    let dir = backend.dir.path();
    let team = Team::new(dir, "security@example.org");
    let second = Team::new(dir, "lead@example.org");
    // Two team keys: every report must be readable by both.
    // Debug logs: the in-flight step waits for the server's "upload started".
    let server = Server::start_logging(
        &backend,
        &team,
        &[
            "--team-cert",
            second.cert_path.to_str().unwrap(),
            "--body-limit",
            "100000",
        ],
        "debug",
    );
    let http = client();
    let url = &server.url;
    let stranger = key("someone@else.example");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("literal", literal(b"report"), "literal_only"),
        ("signed", signed_only(&stranger, b"report"), "signed_only"),
        ("symmetric", symmetric_only(b"report"), "symmetric_only"),
        ("text", b"Hello team, the bug is...".to_vec(), "plaintext"),
        ("garbage", noise(3000, 9), "not_openpgp"),
        (
            "one-of-two",
            encrypt(&[&team.key], b"report", false),
            "missing_team_recipient",
        ),
        (
            "stranger",
            encrypt(&[&stranger], b"report", false),
            "missing_team_recipient",
        ),
    ];
    for (key, body, want) in cases {
        let (status, j) = submit(&http, url, key, body).await.unwrap();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{key}: {j}");
        assert_eq!(code(&j), want, "{key}: {j}");
    }
    let missing = &submit(&http, url, "m", encrypt(&[&team.key], b"r", false))
        .await
        .unwrap()
        .1["error"]["message"];
    assert!(
        missing
            .as_str()
            .unwrap()
            .contains(&second.key.fingerprint().to_hex()),
        "the refusal names the missing key: {missing}"
    );
    let good = encrypt(&[&team.key, &second.key], b"report", false);
    let (status, _) = submit(&http, url, "good", good.clone()).await.unwrap();
    assert_eq!(status, StatusCode::CREATED);

    // No Idempotency-Key.
    let r = http
        .post(format!("{url}/v1/reports"))
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&r.json().await.unwrap()), "missing_idempotency_key");
    // Same key, other bytes.
    let other = encrypt(&[&team.key, &second.key], b"another", false);
    let (status, j) = submit(&http, url, "good", other).await.unwrap();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code(&j), "idempotency_key_reused");

    // Over the limit: refused from the header, before any body byte is sent.
    let head = "POST /v1/reports HTTP/1.1\r\nHost: t\r\nIdempotency-Key: big\r\n\
                Content-Length: 100001\r\n\r\n";
    assert_eq!(raw_status(server.addr, head, b""), 413);
    // Chunked: counted as it streams; the request is never finished by the client.
    let head = "POST /v1/reports HTTP/1.1\r\nHost: t\r\nIdempotency-Key: chunked\r\n\
                Transfer-Encoding: chunked\r\n\r\n";
    let mut chunks = Vec::new();
    for _ in 0..11 {
        chunks.extend_from_slice(b"2710\r\n");
        chunks.extend_from_slice(&[0x85u8; 10_000]);
        chunks.extend_from_slice(b"\r\n");
    }
    assert_eq!(raw_status(server.addr, head, &chunks), 413);

    // Team endpoints: no token, wrong token.
    let r = http
        .get(format!("{url}/v1/team/reports"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http
        .get(format!("{url}/v1/team/reports"))
        .bearer_auth(&second.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "only configured tokens"
    );

    // A duplicate while the first is still uploading: 409 with Retry-After; then the first
    // finishes and the retry gets its answer.
    let slow = encrypt(&[&team.key, &second.key], &noise(60_000, 3), false);
    // The first upload goes over a raw socket so the pause is the test's, not an HTTP client's
    // buffering: the head and one chunk are written and flushed, the rest waits.
    let started_before = server.log().matches("upload started").count();
    let mut first = TcpStream::connect(server.addr).unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    first
        .write_all(
            format!(
                "POST /v1/reports HTTP/1.1\r\nHost: {}\r\nIdempotency-Key: slow\r\n\
                 Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
                server.addr
            )
            .as_bytes(),
        )
        .unwrap();
    write_chunk(&mut first, &slow[..1000]);
    first.flush().unwrap();
    // Wait until the server says the upload holds its key (its debug log), so the probe below
    // does not race the server's accept on a loaded machine.
    let start = std::time::Instant::now();
    while server.log().matches("upload started").count() <= started_before {
        if start.elapsed() > Duration::from_secs(30) {
            first
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let early = read_head(&mut first);
            panic!(
                "the first upload never held its key; the server answered it: {early:?}\nserver log:\n{}",
                server.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Probe with a body that can never be stored, until the first upload holds the key (a
    // probe that comes first is refused for its body and releases the key again).
    let mut conflict = None;
    let mut seen = Vec::new();
    for _ in 0..400 {
        let (status, j) = submit(&http, url, "slow", b"probe".to_vec()).await.unwrap();
        if status == StatusCode::CONFLICT {
            conflict = Some(j);
            break;
        }
        if seen.len() < 3 {
            seen.push(format!("{status} {j}"));
        }
        assert_eq!(code(&j), "plaintext", "{j}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let conflict = conflict.unwrap_or_else(|| {
        panic!(
            "no 409 while the first upload is in flight; probes got {seen:?}\nserver log:\n{}",
            server.log()
        )
    });
    assert_eq!(code(&conflict), "submission_in_progress");
    write_chunk(&mut first, &slow[1000..]);
    first.write_all(b"0\r\n\r\n").unwrap();
    first.flush().unwrap();
    let answer = tokio::task::spawn_blocking(move || read_head(&mut first))
        .await
        .unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "the first upload, once finished, is stored: {answer}"
    );
    let (status, _) = submit(&http, url, "slow", slow).await.unwrap();
    assert_eq!(status, StatusCode::OK);

    let listed = list_all(&http, url, &team.token).await;
    assert_eq!(listed.len(), 2, "only the two good reports were stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_refusals_sqlite() {
    refusals(sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_refusals_postgres() {
    refusals(postgres()).await;
}

/// A TCP relay to `upstream` that swallows the response of the first connection: the request
/// arrives and is processed, the client never hears back.
async fn response_dropping_proxy(upstream: SocketAddr) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let first = Arc::new(AtomicBool::new(true));
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let drop_response = first.swap(false, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut server = tokio::net::TcpStream::connect(upstream).await.unwrap();
                if !drop_response {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    return;
                }
                let (mut client_read, _client_write) = client.split();
                let (mut server_read, mut server_write) = server.split();
                let forward = tokio::io::copy(&mut client_read, &mut server_write);
                let mut first_byte = [0u8; 1];
                // Forward the request; as soon as the answer starts, hang up on both.
                tokio::select! {
                    _ = forward => {}
                    _ = tokio::io::AsyncReadExt::read(&mut server_read, &mut first_byte) => {}
                }
            });
        }
    });
    addr
}

async fn lost_response(backend: Backend) {
    let team = Team::new(backend.dir.path(), "security@example.org");
    let server = Server::start(&backend, &team, &[]);
    let proxy = response_dropping_proxy(server.addr).await;
    let http = client();
    let via_proxy = format!("http://{proxy}");
    let body = encrypt(&[&team.key], b"the report", false);
    let first = submit(&http, &via_proxy, "lost-1", body.clone()).await;
    assert!(first.is_err(), "the first response is lost: {first:?}");
    // The client retries with the same key and the same bytes.
    let (status, j) = submit(&http, &via_proxy, "lost-1", body.clone())
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "the first attempt was stored: {j}");
    let listed = list_all(&http, &server.url, &team.token).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["receipt"], j["receipt"]);
    assert_eq!(
        message(
            &http,
            &server.url,
            &team.token,
            j["receipt"].as_str().unwrap()
        )
        .await,
        body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_retry_after_lost_response_sqlite() {
    lost_response(sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_retry_after_lost_response_postgres() {
    lost_response(postgres()).await;
}

struct Attempt {
    key: String,
    body: Arc<Vec<u8>>,
}

async fn kill9_in_a_burst(backend: Backend) {
    let team = Team::new(backend.dir.path(), "security@example.org");
    let mut server = Server::start(&backend, &team, &[]);
    let http = client();
    let url = server.url.clone();
    let acked: Arc<Mutex<Vec<(Attempt, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let failed: Arc<Mutex<Vec<Attempt>>> = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for t in 0..32usize {
        // Every fourth client sends bodies over a MiB (streamed to storage: a body file or
        // chunk rows), the rest 10 KB (stored with their row).
        let size = if t % 4 == 0 { 1_200_000 } else { 10_000 };
        let plaintext = noise(size, t as u64);
        let team_key = team.key.clone();
        let (http, url, acked, failed) = (http.clone(), url.clone(), acked.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0.. {
                // Each report its own ciphertext (identical ones are stored once).
                let attempt = Attempt {
                    key: format!("burst-{t}-{n}"),
                    body: Arc::new(encrypt(&[&team_key], &plaintext, false)),
                };
                match submit(&http, &url, &attempt.key, attempt.body.to_vec()).await {
                    Ok((StatusCode::CREATED, j)) => {
                        let receipt = j["receipt"].as_str().unwrap().to_owned();
                        acked.lock().unwrap().push((attempt, receipt));
                    }
                    Ok((status, j)) => panic!("{status}: {j}"),
                    Err(_) => {
                        failed.lock().unwrap().push(attempt);
                        return;
                    }
                }
            }
        }));
    }
    for _ in 0..6000 {
        if acked.lock().unwrap().len() >= 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(acked.lock().unwrap().len() >= 200, "{}", server.log());
    server.kill9();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let failed = std::mem::take(&mut *failed.lock().unwrap());
    assert_eq!(failed.len(), 32, "every client saw the server die");

    let server = Server::start(&backend, &team, &[]);
    let url = &server.url;
    // Every receipt ever returned is there, byte for byte.
    for (attempt, receipt) in &acked {
        let got = message(&http, url, &team.token, receipt).await;
        assert_eq!(
            Sha256::digest(&got),
            Sha256::digest(attempt.body.as_slice()),
            "report {receipt} ({}) changed",
            attempt.key
        );
    }
    // The clients whose request was in flight retry: each gets 201 (it was not stored) or
    // 200 (it was, and the answer was lost) — never a second copy.
    let mut recovered = 0;
    for attempt in &failed {
        let (status, j) = submit(&http, url, &attempt.key, attempt.body.to_vec())
            .await
            .unwrap();
        match status {
            StatusCode::CREATED => {}
            StatusCode::OK => recovered += 1,
            other => panic!("{other}: {j}"),
        }
    }
    let listed = list_all(&http, url, &team.token).await;
    assert_eq!(listed.len(), acked.len() + failed.len());
    let listed_receipts: std::collections::HashSet<&str> = listed
        .iter()
        .map(|r| r["receipt"].as_str().unwrap())
        .collect();
    for (_, receipt) in &acked {
        assert!(listed_receipts.contains(receipt.as_str()));
    }
    eprintln!(
        "kill -9 after {} acknowledged; {} in flight, {recovered} of them had been stored",
        acked.len(),
        failed.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_kill9_during_a_burst_loses_nothing_acknowledged_sqlite() {
    kill9_in_a_burst(sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_kill9_during_a_burst_loses_nothing_acknowledged_postgres() {
    kill9_in_a_burst(postgres()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_sigterm_finishes_uploads_in_flight_and_refuses_new_connections() {
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@example.org");
    let mut server = Server::start(&backend, &team, &[]);
    let http = client();
    let url = server.url.clone();
    let body = encrypt(&[&team.key], &noise(3_000_000, 5), false);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let upload = {
        let http = http.clone();
        let url = url.clone();
        tokio::spawn(async move {
            let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
            let r = http
                .post(format!("{url}/v1/reports"))
                .header("idempotency-key", "in-flight")
                .body(reqwest::Body::wrap_stream(stream))
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        })
    };
    // More than the small-body limit: the server is now writing a body file.
    tx.send(Ok(Bytes::copy_from_slice(&body[..2_000_000])))
        .await
        .unwrap();
    let Store::Sqlite(data) = &backend.store else {
        unreachable!()
    };
    let bodies = data.join("bodies");
    let mut started = false;
    for _ in 0..2000 {
        let tmp = std::fs::read_dir(&bodies)
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            })
            .unwrap_or(false);
        if tmp {
            started = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(started, "the upload reached the server");

    let pid = server.pid();
    let kill = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    // New connections are refused once the listener is closed.
    let mut refused = false;
    for _ in 0..2000 {
        if TcpStream::connect(server.addr).is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(refused, "the listener closed after SIGTERM");
    // The upload in flight still completes and is acknowledged.
    tx.send(Ok(Bytes::copy_from_slice(&body[2_000_000..])))
        .await
        .unwrap();
    drop(tx);
    let (status, j) = upload.await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{j}\n{}", server.log());
    let exit = server.wait_exit();
    assert!(exit.success(), "clean exit: {exit:?}\n{}", server.log());

    let server = Server::start(&backend, &team, &[]);
    let got = message(
        &http,
        &server.url,
        &team.token,
        j["receipt"].as_str().unwrap(),
    )
    .await;
    assert_eq!(got, body);
}

impl Server {
    /// Waits for a process already signalled to exit.
    fn wait_exit(&mut self) -> ExitStatus {
        self.child.take().expect("running").wait().unwrap()
    }
}

/// Two replicas on one PostgreSQL, both started from the one configuration file
/// `embargo-intake init --database` wrote (README "Several replicas"), the team's token the one
/// `init` made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_two_replicas_on_one_postgres() {
    let backend = postgres();
    let d = backend.dir.path();
    let Store::Postgres(database) = &backend.store else {
        unreachable!("a PostgreSQL backend")
    };
    let mut team = Team::new(d, "security@example.org");
    let init = Command::new(intake_bin())
        .current_dir(d)
        .args(["init", "--domain", "example.org", "--team-cert"])
        .arg(&team.cert_path)
        .args(["--database", database, "--token-file", "team.token"])
        .output()
        .unwrap();
    embargo_tests::expect_code(&init, 0);
    team.token = std::fs::read_to_string(d.join("team.token"))
        .unwrap()
        .trim()
        .to_owned();
    let config = d.join("intake.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(database.as_str()), "{text}");
    let a = Server::start_config(&config, d);
    let b = Server::start_config(&config, d);
    assert_ne!(a.addr, b.addr);
    let http = client();
    // Submissions to both at once.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let url = if i % 2 == 0 {
            a.url.clone()
        } else {
            b.url.clone()
        };
        let http = http.clone();
        let body = encrypt(&[&team.key], format!("report {i}").as_bytes(), false);
        tasks.push(tokio::spawn(async move {
            let (status, j) = submit(&http, &url, &format!("replica-{i}"), body.clone())
                .await
                .unwrap();
            assert_eq!(status, StatusCode::CREATED, "{j}");
            (j, body)
        }));
    }
    let mut sent = Vec::new();
    for t in tasks {
        sent.push(t.await.unwrap());
    }
    // Either replica lists all of them, in the same order.
    let via_a = list_all(&http, &a.url, &team.token).await;
    let via_b = list_all(&http, &b.url, &team.token).await;
    assert_eq!(via_a.len(), 40);
    assert_eq!(via_a, via_b);
    // Submitted to A, pulled and answered through B, seen by the researcher through A.
    let (created, body) = &sent[0];
    let receipt = created["receipt"].as_str().unwrap();
    assert_eq!(&message(&http, &b.url, &team.token, receipt).await, body);
    let researcher = key("r@example.net");
    let r = http
        .post(format!("{}/v1/team/reports/{receipt}/replies", b.url))
        .bearer_auth(&team.token)
        .body(encrypt(&[&researcher], b"thanks", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = http
        .put(format!("{}/v1/team/reports/{receipt}/status", b.url))
        .bearer_auth(&team.token)
        .body(r#"{"status":"triaged"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for server in [&a, &b] {
        // Status tokens work on every replica: the secret lives in the database.
        let s: Value = http
            .get(format!("{}/v1/reports/{receipt}", server.url))
            .bearer_auth(created["status_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(s["status"], "triaged");
        assert_eq!(s["replies"].as_array().unwrap().len(), 1);
    }
    // The same key sent to the other replica is a replay.
    let (status, j) = submit(&http, &b.url, "replica-0", body.clone())
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(j["receipt"], receipt);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_serves_https_with_its_own_certificate() {
    let backend = sqlite();
    let dir = backend.dir.path();
    let team = Team::new(dir, "security@example.org");
    let tls = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = tls.cert.pem();
    let server = Server::start_tls(&backend, &team, &cert_pem, &tls.signing_key.serialize_pem());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let https = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap()])
        .resolve("localhost", server.addr)
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", server.addr.port());
    let txt = https
        .get(format!("{base}/.well-known/security.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(txt.status(), StatusCode::OK);
    let txt = txt.text().await.unwrap();
    assert!(
        txt.contains(&format!("Canonical: {base}/.well-known/security.txt")),
        "{txt}"
    );
    let body = encrypt(&[&team.key], b"over TLS", false);
    let (status, _) = submit(&https, &base, "tls", body).await.unwrap();
    assert_eq!(status, StatusCode::CREATED);
    // Plain HTTP to the TLS port gets nowhere.
    let plain = client()
        .get(format!("http://{}/.well-known/security.txt", server.addr))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != StatusCode::OK);
}

/// `embargo-intake init` sets a team up: a commented configuration (0600) holding only the
/// token's hash, the token printed once, the security.txt to publish; the server runs from that
/// file alone, takes a report, and the team pulls it with the printed token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_sets_up_an_intake_the_team_pulls_from() {
    use embargo_tests::{embargo, expect_code};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let keygen = [
        "key",
        "generate",
        "--userid",
        "Alice <alice@acme.test>",
        "-o",
        "alice.key",
        "--public",
        "alice.asc",
    ];
    expect_code(&embargo(d, keygen), 0);
    let init = |config: &str, cert: &str| {
        Command::new(intake_bin())
            .current_dir(d)
            .args(["init", "--domain", "Acme.Test", "--team-cert", cert])
            .args(["--data", "data", "--config", config])
            .args(["--policy", "https://acme.test/security"])
            .output()
            .unwrap()
    };
    let out = init("intake.toml", "alice.asc");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}{stderr}");
    let token = stdout
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .unwrap()
        .to_owned();
    assert_eq!(token.len(), 43);
    let cert = embargo_core::keys::read_certs(&d.join("alice.asc"))
        .unwrap()
        .remove(0);
    for line in [
        "Contact: mailto:alice@acme.test".to_owned(),
        format!(
            "Encryption: https://acme.test/keys/{}.asc",
            cert.fingerprint().to_hex()
        ),
        "Embargo-Intake: https://acme.test/".to_owned(),
        "Canonical: https://acme.test/.well-known/security.txt".to_owned(),
        "Policy: https://acme.test/security".to_owned(),
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line} in:\n{stdout}");
    }
    assert!(stdout.lines().any(|l| l.starts_with("Expires: ")));
    assert!(stderr.contains("serve --config intake.toml"), "{stderr}");
    let config = d.join("intake.toml");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(!text.contains(&token), "only the token's hash is stored");
    let hash: String = Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(text.contains(&hash));
    // Never overwritten; a configuration the server could not run is not left behind.
    let again = init("intake.toml", "alice.asc");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("never replaced"));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text);
    let bad = init("bad.toml", "missing.asc");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("missing.asc"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(!d.join("bad.toml").exists());

    // The server from the file alone; a report in; the team pulls it with the printed token.
    let server = Server::start_config(&config, d);
    let report = b"IDOR in /orders: any customer reads any order.";
    let (status, created) = submit(
        &client(),
        &server.url,
        "init-1",
        encrypt(&[&cert], report, true),
    )
    .await
    .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let receipt = created["receipt"].as_str().unwrap();
    std::fs::write(d.join("token"), format!("{token}\n")).unwrap();
    let pull = [
        "team",
        "pull",
        "--intake",
        server.url.as_str(),
        "--token-file",
        "token",
        "--key",
        "alice.key",
        "-o",
        "inbox",
    ];
    expect_code(&embargo(d, pull), 0);
    let pulled: Vec<String> = embargo_tests::tree(&d.join("inbox").join(receipt));
    let found = pulled.iter().any(|f| {
        std::fs::read(d.join("inbox").join(receipt).join(f))
            .is_ok_and(|b| b.windows(report.len()).any(|w| w == report))
    });
    assert!(found, "the report pulled and opened: {pulled:?}");
}

/// README's "For security teams" block, taken from the README and run line by line as written
/// (the server's line in the background); before the last line, a researcher submits a report
/// with `embargo submit`; the team's `embargo team pull` then opens it.
#[test]
fn the_readme_commands_for_security_teams_receive_a_report() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let block = readme
        .split("<!-- team-quickstart -->\n```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("README has the team quickstart block");
    let lines: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() <= 5, "at most five commands: {lines:?}");
    let _turn = crate::alone(); // a fixed port: nothing else listens on it meanwhile
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The binaries this build made, first on PATH.
    let bin = intake_bin().parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let home = d.join("team-home");
    let shell = |line: &str| {
        let mut c = Command::new("bash");
        c.args(["-euo", "pipefail", "-c", line])
            .current_dir(d)
            .env("PATH", &path)
            .env("EMBARGO_HOME", &home)
            .env("HOME", d);
        c
    };
    let mut server: Option<Child> = None;
    let url = "http://127.0.0.1:8722";
    for line in lines {
        if let Some(background) = line.strip_suffix(" &") {
            let child = shell(&format!("exec {background}"))
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(d.join("serve.log")).unwrap())
                .spawn()
                .unwrap();
            server = Some(child);
            let start = std::time::Instant::now();
            while TcpStream::connect("127.0.0.1:8722").is_err() {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "the server did not listen: {}",
                    std::fs::read_to_string(d.join("serve.log")).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            continue;
        }
        if line.starts_with("embargo team pull") {
            // A researcher, elsewhere: the team's key pinned, a report submitted.
            let r = d.join("researcher");
            std::fs::create_dir_all(&r).unwrap();
            std::fs::copy(d.join("team.asc"), r.join("team.asc")).unwrap();
            std::fs::write(
                r.join("r.md"),
                embargo_tests::report_text("IDOR through the quickstart", "\"anonymous\""),
            )
            .unwrap();
            embargo_tests::pin_team_asc(&r);
            let out = embargo_tests::embargo(&r, ["submit", "r.md", "--intake", url, "--json"]);
            embargo_tests::expect_code(&out, 0);
        }
        let out = shell(line).output().unwrap();
        assert!(
            out.status.success(),
            "{line}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut server = server.expect("the block starts the server");
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status();
    let _ = server.wait();
    let txt = std::fs::read_to_string(d.join("security.txt")).unwrap();
    assert!(
        txt.contains("Embargo-Intake: http://127.0.0.1:8722/"),
        "{txt}"
    );
    let pulled = embargo_tests::tree(&d.join("inbox"));
    let found = pulled.iter().any(|f| {
        std::fs::read_to_string(d.join("inbox").join(f))
            .is_ok_and(|t| t.contains("IDOR through the quickstart"))
    });
    assert!(found, "the report pulled and opened: {pulled:?}");
}

/// The systemd unit shipped for the intake passes `systemd-analyze verify` and keeps the
/// exposure `systemd-analyze security` scores at or below 2.0 (README records it).
#[test]
fn the_systemd_unit_verifies_and_is_locked_down() {
    let shipped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/systemd/embargo-intake.service");
    let text = std::fs::read_to_string(&shipped).unwrap();
    for directive in [
        "User=embargo-intake",
        "StateDirectory=embargo-intake",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "MemoryDenyWriteExecute=yes",
        "SystemCallFilter=@system-service",
        "ExecStart=/usr/bin/embargo-intake serve --config /etc/embargo-intake/intake.toml",
    ] {
        assert!(
            text.lines().any(|l| l == directive),
            "{directive} in the unit"
        );
    }
    // verify checks that ExecStart's program exists: the unit as installed, pointed at the
    // binary this build made.
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("embargo-intake.service");
    std::fs::write(
        &unit,
        text.replace(
            "/usr/bin/embargo-intake",
            &intake_bin().display().to_string(),
        ),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze (scripts/setup-system.sh test installs systemd)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let score: f64 = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for embargo-intake.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    assert!(score <= 2.0, "exposure {score}:\n{report}");
}

#[test]
fn intake_token_and_check_config_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(intake_bin())
        .args(["token", "new", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = j["token"].as_str().unwrap();
    let hash = j["hash"].as_str().unwrap();
    assert_eq!(token.len(), 43, "256 bits, base64url");
    let digest: String = Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hash, digest);
    let text = Command::new(intake_bin())
        .args(["token", "new"])
        .output()
        .unwrap();
    assert!(stdout(&text).starts_with("token: "));

    let team = key("security@example.org");
    let cert = dir.path().join("team.asc");
    std::fs::write(&cert, team.armored().to_vec().unwrap()).unwrap();
    let check = |args: &[&str]| {
        Command::new(intake_bin())
            .arg("check-config")
            .args(args)
            .output()
            .unwrap()
    };
    let data = dir.path().join("data");
    let ok = check(&[
        "--data",
        data.to_str().unwrap(),
        "--team-cert",
        cert.to_str().unwrap(),
        "--team-token-hash",
        hash,
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let shown = stdout(&ok);
    assert!(shown.contains(&team.fingerprint().to_hex()), "{shown}");
    assert!(shown.contains("config OK"));

    let bad_hash = check(&[
        "--data",
        data.to_str().unwrap(),
        "--team-cert",
        cert.to_str().unwrap(),
        "--team-token-hash",
        "abc",
    ]);
    assert_eq!(bad_hash.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&bad_hash.stderr).contains("team token hash #1 (\"abc\")"));

    let secret = dir.path().join("secret.asc");
    std::fs::write(&secret, team.as_tsk().armored().to_vec().unwrap()).unwrap();
    let with_secret = check(&[
        "--data",
        data.to_str().unwrap(),
        "--team-cert",
        secret.to_str().unwrap(),
    ]);
    assert_eq!(with_secret.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&with_secret.stderr).contains("secret key material"));

    let config = dir.path().join("intake.toml");
    std::fs::write(
        &config,
        "data = \"data\"\nteam_certs = [\"team.asc\"]\nbody_limt = 5\n",
    )
    .unwrap();
    let typo = check(&["--config", config.to_str().unwrap()]);
    assert_eq!(typo.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&typo.stderr).contains("body_limt"));

    std::fs::write(
        &config,
        "data = \"data\"\nteam_certs = [\"team.asc\"]\n[program]\ncontact = [\"https://example.org/report\"]\npolicy = \"https://example.org/policy\"\n",
    )
    .unwrap();
    let from_file = check(&["--config", config.to_str().unwrap()]);
    assert!(
        from_file.status.success(),
        "{}",
        String::from_utf8_lossy(&from_file.stderr)
    );
    assert!(stdout(&from_file).contains("https://example.org/report"));

    let no_storage = Command::new(intake_bin())
        .args(["serve", "--team-cert", cert.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(no_storage.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&no_storage.stderr).contains("--data DIR"));
}
