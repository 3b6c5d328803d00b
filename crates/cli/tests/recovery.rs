//! Crash recovery with the real binary: calls are routed and agents log in, the server is
//! killed with SIGKILL while calls still arrive, and a new server on the same store must
//! have every acknowledged waiting call back in its order, every agent in their state,
//! the pending offer re-sent, and the same decision for a call id seen before.
#![cfg(unix)]

mod support;

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use support::{SWITCH, channel, press_zero, route};

use switchboard_proto::v1::{
    self as pb, agents_client::AgentsClient, routing_client::RoutingClient,
};
use tokio_stream::StreamExt;

/// How long the load runs before the kill.
const LOAD_FOR: Duration = Duration::from_secs(3);
/// A call acknowledged this long before the kill must be back: `store.commit_delay`
/// (50 ms here) plus one commit, with a wide margin for a loaded test machine.
const DURABLE_WITHIN: Duration = Duration::from_millis(1_500);

/// The shipped config with its store in a fresh folder; offers stay open for the whole
/// test (the calls served after the restart are not answered, and must not come back to
/// the queue).
fn config(name: &str) -> PathBuf {
    support::config(
        name,
        &[("offer_timeout = \"20s\"", "offer_timeout = \"10m\"")],
    )
}

/// The server on `config`, its address, and what it logged until it served.
fn serve(config: &Path) -> (support::Server, String, Vec<String>) {
    let (server, log) = support::serve(config);
    let address = server.address.clone();
    (server, address, log)
}

fn agent(id: &str, state: pb::AgentState) -> pb::SetAgentStateRequest {
    pb::SetAgentStateRequest {
        agent_id: id.into(),
        state: state.into(),
        skills: vec![pb::Skill {
            name: "general".into(),
            proficiency: 1,
        }],
        endpoint: format!("sip:{id}@pbx.example"),
        ..Default::default()
    }
}

async fn next(stream: &mut tonic::Streaming<pb::Assignment>) -> pb::Assignment {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an assignment within 10 s")
        .expect("the stream is open")
        .expect("not an error")
}

/// What the load acknowledged: calls in the order they were put in the queue, each
/// with when its enqueue was acknowledged, and the first decision of each.
#[derive(Default)]
struct Acked {
    sent: Vec<String>,
    queued: Vec<(String, Instant)>,
    first: Vec<(String, pb::Decision, Instant)>,
}

