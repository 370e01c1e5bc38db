//! Hardening, round 3: each attack from the security review of the release binaries, run
//! against the real `embargo-intake` (and the real clients) on loopback. Each test failed before
//! its fix.

use reqwest::StatusCode;
use serde_json::Value;

use crate::intake::{client, encrypt, sqlite, submit, Server, Team};

fn code(j: &Value) -> &str {
    j["error"]["code"].as_str().unwrap_or("(no code)")
}

/// Junk cannot spend the budgets real reports and lookups need: 1,300 POSTs without an
/// Idempotency-Key (the submission burst is 1,000) and 5,200 lookups with a bogus status token
/// (the status burst is 5,000), then a real submission and a real lookup go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn junk_does_not_drain_the_budgets_of_real_requests() {
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@acme.test");
    let server = Server::start(&backend, &team, &[]);
    let http = client();
    let url = server.url.clone();
    let flood = |n: usize, req: fn(&reqwest::Client, &str) -> reqwest::RequestBuilder| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let mut tasks = Vec::new();
            for worker in 0..16 {
                let http = http.clone();
                let url = url.clone();
                tasks.push(tokio::spawn(async move {
                    let mut statuses = Vec::new();
                    for _ in (worker..n).step_by(16) {
                        statuses.push(req(&http, &url).send().await.unwrap().status());
                    }
                    statuses
                }));
            }
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap());
            }
            all
        }
    };
    let junk = flood(1300, |http, url| {
        http.post(format!("{url}/v1/reports"))
            .header("content-type", "application/pgp-encrypted")
    })
    .await;
    assert!(
        junk.iter().all(|s| *s == StatusCode::BAD_REQUEST),
        "no key: 400"
    );
    let body = encrypt(&[&team.key], b"a real report", true);
    let (status, j) = submit(&http, &url, "real-1", body).await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{j}");
    let receipt = j["receipt"].as_str().unwrap().to_owned();
    let token = j["status_token"].as_str().unwrap().to_owned();

    let bogus = flood(5200, |http, url| {
        http.get(format!("{url}/v1/reports/00000000000000000000000000"))
            .bearer_auth("not-a-token")
    })
    .await;
    assert!(
        bogus
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS),
        "bogus tokens: 401, then their own budget runs out (429)"
    );
    let r = http
        .get(format!("{url}/v1/reports/{receipt}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "a real lookup still answers");

    // Bodies that are refused for what they are give their charge back too.
    for i in 0..1100 {
        let (status, _) = submit(&http, &url, &format!("junk-{i}"), b"not openpgp".to_vec())
            .await
            .unwrap();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let body = encrypt(&[&team.key], b"another real report", true);
    let (status, j) = submit(&http, &url, "real-2", body).await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{j}");
}

/// Nothing travels beside the ciphertext: a Padding packet holding text (before the session
/// keys or after the encrypted data), an armor header holding text, text before the BEGIN line
/// or after the END line — each is refused with its own code, and nothing is stored.
#[tokio::test(flavor = "current_thread")]
async fn plaintext_smuggled_beside_the_ciphertext_is_refused() {
    use embargo_core::openpgp::packet::Padding;
    use embargo_core::openpgp::serialize::Marshal;
    use embargo_core::openpgp::Packet;
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@acme.test");
    let server = Server::start(&backend, &team, &[]);
    let http = client();
    let secret = b"SMUGGLED secret text that must never be stored";
    let binary = encrypt(&[&team.key], b"report", false);
    let armored = encrypt(&[&team.key], b"report", true);
    let padding = {
        let mut p = Vec::new();
        Packet::from(Padding::from(secret.to_vec()))
            .serialize(&mut p)
            .unwrap();
        p
    };
    let armored_text = String::from_utf8(armored.clone()).unwrap();
    let smuggled = String::from_utf8_lossy(secret).into_owned();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "padding before the session keys",
            [padding.clone(), binary.clone()].concat(),
            "padding_packet",
        ),
        (
            "padding after the encrypted data",
            [binary.clone(), padding.clone()].concat(),
            "padding_packet",
        ),
        (
            "an armor Comment header",
            armored_text
                .replacen(
                    "-----BEGIN PGP MESSAGE-----\n",
                    &format!("-----BEGIN PGP MESSAGE-----\nComment: {smuggled}\n"),
                    1,
                )
                .into_bytes(),
            "armor_header",
        ),
        (
            "text before BEGIN",
            format!("{smuggled}\n{armored_text}").into_bytes(),
            "text_around_armor",
        ),
        (
            "text after END",
            format!("{armored_text}{smuggled}\n").into_bytes(),
            "text_around_armor",
        ),
    ];
    for (i, (what, body, want)) in cases.into_iter().enumerate() {
        let (status, j) = submit(&http, &server.url, &format!("k{i}"), body)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {j}");
        assert_eq!(code(&j), want, "{what}: {j}");
    }
    // The clean armored message alone is still taken.
    let (status, j) = submit(&http, &server.url, "clean", armored).await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{j}");
    // Nothing of the smuggled text is anywhere in the server's data.
    drop(server);
    let mut found = Vec::new();
    let mut stack = vec![backend.dir.path().to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .unwrap()
                .windows(8)
                .any(|w| w == b"SMUGGLED")
            {
                found.push(p);
            }
        }
    }
    assert!(found.is_empty(), "smuggled text stored in {found:?}");
}

