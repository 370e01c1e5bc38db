//! What the server publishes about the team: `/.well-known/security.txt` (RFC 9116), the Web
//! Key Directory (direct and advanced) and the team's certs at `/keys/…`, all generated from
//! the configuration.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};

use crate::config::Site;
use crate::error::AppError;
use crate::team::TeamCert;
use crate::AppState;

/// security.txt for `base` (scheme and authority, no trailing slash) at `now`. Expires is a
/// year ahead of `now`: regenerated per request, it never goes stale.
pub fn security_txt(site: &Site, team: &[TeamCert], base: &str, now: DateTime<Utc>) -> String {
    let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::new();
    out.push_str("# Vulnerability reports: encrypt them to the team's OpenPGP key below.\n");
    out.push_str(&format!(
        "# Embargo intake: POST {base}/v1/reports (sealed OpenPGP messages only).\n"
    ));
    for c in &site.contact {
        out.push_str(&format!("Contact: {}\n", one_line(c)));
    }
    let expires = now + Duration::days(365);
    out.push_str(&format!(
        "Expires: {}\n",
        expires.format("%Y-%m-%dT%H:%M:%SZ")
    ));
    for cert in team {
        out.push_str(&format!(
            "Encryption: {base}/keys/{}.asc\n",
            cert.fingerprint()
        ));
    }
    // An extension field (RFC 9116 keeps unknown fields): `embargo program add DOMAIN` reads
    // it, so a team running this server is found, key and intake, with no configuration.
    out.push_str(&format!(
        "{}: {base}/\n",
        embargo_core::usecase::INTAKE_FIELD
    ));
    if let Some(ack) = &site.acknowledgments {
        out.push_str(&format!("Acknowledgments: {ack}\n"));
    }
    if !site.preferred_languages.is_empty() {
        out.push_str(&format!(
            "Preferred-Languages: {}\n",
            one_line(&site.preferred_languages.join(", "))
        ));
    }
    out.push_str(&format!("Canonical: {base}/.well-known/security.txt\n"));
    if let Some(policy) = &site.policy {
        out.push_str(&format!("Policy: {policy}\n"));
    }
    if let Some(promise) = &site.response_promise {
        out.push_str(&format!("# Response: {}\n", one_line(promise)));
    }
    out
}

/// The base URL clients used: the configured public URL, else this request's authority
/// (`https`, unless the server runs plain HTTP on a loopback name, which only a local test
/// does; behind a reverse proxy the public side is HTTPS).
fn base_url(state: &AppState, headers: &HeaderMap, uri: &Uri) -> String {
    if let Some(url) = &state.shared.public_url {
        return url.as_str().trim_end_matches('/').to_owned();
    }
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .filter(|a| {
            !a.is_empty()
                && a.len() <= 255
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
        })
        .unwrap_or_else(|| "localhost".to_owned());
    let host = authority
        .rsplit_once(':')
        .filter(|(h, p)| !h.is_empty() && !p.contains(']'))
        .map(|(h, _)| h)
        .unwrap_or(&authority);
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    let scheme = if state.shared.tls || !loopback {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{authority}")
}

pub async fn security_txt_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let base = base_url(&state, &headers, &uri);
    let body = security_txt(&state.shared.site, &state.shared.team, &base, Utc::now());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

fn wkd_response(certs: Vec<&TeamCert>, path: &str) -> Response {
    if certs.is_empty() {
        return AppError::NotFound {
            path: path.to_owned(),
        }
        .into_response();
    }
    let mut body = Vec::new();
    for c in certs {
        body.extend_from_slice(&c.binary);
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            // The WKD draft asks for this, so web clients can look keys up.
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
        ],
        body,
    )
        .into_response()
}

/// `/.well-known/openpgpkey/hu/<hash>`: the direct method answers for any domain of the team's
/// addresses (the server cannot know which one the client asked for besides the Host).
pub async fn wkd_direct(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    uri: Uri,
) -> Response {
    let certs = state
        .shared
        .team
        .iter()
        .filter(|c| c.matches_wkd(&hash, None))
        .collect();
    wkd_response(certs, uri.path())
}

/// `/.well-known/openpgpkey/<domain>/hu/<hash>` (the advanced method).
pub async fn wkd_advanced(
    State(state): State<AppState>,
    Path((domain, hash)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    let certs = state
        .shared
        .team
        .iter()
        .filter(|c| c.matches_wkd(&hash, Some(&domain)))
        .collect();
    wkd_response(certs, uri.path())
}

fn policy_response() -> Response {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
        ],
        "",
    )
        .into_response()
}

/// The direct method's (empty) policy file.
pub async fn wkd_policy() -> Response {
    policy_response()
}

/// The advanced method's policy file, for the domains of the team's addresses only.
pub async fn wkd_domain_policy(
    State(state): State<AppState>,
    Path(domain): Path<String>,
    uri: Uri,
) -> Response {
    let known = state.shared.team.iter().any(|c| {
        c.emails.iter().any(|e| {
            e.rsplit_once('@')
                .is_some_and(|(_, d)| d.eq_ignore_ascii_case(&domain))
        })
    });
    if known {
        policy_response()
    } else {
        AppError::NotFound {
            path: uri.path().to_owned(),
        }
        .into_response()
    }
}

/// `/keys/<FINGERPRINT>.asc` (one team cert) and `/keys/team.asc` (all), armored.
pub async fn team_key(
    State(state): State<AppState>,
    Path(file): Path<String>,
    uri: Uri,
) -> Response {
    let team = &state.shared.team;
    let chosen: Vec<&TeamCert> = match file.strip_suffix(".asc") {
        Some("team") => team.iter().collect(),
        Some(fpr) => team
            .iter()
            .filter(|c| c.fingerprint().eq_ignore_ascii_case(fpr))
            .collect(),
        None => Vec::new(),
    };
    if chosen.is_empty() {
        return AppError::NotFound {
            path: uri.path().to_owned(),
        }
        .into_response();
    }
    let body: String = chosen.iter().map(|c| c.armored.as_str()).collect();
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pgp-keys"),
            ),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
        ],
        body,
    )
        .into_response()
}
