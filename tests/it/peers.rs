//! The peer interoperability matrix: what `embargo seal` makes (signed), each OpenPGP peer opens
//! and verifies; what each peer signs and encrypts, `embargo open` opens and verifies — for
//! RSA-4096 and Cv25519 keys made by gpg and v6 keys made by Embargo; the `.eml` through notmuch
//! (GMime + GPGME); and `embargo-sop` against sqop and gosop. Prints the matrix as Markdown.
//!
//! A cell a peer cannot do is skipped with its reason, and the test still runs it and insists it
//! fails, so a skip can never hide a cell that would work (a peer upgrade turns it into a failure
//! that says "enable this cell"). A missing peer program fails the test.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use embargo_core::openpgp::parse::Parse;
use embargo_core::openpgp::serialize::SerializeInto;
use embargo_core::openpgp::Cert;
use tempfile::TempDir;

use embargo_tests::*;

const TITLE: &str = "IDOR in the workflow API";
const ATTACHMENT: &str = "poc.bin";
const PYTHON: &str = "/usr/bin/python3";

fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// The `embargo-sop` binary built next to `embargo`.
pub fn embargo_sop_bin() -> PathBuf {
    let bin = embargo_bin().with_file_name("embargo-sop");
    assert!(
        bin.exists(),
        "{} is missing: build the workspace first (`cargo build --workspace --all-targets`)",
        bin.display()
    );
    bin
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum KeyKind {
    Rsa4096,
    Cv25519,
    V6,
}

impl KeyKind {
    const ALL: [KeyKind; 3] = [KeyKind::Rsa4096, KeyKind::Cv25519, KeyKind::V6];

    fn label(self) -> &'static str {
        match self {
            KeyKind::Rsa4096 => "RSA-4096 v4 (gpg)",
            KeyKind::Cv25519 => "Cv25519 v4 (gpg)",
            KeyKind::V6 => "Ed25519/X25519 v6 (embargo)",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Peer {
    Gpg,
    Sq,
    Sqop,
    Gosop,
    Rnp,
    Pgpy,
    OpenPgpJs,
    Notmuch,
}

impl Peer {
    const ALL: [Peer; 8] = [
        Peer::Gpg,
        Peer::Sq,
        Peer::Sqop,
        Peer::Gosop,
        Peer::Rnp,
        Peer::Pgpy,
        Peer::OpenPgpJs,
        Peer::Notmuch,
    ];

    fn name(self) -> &'static str {
        match self {
            Peer::Gpg => "gpg",
            Peer::Sq => "sq",
            Peer::Sqop => "sqop",
            Peer::Gosop => "gosop",
            Peer::Rnp => "rnp",
            Peer::Pgpy => "PGPy",
            Peer::OpenPgpJs => "OpenPGP.js",
            Peer::Notmuch => "notmuch",
        }
    }

    /// The installed version, short: `gpg 2.2.40`, `sq 0.27.0 (sequoia-openpgp 1.12.0)`.
    fn version(self, gpg: &str) -> String {
        let output = |program: &str, args: &[&str]| {
            let mut c = if program == "node" {
                node()
            } else {
                tool(program)
            };
            c.args(args).output().expect("peer version")
        };
        let text = |out: Output| stdout(&out);
        // The first word that starts with a digit.
        let number = |text: &str| {
            text.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
                .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
                .unwrap_or("?")
                .to_owned()
        };
        let first_line = |t: &str| t.lines().next().unwrap_or("").to_owned();
        let json_field = |out: Output, field: &str| {
            serde_json::from_slice::<serde_json::Value>(&out.stdout)
                .ok()
                .and_then(|v| v[field].as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("? ({})", stderr(&out).trim()))
        };
        match self {
            Peer::Gpg => format!(
                "gpg {}",
                number(&first_line(&text(output("gpg", &["--version"]))))
            ),
            Peer::Sq => {
                // sq 0.27.0 (sequoia-openpgp 1.12.0, using Nettle)
                let t = text(output("sq", &["--version"]));
                let backend = t
                    .split("sequoia-openpgp ")
                    .nth(1)
                    .map(number)
                    .unwrap_or_default();
                format!("sq {} (sequoia-openpgp {backend})", number(&t))
            }
            Peer::Sqop => {
                let t = text(output("sqop", &["version", "--extended"]));
                let backend = t
                    .lines()
                    .find(|l| l.starts_with("Sequoia"))
                    .map(number)
                    .unwrap_or_default();
                format!(
                    "sqop {} (sequoia-openpgp {backend})",
                    number(&first_line(&t))
                )
            }
            Peer::Gosop => {
                let t = text(output("gosop", &["version", "--extended"]));
                let backend = t
                    .lines()
                    .find(|l| l.starts_with("GopenPGP"))
                    .map(number)
                    .unwrap_or_default();
                format!("gosop (GopenPGP {backend})")
            }
            Peer::Rnp => {
                let v = number(&first_line(&text(output("rnp", &["--version"]))));
                format!("rnp {}", v.split('-').next().unwrap_or(&v))
            }
            Peer::Pgpy => {
                let script = peers_dir().join("pgpy_peer.py");
                let out = output(PYTHON, &[script.to_str().unwrap(), "version"]);
                format!("PGPy {}", json_field(out, "pgpy"))
            }
            Peer::OpenPgpJs => {
                let out = output("node", &["openpgpjs.mjs", "version"]);
                format!("OpenPGP.js {}", json_field(out, "openpgp"))
            }
            Peer::Notmuch => {
                let v = number(&text(output("notmuch", &["--version"])));
                format!("notmuch {v} (GMime, GPGME with {gpg})")
            }
        }
    }
}

fn node() -> Command {
    assert!(
        peers_dir()
            .join("node_modules/openpgp/package.json")
            .exists(),
        "tests/peers/node_modules is missing: run scripts/setup-peers.sh (npm ci in tests/peers)"
    );
    let mut c = tool("node");
    c.current_dir(peers_dir());
    c
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Direction {
    /// `embargo seal` → the peer decrypts and verifies.
    EmbargoToPeer,
    /// The peer signs and encrypts → `embargo open` decrypts and verifies.
    PeerToEmbargo,
}

impl Direction {
    fn label(self, peer: Peer) -> String {
        match (self, peer) {
            (Direction::EmbargoToPeer, Peer::Notmuch) => {
                "`embargo seal --format email` → notmuch".into()
            }
            (Direction::EmbargoToPeer, p) => format!("`embargo seal` → {}", p.name()),
            (Direction::PeerToEmbargo, p) => format!("{} → `embargo open`", p.name()),
        }
    }
}

/// A cell a peer cannot do: why, and what the peer's own error must say (the way its version
/// is known to fail; any other failure is a failure of the cell).
struct Skip {
    reason: String,
    fails_with: &'static str,
}

/// How each peer's version fails on a v6 key (seen in its own words).
fn v6_failure(peer: Peer) -> &'static str {
    match peer {
        Peer::Gpg | Peer::Notmuch => "with unknown version 6",
        Peer::Sq => "Unsupported primary key",
        Peer::Sqop => "Invalid data type",
        Peer::Gosop => "first packet was not a public/private key",
        Peer::Rnp => "wrong key packet version",
        Peer::Pgpy => "PGPy found no key packet it can parse",
        Peer::OpenPgpJs => "",
    }
}

/// Why a peer cannot do a cell; `None`: it can and must.
fn cannot(peer: Peer, kind: KeyKind, versions: &Versions) -> Option<Skip> {
    let v = versions.of(peer);
    if kind != KeyKind::V6 {
        return None;
    }
    let reason = match peer {
        Peer::Gpg => format!("{v} reads no v6 keys and no SEIPDv2"),
        Peer::Sq | Peer::Sqop => format!("{v} predates RFC 9580: no v6 keys, no SEIPDv2"),
        Peer::Gosop | Peer::Pgpy => format!("{v} implements RFC 4880 only: no v6 keys"),
        Peer::Rnp => format!("{v} reads no v6 keys (RFC 9580 support came after 0.16)"),
        Peer::Notmuch => format!(
            "GPGME decrypts with {}, which reads no v6 keys",
            versions.of(Peer::Gpg)
        ),
        Peer::OpenPgpJs => return None,
    };
    Some(Skip {
        reason,
        fails_with: v6_failure(peer),
    })
}

struct Versions(Vec<(Peer, String)>);

impl Versions {
    fn of(&self, peer: Peer) -> &str {
        self.0
            .iter()
            .find(|(p, _)| *p == peer)
            .map(|(_, v)| v.as_str())
            .unwrap_or("?")
    }
}

/// A GnuPG home whose agent is stopped when it goes away.
struct GpgHome(Gpg);

impl GpgHome {
    fn new() -> GpgHome {
        GpgHome(Gpg::new())
    }
    fn cmd(&self) -> Command {
        self.0.cmd()
    }
    fn import(&self, files: &[&Path]) -> Result<(), String> {
        let mut c = self.cmd();
        c.arg("--import").args(files);
        run(&mut c, "gpg --import").map(|_| ())
    }
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.0.home.path())
            .args(["--kill", "all"])
            .output();
    }
}