/// A report submitted with `--to CERT` (no key pinned for its program): the team's genuine reply
/// is verified against the certificate the report was sealed to — before, it read "signed by
/// unknown key", the same as a forgery — and a reply signed by any other key is still flagged.
#[test]
fn replies_to_a_report_sealed_with_to_verify_against_its_recipients() {
    use embargo_tests::*;
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@novu.co");
    let server = Server::start(&backend, &team, &[]);
    let dir = scratch();
    let d = dir.path();
    std::fs::copy(&team.cert_path, d.join("team.asc")).unwrap();
    team.write_secrets(d);
    std::fs::write(
        d.join("r.md"),
        report_text("Sealed with --to", "{ name = \"Ada Lovelace\" }"),
    )
    .unwrap();
    expect_code(
        &embargo(
            d,
            [
                "key",
                "generate",
                "--userid",
                "Ada <ada@example.org>",
                "-o",
                "me.key",
            ],
        ),
        0,
    );
    expect_code(
        &embargo(
            d,
            [
                "key",
                "generate",
                "--userid",
                "Mallory <security@novu.co>",
                "-o",
                "mallory.key",
            ],
        ),
        0,
    );
    let out = embargo(
        d,
        [
            "submit",
            "r.md",
            "--to",
            "team.asc",
            "--sign-with",
            "me.key",
            "--intake",
            &server.url,
            "--json",
        ],
    );
    expect_code(&out, 0);
    let j: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let receipt = j["receipt"].as_str().unwrap().to_owned();
    let conn = ["--intake", server.url.as_str(), "--token-file", "token"];
    let mut pull = vec!["team", "pull", "--key", "team.key", "-o", "inbox"];
    pull.extend(conn);
    expect_code(&embargo(d, &pull), 0);
    std::fs::write(d.join("reply.txt"), "Genuine: thanks.\n").unwrap();
    std::fs::write(d.join("fake.txt"), "Forged.\n").unwrap();
    for (key, text) in [("team.key", "reply.txt"), ("mallory.key", "fake.txt")] {
        let mut reply = vec![
            "team",
            "reply",
            &receipt,
            "--message",
            text,
            "--key",
            key,
            "--from",
            "inbox",
        ];
        reply.extend(conn);
        expect_code(&embargo(d, &reply), 0);
    }
    let out = embargo(d, ["status", &receipt, "--key", "me.key"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    let genuine = text.find("Genuine: thanks.").expect("the genuine reply");
    let forged = text.find("Forged.").expect("the forged reply");
    let before_genuine = &text[..genuine];
    let before_forged = &text[genuine..forged];
    assert!(
        before_genuine.contains("signed by a team key the report was sealed to"),
        "{text}"
    );
    assert!(
        before_forged.contains("which is none of the team's keys for this report"),
        "{text}"
    );
}

/// Discovery does not trust what a security.txt points at: a key fetched from another host
/// whose user IDs name nothing of the domain is reported and not offered (before: "key 1 of 1
/// (usable)"), and an intake on this machine or its network is not recorded (before, a later
/// submit POSTed the report to a service on the researcher's machine), whether the URL names the
/// address or a host that resolves to it.
#[test]
fn discovery_offers_no_foreign_key_and_records_no_local_intake() {
    use crate::discover::{armored, security_txt, team_key, Reply, Server as Https, KEYS, TEXT};
    use embargo_tests::*;
    let (_, mallory) = team_key("Mallory <m@evil.test>");
    let hostname = String::from_utf8(
        std::process::Command::new("hostname")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    for intake in [
        "http://127.0.0.1:631/".to_owned(),
        "https://127.0.0.1:631/".to_owned(),
        "https://[::1]/".to_owned(),
        "https://10.0.0.7/".to_owned(),
        "https://localhost/".to_owned(),
        format!("https://{hostname}/"),
    ] {
        let server = Https::start(vec![
            (
                "good.test",
                "/.well-known/security.txt",
                Reply::Ok(
                    TEXT,
                    security_txt(
                        "good.test",
                        90,
                        &format!(
                            "Encryption: https://evil.test/key.asc\nEmbargo-Intake: {intake}\n"
                        ),
                    ),
                ),
            ),
            ("evil.test", "/key.asc", Reply::Ok(KEYS, armored(&mallory))),
        ]);
        let dir = scratch();
        let d = dir.path();
        let out = server.embargo_in(d, &["discover", "good.test"]);
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            text.contains("on another host (evil.test)"),
            "the foreign key is reported: {text}"
        );
        assert!(text.contains("is not used"), "{intake}: {text}");
        let out = server.embargo_in(d, &["program", "add", "good.test"]);
        assert_eq!(code(&out), 2, "no usable key: {}", stdout(&out));
        let store = embargo_core::store::Store::at(d.join(".embargo-home"));
        let p = store.program("good-test").unwrap();
        assert!(p.candidates.is_empty(), "{:?}", p.candidates);
        assert_eq!(p.intake_url, None, "{intake}");
    }
}

/// An intake that lies to `team pull`: its listing never ends (every page names a next one) and
/// a report listed as 1 byte sends 600 KiB. The pull walks a bounded number of pages, one at a
/// time, skips what is over `--max-size` without fetching it, cuts a download at the listed size
/// and keeps nothing of it; it ends, saying more wait. (Before: every page was held before any
/// download, memory grew without end, and the 600 KiB body was written and kept.)
#[test]
fn team_pull_does_not_trust_the_intake() {
    use embargo_tests::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let pages = Arc::new(AtomicUsize::new(0));
    let served = Arc::clone(&pages);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let served = Arc::clone(&served);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap() <= 2 {
                        break;
                    }
                }
                let (ctype, body): (&str, Vec<u8>) = if path.starts_with("/v1/team/reports?") {
                    let n = served.fetch_add(1, Ordering::SeqCst);
                    let reports: Vec<Value> = (0..100)
                        .map(|i| {
                            let receipt = format!("R{n:06}X{i:03}");
                            // The very first report lies about its size; the rest are big.
                            let size = if n == 0 && i == 0 { 1 } else { 5_000_000 };
                            serde_json::json!({"receipt": receipt, "received_at": "2026-12-06T10:00:00Z", "status": "received", "size": size})
                        })
                        .collect();
                    let next = reports.last().unwrap()["receipt"].clone();
                    (
                        "application/json",
                        serde_json::to_vec(&serde_json::json!({"reports": reports, "next": next}))
                            .unwrap(),
                    )
                } else if path.ends_with("/message") {
                    ("application/octet-stream", vec![b'x'; 600 << 10])
                } else {
                    ("text/plain", b"no".to_vec())
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
                let _ = stream.flush();
                let mut rest = Vec::new();
                let _ = reader.read_to_end(&mut rest);
            });
        }
    });
    let dir = scratch();
    let d = dir.path();
    std::fs::write(d.join("token"), "t\n").unwrap();
    let team = crate::intake::key("security@team.test");
    std::fs::write(
        d.join("team.key"),
        embargo_core::keys::armored_secret(&team).as_bytes(),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = embargo(
        d,
        [
            "team",
            "pull",
            "--key",
            "team.key",
            "-o",
            "inbox",
            "--max-size",
            "1M",
            "--intake",
            &url,
            "--token-file",
            "token",
        ],
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(120));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        pages.load(Ordering::SeqCst),
        embargo_core::deliver::MAX_PAGES,
        "a bounded walk: {text}"
    );
    assert!(text.contains("more reports wait"), "{text}");
    assert!(
        text.contains(
            "R000000X000\tnot fetched\tthe message of R000000X000 is larger than 1 bytes"
        ),
        "the lying body is cut at its listed size: {text}"
    );
    assert!(
        text.contains("R000000X001\tnot fetched\treport R000000X001 is larger than 1048576 bytes"),
        "over --max-size is not fetched: {text}"
    );
    let kept: Vec<String> = std::fs::read_dir(d.join("inbox"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".embargo-pull.json")
        .collect();
    assert!(kept.is_empty(), "nothing of it is kept: {kept:?}");
    assert_ne!(code(&out), 0, "refused reports are a failure: {text}");
}

