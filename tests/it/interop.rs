//! Interop with real OpenPGP peers: what `embargo seal` makes, gpg and sq open and verify; what
//! gpg makes, `embargo open` opens.

use std::fs;
use std::path::Path;

use embargo_tests::*;

struct Setup {
    dir: tempfile::TempDir,
    gpg: Gpg,
    team_fpr: String,
    ada_fpr: String,
    attachment: Vec<u8>,
}

/// A team key of the given algorithm and a researcher key, both made by gpg, a report and a
/// 1 MB attachment.
fn setup(algo: &str, enc: Option<&str>) -> Setup {
    let dir = scratch();
    let gpg = Gpg::new();
    let team_fpr = gpg.generate(
        "Novu Security <security@novu.co>",
        algo,
        "default",
        enc,
        &[],
    );
    let ada_fpr = gpg.generate(
        "Ada Lovelace <ada@example.net>",
        "ed25519",
        "sign",
        None,
        &[],
    );
    gpg.export(&team_fpr, &dir.path().join("team.asc"));
    gpg.export_secret(&team_fpr, &dir.path().join("team-secret.asc"));
    gpg.export(&ada_fpr, &dir.path().join("ada.asc"));
    gpg.export_secret(&ada_fpr, &dir.path().join("ada-secret.asc"));
    fs::write(
        dir.path().join("report.md"),
        report_text(
            "IDOR in the workflow API",
            "{ name = \"Ada Lovelace\", handle = \"@ada\" }",
        ),
    )
    .unwrap();
    let attachment = noise(1_000_000, algo.len() as u64);
    fs::write(dir.path().join("poc capture.bin"), &attachment).unwrap();
    Setup {
        dir,
        gpg,
        team_fpr,
        ada_fpr,
        attachment,
    }
}

fn seal_signed(s: &Setup, format: &str, output: &str) {
    let out = embargo(
        s.dir.path(),
        [
            "seal",
            "report.md",
            "--to",
            "team.asc",
            "--attach",
            "poc capture.bin",
            "--sign-with",
            "ada-secret.asc",
            "--format",
            format,
            "-o",
            output,
        ],
    );
    expect_code(&out, 0);
    assert!(stderr(&out).contains("using SEIPDv1"), "{}", stderr(&out));
}

/// gpg decrypts and verifies; the plaintext's parts (read by Python's `email`) are byte-exact.
fn gpg_opens(s: &Setup) {
    seal_signed(s, "armor", "sealed.asc");
    let plain = s.dir.path().join("plain.eml");
    let out = s
        .gpg
        .cmd()
        .args(["--status-fd", "1", "--output"])
        .arg(&plain)
        .args(["--decrypt", "sealed.asc"])
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "gpg --decrypt: {}", stderr(&out));
    let status = stdout(&out);
    assert!(
        status.contains(&format!("[GNUPG:] VALIDSIG {}", s.ada_fpr))
            || status.contains("[GNUPG:] VALIDSIG"),
        "{status}"
    );
    assert!(status.contains("[GNUPG:] GOODSIG"), "{status}");
    assert!(status.contains("[GNUPG:] DECRYPTION_OKAY"), "{status}");
    let bytes = fs::read(&plain).unwrap();
    let head = String::from_utf8_lossy(&bytes[..4000.min(bytes.len())]).into_owned();
    assert!(
        head.contains("Title:       IDOR in the workflow API"),
        "{head}"
    );
    assert!(head.contains("Ünïcödé stays intact"), "{head}");
    assert_parts(&plain, &s.attachment);
}

fn assert_parts(bundle: &Path, attachment: &[u8]) {
    let parts = python_parts(bundle);
    assert_eq!(
        parts[0],
        ("subject".into(), "IDOR in the workflow API".into())
    );
    let names: Vec<&str> = parts.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "subject",
            "text/plain",
            "report.json",
            "poc capture.bin",
            "researcher.asc"
        ]
    );
    assert_eq!(
        parts[3].1,
        sha256_hex(attachment),
        "attachment differs after Python's email parsed it"
    );
}

#[test]
fn gpg_decrypts_and_verifies_seal_cv25519() {
    gpg_opens(&setup("ed25519", Some("cv25519")));
}

#[test]
fn gpg_decrypts_and_verifies_seal_rsa4096() {
    gpg_opens(&setup("rsa4096", Some("rsa4096")));
}

