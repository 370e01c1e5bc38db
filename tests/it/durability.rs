//! Durability beyond SIGKILL: the system calls of a real `embargo-intake` under load, traced
//! with strace, show that before each 201 is written every acknowledged report is on the disk —
//! its row in the WAL and the WAL synced after it; with the file store, also its body file
//! synced, renamed into place and the directory synced — on SQLite with bodies in the database
//! and with every body a file.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use crate::intake::{sqlite, Server, Team};

/// One system call: who, when it started and ended, what, with which arguments.
#[derive(Debug, Clone)]
struct Call {
    start: f64,
    end: f64,
    name: String,
    args: String,
}

/// Parses `strace -f -ttt -T -yy` output, joining `<unfinished ...>` and `<... resumed>` halves.
fn parse(trace: &str) -> Vec<Call> {
    let mut calls = Vec::new();
    let mut pending: HashMap<(String, String), (f64, String)> = HashMap::new();
    for line in trace.lines() {
        // strace pads the pid to five columns (`%-5d`): a four-digit pid has two spaces after it.
        let Some((pid, rest)) = line.trim_start().split_once(' ') else {
            continue;
        };
        let Some((ts, rest)) = rest.trim_start().split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        let Ok(ts) = ts.parse::<f64>() else {
            continue;
        };
        if let Some(resumed) = rest.strip_prefix("<... ") {
            let name = resumed.split(' ').next().unwrap_or_default().to_owned();
            if let Some((start, args)) = pending.remove(&(pid.to_owned(), name.clone())) {
                calls.push(Call {
                    start,
                    end: ts,
                    name,
                    args: format!("{args}{resumed}"),
                });
            }
            continue;
        }
        let Some(open) = rest.find('(') else { continue };
        let name = rest[..open].to_owned();
        if rest.ends_with("<unfinished ...>") {
            pending.insert((pid.to_owned(), name), (ts, rest.to_owned()));
            continue;
        }
        let duration = rest
            .rsplit_once(" <")
            .and_then(|(_, d)| d.strip_suffix('>'))
            .and_then(|d| d.parse::<f64>().ok())
            .unwrap_or(0.0);
        calls.push(Call {
            start: ts,
            end: ts + duration,
            name,
            args: rest.to_owned(),
        });
    }
    calls.sort_by(|a, b| a.start.total_cmp(&b.start));
    calls
}

fn is_sync(c: &Call) -> bool {
    c.name == "fsync" || c.name == "fdatasync"
}

/// The first argument's path (`-yy` prints `fd</path>`).
fn fd_path(c: &Call) -> &str {
    c.args
        .split_once('<')
        .and_then(|(_, r)| r.split_once('>'))
        .map(|(p, _)| p)
        .unwrap_or_default()
}

/// Checks every 201 of the trace; returns how many were checked.
fn check_trace(trace: &str, files: bool) -> usize {
    let calls = parse(trace);
    let acks: Vec<(&Call, String)> = calls
        .iter()
        .filter(|c| c.name == "writev" || c.name == "write" || c.name == "sendto")
        .filter(|c| c.args.contains("HTTP/1.1 201 Created"))
        .map(|c| {
            let at = c.args.find("/v1/reports/").expect("a Location header") + 12;
            (c, c.args[at..at + 26].to_owned())
        })
        .collect();
    for (ack, receipt) in &acks {
        let before = |c: &&Call| c.end <= ack.start;
        // A sync of the file whose path ends with `suffix`, begun after `after` and finished
        // before the 201.
        let synced_before_ack = |suffix: &str, after: f64| {
            calls
                .iter()
                .filter(before)
                .any(|c| is_sync(c) && fd_path(c).ends_with(suffix) && c.start >= after)
        };
        // The row: the first WAL write that carries the receipt, then a WAL sync after it.
        let row = calls
            .iter()
            .find(|c| {
                c.name.starts_with("pwrite")
                    && fd_path(c).ends_with("-wal")
                    && c.args.contains(receipt.as_str())
            })
            .unwrap_or_else(|| panic!("{receipt}: no WAL write carries it"));
        assert!(before(&row), "{receipt}: its row was written after the 201");
        assert!(
            synced_before_ack("-wal", row.end),
            "{receipt}: 201 written before the WAL was synced after its row"
        );
        if !files {
            continue;
        }
        // The body: synced, renamed into place, the directory synced — all before the 201.
        let tmp = format!("/bodies/{receipt}.tmp");
        let body_sync = calls
            .iter()
            .find(|c| is_sync(c) && fd_path(c).ends_with(&tmp))
            .unwrap_or_else(|| panic!("{receipt}: its body file was never synced"));
        let rename = calls
            .iter()
            .find(|c| c.name.starts_with("rename") && c.args.contains(&tmp))
            .unwrap_or_else(|| panic!("{receipt}: its body file was never renamed"));
        assert!(
            body_sync.end <= rename.start,
            "{receipt}: renamed before synced"
        );
        assert!(
            synced_before_ack("/bodies", rename.end),
            "{receipt}: 201 written before the body directory was synced after the rename"
        );
    }
    acks.len()
}

