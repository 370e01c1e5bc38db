//! The team's endpoints under `/v1/team`, behind the team's bearer token: list reports, fetch
//! a stored body, reply and read the replies sent, set the status.

use std::io::Read as _;

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use embargo_core::protocol::{
    ReplyCreated, StatusChange, StatusChanged, TeamReplies, TeamReport, TeamReports,
};
use openpgp::armor;
use sequoia_openpgp as openpgp;
use serde::Deserialize;

use crate::api::{bearer, on_the_wire, path_receipt};
use crate::error::AppError;
use crate::framing::{self, Expect, Refusal};
use crate::receipt::Receipt;
use crate::storage::rfc3339;
use crate::upload::BodyReader;
use crate::AppState;

/// Proof that the request carries one of the team's tokens (and is within its rate limit).
pub struct Team;

impl FromRequestParts<AppState> for Team {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Team, AppError> {
        const WHAT: &str = "team token";
        let shared = &state.shared;
        let Some(token) = bearer(&parts.headers) else {
            shared.rate.auth_failure()?;
            return Err(AppError::MissingToken { what: WHAT });
        };
        match shared.tokens.check(token) {
            Some(index) => {
                shared.rate.team_token(index)?;
                Ok(Team)
            }
            None => {
                shared.rate.auth_failure()?;
                Err(AppError::InvalidToken { what: WHAT })
            }
        }
    }
}

/// Most reports one page lists.
pub const MAX_PAGE: usize = 1000;
pub const DEFAULT_PAGE: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/team/reports?after=RECEIPT&limit=N`, in arrival order.
pub async fn list(
    _team: Team,
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let Query(query) = query.map_err(|e| AppError::InvalidQuery {
        reason: e.body_text(),
    })?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(AppError::InvalidQuery {
            reason: format!("limit {limit} is not between 1 and {MAX_PAGE}"),
        });
    }
    let after: Option<Receipt> = match query.after.as_deref() {
        None | Some("") => None,
        Some(text) => Some(text.parse().map_err(|_| AppError::UnknownCursor {
            receipt: text.chars().take(64).collect(),
        })?),
    };
    let page = state
        .shared
        .storage
        .list_reports(after.as_ref(), limit)
        .await?
        .ok_or_else(|| AppError::UnknownCursor {
            receipt: after.map(|r| r.to_string()).unwrap_or_default(),
        })?;
    let next = if page.more {
        page.reports.last().map(|r| r.receipt.to_string())
    } else {
        None
    };
    let view = TeamReports {
        reports: page
            .reports
            .into_iter()
            .map(|r| TeamReport {
                receipt: r.receipt.to_string(),
                received_at: rfc3339(r.received_at),
                status: r.status,
                size: r.size,
            })
            .collect(),
        next,
    };
    Ok(Json(view).into_response())
}

/// `GET /v1/team/reports/{receipt}/message`: the stored body byte for byte, streamed.
pub async fn message(
    _team: Team,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let receipt = path_receipt(path)?;
    let body = state
        .shared
        .storage
        .open_body(&receipt)
        .await?
        .ok_or_else(|| AppError::ReportNotFound {
            receipt: receipt.to_string(),
        })?;
    let size = body.size;
    let mut response = Body::from_stream(body.stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    Ok(response)
}

/// `POST /v1/team/reports/{receipt}/replies`: one encrypted OpenPGP message (armored or
/// binary), stored binary and handed to the researcher armored.
pub async fn reply(
    _team: Team,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, AppError> {
    let shared = &state.shared;
    let receipt = path_receipt(path)?;
    let bytes = BodyReader::new(body, shared.reply_limit, shared.pace(), None)
        .collect()
        .await?;
    let framing = framing::check_bytes(&bytes, Expect::AnyRecipient)?;
    let binary = if framing.armored {
        dearmor(&bytes)?
    } else {
        bytes
    };
    let reply = shared
        .storage
        .add_reply(&receipt, binary)
        .await?
        .ok_or_else(|| AppError::ReportNotFound {
            receipt: receipt.to_string(),
        })?;
    tracing::info!(%receipt, id = reply.id, "reply stored");
    let view = ReplyCreated {
        id: reply.id,
        created_at: rfc3339(reply.created_at),
    };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /v1/team/reports/{receipt}/replies`: the replies the team sent, oldest first, armored
/// (each encrypted to the researcher and to the member who wrote it).
pub async fn replies(
    _team: Team,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let shared = &state.shared;
    let receipt = path_receipt(path)?;
    if shared.storage.report(&receipt).await?.is_none() {
        return Err(AppError::ReportNotFound {
            receipt: receipt.to_string(),
        });
    }
    let replies = shared.storage.replies(&receipt).await?;
    let view = TeamReplies {
        replies: on_the_wire(replies),
    };
    Ok(Json(view).into_response())
}

fn dearmor(bytes: &[u8]) -> Result<bytes::Bytes, AppError> {
    let mut reader = armor::Reader::from_bytes(
        bytes,
        armor::ReaderMode::Tolerant(Some(armor::Kind::Message)),
    );
    let mut out = Vec::new();
    reader
        .read_to_end(&mut out)
        .map_err(|e| Refusal::NotOpenPgp {
            reason: format!("the ASCII armor does not decode: {e}"),
        })?;
    Ok(out.into())
}

/// The body of a status change that names no status the protocol knows: told apart from JSON
/// that is not a status change at all, so the answer says which status was wrong.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnyStatus {
    status: String,
}

/// A JSON body is a few bytes; anything longer is not one.
const JSON_LIMIT: u64 = 4096;

/// `PUT /v1/team/reports/{receipt}/status` with `{"status": …}`.
pub async fn set_status(
    _team: Team,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, AppError> {
    let shared = &state.shared;
    let receipt = path_receipt(path)?;
    let bytes = BodyReader::new(body, JSON_LIMIT, shared.pace(), None)
        .collect()
        .await?;
    let status = match serde_json::from_slice::<StatusChange>(&bytes) {
        Ok(change) => change.status,
        Err(e) => {
            return Err(match serde_json::from_slice::<AnyStatus>(&bytes) {
                Ok(other) => AppError::InvalidStatus {
                    value: other.status.chars().take(64).collect(),
                },
                Err(_) => AppError::InvalidJson {
                    reason: e.to_string(),
                },
            })
        }
    };
    let record = shared
        .storage
        .set_status(&receipt, status)
        .await?
        .ok_or_else(|| AppError::ReportNotFound {
            receipt: receipt.to_string(),
        })?;
    tracing::info!(%receipt, status = %record.status, "status set");
    Ok(Json(StatusChanged {
        receipt: record.receipt.to_string(),
        status: record.status,
        updated_at: rfc3339(record.updated_at),
    })
    .into_response())
}
