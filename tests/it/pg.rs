//! A throwaway PostgreSQL cluster for the intake tests: initdb into a temporary directory as
//! the unprivileged `postgres` user when running as root (CI), TCP on 127.0.0.1 at a free port,
//! stopped with `pg_ctl -m immediate` when dropped.

use crate::intake::free_port;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use tempfile::TempDir;

/// The newest PostgreSQL server binaries installed by Debian's `postgresql` package.
fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): \
             the test command installs the `postgresql` package (see README)"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL program as the `postgres` user when we are root (the server refuses to
/// run as root), else as ourselves.
fn pg_command(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    }
}

#[track_caller]
fn check(out: Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct PgCluster {
    dir: TempDir,
    bin: PathBuf,
    pub port: u16,
    next_db: AtomicUsize,
}

impl PgCluster {
    pub fn start() -> PgCluster {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("embargo-pg")
            .tempdir_in("/tmp")
            .expect("tempdir");
        if is_root() {
            let ids = Command::new("id")
                .args(["-u", "postgres"])
                .output()
                .expect("id");
            let uid: u32 = String::from_utf8_lossy(&ids.stdout)
                .trim()
                .parse()
                .expect("the `postgres` user exists (the postgresql package creates it)");
            let gids = Command::new("id")
                .args(["-g", "postgres"])
                .output()
                .expect("id");
            let gid: u32 = String::from_utf8_lossy(&gids.stdout)
                .trim()
                .parse()
                .expect("postgres group");
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
        }
        let data = dir.path().join("data");
        check(
            pg_command(&bin, "initdb")
                .arg("-D")
                .arg(&data)
                .args(["--auth=trust", "--username=postgres", "--encoding=UTF8"])
                .output()
                .expect("run initdb"),
            "initdb",
        );
        let port = free_port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300",
            dir.path().display()
        );
        check(
            pg_command(&bin, "pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(dir.path().join("log"))
                .args(["-w", "-t", "60", "-o", &options, "start"])
                .output()
                .expect("run pg_ctl"),
            "pg_ctl start",
        );
        PgCluster {
            dir,
            bin,
            port,
            next_db: AtomicUsize::new(0),
        }
    }

    /// A new, empty database and its URL.
    pub fn database(&self) -> String {
        let name = format!("intake{}", self.next_db.fetch_add(1, Ordering::Relaxed));
        check(
            Command::new(self.bin.join("createdb"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                ])
                .arg(&name)
                .output()
                .expect("run createdb"),
            "createdb",
        );
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs SQL with psql and returns its unaligned output.
    pub fn psql(&self, url: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                url,
                "-c",
                sql,
            ])
            .output()
            .expect("run psql");
        check(out.clone(), "psql");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = pg_command(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}
