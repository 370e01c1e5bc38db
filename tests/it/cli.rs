//! The CLI's contract: exit codes, messages, and what `open` refuses to write.

use std::fs;
use std::io::Write;

use embargo_core::keys;
use embargo_core::openpgp::cert::prelude::*;
use embargo_core::openpgp::policy::StandardPolicy;
use embargo_core::openpgp::serialize::stream::{
    Armorer, Encryptor, LiteralWriter, Message, Signer,
};

use embargo_tests::*;

#[test]
fn new_then_check_lists_every_problem_with_its_field_and_line() {
    let dir = scratch();
    let d = dir.path();
    expect_code(&embargo(d, ["new", "-o", "r.md"]), 0);
    let again = embargo(d, ["new", "-o", "r.md"]);
    expect_code(&again, 1);
    assert!(
        stderr(&again).contains("already exists"),
        "never overwrites"
    );

    let out = embargo(d, ["check", "r.md"]);
    expect_code(&out, 1);
    let lines = stdout(&out);
    for want in [
        "r.md:line 5: title: missing title",
        "r.md:line 7: assets: missing asset",
        "attestations: missing attestation `no-automated-scanning`",
        "attestations: missing attestation `no-social-engineering-or-dos`",
    ] {
        assert!(lines.contains(want), "want `{want}` in:\n{lines}");
    }
    assert!(
        lines.lines().all(|l| l.starts_with("r.md:")),
        "one finding per line:\n{lines}"
    );

    fs::write(d.join("good.md"), report_text("IDOR", "\"anonymous\"")).unwrap();
    expect_code(&embargo(d, ["check", "good.md"]), 0);

    fs::write(
        d.join("dos.md"),
        report_text("Flood", "\"anonymous\"").replace("class = \"idor\"", "class = \"dos\""),
    )
    .unwrap();
    let out = embargo(d, ["check", "dos.md"]);
    expect_code(&out, 1);
    assert!(stdout(&out).contains("class `dos` is out of scope for Novu: \"Any activity that could lead to the disruption of our service (DoS).\""), "{}", stdout(&out));

    fs::write(
        d.join("click.md"),
        report_text("Frame", "\"anonymous\"")
            .replace("class = \"idor\"", "class = \"clickjacking\""),
    )
    .unwrap();
    let out = embargo(d, ["check", "click.md"]);
    expect_code(&out, 1);
    assert!(
        stdout(&out).contains("add \"clickjacking\" to scope_confirmations"),
        "{}",
        stdout(&out)
    );
    fs::write(
        d.join("click.md"),
        fs::read_to_string(d.join("click.md")).unwrap().replace(
            "scope_confirmations = []",
            "scope_confirmations = [\"clickjacking\"]",
        ),
    )
    .unwrap();
    expect_code(&embargo(d, ["check", "click.md"]), 0);

    fs::write(d.join("bad.md"), "no front matter").unwrap();
    let out = embargo(d, ["check", "bad.md"]);
    expect_code(&out, 2);
    assert!(
        stderr(&out).contains("bad.md: line 1: a report starts with a `+++` line"),
        "{}",
        stderr(&out)
    );
    expect_code(&embargo(d, ["check", "missing.md"]), 2);
    fs::write(
        d.join("typo.md"),
        report_text("x", "\"anonymous\"").replace("cwe =", "cew ="),
    )
    .unwrap();
    let out = embargo(d, ["check", "typo.md"]);
    expect_code(&out, 1);
    assert!(
        stdout(&out).contains(
            "typo.md:line 7: cew: unknown front-matter key `cew` (hint: did you mean `cwe`?)"
        ),
        "{}",
        stdout(&out)
    );
}

struct Team {
    dir: tempfile::TempDir,
    gpg: Gpg,
    fpr: String,
}

fn team() -> Team {
    let dir = scratch();
    let gpg = Gpg::new();
    let fpr = gpg.generate(
        "Team <security@novu.co>",
        "ed25519",
        "default",
        Some("cv25519"),
        &[],
    );
    gpg.export(&fpr, &dir.path().join("team.asc"));
    gpg.export_secret(&fpr, &dir.path().join("team-secret.asc"));
    fs::write(
        dir.path().join("anon.md"),
        report_text("Anonymous report", "\"anonymous\""),
    )
    .unwrap();
    fs::write(
        dir.path().join("named.md"),
        report_text("Named report", "{ name = \"Ada\" }"),
    )
    .unwrap();
    Team { dir, gpg, fpr }
}

