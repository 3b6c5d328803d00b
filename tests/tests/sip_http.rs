//! The HTTP endpoints for Kamailio: routes as rtjson, and call events from its dialogs,
//! over a real socket, with the agent's state following each event.

use std::{net::SocketAddr, time::Duration};

use serde_json::Value;
use switchboard_config::DEFAULT_CONFIG;
use switchboard_proto::v1 as pb;
use switchboard_tests::*;

const SIP: &str = r#"
[sip]
http_listen = "127.0.0.1:0"
ivr_uri = "sip:ivr-{menu}@media.example"
hold_uri = "sip:hold-{queue}@media.example"

[[sip.peers]]
address = "127.0.0.1"
switch_id = "kamailio-1"
"#;

async fn http_server(sip: &str) -> (TestServer, SocketAddr) {
    let server = start_with(&format!("{DEFAULT_CONFIG}\n{sip}")).await;
    for _ in 0..200 {
        if let Some(http) = server.app.sip_addresses().and_then(|a| a.http) {
            return (server, http);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the HTTP endpoint was not bound within 2 s");
}

/// `GET path`: the status code and the JSON body.
async fn call(at: SocketAddr, path: &str) -> (u16, Value) {
    let (status, body) = get(at, path).await;
    let code = status.split(' ').nth(1).unwrap().parse().unwrap();
    (
        code,
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("JSON: {body}")),
    )
}

fn uris(doc: &Value) -> Vec<&str> {
    doc["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect()
}

async fn state(server: &TestServer, agent: &str) -> pb::AgentState {
    agent_view(server, agent).await.state()
}

#[tokio::test]
async fn a_route_is_answered_with_rtjson_routes_for_each_decision() {
    let (server, http) = http_server(SIP).await;
    // An unknown caller: the main menu's IVR, the call id on the way.
    let (code, doc) = call(
        http,
        "/sip/route?call_id=k1%40host&caller=%2B13125550177&dialed=%2B18005550100&host=sb.example",
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        (doc["version"].as_str(), doc["routing"].as_str()),
        (Some("1.0"), Some("serial"))
    );
    assert_eq!(
        uris(&doc),
        [
            "sip:ivr-main@media.example;sb-call=k1%40host;sb-menu=main;sb-prompt=main-menu;sb-attempt=1"
        ]
    );
    assert_eq!(
        doc["routes"][0]["headers"]["extra"],
        "X-Switchboard-Call: k1%40host\r\n"
    );
    assert_eq!(doc["agent"], "");

    // An agent free: the agent first, then the queue's hold should they not answer.
    server
        .agents()
        .await
        .set_agent_state(agent_with("ana", "general", 5))
        .await
        .unwrap();
    let tom = TOM_ALWAYS_OPERATOR.replace('+', "%2B");
    let (_, doc) = call(http, &format!("/sip/route?call_id=k2&asserted=tel:{tom}&caller=x&dialed=%2B18005550100&host=sb.example")).await;
    assert_eq!(doc["agent"], "ana");
    let routes = uris(&doc);
    assert_eq!(routes[0], "sip:ana@pbx.example");
    // The agent rings for calls.offer_timeout (20 s) less 2 s.
    assert_eq!(doc["routes"][0]["fr_inv_timer"], 18_000);
    assert!(
        routes[1].starts_with("sip:hold-operator@media.example;sb-call=k2;sb-queue=operator"),
        "{routes:?}"
    );

    // Privacy withholds the number: the same caller is a stranger at the main menu.
    let (_, doc) = call(
        http,
        &format!(
            "/sip/route?call_id=k3&caller={tom}&privacy=id&dialed=%2B18005550100&host=sb.example"
        ),
    )
    .await;
    assert!(uris(&doc)[0].starts_with("sip:ivr-main@"), "{doc}");

    // A non-member on the platinum line goes straight to the main line's menu; a member
    // to the platinum desk.
    let plat = PLATINUM_LINE.replace('+', "%2B");
    let emma = EMMA_STANDARD.replace('+', "%2B");
    let (_, doc) = call(
        http,
        &format!("/sip/route?call_id=k4&caller={emma}&dialed={plat}&host=sb.example"),
    )
    .await;
    assert!(
        uris(&doc)[0].starts_with("sip:ivr-main@media.example;sb-call=k4;"),
        "{doc}"
    );
    let maria = MARIA_PLATINUM.replace('+', "%2B");
    let (_, doc) = call(
        http,
        &format!("/sip/route?call_id=k5&caller={maria}&dialed={plat}&host=sb.example"),
    )
    .await;
    assert!(
        uris(&doc)[0].starts_with("sip:hold-platinum_desk@"),
        "{doc}"
    );

    // Another switch's call id: refused, and nothing of it told.
    route_main(&server, "theirs", EMMA_STANDARD).await;
    let (code, doc) = call(
        http,
        "/sip/route?call_id=theirs&caller=x&dialed=%2B18005550100&host=h",
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(uris(&doc).len(), 0);
    assert_eq!(doc["refuse"]["code"], 403);
}

#[tokio::test]
async fn dialog_events_move_the_agent_through_the_call() {
    let (server, http) = http_server(SIP).await;
    server
        .agents()
        .await
        .set_agent_state(agent_with("ana", "general", 5))
        .await
        .unwrap();
    server
        .agents()
        .await
        .set_agent_state(agent_with("ben", "general", 5))
        .await
        .unwrap();
    let tom = TOM_ALWAYS_OPERATOR.replace('+', "%2B");
    let route =
        |id: &str| format!("/sip/route?call_id={id}&caller={tom}&dialed=%2B18005550100&host=h");

    // Answered, then hung up: on call, then wrap-up.
    let (_, doc) = call(http, &route("e1")).await;
    let first = doc["agent"].as_str().unwrap().to_owned();
    assert_eq!(state(&server, &first).await, pb::AgentState::Reserved);
    let (code, ack) = call(
        http,
        &format!("/sip/event?call_id=e1&event=answered&agent={first}"),
    )
    .await;
    assert_eq!((code, &ack["applied"]), (200, &Value::Bool(true)));
    assert_eq!(state(&server, &first).await, pb::AgentState::OnCall);
    // A repeat is acknowledged, not applied.
    let (_, ack) = call(
        http,
        &format!("/sip/event?call_id=e1&event=answered&agent={first}"),
    )
    .await;
    assert_eq!(ack["applied"], false);
    call(
        http,
        &format!("/sip/event?call_id=e1&event=ended&agent={first}"),
    )
    .await;
    assert_eq!(state(&server, &first).await, pb::AgentState::WrapUp);

    // The next call (a new caller pressing 0 at the menu the IVR plays) goes to the
    // other agent, who does not answer: not ready, and the call is back in its queue.
    call(
        http,
        "/sip/route?call_id=e2&caller=%2B13125550171&dialed=%2B18005550100&host=h",
    )
    .await;
    let mut routing = server.routing().await;
    press(&mut routing, "e2", "0").await;
    let second = agent_view(&server, "ben").await;
    assert_eq!(second.call_ids, ["e2"]);
    let (code, doc) = call(http, "/sip/event?call_id=e2&event=no_answer&agent=ben").await;
    assert_eq!(code, 200, "{doc}");
    assert_eq!(state(&server, "ben").await, pb::AgentState::NotReady);
    assert_eq!(
        server
            .app
            .router
            .acd()
            .holder_of("e2")
            .map(|a| a.profile.id.clone()),
        None
    );

    // The caller gives up on the hold: the call leaves its queue.
    let (code, ack) = call(http, "/sip/event?call_id=e2&event=ended").await;
    assert_eq!((code, &ack["applied"]), (200, &Value::Bool(true)));
    assert!(
        server.app.router.acd().locate("e2").is_none(),
        "no longer waiting"
    );

    // A caller who hangs up at the menu.
    call(
        http,
        "/sip/route?call_id=e3&caller=%2B13125550170&dialed=%2B18005550100&host=h",
    )
    .await;
    let (code, _) = call(http, "/sip/event?call_id=e3&event=abandoned").await;
    assert_eq!(code, 200);
    assert!(!server.app.router.knows_call("e3"));
}

#[tokio::test]
async fn bad_events_and_strangers_are_refused_by_name() {
    let (server, http) = http_server(SIP).await;
    let cases = [
        (
            "/sip/event?call_id=x&event=exploded",
            400,
            "unknown event \"exploded\"",
        ),
        (
            "/sip/event?call_id=x&event=answered",
            400,
            "missing parameter agent (required for answered)",
        ),
        ("/sip/event?event=ended", 400, "missing parameter call_id"),
        ("/sip/event?call_id=nobody&event=abandoned", 404, "nobody"),
        (
            "/sip/route?call_id=x&dialed=%zz&host=h",
            400,
            "a bad percent-escape",
        ),
        (
            "/sip/route?call_id=x&host=h",
            400,
            "missing parameter dialed",
        ),
    ];
    for (path, status, why) in cases {
        let (code, doc) = call(http, path).await;
        assert_eq!(code, status, "{path}: {doc}");
        let error = doc["error"].as_str().unwrap();
        assert!(error.contains(why), "{path}: {error}");
    }
    let long = format!("/sip/route?call_id={}&dialed=1&host=h", "x".repeat(5_000));
    assert_eq!(call(http, &long).await.0, 413);
    // Each is counted by endpoint and status.
    let (server, metrics) = scraped(server).await;
    let seen = scrape(metrics).await;
    let value = |series: &str| seen.get(series).copied().unwrap_or(0.0);
    assert_eq!(
        value("switchboard_sip_http_requests_total{endpoint=\"event\",status=\"400\"}"),
        3.0
    );
    assert_eq!(
        value("switchboard_sip_http_requests_total{endpoint=\"event\",status=\"404\"}"),
        1.0
    );
    assert_eq!(
        value("switchboard_sip_http_requests_total{endpoint=\"route\",status=\"413\"}"),
        1.0
    );
    drop(server);

    let (_server, http) = http_server(&SIP.replace("\"127.0.0.1\"", "\"10.9.9.9\"")).await;
    let (code, doc) = call(http, "/sip/route?call_id=x&dialed=1&host=h").await;
    assert_eq!(
        (code, doc["error"].as_str()),
        (403, Some("not an address in [[sip.peers]]"))
    );
}
