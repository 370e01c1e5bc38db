//! The `embargo` command: argument parsing and printing around embargo-core's use cases.

mod deliver;
mod discover;
mod exit;
mod failure;
mod program;
mod term;
mod vault;

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use embargo_core::bundle::Attachment;
use embargo_core::keys::{self, Signer};
use embargo_core::open::{OpenRequest, SignatureStatus};
use embargo_core::store::Store;
use embargo_core::text::Shown;
use embargo_core::usecase::{self, Delivery, SealJob};

use failure::Failure;

#[derive(Parser)]
#[command(
    name = "embargo",
    version,
    about = "Report vulnerabilities confidentially: write, check, seal and open OpenPGP-encrypted reports"
)]
struct Cli {
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a report template to fill in.
    #[command(after_help = exit::NEW)]
    New {
        /// Program whose policy the template follows.
        #[arg(long, default_value = embargo_core::program::DEFAULT_PROGRAM)]
        program: String,
        /// Where to write it (default: standard output). Never overwrites.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Validate a report and check it against its program's scope and rules.
    #[command(after_help = exit::CHECK)]
    Check {
        /// The report file.
        report: PathBuf,
    },
    /// Seal a report: build the bundle, optionally sign, encrypt to the team's key.
    #[command(after_help = exit::SEAL)]
    Seal(SealArgs),
    /// Open a sealed report with the team's secret key (team side).
    #[command(after_help = exit::OPEN)]
    Open(OpenArgs),
    /// Seal a report and send it to the program's intake server; keep the receipt.
    #[command(after_help = exit::SUBMIT)]
    Submit(deliver::SubmitArgs),
    /// List the reports waiting to be sent, or send them again (--retry).
    #[command(after_help = exit::OUTBOX)]
    Outbox(deliver::OutboxArgs),
    /// Ask the intake for the status and replies of your submitted reports.
    #[command(after_help = exit::STATUS)]
    Status(deliver::StatusArgs),
    /// The security team's side of an intake: pull, list, status, reply.
    #[command(subcommand)]
    Team(deliver::TeamCommand),
    /// Inspect or make keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Programs in the data directory (shared with the desktop app).
    #[command(subcommand)]
    Program(program::ProgramCommand),
    /// Your identity key: replies are encrypted to it, drafts are stored encrypted to it.
    #[command(subcommand)]
    Identity(vault::IdentityCommand),
    /// Drafts stored encrypted in the data directory.
    #[command(subcommand)]
    Draft(vault::DraftCommand),
    /// Move what reading the replies to an anonymous report needs to another machine.
    #[command(subcommand)]
    ReplyAccess(vault::ReplyAccessCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = exit::PLAIN)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `embargo manpage > embargo.1`.
    #[command(after_help = exit::PLAIN)]
    Manpage,
    #[command(flatten)]
    Discovery(discover::DiscoveryCommand),
}

/// What a seal needs, shared by `seal` and `submit`.
#[derive(clap::Args)]
pub struct SealInputs {
    /// The report file, or `draft:ID` for a draft in the vault (never written out in plain text).
    report: PathBuf,
    /// Team certificate file (armored or binary); repeat for several. Default: the key pinned
    /// for the report's program in the data directory.
    #[arg(long = "to", value_name = "CERT_FILE")]
    to: Vec<PathBuf>,
    /// File to attach; repeat for several. JPEG, PNG, WebP and PDF attachments are sealed
    /// without their metadata (EXIF/XMP/IPTC, GPS, device, document info); what was removed is
    /// printed with the original's SHA-256.
    #[arg(long = "attach", value_name = "FILE")]
    attach: Vec<PathBuf>,
    /// Attach this file exactly as it is, metadata included (repeat for several).
    #[arg(long = "keep-metadata", value_name = "FILE")]
    keep_metadata: Vec<PathBuf>,
    /// Your secret key to sign with (its public key travels in the bundle). Default: your
    /// identity (`embargo identity new`) when the report asks for credit.
    #[arg(long, value_name = "KEY_FILE")]
    sign_with: Option<PathBuf>,
    /// Do not sign with your identity.
    #[arg(long, conflicts_with = "sign_with")]
    no_sign: bool,
    /// Sign even though credit is "anonymous" (use a separate pseudonymous key).
    #[arg(long)]
    sign_anyway: bool,
    /// Also encrypt to your own key, so you can read back what you sent.
    #[arg(long)]
    encrypt_to_self: bool,
    /// File whose first line is the passphrase of the signing key (and of your identity).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Use SEIPDv2 (AEAD) for v4 keys that advertise it. GnuPG cannot read SEIPDv2.
    #[arg(long)]
    aead: bool,
}

/// The files a seal reads, read.
pub struct Prepared {
    to: Vec<embargo_core::openpgp::Cert>,
    attachments: Vec<Attachment>,
    signer: Option<Signer>,
}

impl SealInputs {
    /// The report's text: the file, or a vault draft decrypted in memory.
    pub(crate) fn report_text(&self) -> Result<String, Failure> {
        match self.report.to_str().and_then(|s| s.strip_prefix("draft:")) {
            Some(id) => {
                let mut ask = term::passphrase_source(self.passphrase_file.as_deref())?;
                embargo_core::vault::Vault::of(&store()?)
                    .load_draft_text(id, None, &mut *ask)
                    .map(|t| t.to_string())
                    .map_err(|e| Failure::new(exit::UNREADABLE, e))
            }
            None => read_report_text(&self.report),
        }
    }

