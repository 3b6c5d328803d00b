//! One queue's waiting calls under load: Switchboard's lock-free list
//! (`switchboard_core::acd::WaitList`, a skip list whose calls are claimed by one bit)
//! against the design it replaced, a mutex around an ordered map with the count
//! published on unlock. Both do what a queue does in a steady state: a call arrives at
//! the tail and is told its place, and the head is taken by an agent; 50 calls wait
//! throughout. Each operation is timed alone (the clock's own cost, about 20 ns here, is
//! in every figure alike), on one thread and on two working the same queue at once,
//! which is where a lock's waiter pays a wake-up.
//!
//! `cargo bench --bench waiting_lists` prints, per design and thread count, the median
//! over rounds of each operation's p50, p99 and p99.9, and the operations per second of
//! all threads together. The designs alternate within each round.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Barrier, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst},
    },
    time::{Duration, Instant},
};

use switchboard_core::{
    Millis, TierId,
    acd::{WaitKey, WaitList, WaitingCall, lanes::Lane},
    customer::Preference,
};

/// The daemon's allocator, so figures are the daemon's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Calls waiting throughout.
const DEPTH: u64 = 50;
/// Arrivals (and takes) per thread per run.
const OPS: usize = 200_000;
const ROUNDS: usize = 7;

/// What both designs do.
trait Queue: Sync {
    /// Publishes a call; returns its 1-based place.
    fn publish(&self, key: WaitKey, call: WaitingCall) -> usize;
    /// Takes the best call, if any waits.
    fn take_head(&self) -> Option<WaitingCall>;
    fn name(&self) -> &'static str;
}

impl Queue for WaitList {
    fn publish(&self, key: WaitKey, call: WaitingCall) -> usize {
        self.insert(key, call, 0)
    }

    fn take_head(&self) -> Option<WaitingCall> {
        loop {
            let head = self.head()?;
            if let Some(call) = self.take(&head.key) {
                return Some(call);
            }
        }
    }

    fn name(&self) -> &'static str {
        "lock-free list"
    }
}

/// The design before: the map behind a mutex, the count stored as the lock is let go.
#[derive(Default)]
struct Locked {
    calls: Mutex<BTreeMap<WaitKey, WaitingCall>>,
    len: AtomicUsize,
}

impl Locked {
    /// The place as the design before counted it: from whichever end is nearer.
    fn place_of(calls: &BTreeMap<WaitKey, WaitingCall>, key: WaitKey) -> usize {
        use std::ops::Bound::{Excluded, Unbounded};
        let mut before = calls.range(..key);
        let mut after = calls.range((Excluded(key), Unbounded));
        let mut steps = 0;
        loop {
            if before.next().is_none() {
                return steps + 1;
            }
            if after.next().is_none() {
                return calls.len() - steps;
            }
            steps += 1;
        }
    }
}

impl Queue for Locked {
    fn publish(&self, key: WaitKey, call: WaitingCall) -> usize {
        let mut calls = self.calls.lock().unwrap();
        calls.insert(key, call);
        let place = Self::place_of(&calls, key);
        self.len.store(calls.len(), SeqCst);
        place
    }

    fn take_head(&self) -> Option<WaitingCall> {
        let mut calls = self.calls.lock().unwrap();
        let (_, call) = calls.pop_first()?;
        self.len.store(calls.len(), SeqCst);
        Some(call)
    }

    fn name(&self) -> &'static str {
        "mutex + ordered map"
    }
}

fn call(id: Arc<str>, switch: &Arc<str>) -> WaitingCall {
    WaitingCall {
        call_id: id,
        switch_id: Arc::clone(switch),
        priority: 0,
        arrived: Millis(0),
        preference: Preference::None,
        callback: false,
        tier: TierId(0),
        channel: Default::default(),
        max_wait_met: false,
    }
}

/// Per-operation times of one run, and its wall time.
struct Run {
    publish: Vec<u32>,
    take: Vec<u32>,
    wall: Duration,
}

fn nanos(d: Duration) -> u32 {
    u32::try_from(d.as_nanos()).unwrap_or(u32::MAX)
}

