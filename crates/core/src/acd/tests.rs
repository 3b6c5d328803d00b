use std::{
    collections::HashSet,
    sync::atomic::{AtomicUsize, Ordering},
    thread,
};

use super::*;
use crate::plan::Strategy;

const SUPPORT: QueueId = QueueId(0);
const BILLING: QueueId = QueueId(1);
const T0: Millis = Millis(1_800_000_000_000);

fn at(seconds: u64) -> Millis {
    Millis(T0.0 + seconds * 1_000)
}

fn spec(name: &str, skill: &str, strategy: Strategy) -> Queue {
    // Aging 60 points a minute: one point a second, easy to reason about in tests.
    Queue {
        name: name.into(),
        skills: vec![(skill.into(), 3)],
        strategy,
        aging_per_minute: 60,
        wrap_up: std::time::Duration::from_secs(30),
        handle_time: std::time::Duration::from_secs(180),
        callback_after: Some(std::time::Duration::from_secs(300)),
        max_wait: None,
        overflow: vec![],
        retired: false,
        part_of: None,
        when_closed: None,
    }
}

fn acd(strategy: Strategy) -> Acd {
    Acd::new(vec![
        spec("support", "technical", strategy),
        spec("billing", "billing", strategy),
    ])
}

fn agent(id: &str, skills: &[(&str, u8)]) -> AgentProfile {
    AgentProfile {
        id: id.into(),
        endpoint: format!("sip:{id}@pbx"),
        skills: skills.iter().map(|(s, p)| (s.to_string(), *p)).collect(),
        tags: vec![],
        capacity: Default::default(),
    }
}

pub(super) fn waiting(id: &str, priority: i32, arrived: Millis) -> WaitingCall {
    WaitingCall {
        call_id: Arc::from(id),
        switch_id: Arc::from("sbc-1"),
        priority,
        arrived,
        preference: Preference::None,
        callback: false,
        tier: crate::TierId(0),
        max_wait_met: false,
        channel: Default::default(),
    }
}

fn call(acd: &Acd, queue: QueueId, id: &str, priority: i32, arrived: Millis) -> Placed {
    acd.enqueue(queue, waiting(id, priority, arrived), arrived)
        .unwrap()
}

fn assigned(p: Placed) -> Assignment {
    match p {
        Placed::Assigned(a) => a,
        Placed::Waiting { position } => panic!("expected an assignment, waiting at {position}"),
    }
}

fn position(p: Placed) -> usize {
    match p {
        Placed::Waiting { position } => position,
        Placed::Assigned(a) => panic!("expected to wait, assigned to {}", a.agent.profile.id),
    }
}

#[test]
fn a_call_waits_until_an_agent_is_ready_then_is_offered_to_them() {
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    assert_eq!(position(call(&acd, SUPPORT, "c1", 0, T0)), 1);
    let a = acd
        .ready("ann", at(5))
        .unwrap()
        .pop()
        .expect("the waiting call");
    assert_eq!(&*a.call.call_id, "c1");
    assert_eq!(a.agent.state(), AgentState::Reserved);
    assert_eq!(acd.waiting_in(SUPPORT), 0);
}

#[test]
fn an_idle_agent_takes_a_new_call_at_once() {
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    assert!(acd.ready("ann", T0).unwrap().is_empty());
    let a = assigned(call(&acd, SUPPORT, "c1", 0, at(1)));
    assert_eq!(a.agent.profile.id, "ann");
    // Reserved agents are not offered a second call.
    assert_eq!(position(call(&acd, SUPPORT, "c2", 0, at(2))), 1);
}

#[test]
fn higher_priority_is_served_first_and_equals_in_arrival_order() {
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    call(&acd, SUPPORT, "std-1", 0, T0);
    call(&acd, SUPPORT, "std-2", 0, T0);
    assert_eq!(position(call(&acd, SUPPORT, "plat", 50, T0)), 1);
    let mut served = Vec::new();
    for _ in 0..3 {
        let a = acd.ready("ann", T0).unwrap().pop().unwrap();
        served.push(a.call.call_id.to_string());
        acd.connected("ann", &a.call.call_id, T0).unwrap();
        acd.ended("ann", &a.call.call_id, T0).unwrap();
    }
    assert_eq!(served, ["plat", "std-1", "std-2"]);
}

#[test]
fn a_long_waiting_standard_caller_beats_a_newly_arrived_gold_caller() {
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    // Aging 1 point a second: after 30 s the standard call is worth 30, gold arrives at 20.
    call(&acd, SUPPORT, "standard", 0, T0);
    assert_eq!(position(call(&acd, SUPPORT, "gold", 20, at(30))), 2);
    assert_eq!(
        &*acd
            .ready("ann", at(30))
            .unwrap()
            .pop()
            .unwrap()
            .call
            .call_id,
        "standard"
    );
    // Had gold arrived after 10 s, it would have gone first.
    let acd = self::acd(Strategy::LongestIdle);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    call(&acd, SUPPORT, "standard", 0, T0);
    assert_eq!(position(call(&acd, SUPPORT, "gold", 20, at(10))), 1);
    assert_eq!(
        &*acd
            .ready("ann", at(10))
            .unwrap()
            .pop()
            .unwrap()
            .call
            .call_id,
        "gold"
    );
}

#[test]
fn an_agent_takes_the_best_call_across_every_queue_they_serve() {
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("bo", &[("technical", 5), ("billing", 5)]), T0)
        .unwrap();
    call(&acd, SUPPORT, "support-early", 0, T0);
    call(&acd, BILLING, "billing-gold", 20, at(5));
    call(&acd, SUPPORT, "support-late", 0, at(6));
    let order: Vec<String> = (0..3)
        .map(|_| {
            let a = acd.ready("bo", at(10)).unwrap().pop().unwrap();
            acd.connected("bo", &a.call.call_id, at(10)).unwrap();
            acd.ended("bo", &a.call.call_id, at(10)).unwrap();
            a.call.call_id.to_string()
        })
        .collect();
    // At 10 s: billing-gold is worth 25, support-early 10, support-late 4.
    assert_eq!(order, ["billing-gold", "support-early", "support-late"]);
}

#[test]
fn only_agents_with_the_skills_at_the_minimum_proficiency_are_offered_a_queues_calls() {
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("novice", &[("technical", 2)]), T0)
        .unwrap();
    acd.log_in(agent("biller", &[("billing", 9)]), T0).unwrap();
    acd.ready("novice", T0).unwrap();
    acd.ready("biller", T0).unwrap();
    assert_eq!(position(call(&acd, SUPPORT, "c1", 0, at(1))), 1);
    acd.log_in(agent("tech", &[("technical", 3)]), T0).unwrap();
    assert_eq!(
        acd.ready("tech", at(2))
            .unwrap()
            .pop()
            .unwrap()
            .call
            .call_id
            .as_ref(),
        "c1"
    );
}

#[test]
fn longest_idle_and_most_skilled_choose_differently() {
    for (strategy, expected) in [
        (Strategy::LongestIdle, "waited-longest"),
        (Strategy::MostSkilled, "expert"),
    ] {
        let acd = acd(strategy);
        acd.log_in(agent("waited-longest", &[("technical", 4)]), T0)
            .unwrap();
        acd.log_in(agent("expert", &[("technical", 10)]), T0)
            .unwrap();
        acd.ready("waited-longest", at(1)).unwrap();
        acd.ready("expert", at(50)).unwrap();
        let a = assigned(call(&acd, SUPPORT, "c1", 0, at(60)));
        assert_eq!(a.agent.profile.id, expected, "{strategy:?}");
    }
}

