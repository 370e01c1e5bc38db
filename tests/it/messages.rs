//! What the CLI says when something is wrong, checked whole (problem, remedy, exit code), so
//! that a message cannot silently lose the name of the key, field or file it is about.

use std::fs;
use std::path::Path;

use embargo_core::keys;
use embargo_core::openpgp::cert::prelude::*;
use embargo_tests::*;
use expect_test::{expect, Expect};

fn check(dir: &Path, args: &[&str], want: Expect) {
    want.assert_eq(&shown_run(&embargo(dir, args), dir));
}

fn setup() -> (tempfile::TempDir, Cert) {
    let dir = scratch();
    let d = dir.path();
    let (team, _) = CertBuilder::general_purpose(Some("Team <security@novu.co>"))
        .generate()
        .unwrap();
    fs::write(d.join("team.asc"), keys::armored_public(&team)).unwrap();
    fs::write(
        d.join("team-secret.asc"),
        keys::armored_secret(&team).as_bytes(),
    )
    .unwrap();
    fs::write(d.join("anon.md"), report_text("Anonymous", "\"anonymous\"")).unwrap();
    (dir, team)
}

#[test]
fn check_names_each_field_and_line() {
    let (dir, _) = setup();
    let d = dir.path();
    let text = report_text("Typos", "{ nmae = \"Ada\" }")
        .replace("cwe = ", "cew = ")
        .replace("[\"https://web.novu.co/workflows\"]", "[\"web novu\"]");
    fs::write(d.join("r.md"), text).unwrap();
    check(
        d,
        &["check", "r.md"],
        expect![[r#"
            exit 1
            --- stdout
            r.md:line 7: cew: unknown front-matter key `cew` (hint: did you mean `cwe`?)
            r.md:line 9: credit: credit has an unknown key `nmae` (allowed: name, handle); did you mean `name`?
            r.md:line 5: assets: asset `web novu` is not a URL, host, IP or CIDR: it contains spaces
            r.md:credit: credit not chosen (hint: add credit = { name = "…" } or credit = "anonymous")
            --- stderr
            r.md: 4 finding(s)
        "#]],
    );
}

#[test]
fn seal_says_which_key_is_missing_and_what_to_do() {
    let (dir, _) = setup();
    let d = dir.path();
    check(
        d,
        &["seal", "anon.md", "-o", "x.asc"],
        expect![[r#"
            exit 1
            --- stderr
            error: program `novu` has no confirmed team key
            hint: pass --to TEAM_CERT, or pin the team's key: embargo program pin --program novu --key TEAM_CERT --fingerprint FPR
        "#]],
    );
    fs::write(d.join("x.asc"), "").unwrap();
    check(
        d,
        &["seal", "anon.md", "--to", "team.asc", "-o", "x.asc"],
        expect![[r#"
            exit 1
            --- stderr
            error: x.asc already exists
            hint: choose another name, or pass --force
        "#]],
    );
    let (me, _) = CertBuilder::general_purpose(Some("Ada"))
        .generate()
        .unwrap();
    fs::write(d.join("me.asc"), keys::armored_secret(&me).as_bytes()).unwrap();
    check(
        d,
        &[
            "seal",
            "anon.md",
            "--to",
            "team.asc",
            "--sign-with",
            "me.asc",
            "-o",
            "y.asc",
        ],
        expect![[r#"
            exit 1
            --- stderr
            error: credit is "anonymous" but a signing key was given: the signature and the included public key would identify you
            hint: drop --sign-with, or pass --sign-anyway with a separate pseudonymous key
        "#]],
    );
    let (sign_only, _) = CertBuilder::new()
        .add_userid("Signer")
        .add_signing_subkey()
        .generate()
        .unwrap();
    fs::write(d.join("sign-only.asc"), keys::armored_public(&sign_only)).unwrap();
    check(
        d,
        &["seal", "anon.md", "--to", "sign-only.asc", "-o", "z.asc"],
        expect![[r#"
            exit 1
            --- stderr
            error: key $FPR has no encryption-capable subkey; its keys are: $FPR (certify); $FPR (sign)
            hint: ask the team for their current key (security.txt, WKD or their policy page)
        "#]],
    );
}

#[test]
fn seal_refuses_front_matter_it_would_drop() {
    let (dir, _) = setup();
    let d = dir.path();
    fs::write(
        d.join("r.md"),
        report_text("Unknown key", "\"anonymous\"").replace("cwe = ", "cew = "),
    )
    .unwrap();
    check(
        d,
        &["seal", "r.md", "--to", "team.asc", "-o", "x.asc"],
        expect![[r#"
            exit 2
            --- stderr
            error: r.md: line 7: cew: unknown front-matter key `cew` (hint: did you mean `cwe`?)
            hint: fix the front matter; `embargo check` lists every problem
        "#]],
    );
}

#[test]
fn pin_compares_the_fingerprint_typed() {
    let (dir, _) = setup();
    let d = dir.path();
    check(
        d,
        &pin_novu("team.asc", &"AB".repeat(20)),
        expect![[r#"
            exit 1
            --- stderr
            error: the key has fingerprint $FPR, not the ABAB ABAB ABAB ABAB ABAB ABAB ABAB ABAB ABAB ABAB you typed
            hint: compare the fingerprint with the one the team published; do not pin a key you have not verified
        "#]],
    );
}

#[test]
fn open_says_why_it_opened_nothing() {
    let (dir, _) = setup();
    let d = dir.path();
    expect_code(
        &embargo(d, ["seal", "anon.md", "--to", "team.asc", "-o", "x.asc"]),
        0,
    );
    let (other, _) = CertBuilder::general_purpose(Some("Other"))
        .generate()
        .unwrap();
    fs::write(d.join("other.asc"), keys::armored_secret(&other).as_bytes()).unwrap();
    check(
        d,
        &["open", "x.asc", "--key", "other.asc", "-o", "out"],
        expect![[r#"
            exit 3
            --- stderr
            error: no matching secret key: the message is for $KEYID; the given key has $FPR, $FPR, $FPR
            hint: pass the secret key of the team key this report was sealed to
        "#]],
    );
    check(
        d,
        &[
            "open",
            "x.asc",
            "--key",
            "team-secret.asc",
            "--require-signature",
            "-o",
            "out",
        ],
        expect![[r#"
            exit 4
            --- stderr
            error: a good signature is required, and the report is not signed
            hint: pass the researcher's certificate with --verify-with, or drop --require-signature
        "#]],
    );
    fs::create_dir(d.join("full")).unwrap();
    fs::write(d.join("full/old.txt"), "x").unwrap();
    check(
        d,
        &["open", "x.asc", "--key", "team-secret.asc", "-o", "full"],
        expect![[r#"
            exit 1
            --- stderr
            error: output directory full is not empty; Embargo never overwrites files
            hint: choose a new or empty directory of your own
        "#]],
    );
    let mut bytes = fs::read(d.join("x.asc")).unwrap();
    let at = bytes.len() / 2;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    fs::write(d.join("bad.asc"), bytes).unwrap();
    let out = embargo(
        d,
        ["open", "bad.asc", "--key", "team-secret.asc", "-o", "out"],
    );
    expect_code(&out, 3);
    assert!(
        stderr(&out)
            .starts_with("error: integrity check failed, the message was modified or is corrupt: "),
        "{}",
        stderr(&out)
    );
}
