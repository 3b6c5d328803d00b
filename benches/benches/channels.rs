//! Queue operations with every channel on the floor, side by side with voice only: two
//! floors of 50 queues, 5,000 agents and 1,000 waiting contacts (see
//! `switchboard_benches::floor`), one where everything is a voice call and every agent
//! takes one, one where the waiting contacts are voice, chat, email and social in turn,
//! agents may hold several under the shipped cross-channel rules, and idle agents are
//! listed in four lanes.
//!
//! `cargo bench --bench channels` (add `-- --quick` for a fast look)

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use switchboard_benches::floor::{self, BUSY_QUEUE, Floor, IDLE_QUEUE, NOW, WAITING};
use switchboard_core::{
    Directory, Router,
    acd::{Acd, AgentProfile, Placed, WaitingCall},
    caller::Channel,
    capacity::Limits,
};

/// The daemon's allocator, so figures are the daemon's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn each(iters: u64, mut f: impl FnMut(u64) -> Duration) -> Duration {
    (0..iters).map(&mut f).sum()
}

fn contact(id: String, channel: Channel, priority: i32) -> WaitingCall {
    WaitingCall {
        channel,
        ..floor::call(&id, priority, NOW)
    }
}

/// A floor, with two agents away who serve 10 queues of waiting contacts: `ready-voice`
/// takes voice calls only, `ready-chat` one chat.
fn staffed(kind: &Floor, mixed: bool) -> Router {
    let router = Router::new(floor::plan(), Arc::new(Directory::new()));
    let acd = router.acd();
    if mixed {
        acd.set_lane_rules(floor::mixed_rules(), NOW);
    }
    floor::staff_with(acd, kind);
    for (id, capacity) in [("ready-voice", [1, 0, 0, 0]), ("ready-chat", [0, 1, 0, 0])] {
        let profile = AgentProfile {
            capacity: Limits(capacity),
            ..floor::agent(id.into(), 10..15)
        };
        acd.log_in(profile, NOW).unwrap();
        assert_eq!(acd.agent(id).unwrap().serving().len(), 10);
    }
    router
}

fn benches(c: &mut Criterion) {
    let voice = staffed(&Floor::VOICE, false);
    let mixed = staffed(&Floor::MIXED, true);
    let cases: [(&str, &Acd, Channel); 3] = [
        ("voice_floor/voice", voice.acd(), Channel::Voice),
        ("mixed_floor/voice", mixed.acd(), Channel::Voice),
        ("mixed_floor/chat", mixed.acd(), Channel::Chat),
    ];

    // A contact arrives at a queue with idle agents and meets one at once. Undone
    // (untimed) by the customer leaving before the agent answers.
    let mut g = c.benchmark_group("channels/enqueue_immediate_match");
    for (name, acd, channel) in cases {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                each(iters, |i| {
                    let call = contact(format!("now-{i}"), channel, 0);
                    let (placed, took) = timed(|| acd.enqueue(IDLE_QUEUE, call, NOW));
                    let Placed::Assigned(a) = placed.unwrap() else {
                        panic!("an idle agent with room");
                    };
                    let mut next = acd.withdraw_offer(&a.call.call_id, NOW).unwrap();
                    while let Some(a) = next.pop() {
                        next.extend(acd.withdraw_offer(&a.call.call_id, NOW).unwrap());
                    }
                    took
                })
            })
        });
    }
    g.finish();

    // A contact arrives at a queue whose agents have no room and waits behind the
    // others of its lane. Undone (untimed) by the customer leaving.
    let mut g = c.benchmark_group("channels/enqueue_waits");
    for (name, acd, channel) in cases {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                each(iters, |i| {
                    let call = contact(format!("later-{i}"), channel, 10);
                    let id = Arc::clone(&call.call_id);
                    let (placed, took) = timed(|| acd.enqueue(BUSY_QUEUE, call, NOW));
                    assert!(matches!(placed.unwrap(), Placed::Waiting { .. }));
                    assert!(acd.abandon(&id));
                    took
                })
            })
        });
    }
    g.finish();

    // An agent serving 10 queues of waiting contacts says ready and takes the best of
    // their lane across them. Undone (untimed) by the agent not answering: the contact
    // goes back to the head of its lane, the agent away.
    let mut g = c.benchmark_group("channels/agent_ready_best_of_10_queues");
    for (name, acd, channel) in cases {
        let agent = if channel == Channel::Voice {
            "ready-voice"
        } else {
            "ready-chat"
        };
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                each(iters, |_| {
                    let (offered, took) = timed(|| acd.ready(agent, NOW));
                    let offered = offered.unwrap();
                    assert_eq!(offered.len(), 1, "one unit of room: one contact");
                    acd.no_answer(agent, &offered[0].call.call_id, 1, NOW)
                        .unwrap();
                    took
                })
            })
        });
    }
    g.finish();
    for acd in [voice.acd(), mixed.acd()] {
        assert_eq!(acd.waiting_in(BUSY_QUEUE), WAITING / 20, "the floor moved");
    }
}

criterion_group!(channels, benches);
criterion_main!(channels);