    fn prepare(&self, report: &embargo_core::report::Report) -> Result<Prepared, Failure> {
        let mut to = Vec::new();
        for path in &self.to {
            to.extend(keys::read_certs(path)?);
        }
        let mut attachments = self
            .attach
            .iter()
            .map(|p| scrubbed_attachment(p, false))
            .collect::<Result<Vec<_>, _>>()?;
        for p in &self.keep_metadata {
            attachments.push(scrubbed_attachment(p, true)?);
        }
        let tsk = match &self.sign_with {
            Some(path) => Some(keys::read_secret_key(path)?),
            None => None,
        };
        let with = match (&tsk, self.no_sign) {
            (Some(k), _) => usecase::SignWith::Key(k),
            (None, true) => usecase::SignWith::Nobody,
            (None, false) => usecase::SignWith::Default,
        };
        let mut ask = term::passphrase_source(self.passphrase_file.as_deref())?;
        let (plan, signer) =
            usecase::unlock_signer(&store()?, report, with, &mut *ask).map_err(|e| match e {
                embargo_core::vault::VaultError::Key(k) => Failure::from(k),
                other => Failure::new(exit::ERROR, other),
            })?;
        if let usecase::SigningPlan::Unsigned(usecase::UnsignedBecause::NoIdentity) = plan {
            eprintln!("note: not signed (no identity: `embargo identity new`); the team cannot send you an encrypted reply");
        }
        Ok(Prepared {
            to,
            attachments,
            signer,
        })
    }
}

/// An attachment as the core prepares it (scrubbed unless `keep`), with what was done said.
fn scrubbed_attachment(path: &Path, keep: bool) -> Result<Attachment, Failure> {
    use usecase::{AttachmentNote, PrepareAttachmentError};
    let prepared = usecase::prepare_attachment(path, keep).map_err(|e| match e {
        PrepareAttachmentError::Scrub(e) => Failure::new(exit::ERROR, e).hint(format!(
            "nothing was sealed; to send it as it is, use --keep-metadata {}",
            path.display()
        )),
        other => Failure::new(exit::ERROR, other),
    })?;
    let name = Shown(&prepared.attachment.meta.name);
    match &prepared.note {
        AttachmentNote::Kept => eprintln!(
            "attaching {} with its metadata (--keep-metadata)",
            path.display()
        ),
        AttachmentNote::Scrubbed {
            removed,
            original_sha256,
        } => eprintln!(
            "scrubbed {name} (original sha256 {original_sha256}): removed {}",
            removed.join("; ")
        ),
        AttachmentNote::MayCarryMetadata { content_type } => eprintln!(
            "warning: {name} ({}) may carry metadata Embargo does not remove",
            content_type.unwrap_or("unknown type")
        ),
        _ => {}
    }
    Ok(prepared.attachment)
}

#[derive(clap::Args)]
struct SealArgs {
    #[command(flatten)]
    inputs: SealInputs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Fmt::Armor)]
    format: Fmt,
    /// `To:` of the email (default: the program's contact).
    #[arg(long, value_name = "ADDR")]
    mail_to: Option<String>,
    /// `From:` of the email (default: left for your mail client).
    #[arg(long, value_name = "ADDR")]
    mail_from: Option<String>,
    /// Replace the output file if it exists.
    #[arg(long)]
    force: bool,
    /// Where to write the sealed message.
    #[arg(long, short, required = true)]
    output: PathBuf,
}

