//! The `embargo-sop` command: the `sop` crate's command-line frame around [`EmbargoSop`].

use std::ffi::OsString;
use std::process::ExitCode;

use embargo_sop::EmbargoSop;

/// MISSING_ARG in the specification's failure modes.
const MISSING_ARG: u8 = 19;

/// A required positional argument the frame's parser would reject with exit code 1 (clap's
/// usage error) where the specification wants MISSING_ARG: `verify` needs SIGNATURES,
/// `list-profiles` a SUBCOMMAND.
fn missing_positional(args: &[OsString]) -> Option<&'static str> {
    let args: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    let mut rest = args.iter().copied().skip_while(|a| a.starts_with('-'));
    let subcommand = rest.next()?;
    let (needed, valued): (&str, &[&str]) = match subcommand {
        "verify" => ("SIGNATURES", &["--not-before", "--not-after"]),
        "list-profiles" => ("SUBCOMMAND", &[]),
        _ => return None,
    };
    let mut positionals = 0;
    let mut skip_value = false;
    for arg in rest {
        if skip_value {
            skip_value = false;
        } else if arg == "--help" || arg == "-h" {
            return None;
        } else if valued.contains(&arg) {
            skip_value = true;
        } else if !arg.starts_with('-') || arg == "-" {
            positionals += 1;
        }
    }
    (positionals == 0).then_some(needed)
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if let Some(what) = missing_positional(&args) {
        eprintln!("embargo-sop: missing required argument {what}");
        return ExitCode::from(MISSING_ARG);
    }
    sop::cli::main(&mut EmbargoSop, sop::cli::Variant::Full)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str) -> Option<&'static str> {
        let args: Vec<OsString> = std::iter::once("embargo-sop")
            .chain(line.split_whitespace())
            .map(OsString::from)
            .collect();
        missing_positional(&args)
    }

    #[test]
    fn required_positionals_are_missing_arg() {
        assert_eq!(check("verify"), Some("SIGNATURES"));
        assert_eq!(
            check("--debug verify --not-after 2024-01-01"),
            Some("SIGNATURES")
        );
        assert_eq!(check("list-profiles"), Some("SUBCOMMAND"));
        assert_eq!(check("verify sig.asc"), None);
        assert_eq!(
            check("verify --not-before=2020-01-01 sig.asc cert.asc"),
            None
        );
        assert_eq!(check("verify --help"), None);
        assert_eq!(check("list-profiles encrypt"), None);
        assert_eq!(
            check("sign"),
            None,
            "the implementation reports missing KEYS itself"
        );
        assert_eq!(check(""), None);
    }
}
