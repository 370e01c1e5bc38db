//! Regression tests from the security review: each is named after what it guards, and each failed
//! before its fix.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use embargo_core::keys;
use embargo_core::openpgp::cert::prelude::*;
use embargo_core::openpgp::policy::StandardPolicy;
use embargo_core::openpgp::serialize::stream::{
    Armorer, Compressor, Encryptor, LiteralWriter, Message, Signer,
};
use embargo_core::openpgp::types::CompressionAlgorithm;
use embargo_core::openpgp::Cert;
use embargo_tests::*;

/// A team key made with sequoia (fast), written as team.asc and team-secret.asc.
fn team_key(dir: &Path) -> Cert {
    let (cert, _) = CertBuilder::general_purpose(Some("Team <security@novu.co>"))
        .generate()
        .unwrap();
    fs::write(dir.join("team.asc"), keys::armored_public(&cert)).unwrap();
    fs::write(
        dir.join("team-secret.asc"),
        keys::armored_secret(&cert).as_bytes(),
    )
    .unwrap();
    cert
}

/// Encrypts `plaintext` to `team` as another tool would: optionally compressed, optionally
/// signed by `signer`.
fn encrypt(team: &Cert, plaintext: &[u8], compress: bool, signer: Option<&Cert>) -> Vec<u8> {
    let p = StandardPolicy::new();
    let subkeys = vec![keys::encryption_keys(team, &p).unwrap()];
    let certs = [team.clone()];
    let set = keys::recipients(&certs, &subkeys, false).unwrap();
    let mut out = Vec::new();
    {
        let m = Message::new(&mut out);
        let m = Armorer::new(m).build().unwrap();
        let mut m = Encryptor::for_recipients(m, set.recipients)
            .build()
            .unwrap();
        if compress {
            m = Compressor::new(m)
                .algo(CompressionAlgorithm::Zip)
                .build()
                .unwrap();
        }
        if let Some(s) = signer {
            let pair = s
                .keys()
                .unencrypted_secret()
                .with_policy(&p, None)
                .for_signing()
                .next()
                .unwrap()
                .key()
                .clone()
                .into_keypair()
                .unwrap();
            m = Signer::new(m, pair).unwrap().build().unwrap();
        }
        let mut lit = LiteralWriter::new(m).build().unwrap();
        lit.write_all(plaintext).unwrap();
        lit.finalize().unwrap();
    }
    out
}

/// A hand-made bundle: the readable part, report.json, then the parts given.
fn bundle(json: &serde_json::Value, parts: &str) -> String {
    format!(
        "Content-Type: multipart/mixed; boundary=\"XX\"\r\nSubject: x\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\ntext\r\n\
         --XX\r\nContent-Type: application/json; name=\"report.json\"\r\n\r\n{json}\r\n{parts}--XX--\r\n"
    )
}

fn report_json(title: &str, attachments: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "schema": 1, "program": "novu", "title": title, "assets": ["example.org"], "class": "other",
        "body": "b", "generator": "hand", "attachments": attachments,
    })
}

fn attachment_part(name: &str, content: &str) -> String {
    use base64::Engine;
    format!(
        "--XX\r\nContent-Type: text/plain; name=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        base64::engine::general_purpose::STANDARD.encode(content)
    )
}

fn meta(name: &str, content: &str) -> serde_json::Value {
    serde_json::json!({"name": name, "size": content.len(), "sha256": sha256_hex(content.as_bytes()), "content_type": "text/plain"})
}

