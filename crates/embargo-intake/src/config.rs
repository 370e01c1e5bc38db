//! The server's configuration: the TOML file, the command-line overrides, and the checked
//! [`Settings`] the server runs with.
//!
//! Every field of the file has a flag or a default, so `serve` runs from flags alone. Relative
//! paths in the file are relative to the file's directory. Unknown keys are errors (a typo
//! must not silently disable something).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use crate::limits::{LimitError, Limits, LimitsFile};
use crate::quota::{QuotaConfig, DEFAULT_MIN_FREE_BYTES};
use crate::ratelimit::RateLimitConfig;
use crate::storage::{sqlite, PgOptions, SqliteOptions};
use crate::team::{self, TeamCert, TeamError, TeamTokens};

/// Bodies larger than this are refused (413) unless configured otherwise: 256 MiB.
pub const DEFAULT_BODY_LIMIT: u64 = 256 * 1024 * 1024;
/// Replies are short messages: 1 MiB.
pub const DEFAULT_REPLY_LIMIT: u64 = 1024 * 1024;
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The config file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub listen: Option<String>,
    /// SQLite data directory.
    pub data: Option<PathBuf>,
    /// PostgreSQL URL (`postgres://user:password@host:port/db`).
    pub database: Option<String>,
    #[serde(default)]
    pub team_certs: Vec<PathBuf>,
    #[serde(default)]
    pub team_token_hashes: Vec<String>,
    pub body_limit: Option<u64>,
    pub reply_limit: Option<u64>,
    /// The most report-body bytes stored in all (507 beyond); default: no quota.
    pub max_stored_bytes: Option<u64>,
    /// The least free space to leave on the data directory's file system (SQLite; 507
    /// below); default 1 GiB, 0 turns it off.
    pub min_free_bytes: Option<u64>,
    /// Accept PKESKs with a hidden (wildcard) recipient, each standing in for one team key.
    pub accept_hidden_recipients: Option<bool>,
    /// The URL clients reach this server at (for security.txt); else derived per request.
    pub public_url: Option<String>,
    pub tls: Option<TlsFiles>,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_grace_seconds: Option<u64>,
    #[serde(default)]
    pub program: ProgramInfo,
    #[serde(default)]
    pub rate_limits: RateLimitConfig,
    #[serde(default)]
    pub storage: StorageTuning,
    #[serde(default)]
    pub limits: LimitsFile,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The program's public information, published in security.txt.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramInfo {
    /// `mailto:`, `https:` or `tel:` URIs; default: `mailto:` each team cert's e-mail address.
    #[serde(default)]
    pub contact: Vec<String>,
    /// The disclosure policy's URL.
    pub policy: Option<String>,
    /// The response promise in words (e.g. "We answer within 3 business days.").
    pub response_promise: Option<String>,
    pub acknowledgments: Option<String>,
    #[serde(default)]
    pub preferred_languages: Vec<String>,
}

/// Storage knobs; the defaults are the measured ones (NOTES-intake.md).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageTuning {
    /// SQLite: bodies up to this size are kept in the database, larger ones as files.
    pub small_body_limit: Option<usize>,
    /// Most operations one group commit takes.
    pub max_batch: Option<usize>,
    /// PostgreSQL: connections per pool.
    pub pool_size: Option<usize>,
    /// PostgreSQL: size of a body chunk row.
    pub chunk_size: Option<usize>,
}

/// Values given on the command line; each replaces the file's.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data: Option<PathBuf>,
    pub database: Option<String>,
    pub team_certs: Vec<PathBuf>,
    pub team_token_hashes: Vec<String>,
    pub body_limit: Option<u64>,
    pub max_stored_bytes: Option<u64>,
    pub min_free_bytes: Option<u64>,
    pub max_connections: Option<u64>,
    pub max_uploads: Option<u64>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub public_url: Option<String>,
}

/// Where reports are stored.
#[derive(Debug, Clone)]
pub enum StorageSettings {
    Sqlite {
        dir: PathBuf,
        options: SqliteOptions,
    },
    Postgres(PgOptions),
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub storage: StorageSettings,
    pub team: Vec<TeamCert>,
    pub tokens: TeamTokens,
    pub body_limit: u64,
    pub reply_limit: u64,
    pub accept_hidden_recipients: bool,
    pub public_url: Option<Url>,
    pub tls: Option<TlsFiles>,
    pub shutdown_grace: std::time::Duration,
    pub site: Site,
    pub rate_limits: RateLimitConfig,
    pub quota: QuotaConfig,
    /// Connection, upload and body-pace limits; `max_connections` is fitted to the open-file
    /// limit when the server starts ([`Limits::fit_to_files`]).
    pub limits: Limits,
    /// Things that work but deserve a look (printed by `check-config` and logged at start).
    pub warnings: Vec<String>,
}

