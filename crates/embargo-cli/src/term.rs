//! The terminal: passphrases (a file's first line, else a prompt on a TTY), progress bars on a
//! TTY only, interruption by SIGINT/SIGTERM, and core dumps off.

use std::fs;
use std::io::{self, IsTerminal};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use embargo_core::keys::PassphraseFn;
use embargo_core::openpgp::crypto::Password;
use indicatif::{ProgressBar, ProgressStyle};
use zeroize::Zeroizing;

use crate::exit;
use crate::failure::Failure;

/// Passphrases come from the file's first line, else from the terminal, else not at all.
pub fn passphrase_source(file: Option<&Path>) -> Result<Box<PassphraseFn<'static>>, Failure> {
    match file {
        Some(path) => {
            let text = Zeroizing::new(fs::read_to_string(path).map_err(|e| {
                Failure::new(
                    exit::ERROR,
                    format!("cannot read passphrase file {}: {e}", path.display()),
                )
            })?);
            let first = Zeroizing::new(text.lines().next().unwrap_or("").to_owned());
            Ok(Box::new(move |_| Some(Password::from(first.as_str()))))
        }
        None => Ok(Box::new(|what: &str| {
            if !io::stdin().is_terminal() {
                return None;
            }
            rpassword::prompt_password(format!(
                "passphrase for {}: ",
                embargo_core::text::Shown(what)
            ))
            .ok()
            .map(|p| {
                let p = Zeroizing::new(p);
                Password::from(p.as_str())
            })
        })),
    }
}

/// A progress bar on stderr when it is a terminal and not `--quiet`; hidden otherwise.
pub fn progress(quiet: bool, total: u64, what: &str) -> ProgressBar {
    if quiet || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// A flag set by SIGINT or SIGTERM, so that a running seal or open stops and cleans up.
pub fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registration only fails for forbidden signals; these two are not.
        let _ = signal_hook::flag::register(sig, Arc::clone(&flag));
    }
    flag
}

/// Whether the flag was raised.
pub fn interrupted(flag: &AtomicBool) -> bool {
    flag.load(Ordering::Relaxed)
}

/// Keeps secrets out of core dumps (see [`embargo_core::process::forbid_core_dumps`]).
pub fn harden_process() {
    let _ = embargo_core::process::forbid_core_dumps();
}