fn sq_opens(s: &Setup) {
    seal_signed(s, "binary", "sealed.pgp");
    let out = tool("sq")
        .args([
            "decrypt",
            "--recipient-key",
            "team-secret.asc",
            "--signer-cert",
            "ada.asc",
            "-o",
            "plain.eml",
            "sealed.pgp",
        ])
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "sq decrypt: {}", stderr(&out));
    assert!(stderr(&out).contains("Good signature"), "{}", stderr(&out));
    assert_parts(&s.dir.path().join("plain.eml"), &s.attachment);
}

#[test]
fn sq_decrypts_and_verifies_seal_cv25519() {
    sq_opens(&setup("ed25519", Some("cv25519")));
}

#[test]
fn sq_decrypts_and_verifies_seal_rsa4096() {
    sq_opens(&setup("rsa4096", Some("rsa4096")));
}

#[test]
fn eml_is_pgp_mime_and_its_second_part_decrypts_with_gpg() {
    let s = setup("ed25519", Some("cv25519"));
    let out = embargo(
        s.dir.path(),
        [
            "seal",
            "report.md",
            "--to",
            "team.asc",
            "--attach",
            "poc capture.bin",
            "--format",
            "email",
            "--mail-from",
            "ada@example.net",
            "-o",
            "report.eml",
        ],
    );
    expect_code(&out, 0);
    let raw = fs::read(s.dir.path().join("report.eml")).unwrap();
    assert!(
        !raw.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'),
        "every line of the .eml ends in CRLF"
    );
    let mail = mailparse::parse_mail(&raw).unwrap();
    assert_eq!(mail.ctype.mimetype, "multipart/encrypted");
    assert_eq!(
        mail.ctype.params.get("protocol").map(String::as_str),
        Some("application/pgp-encrypted")
    );
    let header = |name: &str| {
        mail.headers
            .iter()
            .find(|h| h.get_key_ref().eq_ignore_ascii_case(name))
            .map(|h| h.get_value())
    };
    assert_eq!(header("To").as_deref(), Some("security@novu.co"));
    assert_eq!(header("From").as_deref(), Some("ada@example.net"));
    let reference = stderr(&out)
        .lines()
        .find_map(|l| l.strip_prefix("reference "))
        .and_then(|l| l.split_whitespace().next())
        .expect("seal prints the reference")
        .to_owned();
    assert_eq!(
        header("Subject"),
        Some(format!("Encrypted vulnerability report {reference}")),
        "the title never leaves the encryption; the random reference does"
    );
    assert!(header("Message-ID").is_some() && header("Date").is_some());
    assert!(
        !String::from_utf8_lossy(&raw).contains("IDOR in the workflow API"),
        "no plaintext in the email"
    );
    assert_eq!(mail.subparts.len(), 2);
    assert_eq!(mail.subparts[0].ctype.mimetype, "application/pgp-encrypted");
    assert_eq!(mail.subparts[0].get_body().unwrap().trim(), "Version: 1");
    assert_eq!(mail.subparts[1].ctype.mimetype, "application/octet-stream");
    let armored = mail.subparts[1].get_body_raw().unwrap();
    fs::write(s.dir.path().join("part2.asc"), &armored).unwrap();
    let out = s
        .gpg
        .cmd()
        .args(["--output", "plain.eml", "--decrypt", "part2.asc"])
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "gpg: {}", stderr(&out));
    let parts = python_parts(&s.dir.path().join("plain.eml"));
    assert_eq!(parts[3].1, sha256_hex(&s.attachment));

    // And the team opens the .eml itself.
    let out = embargo(
        s.dir.path(),
        [
            "open",
            "report.eml",
            "--key",
            "team-secret.asc",
            "-o",
            "opened",
        ],
    );
    expect_code(&out, 0);
    assert_eq!(
        fs::read(s.dir.path().join("opened/attachments/poc capture.bin")).unwrap(),
        s.attachment
    );
}

