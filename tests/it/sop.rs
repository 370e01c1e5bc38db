//! `embargo-sop` on its own: every command, the formats it picks, and the specification's exit
//! codes (draft-dkg-openpgp-stateless-cli, "Failure Modes") for each way a command can fail.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use embargo_core::openpgp;
use openpgp::cert::CertBuilder;
use openpgp::parse::{PacketParser, PacketParserResult, Parse};
use openpgp::serialize::SerializeInto;
use openpgp::types::Features;
use openpgp::Packet;

use crate::peers::embargo_sop_bin;
use embargo_tests::*;

// The specification's exit codes.
const NO_SIGNATURE: i32 = 3;
const CERT_CANNOT_ENCRYPT: i32 = 17;
const MISSING_ARG: i32 = 19;
const INCOMPLETE_VERIFICATION: i32 = 23;
const CANNOT_DECRYPT: i32 = 29;
const UNSUPPORTED_OPTION: i32 = 37;
const BAD_DATA: i32 = 41;
const EXPECTED_TEXT: i32 = 53;
const OUTPUT_EXISTS: i32 = 59;
const MISSING_INPUT: i32 = 61;
const KEY_IS_PROTECTED: i32 = 67;
const UNSUPPORTED_SUBCOMMAND: i32 = 69;
const UNSUPPORTED_SPECIAL_PREFIX: i32 = 71;
const KEY_CANNOT_SIGN: i32 = 79;
const INCOMPATIBLE_OPTIONS: i32 = 83;
const UNSUPPORTED_PROFILE: i32 = 89;