/// One 4 MiB ciphertext sent under 40 Idempotency-Keys (before: 40 × 201, 160 MiB, 40 reports
/// listed to the team): it is stored once. The first key gets 201 and, asked again, its receipt;
/// every other key gets 409 `duplicate_report` — no receipt, no status token: a copy of someone
/// else's ciphertext must not buy its holder the report's status and replies.
async fn identical_ciphertexts_are_stored_once(backend: crate::intake::Backend) {
    use crate::intake::{list_all, Store};
    let team = Team::new(backend.dir.path(), "security@acme.test");
    let server = Server::start(&backend, &team, &[]);
    let http = client();
    let body = encrypt(&[&team.key], &embargo_tests::noise(4 << 20, 7), false);
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let http = http.clone();
        let url = server.url.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for i in (worker..40).step_by(8) {
                let key = format!("replay-{i}");
                let answer = submit(&http, &url, &key, body.clone()).await.unwrap();
                answers.push((key, answer));
            }
            answers
        }));
    }
    let mut created = Vec::new();
    let mut duplicates = Vec::new();
    for t in tasks {
        for (key, (status, j)) in t.await.unwrap() {
            match status {
                StatusCode::CREATED => created.push((key, j)),
                StatusCode::CONFLICT => {
                    assert_eq!(code(&j), "duplicate_report", "{j}");
                    assert!(j.get("receipt").is_none() && j.get("status_token").is_none());
                    duplicates.push(key);
                }
                other => panic!("unexpected {other}: {j}"),
            }
        }
    }
    assert_eq!((created.len(), duplicates.len()), (1, 39));
    let (first_key, first) = &created[0];
    let listed = list_all(&http, &server.url, &team.token).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["receipt"], first["receipt"]);
    // The first key still gets its receipt back (a retry after a lost answer); another key
    // still does not.
    let (status, j) = submit(&http, &server.url, first_key, body.clone())
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{j}");
    assert_eq!(j["receipt"], first["receipt"]);
    assert_eq!(j["status_token"], first["status_token"]);
    let (status, j) = submit(&http, &server.url, &duplicates[0], body.clone())
        .await
        .unwrap();
    assert_eq!(
        (status, code(&j)),
        (StatusCode::CONFLICT, "duplicate_report")
    );
    if let Store::Sqlite(dir) = &backend.store {
        // One body on disk, not forty.
        let bodies: u64 = std::fs::read_dir(dir.join("bodies"))
            .unwrap()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum();
        assert_eq!(bodies, body.len() as u64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identical_ciphertexts_are_stored_once_sqlite() {
    identical_ciphertexts_are_stored_once(sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identical_ciphertexts_are_stored_once_postgres() {
    identical_ciphertexts_are_stored_once(crate::intake::postgres()).await;
}

/// A raw submission: status, Retry-After, body. `chunked` sends no Content-Length.
async fn post_report(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    body: Vec<u8>,
    chunked: bool,
) -> (StatusCode, Option<String>, Value) {
    let request = http
        .post(format!("{url}/v1/reports"))
        .header("content-type", "application/pgp-encrypted")
        .header("idempotency-key", key);
    let request = if chunked {
        let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
            body.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
        request.body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )))
    } else {
        request.body(body)
    };
    let r = request.send().await.unwrap();
    let status = r.status();
    let retry_after = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, r.json().await.unwrap())
}

