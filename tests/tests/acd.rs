//! The ACD over real gRPC: agents log in and out, calls meet agents in priority order,
//! assignments reach the switch's stream, and call events move calls and agents on.

use std::time::Duration;

use switchboard_proto::v1::{self as pb, decision::Action, routing_client::RoutingClient};
use switchboard_tests::*;
use tokio_stream::StreamExt;
use tonic::{Code, Streaming, transport::Channel};

const SWITCH: &str = "sbc-1";

/// An agent with the skills of the platinum desk, operator and care queues.
fn senior(id: &str) -> pb::SetAgentStateRequest {
    pb::SetAgentStateRequest {
        agent_id: id.into(),
        state: pb::AgentState::Available.into(),
        skills: vec![
            pb::Skill {
                name: "general".into(),
                proficiency: 8,
            },
            pb::Skill {
                name: "platinum".into(),
                proficiency: 5,
            },
        ],
        endpoint: format!("sip:{id}@pbx.example"),
        style_tags: vec!["rapport".into()],
        ..Default::default()
    }
}

/// An agent with a single skill, logging in available.
fn skilled(id: &str, skill: &str, proficiency: u32) -> pb::SetAgentStateRequest {
    pb::SetAgentStateRequest {
        skills: vec![pb::Skill {
            name: skill.into(),
            proficiency,
        }],
        style_tags: vec![],
        ..senior(id)
    }
}

/// Logs an agent in (or changes their state); the request must succeed.
async fn login(server: &TestServer, request: pb::SetAgentStateRequest) -> pb::Agent {
    server
        .agents()
        .await
        .set_agent_state(request)
        .await
        .unwrap()
        .into_inner()
}

fn state(id: &str, state: pb::AgentState) -> pb::SetAgentStateRequest {
    pb::SetAgentStateRequest {
        agent_id: id.into(),
        state: state.into(),
        ..Default::default()
    }
}

async fn route(
    c: &mut RoutingClient<Channel>,
    id: &str,
    caller: &str,
    dialed: &str,
) -> pb::Decision {
    c.route_call(pb::RouteCallRequest {
        call_id: id.into(),
        caller: caller.into(),
        dialed: dialed.into(),
        channel: pb::Channel::Voice.into(),
        switch_id: SWITCH.into(),
    })
    .await
    .unwrap()
    .into_inner()
}

fn position(d: &pb::Decision) -> Option<u32> {
    match &d.action {
        Some(Action::Enqueue(e)) => e.position,
        other => panic!("expected a queue, got {other:?}"),
    }
}

async fn event(
    c: &mut RoutingClient<Channel>,
    call: &str,
    kind: pb::CallEventKind,
    agent: &str,
) -> Result<bool, tonic::Status> {
    c.report_call_event(pb::CallEvent {
        call_id: call.into(),
        kind: kind.into(),
        agent_id: agent.into(),
        ..Default::default()
    })
    .await
    .map(|r| r.into_inner().applied)
}