#[test]
fn no_answer_puts_the_call_back_at_the_head_and_the_agent_not_ready() {
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    acd.log_in(agent("cy", &[("technical", 5)]), T0).unwrap();
    acd.ready("ann", T0).unwrap();
    let offered = assigned(call(&acd, SUPPORT, "vip", 0, at(1)));
    assert_eq!(offered.agent.call().as_deref(), Some("vip"));
    call(&acd, SUPPORT, "higher", 40, at(2));
    assert!(acd.no_answer("ann", "vip", 1, at(20)).unwrap().is_empty());
    let ann = acd.agent("ann").unwrap();
    assert_eq!(ann.state(), AgentState::NotReady);
    assert_eq!(
        (ann.reason().as_deref(), ann.call()),
        (Some("no_answer"), None)
    );
    // Back ahead of the higher-priority call that arrived meanwhile, arrival time kept.
    let next = acd.ready("cy", at(21)).unwrap().pop().unwrap();
    assert_eq!(&*next.call.call_id, "vip");
    assert_eq!(next.call.arrived, at(1));
}

#[test]
fn an_abandoned_call_leaves_the_queue() {
    let acd = acd(Strategy::LongestIdle);
    call(&acd, SUPPORT, "c1", 0, T0);
    call(&acd, SUPPORT, "c2", 0, T0);
    assert!(acd.abandon("c1"));
    assert!(!acd.abandon("c1"), "a duplicate abandon is harmless");
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    assert_eq!(
        &*acd.ready("ann", T0).unwrap().pop().unwrap().call.call_id,
        "c2"
    );
}

#[test]
fn illegal_transitions_and_unknowns_are_refused() {
    let acd = acd(Strategy::LongestIdle);
    assert_eq!(acd.ready("ghost", T0).unwrap_err(), AcdError::UnknownAgent);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    assert_eq!(
        acd.connected("ann", "c1", T0).unwrap_err(),
        AcdError::NotHolding
    );
    assert_eq!(
        acd.log_in(agent("ann", &[]), T0).unwrap_err(),
        AcdError::IllegalTransition {
            from: "not_ready",
            to: "logged in"
        }
    );
    call(&acd, SUPPORT, "c1", 0, T0);
    assert_eq!(
        acd.enqueue(SUPPORT, waiting("c1", 0, T0), T0).unwrap_err(),
        AcdError::AlreadyWaiting
    );
    assert_eq!(
        acd.enqueue(QueueId(9), waiting("c9", 0, T0), T0)
            .unwrap_err(),
        AcdError::UnknownQueue
    );
    acd.ready("ann", T0).unwrap().pop().unwrap();
    assert_eq!(
        acd.ready("ann", T0).unwrap_err(),
        AcdError::IllegalTransition {
            from: "reserved",
            to: "available"
        }
    );
    // Events for a call the agent does not hold, and steps out of order, are refused.
    assert_eq!(
        acd.connected("ann", "c2", T0).unwrap_err(),
        AcdError::NotHolding
    );
    let refused = |r: Result<(), AcdError>, to: &'static str| {
        assert_eq!(
            r.unwrap_err(),
            AcdError::IllegalTransition {
                from: "reserved",
                to
            }
        );
    };
    refused(acd.ended("ann", "c1", T0).map(|_| ()), "wrap_up");
    refused(acd.log_out("ann", T0), "logged_out");
    refused(acd.not_ready("ann", "break", T0), "not_ready");
    // Still reserved and holding the call: the refusals changed nothing.
    let ann = acd.agent("ann").unwrap();
    assert_eq!(
        (ann.state(), ann.call().as_deref()),
        (AgentState::Reserved, Some("c1"))
    );
}

#[test]
fn a_call_arriving_while_an_agents_empty_claim_is_in_flight_is_not_stranded() {
    let acd = acd(Strategy::LongestIdle);
    let ann = acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    assert!(acd.ready("ann", T0).unwrap().is_empty());
    // Ann's own look for work is in flight: she is claimed and has found no call...
    assert!(ann.transition(AgentState::Available, AgentState::Reserved, T0));
    // ...when a call arrives, sees no available agent, and waits.
    assert_eq!(position(call(&acd, SUPPORT, "c1", 0, at(1))), 1);
    // Giving back her empty claim must send her to look again, and she finds it.
    assert!(
        acd.release_empty_claim(&ann, at(1)),
        "the agent must look again"
    );
    let a = acd.offer_agent(&ann, at(1)).expect("the waiting call");
    assert_eq!(&*a.call.call_id, "c1");
}

#[test]
fn not_ready_keeps_a_reason_and_logging_out_stops_offers() {
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    acd.ready("ann", T0).unwrap();
    acd.not_ready("ann", "break", at(1)).unwrap();
    let ann = acd.agent("ann").unwrap();
    assert_eq!(
        (ann.state(), ann.reason().as_deref()),
        (AgentState::NotReady, Some("break"))
    );
    assert_eq!(position(call(&acd, SUPPORT, "c1", 0, at(2))), 1);
    acd.log_out("ann", at(3)).unwrap();
    assert_eq!(ann.state(), AgentState::LoggedOut);
    // Logged out, Ann is neither offered calls nor able to become ready without logging in.
    assert_eq!(
        acd.ready("ann", at(4)).unwrap_err(),
        AcdError::IllegalTransition {
            from: "logged_out",
            to: "available"
        }
    );
    // Logging in again (new skills) works, and the waiting call is hers once ready.
    acd.log_in(agent("ann", &[("technical", 6)]), at(5))
        .unwrap();
    assert_eq!(
        &*acd.ready("ann", at(6)).unwrap().pop().unwrap().call.call_id,
        "c1"
    );
    assert_eq!(acd.agents().len(), 1);
}

#[test]
fn a_caller_who_hangs_up_while_being_offered_frees_the_agent_for_the_next_call() {
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    acd.ready("ann", T0).unwrap();
    assigned(call(&acd, SUPPORT, "gone", 0, at(1)));
    call(&acd, SUPPORT, "next", 0, at(2));
    assert_eq!(acd.holder_of("gone").unwrap().profile.id, "ann");
    let a = acd
        .withdraw_offer("gone", at(3))
        .unwrap()
        .pop()
        .expect("the next call");
    assert_eq!(&*a.call.call_id, "next");
    assert!(acd.holder_of("gone").is_none());
    // Once connected, hanging up is the end of the call, not an abandon.
    acd.connected("ann", "next", at(4)).unwrap();
    assert_eq!(
        acd.withdraw_offer("next", at(5)).unwrap_err(),
        AcdError::CallConnected
    );
    acd.ended("ann", "next", at(6)).unwrap();
    assert!(acd.holder_of("next").is_none());
    assert_eq!(
        acd.withdraw_offer("next", at(7)).unwrap_err(),
        AcdError::NotHolding
    );
}

