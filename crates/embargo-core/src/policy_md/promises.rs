//! Promises: response time and credit.

use super::*;

#[derive(Debug, PartialEq, Eq)]
pub(super) enum ResponseTime {
    BusinessDays(u32),
    Other,
}

pub(super) fn number(word: &str) -> Option<u32> {
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
pub(super) fn response_time(t: &str) -> Option<ResponseTime> {
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
pub(super) enum Credit {
    Credited,
    Never,
    Unclear,
}

/// A credit statement (lower-case).
pub(super) fn credit_statement(t: &str) -> Option<Credit> {
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
