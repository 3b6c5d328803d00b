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
//! Queue operations on the same floor (enqueue with an idle agent and without, agent
//! ready) are in `cargo bench --bench queues`, beside a plain design.
//!
//! Each group runs on one thread and then on two threads at once. A two-thread figure is
//! the time of one operation as one of the two threads saw it, with the other working
//! the same structure: equal to the one-thread figure means no contention, and twice it
//! means the threads took turns. Operations that must be undone to keep the floor steady
//! (a call taken by an agent, say) are timed one by one and the undoing is left out.

use std::{
    hint::black_box,
    sync::Arc,
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use switchboard_benches::{
    floor::{self, BUSY_QUEUE, NOW, WAITING},
    synthetic,
    threads::{THREADS, on_threads, stretch},
};
use switchboard_config::customers;
use switchboard_core::{
    Directory, E164, Millis, Router,
    router::{CallRequest, Channel},
};

/// The daemon's allocator, so figures are the daemon's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CUSTOMERS: u64 = 1_000_000;
const MAIN_LINE: &str = "+18005550100";
const PLATINUM_LINE: &str = "+18005550199";

struct Floor {
    router: Router,
    /// Numbers of known customers, spread over the directory.
    known: Vec<String>,
}

fn floor() -> Floor {
    let plan = floor::plan();
    let mut csv = Vec::with_capacity(110 * CUSTOMERS as usize);
    synthetic::write_csv(&mut csv, CUSTOMERS, 7).unwrap();
    let directory = Directory::new();
    let report = customers::import(csv.as_slice(), &plan, &directory).unwrap();
    assert!(report.rejected.is_empty());
    let router = Router::new(plan, Arc::new(directory));
    floor::staff(router.acd());
    let known = (0..4_096u64)
        .map(|k| synthetic::customer_number(k * 241 % (CUSTOMERS - 100)))
        .collect();
    Floor { router, known }
}

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
    // Single decisions on one thread, for the percentiles (the budget is a median).
    let singles = std::sync::Mutex::new(Vec::with_capacity(1 << 21));
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
                        let took = start.elapsed();
                        timed += took;
                        if threads == 1 {
                            let mut s = singles.lock().unwrap();
                            if s.len() < 1 << 21 {
                                s.push(took);
                            }
                        }
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
    let mut singles = singles.into_inner().unwrap();
    singles.sort_unstable();
    if !singles.is_empty() {
        let at = |p: f64| singles[((singles.len() as f64 * p) as usize).min(singles.len() - 1)];
        println!(
            "scale/route_decision/1_thread single calls ({}): p50 {:?}, p90 {:?}, p99 {:?} (budget p50 < 1 us)",
            singles.len(),
            at(0.50),
            at(0.90),
            at(0.99)
        );
    }
    assert_eq!(acd.waiting_in(BUSY_QUEUE), WAITING / 20, "the floor moved");
}

/// Forgets the calls the route group made, freeing agents they reached.
fn forget_route_calls(router: &Router) {
    router.forget_calls_before(Millis(NOW.0 + 1), NOW);
}

criterion_group!(scale, benches);
criterion_main!(scale);
