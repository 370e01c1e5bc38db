//! The researcher's vault through the CLI: an identity made on first use, drafts encrypted at
//! rest that survive SIGKILL at any moment, a canary that appears in no file anywhere, and a
//! reply that reaches a researcher who had no key before.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use embargo_tests::*;

use crate::intake::{sqlite, Server, Team};

/// Runs `embargo` with HOME, TMPDIR and the XDG directories all under `root`.
fn run_in(root: &Path, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    let mut cmd = Command::new(embargo_bin());
    cmd.args(args)
        .current_dir(root.join("work"))
        .env("HOME", root.join("home"))
        .env("TMPDIR", root.join("tmp"))
        .env("XDG_DATA_HOME", root.join("xdg-data"))
        .env("XDG_CONFIG_HOME", root.join("xdg-config"))
        .env("XDG_CACHE_HOME", root.join("xdg-cache"))
        .env("XDG_STATE_HOME", root.join("xdg-state"))
        .env("XDG_RUNTIME_DIR", root.join("run"))
        .env_remove("EMBARGO_HOME")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(bytes) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for d in [
        "work",
        "home",
        "tmp",
        "xdg-data",
        "xdg-config",
        "xdg-cache",
        "xdg-state",
        "run",
    ] {
        fs::create_dir_all(root.path().join(d)).unwrap();
    }
    root
}

pub(crate) fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out
}

/// The canary in UTF-8 and UTF-16 (both byte orders).
pub(crate) fn canary_forms(canary: &str) -> Vec<Vec<u8>> {
    let le: Vec<u8> = canary
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let be: Vec<u8> = canary
        .encode_utf16()
        .flat_map(|u| u.to_be_bytes())
        .collect();
    vec![canary.as_bytes().to_vec(), le, be]
}

pub(crate) fn assert_nowhere(dir: &Path, canary: &str) {
    let forms = canary_forms(canary);
    let files = walk(dir);
    assert!(!files.is_empty());
    for f in files {
        let bytes = fs::read(&f).unwrap();
        for form in &forms {
            assert!(
                !bytes.windows(form.len()).any(|w| w == &form[..]),
                "the canary is in {}",
                f.display()
            );
        }
    }
}

/// `embargo identity new` for Ada with `passphrase`, written to `root/<file>`.
fn identity_new(root: &Path, file: &str, passphrase: &str) -> std::process::Output {
    fs::write(root.join(file), format!("{passphrase}\n")).unwrap();
    run_in(
        root,
        &[
            "identity",
            "new",
            "--userid",
            "Ada <ada@example.org>",
            "--passphrase-file",
            &format!("../{file}"),
        ],
        None,
    )
}

fn identity(root: &Path) {
    expect_code(&identity_new(root, "pw", "correct horse battery"), 0);
}