/// A total-size quota (before: none — one client could fill the disk): what would pass it gets
/// 507 with Retry-After and is not stored, announced (Content-Length) or not (chunked, cut off
/// as it streams); a replay of a stored report is still answered; the count survives a restart;
/// raising the quota lets the refused report in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_quota_answers_507_and_stores_nothing() {
    use crate::intake::list_all;
    use embargo_tests::noise;
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@acme.test");
    let quota = ["--max-stored-bytes", "3000000"];
    let server = Server::start(&backend, &team, &quota);
    let http = client();
    let a = encrypt(&[&team.key], &noise(1_000_000, 1), false);
    let b = encrypt(&[&team.key], &noise(1_000_000, 2), false);
    let c = encrypt(&[&team.key], &noise(1_500_000, 3), false);
    let small = encrypt(&[&team.key], &noise(10_000, 4), false);
    for (key, body) in [("a", &a), ("b", &b)] {
        let (status, _, j) = post_report(&http, &server.url, key, body.clone(), false).await;
        assert_eq!(status, StatusCode::CREATED, "{j}");
    }
    for chunked in [false, true] {
        let (status, retry_after, j) =
            post_report(&http, &server.url, "c", c.clone(), chunked).await;
        assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{j}");
        assert_eq!(code(&j), "insufficient_storage");
        assert_eq!(retry_after.as_deref(), Some("600"));
        let message = j["error"]["message"].as_str().unwrap();
        assert!(message.contains("storage quota"), "{message}");
        assert!(message.contains("nothing was stored"), "{message}");
    }
    let (status, _, j) = post_report(&http, &server.url, "a", a.clone(), false).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a replay is answered with no room: {j}"
    );
    let (status, _, j) = post_report(&http, &server.url, "small", small, false).await;
    assert_eq!(status, StatusCode::CREATED, "what fits still goes in: {j}");
    assert_eq!(list_all(&http, &server.url, &team.token).await.len(), 3);
    assert!(server.log().contains("submission refused: no room"));

    drop(server);
    let server = Server::start(&backend, &team, &quota);
    let (status, _, j) = post_report(&http, &server.url, "c", c.clone(), false).await;
    assert_eq!(
        status,
        StatusCode::INSUFFICIENT_STORAGE,
        "after a restart: {j}"
    );
    drop(server);
    let server = Server::start(&backend, &team, &["--max-stored-bytes", "10000000"]);
    let (status, _, j) = post_report(&http, &server.url, "c", c.clone(), false).await;
    assert_eq!(status, StatusCode::CREATED, "{j}");
    let listed = list_all(&http, &server.url, &team.token).await;
    assert_eq!(listed.len(), 4);
}