/// Runs a command to success, or says what failed with its standard error.
fn run(cmd: &mut Command, what: &str) -> Result<Output, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        // Lines that say nothing about the failure.
        let noise = [
            "WARNING: unsafe permissions",
            "keybox '",
            "Keyring directory",
            "Use \"rnpkeys\"",
            "missing or malformed CRC",
        ];
        let err = stderr(&out);
        let lines: Vec<&str> = err
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !noise.iter().any(|n| l.contains(n)))
            .take(4)
            .collect();
        Err(format!(
            "{what} failed ({}): {}",
            out.status,
            lines.join(" | ")
        ))
    }
}

/// Runs a command with a file as standard input and another as standard output.
fn run_io(cmd: &mut Command, what: &str, input: &Path, output: &Path) -> Result<Output, String> {
    let stdin = File::open(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let stdout = File::create(output).map_err(|e| format!("{}: {e}", output.display()))?;
    cmd.stdin(Stdio::from(stdin)).stdout(Stdio::from(stdout));
    run(cmd, what)
}

/// The keys, report and messages of one key type, shared read-only by its cells.
struct Fixture {
    kind: KeyKind,
    dir: TempDir,
    team_fpr: String,
    ada_fpr: String,
    attachment: Vec<u8>,
    note: Vec<u8>,
}

impl Fixture {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A key file for a peer: armored, except v6 keys for peers without RFC 9580 support, which
    /// get the binary form so that what they say is about v6, not about RFC 9580's armor (no
    /// CRC line, which PGPy and gosop also reject).
    fn key(&self, peer: Peer, name: &str) -> PathBuf {
        if self.kind == KeyKind::V6 && peer != Peer::OpenPgpJs {
            self.path(&format!("{name}.pgp"))
        } else {
            self.path(&format!("{name}.asc"))
        }
    }

    fn new(kind: KeyKind) -> Fixture {
        let dir = scratch();
        let d = dir.path();
        let (team_fpr, ada_fpr) = match kind {
            KeyKind::V6 => {
                for (who, uid) in [
                    ("team", "Novu Security <security@novu.co>"),
                    ("ada", "Ada Lovelace <ada@example.net>"),
                ] {
                    let out = embargo(
                        d,
                        [
                            "key",
                            "generate",
                            "--profile",
                            "rfc9580",
                            "--userid",
                            uid,
                            "-o",
                            &format!("{who}-secret.asc"),
                            "--public",
                            &format!("{who}.asc"),
                        ],
                    );
                    expect_code(&out, 0);
                    assert!(stderr(&out).contains("v6 key"), "{}", stderr(&out));
                }
                let fpr = |f: &str| {
                    embargo_core::keys::read_certs(&d.join(f)).unwrap()[0]
                        .fingerprint()
                        .to_hex()
                };
                (fpr("team.asc"), fpr("ada.asc"))
            }
            KeyKind::Rsa4096 | KeyKind::Cv25519 => {
                let (primary, enc, signer) = if kind == KeyKind::Rsa4096 {
                    ("rsa4096", "rsa4096", "rsa4096")
                } else {
                    ("ed25519", "cv25519", "ed25519")
                };
                let gpg = GpgHome::new();
                let team = gpg.0.generate(
                    "Novu Security <security@novu.co>",
                    primary,
                    "default",
                    Some(enc),
                    &[],
                );
                let ada =
                    gpg.0
                        .generate("Ada Lovelace <ada@example.net>", signer, "sign", None, &[]);
                gpg.0.export(&team, &d.join("team.asc"));
                gpg.0.export_secret(&team, &d.join("team-secret.asc"));
                gpg.0.export(&ada, &d.join("ada.asc"));
                gpg.0.export_secret(&ada, &d.join("ada-secret.asc"));
                (team, ada)
            }
        };
        for name in ["team", "ada"] {
            let public = Cert::from_file(d.join(format!("{name}.asc"))).unwrap();
            fs::write(d.join(format!("{name}.pgp")), public.to_vec().unwrap()).unwrap();
            let secret = Cert::from_file(d.join(format!("{name}-secret.asc"))).unwrap();
            fs::write(
                d.join(format!("{name}-secret.pgp")),
                secret.as_tsk().to_vec().unwrap(),
            )
            .unwrap();
        }
        fs::write(
            d.join("report.md"),
            report_text(TITLE, "{ name = \"Ada Lovelace\", handle = \"@ada\" }"),
        )
        .unwrap();
        let attachment = noise(48 * 1024, kind as u64 + 7);
        fs::write(d.join(ATTACHMENT), &attachment).unwrap();
        let note = format!(
            "A report written by hand for the {} key, with Ünïcödé.\n",
            kind.label()
        )
        .into_bytes();
        fs::write(d.join("note.txt"), &note).unwrap();
        let format_word = if kind == KeyKind::V6 {
            "using SEIPDv2"
        } else {
            "using SEIPDv1"
        };
        for (format, output) in [("armor", "sealed.asc"), ("email", "report.eml")] {
            let out = embargo(
                d,
                [
                    "seal",
                    "report.md",
                    "--to",
                    "team.asc",
                    "--attach",
                    ATTACHMENT,
                    "--sign-with",
                    "ada-secret.asc",
                    "--format",
                    format,
                    "--mail-to",
                    "security@novu.co",
                    "--mail-from",
                    "ada@example.net",
                    "-o",
                    output,
                ],
            );
            expect_code(&out, 0);
            assert!(stderr(&out).contains(format_word), "{}", stderr(&out));
        }
        Fixture {
            kind,
            dir,
            team_fpr,
            ada_fpr,
            attachment,
            note,
        }
    }
}

/// The decrypted plaintext is the Embargo bundle: multipart/mixed, report.json with the title,
/// the attachment byte for byte, the researcher's key.
fn check_bundle(plain: &[u8], fx: &Fixture) -> Result<(), String> {
    let mail = mailparse::parse_mail(plain).map_err(|e| format!("plaintext is not MIME: {e}"))?;
    if mail.ctype.mimetype != "multipart/mixed" {
        return Err(format!(
            "plaintext is {}, not multipart/mixed",
            mail.ctype.mimetype
        ));
    }
    let part = |name: &str| {
        mail.subparts.iter().find(|p| {
            p.get_content_disposition()
                .params
                .get("filename")
                .map(String::as_str)
                == Some(name)
        })
    };
    let json = part("report.json").ok_or("no report.json part")?;
    let json: serde_json::Value = serde_json::from_slice(&json.get_body_raw().unwrap())
        .map_err(|e| format!("report.json: {e}"))?;
    if json["title"] != TITLE {
        return Err(format!("report.json title is {}", json["title"]));
    }
    let attachment = part(ATTACHMENT).ok_or("no attachment part")?;
    if attachment.get_body_raw().unwrap() != fx.attachment {
        return Err("the attachment differs".into());
    }
    part("researcher.asc").ok_or("no researcher.asc part")?;
    Ok(())
}

/// A peer decrypts and verifies `embargo seal`'s message; returns a note on what it showed.
fn peer_opens(peer: Peer, fx: &Fixture, cell: &Path) -> Result<String, String> {
    let sealed = fx.path("sealed.asc");
    let plain = cell.join("plain.eml");
    let note = match peer {
        Peer::Gpg => {
            let gpg = GpgHome::new();
            gpg.import(&[&fx.key(peer, "team-secret"), &fx.key(peer, "ada")])?;
            let mut c = gpg.cmd();
            c.args(["--status-fd", "1", "--output"])
                .arg(&plain)
                .arg("--decrypt")
                .arg(&sealed);
            let status = stdout(&run(&mut c, "gpg --decrypt")?);
            for want in [
                "[GNUPG:] DECRYPTION_OKAY".to_owned(),
                "[GNUPG:] GOODSIG".to_owned(),
                format!("[GNUPG:] VALIDSIG {}", fx.ada_fpr),
            ] {
                if !status.contains(&want) {
                    return Err(format!("gpg status lacks {want}: {status}"));
                }
            }
            String::new()
        }
        Peer::Sq => {
            let out = run(
                tool("sq")
                    .arg("decrypt")
                    .arg("--recipient-key")
                    .arg(fx.key(peer, "team-secret"))
                    .arg("--signer-cert")
                    .arg(fx.key(peer, "ada"))
                    .arg("-o")
                    .arg(&plain)
                    .arg(&sealed),
                "sq decrypt",
            )?;
            if !stderr(&out).contains("Good signature") {
                return Err(format!(
                    "sq did not report a good signature: {}",
                    stderr(&out)
                ));
            }
            String::new()
        }
        Peer::Sqop | Peer::Gosop => {
            let verifications = cell.join("verifications.txt");
            run_io(
                tool(peer.name())
                    .arg("decrypt")
                    .arg("--verify-with")
                    .arg(fx.key(peer, "ada"))
                    .arg("--verify-out")
                    .arg(&verifications)
                    .arg(fx.key(peer, "team-secret")),
                &format!("{} decrypt", peer.name()),
                &sealed,
                &plain,
            )?;
            let v = fs::read_to_string(&verifications).unwrap_or_default();
            if !v.to_uppercase().contains(&fx.ada_fpr) {
                return Err(format!("no verification by {}: {v:?}", fx.ada_fpr));
            }
            String::new()
        }
        Peer::Rnp => {
            let home = cell.join("rnp");
            rnp_import(&home, &[&fx.key(peer, "team-secret"), &fx.key(peer, "ada")])?;
            let out = run(
                tool("rnp")
                    .arg("--homedir")
                    .arg(&home)
                    .arg("--decrypt")
                    .arg(&sealed)
                    .arg("--output")
                    .arg(&plain),
                "rnp --decrypt",
            )?;
            let err = stderr(&out);
            let keyid = fx.ada_fpr[fx.ada_fpr.len() - 16..].to_lowercase();
            if !(err.contains("Good signature") && err.contains(&keyid)) {
                return Err(format!(
                    "rnp did not report a good signature by {keyid}: {err}"
                ));
            }
            String::new()
        }
        Peer::Pgpy => {
            run(
                tool(PYTHON)
                    .arg(peers_dir().join("pgpy_peer.py"))
                    .arg("decrypt")
                    .arg(fx.key(peer, "team-secret"))
                    .arg(fx.key(peer, "ada"))
                    .arg(&sealed)
                    .arg(&plain),
                "pgpy_peer.py decrypt",
            )?;
            String::new()
        }
        Peer::OpenPgpJs => {
            let out = run(
                node()
                    .arg("openpgpjs.mjs")
                    .arg("decrypt")
                    .arg(fx.key(peer, "team-secret"))
                    .arg(fx.key(peer, "ada"))
                    .arg(&sealed)
                    .arg(&plain),
                "openpgpjs.mjs decrypt",
            )?;
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            let want = if fx.kind == KeyKind::V6 { 2 } else { 1 };
            if v["seipd_version"] != want {
                return Err(format!("expected SEIPDv{want}: {v}"));
            }
            String::new()
        }
        Peer::Notmuch => return notmuch_opens(fx, cell),
    };
    let bytes = fs::read(&plain).map_err(|e| format!("no plaintext: {e}"))?;
    check_bundle(&bytes, fx)?;
    Ok(note)
}

fn rnp_import(home: &Path, files: &[&Path]) -> Result<(), String> {
    fs::create_dir_all(home).map_err(|e| e.to_string())?;
    for f in files {
        run(
            tool("rnpkeys")
                .arg("--homedir")
                .arg(home)
                .arg("--import")
                .arg(f),
            "rnpkeys --import",
        )?;
    }
    Ok(())
}

/// notmuch indexes a maildir holding the `.eml`, then shows it decrypted (GMime + GPGME with a
/// GnuPG home holding the team's secret key): decrypted, signature good, protected subject,
/// every part present, the attachment byte for byte.
fn notmuch_opens(fx: &Fixture, cell: &Path) -> Result<String, String> {
    let peer = Peer::Notmuch;
    let gpg = GpgHome::new();
    gpg.import(&[&fx.key(peer, "team-secret"), &fx.key(peer, "ada")])?;
    let maildir = cell.join("mail");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(maildir.join(sub)).map_err(|e| e.to_string())?;
    }
    fs::copy(fx.path("report.eml"), maildir.join("cur/report.eml:2,S"))
        .map_err(|e| e.to_string())?;
    let config = cell.join("notmuch-config");
    fs::write(
        &config,
        format!(
            "[database]\npath={}\n[user]\nname=Novu Security\nprimary_email=security@novu.co\n[new]\ntags=inbox\n",
            maildir.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let notmuch = |args: &[&str]| {
        let mut c = tool("notmuch");
        c.env("NOTMUCH_CONFIG", &config)
            .env("GNUPGHOME", gpg.0.home.path())
            .args(args);
        c
    };
    run(&mut notmuch(&["new", "--quiet"]), "notmuch new")?;
    let out = run(
        &mut notmuch(&["show", "--format=json", "--decrypt=true", "*"]),
        "notmuch show",
    )?;
    let threads: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("notmuch JSON: {e}"))?;
    let message = &threads[0][0][0];
    if message["crypto"]["decrypted"]["status"] != "full" {
        return Err(format!("not decrypted: {}", message["crypto"]));
    }
    let sig = &message["crypto"]["signed"]["status"][0];
    if sig["status"] != "good" || sig["fingerprint"] != fx.ada_fpr.as_str() {
        return Err(format!("signature not good by {}: {sig}", fx.ada_fpr));
    }
    if message["headers"]["Subject"] != TITLE {
        return Err(format!(
            "the protected Subject is not shown: {}",
            message["headers"]["Subject"]
        ));
    }
    let mut parts = Vec::new();
    collect_parts(&message["body"], &mut parts);
    let find = |ctype: &str, name: Option<&str>| {
        parts
            .iter()
            .find(|(_, t, f)| t == ctype && f.as_deref() == name)
    };
    find("text/plain", None).ok_or_else(|| format!("no text/plain part: {parts:?}"))?;
    find("application/json", Some("report.json")).ok_or("no report.json part")?;
    find("application/pgp-keys", Some("researcher.asc")).ok_or("no researcher.asc part")?;
    let (id, _, _) = parts
        .iter()
        .find(|(_, _, f)| f.as_deref() == Some(ATTACHMENT))
        .ok_or("no attachment part")?;
    let raw = run(
        &mut notmuch(&[
            "show",
            "--format=raw",
            "--decrypt=true",
            &format!("--part={id}"),
            "*",
        ]),
        "notmuch show --part",
    )?;
    if raw.stdout != fx.attachment {
        return Err(format!(
            "the attachment from notmuch differs ({} bytes, want {})",
            raw.stdout.len(),
            fx.attachment.len()
        ));
    }
    Ok(String::new())
}

fn collect_parts(node: &serde_json::Value, out: &mut Vec<(u64, String, Option<String>)>) {
    match node {
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_parts(i, out)),
        serde_json::Value::Object(map) => {
            if let (Some(id), Some(t)) = (
                map.get("id").and_then(|v| v.as_u64()),
                map.get("content-type"),
            ) {
                out.push((
                    id,
                    t.as_str().unwrap_or("").to_owned(),
                    map.get("filename")
                        .and_then(|f| f.as_str())
                        .map(str::to_owned),
                ));
            }
            if let Some(content) = map.get("content") {
                collect_parts(content, out);
            }
        }
        _ => {}
    }
}

