//! Durable, private file writes: temporary file in the same directory (0600), fsync, rename
//! (never replacing unless asked), fsync the directory.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rustix::fs::{RenameFlags, CWD};

/// The directory a path is in (a bare file name is in the current directory).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Creates a directory and its parents, each new one with mode 0700.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
}

/// A temporary file beside its destination; removed on drop unless persisted.
pub struct TempFile {
    path: PathBuf,
    file: File,
    persisted: bool,
}

impl TempFile {
    /// Creates `.NAME.RANDOM.partial` beside `dest`, mode 0600, exclusively.
    pub fn beside(dest: &Path) -> io::Result<TempFile> {
        let dir = parent_dir(dest);
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "embargo".into());
        let suffix: u64 = rand::random();
        let path = dir.join(format!(".{name}.{suffix:016x}.partial"));
        let mut o = fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let file = o.open(&path)?;
        Ok(TempFile {
            path,
            file,
            persisted: false,
        })
    }

    /// The open file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Syncs the file, renames it to `dest` and syncs the directory. Without `overwrite` an
    /// existing `dest` is an `AlreadyExists` error, decided atomically by the rename.
    pub fn persist(mut self, dest: &Path, overwrite: bool) -> io::Result<()> {
        self.file.sync_all()?;
        if overwrite {
            fs::rename(&self.path, dest)?;
        } else {
            rename_noreplace(&self.path, dest)?;
        }
        self.persisted = true;
        File::open(parent_dir(dest))?.sync_all()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Renames without replacing: `AlreadyExists` when `to` exists.
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    match rustix::fs::renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        // Filesystems without RENAME_NOREPLACE: a hard link fails atomically when `to` exists.
        Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOSYS) => {
            fs::hard_link(from, to)?;
            fs::remove_file(from)
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes a file atomically and durably, mode 0600 (directories 0700), replacing it.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    create_private_dir(parent_dir(path))?;
    let tmp = TempFile::beside(path)?;
    tmp.file().write_all(bytes)?;
    tmp.persist(path, true)
}

/// Writes a new file atomically and durably, mode 0600; `AlreadyExists` when it exists.
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = TempFile::beside(path)?;
    tmp.file().write_all(bytes)?;
    tmp.persist(path, false)
}

/// Reads a whole file of at most `limit` bytes, opened once; anything else is an error (so that a
/// path to `/dev/zero` or a huge file cannot exhaust memory).
pub fn read_capped(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if meta.len() > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} bytes, over the limit of {limit} bytes", meta.len()),
        ));
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("over the limit of {limit} bytes"),
        ));
    }
    Ok(out)
}