/// Below the free-space floor (here set above the disk's size) `embargo submit` gets 507, says
/// nothing was stored and keeps the report in its outbox; once the intake has room, `outbox
/// --retry` delivers it, once.
#[test]
fn a_report_refused_for_want_of_space_waits_in_the_outbox() {
    use embargo_tests::*;
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@novu.co");
    let dir = scratch();
    let d = dir.path();
    crate::submit::setup(d, &team);
    let listen = format!("127.0.0.1:{}", crate::intake::free_port());
    let server = Server::start_on_with(
        &backend,
        &team,
        &listen,
        &["--min-free-bytes", "18000000000000000000"],
    );
    let url = server.url.clone();
    let out = embargo(d, ["submit", "r.md", "--intake", &url, "--retry-for", "1s"]);
    expect_code(&out, 75);
    let err = stderr(&out);
    assert!(err.contains("its disk is nearly full"), "{err}");
    assert!(err.contains("queued in outbox as"), "{err}");
    let out = embargo(d, ["outbox"]);
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
    let conn = ["--intake", url.as_str(), "--token-file", "token"];
    let mut list = vec!["team", "list"];
    list.extend(conn);
    let out = embargo(d, &list);
    expect_code(&out, 0);
    assert!(stdout(&out).trim().is_empty(), "{}", stdout(&out));
    drop(server);

    let _server = Server::start_on(&backend, &team, &listen);
    expect_code(&embargo(d, ["outbox", "--retry"]), 0);
    let out = embargo(d, &list);
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
}