/// A peer signs and encrypts the note to the team; returns the message file.
fn peer_seals(peer: Peer, fx: &Fixture, cell: &Path) -> Result<PathBuf, String> {
    let note = fx.path("note.txt");
    let msg = cell.join("note.msg");
    match peer {
        Peer::Gpg => {
            let gpg = GpgHome::new();
            gpg.import(&[&fx.key(peer, "ada-secret"), &fx.key(peer, "team")])?;
            let mut c = gpg.cmd();
            c.args([
                "--trust-model",
                "always",
                "--armor",
                "--recipient",
                &fx.team_fpr,
            ])
            .args(["--local-user", &fx.ada_fpr, "--output"])
            .arg(&msg)
            .args(["--sign", "--encrypt"])
            .arg(&note);
            run(&mut c, "gpg --sign --encrypt")?;
        }
        Peer::Sq => {
            run(
                tool("sq")
                    .arg("encrypt")
                    .arg("--recipient-cert")
                    .arg(fx.key(peer, "team"))
                    .arg("--signer-key")
                    .arg(fx.key(peer, "ada-secret"))
                    .arg("-o")
                    .arg(&msg)
                    .arg(&note),
                "sq encrypt",
            )?;
        }
        Peer::Sqop | Peer::Gosop => {
            run_io(
                tool(peer.name())
                    .arg("encrypt")
                    .arg("--sign-with")
                    .arg(fx.key(peer, "ada-secret"))
                    .arg(fx.key(peer, "team")),
                &format!("{} encrypt", peer.name()),
                &note,
                &msg,
            )?;
        }
        Peer::Rnp => {
            let home = cell.join("rnp");
            rnp_import(&home, &[&fx.key(peer, "team"), &fx.key(peer, "ada-secret")])?;
            run(
                tool("rnp")
                    .arg("--homedir")
                    .arg(&home)
                    .args(["--encrypt", "--sign", "--armor", "--password", ""])
                    .args(["--recipient", &fx.team_fpr, "--userid", &fx.ada_fpr])
                    .arg(&note)
                    .arg("--output")
                    .arg(&msg),
                "rnp --encrypt --sign",
            )?;
        }
        Peer::Pgpy => {
            run(
                tool(PYTHON)
                    .arg(peers_dir().join("pgpy_peer.py"))
                    .arg("encrypt")
                    .arg(fx.key(peer, "team"))
                    .arg(fx.key(peer, "ada-secret"))
                    .arg(&note)
                    .arg(&msg),
                "pgpy_peer.py encrypt",
            )?;
        }
        Peer::OpenPgpJs => {
            run(
                node()
                    .arg("openpgpjs.mjs")
                    .arg("encrypt")
                    .arg(fx.key(peer, "team"))
                    .arg(fx.key(peer, "ada-secret"))
                    .arg(&note)
                    .arg(&msg),
                "openpgpjs.mjs encrypt",
            )?;
        }
        Peer::Notmuch => return Err("notmuch does not write OpenPGP messages".into()),
    }
    Ok(msg)
}

