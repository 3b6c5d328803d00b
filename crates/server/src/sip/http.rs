//! The HTTP endpoints for Kamailio (`sip.http_listen`): `/sip/route` routes a call and
//! answers with rtjson routes for Kamailio's `rtjson` module, `/sip/event` takes what a
//! Kamailio dialog learned about the call (answered, ended, failed, cancelled) as a call
//! event. Parameters come percent-encoded in the query string (or a POST's form body);
//! only the addresses in `[[sip.peers]]` are answered.

use std::{collections::HashMap, net::SocketAddr};

use axum::{
    Router,
    body::Bytes,
    extract::{ConnectInfo, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};
use switchboard_proto::v1 as pb;
use switchboard_sip::{header::privacy_hides_caller, uri::Uri, uri::unescape};
use tokio::net::TcpListener;

use super::decide::{self, Peers, SipCall, Target};
use crate::{App, routing::RoutingService};

/// The longest query or body read.
const MAX_PARAMS: usize = 4_096;

/// Serves the endpoints on `listener` until `stop`.
pub(crate) async fn serve(
    app: App,
    listener: TcpListener,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let routes = Router::new()
        .route("/sip/route", get(route).post(route))
        .route("/sip/event", get(event).post(event))
        .with_state(app);
    let served = axum::serve(
        listener,
        routes.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stop.changed().await;
    });
    if let Err(e) = served.await {
        tracing::error!(error = %e, "SIP: the HTTP endpoint stopped");
    }
}

/// A JSON answer with `status`.
fn answer(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A request refused: its HTTP status and why.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    why: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        answer(self.status, json!({ "error": self.why }))
    }
}

fn error(status: StatusCode, why: impl Into<String>) -> Refusal {
    Refusal {
        status,
        why: why.into(),
    }
}

/// The parameters of a request: its query string, then a POST's form body.
fn params(query: Option<&str>, body: &[u8]) -> Result<HashMap<String, String>, Refusal> {
    let body = std::str::from_utf8(body)
        .map_err(|_| error(StatusCode::BAD_REQUEST, "the body is not UTF-8"))?;
    if query.map_or(0, str::len) + body.len() > MAX_PARAMS {
        return Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("parameters over {MAX_PARAMS} bytes"),
        ));
    }
    let mut out = HashMap::new();
    for pair in query.into_iter().chain([body]).flat_map(|t| t.split('&')) {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = |t: &str| {
            unescape(t).ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    format!("{}: a bad percent-escape", crate::error::shown(name)),
                )
            })
        };
        out.insert(decoded(name)?, decoded(value)?);
    }
    Ok(out)
}

/// The switch id of the peer at `from` and the request's parameters, or the refusal of
/// a stranger or of unreadable parameters.
fn admitted(
    app: &App,
    from: SocketAddr,
    query: Option<&str>,
    body: &[u8],
) -> Result<(String, HashMap<String, String>), Refusal> {
    let switch_id = app
        .settings()
        .sip
        .peer(from.ip())
        .map(str::to_owned)
        .ok_or_else(|| error(StatusCode::FORBIDDEN, "not an address in [[sip.peers]]"))?;
    Ok((switch_id, params(query, body)?))
}

fn required<'a>(p: &'a HashMap<String, String>, name: &str) -> Result<&'a str, Refusal> {
    p.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, format!("missing parameter {name}")))
}

/// `/sip/route?call_id=&caller=&asserted=&privacy=&dialed=&host=`: the caller is the
/// user of `asserted` (P-Asserted-Identity, a URI or a number) or else `caller` (the From
/// user); a `privacy` of `id`, `user` or `header` withholds it.
async fn route(
    State(app): State<App>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    counted(&app, "route", routed(&app, from, query.as_deref(), &body))
}

/// The answer to a request to `endpoint`, counted by its status.
fn counted(app: &App, endpoint: &'static str, answer: Result<Response, Refusal>) -> Response {
    let answer = answer.into_response();
    app.metrics.sip.http(endpoint, answer.status().as_u16());
    answer
}

