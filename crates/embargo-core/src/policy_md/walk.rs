//! The walk: pulldown-cmark events → blocks of plain text, each handled in its section.

use super::*;

#[derive(Default)]
pub(super) struct Inline {
    pub(super) text: String,
    /// Links as (position in `text`, destination, link text).
    pub(super) links: Vec<(usize, String, String)>,
    /// Text position where the link currently open began.
    pub(super) link_start: Option<(usize, String)>,
    pub(super) strong_depth: usize,
    /// Visible characters outside strong emphasis.
    pub(super) plain_chars: usize,
    /// Where a leading strong run ended, and whether a line break followed it.
    pub(super) lead_strong_end: Option<usize>,
    pub(super) lead_strong_break: bool,
    pub(super) seen_text: bool,
    pub(super) in_image: usize,
}

impl Inline {
    pub(super) fn push_text(&mut self, s: &str) {
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

    pub(super) fn push_break(&mut self) {
        if let Some(end) = self.lead_strong_end {
            if self.text[end..].trim().is_empty() {
                self.lead_strong_break = true;
            }
        }
        self.text.push(' ');
    }

    pub(super) fn start_strong(&mut self) {
        self.strong_depth += 1;
    }

    pub(super) fn end_strong(&mut self) {
        self.strong_depth = self.strong_depth.saturating_sub(1);
        if self.strong_depth == 0 && self.lead_strong_end.is_none() && self.plain_chars == 0 {
            self.lead_strong_end = Some(self.text.len());
        }
    }

    /// The text with whitespace collapsed; a leading bold title followed by a line break
    /// ("**Response Time** <br/> We will …") is dropped, as the sentence stands alone.
    pub(super) fn finish(&self) -> Block {
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

pub(super) struct Block {
    pub(super) text: String,
    /// Links as (position in `text`, destination, link text).
    pub(super) links: Vec<(usize, String, String)>,
    pub(super) all_strong: bool,
}

pub(super) fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(super) struct ListFrame {
    pub(super) section: Section,
    pub(super) label: Option<String>,
    pub(super) reporting_part: Option<usize>,
}

pub(super) struct ItemFrame {
    pub(super) inline: Inline,
    /// Set once the item's own text was handled (when a nested list starts).
    pub(super) done: bool,
    /// The item's text when it introduces a nested list ("Include:").
    pub(super) label: Option<String>,
}

#[derive(Default)]
pub(super) struct Walker {
    pub(super) b: Builder,
    pub(super) heading: String,
    pub(super) heading_section: Option<Section>,
    pub(super) label: Option<String>,
    pub(super) lists: Vec<ListFrame>,
    pub(super) items: Vec<ItemFrame>,
    /// Paragraphs, headings and table cells outside items.
    pub(super) inline: Option<Inline>,
    pub(super) in_heading: Option<u32>,
    pub(super) table_row: Option<Vec<String>>,
    pub(super) table_row_links: Vec<(usize, String, String)>,
    pub(super) in_table_head: bool,
    pub(super) in_code: bool,
    pub(super) html_block: usize,
}

impl Walker {
    pub(super) fn current(&mut self) -> Option<&mut Inline> {
        if let Some(inline) = self.inline.as_mut() {
            return Some(inline);
        }
        self.items.last_mut().map(|i| &mut i.inline)
    }

    pub(super) fn walk(&mut self, markdown: &str) {
        let options = Options::ENABLE_TABLES
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_TASKLISTS
            | Options::ENABLE_GFM;
        for event in Parser::new_ext(markdown, options) {
            self.event(event);
        }
    }

    pub(super) fn event(&mut self, event: Event<'_>) {
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

    pub(super) fn start(&mut self, tag: Tag<'_>) {
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

    pub(super) fn end(&mut self, tag: TagEnd) {
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

    pub(super) fn section_here(&self) -> Section {
        let from_label = self.label.as_deref().map(classify_label);
        match from_label {
            Some(s) if s != Section::Other => s,
            _ => self.heading_section.unwrap_or(Section::Other),
        }
    }

    pub(super) fn section_name(&self, label: Option<&str>) -> String {
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

    pub(super) fn paragraph(&mut self, block: Block) {
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

    pub(super) fn table_row(&mut self, cells: Vec<String>, links: Vec<(usize, String, String)>) {
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

    pub(super) fn item(&mut self, block: Block) {
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
