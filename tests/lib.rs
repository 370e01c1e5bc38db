//! Support for the end-to-end tests in `it/`: the `embargo` binary, a throwaway GnuPG home,
//! sample reports, Python's `email` as a second MIME parser; the fuzz targets' bodies (`fuzzing`).

pub mod fuzzing;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// The `embargo` binary built next to this test binary (`cargo build --workspace` builds it).
pub fn embargo_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("embargo");
    assert!(
        bin.exists(),
        "{} is missing: build the workspace first (`cargo build --workspace --all-targets`)",
        bin.display()
    );
    bin
}

/// Runs `embargo` with arguments in a directory.
pub fn embargo<I, S>(dir: &Path, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(embargo_bin())
        .args(args)
        .current_dir(dir)
        // Each test gets its own data directory, never the user's.
        .env("EMBARGO_HOME", dir.join(".embargo-home"))
        .stdin(Stdio::null())
        .output()
        .expect("run embargo")
}

/// Exit code, with the output shown when the assertion fails.
pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts an exit code, printing both streams when it differs.
#[track_caller]
pub fn expect_code(out: &Output, want: i32) {
    assert_eq!(
        code(out),
        want,
        "exit code\nstdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// A program run that must exist on the machine: a missing peer fails the test, never skips it.
pub fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "`{name}` is not installed: the test command installs it (see README)"
    );
    Command::new(name)
}

/// A GnuPG home in a temporary directory.
pub struct Gpg {
    pub home: TempDir,
}

impl Default for Gpg {
    fn default() -> Gpg {
        Gpg::new()
    }
}

impl Gpg {
    pub fn new() -> Gpg {
        let home = tempfile::Builder::new()
            .prefix("gnupg")
            .tempdir_in("/tmp")
            .expect("tempdir");
        Gpg { home }
    }

    pub fn cmd(&self) -> Command {
        let mut c = tool("gpg");
        c.env("GNUPGHOME", self.home.path())
            .arg("--batch")
            .arg("--yes")
            .arg("--no-tty")
            .arg("--pinentry-mode")
            .arg("loopback");
        c
    }

    /// Runs gpg and insists on success.
    #[track_caller]
    pub fn run<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&self, args: I) -> Output {
        let out = self.cmd().args(args).output().expect("run gpg");
        assert!(out.status.success(), "gpg failed: {}", stderr(&out));
        out
    }

    /// Makes a key: `algo` is gpg's (`ed25519`, `rsa4096`); `enc` adds that encryption subkey.
    pub fn generate(
        &self,
        uid: &str,
        algo: &str,
        usage: &str,
        enc: Option<&str>,
        extra: &[&str],
    ) -> String {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend([
            "--passphrase",
            "",
            "--quick-gen-key",
            uid,
            algo,
            usage,
            "never",
        ]);
        self.run(&args);
        let fpr = self.fingerprint(uid);
        if let Some(enc) = enc {
            let mut args: Vec<&str> = extra.to_vec();
            args.extend([
                "--passphrase",
                "",
                "--quick-add-key",
                &fpr,
                enc,
                "encr",
                "never",
            ]);
            self.run(&args);
        }
        fpr
    }

    pub fn fingerprint(&self, uid: &str) -> String {
        let out = self.run(["--with-colons", "--list-keys", uid]);
        stdout(&out)
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .expect("fingerprint")
            .to_owned()
    }

    pub fn export(&self, who: &str, path: &Path) {
        self.run([
            "--armor",
            "--output",
            path.to_str().unwrap(),
            "--export",
            who,
        ]);
    }

    pub fn export_secret(&self, who: &str, path: &Path) {
        self.run([
            "--armor",
            "--output",
            path.to_str().unwrap(),
            "--export-secret-keys",
            who,
        ]);
    }
}

/// Pins `team.asc` (in `dir`) as Novu's team key with the fingerprint read from the file, as a
/// researcher does who compared it; the pin must succeed.
pub fn pin_team_asc(dir: &Path) {
    let fpr = embargo_core::keys::read_certs(&dir.join("team.asc")).expect("team.asc")[0]
        .fingerprint()
        .to_hex();
    expect_code(&embargo(dir, pin_novu("team.asc", &fpr)), 0);
}

/// `embargo program pin` for Novu: the key file and the fingerprint typed.
pub fn pin_novu<'a>(key: &'a str, fingerprint: &'a str) -> [&'a str; 8] {
    [
        "program",
        "pin",
        "--program",
        "novu",
        "--key",
        key,
        "--fingerprint",
        fingerprint,
    ]
}

