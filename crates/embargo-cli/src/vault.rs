//! `embargo identity …` and `embargo draft …`: the researcher's vault (embargo-core's `vault`).

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use embargo_core::keys;
use embargo_core::openpgp::crypto::Password;
use embargo_core::usecase::NewIdentity;
use embargo_core::vault::{Vault, VaultError};
use zeroize::Zeroizing;

use crate::exit;
use crate::failure::Failure;
use crate::store;
use crate::term::passphrase_source;

#[derive(Subcommand)]
pub enum IdentityCommand {
    /// Create your identity key (Ed25519 + X25519, v4), locked with a passphrase.
    #[command(after_help = exit::PLAIN)]
    New {
        /// User ID, e.g. "Ada Lovelace <ada@example.org>" (a pseudonym is fine).
        #[arg(long)]
        userid: String,
        /// File whose first line is the new passphrase (else asked twice on the terminal).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Use an existing secret key as your identity (locked with the passphrase if it is not).
    #[command(after_help = exit::PLAIN)]
    Import {
        /// The secret key file.
        file: PathBuf,
        /// File whose first line is the passphrase.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Print your public key (armored), for a team or a key server.
    #[command(after_help = exit::PLAIN)]
    Export,
    /// Back up your identity's secret key to a new file, still locked with your passphrase
    /// (checked first). Restore it on another machine with `identity import`, beside a copy of
    /// the data directory: drafts and replies read again. Keep it apart from the data directory.
    /// Nobody can recover a lost passphrase: the drafts it protects are lost with it.
    #[command(after_help = exit::PLAIN)]
    Backup {
        /// The file to create (never replaced).
        #[arg(long, short, value_name = "FILE")]
        output: PathBuf,
        /// File whose first line is your identity's passphrase.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Show your identity's fingerprint and user IDs.
    #[command(after_help = exit::PLAIN)]
    Show,
}

#[derive(Subcommand)]
pub enum DraftCommand {
    /// Store a report file as a draft, encrypted to your identity (a new version when --id names
    /// an existing draft).
    #[command(after_help = exit::PLAIN)]
    Save {
        /// The report file ("-" for standard input).
        file: PathBuf,
        /// The draft to add a version to.
        #[arg(long)]
        id: Option<String>,
    },
    /// List drafts: id, versions kept, last change (their contents stay encrypted).
    #[command(after_help = exit::PLAIN)]
    List,
    /// Print a draft (the newest version, or --version N).
    #[command(after_help = exit::PLAIN)]
    Show {
        /// The draft id.
        id: String,
        /// A version number from `draft list`.
        #[arg(long)]
        version: Option<u64>,
        /// File whose first line is the passphrase.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Write a draft to a new file (plain text: your choice, your disk).
    #[command(after_help = exit::PLAIN)]
    Export {
        /// The draft id.
        id: String,
        /// The file to create.
        #[arg(long, short, value_name = "FILE")]
        output: PathBuf,
        /// File whose first line is the passphrase.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Edit a draft in $EDITOR on a private copy in memory-backed storage (tmpfs), saved back
    /// as a new encrypted version; the copy is removed afterwards.
    #[command(after_help = exit::PLAIN)]
    Edit {
        /// The draft id.
        id: String,
        /// File whose first line is the passphrase.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Delete a draft and every version of it.
    #[command(after_help = exit::PLAIN)]
    Rm {
        /// The draft id.
        id: String,
    },
}

#[derive(Subcommand)]
pub enum ReplyAccessCommand {
    /// Write what another machine needs to read the team's replies to an anonymous report
    /// (its receipt and its reply key), encrypted with a new passphrase; nothing of your
    /// identity goes into the file.
    #[command(after_help = exit::PLAIN)]
    Export {
        /// The receipt.
        receipt: String,
        /// The file to create.
        #[arg(long, short, value_name = "FILE")]
        output: PathBuf,
        /// File whose first line is your identity's passphrase.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        /// File whose first line is the file's new passphrase (else asked twice).
        #[arg(long, value_name = "FILE")]
        export_passphrase_file: Option<PathBuf>,
    },
    /// Take in a file made by `reply-access export`: `embargo status` then reads the replies.
    #[command(after_help = exit::PLAIN)]
    Import {
        /// The file.
        file: PathBuf,
        /// File whose first line is the file's passphrase.
        #[arg(long, value_name = "FILE")]
        export_passphrase_file: Option<PathBuf>,
    },
}

/// Runs a reply-access command.
pub fn reply_access(command: ReplyAccessCommand) -> Result<u8, Failure> {
    let store = store()?;
    let records = embargo_core::deliver::records::Records::of(&store);
    match command {
        ReplyAccessCommand::Export {
            receipt,
            output,
            passphrase_file,
            export_passphrase_file,
        } => {
            let mut ask = passphrase_source(passphrase_file.as_deref())?;
            let records = records.unlock(&mut ask)?;
            let export_pw = new_passphrase(export_passphrase_file.as_deref())?;
            let bytes = embargo_core::replykey::export_access(
                &store, &records, &receipt, &mut ask, &export_pw,
            )
            .map_err(|e| Failure::new(exit::ERROR, e))?;
            crate::write_new(&output, &bytes)?;
            eprintln!(
                "wrote {}: `embargo reply-access import` on the other machine, then `embargo status`",
                output.display()
            );
            Ok(exit::OK)
        }
        ReplyAccessCommand::Import {
            file,
            export_passphrase_file,
        } => {
            let bytes = embargo_core::fsutil::read_capped(&file, 1 << 20).map_err(|e| {
                Failure::new(exit::ERROR, format!("cannot read {}: {e}", file.display()))
            })?;
            let mut ask = passphrase_source(export_passphrase_file.as_deref())?;
            let pw = ask(&file.display().to_string())
                .ok_or_else(|| Failure::new(exit::ERROR, "the file's passphrase is needed"))?;
            let record = embargo_core::replykey::import_access(&store, &records, &bytes, &pw)
                .map_err(|e| Failure::new(exit::ERROR, e))?;
            println!("{}", record.receipt);
            Ok(exit::OK)
        }
    }
}

fn vault() -> Result<Vault, Failure> {
    Ok(Vault::of(&store()?))
}

fn fail(e: VaultError) -> Failure {
    let hint = match &e {
        VaultError::NoIdentity => Some("`embargo identity new --userid \"You <you@example.org>\"`"),
        VaultError::Corrupted { .. } => {
            Some("other versions may still be intact: `embargo draft list`, then --version N")
        }
        _ => None,
    };
    let f = Failure::new(exit::ERROR, e);
    match hint {
        Some(h) => f.hint(h),
        None => f,
    }
}

/// A new passphrase: the file's first line, else typed twice on the terminal.
fn new_passphrase(file: Option<&Path>) -> Result<Password, Failure> {
    if let Some(path) = file {
        let mut ask = passphrase_source(Some(path))?;
        return ask("").ok_or_else(|| Failure::new(exit::ERROR, "empty passphrase file"));
    }
    if !io::stdin().is_terminal() {
        return Err(Failure::new(
            exit::ERROR,
            "a passphrase is needed: run on a terminal or pass --passphrase-file",
        ));
    }
    let a = Zeroizing::new(
        rpassword::prompt_password("new passphrase: ")
            .map_err(|e| Failure::new(exit::ERROR, e.to_string()))?,
    );
    let b = Zeroizing::new(
        rpassword::prompt_password("again: ")
            .map_err(|e| Failure::new(exit::ERROR, e.to_string()))?,
    );
    if a != b {
        return Err(Failure::new(exit::ERROR, "the passphrases differ"));
    }
    Ok(Password::from(a.as_str()))
}

/// Runs an identity command.
pub fn identity(command: IdentityCommand) -> Result<u8, Failure> {
    let v = vault()?;
    match command {
        IdentityCommand::New {
            userid,
            passphrase_file,
        } => {
            let pw = new_passphrase(passphrase_file.as_deref())?;
            let (cert, migrated) = adopt_identity(NewIdentity::Generate { userid: &userid }, pw)?;
            eprintln!(
                "created identity {} ({userid})",
                keys::grouped(&cert.fingerprint())
            );
            report_migrated(migrated);
        }
        IdentityCommand::Import {
            file,
            passphrase_file,
        } => {
            let tsk = keys::read_secret_key(&file)?;
            let pw = new_passphrase(passphrase_file.as_deref())?;
            let (cert, migrated) = adopt_identity(NewIdentity::Import(&tsk), pw)?;
            eprintln!("imported identity {}", keys::grouped(&cert.fingerprint()));
            report_migrated(migrated);
        }
        IdentityCommand::Export => {
            let cert = v
                .identity()
                .map_err(fail)?
                .ok_or_else(|| fail(VaultError::NoIdentity))?;
            print!("{}", keys::armored_public(&cert));
        }
        IdentityCommand::Backup {
            output,
            passphrase_file,
        } => {
            let mut ask = passphrase_source(passphrase_file.as_deref())?;
            let pw = ask("your identity").ok_or_else(|| {
                Failure::new(
                    exit::ERROR,
                    "a passphrase is needed: run on a terminal or pass --passphrase-file",
                )
            })?;
            let backup = embargo_core::usecase::back_up_identity(&store()?, &pw).map_err(fail)?;
            backup.write_to(&output, false).map_err(fail)?;
            eprintln!(
                "backed up identity {} to {} (locked with your passphrase)",
                keys::grouped(&backup.cert().fingerprint()),
                output.display()
            );
        }
        IdentityCommand::Show => {
            let cert = v
                .identity()
                .map_err(fail)?
                .ok_or_else(|| fail(VaultError::NoIdentity))?;
            let info = keys::describe(&cert);
            println!("fingerprint: {}", info.fingerprint_grouped);
            for uid in &info.user_ids {
                println!("user id:     {}", embargo_core::text::Shown(uid));
            }
            println!(
                "expires:     {}",
                info.expires.as_deref().unwrap_or("never")
            );
        }
    }
    Ok(exit::OK)
}

/// Runs a draft command.
pub fn draft(command: DraftCommand) -> Result<u8, Failure> {
    let v = vault()?;
    match command {
        DraftCommand::Save { file, id } => {
            let mut text = Zeroizing::new(Vec::new());
            if file.as_os_str() == "-" {
                io::stdin()
                    .read_to_end(&mut text)
                    .map_err(|e| Failure::new(exit::ERROR, format!("standard input: {e}")))?;
            } else {
                *text = std::fs::read(&file).map_err(|e| {
                    Failure::new(exit::ERROR, format!("cannot read {}: {e}", file.display()))
                })?;
            }
            let (id, seq) = v.save_draft(id.as_deref(), &text).map_err(fail)?;
            println!("{id}");
            eprintln!("saved draft {id} version {seq} (encrypted to your identity)");
        }
        DraftCommand::List => {
            let (list, broken) = v.drafts().map_err(fail)?;
            for d in &list {
                println!(
                    "{}\t{}\t{} version(s) ({}–{})",
                    d.id,
                    d.updated_at,
                    d.versions.len(),
                    d.versions.first().unwrap_or(&0),
                    d.versions.last().unwrap_or(&0)
                );
            }
            for b in &broken {
                eprintln!("error: {b}");
            }
            if !broken.is_empty() {
                return Ok(exit::ERROR);
            }
        }
        DraftCommand::Show {
            id,
            version,
            passphrase_file,
        } => {
            let mut ask = passphrase_source(passphrase_file.as_deref())?;
            let text = v.load_draft(&id, version, &mut *ask).map_err(fail)?;
            io::stdout()
                .write_all(&text)
                .map_err(|e| Failure::new(exit::ERROR, e.to_string()))?;
        }
        DraftCommand::Export {
            id,
            output,
            passphrase_file,
        } => {
            let mut ask = passphrase_source(passphrase_file.as_deref())?;
            let text = v.load_draft(&id, None, &mut *ask).map_err(fail)?;
            crate::write_new(&output, &text)?;
            eprintln!("wrote {}", output.display());
        }
        DraftCommand::Edit {
            id,
            passphrase_file,
        } => {
            let mut ask = passphrase_source(passphrase_file.as_deref())?;
            let text = v.load_draft(&id, None, &mut *ask).map_err(fail)?;
            let edited = edit_in_memory(&text)?;
            if edited[..] == text[..] {
                eprintln!("unchanged");
            } else {
                let (_, seq) = v.save_draft(Some(&id), &edited).map_err(fail)?;
                eprintln!("saved draft {id} version {seq}");
            }
        }
        DraftCommand::Rm { id } => {
            v.remove_draft(&id).map_err(fail)?;
            eprintln!("removed draft {id}");
        }
    }
    Ok(exit::OK)
}

/// A directory on memory-backed storage: `$XDG_RUNTIME_DIR`, else `/dev/shm`, only when it is
/// a tmpfs (checked with statfs), never a persistent disk.
fn tmpfs_dir() -> Result<PathBuf, Failure> {
    let candidates = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/dev/shm")]);
    for dir in candidates {
        if let Ok(st) = rustix::fs::statfs(&dir) {
            // TMPFS_MAGIC and RAMFS_MAGIC.
            #[allow(clippy::unnecessary_cast)]
            let kind = st.f_type as i64;
            if kind == 0x0102_1994 || kind == 0x8584_58f6 {
                return Ok(dir);
            }
        }
    }
    Err(Failure::new(
        exit::ERROR,
        "no memory-backed directory (tmpfs) for a private copy: neither $XDG_RUNTIME_DIR nor /dev/shm is a tmpfs",
    )
    .hint("`embargo draft export` to a place you choose, then `embargo draft save --id`"))
}

fn edit_in_memory(text: &[u8]) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let base = tmpfs_dir()?;
    let dir = tempfile::Builder::new()
        .prefix("embargo-edit-")
        .tempdir_in(&base)
        .map_err(|e| Failure::new(exit::ERROR, format!("{}: {e}", base.display())))?;
    // tempfile makes it 0700.
    let path = dir.path().join("report.md");
    embargo_core::fsutil::write_new(&path, text)
        .map_err(|e| Failure::new(exit::ERROR, format!("{}: {e}", path.display())))?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_owned());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&path)
        .status();
    let read = std::fs::read(&path);
    // Overwrite before removing: the tmpfs pages go back to the kernel zeroed on free anyway,
    // but the file must not outlive this command.
    if let Ok(len) = std::fs::metadata(&path).map(|m| m.len()) {
        let _ = std::fs::write(&path, vec![0u8; len as usize]);
    }
    drop(dir);
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            return Err(Failure::new(
                exit::ERROR,
                format!("the editor exited with {s}; the draft is unchanged"),
            ))
        }
        Err(e) => {
            return Err(Failure::new(
                exit::ERROR,
                format!("cannot run the editor `{editor}`: {e}"),
            ))
        }
    }
    read.map(Zeroizing::new)
        .map_err(|e| Failure::new(exit::ERROR, format!("{}: {e}", path.display())))
}

/// Creates or imports the identity through the core (which also migrates earlier records).
fn adopt_identity(
    from: embargo_core::usecase::NewIdentity<'_>,
    pw: embargo_core::openpgp::crypto::Password,
) -> Result<(embargo_core::openpgp::Cert, usize), Failure> {
    embargo_core::usecase::adopt_identity(&crate::store()?, from, pw).map_err(fail)
}

fn report_migrated(n: usize) {
    if n > 0 {
        eprintln!("encrypted {n} earlier receipt/outbox record(s) to the identity");
    }
}
