//! SECURITY.md import: reads a Markdown disclosure policy into a [`Program`] and lists what it could not map.
//!
//! The importer walks the document with pulldown-cmark and sorts every list item into the section
//! it belongs to — in scope, out of scope, contact channels, rules, what a report should contain,
//! promises — by the heading above it or the lead-in line (`**Out of Scope Vulnerabilities:**`,
//! "please adhere to the following:"). Paragraphs are read sentence by sentence for contacts,
//! response times, credit and rules written as prose ("Please do not …").
//!
//! It never guesses. Everything lands either in the program, verbatim, or in
//! [`ImportedProgram::unmapped`] with the reason it was left out:
//! - an out-of-scope bullet names exactly one class of the taxonomy ([`crate::program::CLASSES`])
//!   or it is unmapped; a bullet narrower than its class ("Self XSS", "… without a proof of
//!   concept") becomes a *conditional* entry only when the qualifier is one of the standard
//!   phrasings the importer knows (no sensitive actions, login/logout CSRF, non-sensitive cookies,
//!   content spoofing without an attack vector, self-XSS); any other qualifier leaves the bullet
//!   unmapped rather than marking the whole class out of scope;
//! - a rule becomes an attestation only when it matches exactly one of the known rule kinds
//!   ([`RULE_IDS`]); the id is the kind's, the wording the policy's;
//! - a response time is taken only in business (working) days; hours, calendar days and weeks are
//!   shown, not converted;
//! - credit is taken only when the policy credits by default (optionally "unless you ask
//!   otherwise") or says it never credits; credit on request or "with your permission" is shown.
//!
//! Keys are never pinned by an import: fingerprints, armored key blocks and key URLs found in the
//! file are returned as [`KeyHint`]s for the user to confirm.

use std::fmt;

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};
use serde::Serialize;

use crate::program::{Attestation, CreditPolicy, OutOfScope, Program, Promise, ResponsePromise};

/// The largest SECURITY.md the importer reads (real ones are a few KiB).
pub const MAX_IMPORT_BYTES: usize = 1 << 20;

/// Rule kinds the importer recognises, in the order they are tried; the id becomes the
/// attestation id (`attestations = […]` in a report).
pub const RULE_IDS: &[&str] = &[
    "no-automated-scanning",
    "no-exploitation",
    "confidential-until-fixed",
    "no-social-engineering-or-dos",
    "own-accounts-only",
];

/// A program read from a SECURITY.md, with everything the importer did not take.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportedProgram {
    /// The program, every wording verbatim from the file.
    pub program: Program,
    /// What the importer read but could not map, in file order; show these to the user.
    pub unmapped: Vec<Unmapped>,
    /// Key material the policy mentions; never pinned by the import.
    pub keys: Vec<KeyHint>,
}

/// One piece of the policy the importer could not map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmapped {
    /// The heading (and lead-in line, after `›`) the text stands under.
    pub section: String,
    /// The policy's own words.
    pub text: String,
    /// Why it was not mapped.
    pub reason: UnmappedReason,
}

/// Why a piece of the policy was not mapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnmappedReason {
    /// An out-of-scope entry that names no class of the taxonomy.
    NoClass,
    /// An out-of-scope entry that names several classes.
    SeveralClasses {
        /// The class ids it names.
        classes: Vec<String>,
    },
    /// An out-of-scope entry narrower than its class, with a qualifier the importer does not know.
    UnknownCondition {
        /// The class it names.
        class: String,
    },
    /// An out-of-scope entry for a class an earlier entry already covers.
    ClassAlreadyOutOfScope {
        /// The class id.
        class: String,
    },
    /// A rule that matches none of the known rule kinds.
    NoRuleId,
    /// A rule that matches several rule kinds.
    SeveralRuleIds {
        /// The kinds it matches.
        ids: Vec<String>,
    },
    /// A rule whose kind an earlier rule already took.
    RuleIdTaken {
        /// The attestation id.
        id: String,
    },
    /// A response time not given in business days.
    ResponseNotInBusinessDays {
        /// `true` when it was kept among the program's promises.
        kept_as_promise: bool,
    },
    /// A response time after the first one, which the program took.
    SecondResponseTime {
        /// Business days of the response the program took.
        taken: u32,
        /// `true` when it was kept among the program's promises.
        kept_as_promise: bool,
    },
    /// A credit statement that is neither "credited by default" nor "never credited".
    CreditUnclear {
        /// `true` when it was kept among the program's promises.
        kept_as_promise: bool,
    },
    /// A credit statement after the first one, which the program took.
    SecondCreditStatement,
    /// A contact channel that is neither an email address nor a web form Embargo can use.
    NoUsableContact,
    /// A list item under a heading the importer does not know what to do with.
    UnknownSection,
}

impl fmt::Display for UnmappedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kept = |k: &bool| if *k { " (kept as a promise)" } else { "" };
        match self {
            Self::NoClass => write!(f, "names no class of the taxonomy"),
            Self::SeveralClasses { classes } => {
                write!(f, "names several classes ({})", classes.join(", "))
            }
            Self::UnknownCondition { class } => write!(
                f,
                "narrower than class `{class}` with a qualifier the importer does not know; \
                 not marking the whole class out of scope"
            ),
            Self::ClassAlreadyOutOfScope { class } => {
                write!(
                    f,
                    "class `{class}` is already out of scope through an earlier entry"
                )
            }
            Self::NoRuleId => write!(f, "a rule that matches no known rule id"),
            Self::SeveralRuleIds { ids } => {
                write!(
                    f,
                    "a rule that matches several rule ids ({})",
                    ids.join(", ")
                )
            }
            Self::RuleIdTaken { id } => {
                write!(f, "rule id `{id}` was already taken by an earlier rule")
            }
            Self::ResponseNotInBusinessDays { kept_as_promise } => write!(
                f,
                "response time not in business days; no response deadline set{}",
                kept(kept_as_promise)
            ),
            Self::SecondResponseTime {
                taken,
                kept_as_promise,
            } => write!(
                f,
                "another response time; the first one ({taken} business days) was taken{}",
                kept(kept_as_promise)
            ),
            Self::CreditUnclear { kept_as_promise } => write!(
                f,
                "credit neither by default nor never (e.g. on request); credit policy not set{}",
                kept(kept_as_promise)
            ),
            Self::SecondCreditStatement => {
                write!(f, "another credit statement; the first one was taken")
            }
            Self::NoUsableContact => write!(
                f,
                "a contact channel that is neither an email address nor a report form"
            ),
            Self::UnknownSection => write!(f, "under a heading the importer does not know"),
        }
    }
}

/// Key material a policy mentions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum KeyHint {
    /// A v4 (40 hex) or v6 (64 hex) fingerprint, upper case without spaces.
    Fingerprint(String),
    /// An ASCII-armored public key block, as written (line prefixes of quotes removed).
    Armored(String),
    /// A link that points at a key (`.asc`, "PGP key" pages).
    Url(String),
}

