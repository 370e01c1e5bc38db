//! The researcher's endpoints: `POST /v1/reports` and `GET /v1/reports/{receipt}`.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use embargo_core::protocol::{Reply, ReportState, Submitted};
use openpgp::armor;
use sequoia_openpgp as openpgp;
use std::io::Write as _;

use crate::error::AppError;
use crate::limits::Slot;
use crate::receipt::Receipt;
use crate::serve::SocketProbe;
use crate::storage::{rfc3339, ReplyRecord};
use crate::upload::{self, Accepted};
use crate::AppState;

/// The longest Idempotency-Key accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The Idempotency-Key: 1–255 printable ASCII characters (space to tilde).
fn idempotency_key(headers: &HeaderMap) -> Result<String, AppError> {
    let value = headers
        .get("idempotency-key")
        .ok_or(AppError::MissingIdempotencyKey)?;
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return Err(AppError::InvalidIdempotencyKey {
            reason: "it is empty".into(),
        });
    }
    if bytes.len() > MAX_IDEMPOTENCY_KEY {
        return Err(AppError::InvalidIdempotencyKey {
            reason: format!(
                "it has {} characters, at most {MAX_IDEMPOTENCY_KEY} are allowed",
                bytes.len()
            ),
        });
    }
    if let Some(pos) = bytes.iter().position(|b| !(0x20..=0x7e).contains(b)) {
        return Err(AppError::InvalidIdempotencyKey {
            reason: format!(
                "byte {} (0x{:02x}) is not a printable ASCII character",
                pos + 1,
                bytes[pos]
            ),
        });
    }
    Ok(String::from_utf8(bytes.to_vec()).expect("printable ASCII is UTF-8"))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// `POST /v1/reports`.
pub async fn submit(
    State(state): State<AppState>,
    socket: Option<Extension<SocketProbe>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    // Served by `serve` (not a test's router): the connection, for the upload slots.
    let socket = socket.map(|Extension(probe)| probe);
    let key = idempotency_key(&headers)?;
    // Refused before a byte of the body is read; chunked bodies are counted as they stream.
    let announced = content_length(&headers);
    if let Some(len) = announced {
        if len > state.shared.body_limit {
            return Err(AppError::BodyTooLarge {
                limit: state.shared.body_limit,
            });
        }
    }
    // Only a well-formed request is charged, and the charge is given back when the body is
    // refused: junk cannot spend the budget real reports need.
    let admitted = async {
        let charge = state.shared.rate.submission()?;
        // Held here (in memory: cheap) and in the storage (seen by every replica).
        let claim = state
            .claim(&key)
            .ok_or_else(|| AppError::InProgress { key: key.clone() })?;
        let slot = state.shared.uploads.admit(socket)?;
        let shared_claim = state
            .shared
            .storage
            .claim(&key)
            .await?
            .ok_or_else(|| AppError::InProgress { key: key.clone() })?;
        Ok::<_, AppError>((charge, claim, slot, shared_claim))
    }
    .await;
    let (charge, _claim, slot, shared_claim) = match admitted {
        Ok(admitted) => admitted,
        // The body is unread: the lingering-close layer (`linger`) drains a little of it so
        // that the client reads this answer, or closes the connection.
        Err(refused) => return Err(refused),
    };
    let accepted = receive(&state, &key, announced, body, slot).await;
    shared_claim.release().await;
    let accepted = match accepted {
        Ok(accepted) => accepted,
        // Refused mid-body (framing, size, quota, pace): what is left of the body is unread,
        // so this connection ends with the answer and no client may pool it.
        Err(refused) => return Ok(closing(refused)),
    };
    charge.keep();
    let (status, receipt, received_at) = match accepted {
        Accepted::Created(record) => {
            tracing::info!(receipt = %record.receipt, size = record.size, "report stored");
            (StatusCode::CREATED, record.receipt, record.received_at)
        }
        Accepted::Replayed(existing) => {
            tracing::info!(receipt = %existing.receipt, "submission replayed");
            (StatusCode::OK, existing.receipt, existing.received_at)
        }
    };
    let answer = Submitted {
        receipt: receipt.to_string(),
        status_token: state.shared.secret.status_token(&receipt),
        received_at: rfc3339(received_at),
    };
    let mut response = (status, Json(answer)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/reports/{receipt}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// An error answer that ends its connection (`Connection: close`).
fn closing(refused: AppError) -> Response {
    let mut response = refused.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Receives the body of a submission that holds its key, within the room the quota gives it.
async fn receive(
    state: &AppState,
    key: &str,
    announced: Option<u64>,
    body: Body,
    slot: Slot,
) -> Result<Accepted, AppError> {
    let quota = &state.shared.quota;
    let room = match quota.reserve(announced.unwrap_or(0)).await {
        Ok(room) => room,
        // A retry of a report already stored gets its receipt even when there is no room.
        Err(full) => match state.shared.storage.find_submission(key).await? {
            Some(_) => quota.unmetered(),
            None => return Err(full),
        },
    };
    // (No key, no size, no address: only that an upload holds its key now; tests wait for it.)
    tracing::debug!("upload started");
    upload::receive(state, key, body, slot, room).await
}

/// The bearer token of `Authorization: Bearer <token>`.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A receipt from the path; an unparsable one names no report.
pub(crate) fn path_receipt(path: Result<Path<String>, PathRejection>) -> Result<Receipt, AppError> {
    let Path(text) = path.map_err(|e| AppError::InvalidQuery {
        reason: e.body_text(),
    })?;
    text.parse().map_err(|_| AppError::ReportNotFound {
        receipt: text.chars().take(64).collect(),
    })
}

/// A stored reply (binary) as the armored text the researcher gets.
pub(crate) fn armored(message: &[u8]) -> String {
    let mut out = Vec::new();
    {
        let mut writer =
            armor::Writer::new(&mut out, armor::Kind::Message).expect("armor to memory");
        writer.write_all(message).expect("armor to memory");
        writer.finalize().expect("armor to memory");
    }
    String::from_utf8(out).expect("armor is ASCII")
}

/// `GET /v1/reports/{receipt}` with the status token.
pub async fn status(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let shared = &state.shared;
    const WHAT: &str = "status token";
    let Some(token) = bearer(&headers) else {
        shared.rate.auth_failure()?;
        return Err(AppError::MissingToken { what: WHAT });
    };
    let receipt = path_receipt(path)?;
    if !shared.secret.verify_status_token(&receipt, token) {
        shared.rate.auth_failure()?;
        return Err(AppError::InvalidToken { what: WHAT });
    }
    // Only lookups with a valid token spend the status budgets (bogus ones spend the
    // authentication-failure budget, apart).
    shared.rate.status_lookup()?;
    shared.rate.status_token(receipt.bits())?;
    let Some(record) = shared.storage.report(&receipt).await? else {
        return Err(AppError::ReportNotFound {
            receipt: receipt.to_string(),
        });
    };
    let replies = shared.storage.replies(&receipt).await?;
    let view = ReportState {
        receipt: record.receipt.to_string(),
        status: record.status,
        received_at: rfc3339(record.received_at),
        updated_at: rfc3339(record.updated_at),
        replies: on_the_wire(replies),
    };
    Ok(Json(view).into_response())
}

/// Stored replies as the protocol carries them (armored), for the researcher and the team.
pub(crate) fn on_the_wire(replies: Vec<ReplyRecord>) -> Vec<Reply> {
    replies
        .into_iter()
        .map(|r| Reply {
            id: r.id,
            created_at: rfc3339(r.created_at),
            message: armored(&r.message),
        })
        .collect()
}