#[test]
fn an_offer_nobody_confirms_expires_back_to_the_head_and_to_the_next_agent() {
    use std::time::Duration;
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    acd.ready("ann", T0).unwrap();
    assigned(call(&acd, SUPPORT, "lost", 0, at(1)));
    call(&acd, SUPPORT, "later", 50, at(2));
    let lease = Duration::from_secs(20);
    // Not yet: the switch still has time.
    assert!(
        acd.expire_offers(at(20), lease, AgentState::NotReady)
            .is_empty()
    );
    acd.log_in(agent("bo", &[("technical", 5)]), T0).unwrap();
    acd.ready("bo", at(5))
        .unwrap()
        .pop()
        .expect("bo takes the later call");
    acd.log_in(agent("cy", &[("technical", 5)]), T0).unwrap();
    acd.ready("cy", at(6)).unwrap();
    // 21 s after the offer: Ann's offer expires; the call goes straight to Cy.
    let expired = acd.expire_offers(at(22), lease, AgentState::NotReady);
    assert_eq!(expired.len(), 1);
    let (call_id, _, next) = &expired[0];
    assert_eq!(&**call_id, "lost");
    assert_eq!(next.len(), 1, "reassigned at once");
    let next = &next[0];
    assert_eq!(
        (next.agent.profile.id.as_str(), next.call.arrived),
        ("cy", at(1))
    );
    let ann = acd.agent("ann").unwrap();
    assert_eq!(
        (ann.state(), ann.reason().as_deref(), ann.call()),
        (AgentState::NotReady, Some("offer_timeout"), None)
    );
    // Bo's offer is younger than the lease; a connected call never expires.
    acd.connected("cy", "lost", at(23)).unwrap();
    assert!(
        acd.expire_offers(at(24), lease, AgentState::NotReady)
            .is_empty()
    );
    assert!(
        acd.expire_offers(at(500), lease, AgentState::NotReady)
            .iter()
            .all(|(c, _, _)| &**c != "lost")
    );
}

#[test]
fn an_expired_agent_made_available_is_not_offered_the_call_they_let_expire() {
    use std::time::Duration;
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    acd.ready("ann", T0).unwrap();
    assigned(call(&acd, SUPPORT, "c1", 0, at(1)));
    acd.log_in(agent("bo", &[("technical", 5)]), T0).unwrap();
    acd.ready("bo", at(2)).unwrap();
    let expired = acd.expire_offers(at(30), Duration::from_secs(20), AgentState::Available);
    let next = expired[0].2.first().expect("reassigned");
    assert_eq!(next.agent.profile.id, "bo");
    assert_eq!(acd.agent("ann").unwrap().state(), AgentState::Available);
}

#[test]
fn wrap_up_ends_by_itself_after_the_queues_wrap_up_time() {
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    acd.ready("ann", T0).unwrap();
    assigned(call(&acd, SUPPORT, "c1", 0, at(1)));
    acd.connected("ann", "c1", at(2)).unwrap();
    acd.ended("ann", "c1", at(60)).unwrap();
    call(&acd, SUPPORT, "c2", 0, at(61));
    // The queue's wrap-up is 30 s: not yet at 89 s...
    assert!(acd.end_wrap_ups(at(89)).is_empty());
    assert_eq!(acd.agent("ann").unwrap().state(), AgentState::WrapUp);
    // ...at 90 s Ann is available again and takes the waiting call.
    let made = acd.end_wrap_ups(at(90));
    assert_eq!(made.len(), 1);
    assert_eq!(
        (&*made[0].call.call_id, made[0].agent.profile.id.as_str()),
        ("c2", "ann")
    );
    // An agent who stepped away during wrap-up stays away.
    acd.connected("ann", "c2", at(91)).unwrap();
    acd.ended("ann", "c2", at(92)).unwrap();
    acd.not_ready("ann", "break", at(93)).unwrap();
    assert!(acd.end_wrap_ups(at(500)).is_empty());
    assert_eq!(acd.agent("ann").unwrap().state(), AgentState::NotReady);
}

#[test]
fn friendly_chat_callers_get_rapport_agents_and_get_it_done_callers_the_most_skilled() {
    let acd = acd(Strategy::LongestIdle);
    let tagged = |id: &str, proficiency: u8, tags: &[&str]| AgentProfile {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        capacity: Default::default(),
        ..agent(id, &[("technical", proficiency)])
    };
    let place = |id: &str, preference: Preference, at_s: u64| {
        let call = WaitingCall {
            preference,
            ..waiting(id, 0, at(at_s))
        };
        assigned(acd.enqueue(SUPPORT, call, at(at_s)).unwrap())
            .agent
            .profile
            .id
            .clone()
    };
    let reset = |ids: &[&str], at_s: u64| {
        for id in ids {
            let a = acd.agent(id).unwrap();
            if let Some(call) = a.call() {
                acd.connected(id, &call, at(at_s)).unwrap();
                acd.ended(id, &call, at(at_s)).unwrap();
            }
        }
    };
    // Idle longest first: plain, then expert, then chatty.
    acd.log_in(tagged("plain", 4, &[]), T0).unwrap();
    acd.log_in(tagged("expert", 10, &["expert"]), T0).unwrap();
    acd.log_in(tagged("chatty", 5, &[RAPPORT]), T0).unwrap();
    for (i, id) in ["plain", "expert", "chatty"].iter().enumerate() {
        acd.ready(id, at(i as u64)).unwrap();
    }
    assert_eq!(place("chat", Preference::FriendlyChat, 10), "chatty");
    assert_eq!(place("done", Preference::GetItDone, 11), "expert");
    assert_eq!(place("plain-call", Preference::None, 12), "plain");
    // With no rapport agent idle, a friendly chat still gets someone.
    reset(&["chatty", "expert"], 13);
    acd.ready("expert", at(14)).unwrap();
    assert_eq!(place("chat-2", Preference::FriendlyChat, 15), "expert");
}

#[test]
fn a_call_kept_for_its_agent_waits_for_them_then_joins_the_queue() {
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    acd.log_in(agent("bo", &[("technical", 5)]), T0).unwrap();
    acd.ready("bo", T0).unwrap();
    // Ann served this caller last; she is not ready now, Bo is idle. The call waits for Ann.
    let p = acd
        .enqueue_for(SUPPORT, waiting("repeat", 0, at(1)), "ann", at(21), at(1))
        .unwrap();
    assert_eq!(position(p), 1);
    assert_eq!(acd.position("repeat"), Some(1));
    // Ann comes back within the time: the call is hers, before anything in her queues.
    call(&acd, SUPPORT, "other", 90, at(2));
    assert_eq!(acd.agent("bo").unwrap().call().as_deref(), Some("other"));
    let a = acd.ready("ann", at(5)).unwrap().pop().unwrap();
    assert_eq!(&*a.call.call_id, "repeat");

    // Another repeat caller for Ann, who does not come back: after the deadline the call
    // joins the queue with its arrival time and goes to whoever is free.
    acd.log_in(agent("cy", &[("technical", 5)]), T0).unwrap();
    acd.ready("cy", at(6)).unwrap();
    let p = acd
        .enqueue_for(SUPPORT, waiting("again", 0, at(10)), "ann", at(30), at(10))
        .unwrap();
    assert_eq!(position(p), 1);
    assert!(acd.expire_promises(at(29)).is_empty());
    let made = acd.expire_promises(at(30));
    assert_eq!(made.len(), 1);
    assert_eq!(
        (
            &*made[0].call.call_id,
            made[0].agent.profile.id.as_str(),
            made[0].call.arrived
        ),
        ("again", "cy", at(10))
    );
}