/// Errors importing a SECURITY.md.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The program id cannot name a program file.
    #[error("invalid program id `{id}`: use 1 to 64 lower-case letters, digits and single dashes")]
    InvalidId {
        /// The id given.
        id: String,
    },
    /// The file is larger than [`MAX_IMPORT_BYTES`].
    #[error("{source_name}: {size} bytes is more than the {max} bytes a SECURITY.md import reads")]
    TooLarge {
        /// The file.
        source_name: String,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Nothing in the file looks like a disclosure policy.
    #[error(
        "{source_name}: no contact, scope, rule, promise or key found; is this a SECURITY.md?"
    )]
    NothingRecognised {
        /// The file.
        source_name: String,
    },
}

/// Reads a SECURITY.md into a program with id `id`.
///
/// `source` says where the file came from; an `https://` URL becomes the program's
/// `policy_url`, anything else only names the file in errors. The program's name is taken from
/// the top heading when it names the project ("Security Policy of Formbricks"), else made from
/// the id (`novu` → "Novu").
pub fn import_security_md(
    markdown: &str,
    id: &str,
    source: Option<&str>,
) -> Result<ImportedProgram, ImportError> {
    let source_name = source.unwrap_or("SECURITY.md").to_owned();
    if !valid_id(id) {
        return Err(ImportError::InvalidId { id: id.to_owned() });
    }
    if markdown.len() > MAX_IMPORT_BYTES {
        return Err(ImportError::TooLarge {
            source_name,
            size: markdown.len(),
            max: MAX_IMPORT_BYTES,
        });
    }
    let mut walker = Walker::default();
    walker.walk(markdown);
    let mut b = walker.b;
    for armor in armored_blocks(markdown) {
        b.push_key(KeyHint::Armored(armor));
    }

    let name = b
        .title
        .as_deref()
        .and_then(name_from_title)
        .unwrap_or_else(|| name_from_id(id));
    let mut contacts: Vec<String> = b.emails.iter().map(|e| format!("mailto:{e}")).collect();
    contacts.extend(b.forms.iter().cloned());
    let reporting = b
        .reporting
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let program = Program {
        id: id.to_owned(),
        name,
        contacts,
        policy_url: source
            .filter(|s| s.starts_with("https://") && url::Url::parse(s).is_ok())
            .map(str::to_owned),
        intake_url: None,
        schema: crate::program::PROGRAM_SCHEMA,
        team_keys: Vec::new(),
        team_key: None,
        domain: None,
        candidates: Vec::new(),
        key_alarm: None,
        in_scope: b.in_scope,
        reporting: (!reporting.is_empty()).then_some(reporting),
        out_of_scope: b.out_of_scope,
        attestations: b.attestations,
        response: b.response,
        credit: b.credit,
        promises: b.promises,
    };
    let empty = program.contacts.is_empty()
        && program.in_scope.is_empty()
        && program.reporting.is_none()
        && program.out_of_scope.is_empty()
        && program.attestations.is_empty()
        && program.response.is_none()
        && program.credit.is_none()
        && program.promises.is_empty()
        && b.keys.is_empty();
    if empty {
        return Err(ImportError::NothingRecognised { source_name });
    }
    Ok(ImportedProgram {
        program,
        unmapped: b.unmapped,
        keys: b.keys,
    })
}

/// Fuzz entry point: any bytes, no panic; an import that succeeds yields a program that
/// round-trips through its TOML form (so every class id is one of the taxonomy's).
pub fn fuzz_import(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(imported) = import_security_md(text, "fuzz", Some("fuzz input")) {
        let toml = imported.program.to_toml();
        let back = Program::from_toml("fuzz", &toml).expect("an imported program re-reads");
        assert_eq!(back, imported.program);
        for u in &imported.unmapped {
            let _ = u.reason.to_string();
        }
    }
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
}

fn name_from_id(id: &str) -> String {
    id.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

/// "Security Policy of Formbricks" → "Formbricks"; "Security" → none.
fn name_from_title(title: &str) -> Option<String> {
    const GENERIC: &[&str] = &[
        "security",
        "policy",
        "policies",
        "vulnerability",
        "vulnerabilities",
        "disclosure",
        "responsible",
        "coordinated",
        "reporting",
        "report",
        "reports",
        "issue",
        "issues",
        "program",
        "programme",
        "of",
        "for",
        "the",
        "and",
        "&",
        "a",
    ];
    let words: Vec<&str> = title
        .split_whitespace()
        .filter(|w| {
            let bare = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '&');
            !bare.is_empty() && !GENERIC.contains(&bare.to_lowercase().as_str())
        })
        .collect();
    let name = words.join(" ");
    let name = name.trim_matches(|c: char| !c.is_alphanumeric()).to_owned();
    (!name.is_empty() && name.chars().count() <= 40).then_some(name)
}

// ---------------------------------------------------------------------------------------------
// Sections

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    InScope,
    OutOfScope,
    Channels,
    Promises,
    Reporting,
    Rules,
    Other,
}

/// A lead-in paragraph is classified by its last sentence, the one that introduces the list.
fn classify_label(text: &str) -> Section {
    classify_section(sentences(text).last().copied().unwrap_or(text))
}

fn classify_section(text: &str) -> Section {
    let t = text.to_lowercase();
    if has_any(
        &t,
        &[
            "out of scope",
            "out-of-scope",
            "not in scope",
            "non-qualifying",
            "non qualifying",
            "not qualify",
            "ineligible",
            "not eligible",
            "exclusion",
            "excluded",
            "not considered",
            "not accept",
            "not be accepted",
            "not a vulnerability",
            "not vulnerabilities",
        ],
    ) {
        Section::OutOfScope
    } else if has_any(
        &t,
        &[
            "in scope",
            "in-scope",
            "qualifying vulnerabilit",
            "eligible",
        ],
    ) {
        Section::InScope
    } else if has_any(
        &t,
        &[
            "following methods",
            "following ways",
            "channel",
            "you can either",
            "one of the following",
            "contact",
        ],
    ) {
        Section::Channels
    } else if has_any(
        &t,
        &[
            "promise",
            "commitment",
            "what to expect",
            "you can expect",
            "what we will do",
            "what we do",
            "our response",
            "response time",
            "response process",
            "timeline",
            "safe harbor",
            "safe harbour",
        ],
    ) {
        Section::Promises
    } else if has_any(
        &t,
        &[
            "include",
            "information",
            "what to send",
            "report should contain",
            "should contain",
        ],
    ) {
        Section::Reporting
    } else if has_word(&t, "scope") {
        Section::InScope
    } else if has_any(
        &t,
        &[
            "instruction",
            "guideline",
            "rule",
            "please do the following",
            "please adhere",
            "ask that you",
            "ask you to",
            "expectations",
            "report",
            "disclos",
        ],
    ) {
        Section::Rules
    } else {
        Section::Other
    }
}

// ---------------------------------------------------------------------------------------------
// The walk: pulldown-cmark events → blocks of plain text, each handled in its section.