#[test]
fn verify_with_binds_the_signature_to_the_given_certs() {
    let dir = scratch();
    let d = dir.path();
    let team = team_key(d);
    // The researcher the team knows, and an attacker who signs and ships their own cert.
    let (ada, _) = CertBuilder::general_purpose(Some("Ada <ada@example.net>"))
        .generate()
        .unwrap();
    fs::write(d.join("ada.asc"), keys::armored_public(&ada)).unwrap();
    let (mallory, _) = CertBuilder::general_purpose(Some("Ada <ada@example.net>"))
        .generate()
        .unwrap();
    let asc = keys::armored_public(&mallory).replace('\n', "\r\n");
    let json = report_json("forged", serde_json::json!([]));
    let text = bundle(
        &json,
        &format!(
            "--XX\r\nContent-Type: application/pgp-keys; name=\"researcher.asc\"\r\n\r\n{asc}\r\n"
        ),
    );
    fs::write(
        d.join("m.asc"),
        encrypt(&team, text.as_bytes(), false, Some(&mallory)),
    )
    .unwrap();

    // Given the researcher's cert, the bundle's own key does not count.
    let out = embargo(
        d,
        [
            "open",
            "m.asc",
            "--key",
            "team-secret.asc",
            "--verify-with",
            "ada.asc",
            "--require-signature",
            "-o",
            "out",
        ],
    );
    expect_code(&out, 4);
    assert!(
        stderr(&out).contains("which is not among the certificates given to verify with"),
        "{}",
        stderr(&out)
    );
    assert!(!d.join("out").exists());
    // Without --require-signature it opens, with a warning, never "good signature".
    let out = embargo(
        d,
        [
            "open",
            "m.asc",
            "--key",
            "team-secret.asc",
            "--verify-with",
            "ada.asc",
            "-o",
            "out",
        ],
    );
    expect_code(&out, 0);
    assert!(
        stderr(&out).contains("warning: signed by"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("good signature"), "{}", stderr(&out));
    // With no cert given, the bundle's key vouches for itself, and says so.
    let out = embargo(
        d,
        ["open", "m.asc", "--key", "team-secret.asc", "-o", "out2"],
    );
    expect_code(&out, 0);
    assert!(stderr(&out).contains("self-signed, not independently verified"));
}

#[test]
fn control_and_bidi_characters_from_a_message_are_escaped_when_printed() {
    let dir = scratch();
    let d = dir.path();
    let team = team_key(d);
    // An ESC sequence that would clear the line and print a fake status, in the signer's user
    // ID, the title and an attachment name.
    let evil = "Ada\u{1b}[2K\rgood signature from TRUSTED";
    let (signer, _) = CertBuilder::general_purpose(Some(evil)).generate().unwrap();
    let asc = keys::armored_public(&signer).replace('\n', "\r\n");
    let name = "invoice\u{202e}fdp.exe";
    let content = "x";
    let json = report_json(evil, serde_json::json!([meta(name, content)]));
    let text = bundle(
        &json,
        &format!(
            "{}--XX\r\nContent-Type: application/pgp-keys; name=\"researcher.asc\"\r\n\r\n{asc}\r\n",
            attachment_part(name, content)
        ),
    );
    fs::write(
        d.join("m.asc"),
        encrypt(&team, text.as_bytes(), false, Some(&signer)),
    )
    .unwrap();
    let out = embargo(
        d,
        ["open", "m.asc", "--key", "team-secret.asc", "-o", "out"],
    );
    expect_code(&out, 0);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        !all.contains('\u{1b}') && !all.contains('\u{202e}'),
        "{all:?}"
    );
    assert!(
        all.contains("Ada\\u{1b}[2K\\u{d}good signature from TRUSTED"),
        "{all}"
    );
    // The name on disk has lost the override.
    assert_eq!(tree(&d.join("out/attachments")), ["invoicefdp.exe"]);

    // check and seal refuse a title with control characters.
    fs::write(
        d.join("r.md"),
        // TOML's escape, as an editor would save it.
        report_text("Title\\u001B[31m", "\"anonymous\""),
    )
    .unwrap();
    let out = embargo(d, ["check", "r.md"]);
    expect_code(&out, 1);
    assert!(
        stdout(&out).contains("title: title contains the control character U+001B"),
        "{}",
        stdout(&out)
    );
    let out = embargo(d, ["seal", "r.md", "--to", "team.asc", "-o", "x.asc"]);
    expect_code(&out, 2);
    assert!(!d.join("x.asc").exists());
}