#[test]
fn a_call_kept_for_a_free_agent_goes_to_them_at_once_and_can_be_abandoned_while_kept() {
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    acd.log_in(agent("bo", &[("technical", 5)]), T0).unwrap();
    acd.ready("bo", T0).unwrap();
    acd.ready("ann", at(1)).unwrap();
    // Bo is idle longer, but the call is kept for Ann, who is free.
    let a = assigned(
        acd.enqueue_for(SUPPORT, waiting("r1", 0, at(2)), "ann", at(22), at(2))
            .unwrap(),
    );
    assert_eq!(a.agent.profile.id, "ann");
    // Kept for a logged-out agent: not kept at all.
    acd.log_in(agent("cy", &[("billing", 5)]), T0).unwrap();
    let a = assigned(
        acd.enqueue_for(SUPPORT, waiting("r2", 0, at(3)), "nobody", at(23), at(3))
            .unwrap(),
    );
    assert_eq!(a.agent.profile.id, "bo");
    // Nor for an agent who does not serve the queue.
    let p = acd
        .enqueue_for(SUPPORT, waiting("r3", 0, at(4)), "cy", at(24), at(4))
        .unwrap();
    assert_eq!(position(p), 1);
    assert!(acd.abandon("r3"));
    // An abandoned kept call is gone for good.
    let p = acd
        .enqueue_for(SUPPORT, waiting("r4", 0, at(5)), "ann", at(25), at(5))
        .unwrap();
    assert_eq!(position(p), 1);
    assert!(acd.abandon("r4"));
    assert!(!acd.abandon("r4"));
    assert!(acd.expire_promises(at(100)).is_empty());
    assert_eq!(acd.position("r4"), None);
}

/// Serves one call to completion (offer, connect, end) and readies the agent again.
fn serve(acd: &Acd, a: &Assignment, start: u64, busy_for: u64) {
    let id = a.agent.profile.id.clone();
    acd.connected(&id, &a.call.call_id, at(start)).unwrap();
    acd.ended(&id, &a.call.call_id, at(start + busy_for))
        .unwrap();
    acd.ready(&id, at(start + busy_for)).unwrap();
}

#[test]
fn round_robin_gives_each_idle_agent_a_turn_in_log_in_order() {
    let acd = acd(Strategy::RoundRobin);
    for id in ["ann", "bo", "cy"] {
        acd.log_in(agent(id, &[("technical", 5)]), T0).unwrap();
    }
    // Readied in reverse, so longest idle would pick Cy first.
    for (i, id) in ["cy", "bo", "ann"].iter().enumerate() {
        acd.ready(id, at(i as u64)).unwrap();
    }
    let mut order = Vec::new();
    for i in 0..6u64 {
        let a = assigned(call(&acd, SUPPORT, &format!("c{i}"), 0, at(10 + i * 10)));
        order.push(a.agent.profile.id.clone());
        serve(&acd, &a, 10 + i * 10, 1);
    }
    assert_eq!(order, ["ann", "bo", "cy", "ann", "bo", "cy"]);
}

#[test]
fn least_occupied_picks_the_agent_busy_for_the_smallest_share_of_their_time() {
    let acd = acd(Strategy::LeastOccupied);
    for id in ["busy", "calm"] {
        acd.log_in(agent(id, &[("technical", 5)]), T0).unwrap();
    }
    acd.ready("calm", T0).unwrap();
    acd.ready("busy", at(1)).unwrap();
    // Calm (idle longest) takes a short call, then Busy a long one.
    let a = assigned(call(&acd, SUPPORT, "short", 0, at(2)));
    assert_eq!(a.agent.profile.id, "calm");
    let b = assigned(call(&acd, SUPPORT, "long", 0, at(3)));
    assert_eq!(b.agent.profile.id, "busy");
    serve(&acd, &b, 3, 300);
    serve(&acd, &a, 2, 5);
    // Busy is now idle longer than Calm, but has spent far more of the day on calls.
    let c = assigned(call(&acd, SUPPORT, "next", 0, at(400)));
    assert_eq!(c.agent.profile.id, "calm");
}

#[test]
fn the_estimated_wait_follows_position_staffing_and_measured_handle_times() {
    use std::time::Duration;
    let acd = acd(Strategy::LongestIdle);
    // Nobody staffed: no honest estimate.
    assert_eq!(acd.estimated_wait(SUPPORT, 1), None);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    acd.log_in(agent("bo", &[("technical", 5)]), T0).unwrap();
    assert_eq!(
        acd.estimated_wait(SUPPORT, 1),
        None,
        "logged in but not ready is not staffed"
    );
    acd.ready("ann", T0).unwrap();
    acd.ready("bo", T0).unwrap();
    // Two staffed, the configured 180 s handle time: the 4th in line waits 4 x 180 / 2.
    assert_eq!(
        acd.estimated_wait(SUPPORT, 4),
        Some(Duration::from_secs(360))
    );
    // A 60 s call plus 30 s wrap-up pulls the average an eighth of the way to 90 s.
    let a = assigned(call(&acd, SUPPORT, "c1", 0, at(1)));
    acd.connected("ann", &a.call.call_id, at(10)).unwrap();
    acd.ended("ann", &a.call.call_id, at(70)).unwrap();
    assert_eq!(
        acd.average_handle_time(SUPPORT),
        Some(Duration::from_millis(180_000 - 22_500 + 11_250))
    );
}

#[test]
fn an_accepted_callback_keeps_its_place_and_is_assigned_as_a_callback() {
    let acd = acd(Strategy::LongestIdle);
    call(&acd, SUPPORT, "first", 0, T0);
    call(&acd, SUPPORT, "cb", 0, at(1));
    call(&acd, SUPPORT, "last", 0, at(2));
    assert!(acd.accept_callback("cb"));
    assert_eq!(acd.position("cb"), Some(2), "the place is kept");
    assert!(!acd.accept_callback("nobody"));
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    let first = acd.ready("ann", at(3)).unwrap().pop().unwrap();
    assert!(!first.call.callback);
    serve(&acd, &first, 3, 1);
    let cb = acd.agent("ann").unwrap().call().unwrap();
    assert_eq!(&*cb, "cb");
    assert!(acd.holder_of("cb").is_some());
    // Offered already: too late to accept a callback.
    assert!(!acd.accept_callback("cb"));
}

#[test]
fn a_transferred_call_keeps_its_arrival_time_in_its_new_queue() {
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    acd.ready("ann", T0).unwrap();
    let a = assigned(call(&acd, SUPPORT, "moved", 0, at(1)));
    // Offered but not connected: cannot move yet.
    assert_eq!(
        acd.transfer("moved", BILLING, at(2)).unwrap_err(),
        AcdError::IllegalTransition {
            from: "reserved",
            to: "transferred"
        }
    );
    acd.connected("ann", &a.call.call_id, at(2)).unwrap();
    // A billing call that arrived after "moved" but before the transfer.
    call(&acd, BILLING, "billing", 0, at(30));
    assert!(acd.transfer("moved", BILLING, at(60)).unwrap().is_none());
    assert_eq!(acd.agent("ann").unwrap().state(), AgentState::WrapUp);
    assert_eq!(
        acd.position("moved"),
        Some(1),
        "ahead of the later arrival, by its original time"
    );
    acd.log_in(agent("bill", &[("billing", 5)]), T0).unwrap();
    let next = acd.ready("bill", at(61)).unwrap().pop().unwrap();
    assert_eq!((&*next.call.call_id, next.call.arrived), ("moved", at(1)));
    // A waiting call moves too; an unknown call or queue is refused.
    assert!(acd.transfer("billing", SUPPORT, at(62)).unwrap().is_none());
    assert_eq!(acd.position("billing"), Some(1));
    assert_eq!(
        acd.transfer("nope", SUPPORT, at(63)).unwrap_err(),
        AcdError::NotHolding
    );
    assert_eq!(
        acd.transfer("billing", QueueId(7), at(63)).unwrap_err(),
        AcdError::UnknownQueue
    );
}