/// `embargo open` decrypts the peer's message, verifies the signature with the researcher's
/// certificate (required), and writes the note byte for byte.
fn embargo_opens(peer: Peer, fx: &Fixture, cell: &Path) -> Result<String, String> {
    let msg = peer_seals(peer, fx, cell)?;
    let out = embargo(
        cell,
        [
            "open".as_ref(),
            msg.as_os_str(),
            "--key".as_ref(),
            fx.path("team-secret.asc").as_os_str(),
            "--verify-with".as_ref(),
            fx.path("ada.asc").as_os_str(),
            "--require-signature".as_ref(),
            "-o".as_ref(),
            "opened".as_ref(),
        ],
    );
    let err = stderr(&out);
    if code(&out) != 0 {
        return Err(format!(
            "embargo open exited {}: {}",
            code(&out),
            err.trim()
        ));
    }
    if !err.contains(&format!("good signature from {}", fx.ada_fpr)) {
        return Err(format!(
            "embargo open did not report ada's good signature: {err}"
        ));
    }
    let files = tree(&cell.join("opened"));
    let [file] = files.as_slice() else {
        return Err(format!("expected one file, got {files:?}"));
    };
    if fs::read(cell.join("opened").join(file)).unwrap_or_default() != fx.note {
        return Err(format!(
            "{file} differs from what {} encrypted",
            peer.name()
        ));
    }
    let format = err
        .lines()
        .find_map(|l| l.split_once("decrypted with ").map(|(_, r)| r.to_owned()))
        .and_then(|r| {
            r.rsplit_once('(')
                .map(|(_, f)| f.trim_end_matches(')').to_owned())
        })
        .unwrap_or_default();
    Ok(format)
}