#[derive(clap::Args)]
struct OpenArgs {
    /// The message: armored, binary or a PGP/MIME .eml.
    message: PathBuf,
    /// The team's secret key file.
    #[arg(long, required = true, value_name = "SECRET_KEY_FILE")]
    key: Vec<PathBuf>,
    /// The researcher's certificate: only signatures by these count (a signature checked only
    /// against the key inside the report is then "unknown").
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
    /// Directory to write into: new, or empty and yours and not writable by others.
    #[arg(long, short, required = true, value_name = "DIR")]
    output: PathBuf,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Show what a certificate is: fingerprint, user IDs, algorithms, dates, the format it gets.
    #[command(after_help = exit::PLAIN)]
    Show {
        /// Certificate file.
        file: PathBuf,
    },
    /// Generate a key (Ed25519 signing, X25519 encryption) — e.g. a team key for testing.
    #[command(after_help = exit::PLAIN)]
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

pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
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

fn main() -> ExitCode {
    term::harden_process();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            if !e.use_stderr() {
                return ExitCode::SUCCESS;
            }
            // `check` and `seal` reserve 1 for findings and key problems; usage errors are 2.
            let sub = std::env::args().nth(1);
            let code = match sub.as_deref() {
                Some("check") | Some("seal") => exit::UNREADABLE,
                _ => exit::ERROR,
            };
            return ExitCode::from(code);
        }
    };
    // Unverified plaintext a killed `open` left behind goes first, whatever the command.
    if let Ok(store) = Store::open_default() {
        for dir in usecase::clean_interrupted_opens(&store) {
            eprintln!(
                "removed {}: unverified plaintext left by an interrupted open",
                dir.display()
            );
        }
    }
    match run(cli.command, cli.quiet) {
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

fn run(command: Command, quiet: bool) -> Result<u8, Failure> {
    match command {
        Command::Discovery(c) => discover::run(c),
        Command::New { program, output } => cmd_new(&program, output.as_deref()),
        Command::Check { report } => cmd_check(&report),
        Command::Seal(args) => cmd_seal(args, quiet),
        Command::Submit(args) => deliver::cmd_submit(args, quiet),
        Command::Outbox(args) => deliver::cmd_outbox(args),
        Command::Status(args) => deliver::cmd_status(args),
        Command::Team(c) => deliver::cmd_team(c),
        Command::Open(args) => cmd_open(args, quiet),
        Command::Program(c) => program::run(c),
        Command::Identity(c) => vault::identity(c),
        Command::Draft(c) => vault::draft(c),
        Command::ReplyAccess(c) => vault::reply_access(c),
        Command::Key(KeyCommand::Show { file }) => cmd_key_show(&file),
        Command::Key(KeyCommand::Generate {
            userid,
            profile,
            output,
            public,
        }) => {
            let cert = keys::generate(&keys::KeySpec::new(&userid, profile))?;
            write_new(&output, keys::armored_secret(&cert).as_bytes())?;
            if let Some(public) = public {
                write_new(&public, keys::armored_public(&cert).as_bytes())?;
            }
            eprintln!(
                "generated {} ({profile}, v{} key)",
                keys::grouped(&cert.fingerprint()),
                cert.primary_key().key().version()
            );
            Ok(exit::OK)
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "embargo", &mut io::stdout());
            Ok(exit::OK)
        }
        Command::Manpage => {
            clap_mangen::Man::new(Cli::command())
                .render(&mut io::stdout())
                .map_err(|e| Failure::new(exit::ERROR, e))?;
            Ok(exit::OK)
        }
    }
}

pub(crate) fn store() -> Result<Store, Failure> {
    Ok(Store::open_default()?)
}