#[test]
fn file_names_are_nfc_and_unique_case_insensitively() {
    let dir = scratch();
    let d = dir.path();
    let team = team_key(d);
    let names = [
        "Report.txt",
        "report.TXT",
        "cafe\u{301}.txt",
        "caf\u{e9}.txt",
        "zero\u{200b}.txt",
    ];
    let metas: Vec<_> = names.iter().map(|n| meta(n, n)).collect();
    let parts: String = names.iter().map(|n| attachment_part(n, n)).collect();
    let text = bundle(
        &report_json("names", serde_json::Value::Array(metas)),
        &parts,
    );
    fs::write(
        d.join("m.asc"),
        encrypt(&team, text.as_bytes(), false, None),
    )
    .unwrap();
    let out = embargo(
        d,
        ["open", "m.asc", "--key", "team-secret.asc", "-o", "out"],
    );
    expect_code(&out, 0);
    assert_eq!(
        tree(&d.join("out/attachments")),
        [
            "Report.txt",
            "caf\u{e9} (2).txt",
            "caf\u{e9}.txt",
            "report (2).TXT",
            "zero.txt"
        ]
    );
}

/// Seals a report with one attachment of `size` bytes to the team key in `d`.
fn sealed_with_attachment(d: &Path, size: usize) {
    fs::write(d.join("r.md"), report_text("Big", "\"anonymous\"")).unwrap();
    fs::write(d.join("big.bin"), noise(size, 3)).unwrap();
    let out = embargo(
        d,
        [
            "seal", "r.md", "--to", "team.asc", "--attach", "big.bin", "--format", "binary", "-o",
            "big.pgp",
        ],
    );
    expect_code(&out, 0);
}

#[test]
fn a_symlink_planted_during_open_cannot_redirect_plaintext() {
    let dir = scratch();
    let d = dir.path();
    let team = team_key(d);
    sealed_with_attachment(d, 3 << 20);
    let elsewhere = d.join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    for planted in ["attachments", "report.md"] {
        let out = d.join(format!("out-{planted}"));
        fs::create_dir(&out).unwrap();
        fs::set_permissions(&out, fs::Permissions::from_mode(0o700)).unwrap();
        let planted_once = AtomicBool::new(false);
        let plant = |_read: u64| {
            // While the message streams in, an attacker plants a link where a file will go.
            if !planted_once.swap(true, Ordering::SeqCst) {
                std::os::unix::fs::symlink(&elsewhere, out.join(planted)).unwrap();
            }
        };
        let mut none = |_: &str| None;
        let result = embargo_core::open::open(
            fs::File::open(d.join("big.pgp")).unwrap(),
            embargo_core::open::OpenRequest {
                secret_keys: std::slice::from_ref(&team),
                verify_with: &[],
                passphrase: &mut none,
                output_dir: &out,
                max_size: 1 << 30,
                require_signature: false,
                cancel: None,
                progress: Some(&plant),
                journal: None,
            },
        );
        let err = result.expect_err("the planted link blocks the commit");
        assert!(
            matches!(err, embargo_core::open::OpenError::Output(_)),
            "{planted}: {err}"
        );
        assert!(
            tree(&elsewhere).is_empty(),
            "{planted}: nothing went through the link"
        );
        // Rolled back: only the attacker's link is left.
        let left: Vec<_> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, [planted], "{planted}");
    }
}

#[test]
fn an_output_directory_others_can_write_is_refused() {
    let dir = scratch();
    let d = dir.path();
    team_key(d);
    sealed_with_attachment(d, 10);
    fs::create_dir(d.join("shared")).unwrap();
    fs::set_permissions(d.join("shared"), fs::Permissions::from_mode(0o777)).unwrap();
    let out = embargo(
        d,
        [
            "open",
            "big.pgp",
            "--key",
            "team-secret.asc",
            "-o",
            "shared",
        ],
    );
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("is writable by its group and everyone (mode 777)"),
        "{}",
        stderr(&out)
    );
    std::os::unix::fs::symlink(d.join("shared"), d.join("link")).unwrap();
    let out = embargo(
        d,
        ["open", "big.pgp", "--key", "team-secret.asc", "-o", "link"],
    );
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("is not a directory (or is a symbolic link)"),
        "{}",
        stderr(&out)
    );
}

fn staging_dirs(out: &Path) -> Vec<String> {
    fs::read_dir(out)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".embargo-staging-"))
                .collect()
        })
        .unwrap_or_default()
}