/// Runs `embargo-sop` in `dir` with `input` on standard input.
fn sop(dir: &Path, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(embargo_sop_bin())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run embargo-sop");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// Runs it and insists on an exit code, showing stderr otherwise; returns stdout.
#[track_caller]
fn expect(dir: &Path, args: &[&str], input: &[u8], want: i32) -> Vec<u8> {
    let out = sop(dir, args, input);
    assert_eq!(
        code(&out),
        want,
        "embargo-sop {}\nstderr:\n{}",
        args.join(" "),
        stderr(&out)
    );
    if want != 0 {
        assert!(
            !stderr(&out).trim().is_empty(),
            "a failure says why: embargo-sop {}",
            args.join(" ")
        );
    }
    out.stdout
}

/// The encrypted-data packet version of a message: 1 (SEIPDv1) or 2 (SEIPDv2).
fn seipd_version(message: &[u8]) -> u8 {
    let mut ppr = PacketParser::from_bytes(message).unwrap();
    while let PacketParserResult::Some(pp) = ppr {
        if let Packet::SEIP(seip) = &pp.packet {
            return seip.version();
        }
        ppr = pp.recurse().unwrap().1;
    }
    panic!("no encrypted data packet")
}

fn key_version(key: &[u8]) -> u8 {
    openpgp::Cert::from_bytes(key)
        .unwrap()
        .primary_key()
        .key()
        .version()
}

#[test]
fn version_and_profiles() {
    let dir = scratch();
    let d = dir.path();
    let v = String::from_utf8(expect(d, &["version"], b"", 0)).unwrap();
    assert!(v.starts_with("embargo-sop "), "{v}");
    let v = String::from_utf8(expect(d, &["version", "--backend"], b"", 0)).unwrap();
    assert!(v.starts_with("sequoia-openpgp 2."), "{v}");
    let v = String::from_utf8(expect(d, &["version", "--extended"], b"", 0)).unwrap();
    assert!(v.contains("AEAD modes this build decrypts"), "{v}");
    let v = String::from_utf8(expect(d, &["version", "--sop-spec"], b"", 0)).unwrap();
    assert!(v.contains("draft-dkg-openpgp-stateless-cli"), "{v}");
    assert_eq!(expect(d, &["version", "--sopv"], b"", 0), b"1.0\n");

    let p = String::from_utf8(expect(d, &["list-profiles", "generate-key"], b"", 0)).unwrap();
    let names: Vec<&str> = p.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(names, ["rfc4880", "rfc9580"], "the default first: {p}");
    let p = String::from_utf8(expect(d, &["list-profiles", "encrypt"], b"", 0)).unwrap();
    assert!(p.starts_with("rfc4880: "), "{p}");
    expect(d, &["list-profiles", "sign"], b"", UNSUPPORTED_PROFILE);
    expect(d, &["list-profiles"], b"", MISSING_ARG);
}

#[test]
fn generate_key_profiles_and_extract_cert() {
    let dir = scratch();
    let d = dir.path();
    let v4 = expect(d, &["generate-key", "Alice <alice@example.org>"], b"", 0);
    assert!(v4.starts_with(b"-----BEGIN PGP PRIVATE KEY BLOCK-----"));
    assert_eq!(key_version(&v4), 4);
    let v6 = expect(
        d,
        &[
            "generate-key",
            "--profile",
            "rfc9580",
            "Bob <bob@example.org>",
        ],
        b"",
        0,
    );
    assert_eq!(key_version(&v6), 6);
    let default = expect(
        d,
        &["generate-key", "--profile", "default", "--no-armor"],
        b"",
        0,
    );
    assert_eq!(key_version(&default), 4);
    expect(
        d,
        &["generate-key", "--profile", "rfc6637"],
        b"",
        UNSUPPORTED_PROFILE,
    );

    let cert = expect(d, &["extract-cert"], &v6, 0);
    assert!(cert.starts_with(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    let parsed = openpgp::Cert::from_bytes(&cert).unwrap();
    assert!(!parsed.is_tsk());
    assert_eq!(parsed.primary_key().key().version(), 6);
    // A certificate where a key is expected, and garbage.
    expect(d, &["extract-cert"], &cert, BAD_DATA);
    expect(d, &["extract-cert"], b"not a key", BAD_DATA);
}

#[test]
fn sign_and_verify_with_every_failure_mode() {
    let dir = scratch();
    let d = dir.path();
    let key = expect(d, &["generate-key", "Alice <alice@example.org>"], b"", 0);
    fs::write(d.join("alice.key"), &key).unwrap();
    fs::write(d.join("alice.cert"), expect(d, &["extract-cert"], &key, 0)).unwrap();
    let other = expect(d, &["generate-key", "Mallory <m@example.org>"], b"", 0);
    fs::write(
        d.join("mallory.cert"),
        expect(d, &["extract-cert"], &other, 0),
    )
    .unwrap();
    let data = b"statement\r\n";

    for mode in ["binary", "text"] {
        let sig = expect(d, &["sign", "--as", mode, "alice.key"], data, 0);
        fs::write(d.join("data.sig"), &sig).unwrap();
        let v =
            String::from_utf8(expect(d, &["verify", "data.sig", "alice.cert"], data, 0)).unwrap();
        assert!(v.contains(&format!("mode:{mode}")), "{v}");
        assert!(v.contains("alice.cert"), "names the certificate file: {v}");
        expect(
            d,
            &["verify", "data.sig", "alice.cert"],
            b"other",
            NO_SIGNATURE,
        );
        expect(
            d,
            &["verify", "data.sig", "mallory.cert"],
            data,
            NO_SIGNATURE,
        );
    }
    let sig = expect(
        d,
        &["sign", "--micalg-out", "micalg.txt", "alice.key"],
        data,
        0,
    );
    assert_eq!(
        fs::read_to_string(d.join("micalg.txt")).unwrap(),
        "pgp-sha512"
    );
    fs::write(d.join("data.sig"), &sig).unwrap();
    // Signed after the window, or before it.
    expect(
        d,
        &[
            "verify",
            "--not-after",
            "2001-01-01",
            "data.sig",
            "alice.cert",
        ],
        data,
        NO_SIGNATURE,
    );
    expect(
        d,
        &[
            "verify",
            "--not-before",
            "2999-01-01",
            "data.sig",
            "alice.cert",
        ],
        data,
        NO_SIGNATURE,
    );
    expect(
        d,
        &["sign", "--micalg-out", "micalg.txt", "alice.key"],
        data,
        OUTPUT_EXISTS,
    );
    expect(d, &["sign"], data, MISSING_ARG);
    expect(d, &["sign", "alice.cert"], data, BAD_DATA);
    expect(d, &["sign", "missing.key"], data, MISSING_INPUT);
    expect(d, &["sign", "@FOO:x"], data, UNSUPPORTED_SPECIAL_PREFIX);
    expect(
        d,
        &["sign", "--as", "text", "alice.key"],
        b"\xff\xfe binary",
        EXPECTED_TEXT,
    );
    expect(
        d,
        &["sign", "--frobnicate", "alice.key"],
        data,
        UNSUPPORTED_OPTION,
    );
    expect(d, &["verify"], data, MISSING_ARG);
    expect(d, &["verify", "data.sig"], data, MISSING_ARG);
    expect(d, &["verify", "alice.cert", "alice.cert"], data, BAD_DATA);

    // A key with no signing-capable key: KEY_CANNOT_SIGN.
    let (certify_only, _) = CertBuilder::new()
        .add_userid("Certify only <c@example.org>")
        .generate()
        .unwrap();
    fs::write(
        d.join("certify.key"),
        certify_only.as_tsk().armored().to_vec().unwrap(),
    )
    .unwrap();
    expect(d, &["sign", "certify.key"], data, KEY_CANNOT_SIGN);
}

#[test]
fn encrypt_picks_the_format_as_seal_does() {
    let dir = scratch();
    let d = dir.path();
    let mut certs = Vec::new();
    for (name, profile) in [("v4", "rfc4880"), ("v6", "rfc9580")] {
        let key = expect(
            d,
            &[
                "generate-key",
                "--profile",
                profile,
                &format!("{name} <{name}@example.org>"),
            ],
            b"",
            0,
        );
        fs::write(d.join(format!("{name}.key")), &key).unwrap();
        fs::write(
            d.join(format!("{name}.cert")),
            expect(d, &["extract-cert"], &key, 0),
        )
        .unwrap();
        certs.push(name);
    }
    // A v4 certificate like GnuPG's: it advertises SEIPDv1 only.
    let (old, _) = CertBuilder::general_purpose(Some("Old <old@example.org>"))
        .set_features(Features::empty().set_seipdv1())
        .unwrap()
        .generate()
        .unwrap();
    fs::write(d.join("old.cert"), old.armored().to_vec().unwrap()).unwrap();
    fs::write(d.join("old.key"), old.as_tsk().armored().to_vec().unwrap()).unwrap();
    let msg = b"fixed in 2.3.1";

    let cases: [(&[&str], u8); 6] = [
        (&["v4.cert"], 1),
        (&["v6.cert"], 2),
        (&["--profile", "rfc9580", "v4.cert"], 2),
        (&["--profile", "rfc9580", "old.cert"], 1),
        (&["--profile", "rfc9580", "v4.cert", "old.cert"], 1),
        (&["--profile", "rfc9580", "v4.cert", "v6.cert"], 2),
    ];
    for (i, (args, version)) in cases.into_iter().enumerate() {
        let mut full = vec!["encrypt", "--sign-with", "v4.key"];
        full.extend_from_slice(args);
        let ct = expect(d, &full, msg, 0);
        assert_eq!(seipd_version(&ct), version, "encrypt {args:?}");
        let recipient = args.last().unwrap().trim_end_matches(".cert");
        let pt = expect(
            d,
            &[
                "decrypt",
                "--verify-with",
                "v4.cert",
                "--verifications-out",
                &format!("ver-{i}.txt"),
                &format!("{recipient}.key"),
            ],
            &ct,
            0,
        );
        assert_eq!(pt, msg);
    }
    // v6 next to a key that does not read SEIPDv2: refused, naming both.
    let out = sop(d, &["encrypt", "v6.cert", "old.cert"], msg);
    assert_eq!(code(&out), CERT_CANNOT_ENCRYPT, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&old.fingerprint().to_hex()),
        "{}",
        stderr(&out)
    );
    // Without --profile rfc9580, a v4 key that reads SEIPDv2 still gets SEIPDv1: also refused.
    expect(
        d,
        &["encrypt", "v6.cert", "v4.cert"],
        msg,
        CERT_CANNOT_ENCRYPT,
    );

    expect(d, &["encrypt"], msg, MISSING_ARG);
    fs::write(d.join("password.txt"), "correct horse battery staple").unwrap();
    expect(
        d,
        &["encrypt", "--with-password", "password.txt", "v4.cert"],
        msg,
        UNSUPPORTED_OPTION,
    );
    expect(
        d,
        &["encrypt", "--profile", "rfc1991", "v4.cert"],
        msg,
        UNSUPPORTED_PROFILE,
    );
    let out = expect(
        d,
        &["encrypt", "--as", "text", "v4.cert"],
        b"\xff binary",
        EXPECTED_TEXT,
    );
    assert!(out.is_empty(), "nothing written before the text check");
    expect(
        d,
        &["encrypt", "--sign-with", "v4.cert", "v4.cert"],
        msg,
        BAD_DATA,
    );
    expect(d, &["encrypt", "v4.key.missing"], msg, MISSING_INPUT);
    // A certificate without an encryption subkey.
    let sign_only = expect(
        d,
        &["generate-key", "--signing-only", "S <s@example.org>"],
        b"",
        0,
    );
    fs::write(
        d.join("sign-only.cert"),
        expect(d, &["extract-cert"], &sign_only, 0),
    )
    .unwrap();
    let out = sop(d, &["encrypt", "sign-only.cert"], msg);
    assert_eq!(code(&out), CERT_CANNOT_ENCRYPT);
    assert!(
        stderr(&out).contains("no encryption-capable subkey"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn decrypt_with_every_failure_mode() {
    let dir = scratch();
    let d = dir.path();
    for (name, extra) in [("bob", None), ("eve", None), ("locked", Some("pw.txt"))] {
        fs::write(d.join("pw.txt"), "hunter2\n").unwrap();
        let mut args = vec!["generate-key", "--profile", "rfc9580"];
        if let Some(pw) = extra {
            args.extend(["--with-key-password", pw]);
        }
        let uid = format!("{name} <{name}@example.org>");
        args.push(&uid);
        let key = expect(d, &args, b"", 0);
        fs::write(d.join(format!("{name}.key")), &key).unwrap();
        fs::write(
            d.join(format!("{name}.cert")),
            expect(d, &["extract-cert"], &key, 0),
        )
        .unwrap();
    }
    let msg = b"the patch";
    let ct = expect(
        d,
        &[
            "encrypt",
            "--sign-with",
            "bob.key",
            "bob.cert",
            "locked.cert",
        ],
        msg,
        0,
    );

    let pt = expect(
        d,
        &[
            "decrypt",
            "--session-key-out",
            "sk.txt",
            "--verify-with",
            "bob.cert",
            "--verifications-out",
            "ver.txt",
            "bob.key",
        ],
        &ct,
        0,
    );
    assert_eq!(pt, msg);
    let sk = fs::read_to_string(d.join("sk.txt")).unwrap();
    assert!(sk.starts_with("9:"), "AES-256 session key: {sk}");
    assert!(fs::read_to_string(d.join("ver.txt"))
        .unwrap()
        .contains("bob.cert"));
    // The session key alone opens it.
    assert_eq!(
        expect(d, &["decrypt", "--with-session-key", "sk.txt"], &ct, 0),
        msg
    );

    expect(d, &["decrypt", "eve.key"], &ct, CANNOT_DECRYPT);
    expect(d, &["decrypt", "locked.key"], &ct, KEY_IS_PROTECTED);
    assert_eq!(
        expect(
            d,
            &["decrypt", "--with-key-password", "pw.txt", "locked.key"],
            &ct,
            0
        ),
        msg
    );
    expect(
        d,
        &["decrypt", "--verify-with", "bob.cert", "bob.key"],
        &ct,
        INCOMPLETE_VERIFICATION,
    );
    expect(
        d,
        &["decrypt", "--session-key-out", "sk.txt", "bob.key"],
        &ct,
        OUTPUT_EXISTS,
    );
    expect(
        d,
        &["decrypt", "--with-password", "pw.txt", "bob.key"],
        &ct,
        UNSUPPORTED_OPTION,
    );
    expect(d, &["decrypt"], &ct, MISSING_ARG);
    expect(d, &["decrypt", "bob.key"], b"not a message", BAD_DATA);
    let signed = expect(d, &["inline-sign", "bob.key"], msg, 0);
    expect(d, &["decrypt", "bob.key"], &signed, BAD_DATA);
    let mut tampered = expect(d, &["encrypt", "--no-armor", "bob.cert"], msg, 0);
    let at = tampered.len() - 5;
    tampered[at] ^= 0x40;
    let out = sop(d, &["decrypt", "bob.key"], &tampered);
    assert_eq!(code(&out), CANNOT_DECRYPT, "{}", stderr(&out));
    assert!(
        out.stdout.is_empty(),
        "no plaintext from a tampered message"
    );
}

#[test]
fn inline_sign_verify_armor_dearmor() {
    let dir = scratch();
    let d = dir.path();
    let key = expect(
        d,
        &[
            "generate-key",
            "--profile",
            "rfc9580",
            "Alice <alice@example.org>",
        ],
        b"",
        0,
    );
    fs::write(d.join("alice.key"), &key).unwrap();
    fs::write(d.join("alice.cert"), expect(d, &["extract-cert"], &key, 0)).unwrap();
    let other = expect(d, &["generate-key", "Mallory <m@example.org>"], b"", 0);
    fs::write(
        d.join("mallory.cert"),
        expect(d, &["extract-cert"], &other, 0),
    )
    .unwrap();
    let msg = "Ünïcödé line\nsecond line\n".as_bytes();
    for mode in ["binary", "text", "clearsigned"] {
        let signed = expect(d, &["inline-sign", "--as", mode, "alice.key"], msg, 0);
        if mode == "clearsigned" {
            assert!(signed.starts_with(b"-----BEGIN PGP SIGNED MESSAGE-----"));
        }
        let out = expect(
            d,
            &[
                "inline-verify",
                "--verifications-out",
                &format!("v-{mode}.txt"),
                "alice.cert",
            ],
            &signed,
            0,
        );
        assert_eq!(out, msg, "{mode}");
        assert!(fs::read_to_string(d.join(format!("v-{mode}.txt")))
            .unwrap()
            .contains("alice.cert"));
        let out = sop(d, &["inline-verify", "mallory.cert"], &signed);
        assert_eq!(code(&out), NO_SIGNATURE, "{mode}: {}", stderr(&out));
        assert!(
            out.stdout.is_empty(),
            "nothing released without a good signature"
        );
    }
    let out = expect(
        d,
        &["inline-sign", "--as", "text", "alice.key"],
        b"\xc3\x28 not UTF-8",
        EXPECTED_TEXT,
    );
    assert!(out.is_empty(), "nothing written before the text check");
    expect(
        d,
        &[
            "inline-sign",
            "--as",
            "clearsigned",
            "--no-armor",
            "alice.key",
        ],
        msg,
        INCOMPATIBLE_OPTIONS,
    );
    expect(d, &["inline-sign"], msg, MISSING_ARG);
    expect(d, &["inline-verify"], msg, MISSING_ARG);
    expect(d, &["inline-verify", "alice.cert"], b"plain text", BAD_DATA);

    let binary = expect(d, &["dearmor"], &key, 0);
    assert_eq!(binary[0] & 0x80, 0x80, "a packet header");
    let armored = expect(d, &["armor"], &binary, 0);
    assert!(armored.starts_with(b"-----BEGIN PGP PRIVATE KEY BLOCK-----"));
    assert_eq!(expect(d, &["dearmor"], &armored, 0), binary);
    assert_eq!(
        expect(d, &["dearmor"], &binary, 0),
        binary,
        "dearmor passes binary through"
    );
    assert_eq!(
        expect(d, &["armor"], &armored, 0),
        armored,
        "armor passes armor through"
    );
    let sig = expect(d, &["sign", "--no-armor", "alice.key"], msg, 0);
    assert!(expect(d, &["armor"], &sig, 0).starts_with(b"-----BEGIN PGP SIGNATURE-----"));
    expect(d, &["dearmor"], b"hello", BAD_DATA);
    expect(d, &["armor"], b"hello", BAD_DATA);
}

#[test]
fn unsupported_subcommands_and_options() {
    let dir = scratch();
    let d = dir.path();
    expect(d, &["frobnicate"], b"", UNSUPPORTED_SUBCOMMAND);
    for sub in [
        "inline-detach --signatures-out x",
        "change-key-password",
        "revoke-key",
        "update-key",
        "merge-certs",
        "certify-userid --userid x",
        "validate-userid x y",
    ] {
        let args: Vec<&str> = sub.split(' ').collect();
        expect(d, &args, b"", UNSUPPORTED_SUBCOMMAND);
    }
    expect(d, &["version", "--frobnicate"], b"", UNSUPPORTED_OPTION);
}
