//! `embargo program …`: programs in the data directory (shared with the desktop app). Each
//! subcommand parses, calls one core use case, and prints.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Subcommand;
use embargo_core::keys;
use embargo_core::store::PinMode;
use embargo_core::text::Shown;
use embargo_core::usecase::{self, DiscoverProgramError, ImportProgramError};

use crate::discover::{print_discovery, print_request, SourceArgs};
use crate::exit;
use crate::failure::Failure;
use crate::store;

#[derive(Subcommand)]
pub enum ProgramCommand {
    /// List programs and their trust state: pinned, unverified, key changed, no key.
    #[command(after_help = exit::PLAIN)]
    List,
    /// Show a program: contacts, intake, pinned keys, candidates, policy.
    #[command(after_help = exit::PLAIN)]
    Show {
        /// Program id.
        id: String,
    },
    /// Make (or refresh) a program from discovery: security.txt, WKD, key servers. Candidates
    /// are remembered for `program pin`; nothing is trusted until you pin.
    #[command(after_help = exit::PROGRAM_ADD)]
    Add {
        /// A domain (example.org) or an email address (security@example.org).
        domain: String,
        /// Program id (default: the domain with dots as dashes, `example-org`).
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        sources: SourceArgs,
    },
    /// Look for a program's team key on its own domain (the one it came from, else its email
    /// contact's: `novu.co` for Novu); what is found joins that program's candidates.
    #[command(after_help = exit::PROGRAM_ADD)]
    Refresh {
        /// Program id.
        id: String,
        #[command(flatten)]
        sources: SourceArgs,
    },
    /// Print the message asking a program's team to publish an OpenPGP key (it says nothing
    /// about your finding), with a mailto link.
    #[command(after_help = exit::PLAIN)]
    RequestKey {
        /// Program id.
        id: String,
    },
    /// Make a program from a Markdown SECURITY.md: contacts, scope, rules, promises.
    #[command(after_help = exit::PLAIN)]
    Import {
        /// The SECURITY.md file.
        file: PathBuf,
        /// Program id (default: the file's directory name).
        #[arg(long)]
        id: Option<String>,
    },
    /// Remove a program (a built-in one returns to its built-in state).
    #[command(after_help = exit::PLAIN)]
    Remove {
        /// Program id.
        id: String,
    },
    /// Pin a program's team key after comparing its fingerprint with one the team published.
    #[command(after_help = exit::PLAIN)]
    Pin {
        /// Program id.
        #[arg(long)]
        program: String,
        /// The team's certificate file (default: the candidate `program add` found with this
        /// fingerprint).
        #[arg(long)]
        key: Option<PathBuf>,
        /// The full fingerprint the team published (spaces allowed): your confirmation.
        #[arg(long)]
        fingerprint: String,
        /// The team changed its key: replace the pinned one(s).
        #[arg(long, conflicts_with = "add")]
        replace: bool,
        /// Another member of the team: reports go to every pinned key.
        #[arg(long)]
        add: bool,
    },
}

/// Runs a program command.
pub fn run(command: ProgramCommand) -> Result<u8, Failure> {
    match command {
        ProgramCommand::List => list(),
        ProgramCommand::Show { id } => show(&id),
        ProgramCommand::Add {
            domain,
            id,
            sources,
        } => add(&domain, id.as_deref(), &sources),
        ProgramCommand::Refresh { id, sources } => {
            let program = store()?.program(&id)?;
            let domain = usecase::discovery_domain(&program).ok_or_else(|| {
                Failure::new(
                    exit::ERROR,
                    format!("program {id} names no domain or email address to look at"),
                )
                .hint("`embargo program add DOMAIN --id ID` looks at the domain you name")
            })?;
            add(&domain, Some(&id), &sources)
        }
        ProgramCommand::RequestKey { id } => {
            let program = store()?.program(&id)?;
            let r = usecase::key_request(&program);
            match &r.to {
                Some(to) => println!("To: {}", Shown(to)),
                None => println!(
                    "Contact: {} (paste the text into the form)",
                    Shown(&r.contact)
                ),
            }
            println!("Subject: {}", r.subject);
            println!();
            print!("{}", r.body);
            if let Some(m) = &r.mailto {
                println!();
                println!("mailto link: {}", Shown(m));
            }
            Ok(exit::OK)
        }
        ProgramCommand::Import { file, id } => import(&file, id.as_deref()),
        ProgramCommand::Remove { id } => {
            if store()?.remove_program(&id)? {
                eprintln!("removed program {id}");
            } else {
                eprintln!("{id} is built in: it has nothing saved to remove");
            }
            Ok(exit::OK)
        }
        ProgramCommand::Pin {
            program,
            key,
            fingerprint,
            replace,
            add,
        } => {
            let mode = match (replace, add) {
                (true, _) => PinMode::Replace,
                (_, true) => PinMode::Add,
                _ => PinMode::Only,
            };
            let store = store()?;
            let (cert, source) = match &key {
                Some(file) => (
                    keys::read_certs(file)?.remove(0),
                    format!("file:{}", file.display()),
                ),
                None => usecase::candidate_cert(&store, &store.program(&program)?, &fingerprint)?,
            };
            let p =
                usecase::confirm_team_key(&store, &program, &cert, &fingerprint, &source, mode)?;
            eprintln!(
                "pinned {} for {}",
                keys::grouped(&cert.fingerprint()),
                Shown(&p.name)
            );
            Ok(exit::OK)
        }
    }
}

