//! The `embargo` command: argument parsing and printing around embargo-core.

use std::fs::{self, File};
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use embargo_core::export::EmailEnvelope;
use embargo_core::keys::{self, KeyError, Signer};
use embargo_core::open::{self, OpenError, OpenRequest, SignatureStatus};
use embargo_core::openpgp::crypto::Password;
use embargo_core::report::Report;
use embargo_core::seal::{self, OutputFormat, SealRequest};
use embargo_core::store::Store;
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(
    name = "embargo",
    version,
    about = "Report vulnerabilities confidentially: write, check, seal and open OpenPGP-encrypted reports"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a report template to fill in.
    New {
        /// Program whose policy the template follows.
        #[arg(long, default_value = "novu")]
        program: String,
        /// Where to write it (default: standard output). Never overwrites.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Validate a report and check it against its program's scope and rules.
    ///
    /// Exit 0 when clean, 1 with findings, 2 when the file cannot be read or parsed.
    Check {
        /// The report file.
        report: PathBuf,
    },
    /// Seal a report: build the bundle, optionally sign, encrypt to the team's key.
    Seal {
        /// The report file.
        report: PathBuf,
        /// Team certificate file (armored or binary); repeat for several. Default: the key pinned
        /// for the report's program in the data directory.
        #[arg(long = "to", value_name = "CERT_FILE")]
        to: Vec<PathBuf>,
        /// File to attach; repeat for several.
        #[arg(long = "attach", value_name = "FILE")]
        attach: Vec<PathBuf>,
        /// Your secret key to sign with (its public key travels in the bundle).
        #[arg(long, value_name = "KEY_FILE")]
        sign_with: Option<PathBuf>,
        /// Sign even though credit is "anonymous" (use a separate pseudonymous key).
        #[arg(long)]
        sign_anyway: bool,
        /// Also encrypt to your own key, so you can read back what you sent.
        #[arg(long)]
        encrypt_to_self: bool,
        /// File whose first line is the signing key's passphrase.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Fmt::Armor)]
        format: Fmt,
        /// `To:` of the email (default: the program's contact).
        #[arg(long, value_name = "ADDR")]
        mail_to: Option<String>,
        /// `From:` of the email (default: left for your mail client).
        #[arg(long, value_name = "ADDR")]
        mail_from: Option<String>,
        /// Use SEIPDv2 (AEAD) for v4 keys that advertise it. GnuPG cannot read SEIPDv2.
        #[arg(long)]
        aead: bool,
        /// Replace the output file if it exists.
        #[arg(long)]
        force: bool,
        /// Where to write the sealed message.
        #[arg(long, short, required = true)]
        output: PathBuf,
    },
    /// Open a sealed report with the team's secret key (team side).
    ///
    /// Exit 0 opened, 1 usage or unreadable input, 3 integrity failure or no matching secret key,
    /// 4 bad signature (or missing/unknown with --require-signature).
    Open {
        /// The message: armored, binary or a PGP/MIME .eml.
        message: PathBuf,
        /// The team's secret key file.
        #[arg(long, required = true, value_name = "SECRET_KEY_FILE")]
        key: Vec<PathBuf>,
        /// The researcher's certificate, to verify the signature independently.
        #[arg(long, value_name = "CERT_FILE")]
        verify_with: Vec<PathBuf>,
        /// File whose first line is the secret key's passphrase.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        /// Refuse a message without a good signature.
        #[arg(long)]
        require_signature: bool,
        /// Cap on decrypted bytes (suffixes K, M, G).
        #[arg(long, default_value = "4G", value_parser = parse_size)]
        max_size: u64,
        /// Directory to write into; must be new or empty.
        #[arg(long, short, required = true, value_name = "DIR")]
        output: PathBuf,
    },
    /// Inspect or make keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Programs in the data directory (shared with the desktop app).
    #[command(subcommand)]
    Program(ProgramCommand),
}

#[derive(Subcommand)]
enum ProgramCommand {
    /// List programs and their pinned team keys.
    List,
    /// Pin a program's team key after comparing its fingerprint with one the team published.
    Pin {
        /// Program id.
        #[arg(long)]
        program: String,
        /// The team's certificate file.
        #[arg(long)]
        key: PathBuf,
        /// The full fingerprint you compared (spaces allowed): the confirmation.
        #[arg(long)]
        fingerprint: String,
        /// Replace a pinned key whose primary key differs.
        #[arg(long)]
        replace: bool,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Show what a certificate is: fingerprint, user IDs, algorithms, dates, the format it gets.
    Show {
        /// Certificate file.
        file: PathBuf,
    },
    /// Generate a key (Ed25519 signing, X25519 encryption) — e.g. a team key for testing.
    Generate {
        /// User ID, e.g. "Security Team <security@example.org>".
        #[arg(long)]
        userid: String,
        /// rfc4880: a v4 key every OpenPGP tool reads; rfc9580: a v6 key (messages to it use
        /// SEIPDv2; GnuPG cannot use it).
        #[arg(long, default_value_t = keys::KeyProfile::Rfc4880)]
        profile: keys::KeyProfile,
        /// Secret key output (armored).
        #[arg(long, short)]
        output: PathBuf,
        /// Public certificate output (armored).
        #[arg(long)]
        public: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Fmt {
    Armor,
    Binary,
    Email,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M') => (&s[..s.len() - 1], 1 << 20),
        Some('G') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("`{s}` is not a size (e.g. 500M, 4G)"))
}

/// A failure: problem, remedy, exit code.
struct Failure {
    message: String,
    hint: Option<String>,
    code: u8,
}

impl Failure {
    fn new(code: u8, message: impl ToString, hint: Option<&str>) -> Failure {
        Failure {
            message: message.to_string(),
            hint: hint.map(str::to_owned),
            code,
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            if !e.use_stderr() {
                return ExitCode::SUCCESS;
            }
            // `check` reserves 1 for findings; elsewhere usage errors are 1.
            let check = std::env::args().nth(1).as_deref() == Some("check");
            return ExitCode::from(if check { 2 } else { 1 });
        }
    };
    match run(cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("error: {}", f.message);
            if let Some(h) = f.hint {
                eprintln!("hint: {h}");
            }
            ExitCode::from(f.code)
        }
    }
}

fn run(command: Command) -> Result<u8, Failure> {
    match command {
        Command::New { program, output } => cmd_new(&program, output.as_deref()),
        Command::Check { report } => cmd_check(&report),
        Command::Seal {
            report,
            to,
            attach,
            sign_with,
            sign_anyway,
            encrypt_to_self,
            passphrase_file,
            format,
            mail_to,
            mail_from,
            aead,
            force,
            output,
        } => {
            let report_path = report;
            let report = read_report(&report_path).map_err(|f| Failure { code: 1, ..f })?;
            let store = store()?;
            let program = store.program(&report.program).ok();
            let mut recipients = Vec::new();
            for path in &to {
                recipients.extend(keys::read_certs(path).map_err(key_failure)?);
            }
            if to.is_empty() {
                let pinned = program
                    .as_ref()
                    .map(|p| store.team_cert(p))
                    .transpose()
                    .map_err(|e| Failure::new(1, e, None))?
                    .flatten();
                recipients.push(pinned.ok_or_else(|| {
                    Failure::new(
                        1,
                        format!(
                            "no --to given and program `{}` has no confirmed team key",
                            report.program
                        ),
                        Some("pass --to TEAM_CERT, or pin one with `embargo program pin`"),
                    )
                })?);
            }
            let signer = match &sign_with {
                Some(path) => {
                    let tsk = keys::read_secret_key(path).map_err(key_failure)?;
                    let mut ask = passphrase_source(passphrase_file.as_deref())?;
                    Some(Signer::from_tsk(&tsk, &mut ask).map_err(key_failure)?)
                }
                None => None,
            };
            let output_format = match format {
                Fmt::Armor => OutputFormat::Armor,
                Fmt::Binary => OutputFormat::Binary,
                Fmt::Email => {
                    let to = mail_to
                        .or_else(|| program.as_ref().and_then(|p| p.email().map(str::to_owned)))
                        .ok_or_else(|| {
                            Failure::new(
                                1,
                                format!("program `{}` has no email contact", report.program),
                                Some("give --mail-to ADDR"),
                            )
                        })?;
                    OutputFormat::Email(EmailEnvelope {
                        to,
                        from: mail_from,
                    })
                }
            };
            if let Some(program) = &program {
                for finding in report.check(program) {
                    eprintln!("warning: {}: {finding}", report_path.display());
                }
            }
            let req = SealRequest {
                report: &report,
                program: program.as_ref(),
                recipients: &recipients,
                attachments: &attach,
                signer: signer.as_ref(),
                sign_anyway,
                encrypt_to_self,
                aead,
                output: output_format,
            };
            let sealed = seal::seal_to_file(&req, &output, force, &mut |_, _| true)
                .map_err(|e| Failure::new(1, &e, e.hint()))?;
            for fp in &sealed.recipients {
                eprintln!("encrypted to {fp} using {}", sealed.format);
            }
            if let Some(fp) = &sealed.signer {
                eprintln!("signed by {fp}");
            }
            for a in &sealed.attachments {
                eprintln!(
                    "attached {} ({} bytes, {}, sha256 {})",
                    a.name, a.size, a.content_type, a.sha256
                );
            }
            eprintln!("wrote {}", output.display());
            Ok(0)
        }
        Command::Open {
            message,
            key,
            verify_with,
            passphrase_file,
            require_signature,
            max_size,
            output,
        } => {
            let input = File::open(&message).map_err(|e| {
                Failure::new(1, format!("cannot read {}: {e}", message.display()), None)
            })?;
            let mut secret_keys = Vec::new();
            for path in &key {
                secret_keys.push(keys::read_secret_key(path).map_err(key_failure)?);
            }
            let mut signers = Vec::new();
            for path in &verify_with {
                signers.extend(keys::read_certs(path).map_err(key_failure)?);
            }
            let mut ask = passphrase_source(passphrase_file.as_deref())?;
            let req = OpenRequest {
                secret_keys: &secret_keys,
                verify_with: &signers,
                passphrase: &mut ask,
                output_dir: &output,
                max_size,
                require_signature,
            };
            match open::open(input, req) {
                Ok(opened) => {
                    eprintln!(
                        "decrypted with {} ({})",
                        opened.decrypted_with, opened.format
                    );
                    match &opened.signature {
                        SignatureStatus::None | SignatureStatus::Unknown { .. } => {
                            eprintln!("warning: {}", opened.signature)
                        }
                        other => eprintln!("{other}"),
                    }
                    if let Some(name) = &opened.single_file {
                        eprintln!(
                            "not an Embargo report bundle: wrote the plaintext as one file, {name}"
                        );
                    }
                    if let Some(title) = &opened.title {
                        eprintln!("report: {title}");
                    }
                    for f in &opened.files {
                        println!("{}", output.join(f).display());
                    }
                    Ok(0)
                }
                Err(e) => {
                    let code = match &e {
                        OpenError::NoMatchingKey { .. }
                        | OpenError::Integrity(_)
                        | OpenError::NotEncrypted
                        | OpenError::Inconsistent(_) => 3,
                        OpenError::Signature(_) => 4,
                        _ => 1,
                    };
                    Err(Failure::new(code, &e, e.hint()))
                }
            }
        }
        Command::Program(ProgramCommand::List) => {
            for p in store()?.programs().map_err(|e| Failure::new(1, e, None))? {
                let key = p
                    .team_key
                    .as_ref()
                    .map(|k| k.fingerprint.as_str())
                    .unwrap_or("no team key");
                println!(
                    "{}\t{}\t{}\t{}",
                    p.id,
                    p.name,
                    p.email().unwrap_or("-"),
                    key
                );
            }
            Ok(0)
        }
        Command::Program(ProgramCommand::Pin {
            program,
            key,
            fingerprint,
            replace,
        }) => {
            let cert = keys::read_certs(&key).map_err(key_failure)?.remove(0);
            let given: String = fingerprint
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_uppercase();
            if given != cert.fingerprint().to_hex() {
                return Err(Failure::new(
                    1,
                    format!("{} has fingerprint {}, not {given}", key.display(), keys::grouped(&cert.fingerprint())),
                    Some("compare the fingerprint with the one the team published; do not pin a key you have not verified"),
                ));
            }
            keys::encryption_keys(&cert, &keys::policy()).map_err(key_failure)?;
            let source = format!("file:{}", key.display());
            let p = store()?
                .pin_team_key(&program, &cert, &source, replace)
                .map_err(|e| {
                    Failure::new(
                        1,
                        e,
                        Some("pass --replace if the team really changed its key"),
                    )
                })?;
            eprintln!(
                "pinned {} for {}",
                keys::grouped(&cert.fingerprint()),
                p.name
            );
            Ok(0)
        }
        Command::Key(KeyCommand::Show { file }) => {
            for cert in keys::read_certs(&file).map_err(key_failure)? {
                let info = keys::describe(&cert);
                println!("fingerprint: {}", info.fingerprint_grouped);
                for uid in &info.user_ids {
                    println!("user id:     {uid}");
                }
                println!("algorithm:   {} (v{} key)", info.algorithm, info.version);
                println!("created:     {}", info.created);
                println!(
                    "expires:     {}",
                    info.expires.as_deref().unwrap_or("never")
                );
                for sub in &info.encryption_subkeys {
                    println!("encrypts to: {sub}");
                }
                println!("format:      {}", info.format);
                if let Some(problem) = &info.problem {
                    println!("unusable:    {problem}");
                }
            }
            Ok(0)
        }
        Command::Key(KeyCommand::Generate {
            userid,
            profile,
            output,
            public,
        }) => {
            let cert =
                keys::generate(&keys::KeySpec::new(&userid, profile)).map_err(key_failure)?;
            let secret = keys::armored_secret(&cert);
            write_new(&output, secret.as_bytes())?;
            if let Some(public) = public {
                let text = keys::armored_public(&cert);
                write_new(&public, text.as_bytes())?;
            }
            eprintln!(
                "generated {} ({profile}, v{} key)",
                keys::grouped(&cert.fingerprint()),
                cert.primary_key().key().version()
            );
            Ok(0)
        }
    }
}

fn store() -> Result<Store, Failure> {
    Store::open_default().map_err(|e| Failure::new(1, e, None))
}

fn cmd_new(program: &str, output: Option<&Path>) -> Result<u8, Failure> {
    let program = store()?
        .program(program)
        .map_err(|e| Failure::new(1, e, None))?;
    let text = Report::template(&program);
    match output {
        None => {
            print!("{text}");
            Ok(0)
        }
        Some(path) => {
            write_new(path, text.as_bytes())?;
            eprintln!(
                "wrote {}; fill it in, then run `embargo check {}`",
                path.display(),
                path.display()
            );
            Ok(0)
        }
    }
}

/// Reads and parses a report file; unreadable or unparsable input is exit code 2.
fn parse_report_file(path: &Path) -> Result<(Report, Vec<embargo_core::report::Finding>), Failure> {
    let bytes = fs::read(path)
        .map_err(|e| Failure::new(2, format!("cannot read {}: {e}", path.display()), None))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Failure::new(2, format!("{}: not UTF-8 text: {e}", path.display()), None))?;
    Report::parse(&text).map_err(|e| Failure::new(2, format!("{}: {e}", path.display()), None))
}

/// A report to seal: its front matter must have no structural findings.
fn read_report(path: &Path) -> Result<Report, Failure> {
    let (report, findings) = parse_report_file(path)?;
    if !findings.is_empty() {
        let listed: Vec<String> = findings
            .iter()
            .map(|f| format!("{}: {f}", path.display()))
            .collect();
        return Err(Failure::new(
            2,
            listed.join("\n"),
            Some("fix the front matter; `embargo check` lists every problem"),
        ));
    }
    Ok(report)
}

fn cmd_check(path: &Path) -> Result<u8, Failure> {
    let (report, mut findings) = parse_report_file(path)?;
    match store()
        .map_err(|f| Failure { code: 2, ..f })?
        .program(&report.program)
    {
        Ok(program) => findings.extend(report.check(&program)),
        Err(e) => {
            findings.extend(report.validate());
            findings.push(embargo_core::report::Finding::new(
                "program",
                report.line_of("program"),
                e.to_string(),
            ));
        }
    }
    for f in &findings {
        println!("{}:{f}", path.display());
    }
    if findings.is_empty() {
        eprintln!("{}: ok", path.display());
        Ok(0)
    } else {
        eprintln!("{}: {} finding(s)", path.display(), findings.len());
        Ok(1)
    }
}

fn key_failure(e: KeyError) -> Failure {
    let hint = e.hint();
    Failure::new(1, &e, hint)
}

/// Passphrases come from the file's first line, else from the terminal, else not at all.
fn passphrase_source(file: Option<&Path>) -> Result<Box<keys::PassphraseFn<'static>>, Failure> {
    match file {
        Some(path) => {
            let text = Zeroizing::new(fs::read_to_string(path).map_err(|e| {
                Failure::new(
                    1,
                    format!("cannot read passphrase file {}: {e}", path.display()),
                    None,
                )
            })?);
            let first = Zeroizing::new(text.lines().next().unwrap_or("").to_owned());
            Ok(Box::new(move |_| Some(Password::from(first.as_str()))))
        }
        None => Ok(Box::new(|what: &str| {
            if !io::stdin().is_terminal() {
                return None;
            }
            rpassword::prompt_password(format!("passphrase for {what}: "))
                .ok()
                .map(|p| {
                    let p = Zeroizing::new(p);
                    Password::from(p.as_str())
                })
        })),
    }
}

/// Writes a new file atomically; never replaces an existing one.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    if path.exists() {
        return Err(Failure::new(
            1,
            format!("{} already exists", path.display()),
            Some("choose another name"),
        ));
    }
    embargo_core::store::atomic_write(path, bytes).map_err(|e| Failure::new(1, e, None))
}
