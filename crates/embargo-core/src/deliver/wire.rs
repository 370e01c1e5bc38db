//! The intake protocol's JSON (DESIGN.md "Intake protocol"), snake_case on the wire: one home
//! for what the server writes and the client reads.

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
        STATUSES
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(crate::text::shown(s)))
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

/// The error's stable code and its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, snake_case.
    pub code: String,
    /// What was wrong.
    pub message: String,
}
