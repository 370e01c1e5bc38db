//! `embargo-intake`: command-line wiring — configuration, storage, listener, TLS, signals.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use embargo_intake::config::{ConfigError, ConfigFile, Overrides, Settings, StorageSettings};
use embargo_intake::limits;
use embargo_intake::team::NewToken;
use embargo_intake::{app, serve, AppState, PgStore, SqliteStore, Storage};

#[derive(Parser)]
#[command(
    name = "embargo-intake",
    version,
    about = "Receives sealed vulnerability reports and serves them to the security team"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServerArgs),
    /// Check the configuration (and the files it names) without starting.
    CheckConfig(ServerArgs),
    /// Set up an intake for a team: write a commented configuration file (0600), make the team
    /// token (printed once, only its hash stored) and print the security.txt to publish.
    Init(InitArgs),
    /// Team bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Make a new 256-bit team token and the SHA-256 hash the server's config stores.
    New {
        /// Print `{"token": …, "hash": …}`.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct InitArgs {
    /// The team's domain: security.txt is published at https://DOMAIN/.well-known/security.txt.
    #[arg(long, value_name = "DOMAIN")]
    domain: String,
    /// A team member's certificate (public); give one per member.
    #[arg(long = "team-cert", value_name = "FILE", required = true)]
    team_certs: Vec<PathBuf>,
    /// SQLite storage in DIR [default: /var/lib/embargo-intake].
    #[arg(long, value_name = "DIR", conflicts_with = "database")]
    data: Option<PathBuf>,
    /// PostgreSQL storage instead (postgres://user:password@host:port/database).
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// The configuration file to write (never overwritten).
    #[arg(long, value_name = "FILE", default_value = "intake.toml")]
    config: PathBuf,
    /// Address and port to listen on.
    #[arg(long, value_name = "ADDR", default_value = embargo_intake::config::DEFAULT_LISTEN)]
    listen: String,
    /// The URL researchers reach the intake at [default: https://DOMAIN].
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// The disclosure policy's URL, published in security.txt.
    #[arg(long, value_name = "URL")]
    policy: Option<String>,
    /// TLS certificate chain (PEM), when the server terminates TLS itself.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Write the team token to this new file (mode 0600) instead of printing it: what
    /// `embargo team … --token-file` reads.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
}

#[derive(Args)]
struct ServerArgs {
    /// TOML config file; the flags below override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// SQLite storage: database and body files in DIR (created 0700).
    #[arg(long, value_name = "DIR", conflicts_with = "database")]
    data: Option<PathBuf>,
    /// PostgreSQL storage (postgres://user:password@host:port/database).
    #[arg(long, value_name = "URL", env = "EMBARGO_INTAKE_DATABASE")]
    database: Option<String>,
    /// A team certificate (public); every report must be encrypted to each one given.
    #[arg(long = "team-cert", value_name = "FILE")]
    team_certs: Vec<PathBuf>,
    /// SHA-256 (hex) of a team token, from `embargo-intake token new`.
    #[arg(long = "team-token-hash", value_name = "HASH")]
    team_token_hashes: Vec<String>,
    /// Largest report body accepted, in bytes [default: 268435456].
    #[arg(long, value_name = "BYTES")]
    body_limit: Option<u64>,
    /// The most report-body bytes stored in all; beyond it submissions get 507 [default: none].
    #[arg(long, value_name = "BYTES")]
    max_stored_bytes: Option<u64>,
    /// Free space to keep on the data directory's disk (SQLite); below it submissions get 507,
    /// 0 turns it off [default: 1073741824].
    #[arg(long, value_name = "BYTES")]
    min_free_bytes: Option<u64>,
    /// Open connections at most; at the cap the longest-idle one is closed for a new one
    /// [default: what the open-file limit allows, up to 4096].
    #[arg(long, value_name = "N")]
    max_connections: Option<u64>,
    /// Report uploads at once [default: 128, at most half the connections].
    #[arg(long, value_name = "N")]
    max_uploads: Option<u64>,
    /// TLS certificate chain (PEM); serve HTTPS with --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The URL clients reach this server at, for security.txt [default: from each request].
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
}

