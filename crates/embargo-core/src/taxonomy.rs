//! The vulnerability class taxonomy shared by every program: programs mark classes out of scope,
//! they never invent new ones.

use serde::Serialize;

/// One vulnerability class of the taxonomy shared by every program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Class {
    /// Stable id used in report files (`class = "xss"`).
    pub id: &'static str,
    /// Human name.
    pub name: &'static str,
    /// The CWE most reports of this class use, as a suggestion.
    pub cwe: Option<&'static str>,
}

const fn class(id: &'static str, name: &'static str, cwe: Option<&'static str>) -> Class {
    Class { id, name, cwe }
}

/// The class taxonomy; programs mark classes out of scope, they never invent new ones.
pub const CLASSES: &[Class] = &[
    class("xss", "Cross-site scripting", Some("CWE-79")),
    class("sqli", "SQL injection", Some("CWE-89")),
    class("idor", "Insecure direct object reference", Some("CWE-639")),
    class("ssrf", "Server-side request forgery", Some("CWE-918")),
    class("rce", "Remote code execution", Some("CWE-94")),
    class(
        "auth-bypass",
        "Authentication or authorization bypass",
        Some("CWE-287"),
    ),
    class("csrf", "Cross-site request forgery", Some("CWE-352")),
    class("clickjacking", "Clickjacking", Some("CWE-1021")),
    class("open-redirect", "Open redirect", Some("CWE-601")),
    class("info-disclosure", "Information disclosure", Some("CWE-200")),
    class(
        "mitm",
        "Attack requiring man-in-the-middle or physical access",
        Some("CWE-300"),
    ),
    class("dos", "Denial of service", Some("CWE-400")),
    class(
        "content-spoofing",
        "Content spoofing or text injection",
        Some("CWE-451"),
    ),
    class("email-spoofing", "Email spoofing", Some("CWE-290")),
    class(
        "missing-security-headers",
        "Missing security headers or DNS records (CSP, DNSSEC, CAA)",
        Some("CWE-693"),
    ),
    class(
        "cookie-flags",
        "Missing Secure or HttpOnly cookie flags",
        Some("CWE-614"),
    ),
    class("broken-link", "Broken link (dead link)", None),
    class("other", "Other", None),
];

/// Looks a class up by id.
pub fn class_by_id(id: &str) -> Option<&'static Class> {
    CLASSES.iter().find(|c| c.id == id)
}

/// Comma-separated taxonomy ids, for error messages.
pub fn known_classes() -> String {
    CLASSES.iter().map(|c| c.id).collect::<Vec<_>>().join(", ")
}
