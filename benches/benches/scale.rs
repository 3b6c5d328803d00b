//! The hot path at a big contact center's scale, on one thread and on two at once:
//! 1,000,000 customers, a config of 200 rules and 50 queues, 5,000 agents logged in and
//! 1,000 calls waiting.
//!
//! `cargo bench --bench scale` (add `-- --quick` for a fast look)
//!
//! The floor, as a switch would find it at a busy hour:
//! - queues `q010`-`q019` and `q030`-`q039` (skills 10-19) hold the 1,000 waiting calls,
//!   50 each, and every agent with those skills is on a call;
//! - the other 30 queues (skills 0-9) have nobody waiting and idle agents;
//! - a few hundred agents are not ready.
//!
//! Each group runs on one thread and then on two threads at once. A two-thread figure is
//! the time of one operation as one of the two threads saw it, with the other working
//! the same structure: equal to the one-thread figure means no contention, and twice it
//! means the threads took turns. Operations that must be undone to keep the floor steady
//! (a call taken by an agent, say) are timed one by one and the undoing is left out.

use std::{
    hint::black_box,
    sync::{Arc, Barrier},
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use switchboard_benches::{large_config, synthetic};
use switchboard_config::{ConfigFiles, customers};
use switchboard_core::{
    Directory, E164, Millis, Preference, Router, TierId,
    acd::{AgentProfile, Placed, WaitingCall},
    plan::QueueId,
    router::{CallRequest, Channel},
};

const CUSTOMERS: u64 = 1_000_000;
const QUEUES: usize = 50;
const RULES: usize = 200;
/// Agents on calls (skills 10-19), idle (skills 0-9) and not ready (mixed).
const BUSY: usize = 3_000;
const IDLE: usize = 1_500;
const AWAY: usize = 500;
const WAITING: usize = 1_000;
const NOW: Millis = Millis(1_800_000_000_000);
const MAIN_LINE: &str = "+18005550100";
const PLATINUM_LINE: &str = "+18005550199";

/// A queue with idle agents and nobody waiting (skill 0, longest idle).
const IDLE_QUEUE: QueueId = QueueId(0);
/// A queue with 50 calls waiting and every agent busy (skill 10).
const BUSY_QUEUE: QueueId = QueueId(10);

struct Floor {
    router: Router,
    /// Numbers of known customers, spread over the directory.
    known: Vec<String>,
}

fn agent(id: String, skills: impl Iterator<Item = usize>) -> AgentProfile {
    AgentProfile {
        endpoint: format!("sip:{id}@pbx"),
        id,
        skills: skills.map(|s| (format!("skill_{s}"), 5)).collect(),
        tags: vec![],
    }
}

fn waiting_call(id: String, priority: i32, arrived: Millis) -> WaitingCall {
    WaitingCall {
        call_id: Arc::from(id.as_str()),
        switch_id: Arc::from("sbc-1"),
        priority,
        arrived,
        preference: Preference::None,
        callback: false,
        tier: TierId(0),
        max_wait_met: false,
    }
}

fn floor() -> Floor {
    let files = ConfigFiles {
        files: vec![("large.toml".into(), large_config::text(QUEUES, RULES, 10))],
        base_dir: ".".into(),
    };
    let plan = files.compile(None).expect("large config").plan;
    assert_eq!((plan.queues.len(), plan.rules.len()), (QUEUES, RULES));
    let mut csv = Vec::with_capacity(110 * CUSTOMERS as usize);
    synthetic::write_csv(&mut csv, CUSTOMERS, 7).unwrap();
    let directory = Directory::new();
    let report = customers::import(csv.as_slice(), &plan, &directory).unwrap();
    assert!(report.rejected.is_empty());
    let router = Router::new(plan, Arc::new(directory));
    let acd = router.acd();

    // Agents on calls: in every waiting queue, four skills of 10-19 each. They say ready
    // one by one and each takes a call of their own, then connects.
    for i in 0..BUSY {
        let id = format!("busy-{i}");
        acd.log_in(
            agent(id.clone(), (0..4).map(|k| 10 + (i + 3 * k) % 10)),
            NOW,
        )
        .unwrap();
        acd.ready(&id, NOW).unwrap();
        let call = format!("talking-{i}");
        let queue = acd.agent(&id).unwrap().serving()[0];
        match acd
            .enqueue(queue, waiting_call(call.clone(), 0, NOW), NOW)
            .unwrap()
        {
            Placed::Assigned(a) => acd.connected(&a.agent.profile.id, &call, NOW).unwrap(),
            Placed::Waiting { .. } => panic!("an available agent was not offered the call"),
        }
    }
    for i in 0..IDLE {
        let id = format!("idle-{i}");
        acd.log_in(agent(id.clone(), (0..4).map(|k| (i + 3 * k) % 10)), NOW)
            .unwrap();
        acd.ready(&id, Millis(NOW.0 - 1_000 * i as u64)).unwrap();
    }
    for i in 0..AWAY {
        acd.log_in(
            agent(format!("away-{i}"), (0..4).map(|k| (i + 5 * k) % 20)),
            NOW,
        )
        .unwrap();
    }
    // 1,000 calls waiting, 50 in each of the 20 queues of skills 10-19, with mixed
    // priorities and arrivals over the last 20 minutes.
    let waiting_queues: Vec<QueueId> = (0..QUEUES)
        .filter(|q| q % 20 >= 10)
        .map(|q| QueueId(q as u16))
        .collect();
    for i in 0..WAITING {
        let queue = waiting_queues[i % waiting_queues.len()];
        let call = waiting_call(
            format!("waiting-{i}"),
            (i % 7) as i32 * 10,
            Millis(NOW.0 - (i as u64 * 1_200)),
        );
        assert!(matches!(
            acd.enqueue(queue, call, NOW).unwrap(),
            Placed::Waiting { .. }
        ));
    }
    let known = (0..4_096u64)
        .map(|k| synthetic::customer_number(k * 241 % (CUSTOMERS - 100)))
        .collect();
    Floor { router, known }
}

/// Runs `op(thread, iters)` on `threads` threads at once, each returning the time it
/// measured; the result is the mean per thread, so criterion reports one operation as
/// one thread saw it.
fn on_threads(
    threads: usize,
    iters: u64,
    op: &(dyn Fn(usize, u64) -> Duration + Sync),
) -> Duration {
    if threads == 1 {
        return op(0, iters);
    }
    let start = Barrier::new(threads);
    let total: Duration = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    op(t, iters)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    total / threads as u32
}

/// Times `iters` runs of `f` as one stretch.
fn stretch(iters: u64, mut f: impl FnMut(u64)) -> Duration {
    let start = Instant::now();
    for i in 0..iters {
        f(i);
    }
    start.elapsed()
}

const THREADS: [(usize, &str); 2] = [(1, "1_thread"), (2, "2_threads")];

fn benches(c: &mut Criterion) {
    let floor = floor();
    let router = &floor.router;
    let acd = router.acd();
    let plan = router.plan();

    let mut g = c.benchmark_group("scale/normalize");
    let raw = [
        "+12125550101",
        "(212) 555-0101",
        "sip:+12125550101@sbc.example.net",
    ];
    for (threads, name) in THREADS {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|_, iters| {
                    stretch(iters, |i| {
                        let _ = black_box(plan.numbers.normalize(black_box(raw[i as usize % 3])));
                    })
                })
            })
        });
    }
    g.finish();

    let known: Vec<E164> = floor.known.iter().map(|n| n.parse().unwrap()).collect();
    let unknown: Vec<E164> = (0..4_096u64)
        .map(|k| format!("+1312555{:04}", k).parse().unwrap())
        .collect();
    for (group, numbers) in [("hit", &known), ("miss", &unknown)] {
        let mut g = c.benchmark_group(format!("scale/directory_lookup_{group}"));
        for (threads, name) in THREADS {
            g.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    on_threads(threads, iters, &|t, iters| {
                        stretch(iters, |i| {
                            let n = numbers[(i as usize * 7 + t * 2_048) % numbers.len()];
                            black_box(router.directory().lookup(black_box(n)));
                        })
                    })
                })
            });
        }
        g.finish();
    }

    // Rule evaluation alone: known callers, resolved beforehand, on the main line.
    let callers: Vec<_> = floor.known[..256]
        .iter()
        .map(|n| router.caller(&plan, n, NOW))
        .collect();
    let main_line = plan.line_for(MAIN_LINE.parse().unwrap()).unwrap();
    let mut g = c.benchmark_group("scale/rule_evaluation_200_rules");
    for (threads, name) in THREADS {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|t, iters| {
                    stretch(iters, |i| {
                        let caller = &callers[(i as usize + t * 128) % callers.len()];
                        black_box(router.decide(&plan, caller, main_line, Channel::Voice, NOW));
                    })
                })
            })
        });
    }
    g.finish();

    // The full decision: a known caller (a different one each call) on the main or the
    // platinum line, looked up, evaluated and placed. Calls are forgotten every 1,000 per
    // thread (untimed), which frees any agent they reached.
    let mut g = c.benchmark_group("scale/route_decision");
    let run = std::sync::atomic::AtomicU64::new(0);
    for (threads, name) in THREADS {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let run = run.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                on_threads(threads, iters, &|t, iters| {
                    let mut timed = Duration::ZERO;
                    let mut id = String::new();
                    for i in 0..iters {
                        use std::fmt::Write;
                        id.clear();
                        let _ = write!(id, "route-{run}-{t}-{i}");
                        let req = CallRequest {
                            call_id: &id,
                            caller: &floor.known[(i as usize * 13 + t * 1_000) % floor.known.len()],
                            dialed: if i % 4 == 0 { PLATINUM_LINE } else { MAIN_LINE },
                            channel: Channel::Voice,
                            switch_id: "sbc-1",
                        };
                        let start = Instant::now();
                        let routed = router.route(black_box(&req), NOW);
                        timed += start.elapsed();
                        black_box(routed.unwrap());
                        if i % 1_000 == 999 {
                            forget_route_calls(router);
                        }
                    }
                    timed
                })
            })
        });
        forget_route_calls(router);
    }
    g.finish();
    assert_eq!(acd.waiting_in(BUSY_QUEUE), WAITING / 20, "the floor moved");

    // Enqueue with an idle agent: the call meets the longest-idle agent of the queue at
    // once. Undone by the caller hanging up before the agent answers (untimed).
    let mut g = c.benchmark_group("scale/enqueue_immediate_match");
    for (threads, name) in THREADS {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|t, iters| {
                    let mut timed = Duration::ZERO;
                    for i in 0..iters {
                        let call = waiting_call(format!("now-{t}-{i}"), 0, NOW);
                        let start = Instant::now();
                        let placed = acd.enqueue(IDLE_QUEUE, black_box(call), NOW);
                        timed += start.elapsed();
                        match placed.unwrap() {
                            Placed::Assigned(a) => {
                                // With two threads the assignment may be of the other
                                // thread's call, and the freed agent may take a call the
                                // other thread just queued: withdraw each in turn.
                                let mut next = acd.withdraw_offer(&a.call.call_id, NOW).unwrap();
                                while let Some(a) = next {
                                    next = acd.withdraw_offer(&a.call.call_id, NOW).unwrap();
                                }
                            }
                            // Taken meanwhile by an agent the other thread freed; that
                            // thread withdraws it.
                            Placed::Waiting { .. } => assert_eq!(threads, 2),
                        }
                    }
                    timed
                })
            })
        });
    }
    g.finish();

    // Enqueue with nobody free: the call joins 50 others and every member is checked.
    // Undone by the caller hanging up (untimed).
    assert_eq!(acd.waiting_in(IDLE_QUEUE), 0, "the floor moved");
    let mut g = c.benchmark_group("scale/enqueue_waits");
    for (threads, name) in THREADS {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|t, iters| {
                    let mut timed = Duration::ZERO;
                    for i in 0..iters {
                        let call = waiting_call(format!("later-{t}-{i}"), 10, NOW);
                        let id = Arc::clone(&call.call_id);
                        let start = Instant::now();
                        let placed = acd.enqueue(BUSY_QUEUE, black_box(call), NOW);
                        timed += start.elapsed();
                        assert!(matches!(placed.unwrap(), Placed::Waiting { .. }));
                        assert!(acd.abandon(&id));
                    }
                    timed
                })
            })
        });
    }
    g.finish();

    // Agent ready: an agent serving 10 queues, each with calls waiting, takes the best
    // call across them. Undone by the agent not answering: the call goes back to the
    // head of its queue and the agent not ready (untimed).
    let mut g = c.benchmark_group("scale/agent_ready_best_of_10_queues");
    for t in 0..2 {
        let id = format!("ready-{t}");
        acd.log_in(agent(id.clone(), 10 + 5 * t..15 + 5 * t), NOW)
            .unwrap();
        assert_eq!(acd.agent(&id).unwrap().serving().len(), 10);
    }
    for (threads, name) in THREADS {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|t, iters| {
                    let id = format!("ready-{t}");
                    let mut timed = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let offered = acd.ready(black_box(&id), NOW);
                        timed += start.elapsed();
                        let a = offered.unwrap().expect("a call was waiting");
                        acd.no_answer(&id, &a.call.call_id, 1, NOW).unwrap();
                    }
                    timed
                })
            })
        });
    }
    g.finish();
    assert_eq!(acd.waiting_in(BUSY_QUEUE), WAITING / 20, "the floor moved");
}

/// Forgets the calls the route group made, freeing agents they reached.
fn forget_route_calls(router: &Router) {
    router.forget_calls_before(Millis(NOW.0 + 1), NOW);
}

criterion_group!(scale, benches);
criterion_main!(scale);