/// security.txt's content, checked.
#[derive(Debug, Clone)]
pub struct Site {
    pub contact: Vec<String>,
    pub policy: Option<Url>,
    pub response_promise: Option<String>,
    pub acknowledgments: Option<Url>,
    pub preferred_languages: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("no storage: give --data DIR (SQLite) or --database URL (PostgreSQL)")]
    NoStorage,
    #[error(
        "both a data directory ({data}) and a database URL are configured{where_}: choose one"
    )]
    TwoStorages { data: String, where_: &'static str },
    #[error(
        "listen address {value:?} is not an IP address and port (like 127.0.0.1:8080): {reason}"
    )]
    Listen { value: String, reason: String },
    #[error("{field} {value:?} is not a valid URL: {reason}")]
    Url {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("contact {value:?} must be a mailto:, https: or tel: URI")]
    Contact { value: String },
    #[error("security.txt needs a contact: set [program] contact in the config, or use a team cert with an e-mail address in a user ID")]
    NoContact,
    #[error("TLS needs both a certificate and a key: {missing} is missing")]
    TlsIncomplete { missing: &'static str },
    #[error("{field} must be greater than zero")]
    Zero { field: &'static str },
    #[error(transparent)]
    Team(#[from] TeamError),
    #[error(transparent)]
    Limits(#[from] LimitError),
}

impl ConfigFile {
    /// Reads and parses a config file; its relative paths are made relative to its directory.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut file: ConfigFile = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        let rebase = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(d) = file.data.as_mut() {
            rebase(d);
        }
        file.team_certs.iter_mut().for_each(rebase);
        if let Some(tls) = file.tls.as_mut() {
            rebase(&mut tls.cert);
            rebase(&mut tls.key);
        }
        Ok(file)
    }
}

fn parse_url(field: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| ConfigError::Url {
        field,
        value: value.to_owned(),
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(ConfigError::Url {
            field,
            value: value.to_owned(),
            reason: "expected an https:// URL".into(),
        });
    }
    Ok(url)
}

impl Settings {
    /// Merges the file (if any) with the flags and checks everything, reading the team certs.
    pub fn resolve(file: ConfigFile, flags: Overrides) -> Result<Settings, ConfigError> {
        let mut warnings = Vec::new();

        let listen_text = flags
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen: SocketAddr =
            listen_text
                .parse()
                .map_err(|e: std::net::AddrParseError| ConfigError::Listen {
                    value: listen_text.clone(),
                    reason: e.to_string(),
                })?;

        // A storage flag replaces whatever storage the file names.
        let (data, database) = if flags.data.is_some() || flags.database.is_some() {
            if let (Some(d), Some(_)) = (&flags.data, &flags.database) {
                return Err(ConfigError::TwoStorages {
                    data: d.display().to_string(),
                    where_: " on the command line",
                });
            }
            (flags.data, flags.database)
        } else {
            if let (Some(d), Some(_)) = (&file.data, &file.database) {
                return Err(ConfigError::TwoStorages {
                    data: d.display().to_string(),
                    where_: " in the config file",
                });
            }
            (file.data, file.database)
        };
        let tuning = file.storage;
        for (field, value) in [
            ("storage.max_batch", tuning.max_batch),
            ("storage.pool_size", tuning.pool_size),
            ("storage.chunk_size", tuning.chunk_size),
        ] {
            if value == Some(0) {
                return Err(ConfigError::Zero { field });
            }
        }
        let storage = match (data, database) {
            (Some(dir), None) => StorageSettings::Sqlite {
                dir,
                options: SqliteOptions {
                    small_body_limit: tuning
                        .small_body_limit
                        .unwrap_or(sqlite::DEFAULT_SMALL_BODY_LIMIT),
                    max_batch: tuning
                        .max_batch
                        .unwrap_or(SqliteOptions::default().max_batch),
                },
            },
            (None, Some(url)) => {
                let mut o = PgOptions::new(url);
                if let Some(n) = tuning.pool_size {
                    o.pool_size = n;
                }
                if let Some(n) = tuning.chunk_size {
                    o.chunk_size = n;
                }
                if let Some(n) = tuning.max_batch {
                    o.max_batch = n;
                }
                StorageSettings::Postgres(o)
            }
            _ => return Err(ConfigError::NoStorage),
        };

        let cert_paths = if flags.team_certs.is_empty() {
            file.team_certs
        } else {
            flags.team_certs
        };
        let team = team::load_certs(&cert_paths)?;
        let hashes = if flags.team_token_hashes.is_empty() {
            file.team_token_hashes
        } else {
            flags.team_token_hashes
        };
        let tokens = TeamTokens::from_hex(&hashes)?;
        if tokens.is_empty() {
            warnings.push(
                "no team token hash configured: the team endpoints refuse every request (make one with `embargo-intake token new`)".to_owned(),
            );
        }

        let body_limit = flags
            .body_limit
            .or(file.body_limit)
            .unwrap_or(DEFAULT_BODY_LIMIT);
        if body_limit == 0 {
            return Err(ConfigError::Zero {
                field: "body_limit",
            });
        }
        let reply_limit = file.reply_limit.unwrap_or(DEFAULT_REPLY_LIMIT);
        if reply_limit == 0 {
            return Err(ConfigError::Zero {
                field: "reply_limit",
            });
        }

        let max_stored_bytes = flags.max_stored_bytes.or(file.max_stored_bytes);
        if max_stored_bytes == Some(0) {
            return Err(ConfigError::Zero {
                field: "max_stored_bytes",
            });
        }
        let quota = QuotaConfig {
            max_stored_bytes,
            min_free_bytes: flags
                .min_free_bytes
                .or(file.min_free_bytes)
                .unwrap_or(DEFAULT_MIN_FREE_BYTES),
        };
        match (&storage, quota.max_stored_bytes) {
            (StorageSettings::Postgres(_), None) => warnings.push(
                "no max_stored_bytes quota: with PostgreSQL the free-space floor does not apply, so nothing bounds what submissions add to the database".to_owned(),
            ),
            (_, Some(max)) if max < body_limit => warnings.push(format!(
                "max_stored_bytes ({max}) is below body_limit ({body_limit}): the largest reports can never be stored"
            )),
            _ => {}
        }
        if quota.min_free_bytes == 0 && matches!(storage, StorageSettings::Sqlite { .. }) {
            warnings.push(
                "min_free_bytes = 0: submissions may fill the data directory's disk".to_owned(),
            );
        }

        let mut limits_file = file.limits;
        if let Some(n) = flags.max_connections {
            limits_file.max_connections = Some(n);
        }
        if let Some(n) = flags.max_uploads {
            limits_file.max_uploads = n;
        }
        let limits = limits_file.check()?;

        let public_url = flags
            .public_url
            .or(file.public_url)
            .map(|u| parse_url("public_url", &u))
            .transpose()?;

        let tls_cert = flags
            .tls_cert
            .or_else(|| file.tls.as_ref().map(|t| t.cert.clone()));
        let tls_key = flags
            .tls_key
            .or_else(|| file.tls.as_ref().map(|t| t.key.clone()));
        let tls = match (tls_cert, tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            (Some(_), None) => return Err(ConfigError::TlsIncomplete { missing: "the key" }),
            (None, Some(_)) => {
                return Err(ConfigError::TlsIncomplete {
                    missing: "the certificate",
                })
            }
        };

        let program = file.program;
        let mut contact = Vec::new();
        for c in &program.contact {
            let ok = Url::parse(c)
                .map(|u| matches!(u.scheme(), "mailto" | "https" | "tel"))
                .unwrap_or(false);
            if !ok {
                return Err(ConfigError::Contact { value: c.clone() });
            }
            contact.push(c.clone());
        }
        if contact.is_empty() {
            for cert in &team {
                for email in &cert.emails {
                    let uri = format!("mailto:{email}");
                    if !contact.contains(&uri) {
                        contact.push(uri);
                    }
                }
            }
        }
        if contact.is_empty() {
            return Err(ConfigError::NoContact);
        }
        let policy = program
            .policy
            .as_deref()
            .map(|p| parse_url("program.policy", p))
            .transpose()?;
        if policy.is_none() {
            warnings.push("no [program] policy URL: security.txt has no Policy: line".to_owned());
        }
        let acknowledgments = program
            .acknowledgments
            .as_deref()
            .map(|p| parse_url("program.acknowledgments", p))
            .transpose()?;

        Ok(Settings {
            listen,
            storage,
            team,
            tokens,
            body_limit,
            reply_limit,
            accept_hidden_recipients: file.accept_hidden_recipients.unwrap_or(false),
            public_url,
            tls,
            shutdown_grace: std::time::Duration::from_secs(
                file.shutdown_grace_seconds.unwrap_or(30),
            ),
            site: Site {
                contact,
                policy,
                response_promise: program.response_promise,
                acknowledgments,
                preferred_languages: program.preferred_languages,
            },
            rate_limits: file.rate_limits,
            quota,
            limits,
            warnings,
        })
    }
}
