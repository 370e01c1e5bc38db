//! The output directory of `open`, worked on through its file descriptor: files are staged in a
//! hidden directory inside it and moved into place with `renameat2(RENAME_NOREPLACE)` only after
//! every check passed, so a symlink planted meanwhile cannot redirect plaintext, nothing is ever
//! overwritten, and a failure rolls back what was already moved.
//!
//! A staging directory left by a killed `open` (`.embargo-staging-*`) holds unverified plaintext:
//! the next `open` into the same directory removes it and says so. So that it does not wait for
//! that, each staging directory is also written down in a journal in the data directory (a
//! file per staging, locked while its `open` runs): [`clean_interrupted`], which every command
//! and the app run first, removes the staging directories whose `open` is gone.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags, CWD};
use rustix::io::Errno;

use crate::fsutil::create_private_dir;

/// Prefix of staging directories.
pub const STAGING_PREFIX: &str = ".embargo-staging-";
/// The attachments subdirectory.
pub const ATTACHMENTS_DIR: &str = "attachments";

/// Why the output directory cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputDirProblem {
    /// It is a file, a device, or a symbolic link.
    #[error("is not a directory (or is a symbolic link)")]
    NotADirectory,
    /// It holds files already.
    #[error("is not empty; Embargo never overwrites files")]
    NotEmpty,
    /// Someone else may write into it.
    #[error("is writable by {who} (mode {mode:o}): another user could plant files or links in it")]
    Writable {
        /// "its group", "everyone" or "its group and everyone".
        who: &'static str,
        /// Its permission bits.
        mode: u32,
    },
    /// It belongs to another user.
    #[error("belongs to user {owner}, not to you ({me})")]
    NotOwned {
        /// Its owner's uid.
        owner: u32,
        /// Our effective uid.
        me: u32,
    },
    /// An I/O error.
    #[error("{0}")]
    Io(io::Error),
}

fn io(e: Errno) -> io::Error {
    e.into()
}

/// The output directory, open.
pub struct OutputDir {
    path: PathBuf,
    fd: OwnedFd,
    created: bool,
    /// Staging directories of earlier, interrupted runs that were removed.
    pub leftovers: Vec<String>,
}

impl OutputDir {
    /// Opens (creating it, 0700, when absent) a directory that is ours, not writable by others,
    /// and empty but for leftovers of interrupted runs, which are removed.
    pub fn prepare(path: &Path) -> Result<OutputDir, OutputDirProblem> {
        let created = match path.symlink_metadata() {
            Ok(_) => false,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create_private_dir(path).map_err(OutputDirProblem::Io)?;
                true
            }
            Err(e) => return Err(OutputDirProblem::Io(e)),
        };
        let fd = rustix::fs::openat(
            CWD,
            path,
            OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            Errno::NOTDIR | Errno::LOOP => OutputDirProblem::NotADirectory,
            e => OutputDirProblem::Io(io(e)),
        })?;
        let mut dir = OutputDir {
            path: path.to_owned(),
            fd,
            created,
            leftovers: Vec::new(),
        };
        let stat = rustix::fs::fstat(&dir.fd).map_err(|e| OutputDirProblem::Io(io(e)))?;
        let me = rustix::process::geteuid().as_raw();
        if stat.st_uid != me {
            return Err(OutputDirProblem::NotOwned {
                owner: stat.st_uid,
                me,
            });
        }
        let mode = stat.st_mode & 0o7777;
        if mode & 0o022 != 0 {
            let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
                (true, true) => "its group and everyone",
                (true, false) => "its group",
                _ => "everyone",
            };
            return Err(OutputDirProblem::Writable { who, mode });
        }
        for name in entries(&dir.fd).map_err(OutputDirProblem::Io)? {
            let text = String::from_utf8_lossy(name.as_bytes()).into_owned();
            if text.starts_with(STAGING_PREFIX) {
                remove_tree_at(&dir.fd, &name).map_err(OutputDirProblem::Io)?;
                dir.leftovers.push(text);
            } else {
                // Do not remove the directory we did not create, even on the way out.
                dir.created = false;
                return Err(OutputDirProblem::NotEmpty);
            }
        }
        Ok(dir)
    }

    /// The path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new staging directory inside, written down in `journal` (when given) until it is
    /// committed or removed.
    pub fn staging(&self, journal: Option<&Path>) -> io::Result<Staging<'_>> {
        let suffix: [u8; 8] = rand::random();
        let name = format!("{STAGING_PREFIX}{}", crate::bundle::hex(&suffix));
        // Written down first: a crash between the two leaves a note about nothing, never
        // plaintext nobody knows of.
        let marker = match journal {
            Some(j) => Some(JournalEntry::new(j, &self.path.join(&name))?),
            None => None,
        };
        rustix::fs::mkdirat(&self.fd, name.as_str(), Mode::from_raw_mode(0o700)).map_err(io)?;
        let fd = open_dir_at(&self.fd, OsStr::new(&name))?;
        Ok(Staging {
            out: self,
            name,
            fd,
            attachments: None,
            committed: false,
            _marker: marker,
        })
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if self.created {
            // Only succeeds when empty, i.e. when nothing was committed.
            let _ = std::fs::remove_dir(&self.path);
        }
    }
}