fn list() -> Result<u8, Failure> {
    let listed = store()?.programs()?;
    let mut out = io::stdout().lock();
    for p in &listed.programs {
        let keys: Vec<&str> = p.team_keys.iter().map(|k| k.fingerprint.as_str()).collect();
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            p.id,
            Shown(&p.name),
            p.email().unwrap_or("-"),
            p.trust().as_str(),
            if keys.is_empty() {
                "-".to_owned()
            } else {
                keys.join(",")
            }
        );
    }
    for broken in &listed.broken {
        eprintln!("error: {broken}");
    }
    Ok(if listed.broken.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    })
}

fn grouped(hex: &str) -> String {
    embargo_core::keys::grouped_hex(hex)
}

fn show(id: &str) -> Result<u8, Failure> {
    let p = store()?.program(id)?;
    println!("id:        {}", p.id);
    println!("name:      {}", Shown(&p.name));
    println!("trust:     {}", p.trust().as_str());
    if let Some(d) = &p.domain {
        println!("domain:    {}", Shown(d));
    }
    for c in &p.contacts {
        println!("contact:   {}", Shown(c));
    }
    if let Some(u) = &p.policy_url {
        println!("policy:    {}", Shown(u));
    }
    println!(
        "intake:    {}",
        p.intake_url
            .as_deref()
            .map(|u| Shown(u).to_string())
            .unwrap_or_else(|| "none (export by email)".to_owned())
    );
    for k in &p.team_keys {
        println!(
            "pinned:    {} (from {}, at {})",
            grouped(&k.fingerprint),
            Shown(k.source.as_deref().unwrap_or("?")),
            k.confirmed_at.as_deref().unwrap_or("?")
        );
    }
    for c in &p.candidates {
        println!(
            "candidate: {} (sources: {}; found {})",
            grouped(&c.fingerprint),
            c.sources.join(", "),
            c.found_at
        );
    }
    if let Some(a) = &p.key_alarm {
        println!(
            "KEY CHANGED: {} found by {} at {}; pinned: {}",
            grouped(&a.offered),
            a.sources.join(", "),
            a.seen_at,
            a.pinned
                .iter()
                .map(|f| grouped(f))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("           compare with the team and run `embargo program pin --replace`");
    }
    if let Some(r) = &p.response {
        println!(
            "response:  {} business days ({})",
            r.business_days,
            Shown(&r.wording)
        );
    }
    for o in &p.out_of_scope {
        println!("out of scope: {} — {}", o.class, Shown(&o.wording));
    }
    for a in &p.attestations {
        println!("rule:      {}", Shown(&a.wording));
    }
    Ok(exit::OK)
}

fn add(domain: &str, id: Option<&str>, sources: &SourceArgs) -> Result<u8, Failure> {
    let found = sources.discover(domain)?;
    print_discovery(&found);
    println!();
    let store = store()?;
    match usecase::record_discovery(&store, &found, id) {
        Ok(done) => {
            let p = &done.program;
            println!(
                "{} program {} ({})",
                if done.created { "added" } else { "updated" },
                p.id,
                Shown(&p.name)
            );
            if let Some(u) = &p.intake_url {
                println!("intake: {}", Shown(u));
            }
            for f in &done.merged {
                println!("pinned key {} is unchanged", grouped(f));
            }
            let new: Vec<_> = p
                .candidates
                .iter()
                .filter(|c| !done.merged.contains(&c.fingerprint))
                .collect();
            if p.has_team_key() {
                return Ok(exit::OK);
            }
            if new.is_empty() {
                println!("No usable key was found for {}.", Shown(&p.name));
                print_request(&found);
                return Ok(exit::NOTHING_FOUND);
            }
            // The command carries no fingerprint: copying one from here would skip the very
            // comparison pinning exists for.
            println!(
                "Nothing is trusted yet. Find the fingerprint the team published (its website, a \
                 signed email, in person), compare it with the candidate{} above, then type it:",
                if new.len() == 1 { "" } else { "s" }
            );
            println!(
                "  embargo program pin --program {} --fingerprint 'FINGERPRINT THE TEAM PUBLISHED'",
                p.id
            );
            Ok(exit::OK)
        }
        Err(e @ DiscoverProgramError::KeyChanged { .. }) => Err(Failure::new(exit::SIGNATURE, e)
            .hint("compare both fingerprints with the team; if it really changed its key, `embargo program pin --replace`")),
        Err(e) => Err(Failure::new(exit::ERROR, e)),
    }
}

fn import(file: &std::path::Path, id: Option<&str>) -> Result<u8, Failure> {
    let imported = usecase::import_program_file(&store()?, file, id).map_err(|e| match e {
        ImportProgramError::Exists(id) => {
            Failure::new(exit::ERROR, format!("a program `{id}` already exists"))
                .hint("choose another id with --id, or `embargo program remove` it first")
        }
        other => Failure::new(exit::ERROR, other),
    })?;
    let p = &imported.program;
    println!("imported program {} ({})", p.id, Shown(&p.name));
    println!(
        "  {} contact(s), {} out-of-scope class(es), {} rule(s), {} promise(s)",
        p.contacts.len(),
        p.out_of_scope.len(),
        p.attestations.len(),
        p.promises.len() + usize::from(p.response.is_some())
    );
    if !imported.unmapped.is_empty() {
        println!("not mapped (read these yourself):");
        for u in &imported.unmapped {
            println!("  - [{}] {}", Shown(&u.section), Shown(&u.text));
        }
    }
    if !imported.keys.is_empty() {
        println!(
            "the policy mentions {} key(s); none is pinned by an import: run `embargo program add`",
            imported.keys.len()
        );
    } else if !p.has_team_key() {
        println!("no team key: `embargo discover --request-key` drafts an email asking for one");
    }
    Ok(exit::OK)
}