#[derive(Debug)]
enum Outcome {
    Ok(String),
    /// The peer cannot do it: the reason, and the peer's own words when it was tried.
    Skipped(String, String),
    Failed(String),
}

struct Cell {
    row: String,
    column: String,
    outcome: Outcome,
}

/// A cell: `work` must succeed, or — when `skip` gives a reason — must fail the way `skip`
/// says.
fn judge(
    row: String,
    column: String,
    skip: Option<Skip>,
    work: impl FnOnce() -> Result<String, String>,
) -> Cell {
    let result = work();
    let outcome = match (skip, result) {
        (None, Ok(note)) => Outcome::Ok(note),
        (None, Err(e)) => Outcome::Failed(e),
        (Some(skip), Err(e)) if e.contains(skip.fails_with) => Outcome::Skipped(skip.reason, e),
        (Some(skip), Err(e)) => Outcome::Failed(format!(
            "listed as skipped ({}), expected to fail with \"{}\", but failed otherwise: {e}",
            skip.reason, skip.fails_with
        )),
        (Some(skip), Ok(_)) => Outcome::Failed(format!(
            "listed as skipped ({}) but it works now: enable this cell",
            skip.reason
        )),
    };
    Cell {
        row,
        column,
        outcome,
    }
}

type Job<'a> = Box<dyn FnOnce() -> Cell + Send + 'a>;