#[test]
fn signing_an_anonymous_report_is_refused_unless_asked() {
    let t = team();
    let d = t.dir.path();
    expect_code(
        &embargo(
            d,
            [
                "key",
                "generate",
                "--userid",
                "Pseudonym <p@example.org>",
                "-o",
                "me.asc",
            ],
        ),
        0,
    );
    let out = embargo(
        d,
        [
            "seal",
            "anon.md",
            "--to",
            "team.asc",
            "--sign-with",
            "me.asc",
            "-o",
            "x.asc",
        ],
    );
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("credit is \"anonymous\" but a signing key was given"),
        "{}",
        stderr(&out)
    );
    assert!(!d.join("x.asc").exists());
    let out = embargo(
        d,
        [
            "seal",
            "anon.md",
            "--to",
            "team.asc",
            "--sign-with",
            "me.asc",
            "--sign-anyway",
            "-o",
            "x.asc",
        ],
    );
    expect_code(&out, 0);
}

#[test]
fn protected_signing_key_takes_a_passphrase_file() {
    let t = team();
    let d = t.dir.path();
    let gpg = Gpg::new();
    gpg.run([
        "--passphrase",
        "correct horse",
        "--quick-gen-key",
        "Ada <ada@example.net>",
        "ed25519",
        "sign",
        "never",
    ]);
    let fpr = gpg.fingerprint("ada@example.net");
    gpg.run([
        "--passphrase",
        "correct horse",
        "--armor",
        "--output",
        d.join("ada-secret.asc").to_str().unwrap(),
        "--export-secret-keys",
        &fpr,
    ]);
    fs::write(d.join("pass"), "correct horse\n").unwrap();
    fs::write(d.join("wrong"), "battery staple\n").unwrap();
    let out = embargo(
        d,
        [
            "seal",
            "named.md",
            "--to",
            "team.asc",
            "--sign-with",
            "ada-secret.asc",
            "-o",
            "x.asc",
        ],
    );
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("is protected by a passphrase and none was given"),
        "{}",
        stderr(&out)
    );
    let out = embargo(
        d,
        [
            "seal",
            "named.md",
            "--to",
            "team.asc",
            "--sign-with",
            "ada-secret.asc",
            "--passphrase-file",
            "wrong",
            "-o",
            "x.asc",
        ],
    );
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("wrong passphrase for key"),
        "{}",
        stderr(&out)
    );
    let out = embargo(
        d,
        [
            "seal",
            "named.md",
            "--to",
            "team.asc",
            "--sign-with",
            "ada-secret.asc",
            "--passphrase-file",
            "pass",
            "-o",
            "x.asc",
        ],
    );
    expect_code(&out, 0);
    assert!(
        stderr(&out).contains(&format!("signed by {fpr}")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn open_without_the_right_key_exits_3() {
    let t = team();
    let d = t.dir.path();
    expect_code(
        &embargo(d, ["seal", "anon.md", "--to", "team.asc", "-o", "x.asc"]),
        0,
    );
    expect_code(
        &embargo(
            d,
            [
                "key",
                "generate",
                "--userid",
                "Other <o@example.org>",
                "-o",
                "other.asc",
            ],
        ),
        0,
    );
    let out = embargo(d, ["open", "x.asc", "--key", "other.asc", "-o", "out"]);
    expect_code(&out, 3);
    assert!(
        stderr(&out).contains("no matching secret key: the message is for"),
        "{}",
        stderr(&out)
    );
    assert!(!d.join("out").exists());
    let out = embargo(d, ["open", "x.asc", "--key", "team.asc", "-o", "out"]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("has no secret key material"),
        "{}",
        stderr(&out)
    );
    let out = embargo(
        d,
        ["open", "anon.md", "--key", "team-secret.asc", "-o", "out"],
    );
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("not an OpenPGP message"),
        "{}",
        stderr(&out)
    );
    let _ = &t.fpr;
}

#[test]
fn open_caps_output_and_never_writes_into_a_full_directory() {
    let t = team();
    let d = t.dir.path();
    fs::write(d.join("big.bin"), noise(300_000, 7)).unwrap();
    expect_code(
        &embargo(
            d,
            [
                "seal", "anon.md", "--to", "team.asc", "--attach", "big.bin", "--format", "binary",
                "-o", "x.pgp",
            ],
        ),
        0,
    );
    let out = embargo(
        d,
        [
            "open",
            "x.pgp",
            "--key",
            "team-secret.asc",
            "--max-size",
            "100K",
            "-o",
            "out",
        ],
    );
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("exceeds the limit of 102400 bytes"),
        "{}",
        stderr(&out)
    );
    assert!(!d.join("out").exists());
    fs::create_dir(d.join("full")).unwrap();
    fs::write(d.join("full/report.md"), "mine").unwrap();
    let out = embargo(
        d,
        ["open", "x.pgp", "--key", "team-secret.asc", "-o", "full"],
    );
    expect_code(&out, 1);
    assert!(stderr(&out).contains("is not empty"), "{}", stderr(&out));
    assert_eq!(
        fs::read_to_string(d.join("full/report.md")).unwrap(),
        "mine"
    );
}

