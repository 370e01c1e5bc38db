//! The intake protocol (DESIGN.md "Intake protocol"): every request and answer body, the report
//! statuses and the error codes, snake_case on the wire. One home: `embargo-intake` serialises
//! these types and the client (`deliver::client`) deserialises them; nothing else declares them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `201 POST /v1/reports` (and the `200` of a replay).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Submitted {
    /// 128-bit random, Crockford base32.
    pub receipt: String,
    /// Bearer token for `GET /v1/reports/{receipt}`.
    pub status_token: String,
    /// RFC 3339 UTC.
    pub received_at: String,
}

/// A report's state in the team's workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Stored, not looked at yet.
    Received,
    /// Looked at.
    Triaged,
    /// Confirmed as a vulnerability.
    Accepted,
    /// Fixed.
    Fixed,
    /// Made public.
    Disclosed,
    /// Not a vulnerability, or out of scope.
    Rejected,
}

/// Every status, in workflow order.
pub const STATUSES: [ReportStatus; 6] = [
    ReportStatus::Received,
    ReportStatus::Triaged,
    ReportStatus::Accepted,
    ReportStatus::Fixed,
    ReportStatus::Disclosed,
    ReportStatus::Rejected,
];

impl ReportStatus {
    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<ReportStatus> {
        STATUSES.into_iter().find(|st| st.as_str() == s)
    }

    /// What the status means for the researcher, in words.
    pub fn meaning(self) -> &'static str {
        match self {
            ReportStatus::Received => "received, not looked at yet",
            ReportStatus::Triaged => "being looked at by the team",
            ReportStatus::Accepted => "confirmed as a vulnerability",
            ReportStatus::Fixed => "fixed",
            ReportStatus::Disclosed => "fixed and made public",
            ReportStatus::Rejected => "not accepted (not a vulnerability, or out of scope)",
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Received => "received",
            ReportStatus::Triaged => "triaged",
            ReportStatus::Accepted => "accepted",
            ReportStatus::Fixed => "fixed",
            ReportStatus::Disclosed => "disclosed",
            ReportStatus::Rejected => "rejected",
        }
    }
}

impl fmt::Display for ReportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a status (one of: received, triaged, accepted, fixed, disclosed, rejected)")]
pub struct UnknownStatus(pub String);

impl FromStr for ReportStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReportStatus::parse(s).ok_or_else(|| UnknownStatus(crate::text::shown(s)))
    }
}

/// One reply of the team, encrypted to the researcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Reply {
    /// The server's id.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// An armored OpenPGP message.
    pub message: String,
}

/// `GET /v1/reports/{receipt}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReportState {
    /// The receipt.
    pub receipt: String,
    /// Where the report is in the team's workflow.
    pub status: ReportStatus,
    /// RFC 3339 UTC.
    pub received_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// The team's replies, oldest first.
    pub replies: Vec<Reply>,
}

/// One entry of `GET /v1/team/reports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamReport {
    /// The receipt.
    pub receipt: String,
    /// RFC 3339 UTC.
    pub received_at: String,
    /// Its status.
    pub status: ReportStatus,
    /// Bytes of the stored message.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
}

/// `GET /v1/team/reports?after=RECEIPT&limit=N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamReports {
    /// In arrival order.
    pub reports: Vec<TeamReport>,
    /// The cursor for the next page, or `None` at the end.
    pub next: Option<String>,
}

/// `GET /v1/team/reports/{receipt}/replies`: the thread as the team sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamReplies {
    /// Oldest first.
    pub replies: Vec<Reply>,
}

/// `201 POST /v1/team/reports/{receipt}/replies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyCreated {
    /// The reply's id.
    pub id: i64,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// `PUT /v1/team/reports/{receipt}/status`, request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The new status.
    pub status: ReportStatus,
}

/// `PUT /v1/team/reports/{receipt}/status`, answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChanged {
    /// The receipt.
    pub receipt: String,
    /// The new status.
    pub status: ReportStatus,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

/// Every error answer: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

