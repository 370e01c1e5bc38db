//! The team's side: a message file opened into a directory.

use std::fs::File;
use std::io;
use std::path::Path;

use crate::open::{OpenError, OpenRequest, Opened};

/// Opens a message file (opened once, must be a regular file) into a directory.
pub fn open_file(message: &Path, req: OpenRequest<'_>) -> Result<Opened, OpenError> {
    let file = File::open(message).map_err(OpenError::Read)?;
    let meta = file.metadata().map_err(OpenError::Read)?;
    if !meta.is_file() {
        return Err(OpenError::Read(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    crate::open::open(file, req)
}

/// Removes the unverified plaintext of `open`s that were interrupted (killed, crashed): every
/// command and the app run this first. Returns the staging directories removed.
pub fn clean_interrupted_opens(store: &crate::store::Store) -> Vec<std::path::PathBuf> {
    crate::open::staging::clean_interrupted(&store.open_journal())
}