/// Two replicas on one PostgreSQL, one Idempotency-Key. While replica A streams the upload, the
/// same key sent whole to replica B gets 409 `submission_in_progress` (before: the in-progress
/// guard lived in each process's memory, so B took the upload); A's finished upload is stored and
/// B answers the retry with A's receipt; a refused 900 KB body gets its 409 too (read before the
/// answer, not cut mid-send), a larger one a 409 that closes the connection. Then 16 sends of one key and body at once, split over
/// both: one report, every other caller told 409 or that same receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_key_racing_on_two_replicas_is_stored_once() {
    use crate::intake::{list_all, postgres, read_head, write_chunk};
    use std::io::Write as _;
    use std::time::Duration;
    let backend = postgres();
    let team = Team::new(backend.dir.path(), "security@acme.test");
    let a = Server::start_logging(&backend, &team, &[], "debug");
    let b = Server::start(&backend, &team, &[]);
    let http = client();
    let body = encrypt(&[&team.key], &embargo_tests::noise(300_000, 9), false);

    let mut first = std::net::TcpStream::connect(a.addr).unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    first
        .write_all(
            format!(
                "POST /v1/reports HTTP/1.1\r\nHost: {}\r\nIdempotency-Key: race\r\n\
                 Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
                a.addr
            )
            .as_bytes(),
        )
        .unwrap();
    write_chunk(&mut first, &body[..1000]);
    first.flush().unwrap();
    let waiting = std::time::Instant::now();
    while !a.log().contains("upload started") {
        assert!(
            waiting.elapsed() < Duration::from_secs(30),
            "A never started the upload:\n{}",
            a.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, j) = submit(&http, &b.url, "race", body.clone()).await.unwrap();
    assert_eq!(status, StatusCode::CONFLICT, "{j}\n{}", b.log());
    assert_eq!(code(&j), "submission_in_progress");
    // A refused body up to 1 MiB is read before the answer, so its sender, still writing, gets
    // the 409 (not a reset that throws the answer away) and the connection stays usable; past
    // 1 MiB the answer says `Connection: close`, so no client pools a connection that is closing.
    let refused_raw = |len: usize, send: usize| {
        let mut s = std::net::TcpStream::connect(b.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(
            format!(
                "POST /v1/reports HTTP/1.1\r\nHost: {}\r\nIdempotency-Key: race\r\n\
                 Content-Type: application/octet-stream\r\nContent-Length: {len}\r\n\r\n",
                b.addr
            )
            .as_bytes(),
        )
        .unwrap();
        let mut writer = s.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            let _ = writer.write_all(&embargo_tests::noise(send, 12));
        });
        let head = read_head(&mut s);
        (s, head, sender)
    };
    let (mut s, head, sender) = refused_raw(900_000, 900_000);
    sender.join().unwrap();
    assert!(head.starts_with("HTTP/1.1 409"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    s.write_all(
        format!(
            "GET /.well-known/security.txt HTTP/1.1\r\nHost: {}\r\n\r\n",
            b.addr
        )
        .as_bytes(),
    )
    .unwrap();
    let next = read_head(&mut s);
    assert!(
        next.contains("HTTP/1.1 200"),
        "the connection serves on: {next}"
    );
    let (_s, head, _sender) = refused_raw(3_000_000, 1_500_000);
    assert!(head.starts_with("HTTP/1.1 409"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    write_chunk(&mut first, &body[1000..]);
    first.write_all(b"0\r\n\r\n").unwrap();
    first.flush().unwrap();
    let answer = tokio::task::spawn_blocking(move || read_head(&mut first))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let (status, j) = submit(&http, &b.url, "race", body.clone()).await.unwrap();
    assert_eq!(status, StatusCode::OK, "B answers the retry: {j}");
    let listed = list_all(&http, &b.url, &team.token).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["receipt"], j["receipt"]);

    let burst = encrypt(&[&team.key], &embargo_tests::noise(200_000, 10), false);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let url = if i % 2 == 0 {
            a.url.clone()
        } else {
            b.url.clone()
        };
        let (http, burst) = (http.clone(), burst.clone());
        tasks.push(tokio::spawn(async move {
            submit(&http, &url, "burst", burst).await.unwrap()
        }));
    }
    let mut created = Vec::new();
    let mut receipts = std::collections::HashSet::new();
    for t in tasks {
        let (status, j) = t.await.unwrap();
        match status {
            StatusCode::CREATED => created.push(j["receipt"].clone()),
            StatusCode::OK => {
                receipts.insert(j["receipt"].to_string());
            }
            StatusCode::CONFLICT => assert_eq!(code(&j), "submission_in_progress", "{j}"),
            other => panic!("{other}: {j}"),
        }
    }
    assert_eq!(created.len(), 1, "one report stored");
    receipts.insert(created[0].to_string());
    assert_eq!(receipts.len(), 1, "every answer names the one report");
    assert_eq!(list_all(&http, &a.url, &team.token).await.len(), 2);
}

/// The review's attack, measured by the benchmark's own client (`intake-load slow`): a server
/// held to 256 open files, a thousand slow clients — uploads dripping a byte every 2 s with a
/// valid Content-Length, request heads dripping likewise, cleartext HTTP/2 connections silent
/// after their preface — reconnecting whenever they are closed. Real submissions, status lookups
/// and security.txt, each on a new connection, all succeed within seconds. (Before: the server
/// ran out of files and a new request timed out for as long as the attack lasted.)
#[test]
fn a_thousand_slow_clients_do_not_lock_the_intake_out() {
    let _alone = crate::alone();
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@acme.test");
    let server =
        Server::start_wrapped(&backend, &team, &[], &["prlimit", "--nofile=256:256", "--"]);
    let out = crate::intake::intake_load(
        &server,
        &team,
        "slow",
        &[
            "--attackers",
            "1000",
            "--warmup",
            "12",
            "--duration",
            "8",
            "--json",
        ],
    );
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("{j}");
    for name in ["submit", "status", "security_txt"] {
        let t = &j["attacked"][name];
        assert_eq!(t["failed"], 0, "{name} under attack: {t}");
        assert!(t["ok"].as_u64().unwrap() >= 5, "{name}: {t}");
        assert!(t["max_ms"].as_f64().unwrap() < 5000.0, "{name}: {t}");
    }
    let log = server.log();
    assert!(log.contains("connection cap reached"), "{log}");
    assert!(
        !log.contains("accept failed"),
        "the server ran out of files:\n{log}"
    );
}

/// Reads from `s` until the peer closes it; how long that took, and what came.
fn until_closed(s: &mut std::net::TcpStream) -> (std::time::Duration, Vec<u8>) {
    use std::io::Read as _;
    let started = std::time::Instant::now();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("still open after {:?}: {e}", started.elapsed()),
        }
    }
    (started.elapsed(), got)
}

