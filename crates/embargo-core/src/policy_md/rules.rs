//! Rules → attestation ids.

use super::*;

pub(super) fn negated(t: &str) -> bool {
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
pub(super) fn rule_ids(t: &str) -> Vec<&'static str> {
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

pub(super) fn reporting_guidance(t: &str) -> bool {
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

pub(super) fn promise_like(t: &str) -> bool {
    [
        "we ", "we'll", "we’ll", "you will", "you'll", "you’ll", "our ",
    ]
    .iter()
    .any(|p| t.starts_with(p))
        || t.contains("we will")
}