/// Staged files; removed on drop unless committed.
pub struct Staging<'a> {
    out: &'a OutputDir,
    name: String,
    fd: OwnedFd,
    attachments: Option<OwnedFd>,
    committed: bool,
    // Dropped after the staging directory is removed (fields drop after `drop` runs).
    _marker: Option<JournalEntry>,
}

/// One staging directory written down in the journal: a file naming it, locked (`flock`) for
/// as long as its `open` runs, removed with the staging directory.
struct JournalEntry {
    path: PathBuf,
    _lock: File,
}

impl JournalEntry {
    fn new(journal: &Path, staging: &Path) -> io::Result<JournalEntry> {
        create_private_dir(journal)?;
        let staging = std::path::absolute(staging)?;
        let suffix: [u8; 8] = rand::random();
        let path = journal.join(format!("{}.open", crate::bundle::hex(&suffix)));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(io)?;
        io::Write::write_all(&mut file, staging.as_os_str().as_bytes())?;
        file.sync_all()?;
        Ok(JournalEntry { path, _lock: file })
    }
}

impl Drop for JournalEntry {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Removes the staging directories of `open`s that ended without cleaning up (killed, crashed,
/// the machine lost power): each one the journal names whose lock nobody holds any more. A
/// running `open` holds its lock and is left alone. Returns the directories removed.
pub fn clean_interrupted(journal: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(journal) else {
        return removed;
    };
    for entry in entries.flatten() {
        let note = entry.path();
        if note.extension() != Some(OsStr::new("open")) {
            continue;
        }
        let Ok(file) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&note)
        else {
            continue;
        };
        if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            continue; // its `open` is still running
        }
        let Ok(target) = std::fs::read(&note) else {
            continue;
        };
        let target = PathBuf::from(OsStr::from_bytes(&target));
        let ours = target
            .file_name()
            .is_some_and(|n| n.as_bytes().starts_with(STAGING_PREFIX.as_bytes()));
        // Only a real directory that is a staging directory, never through a link.
        if ours
            && target.symlink_metadata().is_ok_and(|m| m.is_dir())
            && std::fs::remove_dir_all(&target).is_ok()
        {
            removed.push(target);
        }
        let _ = std::fs::remove_file(&note);
    }
    removed
}

fn create_at(dir: &OwnedFd, name: &str) -> io::Result<File> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(io)?;
    Ok(File::from(fd))
}

impl Staging<'_> {
    /// Creates a staged file at the top of the staging directory.
    pub fn create(&self, name: &str) -> io::Result<File> {
        create_at(&self.fd, name)
    }

    /// Creates a staged file in the attachments subdirectory (made on first use).
    pub fn create_attachment(&mut self, name: &str) -> io::Result<File> {
        if self.attachments.is_none() {
            rustix::fs::mkdirat(&self.fd, ATTACHMENTS_DIR, Mode::from_raw_mode(0o700))
                .map_err(io)?;
            self.attachments = Some(open_dir_at(&self.fd, OsStr::new(ATTACHMENTS_DIR))?);
        }
        create_at(self.attachments.as_ref().expect("made above"), name)
    }

    /// Removes a staged top-level file.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()).map_err(io)
    }

    /// Moves staged top-level entries (`(staged, final)`) into the output directory, never
    /// replacing anything; on failure moves back what was moved. Everything is synced first.
    pub fn commit(mut self, moves: &[(String, String)]) -> io::Result<()> {
        rustix::fs::syncfs(&self.fd).map_err(io)?;
        let mut moved: Vec<&(String, String)> = Vec::new();
        for m in moves {
            let (staged, target) = m;
            let r = rustix::fs::renameat_with(
                &self.fd,
                staged.as_str(),
                &self.out.fd,
                target.as_str(),
                RenameFlags::NOREPLACE,
            );
            if let Err(e) = r {
                for (staged, target) in moved.into_iter().rev() {
                    let _ = rustix::fs::renameat_with(
                        &self.out.fd,
                        target.as_str(),
                        &self.fd,
                        staged.as_str(),
                        RenameFlags::NOREPLACE,
                    );
                }
                return Err(io(e));
            }
            moved.push(m);
        }
        self.committed = true;
        let _ = remove_tree_at(&self.out.fd, OsStr::new(&self.name));
        rustix::fs::fsync(&self.out.fd).map_err(io)
    }
}

impl Drop for Staging<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let _ = remove_tree_at(&self.out.fd, OsStr::new(&self.name));
        }
    }
}

fn open_dir_at(dir: &OwnedFd, name: &OsStr) -> io::Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io)
}

/// Names in a directory, without `.` and `..`.
fn entries(dir: &impl AsFd) -> io::Result<Vec<std::ffi::OsString>> {
    let mut out = Vec::new();
    let mut d = rustix::fs::Dir::read_from(dir).map_err(io)?;
    while let Some(entry) = d.read() {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            out.push(OsStr::from_bytes(name).to_owned());
        }
    }
    Ok(out)
}

/// Removes `name` inside `dir` and everything under it, without following symbolic links.
fn remove_tree_at(dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => return Ok(()),
        Err(Errno::ISDIR) | Err(Errno::PERM) => {}
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(io(e)),
    }
    let sub = open_dir_at(dir, name)?;
    for child in entries(&sub)? {
        remove_tree_at(&sub, &child)?;
    }
    drop(sub);
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(io)
}
