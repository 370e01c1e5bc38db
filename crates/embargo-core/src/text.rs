//! Text that came from a message or a report, made safe to show on a terminal and to use as a file
//! name.
//!
//! A sealed report is attacker-controlled input for the team: a user ID, title or attachment name
//! may carry ESC sequences that rewrite the status line, or bidi overrides that make `gpj.exe` read
//! as `exe.jpg`. Everything shown is escaped with [`Shown`]; every name written to disk goes
//! through [`safe_file_name`] and [`NameAllocator`].

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write as _};

use unicode_normalization::UnicodeNormalization;

/// Unicode bidirectional controls: embeddings, overrides, isolates and marks.
const BIDI_CONTROLS: &[char] = &[
    '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
    '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
];

/// Whether `c` is a bidi control (see [`BIDI_CONTROLS`]).
pub fn is_bidi_control(c: char) -> bool {
    BIDI_CONTROLS.contains(&c)
}

/// Whether `c` is in Unicode's general category Cf ("format"): invisible characters that change
/// how text around them is shown (bidi controls, zero-width joiners, soft hyphens, tags…).
/// The ranges are those of Unicode 15.1.
pub fn is_format_char(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{0600}'..='\u{0605}'
        | '\u{061C}'
        | '\u{06DD}'
        | '\u{070F}'
        | '\u{0890}'..='\u{0891}'
        | '\u{08E2}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{110BD}'
        | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}'
        | '\u{E0020}'..='\u{E007F}')
}

/// Whether showing `c` raw could change what a terminal or a reader sees: C0 and C1 controls,
/// DEL, and bidi controls. Line feed and tab are not exempt — callers print one line at a time.
pub fn is_unsafe_to_show(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// The first character of `s` that [`is_unsafe_to_show`], if any.
pub fn first_unsafe(s: &str) -> Option<char> {
    s.chars().find(|&c| is_unsafe_to_show(c))
}

/// Displays a string with every control and bidi character escaped as `\u{…}` (backslashes too,
/// so that an escape cannot be forged).
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if is_unsafe_to_show(c) {
                write!(f, "\\u{{{:x}}}", c as u32)?;
            } else if c == '\\' {
                f.write_str("\\\\")?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// [`Shown`] as an owned string.
pub fn shown(s: &str) -> String {
    Shown(s).to_string()
}

/// File names Windows reserves whatever the extension.
const WINDOWS_RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Longest name written, in bytes (below every common filesystem's 255).
const MAX_NAME_BYTES: usize = 200;

/// Reduces a name from a message to a safe base name: no directories, no controls, bidi or other
/// format characters, none of `<>:"|?*`, NFC-normalised, no leading dots, no trailing dots or
/// spaces, not a Windows device name, at most 200 bytes. May return an empty string.
pub fn safe_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|&c| !is_format_char(c))
        .map(|c| {
            if c.is_control() || "<>:\"|?*".contains(c) {
                '_'
            } else {
                c
            }
        })
        .nfc()
        .collect();
    let trimmed = cleaned
        .trim()
        .trim_start_matches('.')
        .trim_end_matches(['.', ' ']);
    let mut out = String::new();
    for c in trimmed.chars() {
        if out.len() + c.len_utf8() > MAX_NAME_BYTES {
            break;
        }
        out.push(c);
    }
    let out = out.trim_end_matches(['.', ' ']).to_owned();
    let stem = out.split('.').next().unwrap_or("").to_ascii_lowercase();
    if WINDOWS_RESERVED.contains(&stem.as_str()) {
        return format!("_{out}");
    }
    out
}

/// Hands out names that are unique case-insensitively (and by normalisation, since every name is
/// NFC already), as `a.txt`, `a (2).txt`, `a (3).txt`, in time linear in the number of names.
#[derive(Default)]
pub struct NameAllocator {
    taken: HashSet<String>,
    /// Next suffix to try per folded stem + extension.
    next: HashMap<String, u64>,
}

fn fold(s: &str) -> String {
    s.to_lowercase()
}

impl NameAllocator {
    /// Reserves a name that is not otherwise available (e.g. `report.md` beside attachments).
    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(fold(name));
    }

    /// A unique name for `name` (already safe; see [`safe_file_name`]).
    pub fn allocate(&mut self, name: &str) -> String {
        if self.taken.insert(fold(name)) {
            return name.to_owned();
        }
        let (stem, ext) = match name.rfind('.') {
            Some(i) if i > 0 => (&name[..i], &name[i..]),
            _ => (name, ""),
        };
        let key = fold(name);
        let mut n = self.next.get(&key).copied().unwrap_or(2);
        loop {
            let candidate = format!("{stem} ({n}){ext}");
            n += 1;
            if self.taken.insert(fold(&candidate)) {
                self.next.insert(key, n);
                return candidate;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_escapes_controls_and_bidi() {
        assert_eq!(
            shown("ok\u{1b}[2K\u{9b}x\u{202e}gpj.exe\\u{41}"),
            "ok\\u{1b}[2K\\u{9b}x\\u{202e}gpj.exe\\\\u{41}"
        );
        assert_eq!(shown("Ünïcödé — fine"), "Ünïcödé — fine");
    }

    #[test]
    fn file_names_lose_directories_controls_and_format_characters() {
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(safe_file_name(".."), "");
        assert_eq!(safe_file_name(".bashrc"), "bashrc");
        assert_eq!(safe_file_name("a\u{0}b:c"), "a_b_c");
        assert_eq!(safe_file_name("invoice\u{202e}fdp.exe"), "invoicefdp.exe");
        assert_eq!(safe_file_name("zero\u{200b}width\u{2066}"), "zerowidth");
        assert_eq!(safe_file_name("cafe\u{301}.txt"), "caf\u{e9}.txt");
        assert_eq!(safe_file_name("CON.txt"), "_CON.txt");
        assert_eq!(safe_file_name("name. . "), "name");
        assert_eq!(safe_file_name(&"x".repeat(300)).len(), 200);
        assert_eq!(safe_file_name(&"é".repeat(150)).len(), 200);
    }

    #[test]
    fn names_are_unique_case_insensitively() {
        let mut names = NameAllocator::default();
        names.reserve("report.md");
        assert_eq!(names.allocate("a.txt"), "a.txt");
        assert_eq!(names.allocate("A.txt"), "A (2).txt");
        assert_eq!(names.allocate("a.txt"), "a (3).txt");
        assert_eq!(names.allocate("a (2).txt"), "a (2) (2).txt");
        assert_eq!(names.allocate("REPORT.md"), "REPORT (2).md");
        assert_eq!(names.allocate("noext"), "noext");
        assert_eq!(names.allocate("noext"), "noext (2)");
    }

    #[test]
    fn thousands_of_equal_names_take_linear_work() {
        // The old allocator rescanned every taken name for every candidate suffix: cubic. 50,000
        // equal names would take hours there; here each allocation inserts one or two names.
        let mut names = NameAllocator::default();
        for _ in 0..50_000 {
            names.allocate("a.txt");
        }
        assert_eq!(names.taken.len(), 50_000);
        assert_eq!(names.allocate("a.txt"), "a (50001).txt");
    }
}
