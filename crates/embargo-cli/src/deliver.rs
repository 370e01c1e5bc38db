//! `embargo submit`, `outbox`, `status` (the researcher's side of an intake) and `embargo team …`
//! (the security team's): argument parsing and printing around embargo-core's `deliver`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use embargo_core::deliver::client::IntakeError;
use embargo_core::deliver::records::Records;
use embargo_core::deliver::{self, TeamSession};
use embargo_core::keys::{self, Signer};
use embargo_core::net::{self, NetConfig};
use embargo_core::protocol::ReportStatus;
use embargo_core::text::Shown;
use embargo_core::usecase::team;
use embargo_core::usecase::{
    self, Delivery, ReplyKey, ReplySigner, Retry, SealJob, SubmitError, SubmitOptions,
};

use crate::exit;
use crate::failure::Failure;
use crate::{store, term, SealInputs};

#[derive(Args)]
pub struct NetArgs {
    /// Connect through this proxy (`socks5h://127.0.0.1:9050` for Tor).
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
}

impl NetArgs {
    /// The environment's settings and the proxy: `--proxy`, else the one in the settings.
    fn config(&self) -> Result<NetConfig, Failure> {
        usecase::settings::net_config(&store()?, self.proxy.as_deref())
            .map_err(|e| Failure::new(exit::ERROR, e))
    }
}

#[derive(Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    seal: SealInputs,
    /// The intake's URL (default: the program's intake endpoint).
    #[arg(long, value_name = "URL")]
    intake: Option<String>,
    /// How long to keep retrying while the intake cannot be reached (e.g. 2m, 30s, 1h; default:
    /// the settings' retry window, 2 minutes unless changed).
    #[arg(long, value_parser = parse_duration)]
    retry_for: Option<Duration>,
    /// Print `{"receipt", "status_token", "received_at", "reply_key"}` (`reply_key`: the
    /// fingerprint of an anonymous report's reply key, else null).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    net: NetArgs,
}

#[derive(Args)]
pub struct OutboxArgs {
    /// Send every queued report again.
    #[arg(long)]
    retry: bool,
    /// With --retry: how long to keep trying each (default: the settings' retry window).
    #[arg(long, value_parser = parse_duration)]
    retry_for: Option<Duration>,
    /// File whose first line is your identity's passphrase (the outbox is encrypted to it).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    #[command(flatten)]
    net: NetArgs,
}

/// The records, unlocked with the identity's passphrase when some are encrypted to it.
fn records(
    store: &embargo_core::store::Store,
    passphrase_file: Option<&std::path::Path>,
) -> Result<Records, Failure> {
    let mut ask = term::passphrase_source(passphrase_file)?;
    Ok(Records::of(store).unlock(&mut *ask)?)
}

#[derive(Args)]
pub struct StatusArgs {
    /// A receipt (default: every receipt kept in the data directory).
    receipt: Option<String>,
    /// Your secret key, to decrypt the team's replies (default: your identity; without either
    /// they are listed as encrypted).
    #[arg(long, value_name = "SECRET_KEY_FILE")]
    key: Option<PathBuf>,
    /// File whose first line is the secret key's passphrase.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    #[command(flatten)]
    net: NetArgs,
}

#[derive(Args)]
pub struct TeamConnection {
    /// The intake's URL.
    #[arg(long, env = "EMBARGO_INTAKE", value_name = "URL")]
    intake: String,
    /// File holding the team token (its first line).
    #[arg(long, env = "EMBARGO_TEAM_TOKEN_FILE", value_name = "FILE")]
    token_file: PathBuf,
    #[command(flatten)]
    net: NetArgs,
}

impl TeamConnection {
    fn token(&self) -> Result<zeroize::Zeroizing<String>, Failure> {
        let text = embargo_core::fsutil::read_capped(&self.token_file, 4096).map_err(|e| {
            Failure::new(
                exit::ERROR,
                format!(
                    "cannot read the team token file {}: {e}",
                    self.token_file.display()
                ),
            )
        })?;
        let text = zeroize::Zeroizing::new(String::from_utf8_lossy(&text).into_owned());
        let token = zeroize::Zeroizing::new(text.lines().next().unwrap_or("").trim().to_owned());
        if token.is_empty() {
            return Err(Failure::new(
                exit::ERROR,
                format!("the team token file {} is empty", self.token_file.display()),
            ));
        }
        Ok(token)
    }