/// A hand-made bundle whose attachment names try to escape the output directory.
#[test]
fn attachment_names_cannot_escape_the_output_directory() {
    let t = team();
    let d = t.dir.path();
    let a = b"first".to_vec();
    let b = b"second".to_vec();
    let json = serde_json::json!({
        "schema": 1, "program": "novu", "title": "evil names", "assets": ["example.org"], "class": "other",
        "body": "b", "generator": "hand", "attachments": [
            {"name": "../../evil.sh", "size": a.len(), "sha256": sha256_hex(&a), "content_type": "text/plain"},
            {"name": "/etc/evil.sh", "size": b.len(), "sha256": sha256_hex(&b), "content_type": "text/plain"},
        ]
    });
    let mut bundle = String::from("Content-Type: multipart/mixed; boundary=\"XX\"\r\nSubject: evil\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\ntext\r\n");
    bundle +=
        &format!("--XX\r\nContent-Type: application/json; name=\"report.json\"\r\n\r\n{json}\r\n");
    bundle += "--XX\r\nContent-Type: text/plain; name=\"../../evil.sh\"\r\nContent-Transfer-Encoding: base64\r\n\r\nZmlyc3Q=\r\n";
    bundle += "--XX\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"/etc/evil.sh\"\r\n\r\nsecond\r\n--XX--\r\n";
    fs::write(d.join("bundle.eml"), bundle).unwrap();
    t.gpg.run([
        "--armor",
        "--recipient",
        &t.fpr,
        "--output",
        d.join("evil.asc").to_str().unwrap(),
        "--encrypt",
        d.join("bundle.eml").to_str().unwrap(),
    ]);
    fs::create_dir(d.join("inbox")).unwrap();
    let out = embargo(
        d,
        [
            "open",
            "evil.asc",
            "--key",
            "team-secret.asc",
            "-o",
            "inbox/r1",
        ],
    );
    expect_code(&out, 0);
    assert_eq!(
        tree(&d.join("inbox")),
        [
            "r1/attachments/evil (2).sh",
            "r1/attachments/evil.sh",
            "r1/report.json",
            "r1/report.md"
        ]
    );
    assert_eq!(fs::read(d.join("inbox/r1/attachments/evil.sh")).unwrap(), a);
    assert_eq!(
        fs::read(d.join("inbox/r1/attachments/evil (2).sh")).unwrap(),
        b
    );
    assert!(!d.join("evil.sh").exists() && !d.join("inbox/evil.sh").exists());

    // A part that does not match report.json's hash is refused as a whole.
    let tampered = fs::read_to_string(d.join("bundle.eml"))
        .unwrap()
        .replace("\r\nsecond\r\n", "\r\nSECOND\r\n");
    fs::write(d.join("bundle2.eml"), tampered).unwrap();
    t.gpg.run([
        "--armor",
        "--recipient",
        &t.fpr,
        "--output",
        d.join("evil2.asc").to_str().unwrap(),
        "--encrypt",
        d.join("bundle2.eml").to_str().unwrap(),
    ]);
    let out = embargo(
        d,
        ["open", "evil2.asc", "--key", "team-secret.asc", "-o", "r2"],
    );
    expect_code(&out, 3);
    assert!(
        stderr(&out).contains("attachment /etc/evil.sh: SHA-256 differs from report.json"),
        "{}",
        stderr(&out)
    );
    assert!(!d.join("r2").exists());
}

