//! Sections: which part of a policy a heading or lead-in line starts.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    InScope,
    OutOfScope,
    Channels,
    Promises,
    Reporting,
    Rules,
    Other,
}

/// A lead-in paragraph is classified by its last sentence, the one that introduces the list.
pub(super) fn classify_label(text: &str) -> Section {
    classify_section(sentences(text).last().copied().unwrap_or(text))
}

pub(super) fn classify_section(text: &str) -> Section {
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
