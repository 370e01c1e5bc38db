//! Every answer that is not a success: `AppError` and its JSON body
//! `{"error": {"code", "message"}}` with a stable snake_case code.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use embargo_core::protocol::{ErrorBody, ErrorCode};

use crate::framing::Refusal;
use crate::storage::StorageError;

/// What went wrong with a request. 4xx messages say what was wrong with it; 5xx messages say
/// nothing internal (the chain is logged instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    #[error("the Idempotency-Key header is missing: send a random key (1–255 printable ASCII characters) and reuse it when retrying")]
    MissingIdempotencyKey,
    #[error("the Idempotency-Key header is invalid: {reason}")]
    InvalidIdempotencyKey { reason: String },
    #[error("the body is larger than this intake's limit of {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("no data arrived for {seconds} seconds while reading the body")]
    BodyTimeout { seconds: u64 },
    #[error("the body arrived at less than {min_rate} bytes per second on average{}", evicted_note(.evicted))]
    BodyTooSlow { min_rate: u64, evicted: bool },
    #[error("every upload slot of this intake is taken: retry after {retry_after} seconds")]
    Busy { retry_after: u64 },
    #[error("the body could not be read: {reason}")]
    BodyRead { reason: String },
    #[error("{0}")]
    Refused(Refusal),
    #[error("Idempotency-Key {key:?} was already used for a different body: use a new key for a new report")]
    IdempotencyKeyReused { key: String },
    #[error(
        "a submission with Idempotency-Key {key:?} is still in progress: retry after it finishes"
    )]
    InProgress { key: String },
    #[error("this exact sealed report is already stored here (sent before under another Idempotency-Key); only its first sender got the receipt — seal the report again to send a new copy")]
    DuplicateReport,
    #[error("this intake cannot store more reports now ({reason}); nothing was stored: keep the report and retry after {retry_after} seconds")]
    InsufficientStorage {
        reason: &'static str,
        retry_after: u64,
    },
    #[error("the Authorization header is missing: send `Authorization: Bearer <{what}>`")]
    MissingToken { what: &'static str },
    #[error("the {what} is not valid for this request")]
    InvalidToken { what: &'static str },
    #[error("no report with receipt {receipt}")]
    ReportNotFound { receipt: String },
    #[error("no report with receipt {receipt} to continue after (the `after` cursor)")]
    UnknownCursor { receipt: String },
    #[error("invalid query: {reason}")]
    InvalidQuery { reason: String },
    #[error("invalid JSON body: {reason}")]
    InvalidJson { reason: String },
    #[error("unknown status {value:?}: expected one of received, triaged, accepted, fixed, disclosed, rejected")]
    InvalidStatus { value: String },
    #[error("too many requests: retry after {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    #[error("no such resource: {path}")]
    NotFound { path: String },
    #[error("method {method} is not allowed here")]
    MethodNotAllowed { method: String },
    #[error("internal error")]
    Storage(#[from] StorageError),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::MissingIdempotencyKey
            | AppError::InvalidIdempotencyKey { .. }
            | AppError::BodyRead { .. }
            | AppError::InvalidQuery { .. }
            | AppError::InvalidJson { .. }
            | AppError::UnknownCursor { .. } => StatusCode::BAD_REQUEST,
            AppError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::BodyTimeout { .. } | AppError::BodyTooSlow { .. } => {
                StatusCode::REQUEST_TIMEOUT
            }
            AppError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Refused(_)
            | AppError::IdempotencyKeyReused { .. }
            | AppError::InvalidStatus { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::InProgress { .. } | AppError::DuplicateReport => StatusCode::CONFLICT,
            AppError::InsufficientStorage { .. } => StatusCode::INSUFFICIENT_STORAGE,
            AppError::MissingToken { .. } | AppError::InvalidToken { .. } => {
                StatusCode::UNAUTHORIZED
            }
            AppError::ReportNotFound { .. } | AppError::NotFound { .. } => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients switch on.
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::MissingIdempotencyKey => ErrorCode::MissingIdempotencyKey,
            AppError::InvalidIdempotencyKey { .. } => ErrorCode::InvalidIdempotencyKey,
            AppError::BodyTooLarge { .. } => ErrorCode::BodyTooLarge,
            AppError::BodyTimeout { .. } => ErrorCode::BodyTimeout,
            AppError::BodyTooSlow { .. } => ErrorCode::BodyTooSlow,
            AppError::Busy { .. } => ErrorCode::ServerBusy,
            AppError::BodyRead { .. } => ErrorCode::BodyUnreadable,
            AppError::Refused(r) => r.code(),
            AppError::IdempotencyKeyReused { .. } => ErrorCode::IdempotencyKeyReused,
            AppError::InProgress { .. } => ErrorCode::SubmissionInProgress,
            AppError::DuplicateReport => ErrorCode::DuplicateReport,
            AppError::InsufficientStorage { .. } => ErrorCode::InsufficientStorage,
            AppError::MissingToken { .. } => ErrorCode::MissingToken,
            AppError::InvalidToken { .. } => ErrorCode::InvalidToken,
            AppError::ReportNotFound { .. } => ErrorCode::ReportNotFound,
            AppError::UnknownCursor { .. } => ErrorCode::UnknownCursor,
            AppError::InvalidQuery { .. } => ErrorCode::InvalidQuery,
            AppError::InvalidJson { .. } => ErrorCode::InvalidJson,
            AppError::InvalidStatus { .. } => ErrorCode::InvalidStatus,
            AppError::RateLimited { .. } => ErrorCode::RateLimited,
            AppError::NotFound { .. } => ErrorCode::NotFound,
            AppError::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
            AppError::Storage(_) => ErrorCode::InternalError,
        }
    }
}

fn evicted_note(evicted: &bool) -> &'static str {
    if *evicted {
        ", and the server needed its upload slot for another upload"
    } else {
        ""
    }
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> AppError {
        AppError::Refused(r)
    }
}

/// The error chain of `e`, for the log.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            AppError::Storage(e) => {
                tracing::error!(error = %chain(e), "storage failure");
                "the server could not complete the request; try again later".to_owned()
            }
            other => other.to_string(),
        };
        let body = ErrorBody::new(self.code(), message);
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            AppError::InProgress { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            AppError::RateLimited { retry_after }
            | AppError::Busy { retry_after }
            | AppError::InsufficientStorage { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            AppError::MissingToken { .. } | AppError::InvalidToken { .. } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"embargo-intake\""),
                );
            }
            AppError::Storage(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        // A refused upload may not have been read to its end: do not keep the connection.
        if matches!(
            self,
            AppError::BodyTooLarge { .. }
                | AppError::BodyTimeout { .. }
                | AppError::BodyTooSlow { .. }
                | AppError::Busy { .. }
                | AppError::Refused(_)
                | AppError::InsufficientStorage { .. }
        ) {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}