/// Starts `embargo open` and waits until it has staged some plaintext. The caller kills and
/// waits for the child it gets back (clippy cannot see through the return).
#[allow(clippy::zombie_processes)]
fn open_until_staged(d: &Path, out: &str) -> std::process::Child {
    let mut child = Command::new(embargo_bin())
        .args(["open", "big.pgp", "--key", "team-secret.asc", "-o", out])
        .current_dir(d)
        .env("EMBARGO_HOME", d.join(".embargo-home"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let staged = staging_dirs(&d.join(out)).into_iter().any(|s| {
            let dir = d.join(out).join(s).join("attachments");
            fs::read_dir(dir)
                .map(|rd| {
                    rd.flatten()
                        .any(|e| e.metadata().is_ok_and(|m| m.len() > 0))
                })
                .unwrap_or(false)
        });
        if staged {
            return child;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("open never staged anything");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_killed_open_is_cleaned_up_by_the_next_and_sigterm_leaves_nothing() {
    let dir = scratch();
    let d = dir.path();
    team_key(d);
    sealed_with_attachment(d, 96 << 20);

    // SIGKILL: unverified plaintext is left in a staging directory...
    let mut child = open_until_staged(d, "out");
    child.kill().unwrap();
    child.wait().unwrap();
    let left = staging_dirs(&d.join("out"));
    assert_eq!(left.len(), 1, "{left:?}");
    // ...which the next command, whatever it is, removes at its start and names (the journal
    // in the data directory says where it is; before, it stayed until the next `open` into the
    // same directory).
    let out = embargo(d, ["program", "list"]);
    expect_code(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains(&left[0]) && err.contains("unverified plaintext left by an interrupted open"),
        "{err}"
    );
    assert!(staging_dirs(&d.join("out")).is_empty());
    let out = embargo(
        d,
        ["open", "big.pgp", "--key", "team-secret.asc", "-o", "out"],
    );
    expect_code(&out, 0);
    assert_eq!(
        tree(&d.join("out")),
        ["attachments/big.bin", "report.json", "report.md"]
    );

    // SIGTERM: the open stops and removes what it staged.
    let child = open_until_staged(d, "out2");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let result = child.wait_with_output().unwrap();
    assert_eq!(
        result.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(
        !d.join("out2").exists(),
        "the directory it created is gone too"
    );
}

#[test]
fn limits_agree_between_check_seal_and_open() {
    let dir = scratch();
    let d = dir.path();
    let team = team_key(d);
    // Over-long title and body: findings naming the limit, and seal refuses.
    let long_title = "T".repeat(70_000);
    fs::write(d.join("t.md"), report_text(&long_title, "\"anonymous\"")).unwrap();
    let out = embargo(d, ["check", "t.md"]);
    expect_code(&out, 1);
    assert!(
        stdout(&out).contains("title: title is 70000 bytes, over the limit of 1024 bytes"),
        "{}",
        stdout(&out)
    );
    expect_code(
        &embargo(d, ["seal", "t.md", "--to", "team.asc", "-o", "t.asc"]),
        2,
    );
    let big_body = report_text("Body", "\"anonymous\"") + &"x".repeat(5 << 20);
    fs::write(d.join("b.md"), &big_body).unwrap();
    let out = embargo(d, ["seal", "b.md", "--to", "team.asc", "-o", "b.asc"]);
    expect_code(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("body: the description is 52")
            && err.contains("bytes, over the limit of 4194304 bytes"),
        "{err}"
    );
    // A file far over any report is not even read whole.
    fs::write(d.join("h.md"), big_body + &"x".repeat(60 << 20)).unwrap();
    let out = embargo(d, ["check", "h.md"]);
    expect_code(&out, 2);
    assert!(
        stderr(&out).contains("over the limit of"),
        "{}",
        stderr(&out)
    );
    // A bundle made elsewhere with a report.json over open's limit is "too large", not tampered.
    let huge = report_json(&"y".repeat(20 << 20), serde_json::json!([]));
    fs::write(
        d.join("huge.asc"),
        encrypt(&team, bundle(&huge, "").as_bytes(), false, None),
    )
    .unwrap();
    let out = embargo(
        d,
        ["open", "huge.asc", "--key", "team-secret.asc", "-o", "out"],
    );
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("the report is too large to open: report.json is over the limit"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn program_ids_from_reports_cannot_leave_the_data_directory() {
    let dir = scratch();
    let d = dir.path();
    team_key(d);
    // A program file and a key outside the data directory, named by a report.
    fs::write(d.join("x.toml"), "id = \"x\"\nname = \"Evil\"\n").unwrap();
    fs::write(
        d.join("r.md"),
        report_text("Path", "\"anonymous\"").replace("program = \"novu\"", "program = \"../../x\""),
    )
    .unwrap();
    let out = embargo(d, ["check", "r.md"]);
    expect_code(&out, 1);
    assert!(
        stdout(&out).contains("program: program id `../../x` may only use a-z, 0-9 and `-`"),
        "{}",
        stdout(&out)
    );
    let out = embargo(d, ["seal", "r.md", "-o", "x.asc"]);
    expect_code(&out, 2);
    assert!(!stderr(&out).contains("Evil"), "{}", stderr(&out));
}

#[test]
fn a_pinned_key_file_holding_another_key_is_refused() {
    let dir = scratch();
    let d = dir.path();
    let team = team_key(d);
    fs::write(d.join("r.md"), report_text("Pinned", "\"anonymous\"")).unwrap();
    let fpr = team.fingerprint().to_hex();
    pin_team_asc(d);
    // Someone swaps the stored key file's content for their own key.
    let (other, _) = CertBuilder::general_purpose(Some("Other"))
        .generate()
        .unwrap();
    let path = d.join(format!(".embargo-home/keys/{fpr}.asc"));
    fs::write(&path, keys::armored_public(&other)).unwrap();
    let out = embargo(d, ["seal", "r.md", "-o", "x.asc"]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains(&format!(
            "holds key {}, not the pinned {fpr}",
            other.fingerprint().to_hex()
        )),
        "{}",
        stderr(&out)
    );
    assert!(!d.join("x.asc").exists());
}

#[test]
fn open_accepts_compressed_messages_bare_parts_and_earlier_report_json() {
    let dir = scratch();
    let d = dir.path();
    let team = team_key(d);
    // A part without Content-Type or Content-Transfer-Encoding is text/plain, 7bit (RFC 2045),
    // and report.json without the later `reference` field is fine.
    let content = "plain body";
    let json = report_json("old", serde_json::json!([meta("a.txt", content)]));
    let parts =
        format!("--XX\r\nContent-Disposition: attachment; filename=\"a.txt\"\r\n\r\n{content}\r\n");
    let text = bundle(&json, &parts);
    fs::write(d.join("m.asc"), encrypt(&team, text.as_bytes(), true, None)).unwrap();
    let out = embargo(
        d,
        ["open", "m.asc", "--key", "team-secret.asc", "-o", "out"],
    );
    expect_code(&out, 0);
    assert_eq!(
        fs::read_to_string(d.join("out/attachments/a.txt")).unwrap(),
        content
    );
    // Decompression is capped like everything else.
    let bomb = vec![0u8; 8 << 20];
    fs::write(d.join("bomb.asc"), encrypt(&team, &bomb, true, None)).unwrap();
    assert!(fs::metadata(d.join("bomb.asc")).unwrap().len() < 100_000);
    let out = embargo(
        d,
        [
            "open",
            "bomb.asc",
            "--key",
            "team-secret.asc",
            "--max-size",
            "1M",
            "-o",
            "bomb",
        ],
    );
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("exceeds the limit of 1048576 bytes"),
        "{}",
        stderr(&out)
    );
    assert!(!d.join("bomb").exists());
}

#[test]
fn exit_code_tables_in_help_are_the_readmes() {
    let dir = scratch();
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    for sub in [
        "new",
        "check",
        "seal",
        "open",
        "securitytxt",
        "discover",
        "completions",
        "submit",
        "outbox",
        "status",
        "team pull",
        "program add",
    ] {
        let mut args: Vec<&str> = sub.split(' ').collect();
        args.push("--help");
        let help = stdout(&embargo(dir.path(), &args));
        let table = &help[help
            .find("Exit codes:")
            .unwrap_or_else(|| panic!("{sub} --help has no exit codes"))..];
        assert!(
            readme.contains(table.trim_end()),
            "README lacks the exit-code table of `embargo {sub}`:\n{table}"
        );
    }
}