#[test]
fn gpg_encrypted_and_signed_message_opens_with_embargo() {
    let s = setup("ed25519", Some("cv25519"));
    fs::write(
        s.dir.path().join("note.txt"),
        "a report written by hand and sealed with gpg\n",
    )
    .unwrap();
    s.gpg.run([
        "--armor",
        "--local-user",
        &s.ada_fpr,
        "--recipient",
        &s.team_fpr,
        "--output",
        s.dir.path().join("note.asc").to_str().unwrap(),
        "--sign",
        "--encrypt",
        s.dir.path().join("note.txt").to_str().unwrap(),
    ]);
    let out = embargo(
        s.dir.path(),
        [
            "open",
            "note.asc",
            "--key",
            "team-secret.asc",
            "--verify-with",
            "ada.asc",
            "-o",
            "opened",
        ],
    );
    expect_code(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("good signature from {}", s.ada_fpr)),
        "{err}"
    );
    assert!(err.contains("not an Embargo report bundle"), "{err}");
    assert_eq!(tree(&s.dir.path().join("opened")), ["note.txt"]);
    assert_eq!(
        fs::read_to_string(s.dir.path().join("opened/note.txt")).unwrap(),
        "a report written by hand and sealed with gpg\n"
    );

    // Without the signer's certificate the signature is unknown: a warning, or exit 4 when required.
    let out = embargo(
        s.dir.path(),
        [
            "open",
            "note.asc",
            "--key",
            "team-secret.asc",
            "-o",
            "opened2",
        ],
    );
    expect_code(&out, 0);
    assert!(
        stderr(&out).contains("warning: signed by unknown key"),
        "{}",
        stderr(&out)
    );
    let out = embargo(
        s.dir.path(),
        [
            "open",
            "note.asc",
            "--key",
            "team-secret.asc",
            "--require-signature",
            "-o",
            "opened3",
        ],
    );
    expect_code(&out, 4);
    assert!(!s.dir.path().join("opened3").exists());
}