fn routed(
    app: &App,
    from: SocketAddr,
    query: Option<&str>,
    body: &[u8],
) -> Result<Response, Refusal> {
    let (switch_id, p) = admitted(app, from, query, body)?;
    let call_id = required(&p, "call_id")?;
    let dialed = required(&p, "dialed")?;
    let host = required(&p, "host")?;
    let user = |v: &str| Uri::parse(v).map_or_else(|_| v.to_owned(), |u| u.user);
    let number = p
        .get("asserted")
        .filter(|a| !a.is_empty())
        .map(|a| user(a))
        .or_else(|| p.get("caller").map(|c| user(c)))
        .unwrap_or_default();
    let hidden = p.get("privacy").is_some_and(|v| privacy_hides_caller(v));
    let caller = if hidden || number.is_empty() || number.eq_ignore_ascii_case("anonymous") {
        "anonymous".to_owned()
    } else {
        number
    };
    let settings = app.settings();
    let identity = Peers::default().caller(&switch_id, from);
    let call = SipCall {
        call_id,
        caller: &caller,
        dialed,
        host,
    };
    let extra = format!(
        "X-Switchboard-Call: {}\r\n",
        switchboard_sip::uri::escape_param(call_id)
    );
    let route = |uri: &str| json!({ "uri": uri, "headers": { "extra": extra } });
    // The agent's phone rings until shortly before Switchboard would take the offer back
    // itself (calls.offer_timeout), so the proxy reports the missed call first.
    let ring = settings
        .offer_timeout
        .saturating_sub(std::time::Duration::from_secs(2))
        .max(std::time::Duration::from_secs(1));
    let (routes, agent, refuse) =
        match decide::place(app, &settings.sip, (&switch_id, &identity), &call, false) {
            Target::Agent {
                agent_id,
                uri,
                hold,
            } => {
                let mut first = route(&uri);
                first["fr_inv_timer"] = json!(ring.as_millis());
                (vec![first, route(&hold)], agent_id, Value::Null)
            }
            Target::Elsewhere(uri) => (vec![route(&uri)], String::new(), Value::Null),
            Target::Refused {
                code,
                retry_after,
                why,
            } => (
                Vec::new(),
                String::new(),
                json!({ "code": code, "retry_after": retry_after, "reason": why }),
            ),
        };
    Ok(answer(
        StatusCode::OK,
        json!({
            "version": "1.0",
            "routing": "serial",
            "routes": routes,
            "call_id": call_id,
            "agent": agent,
            "refuse": refuse,
        }),
    ))
}

/// `/sip/event?call_id=&event=&agent=`: `answered` (the agent answered), `ended` (a
/// hang-up: the agent's call ended, or without an agent the caller left the IVR or the
/// hold), `no_answer` or `busy` (the agent's phone did not take the call), `abandoned`
/// (the caller hung up or cancelled before an agent answered).
async fn event(
    State(app): State<App>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    counted(&app, "event", reported(&app, from, query.as_deref(), &body))
}

fn reported(
    app: &App,
    from: SocketAddr,
    query: Option<&str>,
    body: &[u8],
) -> Result<Response, Refusal> {
    let (switch_id, p) = admitted(app, from, query, body)?;
    let call_id = required(&p, "call_id")?.to_owned();
    let what = required(&p, "event")?;
    let agent = p.get("agent").cloned().unwrap_or_default();
    let needs_agent = |kind| {
        if agent.is_empty() {
            Err(error(
                StatusCode::BAD_REQUEST,
                format!("missing parameter agent (required for {what})"),
            ))
        } else {
            Ok(kind)
        }
    };
    let kind = match what {
        "answered" => needs_agent(pb::CallEventKind::Connected),
        "no_answer" | "busy" => needs_agent(pb::CallEventKind::NoAnswer),
        "ended" if !agent.is_empty() => Ok(pb::CallEventKind::Ended),
        // Without an agent: the caller left the IVR or the hold; a call an agent is
        // on is reported by whoever connected it.
        "ended" if app.router.acd().is_connected(&call_id) => {
            return Ok(answer(StatusCode::OK, json!({ "applied": false })));
        }
        "ended" | "abandoned" => Ok(pb::CallEventKind::Abandoned),
        other => Err(error(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown event {} (answered, ended, no_answer, busy or abandoned)",
                crate::error::shown(other)
            ),
        )),
    };
    let kind = kind?;
    let report = pb::CallEvent {
        call_id,
        kind: kind.into(),
        agent_id: if kind == pb::CallEventKind::Abandoned {
            String::new()
        } else {
            agent
        },
        ..Default::default()
    };
    let identity = Peers::default().caller(&switch_id, from);
    let span = tracing::info_span!(
        "call",
        call_id = %switchboard_core::text::prefix(&report.call_id, switchboard_core::router::MAX_CALL_ID)
    );
    let _in_call = span.enter();
    match (RoutingService { app: app.clone() }).report(&identity, &report) {
        Ok(ack) => Ok(answer(StatusCode::OK, json!({ "applied": ack.applied }))),
        Err(e) => {
            let status = tonic::Status::from(e);
            let code = match status.code() {
                tonic::Code::NotFound => StatusCode::NOT_FOUND,
                tonic::Code::FailedPrecondition => StatusCode::CONFLICT,
                tonic::Code::InvalidArgument => StatusCode::BAD_REQUEST,
                tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
                tonic::Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            Err(error(code, status.message()))
        }
    }
}