impl ServerArgs {
    fn settings(self) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(path) => ConfigFile::load(path)?,
            None => ConfigFile::default(),
        };
        let overrides = Overrides {
            listen: self.listen,
            data: self.data,
            database: self.database,
            team_certs: self.team_certs,
            team_token_hashes: self.team_token_hashes,
            body_limit: self.body_limit,
            max_stored_bytes: self.max_stored_bytes,
            min_free_bytes: self.min_free_bytes,
            max_connections: self.max_connections,
            max_uploads: self.max_uploads,
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
            public_url: self.public_url,
        };
        Ok(Settings::resolve(file, overrides)?)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = match cli.command {
        Command::Token {
            command: TokenCommand::New { json },
        } => token_new(json),
        Command::CheckConfig(args) => check_config(args),
        Command::Init(args) => init(args),
        Command::Serve(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("start the async runtime")
            .and_then(|rt| rt.block_on(run(args))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("embargo-intake: {e:#}");
            // 78 = EX_CONFIG when the configuration is at fault.
            if e.downcast_ref::<embargo_intake::config::ConfigError>()
                .is_some()
            {
                ExitCode::from(78)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn token_new(json: bool) -> anyhow::Result<()> {
    let t = NewToken::generate();
    if json {
        println!(
            "{}",
            serde_json::json!({"token": t.token.as_str(), "hash": t.hash})
        );
    } else {
        println!("token: {}", t.token.as_str());
        println!("hash:  {}", t.hash);
        eprintln!(
            "Give the token to the team (keep it secret); put the hash in the server's config \
             (team_token_hashes) or pass it as --team-token-hash."
        );
    }
    Ok(())
}

fn init(args: InitArgs) -> anyhow::Result<()> {
    use embargo_intake::init::{render, write_new, InitOptions};
    let absolute = |p: &PathBuf| -> anyhow::Result<PathBuf> {
        std::path::absolute(p).with_context(|| format!("{}", p.display()))
    };
    let domain = args
        .domain
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if domain.is_empty() || domain.contains(['/', ':', ' ']) {
        anyhow::bail!(
            "--domain {:?}: give a bare domain such as example.org",
            args.domain
        );
    }
    let data = match (&args.data, &args.database) {
        (_, Some(_)) => None,
        (Some(d), None) => Some(absolute(d)?),
        (None, None) => Some(PathBuf::from("/var/lib/embargo-intake")),
    };
    let options = InitOptions {
        public_url: args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("https://{domain}")),
        domain: domain.clone(),
        team_certs: args
            .team_certs
            .iter()
            .map(absolute)
            .collect::<anyhow::Result<_>>()?,
        data,
        database: args.database.clone(),
        listen: args.listen.clone(),
        policy: args.policy.clone(),
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(c), Some(k)) => Some((absolute(c)?, absolute(k)?)),
            _ => None,
        },
    };
    let token = NewToken::generate();
    let text = render(&options, &token.hash);
    if let Some(f) = &args.token_file {
        if f.exists() {
            anyhow::bail!("{}: exists (a token file is never replaced)", f.display());
        }
    }
    write_new(&args.config, &text).with_context(|| {
        format!(
            "write {} (an existing configuration is never replaced)",
            args.config.display()
        )
    })?;
    // The file must be one the server runs with: else it goes, and nothing is half set up.
    let settings = ConfigFile::load(&args.config)
        .and_then(|file| Settings::resolve(file, Overrides::default()));
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_file(&args.config);
            return Err(e.into());
        }
    };
    let base = options.public_url.trim_end_matches('/');
    let txt =
        embargo_intake::security_txt(&settings.site, &settings.team, base, chrono::Utc::now())
            .lines()
            .map(|l| {
                if l.starts_with("Canonical:") {
                    format!("Canonical: https://{domain}/.well-known/security.txt")
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
    match &args.token_file {
        Some(f) => {
            if let Err(e) = write_new(f, &format!("{}\n", token.token.as_str())) {
                let _ = std::fs::remove_file(&args.config);
                return Err(e).with_context(|| format!("write {}", f.display()));
            }
            eprintln!("The team token is in {} (mode 0600).", f.display());
        }
        None => {
            println!("token: {}", token.token.as_str());
            println!();
        }
    }
    println!("{txt}");
    if args.token_file.is_none() {
        eprintln!(
            "The token above is shown once: give it to the team, keep it secret (only its hash \
             is in the configuration)."
        );
    }
    eprintln!(
        "Wrote {} (mode 0600).\nStart the server: embargo-intake serve --config {}\n\
         Publish the security.txt above at https://{domain}/.well-known/security.txt, clear-signed \
         with the team key (gpg --clearsign), and renew it before it expires.",
        args.config.display(),
        args.config.display()
    );
    Ok(())
}

fn check_config(args: ServerArgs) -> anyhow::Result<()> {
    let s = args.settings()?;
    println!("listen: {}", s.listen);
    match &s.storage {
        StorageSettings::Sqlite { dir, options } => println!(
            "storage: SQLite in {} (bodies up to {} bytes in the database)",
            dir.display(),
            options.small_body_limit
        ),
        StorageSettings::Postgres(o) => println!(
            "storage: PostgreSQL ({} connections per pool, {}-byte chunks)",
            o.pool_size, o.chunk_size
        ),
    }
    for cert in &s.team {
        println!(
            "team cert: {} from {} ({})",
            cert.fingerprint(),
            cert.path.display(),
            if cert.emails.is_empty() {
                "no e-mail address: not in WKD".to_owned()
            } else {
                cert.emails.join(", ")
            }
        );
        for email in &cert.emails {
            if let Some((local, domain)) = email.rsplit_once('@') {
                println!(
                    "  WKD: /.well-known/openpgpkey/{domain}/hu/{}?l={local}",
                    embargo_core::wkd::local_part_hash(local)
                );
            }
        }
    }
    println!("team tokens: {}", s.tokens.len());
    println!("body limit: {} bytes", s.body_limit);
    let l = &s.limits;
    println!(
        "limits: {} connections, {} uploads at once, {} s idle, bodies at {} B/s after {} s, {} s without a byte",
        match l.max_connections {
            Some(n) => n.to_string(),
            None => "(fitted to the open-file limit at start)".to_owned(),
        },
        l.max_uploads,
        l.idle_timeout.as_secs(),
        l.min_body_rate,
        l.body_grace.as_secs(),
        l.body_idle_timeout.as_secs()
    );
    println!(
        "TLS: {}",
        match &s.tls {
            Some(t) => {
                serve::tls_config(&t.cert, &t.key)?;
                format!("{} (key {})", t.cert.display(), t.key.display())
            }
            None => "off (plain HTTP, for use behind a TLS reverse proxy)".to_owned(),
        }
    );
    println!("security.txt contact: {}", s.site.contact.join(", "));
    for w in &s.warnings {
        println!("warning: {w}");
    }
    println!("config OK");
    Ok(())
}

async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let mut settings = args.settings()?;
    for w in &settings.warnings {
        tracing::warn!("{w}");
    }
    let tls = settings
        .tls
        .as_ref()
        .map(|t| serve::tls_config(&t.cert, &t.key))
        .transpose()?;
    let storage: Arc<dyn Storage> = match &settings.storage {
        StorageSettings::Sqlite { dir, options } => Arc::new(
            SqliteStore::open(dir, options.clone())
                .await
                .with_context(|| format!("open SQLite storage in {}", dir.display()))?,
        ),
        StorageSettings::Postgres(options) => Arc::new(
            PgStore::connect(options.clone())
                .await
                .context("open PostgreSQL storage")?,
        ),
    };
    // The connection cap must fit the open-file limit (raised to its maximum first).
    let file_limit = limits::raise_file_limit().map_err(ConfigError::from)?;
    settings.limits = settings
        .limits
        .fit_to_files(file_limit, storage.file_descriptors())
        .map_err(ConfigError::from)?;
    let max_connections = settings.limits.max_connections.unwrap_or(1);
    tracing::info!(
        file_limit,
        max_connections,
        max_uploads = settings.limits.max_uploads,
        "connection limits"
    );
    let state = AppState::new(&settings, storage.clone()).await?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("listen on {}", settings.listen))?;
    let local = listener.local_addr().context("read the bound address")?;
    tracing::info!(
        address = %local,
        tls = tls.is_some(),
        team_certs = settings.team.len(),
        "listening"
    );
    // Tests and scripts wait for this line on stdout to learn the port (for --listen …:0).
    println!("listening on {local}");
    serve::serve(
        listener,
        app(state),
        tls,
        shutdown_signal(),
        serve::ConnectionOptions {
            max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
            idle_timeout: settings.limits.idle_timeout,
            grace: settings.shutdown_grace,
        },
    )
    .await;
    storage.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}