#[test]
fn embargo_opens_its_own_seal_and_reports_the_signer() {
    let s = setup("ed25519", Some("cv25519"));
    seal_signed(&s, "armor", "sealed.asc");
    let out = embargo(
        s.dir.path(),
        [
            "open",
            "sealed.asc",
            "--key",
            "team-secret.asc",
            "-o",
            "opened",
        ],
    );
    expect_code(&out, 0);
    assert!(
        stderr(&out).contains("self-signed, not independently verified"),
        "{}",
        stderr(&out)
    );
    let dir = s.dir.path().join("opened");
    assert_eq!(
        tree(&dir),
        [
            "attachments/poc capture.bin",
            "report.json",
            "report.md",
            "researcher.asc"
        ]
    );
    assert_eq!(
        fs::read(dir.join("attachments/poc capture.bin")).unwrap(),
        s.attachment
    );
    // report.md is a valid report file that checks clean, like the one sent.
    let out = embargo(&dir, ["check", "report.md"]);
    expect_code(&out, 0);
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["attachments"][0]["sha256"], sha256_hex(&s.attachment));
    assert_eq!(json["severity"], "medium");
    assert!(json["generator"].as_str().unwrap().starts_with("embargo "));

    let out = embargo(
        s.dir.path(),
        [
            "open",
            "sealed.asc",
            "--key",
            "team-secret.asc",
            "--verify-with",
            "ada.asc",
            "--require-signature",
            "-o",
            "opened2",
        ],
    );
    expect_code(&out, 0);
    assert!(
        stderr(&out).contains(&format!(
            "good signature from {} (Ada Lovelace <ada@example.net>)",
            s.ada_fpr
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn tampered_message_is_refused_and_leaves_nothing() {
    let s = setup("ed25519", Some("cv25519"));
    seal_signed(&s, "binary", "sealed.pgp");
    let mut bytes = fs::read(s.dir.path().join("sealed.pgp")).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    fs::write(s.dir.path().join("tampered.pgp"), &bytes).unwrap();
    let out = embargo(
        s.dir.path(),
        [
            "open",
            "tampered.pgp",
            "--key",
            "team-secret.asc",
            "-o",
            "opened",
        ],
    );
    expect_code(&out, 3);
    assert!(
        stderr(&out).contains("integrity check failed"),
        "{}",
        stderr(&out)
    );
    assert!(!s.dir.path().join("opened").exists(), "nothing left behind");
    // An existing (empty) output directory stays, empty.
    fs::create_dir(s.dir.path().join("inbox")).unwrap();
    let out = embargo(
        s.dir.path(),
        [
            "open",
            "tampered.pgp",
            "--key",
            "team-secret.asc",
            "-o",
            "inbox",
        ],
    );
    expect_code(&out, 3);
    assert!(tree(&s.dir.path().join("inbox")).is_empty());
    assert_eq!(fs::read_dir(s.dir.path().join("inbox")).unwrap().count(), 0);
    // gpg agrees it is broken.
    let out = s
        .gpg
        .cmd()
        .args(["--output", "x", "--decrypt", "tampered.pgp"])
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn bad_keys_each_get_their_own_error() {
    let dir = scratch();
    let d = dir.path();
    fs::write(d.join("report.md"), report_text("t", "\"anonymous\"")).unwrap();
    let gpg = Gpg::new();
    // Expired: made in 2020 with a one-year lifetime.
    let old = gpg.generate(
        "Old <old@example.org>",
        "ed25519",
        "default",
        Some("cv25519"),
        &["--faked-system-time", "20200101T000000!"],
    );
    gpg.run([
        "--faked-system-time",
        "20200102T000000!",
        "--passphrase",
        "",
        "--quick-set-expire",
        &old,
        "1y",
    ]);
    gpg.export(&old, &d.join("expired.asc"));
    // Revoked with the revocation certificate gpg writes at generation time.
    let rev = gpg.generate(
        "Rev <rev@example.org>",
        "ed25519",
        "default",
        Some("cv25519"),
        &[],
    );
    let cert =
        fs::read_to_string(gpg.home.path().join(format!("openpgp-revocs.d/{rev}.rev"))).unwrap();
    fs::write(d.join("rev.rev"), cert.replace(":-----BEGIN", "-----BEGIN")).unwrap();
    gpg.run(["--import", d.join("rev.rev").to_str().unwrap()]);
    gpg.export(&rev, &d.join("revoked.asc"));
    // Sign-only.
    let sign = gpg.generate("Sign <sign@example.org>", "ed25519", "sign", None, &[]);
    gpg.export(&sign, &d.join("sign-only.asc"));
    // Rejected by policy: SHA-1 self-signatures, and RSA-1024.
    let sha1 = gpg.generate(
        "Sha1 <sha1@example.org>",
        "rsa2048",
        "default",
        None,
        &["--cert-digest-algo", "SHA1"],
    );
    gpg.export(&sha1, &d.join("sha1.asc"));
    let small = gpg.generate("Small <small@example.org>", "rsa1024", "default", None, &[]);
    gpg.export(&small, &d.join("rsa1024.asc"));

    let cases = [
        ("expired.asc", format!("key {old} expired on 2021-")),
        ("revoked.asc", format!("key {rev} is revoked: ")),
        (
            "sign-only.asc",
            format!("key {sign} has no encryption-capable subkey"),
        ),
        ("sha1.asc", format!("key {sha1} is rejected by policy:")),
        (
            "rsa1024.asc",
            format!(
                "key {small} is rejected by policy: Policy rejected asymmetric algorithm: RSA1024"
            ),
        ),
    ];
    for (file, want) in cases {
        let out = embargo(d, ["seal", "report.md", "--to", file, "-o", "x.asc"]);
        expect_code(&out, 1);
        assert!(
            stderr(&out).contains(&want),
            "{file}: want `{want}`, got: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("hint: "), "{}", stderr(&out));
        assert!(!d.join("x.asc").exists(), "no output for {file}");
    }
    let out = embargo(d, ["seal", "report.md", "--to", "sha1.asc", "-o", "x.asc"]);
    assert!(
        stderr(&out).contains("SHA1"),
        "names the rejected hash: {}",
        stderr(&out)
    );
}

#[test]
fn aead_needs_a_key_that_advertises_it() {
    let s = setup("ed25519", Some("cv25519"));
    let d = s.dir.path();
    let out = embargo(
        d,
        [
            "seal",
            "report.md",
            "--to",
            "team.asc",
            "--aead",
            "-o",
            "x.asc",
        ],
    );
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("does not advertise SEIPDv2"),
        "{}",
        stderr(&out)
    );
    let out = embargo(
        d,
        [
            "key",
            "generate",
            "--userid",
            "New Team <t@example.org>",
            "-o",
            "v2-secret.asc",
            "--public",
            "v2.asc",
        ],
    );
    expect_code(&out, 0);
    let out = embargo(
        d,
        [
            "seal",
            "report.md",
            "--to",
            "v2.asc",
            "--aead",
            "--attach",
            "poc capture.bin",
            "-o",
            "aead.asc",
        ],
    );
    expect_code(&out, 0);
    assert!(stderr(&out).contains("using SEIPDv2"), "{}", stderr(&out));
    let out = embargo(
        d,
        ["open", "aead.asc", "--key", "v2-secret.asc", "-o", "opened"],
    );
    expect_code(&out, 0);
    assert!(stderr(&out).contains("(SEIPDv2)"), "{}", stderr(&out));
    assert_eq!(
        fs::read(d.join("opened/attachments/poc capture.bin")).unwrap(),
        s.attachment
    );
    // Without --aead, the same sequoia-made key still gets SEIPDv1, which gpg reads.
    let out = embargo(d, ["seal", "report.md", "--to", "v2.asc", "-o", "v1.asc"]);
    expect_code(&out, 0);
    assert!(stderr(&out).contains("using SEIPDv1"), "{}", stderr(&out));
    s.gpg
        .run(["--import", d.join("v2-secret.asc").to_str().unwrap()]);
    s.gpg.run([
        "--output",
        d.join("v1.out").to_str().unwrap(),
        "--decrypt",
        d.join("v1.asc").to_str().unwrap(),
    ]);
}
