//! The researcher's `embargo submit` / `outbox` / `status` and the team's `embargo team …`
//! against a real `embargo-intake` process (SQLite): the whole loop a report and its answer
//! take, and a report that waits in the outbox while the intake is down.

use std::fs;
use std::path::Path;

use embargo_tests::*;
use serde_json::Value;

use crate::intake::{client, message, sqlite, Server, Team};

/// The team's files in the researcher's (and the team's) working directory.
pub(crate) fn setup(d: &Path, team: &Team) {
    fs::copy(&team.cert_path, d.join("team.asc")).unwrap();
    team.write_secrets(d);
    fs::write(
        d.join("r.md"),
        report_text("IDOR through the intake", "{ name = \"Ada Lovelace\" }"),
    )
    .unwrap();
    fs::write(d.join("poc.bin"), noise(300_000, 5)).unwrap();
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
                "--public",
                "me.asc",
            ],
        ),
        0,
    );
    // The researcher pinned the team's key (so its replies verify against it).
    pin_team_asc(d);
}

/// No plaintext of the report anywhere in the researcher's data directory.
fn assert_no_plaintext(home: &Path) {
    for entry in walk(home) {
        let bytes = fs::read(&entry).unwrap();
        assert!(
            !bytes
                .windows(b"IDOR through the intake".len())
                .any(|w| w == b"IDOR through the intake"),
            "plaintext in {}",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn submit_pull_reply_and_status_end_to_end() {
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@novu.co");
    let server = Server::start(&backend, &team, &[]);
    let dir = scratch();
    let d = dir.path();
    setup(d, &team);

    let out = embargo(
        d,
        [
            "submit",
            "r.md",
            "--sign-with",
            "me.key",
            "--attach",
            "poc.bin",
            "--intake",
            &server.url,
            "--json",
        ],
    );
    expect_code(&out, 0);
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let receipt = j["receipt"].as_str().unwrap().to_owned();
    assert_eq!(receipt.len(), 26, "128 bits in Crockford base32: {j}");
    assert!(j["status_token"].as_str().unwrap().len() > 20);
    assert_no_plaintext(&d.join(".embargo-home"));

    // What the intake stored is a standard OpenPGP message: gpg opens it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stored = rt.block_on(message(&client(), &server.url, &team.token, &receipt));
    let gpg = Gpg::new();
    gpg.run(["--import", d.join("team.key").to_str().unwrap()]);
    gpg.run(["--import", d.join("me.asc").to_str().unwrap()]);
    fs::write(d.join("stored.pgp"), &stored).unwrap();
    let out = gpg.run(["--decrypt", d.join("stored.pgp").to_str().unwrap()]);
    assert!(
        stderr(&out).contains("Good signature from \"Ada <ada@example.org>\""),
        "{}",
        stderr(&out)
    );
    assert!(
        out.stdout
            .windows(b"IDOR through the intake".len())
            .any(|w| w == b"IDOR through the intake"),
        "gpg reads the report"
    );

    // The team pulls it with Embargo and opens it.
    let conn = ["--intake", server.url.as_str(), "--token-file", "token"];
    let mut pull = vec!["team", "pull", "--key", "team.key", "-o", "inbox"];
    pull.extend(conn);
    let out = embargo(d, &pull);
    expect_code(&out, 0);
    let report = fs::read_to_string(d.join("inbox").join(&receipt).join("report.md")).unwrap();
    assert!(report.contains("IDOR through the intake"), "{report}");
    assert_eq!(
        fs::read(d.join("inbox").join(&receipt).join("attachments/poc.bin")).unwrap(),
        noise(300_000, 5)
    );
    // A second pull has nothing new and changes nothing.
    let out = embargo(d, &pull);
    expect_code(&out, 0);

    let mut list = vec!["team", "list"];
    list.extend(conn);
    let out = embargo(d, &list);
    expect_code(&out, 0);
    assert!(stdout(&out).contains(&receipt), "{}", stdout(&out));

    let mut status = vec!["team", "status", receipt.as_str(), "triaged"];
    status.extend(conn);
    expect_code(&embargo(d, &status), 0);

    fs::write(
        d.join("reply.txt"),
        "Thanks, Ada. Reproduced; a fix ships Friday.\n",
    )
    .unwrap();
    let mut reply = vec![
        "team",
        "reply",
        receipt.as_str(),
        "--message",
        "reply.txt",
        "--key",
        "team.key",
        "--from",
        "inbox",
    ];
    reply.extend(conn);
    let out = embargo(d, &reply);
    expect_code(&out, 0);

    // The researcher asks: status and the reply, decrypted with their key and verified
    // against the pinned team key.
    let out = embargo(d, ["status", &receipt, "--key", "me.key"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("status:   triaged"), "{text}");
    assert!(text.contains("signed by the team's pinned key"), "{text}");
    assert!(
        text.contains("Thanks, Ada. Reproduced; a fix ships Friday."),
        "{text}"
    );
    // Without the key the reply stays encrypted.
    let text = stdout(&embargo(d, ["status", &receipt]));
    assert!(
        text.contains("(encrypted; pass --key to read it)"),
        "{text}"
    );
    drop(server);
}

#[test]
fn a_report_waits_in_the_outbox_while_the_intake_is_down() {
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@novu.co");
    let dir = scratch();
    let d = dir.path();
    setup(d, &team);
    // A port nothing listens on yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");

    let out = embargo(d, ["submit", "r.md", "--intake", &url, "--retry-for", "1s"]);
    expect_code(&out, 75);
    let err = stderr(&out);
    assert!(err.contains("queued in outbox as"), "{err}");
    assert!(err.contains("the report is safe"), "{err}");
    assert_no_plaintext(&d.join(".embargo-home"));
    let out = embargo(d, ["outbox"]);
    expect_code(&out, 0);
    let listed = stdout(&out);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.contains(&url), "{listed}");
    // Still down: --retry keeps it and says so.
    let out = embargo(d, ["outbox", "--retry", "--retry-for", "1s"]);
    expect_code(&out, 75);

    let server = Server::start_on(&backend, &team, &format!("127.0.0.1:{port}"));
    let out = embargo(d, ["outbox", "--retry"]);
    expect_code(&out, 0);
    let out = embargo(d, ["outbox"]);
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert!(stderr(&out).contains("the outbox is empty"));
    // It arrived exactly once, and the team opens it.
    let mut pull = vec!["team", "pull", "--key", "team.key", "-o", "inbox"];
    pull.extend(["--intake", server.url.as_str(), "--token-file", "token"]);
    expect_code(&embargo(d, &pull), 0);
    let received: Vec<_> = fs::read_dir(d.join("inbox"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    assert_eq!(received.len(), 1);
    let report = fs::read_to_string(received[0].path().join("report.md")).unwrap();
    assert!(report.contains("IDOR through the intake"));
}

/// A team that runs `embargo-intake` is found with no configuration: `program add` reads the
/// server's own security.txt (contact, key, the Embargo-Intake field) over HTTPS, the researcher
/// pins the key by its fingerprint, and `submit` goes to the discovered intake by default.
#[test]
fn an_intake_server_is_discovered_pinned_and_submitted_to() {
    let backend = sqlite();
    let bdir = backend.dir.path().to_owned();
    let team = Team::new(&bdir, "security@intake.test");
    let names = vec![
        "intake.test".to_owned(),
        "openpgpkey.intake.test".to_owned(),
    ];
    let tls = rcgen::generate_simple_self_signed(names.clone()).unwrap();
    let server = Server::start_tls(
        &backend,
        &team,
        &tls.cert.pem(),
        &tls.signing_key.serialize_pem(),
    );
    let dir = scratch();
    let d = dir.path();
    fs::write(
        d.join("r.md"),
        report_text("IDOR through the intake", "\"anonymous\"")
            .replace("program = \"novu\"", "program = \"intake-test\""),
    )
    .unwrap();
    team.write_secrets(d);
    let resolve = names
        .iter()
        .map(|n| format!("{n}={}", server.addr))
        .collect::<Vec<_>>()
        .join(",");
    let run = |args: &[&str]| {
        std::process::Command::new(embargo_bin())
            .args(args)
            .current_dir(d)
            .env("EMBARGO_HOME", d.join(".embargo-home"))
            .env("EMBARGO_CA_FILE", bdir.join("tls.pem"))
            .env("EMBARGO_RESOLVE", &resolve)
            .env("EMBARGO_VKS_URL", "https://intake.test")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&["program", "add", "intake.test", "--no-proton"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("added program intake-test"), "{text}");
    assert!(text.contains("intake: https://intake.test/"), "{text}");
    let fpr = team.key.fingerprint().to_hex();
    expect_code(
        &run(&[
            "program",
            "pin",
            "--program",
            "intake-test",
            "--fingerprint",
            &fpr,
        ]),
        0,
    );
    let out = run(&["submit", "r.md", "--json"]);
    expect_code(&out, 0);
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let receipt = j["receipt"].as_str().unwrap().to_owned();
    let out = run(&[
        "team",
        "pull",
        "--key",
        "team.key",
        "-o",
        "inbox",
        "--intake",
        "https://intake.test",
        "--token-file",
        "token",
    ]);
    expect_code(&out, 0);
    let report = fs::read_to_string(d.join("inbox").join(&receipt).join("report.md")).unwrap();
    assert!(report.contains("IDOR through the intake"));
}

/// An anonymous report gets a key made for it alone: the bundle carries its public half and
/// nothing of the identity, the team replies to it, the researcher reads the reply with
/// `embargo status`, and on a second machine after `reply-access export` / `import`.
#[test]
fn an_anonymous_report_gets_replies_through_its_own_reply_key() {
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@novu.co");
    let server = Server::start(&backend, &team, &[]);
    let dir = scratch();
    let d = dir.path();
    setup(d, &team);
    fs::write(d.join("pw"), "correct horse battery staple\n").unwrap();
    let identity = [
        "identity",
        "new",
        "--userid",
        "Ada Lovelace <ada@example.org>",
        "--passphrase-file",
        "pw",
    ];
    expect_code(&embargo(d, identity), 0);
    let shown = stdout(&embargo(d, ["identity", "show"]));
    let identity_fpr: String = shown
        .split_whitespace()
        .filter(|w| w.len() >= 4 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .collect::<Vec<_>>()
        .concat();
    assert_eq!(identity_fpr.len(), 40, "{shown}");
    fs::write(
        d.join("anon.md"),
        report_text("IDOR through the intake", "\"anonymous\""),
    )
    .unwrap();

    let out = embargo(
        d,
        [
            "submit",
            "anon.md",
            "--intake",
            &server.url,
            "--json",
            "--passphrase-file",
            "pw",
        ],
    );
    expect_code(&out, 0);
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let receipt = j["receipt"].as_str().unwrap().to_owned();
    let reply_fpr = j["reply_key"].as_str().expect("a reply key").to_owned();
    assert_ne!(reply_fpr, identity_fpr);

    // What the team decrypts holds the reply key and nothing of the identity: not its key,
    // not its user ID, not its name.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stored = rt.block_on(message(&client(), &server.url, &team.token, &receipt));
    fs::write(d.join("stored.pgp"), &stored).unwrap();
    let gpg = Gpg::new();
    gpg.run(["--import", d.join("team.key").to_str().unwrap()]);
    let mime = gpg
        .run(["--decrypt", d.join("stored.pgp").to_str().unwrap()])
        .stdout;
    let mime = String::from_utf8_lossy(&mime).into_owned();
    assert!(mime.contains("name=\"reply-key.asc\""), "{mime}");
    assert!(!mime.contains("researcher.asc"), "{mime}");
    for secret in ["Ada Lovelace", "ada@example.org", "Lovelace"] {
        assert!(!mime.contains(secret), "{secret} in the bundle");
    }
    let keys_in_bundle = embargo_core::keys::parse_certs(
        &mime.as_bytes()[mime.find("-----BEGIN PGP PUBLIC KEY BLOCK-----").unwrap()..],
        "reply-key.asc",
    )
    .unwrap();
    assert_eq!(keys_in_bundle.len(), 1);
    let reply_cert = &keys_in_bundle[0];
    assert_eq!(reply_cert.fingerprint().to_hex(), reply_fpr);
    let ids: Vec<String> = reply_cert
        .keys()
        .map(|k| k.key().fingerprint().to_hex())
        .collect();
    assert!(!ids.contains(&identity_fpr), "{ids:?}");
    let uids: Vec<String> = reply_cert
        .userids()
        .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
        .collect();
    assert_eq!(uids, [embargo_core::replykey::USER_ID]);
    assert!(!reply_cert.is_tsk(), "only the public half travels");

    // The team pulls it and replies to the reply key.
    let conn = ["--intake", server.url.as_str(), "--token-file", "token"];
    let mut pull = vec!["team", "pull", "--key", "team.key", "-o", "inbox"];
    pull.extend(conn);
    expect_code(&embargo(d, &pull), 0);
    assert!(d
        .join("inbox")
        .join(&receipt)
        .join("reply-key.asc")
        .exists());
    fs::write(
        d.join("reply.txt"),
        "Thanks. Reproduced; fixed on Friday.\n",
    )
    .unwrap();
    let mut reply = vec![
        "team",
        "reply",
        receipt.as_str(),
        "--message",
        "reply.txt",
        "--key",
        "team.key",
        "--from",
        "inbox",
    ];
    reply.extend(conn);
    expect_code(&embargo(d, &reply), 0);

    // The researcher reads it: the reply key comes out of the vault with the identity's
    // passphrase.
    let out = embargo(d, ["status", &receipt, "--passphrase-file", "pw"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("Thanks. Reproduced; fixed on Friday."),
        "{text}"
    );
    assert!(text.contains("signed by the team's pinned key"), "{text}");

    // On another machine: export with a passphrase of its own, import, read.
    fs::write(d.join("xpw"), "tangerine walrus orbit lantern\n").unwrap();
    let export = [
        "reply-access",
        "export",
        &receipt,
        "-o",
        "access.pgp",
        "--passphrase-file",
        "pw",
        "--export-passphrase-file",
        "xpw",
    ];
    expect_code(&embargo(d, export), 0);
    let access = fs::read(d.join("access.pgp")).unwrap();
    // The file holds the reply key's secret and the receipt, nothing of the identity: open it
    // with gpg and the export passphrase and look.
    let plain = gpg
        .run([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase-file",
            d.join("xpw").to_str().unwrap(),
            "--decrypt",
            d.join("access.pgp").to_str().unwrap(),
        ])
        .stdout;
    let plain = String::from_utf8_lossy(&plain).into_owned();
    assert!(plain.contains(&receipt), "{plain}");
    assert!(plain.contains("PRIVATE KEY BLOCK"), "{plain}");
    assert!(!plain.contains("Ada") && !plain.contains("ada@"), "{plain}");
    let in_file = embargo_core::keys::parse_certs(
        serde_json::from_str::<Value>(&plain).unwrap()["key"]
            .as_str()
            .unwrap()
            .as_bytes(),
        "access",
    )
    .unwrap();
    assert_eq!(in_file.len(), 1);
    assert_eq!(in_file[0].fingerprint().to_hex(), reply_fpr);
    assert!(!access.windows(6).any(|w| w == b"Lovela"));

    let other = scratch();
    let o = other.path();
    fs::copy(d.join("access.pgp"), o.join("access.pgp")).unwrap();
    fs::copy(d.join("xpw"), o.join("xpw")).unwrap();
    fs::write(o.join("pw"), "another machine, another passphrase\n").unwrap();
    let other_identity = [
        "identity",
        "new",
        "--userid",
        "Laptop <l@example.org>",
        "--passphrase-file",
        "pw",
    ];
    expect_code(&embargo(o, other_identity), 0);
    // A wrong passphrase is one clear error and changes nothing.
    fs::write(o.join("bad"), "not the passphrase at all\n").unwrap();
    let out = embargo(
        o,
        [
            "reply-access",
            "import",
            "access.pgp",
            "--export-passphrase-file",
            "bad",
        ],
    );
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("passphrase is wrong"),
        "{}",
        stderr(&out)
    );
    let out = embargo(
        o,
        [
            "reply-access",
            "import",
            "access.pgp",
            "--export-passphrase-file",
            "xpw",
        ],
    );
    expect_code(&out, 0);
    assert_eq!(stdout(&out).trim(), receipt);
    let out = embargo(o, ["status", &receipt, "--passphrase-file", "pw"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("Thanks. Reproduced; fixed on Friday."),
        "{text}"
    );
    drop(server);
}

/// Two members of a team, each with their own key pinned for the program and listed to the
/// intake: member A connects (token and key in the vault), sees the report as new with its due
/// date, opens it in memory, sets it to triaged and answers; the researcher's `status` names A
/// as the signer, verified against the pinned keys; member B opens the same report with B's
/// key. Neither member's data directory holds any of the report.
#[test]
fn two_team_members_read_and_answer_from_their_vaults() {
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@novu.co");
    let dir = scratch();
    let d = dir.path();
    setup(d, &team);
    let bob = [
        "key",
        "generate",
        "--userid",
        "Bob Triager <bob@novu.co>",
        "-o",
        "bob.key",
        "--public",
        "bob.asc",
    ];
    expect_code(&embargo(d, bob), 0);
    let bob_asc = d.join("bob.asc");
    let server = Server::start(&backend, &team, &["--team-cert", bob_asc.to_str().unwrap()]);
    let bob_cert = embargo_core::keys::read_certs(&bob_asc).unwrap().remove(0);
    let bob_fpr = bob_cert.fingerprint().to_hex();
    let pin = [
        "program",
        "pin",
        "--program",
        "novu",
        "--key",
        "bob.asc",
        "--fingerprint",
        &bob_fpr,
        "--add",
    ];
    expect_code(&embargo(d, pin), 0);
    let out = embargo(
        d,
        [
            "submit",
            "r.md",
            "--sign-with",
            "me.key",
            "--attach",
            "poc.bin",
            "--intake",
            &server.url,
            "--json",
        ],
    );
    expect_code(&out, 0);
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let receipt = j["receipt"].as_str().unwrap().to_owned();

    // Member A: the team key of `setup`, connected in a data directory of its own.
    let a = d.join("alice");
    fs::create_dir_all(&a).unwrap();
    fs::copy(d.join("team.key"), a.join("me.key")).unwrap();
    fs::copy(d.join("token"), a.join("token")).unwrap();
    fs::write(a.join("pw"), "violet harbour quantum saddle\n").unwrap();
    let connect = |dir: &Path| {
        embargo(
            dir,
            [
                "team",
                "connect",
                "--intake",
                server.url.as_str(),
                "--token-file",
                "token",
                "--key",
                "me.key",
                "--passphrase-file",
                "pw",
            ],
        )
    };
    expect_code(&connect(&a), 0);
    // The vault keeps the key locked and the token encrypted.
    let vault = a.join(".embargo-home/vault/team");
    let member = fs::read_to_string(vault.join("member.asc")).unwrap();
    assert!(member.contains("PRIVATE KEY"), "{member}");
    let with_pw = embargo_core::keys::read_certs(&vault.join("member.asc")).unwrap();
    assert!(
        with_pw[0]
            .keys()
            .secret()
            .all(|k| !k.key().has_unencrypted_secret()),
        "locked"
    );
    let conn = fs::read(vault.join("connection.pgp")).unwrap();
    assert!(!conn
        .windows(team.token.len())
        .any(|w| w == team.token.as_bytes()));

    let inbox = ["team", "inbox", "--passphrase-file", "pw"];
    let out = embargo(&a, inbox);
    expect_code(&out, 0);
    let line = stdout(&out);
    assert!(line.starts_with(&receipt), "{line}");
    assert!(
        line.contains("answer due "),
        "Novu promises 3 business days: {line}"
    );
    assert!(line.trim_end().ends_with("NEW"), "{line}");
    assert_eq!(
        line.split('\t').nth(1),
        Some("-"),
        "the reference is inside the encryption: unknown until opened: {line}"
    );

    let show = ["team", "show", receipt.as_str(), "--passphrase-file", "pw"];
    let out = embargo(&a, show);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("IDOR through the intake"), "{text}");
    assert!(text.contains("good signature"), "{text}");
    let sha = {
        use sha2::Digest;
        embargo_core::bundle::hex(&sha2::Sha256::digest(noise(300_000, 5)))
    };
    assert!(text.contains(&format!("sha256 {sha}")), "{text}");
    let line = stdout(&embargo(&a, inbox));
    assert!(!line.contains("NEW"), "opened: {line}");
    let reference = line.split('\t').nth(1).unwrap();
    assert!(
        embargo_core::reference::Reference::parse(reference).is_ok(),
        "opened: the report's reference, kept encrypted to the member: {line}"
    );
    assert!(text.contains(reference), "the reference the report carries");
    assert!(stdout(&embargo(
        &a,
        [
            "team",
            "inbox",
            "--status",
            "triaged",
            "--passphrase-file",
            "pw"
        ]
    ))
    .is_empty());

    let set = [
        "team",
        "set",
        receipt.as_str(),
        "triaged",
        "--passphrase-file",
        "pw",
    ];
    expect_code(&embargo(&a, set), 0);
    fs::write(
        a.join("reply.txt"),
        "Alice here: reproduced, fix on Friday.\n",
    )
    .unwrap();
    let answer = [
        "team",
        "answer",
        receipt.as_str(),
        "--message",
        "reply.txt",
        "--passphrase-file",
        "pw",
    ];
    expect_code(&embargo(&a, answer), 0);
    // A's thread: the reply A sent, decrypted with A's key, signed by A.
    let out = embargo(&a, show);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("replies sent (1):"), "{text}");
    assert!(
        text.contains("Alice here: reproduced, fix on Friday."),
        "{text}"
    );
    assert!(text.contains("(Someone <security@novu.co>)"), "{text}");
    // One attachment saved where A says, byte for byte: the only thing of the report on disk.
    let save = [
        "team",
        "save",
        receipt.as_str(),
        "poc.bin",
        "-o",
        "saved.bin",
        "--passphrase-file",
        "pw",
    ];
    expect_code(&embargo(&a, save), 0);
    assert_eq!(fs::read(a.join("saved.bin")).unwrap(), noise(300_000, 5));
    let missing = [
        "team",
        "save",
        receipt.as_str(),
        "nothing.bin",
        "-o",
        "x.bin",
        "--passphrase-file",
        "pw",
    ];
    let out = embargo(&a, missing);
    assert_ne!(code(&out), 0);
    assert!(
        stderr(&out).contains("has no attachment of that name"),
        "{}",
        stderr(&out)
    );
    assert!(!a.join("x.bin").exists());

    // The researcher: the reply verified against the pinned keys, from member A by name.
    let out = embargo(d, ["status", &receipt, "--key", "me.key"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("status:   triaged"), "{text}");
    assert!(
        text.contains("signed by the team's pinned key (Someone <security@novu.co>)"),
        "{text}"
    );
    assert!(
        text.contains("Alice here: reproduced, fix on Friday."),
        "{text}"
    );

    // Member B opens the same report with B's own key.
    let b = d.join("bob");
    fs::create_dir_all(&b).unwrap();
    fs::copy(d.join("bob.key"), b.join("me.key")).unwrap();
    fs::copy(d.join("token"), b.join("token")).unwrap();
    fs::write(b.join("pw"), "cobalt meadow thimble ferry\n").unwrap();
    expect_code(&connect(&b), 0);
    let out = embargo(&b, show);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("IDOR through the intake"));
    // A's data directory pins no other member's key: A's reply is B's to see listed, not read.
    assert!(text.contains("replies sent (1):"), "{text}");
    assert!(
        text.contains("cannot be read: not encrypted to your key"),
        "{text}"
    );

    // Nothing of the report in either member's data directory.
    assert_no_plaintext(&a.join(".embargo-home"));
    assert_no_plaintext(&b.join(".embargo-home"));
    drop(server);
}