#[test]
fn calls_that_reach_max_wait_overflow_get_a_callback_offer_or_go_to_voicemail_once() {
    use crate::plan::MaxWaitAction;
    use std::time::Duration;
    let with = |name: &str, skill: &str, max: Option<(u64, MaxWaitAction)>| Queue {
        max_wait: max.map(|(s, a)| (Duration::from_secs(s), a)),
        ..spec(name, skill, Strategy::LongestIdle)
    };
    // support overflows to billing after 60 s; billing overflows back after 30 s; care
    // offers a callback after 45 s; desk sends callers to voicemail after 90 s.
    let acd = Acd::new(vec![
        with(
            "support",
            "technical",
            Some((60, MaxWaitAction::Overflow(BILLING))),
        ),
        with(
            "billing",
            "billing",
            Some((30, MaxWaitAction::Overflow(SUPPORT))),
        ),
        with("care", "general", Some((45, MaxWaitAction::Callback))),
        with("desk", "desk", Some((90, MaxWaitAction::Voicemail))),
    ]);
    let (care, desk) = (QueueId(2), QueueId(3));
    call(&acd, SUPPORT, "s", 0, T0);
    call(&acd, care, "c", 0, T0);
    call(&acd, desk, "d", 0, T0);
    assert!(acd.expire_waits(at(44)).is_empty());
    let kinds = |out: &[WaitExpired]| -> Vec<String> {
        out.iter()
            .map(|o| match o {
                WaitExpired::Overflowed { call_id, to, .. } => format!("{call_id}->{}", to.0),
                WaitExpired::OfferCallback { call, .. } => format!("{}:callback", call.call_id),
                WaitExpired::Voicemail { call, .. } => format!("{}:voicemail", call.call_id),
            })
            .collect()
    };
    assert_eq!(kinds(&acd.expire_waits(at(45))), ["c:callback"]);
    assert_eq!(
        acd.position("c"),
        Some(1),
        "a callback offer keeps the call in place"
    );
    assert_eq!(kinds(&acd.expire_waits(at(60))), ["s->1"]);
    assert_eq!(acd.position("s"), Some(1));
    // In billing it is far past 30 s, but a call meets its maximum wait only once.
    assert_eq!(kinds(&acd.expire_waits(at(90))), ["d:voicemail"]);
    assert_eq!(acd.position("d"), None);
    assert!(acd.expire_waits(at(500)).is_empty());
    // The overflowed call is served in billing with its first arrival time.
    acd.log_in(agent("bill", &[("billing", 5)]), T0).unwrap();
    let a = acd.ready("bill", at(501)).unwrap().pop().unwrap();
    assert_eq!((&*a.call.call_id, a.call.arrived), ("s", T0));
}

#[test]
fn an_agent_goes_not_ready_only_after_the_configured_number_of_missed_offers() {
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    acd.ready("ann", T0).unwrap();
    assigned(call(&acd, SUPPORT, "c1", 0, at(1)));
    // First miss of two allowed: Ann stays available, and (alone) is offered it again.
    let again = acd
        .no_answer("ann", "c1", 2, at(20))
        .unwrap()
        .pop()
        .expect("offered again");
    assert_eq!(
        (&*again.call.call_id, again.agent.profile.id.as_str()),
        ("c1", "ann")
    );
    // Second miss in a row: not ready, the call waits at the head.
    assert!(acd.no_answer("ann", "c1", 2, at(40)).unwrap().is_empty());
    let ann = acd.agent("ann").unwrap();
    assert_eq!(
        (ann.state(), ann.reason().as_deref()),
        (AgentState::NotReady, Some("no_answer"))
    );
    // Saying ready resets the count: one more miss is allowed again.
    let a = acd.ready("ann", at(50)).unwrap().pop().unwrap();
    assert!(
        acd.no_answer("ann", &a.call.call_id, 2, at(60))
            .unwrap()
            .len()
            == 1
    );
    assert_eq!(ann.state(), AgentState::Reserved);
}

#[test]
fn overflow_steps_widen_who_may_take_a_call_as_it_waits() {
    use crate::plan::OverflowStep;
    use std::time::Duration;
    // Support needs technical 3. After 60 s technical 1 will do; after 120 s billing's
    // agents may help too.
    let support = Queue {
        overflow: vec![
            OverflowStep {
                after: Duration::from_secs(60),
                min_proficiency: Some(1),
                also: vec![],
            },
            OverflowStep {
                after: Duration::from_secs(120),
                min_proficiency: None,
                also: vec![BILLING],
            },
        ],
        ..spec("support", "technical", Strategy::LongestIdle)
    };
    let acd = Acd::new(vec![
        support,
        spec("billing", "billing", Strategy::LongestIdle),
    ]);
    acd.log_in(agent("novice", &[("technical", 1)]), T0)
        .unwrap();
    acd.log_in(agent("biller", &[("billing", 5)]), T0).unwrap();
    call(&acd, SUPPORT, "c1", 0, T0);
    // Too early for either: readying returns at once with nothing.
    assert!(acd.ready("novice", at(10)).unwrap().is_empty());
    assert!(acd.ready("biller", at(10)).unwrap().is_empty());
    assert!(acd.offer_overflow(at(59)).is_empty());
    // At 60 s the novice may take it (the upkeep offers it).
    let made = acd.offer_overflow(at(60));
    assert_eq!(made.len(), 1);
    assert_eq!(
        (&*made[0].call.call_id, made[0].agent.profile.id.as_str()),
        ("c1", "novice")
    );
    // A second call: the biller may take it after 120 s, and takes it on readying.
    call(&acd, SUPPORT, "c2", 0, at(100));
    assert!(
        acd.offer_overflow(at(200)).is_empty(),
        "80 s: only technical agents, and none is free"
    );
    acd.not_ready("biller", "break", at(201)).unwrap();
    let a = acd
        .ready("biller", at(220))
        .unwrap()
        .pop()
        .expect("120 s waited");
    assert_eq!(&*a.call.call_id, "c2");
    // The biller weighs overflow calls against their own by effective priority.
    acd.connected("biller", "c2", at(221)).unwrap();
    acd.ended("biller", "c2", at(222)).unwrap();
    call(&acd, SUPPORT, "old-support", 0, at(230));
    acd.ready("biller", at(240)).unwrap();
    // A billing call at priority 500 outranks the support call's 170 s of aging...
    let b = assigned(call(&acd, BILLING, "billing-vip", 500, at(400)));
    assert_eq!(&*b.call.call_id, "billing-vip");
    acd.connected("biller", "billing-vip", at(401)).unwrap();
    acd.ended("biller", "billing-vip", at(402)).unwrap();
    // ...but a priority-50 one does not: the long-waiting support call goes first.
    call(&acd, BILLING, "billing-low", 50, at(403));
    let c = acd.ready("biller", at(404)).unwrap().pop().unwrap();
    assert_eq!(&*c.call.call_id, "old-support");
}

