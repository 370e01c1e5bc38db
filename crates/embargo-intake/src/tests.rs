//! Handler tests without a socket (`Router::oneshot`), over a real SQLite store in a temporary
//! directory.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body_util::BodyExt as _;
use openpgp::parse::Parse as _;
use openpgp::Cert;
use sequoia_openpgp as openpgp;
use serde_json::{json, Value};
use tempfile::TempDir;
use tower::ServiceExt as _;

use crate::config::{ConfigFile, Overrides, Settings};
use crate::ratelimit::Budget;
use crate::team::NewToken;
use crate::testutil;
use crate::{app, AppState, SqliteOptions, SqliteStore};

struct Fixture {
    _dir: TempDir,
    data: std::path::PathBuf,
    state: AppState,
    router: Router,
    team: Cert,
    token: String,
}

struct Options {
    small_body_limit: usize,
    body_limit: u64,
    submissions: Option<Budget>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            small_body_limit: SqliteOptions::default().small_body_limit,
            body_limit: 1024 * 1024 * 4,
            submissions: None,
        }
    }
}

async fn fixture(options: Options) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let team = testutil::team_key("security@example.org");
    let cert_path = dir.path().join("team.asc");
    std::fs::write(&cert_path, testutil::public_armored(&team)).unwrap();
    let token = NewToken::generate();
    let data = dir.path().join("data");
    let mut file = ConfigFile::default();
    file.storage.small_body_limit = Some(options.small_body_limit);
    file.program.policy = Some("https://example.org/security-policy".into());
    file.program.response_promise = Some("We answer within 3 business days.".into());
    if let Some(b) = options.submissions {
        file.rate_limits.submissions = b;
    }
    let settings = Settings::resolve(
        file,
        Overrides {
            data: Some(data.clone()),
            team_certs: vec![cert_path],
            team_token_hashes: vec![token.hash.clone()],
            body_limit: Some(options.body_limit),
            ..Overrides::default()
        },
    )
    .unwrap();
    let store = SqliteStore::open(
        &data,
        SqliteOptions {
            small_body_limit: options.small_body_limit,
            ..SqliteOptions::default()
        },
    )
    .await
    .unwrap();
    let state = AppState::new(&settings, Arc::new(store)).await.unwrap();
    Fixture {
        _dir: dir,
        data,
        router: app(state.clone()),
        state,
        team,
        token: token.token.to_string(),
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    #[track_caller]
    fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .expect("error code")
            .to_owned()
    }
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        headers.get(header::CACHE_CONTROL).unwrap(),
        "no-store",
        "every response says no-store"
    );
    Answer {
        status,
        headers,
        body,
    }
}

fn submission(key: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut b = Request::post("/v1/reports").header(header::CONTENT_TYPE, "text/plain");
    if let Some(k) = key {
        b = b.header("idempotency-key", k);
    }
    b.body(body.into()).unwrap()
}

fn team_request(fx: &Fixture, method: Method, uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {}", fx.token))
        .body(body.into())
        .unwrap()
}

async fn submit(fx: &Fixture, key: &str, body: &[u8]) -> Answer {
    send(&fx.router, submission(Some(key), body.to_vec())).await
}

fn report_body(fx: &Fixture, text: &str) -> Vec<u8> {
    testutil::encrypt(&[&fx.team], text.as_bytes(), false)
}

#[tokio::test]
async fn a_submission_is_stored_and_answered_with_receipt_and_token() {
    let fx = fixture(Options::default()).await;
    let body = report_body(&fx, "report one");
    let a = submit(&fx, "key-1", &body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.json());
    let j = a.json();
    let receipt = j["receipt"].as_str().unwrap();
    assert_eq!(receipt.len(), 26);
    assert!(j["status_token"].as_str().unwrap().len() >= 43);
    assert!(j["received_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        a.headers.get(header::LOCATION).unwrap(),
        &format!("/v1/reports/{receipt}")
    );

    let got = send(
        &fx.router,
        team_request(
            &fx,
            Method::GET,
            &format!("/v1/team/reports/{receipt}/message"),
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body.as_ref(), &body[..], "stored byte for byte");
    assert_eq!(
        got.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/octet-stream"
    );
}

#[tokio::test]
async fn replays_answer_the_original_and_other_bytes_are_refused() {
    let fx = fixture(Options::default()).await;
    let body = report_body(&fx, "report");
    let first = submit(&fx, "same-key", &body).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = submit(&fx, "same-key", &body).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json(), first.json());
    let other = submit(&fx, "same-key", &report_body(&fx, "another report")).await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.error_code(), "idempotency_key_reused");
    assert!(other.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("same-key"));
}