#[test]
fn plaintext_that_is_not_a_bundle_becomes_one_file() {
    let t = team();
    let d = t.dir.path();
    let data = noise(5000, 3);
    let mut child = t
        .gpg
        .cmd()
        .args([
            "--recipient",
            &t.fpr,
            "--output",
            d.join("blob.pgp").to_str().unwrap(),
            "--encrypt",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    assert!(child.wait().unwrap().success());
    let out = embargo(
        d,
        ["open", "blob.pgp", "--key", "team-secret.asc", "-o", "out"],
    );
    expect_code(&out, 0);
    assert_eq!(tree(&d.join("out")), ["message.bin"]);
    assert_eq!(fs::read(d.join("out/message.bin")).unwrap(), data);
}

#[test]
fn bad_signature_exits_4_and_writes_nothing() {
    let t = team();
    let d = t.dir.path();
    let p = StandardPolicy::new();
    let (mallory, _) = CertBuilder::general_purpose(Some("Mallory <m@example.org>"))
        .generate()
        .unwrap();
    fs::write(d.join("mallory.asc"), keys::armored_public(&mallory)).unwrap();
    let keypair = mallory
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

    // A signed message, then a changed byte inside the signed text, then encryption around it:
    // the encryption is intact, the signature is not.
    let mut signed = Vec::new();
    {
        let m = Message::new(&mut signed);
        let m = Signer::new(m, keypair).unwrap().build().unwrap();
        let mut lit = LiteralWriter::new(m).build().unwrap();
        lit.write_all(b"pay the researcher 100 EUR").unwrap();
        lit.finalize().unwrap();
    }
    let at = signed.windows(3).position(|w| w == b"100").unwrap();
    signed[at] = b'9';
    let team = keys::read_certs(&d.join("team.asc")).unwrap();
    let subkeys: Vec<_> = team
        .iter()
        .map(|c| keys::encryption_keys(c, &p).unwrap())
        .collect();
    let set = keys::recipients(&team, &subkeys, false).unwrap();
    let mut sealed = Vec::new();
    {
        let m = Message::new(&mut sealed);
        let m = Armorer::new(m).build().unwrap();
        let mut m = Encryptor::for_recipients(m, set.recipients)
            .build()
            .unwrap();
        m.write_all(&signed).unwrap();
        m.finalize().unwrap();
    }
    fs::write(d.join("forged.asc"), sealed).unwrap();
    let out = embargo(
        d,
        [
            "open",
            "forged.asc",
            "--key",
            "team-secret.asc",
            "--verify-with",
            "mallory.asc",
            "-o",
            "out",
        ],
    );
    expect_code(&out, 4);
    assert!(
        stderr(&out).contains(&format!(
            "BAD signature by {}",
            mallory.fingerprint().to_hex()
        )),
        "{}",
        stderr(&out)
    );
    assert!(!d.join("out").exists());
}

#[test]
fn a_pinned_team_key_is_used_when_no_to_is_given() {
    let t = team();
    let d = t.dir.path();
    let out = embargo(d, ["seal", "anon.md", "-o", "x.asc"]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("has no confirmed team key"),
        "{}",
        stderr(&out)
    );
    let out = embargo(d, pin_novu("team.asc", "0000"));
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("`0000` is not a full fingerprint"),
        "{}",
        stderr(&out)
    );
    let out = embargo(d, pin_novu("team.asc", &"AB".repeat(20)));
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("you typed"),
        "a wrong full fingerprint is refused: {}",
        stderr(&out)
    );
    let grouped: Vec<String> = t
        .fpr
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    expect_code(&embargo(d, pin_novu("team.asc", &grouped.join(" "))), 0);
    let out = embargo(d, ["program", "list"]);
    assert!(
        stdout(&out).contains(&format!("novu\tNovu\tsecurity@novu.co\tpinned\t{}", t.fpr)),
        "{}",
        stdout(&out)
    );
    let out = embargo(d, ["seal", "anon.md", "-o", "x.asc"]);
    expect_code(&out, 0);
    assert!(
        stderr(&out).contains(&format!("encrypted to {}", t.fpr)),
        "{}",
        stderr(&out)
    );
    // A different key for the same program is refused without --replace.
    expect_code(
        &embargo(
            d,
            [
                "key",
                "generate",
                "--userid",
                "Other <o@example.org>",
                "-o",
                "o.asc",
                "--public",
                "o-pub.asc",
            ],
        ),
        0,
    );
    let show = stdout(&embargo(d, ["key", "show", "o-pub.asc"]));
    let fp = show
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("fingerprint:")
        .trim()
        .to_owned();
    let out = embargo(d, pin_novu("o-pub.asc", &fp));
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("is a different key"),
        "{}",
        stderr(&out)
    );
}

