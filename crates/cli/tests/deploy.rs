//! What `deploy/` ships names only metrics the daemon serves: every `switchboard_*`
//! series in the Grafana dashboard's queries and in the alert rules is in a live scrape
//! (of a server with a store, so the store's series are there too).

mod support;

use std::{
    collections::BTreeSet,
    io::{Read, Write},
    path::PathBuf,
};

use support::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `switchboard_*` names in `text`.
fn names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("switchboard_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    out
}

#[test]
fn the_dashboard_and_alert_rules_name_only_metrics_the_daemon_serves() {
    let config = config("deploy-names", &[]);
    let (server, metrics, _) = serve_with_metrics(&config);
    // One answered call: the service-level gauges exist from a tier's first such call.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use switchboard_proto::v1::{self as pb, routing_client::RoutingClient};
        log_in_general(&server.address, "ann").await;
        let mut routing = RoutingClient::new(channel(&server.address).await);
        routing.route_call(route("d1", 1)).await.unwrap();
        routing.submit_input(press_zero("d1")).await.unwrap();
        routing
            .report_call_event(pb::CallEvent {
                call_id: "d1".into(),
                kind: pb::CallEventKind::Connected.into(),
                agent_id: "ann".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    });
    let mut stream = std::net::TcpStream::connect(&metrics).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut scraped = String::new();
    stream.read_to_string(&mut scraped).unwrap();
    let served: BTreeSet<String> = scraped
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect();

    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("deploy/grafana/switchboard-dashboard.json")).unwrap(),
    )
    .unwrap();
    let mut queries = String::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queries.push_str(target["expr"].as_str().unwrap());
            queries.push('\n');
        }
    }
    let alerts =
        std::fs::read_to_string(repo().join("deploy/prometheus/switchboard-alerts.yml")).unwrap();
    let named: BTreeSet<String> = names(&queries).into_iter().chain(names(&alerts)).collect();
    assert!(named.len() > 20, "{named:?}");
    let missing: Vec<&String> = named.iter().filter(|n| !served.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "named in deploy/ but not served: {missing:?}"
    );
}
