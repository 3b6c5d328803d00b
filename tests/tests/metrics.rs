//! `/metrics` over HTTP on a port of its own: route decisions by action and rule, the
//! decision latency histogram, calls waiting and longest wait per queue, agents by
//! state; scraped and parsed as Prometheus would.

use std::collections::HashMap;

use switchboard_proto::v1 as pb;
use switchboard_tests::start;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// `GET path` over plain HTTP/1.1; the status line and the body.
async fn get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

/// The server on the shipped config, with its metrics served on a port of their own.
async fn start_scraped() -> (switchboard_tests::TestServer, std::net::SocketAddr) {
    let server = start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics = listener.local_addr().unwrap();
    tokio::spawn(switchboard_server::serve_metrics(
        server.app.clone(),
        listener,
        std::future::pending(),
    ));
    (server, metrics)
}

/// Each sample line's value by its name and labels as written (`name{a="b"}`).
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[tokio::test]
async fn a_scrape_shows_decisions_waiting_calls_and_agents_as_they_are() {
    let (server, metrics) = start_scraped().await;
    let mut routing = server.routing().await;
    // Two strangers on the main line get its menu; Maria (platinum) on the platinum
    // line goes straight to a queue and waits there (nobody is logged in).
    for (id, caller, dialed) in [
        ("m1", "+13125550199", "+18005550100"),
        ("m2", "+13125550198", "+18005550100"),
        ("p1", "+12125550101", "+18005550199"),
    ] {
        routing
            .route_call(pb::RouteCallRequest {
                call_id: id.into(),
                caller: caller.into(),
                dialed: dialed.into(),
                switch_id: "sbc-1".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    // A replay is not a second decision.
    routing
        .route_call(pb::RouteCallRequest {
            call_id: "m1".into(),
            caller: "+13125550199".into(),
            dialed: "+18005550100".into(),
            switch_id: "sbc-1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    server
        .agents()
        .await
        .set_agent_state(pb::SetAgentStateRequest {
            agent_id: "ann".into(),
            state: pb::AgentState::NotReady.into(),
            reason: "training".into(),
            skills: vec![pb::Skill {
                name: "billing".into(),
                proficiency: 5,
            }],
            endpoint: "sip:ann@pbx".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    let (status, body) = get(metrics, "/metrics").await;
    assert!(status.contains("200"), "{status}");
    let s = samples(&body);
    let sum = |prefix: &str| -> f64 {
        s.iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .sum()
    };
    assert_eq!(
        s.get("switchboard_route_decisions_total{action=\"menu\",rule=\"line_entry\"}"),
        Some(&2.0),
        "{body}"
    );
    assert_eq!(
        sum("switchboard_route_decisions_total{action=\"enqueue\""),
        1.0,
        "{body}"
    );
    assert_eq!(
        s.get("switchboard_route_decision_seconds_count"),
        Some(&3.0)
    );
    let waiting: Vec<_> = s
        .iter()
        .filter(|(k, v)| k.starts_with("switchboard_calls_waiting{") && **v > 0.0)
        .collect();
    assert_eq!(waiting.len(), 1, "{body}");
    let queue = waiting[0].0.trim_start_matches("switchboard_calls_waiting");
    assert!(s[&format!("switchboard_longest_wait_seconds{queue}")] >= 0.0);
    assert_eq!(s.get("switchboard_agents{state=\"not_ready\"}"), Some(&1.0));
    assert_eq!(s.get("switchboard_agents{state=\"available\"}"), Some(&0.0));
    // Ann is away: nobody staffed, nobody busy.
    assert_eq!(s.get("switchboard_occupancy"), Some(&0.0));
    // Handle times start at each queue's configured estimate.
    assert!(
        s.keys()
            .any(|k| k.starts_with("switchboard_average_handle_time_seconds{"))
    );
    // No caller number appears anywhere in the exposition.
    assert!(!body.contains("555"), "{body}");

    // The queue's counters by tier, and the tiers' published standards.
    let offered = format!("switchboard_calls_offered_total{{{}", &queue[1..]);
    let offered = offered.replace("\"}", "\",tier=\"platinum\"}");
    assert_eq!(s.get(&offered), Some(&1.0), "{offered} in {body}");
    assert_eq!(
        s.get("switchboard_service_level_standard{tier=\"platinum\"}"),
        Some(&0.9)
    );
    assert_eq!(
        s.get("switchboard_service_level_standard_seconds{tier=\"platinum\"}"),
        Some(&20.0)
    );
    // Maria hangs up: counted as abandoned, and no longer waiting.
    routing
        .report_call_event(pb::CallEvent {
            call_id: "p1".into(),
            kind: pb::CallEventKind::Abandoned.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (_, body) = get(metrics, "/metrics").await;
    let s = samples(&body);
    let abandoned = offered.replace("calls_offered", "calls_abandoned");
    assert_eq!(s.get(&abandoned), Some(&1.0), "{abandoned} in {body}");
    assert_eq!(s.get(&offered), Some(&1.0), "{body}");
    assert_eq!(
        s.get(&format!("switchboard_calls_waiting{queue}")),
        Some(&0.0),
        "{body}"
    );

    // Surveys: Maria is delighted and says so twice (counted once); a stranger who
    // never reached a queue is not.
    for (call, satisfaction, recommend) in [("p1", 5, 9), ("p1", 2, 3), ("m1", 3, 3)] {
        routing
            .report_call_event(pb::CallEvent {
                call_id: call.into(),
                // The survey rides on a hang-up report (a repeat of one is harmless).
                kind: pb::CallEventKind::Abandoned.into(),
                satisfaction,
                recommend: Some(recommend),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let (_, body) = get(metrics, "/metrics").await;
    let s = samples(&body);
    let maria = |metric: &str| s.get(&offered.replace("calls_offered", metric)).copied();
    assert_eq!(maria("satisfaction_responses"), Some(1.0), "{body}");
    assert_eq!(maria("satisfaction_points"), Some(5.0), "{body}");
    assert_eq!(maria("satisfied"), Some(1.0), "{body}");
    assert_eq!(maria("promoters"), Some(1.0), "{body}");
    assert_eq!(maria("detractors"), None, "{body}");
    let stranger = "{queue=\"none\",tier=\"standard\"}";
    assert_eq!(
        s.get(&format!("switchboard_satisfaction_points_total{stranger}")),
        Some(&3.0),
        "{body}"
    );
    assert_eq!(
        s.get(&format!("switchboard_detractors_total{stranger}")),
        Some(&1.0),
        "{body}"
    );

    let (status, _) = get(metrics, "/nothing-here").await;
    assert!(status.contains("404"), "{status}");
    server.stop().await;
}

#[tokio::test]
async fn a_resolved_call_followed_by_a_repeat_contact_is_not_a_first_contact_resolution() {
    let (server, metrics) = start_scraped().await;
    server
        .agents()
        .await
        .set_agent_state(pb::SetAgentStateRequest {
            agent_id: "cy".into(),
            state: pb::AgentState::Available.into(),
            skills: ["general", "platinum"]
                .iter()
                .map(|s| pb::Skill {
                    name: (*s).into(),
                    proficiency: 6,
                })
                .collect(),
            endpoint: "sip:cy@pbx".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut routing = server.routing().await;
    let maria = |id: &str| pb::RouteCallRequest {
        call_id: id.into(),
        caller: "+12125550101".into(),
        dialed: "+18005550199".into(),
        switch_id: "sbc-1".into(),
        ..Default::default()
    };
    routing.route_call(maria("f1")).await.unwrap();
    for kind in [pb::CallEventKind::Connected, pb::CallEventKind::Ended] {
        routing
            .report_call_event(pb::CallEvent {
                call_id: "f1".into(),
                kind: kind.into(),
                agent_id: "cy".into(),
                resolved: true,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let (_, body) = get(metrics, "/metrics").await;
    let s = samples(&body);
    let series = |metric: &str| {
        format!("switchboard_{metric}_total{{queue=\"platinum_desk\",tier=\"platinum\"}}")
    };
    assert_eq!(s.get(&series("contacts_handled")), Some(&1.0), "{body}");
    assert_eq!(s.get(&series("contacts_resolved")), Some(&1.0), "{body}");
    assert_eq!(s.get(&series("resolutions_reopened")), None, "{body}");

    // She calls again the same day: the matter was not resolved at first contact.
    routing.route_call(maria("f2")).await.unwrap();
    let (_, body) = get(metrics, "/metrics").await;
    let s = samples(&body);
    assert_eq!(s.get(&series("repeat_contacts")), Some(&1.0), "{body}");
    assert_eq!(s.get(&series("resolutions_reopened")), Some(&1.0), "{body}");
    server.stop().await;
}