/// Runs jobs on a few threads; the peers are separate processes, so the cores stay busy.
fn run_jobs(jobs: Vec<Job<'_>>, threads: usize) -> Vec<Cell> {
    let queue = Mutex::new(jobs.into_iter().collect::<VecDeque<_>>());
    let done = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let Some(job) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                let cell = job();
                done.lock().unwrap().push(cell);
            });
        }
    });
    done.into_inner().unwrap()
}

fn cell_dir(base: &Path, name: &str) -> PathBuf {
    let dir = base.join(name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
    fs::create_dir_all(&dir).unwrap();
    dir
}

// ---- embargo-sop against sqop and gosop -------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sop {
    Embargo,
    Sqop,
    Gosop,
}

impl Sop {
    fn name(self) -> &'static str {
        match self {
            Sop::Embargo => "embargo-sop",
            Sop::Sqop => "sqop",
            Sop::Gosop => "gosop",
        }
    }

    fn cmd(self) -> Command {
        match self {
            Sop::Embargo => Command::new(embargo_sop_bin()),
            other => tool(other.name()),
        }
    }

    /// The decrypt option naming the verifications file (older peers predate the current name).
    fn verifications_out(self) -> &'static str {
        match self {
            Sop::Embargo => "--verifications-out",
            Sop::Sqop | Sop::Gosop => "--verify-out",
        }
    }
}

/// One SOP round trip: `sender` makes Alice's key, `receiver` Bob's; the sender encrypts and signs
/// to Bob, makes a detached and (where both can) an inline signature; the receiver decrypts,
/// verifies each.
fn sop_round_trip(sender: Sop, receiver: Sop, v6: bool, dir: &Path) -> Result<String, String> {
    let file = |n: &str| dir.join(n);
    let message = "Reply to EMB-7K2Q-9XDA: fixed in 2.3.1.\nÜnïcödé\n".as_bytes();
    fs::write(file("msg.txt"), message).map_err(|e| e.to_string())?;
    let null = |c: &mut Command| {
        c.stdin(Stdio::null());
    };
    for (who, side, uid) in [
        ("alice", sender, "Alice <alice@example.org>"),
        ("bob", receiver, "Bob <bob@example.org>"),
    ] {
        // v6 keys come from embargo-sop, so a peer is tried on reading them even when it
        // cannot make them.
        let sop = if v6 { Sop::Embargo } else { side };
        let mut c = sop.cmd();
        c.arg("generate-key");
        if v6 {
            // Binary, so a peer's failure is about v6 keys, not RFC 9580 armor (no CRC line).
            c.args(["--profile", "rfc9580", "--no-armor"]);
        }
        c.arg(uid);
        null(&mut c);
        let out = run(&mut c, &format!("{} generate-key", sop.name()))?;
        fs::write(file(&format!("{who}.key")), &out.stdout).map_err(|e| e.to_string())?;
        run_io(
            sop.cmd()
                .arg("extract-cert")
                .args(v6.then_some("--no-armor")),
            &format!("{} extract-cert", sop.name()),
            &file(&format!("{who}.key")),
            &file(&format!("{who}.cert")),
        )?;
    }
    let alice = embargo_core::keys::read_certs(&file("alice.cert")).map_err(|e| e.to_string())?;
    let alice_fpr = alice[0].fingerprint().to_hex();
    let has_alice = |text: &str| text.to_uppercase().contains(&alice_fpr);

    run_io(
        sender
            .cmd()
            .arg("encrypt")
            .arg("--sign-with")
            .arg(file("alice.key"))
            .arg(file("bob.cert")),
        &format!("{} encrypt", sender.name()),
        &file("msg.txt"),
        &file("msg.asc"),
    )?;
    run_io(
        receiver
            .cmd()
            .arg("decrypt")
            .arg("--verify-with")
            .arg(file("alice.cert"))
            .arg(receiver.verifications_out())
            .arg(file("verifications.txt"))
            .arg(file("bob.key")),
        &format!("{} decrypt", receiver.name()),
        &file("msg.asc"),
        &file("decrypted.txt"),
    )?;
    if fs::read(file("decrypted.txt")).unwrap_or_default() != message {
        return Err("the decrypted message differs".into());
    }
    let v = fs::read_to_string(file("verifications.txt")).unwrap_or_default();
    if !has_alice(&v) {
        return Err(format!("decrypt did not verify Alice's signature: {v:?}"));
    }

    run_io(
        sender.cmd().arg("sign").arg(file("alice.key")),
        &format!("{} sign", sender.name()),
        &file("msg.txt"),
        &file("msg.sig"),
    )?;
    let out = run_io(
        receiver
            .cmd()
            .arg("verify")
            .arg(file("msg.sig"))
            .arg(file("alice.cert")),
        &format!("{} verify", receiver.name()),
        &file("msg.txt"),
        &file("verify.txt"),
    )?;
    let _ = out;
    let v = fs::read_to_string(file("verify.txt")).unwrap_or_default();
    if !has_alice(&v) {
        return Err(format!("verify did not name Alice: {v:?}"));
    }
    if sender == Sop::Gosop || receiver == Sop::Gosop {
        // This gosop has no inline-sign/inline-verify: the step is run and must fail with the
        // SOP specification's UNSUPPORTED_SUBCOMMAND (69), so a gosop that gains them turns
        // the cell red until the step is enabled.
        let which = if sender == Sop::Gosop {
            "inline-sign"
        } else {
            "inline-verify"
        };
        let key = if sender == Sop::Gosop {
            file("alice.key")
        } else {
            file("alice.cert")
        };
        let out = Command::new("gosop")
            .arg(which)
            .arg(key)
            .stdin(fs::File::open(file("msg.txt")).unwrap())
            .output()
            .map_err(|e| format!("gosop {which}: {e}"))?;
        if out.status.code() != Some(69) {
            return Err(format!(
                "gosop {which} exited {:?}, not 69 (unsupported subcommand): it may support it now, enable the inline step",
                out.status.code()
            ));
        }
        return Ok(format!(
            "{which} not run: gosop answers 69, unsupported subcommand"
        ));
    }
    {
        run_io(
            sender.cmd().arg("inline-sign").arg(file("alice.key")),
            &format!("{} inline-sign", sender.name()),
            &file("msg.txt"),
            &file("inline.asc"),
        )?;
        run_io(
            receiver.cmd().arg("inline-verify").arg(file("alice.cert")),
            &format!("{} inline-verify", receiver.name()),
            &file("inline.asc"),
            &file("inline.txt"),
        )?;
        if fs::read(file("inline.txt")).unwrap_or_default() != message {
            return Err("inline-verify did not give back the message".into());
        }
    }
    Ok(String::new())
}

