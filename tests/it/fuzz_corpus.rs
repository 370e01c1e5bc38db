//! The fuzz corpora replayed on stable: every file in `fuzz/corpus/<target>/` goes through the
//! same body the cargo-fuzz target runs (`embargo_tests::fuzzing`), so an input that once crashed
//! stays fixed without a nightly toolchain.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use embargo_tests::fuzzing::{corpus_dir, TARGETS};

fn replay(target: &str) {
    let (_, body) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a target of embargo_tests::fuzzing");
    let dir = corpus_dir(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    let failed: Vec<String> = files
        .iter()
        .filter(|f| {
            let data = std::fs::read(f).expect("read a corpus file");
            catch_unwind(AssertUnwindSafe(|| body(&data))).is_err()
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{target} fails on {failed:#?}");
}

#[test]
fn every_fuzz_target_has_a_body_and_a_corpus() {
    let targets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/fuzz_targets");
    let mut files: Vec<String> = std::fs::read_dir(&targets)
        .expect("fuzz/fuzz_targets")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    let mut want: Vec<String> = TARGETS.iter().map(|(n, _)| format!("{n}.rs")).collect();
    want.sort();
    assert_eq!(
        files, want,
        "fuzz/fuzz_targets/ and fuzzing::TARGETS differ"
    );
}

#[test]
fn fuzz_corpus_report_parse() {
    replay("report_parse");
}

#[test]
fn fuzz_corpus_bundle_read() {
    replay("bundle_read");
}

#[test]
fn fuzz_corpus_open_message() {
    replay("open_message");
}

#[test]
fn fuzz_corpus_securitytxt_parse() {
    replay("securitytxt_parse");
}

#[test]
fn fuzz_corpus_policy_md_import() {
    replay("policy_md_import");
}

#[test]
fn fuzz_corpus_scrub() {
    replay("scrub");
}