async fn watch(c: &mut RoutingClient<Channel>) -> Streaming<pb::Assignment> {
    c.watch_assignments(pb::WatchAssignmentsRequest {
        switch_id: SWITCH.into(),
    })
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn an_idle_agent_gets_the_call_at_once_with_the_callers_context() {
    let server = start().await;
    let mut routing = server.routing().await;
    let mut stream = watch(&mut routing).await;
    let agent = login(&server, senior("ann")).await;
    assert_eq!(agent.state(), pb::AgentState::Available);

    let d = route(&mut routing, "p1", MARIA_PLATINUM, PLATINUM_LINE).await;
    assert_eq!(position(&d), Some(0), "an agent took the call at once");
    let a = next(&mut stream).await;
    assert_eq!(
        (a.call_id.as_str(), a.agent_id.as_str(), a.queue.as_str()),
        ("p1", "ann", "platinum_desk")
    );
    assert_eq!(a.agent_endpoint, "sip:ann@pbx.example");
    let who = a.customer.unwrap();
    assert_eq!(
        (
            who.customer_id.as_str(),
            who.name.as_str(),
            who.tier.as_str()
        ),
        ("C0000001", "Maria Lopez", "platinum")
    );

    let ann = agent_view(&server, "ann").await;
    assert_eq!(
        (ann.state(), ann.call_ids.as_slice()),
        (pb::AgentState::Reserved, ["p1".to_owned()].as_slice())
    );
    assert!(
        event(&mut routing, "p1", pb::CallEventKind::Connected, "ann")
            .await
            .unwrap()
    );
    assert!(
        event(&mut routing, "p1", pb::CallEventKind::Ended, "ann")
            .await
            .unwrap()
    );
    let ann = agent_view(&server, "ann").await;
    assert_eq!(
        (ann.state(), ann.call_ids.len()),
        (pb::AgentState::WrapUp, 0)
    );
}

#[tokio::test]
async fn an_agent_who_becomes_ready_takes_the_platinum_caller_before_the_standard_one() {
    let server = start().await;
    let mut routing = server.routing().await;
    // Tom (standard, operator queue) waits first; Maria (platinum desk) arrives later.
    let tom = route(&mut routing, "std", TOM_ALWAYS_OPERATOR, MAIN_LINE).await;
    assert_eq!(position(&tom), Some(1));
    let maria = route(&mut routing, "plat", MARIA_PLATINUM, MAIN_LINE).await;
    assert_eq!(position(&maria), Some(1));

    let mut stream = watch(&mut routing).await;
    let mut agents = server.agents().await;
    agents.set_agent_state(senior("ann")).await.unwrap();
    assert_eq!(next(&mut stream).await.call_id, "plat");
    event(&mut routing, "plat", pb::CallEventKind::Connected, "ann")
        .await
        .unwrap();
    event(&mut routing, "plat", pb::CallEventKind::Ended, "ann")
        .await
        .unwrap();
    // Ready again after wrap-up: now the standard caller.
    agents
        .set_agent_state(state("ann", pb::AgentState::Available))
        .await
        .unwrap();
    assert_eq!(next(&mut stream).await.call_id, "std");
}

#[tokio::test]
async fn no_answer_sends_the_call_to_the_next_agent_and_the_first_to_not_ready() {
    let server = start().await;
    let mut routing = server.routing().await;
    let mut stream = watch(&mut routing).await;
    let mut agents = server.agents().await;
    agents.set_agent_state(senior("ann")).await.unwrap();
    route(&mut routing, "c1", MARIA_PLATINUM, PLATINUM_LINE).await;
    assert_eq!(next(&mut stream).await.agent_id, "ann");
    // Another caller arrives while Ann's phone rings.
    route(&mut routing, "c2", MARIA_PLATINUM, MAIN_LINE).await;

    assert!(
        event(&mut routing, "c1", pb::CallEventKind::NoAnswer, "ann")
            .await
            .unwrap()
    );
    let ann = agent_view(&server, "ann").await;
    assert_eq!(
        (ann.state(), ann.reason.as_str()),
        (pb::AgentState::NotReady, "no_answer")
    );
    // A repeated event is harmless.
    assert!(
        !event(&mut routing, "c1", pb::CallEventKind::NoAnswer, "ann")
            .await
            .unwrap()
    );
    // c1 went back to the head: the next agent gets it before c2.
    agents.set_agent_state(senior("bo")).await.unwrap();
    let a = next(&mut stream).await;
    assert_eq!((a.call_id.as_str(), a.agent_id.as_str()), ("c1", "bo"));
}

#[tokio::test]
async fn a_switch_that_connects_late_receives_the_assignments_pending_for_it() {
    let server = start().await;
    let mut routing = server.routing().await;
    login(&server, senior("ann")).await;
    route(&mut routing, "early", MARIA_PLATINUM, PLATINUM_LINE).await;
    // The switch was not watching when the assignment was made.
    let mut stream = watch(&mut routing).await;
    assert_eq!(next(&mut stream).await.call_id, "early");
    // Reconnecting before the call is settled re-sends it...
    let mut again = watch(&mut routing).await;
    assert_eq!(next(&mut again).await.call_id, "early");
    // ...and after CONNECTED it is no longer pending.
    event(&mut routing, "early", pb::CallEventKind::Connected, "ann")
        .await
        .unwrap();
    let mut third = watch(&mut routing).await;
    login(&server, senior("bo")).await;
    route(&mut routing, "later", MARIA_PLATINUM, PLATINUM_LINE).await;
    assert_eq!(next(&mut third).await.call_id, "later");
}

#[tokio::test]
async fn abandoned_calls_leave_the_queue_or_free_the_agent_they_were_offered_to() {
    let server = start().await;
    let mut routing = server.routing().await;
    route(&mut routing, "a1", TOM_ALWAYS_OPERATOR, MAIN_LINE).await;
    assert!(
        event(&mut routing, "a1", pb::CallEventKind::Abandoned, "")
            .await
            .unwrap()
    );
    assert!(
        !event(&mut routing, "a1", pb::CallEventKind::Abandoned, "")
            .await
            .unwrap(),
        "a repeat is harmless"
    );

    let mut stream = watch(&mut routing).await;
    let mut agents = server.agents().await;
    agents.set_agent_state(senior("ann")).await.unwrap();
    route(&mut routing, "a2", MARIA_PLATINUM, PLATINUM_LINE).await;
    assert_eq!(next(&mut stream).await.call_id, "a2");
    route(&mut routing, "a3", TOM_ALWAYS_OPERATOR, MAIN_LINE).await;
    // The caller hangs up while Ann's phone rings: Ann takes the next call.
    assert!(
        event(&mut routing, "a2", pb::CallEventKind::Abandoned, "")
            .await
            .unwrap()
    );
    let a = next(&mut stream).await;
    assert_eq!((a.call_id.as_str(), a.agent_id.as_str()), ("a3", "ann"));
}

#[tokio::test]
async fn an_offer_the_switch_never_confirms_goes_to_the_next_agent_after_its_lease() {
    let clock = ManualClock::new();
    let server = start_with_clock(switchboard_config::DEFAULT_CONFIG, clock.clone()).await;
    let mut routing = server.routing().await;
    let mut stream = watch(&mut routing).await;
    let mut agents = server.agents().await;
    agents.set_agent_state(senior("ann")).await.unwrap();
    route(&mut routing, "lost", MARIA_PLATINUM, PLATINUM_LINE).await;
    assert_eq!(next(&mut stream).await.agent_id, "ann");
    agents.set_agent_state(senior("bo")).await.unwrap();
    // The switch says nothing. Past the 20 s lease, the once-a-second upkeep re-offers it.
    clock.advance(Duration::from_secs(21));
    let a = next(&mut stream).await;
    assert_eq!((a.call_id.as_str(), a.agent_id.as_str()), ("lost", "bo"));
    assert!(
        a.waited.unwrap().seconds >= 21,
        "the call keeps its arrival time"
    );
    let ann = agent_view(&server, "ann").await;
    assert_eq!(
        (ann.state(), ann.reason.as_str()),
        (pb::AgentState::NotReady, "offer_timeout")
    );
    // Ann's late CONNECTED is refused: the call is Bo's now.
    let late = event(&mut routing, "lost", pb::CallEventKind::Connected, "ann")
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn wrap_up_ends_by_itself_and_the_agent_takes_the_next_call() {
    let clock = ManualClock::new();
    let server = start_with_clock(switchboard_config::DEFAULT_CONFIG, clock.clone()).await;
    let mut routing = server.routing().await;
    let mut stream = watch(&mut routing).await;
    login(&server, senior("ann")).await;
    route(&mut routing, "c1", MARIA_PLATINUM, PLATINUM_LINE).await;
    assert_eq!(next(&mut stream).await.call_id, "c1");
    event(&mut routing, "c1", pb::CallEventKind::Connected, "ann")
        .await
        .unwrap();
    event(&mut routing, "c1", pb::CallEventKind::Ended, "ann")
        .await
        .unwrap();
    route(&mut routing, "c2", TOM_ALWAYS_OPERATOR, MAIN_LINE).await;
    // The platinum desk's wrap-up is the default 15 s; Ann says nothing.
    clock.advance(Duration::from_secs(16));
    let a = next(&mut stream).await;
    assert_eq!((a.call_id.as_str(), a.agent_id.as_str()), ("c2", "ann"));
}

#[tokio::test]
async fn a_friendly_chat_caller_is_offered_to_the_agent_known_for_rapport() {
    let server = start().await;
    let mut routing = server.routing().await;
    let mut stream = watch(&mut routing).await;
    let mut agents = server.agents().await;
    // Pat has been idle longer, but has no rapport tag.
    agents
        .set_agent_state(pb::SetAgentStateRequest {
            style_tags: vec![],
            ..senior("pat")
        })
        .await
        .unwrap();
    agents.set_agent_state(senior("rae")).await.unwrap();
    let d = route(&mut routing, "chat", LUIS_FRIENDLY_CHAT, MAIN_LINE).await;
    assert_eq!(position(&d), Some(0));
    let a = next(&mut stream).await;
    assert_eq!(
        (a.call_id.as_str(), a.queue.as_str(), a.agent_id.as_str()),
        ("chat", "care", "rae")
    );
    // A caller without that preference gets the agent idle longest.
    route(&mut routing, "plain", EMMA_STANDARD, MAIN_LINE).await;
    let d = press(&mut routing, "plain", "0").await;
    assert_eq!(position(&d), Some(0));
    assert_eq!(next(&mut stream).await.agent_id, "pat");
}

#[tokio::test]
async fn a_repeat_caller_waits_a_little_for_the_agent_who_served_them_then_goes_to_anyone() {
    let clock = ManualClock::new();
    let server = start_with_clock(switchboard_config::DEFAULT_CONFIG, clock.clone()).await;
    let mut routing = server.routing().await;
    let mut stream = watch(&mut routing).await;
    let mut agents = server.agents().await;
    agents.set_agent_state(senior("ann")).await.unwrap();
    route(&mut routing, "first", MARIA_PLATINUM, PLATINUM_LINE).await;
    assert_eq!(next(&mut stream).await.agent_id, "ann");
    event(&mut routing, "first", pb::CallEventKind::Connected, "ann")
        .await
        .unwrap();
    event(&mut routing, "first", pb::CallEventKind::Ended, "ann")
        .await
        .unwrap();
    agents
        .set_agent_state(state("ann", pb::AgentState::NotReady))
        .await
        .unwrap();
    agents.set_agent_state(senior("bo")).await.unwrap();

    // Maria calls back; Bo is free, but the call waits for Ann...
    let d = route(&mut routing, "again", MARIA_PLATINUM, PLATINUM_LINE).await;
    assert_eq!(position(&d), Some(1));
    // ...who comes back in time and gets it.
    agents
        .set_agent_state(state("ann", pb::AgentState::Available))
        .await
        .unwrap();
    assert_eq!(next(&mut stream).await.agent_id, "ann");
    event(&mut routing, "again", pb::CallEventKind::Connected, "ann")
        .await
        .unwrap();
    event(&mut routing, "again", pb::CallEventKind::Ended, "ann")
        .await
        .unwrap();
    agents
        .set_agent_state(state("ann", pb::AgentState::NotReady))
        .await
        .unwrap();

    // The third time Ann stays away: after 20 s the call goes to Bo.
    route(&mut routing, "third", MARIA_PLATINUM, PLATINUM_LINE).await;
    clock.advance(Duration::from_secs(21));
    let a = next(&mut stream).await;
    assert_eq!((a.call_id.as_str(), a.agent_id.as_str()), ("third", "bo"));
}

/// Grace (get_it_done) calls and chooses support in her quick menu.
async fn to_support(c: &mut RoutingClient<Channel>, id: &str) -> pb::Decision {
    route(c, id, GRACE_GET_IT_DONE, MAIN_LINE).await;
    press(c, id, "1").await
}

fn expectations(d: &pb::Decision) -> (Option<u32>, Option<i64>, bool) {
    match &d.action {
        Some(Action::Enqueue(e)) => (
            e.position,
            e.estimated_wait.map(|w| w.seconds),
            e.callback_offered,
        ),
        other => panic!("expected a queue, got {other:?}"),
    }
}

#[tokio::test]
async fn callers_are_told_their_place_the_estimated_wait_and_offered_a_callback_when_long() {
    let server = start().await;
    let mut routing = server.routing().await;
    // Nobody staffed for support: no estimate to give, so a callback is offered.
    assert_eq!(
        expectations(&to_support(&mut routing, "s1").await),
        (Some(1), None, true)
    );
    assert!(
        event(&mut routing, "s1", pb::CallEventKind::Abandoned, "")
            .await
            .unwrap()
    );
    // One technical agent takes the next call; the one after waits 1 x 6m / 1 agent,
    // past the queue's 4m callback threshold.
    let tech = skilled("tia", "technical", 7);
    login(&server, tech).await;
    assert_eq!(
        expectations(&to_support(&mut routing, "s2").await),
        (Some(0), Some(0), false)
    );
    assert_eq!(
        expectations(&to_support(&mut routing, "s3").await),
        (Some(1), Some(360), true)
    );
    // Operator calls get an estimate but no callback offer: that queue has no threshold.
    let op = route(&mut routing, "o1", TOM_ALWAYS_OPERATOR, MAIN_LINE).await;
    assert_eq!(expectations(&op), (Some(1), None, false));
}

#[tokio::test]
async fn an_accepted_callback_keeps_its_place_and_comes_back_as_a_callback_assignment() {
    let server = start().await;
    let mut routing = server.routing().await;
    let mut stream = watch(&mut routing).await;
    let d = to_support(&mut routing, "cb").await;
    assert!(expectations(&d).2, "callback offered");
    assert!(
        event(&mut routing, "cb", pb::CallEventKind::CallbackAccepted, "")
            .await
            .unwrap()
    );
    // Another caller (not a repeat caller, so no priority raise) queues behind.
    route(&mut routing, "after", EMMA_STANDARD, MAIN_LINE).await;
    press(&mut routing, "after", "2").await;
    let tech = skilled("tia", "technical", 7);
    login(&server, tech).await;
    let a = next(&mut stream).await;
    assert_eq!(
        (a.call_id.as_str(), a.kind()),
        ("cb", pb::AssignmentKind::Callback)
    );
    // The call is with Tia now: accepting a callback is refused.
    let late = event(&mut routing, "cb", pb::CallEventKind::CallbackAccepted, "")
        .await
        .unwrap_err();
    assert_eq!(
        (late.code(), late.message()),
        (
            Code::FailedPrecondition,
            "call \"cb\" is not waiting: an agent has it already"
        )
    );
}

#[tokio::test]
async fn queue_stats_show_waiting_agents_and_service_level_against_each_tiers_standard() {
    let clock = ManualClock::new();
    let server = start_with_clock(switchboard_config::DEFAULT_CONFIG, clock.clone()).await;
    let mut routing = server.routing().await;
    let mut admin = server.admin().await;
    route(&mut routing, "m1", MARIA_PLATINUM, PLATINUM_LINE).await;
    route(&mut routing, "t1", TOM_ALWAYS_OPERATOR, MAIN_LINE).await;
    route(&mut routing, "e1", EMMA_STANDARD, MAIN_LINE).await;
    press(&mut routing, "e1", "0").await;
    let stats = |r: pb::GetQueueStatsResponse| r.queues.into_iter().next().unwrap();
    let operator = stats(
        admin
            .get_queue_stats(pb::GetQueueStatsRequest {
                queue: "operator".into(),
            })
            .await
            .unwrap()
            .into_inner(),
    );
    assert_eq!(
        (operator.waiting, operator.offered, operator.estimated_wait),
        (2, 2, None)
    );

    // Maria is answered after 10 s: within platinum's 20 s standard.
    clock.advance(Duration::from_secs(10));
    login(&server, senior("ann")).await;
    event(&mut routing, "m1", pb::CallEventKind::Connected, "ann")
        .await
        .unwrap();
    // Emma hangs up after 70 s, past standard's 60 s; Tom is answered after 90 s.
    clock.advance(Duration::from_secs(60));
    event(&mut routing, "e1", pb::CallEventKind::Abandoned, "")
        .await
        .unwrap();
    event(&mut routing, "m1", pb::CallEventKind::Ended, "ann")
        .await
        .unwrap();
    login(&server, state("ann", pb::AgentState::Available)).await;
    clock.advance(Duration::from_secs(20));
    event(&mut routing, "t1", pb::CallEventKind::Connected, "ann")
        .await
        .unwrap();

    let desk = stats(
        admin
            .get_queue_stats(pb::GetQueueStatsRequest {
                queue: "platinum_desk".into(),
            })
            .await
            .unwrap()
            .into_inner(),
    );
    let platinum = desk.tiers.iter().find(|t| t.tier == "platinum").unwrap();
    assert_eq!(
        (platinum.offered, platinum.answered, platinum.service_level),
        (1, 1, Some(1.0))
    );
    assert_eq!(
        (
            platinum.service_level_target,
            platinum.service_level_threshold.unwrap().seconds
        ),
        (0.9, 20)
    );
    assert_eq!(platinum.average_speed_of_answer.unwrap().seconds, 10);

    let operator = stats(
        admin
            .get_queue_stats(pb::GetQueueStatsRequest {
                queue: "operator".into(),
            })
            .await
            .unwrap()
            .into_inner(),
    );
    let standard = operator
        .tiers
        .iter()
        .find(|t| t.tier == "standard")
        .unwrap();
    assert_eq!(
        (
            standard.offered,
            standard.answered,
            standard.abandoned,
            standard.waiting
        ),
        (2, 1, 1, 0)
    );
    // Neither call met the 60 s standard: 0 of (1 answered + 1 late abandon).
    assert_eq!(standard.service_level, Some(0.0));
    assert_eq!(standard.average_speed_of_answer.unwrap().seconds, 90);
    assert_eq!(operator.agents_by_state.get("on_call"), Some(&1));
    let gold = operator.tiers.iter().find(|t| t.tier == "gold").unwrap();
    assert_eq!(
        (gold.offered, gold.service_level),
        (0, None),
        "no gold calls: no service level to claim"
    );

    let all = admin
        .get_queue_stats(pb::GetQueueStatsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.queues.len(), 6);
    let err = admin
        .get_queue_stats(pb::GetQueueStatsRequest {
            queue: "platnum_desk".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::NotFound, "queue \"platnum_desk\" not found")
    );
}

#[tokio::test]
async fn an_agent_transfers_a_call_to_billing_where_it_keeps_its_arrival_time() {
    let clock = ManualClock::new();
    let server = start_with_clock(switchboard_config::DEFAULT_CONFIG, clock.clone()).await;
    let mut routing = server.routing().await;
    let mut stream = watch(&mut routing).await;
    login(&server, senior("ann")).await;
    route(&mut routing, "x1", MARIA_PLATINUM, PLATINUM_LINE).await;
    assert_eq!(next(&mut stream).await.agent_id, "ann");
    event(&mut routing, "x1", pb::CallEventKind::Connected, "ann")
        .await
        .unwrap();
    clock.advance(Duration::from_secs(120));
    let transfer = |queue: &str| pb::CallEvent {
        call_id: "x1".into(),
        kind: pb::CallEventKind::Transferred.into(),
        agent_id: "ann".into(),
        queue: queue.into(),
        ..Default::default()
    };
    let err = routing
        .report_call_event(transfer("biling"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::NotFound, "queue \"biling\" not found")
    );
    let err = routing.report_call_event(transfer("")).await.unwrap_err();
    assert_eq!(
        err.message(),
        "queue: required for TRANSFERRED: the queue the call moves to"
    );
    assert!(
        routing
            .report_call_event(transfer("billing"))
            .await
            .unwrap()
            .into_inner()
            .applied
    );
    let ann = agent_view(&server, "ann").await;
    assert_eq!(ann.state(), pb::AgentState::WrapUp);
    let billing = skilled("bill", "billing", 6);
    login(&server, billing).await;
    let a = next(&mut stream).await;
    assert_eq!(
        (a.call_id.as_str(), a.queue.as_str(), a.agent_id.as_str()),
        ("x1", "billing", "bill")
    );
    assert!(
        a.waited.unwrap().seconds >= 120,
        "waited since the call first arrived"
    );
}

#[tokio::test]
async fn calls_past_max_wait_overflow_get_a_callback_offer_or_go_to_voicemail() {
    let clock = ManualClock::new();
    let server = start_with_clock(switchboard_config::DEFAULT_CONFIG, clock.clone()).await;
    let mut routing = server.routing().await;
    let mut stream = watch(&mut routing).await;
    let menu = |id: &str, digits: &str| pb::SubmitInputRequest {
        call_id: id.into(),
        input: Some(pb::submit_input_request::Input::Digits(digits.into())),
    };
    // Emma waits in care (callback after 10m) and billing (voicemail after 15m); Grace in
    // support (overflow to operator after 20m). Nobody is logged in.
    route(&mut routing, "care", EMMA_STANDARD, MAIN_LINE).await;
    routing.submit_input(menu("care", "1")).await.unwrap();
    route(&mut routing, "bill", JAMES_GOLD, MAIN_LINE).await;
    routing.submit_input(menu("bill", "3")).await.unwrap();
    to_support(&mut routing, "supp").await;

    clock.advance(Duration::from_secs(601));
    let offer = next(&mut stream).await;
    assert_eq!(
        (
            offer.call_id.as_str(),
            offer.kind(),
            offer.agent_id.as_str()
        ),
        ("care", pb::AssignmentKind::OfferCallback, "")
    );
    clock.advance(Duration::from_secs(300));
    let vm = next(&mut stream).await;
    assert_eq!(
        (vm.call_id.as_str(), vm.kind(), vm.queue.as_str()),
        ("bill", pb::AssignmentKind::Voicemail, "billing")
    );
    clock.advance(Duration::from_secs(300));
    // Grace's call is in the operator queue now: an operator agent gets it.
    let operator = skilled("opal", "general", 2);
    login(&server, operator).await;
    let a = next(&mut stream).await;
    assert_eq!(
        (a.call_id.as_str(), a.queue.as_str(), a.agent_id.as_str()),
        ("supp", "operator", "opal")
    );

    let stats = server
        .admin()
        .await
        .get_queue_stats(pb::GetQueueStatsRequest {
            queue: "care".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        stats.queues[0].waiting, 1,
        "the callback offer keeps the call in place"
    );
}

/// Tom (standard, priority 0) waits in the operator queue, aging 10 points a minute;
/// James (gold, priority 20) arrives `gold_after` later. Who does the agent get first?
async fn first_served(gold_after: Duration) -> String {
    let clock = ManualClock::new();
    let server = start_with_clock(switchboard_config::DEFAULT_CONFIG, clock.clone()).await;
    let mut routing = server.routing().await;
    let mut stream = watch(&mut routing).await;
    route(&mut routing, "tom", TOM_ALWAYS_OPERATOR, MAIN_LINE).await;
    clock.advance(gold_after);
    route(&mut routing, "james", JAMES_GOLD, MAIN_LINE).await;
    press(&mut routing, "james", "0").await;
    login(&server, senior("ann")).await;
    next(&mut stream).await.call_id
}

#[tokio::test]
async fn a_long_waiting_standard_caller_beats_a_newly_arrived_gold_caller_by_aging() {
    // After 3 minutes Tom is worth 30, more than James's 20.
    assert_eq!(first_served(Duration::from_secs(180)).await, "tom");
    // After 1 minute Tom is worth only 10: gold goes first.
    assert_eq!(first_served(Duration::from_secs(60)).await, "james");
}

#[tokio::test]
async fn a_long_waiting_support_call_overflows_to_a_less_skilled_agent_then_another_queue() {
    let clock = ManualClock::new();
    let server = start_with_clock(switchboard_config::DEFAULT_CONFIG, clock.clone()).await;
    let mut routing = server.routing().await;
    let mut stream = watch(&mut routing).await;
    let mut agents = server.agents().await;
    // Support needs technical 3; this agent has technical 1.
    let novice = skilled("nova", "technical", 1);
    agents.set_agent_state(novice).await.unwrap();
    let d = to_support(&mut routing, "s1").await;
    assert_eq!(
        position(&d),
        Some(1),
        "the novice does not qualify at first"
    );
    // After 2 minutes, technical 1 will do.
    clock.advance(Duration::from_secs(121));
    let a = next(&mut stream).await;
    assert_eq!(
        (a.call_id.as_str(), a.queue.as_str(), a.agent_id.as_str()),
        ("s1", "support", "nova")
    );
    event(&mut routing, "s1", pb::CallEventKind::Connected, "nova")
        .await
        .unwrap();
    // After 5 minutes, platinum desk agents may help too.
    agents.set_agent_state(senior("ann")).await.unwrap();
    to_support(&mut routing, "s2").await;
    clock.advance(Duration::from_secs(120));
    assert!(
        tokio::time::timeout(Duration::from_millis(1_500), stream.next())
            .await
            .is_err(),
        "not yet at 2 minutes: no technical agent is free"
    );
    clock.advance(Duration::from_secs(181));
    let a = next(&mut stream).await;
    assert_eq!((a.call_id.as_str(), a.agent_id.as_str()), ("s2", "ann"));
}

#[tokio::test]
async fn the_next_agent_sees_how_the_callers_last_contact_ended() {
    let clock = ManualClock::new();
    let server = start_with_clock(switchboard_config::DEFAULT_CONFIG, clock.clone()).await;
    let mut routing = server.routing().await;
    let mut stream = watch(&mut routing).await;
    login(&server, senior("ann")).await;
    route(&mut routing, "first", MARIA_PLATINUM, PLATINUM_LINE).await;
    let a = next(&mut stream).await;
    assert_eq!(a.customer.unwrap().last_contact, "", "no history yet");
    event(&mut routing, "first", pb::CallEventKind::Connected, "ann")
        .await
        .unwrap();
    routing
        .report_call_event(pb::CallEvent {
            call_id: "first".into(),
            kind: pb::CallEventKind::Ended.into(),
            agent_id: "ann".into(),
            resolved: false,
            wrap_up_code: "billing-dispute".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    clock.advance(Duration::from_secs(2 * 3_600));
    route(&mut routing, "again", MARIA_PLATINUM, PLATINUM_LINE).await;
    let a = next(&mut stream).await;
    assert_eq!(
        a.customer.unwrap().last_contact,
        "2 hours ago in platinum_desk with ann: not resolved (wrap-up billing-dispute)"
    );
}

#[tokio::test]
async fn bad_agent_requests_are_refused_naming_the_field_or_state() {
    let server = start().await;
    let mut agents = server.agents().await;
    let refuse =
        |r: Result<tonic::Response<pb::Agent>, tonic::Status>, code: Code, message: &str| {
            let e = r.unwrap_err();
            assert_eq!((e.code(), e.message()), (code, message));
        };
    let mut bad_skill = senior("x");
    bad_skill.skills[0].proficiency = 11;
    refuse(
        agents.set_agent_state(bad_skill).await,
        Code::InvalidArgument,
        "skills[0].proficiency: must be 1 to 10 (got 11)",
    );
    let mut no_endpoint = senior("x");
    no_endpoint.endpoint.clear();
    refuse(
        agents.set_agent_state(no_endpoint).await,
        Code::InvalidArgument,
        "endpoint: required to log in (a SIP URI or extension)",
    );
    for (capacity, message) in [
        (
            vec![("fax", 1)],
            "capacity: unknown channel \"fax\": one of voice, chat, email, social",
        ),
        (
            vec![("callback", 1)],
            "capacity: \"callback\" counts as voice: give capacity.voice",
        ),
        (
            vec![("voice", 2)],
            "capacity.voice: an agent takes one voice call at a time (got 2)",
        ),
        (
            vec![("chat", 33)],
            "capacity.chat: at most 32 at a time (got 33)",
        ),
        (
            vec![("voice", 0), ("chat", 0)],
            "capacity: an agent must be able to take some work (every channel is 0)",
        ),
    ] {
        let mut bad = senior("x");
        bad.capacity = capacity
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        refuse(
            agents.set_agent_state(bad).await,
            Code::InvalidArgument,
            message,
        );
    }
    refuse(
        agents.set_agent_state(senior("")).await,
        Code::InvalidArgument,
        "agent_id: must not be empty",
    );
    refuse(
        agents
            .set_agent_state(state("x", pb::AgentState::Reserved))
            .await,
        Code::InvalidArgument,
        "state: reserved, on call and wrap-up follow from call events; set AVAILABLE, NOT_READY or LOGGED_OUT",
    );
    refuse(
        agents
            .set_agent_state(pb::SetAgentStateRequest {
                state: 42,
                ..senior("x")
            })
            .await,
        Code::InvalidArgument,
        "state: unknown value 42",
    );
    refuse(
        agents
            .set_agent_state(state("ghost", pb::AgentState::LoggedOut))
            .await,
        Code::NotFound,
        "agent \"ghost\": unknown agent",
    );
    refuse(
        agents
            .get_agent(pb::GetAgentRequest {
                agent_id: "ghost".into(),
            })
            .await,
        Code::NotFound,
        "agent \"ghost\" not found",
    );

    // Ann, offered a call, can neither log out nor log in again.
    agents.set_agent_state(senior("ann")).await.unwrap();
    let mut routing = server.routing().await;
    route(&mut routing, "c1", MARIA_PLATINUM, PLATINUM_LINE).await;
    refuse(
        agents
            .set_agent_state(state("ann", pb::AgentState::LoggedOut))
            .await,
        Code::FailedPrecondition,
        "agent \"ann\": agent cannot go from reserved to logged_out",
    );
    refuse(
        agents.set_agent_state(senior("ann")).await,
        Code::FailedPrecondition,
        "agent \"ann\" is logged in: log out first to change skills, endpoint, tags or capacity",
    );
    let list = agents
        .list_agents(pb::ListAgentsRequest {
            state: pb::AgentState::Reserved.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        list.agents
            .iter()
            .map(|a| a.agent_id.as_str())
            .collect::<Vec<_>>(),
        ["ann"]
    );
}

#[tokio::test]
async fn call_events_that_contradict_the_call_are_refused() {
    let server = start().await;
    let mut routing = server.routing().await;
    let mut agents = server.agents().await;
    agents.set_agent_state(senior("ann")).await.unwrap();
    route(&mut routing, "c1", MARIA_PLATINUM, PLATINUM_LINE).await;
    agents.set_agent_state(senior("bo")).await.unwrap();
    let refuse = |r: Result<bool, tonic::Status>, code: Code, message: &str| {
        let e = r.unwrap_err();
        assert_eq!((e.code(), e.message()), (code, message));
    };
    refuse(
        event(&mut routing, "nope", pb::CallEventKind::Connected, "ann").await,
        Code::NotFound,
        "call_id: unknown call \"nope\"",
    );
    refuse(
        event(&mut routing, "c1", pb::CallEventKind::Connected, "ghost").await,
        Code::NotFound,
        "agent \"ghost\": unknown agent",
    );
    refuse(
        event(&mut routing, "c1", pb::CallEventKind::Connected, "bo").await,
        Code::FailedPrecondition,
        "call \"c1\": the agent does not hold that call",
    );
    refuse(
        event(&mut routing, "c1", pb::CallEventKind::Connected, "").await,
        Code::InvalidArgument,
        "agent_id: must not be empty",
    );
    refuse(
        event(&mut routing, "c1", pb::CallEventKind::Unspecified, "ann").await,
        Code::InvalidArgument,
        "kind: required",
    );
    let bad_survey = routing
        .report_call_event(pb::CallEvent {
            call_id: "c1".into(),
            kind: pb::CallEventKind::Ended.into(),
            agent_id: "ann".into(),
            satisfaction: 6,
            ..Default::default()
        })
        .await;
    assert_eq!(
        bad_survey.unwrap_err().message(),
        "satisfaction: must be 1 to 5, or 0 when not answered (got 6)"
    );
    // A retention offer is reported when the call ends, and only as one of its values;
    // a refused event changes nothing (the call is still offered to ann below).
    for (kind, retention, message) in [
        (
            pb::CallEventKind::Connected,
            pb::RetentionOffer::Accepted as i32,
            "retention: only with ENDED, when the agent's call ends (got CALL_EVENT_KIND_CONNECTED)",
        ),
        (pb::CallEventKind::Ended, 7, "retention: unknown value 7"),
    ] {
        let refused = routing
            .report_call_event(pb::CallEvent {
                call_id: "c1".into(),
                kind: kind.into(),
                agent_id: "ann".into(),
                retention,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(refused.message(), message);
    }
    // Connected twice is harmless; hanging up once connected is an end, not an abandon.
    assert!(
        event(&mut routing, "c1", pb::CallEventKind::Connected, "ann")
            .await
            .unwrap()
    );
    assert!(
        !event(&mut routing, "c1", pb::CallEventKind::Connected, "ann")
            .await
            .unwrap()
    );
    refuse(
        event(&mut routing, "c1", pb::CallEventKind::Abandoned, "").await,
        Code::FailedPrecondition,
        "call \"c1\": the call is connected to an agent",
    );
    assert!(
        event(&mut routing, "c1", pb::CallEventKind::Ended, "ann")
            .await
            .unwrap()
    );
    assert!(
        !event(&mut routing, "c1", pb::CallEventKind::Ended, "ann")
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn rules_put_offers_and_notes_on_the_agents_screen_and_tags_on_the_decision() {
    let server = start().await;
    let mut routing = server.routing().await;
    let mut stream = watch(&mut routing).await;
    // James's device dates from 2023-02-01: the warranty rule matches and continues.
    let d = route(&mut routing, "j1", JAMES_GOLD, MAIN_LINE).await;
    assert_eq!(d.matched_rules, ["warranty-offer"]);
    assert!(d.tags.is_empty(), "{:?}", d.tags);
    press(&mut routing, "j1", "2").await;
    login(&server, skilled("tech", "technical", 5)).await;
    let a = next(&mut stream).await;
    assert_eq!(a.call_id, "j1");
    let screen = a.customer.unwrap();
    assert_eq!(screen.offers, ["extended-warranty"]);
    assert!(screen.notes.is_empty());
    event(&mut routing, "j1", pb::CallEventKind::Connected, "tech")
        .await
        .unwrap();
    event(&mut routing, "j1", pb::CallEventKind::Ended, "tech")
        .await
        .unwrap();
    // He calls again: a repeat caller, tagged, with a note for the next agent. Pressing 2
    // taught that he wants things done: the short menu, and support is busy for him.
    let d = route(&mut routing, "j2", JAMES_GOLD, MAIN_LINE).await;
    assert_eq!(
        d.matched_rules,
        ["repeat-callers-first", "warranty-offer", "get-it-done-busy"]
    );
    assert_eq!(d.tags, ["repeat"]);
    press(&mut routing, "j2", "1").await;
    login(&server, state("tech", pb::AgentState::Available)).await;
    let a = next(&mut stream).await;
    assert_eq!(a.call_id, "j2");
    let screen = a.customer.unwrap();
    assert_eq!(screen.offers, ["extended-warranty"]);
    assert_eq!(screen.notes, ["called in the last 7 days"]);
}

#[tokio::test]
async fn a_stream_replaced_by_a_newer_one_for_the_same_switch_ends_with_aborted() {
    let server = start().await;
    let mut routing = server.routing().await;
    let mut old = watch(&mut routing).await;
    // The switch reconnects (from another connection, as after a network blip) while
    // the old stream is still open.
    let mut newer = watch(&mut server.routing().await).await;
    let ended = tokio::time::timeout(Duration::from_secs(10), old.next())
        .await
        .expect("the old stream ends at once")
        .expect("with a status")
        .unwrap_err();
    assert_eq!(ended.code(), Code::Aborted);
    assert_eq!(
        ended.message(),
        "replaced by a newer stream for switch \"sbc-1\""
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(1), old.next())
            .await
            .expect("and nothing after")
            .is_none()
    );
    // Assignments go to the newer stream.
    login(&server, senior("ann")).await;
    route(&mut routing, "p1", MARIA_PLATINUM, PLATINUM_LINE).await;
    assert_eq!(next(&mut newer).await.call_id, "p1");
}
