//! The queue and idle-agent structures Switchboard chose, against a plain design: one
//! mutex per queue around two ordered maps (its waiting calls and its idle agents), and
//! each agent's state behind a mutex of its own. Both hold the same busy floor (50
//! queues, 5,000 agents, 1,000 waiting calls; see `switchboard_benches::floor`) and do
//! the same operations, on one thread and on two at once.
//!
//! `cargo bench --bench queues` (add `-- --quick` for a fast look)
//!
//! Switchboard's choice (`switchboard_core::acd`):
//! - waiting calls: a lock-free ordered list per queue lane (a skip list whose calls are
//!   claimed by one bit; `waiting_lists` compares the two structures alone);
//! - idle agents: ordered maps per queue as well, but an agent's state is one atomic
//!   word and a claim is a compare-and-swap on it. A claimed agent's entries in their
//!   other queues are left behind, stale, and dropped by whichever claim meets them,
//!   so a match takes one queue's lock. The plain design must take each of the agent's
//!   queues' locks to take them out of every idle map, and an agent saying ready holds
//!   all their queues' locks at once so that no call slips past them.
//!
//! The plain design here is reduced to longest-idle matching and keeps no assignment
//! records, so it does less than the real ACD; the call index (call id to queue) is a
//! concurrent map in both.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use dashmap::DashMap;
use switchboard_benches::{
    floor::{self, BUSY, BUSY_QUEUE, IDLE, IDLE_QUEUE, NOW, QUEUES, WAITING},
    threads::{THREADS, on_threads},
};
use switchboard_core::{
    Directory, Millis, Router,
    acd::{Acd, Placed},
};

/// The daemon's allocator, so figures are the daemon's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waiting calls by `(negated priority key, sequence)`, as in the real ACD.
type WaitKey = (i64, u64);
/// Idle agents by `(idle since, agent)`: longest idle first.
type IdleKey = (u64, u32);

#[derive(Default)]
struct Maps {
    waiting: BTreeMap<WaitKey, Arc<str>>,
    idle: BTreeMap<IdleKey, ()>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Idle { since: u64 },
    Busy,
    Away,
}

struct PlainAgent {
    /// The queues the agent serves, in id order (the order their locks are taken in).
    queues: Vec<usize>,
    state: Mutex<State>,
}

struct Plain {
    queues: Vec<Mutex<Maps>>,
    agents: Vec<PlainAgent>,
    /// Call id to queue and key, for hang-ups.
    calls: DashMap<Arc<str>, (usize, WaitKey)>,
    seq: AtomicU64,
}

/// Aging as in the floor's config: 10 points a minute.
const AGING_PER_MINUTE: i64 = 10;

fn wait_key(priority: i32, arrived: Millis, seq: u64) -> WaitKey {
    (
        AGING_PER_MINUTE * arrived.0 as i64 - i64::from(priority) * 60_000,
        seq,
    )
}

impl Plain {
    /// The floor, plus away agents with the skills in `extra` (numbered after the
    /// floor's, in order).
    fn new(extra: &[Vec<usize>]) -> Self {
        let serving = |skills: Vec<usize>| -> Vec<usize> {
            (0..QUEUES).filter(|q| skills.contains(&(q % 20))).collect()
        };
        let mut agents = Vec::new();
        for i in 0..BUSY {
            agents.push((serving(floor::busy_skills(i)), State::Busy));
        }
        for i in 0..IDLE {
            agents.push((
                serving(floor::idle_skills(i)),
                State::Idle {
                    since: floor::idle_since(i).0,
                },
            ));
        }
        for skills in extra {
            agents.push((serving(skills.clone()), State::Away));
        }
        let plain = Plain {
            queues: (0..QUEUES).map(|_| Mutex::default()).collect(),
            agents: agents
                .into_iter()
                .map(|(queues, state)| PlainAgent {
                    queues,
                    state: Mutex::new(state),
                })
                .collect(),
            calls: DashMap::new(),
            seq: AtomicU64::new(0),
        };
        for (a, agent) in plain.agents.iter().enumerate() {
            if let State::Idle { since } = *lock(&agent.state) {
                for q in &agent.queues {
                    lock(&plain.queues[*q]).idle.insert((since, a as u32), ());
                }
            }
        }
        for i in 0..WAITING {
            let (queue, priority, arrived) = floor::waiting(i);
            let id: Arc<str> = Arc::from(format!("waiting-{i}").as_str());
            assert_eq!(plain.enqueue(queue.index(), id, priority, arrived), None);
        }
        plain
    }

