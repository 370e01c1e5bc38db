//! Out of scope → classes of the taxonomy, with the conditions the importer knows.

use super::*;

/// Which taxonomy classes a text names (lower-case input).
pub(super) fn classes_named(t: &str) -> Vec<&'static str> {
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
pub(super) const QUALIFIERS: &[&str] = &[
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
pub(super) struct KnownCondition {
    pub(super) class: &'static str,
    pub(super) triggers: &'static [&'static str],
    /// Phrases that belong to the qualifier (removed before looking for other qualifiers).
    pub(super) absorbs: &'static [&'static str],
    pub(super) condition: fn(&str) -> String,
}

pub(super) const KNOWN_CONDITIONS: &[KnownCondition] = &[
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
pub(super) fn definitional(class: &str) -> &'static [&'static str] {
    match class {
        "mitm" => &["requir"],
        "cookie-flags" => &["http-only", "http only", "httponly"],
        _ => &[],
    }
}

/// Maps an out-of-scope bullet to one class and, for a known standard qualifier, its condition.
pub(super) fn map_class(text: &str) -> Result<(&'static str, Option<String>), UnmappedReason> {
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