/// A report that passes `embargo check` for Novu.
pub fn report_text(title: &str, credit: &str) -> String {
    format!(
        "+++\nschema = 1\nprogram = \"novu\"\ntitle = \"{title}\"\nassets = [\"https://web.novu.co/workflows\"]\nclass = \"idor\"\ncwe = \"CWE-639\"\ncvss = \"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N\"\ncredit = {credit}\nattestations = [\"no-automated-scanning\", \"no-exploitation\", \"confidential-until-fixed\", \"no-social-engineering-or-dos\"]\nscope_confirmations = []\n+++\n## Summary\n\nAny member can read another tenant's workflow by changing its id. Ünïcödé stays intact.\n\n## Steps to reproduce\n\n1. Log in as tenant A.\n2. GET /v1/workflows/<id of tenant B>.\n\n## Impact\n\nCross-tenant data disclosure.\n"
    )
}

/// Deterministic pseudo-random bytes (incompressible, with every byte value and CR/LF pairs).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i % 4099 == 0 {
                b'\r'
            } else if i % 4099 == 1 {
                b'\n'
            } else {
                (x >> 24) as u8
            }
        })
        .collect()
}

/// A scratch directory.
pub fn scratch() -> TempDir {
    tempfile::Builder::new()
        .prefix("embargo-it")
        .tempdir()
        .expect("tempdir")
}

/// Lists every file under a directory, relative.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Parses a MIME bundle with Python's `email` package and returns `name<TAB>sha256` per part,
/// the way its documentation says to parse a file, so tests can check the parts byte for byte.
pub fn python_parts(bundle: &Path) -> Vec<(String, String)> {
    let script = r#"
import email, email.policy, hashlib, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)
assert m.get_content_type() == 'multipart/mixed', m.get_content_type()
print('subject\t' + str(m['subject']))
for part in m.iter_parts():
    name = part.get_filename() or part.get_content_type()
    data = part.get_payload(decode=True)
    print(name + '\t' + hashlib.sha256(data).hexdigest())
"#;
    let out = tool("python3")
        .arg("-c")
        .arg(script)
        .arg(bundle)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python email failed: {}",
        stderr(&out)
    );
    stdout(&out)
        .lines()
        .map(|l| {
            let (a, b) = l.split_once('\t').expect("tab");
            (a.to_owned(), b.to_owned())
        })
        .collect()
}

/// Hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where the end-to-end tests write screenshots: `$CARGO_TARGET_DIR/screenshots` (beside the
/// binaries), never the source tree.
pub fn screenshot_dir() -> PathBuf {
    embargo_bin()
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("screenshots")
}

/// A run as a person sees it, for whole-text snapshots: the exit code, then stdout and stderr,
/// with what differs between runs replaced — the scratch directory by `$DIR`, fingerprints by
/// `$FPR`, key IDs by `$KEYID`, SHA-256 digests by `$SHA256`, references by `$REF`.
pub fn shown_run(out: &Output, dir: &Path) -> String {
    let mut text = format!("exit {}\n", code(out));
    let stdout = stdout(out);
    if !stdout.is_empty() {
        text += "--- stdout\n";
        text += &stdout;
    }
    let stderr = stderr(out);
    if !stderr.is_empty() {
        text += "--- stderr\n";
        text += &stderr;
    }
    let text = ungroup_fingerprints(&text.replace(&dir.display().to_string(), "$DIR"));
    let words: Vec<String> = text
        .split_inclusive(|c: char| !c.is_ascii_alphanumeric() && c != '-')
        .map(|w| {
            let (core, tail) = w.split_at(
                w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-')
                    .len(),
            );
            let hex = |n: usize| core.len() == n && core.bytes().all(|b| b.is_ascii_hexdigit());
            let core = if hex(64) && core.bytes().all(|b| !b.is_ascii_uppercase()) {
                "$SHA256".to_owned()
            } else if hex(40) || hex(64) {
                "$FPR".to_owned()
            } else if hex(16) && core.bytes().any(|b| b.is_ascii_digit()) {
                "$KEYID".to_owned()
            } else if core.len() == 13 && core.starts_with("EMB-") {
                "$REF".to_owned()
            } else {
                core.to_owned()
            };
            core + tail
        })
        .collect();
    words.concat()
}

/// Fingerprints shown in groups of four (`ABCD 1234 …`, ten or sixteen groups) become `$FPR`,
/// except the all-`AB` one tests type on purpose.
fn ungroup_fingerprints(text: &str) -> String {
    let b = text.as_bytes();
    let group = |i: usize| i + 4 <= b.len() && b[i..i + 4].iter().all(|c| c.is_ascii_hexdigit());
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let mut j = i;
        let mut groups = 0;
        while group(j) {
            groups += 1;
            j += 4;
            let spaces = b[j..].iter().take(2).take_while(|&&c| c == b' ').count();
            if spaces > 0 && group(j + spaces) {
                j += spaces;
            } else {
                break;
            }
        }
        let start_ok = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        let candidate = &text[i..j];
        if start_ok && (groups == 10 || groups == 16) && !candidate.starts_with("ABAB ABAB") {
            out += "$FPR";
            i = j;
        } else {
            let c = text[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}