    /// Puts a call in its queue, or to the queue's longest-idle agent (returned).
    fn enqueue(&self, q: usize, id: Arc<str>, priority: i32, arrived: Millis) -> Option<u32> {
        let mut maps = lock(&self.queues[q]);
        while let Some((&key, _)) = maps.idle.first_key_value() {
            maps.idle.remove(&key);
            let agent = &self.agents[key.1 as usize];
            let mut state = lock(&agent.state);
            if *state != (State::Idle { since: key.0 }) {
                // Taken through another queue meanwhile.
                continue;
            }
            *state = State::Busy;
            drop(state);
            drop(maps);
            // Out of every other idle map, each under its queue's lock.
            for other in agent.queues.iter().filter(|o| **o != q) {
                lock(&self.queues[*other]).idle.remove(&key);
            }
            return Some(key.1);
        }
        let key = wait_key(priority, arrived, self.seq.fetch_add(1, Relaxed));
        self.calls.insert(Arc::clone(&id), (q, key));
        maps.waiting.insert(key, id);
        None
    }

    /// The caller hung up while waiting.
    fn abandon(&self, id: &str) -> bool {
        let Some((_, (q, key))) = self.calls.remove(id) else {
            return false;
        };
        lock(&self.queues[q]).waiting.remove(&key).is_some()
    }

