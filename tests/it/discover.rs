//! Key discovery end to end: `embargo discover` and `embargo securitytxt`, and the core's
//! `discover()` over the real HTTPS client, against a loopback TLS server whose certificate comes
//! from a test CA made with rcgen.
//!
//! The client reaches the server only through configuration: `EMBARGO_CA_FILE` (the test CA) and
//! `EMBARGO_RESOLVE` (`host=127.0.0.1:PORT` for every host a test uses, so URLs keep their
//! production shape, `https://good.test/…` on the default port, while the connection goes to the
//! random loopback port). Key servers are `https://vks.test` and `https://proton.test`, so a
//! broken override could never reach the real ones: `.test` names do not exist.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use embargo_core::discover::{self, DiscoveryConfig, ProtonLookup, Source, Target};
use embargo_core::net::{self, HttpTransport, NetConfig};
use embargo_core::openpgp;
use http_body_util::Full;
use hyper::body::Bytes;
use openpgp::cert::CertBuilder;
use openpgp::serialize::stream::{Message, Signer};
use openpgp::serialize::SerializeInto;
use openpgp::Cert;
use tempfile::TempDir;

use embargo_tests::{embargo_bin, expect_code, stderr, stdout};

/// What the server answers for one host and path (with query).
#[derive(Clone)]
pub(crate) enum Reply {
    Ok(&'static str, Vec<u8>),
    Redirect(String),
    /// Answers only after a long time (longer than any test timeout).
    Slow,
}

/// A test CA and a certificate it signs for some host names, as PEM and DER.
pub(crate) struct TestTls {
    pub ca_pem: String,
    pub ca_der: rustls::pki_types::CertificateDer<'static>,
    /// The leaf then the CA, PEM: a server's chain file.
    pub chain_pem: String,
    pub leaf_der: rustls::pki_types::CertificateDer<'static>,
    pub key_pem: String,
    pub key_der: Vec<u8>,
}

impl TestTls {
    pub(crate) fn new(ca_name: &str, hosts: Vec<String>) -> TestTls {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, ca_name);
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(hosts)
            .unwrap()
            .signed_by(&leaf_key, &*ca)
            .unwrap();
        TestTls {
            ca_pem: ca.pem(),
            ca_der: ca.der().clone(),
            chain_pem: format!("{}{}", leaf.pem(), ca.pem()),
            leaf_der: leaf.der().clone(),
            key_pem: leaf_key.serialize_pem(),
            key_der: leaf_key.serialize_der(),
        }
    }
}

/// A loopback HTTPS server for many virtual hosts, with its test CA.
pub(crate) struct Server {
    addr: SocketAddr,
    hosts: Vec<String>,
    _dir: TempDir,
    ca_file: PathBuf,
}