    fn session(&self) -> Result<TeamSession, Failure> {
        let token = self.token()?;
        TeamSession::new(&self.intake, &token, &self.net.config()?).map_err(intake_failure)
    }
}

#[derive(Subcommand)]
pub enum TeamCommand {
    /// Fetch the reports that arrived since the last pull and open each into DIR/RECEIPT/.
    #[command(after_help = exit::PULL)]
    Pull {
        #[command(flatten)]
        conn: TeamConnection,
        /// The team's secret key file.
        #[arg(long, required = true, value_name = "SECRET_KEY_FILE")]
        key: Vec<PathBuf>,
        /// File whose first line is the secret key's passphrase.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        /// Cap on decrypted bytes per report (suffixes K, M, G).
        #[arg(long, default_value = "4G", value_parser = crate::parse_size)]
        max_size: u64,
        /// The inbox directory.
        #[arg(long, short, value_name = "DIR")]
        output: PathBuf,
    },
    /// List the reports on the intake: receipt, arrival, status, size.
    #[command(after_help = exit::PLAIN)]
    List {
        #[command(flatten)]
        conn: TeamConnection,
    },
    /// Set a report's status (received, triaged, accepted, fixed, disclosed, rejected).
    #[command(after_help = exit::PLAIN)]
    Status {
        /// The receipt.
        receipt: String,
        /// The new status.
        state: ReportStatus,
        #[command(flatten)]
        conn: TeamConnection,
    },
    /// Connect this data directory to the team's intake as one member: the URL, the token and
    /// your own secret key are kept in the vault (the token encrypted to your key, the key
    /// locked with its passphrase). Then `team inbox`, `team show`, `team set`, `team answer`.
    #[command(after_help = exit::PLAIN)]
    Connect {
        /// The intake's URL.
        #[arg(long, value_name = "URL")]
        intake: String,
        /// File holding the team token (its first line).
        #[arg(long, value_name = "FILE")]
        token_file: PathBuf,
        /// Your own secret key (one of the program's pinned team keys).
        #[arg(long, value_name = "SECRET_KEY_FILE")]
        key: PathBuf,
        /// The program the intake serves (its promise sets the due dates).
        #[arg(long, default_value = embargo_core::program::DEFAULT_PROGRAM)]
        program: String,
        /// File whose first line is the key's passphrase (locks it when it is not locked).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// The inbox of the connected member: each report's receipt, arrival, status, size, the
    /// answer due date (overdue ones marked) and whether you have opened it.
    #[command(after_help = exit::PLAIN)]
    Inbox {
        /// Only reports at this status.
        #[arg(long)]
        status: Option<ReportStatus>,
        /// File whose first line is your key's passphrase.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Open one report in memory with your key and print it: the report, its attachments with
    /// their SHA-256, the researcher's signature. Nothing is written to disk.
    #[command(after_help = exit::PLAIN)]
    Show {
        /// The receipt.
        receipt: String,
        /// File whose first line is your key's passphrase.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Save one attachment of a report (opened in memory) to a file you name: the only thing of
    /// the report written to disk.
    #[command(after_help = exit::PLAIN)]
    Save {
        /// The receipt.
        receipt: String,
        /// The attachment's name, as `team show` lists it.
        name: String,
        /// Where to write it.
        #[arg(long, short, value_name = "FILE")]
        output: PathBuf,
        /// File whose first line is your key's passphrase.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Set a report's status as the connected member.
    #[command(after_help = exit::PLAIN)]
    Set {
        /// The receipt.
        receipt: String,
        /// The new status.
        state: ReportStatus,
        /// File whose first line is your key's passphrase.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Reply as the connected member: signed by your key, encrypted to the key the report
    /// carried (the researcher's, or an anonymous report's reply key) and to yours.
    #[command(after_help = exit::PLAIN)]
    Answer {
        /// The receipt.
        receipt: String,
        /// The reply's text.
        #[arg(long, value_name = "FILE")]
        message: PathBuf,
        /// File whose first line is your key's passphrase.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Reply to the researcher: signed by the team key, encrypted to the key their report
    /// carried (DIR/RECEIPT/researcher.asc of a pull).
    #[command(after_help = exit::PLAIN)]
    Reply {
        /// The receipt.
        receipt: String,
        /// The reply's text.
        #[arg(long, value_name = "FILE")]
        message: PathBuf,
        /// The team's secret key file (signs the reply).
        #[arg(long, value_name = "SECRET_KEY_FILE")]
        key: PathBuf,
        /// File whose first line is the secret key's passphrase.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        /// The inbox directory the report was pulled into.
        #[arg(long, value_name = "DIR", default_value = ".")]
        from: PathBuf,
        #[command(flatten)]
        conn: TeamConnection,
    },
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 90s, 2m, 1h)"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("`{s}` is not a duration (e.g. 90s, 2m, 1h)")),
    };
    Ok(Duration::from_secs(secs))
}

fn intake_failure(e: IntakeError) -> Failure {
    let hint = match &e {
        IntakeError::BadUrl { .. } => Some("give the intake's https:// URL"),
        IntakeError::Refused { status: 401, .. } => Some("check the team token file"),
        _ => None,
    };
    let f = Failure::new(exit::ERROR, e);
    match hint {
        Some(h) => f.hint(h),
        None => f,
    }
}

pub fn cmd_submit(a: SubmitArgs, quiet: bool) -> Result<u8, Failure> {
    let text = a.seal.report_text()?;
    let report = crate::parse_for_seal(&a.seal.report, &text)?;
    let prepared = a.seal.prepare(&report)?;
    let job = SealJob {
        report: &report,
        to: prepared.to,
        attachments: &prepared.attachments,
        signer: prepared.signer.as_ref(),
        sign_anyway: a.seal.sign_anyway,
        encrypt_to_self: a.seal.encrypt_to_self,
        aead: a.seal.aead,
        delivery: Delivery::Binary,
        reply_key: None,
    };
    let store = store()?;
    let bar = term::progress(quiet, 0, "sending");
    let upload_bar = bar.clone();
    let upload: deliver::client::UploadProgress = Arc::new(move |sent, total| {
        upload_bar.set_length(total);
        upload_bar.set_position(sent);
    });
    let on_retry = |e: &IntakeError, wait: Duration| {
        eprintln!("{e}; trying again in {:.1} s", wait.as_secs_f64());
    };
    let opts = SubmitOptions {
        intake: a.intake,
        retry_for: usecase::settings::retry_for(&store, a.retry_for)
            .map_err(|e| Failure::new(exit::ERROR, e))?,
        net: a.net.config()?,
        upload: Some(upload),
        on_retry: &on_retry,
    };
    let stop = term::interrupt_flag();
    let result = net::block_on(usecase::submit(&store, job, opts, &mut |_, _| {
        !term::interrupted(&stop)
    }))
    .map_err(|e| Failure::new(exit::ERROR, e))?;
    bar.finish_and_clear();
    let s = match result {
        Ok(s) => s,
        Err(SubmitError::Queued { id, source }) => {
            return Err(Failure::new(
                exit::TEMPFAIL,
                format!("the intake could not be reached: {source}; queued in outbox as {id}, the report is safe"),
            )
            .hint("run `embargo outbox --retry` later"))
        }
        Err(SubmitError::Seal(e)) => return Err(e.into()),
        Err(SubmitError::Intake(e)) => return Err(intake_failure(e)),
        Err(e) => return Err(Failure::new(exit::ERROR, e)),
    };
    for f in &s.findings {
        eprintln!("warning: {}:{f}", a.seal.report.display());
    }
    if a.json {
        let json = serde_json::json!({
            "receipt": s.receipt.receipt,
            "status_token": s.receipt.status_token,
            "received_at": s.receipt.received_at,
            "reply_key": s.receipt.reply_key,
        });
        println!("{json}");
    } else {
        println!("receipt:      {}", s.receipt.receipt);
        println!("status token: {}", s.receipt.status_token);
        println!("received at:  {}", s.receipt.received_at);
        eprintln!(
            "submitted {} to {} ({}); `embargo status {}` shows its status",
            s.sealed.reference, s.receipt.intake_url, s.sealed.format, s.receipt.receipt
        );
    }
    if s.receipt.reply_key.is_some() {
        eprintln!(
            "anonymous: the team's replies are encrypted to a key made for this report alone, kept in your vault (`embargo reply-access export {}` to read them elsewhere)",
            s.receipt.receipt
        );
    }
    Ok(exit::OK)
}

pub fn cmd_outbox(a: OutboxArgs) -> Result<u8, Failure> {
    let store = store()?;
    let records = records(&store, a.passphrase_file.as_deref())?;
    if !a.retry {
        let (pending, broken) = records.pending()?;
        if pending.is_empty() {
            eprintln!("the outbox is empty");
        }
        for p in &pending {
            println!(
                "{}\t{}\t{}\t{} bytes\t{} attempt(s)\t{}",
                p.id,
                p.created_at,
                p.intake_url,
                p.bytes,
                p.attempts,
                p.last_error
                    .as_deref()
                    .map(Shown)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            );
        }
        for b in &broken {
            eprintln!("error: {b}");
        }
        return Ok(if broken.is_empty() {
            exit::OK
        } else {
            exit::ERROR
        });
    }
    let on_retry = |e: &IntakeError, wait: Duration| {
        eprintln!("{e}; trying again in {:.1} s", wait.as_secs_f64());
    };
    let opts = SubmitOptions {
        intake: None,
        retry_for: usecase::settings::retry_for(&store, a.retry_for)
            .map_err(|e| Failure::new(exit::ERROR, e))?,
        net: a.net.config()?,
        upload: None,
        on_retry: &on_retry,
    };
    let results = net::block_on(usecase::retry_outbox(&records, opts, Retry::All))
        .map_err(|e| Failure::new(exit::ERROR, e))??;
    let mut left = 0;
    for (p, r) in &results {
        match r {
            Ok(rec) => println!("{}\tdelivered\t{}", p.id, rec.receipt),
            Err(e) => {
                left += 1;
                println!("{}\tqueued\t{e}", p.id);
            }
        }
    }
    Ok(if left == 0 { exit::OK } else { exit::TEMPFAIL })
}

pub fn cmd_status(a: StatusArgs) -> Result<u8, Failure> {
    let store = store()?;
    // One passphrase source for the receipts and the replies: with the identity doing both, the
    // passphrase is asked once and remembered for this run (in sequoia's `Password`).
    let mut source = term::passphrase_source(a.passphrase_file.as_deref())?;
    let mut remembered: Option<embargo_core::openpgp::crypto::Password> = None;
    let mut ask = move |what: &str| {
        if remembered.is_none() {
            remembered = source(what);
        }
        remembered.clone()
    };
    let records = Records::of(&store).unlock(&mut ask)?;
    let (chosen, broken) = match &a.receipt {
        Some(r) => (vec![records.receipt(r)?], Vec::new()),
        None => records.receipts_all()?,
    };
    // Default: the identity in the vault, the key reports are signed with.
    let secret = match &a.key {
        Some(k) => Some(keys::read_secret_key(k)?),
        None => embargo_core::vault::Vault::of(&store)
            .identity()
            .map_err(|e| Failure::new(exit::ERROR, e))?,
    };
    // A key of its own (--key) has its own passphrase.
    let mut own = term::passphrase_source(a.passphrase_file.as_deref())?;
    let ask: &mut embargo_core::keys::PassphraseFn<'_> =
        if a.key.is_some() { &mut *own } else { &mut ask };
    let net = a.net.config()?;
    let mut failed = 0;
    for rec in &chosen {
        println!(
            "{}  {}",
            rec.receipt,
            rec.reference.as_deref().unwrap_or("")
        );
        let key = secret.as_ref().map(|key| ReplyKey {
            key,
            passphrase: &mut *ask,
        });
        match net::block_on(usecase::follow_up(
            &store,
            rec,
            key,
            &net,
            chrono::Utc::now(),
        ))
        .map_err(|e| Failure::new(exit::ERROR, e))?
        {
            Ok(f) => {
                println!(
                    "  status:   {} — {} (updated {})",
                    f.status, f.status_words, f.updated_at
                );
                println!("  received: {}", f.received_at);
                if let Some(due) = &f.answer_due {
                    let when = match due.days_left {
                        d if due.overdue => format!("OVERDUE by {} business day(s)", -d),
                        0 => "due today".to_owned(),
                        d if d > 0 => format!("due in {d} business day(s)"),
                        _ => "past its due date".to_owned(),
                    };
                    println!(
                        "  answer:   promised within {} business days: {when} ({})",
                        due.business_days, due.due_at
                    );
                }
                for reply in &f.replies {
                    println!("  reply {} at {}:", reply.id, reply.created_at);
                    if secret.is_none() {
                        println!("    (encrypted; pass --key to read it)");
                        continue;
                    }
                    print_reply(reply);
                }
                // Shown: the app does not notify of it again (what was shown stands if this
                // cannot be kept).
                if let Err(e) = usecase::notify::shown(&records, rec, &f) {
                    eprintln!(
                        "warning: {}: what was shown is not kept as seen: {e}",
                        rec.receipt
                    );
                }
            }
            Err(e) => {
                failed += 1;
                println!("  cannot ask {}: {e}", rec.intake_url);
            }
        }
    }
    for b in &broken {
        eprintln!("error: {b}");
    }
    Ok(if failed == 0 && broken.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    })
}

/// A reply as `embargo status` and `embargo team show` print it: who signed it, in words,
/// then its text, indented.
fn print_reply(reply: &embargo_core::usecase::ReadReply) {
    if let Some(why) = &reply.unreadable {
        println!("    cannot be read: {}", Shown(why));
        return;
    }
    let sig = match &reply.signer {
        Some(ReplySigner::Verified {
            user_id, pinned, ..
        }) => format!(
            "signed by {}{}",
            if *pinned {
                "the team's pinned key"
            } else {
                "a team key the report was sealed to"
            },
            user_id
                .as_deref()
                .map(|u| format!(" ({})", Shown(u)))
                .unwrap_or_default()
        ),
        Some(ReplySigner::UnknownKey { issuer }) => {
            format!("warning: signed by {issuer}, which is none of the team's keys for this report")
        }
        Some(ReplySigner::Bad { reason }) => {
            format!("warning: BAD signature: {}", Shown(reason))
        }
        Some(ReplySigner::NotSigned) | None => {
            "warning: not signed: it may not come from the team".to_owned()
        }
        Some(ReplySigner::NoPinnedKey { .. }) => {
            "warning: no team key is pinned for this program: the signature cannot be checked"
                .to_owned()
        }
    };
    println!("    ({sig})");
    for line in reply.text.as_deref().unwrap_or_default().lines() {
        println!("    {}", Shown(line));
    }
}

fn member(
    passphrase_file: Option<&Path>,
    net: &NetArgs,
) -> Result<(embargo_core::store::Store, team::Member), Failure> {
    let store = store()?;
    let mut ask = term::passphrase_source(passphrase_file)?;
    let member = team::Member::unlock(&store, &mut ask, &net.config()?)
        .map_err(|e| Failure::new(exit::ERROR, e))?;
    Ok((store, member))
}

fn team_failure(e: team::TeamError) -> Failure {
    match e {
        team::TeamError::Intake(e) => intake_failure(e),
        other => Failure::new(exit::ERROR, other),
    }
}

pub fn cmd_team(c: TeamCommand) -> Result<u8, Failure> {
    match c {
        TeamCommand::Connect {
            intake,
            token_file,
            key,
            program,
            passphrase_file,
        } => {
            let store = store()?;
            let conn = TeamConnection {
                intake: intake.clone(),
                token_file,
                net: NetArgs { proxy: None },
            };
            let token = conn.token()?;
            let tsk = keys::read_secret_key(&key)?;
            let mut ask = term::passphrase_source(passphrase_file.as_deref())?;
            let pw = ask(&key.display().to_string())
                .ok_or_else(|| Failure::new(exit::ERROR, "your key's passphrase is needed"))?;
            let connection = team::Connection {
                intake_url: intake,
                token: token.to_string(),
                program: Some(program),
            };
            let cert = team::connect(&store, &connection, tsk, pw).map_err(team_failure)?;
            eprintln!(
                "connected to {} as {}",
                connection.intake_url,
                keys::grouped(&cert.fingerprint())
            );
            Ok(exit::OK)
        }
        TeamCommand::Inbox {
            status,
            passphrase_file,
            net,
        } => {
            let (store, member) = member(passphrase_file.as_deref(), &net)?;
            let (entries, more) =
                net::block_on(team::inbox(&store, &member, status, chrono::Utc::now()))
                    .map_err(|e| Failure::new(exit::ERROR, e))?
                    .map_err(team_failure)?;
            for e in &entries {
                let due = match &e.answer_due {
                    Some(d) if d.overdue => format!("OVERDUE since {}", d.due_at),
                    Some(d) => format!("answer due {}", d.due_at),
                    None => "no promise".to_owned(),
                };
                println!(
                    "{}\t{}\t{}\t{}\t{} bytes\t{}{}",
                    e.receipt,
                    e.reference.as_deref().unwrap_or("-"),
                    e.received_at,
                    e.status,
                    e.size,
                    due,
                    if e.new { "\tNEW" } else { "" }
                );
            }
            if more {
                eprintln!(
                    "more reports than {} pages: only the first are shown",
                    deliver::MAX_PAGES
                );
            }
            Ok(exit::OK)
        }
        TeamCommand::Show {
            receipt,
            passphrase_file,
            net,
        } => {
            let (store, member) = member(passphrase_file.as_deref(), &net)?;
            let (report, thread) = net::block_on(async {
                let report = team::open_report(&store, &member, &receipt).await?;
                let thread = team::thread(&store, &member, &receipt).await?;
                Ok::<_, team::TeamError>((report, thread))
            })
            .map_err(|e| Failure::new(exit::ERROR, e))?
            .map_err(team_failure)?;
            println!("receipt:   {receipt}");
            println!("signature: {}", report.signature());
            if let Some(to) = report.reply_to() {
                println!("reply to:  {}", keys::grouped(&to.fingerprint()));
            }
            for (name, size, sha256) in report.attachments() {
                println!("attachment {}  {size} bytes  sha256 {sha256}", Shown(&name));
            }
            println!();
            if let Some(text) = report.readable() {
                for line in text.lines() {
                    println!("{}", Shown(line));
                }
            }
            if !thread.is_empty() {
                println!();
                println!("replies sent ({}):", thread.len());
            }
            for reply in &thread {
                println!("  reply {} at {}:", reply.id, reply.created_at);
                print_reply(reply);
            }
            Ok(exit::OK)
        }
        TeamCommand::Save {
            receipt,
            name,
            output,
            passphrase_file,
            net,
        } => {
            let (store, member) = member(passphrase_file.as_deref(), &net)?;
            let report = net::block_on(team::open_report(&store, &member, &receipt))
                .map_err(|e| Failure::new(exit::ERROR, e))?
                .map_err(team_failure)?;
            let size = team::save_attachment(&report, &name, &output).map_err(team_failure)?;
            println!("{} ({size} bytes)", output.display());
            Ok(exit::OK)
        }
        TeamCommand::Set {
            receipt,
            state,
            passphrase_file,
            net,
        } => {
            let (_, member) = member(passphrase_file.as_deref(), &net)?;
            let changed = net::block_on(team::set_status(&member, &receipt, state))
                .map_err(|e| Failure::new(exit::ERROR, e))?
                .map_err(team_failure)?;
            println!(
                "{}\t{}\t{}",
                changed.receipt, changed.status, changed.updated_at
            );
            Ok(exit::OK)
        }
        TeamCommand::Answer {
            receipt,
            message,
            passphrase_file,
            net,
        } => {
            let text = read_text(&message)?;
            let (store, member) = member(passphrase_file.as_deref(), &net)?;
            let created = net::block_on(team::answer(&store, &member, &receipt, &text))
                .map_err(|e| Failure::new(exit::ERROR, e))?
                .map_err(team_failure)?;
            println!("reply {} at {}", created.id, created.created_at);
            Ok(exit::OK)
        }
        TeamCommand::Pull {
            conn,
            key,
            passphrase_file,
            max_size,
            output,
        } => {
            let session = conn.session()?;
            let mut secret_keys = Vec::new();
            for k in &key {
                secret_keys.push(keys::read_secret_key(k)?);
            }
            let mut ask = term::passphrase_source(passphrase_file.as_deref())?;
            let journal = store()?.open_journal();
            let done = net::block_on(deliver::pull(
                &session,
                &output,
                &secret_keys,
                &mut ask,
                deliver::PullOptions {
                    max_size,
                    journal: Some(&journal),
                },
            ))
            .map_err(|e| Failure::new(exit::ERROR, e))?
            .map_err(|e| Failure::new(exit::ERROR, e))?;
            let pulled = &done.pulled;
            let mut failed = done.refused.len();
            for (receipt, why) in &done.refused {
                println!("{receipt}	not fetched	{why}");
            }
            if done.more {
                eprintln!(
                    "more reports wait: a pull fetches at most {} pages; run it again",
                    deliver::MAX_PAGES
                );
            }
            for p in pulled {
                match &p.outcome {
                    Ok(o) => println!(
                        "{}\topened\t{}\t{}",
                        p.receipt,
                        Shown(o.title.as_deref().unwrap_or("")),
                        o.signature
                    ),
                    Err(e) => {
                        failed += 1;
                        println!("{}\tkept as {}.pgp\t{e}", p.receipt, p.receipt);
                    }
                }
            }
            eprintln!("{} new report(s) in {}", pulled.len(), output.display());
            Ok(if failed == 0 {
                exit::OK
            } else {
                exit::INTEGRITY
            })
        }
        TeamCommand::List { conn } => {
            let session = conn.session()?;
            let (list, more) = net::block_on(session.list(None))
                .map_err(|e| Failure::new(exit::ERROR, e))?
                .map_err(intake_failure)?;
            if let Some(cursor) = more {
                eprintln!(
                    "the listing goes on after {cursor}: only the first {} pages are shown",
                    deliver::MAX_PAGES
                );
            }
            for r in list {
                println!(
                    "{}\t{}\t{}\t{} bytes",
                    r.receipt, r.received_at, r.status, r.size
                );
            }
            Ok(exit::OK)
        }
        TeamCommand::Status {
            receipt,
            state,
            conn,
        } => {
            let session = conn.session()?;
            let changed = net::block_on(session.set_status(&receipt, state))
                .map_err(|e| Failure::new(exit::ERROR, e))?
                .map_err(intake_failure)?;
            println!(
                "{}\t{}\t{}",
                changed.receipt, changed.status, changed.updated_at
            );
            Ok(exit::OK)
        }
        TeamCommand::Reply {
            receipt,
            message,
            key,
            passphrase_file,
            from,
            conn,
        } => {
            let session = conn.session()?;
            let text = read_text(&message)?;
            let tsk = keys::read_secret_key(&key)?;
            let mut ask = term::passphrase_source(passphrase_file.as_deref())?;
            let team = Signer::from_tsk(&tsk, &mut ask)?;
            let researcher = deliver::researcher_key(&from, &receipt).map_err(|e| {
                Failure::new(exit::ERROR, format!("{}: {e}", Shown(&receipt))).hint(
                    "pull the report first (`embargo team pull -o DIR`), then pass --from DIR; an anonymous report carries no key and cannot be answered",
                )
            })?;
            let created = net::block_on(deliver::send_reply(
                &session,
                &receipt,
                &text,
                &team,
                &researcher,
            ))
            .map_err(|e| Failure::new(exit::ERROR, e))?
            .map_err(|e| Failure::new(exit::ERROR, e))?;
            println!("reply {} at {}", created.id, created.created_at);
            Ok(exit::OK)
        }
    }
}

fn read_text(path: &Path) -> Result<String, Failure> {
    let bytes = embargo_core::fsutil::read_capped(path, deliver::reply::MAX_REPLY_BYTES as u64)
        .map_err(|e| Failure::new(exit::ERROR, format!("cannot read {}: {e}", path.display())))?;
    String::from_utf8(bytes)
        .map_err(|_| Failure::new(exit::ERROR, format!("{} is not UTF-8 text", path.display())))
}