/// `program import` makes a program from Novu's SECURITY.md that checks and seals a report like
/// the built-in one; importing over an existing id is refused; `remove` takes it away.
#[test]
fn program_import_a_security_md() {
    let t = team();
    let d = t.dir.path();
    let md = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/embargo-core/programs/novu-SECURITY.md");
    std::fs::create_dir_all(d.join("acme")).unwrap();
    std::fs::copy(&md, d.join("acme/SECURITY.md")).unwrap();
    let out = embargo(d, ["program", "import", "acme/SECURITY.md"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("imported program acme"), "{text}");
    assert!(text.contains("out-of-scope class(es)"), "{text}");
    let out = embargo(d, ["program", "import", "acme/SECURITY.md"]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("a program `acme` already exists"),
        "{}",
        stderr(&out)
    );
    let show = stdout(&embargo(d, ["program", "show", "acme"]));
    assert!(
        show.contains("contact:   mailto:security@novu.co"),
        "{show}"
    );
    assert!(show.contains("response:  3 business days"), "{show}");
    assert!(show.contains("trust:     no-key"), "{show}");
    // A report for it is checked against the imported rules and seals to --to.
    std::fs::write(
        d.join("acme.md"),
        report_text("Imported", "\"anonymous\"")
            .replace("program = \"novu\"", "program = \"acme\""),
    )
    .unwrap();
    expect_code(&embargo(d, ["check", "acme.md"]), 0);
    expect_code(
        &embargo(d, ["seal", "acme.md", "--to", "team.asc", "-o", "acme.asc"]),
        0,
    );
    expect_code(&embargo(d, ["program", "remove", "acme"]), 0);
    expect_code(&embargo(d, ["program", "show", "acme"]), 1);
}

/// Attachments are sealed without their metadata by default (the GPS position of a real JPEG
/// with EXIF and XMP), what was removed is printed with the original's SHA-256, and
/// `--keep-metadata FILE` attaches a file exactly as it is.
#[test]
fn attachments_are_scrubbed_unless_kept() {
    let t = team();
    let d = t.dir.path();
    let jpg = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus/scrub/exif-gps-xmp.jpg");
    let original = fs::read(&jpg).unwrap();
    fs::write(d.join("photo.jpg"), &original).unwrap();
    let out = embargo(
        d,
        [
            "seal",
            "anon.md",
            "--to",
            "team.asc",
            "--attach",
            "photo.jpg",
            "-o",
            "s.asc",
        ],
    );
    expect_code(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "scrubbed photo.jpg (original sha256 {}): removed",
            sha256_hex(&original)
        )),
        "{err}"
    );
    assert!(err.contains("GPS"), "{err}");
    expect_code(
        &embargo(d, ["open", "s.asc", "--key", "team-secret.asc", "-o", "o1"]),
        0,
    );
    let sealed = fs::read(d.join("o1/attachments/photo.jpg")).unwrap();
    assert_ne!(sealed, original);
    match embargo_core::scrub::scrub("photo.jpg", &sealed).unwrap() {
        embargo_core::scrub::Outcome::Scrubbed(s) => {
            assert!(
                s.removed.is_empty(),
                "left in the sealed file: {:?}",
                s.removed
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        fs::read(&jpg).unwrap(),
        original,
        "the original is untouched"
    );

    let out = embargo(
        d,
        [
            "seal",
            "anon.md",
            "--to",
            "team.asc",
            "--keep-metadata",
            "photo.jpg",
            "-o",
            "k.asc",
        ],
    );
    expect_code(&out, 0);
    assert!(stderr(&out).contains("attaching photo.jpg with its metadata"));
    expect_code(
        &embargo(d, ["open", "k.asc", "--key", "team-secret.asc", "-o", "o2"]),
        0,
    );
    assert_eq!(
        fs::read(d.join("o2/attachments/photo.jpg")).unwrap(),
        original
    );
}