/// `threads` threads each publish a call and take the head, `OPS` times, on one queue
/// holding `DEPTH` calls.
fn run(queue: &dyn Queue, threads: usize) -> Run {
    let seq = AtomicU64::new(0);
    let switch: Arc<str> = Arc::from("sbc-1");
    let ids: Vec<Vec<Arc<str>>> = (0..threads)
        .map(|t| (0..OPS).map(|i| Arc::from(format!("c{t}-{i}"))).collect())
        .collect();
    let next_key = || {
        let n = seq.fetch_add(1, SeqCst);
        WaitKey::new(i64::try_from(n).unwrap(), n, Lane::Voice)
    };
    for i in 0..DEPTH {
        queue.publish(next_key(), call(Arc::from(format!("pre-{i}")), &switch));
    }
    let start = Barrier::new(threads + 1);
    let (runs, wall) = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .map(|ids| {
                let (start, switch, next_key) = (&start, &switch, &next_key);
                s.spawn(move || {
                    let mut publish = Vec::with_capacity(OPS);
                    let mut take = Vec::with_capacity(OPS);
                    start.wait();
                    for id in ids {
                        let c = call(Arc::clone(id), switch);
                        let key = next_key();
                        let t0 = Instant::now();
                        std::hint::black_box(queue.publish(key, c));
                        let t1 = Instant::now();
                        let taken = queue.take_head();
                        let t2 = Instant::now();
                        assert!(taken.is_some(), "the queue ran dry");
                        publish.push(nanos(t1 - t0));
                        take.push(nanos(t2 - t1));
                    }
                    (publish, take)
                })
            })
            .collect();
        start.wait();
        let began = Instant::now();
        let runs: Vec<(Vec<u32>, Vec<u32>)> =
            handles.into_iter().map(|h| h.join().unwrap()).collect();
        (runs, began.elapsed())
    });
    while queue.take_head().is_some() {}
    let (publish, take) =
        runs.into_iter()
            .fold((Vec::new(), Vec::new()), |(mut p, mut t), (rp, rt)| {
                p.extend(rp);
                t.extend(rt);
                (p, t)
            });
    Run {
        publish,
        take,
        wall,
    }
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Per round: p50, p99 and p99.9 of publish, the same of take, operations per second.
type Figures = [f64; 7];

fn figures(mut r: Run) -> Figures {
    r.publish.sort_unstable();
    r.take.sort_unstable();
    let ops = (r.publish.len() + r.take.len()) as f64;
    let f = |v: &[u32], p| f64::from(percentile(v, p));
    [
        f(&r.publish, 0.5),
        f(&r.publish, 0.99),
        f(&r.publish, 0.999),
        f(&r.take, 0.5),
        f(&r.take, 0.99),
        f(&r.take, 0.999),
        ops / r.wall.as_secs_f64(),
    ]
}

fn main() {
    // `cargo test --benches` runs each bench once with `--bench` absent: keep it short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let rounds = if quick { 1 } else { ROUNDS };
    let lock_free = WaitList::default();
    let locked = Locked::default();
    let designs: [&dyn Queue; 2] = [&lock_free, &locked];
    let mut results: Vec<Vec<Figures>> = vec![Vec::new(); 4];
    for round in 0..rounds {
        for (t, threads) in [1, 2].into_iter().enumerate() {
            // Alternate which design goes first.
            for d in [round % 2, 1 - round % 2] {
                results[d * 2 + t].push(figures(run(designs[d], threads)));
            }
        }
    }
    println!(
        "one queue, {DEPTH} waiting, {OPS} arrivals and takes per thread, median of {rounds} rounds (ns)"
    );
    println!(
        "| design | threads | publish p50 | p99 | p99.9 | take head p50 | p99 | p99.9 | operations/s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (d, design) in designs.iter().enumerate() {
        for (t, threads) in [1, 2].into_iter().enumerate() {
            let rounds = &results[d * 2 + t];
            let m: Vec<f64> = (0..7)
                .map(|i| median(rounds.iter().map(|f| f[i]).collect()))
                .collect();
            println!(
                "| {} | {threads} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} M |",
                design.name(),
                m[0],
                m[1],
                m[2],
                m[3],
                m[4],
                m[5],
                m[6] / 1e6
            );
        }
    }
}
