//! Supervisor actions over gRPC: list a queue's waiting calls, move one or change its
//! priority, put an agent not ready or log them out, close and reopen a queue. Each is
//! audited and survives a restart.

use std::{sync::Arc, time::Duration};

use switchboard_proto::v1::{self as pb, decision::Action};
use switchboard_server::SystemClock;
use switchboard_tests::*;
use tonic::Code;

async fn route(server: &TestServer, id: &str, caller: &str) -> pb::Decision {
    route_main(server, id, caller).await
}

/// A standard caller on the main line who presses 3: billing. Each call id gets a caller
/// of its own (one who called before would be a repeat caller, served sooner).
async fn to_billing(server: &TestServer, id: &str) {
    let caller = format!(
        "+1312555{:04}",
        id.bytes().map(u32::from).sum::<u32>() % 10_000
    );
    route(server, id, &caller).await;
    let d = press(&mut server.routing().await, id, "3").await;
    assert!(
        matches!(&d.action, Some(Action::Enqueue(e)) if e.queue == "billing"),
        "{d:?}"
    );
}

async fn waiting(server: &TestServer, queue: &str) -> Vec<pb::FloorCall> {
    server
        .admin()
        .await
        .list_waiting_calls(pb::ListWaitingCallsRequest {
            queue: queue.into(),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .calls
}

fn ids(calls: &[pb::FloorCall]) -> Vec<&str> {
    calls.iter().map(|c| c.call_id.as_str()).collect()
}

async fn audit(server: &TestServer) -> Vec<pb::AuditEntry> {
    server
        .admin()
        .await
        .list_audit(pb::ListAuditRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries
}

fn billing_agent(id: &str) -> pb::SetAgentStateRequest {
    agent_with(id, "billing", 5)
}

#[tokio::test]
async fn a_waiting_call_moves_to_another_queue_or_priority_keeping_its_arrival() {
    let server = start().await;
    to_billing(&server, "b1").await;
    to_billing(&server, "b2").await;
    route(&server, "o1", TOM_ALWAYS_OPERATOR).await;
    let billing = waiting(&server, "billing").await;
    assert_eq!(ids(&billing), ["b1", "b2"]);
    let arrived = billing[1].arrived;
    let head = server
        .admin()
        .await
        .list_waiting_calls(pb::ListWaitingCallsRequest {
            queue: "billing".into(),
            limit: 1,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((ids(&head.calls), head.total), (vec!["b1"], 2));

    // b2 jumps the line by priority, in place.
    let mut admin = server.admin().await;
    let moved = admin
        .move_call(pb::MoveCallRequest {
            call_id: "b2".into(),
            queue: String::new(),
            priority: Some(billing[1].priority + 100),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.from_queue, "billing");
    let call = moved.call.unwrap();
    assert_eq!((call.queue.as_str(), call.position), ("billing", 1));
    assert_eq!(call.arrived, arrived, "the arrival time is kept");
    assert_eq!(ids(&waiting(&server, "billing").await), ["b2", "b1"]);

    // b1 goes to the operator queue: its arrival (earlier than o1's) puts it first there.
    let moved = admin
        .move_call(pb::MoveCallRequest {
            call_id: "b1".into(),
            queue: "operator".into(),
            priority: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.call.unwrap().queue, "operator");
    assert_eq!(ids(&waiting(&server, "billing").await), ["b2"]);
    let operator = waiting(&server, "operator").await;
    assert!(ids(&operator).contains(&"b1"), "{operator:?}");

    // Both changes are in the audit trail, with what changed.
    let trail = audit(&server).await;
    let moves: Vec<(&str, &str)> = trail
        .iter()
        .filter(|e| e.action.ends_with("Admin/MoveCall"))
        .map(|e| (e.target.as_str(), e.detail.as_str()))
        .collect();
    assert_eq!(moves.len(), 2, "{trail:?}");
    assert_eq!(moves[0], ("b1", "queue billing -> operator"));
    assert!(moves[1].1.starts_with("priority "), "{moves:?}");
}

#[tokio::test]
async fn moving_a_call_that_is_not_waiting_or_unknown_is_refused_by_name() {
    let server = start().await;
    let mut admin = server.admin().await;
    route(&server, "m1", EMMA_STANDARD).await; // at the main menu
    let cases = [
        (
            "m1",
            "operator",
            None,
            Code::FailedPrecondition,
            "not waiting",
        ),
        ("nope", "operator", None, Code::NotFound, "nope"),
        ("m1", "no_such_queue", None, Code::NotFound, "no_such_queue"),
        ("m1", "", None, Code::InvalidArgument, "queue"),
        ("m1", "Bad Name", Some(5), Code::InvalidArgument, "queue"),
    ];
    for (call, queue, priority, code, says) in cases {
        let status = admin
            .move_call(pb::MoveCallRequest {
                call_id: call.into(),
                queue: queue.into(),
                priority,
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{call} {queue}: {status:?}");
        assert!(status.message().contains(says), "{status:?}");
    }
    let status = admin
        .list_waiting_calls(pb::ListWaitingCallsRequest {
            queue: "nowhere".into(),
            limit: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // Nothing was changed, so nothing was audited.
    assert!(audit(&server).await.is_empty());
}

#[tokio::test]
async fn a_supervisor_puts_an_agent_not_ready_or_logs_them_out_but_not_mid_call() {
    let server = start().await;
    let mut agents = server.agents().await;
    agents.set_agent_state(billing_agent("bea")).await.unwrap();
    agents.set_agent_state(billing_agent("ben")).await.unwrap();
    let mut admin = server.admin().await;
    let bea = admin
        .supervise_agent(pb::SuperviseAgentRequest {
            agent_id: "bea".into(),
            state: pb::AgentState::NotReady.into(),
            reason: "coaching".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (bea.state(), bea.reason.as_str()),
        (pb::AgentState::NotReady, "coaching")
    );

    // Ben rings with a call: he can be neither put not ready nor logged out.
    to_billing(&server, "c1").await;
    for state in [pb::AgentState::NotReady, pb::AgentState::LoggedOut] {
        let status = admin
            .supervise_agent(pb::SuperviseAgentRequest {
                agent_id: "ben".into(),
                state: state.into(),
                reason: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
        assert!(status.message().contains("reserved"), "{status:?}");
    }
    let bea = admin
        .supervise_agent(pb::SuperviseAgentRequest {
            agent_id: "bea".into(),
            state: pb::AgentState::LoggedOut.into(),
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(bea.state(), pb::AgentState::LoggedOut);
    for (agent, state, reason, code, says) in [
        (
            "bea",
            pb::AgentState::Available,
            "",
            Code::InvalidArgument,
            "NOT_READY or LOGGED_OUT",
        ),
        (
            "nobody",
            pb::AgentState::NotReady,
            "",
            Code::NotFound,
            "nobody",
        ),
        (
            "ben",
            pb::AgentState::NotReady,
            &"x".repeat(65)[..],
            Code::InvalidArgument,
            "reason",
        ),
        (
            "ben",
            pb::AgentState::NotReady,
            "a\nb",
            Code::InvalidArgument,
            "control characters",
        ),
    ] {
        let status = admin
            .supervise_agent(pb::SuperviseAgentRequest {
                agent_id: agent.into(),
                state: state.into(),
                reason: reason.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{status:?}");
        assert!(status.message().contains(says), "{status:?}");
    }
    let trail = audit(&server).await;
    let details: Vec<&str> = trail
        .iter()
        .filter(|e| e.target == "bea")
        .map(|e| e.detail.as_str())
        .collect();
    assert_eq!(
        details,
        [
            "not_ready -> logged_out",
            "available -> not_ready (coaching)"
        ]
    );
}

#[tokio::test]
async fn a_closed_queue_sends_waiting_and_new_calls_to_voicemail_until_reopened() {
    let server = start().await;
    let mut stream = assignments(&server).await;
    to_billing(&server, "v1").await;
    let mut admin = server.admin().await;
    let row = admin
        .close_queue(pb::CloseQueueRequest {
            queue: "billing".into(),
            reason: "fire drill".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(row.closed);
    assert_eq!((row.closed_reason.as_str(), row.waiting), ("fire drill", 0));
    // The waiting caller is sent to voicemail through the switch's stream.
    let directive = next(&mut stream).await;
    assert_eq!(directive.call_id, "v1");
    assert_eq!(directive.kind(), pb::AssignmentKind::Voicemail);

    // A new caller choosing billing is told the queue is closed; nothing waits.
    route(&server, "v2", EMMA_STANDARD).await;
    let d = press(&mut server.routing().await, "v2", "3").await;
    let Some(Action::Enqueue(e)) = &d.action else {
        panic!("{d:?}")
    };
    assert!(e.closed && e.position.is_none(), "{e:?}");
    assert!(waiting(&server, "billing").await.is_empty());
    // Closing it again only changes the reason.
    let row = admin
        .close_queue(pb::CloseQueueRequest {
            queue: "billing".into(),
            reason: "fire drill, second floor".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(row.closed);
    assert_eq!(row.closed_reason, "fire drill, second floor");

    let row = admin
        .open_queue(pb::OpenQueueRequest {
            queue: "billing".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!row.closed);
    to_billing(&server, "v3").await;
    assert_eq!(ids(&waiting(&server, "billing").await), ["v3"]);
    let actions: Vec<String> = audit(&server).await.into_iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            "switchboard.v1.Admin/OpenQueue",
            "switchboard.v1.Admin/CloseQueue",
            "switchboard.v1.Admin/CloseQueue"
        ]
    );
    let status = admin
        .close_queue(pb::CloseQueueRequest {
            queue: "billing".into(),
            reason: "x".repeat(201),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("reason"), "{status:?}");
}

#[tokio::test]
async fn a_queue_closed_to_another_queue_hands_its_calls_over_with_their_arrival() {
    let config = switchboard_config::DEFAULT_CONFIG.replace(
        "[queues.billing]\n",
        "[queues.billing]\nwhen_closed = \"operator\"\n",
    );
    let server = start_with(&config).await;
    to_billing(&server, "h1").await;
    let arrived = waiting(&server, "billing").await[0].arrived;
    server
        .admin()
        .await
        .close_queue(pb::CloseQueueRequest {
            queue: "billing".into(),
            reason: String::new(),
        })
        .await
        .unwrap();
    let operator = waiting(&server, "operator").await;
    assert_eq!(ids(&operator), ["h1"]);
    assert_eq!(operator[0].arrived, arrived);
    // New billing callers are decided into the operator queue.
    route(&server, "h2", EMMA_STANDARD).await;
    let d = press(&mut server.routing().await, "h2", "3").await;
    assert!(
        matches!(&d.action, Some(Action::Enqueue(e)) if e.queue == "operator" && !e.closed),
        "{d:?}"
    );
}

#[tokio::test]
async fn closed_queues_and_moved_calls_survive_a_restart() {
    let store = temp_dir("supervise-restart").join("s.db");
    let server = start_stored(&store, Arc::new(SystemClock)).await;
    to_billing(&server, "k1").await;
    route(&server, "k2", TOM_ALWAYS_OPERATOR).await;
    let mut admin = server.admin().await;
    admin
        .move_call(pb::MoveCallRequest {
            call_id: "k1".into(),
            queue: "care".into(),
            priority: Some(99),
        })
        .await
        .unwrap();
    server
        .agents()
        .await
        .set_agent_state(billing_agent("kay"))
        .await
        .unwrap();
    admin
        .supervise_agent(pb::SuperviseAgentRequest {
            agent_id: "kay".into(),
            state: pb::AgentState::NotReady.into(),
            reason: "one-to-one".into(),
        })
        .await
        .unwrap();
    admin
        .close_queue(pb::CloseQueueRequest {
            queue: "operator".into(),
            reason: "storm".into(),
        })
        .await
        .unwrap();
    drop(admin);
    server.stop().await;

    let server = start_stored(&store, Arc::new(SystemClock)).await;
    let kay = server
        .agents()
        .await
        .get_agent(pb::GetAgentRequest {
            agent_id: "kay".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (kay.state(), kay.reason.as_str()),
        (pb::AgentState::NotReady, "one-to-one")
    );
    let care = waiting(&server, "care").await;
    assert_eq!(ids(&care), ["k1"]);
    assert_eq!(care[0].priority, 99);
    let mut floor = server
        .admin()
        .await
        .watch_floor(pb::WatchFloorRequest {
            last_event_id: String::new(),
            snapshot_only: true,
        })
        .await
        .unwrap()
        .into_inner();
    let first = tokio::time::timeout(Duration::from_secs(10), floor.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let Some(pb::floor_event::Change::Snapshot(snap)) = first.change else {
        panic!("{first:?}")
    };
    let operator = snap.queues.iter().find(|q| q.queue == "operator").unwrap();
    assert!(operator.closed, "{operator:?}");
    assert_eq!(operator.closed_reason, "storm");
    // The audit trail kept both, across the restart.
    let actions: Vec<String> = audit(&server).await.into_iter().map(|e| e.action).collect();
    assert!(
        actions.contains(&"switchboard.v1.Admin/CloseQueue".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"switchboard.v1.Admin/MoveCall".to_owned()),
        "{actions:?}"
    );
}