/// A draft being saved again and again is killed with SIGKILL 200 times at random moments:
/// every version that survives decrypts to one complete text.
#[test]
fn drafts_survive_sigkill_at_any_moment() {
    let r = root();
    let root = r.path();
    identity(root);
    let text = |i: usize| {
        let mut t = format!("+++\ntitle = \"version {i}\"\n+++\n");
        while t.len() < 150_000 {
            t.push_str(&format!("line of version {i} "));
        }
        t
    };
    let out = run_in(root, &["draft", "save", "-"], Some(text(0).as_bytes()));
    expect_code(&out, 0);
    let id = stdout(&out).trim().to_owned();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut killed = 0;
    for i in 1..=200 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = Command::new(embargo_bin())
            .args(["draft", "save", "-", "--id", &id])
            .current_dir(root.join("work"))
            .env("HOME", root.join("home"))
            .env("XDG_DATA_HOME", root.join("xdg-data"))
            .env_remove("EMBARGO_HOME")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let _ = child.stdin.take().unwrap().write_all(text(i).as_bytes());
        }
        std::thread::sleep(Duration::from_micros(seed % 30_000));
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        let _ = child.kill();
        child.wait().unwrap();
    }
    assert!(
        killed > 20,
        "only {killed} of 200 were killed while running"
    );
    let out = run_in(root, &["draft", "list"], None);
    expect_code(&out, 0);
    let line = stdout(&out);
    assert!(line.starts_with(&id), "{line}");
    // Every kept version decrypts to exactly one of the texts written.
    let dir = root.join("xdg-data/embargo/vault/drafts").join(&id);
    let dir = if dir.exists() {
        dir
    } else {
        // `directories` may add a qualifier on some systems: find it.
        walk(&root.join("xdg-data"))
            .into_iter()
            .find(|p| p.to_string_lossy().contains(&id))
            .map(|p| p.parent().unwrap().to_owned())
            .expect("the draft's directory")
    };
    let mut versions: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pgp"))
        .collect();
    versions.sort();
    assert!(!versions.is_empty());
    for v in &versions {
        let n: u64 = v.trim_end_matches(".pgp").parse().unwrap();
        let out = run_in(
            root,
            &[
                "draft",
                "show",
                &id,
                "--version",
                &n.to_string(),
                "--passphrase-file",
                "../pw",
            ],
            None,
        );
        expect_code(&out, 0);
        let got = stdout(&out);
        let which: usize = got
            .split("title = \"version ")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "version {n} is not a draft: {:?}",
                    &got[..80.min(got.len())]
                )
            });
        assert_eq!(got, text(which), "version {n} is complete");
    }
}