#[derive(Default)]
struct Inline {
    text: String,
    /// Links as (position in `text`, destination, link text).
    links: Vec<(usize, String, String)>,
    /// Text position where the link currently open began.
    link_start: Option<(usize, String)>,
    strong_depth: usize,
    /// Visible characters outside strong emphasis.
    plain_chars: usize,
    /// Where a leading strong run ended, and whether a line break followed it.
    lead_strong_end: Option<usize>,
    lead_strong_break: bool,
    seen_text: bool,
    in_image: usize,
}

impl Inline {
    fn push_text(&mut self, s: &str) {
        if self.in_image > 0 {
            return;
        }
        if self.strong_depth == 0 {
            self.plain_chars += s.chars().filter(|c| !c.is_whitespace()).count();
        }
        if !s.trim().is_empty() {
            self.seen_text = true;
        }
        self.text.push_str(s);
    }

    fn push_break(&mut self) {
        if let Some(end) = self.lead_strong_end {
            if self.text[end..].trim().is_empty() {
                self.lead_strong_break = true;
            }
        }
        self.text.push(' ');
    }

    fn start_strong(&mut self) {
        self.strong_depth += 1;
    }

    fn end_strong(&mut self) {
        self.strong_depth = self.strong_depth.saturating_sub(1);
        if self.strong_depth == 0 && self.lead_strong_end.is_none() && self.plain_chars == 0 {
            self.lead_strong_end = Some(self.text.len());
        }
    }

    /// The text with whitespace collapsed; a leading bold title followed by a line break
    /// ("**Response Time** <br/> We will …") is dropped, as the sentence stands alone.
    fn finish(&self) -> Block {
        let mut skip = 0;
        if let (Some(end), true) = (self.lead_strong_end, self.lead_strong_break) {
            if !self.text[end..].trim().is_empty() {
                skip = end;
            }
        }
        let raw = &self.text[skip..];
        let text = collapse(raw);
        let all_strong = self.plain_chars == 0 && !text.is_empty();
        let links = self
            .links
            .iter()
            .map(|(pos, dest, link_text)| {
                let at = raw.get(..pos.saturating_sub(skip)).map_or(0, |before| {
                    let c = collapse(before).len();
                    if c > 0 && before.ends_with(char::is_whitespace) {
                        c + 1
                    } else {
                        c
                    }
                });
                (at, dest.clone(), link_text.clone())
            })
            .collect();
        Block {
            text,
            links,
            all_strong,
        }
    }
}

struct Block {
    text: String,
    /// Links as (position in `text`, destination, link text).
    links: Vec<(usize, String, String)>,
    all_strong: bool,
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

struct ListFrame {
    section: Section,
    label: Option<String>,
    reporting_part: Option<usize>,
}

struct ItemFrame {
    inline: Inline,
    /// Set once the item's own text was handled (when a nested list starts).
    done: bool,
    /// The item's text when it introduces a nested list ("Include:").
    label: Option<String>,
}

#[derive(Default)]
struct Walker {
    b: Builder,
    heading: String,
    heading_section: Option<Section>,
    label: Option<String>,
    lists: Vec<ListFrame>,
    items: Vec<ItemFrame>,
    /// Paragraphs, headings and table cells outside items.
    inline: Option<Inline>,
    in_heading: Option<u32>,
    table_row: Option<Vec<String>>,
    table_row_links: Vec<(usize, String, String)>,
    in_table_head: bool,
    in_code: bool,
    html_block: usize,
}

impl Walker {
    fn current(&mut self) -> Option<&mut Inline> {
        if let Some(inline) = self.inline.as_mut() {
            return Some(inline);
        }
        self.items.last_mut().map(|i| &mut i.inline)
    }

