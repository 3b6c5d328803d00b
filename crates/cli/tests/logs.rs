//! What the daemon logs about requests it rejects: one info line each with the call id
//! and why, at most ten a second, the rest counted on the next line written.

mod support;

use std::time::Duration;

use support::*;
use switchboard_proto::v1::{self as pb, routing_client::RoutingClient};

#[test]
fn rejected_requests_are_logged_with_the_call_id_and_a_flood_is_counted_not_written() {
    let config = config("logs", &[]);
    let (server, _) = serve(&config);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut routing = RoutingClient::new(channel(&server.address).await);
        let refused = routing
            .report_call_event(pb::CallEvent {
                call_id: "ghost-1".into(),
                kind: pb::CallEventKind::Abandoned.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::NotFound);
        // Wait for the next second so the flood starts a fresh one.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        for n in 0..200 {
            let _ = routing
                .route_call(pb::RouteCallRequest {
                    call_id: format!("flood-{n}"),
                    caller: "+12125550104".into(),
                    dialed: "+18005550100".into(),
                    switch_id: String::new(),
                    ..Default::default()
                })
                .await
                .unwrap_err();
        }
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let _ = routing
            .report_call_event(pb::CallEvent {
                call_id: "ghost-2".into(),
                kind: pb::CallEventKind::Abandoned.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
    });
    server.signal("TERM");
    let log = server.rest_of_log();
    let rejected: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("request rejected"))
        .collect();
    let ghost = rejected
        .iter()
        .find(|l| l.contains("ghost-1"))
        .unwrap_or_else(|| panic!("{log:#?}"));
    assert!(
        ghost.contains("INFO") && ghost.contains("NotFound"),
        "{ghost}"
    );
    assert!(
        ghost.contains("call_id=ghost-1") || ghost.contains("call{call_id=ghost-1}"),
        "{ghost}"
    );
    let flood = rejected.iter().filter(|l| l.contains("flood-")).count();
    assert!(
        (1..=40).contains(&flood),
        "the 200 rejected calls left {flood} lines, not all of them"
    );
    let last = rejected
        .iter()
        .find(|l| l.contains("ghost-2"))
        .unwrap_or_else(|| panic!("{log:#?}"));
    assert!(last.contains("rejected_unlogged="), "{last}");
    // Every rejection not written is counted on a line written after it: the next
    // second's first flood line when the flood crossed a second, else ghost-2's.
    let counted: u64 = rejected
        .iter()
        .filter(|l| l.contains("flood-") || l.contains("ghost-2"))
        .map(|l| {
            l.split("rejected_unlogged=")
                .nth(1)
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no count in {l}"))
        })
        .sum();
    assert_eq!(
        counted,
        200 - flood as u64,
        "the flood's rejections not written were not all counted:\n{rejected:#?}"
    );
}
