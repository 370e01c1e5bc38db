//! The fuzz targets' bodies: each takes arbitrary bytes, calls embargo-core's public API and
//! asserts what must hold for every input. `fuzz/fuzz_targets/*.rs` (cargo-fuzz, nightly) and the
//! corpus replay in `it/fuzz_corpus.rs` (stable) call the same functions.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use embargo_core::bundle::hex;
use embargo_core::bundle::read::{identify, read_rest, AttachmentSink};
use embargo_core::mime::MimeReader;
use embargo_core::open::{open, OpenRequest};
use embargo_core::openpgp::Cert;
use embargo_core::report::{Finding, FindingCode, Report, SCHEMA};
use embargo_core::text::{first_unsafe, safe_file_name};
use sha2::{Digest, Sha256};

pub use embargo_core::policy_md::fuzz_import as policy_md_import;
pub use embargo_core::scrub::fuzz_scrub as scrub;
pub use embargo_core::securitytxt::fuzz_parse as securitytxt_parse;

/// A fuzz target: its name (the directory of its corpus and of its file in `fuzz/fuzz_targets/`)
/// and its body.
/// A fuzz target's body.
pub type Body = fn(&[u8]);

pub const TARGETS: &[(&str, Body)] = &[
    ("report_parse", report_parse),
    ("bundle_read", bundle_read),
    ("open_message", open_message),
    ("securitytxt_parse", securitytxt_parse),
    ("policy_md_import", policy_md_import),
    ("scrub", scrub),
];

/// `fuzz/corpus/<target>` in the source tree.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// A report file: what parses is validated and linted, and written back with `to_markdown`,
/// which must parse again, without findings, into the same report.
pub fn report_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((report, _)) = Report::parse(text) else {
        return;
    };
    let lint = report.lint();
    let markdown = report.to_markdown();
    let (again, findings) = Report::parse(&markdown)
        .unwrap_or_else(|e| panic!("to_markdown() does not parse again: {e}\n{markdown}"));
    assert!(
        findings.is_empty(),
        "to_markdown() parses with findings {findings:?}\n{markdown}"
    );
    // `to_markdown` writes the current schema when the report had none (or one not read).
    let mut want = serde_json::to_value(&report).expect("a report serializes");
    if report.schema == 0 {
        want["schema"] = SCHEMA.into();
    }
    let got = serde_json::to_value(&again).expect("a report serializes");
    assert_eq!(got, want, "to_markdown() changed the report\n{markdown}");
    // The same checks find the same problems; only the line numbers may differ.
    fn problems(f: &[Finding]) -> Vec<(FindingCode, &str, &str)> {
        f.iter()
            .map(|f| (f.code, f.field.as_str(), f.message.as_str()))
            .collect()
    }
    assert_eq!(problems(&again.lint()), problems(&lint), "{markdown}");
    assert_eq!(again.to_markdown(), markdown);
}

/// Attachments kept in memory, in the order they were finished.
#[derive(Default)]
pub struct MemorySink {
    creating: Option<String>,
    /// Name and bytes of each attachment.
    pub files: Vec<(String, Vec<u8>)>,
}

impl AttachmentSink for MemorySink {
    type Writer = Vec<u8>;
    fn create(&mut self, name: &str) -> std::io::Result<Vec<u8>> {
        assert!(
            self.creating.is_none(),
            "{name} created before the last was finished"
        );
        self.creating = Some(name.to_owned());
        Ok(Vec::new())
    }
    fn finish(&mut self, writer: Vec<u8>) -> std::io::Result<()> {
        let name = self.creating.take().expect("finish follows create");
        self.files.push((name, writer));
        Ok(())
    }
}

/// Asserts that attachment names are safe and unique case-insensitively.
fn assert_safe_unique_names<'a>(names: impl IntoIterator<Item = &'a str>) {
    let mut seen = HashSet::new();
    for name in names {
        assert!(!name.is_empty(), "an empty attachment name");
        assert_eq!(safe_file_name(name), name, "an unsafe attachment name");
        assert!(seen.insert(name.to_lowercase()), "{name} twice");
    }
}

