//! The data directory shared by the app and the CLI: programs, confirmed team keys, settings.
//! Every write is atomic (temp file, fsync, rename) with mode 0600 in 0700 directories.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use openpgp::Cert;
use sequoia_openpgp as openpgp;
use serde::{Deserialize, Serialize};

use crate::ids::{normalize_fingerprint, InvalidFingerprint, InvalidProgramId, ProgramId};
use crate::keys;
use crate::program::{Program, ProgramError, TeamKey};

/// Why the data directory could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No home directory to put the data directory in.
    #[error("no data directory: set EMBARGO_HOME or HOME")]
    NoHome,
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: io::Error,
    },
    /// A record encrypted to the identity, read without its passphrase.
    #[error("{path} is encrypted to your identity: its passphrase is needed to read it")]
    Locked {
        /// The file.
        path: String,
    },
    /// A program file is broken.
    #[error(transparent)]
    Program(#[from] ProgramError),
    /// A stored key is broken or missing.
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    /// A later import has a different primary key than the one pinned.
    #[error("program {program} has pinned key {pinned}; {offered} is a different key")]
    KeyChanged {
        /// Program id.
        program: String,
        /// The pinned fingerprint.
        pinned: String,
        /// The new fingerprint.
        offered: String,
    },
    /// A program id is taken.
    #[error("a program with id `{0}` already exists")]
    Exists(String),
    /// A program id that cannot name a program.
    #[error(transparent)]
    InvalidProgramId(#[from] InvalidProgramId),
    /// A fingerprint that cannot name a key.
    #[error(transparent)]
    InvalidFingerprint(#[from] InvalidFingerprint),
    /// The stored key file holds another key than its name says.
    #[error("{path} holds key {found}, not the pinned {pinned}")]
    WrongKey {
        /// The key file.
        path: String,
        /// The pinned fingerprint.
        pinned: String,
        /// The fingerprint found in the file.
        found: String,
    },
    /// A delivery record could not be encrypted to the identity.
    #[error("{path}: cannot encrypt it to your identity: {source}")]
    Encrypt {
        /// The record.
        path: String,
        /// Why.
        #[source]
        source: crate::message::MessageError,
    },
    /// A delivery record does not decrypt (damaged, or not to this identity).
    #[error("{path} cannot be decrypted: {source}")]
    Undecryptable {
        /// The record.
        path: String,
        /// Why.
        #[source]
        source: Box<crate::open::OpenError>,
    },
    /// No receipt with this id is kept in the data directory.
    #[error("no receipt {0} in the data directory")]
    UnknownReceipt(String),
    /// A delivery record that is not one Embargo wrote.
    #[error("{path} is not a record Embargo wrote: {reason}")]
    BadRecord {
        /// The record.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Settings do not parse.
    #[error("settings file {path}: {message}")]
    Settings {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The app's colour theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Light.
    Light,
    /// Dark.
    Dark,
    /// Follow the system.
    #[default]
    System,
}

/// What the person uses the app for: which screens it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reports vulnerabilities: programs, the report, review, drafts, sent.
    Researcher,
    /// Receives them for a security team: the team's inbox.
    Team,
    /// Both (a researcher who also triages).
    Both,
}

/// User preferences.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The colour theme.
    #[serde(default)]
    pub theme: Theme,
    /// The app locks the vault after this many minutes without activity (default
    /// [`DEFAULT_AUTO_LOCK_MINUTES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_lock_minutes: Option<u32>,
    /// Every request Embargo makes (discovery, submit, status, the outbox) goes through this
    /// proxy: `socks5h://127.0.0.1:9050` for Tor. The CLI's `--proxy` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// How long a submission keeps retrying an unreachable intake before it waits in the outbox
    /// (default [`DEFAULT_RETRY_SECONDS`]). The CLI's `--retry-for` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_seconds: Option<u32>,
    /// While the app runs, it checks for new reports (the team) and new statuses and replies
    /// (the researcher) this often, in seconds, and notifies; 0 turns it off (default
    /// [`DEFAULT_NOTIFY_SECONDS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_seconds: Option<u32>,
    /// What the app is used for; none until chosen (the app asks on its first run and shows
    /// every screen meanwhile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

/// Auto-lock after this many idle minutes unless the settings say otherwise.
pub const DEFAULT_AUTO_LOCK_MINUTES: u32 = 10;
/// The longest auto-lock accepted (a day).
pub const MAX_AUTO_LOCK_MINUTES: u32 = 24 * 60;
/// A submission retries an unreachable intake this long by default (then it is queued).
pub const DEFAULT_RETRY_SECONDS: u32 = 120;
/// The longest retry window accepted (an hour; the outbox takes over after it).
pub const MAX_RETRY_SECONDS: u32 = 3600;
/// The app checks for news this often by default (two minutes).
pub const DEFAULT_NOTIFY_SECONDS: u32 = 120;
/// The shortest check interval accepted (an intake is not polled harder than this).
pub const MIN_NOTIFY_SECONDS: u32 = 5;
/// The longest check interval accepted (a day).
pub const MAX_NOTIFY_SECONDS: u32 = 86_400;

impl Settings {
    /// The auto-lock time in minutes. A hand-edited value out of 1..=[`MAX_AUTO_LOCK_MINUTES`]
    /// is clamped on reading (the app must start); setting one is refused
    /// (`usecase::settings::set_auto_lock`).
    pub fn auto_lock_minutes(&self) -> u32 {
        self.auto_lock_minutes
            .unwrap_or(DEFAULT_AUTO_LOCK_MINUTES)
            .clamp(1, MAX_AUTO_LOCK_MINUTES)
    }

    /// How long a submission retries, clamped like [`Settings::auto_lock_minutes`].
    pub fn retry_for(&self) -> std::time::Duration {
        let s = self
            .retry_seconds
            .unwrap_or(DEFAULT_RETRY_SECONDS)
            .clamp(1, MAX_RETRY_SECONDS);
        std::time::Duration::from_secs(u64::from(s))
    }

    /// How often the app checks for news; `None` when turned off. A hand-edited value out of
    /// range is clamped like [`Settings::auto_lock_minutes`].
    pub fn notify_every(&self) -> Option<std::time::Duration> {
        match self.notify_seconds.unwrap_or(DEFAULT_NOTIFY_SECONDS) {
            0 => None,
            s => Some(std::time::Duration::from_secs(u64::from(
                s.clamp(MIN_NOTIFY_SECONDS, MAX_NOTIFY_SECONDS),
            ))),
        }
    }
}

/// The data directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// `EMBARGO_HOME`, else the XDG data directory's `embargo/`.
    pub fn open_default() -> Result<Store, StoreError> {
        if let Some(home) = std::env::var_os("EMBARGO_HOME").filter(|h| !h.is_empty()) {
            return Ok(Store::at(PathBuf::from(home)));
        }
        let dirs = directories::ProjectDirs::from("", "", "embargo").ok_or(StoreError::NoHome)?;
        Ok(Store::at(dirs.data_dir().to_owned()))
    }

    /// A store rooted at a directory (created on first write).
    pub fn at(root: PathBuf) -> Store {
        Store { root }
    }

    /// Where the data lives.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `open` writes down its staging directories while they exist.
    pub fn open_journal(&self) -> PathBuf {
        self.root.join("open-journal")
    }

    fn program_path(&self, id: &ProgramId) -> PathBuf {
        self.root.join("programs").join(format!("{id}.toml"))
    }

    /// Every program: the built-in ones (as saved, when the user pinned a key) and the user's.
    /// A broken program file does not hide the others: it is listed in `broken`.
    pub fn programs(&self) -> Result<Programs, StoreError> {
        let mut out = Programs::default();
        match self.program(crate::program::DEFAULT_PROGRAM) {
            Ok(p) => out.programs.push(p),
            Err(e) => out.broken.push(e),
        }
        let dir = self.root.join("programs");
        let mut paths: Vec<PathBuf> = match fs::read_dir(&dir) {
            Ok(rd) => rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        paths.sort();
        for path in paths {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if stem == crate::program::DEFAULT_PROGRAM {
                continue;
            }
            match self.program(&stem) {
                Ok(p) => out.programs.push(p),
                Err(StoreError::InvalidProgramId(e)) => {
                    out.broken.push(StoreError::Program(ProgramError::Parse {
                        name: path.display().to_string(),
                        message: format!("not a program file name: {e}"),
                    }))
                }
                Err(e) => out.broken.push(e),
            }
        }
        Ok(out)
    }

    /// One program by id: the saved file, else the built-in. A file that does not parse is an
    /// error naming it, never silently replaced by the built-in.
    pub fn program(&self, id: &str) -> Result<Program, StoreError> {
        let id = ProgramId::parse(id)?;
        let path = self.program_path(&id);
        match crate::fsutil::read_capped(&path, MAX_PROGRAM_FILE_BYTES) {
            Ok(bytes) => {
                let name = path.display().to_string();
                let text = String::from_utf8(bytes).map_err(|_| ProgramError::Parse {
                    name: name.clone(),
                    message: "not UTF-8 text".into(),
                })?;
                let program = Program::from_toml(&name, &text)?;
                if program.id != id.as_str() {
                    return Err(StoreError::Program(ProgramError::Parse {
                        name,
                        message: format!(
                            "the file says id = \"{}\", its name says `{id}`",
                            crate::text::Shown(&program.id)
                        ),
                    }));
                }
                Ok(program)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Program::builtin(id.as_str())?),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Saves a program.
    pub fn save_program(&self, program: &Program) -> Result<(), StoreError> {
        let id = ProgramId::parse(&program.id)?;
        atomic_write(&self.program_path(&id), program.to_toml().as_bytes())
    }

    /// Removes a saved program file. A built-in program cannot be removed: removing its saved
    /// file (its pinned key) returns it to the built-in state. The certificates stay in `keys/`
    /// (other programs may pin them). Returns whether a file was removed.
    pub fn remove_program(&self, id: &str) -> Result<bool, StoreError> {
        let id = ProgramId::parse(id)?;
        let path = self.program_path(&id);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if Program::builtin(id.as_str()).is_ok() {
                    Ok(false)
                } else {
                    Err(StoreError::Program(ProgramError::Unknown(id.to_string())))
                }
            }
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Whether a program with this id is saved or built in.
    pub fn has_program(&self, id: &ProgramId) -> bool {
        self.program_path(id).exists() || Program::builtin(id.as_str()).is_ok()
    }

    /// Adds a program made by hand; its id is derived from the name.
    pub fn add_program(
        &self,
        name: &str,
        contact: &str,
        intake_url: Option<&str>,
    ) -> Result<Program, StoreError> {
        if name.trim().is_empty() {
            return Err(StoreError::Program(ProgramError::Parse {
                name: name.into(),
                message: "a program needs a name".into(),
            }));
        }
        let id = ProgramId::derive(name)?;
        if self.program_path(&id).exists() || Program::builtin(id.as_str()).is_ok() {
            return Err(StoreError::Exists(id.to_string()));
        }
        let id = id.to_string();
        let contact = contact.trim();
        let contacts = if contact.is_empty() {
            Vec::new()
        } else if contact.contains(':') {
            vec![contact.to_owned()]
        } else {
            vec![format!("mailto:{contact}")]
        };
        let program = Program {
            id,
            name: name.trim().to_owned(),
            contacts,
            policy_url: None,
            intake_url: intake_url
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_owned),
            schema: crate::program::PROGRAM_SCHEMA,
            team_keys: Vec::new(),
            team_key: None,
            domain: None,
            candidates: Vec::new(),
            key_alarm: None,
            in_scope: Vec::new(),
            reporting: None,
            out_of_scope: Vec::new(),
            attestations: Vec::new(),
            response: None,
            credit: None,
            promises: Vec::new(),
        };
        self.save_program(&program)?;
        Ok(program)
    }

    /// Pins a confirmed team key to a program: stores the cert as `keys/<FP>.asc` and the full
    /// fingerprint in the program, clears a key alarm about it and drops it from the candidates.
    /// The same primary key again merges (new subkeys, a new expiry). A different primary key
    /// is refused unless `mode` says the user chose to replace the pinned keys or to add one
    /// (a team whose members each hold a key).
    pub fn pin_team_key(
        &self,
        program_id: &str,
        cert: &Cert,
        source: &str,
        mode: PinMode,
    ) -> Result<Program, StoreError> {
        let mut program = self.program(program_id)?;
        let fingerprint = cert.fingerprint().to_hex();
        let pinned: Vec<String> = program
            .team_keys
            .iter()
            .map(|k| k.fingerprint.clone())
            .collect();
        let known = pinned.contains(&fingerprint);
        if !pinned.is_empty() && !known {
            match mode {
                PinMode::Only => {
                    return Err(StoreError::KeyChanged {
                        program: program.id.clone(),
                        pinned: pinned.join(", "),
                        offered: fingerprint,
                    })
                }
                PinMode::Replace | PinMode::Add => {}
            }
        }
        if mode == PinMode::Replace {
            program.team_keys.retain(|k| k.fingerprint == fingerprint);
        }
        self.save_cert(cert)?;
        let key = TeamKey {
            fingerprint: fingerprint.clone(),
            source: Some(source.to_owned()),
            confirmed_at: Some(now()),
        };
        match program
            .team_keys
            .iter_mut()
            .find(|k| k.fingerprint == fingerprint)
        {
            Some(k) => *k = key,
            None => program.team_keys.push(key),
        }
        program.candidates.retain(|c| c.fingerprint != fingerprint);
        if program
            .key_alarm
            .as_ref()
            .is_some_and(|a| a.offered == fingerprint || mode == PinMode::Replace)
        {
            program.key_alarm = None;
        }
        self.save_program(&program)?;
        Ok(program)
    }

    /// Saves a (public) certificate under its fingerprint; an update merges into the stored one.
    pub fn save_cert(&self, cert: &Cert) -> Result<PathBuf, StoreError> {
        let path = self.cert_path(&cert.fingerprint().to_hex());
        let merged = match self.cert(&cert.fingerprint().to_hex()) {
            Ok(old) => old
                .merge_public(cert.clone())
                .unwrap_or_else(|_| cert.clone()),
            Err(_) => cert.clone(),
        };
        atomic_write(&path, keys::armored_public(&merged).as_bytes())?;
        Ok(path)
    }

    fn cert_path(&self, fingerprint: &str) -> PathBuf {
        self.root.join("keys").join(format!("{fingerprint}.asc"))
    }

    /// A stored certificate by full fingerprint; the file must hold exactly that key.
    pub fn cert(&self, fingerprint: &str) -> Result<Cert, StoreError> {
        let fingerprint = normalize_fingerprint(fingerprint)?;
        let path = self.cert_path(&fingerprint);
        let cert = keys::read_certs(&path)?.remove(0);
        let found = cert.fingerprint().to_hex();
        if found != fingerprint {
            return Err(StoreError::WrongKey {
                path: path.display().to_string(),
                pinned: fingerprint,
                found,
            });
        }
        Ok(cert)
    }

    /// The program's pinned team certificates (each file must hold the key its name says).
    pub fn team_certs(&self, program: &Program) -> Result<Vec<Cert>, StoreError> {
        program
            .team_keys
            .iter()
            .map(|k| self.cert(&k.fingerprint))
            .collect()
    }

    /// User settings (defaults when none are saved).
    pub fn settings(&self) -> Result<Settings, StoreError> {
        let path = self.root.join("settings.toml");
        match fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| StoreError::Settings {
                path: path.display().to_string(),
                message: e.message().to_owned(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Saves settings.
    pub fn save_settings(&self, settings: &Settings) -> Result<(), StoreError> {
        let text = toml::to_string(settings).expect("settings serialize");
        atomic_write(&self.root.join("settings.toml"), text.as_bytes())
    }
}

/// How a pin treats keys already pinned with another primary key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinMode {
    /// Refuse: the loud "key changed" error.
    Only,
    /// The team changed its key: the new one replaces every pinned one.
    Replace,
    /// Another member's key: reports go to all of them.
    Add,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Largest program file read.
const MAX_PROGRAM_FILE_BYTES: u64 = 1 << 20;

/// Every program the data directory knows, and the files that could not be read.
#[derive(Debug, Default)]
pub struct Programs {
    /// Readable programs, the built-in Novu first.
    pub programs: Vec<Program>,
    /// Program files that are broken, each error naming its file.
    pub broken: Vec<StoreError>,
}

/// Writes a file atomically and durably (see [`crate::fsutil::atomic_write`]).
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    crate::fsutil::atomic_write(path, bytes).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openpgp::cert::CertBuilder;

    #[test]
    fn pinning_survives_reload_and_a_different_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("data"));
        assert_eq!(store.programs().unwrap().programs.len(), 1);
        let (a, _) = CertBuilder::general_purpose(Some("a")).generate().unwrap();
        let (b, _) = CertBuilder::general_purpose(Some("b")).generate().unwrap();
        store
            .pin_team_key("novu", &a, "pasted", PinMode::Only)
            .unwrap();
        let again = Store::at(dir.path().join("data"));
        let novu = again.program("novu").unwrap();
        assert_eq!(novu.team_keys[0].fingerprint, a.fingerprint().to_hex());
        assert_eq!(
            again.team_certs(&novu).unwrap()[0].fingerprint(),
            a.fingerprint()
        );
        let err = again
            .pin_team_key("novu", &b, "pasted", PinMode::Only)
            .unwrap_err();
        assert!(matches!(err, StoreError::KeyChanged { .. }), "{err}");
        let both = again
            .pin_team_key("novu", &b, "file:b.asc", PinMode::Add)
            .unwrap();
        assert_eq!(both.team_keys.len(), 2, "a second member's key");
        let replaced = again
            .pin_team_key("novu", &b, "file:b.asc", PinMode::Replace)
            .unwrap();
        assert_eq!(replaced.team_keys.len(), 1);
        assert_eq!(replaced.team_keys[0].fingerprint, b.fingerprint().to_hex());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("data/programs/novu.toml"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = fs::metadata(dir.path().join("data/keys"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }

    #[test]
    fn programs_added_by_hand_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().to_owned());
        let p = store
            .add_program(
                "Acme Corp",
                "security@acme.example",
                Some("https://intake.acme.example"),
            )
            .unwrap();
        assert_eq!(p.id, "acme-corp");
        assert_eq!(p.email(), Some("security@acme.example"));
        let ids: Vec<String> = store
            .programs()
            .unwrap()
            .programs
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(ids, ["novu", "acme-corp"]);
        assert!(matches!(
            store.add_program("ACME corp", "x@y", None),
            Err(StoreError::Exists(_))
        ));
        assert_eq!(store.settings().unwrap().theme, Theme::System);
        store
            .save_settings(&Settings {
                theme: Theme::Dark,
                ..Settings::default()
            })
            .unwrap();
        assert_eq!(store.settings().unwrap().theme, Theme::Dark);
    }
}
