//! Client connections: a ceiling (`server.max_connections`) past which new ones are
//! closed at once, without locking anyone out once others close; and connections with
//! nothing open on them closed after `server.idle_timeout`, while a switch's quiet
//! assignment stream keeps its connection.

use std::{path::Path, sync::Arc, time::Duration};

use switchboard_proto::v1 as pb;
use switchboard_server::{App, CustomerSource, SystemClock};
use switchboard_tests::*;
use tokio::{io::AsyncReadExt, net::TcpStream};

async fn start_limited(server_keys: &str) -> TestServer {
    let text = switchboard_config::DEFAULT_CONFIG.replacen(
        "[server]\n",
        &format!("[server]\n{server_keys}\n"),
        1,
    );
    let config = switchboard_config::parse(&text, Path::new("test.toml")).unwrap();
    let (app, _) = App::new(config, &CustomerSource::Embedded, Arc::new(SystemClock)).unwrap();
    serve_app(app).await
}

/// Whether the server closed `stream` within `within` (end of file or a reset), reading
/// past what it sent first (its HTTP/2 settings).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

fn call(id: &str) -> pb::RouteCallRequest {
    pb::RouteCallRequest {
        call_id: id.into(),
        caller: EMMA_STANDARD.into(),
        dialed: MAIN_LINE.into(),
        switch_id: "sbc-1".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn past_max_connections_new_ones_are_closed_until_others_close() {
    let (server, metrics) = scraped(start_limited("max_connections = 4").await).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // Accepted one at a time: give the server a moment to count the four.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fifth = TcpStream::connect(server.addr).await.unwrap();
    assert!(
        closed_within(&mut fifth, Duration::from_secs(5)).await,
        "the fifth connection is closed at once"
    );
    let s = scrape(metrics).await;
    assert_eq!(s.get("switchboard_connections"), Some(&4.0), "{s:?}");
    assert!(s["switchboard_connections_refused_total"] >= 1.0, "{s:?}");
    // Those four go away: a switch gets in and is served.
    drop(held);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while scrape(metrics).await["switchboard_connections"] > 0.0 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let d = server.routing().await.route_call(call("in")).await.unwrap();
    assert_eq!(d.into_inner().call_id, "in");
}

#[tokio::test]
async fn an_idle_connection_is_closed_but_a_quiet_assignment_stream_keeps_its_own() {
    let (server, metrics) = scraped(start_limited("idle_timeout = \"1s\"").await).await;
    // A switch opens its stream and waits; nothing comes for a while.
    let mut routing = server.routing().await;
    let mut stream = routing
        .watch_assignments(pb::WatchAssignmentsRequest {
            switch_id: "sbc-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    // A client that connected and never said anything.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    assert!(
        closed_within(&mut silent, Duration::from_secs(5)).await,
        "closed after the idle timeout"
    );
    // A desk that made a request and went quiet: its connection goes too.
    let mut desk = server.agents().await;
    desk.list_agents(pb::ListAgentsRequest::default())
        .await
        .unwrap();
    assert_eq!(scrape(metrics).await["switchboard_connections"], 2.0);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(scrape(metrics).await["switchboard_connections"], 1.0);
    // The stream's connection is still there: an assignment reaches it.
    server
        .agents()
        .await
        .set_agent_state(pb::SetAgentStateRequest {
            agent_id: "ann".into(),
            state: pb::AgentState::Available.into(),
            skills: vec![pb::Skill {
                name: "general".into(),
                proficiency: 5,
            }],
            endpoint: "sip:ann@pbx".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    routing
        .route_call(pb::RouteCallRequest {
            caller: TOM_ALWAYS_OPERATOR.into(),
            ..call("quiet-stream")
        })
        .await
        .unwrap();
    assert_eq!(next(&mut stream).await.call_id, "quiet-stream");
}