/// Why a SOP pair cannot do a round trip.
fn sop_cannot(peer: Sop, v6: bool, versions: &Versions) -> Option<Skip> {
    if !v6 {
        return None;
    }
    let peer = match peer {
        Sop::Sqop => Peer::Sqop,
        Sop::Gosop => Peer::Gosop,
        Sop::Embargo => return None,
    };
    Some(Skip {
        reason: format!("{} reads no v6 keys", versions.of(peer)),
        fails_with: v6_failure(peer),
    })
}

// ---- the matrix -------------------------------------------------------------------------------

/// A peer's message with absolute paths cut down to file names (they differ on every run).
fn without_paths(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let trimmed = word.trim_matches(|c| c == '\'' || c == '"');
            if trimmed.starts_with('/') && trimmed.len() > 1 {
                let name = Path::new(trimmed)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                word.replace(trimmed, &name)
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn markdown(cells: &[Cell], rows: &[String], columns: &[&str], corner: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| {corner} | {} |", columns.join(" | "));
    let _ = writeln!(out, "|---|---|{}", "---|".repeat(columns.len()));
    for row in rows {
        let mut line = format!("| {row} |");
        for column in columns {
            let text = cells
                .iter()
                .find(|c| &c.row == row && c.column == *column)
                .map(|c| match &c.outcome {
                    Outcome::Ok(note) if note.is_empty() => "ok".to_owned(),
                    Outcome::Ok(note) => format!("ok ({note})"),
                    Outcome::Skipped(reason, _) => format!("skipped: {reason}"),
                    Outcome::Failed(_) => "**FAILED**".to_owned(),
                })
                .unwrap_or_else(|| "—".into());
            let _ = write!(line, " {text} |");
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[test]
fn peer_matrix() {
    let started = Instant::now();
    let threads = std::env::var("EMBARGO_PEER_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(4);
    // Every peer must be installed (the test command installs them); versions go in the table.
    let gpg_version = Peer::Gpg.version("gpg");
    let versions = Versions(
        Peer::ALL
            .iter()
            .map(|p| (*p, p.version(&gpg_version)))
            .collect(),
    );
    let _ = embargo_sop_bin();

    let fixtures: Vec<Fixture> = std::thread::scope(|s| {
        let handles: Vec<_> = KeyKind::ALL
            .iter()
            .map(|k| s.spawn(move || Fixture::new(*k)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let keys_ready = started.elapsed();
    let work = scratch();

    let mut jobs: Vec<Job<'_>> = Vec::new();
    let mut peer_rows = Vec::new();
    for peer in Peer::ALL {
        for dir in [Direction::EmbargoToPeer, Direction::PeerToEmbargo] {
            if peer == Peer::Notmuch && dir == Direction::PeerToEmbargo {
                // notmuch only reads mail: no such cell, none counted.
                continue;
            }
            let row = format!("{} | {}", versions.of(peer), dir.label(peer));
            peer_rows.push(row.clone());
            for fx in &fixtures {
                let skip = cannot(peer, fx.kind, &versions);
                let row = row.clone();
                let base = work.path();
                jobs.push(Box::new(move || {
                    let cell = cell_dir(base, &format!("{row}-{}", fx.kind.label()));
                    judge(row, fx.kind.label().to_owned(), skip, || match dir {
                        Direction::EmbargoToPeer => peer_opens(peer, fx, &cell),
                        Direction::PeerToEmbargo => embargo_opens(peer, fx, &cell),
                    })
                }));
            }
        }
    }

    let sop_columns = [
        "v4 keys (each side makes its own)",
        "v6 keys (embargo-sop generate-key --profile rfc9580)",
    ];
    let mut sop_rows = Vec::new();
    for peer in [Sop::Sqop, Sop::Gosop] {
        let peer_version = versions
            .of(if peer == Sop::Sqop {
                Peer::Sqop
            } else {
                Peer::Gosop
            })
            .to_owned();
        for (sender, receiver) in [(Sop::Embargo, peer), (peer, Sop::Embargo)] {
            let row = format!("{peer_version} | {} → {}", sender.name(), receiver.name());
            sop_rows.push(row.clone());
            for (column, v6) in [(sop_columns[0], false), (sop_columns[1], true)] {
                let skip = sop_cannot(peer, v6, &versions);
                let row = row.clone();
                let base = work.path();
                jobs.push(Box::new(move || {
                    let cell = cell_dir(base, &format!("sop-{row}-{v6}"));
                    judge(row, column.to_owned(), skip, || {
                        sop_round_trip(sender, receiver, v6, &cell)
                    })
                }));
            }
        }
    }
    let self_row = "embargo-sop | embargo-sop → embargo-sop".to_owned();
    sop_rows.push(self_row.clone());
    for (column, v6) in [(sop_columns[0], false), (sop_columns[1], true)] {
        let row = self_row.clone();
        let base = work.path();
        jobs.push(Box::new(move || {
            let cell = cell_dir(base, &format!("sop-self-{v6}"));
            judge(row, column.to_owned(), None, || {
                sop_round_trip(Sop::Embargo, Sop::Embargo, v6, &cell)
            })
        }));
    }

    let cell_count = jobs.len();
    let cells = run_jobs(jobs, threads);
    let elapsed = started.elapsed();

    let columns: Vec<&str> = KeyKind::ALL.iter().map(|k| k.label()).collect();
    let mut report = String::new();
    let _ = writeln!(report, "### OpenPGP peers\n");
    report += &markdown(&cells, &peer_rows, &columns, "Peer | Direction");
    let _ = writeln!(
        report,
        "\n### embargo-sop against other SOP implementations\n"
    );
    report += &markdown(&cells, &sop_rows, &sop_columns, "Peer | Sender → receiver");
    let _ = writeln!(
        report,
        "\n### Skipped cells (each was run and failed as expected)\n"
    );
    // In table order, so the list reads the same on every run.
    let order = |c: &Cell| {
        let row = peer_rows
            .iter()
            .chain(&sop_rows)
            .position(|r| *r == c.row)
            .unwrap_or(usize::MAX);
        let column = columns
            .iter()
            .chain(&sop_columns)
            .position(|k| *k == c.column)
            .unwrap_or(usize::MAX);
        (row, column)
    };
    let mut skipped: Vec<&Cell> = cells
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Skipped(..)))
        .collect();
    skipped.sort_by_key(|c| order(c));
    for c in skipped {
        if let Outcome::Skipped(reason, evidence) = &c.outcome {
            let _ = writeln!(
                report,
                "- {} / {}: {reason}. Tried: `{}`",
                c.row.replace(" | ", ", "),
                c.column,
                without_paths(evidence).replace('`', "'")
            );
        }
    }
    let _ = writeln!(
        report,
        "\n{cell_count} cells on {threads} threads in {:.1} s (keys and seals ready after {:.1} s).",
        elapsed.as_secs_f64(),
        keys_ready.as_secs_f64()
    );
    eprintln!("{report}");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("peer-matrix.md");
    let _ = fs::write(&out, &report);
    eprintln!("(also written to {})", out.display());

    let failed: Vec<String> = cells
        .iter()
        .filter_map(|c| match &c.outcome {
            Outcome::Failed(e) => Some(format!("{} / {}: {e}", c.row, c.column)),
            _ => None,
        })
        .collect();
    assert!(failed.is_empty(), "failed cells:\n{}", failed.join("\n"));
    let ok = cells
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Ok(_)))
        .count();
    assert!(ok > 0);
}

/// The product side of RFC 9580: a v6 team key from `embargo key generate --profile rfc9580`
/// gets SEIPDv2 and opens; next to a key that cannot read SEIPDv2 the seal is refused, naming
/// both keys, with the remedy.
#[test]
fn v6_team_keys_seal_with_seipdv2_and_refuse_a_seipdv1_co_recipient() {
    let dir = scratch();
    let d = dir.path();
    fs::write(d.join("report.md"), report_text(TITLE, "\"anonymous\"")).unwrap();
    for (name, profile) in [("six", "rfc9580"), ("four", "rfc4880")] {
        let out = embargo(
            d,
            [
                "key",
                "generate",
                "--profile",
                profile,
                "--userid",
                &format!("{name} <{name}@example.org>"),
                "-o",
                &format!("{name}-secret.asc"),
                "--public",
                &format!("{name}.asc"),
            ],
        );
        expect_code(&out, 0);
    }
    let out = embargo(d, ["key", "show", "six.asc"]);
    expect_code(&out, 0);
    assert!(stdout(&out).contains("(v6 key)"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("format:      SEIPDv2"),
        "{}",
        stdout(&out)
    );

    let out = embargo(d, ["seal", "report.md", "--to", "six.asc", "-o", "v6.asc"]);
    expect_code(&out, 0);
    assert!(stderr(&out).contains("using SEIPDv2"), "{}", stderr(&out));
    let out = embargo(
        d,
        ["open", "v6.asc", "--key", "six-secret.asc", "-o", "opened"],
    );
    expect_code(&out, 0);
    assert!(stderr(&out).contains("(SEIPDv2)"), "{}", stderr(&out));
    assert!(d.join("opened/report.json").exists());

    // A GnuPG key: it does not advertise SEIPDv2.
    let gpg = GpgHome::new();
    let fpr = gpg.0.generate(
        "GnuPG user <g@example.org>",
        "ed25519",
        "default",
        Some("cv25519"),
        &[],
    );
    gpg.0.export(&fpr, &d.join("gnupg.asc"));
    let six = Cert::from_file(d.join("six.asc"))
        .unwrap()
        .fingerprint()
        .to_hex();
    for extra in [&[][..], &["--aead"][..]] {
        let mut args = vec!["seal", "report.md", "--to", "six.asc", "--to", "gnupg.asc"];
        args.extend_from_slice(extra);
        args.extend(["-o", "mixed.asc"]);
        let out = embargo(d, &args);
        expect_code(&out, 1);
        let err = stderr(&out);
        assert!(err.contains(&fpr), "names the GnuPG key: {err}");
        if extra.is_empty() {
            assert!(err.contains(&six), "names the v6 key: {err}");
            assert!(err.contains("does not advertise SEIPDv2"), "{err}");
            assert!(
                err.contains("hint: seal one message per recipient"),
                "{err}"
            );
        } else {
            assert!(err.contains("does not advertise SEIPDv2"), "{err}");
        }
        assert!(!d.join("mixed.asc").exists());
    }
    // A v4 key that reads SEIPDv2 joins a v6 key only when SEIPDv2 is asked for.
    let out = embargo(
        d,
        [
            "seal",
            "report.md",
            "--to",
            "six.asc",
            "--to",
            "four.asc",
            "-o",
            "x.asc",
        ],
    );
    expect_code(&out, 1);
    assert!(stderr(&out).contains("--aead"), "{}", stderr(&out));
    let out = embargo(
        d,
        [
            "seal",
            "report.md",
            "--to",
            "six.asc",
            "--to",
            "four.asc",
            "--aead",
            "-o",
            "both.asc",
        ],
    );
    expect_code(&out, 0);
    assert!(stderr(&out).contains("using SEIPDv2"), "{}", stderr(&out));
    for (key, out_dir) in [("six-secret.asc", "by-six"), ("four-secret.asc", "by-four")] {
        let out = embargo(d, ["open", "both.asc", "--key", key, "-o", out_dir]);
        expect_code(&out, 0);
    }
}
