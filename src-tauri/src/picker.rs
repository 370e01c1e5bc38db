//! Files the user chose: native dialogs opened by the backend (never by the webview), and a
//! registry of the paths the dialogs or a drop gave in this session. Commands take a token from
//! the registry, never a path string from the webview, so a compromised page cannot make the
//! backend read or write a file the user did not pick.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CommandError, ErrorCode};

/// A file filter of a dialog: a label and extensions.
pub type Filter = (&'static str, &'static [&'static str]);

/// Opens file dialogs. The app uses the native dialogs; tests use a scripted one.
pub trait Picker: Send + Sync {
    /// Files to read; empty when cancelled.
    fn open(&self, title: &str, filters: &[Filter], multiple: bool) -> Vec<PathBuf>;
    /// A file to write; `None` when cancelled.
    fn save(&self, title: &str, default_name: &str, filters: &[Filter]) -> Option<PathBuf>;
}

/// What a picked file is for: a file to read may not be used as a destination and vice versa.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Read (attachments, key files, reports).
    Read,
    /// Written (exports).
    Write,
}

/// A file the user picked, as the webview sees it: a token and a name to show.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PickedFile {
    /// Refers to the path in the backend's registry.
    #[ts(type = "number")]
    pub token: u64,
    /// The file name, for display.
    pub name: String,
}

/// Paths picked in this session.
#[derive(Default)]
pub struct Registry {
    entries: Mutex<HashMap<u64, (PathBuf, Purpose)>>,
}

impl Registry {
    /// Registers a path the user chose; returns what the webview may see.
    pub fn register(&self, path: PathBuf, purpose: Purpose) -> PickedFile {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let token = loop {
            let t: u64 = rand::random::<u64>() >> 11; // exact in a JavaScript number
            if t != 0 && !entries.contains_key(&t) {
                break t;
            }
        };
        entries.insert(token, (path, purpose));
        PickedFile { token, name }
    }

    /// Registers files dropped on the window (directories and the like are left out).
    pub fn register_drop(&self, paths: Vec<PathBuf>) -> Vec<PickedFile> {
        paths
            .into_iter()
            .filter(|p| p.is_file())
            .map(|p| self.register(p, Purpose::Read))
            .collect()
    }

    /// The path behind a token, when it was registered for this purpose.
    pub fn path(&self, token: u64, purpose: Purpose) -> Result<PathBuf, CommandError> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(&token) {
            Some((p, pur)) if *pur == purpose => Ok(p.clone()),
            _ => Err(CommandError::new(
                ErrorCode::NotFound,
                format!("no file was picked under token {token}"),
            )
            .hint("Choose the file again.")),
        }
    }
}

/// The native dialogs of tauri-plugin-dialog, opened from the backend.
pub struct DialogPicker<R: tauri::Runtime> {
    pub app: tauri::AppHandle<R>,
}

fn with_filters<R: tauri::Runtime>(
    mut b: tauri_plugin_dialog::FileDialogBuilder<R>,
    filters: &[Filter],
) -> tauri_plugin_dialog::FileDialogBuilder<R> {
    for (name, ext) in filters {
        b = b.add_filter(*name, ext);
    }
    b
}

impl<R: tauri::Runtime> Picker for DialogPicker<R> {
    fn open(&self, title: &str, filters: &[Filter], multiple: bool) -> Vec<PathBuf> {
        use tauri_plugin_dialog::DialogExt;
        let b = with_filters(self.app.dialog().file().set_title(title), filters);
        let picked = if multiple {
            b.blocking_pick_files().unwrap_or_default()
        } else {
            b.blocking_pick_file().into_iter().collect()
        };
        picked
            .into_iter()
            .filter_map(|p| p.into_path().ok())
            .collect()
    }

    fn save(&self, title: &str, default_name: &str, filters: &[Filter]) -> Option<PathBuf> {
        use tauri_plugin_dialog::DialogExt;
        with_filters(
            self.app
                .dialog()
                .file()
                .set_title(title)
                .set_file_name(default_name),
            filters,
        )
        .blocking_save_file()
        .and_then(|p| p.into_path().ok())
    }
}

/// Answers dialogs from a list: the mock-runtime tests, and (debug builds only) the end-to-end
/// test, which cannot click native dialogs (`EMBARGO_E2E_PICKS`: a file of paths, one per answer;
/// an empty line is "cancelled").
pub struct ScriptedPicker {
    answers: Arc<Mutex<Vec<PathBuf>>>,
    file: Option<PathBuf>,
}

impl ScriptedPicker {
    /// Answers from a queue the caller keeps filling, first in first out.
    pub fn new(answers: Arc<Mutex<Vec<PathBuf>>>) -> ScriptedPicker {
        ScriptedPicker {
            answers,
            file: None,
        }
    }

    /// Answers from the lines of a file, read at each dialog so the test can append to it.
    pub fn from_file(path: &Path) -> ScriptedPicker {
        ScriptedPicker {
            answers: Arc::default(),
            file: Some(path.to_owned()),
        }
    }

    fn next(&self) -> Option<PathBuf> {
        if let Some(file) = &self.file {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            let mut lines = text.lines();
            let first = lines.next().map(str::to_owned);
            let rest: Vec<&str> = lines.collect();
            let _ = std::fs::write(file, rest.join("\n"));
            return first.filter(|l| !l.is_empty()).map(PathBuf::from);
        }
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        (!answers.is_empty()).then(|| answers.remove(0))
    }
}

impl Picker for ScriptedPicker {
    fn open(&self, _title: &str, _filters: &[Filter], _multiple: bool) -> Vec<PathBuf> {
        self.next().into_iter().collect()
    }
    fn save(&self, _title: &str, _default_name: &str, _filters: &[Filter]) -> Option<PathBuf> {
        self.next()
    }
}