fn cmd_new(program: &str, output: Option<&Path>) -> Result<u8, Failure> {
    let text = store()?.program(program)?.report_template();
    match output {
        None => print!("{text}"),
        Some(path) => {
            write_new(path, text.as_bytes())?;
            eprintln!(
                "wrote {}; fill it in, then run `embargo check {}`",
                path.display(),
                path.display()
            );
        }
    }
    Ok(exit::OK)
}

/// Reads a report file; unreadable or non-UTF-8 input is exit code 2.
pub(crate) fn read_report_text(path: &Path) -> Result<String, Failure> {
    embargo_core::report::read_report_file(path)
        .map(|text| text.to_string())
        .map_err(|e| Failure::new(exit::UNREADABLE, e))
}

fn cmd_check(path: &Path) -> Result<u8, Failure> {
    let text = read_report_text(path)?;
    let checked = usecase::check_text(&store()?, &text)
        .map_err(|e| Failure::new(exit::UNREADABLE, format!("{}: {e}", path.display())))?;
    for f in &checked.findings {
        println!("{}:{f}", path.display());
    }
    if checked.findings.is_empty() {
        eprintln!("{}: ok", path.display());
        Ok(exit::OK)
    } else {
        eprintln!("{}: {} finding(s)", path.display(), checked.findings.len());
        Ok(exit::FINDINGS)
    }
}

/// Report text to seal: any structural finding in the front matter is exit code 2.
pub(crate) fn parse_for_seal(
    path: &Path,
    text: &str,
) -> Result<embargo_core::report::Report, Failure> {
    usecase::parse_report(text).map_err(|e| {
        let f = Failure::new(exit::UNREADABLE, format!("{}: {e}", path.display()));
        match e {
            usecase::ParseReportError::FrontMatter(_) => {
                f.hint("fix the front matter; `embargo check` lists every problem")
            }
            _ => f,
        }
    })
}

fn cmd_seal(a: SealArgs, quiet: bool) -> Result<u8, Failure> {
    let text = a.inputs.report_text()?;
    let report = parse_for_seal(&a.inputs.report, &text)?;
    let Prepared {
        to,
        attachments,
        signer,
    } = a.inputs.prepare(&report)?;
    let delivery = match a.format {
        Fmt::Armor => Delivery::Armor,
        Fmt::Binary => Delivery::Binary,
        Fmt::Email => Delivery::Email {
            to: a.mail_to,
            from: a.mail_from,
        },
    };
    let job = SealJob {
        report: &report,
        to,
        attachments: &attachments,
        signer: signer.as_ref(),
        sign_anyway: a.inputs.sign_anyway,
        encrypt_to_self: a.inputs.encrypt_to_self,
        aead: a.inputs.aead,
        delivery,
        reply_key: None,
    };
    let total = attachments.iter().map(|a| a.meta.size).sum();
    let bar = term::progress(quiet || total < (8 << 20), total, "sealing");
    let stop = term::interrupt_flag();
    // For mail (armor, email) the export is recorded and ends with how to send it.
    let exported = usecase::export_report(&store()?, job, &a.output, a.force, &mut |done, _| {
        bar.set_position(done);
        !term::interrupted(&stop)
    });
    bar.finish_and_clear();
    let exported = exported?;
    let outcome = &exported.outcome;
    for f in &outcome.findings {
        eprintln!("warning: {}:{f}", a.inputs.report.display());
    }
    let sealed = &outcome.sealed;
    for fp in &sealed.recipients {
        eprintln!("encrypted to {fp} using {}", sealed.format);
    }
    match &sealed.signer {
        Some(fp) => eprintln!("signed by {fp}"),
        None => eprintln!("not signed"),
    }
    for m in &sealed.attachments {
        eprintln!(
            "attached {} ({} bytes, {}, sha256 {})",
            Shown(&m.name),
            m.size,
            m.content_type,
            m.sha256
        );
    }
    if outcome.new_reference {
        eprintln!(
            "reference {} (new: add `reference = \"{}\"` to the report to keep it when sealing again)",
            sealed.reference, sealed.reference
        );
    } else {
        eprintln!("reference {}", sealed.reference);
    }
    eprintln!("wrote {}", a.output.display());
    if let Some(e) = &exported.unrecorded {
        eprintln!("warning: the export was not recorded in the data directory: {e}");
    }
    if let Some(s) = &exported.send_it {
        print_send_it(s);
    }
    Ok(exit::OK)
}