#[tokio::test]
async fn a_duplicate_while_the_first_is_in_flight_gets_409_with_retry_after() {
    let fx = fixture(Options::default()).await;
    let claim = fx.state.claim("busy").unwrap();
    let a = submit(&fx, "busy", &report_body(&fx, "r")).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(a.error_code(), "submission_in_progress");
    assert_eq!(a.headers.get(header::RETRY_AFTER).unwrap(), "1");
    drop(claim);
    assert_eq!(
        submit(&fx, "busy", &report_body(&fx, "r")).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn idempotency_keys_are_required_and_checked() {
    let fx = fixture(Options::default()).await;
    let body = report_body(&fx, "r");
    let missing = send(&fx.router, submission(None, body.clone())).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.error_code(), "missing_idempotency_key");
    for bad in ["x".repeat(256), "tab\there".to_owned(), "é".to_owned()] {
        let request = Request::post("/v1/reports")
            .header("idempotency-key", bad.as_bytes())
            .body(Body::from(body.clone()))
            .unwrap();
        let a = send(&fx.router, request).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(a.error_code(), "invalid_idempotency_key");
    }
    assert_eq!(
        submit(&fx, &"k".repeat(255), &body).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        submit(&fx, "with space ~!", &report_body(&fx, "another"))
            .await
            .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn bodies_are_judged_by_their_bytes_whatever_the_content_type() {
    let fx = fixture(Options::default()).await;
    let signer = testutil::team_key("researcher@example.net");
    let stranger = testutil::team_key("stranger@example.net");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (testutil::literal(b"plain"), "literal_only"),
        (testutil::signed_only(&signer, b"signed"), "signed_only"),
        (testutil::compressed(b"zip"), "compressed_only"),
        (testutil::symmetric_only(b"pw"), "symmetric_only"),
        (b"just some text".to_vec(), "plaintext"),
        (vec![0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3], "not_openpgp"),
        (
            testutil::encrypt(&[&stranger], b"wrong team", false),
            "missing_team_recipient",
        ),
        (
            testutil::encrypt_hidden(&[&fx.team], b"hidden", testutil::Format::V1),
            "hidden_recipient",
        ),
    ];
    for (i, (body, code)) in cases.into_iter().enumerate() {
        let a = submit(&fx, &format!("refused-{i}"), &body).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{code}");
        assert_eq!(a.error_code(), code);
    }
    // Armored, sent as application/json: still accepted, by its bytes.
    let armored = testutil::encrypt(&[&fx.team], b"armored", true);
    let request = Request::post("/v1/reports")
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", "armored")
        .body(Body::from(armored))
        .unwrap();
    assert_eq!(send(&fx.router, request).await.status, StatusCode::CREATED);
    // Nothing refused was stored.
    let list = send(
        &fx.router,
        team_request(&fx, Method::GET, "/v1/team/reports", Body::empty()),
    )
    .await;
    assert_eq!(list.json()["reports"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn over_the_limit_is_413_before_reading_and_while_streaming() {
    let fx = fixture(Options {
        body_limit: 10_000,
        ..Options::default()
    })
    .await;
    // Declared too large: refused from the header alone (the body stream is never polled).
    let never = futures_util::stream::pending::<Result<Bytes, std::io::Error>>();
    let request = Request::post("/v1/reports")
        .header("idempotency-key", "big")
        .header(header::CONTENT_LENGTH, "10001")
        .body(Body::from_stream(never))
        .unwrap();
    let a = send(&fx.router, request).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(a.error_code(), "body_too_large");
    // No length given: counted as it streams, refused at the first byte over.
    let chunks = (0..20).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![0x85u8; 1000])));
    let endless = futures_util::stream::iter(chunks).chain(futures_util::stream::pending());
    let request = Request::post("/v1/reports")
        .header("idempotency-key", "chunked")
        .body(Body::from_stream(endless))
        .unwrap();
    let a = send(&fx.router, request).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    let exact = report_body(&fx, "fits");
    assert!(exact.len() < 10_000);
    assert_eq!(
        submit(&fx, "fits", &exact).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn large_bodies_stream_to_files_and_refused_ones_leave_nothing() {
    let fx = fixture(Options {
        small_body_limit: 1024,
        ..Options::default()
    })
    .await;
    let big = testutil::encrypt(&[&fx.team], &vec![42u8; 300_000], false);
    // Sent in small pieces, as a network would.
    let pieces: Vec<Result<Bytes, std::io::Error>> = big
        .chunks(7000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let request = Request::post("/v1/reports")
        .header("idempotency-key", "large")
        .body(Body::from_stream(futures_util::stream::iter(pieces)))
        .unwrap();
    let a = send(&fx.router, request).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.json());
    let receipt = a.json()["receipt"].as_str().unwrap().to_owned();
    assert!(fx.data.join("bodies").join(&receipt).is_file());
    let got = send(
        &fx.router,
        team_request(
            &fx,
            Method::GET,
            &format!("/v1/team/reports/{receipt}/message"),
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(got.body.as_ref(), &big[..]);
    // The replay of a large body is compared, not stored again.
    let again = submit(&fx, "large", &big).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["receipt"], receipt.as_str());

    let plain = testutil::literal(&vec![1u8; 300_000]);
    let refused = submit(&fx, "large-plain", &plain).await;
    assert_eq!(refused.error_code(), "literal_only");
    let stranger = testutil::team_key("x@example.net");
    let wrong = testutil::encrypt(&[&stranger], &vec![1u8; 300_000], false);
    assert_eq!(
        submit(&fx, "large-wrong", &wrong).await.error_code(),
        "missing_team_recipient"
    );
    let files: Vec<String> = std::fs::read_dir(fx.data.join("bodies"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, vec![receipt], "only the stored body is on disk");
}

#[tokio::test]
async fn the_researcher_reads_status_and_replies_with_the_status_token() {
    let fx = fixture(Options::default()).await;
    let a = submit(&fx, "k", &report_body(&fx, "r")).await.json();
    let receipt = a["receipt"].as_str().unwrap();
    let token = a["status_token"].as_str().unwrap();
    let status_request = |token: Option<&str>, receipt: &str| {
        let mut b = Request::get(format!("/v1/reports/{receipt}"));
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        b.body(Body::empty()).unwrap()
    };
    let s = send(&fx.router, status_request(Some(token), receipt)).await;
    assert_eq!(s.status, StatusCode::OK);
    let j = s.json();
    assert_eq!(j["receipt"], receipt);
    assert_eq!(j["status"], "received");
    assert_eq!(j["received_at"], a["received_at"]);
    assert_eq!(j["updated_at"], a["received_at"]);
    assert_eq!(j["replies"], json!([]));

    let none = send(&fx.router, status_request(None, receipt)).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.error_code(), "missing_token");
    assert!(none.headers.contains_key(header::WWW_AUTHENTICATE));
    let other = submit(&fx, "k2", &report_body(&fx, "r2")).await.json();
    let wrong = send(
        &fx.router,
        status_request(other["status_token"].as_str(), receipt),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.error_code(), "invalid_token");
    // The team token is not a status token.
    let team = send(&fx.router, status_request(Some(&fx.token), receipt)).await;
    assert_eq!(team.status, StatusCode::UNAUTHORIZED);
    // A receipt that was never issued, with its own valid token: not found.
    let ghost = crate::Receipt::random();
    let ghost_token = fx.state.shared.secret.status_token(&ghost);
    let g = send(
        &fx.router,
        status_request(Some(&ghost_token), &ghost.to_string()),
    )
    .await;
    assert_eq!(g.status, StatusCode::NOT_FOUND);
    assert_eq!(g.error_code(), "report_not_found");

    // The team replies (armored in, binary stored, armored out) and sets a status.
    let researcher = testutil::team_key("researcher@example.net");
    let reply = testutil::encrypt(&[&researcher], b"thanks, fixed", false);
    let r = send(
        &fx.router,
        team_request(
            &fx,
            Method::POST,
            &format!("/v1/team/reports/{receipt}/replies"),
            reply.clone(),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    let reply_id = r.json()["id"].clone();
    let st = send(
        &fx.router,
        team_request(
            &fx,
            Method::PUT,
            &format!("/v1/team/reports/{receipt}/status"),
            r#"{"status": "fixed"}"#,
        ),
    )
    .await;
    assert_eq!(st.status, StatusCode::OK);
    assert_eq!(st.json()["status"], "fixed");
    assert_eq!(st.json()["receipt"], receipt);

    let s = send(&fx.router, status_request(Some(token), receipt))
        .await
        .json();
    assert_eq!(s["status"], "fixed");
    assert_eq!(s["updated_at"], st.json()["updated_at"]);
    let replies = s["replies"].as_array().unwrap();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0]["id"], reply_id);
    assert_eq!(replies[0]["created_at"], r.json()["created_at"]);
    let armored = replies[0]["message"].as_str().unwrap();
    assert!(armored.starts_with("-----BEGIN PGP MESSAGE-----"));
    let mut dearmored = Vec::new();
    std::io::Read::read_to_end(
        &mut openpgp::armor::Reader::from_bytes(armored.as_bytes(), None),
        &mut dearmored,
    )
    .unwrap();
    assert_eq!(dearmored, reply);
}

#[tokio::test]
async fn team_endpoints_need_the_team_token() {
    let fx = fixture(Options::default()).await;
    for (method, uri) in [
        (Method::GET, "/v1/team/reports".to_owned()),
        (
            Method::GET,
            format!("/v1/team/reports/{}/message", crate::Receipt::random()),
        ),
        (
            Method::POST,
            format!("/v1/team/reports/{}/replies", crate::Receipt::random()),
        ),
        (
            Method::PUT,
            format!("/v1/team/reports/{}/status", crate::Receipt::random()),
        ),
    ] {
        let bare = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&fx.router, bare).await.error_code(), "missing_token");
        let wrong = Request::builder()
            .method(method)
            .uri(&uri)
            .header(header::AUTHORIZATION, "Bearer not-the-token")
            .body(Body::empty())
            .unwrap();
        let a = send(&fx.router, wrong).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_eq!(a.error_code(), "invalid_token");
    }
}

#[tokio::test]
async fn the_team_lists_reports_in_arrival_order_page_by_page() {
    let fx = fixture(Options::default()).await;
    let mut receipts = Vec::new();
    for i in 0..5 {
        let a = submit(&fx, &format!("k{i}"), &report_body(&fx, &format!("r{i}"))).await;
        receipts.push(a.json()["receipt"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let uri = match &after {
            Some(a) => format!("/v1/team/reports?limit=2&after={a}"),
            None => "/v1/team/reports?limit=2".to_owned(),
        };
        let page = send(
            &fx.router,
            team_request(&fx, Method::GET, &uri, Body::empty()),
        )
        .await
        .json();
        for r in page["reports"].as_array().unwrap() {
            assert_eq!(r["status"], "received");
            assert!(r["size"].as_u64().unwrap() > 0);
            seen.push(r["receipt"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, receipts);
    for (uri, code) in [
        ("/v1/team/reports?limit=0", "invalid_query"),
        ("/v1/team/reports?limit=1001", "invalid_query"),
        ("/v1/team/reports?limit=abc", "invalid_query"),
        ("/v1/team/reports?colour=red", "invalid_query"),
        ("/v1/team/reports?after=nonsense", "unknown_cursor"),
    ] {
        let a = send(
            &fx.router,
            team_request(&fx, Method::GET, uri, Body::empty()),
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(a.error_code(), code, "{uri}");
    }
    let unknown = format!("/v1/team/reports?after={}", crate::Receipt::random());
    let a = send(
        &fx.router,
        team_request(&fx, Method::GET, &unknown, Body::empty()),
    )
    .await;
    assert_eq!(a.error_code(), "unknown_cursor");
}

#[tokio::test]
async fn status_changes_and_replies_are_checked() {
    let fx = fixture(Options::default()).await;
    let a = submit(&fx, "k", &report_body(&fx, "r")).await.json();
    let receipt = a["receipt"].as_str().unwrap();
    let put = |body: &'static str| {
        team_request(
            &fx,
            Method::PUT,
            &format!("/v1/team/reports/{receipt}/status"),
            body,
        )
    };
    let bad = send(&fx.router, put(r#"{"status": "done"}"#)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_code(), "invalid_status");
    assert!(bad.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("\"done\""));
    for body in ["not json", r#"{"state": "fixed"}"#, "{}"] {
        let a = send(&fx.router, put(body)).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(a.error_code(), "invalid_json");
    }
    // Setting the status it already has changes nothing.
    let same = send(&fx.router, put(r#"{"status": "received"}"#))
        .await
        .json();
    assert_eq!(same["updated_at"], a["received_at"]);
    let ghost = send(
        &fx.router,
        team_request(
            &fx,
            Method::PUT,
            &format!("/v1/team/reports/{}/status", crate::Receipt::random()),
            r#"{"status": "fixed"}"#,
        ),
    )
    .await;
    assert_eq!(ghost.status, StatusCode::NOT_FOUND);

    let plain_reply = send(
        &fx.router,
        team_request(
            &fx,
            Method::POST,
            &format!("/v1/team/reports/{receipt}/replies"),
            testutil::literal(b"thanks"),
        ),
    )
    .await;
    assert_eq!(plain_reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(plain_reply.error_code(), "literal_only");
}

#[tokio::test]
async fn security_txt_and_wkd_publish_the_team_key() {
    let fx = fixture(Options::default()).await;
    let txt = send(
        &fx.router,
        Request::get("/.well-known/security.txt")
            .header(header::HOST, "intake.example.org")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(txt.status, StatusCode::OK);
    let text = String::from_utf8(txt.body.to_vec()).unwrap();
    let fpr = fx.team.fingerprint().to_hex();
    assert!(
        text.contains("Contact: mailto:security@example.org\n"),
        "{text}"
    );
    assert!(text.contains(&format!(
        "Encryption: https://intake.example.org/keys/{fpr}.asc\n"
    )));
    assert!(text.contains("Canonical: https://intake.example.org/.well-known/security.txt\n"));
    assert!(text.contains("Policy: https://example.org/security-policy\n"));
    assert!(text.contains("# Response: We answer within 3 business days.\n"));
    let expires = text
        .lines()
        .find_map(|l| l.strip_prefix("Expires: "))
        .unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(expires).unwrap();
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
    assert!((364..=365).contains(&days), "{days}");

    let key = send(
        &fx.router,
        Request::get(format!("/keys/{fpr}.asc"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let served = Cert::from_bytes(&key.body).unwrap();
    assert_eq!(served.fingerprint(), fx.team.fingerprint());
    assert!(!served.is_tsk());

    let hash = embargo_core::wkd::local_part_hash("Security");
    for uri in [
        format!("/.well-known/openpgpkey/hu/{hash}?l=security"),
        format!("/.well-known/openpgpkey/example.org/hu/{hash}?l=security"),
    ] {
        let w = send(&fx.router, Request::get(&uri).body(Body::empty()).unwrap()).await;
        assert_eq!(w.status, StatusCode::OK, "{uri}");
        assert_eq!(
            w.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).unwrap(),
            "*"
        );
        assert!(!w.body.starts_with(b"-----"), "WKD serves binary");
        let cert = Cert::from_bytes(&w.body).unwrap();
        assert_eq!(cert.fingerprint(), fx.team.fingerprint());
        assert!(!cert.is_tsk());
    }
    for uri in [
        "/.well-known/openpgpkey/policy",
        "/.well-known/openpgpkey/example.org/policy",
    ] {
        let p = send(&fx.router, Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!(p.status, StatusCode::OK, "{uri}");
    }
    for uri in [
        format!("/.well-known/openpgpkey/other.example/hu/{hash}"),
        format!(
            "/.well-known/openpgpkey/hu/{}",
            embargo_core::wkd::local_part_hash("nobody")
        ),
        "/.well-known/openpgpkey/other.example/policy".to_owned(),
    ] {
        let n = send(&fx.router, Request::get(&uri).body(Body::empty()).unwrap()).await;
        assert_eq!(n.status, StatusCode::NOT_FOUND, "{uri}");
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    let fx = fixture(Options::default()).await;
    let a = send(
        &fx.router,
        Request::get("/nope").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.error_code(), "not_found");
    let m = send(
        &fx.router,
        Request::delete("/v1/reports").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(m.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(m.error_code(), "method_not_allowed");
}

#[tokio::test]
async fn submissions_are_rate_limited_globally() {
    let fx = fixture(Options {
        submissions: Some(Budget {
            per_second: 0.001,
            burst: 2.0,
        }),
        ..Options::default()
    })
    .await;
    for key in ["a", "b"] {
        let body = report_body(&fx, key);
        assert_eq!(submit(&fx, key, &body).await.status, StatusCode::CREATED);
    }
    let third = submit(&fx, "c", &report_body(&fx, "c")).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(third.error_code(), "rate_limited");
    assert!(third.headers.contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn concurrent_duplicates_create_exactly_one_report() {
    let fx = fixture(Options::default()).await;
    let body = Arc::new(report_body(&fx, "once"));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let router = fx.router.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let response = router
                .oneshot(submission(Some("dup"), body.to_vec()))
                .await
                .unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, bytes)
        }));
    }
    let mut created = 0;
    let mut receipts = std::collections::HashSet::new();
    for t in tasks {
        let (status, bytes) = t.await.unwrap();
        let j: Value = serde_json::from_slice(&bytes).unwrap();
        match status {
            StatusCode::CREATED => {
                created += 1;
                receipts.insert(j["receipt"].as_str().unwrap().to_owned());
            }
            StatusCode::OK => {
                receipts.insert(j["receipt"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}: {j}"),
        }
    }
    assert_eq!(created, 1);
    assert!(receipts.len() <= 1);
    let list = send(
        &fx.router,
        team_request(&fx, Method::GET, "/v1/team/reports", Body::empty()),
    )
    .await
    .json();
    assert_eq!(list["reports"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_server_secret_survives_a_restart() {
    let fx = fixture(Options::default()).await;
    let a = submit(&fx, "k", &report_body(&fx, "r")).await.json();
    let secret_path = fx.data.join("server-secret");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&secret_path).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let receipt: crate::Receipt = a["receipt"].as_str().unwrap().parse().unwrap();
    fx.state.storage().close().await;
    drop(fx.router);
    drop(fx.state);
    let reopened = SqliteStore::open(&fx.data, SqliteOptions::default())
        .await
        .unwrap();
    let secret = crate::Storage::server_secret(&reopened).await.unwrap();
    assert!(secret.verify_status_token(&receipt, a["status_token"].as_str().unwrap()));
    drop(reopened);
}

#[tokio::test]
async fn a_team_pulling_hundreds_of_reports_at_once_stays_under_the_default_limits() {
    let fx = fixture(Options::default()).await;
    let mut receipts = Vec::new();
    for i in 0..300 {
        let a = submit(&fx, &format!("k{i}"), &report_body(&fx, &format!("r{i}"))).await;
        assert_eq!(a.status, StatusCode::CREATED);
        receipts.push(a.json()["receipt"].as_str().unwrap().to_owned());
    }
    let list = send(
        &fx.router,
        team_request(
            &fx,
            Method::GET,
            "/v1/team/reports?limit=1000",
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(list.json()["reports"].as_array().unwrap().len(), 300);
    for receipt in &receipts {
        for (method, uri, body) in [
            (
                Method::GET,
                format!("/v1/team/reports/{receipt}/message"),
                String::new(),
            ),
            (
                Method::PUT,
                format!("/v1/team/reports/{receipt}/status"),
                r#"{"status":"triaged"}"#.to_owned(),
            ),
        ] {
            let a = send(&fx.router, team_request(&fx, method, &uri, body)).await;
            assert_eq!(a.status, StatusCode::OK, "{uri}: {:?}", a.body);
        }
    }
}

#[tokio::test]
async fn a_large_refused_body_is_read_to_its_end_so_the_client_hears_why() {
    let fx = fixture(Options {
        small_body_limit: 1024,
        ..Options::default()
    })
    .await;
    // Refused by its first bytes, and 2 MB long: the answer waits for the whole body.
    let stranger = testutil::team_key("x@example.net");
    let body = testutil::encrypt(&[&stranger], &vec![3u8; 2_000_000], false);
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    let pieces: Vec<Bytes> = body.chunks(16 * 1024).map(Bytes::copy_from_slice).collect();
    let stream = futures_util::stream::iter(pieces).map(move |p| {
        counter.fetch_add(p.len(), std::sync::atomic::Ordering::SeqCst);
        Ok::<_, std::io::Error>(p)
    });
    let request = Request::post("/v1/reports")
        .header("idempotency-key", "refused-large")
        .body(Body::from_stream(stream))
        .unwrap();
    let a = send(&fx.router, request).await;
    assert_eq!(a.error_code(), "missing_team_recipient");
    assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), body.len());
    let files = std::fs::read_dir(fx.data.join("bodies")).unwrap().count();
    assert_eq!(files, 0, "nothing of it is stored");
}

/// A body of `len` bytes sent in 16 KiB pieces, and how much of it the server has taken.
fn counted_body(len: usize) -> (Body, Arc<std::sync::atomic::AtomicUsize>) {
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    let pieces: Vec<Bytes> = vec![7u8; len]
        .chunks(16 * 1024)
        .map(Bytes::copy_from_slice)
        .collect();
    let stream = futures_util::stream::iter(pieces).map(move |p| {
        counter.fetch_add(p.len(), std::sync::atomic::Ordering::SeqCst);
        Ok::<_, std::io::Error>(p)
    });
    (Body::from_stream(stream), sent)
}

/// Every route, not only submissions, lets the client hear an answer given before its body
/// was read: a little is drained first (lingering close), more ends the connection.
#[tokio::test]
async fn an_answer_given_before_the_body_is_read_lingers_on_every_route() {
    let fx = fixture(Options::default()).await;
    let receipt = submit(&fx, "linger", &report_body(&fx, "a report"))
        .await
        .json()["receipt"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = format!("/v1/team/reports/{receipt}/replies");
    let closes = |a: &Answer| {
        a.headers
            .get(header::CONNECTION)
            .is_some_and(|v| v == "close")
    };
    // A wrong token on a 300 KiB reply, a 404 and a 405 with bodies: read to the end, answered,
    // the connection kept.
    for (method, path, token) in [
        (Method::POST, uri.as_str(), "wrong"),
        (Method::POST, "/v1/nowhere", "wrong"),
        (Method::DELETE, "/v1/reports", "wrong"),
    ] {
        let (body, sent) = counted_body(300 * 1024);
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(body)
            .unwrap();
        let a = send(&fx.router, request).await;
        assert!(a.status.is_client_error(), "{method} {path}: {}", a.status);
        assert_eq!(
            sent.load(std::sync::atomic::Ordering::SeqCst),
            300 * 1024,
            "{method} {path}: the whole body was drained"
        );
        assert!(!closes(&a), "{method} {path}: the connection stays usable");
    }
    // Over the linger budget: not read to its end, and the answer closes the connection.
    let (body, sent) = counted_body(3 * 1024 * 1024);
    let request = Request::post(&uri)
        .header(header::AUTHORIZATION, "Bearer wrong")
        .body(body)
        .unwrap();
    let a = send(&fx.router, request).await;
    assert_eq!(a.error_code(), "invalid_token");
    assert!(sent.load(std::sync::atomic::Ordering::SeqCst) < 3 * 1024 * 1024);
    assert!(closes(&a), "a body left unread ends its connection");
    // A client that asked to be told before sending, and was not, sent nothing to drain.
    let (body, sent) = counted_body(64 * 1024);
    let request = Request::post(&uri)
        .header(header::AUTHORIZATION, "Bearer wrong")
        .header(header::EXPECT, "100-continue")
        .body(body)
        .unwrap();
    let a = send(&fx.router, request).await;
    assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(closes(&a));
    // A request with no body and a handled body are untouched.
    let a = send(
        &fx.router,
        team_request(&fx, Method::GET, "/v1/team/reports", Body::empty()),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(!closes(&a));
}
