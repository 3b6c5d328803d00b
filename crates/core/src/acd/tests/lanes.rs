//! Chats, emails and social items beside voice: capacity per lane, the cross-channel
//! rules and the desk's one state.

use super::*;
use crate::acd::lanes::{LaneSet, Limits};

fn multi(id: &str, limits: [u8; LANES]) -> AgentProfile {
    AgentProfile {
        capacity: Limits(limits),
        ..agent(id, &[("technical", 5)])
    }
}

fn item(id: &str, channel: Channel, arrived: Millis) -> WaitingCall {
    WaitingCall {
        channel,
        ..waiting(id, 0, arrived)
    }
}

/// Voice blocks chats and emails; chats and emails mix up to 4.
fn rules() -> LaneRules {
    let mut blocks = [LaneSet::default(); LANES];
    blocks[Lane::Voice.index()] = LaneSet::of(&[Lane::Chat, Lane::Email]);
    LaneRules {
        blocks,
        mixes: vec![(LaneSet::of(&[Lane::Chat, Lane::Email]), 4)],
    }
}

fn floor(limits: [u8; LANES]) -> Acd {
    let acd = acd(Strategy::LongestIdle);
    acd.set_lane_rules(rules(), T0);
    acd.log_in(multi("ann", limits), T0).unwrap();
    acd.ready("ann", T0).unwrap();
    acd
}

fn enqueue(acd: &Acd, id: &str, channel: Channel, at: Millis) -> Placed {
    acd.enqueue(SUPPORT, item(id, channel, at), at).unwrap()
}

#[test]
fn an_agent_with_two_chats_gets_a_third_and_not_a_fourth() {
    let acd = floor([1, 3, 5, 0]);
    for (i, id) in ["c1", "c2", "c3"].into_iter().enumerate() {
        let a = assigned(enqueue(&acd, id, Channel::Chat, at(i as u64)));
        assert_eq!(a.agent.profile.id, "ann");
        acd.connected("ann", id, at(i as u64)).unwrap();
    }
    assert_eq!(position(enqueue(&acd, "c4", Channel::Chat, at(5))), 1);
    assert_eq!(acd.agent("ann").unwrap().held(), [0, 3, 0, 0]);
    // The agent is still available for a voice call: chats do not block it.
    let v = assigned(enqueue(&acd, "v1", Channel::Voice, at(6)));
    assert_eq!(v.agent.profile.id, "ann");
    // One chat ends and its wrap-up is over, but the agent is on a voice call now, and
    // voice blocks chats: the fourth chat waits until the voice work is over.
    acd.connected("ann", "v1", at(6)).unwrap();
    acd.ended("ann", "c1", at(10)).unwrap();
    assert!(
        acd.end_wrap_ups(at(40)).is_empty(),
        "voice blocks new chats"
    );
    assert_eq!(acd.agent("ann").unwrap().held(), [1, 2, 0, 0]);
    acd.ended("ann", "v1", at(50)).unwrap();
    let made = acd.end_wrap_ups(at(80));
    assert_eq!(made.len(), 1, "the waiting chat, once voice work is over");
    assert_eq!(&*made[0].call.call_id, "c4");
    assert_eq!(acd.agent("ann").unwrap().held(), [0, 3, 0, 0]);
}

#[test]
fn an_agent_on_a_call_gets_no_chat_when_voice_blocks_chats() {
    let acd = floor([1, 3, 5, 0]);
    assigned(enqueue(&acd, "v1", Channel::Voice, T0));
    assert_eq!(position(enqueue(&acd, "c1", Channel::Chat, at(1))), 1);
    assert_eq!(position(enqueue(&acd, "e1", Channel::Email, at(1))), 1);
    acd.connected("ann", "v1", at(2)).unwrap();
    acd.ended("ann", "v1", at(3)).unwrap();
    // Wrap-up still counts as the voice call's.
    assert!(acd.end_wrap_ups(at(10)).is_empty());
    let made: Vec<String> = acd
        .end_wrap_ups(at(33))
        .iter()
        .map(|a| a.call.call_id.to_string())
        .collect();
    assert_eq!(made, ["c1", "e1"]);
}

