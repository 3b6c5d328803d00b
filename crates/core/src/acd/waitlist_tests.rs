//! The lock-free waiting lists under threads racing for the same calls: one owner per
//! call, marks carried or refused but never lost, and a reload that changes the aging
//! rate while calls arrive leaving every call once in its queue under the new rate.

use std::{
    collections::HashSet,
    sync::{Barrier, Mutex},
    thread,
};

use super::{tests::waiting as call, waitlist::WaitList, *};
use crate::plan::Strategy;

const T0: Millis = Millis(1_800_000_000_000);

fn key(n: u64) -> WaitKey {
    WaitKey {
        neg_key: 0,
        seq: n,
        lane: Lane::Voice,
    }
}

/// Runs `f(t)` on `threads` threads released together.
fn race(threads: usize, f: impl Fn(usize) + Sync) {
    let start = Barrier::new(threads);
    thread::scope(|s| {
        for t in 0..threads {
            let (start, f) = (&start, &f);
            s.spawn(move || {
                start.wait();
                f(t);
            });
        }
    });
}

/// A list of `calls` calls of equal priority, `c0` first.
fn filled(calls: u64) -> WaitList {
    let list = WaitList::default();
    for n in 0..calls {
        list.insert(key(n), call(&format!("c{n}"), 0, T0), 0);
    }
    list
}

#[test]
fn threads_taking_the_heads_of_one_list_each_get_different_calls_and_all_of_them() {
    const CALLS: u64 = 20_000;
    let list = filled(CALLS);
    let taken = Mutex::new(Vec::new());
    race(4, |_| {
        let mut mine = Vec::new();
        while let Some(head) = list.head() {
            if let Some(c) = list.take(&head.key) {
                mine.push(c.call_id);
            }
        }
        taken.lock().unwrap().extend(mine);
    });
    let taken = taken.into_inner().unwrap();
    let unique: HashSet<&Arc<str>> = taken.iter().collect();
    assert_eq!(unique.len(), taken.len(), "a call was taken twice");
    assert_eq!(taken.len() as u64, CALLS);
    assert_eq!(list.len(), 0);
    assert!(list.head().is_none());
}

#[test]
fn a_callback_accepted_as_the_call_is_taken_is_either_carried_or_refused() {
    const CALLS: u64 = 20_000;
    let list = filled(CALLS);
    let accepted = Mutex::new(HashSet::new());
    let taken = Mutex::new(Vec::new());
    race(2, |t| {
        if t == 0 {
            let mine: HashSet<u64> = (0..CALLS)
                .filter(|n| list.mark_callback(&key(*n)))
                .collect();
            accepted.lock().unwrap().extend(mine);
        } else {
            let mine: Vec<WaitingCall> = (0..CALLS).filter_map(|n| list.take(&key(n))).collect();
            taken.lock().unwrap().extend(mine);
        }
    });
    let accepted = accepted.into_inner().unwrap();
    let taken = taken.into_inner().unwrap();
    assert_eq!(taken.len() as u64, CALLS, "the taker meets every call");
    for c in &taken {
        let n: u64 = c.call_id[1..].parse().unwrap();
        assert_eq!(
            c.callback,
            accepted.contains(&n),
            "{}: the mark and its answer disagree",
            c.call_id
        );
    }
}

fn spec(aging_per_minute: i64) -> Queue {
    Queue {
        name: "support".into(),
        skills: vec![("technical".into(), 3)],
        strategy: Strategy::LongestIdle,
        aging_per_minute,
        wrap_up: std::time::Duration::from_secs(30),
        handle_time: std::time::Duration::from_secs(180),
        callback_after: None,
        max_wait: None,
        overflow: vec![],
        retired: false,
        part_of: None,
        when_closed: None,
    }
}

#[test]
fn a_call_published_under_a_rate_a_reload_replaced_moves_itself_under_the_new_one() {
    let acd = Acd::new(vec![spec(60)]);
    let q = acd.at(QueueId(0));
    // The arrival reads the rate; a reload replaces it and finds the list empty; then the
    // arrival publishes under the rate it read.
    let read = q.rate.load(SeqCst);
    acd.reconfigure(&[spec(600)], None, T0).unwrap();
    let c = call("late", 3, Millis(T0.0 + 5_000));
    let (key, place) = q.publish(Lane::Voice, 0, c.clone(), read);
    assert_eq!(place, 1);
    assert_eq!(key.neg_key, Acd::key(600, 3, c.arrived));
    let listed: Vec<WaitKey> = q.voice().glance_all().iter().map(|c| c.key).collect();
    assert_eq!(listed, [key]);
    assert!(q.voice().keys_not_under(600).is_empty());
}

#[test]
fn a_reload_changing_the_aging_rate_as_calls_arrive_leaves_each_once_under_the_new_rate() {
    const ARRIVALS: usize = 3;
    const CALLS: usize = 1_000;
    const RATES: [i64; 4] = [60, 600, 6, 120];
    let acd = Acd::new(vec![spec(RATES[0])]);
    let queue = QueueId(0);
    race(ARRIVALS + 1, |t| {
        if t == ARRIVALS {
            for rate in RATES.iter().cycle().skip(1).take(20) {
                acd.reconfigure(&[spec(*rate)], None, T0).unwrap();
            }
            return;
        }
        for i in 0..CALLS {
            // Arrivals spread over an hour, priorities 0 to 4.
            let arrived = Millis(T0.0 + ((i * 7_919 + t) % 3_600_000) as u64);
            let c = call(&format!("t{t}-{i}"), (i % 5) as i32, arrived);
            acd.enqueue(queue, c, arrived).unwrap();
        }
    });
    let rate = acd.at(queue).rate.load(SeqCst);
    assert_eq!(rate, RATES[20 % RATES.len()]);
    let list = acd.at(queue).voice();
    let mut listed: Vec<(WaitKey, WaitingCall)> = Vec::new();
    list.visit(|w, c| {
        listed.push((w.key, c.clone()));
        true
    });
    assert_eq!(listed.len(), ARRIVALS * CALLS, "every call waits once");
    assert_eq!(list.len(), listed.len());
    assert!(list.keys_not_under(rate).is_empty(), "a key of an old rate");
    for (k, c) in &listed {
        assert_eq!(
            k.neg_key,
            Acd::key(rate, c.priority, c.arrived),
            "{}",
            c.call_id
        );
        let (q, indexed) = *acd.waiting.get(&c.call_id).expect("indexed");
        assert_eq!(
            (q, indexed),
            (queue, *k),
            "{}: index and list disagree",
            c.call_id
        );
    }
}
