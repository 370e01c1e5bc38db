//! ARCHITECTURE.md's parity table is true: each user action is one embargo-core function that
//! both shells call. For every row: the core functions exist; every `embargo …` command the row
//! names answers `--help`, and the CLI's source calls one of the row's core functions; every app
//! command is registered with Tauri, and the app's source calls one of them; a shell without the
//! action says why.

use std::fs;
use std::path::{Path, PathBuf};

use embargo_tests::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Rust source of a directory, tests left out (`tests.rs`, `*_tests.rs`, `#[cfg(test)]`
/// modules at the end of a file).
fn source(dir: &Path) -> String {
    let mut out = String::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                if name == "tests.rs" || name.ends_with("_tests.rs") {
                    continue;
                }
                let text = fs::read_to_string(&p).unwrap();
                let code = match text.find("#[cfg(test)]") {
                    Some(i) => &text[..i],
                    None => &text[..],
                };
                out.push_str(code);
                out.push('\n');
            }
        }
    }
    out
}

/// The identifiers between backticks in a cell.
fn ticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Whether `code` calls `name(…)` (a function, or a method after a dot or `::`).
fn calls(code: &str, name: &str) -> bool {
    let bytes = code.as_bytes();
    code.match_indices(name).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let word_start = before.is_none_or(|b| !(b.is_ascii_alphanumeric() || b == b'_'));
        let rest = code[i + name.len()..].trim_start();
        word_start && (rest.starts_with('(') || rest.starts_with("::<"))
    })
}

fn defines(code: &str, name: &str) -> bool {
    code.contains(&format!("fn {name}(")) || code.contains(&format!("fn {name}<"))
}

struct Row {
    action: String,
    core: Vec<String>,
    cli: String,
    app: String,
}

fn rows() -> Vec<Row> {
    let text = fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    let start = text
        .find("| User action |")
        .expect("ARCHITECTURE.md has the parity table");
    text[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 4, "a row of four cells: {l}");
            Row {
                action: cells[0].to_owned(),
                core: ticked(cells[1]),
                cli: cells[2].to_owned(),
                app: cells[3].to_owned(),
            }
        })
        .collect()
}

fn registered_commands() -> Vec<String> {
    let lib = fs::read_to_string(repo().join("src-tauri/src/lib.rs")).unwrap();
    let start = lib.find("generate_handler![").unwrap();
    let end = start + lib[start..].find(']').unwrap();
    lib[start + "generate_handler![".len()..end]
        .split(',')
        .filter_map(|s| s.trim().rsplit("::").next().map(str::to_owned))
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn the_parity_table_is_true() {
    let core = source(&repo().join("crates/embargo-core/src"));
    let cli = source(&repo().join("crates/embargo-cli/src"));
    let app = source(&repo().join("src-tauri/src"));
    let commands = registered_commands();
    let rows = rows();
    assert!(
        rows.len() >= 20,
        "the table lists the use cases: {}",
        rows.len()
    );
    let dir = scratch();
    let mut problems = Vec::new();
    for row in &rows {
        let fns: Vec<String> = row
            .core
            .iter()
            .map(|p| p.rsplit("::").next().unwrap().to_owned())
            .collect();
        assert!(!fns.is_empty(), "{}: no core function", row.action);
        for f in &fns {
            if !defines(&core, f) {
                problems.push(format!("{}: embargo-core defines no `{f}`", row.action));
            }
        }
        let reaches = |code: &str| fns.iter().any(|f| calls(code, f));
        // The CLI.
        if let Some(why) = row.cli.strip_prefix('—') {
            assert!(
                why.trim().len() > 10,
                "{}: say why the CLI lacks it",
                row.action
            );
        } else {
            for c in ticked(&row.cli) {
                let words: Vec<&str> = c.split_whitespace().collect();
                assert_eq!(words[0], "embargo", "{}: {c}", row.action);
                let mut args: Vec<&str> = words[1..].to_vec();
                args.push("--help");
                let out = embargo(dir.path(), &args);
                if code(&out) != 0 {
                    problems.push(format!(
                        "{}: `{c} --help` fails: {}",
                        row.action,
                        stderr(&out)
                    ));
                }
            }
            if !reaches(&cli) {
                problems.push(format!("{}: the CLI calls none of {fns:?}", row.action));
            }
        }
        // The app.
        if let Some(why) = row.app.strip_prefix('—') {
            assert!(
                why.trim().len() > 10,
                "{}: say why the app lacks it",
                row.action
            );
        } else {
            for c in ticked(&row.app) {
                if !commands.contains(&c) {
                    problems.push(format!(
                        "{}: the app registers no command `{c}`",
                        row.action
                    ));
                }
            }
            if !reaches(&app) {
                problems.push(format!("{}: the app calls none of {fns:?}", row.action));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "ARCHITECTURE.md's parity table is wrong:\n{}",
        problems.join("\n")
    );
}

/// The checker itself can fail: a row naming a function nobody calls, or a command that does
/// not exist, is caught.
#[test]
fn the_parity_check_notices_what_is_missing() {
    assert!(calls("let x = usecase::submit(&store, job)", "submit"));
    assert!(calls("store.programs()?", "programs"));
    assert!(!calls("list_programs(state)", "programs"));
    assert!(!calls("fn submit_report()", "submit"));
    assert!(defines("pub async fn follow_up(", "follow_up"));
    assert!(!defines("follow_up(x)", "follow_up"));
    assert_eq!(ticked("`a`, `b c`"), ["a", "b c"]);
    assert!(registered_commands().contains(&"submit_report".to_owned()));
    assert!(!registered_commands().contains(&"report_status".to_owned()));
}
