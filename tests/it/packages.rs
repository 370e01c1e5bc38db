//! The release packages as a user installs them: `scripts/package.sh` builds them (the test
//! command runs it before the tests), this installs them with apt on this machine, uses them,
//! removes them and checks that nothing is left in `/usr`. It needs root (CI runs as root) or
//! password-less sudo.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use embargo_tests::*;

use crate::app_e2e::{by, confined_env, session_with, shot, until};

/// `$CARGO_TARGET_DIR/release/bundle`, where `scripts/package.sh` leaves the packages.
fn bundle_dir() -> PathBuf {
    let dir = embargo_bin()
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("release/bundle");
    assert!(
        dir.join("SHA256SUMS.asc").exists(),
        "no packages in {}: run scripts/package.sh first (scripts/test.sh does)",
        dir.display()
    );
    dir
}

fn only_deb(dir: &Path) -> PathBuf {
    let debs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "one .deb in {}: {debs:?}", dir.display());
    debs[0].clone()
}

/// A command as root: directly when the tests run as root (CI), else through `sudo -n`.
fn as_root(program: &str) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        Command::new(program)
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", program]);
        c
    }
}

#[track_caller]
fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every path under /usr.
fn usr() -> BTreeSet<String> {
    let out = Command::new("find")
        .args(["/usr", "-xdev"])
        .output()
        .expect("find");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn package_name(deb: &Path) -> String {
    ok(
        Command::new("dpkg-deb")
            .arg("-f")
            .arg(deb)
            .arg("Package")
            .output()
            .unwrap(),
        "dpkg-deb -f",
    )
    .trim()
    .to_owned()
}

/// Installs `deb` with apt (its dependencies from the machine's packages); the seconds it took.
fn install(deb: &Path) -> f64 {
    let started = Instant::now();
    ok(
        as_root("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .arg(deb)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .unwrap(),
        "apt-get install",
    );
    started.elapsed().as_secs_f64()
}

fn remove(package: &str) {
    ok(
        as_root("apt-get")
            .args(["remove", "-y", "-q", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .unwrap(),
        "apt-get remove",
    );
}

/// What installing and removing left in /usr: nothing, or the test fails naming it.
#[track_caller]
fn nothing_left(before: &BTreeSet<String>, package: &str) {
    let after = usr();
    let left: Vec<&String> = after.difference(before).collect();
    assert!(left.is_empty(), "{package} left in /usr: {left:?}");
}

/// Both packages are signed (SHA256SUMS and its signature, checked with gpg against the
/// certificate published beside them), install with apt, work, and leave nothing in /usr once
/// removed. The app's package: the CLI checks a template against Novu's policy, the desktop
/// entry and AppStream metadata validate, and the installed app starts under Xvfb to its first
/// screen. The intake's: its unit verifies where it is installed, its system user is made.
#[tokio::test(flavor = "current_thread")]
async fn the_packages_install_work_and_leave_nothing_behind() {
    let bundle = bundle_dir();
    // The signature, checked by a peer: gpg with the release certificate in a fresh home.
    ok(
        Command::new("sha256sum")
            .args(["--quiet", "-c", "SHA256SUMS"])
            .current_dir(&bundle)
            .output()
            .unwrap(),
        "sha256sum -c",
    );
    let gnupg = scratch();
    ok(
        tool("gpg")
            .arg("--homedir")
            .arg(gnupg.path())
            .args(["--batch", "--import"])
            .arg(bundle.join("release-cert.asc"))
            .output()
            .unwrap(),
        "gpg --import",
    );
    let verified = tool("gpg")
        .arg("--homedir")
        .arg(gnupg.path())
        .args(["--batch", "--status-fd", "1", "--verify"])
        .arg(bundle.join("SHA256SUMS.asc"))
        .arg(bundle.join("SHA256SUMS"))
        .output()
        .unwrap();
    assert!(
        ok(verified, "gpg --verify").contains("[GNUPG:] GOODSIG"),
        "gpg: a good signature over SHA256SUMS"
    );
    let sums = fs::read_to_string(bundle.join("SHA256SUMS")).unwrap();
    let app_deb = only_deb(&bundle.join("deb"));
    let intake_deb = only_deb(&bundle.join("intake"));
    for deb in [&app_deb, &intake_deb] {
        let name = deb.file_name().unwrap().to_string_lossy().into_owned();
        assert!(sums.contains(&name), "{name} in SHA256SUMS");
    }

    let before = usr();

    // The desktop app and the CLI.
    let app = package_name(&app_deb);
    let seconds = install(&app_deb);
    eprintln!(
        "installed {} ({} bytes) in {seconds:.1} s",
        app_deb.display(),
        fs::metadata(&app_deb).unwrap().len()
    );
    let version = ok(
        Command::new("/usr/bin/embargo")
            .arg("--version")
            .output()
            .unwrap(),
        "embargo --version",
    );
    assert!(version.starts_with("embargo "), "{version}");
    let d = scratch();
    let home = d.path().join("home");
    the_cli_checks_a_report(d.path(), |args| {
        Command::new("/usr/bin/embargo")
            .args(args)
            .current_dir(d.path())
            .env("EMBARGO_HOME", &home)
            .output()
            .unwrap()
    });
    let desktop: Vec<PathBuf> = fs::read_dir("/usr/share/applications")
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| fs::read_to_string(p).is_ok_and(|t| t.lines().any(|l| l == "Exec=embargo-app")))
        .collect();
    assert_eq!(desktop.len(), 1, "one desktop entry runs embargo-app");
    ok(
        tool("desktop-file-validate")
            .arg(&desktop[0])
            .output()
            .unwrap(),
        "desktop-file-validate",
    );
    ok(
        tool("appstreamcli")
            .args(["validate", "--no-net"])
            .arg("/usr/share/metainfo/org.embargo.desktop.metainfo.xml")
            .output()
            .unwrap(),
        "appstreamcli validate",
    );
    // The installed app, to its first screen.
    the_app_starts(
        Path::new("/usr/bin/embargo-app"),
        &d.path().join("app"),
        "installed-first-screen",
    )
    .await;
    remove(&app);
    nothing_left(&before, &app);
    assert!(!Path::new("/usr/bin/embargo").exists());

    // The intake, its unit and its user.
    let intake = package_name(&intake_deb);
    install(&intake_deb);
    let version = ok(
        Command::new("/usr/bin/embargo-intake")
            .arg("--version")
            .output()
            .unwrap(),
        "embargo-intake --version",
    );
    assert!(version.starts_with("embargo-intake "), "{version}");
    let unit = "/usr/lib/systemd/system/embargo-intake.service";
    let verify = Command::new("systemd-analyze")
        .args(["verify", unit])
        .output()
        .unwrap();
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify {unit}: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let user = ok(
        Command::new("getent")
            .args(["passwd", "embargo-intake"])
            .output()
            .unwrap(),
        "the intake's system user",
    );
    let uid: u32 = user.split(':').nth(2).unwrap().parse().unwrap();
    assert!(uid < 1000, "a system user: {user}");
    remove(&intake);
    nothing_left(&before, &intake);
}

/// `embargo new` makes a template that `embargo check` refuses (exit 1, the findings named);
/// a filled report passes. `run` runs the installed CLI in `dir` with the given arguments.
fn the_cli_checks_a_report(dir: &Path, run: impl Fn(&[&str]) -> Output) {
    ok(run(&["new", "-o", "report.md"]), "embargo new");
    let checked = run(&["check", "report.md"]);
    // A template is not a report yet: exit 1 with the findings, title first.
    expect_code(&checked, 1);
    assert!(
        stdout(&checked).contains("title: missing title")
            && stdout(&checked).contains("no-automated-scanning"),
        "{}",
        stdout(&checked)
    );
    fs::write(dir.join("filled.md"), report_text("IDOR", "\"anonymous\"")).unwrap();
    expect_code(&run(&["check", "filled.md"]), 0);
}

/// The app at `app` (a program WebKitWebDriver starts), driven by tauri-driver to its first
/// screen (it asks what Embargo is for), its writable places under `r`; screenshot `name`.
async fn the_app_starts(app: &Path, r: &Path, name: &str) {
    let env = confined_env(r);
    let env_refs: Vec<(&str, &std::ffi::OsStr)> =
        env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    let (driver, c) = session_with(app, &env_refs).await;
    assert_eq!(c.title().await.unwrap(), "Embargo");
    by(&c, "role-ask").await;
    by(&c, "role-researcher").await;
    until(
        &c,
        "the first screen's text",
        "return document.body.innerText.includes('Embargo')",
    )
    .await;
    let shots = screenshot_dir();
    fs::create_dir_all(&shots).unwrap();
    shot(&c, &shots, name).await;
    c.close().await.unwrap();
    drop(driver);
}

/// The app's .deb on a fresh Debian 12 that has only what the package declares
/// (`scripts/fresh-debian12.sh`: apt's minimal system, then the .deb with its dependencies and
/// no recommends). Run inside it with bubblewrap (this machine's /usr out of sight; /tmp shared
/// for the X server's socket): the CLI checks a report, and the app starts under Xvfb to its
/// first screen. A library the app loads but the package does not declare fails here.
#[tokio::test(flavor = "current_thread")]
async fn the_app_deb_runs_on_a_fresh_debian_12_with_only_its_dependencies() {
    let bundle = bundle_dir();
    let deb = only_deb(&bundle.join("deb"));
    let target = bundle.parent().and_then(Path::parent).expect("target dir");
    let d = scratch();
    let system = d.path().join("debian12");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/fresh-debian12.sh");
    let started = Instant::now();
    ok(
        as_root("env")
            .arg(format!("CARGO_TARGET_DIR={}", target.display()))
            .arg(&script)
            .arg(&system)
            .arg(&deb)
            .output()
            .unwrap(),
        "scripts/fresh-debian12.sh",
    );
    eprintln!(
        "a fresh Debian 12 with {} in {:.1} s",
        deb.display(),
        started.elapsed().as_secs_f64()
    );
    // Only what Debian 12's apt variant and the package's dependencies brought.
    assert!(!system.join("usr/bin/gpg").exists(), "a minimal system");
    assert!(system.join("usr/bin/embargo").exists());
    // bubblewrap: the fresh system as /, this machine's /tmp (the X server's socket and
    // authority, the test's files) shared.
    let tmp = std::env::temp_dir();
    let work = d.path().to_owned();
    let inside = |program: &str| -> Vec<String> {
        let mut argv: Vec<String> = vec!["bwrap".into(), "--bind".into()];
        argv.push(system.display().to_string());
        argv.push("/".into());
        for a in [
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--ro-bind",
            "/sys",
            "/sys",
        ] {
            argv.push(a.into());
        }
        for shared in [Path::new("/tmp"), tmp.as_path(), work.as_path()] {
            argv.extend(["--bind".into(), shared.display().to_string()]);
            argv.push(shared.display().to_string());
        }
        argv.extend(["--chdir".into(), work.display().to_string()]);
        argv.push(program.into());
        argv
    };
    let cli = inside("/usr/bin/embargo");
    let home = work.join("home");
    the_cli_checks_a_report(&work, |args| {
        as_root(&cli[0])
            .args(&cli[1..])
            .args(args)
            .env("EMBARGO_HOME", &home)
            .output()
            .unwrap()
    });
    // WebKitWebDriver starts this program as the app: the installed app, inside.
    let launcher = work.join("embargo-app-in-debian12");
    let app = inside("/usr/bin/embargo-app");
    let quoted: Vec<String> = app.iter().map(|a| format!("'{a}'")).collect();
    fs::write(
        &launcher,
        format!("#!/bin/sh\nexec {} \"$@\"\n", quoted.join(" ")),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&launcher, fs::Permissions::from_mode(0o755)).unwrap();
    }
    the_app_starts(&launcher, &work.join("app"), "debian12-first-screen").await;
}