#[test]
fn a_server_killed_mid_load_comes_back_with_every_acknowledged_call_and_agent() {
    let path = config("recovery");
    let (mut child, address, _) = serve(&path);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let acked = rt.block_on(async {
        let ch = channel(&address).await;
        let mut routing = RoutingClient::new(ch.clone());
        let mut agents = AgentsClient::new(ch);
        // Ann is offered the first call (the switch never answers it); Cy takes the
        // second and is connected; Bo is at lunch.
        agents
            .set_agent_state(agent("ann", pb::AgentState::Available))
            .await
            .unwrap();
        routing.route_call(route("first", 9001)).await.unwrap();
        let d = routing.submit_input(press_zero("first")).await.unwrap();
        assert!(matches!(
            d.into_inner().action,
            Some(pb::decision::Action::Enqueue(_))
        ));
        agents
            .set_agent_state(agent("cy", pb::AgentState::Available))
            .await
            .unwrap();
        routing.route_call(route("second", 9002)).await.unwrap();
        routing.submit_input(press_zero("second")).await.unwrap();
        routing
            .report_call_event(pb::CallEvent {
                call_id: "second".into(),
                kind: pb::CallEventKind::Connected.into(),
                agent_id: "cy".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        agents
            .set_agent_state(pb::SetAgentStateRequest {
                reason: "lunch".into(),
                ..agent("bo", pb::AgentState::NotReady)
            })
            .await
            .unwrap();
        // The load: callers arrive one after another until the kill.
        let mut acked = Acked::default();
        let start = Instant::now();
        let mut n = 0;
        while start.elapsed() < LOAD_FOR {
            let id = format!("load-{n:05}");
            acked.sent.push(id.clone());
            let first = routing
                .route_call(route(&id, n))
                .await
                .unwrap()
                .into_inner();
            acked.first.push((id.clone(), first, Instant::now()));
            routing.submit_input(press_zero(&id)).await.unwrap();
            acked.queued.push((id, Instant::now()));
            n += 1;
            // A steady arrival rate rather than a flood: a few hundred calls.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // One more call in flight when the process dies: sent, never acknowledged.
        let id = format!("load-{n:05}");
        acked.sent.push(id.clone());
        let in_flight = tokio::spawn({
            let mut routing = routing.clone();
            async move {
                let _ = routing.route_call(route(&id, n)).await;
                let _ = routing.submit_input(press_zero(&id)).await;
            }
        });
        tokio::task::yield_now().await;
        child.kill();
        let _ = in_flight.await;
        acked
    });
    let killed = Instant::now();
    let durable = |at: &Instant| killed.duration_since(*at) > DURABLE_WITHIN;
    assert!(
        acked.queued.len() > 50,
        "only {} calls in the load",
        acked.queued.len()
    );

    let (mut child, address, start_log) = serve(&path);
    assert!(
        start_log
            .iter()
            .any(|l| l.contains("live state restored from the journal")
                && l.contains("agents=3")
                && l.contains("offers_resent=1")),
        "{start_log:#?}"
    );
    let outcome = rt.block_on(async {
        let ch = channel(&address).await;
        let mut routing = RoutingClient::new(ch.clone());
        let mut agents = AgentsClient::new(ch);
        // Agents in their states.
        let get = |id: &str| pb::GetAgentRequest {
            agent_id: id.into(),
        };
        let ann = agents.get_agent(get("ann")).await.unwrap().into_inner();
        let bo = agents.get_agent(get("bo")).await.unwrap().into_inner();
        let cy = agents.get_agent(get("cy")).await.unwrap().into_inner();
        assert_eq!(
            (ann.state(), ann.call_ids.as_slice()),
            (pb::AgentState::Reserved, ["first".to_owned()].as_slice())
        );
        assert_eq!(
            (bo.state(), bo.reason.as_str()),
            (pb::AgentState::NotReady, "lunch")
        );
        assert_eq!(
            (cy.state(), cy.call_ids.as_slice()),
            (pb::AgentState::OnCall, ["second".to_owned()].as_slice())
        );
        // The offer the switch never answered is sent again when it reconnects.
        let mut stream = routing
            .watch_assignments(pb::WatchAssignmentsRequest {
                switch_id: SWITCH.into(),
            })
            .await
            .unwrap()
            .into_inner();
        let resent = next(&mut stream).await;
        assert_eq!(
            (resent.call_id.as_str(), resent.agent_id.as_str()),
            ("first", "ann")
        );
        // A call id seen before gets the decision it got then.
        for (id, first, _) in acked
            .first
            .iter()
            .filter(|(_, _, at)| durable(at))
            .step_by(7)
        {
            let again = routing.route_call(route(id, 0)).await.unwrap().into_inner();
            assert_eq!(&again, first, "{id}");
        }
        // The waiting calls, served one agent at a time: their order is the queue's.
        let mut served = Vec::new();
        for i in 0.. {
            let id = format!("after-{i:05}");
            let state = agents
                .set_agent_state(agent(&id, pb::AgentState::Available))
                .await
                .unwrap()
                .into_inner();
            if state.state() != pb::AgentState::Reserved {
                break;
            }
            let a = next(&mut stream).await;
            assert_eq!(a.agent_id, id);
            served.push(a.call_id);
        }
        served
    });
    child.kill();

    // Every call acknowledged before the durability bound is back; any after it may be;
    // the calls back are exactly the first ones sent, in order, each once.
    let must = acked.queued.iter().filter(|(_, at)| durable(at)).count();
    assert!(
        outcome.len() >= must,
        "{} calls back, but {must} were acknowledged more than {DURABLE_WITHIN:?} before the kill",
        outcome.len()
    );
    assert_eq!(
        outcome.as_slice(),
        &acked.sent[..outcome.len()],
        "the calls back are the first ones sent, in their order, none twice"
    );
    eprintln!(
        "{} calls acknowledged, {} back after the kill ({must} had to be)",
        acked.queued.len(),
        outcome.len()
    );
}