    /// The agent is ready: takes the best waiting call across their queues, or is listed
    /// idle in all of them. Holds every one of their queues' locks meanwhile.
    fn ready(&self, a: u32, now: Millis) -> Option<(usize, WaitKey, Arc<str>)> {
        let agent = &self.agents[a as usize];
        let mut held: Vec<(usize, MutexGuard<'_, Maps>)> = agent
            .queues
            .iter()
            .map(|q| (*q, lock(&self.queues[*q])))
            .collect();
        let now_ms = now.0 as i64;
        let best = held
            .iter()
            .enumerate()
            .filter_map(|(i, (_, maps))| {
                let key = *maps.waiting.keys().next()?;
                Some((
                    AGING_PER_MINUTE * now_ms - key.0,
                    std::cmp::Reverse(key.1),
                    i,
                ))
            })
            .max();
        let mut state = lock(&agent.state);
        if let Some((_, _, i)) = best {
            let (q, maps) = &mut held[i];
            let (key, id) = maps.waiting.pop_first().expect("a head was seen");
            self.calls.remove(&id);
            *state = State::Busy;
            return Some((*q, key, id));
        }
        *state = State::Idle { since: now.0 };
        for (_, maps) in &mut held {
            maps.idle.insert((now.0, a), ());
        }
        None
    }

    /// The agent did not answer: the call goes back under its key, the agent away.
    fn no_answer(&self, a: u32, q: usize, key: WaitKey, id: Arc<str>) {
        *lock(&self.agents[a as usize].state) = State::Away;
        self.calls.insert(Arc::clone(&id), (q, key));
        lock(&self.queues[q]).waiting.insert(key, id);
    }
}

/// Sums the times `f` reports for each of `iters` operations (undoing is left out).
fn each(iters: u64, mut f: impl FnMut(u64) -> Duration) -> Duration {
    (0..iters).map(&mut f).sum()
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn benches(c: &mut Criterion) {
    let router = Router::new(floor::plan(), Arc::new(Directory::new()));
    let acd: &Acd = router.acd();
    floor::staff(acd);
    // Two agents serving 10 queues with calls waiting, and two serving 12 queues with
    // nobody waiting, away for now.
    let ready_skills: Vec<Vec<usize>> =
        (0..2).map(|t| (10 + 5 * t..15 + 5 * t).collect()).collect();
    let idle_skills: Vec<Vec<usize>> = (0..2).map(|t| vec![t, 3 + t, 6 + t, 9 - t]).collect();
    for (t, skills) in ready_skills.iter().enumerate() {
        acd.log_in(floor::agent(format!("ready-{t}"), skills.clone()), NOW)
            .unwrap();
        assert_eq!(
            acd.agent(&format!("ready-{t}")).unwrap().serving().len(),
            10
        );
    }
    for (t, skills) in idle_skills.iter().enumerate() {
        acd.log_in(floor::agent(format!("idle-new-{t}"), skills.clone()), NOW)
            .unwrap();
    }
    let plain = Plain::new(&[ready_skills, idle_skills].concat());
    let first_extra = (BUSY + IDLE) as u32;
    let plain_ready = [first_extra, first_extra + 1];
    let plain_idle = [first_extra + 2, first_extra + 3];

    // A call arrives at a queue with idle agents and meets the longest idle at once.
    // Undone (untimed) by the caller hanging up before the agent answers.
    let mut g = c.benchmark_group("queues/enqueue_immediate_match");
    for (threads, name) in THREADS {
        g.bench_function(format!("switchboard/{name}"), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|t, iters| {
                    each(iters, |i| {
                        let call = floor::call(&format!("now-{t}-{i}"), 0, NOW);
                        let (placed, took) = timed(|| acd.enqueue(IDLE_QUEUE, call, NOW));
                        if let Placed::Assigned(a) = placed.unwrap() {
                            let mut next = acd.withdraw_offer(&a.call.call_id, NOW).unwrap();
                            while let Some(a) = next.pop() {
                                next = acd.withdraw_offer(&a.call.call_id, NOW).unwrap();
                            }
                        }
                        took
                    })
                })
            })
        });
        g.bench_function(format!("plain/{name}"), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|t, iters| {
                    each(iters, |i| {
                        let id: Arc<str> = Arc::from(format!("now-{t}-{i}").as_str());
                        let (agent, took) = timed(|| plain.enqueue(IDLE_QUEUE.index(), id, 0, NOW));
                        let agent = agent.expect("an idle agent");
                        // Free again: they find nothing waiting and are listed idle.
                        assert!(plain.ready(agent, NOW).is_none());
                        took
                    })
                })
            })
        });
    }
    g.finish();

    // A call arrives at a queue whose agents are all busy and waits behind 50 others.
    // Undone (untimed) by the caller hanging up.
    let mut g = c.benchmark_group("queues/enqueue_waits");
    for (threads, name) in THREADS {
        g.bench_function(format!("switchboard/{name}"), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|t, iters| {
                    each(iters, |i| {
                        let call = floor::call(&format!("later-{t}-{i}"), 10, NOW);
                        let id = Arc::clone(&call.call_id);
                        let (placed, took) = timed(|| acd.enqueue(BUSY_QUEUE, call, NOW));
                        assert!(matches!(placed.unwrap(), Placed::Waiting { .. }));
                        assert!(acd.abandon(&id));
                        took
                    })
                })
            })
        });
        g.bench_function(format!("plain/{name}"), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|t, iters| {
                    each(iters, |i| {
                        let id: Arc<str> = Arc::from(format!("later-{t}-{i}").as_str());
                        let (agent, took) =
                            timed(|| plain.enqueue(BUSY_QUEUE.index(), Arc::clone(&id), 10, NOW));
                        assert_eq!(agent, None);
                        assert!(plain.abandon(&id));
                        took
                    })
                })
            })
        });
    }
    g.finish();

    // An agent serving 10 queues, each with calls waiting, says ready and takes the
    // best call across them. Undone (untimed) by the agent not answering: the call goes
    // back under its key, the agent away.
    let mut g = c.benchmark_group("queues/agent_ready_best_of_10_queues");
    for (threads, name) in THREADS {
        g.bench_function(format!("switchboard/{name}"), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|t, iters| {
                    let id = format!("ready-{t}");
                    each(iters, |_| {
                        let (offered, took) = timed(|| acd.ready(&id, NOW));
                        let a = offered.unwrap().pop().expect("a call was waiting");
                        acd.no_answer(&id, &a.call.call_id, 1, NOW).unwrap();
                        took
                    })
                })
            })
        });
        g.bench_function(format!("plain/{name}"), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|t, iters| {
                    let agent = plain_ready[t];
                    each(iters, |_| {
                        let (offered, took) = timed(|| plain.ready(agent, NOW));
                        let (q, key, call) = offered.expect("a call was waiting");
                        plain.no_answer(agent, q, key, call);
                        took
                    })
                })
            })
        });
    }
    g.finish();

    // An agent serving 12 queues with nobody waiting says ready and is listed idle in
    // all of them: the cost the idle maps add. Undone (untimed) by stepping away.
    let mut g = c.benchmark_group("queues/agent_ready_nothing_waiting");
    for (threads, name) in THREADS {
        g.bench_function(format!("switchboard/{name}"), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|t, iters| {
                    let id = format!("idle-new-{t}");
                    each(iters, |i| {
                        let (offered, took) = timed(|| acd.ready(&id, Millis(NOW.0 + i)));
                        assert!(offered.unwrap().is_empty());
                        acd.not_ready(&id, "bench", NOW).unwrap();
                        took
                    })
                })
            })
        });
        g.bench_function(format!("plain/{name}"), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|t, iters| {
                    let agent = plain_idle[t];
                    each(iters, |i| {
                        let (offered, took) = timed(|| plain.ready(agent, Millis(NOW.0 + i)));
                        assert!(offered.is_none());
                        plain.step_away(agent);
                        took
                    })
                })
            })
        });
    }
    g.finish();
    assert_eq!(acd.waiting_in(BUSY_QUEUE), WAITING / 20, "the floor moved");
}

impl Plain {
    /// The agent steps away; their idle entries go. Locks as `ready` does: their queues
    /// in order, then their state.
    fn step_away(&self, a: u32) {
        let agent = &self.agents[a as usize];
        let mut held: Vec<MutexGuard<'_, Maps>> = agent
            .queues
            .iter()
            .map(|q| lock(&self.queues[*q]))
            .collect();
        let mut state = lock(&agent.state);
        if let State::Idle { since } = *state {
            for maps in &mut held {
                maps.idle.remove(&(since, a));
            }
        }
        *state = State::Away;
    }
}

criterion_group!(queues, benches);
criterion_main!(queues);