/// Every way of holding a connection without using it ends at a deadline (here set to 2 s):
/// a silent connection, a request head sent a byte at a time, a keep-alive connection after its
/// request, a cleartext HTTP/2 connection after its preface and SETTINGS (before: open after 75 s),
/// and an upload below the minimum rate once its grace is over (408 `body_too_slow`; before:
/// only a 60 s gap between two bytes ended it). A connection cap the open-file limit cannot hold
/// stops the server at start, saying why.
#[test]
fn idle_and_slow_connections_end_at_their_deadlines() {
    use std::io::Write as _;
    use std::net::TcpStream;
    use std::time::Duration;
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@acme.test");
    let config = backend.dir.path().join("limits.toml");
    std::fs::write(
        &config,
        "[limits]\nidle_timeout_seconds = 2\nbody_grace_seconds = 2\n",
    )
    .unwrap();
    let server = Server::start(&backend, &team, &["--config", config.to_str().unwrap()]);
    let addr = server.addr;
    let head = |extra: &str| format!("POST /v1/reports HTTP/1.1\r\nHost: {addr}\r\n{extra}");
    let drip = |mut s: TcpStream, byte: &'static [u8]| {
        std::thread::spawn(move || {
            while s.write_all(byte).is_ok() {
                std::thread::sleep(Duration::from_millis(400));
            }
        });
    };
    type Probe = std::thread::JoinHandle<(Duration, Vec<u8>)>;
    let probes: Vec<(&str, Probe)> = vec![
        ("silent", {
            let mut s = TcpStream::connect(addr).unwrap();
            std::thread::spawn(move || until_closed(&mut s))
        }),
        ("head a byte at a time", {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(head("").as_bytes()).unwrap();
            drip(s.try_clone().unwrap(), b"X");
            std::thread::spawn(move || until_closed(&mut s))
        }),
        ("keep-alive after a request", {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(
                format!("GET /.well-known/security.txt HTTP/1.1\r\nHost: {addr}\r\n\r\n")
                    .as_bytes(),
            )
            .unwrap();
            std::thread::spawn(move || until_closed(&mut s))
        }),
        ("HTTP/2 after its preface", {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
                .unwrap();
            std::thread::spawn(move || until_closed(&mut s))
        }),
        ("upload below the minimum rate", {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(head("Idempotency-Key: drip\r\nContent-Length: 100000\r\n\r\n").as_bytes())
                .unwrap();
            drip(s.try_clone().unwrap(), b"\xc1");
            std::thread::spawn(move || until_closed(&mut s))
        }),
    ];
    for (what, probe) in probes {
        let (took, got) = probe.join().unwrap();
        assert!(
            took >= Duration::from_millis(1500) && took < Duration::from_secs(10),
            "{what}: closed after {took:?}"
        );
        let text = String::from_utf8_lossy(&got);
        match what {
            "keep-alive after a request" => assert!(text.starts_with("HTTP/1.1 200"), "{text}"),
            "upload below the minimum rate" => {
                assert!(text.starts_with("HTTP/1.1 408"), "{text}");
                assert!(text.contains("body_too_slow"), "{text}");
            }
            _ => {}
        }
    }
    drop(server);

    let out = std::process::Command::new("prlimit")
        .args(["--nofile=256:256", "--"])
        .arg(crate::intake::intake_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(backend.dir.path().join("data"))
        .arg("--team-cert")
        .arg(&team.cert_path)
        .args(["--max-connections", "1000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("max_connections = 1000 needs") && err.contains("may open 256"),
        "{err}"
    );
}

/// Uploads at once are bounded (here 4). With every slot held by uploads dripping a byte at a
/// time, a real submission takes the slot of the oldest (which gets 408 `body_too_slow`, naming
/// the slot); with every slot held by uploads keeping pace, a new one gets 503 `server_busy` with
/// Retry-After, and goes through once one ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_set_of_uploads_gives_way_to_a_real_one_only_when_it_is_slow() {
    use std::io::Write as _;
    use std::net::TcpStream;
    use std::time::Duration;
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@acme.test");
    let server = Server::start_logging(&backend, &team, &["--max-uploads", "4"], "debug");
    let http = client();
    let addr = server.addr;
    let open_upload = |key: String, first: usize| {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(
            format!(
                "POST /v1/reports HTTP/1.1\r\nHost: {addr}\r\nIdempotency-Key: {key}\r\n\
                 Content-Length: 1000000\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
        s.write_all(&vec![0xc1; first]).unwrap();
        s
    };
    let started = |n: usize| {
        let log = &server;
        async move {
            let waiting = std::time::Instant::now();
            while log.log().matches("upload started").count() < n {
                assert!(waiting.elapsed() < Duration::from_secs(30), "{}", log.log());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let mut drips = Vec::new();
    for i in 0..4 {
        drips.push(open_upload(format!("drip-{i}"), 1));
        started(i + 1).await;
    }
    let body = encrypt(&[&team.key], b"a real report", false);
    let (status, j) = submit(&http, &server.url, "real-1", body).await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{j}");
    let mut oldest = drips.remove(0);
    let (_, answer) = tokio::task::spawn_blocking(move || until_closed(&mut oldest))
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "the oldest drip is evicted: {answer}"
    );
    assert!(
        answer.contains("body_too_slow") && answer.contains("upload slot"),
        "{answer}"
    );

    // 64 KiB at once: well above the minimum rate; each takes a drip's slot.
    let mut paced = Vec::new();
    for i in 0..4 {
        paced.push(open_upload(format!("paced-{i}"), 64 * 1024));
    }
    started(5 + 4).await;
    let body = encrypt(&[&team.key], b"another real report", false);
    let r = http
        .post(format!("{}/v1/reports", server.url))
        .header("idempotency-key", "real-2")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "5");
    let j: Value = r.json().await.unwrap();
    assert_eq!(code(&j), "server_busy");
    drop(paced.pop());
    let mut created = false;
    for _ in 0..50 {
        let (status, _) = submit(&http, &server.url, "real-2", body.clone())
            .await
            .unwrap();
        if status == StatusCode::CREATED {
            created = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(created, "once a slot is free, the real report goes in");
    drop(drips);
}