/// The decrypted bundle as `open` reads it: what reads completely has every attachment as
/// report.json lists it, under a safe, unique name; what fails says why without raw controls.
pub fn bundle_read(data: &[u8]) {
    let mut mr = MimeReader::new(data);
    let json_part = match identify(&mut mr) {
        Ok(Some(part)) => part,
        Ok(None) => return,
        Err(e) => panic!("identify fails on bytes in memory: {e}"),
    };
    let mut sink = MemorySink::default();
    match read_rest(&mut mr, &json_part, &mut sink) {
        Ok(contents) => {
            let listed = &contents.report.attachments;
            assert_eq!(contents.attachments.len(), listed.len());
            assert_eq!(sink.files.len(), listed.len());
            for ((name, bytes), (written, meta)) in sink
                .files
                .iter()
                .zip(contents.attachments.iter().zip(listed))
            {
                assert_eq!(name, written);
                assert_eq!(bytes.len() as u64, meta.size, "{name}");
                assert_eq!(hex(&Sha256::digest(bytes)), meta.sha256, "{name}");
            }
            assert_safe_unique_names(contents.attachments.iter().map(String::as_str));
            let _ = contents.report.to_report().to_markdown();
        }
        Err(e) => {
            let message = e.to_string();
            assert_eq!(first_unsafe(&message), None, "raw control in: {message:?}");
        }
    }
}

/// The committed team keys (a v4 and a v6 key, no passphrase) the corpus is sealed to.
pub fn team_keys() -> &'static [Cert] {
    static KEYS: OnceLock<Vec<Cert>> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            (
                "fuzz/keys/team-v4.asc",
                &include_bytes!("../fuzz/keys/team-v4.asc")[..],
            ),
            (
                "fuzz/keys/team-v6.asc",
                &include_bytes!("../fuzz/keys/team-v6.asc")[..],
            ),
        ]
        .into_iter()
        .flat_map(|(what, bytes)| {
            embargo_core::keys::parse_certs(bytes, what).expect("the committed team keys parse")
        })
        .collect()
    })
}

/// Every file under a directory, relative to it (a staging directory left behind shows).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("read the output directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path.strip_prefix(dir).expect("under dir").to_owned());
            }
        }
    }
    out.sort();
    out
}

/// Cap on decrypted bytes: high enough for every corpus message, low enough that a compressed
/// bomb costs milliseconds.
const MAX_OPENED: u64 = 8 << 20;

/// A message opened with the team keys into a fresh directory: it never panics, a success leaves
/// exactly the files it lists, and a failure leaves nothing at all.
pub fn open_message(data: &[u8]) {
    let out = tempfile::Builder::new()
        .prefix("embargo-fuzz-open")
        .tempdir()
        .expect("a temporary directory");
    let mut no_passphrase = |_: &str| None;
    let result = open(
        data,
        OpenRequest {
            secret_keys: team_keys(),
            verify_with: &[],
            passphrase: &mut no_passphrase,
            output_dir: out.path(),
            max_size: MAX_OPENED,
            require_signature: false,
            cancel: None,
            progress: None,
            journal: None,
        },
    );
    match result {
        Ok(opened) => {
            let mut listed = opened.files.clone();
            listed.sort();
            assert_eq!(files_under(out.path()), listed, "files written vs. listed");
            let attachments = opened
                .files
                .iter()
                .filter(|f| f.starts_with("attachments"))
                .filter_map(|f| f.file_name()?.to_str());
            assert_safe_unique_names(attachments);
        }
        Err(e) => {
            let left: Vec<_> = std::fs::read_dir(out.path())
                .expect("read the output directory")
                .map(|e| e.expect("a directory entry").file_name())
                .collect();
            assert!(left.is_empty(), "{e} and left {left:?}");
            let message = e.to_string();
            assert_eq!(first_unsafe(&message), None, "raw control in: {message:?}");
        }
    }
}