#[test]
fn a_voice_call_waits_for_an_agent_whose_chats_block_voice_and_mixes_cap_the_total() {
    let acd = acd(Strategy::LongestIdle);
    let mut r = rules();
    r.blocks[Lane::Chat.index()] = LaneSet::of(&[Lane::Voice]);
    acd.set_lane_rules(r, T0);
    acd.log_in(multi("ann", [1, 3, 5, 0]), T0).unwrap();
    acd.ready("ann", T0).unwrap();
    assigned(enqueue(&acd, "c1", Channel::Chat, T0));
    assert_eq!(position(enqueue(&acd, "v1", Channel::Voice, at(1))), 1);
    for i in 0..3 {
        assigned(enqueue(&acd, &format!("e{i}"), Channel::Email, at(2)));
    }
    // One chat and three emails: the mix of four is full, though email allows five.
    assert_eq!(position(enqueue(&acd, "e3", Channel::Email, at(3))), 1);
    assert_eq!(acd.agent("ann").unwrap().held(), [0, 1, 3, 0]);
    // The chat is withdrawn (the customer left): the chat block on voice lifts, and the
    // freed agent takes the voice call first; voice then blocks email, so e3 waits.
    let made = acd.withdraw_offer("c1", at(4)).unwrap();
    let ids: Vec<&str> = made.iter().map(|a| &*a.call.call_id).collect();
    assert_eq!(ids, ["v1"]);
    assert_eq!(acd.agent("ann").unwrap().held(), [1, 0, 3, 0]);
    assert_eq!(acd.position("e3"), Some(1));
}

#[test]
fn not_ready_stops_every_lane_and_ready_takes_what_waited() {
    let acd = floor([1, 3, 5, 2]);
    acd.not_ready("ann", "break", T0).unwrap();
    assert_eq!(position(enqueue(&acd, "c1", Channel::Chat, at(1))), 1);
    assert_eq!(position(enqueue(&acd, "s1", Channel::Social, at(2))), 1);
    assert_eq!(position(enqueue(&acd, "v1", Channel::Voice, at(3))), 1);
    let ids: Vec<String> = acd
        .ready("ann", at(4))
        .unwrap()
        .iter()
        .map(|a| a.call.call_id.to_string())
        .collect();
    // Voice first; voice then blocks chats; social is not blocked.
    assert_eq!(ids, ["v1", "s1"]);
}

#[test]
fn an_offered_chat_not_answered_goes_back_to_the_head_and_to_another_agent() {
    let acd = floor([1, 2, 0, 0]);
    acd.log_in(multi("bo", [1, 2, 0, 0]), T0).unwrap();
    acd.ready("bo", at(1)).unwrap();
    let first = assigned(enqueue(&acd, "c1", Channel::Chat, at(2)));
    assert_eq!(first.agent.profile.id, "ann", "longest with room");
    let next = acd.no_answer("ann", "c1", 2, at(3)).unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].agent.profile.id, "bo");
    assert_eq!(acd.agent("ann").unwrap().held(), [0, 0, 0, 0]);
    // An agent holding chats cannot log out.
    acd.connected("bo", "c1", at(4)).unwrap();
    assert!(acd.log_out("bo", at(5)).is_err());
}

#[test]
fn chats_spread_over_agents_before_anyone_takes_a_second() {
    let acd = floor([1, 3, 0, 0]);
    acd.log_in(multi("bo", [1, 3, 0, 0]), T0).unwrap();
    acd.ready("bo", at(1)).unwrap();
    let who: Vec<String> = (0..4)
        .map(|i| {
            assigned(enqueue(&acd, &format!("c{i}"), Channel::Chat, at(2 + i)))
                .agent
                .profile
                .id
                .clone()
        })
        .collect();
    assert_eq!(who, ["ann", "bo", "ann", "bo"]);
}