impl ErrorBody {
    /// The body of an error answer.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

/// The error's stable code and its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, snake_case; a code this version does not know reads as [`WireCode::Other`].
    pub code: WireCode,
    /// What was wrong.
    pub message: String,
}

/// A code as it travels: one this version knows, or another (a newer server's) kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WireCode {
    /// A known code.
    Known(ErrorCode),
    /// A code this version does not know.
    Other(String),
}

impl From<ErrorCode> for WireCode {
    fn from(c: ErrorCode) -> WireCode {
        WireCode::Known(c)
    }
}

impl fmt::Display for WireCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireCode::Known(c) => f.write_str(c.as_str()),
            WireCode::Other(s) => f.write_str(s),
        }
    }
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $wire:literal,)*) => {
        /// The stable error codes of the intake protocol.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[$doc])* #[serde(rename = $wire)] $variant,)*
        }

        impl ErrorCode {
            /// Every code.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $wire,)*
                }
            }
        }
    };
}

error_codes! {
    /// `POST /v1/reports` without an Idempotency-Key.
    MissingIdempotencyKey = "missing_idempotency_key",
    /// An Idempotency-Key that is empty, too long or not printable ASCII.
    InvalidIdempotencyKey = "invalid_idempotency_key",
    /// A body over the intake's limit (413).
    BodyTooLarge = "body_too_large",
    /// The body stopped arriving.
    BodyTimeout = "body_timeout",
    /// The body arrived below the intake's minimum rate (408).
    BodyTooSlow = "body_too_slow",
    /// Every upload slot is taken by uploads keeping pace (503, Retry-After).
    ServerBusy = "server_busy",
    /// The body could not be read.
    BodyUnreadable = "body_unreadable",
    /// An empty body.
    EmptyBody = "empty_body",
    /// Plaintext instead of an encrypted message.
    Plaintext = "plaintext",
    /// Not an OpenPGP message at all.
    NotOpenpgp = "not_openpgp",
    /// A key, not a message.
    KeyNotMessage = "key_not_message",
    /// A literal data packet alone (not encrypted).
    LiteralOnly = "literal_only",
    /// A signed but unencrypted message.
    SignedOnly = "signed_only",
    /// A compressed but unencrypted message.
    CompressedOnly = "compressed_only",
    /// Encrypted with a password only.
    SymmetricOnly = "symmetric_only",
    /// Encrypted without integrity protection.
    UnprotectedEncryption = "unprotected_encryption",
    /// Not encrypted to every team key.
    MissingTeamRecipient = "missing_team_recipient",
    /// A hidden (wildcard) recipient the intake does not accept.
    HiddenRecipient = "hidden_recipient",
    /// No recipient at all.
    NoRecipient = "no_recipient",
    /// Something before or after the message (text smuggled beside the ciphertext).
    TrailingData = "trailing_data",
    /// Broken packet framing.
    MalformedMessage = "malformed_message",
    /// Text before or after the ASCII armor.
    TextAroundArmor = "text_around_armor",
    /// Header lines in the ASCII armor (`Comment:` and the like).
    ArmorHeader = "armor_header",
    /// A Padding packet, which can carry anything beside the ciphertext.
    PaddingPacket = "padding_packet",
    /// An Idempotency-Key reused for other bytes.
    IdempotencyKeyReused = "idempotency_key_reused",
    /// The first submission with this key is still in flight (409, Retry-After).
    SubmissionInProgress = "submission_in_progress",
    /// These exact bytes are already stored under another Idempotency-Key (409): identical
    /// ciphertexts are kept once, and only their first sender holds the receipt.
    DuplicateReport = "duplicate_report",
    /// The intake's storage quota or free-space floor is reached (507, Retry-After); nothing
    /// was stored.
    InsufficientStorage = "insufficient_storage",
    /// No bearer token.
    MissingToken = "missing_token",
    /// A bearer token that is not valid here.
    InvalidToken = "invalid_token",
    /// No report with that receipt.
    ReportNotFound = "report_not_found",
    /// A paging cursor that names no report.
    UnknownCursor = "unknown_cursor",
    /// A query string that does not parse.
    InvalidQuery = "invalid_query",
    /// A JSON body that does not parse.
    InvalidJson = "invalid_json",
    /// A status that is not one of [`STATUSES`].
    InvalidStatus = "invalid_status",
    /// Too many requests (429, Retry-After).
    RateLimited = "rate_limited",
    /// No such resource.
    NotFound = "not_found",
    /// A method the resource does not take.
    MethodNotAllowed = "method_not_allowed",
    /// The server failed (5xx); it says no more.
    InternalError = "internal_error",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T>(value: &T, json: &str)
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + fmt::Debug,
    {
        assert_eq!(serde_json::to_string(value).unwrap(), json);
        assert_eq!(&serde_json::from_str::<T>(json).unwrap(), value);
    }

    #[test]
    fn every_body_round_trips_in_snake_case() {
        round_trip(
            &Submitted {
                receipt: "R".into(),
                status_token: "T".into(),
                received_at: "2026-12-06T10:00:00Z".into(),
            },
            r#"{"receipt":"R","status_token":"T","received_at":"2026-12-06T10:00:00Z"}"#,
        );
        round_trip(
            &ReportState {
                receipt: "R".into(),
                status: ReportStatus::Triaged,
                received_at: "a".into(),
                updated_at: "b".into(),
                replies: vec![Reply {
                    id: 7,
                    created_at: "c".into(),
                    message: "-----BEGIN PGP MESSAGE-----".into(),
                }],
            },
            r#"{"receipt":"R","status":"triaged","received_at":"a","updated_at":"b","replies":[{"id":7,"created_at":"c","message":"-----BEGIN PGP MESSAGE-----"}]}"#,
        );
        round_trip(
            &TeamReports {
                reports: vec![TeamReport {
                    receipt: "R".into(),
                    received_at: "a".into(),
                    status: ReportStatus::Received,
                    size: 42,
                }],
                next: None,
            },
            r#"{"reports":[{"receipt":"R","received_at":"a","status":"received","size":42}],"next":null}"#,
        );
        round_trip(
            &ReplyCreated {
                id: 1,
                created_at: "a".into(),
            },
            r#"{"id":1,"created_at":"a"}"#,
        );
        round_trip(
            &StatusChange {
                status: ReportStatus::Fixed,
            },
            r#"{"status":"fixed"}"#,
        );
        round_trip(
            &StatusChanged {
                receipt: "R".into(),
                status: ReportStatus::Disclosed,
                updated_at: "a".into(),
            },
            r#"{"receipt":"R","status":"disclosed","updated_at":"a"}"#,
        );
        round_trip(
            &ErrorBody::new(ErrorCode::SubmissionInProgress, "wait"),
            r#"{"error":{"code":"submission_in_progress","message":"wait"}}"#,
        );
    }

    #[test]
    fn statuses_and_codes_keep_their_wire_names() {
        for st in STATUSES {
            let json = serde_json::to_string(&st).unwrap();
            assert_eq!(json, format!("\"{}\"", st.as_str()));
            assert_eq!(ReportStatus::parse(st.as_str()), Some(st));
            assert_eq!(st.as_str().parse::<ReportStatus>().unwrap(), st);
        }
        assert!("done".parse::<ReportStatus>().is_err());
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(&serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
    }

    #[test]
    fn a_code_this_version_does_not_know_is_kept() {
        let body: ErrorBody =
            serde_json::from_str(r#"{"error":{"code":"brand_new","message":"m"}}"#).unwrap();
        assert_eq!(body.error.code, WireCode::Other("brand_new".into()));
        assert_eq!(body.error.code.to_string(), "brand_new");
        let body: ErrorBody =
            serde_json::from_str(r#"{"error":{"code":"rate_limited","message":"m"}}"#).unwrap();
        assert_eq!(body.error.code, WireCode::Known(ErrorCode::RateLimited));
    }
}
