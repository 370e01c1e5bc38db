//! Embargo's intake server: receives sealed reports (ciphertext only) over HTTP, stores them
//! durably in SQLite or PostgreSQL, and serves them to the security team.
//!
//! [`app`] builds the router from an [`AppState`]; `main.rs` only wires the configuration,
//! the listener, TLS and signals. The protocol is `DESIGN.md` "Intake protocol".

#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod framing;
pub mod init;
pub mod limits;
pub mod quota;
pub mod ratelimit;
pub mod receipt;
pub mod serve;
pub mod storage;
pub mod team;

mod api;
mod linger;
mod team_api;
mod upload;
mod wellknown;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue, Method, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use url::Url;

pub use config::{ConfigFile, Overrides, Settings, StorageSettings};
pub use error::AppError;
pub use receipt::{Receipt, ServerSecret};
pub use storage::{PgOptions, PgStore, SqliteOptions, SqliteStore, Storage, StorageError};
pub use wellknown::security_txt;

use crate::config::Site;
use crate::framing::RecipientKey;
use crate::ratelimit::RateLimiter;
use crate::team::{TeamCert, TeamTokens};

/// Everything a request handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    shared: Arc<Shared>,
}

struct Shared {
    storage: Arc<dyn Storage>,
    secret: ServerSecret,
    team: Vec<TeamCert>,
    recipients: Arc<Vec<RecipientKey>>,
    tokens: TeamTokens,
    body_limit: u64,
    reply_limit: u64,
    accept_hidden: bool,
    public_url: Option<Url>,
    tls: bool,
    site: Site,
    rate: RateLimiter,
    in_flight: Mutex<HashSet<String>>,
    limits: limits::Limits,
    uploads: Arc<limits::UploadSlots>,
    quota: quota::Quota,
}

impl Shared {
    /// The pace every request body must keep.
    pub(crate) fn pace(&self) -> limits::Pace {
        limits::Pace {
            min_rate: self.limits.min_body_rate,
            grace: self.limits.body_grace,
            idle: self.limits.body_idle_timeout,
        }
    }
}

impl AppState {
    /// The state for `settings` over `storage` (which supplies the status-token secret).
    pub async fn new(
        settings: &Settings,
        storage: Arc<dyn Storage>,
    ) -> Result<AppState, StorageError> {
        let secret = storage.server_secret().await?;
        let recipients = settings.team.iter().map(|c| c.recipient.clone()).collect();
        let quota = quota::Quota::new(settings.quota, storage.clone()).await?;
        Ok(AppState {
            shared: Arc::new(Shared {
                storage,
                secret,
                team: settings.team.clone(),
                recipients: Arc::new(recipients),
                tokens: settings.tokens.clone(),
                body_limit: settings.body_limit,
                reply_limit: settings.reply_limit,
                accept_hidden: settings.accept_hidden_recipients,
                public_url: settings.public_url.clone(),
                tls: settings.tls.is_some(),
                site: settings.site.clone(),
                rate: RateLimiter::new(&settings.rate_limits),
                in_flight: Mutex::new(HashSet::new()),
                limits: settings.limits,
                uploads: limits::UploadSlots::new(
                    settings.limits.max_uploads,
                    settings.limits.min_body_rate,
                ),
                quota,
            }),
        })
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.shared.storage
    }
}

/// Claims an idempotency key for one in-flight submission; released on drop.
pub(crate) struct InFlight {
    state: AppState,
    key: String,
}

impl AppState {
    pub(crate) fn claim(&self, key: &str) -> Option<InFlight> {
        let mut set = self.shared.in_flight.lock().expect("in-flight lock");
        if set.insert(key.to_owned()) {
            Some(InFlight {
                state: self.clone(),
                key: key.to_owned(),
            })
        } else {
            None
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.state
            .shared
            .in_flight
            .lock()
            .expect("in-flight lock")
            .remove(&self.key);
    }
}

/// The intake's HTTP interface.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/reports", post(api::submit))
        .route("/v1/reports/{receipt}", get(api::status))
        .route("/v1/team/reports", get(team_api::list))
        .route("/v1/team/reports/{receipt}/message", get(team_api::message))
        .route(
            "/v1/team/reports/{receipt}/replies",
            post(team_api::reply).get(team_api::replies),
        )
        .route(
            "/v1/team/reports/{receipt}/status",
            put(team_api::set_status),
        )
        .route(
            "/.well-known/security.txt",
            get(wellknown::security_txt_handler),
        )
        .route("/.well-known/openpgpkey/policy", get(wellknown::wkd_policy))
        .route(
            "/.well-known/openpgpkey/hu/{hash}",
            get(wellknown::wkd_direct),
        )
        .route(
            "/.well-known/openpgpkey/{domain}/policy",
            get(wellknown::wkd_domain_policy),
        )
        .route(
            "/.well-known/openpgpkey/{domain}/hu/{hash}",
            get(wellknown::wkd_advanced),
        )
        .route("/keys/{file}", get(wellknown::team_key))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(linger::layer))
        .layer(middleware::from_fn(common))
        .with_state(state)
}

async fn not_found(uri: Uri) -> AppError {
    AppError::NotFound {
        path: uri.path().chars().take(200).collect(),
    }
}

async fn method_not_allowed(method: Method) -> AppError {
    AppError::MethodNotAllowed {
        method: method.to_string(),
    }
}

/// Headers every response carries, and a log line per request that names the route template
/// (never the client's address or user agent, nor the receipt in the path).
async fn common(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let mut response = next.run(request).await.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    tracing::debug!(
        %method,
        route,
        status = response.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        "request"
    );
    response
}