fn traced_burst(config: &str, files: bool) {
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@acme.test");
    let config_path = backend.dir.path().join("intake.toml");
    std::fs::write(&config_path, config).unwrap();
    let trace = backend.dir.path().join("trace");
    let trace_arg = trace.to_str().unwrap().to_owned();
    let mut server = Server::start_wrapped(
        &backend,
        &team,
        &["--config", config_path.to_str().unwrap()],
        &[
            "strace",
            "-f",
            "-ttt",
            "-T",
            "-yy",
            "-s",
            "20000",
            "-e",
            "trace=openat,write,writev,sendto,pwrite64,fsync,fdatasync,rename,renameat,renameat2",
            "-o",
            &trace_arg,
            "--",
        ],
    );
    crate::intake::intake_load(
        &server,
        &team,
        "run",
        &[
            "--size",
            "10240",
            "--concurrency",
            "8",
            "--warmup",
            "0",
            "--duration",
            "2",
        ],
    );
    // A clean stop, so that strace writes out the whole trace.
    let tracee = Command::new("pgrep")
        .args(["-P", &server.pid().to_string()])
        .output()
        .unwrap();
    let tracee = String::from_utf8_lossy(&tracee.stdout).trim().to_owned();
    assert!(!tracee.is_empty(), "no server under strace");
    Command::new("kill")
        .args(["-TERM", &tracee])
        .status()
        .unwrap();
    server.wait();
    let text = std::fs::read_to_string(Path::new(&trace)).unwrap();
    let checked = check_trace(&text, files);
    assert!(checked >= 20, "only {checked} acknowledgements traced");
    eprintln!("{checked} acknowledged reports: each durable before its 201");
}

#[test]
fn every_acknowledged_report_is_synced_before_its_201_sqlite() {
    traced_burst("", false);
}

#[test]
fn every_acknowledged_report_is_synced_before_its_201_file_store() {
    traced_burst("[storage]\nsmall_body_limit = 0\n", true);
}

/// The checker itself: a trace where the 201 comes before the WAL sync fails it.
#[test]
#[should_panic(expected = "before the WAL was synced")]
fn the_trace_check_catches_an_early_201() {
    let r = "0123456789ABCDEFGHJKMNPQRS";
    let trace = format!(
        "1     100.000000 pwrite64(5</d/intake.sqlite3-wal>, \"..{r}..\", 4096, 0) = 4096 <0.000010>\n\
         1     100.100000 writev(9<TCP:[1->2]>, [{{iov_base=\"HTTP/1.1 201 Created\\r\\nlocation: /v1/reports/{r}\\r\\n\"}}], 1) = 99 <0.000010>\n\
         1     100.200000 fdatasync(5</d/intake.sqlite3-wal>) = 0 <0.000500>\n"
    );
    check_trace(&trace, false);
}

/// And the same calls in the right order pass, with padded five-column pids.
#[test]
fn the_trace_check_passes_a_synced_201() {
    let r = "0123456789ABCDEFGHJKMNPQRS";
    let trace = format!(
        "1     100.000000 pwrite64(5</d/intake.sqlite3-wal>, \"..{r}..\", 4096, 0) = 4096 <0.000010>\n\
         1     100.100000 fdatasync(5</d/intake.sqlite3-wal>) = 0 <0.000500>\n\
         1     100.200000 writev(9<TCP:[1->2]>, [{{iov_base=\"HTTP/1.1 201 Created\\r\\nlocation: /v1/reports/{r}\\r\\n\"}}], 1) = 99 <0.000010>\n"
    );
    assert_eq!(check_trace(&trace, false), 1);
}