    fn walk(&mut self, markdown: &str) {
        let options = Options::ENABLE_TABLES
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_TASKLISTS
            | Options::ENABLE_GFM;
        for event in Parser::new_ext(markdown, options) {
            self.event(event);
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) | Event::Code(t) => {
                if self.in_code || self.html_block > 0 {
                    return;
                }
                if let Some(inline) = self.current() {
                    inline.push_text(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(inline) = self.current() {
                    inline.push_break();
                }
            }
            Event::InlineHtml(h) => {
                let lower = h.to_ascii_lowercase();
                if lower.starts_with("<br") {
                    if let Some(inline) = self.current() {
                        inline.push_break();
                    }
                }
            }
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { level, .. } => {
                self.in_heading = Some(level as u32);
                self.inline = Some(Inline::default());
            }
            Tag::Paragraph => {
                if self.items.last().is_some_and(|i| !i.done) && self.inline.is_none() {
                    // A loose item's paragraphs belong to the item.
                    if let Some(item) = self.items.last_mut() {
                        if !item.inline.text.is_empty() {
                            item.inline.text.push(' ');
                        }
                    }
                } else {
                    self.inline = Some(Inline::default());
                }
            }
            Tag::List(_) => {
                let mut parent_label = None;
                if let Some(item) = self.items.last_mut() {
                    if !item.done {
                        item.done = true;
                        let block = item.inline.finish();
                        if block.text.ends_with(':') {
                            item.label = Some(block.text.clone());
                            parent_label = Some(block.text.clone());
                            self.b.scan_block(&block);
                        } else {
                            self.item(block);
                        }
                    } else {
                        parent_label = item.label.clone();
                    }
                }
                let (section, label) = match (&parent_label, self.lists.last()) {
                    (Some(l), Some(outer)) => {
                        let s = classify_label(l);
                        (
                            if s == Section::Other {
                                outer.section
                            } else {
                                s
                            },
                            Some(l.clone()),
                        )
                    }
                    (None, Some(outer)) => (outer.section, outer.label.clone()),
                    _ => (self.section_here(), self.label.clone()),
                };
                self.lists.push(ListFrame {
                    section,
                    label,
                    reporting_part: None,
                });
            }
            Tag::Item => self.items.push(ItemFrame {
                inline: Inline::default(),
                done: false,
                label: None,
            }),
            Tag::CodeBlock(_) => self.in_code = true,
            Tag::HtmlBlock => self.html_block += 1,
            Tag::TableHead => {
                self.in_table_head = true;
                self.table_row = Some(Vec::new());
            }
            Tag::TableRow => self.table_row = Some(Vec::new()),
            Tag::TableCell => self.inline = Some(Inline::default()),
            Tag::Strong => {
                if let Some(inline) = self.current() {
                    inline.start_strong();
                }
            }
            Tag::Link {
                link_type,
                dest_url,
                ..
            } => {
                let dest = if link_type == LinkType::Email && !dest_url.starts_with("mailto:") {
                    format!("mailto:{dest_url}")
                } else {
                    dest_url.to_string()
                };
                if let Some(inline) = self.current() {
                    inline.link_start = Some((inline.text.len(), dest));
                }
            }
            Tag::Image { .. } => {
                if let Some(inline) = self.current() {
                    inline.in_image += 1;
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(_) => {
                if let Some(inline) = self.inline.take() {
                    let block = inline.finish();
                    self.b.scan_block(&block);
                    if self.in_heading == Some(1) && self.b.title.is_none() {
                        self.b.title = Some(block.text.clone());
                    }
                    let section = classify_section(&block.text);
                    self.heading = block.text;
                    self.heading_section = Some(section);
                    self.label = None;
                }
                self.in_heading = None;
            }
            TagEnd::Paragraph => {
                if let Some(inline) = self.inline.take() {
                    let block = inline.finish();
                    self.paragraph(block);
                }
            }
            TagEnd::List(_) => {
                self.lists.pop();
            }
            TagEnd::Item => {
                if let Some(mut item) = self.items.pop() {
                    if !item.done {
                        item.done = true;
                        let block = item.inline.finish();
                        self.item(block);
                    }
                }
            }
            TagEnd::CodeBlock => self.in_code = false,
            TagEnd::HtmlBlock => self.html_block = self.html_block.saturating_sub(1),
            TagEnd::TableCell => {
                if let Some(inline) = self.inline.take() {
                    let block = inline.finish();
                    if let Some(row) = self.table_row.as_mut() {
                        let offset: usize = row.iter().map(|c| c.len() + 2).sum();
                        self.table_row_links.extend(
                            block
                                .links
                                .into_iter()
                                .map(|(at, d, t)| (at + offset, d, t)),
                        );
                        row.push(block.text);
                    }
                }
            }
            TagEnd::TableHead => {
                self.in_table_head = false;
                self.table_row = None;
                self.table_row_links.clear();
            }
            TagEnd::TableRow => {
                if let Some(row) = self.table_row.take() {
                    let links = std::mem::take(&mut self.table_row_links);
                    if !self.in_table_head {
                        self.table_row(row, links);
                    }
                }
            }
            TagEnd::Strong => {
                if let Some(inline) = self.current() {
                    inline.end_strong();
                }
            }
            TagEnd::Link => {
                if let Some(inline) = self.current() {
                    if let Some((start, dest)) = inline.link_start.take() {
                        let text = collapse(inline.text.get(start..).unwrap_or_default());
                        inline.links.push((start, dest, text));
                    }
                }
            }
            TagEnd::Image => {
                if let Some(inline) = self.current() {
                    inline.in_image = inline.in_image.saturating_sub(1);
                }
            }
            _ => {}
        }
    }

    fn section_here(&self) -> Section {
        let from_label = self.label.as_deref().map(classify_label);
        match from_label {
            Some(s) if s != Section::Other => s,
            _ => self.heading_section.unwrap_or(Section::Other),
        }
    }

    fn section_name(&self, label: Option<&str>) -> String {
        let heading = if self.heading.is_empty() {
            "(before the first heading)"
        } else {
            self.heading.as_str()
        };
        match label {
            Some(l) => {
                let l = l.trim_end_matches(':').trim();
                let short: String = if l.chars().count() > 60 {
                    let cut: String = l.chars().take(59).collect();
                    format!("{cut}…")
                } else {
                    l.to_owned()
                };
                format!("{heading} › {short}")
            }
            None => heading.to_owned(),
        }
    }

    fn paragraph(&mut self, block: Block) {
        self.b.scan_block(&block);
        if block.text.is_empty() {
            return;
        }
        let is_label =
            block.text.ends_with(':') || (block.all_strong && !block.text.ends_with('.'));
        if is_label {
            self.label = Some(block.text.clone());
        }
        let section = self.section_here();
        let section_name = self.section_name(self.label.as_deref());
        if matches!(section, Section::InScope | Section::OutOfScope) && !is_label {
            // Prose in a scope section: only rules written as prose are read.
            for sentence in sentences(&block.text) {
                self.b.prose_rule(&section_name, sentence);
            }
            return;
        }
        for sentence in sentences(&block.text) {
            if self.b.statement(&section_name, sentence, false) {
                continue;
            }
            if self.b.prose_rule(&section_name, sentence) {
                continue;
            }
            if !is_label
                && matches!(section, Section::Rules | Section::Reporting)
                && reporting_guidance(&sentence.to_lowercase())
            {
                self.b.reporting.push(sentence.to_owned());
            }
        }
    }

    fn table_row(&mut self, cells: Vec<String>, links: Vec<(usize, String, String)>) {
        let text = cells.join(": ");
        let block = Block {
            text,
            links,
            all_strong: false,
        };
        self.b.scan_block(&block);
        let section = self.section_here();
        if matches!(section, Section::InScope | Section::OutOfScope) {
            return;
        }
        let name = self.section_name(self.label.as_deref());
        self.b.statement(&name, &block.text, false);
    }

    fn item(&mut self, block: Block) {
        self.b.scan_block(&block);
        if block.text.is_empty() {
            return;
        }
        let (section, label) = match self.lists.last() {
            Some(frame) => (frame.section, frame.label.clone()),
            None => (self.section_here(), self.label.clone()),
        };
        let name = self.section_name(label.as_deref());
        let text = block.text;
        let lower = text.to_lowercase();
        match section {
            Section::OutOfScope => self.b.out_of_scope(&name, text),
            Section::InScope => self.b.in_scope.push(text),
            Section::Reporting => {
                let part = match self.lists.last_mut().and_then(|f| f.reporting_part) {
                    Some(i) => i,
                    None => {
                        self.b.reporting.push(label.unwrap_or_default());
                        let i = self.b.reporting.len() - 1;
                        if let Some(frame) = self.lists.last_mut() {
                            frame.reporting_part = Some(i);
                        }
                        i
                    }
                };
                let p = &mut self.b.reporting[part];
                if !p.is_empty() {
                    p.push('\n');
                }
                p.push_str("- ");
                p.push_str(&text);
            }
            Section::Promises => {
                if !self.b.statement(&name, &text, true) {
                    self.b.promises.push(Promise { wording: text });
                }
            }
            Section::Channels => {
                if !has_contact(&text, &block.links)
                    && !self.b.statement(&name, &text, false)
                    && !self.b.rule(&name, &text, false)
                {
                    self.b
                        .unmapped(&name, text, UnmappedReason::NoUsableContact);
                }
            }
            Section::Rules => {
                // "Email your findings to …" needs nothing more: the address is a contact.
                let taken = self.b.statement(&name, &text, false)
                    || self.b.rule(&name, &text, false)
                    || has_contact(&text, &block.links);
                if taken {
                    return;
                }
                if reporting_guidance(&lower) {
                    self.b.reporting.push(text);
                } else if promise_like(&lower) {
                    self.b.promises.push(Promise { wording: text });
                } else {
                    self.b.unmapped(&name, text, UnmappedReason::NoRuleId);
                }
            }
            Section::Other => {
                if !self.b.statement(&name, &text, false)
                    && !has_contact(&text, &block.links)
                    && !self.b.rule(&name, &text, true)
                {
                    self.b.unmapped(&name, text, UnmappedReason::UnknownSection);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What the walk collects

#[derive(Default)]
struct Builder {
    title: Option<String>,
    emails: Vec<String>,
    forms: Vec<String>,
    keys: Vec<KeyHint>,
    in_scope: Vec<String>,
    reporting: Vec<String>,
    out_of_scope: Vec<OutOfScope>,
    attestations: Vec<Attestation>,
    response: Option<ResponsePromise>,
    credit: Option<CreditPolicy>,
    promises: Vec<Promise>,
    unmapped: Vec<Unmapped>,
}

impl Builder {
    fn unmapped(&mut self, section: &str, text: impl Into<String>, reason: UnmappedReason) {
        self.unmapped.push(Unmapped {
            section: section.to_owned(),
            text: text.into(),
            reason,
        });
    }

    fn push_key(&mut self, hint: KeyHint) {
        if !self.keys.contains(&hint) {
            self.keys.push(hint);
        }
    }

    /// Contacts, fingerprints and key links in any text, in the order they are written.
    fn scan_block(&mut self, block: &Block) {
        enum Found {
            Email(String),
            Form(String),
            Key(KeyHint),
        }
        let mut found: Vec<(usize, Found)> = Vec::new();
        for (at, email) in emails_in(&block.text) {
            found.push((at, Found::Email(email)));
        }
        for (at, url) in bare_urls(&block.text) {
            // A URL written as a link's text: the link's destination is the one followed.
            let is_link_text = block.links.iter().any(|(_, _, text)| text.contains(&url));
            if contact_url(&url) && !is_link_text {
                found.push((at, Found::Form(url)));
            }
        }
        for (at, dest, text) in &block.links {
            if let Some(addr) = dest.strip_prefix("mailto:") {
                let addr = addr.split('?').next().unwrap_or_default();
                if is_email(addr) {
                    found.push((*at, Found::Email(addr.to_owned())));
                }
            } else if contact_url(dest) {
                found.push((*at, Found::Form(dest.clone())));
            } else if key_url(dest, text) {
                found.push((*at, Found::Key(KeyHint::Url(dest.clone()))));
            }
        }
        for (at, fpr) in fingerprints_in(&block.text) {
            found.push((at, Found::Key(KeyHint::Fingerprint(fpr))));
        }
        found.sort_by_key(|(at, _)| *at);
        for (_, f) in found {
            match f {
                Found::Email(e) => self.add_email(&e),
                Found::Form(u) => self.add_form(&u),
                Found::Key(k) => self.push_key(k),
            }
        }
    }

    fn add_email(&mut self, email: &str) {
        if !self.emails.iter().any(|e| e.eq_ignore_ascii_case(email)) {
            self.emails.push(email.to_owned());
        }
    }

    fn add_form(&mut self, url: &str) {
        if !self.forms.iter().any(|f| f == url) {
            self.forms.push(url.to_owned());
        }
    }

    /// A response time or credit statement; returns whether `text` was one.
    fn statement(&mut self, section: &str, text: &str, in_promises: bool) -> bool {
        let lower = text.to_lowercase();
        if let Some(time) = response_time(&lower) {
            match (time, &self.response) {
                (ResponseTime::BusinessDays(days), None) => {
                    self.response = Some(ResponsePromise {
                        business_days: days,
                        wording: text.to_owned(),
                    });
                }
                (ResponseTime::BusinessDays(_), Some(taken)) => {
                    let taken = taken.business_days;
                    self.keep_promise(in_promises, text);
                    self.unmapped(
                        section,
                        text,
                        UnmappedReason::SecondResponseTime {
                            taken,
                            kept_as_promise: in_promises,
                        },
                    );
                }
                (ResponseTime::Other, _) => {
                    self.keep_promise(in_promises, text);
                    self.unmapped(
                        section,
                        text,
                        UnmappedReason::ResponseNotInBusinessDays {
                            kept_as_promise: in_promises,
                        },
                    );
                }
            }
            return true;
        }
        if let Some(credit) = credit_statement(&lower) {
            match (credit, &self.credit) {
                (_, Some(_)) => {
                    self.keep_promise(in_promises, text);
                    self.unmapped(section, text, UnmappedReason::SecondCreditStatement);
                }
                (Credit::Unclear, None) => {
                    self.keep_promise(in_promises, text);
                    self.unmapped(
                        section,
                        text,
                        UnmappedReason::CreditUnclear {
                            kept_as_promise: in_promises,
                        },
                    );
                }
                (Credit::Credited, None) | (Credit::Never, None) => {
                    let default = if credit == Credit::Credited {
                        "credited"
                    } else {
                        "none"
                    };
                    self.credit = Some(CreditPolicy {
                        default: default.to_owned(),
                        wording: text.to_owned(),
                    });
                }
            }
            return true;
        }
        false
    }

    fn keep_promise(&mut self, in_promises: bool, text: &str) {
        if in_promises {
            self.promises.push(Promise {
                wording: text.to_owned(),
            });
        }
    }

    /// A rule in a rules section or a list elsewhere; returns whether `text` was taken as one
    /// (attested or shown as unmapped). With `only_when_known`, text that matches no rule kind is
    /// left alone.
    fn rule(&mut self, section: &str, text: &str, only_when_known: bool) -> bool {
        let ids = rule_ids(&text.to_lowercase());
        match ids.as_slice() {
            [] => false,
            [id] => {
                if self.attestations.iter().any(|a| a.id == *id) {
                    self.unmapped(
                        section,
                        text,
                        UnmappedReason::RuleIdTaken {
                            id: (*id).to_owned(),
                        },
                    );
                } else {
                    self.attestations.push(Attestation {
                        id: (*id).to_owned(),
                        wording: text.to_owned(),
                    });
                }
                true
            }
            several => {
                if only_when_known {
                    return false;
                }
                self.unmapped(
                    section,
                    text,
                    UnmappedReason::SeveralRuleIds {
                        ids: several.iter().map(|s| (*s).to_owned()).collect(),
                    },
                );
                true
            }
        }
    }

    /// A sentence of prose that reads as a rule ("Please do not …"): attested when it matches
    /// one kind, else shown. Returns whether it read as a rule.
    fn prose_rule(&mut self, section: &str, sentence: &str) -> bool {
        let lower = sentence.to_lowercase();
        let opener = [
            "do not ",
            "don't ",
            "don’t ",
            "please do not ",
            "please don't ",
            "please don’t ",
            "never ",
            "please never ",
            "you should not ",
            "you must not ",
            "refrain ",
            "please refrain ",
            "please keep ",
            "keep ",
        ]
        .iter()
        .any(|o| lower.starts_with(o));
        if !opener {
            return false;
        }
        if !self.rule(section, sentence, false) {
            self.unmapped(section, sentence, UnmappedReason::NoRuleId);
        }
        true
    }

    fn out_of_scope(&mut self, section: &str, text: String) {
        match map_class(&text) {
            Ok((class, condition)) => {
                if self.out_of_scope.iter().any(|o| o.class == class) {
                    self.unmapped(
                        section,
                        text,
                        UnmappedReason::ClassAlreadyOutOfScope {
                            class: class.to_owned(),
                        },
                    );
                } else {
                    self.out_of_scope.push(OutOfScope {
                        class: class.to_owned(),
                        wording: text,
                        condition,
                    });
                }
            }
            Err(reason) => self.unmapped(section, text, reason),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Out of scope → classes

/// Which taxonomy classes a text names (lower-case input).
fn classes_named(t: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut add = |yes: bool, id: &'static str| {
        if yes {
            out.push(id);
        }
    };
    add(
        has_word(t, "xss") || has_any(t, &["cross-site scripting", "cross site scripting"]),
        "xss",
    );
    add(has_word(t, "sqli") || t.contains("sql injection"), "sqli");
    add(
        has_word(t, "idor") || t.contains("insecure direct object"),
        "idor",
    );
    add(
        has_word(t, "ssrf")
            || has_any(
                t,
                &["server-side request forgery", "server side request forgery"],
            ),
        "ssrf",
    );
    add(
        has_word(t, "rce") || t.contains("remote code execution"),
        "rce",
    );
    add(
        has_any(
            t,
            &[
                "authentication bypass",
                "authorization bypass",
                "auth bypass",
            ],
        ),
        "auth-bypass",
    );
    add(
        has_word(t, "csrf")
            || has_word(t, "xsrf")
            || has_any(
                t,
                &["cross-site request forgery", "cross site request forgery"],
            ),
        "csrf",
    );
    add(
        has_any(t, &["clickjacking", "click-jacking", "ui redressing"]),
        "clickjacking",
    );
    add(t.contains("open redirect"), "open-redirect");
    add(
        has_any(
            t,
            &[
                "information disclosure",
                "information leak",
                "info disclosure",
                "version disclosure",
                "banner disclosure",
            ],
        ),
        "info-disclosure",
    );
    add(
        has_word(t, "mitm")
            || has_any(
                t,
                &["man-in-the-middle", "man in the middle", "physical access"],
            ),
        "mitm",
    );
    add(
        has_word(t, "dos")
            || has_word(t, "ddos")
            || has_any(
                t,
                &["denial of service", "denial-of-service", "disruption of"],
            ),
        "dos",
    );
    add(
        has_any(t, &["content spoofing", "text injection"]),
        "content-spoofing",
    );
    add(
        t.contains("email spoofing")
            || t.contains("e-mail spoofing")
            || has_word(t, "spf")
            || has_word(t, "dkim")
            || has_word(t, "dmarc"),
        "email-spoofing",
    );
    add(
        has_any(
            t,
            &[
                "security header",
                "dnssec",
                "x-frame-options",
                "x-content-type-options",
                "strict-transport-security",
            ],
        ) || has_word(t, "caa")
            || has_word(t, "csp")
            || has_word(t, "hsts"),
        "missing-security-headers",
    );
    add(
        t.contains("cookie")
            && has_any(
                t,
                &[
                    "httponly",
                    "http-only",
                    "http only",
                    "secure flag",
                    "flag",
                    "samesite",
                ],
            ),
        "cookie-flags",
    );
    add(
        has_any(t, &["deadlink", "dead link", "dead-link", "broken link"])
            && !has_any(t, &["hijack", "takeover"]),
        "broken-link",
    );
    out
}

/// Words that make an entry narrower than its class.
const QUALIFIERS: &[&str] = &[
    "without",
    "with no",
    " no ",
    "non-",
    "non ",
    "unless",
    "only",
    "except",
    "self",
    "requir",
    " not ",
    "n't",
    "n’t",
    "theoretical",
    "low impact",
    "low-impact",
    "low severity",
    "best practice",
    " if ",
    " when ",
    " where ",
    "version",
    "unauthenticated",
    "logout",
    "login",
    "log out",
    "log in",
    "log-out",
    "log-in",
    "signout",
    "signin",
    "sign out",
    "sign in",
    "sign-out",
    "sign-in",
];

/// A standard qualifier with the statement a researcher confirms to bring the entry in scope.
struct KnownCondition {
    class: &'static str,
    triggers: &'static [&'static str],
    /// Phrases that belong to the qualifier (removed before looking for other qualifiers).
    absorbs: &'static [&'static str],
    condition: fn(&str) -> String,
}

const KNOWN_CONDITIONS: &[KnownCondition] = &[
    KnownCondition {
        class: "clickjacking",
        triggers: &[
            "no sensitive action",
            "non-sensitive action",
            "without sensitive action",
            "non-sensitive page",
        ],
        absorbs: &[
            "with no sensitive action",
            "no sensitive action",
            "non-sensitive action",
            "without sensitive action",
            "non-sensitive page",
        ],
        condition: |_| {
            "The affected page has sensitive actions (clickjacking there is in scope).".into()
        },
    },
    KnownCondition {
        class: "csrf",
        triggers: &[
            "unauthenticated",
            "logout",
            "login",
            "log out",
            "log in",
            "log-out",
            "log-in",
            "signout",
            "signin",
            "sign out",
            "sign in",
            "sign-out",
            "sign-in",
        ],
        absorbs: &[
            "unauthenticated",
            "logout",
            "login",
            "log out",
            "log in",
            "log-out",
            "log-in",
            "signout",
            "signin",
            "sign out",
            "sign in",
            "sign-out",
            "sign-in",
        ],
        condition: |_| {
            "The CSRF targets an authenticated, state-changing action other than login or logout."
                .into()
        },
    },
    KnownCondition {
        class: "content-spoofing",
        triggers: &["attack vector", "modify html"],
        absorbs: &[
            "without showing",
            "without being able to",
            "without a clear",
            "without",
            "attack vector",
            "the ability to modify html/css",
            "ability to modify html/css",
            "modify html/css",
            "modify html",
        ],
        condition: |t| {
            let mut shown = Vec::new();
            if t.contains("attack vector") {
                shown.push("an attack vector");
            }
            if t.contains("modify html") {
                shown.push("the ability to modify HTML/CSS");
            }
            format!("The report shows {}.", shown.join(" or "))
        },
    },
    KnownCondition {
        class: "cookie-flags",
        triggers: &["non-sensitive cookie", "non sensitive cookie"],
        absorbs: &["non-sensitive", "non sensitive"],
        condition: |_| {
            "The cookie is sensitive (it carries a session, credential or CSRF token).".into()
        },
    },
    KnownCondition {
        class: "xss",
        triggers: &["self-xss", "self xss"],
        absorbs: &["self-xss", "self xss"],
        condition: |_| {
            "The script runs for a user other than the one who entered it (it is not self-XSS)."
                .into()
        },
    },
];

/// Words that are part of a class's own definition, not a qualifier.
fn definitional(class: &str) -> &'static [&'static str] {
    match class {
        "mitm" => &["requir"],
        "cookie-flags" => &["http-only", "http only", "httponly"],
        _ => &[],
    }
}

/// Maps an out-of-scope bullet to one class and, for a known standard qualifier, its condition.
fn map_class(text: &str) -> Result<(&'static str, Option<String>), UnmappedReason> {
    let t = format!(" {} ", text.to_lowercase().replace('’', "'"));
    let classes = classes_named(&t);
    let class = match classes.as_slice() {
        [] => return Err(UnmappedReason::NoClass),
        [one] => *one,
        several => {
            return Err(UnmappedReason::SeveralClasses {
                classes: several.iter().map(|c| (*c).to_owned()).collect(),
            })
        }
    };
    let mut rest = t.clone();
    let mut conditions = Vec::new();
    for known in KNOWN_CONDITIONS.iter().filter(|k| k.class == class) {
        if known.triggers.iter().any(|p| t.contains(p)) {
            conditions.push((known.condition)(&t));
            for phrase in known.absorbs {
                rest = rest.replace(phrase, " ");
            }
        }
    }
    for ok in definitional(class) {
        rest = rest.replace(ok, " ");
    }
    // The class's own words ("self" in "self-xss" is handled above; "non-" inside a class name
    // does not occur).
    if QUALIFIERS.iter().any(|q| rest.contains(q)) {
        return Err(UnmappedReason::UnknownCondition {
            class: class.to_owned(),
        });
    }
    let condition = (!conditions.is_empty()).then(|| conditions.join(" "));
    Ok((class, condition))
}

// ---------------------------------------------------------------------------------------------
// Rules → attestation ids

fn negated(t: &str) -> bool {
    has_word(t, "not")
        || has_word(t, "no")
        || has_word(t, "never")
        || has_any(
            t,
            &[
                "n't",
                "n’t",
                "avoid",
                "refrain",
                "prohibited",
                "forbidden",
                "cannot",
                "without",
            ],
        )
}

/// The rule kinds a rule (lower-case) matches, in [`RULE_IDS`] order.
fn rule_ids(t: &str) -> Vec<&'static str> {
    let neg = negated(t);
    let mut ids = Vec::new();
    if neg
        && (has_any(
            t,
            &[
                "automated scan",
                "automated vulnerability scan",
                "automated tool",
                "automated testing",
                "scanning tool",
                "automatic scan",
            ],
        ) || has_word(t, "scanner")
            || has_word(t, "scanners"))
    {
        ids.push("no-automated-scanning");
    }
    if neg
        && has_any(
            t,
            &[
                "exploit",
                "excessive data",
                "more data than necessary",
                "tamper",
                "others' data",
                "other people's data",
                "other users' data",
                "other users’ data",
                "data that does not belong",
                "data that isn't yours",
                "privacy violation",
                "destruction of data",
                "destroying data",
                "altering user data",
                "modifying other",
                "modify other",
            ],
        )
    {
        ids.push("no-exploitation");
    }
    if t.contains("confidential")
        || (has_any(t, &["disclos", "reveal", "publish", "public"])
            && has_any(t, &["until", "before", "prior to"])
            && (neg || t.contains("keep")))
    {
        ids.push("confidential-until-fixed");
    }
    if neg
        && (has_any(
            t,
            &[
                "social engineering",
                "social-engineering",
                "phishing",
                "denial of service",
                "denial-of-service",
                "physical security",
            ],
        ) || has_word(t, "dos")
            || has_word(t, "ddos")
            || has_word(t, "spam"))
    {
        ids.push("no-social-engineering-or-dos");
    }
    if has_any(
        t,
        &[
            "accounts you own",
            "your own account",
            "your own test account",
            "accounts you control",
            "explicit permission of the account holder",
        ],
    ) {
        ids.push("own-accounts-only");
    }
    ids
}

fn reporting_guidance(t: &str) -> bool {
    has_any(
        t,
        &[
            "share enough details",
            "sufficient information",
            "provide",
            "include",
            "description",
            "steps to reproduce",
            "proof of concept",
            "proof-of-concept",
        ],
    )
}

fn promise_like(t: &str) -> bool {
    [
        "we ", "we'll", "we’ll", "you will", "you'll", "you’ll", "our ",
    ]
    .iter()
    .any(|p| t.starts_with(p))
        || t.contains("we will")
}

// ---------------------------------------------------------------------------------------------
// Promises: response time, credit

#[derive(Debug, PartialEq, Eq)]
enum ResponseTime {
    BusinessDays(u32),
    Other,
}

fn number(word: &str) -> Option<u32> {
    const WORDS: &[&str] = &[
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen",
    ];
    if let Ok(n) = word.parse::<u32>() {
        return (n < 1000).then_some(n);
    }
    WORDS.iter().position(|w| *w == word).map(|n| n as u32)
}

/// A response-time statement (lower-case): a response verb and a duration.
fn response_time(t: &str) -> Option<ResponseTime> {
    let verb = has_any(
        t,
        &[
            "respond",
            "response",
            "reply",
            "get back to you",
            "hear back",
            "hear from us",
            "acknowledg",
            "answer",
            "triage",
        ],
    );
    if !verb {
        return None;
    }
    let words: Vec<&str> = t
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '–'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut other = false;
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).copied().unwrap_or_default();
        let prev = if i > 0 { Some(words[i - 1]) } else { None };
        if (*w == "business" || *w == "working") && (next == "day" || next == "days") {
            let n = prev.and_then(number);
            let range = prev.is_some_and(|p| p.contains('-') || p.contains('–'))
                || (i >= 3 && words[i - 2] == "to" && number(words[i - 3]).is_some());
            match n {
                Some(n) if !range => return Some(ResponseTime::BusinessDays(n)),
                _ => other = true,
            }
        }
        let unit = w.trim_start_matches(|c: char| c.is_ascii_digit() || c == '-');
        let counted = prev.and_then(number).is_some() || prev == Some("a") || unit.len() < w.len();
        if counted
            && matches!(
                unit,
                "hour" | "hours" | "day" | "days" | "week" | "weeks" | "month" | "months"
            )
            && !(matches!(unit, "day" | "days") && matches!(prev, Some("business" | "working")))
        {
            other = true;
        }
    }
    other.then_some(ResponseTime::Other)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credit {
    Credited,
    Never,
    Unclear,
}

/// A credit statement (lower-case).
fn credit_statement(t: &str) -> Option<Credit> {
    let t = t.replace('’', "'");
    let credit = has_any(
        &t,
        &[
            "credit you",
            "credit reporters",
            "credit the reporter",
            "credit researchers",
            "credit the researcher",
            "we credit",
            "will credit",
            "we'll credit",
            "be credited",
            "public credit",
            "publicly credit",
            "give your name",
            "name you as",
            "as the discoverer",
            "hall of fame",
            "publicly acknowledge",
            "acknowledge your contribution",
            "be named",
        ],
    );
    if !credit {
        return None;
    }
    if has_any(
        &t,
        &[
            "not credit",
            "no credit",
            "not be credited",
            "without credit",
            "don't credit",
            "won't credit",
        ],
    ) {
        return Some(Credit::Never);
    }
    if has_any(
        &t,
        &[
            "may ",
            "might",
            "if you",
            "with your permission",
            "on request",
            "upon request",
            "if requested",
            "discretion",
            "happy to",
            "every effort",
            "try to",
            "aim to",
            "where possible",
            "if possible",
            "would like to be",
            "asked to be",
            "wish to be",
            "opt in",
            "opt-in",
        ],
    ) {
        return Some(Credit::Unclear);
    }
    Some(Credit::Credited)
}

// ---------------------------------------------------------------------------------------------
// Contacts and keys

fn is_email_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let tld = domain.rsplit('.').next().unwrap_or_default();
    !local.is_empty()
        && local.chars().all(is_email_char)
        && domain.contains('.')
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && !domain.starts_with('.')
        && !domain.contains("..")
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_alphabetic())
}

fn emails_in(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for (at, _) in text.match_indices('@') {
        let start = text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_email_char(*c))
            .last()
            .map_or(at, |(i, _)| i);
        let end = text[at + 1..]
            .char_indices()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
            .last()
            .map_or(at + 1, |(i, c)| at + 1 + i + c.len_utf8());
        let candidate = text[start..end]
            .trim_start_matches('.')
            .trim_end_matches(['.', '-']);
        // Not an address inside a URL (https://x/@user:matrix.org).
        let before = &text[..start];
        let in_url =
            before.ends_with('/') || (before.ends_with(':') && !before.ends_with("mailto:"));
        if !in_url && is_email(candidate) && !out.iter().any(|(_, e)| e == candidate) {
            out.push((start, candidate.to_owned()));
        }
    }
    out
}

fn bare_urls(text: &str) -> Vec<(usize, String)> {
    text.match_indices("https://")
        .filter_map(|(start, _)| {
            let rest = &text[start..];
            let end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
                .unwrap_or(rest.len());
            let url = rest[..end].trim_end_matches(['.', ',', ')', ';', ':', '!', '?', '\'']);
            url::Url::parse(url).ok().map(|_| (start, url.to_owned()))
        })
        .collect()
}

/// A URL where a report can be filed privately: GitHub's private vulnerability reporting, a
/// bug-bounty platform, or a page named like a report form.
fn contact_url(dest: &str) -> bool {
    let Ok(url) = url::Url::parse(dest) else {
        return false;
    };
    if url.scheme() != "https" {
        return false;
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let path = url.path().trim_end_matches('/');
    if host == "github.com" {
        return path.ends_with("/security/advisories/new");
    }
    const PLATFORMS: &[&str] = &[
        "hackerone.com",
        "bugcrowd.com",
        "intigriti.com",
        "app.intigriti.com",
        "yeswehack.com",
        "huntr.dev",
        "huntr.com",
    ];
    if PLATFORMS
        .iter()
        .any(|p| host == *p || host.ends_with(&format!(".{p}")))
    {
        return path.len() > 1;
    }
    let last = path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    last.contains("report") && !last.contains('.')
}

fn key_url(dest: &str, text: &str) -> bool {
    let d = dest.to_ascii_lowercase();
    let t = text.to_lowercase();
    d.starts_with("https://")
        && ([".asc", ".gpg", ".pub", ".key"]
            .iter()
            .any(|e| d.ends_with(e))
            || has_word(&t, "pgp")
            || has_word(&t, "gpg")
            || t.contains("openpgp")
            || t.contains("public key")
            || d.contains("/pgp")
            || d.contains("pgp-key")
            || d.contains("pgpkey"))
}

/// 40- or 64-hex-digit fingerprints, written contiguous or in groups of four.
fn fingerprints_in(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut run: Vec<(usize, &str)> = Vec::new();
    let flush = |run: &mut Vec<(usize, &str)>, out: &mut Vec<(usize, String)>| {
        let joined: String = run.iter().map(|(_, g)| *g).collect();
        let grouped = run.len() > 1 && run.iter().all(|(_, g)| g.len() == 4);
        let whole = run.len() == 1;
        if (joined.len() == 40 || joined.len() == 64) && (grouped || whole) {
            let fpr = joined.to_ascii_uppercase();
            if !out.iter().any(|(_, f)| *f == fpr) {
                out.push((run[0].0, fpr));
            }
        }
        run.clear();
    };
    for (at, token) in words_at(text) {
        let bare = token
            .trim_matches(|c: char| matches!(c, '`' | '.' | ',' | ':' | ';' | '(' | ')' | '"'));
        let bare = bare.strip_prefix("0x").unwrap_or(bare);
        if !bare.is_empty() && bare.chars().all(|c| c.is_ascii_hexdigit()) {
            if bare.len() != 4 {
                flush(&mut run, &mut out);
                run.push((at, bare));
                flush(&mut run, &mut out);
            } else {
                run.push((at, bare));
            }
        } else {
            flush(&mut run, &mut out);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// ASCII-armored public key blocks anywhere in the file (fenced, indented, quoted or not).
fn armored_blocks(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in markdown.lines() {
        let l = line.trim().trim_start_matches('>').trim();
        if l.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
            current = Some(vec![l]);
        } else if let Some(lines) = current.as_mut() {
            lines.push(l);
            if l.starts_with("-----END PGP PUBLIC KEY BLOCK") {
                let mut block = lines.join("\n");
                block.push('\n');
                out.push(block);
                current = None;
            } else if lines.len() > 10_000 {
                current = None;
            }
        }
    }
    out
}

fn has_contact(text: &str, links: &[(usize, String, String)]) -> bool {
    !emails_in(text).is_empty()
        || bare_urls(text).iter().any(|(_, u)| contact_url(u))
        || links.iter().any(|(_, dest, _)| {
            dest.strip_prefix("mailto:").is_some_and(is_email) || contact_url(dest)
        })
}

// ---------------------------------------------------------------------------------------------
// Text helpers

fn has_any(t: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| t.contains(n))
}

/// `word` occurs in `t` with no letter or digit on either side.
fn has_word(t: &str, word: &str) -> bool {
    t.match_indices(word).any(|(i, _)| {
        let before = t[..i].chars().next_back();
        let after = t[i + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// Whitespace-separated words with their byte offsets.
fn words_at(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out
}

/// Splits prose into sentences at `. `, `! `, `? ` before a capital letter (not after "e.g.").
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        if !matches!(c, '.' | '!' | '?') {
            continue;
        }
        let (Some(&(_, space)), Some(&(_, next))) = (chars.get(k + 1), chars.get(k + 2)) else {
            continue;
        };
        if space != ' ' || !(next.is_uppercase() || matches!(next, '*' | '"' | '(' | '“')) {
            continue;
        }
        let before = text[start..i].to_lowercase();
        if ["e.g", "i.e", "etc", "vs", "cf"]
            .iter()
            .any(|a| before.ends_with(a))
        {
            continue;
        }
        let end = i + c.len_utf8();
        out.push(text[start..end].trim());
        start = end;
    }
    let last = text[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    out
}

#[cfg(test)]
#[path = "policy_md_tests.rs"]
mod tests;
