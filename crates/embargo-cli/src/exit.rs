//! Exit codes: the numbers, and one table per subcommand shown in `--help` (and copied into the
//! README). A test runs every documented case and compares the code with its table.

/// Success.
pub const OK: u8 = 0;
/// Usage errors, unusable keys, I/O, anything not listed below.
pub const ERROR: u8 = 1;
/// `check`: the report has findings.
pub const FINDINGS: u8 = 1;
/// The report file cannot be read or parsed, or (for `seal`) has field errors.
pub const UNREADABLE: u8 = 2;
/// `securitytxt`: the file has problems, or its signature does not verify.
pub const PROBLEMS: u8 = 2;
/// `discover`: nothing usable was found.
pub const NOTHING_FOUND: u8 = 2;
/// `open`: integrity failure, no matching secret key, or an inconsistent bundle.
pub const INTEGRITY: u8 = 3;
/// `open`: bad signature, or missing/unknown with `--require-signature`.
pub const SIGNATURE: u8 = 4;
/// `submit`, `outbox --retry`: the intake could not be reached; the report waits in the outbox
/// (EX_TEMPFAIL).
pub const TEMPFAIL: u8 = 75;
/// Interrupted (SIGINT/SIGTERM) or cancelled; nothing was left behind.
pub const CANCELLED: u8 = 130;

pub const NEW: &str = "\
Exit codes:
  0  the template was written
  1  unknown program, the output file exists, or it cannot be written";

pub const CHECK: &str = "\
Exit codes:
  0  no findings
  1  findings (printed one per line, FILE:line N: FIELD: message)
  2  the report cannot be read or parsed, or its program's file is broken";

pub const SEAL: &str = "\
Exit codes:
  0    sealed (findings about scope and rules are printed as warnings)
  1    no usable team key, an unusable or locked signing key, unreadable attachment,
       the output exists (without --force), or it cannot be written
  2    the report cannot be read or parsed, or has field errors
  130  interrupted; nothing was written";

pub const OPEN: &str = "\
Exit codes:
  0    opened
  1    usage, unreadable input, unusable output directory, too large (--max-size)
  3    integrity failure (modified, truncated or corrupt), no matching secret key,
       or a bundle whose parts do not match its report.json
  4    bad signature; or, with --require-signature, none or an unknown signer
  130  interrupted; nothing was written";

pub const PLAIN: &str = "\
Exit codes:
  0  done
  1  error";

pub const SECURITYTXT: &str = "\
Exit codes:
  0  read, no problems
  1  cannot be read or fetched
  2  read, with problems (listed), or its signature does not verify";

pub const DISCOVER: &str = "\
Exit codes:
  0  at least one usable key was found (problems, such as sources that disagree, are listed)
  1  bad input or network settings
  2  nothing usable was found (--request-key prints an email asking the team for a key)";

pub const SUBMIT: &str = "\
Exit codes:
  0   submitted: the receipt and status token are printed and kept
  1   not sealed (no usable key, unreadable attachment…), no intake endpoint, a bad intake URL,
      or a refusal the intake will not change its mind about (the report stays in the outbox)
  2   the report cannot be read or parsed, or has field errors
  75  the intake could not be reached in time: queued in the outbox, safe (`embargo outbox --retry`)";

pub const OUTBOX: &str = "\
Exit codes:
  0   listed; or, with --retry, every queued report was delivered
  1   error (a record that cannot be read is named)
  75  with --retry: some reports are still queued";

pub const STATUS: &str = "\
Exit codes:
  0  every status was fetched
  1  an intake could not be asked, or a record cannot be read";

pub const PULL: &str = "\
Exit codes:
  0  every new report was fetched and opened
  1  the intake or the output directory failed
  3  a report could not be opened (kept as DIR/RECEIPT.pgp, tried again by the next pull)";

pub const PROGRAM_ADD: &str = "\
Exit codes:
  0  the program was saved (its candidates are listed for pinning)
  1  error: discovery or the data directory failed
  2  saved, but no usable key was found (a key request is printed)
  4  a different key than the pinned one was found: the program is marked and seal refuses";
