//! Callbacks for a time the customer chose: out of the queue until then, offered to an
//! agent as a callback when due (also after a restart), tried again when nobody answers,
//! and given up on after `calls.callback_attempts`.

use std::time::Duration;

use switchboard_proto::v1 as pb;
use switchboard_store::Store;
use switchboard_tests::*;

/// Every call to `care` (skill general 3), wrap-up 0 s.
fn config(store: &std::path::Path) -> String {
    with_store(
        &switchboard_config::DEFAULT_CONFIG
            .replacen(
                "[[rules]]",
                "[[rules]]\nname = \"all-to-care\"\nthen = { queue = \"care\" }\n\n[[rules]]",
                1,
            )
            .replacen("wrap_up = \"30s\"", "wrap_up = \"0s\"", 1),
        store,
    )
}

fn at(clock: &ManualClock, ahead: Duration) -> prost_types::Timestamp {
    let t = switchboard_server::Clock::now(clock).0 + u64::try_from(ahead.as_millis()).unwrap();
    prost_types::Timestamp {
        seconds: i64::try_from(t / 1_000).unwrap(),
        nanos: i32::try_from(t % 1_000).unwrap() * 1_000_000,
    }
}

async fn event(server: &TestServer, e: pb::CallEvent) -> Result<bool, tonic::Status> {
    server
        .routing()
        .await
        .report_call_event(e)
        .await
        .map(|r| r.into_inner().applied)
}

fn accept(call_id: &str, when: prost_types::Timestamp) -> pb::CallEvent {
    pb::CallEvent {
        call_id: call_id.into(),
        kind: pb::CallEventKind::CallbackAccepted.into(),
        callback_at: Some(when),
        ..Default::default()
    }
}

fn unanswered(call_id: &str, agent: &str) -> pb::CallEvent {
    pb::CallEvent {
        call_id: call_id.into(),
        kind: pb::CallEventKind::CallbackUnanswered.into(),
        agent_id: agent.into(),
        ..Default::default()
    }
}

async fn waiting(server: &TestServer) -> u32 {
    server
        .admin()
        .await
        .list_waiting_calls(pb::ListWaitingCallsRequest {
            queue: "care".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .total
}

#[tokio::test]
async fn a_callback_for_a_chosen_time_is_offered_then_also_after_a_restart_and_retried_until_given_up()
 {
    let store = temp_dir("callbacks").join("s.db");
    let clock = ManualClock::new();
    let config = config(&store);
    let server = start_stored_config(&config, clock.clone()).await;
    route_main(&server, "cb-1", EMMA_STANDARD).await;
    assert_eq!(waiting(&server).await, 1);
    // "Call me in two hours": the call leaves the queue.
    assert!(
        event(
            &server,
            accept("cb-1", at(&clock, Duration::from_secs(7_200)))
        )
        .await
        .unwrap()
    );
    assert_eq!(waiting(&server).await, 0);
    // An agent comes: nothing for her yet.
    let mut agents = server.agents().await;
    agents
        .set_agent_state(agent_with("ann", "general", 5))
        .await
        .unwrap();
    assert!(agent_view(&server, "ann").await.call_ids.is_empty());
    server.app.flush_store().unwrap();
    server.stop().await;

    // Back after a restart an hour on: still held for its time, not in the queue, not
    // offered to Ann though she is free.
    clock.advance(Duration::from_secs(3_600));
    let server = start_stored_config(&config, clock.clone()).await;
    let mut stream = assignments(&server).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(waiting(&server).await, 0);
    assert!(agent_view(&server, "ann").await.call_ids.is_empty());
    // At its time it is offered to Ann, as a callback.
    clock.advance(Duration::from_secs(3_601));
    let a = next(&mut stream).await;
    assert_eq!(
        (a.call_id.as_str(), a.agent_id.as_str(), a.kind()),
        ("cb-1", "ann", pb::AssignmentKind::Callback)
    );
    // Nobody answers, twice: tried again 15 minutes later each time.
    for _ in 0..2 {
        assert!(event(&server, unanswered("cb-1", "ann")).await.unwrap());
        assert!(agent_view(&server, "ann").await.call_ids.is_empty());
        assert_eq!(
            waiting(&server).await,
            0,
            "scheduled again, out of the queue"
        );
        clock.advance(Duration::from_secs(15 * 60 + 1));
        let a = next(&mut stream).await;
        assert_eq!(
            (a.call_id.as_str(), a.kind()),
            ("cb-1", pb::AssignmentKind::Callback)
        );
    }
    // The third goes unanswered too: that was the last attempt (calls.callback_attempts 3).
    assert!(event(&server, unanswered("cb-1", "ann")).await.unwrap());
    clock.advance(Duration::from_secs(15 * 60 + 1));
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(agent_view(&server, "ann").await.call_ids.is_empty());
    assert_eq!(waiting(&server).await, 0);
    server.app.flush_store().unwrap();
    let records = Store::open(&store).unwrap().call_records("cb-1").unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].outcome, "callback_unanswered");
}

#[tokio::test]
async fn bad_callback_times_and_reports_are_refused_naming_the_field() {
    let store = temp_dir("callbacks-bad").join("s.db");
    let clock = ManualClock::new();
    let server = start_stored_config(&config(&store), clock.clone()).await;
    route_main(&server, "cb-2", EMMA_STANDARD).await;
    let past = prost_types::Timestamp {
        seconds: 1_000,
        nanos: 0,
    };
    for (e, message) in [
        (
            accept("cb-2", past),
            "callback_at: must be after now (the time the customer chose)",
        ),
        (
            accept("cb-2", at(&clock, Duration::from_secs(8 * 86_400))),
            "callback_at: more than 7d ahead (calls.callback_horizon)",
        ),
        (
            unanswered("cb-2", ""),
            "agent_id: required for CALLBACK_UNANSWERED: the agent who called back",
        ),
    ] {
        let status = event(&server, e).await.unwrap_err();
        assert_eq!(
            (status.code(), status.message()),
            (tonic::Code::InvalidArgument, message)
        );
    }
    // Nothing changed: the call still waits.
    assert_eq!(waiting(&server).await, 1);
    // A callback no agent holds cannot go unanswered.
    let status = event(&server, unanswered("cb-2", "ann")).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
}