/// How to send an export, in one line.
fn print_send_it(s: &usecase::SendIt) {
    let file = &s.file;
    let to =
        s.to.as_deref()
            .map(Shown)
            .map(|t| t.to_string())
            .unwrap_or_default();
    match &s.way {
        usecase::SendWay::OpenEml => eprintln!(
            "send it: open {file} in your mail client and send it (To: {to}; Subject: {})",
            s.subject
        ),
        usecase::SendWay::InBody { mailto } => eprintln!(
            "send it: paste the armored text into a plain-text message to {to} with the subject \"{}\", or open {mailto}",
            s.subject
        ),
        usecase::SendWay::Attach { .. } => eprintln!(
            "send it: attach {file} to a message to {to} with the subject \"{}\" (too large for the body)",
            s.subject
        ),
        usecase::SendWay::NoAddress { contact } => eprintln!(
            "send it: the program publishes no email address{}; send {file} the way it asks",
            contact
                .as_deref()
                .map(|c| format!(" (its contact: {})", Shown(c)))
                .unwrap_or_default()
        ),
    }
}

fn cmd_open(a: OpenArgs, quiet: bool) -> Result<u8, Failure> {
    let mut secret_keys = Vec::new();
    for path in &a.key {
        secret_keys.push(keys::read_secret_key(path)?);
    }
    let mut signers = Vec::new();
    for path in &a.verify_with {
        signers.extend(keys::read_certs(path)?);
    }
    let mut ask = term::passphrase_source(a.passphrase_file.as_deref())?;
    let size = File::open(&a.message)
        .and_then(|f| f.metadata())
        .map(|m| m.len())
        .unwrap_or(0);
    let bar = term::progress(quiet || size < (8 << 20), size, "opening");
    let progress = |n: u64| bar.set_position(n);
    let stop = term::interrupt_flag();
    let journal = store()?.open_journal();
    let req = OpenRequest {
        secret_keys: &secret_keys,
        verify_with: &signers,
        passphrase: &mut ask,
        output_dir: &a.output,
        max_size: a.max_size,
        require_signature: a.require_signature,
        cancel: Some(&stop),
        progress: Some(&progress),
        journal: Some(&journal),
    };
    let opened = usecase::open_file(&a.message, req);
    bar.finish_and_clear();
    let opened = opened?;
    for leftover in &opened.removed_leftovers {
        eprintln!(
            "removed {} (unverified plaintext left by an interrupted open)",
            a.output.join(leftover).display()
        );
    }
    eprintln!(
        "decrypted with {} ({})",
        opened.decrypted_with, opened.format
    );
    match &opened.signature {
        s @ (SignatureStatus::None | SignatureStatus::Unknown { .. }) => eprintln!("warning: {s}"),
        other => eprintln!("{other}"),
    }
    if let Some(name) = &opened.single_file {
        eprintln!(
            "not an Embargo report bundle: wrote the plaintext as one file, {}",
            Shown(name)
        );
    }
    if let Some(title) = &opened.title {
        eprintln!("report: {}", Shown(title));
    }
    if let Some(r) = &opened.reference {
        eprintln!("reference: {}", Shown(r));
    }
    let mut out = io::stdout().lock();
    for f in &opened.files {
        let _ = writeln!(out, "{}", Shown(&a.output.join(f).display().to_string()));
    }
    Ok(exit::OK)
}

fn cmd_key_show(file: &Path) -> Result<u8, Failure> {
    for cert in keys::read_certs(file)? {
        let info = keys::describe(&cert);
        println!("fingerprint: {}", info.fingerprint_grouped);
        for uid in &info.user_ids {
            println!("user id:     {}", Shown(uid));
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
    Ok(exit::OK)
}

/// Writes a new file atomically; never replaces an existing one.
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    embargo_core::fsutil::write_new(path, bytes).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            Failure::new(exit::ERROR, format!("{} already exists", path.display()))
                .hint("choose another name")
        } else {
            Failure::new(exit::ERROR, format!("cannot write {}: {e}", path.display()))
        }
    })
}