impl Server {
    pub(crate) fn start(routes: Vec<(&str, &str, Reply)>) -> Server {
        let mut hosts: Vec<String> = routes.iter().map(|(h, _, _)| h.to_string()).collect();
        for extra in ["vks.test", "proton.test"] {
            hosts.push(extra.into());
        }
        hosts.sort();
        hosts.dedup();

        let tls = TestTls::new("Embargo test CA", hosts.clone());
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("test-ca.pem");
        std::fs::write(&ca_file, &tls.ca_pem).unwrap();

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(tls.key_der),
        );
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![tls.leaf_der, tls.ca_der], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let table: Arc<HashMap<(String, String), Reply>> = Arc::new(
            routes
                .into_iter()
                .map(|(h, p, r)| ((h.to_owned(), p.to_owned()), r))
                .collect(),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let acceptor = acceptor.clone();
                    let table = table.clone();
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let service = hyper::service::service_fn(move |req| {
                            let table = table.clone();
                            async move { Ok::<_, Infallible>(answer(&table, req).await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                            .await;
                    });
                }
            });
        });
        Server {
            addr,
            hosts,
            _dir: dir,
            ca_file,
        }
    }

    /// `EMBARGO_RESOLVE`: every host to the loopback port.
    pub(crate) fn resolve(&self) -> String {
        self.hosts
            .iter()
            .map(|h| format!("{h}={}", self.addr))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub(crate) fn ca_file(&self) -> &std::path::Path {
        &self.ca_file
    }

    fn net_config(&self, timeout: Duration) -> NetConfig {
        NetConfig {
            ca_file: Some(self.ca_file.clone()),
            resolve: net::parse_resolve(&self.resolve()).unwrap(),
            timeout,
            connect_timeout: timeout,
            ..NetConfig::default()
        }
    }

    /// Runs `embargo` pointed at this server by environment only.
    fn embargo(&self, args: &[&str]) -> Output {
        self.embargo_with(args, &[])
    }

    /// Runs `embargo` in `dir` with its data directory kept there between runs.
    pub(crate) fn embargo_in(&self, dir: &std::path::Path, args: &[&str]) -> Output {
        Command::new(embargo_bin())
            .args(args)
            .current_dir(dir)
            .env("EMBARGO_HOME", dir.join(".embargo-home"))
            .env("EMBARGO_CA_FILE", &self.ca_file)
            .env("EMBARGO_RESOLVE", self.resolve())
            .env("EMBARGO_VKS_URL", "https://vks.test")
            .env("EMBARGO_PROTON_URL", "https://proton.test")
            .stdin(Stdio::null())
            .output()
            .expect("run embargo")
    }

    /// The same, with more (or replaced) environment variables.
    fn embargo_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(embargo_bin());
        cmd.args(args)
            .env("EMBARGO_HOME", home.path())
            .env("EMBARGO_CA_FILE", &self.ca_file)
            .env("EMBARGO_RESOLVE", self.resolve())
            .env("EMBARGO_VKS_URL", "https://vks.test")
            .env("EMBARGO_PROTON_URL", "https://proton.test")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run embargo")
    }
}

async fn answer(
    table: &HashMap<(String, String), Reply>,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let reply = table.get(&(host, path)).cloned();
    let resp = hyper::Response::builder();
    match reply {
        Some(Reply::Ok(content_type, body)) => resp
            .header(hyper::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body))),
        Some(Reply::Redirect(to)) => resp
            .status(302)
            .header(hyper::header::LOCATION, to)
            .body(Full::new(Bytes::new())),
        Some(Reply::Slow) => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            resp.body(Full::new(Bytes::new()))
        }
        None => resp
            .status(404)
            .body(Full::new(Bytes::from_static(b"not found"))),
    }
    .unwrap()
}

/// A team key: the secret key (for signing security.txt) and the public cert.
pub(crate) fn team_key(uid: &str) -> (Cert, Cert) {
    let (tsk, _) = CertBuilder::general_purpose(Some(uid)).generate().unwrap();
    let public = tsk.clone().strip_secret_key_material();
    (tsk, public)
}

pub(crate) fn armored(cert: &Cert) -> Vec<u8> {
    cert.armored().to_vec().unwrap()
}

fn binary(cert: &Cert) -> Vec<u8> {
    cert.to_vec().unwrap()
}

fn expires(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(crate) fn security_txt(domain: &str, expires_in_days: i64, extra: &str) -> Vec<u8> {
    format!(
        "# Security contact for {domain}\nContact: mailto:security@{domain}\nExpires: {}\nCanonical: https://{domain}/.well-known/security.txt\n{extra}",
        expires(expires_in_days)
    )
    .into_bytes()
}

fn clear_sign(tsk: &Cert, text: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let p = openpgp::policy::StandardPolicy::new();
    let keypair = tsk
        .keys()
        .secret()
        .with_policy(&p, None)
        .for_signing()
        .next()
        .unwrap()
        .key()
        .clone()
        .into_keypair()
        .unwrap();
    let mut sink = Vec::new();
    {
        let m = Message::new(&mut sink);
        let mut s = Signer::new(m, keypair)
            .unwrap()
            .cleartext()
            .build()
            .unwrap();
        s.write_all(text).unwrap();
        s.finalize().unwrap();
    }
    sink
}

fn wkd_direct(address: &str) -> (String, String) {
    let (_, direct) = embargo_core::wkd::wkd_urls(address).unwrap();
    let path = format!("{}?{}", direct.path(), direct.query().unwrap());
    (direct.host_str().unwrap().to_owned(), path)
}

fn wkd_advanced(address: &str) -> (String, String) {
    let (advanced, _) = embargo_core::wkd::wkd_urls(address).unwrap();
    let path = format!("{}?{}", advanced.path(), advanced.query().unwrap());
    (advanced.host_str().unwrap().to_owned(), path)
}

pub(crate) const TEXT: &str = "text/plain; charset=utf-8";
pub(crate) const KEYS: &str = "application/octet-stream";

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", stdout(out), stderr(out)))
}