/// Every flow with the report's canary only in memory and in the vault: draft, seal from the
/// draft, submit to an intake that is down, then up, outbox retry, a killed save. Afterwards no
/// file under HOME, TMPDIR, the XDG dirs or the working directory holds the canary (UTF-8 or
/// UTF-16). The team's reply reaches the researcher, whose only key is the identity made here.
#[test]
fn the_canary_is_never_on_disk_and_the_reply_arrives() {
    let canary = "CANARY-7f3a9c-never-on-disk";
    let r = root();
    let root = r.path();
    identity(root);
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@novu.co");
    fs::copy(&team.cert_path, root.join("work/team.asc")).unwrap();
    let report = report_text(canary, "{ name = \"Ada\" }");
    let out = run_in(root, &["draft", "save", "-"], Some(report.as_bytes()));
    expect_code(&out, 0);
    let id = stdout(&out).trim().to_owned();
    let draft = format!("draft:{id}");
    let pw = ["--passphrase-file", "../pw"];

    let mut seal = vec!["seal", draft.as_str(), "--to", "team.asc", "-o", "r.asc"];
    seal.extend(pw);
    let out = run_in(root, &seal, None);
    expect_code(&out, 0);
    assert!(stderr(&out).contains("signed by"), "{}", stderr(&out));
    let mut eml = vec![
        "seal",
        draft.as_str(),
        "--to",
        "team.asc",
        "--format",
        "email",
        "-o",
        "r.eml",
    ];
    eml.extend(pw);
    expect_code(&run_in(root, &eml, None), 0);

    // The intake is down: queued; then up: delivered.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    // A photo with GPS in its EXIF: scrubbed, and the original's hash kept in the receipt.
    let photo = fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/scrub/exif-gps-xmp.jpg"),
    )
    .unwrap();
    fs::write(root.join("work/photo.jpg"), &photo).unwrap();
    let mut submit = vec![
        "submit",
        draft.as_str(),
        "--to",
        "team.asc",
        "--intake",
        url.as_str(),
        "--retry-for",
        "1s",
        "--attach",
        "photo.jpg",
    ];
    submit.extend(pw);
    expect_code(&run_in(root, &submit, None), 75);
    let server = Server::start_on(&backend, &team, &format!("127.0.0.1:{port}"));
    // The outbox is encrypted to the identity: without its passphrase nothing is sent.
    let locked = run_in(root, &["outbox", "--retry"], None);
    assert_ne!(locked.status.code(), Some(0));
    let mut retry = vec!["outbox", "--retry"];
    retry.extend(pw);
    expect_code(&run_in(root, &retry, None), 0);
    // Receipts and outbox entries are OpenPGP messages to the identity, never plain JSON.
    let records: Vec<PathBuf> = walk(&root.join("xdg-data"))
        .into_iter()
        .filter(|p| {
            p.components()
                .any(|c| c.as_os_str() == "receipts" || c.as_os_str() == "outbox")
        })
        .collect();
    assert!(!records.is_empty());
    for r in &records {
        assert!(r.to_string_lossy().ends_with(".pgp"), "{}", r.display());
    }
    let store = embargo_core::store::Store::at(root.join("xdg-data/embargo"));
    let (receipts, bad) = embargo_core::deliver::records::Records::of(&store)
        .with_passphrase("correct horse battery".into())
        .receipts_all()
        .unwrap();
    assert!(bad.is_empty(), "{bad:?}");
    let evidence = &receipts[0].evidence;
    assert_eq!(evidence.len(), 1, "{evidence:?}");
    assert_eq!(evidence[0].name, "photo.jpg");
    assert_eq!(
        evidence[0].original_sha256.as_deref(),
        Some(
            embargo_core::bundle::hex(&{
                use sha2::Digest;
                sha2::Sha256::digest(&photo)
            })
            .as_str()
        ),
        "the original's hash is in the receipt"
    );
    assert_ne!(
        evidence[0].original_sha256.as_deref(),
        Some(evidence[0].sha256.as_str()),
        "what was sealed is the scrubbed copy"
    );
    // A draft save killed mid-way.
    let mut child = Command::new(embargo_bin())
        .args(["draft", "save", "-", "--id", &id])
        .current_dir(root.join("work"))
        .env("HOME", root.join("home"))
        .env("TMPDIR", root.join("tmp"))
        .env("XDG_DATA_HOME", root.join("xdg-data"))
        .env_remove("EMBARGO_HOME")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let _ = child.stdin.take().unwrap().write_all(report.as_bytes());
    }
    std::thread::sleep(Duration::from_millis(5));
    let _ = child.kill();
    child.wait().unwrap();

    assert_nowhere(root, canary);

    // The team reads it and answers; the researcher's identity receives the answer.
    let t = tempfile::tempdir().unwrap();
    let td = t.path();
    team.write_secrets(td);
    let conn = ["--intake", server.url.as_str(), "--token-file", "token"];
    let mut pull = vec!["team", "pull", "--key", "team.key", "-o", "inbox"];
    pull.extend(conn);
    expect_code(&embargo(td, &pull), 0);
    let receipt = fs::read_dir(td.join("inbox"))
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();
    let opened = fs::read_to_string(td.join("inbox").join(&receipt).join("report.md")).unwrap();
    assert!(opened.contains(canary));
    fs::write(td.join("reply.txt"), "Thanks Ada, confirmed.\n").unwrap();
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
    expect_code(&embargo(td, &reply), 0);
    let mut status = vec!["status", receipt.as_str()];
    status.extend(pw);
    let out = run_in(root, &status, None);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("Thanks Ada, confirmed."),
        "{}",
        stdout(&out)
    );

    // Another machine: the identity backed up, the data directory copied without its key (a
    // file backup, a synced folder: everything in it is encrypted), the backup restored. The
    // draft and the team's reply read again there.
    let mut backup = vec!["identity", "backup", "-o", "../identity-backup.asc"];
    backup.extend(pw);
    expect_code(&run_in(root, &backup, None), 0);
    let again = run_in(root, &backup, None);
    assert_ne!(again.status.code(), Some(0), "a backup is never replaced");
    let r2 = self::root();
    let other = r2.path();
    let data = root.join("xdg-data/embargo");
    for file in walk(&data) {
        let rel = file.strip_prefix(&data).unwrap();
        if rel == Path::new("vault/identity.asc") {
            continue;
        }
        let to = other.join("xdg-data/embargo").join(rel);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(&file, &to).unwrap();
    }
    fs::copy(root.join("pw"), other.join("pw")).unwrap();
    fs::copy(
        root.join("identity-backup.asc"),
        other.join("identity-backup.asc"),
    )
    .unwrap();
    let shown = run_in(other, &["draft", "show", &id], None);
    assert_ne!(
        shown.status.code(),
        Some(0),
        "no identity yet on the new machine"
    );
    let mut import = vec!["identity", "import", "../identity-backup.asc"];
    import.extend(pw);
    expect_code(&run_in(other, &import, None), 0);
    let mut show = vec!["draft", "show", id.as_str()];
    show.extend(pw);
    let out = run_in(other, &show, None);
    expect_code(&out, 0);
    assert!(stdout(&out).contains(canary), "the draft reads again");
    let out = run_in(other, &status, None);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("Thanks Ada, confirmed."),
        "the reply reads again: {}",
        stdout(&out)
    );
}

