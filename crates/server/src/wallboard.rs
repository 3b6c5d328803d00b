//! The wallboard: a page for the floor's wall screens and supervisors' browsers, served
//! on the metrics port (`server.metrics_listen`) beside `/metrics`, with its live feed as
//! Server-Sent Events.
//!
//! - `GET /wallboard`: the page (HTML, CSS and JavaScript compiled into the binary; no
//!   CDN, no build step).
//! - `GET /floor/events`: the feed (`text/event-stream`): a `snapshot` event, then
//!   `queue`, `agent`, `agent_gone` and `queue_gone` events with ids. A browser that
//!   reconnects sends `Last-Event-ID` and resumes.
//! - `GET /floor`: the floor now, as one JSON snapshot.
//!
//! With authentication configured (`[security]` tokens or client certificates), these
//! need a supervisor's or admin's token, as `Authorization: Bearer <token>` or as the
//! password of HTTP Basic authentication (any user name), which a browser asks for.
//! `/metrics` stays as it is.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{
        IntoResponse, Redirect, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::get,
};
use base64::Engine;
use switchboard_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::{App, floor, security::Guard};

const PAGE: &str = include_str!("wallboard/index.html");
const SCRIPT: &str = include_str!("wallboard/wallboard.js");
const STYLE: &str = include_str!("wallboard/wallboard.css");

/// The method whose access rule the wallboard follows.
const RULE: &str = "/switchboard.v1.Admin/WatchFloor";

/// How long a browser may leave events untaken before its stream is ended (it
/// reconnects and resumes).
const SLOW_BROWSER: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct Board {
    app: App,
    guard: Arc<Guard>,
}

/// The wallboard's routes, for the metrics port's router.
pub(crate) fn routes(app: App, guard: Arc<Guard>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/wallboard") }))
        .route("/wallboard", get(page))
        .route("/wallboard/wallboard.js", get(script))
        .route("/wallboard/wallboard.css", get(style))
        .route("/floor", get(snapshot))
        .route("/floor/events", get(events))
        .with_state(Board { app, guard })
}

/// The request's credentials checked as for `Admin.WatchFloor`; a Basic password is
/// taken as a bearer token.
fn admit(guard: &Guard, headers: &HeaderMap) -> Result<(), Refused> {
    let mut headers = headers.clone();
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_at_checked(6)?;
            scheme.eq_ignore_ascii_case("basic ").then_some(rest)
        })
        .map(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|pair| pair.split_once(':').map(|(_, p)| p.to_owned()))
        });
    match basic {
        Some(Some(token)) => match HeaderValue::from_str(&format!("Bearer {token}")) {
            Ok(v) => {
                headers.insert(header::AUTHORIZATION, v);
            }
            Err(_) => {
                return Err(Refused(
                    StatusCode::UNAUTHORIZED,
                    "malformed credentials".into(),
                ));
            }
        },
        Some(None) => {
            return Err(Refused(
                StatusCode::UNAUTHORIZED,
                "malformed Basic credentials".into(),
            ));
        }
        None => {}
    }
    guard.check(RULE, &headers).map(drop).map_err(|status| {
        let code = match status.code() {
            tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
            tonic::Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::UNAUTHORIZED,
        };
        Refused(code, status.message().to_owned())
    })
}

/// A request the wallboard refuses: the HTTP status and why.
#[derive(Debug)]
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        refuse(self.0, &self.1)
    }
}

fn refuse(code: StatusCode, why: &str) -> Response {
    let mut response = (code, format!("{why}\n")).into_response();
    if code == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Basic realm=\"switchboard wallboard: a supervisor token as the password\", charset=\"UTF-8\"",
            ),
        );
    }
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; frame-ancestors 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn page(State(b): State<Board>, headers: HeaderMap) -> Response {
    admit(&b.guard, &headers).map_or_else(IntoResponse::into_response, |()| {
        asset("text/html; charset=utf-8", PAGE)
    })
}

async fn script(State(b): State<Board>, headers: HeaderMap) -> Response {
    admit(&b.guard, &headers).map_or_else(IntoResponse::into_response, |()| {
        asset("text/javascript; charset=utf-8", SCRIPT)
    })
}

async fn style(State(b): State<Board>, headers: HeaderMap) -> Response {
    admit(&b.guard, &headers).map_or_else(IntoResponse::into_response, |()| {
        asset("text/css; charset=utf-8", STYLE)
    })
}

async fn snapshot(State(b): State<Board>, headers: HeaderMap) -> Response {
    if let Err(r) = admit(&b.guard, &headers) {
        return r.into_response();
    }
    let app = b.app.clone();
    let Ok(built) = tokio::task::spawn_blocking(move || floor::build(&app)).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let event = pb::FloorEvent {
        id: String::new(),
        at: Some(crate::convert::timestamp(built.at)),
        change: Some(pb::floor_event::Change::Snapshot(built.snapshot)),
    };
    let (_, json) = floor::json::event(&event);
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        json,
    )
        .into_response()
}

/// The id to resume after: the `Last-Event-ID` header a browser sends when it
/// reconnects by itself, else the `last_event_id` query parameter (a page reconnecting
/// on purpose cannot set the header).
fn resume_id(headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    if let Some(id) = headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        return id.to_owned();
    }
    uri.query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("last_event_id="))
        // Ids are hexadecimal and decimal digits with one '-': nothing to decode.
        .map(|v| v.replace("%2D", "-").replace("%2d", "-"))
        .unwrap_or_default()
}

async fn events(State(b): State<Board>, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    if let Err(r) = admit(&b.guard, &headers) {
        return r.into_response();
    }
    if b.app.is_stopping() {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, crate::SHUTDOWN_STATUS);
    }
    let mut last = resume_id(&headers, &uri);
    if last.len() > 64 {
        // Not an id of ours: start with a snapshot.
        last.clear();
    }
    let mut watch = b.app.floor.watch(&b.app, &last);
    let (tx, rx) = mpsc::channel::<Result<Event, Infallible>>(256);
    tokio::spawn(async move {
        loop {
            let events = tokio::select! {
                events = watch.next() => events,
                () = tx.closed() => return,
            };
            let Ok(events) = events else {
                // Shutting down: the stream ends, and the browser retries.
                return;
            };
            for e in events {
                let (name, data) = e.json();
                let event = Event::default()
                    .id(e.event.id.as_str())
                    .event(*name)
                    .data(data.as_str());
                match tokio::time::timeout(SLOW_BROWSER, tx.send(Ok(event))).await {
                    Ok(Ok(())) => {}
                    _ => return,
                }
            }
        }
    });
    // A browser reconnects a second after the stream ends (the `retry` field).
    let first = tokio_stream::once(Ok(Event::default().retry(Duration::from_secs(1))));
    let stream = tokio_stream::StreamExt::chain(first, ReceiverStream::new(rx));
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