fn problems(v: &serde_json::Value) -> Vec<String> {
    v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

/// The good program: a signed security.txt naming the key (behind an https redirect), WKD and
/// VKS serving the same key. One candidate, three sources, no problem.
#[test]
fn discover_a_good_program() {
    let (tsk, cert) = team_key("Good Security <security@good.test>");
    let st = clear_sign(
        &tsk,
        &security_txt("good.test", 90, "Encryption: https://good.test/key.asc\n"),
    );
    let (wkd_host, wkd_path) = wkd_direct("security@good.test");
    let (adv_host, _) = wkd_advanced("security@good.test");
    let server = Server::start(vec![
        (
            "good.test",
            "/.well-known/security.txt",
            Reply::Ok(TEXT, st),
        ),
        (
            "good.test",
            "/key.asc",
            Reply::Redirect("https://good.test/keys/team.asc".into()),
        ),
        (
            "good.test",
            "/keys/team.asc",
            Reply::Ok(KEYS, armored(&cert)),
        ),
        (&wkd_host, &wkd_path, Reply::Ok(KEYS, binary(&cert))),
        (&adv_host, "/unused", Reply::Slow),
        (
            "vks.test",
            "/vks/v1/by-email/security@good.test",
            Reply::Ok(KEYS, armored(&cert)),
        ),
    ]);
    let out = server.embargo(&["discover", "good.test", "--json"]);
    expect_code(&out, 0);
    let v = json(&out);
    assert_eq!(
        v,
        serde_json::json!({
            "candidates": [{
                "fingerprint": cert.fingerprint().to_hex(),
                "user_ids": ["Good Security <security@good.test>"],
                "sources": ["security.txt", "wkd", "vks"],
                "format": "SEIPDv1",
            }],
            "problems": [],
        })
    );

    // The human form: fingerprint in groups of four, the dates, the format, every source, and
    // that the key signed the security.txt.
    let out = server.embargo(&["discover", "security@good.test"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    let grouped = embargo_core::keys::grouped(&cert.fingerprint());
    for want in [
        format!("fingerprint  {grouped}"),
        "user ID      Good Security <security@good.test>".to_owned(),
        "algorithm    EdDSA Ed25519 (primary key)".to_owned(),
        "ECDH Curve25519 (encryption subkey".to_owned(),
        "expires      ".to_owned(),
        "format       SEIPDv1".to_owned(),
        "sources      security.txt, wkd, vks".to_owned(),
        "signed the security.txt".to_owned(),
        "(signed, verified with".to_owned(),
    ] {
        assert!(text.contains(&want), "{want:?} missing from:\n{text}");
    }
}

/// WKD serves another key than the one security.txt names: a loud problem naming both.
#[test]
fn discover_a_substituted_key() {
    let (_, named) = team_key("Security <security@substituted.test>");
    let (_, substitute) = team_key("Security <security@substituted.test>");
    let (adv_host, adv_path) = wkd_advanced("security@substituted.test");
    let server = Server::start(vec![
        (
            "substituted.test",
            "/.well-known/security.txt",
            Reply::Ok(
                TEXT,
                security_txt(
                    "substituted.test",
                    90,
                    "Encryption: https://substituted.test/key.asc\n",
                ),
            ),
        ),
        (
            "substituted.test",
            "/key.asc",
            Reply::Ok(KEYS, armored(&named)),
        ),
        (&adv_host, &adv_path, Reply::Ok(KEYS, binary(&substitute))),
    ]);
    let out = server.embargo(&["discover", "substituted.test", "--json"]);
    let v = json(&out);
    let fprs: Vec<&str> = v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(fprs.len(), 2, "{v}");
    assert_eq!(
        problems(&v),
        [format!(
            "KEYS DISAGREE: wkd for security@substituted.test serves {}, but security.txt names {}; do not pin either until the team confirms its key",
            substitute.fingerprint().to_hex(),
            named.fingerprint().to_hex()
        )]
    );
    // In text too, where a person reads it.
    let out = server.embargo(&["discover", "substituted.test"]);
    assert!(stdout(&out).contains("KEYS DISAGREE"), "{}", stdout(&out));
}

/// An expired security.txt is reported; the keys it leads to are still shown.
#[test]
fn discover_an_expired_security_txt() {
    let (_, cert) = team_key("Security <security@expired.test>");
    let (host, path) = wkd_direct("security@expired.test");
    let st = security_txt("expired.test", -3, "");
    let expires_line = String::from_utf8(st.clone())
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Expires: ").map(str::to_owned))
        .unwrap();
    let server = Server::start(vec![
        (
            "expired.test",
            "/.well-known/security.txt",
            Reply::Ok(TEXT, st),
        ),
        (&host, &path, Reply::Ok(KEYS, binary(&cert))),
    ]);
    let out = server.embargo(&["discover", "expired.test", "--json"]);
    expect_code(&out, 0);
    let v = json(&out);
    assert_eq!(
        problems(&v),
        [format!(
            "security.txt: the file has expired: Expires {expires_line} (line 3) is in the past"
        )]
    );
    assert_eq!(v["candidates"][0]["sources"], serde_json::json!(["wkd"]));
}

/// A WKD cert without a user ID for the address looked up is no candidate; nothing usable: 2.
#[test]
fn discover_a_wkd_cert_without_the_user_id() {
    let (_, stranger) = team_key("Someone Else <someone@elsewhere.test>");
    let (host, path) = wkd_advanced("security@nouid.test");
    let server = Server::start(vec![
        (
            "nouid.test",
            "/.well-known/security.txt",
            Reply::Ok(TEXT, security_txt("nouid.test", 90, "")),
        ),
        (&host, &path, Reply::Ok(KEYS, binary(&stranger))),
    ]);
    let out = server.embargo(&["discover", "nouid.test", "--json"]);
    expect_code(&out, 2);
    let v = json(&out);
    assert_eq!(v["candidates"], serde_json::json!([]));
    assert_eq!(
        problems(&v),
        [format!(
            "wkd served key {} for security@nouid.test (https://{host}{path}), but it has no valid user ID with that address; it is not a candidate",
            stranger.fingerprint().to_hex()
        )]
    );
}

/// A key only the verifying key server has, for an address given directly.
#[test]
fn discover_a_vks_answer() {
    let (_, cert) = team_key("Team <team@vksonly.test>");
    let server = Server::start(vec![
        ("vksonly.test", "/nothing-here", Reply::Ok(TEXT, Vec::new())),
        (
            "openpgpkey.vksonly.test",
            "/nothing-here",
            Reply::Ok(TEXT, Vec::new()),
        ),
        (
            "vks.test",
            "/vks/v1/by-email/team@vksonly.test",
            Reply::Ok(KEYS, armored(&cert)),
        ),
    ]);
    let out = server.embargo(&["discover", "team@vksonly.test", "--json"]);
    expect_code(&out, 0);
    let v = json(&out);
    assert_eq!(
        v["candidates"][0]["fingerprint"],
        cert.fingerprint().to_hex()
    );
    assert_eq!(v["candidates"][0]["sources"], serde_json::json!(["vks"]));
    assert_eq!(
        problems(&v),
        ["no security.txt at https://vksonly.test/.well-known/security.txt or https://vksonly.test/security.txt"]
    );
}

/// A redirect to http is refused (and the 404 at the second location is "not found").
#[test]
fn discover_refuses_a_redirect_to_http() {
    let server = Server::start(vec![
        (
            "redirect.test",
            "/.well-known/security.txt",
            Reply::Redirect("http://redirect.test/.well-known/security.txt".into()),
        ),
        ("openpgpkey.redirect.test", "/none", Reply::Slow),
    ]);
    let out = server.embargo(&["discover", "redirect.test", "--json"]);
    expect_code(&out, 2);
    let p = problems(&json(&out));
    assert_eq!(
        p[0],
        "security.txt: https://redirect.test/.well-known/security.txt: redirect to http://redirect.test/.well-known/security.txt refused (not https)"
    );
    assert!(p.contains(&"no security.txt at https://redirect.test/.well-known/security.txt or https://redirect.test/security.txt".to_owned()), "{p:?}");
}

/// 404 everywhere: nothing usable (exit 2), and --request-key prints the email to send.
#[test]
fn discover_nothing_and_request_a_key() {
    let server = Server::start(vec![
        ("missing.test", "/none", Reply::Slow),
        ("openpgpkey.missing.test", "/none", Reply::Slow),
    ]);
    let out = server.embargo(&["discover", "security@missing.test", "--request-key"]);
    expect_code(&out, 2);
    let text = stdout(&out);
    assert!(
        text.contains("No usable key found for missing.test."),
        "{text}"
    );
    assert!(text.contains("To: security@missing.test"), "{text}");
    assert!(
        text.contains(&format!("Subject: {}", discover::KEY_REQUEST_SUBJECT)),
        "{text}"
    );
    assert!(
        text.contains("mailto link: mailto:security@missing.test?subject="),
        "{text}"
    );
    // Every source was asked, and each 404 is an answer, not a problem.
    for want in [
        "https://missing.test/.well-known/security.txt",
        "https://openpgpkey.missing.test/.well-known/openpgpkey/missing.test/hu/",
        "https://missing.test/.well-known/openpgpkey/hu/",
        "https://vks.test/vks/v1/by-email/security@missing.test",
        "https://proton.test/pks/lookup?op=get&search=security%40missing.test",
    ] {
        assert!(text.contains(want), "{want} not looked up:\n{text}");
    }
    // --json and --request-key do not mix: the JSON has exactly two keys.
    let out = server.embargo(&["discover", "missing.test", "--json", "--request-key"]);
    expect_code(&out, 1);
}

/// A server that never answers: a timeout problem, and discovery goes on to the next source.
#[test]
fn discover_survives_a_slow_server() {
    let (_, cert) = team_key("Security <security@slow.test>");
    let (host, path) = wkd_direct("security@slow.test");
    let server = Server::start(vec![
        ("slow.test", "/.well-known/security.txt", Reply::Slow),
        (
            "slow.test",
            "/security.txt",
            Reply::Ok(TEXT, security_txt("slow.test", 90, "")),
        ),
        (&host, &path, Reply::Ok(KEYS, binary(&cert))),
    ]);
    let out = server.embargo(&["discover", "slow.test", "--json", "--timeout", "2"]);
    expect_code(&out, 0);
    let v = json(&out);
    assert_eq!(
        v["candidates"][0]["fingerprint"],
        cert.fingerprint().to_hex()
    );
    assert_eq!(
        problems(&v),
        [
            "security.txt: https://slow.test/.well-known/security.txt: timed out after 2 s",
            "security.txt found only at https://slow.test/security.txt; RFC 9116 requires /.well-known/security.txt",
            "security.txt was read from https://slow.test/security.txt, which is not among its Canonical URIs (https://slow.test/.well-known/security.txt)",
        ]
    );
}

/// The core function over the real client: same server, no CLI.
#[test]
fn core_discover_over_https() {
    let (_, cert) = team_key("Security <security@core.test>");
    let fpr = cert.fingerprint().to_hex();
    let (host, path) = wkd_direct("security@core.test");
    let server = Server::start(vec![
        (
            "core.test",
            "/.well-known/security.txt",
            Reply::Ok(
                TEXT,
                security_txt("core.test", 90, &format!("Encryption: openpgp4fpr:{fpr}\n")),
            ),
        ),
        (&host, &path, Reply::Ok(KEYS, binary(&cert))),
        ("openpgpkey.core.test", "/none", Reply::Slow),
    ]);
    let transport = HttpTransport::new(&server.net_config(Duration::from_secs(10))).unwrap();
    let cfg = DiscoveryConfig {
        vks: "https://vks.test".parse().unwrap(),
        proton: "https://proton.test".parse().unwrap(),
        proton_lookup: ProtonLookup::Never,
        now: chrono::Utc::now(),
    };
    let target = Target::parse("core.test").unwrap();
    let d = net::block_on(discover::discover(&transport, &target, &cfg)).unwrap();
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    assert_eq!(d.candidates.len(), 1);
    let c = &d.candidates[0];
    assert_eq!(c.fingerprint, fpr);
    assert_eq!(c.sources, [Source::SecurityTxt, Source::Wkd]);
    assert_eq!(c.cert.fingerprint(), cert.fingerprint());
    assert!(c.usable());
    let st = d.security_txt.as_ref().unwrap();
    assert_eq!(
        st.url.as_str(),
        "https://core.test/.well-known/security.txt"
    );
    assert!(!d.lookups.iter().any(|l| l.url.contains("proton")));
}

/// Without the test CA the server is not trusted: a TLS problem, never a silent success.
#[test]
fn the_test_ca_is_what_makes_the_server_trusted() {
    let server = Server::start(vec![(
        "untrusted.test",
        "/.well-known/security.txt",
        Reply::Ok(TEXT, security_txt("untrusted.test", 90, "")),
    )]);
    let mut cfg = server.net_config(Duration::from_secs(10));
    cfg.ca_file = None;
    let transport = HttpTransport::new(&cfg).unwrap();
    let url = "https://untrusted.test/.well-known/security.txt"
        .parse()
        .unwrap();
    use embargo_core::net::{FetchError, Transport};
    let e = net::block_on(transport.get(&url, 1024))
        .unwrap()
        .unwrap_err();
    assert!(matches!(e, FetchError::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("untrusted.test"), "{e}");
}

/// `embargo securitytxt URL` over https, and a file verified with --cert.
#[test]
fn securitytxt_command() {
    let (tsk, cert) = team_key("Security <security@parse.test>");
    let signed = clear_sign(
        &tsk,
        &security_txt("parse.test", 90, "Policy: http://parse.test/policy\n"),
    );
    let server = Server::start(vec![(
        "parse.test",
        "/.well-known/security.txt",
        Reply::Ok(TEXT, signed.clone()),
    )]);
    let out = server.embargo(&[
        "securitytxt",
        "https://parse.test/.well-known/security.txt",
        "--json",
    ]);
    expect_code(&out, 2);
    let v = json(&out);
    assert_eq!(v["signed"], true);
    assert_eq!(v["signature"], "unverified");
    assert_eq!(
        v["contacts"],
        serde_json::json!(["mailto:security@parse.test"])
    );
    assert_eq!(
        problems(&v),
        ["Policy on line 8 uses http://, but RFC 9116 requires https:// for web URIs: http://parse.test/policy"]
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("security.txt");
    let key = dir.path().join("team.asc");
    std::fs::write(&file, &signed).unwrap();
    std::fs::write(&key, armored(&cert)).unwrap();
    let out = server.embargo(&[
        "securitytxt",
        file.to_str().unwrap(),
        "--cert",
        key.to_str().unwrap(),
    ]);
    expect_code(&out, 2);
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "signed, verified with {}",
            cert.fingerprint().to_hex()
        )),
        "{text}"
    );
    assert!(
        text.contains("Contact:              mailto:security@parse.test"),
        "{text}"
    );

    let out = server.embargo(&["securitytxt", "http://parse.test/.well-known/security.txt"]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("only https:// URLs are fetched"),
        "{}",
        stderr(&out)
    );
}

/// `--proxy` is used for every request (a closed proxy port: nothing is reached, although the
/// server is there), and bad network settings are errors that name the setting.
#[test]
fn the_proxy_is_used_and_bad_settings_are_named() {
    let (_, cert) = team_key("Security <security@proxied.test>");
    let (host, path) = wkd_direct("security@proxied.test");
    let server = Server::start(vec![
        (
            "proxied.test",
            "/.well-known/security.txt",
            Reply::Ok(TEXT, security_txt("proxied.test", 90, "")),
        ),
        (&host, &path, Reply::Ok(KEYS, binary(&cert))),
    ]);
    let out = server.embargo(&["discover", "proxied.test", "--json"]);
    expect_code(&out, 0);

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let proxy = format!("socks5h://{closed}");
    let out = server.embargo(&["discover", "proxied.test", "--json", "--proxy", &proxy]);
    expect_code(&out, 2);
    let p = problems(&json(&out));
    assert!(
        p[0].starts_with(
            "security.txt: https://proxied.test/.well-known/security.txt: cannot connect"
        ),
        "{p:?}"
    );

    let out = server.embargo(&["discover", "proxied.test", "--proxy", "not a proxy"]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("proxy \"not a proxy\" is not usable"),
        "{}",
        stderr(&out)
    );

    let out = server.embargo_with(
        &["discover", "proxied.test"],
        &[("EMBARGO_RESOLVE", "proxied.test")],
    );
    expect_code(&out, 1);
    assert!(
        stderr(&out)
            .contains("EMBARGO_RESOLVE entry \"proxied.test\" is not host=ip or host=ip:port"),
        "{}",
        stderr(&out)
    );

    let out = server.embargo_with(
        &["discover", "proxied.test"],
        &[("EMBARGO_CA_FILE", "/nonexistent/ca.pem")],
    );
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("cannot read the CA file /nonexistent/ca.pem (EMBARGO_CA_FILE)"),
        "{}",
        stderr(&out)
    );
}

/// A program's discovery server: security.txt naming the key and an intake, WKD serving it.
pub(crate) fn program_server(cert: &Cert) -> Server {
    domain_server(
        "team.test",
        cert,
        "Embargo-Intake: https://intake.team.test/\n",
        &["intake.team.test"],
    )
}

/// A domain publishing its team key in its security.txt (`Encryption:`) and through WKD for
/// `security@DOMAIN`, with `extra` security.txt lines; `hosts` are more names it answers for
/// (so that `EMBARGO_RESOLVE` points them at it, as a private deployment would).
pub(crate) fn domain_server(domain: &str, cert: &Cert, extra: &str, hosts: &[&str]) -> Server {
    let (wkd_host, wkd_path) = wkd_advanced(&format!("security@{domain}"));
    let mut routes = vec![
        (
            domain,
            "/.well-known/security.txt",
            Reply::Ok(
                TEXT,
                security_txt(
                    domain,
                    90,
                    &format!("Encryption: https://{domain}/key.asc\n{extra}"),
                ),
            ),
        ),
        (domain, "/key.asc", Reply::Ok(KEYS, armored(cert))),
        (
            wkd_host.as_str(),
            wkd_path.as_str(),
            Reply::Ok(KEYS, binary(cert)),
        ),
    ];
    for h in hosts {
        routes.push((h, "/", Reply::Ok(TEXT, Vec::new())));
    }
    Server::start(routes)
}

fn report_for(program: &str) -> String {
    embargo_tests::report_text("Discovered program", "\"anonymous\"")
        .replace("program = \"novu\"", &format!("program = \"{program}\""))
}

/// `program add` → `program pin` (fingerprint typed, key from the discovery) → `seal --program`
/// → the team opens it; then the team's key is substituted: discovery says KEY CHANGED naming
/// both, seal refuses, and only `pin --replace` with the new fingerprint lets it seal again.
#[test]
fn program_add_pin_seal_and_a_changed_key() {
    let (tsk, cert) = team_key("Team Security <security@team.test>");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("r.md"), report_for("team-test")).unwrap();
    let server = program_server(&cert);

    let out = server.embargo_in(d, &["program", "add", "team.test"]);
    expect_code(&out, 0);
    let grouped = embargo_core::keys::grouped(&cert.fingerprint());
    let text = stdout(&out);
    assert!(text.contains("added program team-test"), "{text}");
    assert!(text.contains("intake: https://intake.team.test/"), "{text}");
    // The hint to pin never carries the fingerprint (copying it would skip the comparison).
    let hint = text
        .lines()
        .find(|l| l.contains("embargo program pin"))
        .expect("a pin hint");
    assert!(
        hint.contains("--program team-test --fingerprint 'FINGERPRINT THE TEAM PUBLISHED'"),
        "{hint}"
    );
    assert!(
        !hint.replace(' ', "").contains(&cert.fingerprint().to_hex()),
        "{hint}"
    );
    let list = stdout(&server.embargo_in(d, &["program", "list"]));
    assert!(
        list.contains("team-test\tteam.test\tsecurity@team.test\tunverified\t-"),
        "{list}"
    );

    // Nothing is trusted before the pin.
    let out = server.embargo_in(d, &["seal", "r.md", "-o", "r.asc"]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("no confirmed team key"),
        "{}",
        stderr(&out)
    );
    // A fingerprint discovery never offered is refused, naming it.
    let other = "AB".repeat(20);
    let out = server.embargo_in(
        d,
        &[
            "program",
            "pin",
            "--program",
            "team-test",
            "--fingerprint",
            &other,
        ],
    );
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("no key offered for program `team-test` has the fingerprint ABAB"),
        "{}",
        stderr(&out)
    );
    // The published fingerprint typed in lower case with spaces pins the discovered key.
    let typed = grouped.to_lowercase();
    let out = server.embargo_in(
        d,
        &[
            "program",
            "pin",
            "--program",
            "team-test",
            "--fingerprint",
            &typed,
        ],
    );
    expect_code(&out, 0);
    let list = stdout(&server.embargo_in(d, &["program", "list"]));
    assert!(
        list.contains(&format!(
            "team-test\tteam.test\tsecurity@team.test\tpinned\t{}",
            cert.fingerprint().to_hex()
        )),
        "{list}"
    );
    let show = stdout(&server.embargo_in(d, &["program", "show", "team-test"]));
    assert!(show.contains("from discovery:security.txt+wkd"), "{show}");

    let out = server.embargo_in(d, &["seal", "r.md", "-o", "r.asc"]);
    expect_code(&out, 0);
    std::fs::write(d.join("team.key"), tsk.as_tsk().armored().to_vec().unwrap()).unwrap();
    let out = server.embargo_in(d, &["open", "r.asc", "--key", "team.key", "-o", "opened"]);
    expect_code(&out, 0);
    assert!(d.join("opened/report.md").exists());

    // The same discovery again merges silently.
    expect_code(&server.embargo_in(d, &["program", "add", "team.test"]), 0);

    // The team's key is substituted.
    drop(server);
    let (_, substitute) = team_key("Team Security <security@team.test>");
    let server = program_server(&substitute);
    let out = server.embargo_in(d, &["program", "add", "team.test"]);
    expect_code(&out, 4);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "KEY CHANGED for program `team-test`: discovery found {}, but {} is pinned",
            substitute.fingerprint().to_hex(),
            cert.fingerprint().to_hex()
        )),
        "{err}"
    );
    let list = stdout(&server.embargo_in(d, &["program", "list"]));
    assert!(list.contains("\tKEY-CHANGED\t"), "{list}");
    let out = server.embargo_in(d, &["seal", "r.md", "-o", "r2.asc"]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("KEY CHANGED"), "{}", stderr(&out));
    assert!(!d.join("r2.asc").exists());
    // Pinning the new key without --replace is refused; with it, sealing works again.
    let new = substitute.fingerprint().to_hex();
    let out = server.embargo_in(
        d,
        &[
            "program",
            "pin",
            "--program",
            "team-test",
            "--fingerprint",
            &new,
        ],
    );
    expect_code(&out, 1);
    let out = server.embargo_in(
        d,
        &[
            "program",
            "pin",
            "--program",
            "team-test",
            "--fingerprint",
            &new,
            "--replace",
        ],
    );
    expect_code(&out, 0);
    let out = server.embargo_in(d, &["seal", "r.md", "-o", "r2.asc"]);
    expect_code(&out, 0);
    assert!(
        stderr(&out).contains(&format!("encrypted to {new}")),
        "{}",
        stderr(&out)
    );
}

/// No key anywhere: the program is still added, with its contact, and the key request printed.
#[test]
fn program_add_without_a_key_prints_the_request() {
    let server = Server::start(vec![(
        "nokey.test",
        "/.well-known/security.txt",
        Reply::Ok(TEXT, security_txt("nokey.test", 90, "")),
    )]);
    let dir = tempfile::tempdir().unwrap();
    let out = server.embargo_in(
        dir.path(),
        &["program", "add", "nokey.test", "--id", "nokey"],
    );
    expect_code(&out, 2);
    let text = stdout(&out);
    assert!(text.contains("added program nokey"), "{text}");
    assert!(text.contains("No usable key was found"), "{text}");
    assert!(text.contains("To: security@nokey.test"), "{text}");
    let list = stdout(&server.embargo_in(dir.path(), &["program", "list"]));
    assert!(
        list.contains("nokey\tnokey.test\tsecurity@nokey.test\tno-key\t-"),
        "{list}"
    );
    // Removing it.
    expect_code(
        &server.embargo_in(dir.path(), &["program", "remove", "nokey"]),
        0,
    );
    let out = server.embargo_in(dir.path(), &["program", "show", "nokey"]);
    expect_code(&out, 1);
}