/// Voice calls, chats, emails and social posts arrive, are answered, end and are
/// abandoned on several threads while wrap-ups end. Every claim is checked as it is made
/// (an agent's counts, read at any instant, are within their limits and the mix), and
/// afterwards: nothing was assigned twice, every contact was assigned, abandoned or waits,
/// and nothing waits while an agent has room for it.
#[test]
fn mixed_channels_on_several_threads_never_double_claim_or_overfill_an_agent() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 1_500;
    const AGENTS: usize = 8;
    let acd = Arc::new(acd(Strategy::LongestIdle));
    acd.set_lane_rules(rules(), T0);
    let limits = Limits([1, 3, 2, 1]);
    for i in 0..AGENTS {
        acd.log_in(
            AgentProfile {
                capacity: limits,
                ..agent(&format!("a{i}"), &[("technical", 5), ("billing", 5)])
            },
            T0,
        )
        .unwrap();
        acd.ready(&format!("a{i}"), T0).unwrap();
    }
    let assigned_ids = Arc::new(Mutex::new(Vec::<String>::new()));
    let abandoned = Arc::new(AtomicUsize::new(0));
    let record = {
        let acd = Arc::clone(&acd);
        let assigned_ids = Arc::clone(&assigned_ids);
        move |made: Vec<Assignment>, now: Millis| {
            for a in made {
                let held = a.agent.held();
                assert!(
                    (0..LANES).all(|l| held[l] <= limits.0[l]),
                    "{} holds {held:?} over {limits:?}",
                    a.agent.profile.id
                );
                assert!(
                    held[1] + held[2] <= 4,
                    "chats and emails over the mix: {held:?}"
                );
                assigned_ids
                    .lock()
                    .unwrap()
                    .push(a.call.call_id.to_string());
                let id = a.agent.profile.id.clone();
                if let Err(e) = acd.connected(&id, &a.call.call_id, now) {
                    panic!(
                        "{e}: {} {:?} to {id}: state {:?} call {:?} items {:?} held {:?} holder {:?}",
                        a.call.call_id,
                        a.call.channel,
                        a.agent.state(),
                        a.agent.call(),
                        a.agent
                            .items()
                            .iter()
                            .map(|i| (i.call.call_id.to_string(), i.stage))
                            .collect::<Vec<_>>(),
                        a.agent.held(),
                        acd.holder_of(&a.call.call_id).map(|h| h.profile.id.clone()),
                    );
                }
                acd.ended(&id, &a.call.call_id, now).unwrap();
            }
        }
    };
    let channels = [
        Channel::Voice,
        Channel::Chat,
        Channel::Email,
        Channel::Social,
    ];
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let acd = Arc::clone(&acd);
            let abandoned = Arc::clone(&abandoned);
            let record = record.clone();
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let now = at(i as u64 * 10);
                    let queue = if i % 3 == 0 { BILLING } else { SUPPORT };
                    let mut contact = item(&format!("t{t}-c{i}"), channels[(i + t) % 4], now);
                    contact.priority = (i % 7) as i32;
                    if let Placed::Assigned(a) = acd.enqueue(queue, contact, now).unwrap() {
                        record(vec![a], now);
                    }
                    if i % 5 == 0 && acd.abandon(&format!("t{t}-c{}", i / 2)) {
                        abandoned.fetch_add(1, Ordering::SeqCst);
                    }
                    if i % 4 == t {
                        record(acd.end_wrap_ups(now), now);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // Every wrap-up ends; the agents take what waits until nothing fits.
    let mut later = at(PER_THREAD as u64 * 10);
    loop {
        later = Millis(later.0 + 60_000);
        let made = acd.end_wrap_ups(later);
        if made.is_empty() {
            break;
        }
        record(made, later);
    }
    let ids = assigned_ids.lock().unwrap();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a contact was assigned twice");
    let waiting = acd.waiting_in(SUPPORT) + acd.waiting_in(BILLING);
    assert_eq!(
        ids.len() + abandoned.load(Ordering::SeqCst) + waiting,
        THREADS * PER_THREAD,
        "every contact is assigned, abandoned or waiting"
    );
    assert_eq!(waiting, 0, "with every unit back, nothing is left waiting");
    for i in 0..AGENTS {
        let a = acd.agent(&format!("a{i}")).unwrap();
        assert_eq!(a.held(), [0; LANES], "a{i} holds nothing at the end");
        assert_eq!(a.state(), AgentState::Available);
    }
}

