//! Reports: parse, check against the store's programs, and the editor's readiness.

use crate::ids::ProgramId;
use crate::program::{Program, ProgramError};
use crate::report::{Finding, FindingCode, Report, ReportError};
use crate::store::{Store, StoreError};
use crate::text::Shown;

/// A report and everything `check` says about it.
#[derive(Debug)]
pub struct Checked {
    /// The report.
    pub report: Report,
    /// Its program, when the store has it.
    pub program: Option<Program>,
    /// Field errors, recommendations, and the program's scope and rules, in that order.
    pub findings: Vec<Finding>,
}

/// Why a report could not be checked at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The file is not a report.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The program's file in the data directory is broken (the error names the file).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Parses report text and checks it (see [`check`]). Structural problems of single fields are
/// findings; only text that is not a report at all is an error.
pub fn check_text(store: &Store, text: &str) -> Result<Checked, CheckError> {
    let (report, mut findings) = Report::parse(text)?;
    let checked = check(store, report)?;
    findings.extend(checked.findings);
    Ok(Checked {
        findings,
        ..checked
    })
}

/// Why report text cannot be sealed as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseReportError {
    /// Not a report at all.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Front matter with keys of the wrong type, unknown keys or an unsupported schema: sealing
    /// would drop them, so they must be fixed first.
    #[error("{}", .0.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("\n"))]
    FrontMatter(Vec<Finding>),
}

/// Parses report text for sealing: any structural finding in the front matter is an error.
pub fn parse_report(text: &str) -> Result<Report, ParseReportError> {
    let (report, findings) = Report::parse(text)?;
    if findings.is_empty() {
        Ok(report)
    } else {
        Err(ParseReportError::FrontMatter(findings))
    }
}

/// Checks a report: its fields, the recommended content, and its program's scope and rules. An
/// unknown program is a finding; a program file that does not parse is an error naming it.
pub fn check(store: &Store, report: Report) -> Result<Checked, StoreError> {
    let mut findings = report.lint();
    let mut program = None;
    if ProgramId::parse(&report.program).is_ok() {
        match store.program(&report.program) {
            Ok(p) => {
                findings.extend(p.check(&report));
                program = Some(p);
            }
            Err(StoreError::Program(ProgramError::Unknown(id))) => findings.push(
                Finding::new(
                    FindingCode::UnknownProgram,
                    "program",
                    report.line_of("program"),
                    format!("unknown program `{}`", Shown(&id)),
                )
                .hint("`embargo program list` shows the programs you have"),
            ),
            Err(e) => return Err(e),
        }
    }
    Ok(Checked {
        report,
        program,
        findings,
    })
}

/// A draft as an editor sees it: findings, score, and whether it can be sealed now.
#[derive(Debug)]
pub struct DraftCheck {
    /// The report, tidied (see [`Report::tidied`]).
    pub report: Report,
    /// Its program, when known.
    pub program: Option<Program>,
    /// Everything `check` says.
    pub findings: Vec<Finding>,
    /// The CVSS score when the vector parses.
    pub cvss: Option<crate::report::CvssScore>,
    /// Given or derived severity.
    pub severity: Option<String>,
    /// Nothing open at all, and a confirmed team key to seal to.
    pub ready_to_seal: bool,
    /// A seal would go through if the researcher insists ("Seal anyway"): a usable team key and
    /// no structural error; only policy findings are open. The gate is the app's; the CLI prints
    /// findings and seals (scripts rely on it).
    pub sealable_anyway: bool,
}

/// Checks a draft for an editor.
pub fn check_draft(store: &Store, draft: &Report) -> Result<DraftCheck, StoreError> {
    let checked = check(store, draft.tidied())?;
    let has_key = checked
        .program
        .as_ref()
        .is_some_and(|p| p.has_team_key() && p.key_alarm.is_none());
    // Honest readiness: ready only when nothing is open (scope, rules, recommended sections
    // included); with only such findings open the app may still seal when the researcher says
    // "Seal anyway" — the malformed ones block even that.
    let sealable_anyway = has_key && !checked.findings.iter().any(Finding::blocks_sealing);
    let ready_to_seal = has_key && checked.findings.is_empty();
    Ok(DraftCheck {
        sealable_anyway,
        cvss: checked
            .report
            .cvss
            .as_deref()
            .and_then(|v| crate::report::parse_cvss(v).ok()),
        severity: checked.report.effective_severity(),
        ready_to_seal,
        report: checked.report,
        program: checked.program,
        findings: checked.findings,
    })
}