/// Arrivals, agents finishing calls and abandons race on several threads. Afterwards:
/// no call was assigned twice, every call was assigned, abandoned or is still waiting,
/// and no call waits while an agent sits available.
#[test]
fn concurrent_arrivals_readies_and_abandons_never_double_assign_or_strand_a_call() {
    const THREADS: usize = 4;
    const CALLS_PER_THREAD: usize = 2_000;
    let acd = Arc::new(acd(Strategy::LongestIdle));
    for i in 0..8 {
        acd.log_in(
            agent(&format!("a{i}"), &[("technical", 5), ("billing", 5)]),
            T0,
        )
        .unwrap();
    }
    let assigned_ids = Arc::new(Mutex::new(Vec::<String>::new()));
    let abandoned = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let acd = Arc::clone(&acd);
            let assigned_ids = Arc::clone(&assigned_ids);
            let abandoned = Arc::clone(&abandoned);
            thread::spawn(move || {
                let record = |a: Assignment| {
                    // The agent completes the call right away and looks for the next.
                    let id = a.agent.profile.id.clone();
                    assigned_ids
                        .lock()
                        .unwrap()
                        .push(a.call.call_id.to_string());
                    acd.connected(&id, &a.call.call_id, T0).unwrap();
                    acd.ended(&id, &a.call.call_id, T0).unwrap();
                    id
                };
                for i in 0..CALLS_PER_THREAD {
                    let id = format!("t{t}-c{i}");
                    let queue = if i % 3 == 0 { BILLING } else { SUPPORT };
                    if let Placed::Assigned(a) = call(&acd, queue, &id, (i % 7) as i32, T0) {
                        let mut agent = record(a);
                        // Another thread may have made the agent ready first (it saw them
                        // not ready before their first call): then it takes the next.
                        while let Some(next) = acd.ready(&agent, T0).ok().and_then(|mut v| v.pop())
                        {
                            agent = record(next);
                        }
                    }
                    if i % 5 == 0 && acd.abandon(&format!("t{t}-c{}", i / 2)) {
                        abandoned.fetch_add(1, Ordering::SeqCst);
                    }
                    // Agents that finished wrap-up come back now and then.
                    let name = format!("a{}", (i + t) % 8);
                    if acd.agent(&name).unwrap().state() == AgentState::NotReady {
                        let mut agent = name;
                        while let Some(next) = acd.ready(&agent, T0).ok().and_then(|mut v| v.pop())
                        {
                            agent = record(next);
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let ids = assigned_ids.lock().unwrap();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a call was assigned twice");
    let waiting = acd.waiting_in(SUPPORT) + acd.waiting_in(BILLING);
    assert_eq!(
        ids.len() + abandoned.load(Ordering::SeqCst) + waiting,
        THREADS * CALLS_PER_THREAD,
        "every call is assigned, abandoned or waiting"
    );
    let available = (0..8)
        .filter(|i| acd.agent(&format!("a{i}")).unwrap().state() == AgentState::Available)
        .count();
    assert!(
        waiting == 0 || available == 0,
        "{waiting} calls wait while {available} agents are available"
    );
    assert!(
        (0..8).all(|i| acd.agent(&format!("a{i}")).unwrap().state() != AgentState::Reserved),
        "no agent is stuck reserved"
    );
}

fn waiting_ids(acd: &Acd, queue: QueueId) -> Vec<String> {
    let mut ids = Vec::new();
    acd.at(queue).voice().visit(|_, c| {
        ids.push(c.call_id.to_string());
        true
    });
    ids
}

#[test]
fn a_reload_keeps_waiting_calls_in_order_and_adds_queues_after_the_others() {
    let acd = acd(Strategy::LongestIdle);
    call(&acd, SUPPORT, "s1", 0, at(0));
    call(&acd, SUPPORT, "s2", 10, at(5));
    call(&acd, BILLING, "b1", 0, at(1));
    let mut specs = vec![
        spec("support", "technical", Strategy::MostSkilled),
        spec("billing", "billing", Strategy::LongestIdle),
        spec("sales", "sales", Strategy::LongestIdle),
    ];
    specs[0].wrap_up = std::time::Duration::from_secs(5);
    let done = acd.reconfigure(&specs, None, at(10)).unwrap();
    assert!(done.assignments.is_empty() && done.moved.is_empty());
    assert_eq!(waiting_ids(&acd, SUPPORT), ["s2", "s1"]);
    assert_eq!(waiting_ids(&acd, BILLING), ["b1"]);
    assert_eq!(acd.at(SUPPORT).spec.load().strategy, Strategy::MostSkilled);
    // The new queue works like any other.
    let sales = QueueId(2);
    acd.log_in(agent("sam", &[("sales", 5)]), at(11)).unwrap();
    assert!(acd.ready("sam", at(11)).unwrap().is_empty());
    assert_eq!(
        assigned(call(&acd, sales, "x1", 0, at(12)))
            .agent
            .profile
            .id,
        "sam"
    );
}

#[test]
fn a_reload_that_lowers_a_skill_minimum_lets_an_idle_agent_take_a_waiting_call() {
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("junior", &[("technical", 1)]), at(0))
        .unwrap();
    acd.ready("junior", at(0)).unwrap();
    assert_eq!(position(call(&acd, SUPPORT, "s1", 0, at(1))), 1);
    let mut support = spec("support", "technical", Strategy::LongestIdle);
    support.skills = vec![("technical".into(), 1)];
    let done = acd
        .reconfigure(
            &[support, spec("billing", "billing", Strategy::LongestIdle)],
            None,
            at(2),
        )
        .unwrap();
    assert_eq!(done.assignments.len(), 1);
    assert_eq!(done.assignments[0].call.call_id.as_ref(), "s1");
    assert_eq!(done.assignments[0].agent.profile.id, "junior");
    assert!(acd.agent("junior").unwrap().serves(SUPPORT));
}

#[test]
fn a_removed_queue_moves_its_calls_to_the_fallback_with_their_arrival_times() {
    let acd = acd(Strategy::LongestIdle);
    call(&acd, BILLING, "b-early", 0, at(0));
    call(&acd, BILLING, "b-late", 0, at(30));
    call(&acd, SUPPORT, "s-mid", 0, at(10));
    let mut billing = spec("billing", "billing", Strategy::LongestIdle);
    billing.retired = true;
    let specs = [spec("support", "technical", Strategy::LongestIdle), billing];
    let done = acd.reconfigure(&specs, Some(SUPPORT), at(40)).unwrap();
    assert_eq!(done.moved.len(), 2);
    assert!(waiting_ids(&acd, BILLING).is_empty());
    // Same aging in both: the order is by arrival.
    assert_eq!(waiting_ids(&acd, SUPPORT), ["b-early", "s-mid", "b-late"]);
    assert_eq!(acd.position("b-late"), Some(3));
    // A billing agent serves nothing retired; a call sent there later goes to support.
    acd.log_in(agent("bill", &[("billing", 9)]), at(41))
        .unwrap();
    assert!(!acd.agent("bill").unwrap().serves(BILLING));
    assert_eq!(position(call(&acd, BILLING, "b-new", 0, at(42))), 4);
    assert_eq!(waiting_ids(&acd, SUPPORT).last().unwrap(), "b-new");
    // Abandons still find the moved calls.
    assert!(acd.abandon("b-early"));
    assert_eq!(waiting_ids(&acd, SUPPORT), ["s-mid", "b-late", "b-new"]);
}

#[test]
fn a_new_aging_rate_reorders_waiting_calls_as_if_it_had_always_applied() {
    let acd = acd(Strategy::LongestIdle);
    // Priority 100 arriving at 100 s against priority 0 waiting since 0 s: at 60 points a
    // minute the old call is 100 points behind and 100 s older, a tie broken by arrival.
    call(&acd, SUPPORT, "old", 0, at(0));
    call(&acd, SUPPORT, "vip", 100, at(100));
    assert_eq!(waiting_ids(&acd, SUPPORT), ["old", "vip"]);
    let mut slow = spec("support", "technical", Strategy::LongestIdle);
    slow.aging_per_minute = 6;
    let billing = spec("billing", "billing", Strategy::LongestIdle);
    acd.reconfigure(&[slow.clone(), billing.clone()], None, at(101))
        .unwrap();
    // At 6 points a minute 100 s of waiting is worth 10 points: the VIP goes first.
    assert_eq!(waiting_ids(&acd, SUPPORT), ["vip", "old"]);
    // Keys stay consistent: a new call lands by the new rate and abandons work.
    call(&acd, SUPPORT, "mid", 50, at(102));
    assert_eq!(waiting_ids(&acd, SUPPORT), ["vip", "mid", "old"]);
    assert!(acd.abandon("vip"));
    assert_eq!(acd.position("old"), Some(2));
}

#[test]
fn a_reload_that_renames_or_drops_a_queue_slot_is_refused() {
    let acd = acd(Strategy::LongestIdle);
    let err = acd
        .reconfigure(
            &[spec("support", "technical", Strategy::LongestIdle)],
            None,
            at(1),
        )
        .unwrap_err();
    assert_eq!(err, AcdError::QueuesMoved);
    let err = acd
        .reconfigure(
            &[
                spec("billing", "billing", Strategy::LongestIdle),
                spec("support", "technical", Strategy::LongestIdle),
            ],
            None,
            at(1),
        )
        .unwrap_err();
    assert_eq!(err, AcdError::QueuesMoved);
}

#[test]
fn a_calls_place_counted_from_the_nearer_end_is_its_place() {
    for len in 0..12 {
        let list = WaitList::default();
        let key = |n: i64| WaitKey {
            neg_key: n,
            seq: 0,
            lane: Lane::Voice,
        };
        for i in 0..len {
            list.insert(key(i * 10), waiting(&format!("c{i}"), 0, T0), 0);
            // Calls taken by others between them count for nothing.
            list.insert(key(i * 10 + 5), waiting(&format!("gone{i}"), 0, T0), 0);
            assert!(list.take(&key(i * 10 + 5)).is_some());
        }
        for i in 0..len {
            let place = usize::try_from(i).unwrap() + 1;
            assert_eq!(list.place_of(key(i * 10)), place, "{i} of {len}");
        }
    }
}

#[test]
fn the_staffed_count_follows_every_change_that_moves_it_and_only_those() {
    let acd = acd(Strategy::LongestIdle);
    assert_eq!(acd.staffed(SUPPORT), 0);
    acd.log_in(agent("ann", &[("technical", 5)]), at(0))
        .unwrap();
    acd.log_in(agent("bo", &[("technical", 2)]), at(0)).unwrap();
    // Logged in but not ready: not staffed.
    assert_eq!(acd.staffed(SUPPORT), 0);
    acd.ready("ann", at(1)).unwrap();
    assert_eq!(acd.staffed(SUPPORT), 1);
    // Read twice without a change: the kept count.
    assert_eq!(acd.staffed(SUPPORT), 1);
    // Taking a call keeps the agent staffed.
    let a = assigned(call(&acd, SUPPORT, "s1", 0, at(2)));
    acd.connected("ann", &a.call.call_id, at(3)).unwrap();
    assert_eq!(acd.staffed(SUPPORT), 1);
    acd.ended("ann", "s1", at(4)).unwrap();
    assert_eq!(acd.staffed(SUPPORT), 1);
    acd.not_ready("ann", "lunch", at(5)).unwrap();
    assert_eq!(acd.staffed(SUPPORT), 0);
    acd.ready("ann", at(6)).unwrap();
    assert_eq!(acd.staffed(SUPPORT), 1);
    // A reload that lowers the minimum brings Bo in (not ready still: not staffed until
    // he says ready).
    let mut support = spec("support", "technical", Strategy::LongestIdle);
    support.skills = vec![("technical".into(), 1)];
    acd.reconfigure(
        &[support, spec("billing", "billing", Strategy::LongestIdle)],
        None,
        at(7),
    )
    .unwrap();
    assert_eq!(acd.staffed(SUPPORT), 1);
    acd.ready("bo", at(8)).unwrap();
    assert_eq!(acd.staffed(SUPPORT), 2);
    acd.log_out("ann", at(9)).unwrap();
    assert_eq!(acd.staffed(SUPPORT), 1);
    assert_eq!(acd.staffed(BILLING), 0);
}

#[test]
fn idle_lists_stay_bounded_however_often_agents_cycle_and_empty_after_log_out() {
    let acd = acd(Strategy::LongestIdle);
    let mut rapport = agent("ann", &[("technical", 5), ("billing", 5)]);
    rapport.tags = vec![RAPPORT.into()];
    acd.log_in(rapport, T0).unwrap();
    acd.ready("ann", T0).unwrap();
    let entries = |q: QueueId| lock(&acd.at(q).idle).len();
    // Listed in both queues: in the strategy's order, by skill, and as rapport.
    assert_eq!((entries(SUPPORT), entries(BILLING)), (3, 3));
    // Offered calls in support only, so her billing entries go stale without a claim
    // meeting them; stepping away and back leaves more stale entries behind.
    for i in 0..2_000u64 {
        let a = assigned(call(&acd, SUPPORT, &format!("c{i}"), 0, at(1 + 3 * i)));
        // Hung up before the agent answered: the agent is idle again.
        acd.withdraw_offer(&a.call.call_id, at(2 + 3 * i)).unwrap();
        acd.not_ready("ann", "break", at(2 + 3 * i)).unwrap();
        acd.ready("ann", at(3 + 3 * i)).unwrap();
        // A sweep comes once the inserts since the last one pass half the map plus the
        // slack, so a map holds at most twice its one current entry, twice the slack
        // and one more.
        let bound = 3 * (2 + 2 * idle::SWEEP_SLACK + 1);
        assert!(
            entries(SUPPORT) <= bound && entries(BILLING) <= bound,
            "after call {i}: {} and {}",
            entries(SUPPORT),
            entries(BILLING)
        );
    }
    // The agent is still found, through the current entries.
    let a = assigned(call(&acd, BILLING, "last", 0, at(10_000)));
    assert_eq!(a.agent.profile.id, "ann");
    acd.withdraw_offer("last", at(10_001)).unwrap();
    acd.log_out("ann", at(10_002)).unwrap();
    assert_eq!((entries(SUPPORT), entries(BILLING)), (0, 0));
}

#[test]
fn a_reload_that_changes_the_strategy_reorders_agents_already_idle() {
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("waited-longest", &[("technical", 4)]), T0)
        .unwrap();
    acd.log_in(agent("expert", &[("technical", 10)]), T0)
        .unwrap();
    acd.ready("waited-longest", at(1)).unwrap();
    acd.ready("expert", at(50)).unwrap();
    acd.reconfigure(
        &[
            spec("support", "technical", Strategy::MostSkilled),
            spec("billing", "billing", Strategy::MostSkilled),
        ],
        None,
        at(55),
    )
    .unwrap();
    let a = assigned(call(&acd, SUPPORT, "c1", 0, at(60)));
    assert_eq!(a.agent.profile.id, "expert");
    let b = assigned(call(&acd, SUPPORT, "c2", 0, at(61)));
    assert_eq!(b.agent.profile.id, "waited-longest");
    assert!(matches!(
        call(&acd, SUPPORT, "c3", 0, at(62)),
        Placed::Waiting { position: 1 }
    ));
}

#[test]
fn an_agent_who_steps_away_while_listed_idle_is_not_offered_calls() {
    let acd = acd(Strategy::MostSkilled);
    acd.log_in(agent("expert", &[("technical", 10)]), T0)
        .unwrap();
    acd.log_in(agent("junior", &[("technical", 3)]), T0)
        .unwrap();
    acd.ready("expert", at(1)).unwrap();
    acd.ready("junior", at(2)).unwrap();
    acd.not_ready("expert", "meeting", at(3)).unwrap();
    let a = assigned(call(&acd, SUPPORT, "c1", 0, at(4)));
    assert_eq!(a.agent.profile.id, "junior");
    assert!(matches!(
        call(&acd, SUPPORT, "c2", 0, at(5)),
        Placed::Waiting { position: 1 }
    ));
    // Back, they take the waiting call, and are listed again after it.
    let b = acd
        .ready("expert", at(6))
        .unwrap()
        .pop()
        .expect("c2 was waiting");
    assert_eq!(b.call.call_id.as_ref(), "c2");
}

#[test]
fn the_waiting_count_rules_read_follows_every_change_to_the_queue() {
    use crate::condition::LiveQueues;
    let acd = acd(Strategy::LongestIdle);
    let seen = |acd: &Acd| (LiveQueues::waiting(acd, SUPPORT), acd.waiting_in(SUPPORT));
    for i in 0..3u64 {
        call(&acd, SUPPORT, &format!("s{i}"), 0, at(i));
    }
    assert_eq!(seen(&acd), (3, 3));
    assert!(acd.abandon("s1"));
    assert_eq!(seen(&acd), (2, 2));
    acd.log_in(agent("ann", &[("technical", 5)]), at(5))
        .unwrap();
    let a = acd.ready("ann", at(6)).unwrap().pop().expect("s0 waits");
    assert_eq!(seen(&acd), (1, 1));
    // Not answered: back at the head.
    acd.no_answer("ann", &a.call.call_id, 1, at(7)).unwrap();
    assert_eq!(seen(&acd), (2, 2));
    acd.transfer("s2", BILLING, at(8)).unwrap();
    assert_eq!(seen(&acd), (1, 1));
    assert_eq!(LiveQueues::waiting(&acd, BILLING), 1);
}

#[test]
fn agents_put_back_after_a_restart_keep_their_time_in_state_and_idle_order() {
    // Before the restart: bea has been idle since 10 s, ann since 20 s.
    let before = acd(Strategy::LongestIdle);
    before
        .log_in(agent("ann", &[("technical", 5)]), T0)
        .unwrap();
    before
        .log_in(agent("bea", &[("technical", 5)]), T0)
        .unwrap();
    before.ready("bea", at(10)).unwrap();
    before.ready("ann", at(20)).unwrap();
    let images: Vec<AgentImage> = ["ann", "bea"]
        .iter()
        .map(|id| before.agent_image(id).unwrap())
        .collect();

    // The restart puts them back and looks for work for each (there is none).
    let after = acd(Strategy::LongestIdle);
    for image in images {
        after.restore_agent(image);
    }
    after.order_members();
    assert!(after.offer_idle(at(60)).is_empty());
    assert_eq!(after.agent("bea").unwrap().since(), at(10));
    assert_eq!(after.agent("ann").unwrap().since(), at(20));
    // The longest idle takes the next call, as before the restart.
    let a = assigned(call(&after, SUPPORT, "c1", 0, at(61)));
    assert_eq!(a.agent.profile.id, "bea");
}

#[test]
fn an_empty_claim_costs_an_idle_agent_neither_time_in_state_nor_place() {
    let acd = acd(Strategy::LongestIdle);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    acd.log_in(agent("bea", &[("technical", 5)]), T0).unwrap();
    acd.ready("ann", at(10)).unwrap();
    acd.ready("bea", at(20)).unwrap();
    // The once-a-second look for idle agents' work finds nothing for anyone.
    assert!(acd.offer_idle(at(30)).is_empty());
    assert!(acd.offer_overflow(at(31)).is_empty());
    assert_eq!(acd.agent("ann").unwrap().since(), at(10));
    assert_eq!(acd.agent("bea").unwrap().since(), at(20));
    assert_eq!(
        assigned(call(&acd, SUPPORT, "c1", 0, at(40)))
            .agent
            .profile
            .id,
        "ann"
    );
}

#[test]
fn a_closed_queue_sends_its_calls_on_follows_closed_targets_and_stops_at_a_loop() {
    let (support, billing) = (QueueId(0), QueueId(1));
    let acd = Acd::new(vec![
        Queue {
            when_closed: Some(billing),
            ..spec("support", "technical", Strategy::LongestIdle)
        },
        Queue {
            when_closed: Some(support),
            ..spec("billing", "billing", Strategy::LongestIdle)
        },
    ]);
    let t0 = at(0);
    call(&acd, support, "s1", 10, t0);
    call(&acd, support, "s2", 10, at(1));
    assert_eq!(acd.closed_route(support), None, "open");

    // Closing support moves its calls to billing, in order and with their arrival.
    let moved = acd.close(support, "outage", at(5)).unwrap();
    assert_eq!(moved.len(), 2);
    assert!(moved.iter().all(|m| matches!(
        m,
        WaitExpired::Overflowed { from, to, assignment: None, .. } if *from == support && *to == billing
    )));
    assert_eq!(
        acd.closed(support).as_deref().map(String::as_str),
        Some("outage")
    );
    assert_eq!(acd.closed_route(support), Some(Some(billing)));
    let view = acd.waiting_view(billing, 10);
    let ids: Vec<&str> = view.first.iter().map(|(c, _)| &*c.call_id).collect();
    assert_eq!(ids, ["s1", "s2"]);
    assert_eq!(view.oldest, Some(t0));

    // Both closed, each pointing at the other: voicemail rather than a loop.
    let out = acd.close(billing, "", at(6)).unwrap();
    assert!(
        out.iter()
            .all(|o| matches!(o, WaitExpired::Voicemail { .. })),
        "{out:?}"
    );
    assert_eq!(out.len(), 2);
    assert_eq!(acd.closed_route(support), Some(None));
    // A call that reaches a closed queue later is swept on by the upkeep.
    call(&acd, billing, "late", 10, at(7));
    let swept = acd.drain_closed(at(8));
    assert!(
        matches!(&swept[..], [WaitExpired::Voicemail { call, .. }] if &*call.call_id == "late")
    );
    assert_eq!(acd.waiting_in(billing), 0);

    assert!(acd.open(support).unwrap());
    assert!(!acd.open(support).unwrap(), "open already");
    assert_eq!(acd.closed_route(billing), Some(Some(support)));
}

mod callbacks;
mod lanes;