/// One unit shared by chats and emails (a mix of 1): when it frees, the work that has
/// used the larger share of its standard goes first (chat 60 s, email 8 h here), so a
/// stream of chats does not keep an email past its promise, nor an old email a chat.
#[test]
fn under_a_mix_the_work_furthest_into_its_standard_takes_the_freed_unit() {
    let acd = acd(Strategy::LongestIdle);
    let mut r = LaneRules::default();
    r.mixes.push((LaneSet::of(&[Lane::Chat, Lane::Email]), 1));
    acd.set_lane_rules(r, T0);
    acd.set_standards(vec![[60_000, 60_000, 8 * 3_600_000, 60_000]]);
    acd.log_in(multi("ann", [0, 3, 5, 0]), T0).unwrap();
    acd.ready("ann", T0).unwrap();
    assigned(enqueue(&acd, "c0", Channel::Chat, T0));
    assert_eq!(position(enqueue(&acd, "e1", Channel::Email, T0)), 1);
    assert_eq!(position(enqueue(&acd, "c1", Channel::Chat, at(10))), 1);
    acd.connected("ann", "c0", at(11)).unwrap();
    acd.ended("ann", "c0", at(20)).unwrap();
    // At 50 s the email has used 0.2% of its 8 hours, the chat 40 s of its 60: the chat.
    let made = acd.end_wrap_ups(at(50));
    assert_eq!(made.len(), 1);
    assert_eq!(&*made[0].call.call_id, "c1");
    acd.connected("ann", "c1", at(51)).unwrap();
    // Four hours later (50% of the email's standard), a chat 10 s old (17%): the email.
    let four_hours = 4 * 3_600;
    acd.ended("ann", "c1", at(four_hours)).unwrap();
    assert_eq!(
        position(enqueue(&acd, "c2", Channel::Chat, at(four_hours + 20))),
        1
    );
    let made = acd.end_wrap_ups(at(four_hours + 30));
    assert_eq!(made.len(), 1);
    assert_eq!(&*made[0].call.call_id, "e1");
}

#[test]
fn a_chats_estimated_wait_counts_every_chat_the_staffed_agents_may_hold_and_the_chats_own_handle_time()
 {
    // Ann may hold 3 chats, Bo 5 but the mix with email caps him at 4: 7 chat units.
    // Handle time starts at the queue's 180 s for every lane.
    let acd = floor([1, 3, 5, 0]);
    acd.log_in(multi("bo", [0, 5, 5, 0]), T0).unwrap();
    acd.ready("bo", T0).unwrap();
    assert_eq!(acd.staffed(SUPPORT), 2);
    // Bo takes no calls: one agent for voice estimates.
    assert_eq!(acd.staffed_units(SUPPORT, Lane::Voice), 1);
    assert_eq!(acd.staffed_units(SUPPORT, Lane::Chat), 7);
    assert_eq!(acd.staffed_units(SUPPORT, Lane::Social), 0);
    let secs = |s: u64| Some(std::time::Duration::from_secs(s));
    assert_eq!(acd.estimated_wait_in(SUPPORT, Lane::Chat, 7), secs(180));
    assert_eq!(acd.estimated_wait_in(SUPPORT, Lane::Voice, 1), secs(180));
    assert_eq!(acd.estimated_wait_in(SUPPORT, Lane::Social, 1), None);
    // A chat handled in 20 s (talk, plus the 30 s wrap-up) moves the chat lane's average
    // by an eighth, and leaves voice's as it was.
    assigned(enqueue(&acd, "c1", Channel::Chat, at(0)));
    let holder = acd.holder_of("c1").unwrap().profile.id.clone();
    acd.connected(&holder, "c1", at(0)).unwrap();
    acd.ended(&holder, "c1", at(20)).unwrap();
    let chat_aht = 180_000 - 180_000 / 8 + 50_000 / 8;
    assert_eq!(
        acd.estimated_wait_in(SUPPORT, Lane::Chat, 7),
        Some(std::time::Duration::from_millis(chat_aht))
    );
    assert_eq!(acd.estimated_wait_in(SUPPORT, Lane::Voice, 1), secs(180));
    // Bo steps away: his units no longer count.
    acd.not_ready("bo", "break", at(30)).unwrap();
    assert_eq!(acd.staffed_units(SUPPORT, Lane::Chat), 3);
}