/// The CLI sets its core-file limit to zero (with PR_SET_DUMPABLE 0, in the same call) before it
/// reads a report: read off the running process while it waits for standard input.
#[test]
fn the_cli_process_writes_no_core_file() {
    let root = root();
    let mut child = Command::new(embargo_bin())
        .args(["draft", "save", "-"])
        .env("EMBARGO_HOME", root.path().join("home"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let limits = format!("/proc/{}/limits", child.id());
    let start = std::time::Instant::now();
    let mut last = String::new();
    let zero = loop {
        last = fs::read_to_string(&limits).unwrap_or(last);
        let core = last
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .unwrap_or("");
        if core.split_whitespace().skip(4).take(2).all(|v| v == "0") && !core.is_empty() {
            break true;
        }
        if start.elapsed() > Duration::from_secs(10) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = child.kill();
    child.wait().unwrap();
    assert!(zero, "the CLI's core limit is not 0:\n{last}");
}

/// The recovery the README promises, with gpg alone: the identity file and its passphrase open
/// a draft (its text, then the padding comment the README describes). And the passphrase
/// floor: `identity new` refuses a two-character passphrase, saying why and what to do, and
/// creates nothing.
#[test]
fn the_vault_opens_with_gpg_alone_and_refuses_a_weak_passphrase() {
    let r = root();
    let root = r.path();
    let out = identity_new(root, "weak", "ab");
    assert_ne!(code(&out), 0);
    let err = stderr(&out);
    assert!(
        err.contains("too weak") && err.contains("random words"),
        "{err}"
    );
    assert!(!root.join("xdg-data/embargo/vault/identity.asc").exists());

    identity(root);
    let text = "+++\ntitle = \"Recovered with gpg\"\n+++\nThe body.\n";
    let out = run_in(root, &["draft", "save", "-"], Some(text.as_bytes()));
    expect_code(&out, 0);
    let id = stdout(&out).trim().to_owned();
    let data = root.join("xdg-data/embargo");
    let gpg = Gpg::new();
    let pw = root.join("pw");
    let pw = pw.to_str().unwrap();
    gpg.run([
        "--passphrase-file",
        pw,
        "--import",
        data.join("vault/identity.asc").to_str().unwrap(),
    ]);
    let draft = data.join("vault/drafts").join(&id).join("000001.pgp");
    let out = gpg.run([
        "--passphrase-file",
        pw,
        "--decrypt",
        draft.to_str().unwrap(),
    ]);
    let opened = String::from_utf8(out.stdout).unwrap();
    let (body, padding) = opened.split_at(text.len());
    assert_eq!(body, text);
    assert!(
        padding.starts_with("\n<!-- embargo-padding: ...") && padding.ends_with(" -->\n"),
        "{padding:?}"
    );
    assert_eq!(
        opened.len(),
        embargo_core::padding::padded_len(opened.len())
    );
}
