//! What the backend hands to the operating system to open: a program's https policy page, a
//! `mailto:` link the core built (the key request, "Send it"), or an `.eml` this app just wrote.
//! The webview has no opener: it names what to open (a program, the last export), never a URL
//! or a path, and the backend builds the URL itself.

use std::io::Write as _;
use std::path::PathBuf;

/// Opens URLs and files with the system's handlers. The app uses the real one; the end-to-end
/// test records what would have been opened instead.
pub trait Opener: Send + Sync {
    /// Hands `target` (a URL or a file path) to the system.
    fn open(&self, target: &str) -> std::io::Result<()>;
}

/// `xdg-open` and friends, through the `open` crate; never waits for the handler.
pub struct SystemOpener;

impl Opener for SystemOpener {
    fn open(&self, target: &str) -> std::io::Result<()> {
        open::that_detached(target)
    }
}

/// Debug builds only, for the end-to-end test (`EMBARGO_E2E_OPENED`): appends each target to a
/// file, one per line, instead of starting a browser or a mail client under Xvfb.
pub struct RecordingOpener {
    /// The file the targets are appended to.
    pub log: PathBuf,
}

impl Opener for RecordingOpener {
    fn open(&self, target: &str) -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        writeln!(f, "{target}")
    }
}
