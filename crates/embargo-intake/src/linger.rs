//! Lingering close, for every route: an answer given before its request's body was read.
//!
//! A client still sending when the server answers and closes gets a TCP reset, which throws
//! away the answer already in its receive buffer: it would see "connection closed" instead of
//! 401, 404, 409 `submission_in_progress`, 429 or 503 with their Retry-After. So when a handler
//! answers without reading its whole body, this layer reads and drops what is left — at most
//! [`LINGER_BYTES`] within [`LINGER_TIME`] (nginx's "lingering close") — before the answer
//! goes out. A larger or slower remainder is not waited for: the answer then says
//! `Connection: close`, so no client pools a connection that still carries a body.
//!
//! A handler that stops reading mid-body on purpose (a refused upload) answers with
//! `Connection: close` itself; that answer is passed on as it is. A client that asked for
//! `Expect: 100-continue` and was never told to go on has sent nothing: its connection is
//! closed without reading.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Frame, SizeHint};

/// At most this much of an unread body is read and dropped before the answer.
pub(crate) const LINGER_BYTES: usize = 1024 * 1024;
/// And for at most this long.
pub(crate) const LINGER_TIME: Duration = Duration::from_secs(2);

/// The request's body, shared between the handler (which may read it) and this layer (which
/// drains what the handler left).
#[derive(Default)]
struct Shared {
    body: Option<Body>,
    /// The handler (or hyper on its behalf) asked for a frame: a 100 Continue went out.
    polled: bool,
}

struct Tracked(Arc<Mutex<Shared>>);

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let mut shared = self.0.lock().expect("linger lock");
        shared.polled = true;
        match shared.body.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        let shared = self.0.lock().expect("linger lock");
        shared.body.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let shared = self.0.lock().expect("linger lock");
        shared
            .body
            .as_ref()
            .map(HttpBody::size_hint)
            .unwrap_or_else(|| SizeHint::with_exact(0))
    }
}

/// The middleware (see the module's documentation).
pub(crate) async fn layer(request: Request, next: Next) -> Response {
    let expects_continue = request
        .headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let (parts, body) = request.into_parts();
    let shared = Arc::new(Mutex::new(Shared {
        body: Some(body),
        polled: false,
    }));
    let request = Request::from_parts(parts, Body::new(Tracked(shared.clone())));
    let mut response = next.run(request).await;
    if closes(&response) {
        return response;
    }
    let (left, polled) = {
        let mut shared = shared.lock().expect("linger lock");
        (shared.body.take(), shared.polled)
    };
    let Some(left) = left.filter(|body| !body.is_end_stream()) else {
        return response;
    };
    if (expects_continue && !polled) || !drain(left).await {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

fn closes(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONNECTION)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
}

/// Reads and drops at most [`LINGER_BYTES`] of `body` within [`LINGER_TIME`]; true when the
/// whole body was read.
async fn drain(body: Body) -> bool {
    use futures_util::StreamExt as _;
    let mut data = body.into_data_stream();
    let mut read = 0usize;
    tokio::time::timeout(LINGER_TIME, async {
        loop {
            match data.next().await {
                None => return true,
                Some(Err(_)) => return false,
                Some(Ok(chunk)) => {
                    read += chunk.len();
                    if read > LINGER_BYTES {
                        return false;
                    }
                }
            }
        }
    })
    .await
    .unwrap_or(false)
}
