//! Random sequences of arrivals, agent changes, answers, no-answers, abandons, time
//! passing and reloads of the queue policies, with the ACD's invariants checked after
//! every step against a simple model.

use std::{collections::HashMap, time::Duration};

mod support;

use proptest::prelude::*;
use switchboard_core::{
    Millis,
    acd::{Acd, AgentProfile, AgentState, Assignment, Placed},
    caller::Channel,
    plan::{Queue, QueueId, Strategy as Pick},
};

const QUEUES: usize = 3;
const AGENTS: usize = 4;
const AGING_PER_MINUTE: i64 = 30;
/// Aging rates a reload may switch a queue set to.
const RATES: [i64; 3] = [AGING_PER_MINUTE, 6, 120];
const T0: u64 = 1_800_000_000_000;

#[derive(Clone, Debug)]
enum Op {
    Arrive {
        queue: usize,
        priority: i32,
    },
    Ready(usize),
    Connect(usize),
    End(usize),
    NoAnswer(usize),
    NotReady(usize),
    Abandon(usize),
    Wait(u64),
    ExpireOffers,
    /// New policies for every queue: an aging rate from [`RATES`], strategies swapped.
    Reload {
        rate: usize,
        swap: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..QUEUES, 0..100i32).prop_map(|(queue, priority)| Op::Arrive { queue, priority }),
        3 => (0..AGENTS).prop_map(Op::Ready),
        2 => (0..AGENTS).prop_map(Op::Connect),
        2 => (0..AGENTS).prop_map(Op::End),
        1 => (0..AGENTS).prop_map(Op::NoAnswer),
        1 => (0..AGENTS).prop_map(Op::NotReady),
        1 => (0..64usize).prop_map(Op::Abandon),
        2 => (1..120u64).prop_map(Op::Wait),
        1 => Just(Op::ExpireOffers),
        1 => (0..RATES.len(), any::<bool>()).prop_map(|(rate, swap)| Op::Reload { rate, swap }),
    ]
}

/// What the model knows of a call.
#[derive(Clone, Debug, PartialEq)]
enum Status {
    Waiting,
    Held,
    Done,
}

#[derive(Debug)]
struct ModelCall {
    queue: usize,
    priority: i32,
    arrived: u64,
    status: Status,
    /// Went back to the head of its queue once (no-answer or lease): it may jump ahead
    /// of higher priorities, so it is left out of the ordering check.
    requeued: bool,
}

struct World {
    acd: Acd,
    /// The aging rate in force: a reload re-keys waiting calls as if it always applied.
    aging: i64,
    now: u64,
    calls: Vec<ModelCall>,
    by_id: HashMap<String, usize>,
}

/// Agent `i` serves queues `i` and `i + 1` (mod 3), so queues overlap and compete.
fn skills(i: usize) -> Vec<(String, u8)> {
    vec![
        (format!("q{}", i % QUEUES), 5),
        (format!("q{}", (i + 1) % QUEUES), 5),
    ]
}

fn serves(agent: usize, queue: usize) -> bool {
    queue == agent % QUEUES || queue == (agent + 1) % QUEUES
}

fn queues(aging: i64, swap: bool) -> Vec<Queue> {
    (0..QUEUES)
        .map(|q| {
            let strategy = if (q == 0) != swap {
                Pick::MostSkilled
            } else {
                Pick::LongestIdle
            };
            support::queue(q, strategy, aging, Duration::ZERO)
        })
        .collect()
}

impl World {
    fn new() -> World {
        let acd = Acd::new(queues(AGING_PER_MINUTE, false));
        for i in 0..AGENTS {
            let profile = AgentProfile {
                id: format!("a{i}"),
                endpoint: format!("sip:a{i}@pbx"),
                skills: skills(i),
                tags: vec![],
                capacity: Default::default(),
            };
            acd.log_in(profile, Millis(T0)).unwrap();
        }
        World {
            acd,
            aging: AGING_PER_MINUTE,
            now: T0,
            calls: Vec::new(),
            by_id: HashMap::new(),
        }
    }

    fn effective(&self, c: &ModelCall) -> i64 {
        i64::from(c.priority) * 60_000 + self.aging * (self.now as i64 - c.arrived as i64)
    }

    /// Checks an assignment against the model as it was before the step, then records it.
    fn assigned(&mut self, a: &Assignment) {
        let idx = self.by_id[&*a.call.call_id];
        let agent: usize = a.agent.profile.id[1..].parse().unwrap();
        let call = &self.calls[idx];
        assert_eq!(
            call.status,
            Status::Waiting,
            "assigned a call that was not waiting: {}",
            a.call.call_id
        );
        assert!(
            serves(agent, call.queue),
            "agent {agent} got a call from queue {} it does not serve",
            call.queue
        );
        if !call.requeued {
            let mine = self.effective(call);
            for (j, other) in self.calls.iter().enumerate() {
                if j != idx
                    && other.status == Status::Waiting
                    && !other.requeued
                    && serves(agent, other.queue)
                {
                    let theirs = self.effective(other);
                    // Higher effective priority first; among equals, the earlier arrival.
                    assert!(
                        mine > theirs || (mine == theirs && idx < j),
                        "{} (effective {mine}) was served before call {j} (effective {theirs})",
                        a.call.call_id
                    );
                }
            }
        }
        self.calls[idx].status = Status::Held;
    }

    fn held_by(&self, agent: usize) -> Option<String> {
        self.acd
            .agent(&format!("a{agent}"))
            .and_then(|a| a.call())
            .map(|c| c.to_string())
    }

    fn step(&mut self, op: &Op) {
        let now = Millis(self.now);
        let agent_id = |i: usize| format!("a{i}");
        let mut made: Vec<Assignment> = Vec::new();
        match *op {
            Op::Arrive { queue, priority } => {
                let id = format!("c{}", self.calls.len());
                self.by_id.insert(id.clone(), self.calls.len());
                self.calls.push(ModelCall {
                    queue,
                    priority,
                    arrived: self.now,
                    status: Status::Waiting,
                    requeued: false,
                });
                let call = support::contact(&id, priority, now, Channel::Voice);
                if let Placed::Assigned(a) =
                    self.acd.enqueue(QueueId(queue as u16), call, now).unwrap()
                {
                    made.push(a);
                }
            }
            Op::Ready(i) => {
                if let Ok(a) = self.acd.ready(&agent_id(i), now) {
                    made.extend(a);
                }
            }
            Op::Connect(i) => {
                if let Some(call) = self.held_by(i) {
                    let _ = self.acd.connected(&agent_id(i), &call, now);
                }
            }
            Op::End(i) => {
                if let Some(call) = self.held_by(i)
                    && self.acd.ended(&agent_id(i), &call, now).is_ok()
                {
                    self.calls[self.by_id[&call]].status = Status::Done;
                    // Ending twice is refused: every call ends exactly once.
                    assert!(self.acd.ended(&agent_id(i), &call, now).is_err());
                }
            }
            Op::NoAnswer(i) => {
                if let Some(call) = self.held_by(i)
                    && let Ok(next) = self.acd.no_answer(&agent_id(i), &call, 2, now)
                {
                    let idx = self.by_id[&call];
                    self.calls[idx].status = Status::Waiting;
                    self.calls[idx].requeued = true;
                    made.extend(next);
                }
            }
            Op::NotReady(i) => {
                let _ = self.acd.not_ready(&agent_id(i), "break", now);
            }
            Op::Abandon(k) => {
                if let Some(call) = self.calls.get(k)
                    && call.status == Status::Waiting
                {
                    assert!(
                        self.acd.abandon(&format!("c{k}")),
                        "a waiting call can be abandoned"
                    );
                    self.calls[k].status = Status::Done;
                }
            }
            Op::Wait(seconds) => self.now += seconds * 1_000,
            Op::Reload { rate, swap } => {
                let done = self
                    .acd
                    .reconfigure(&queues(RATES[rate], swap), None, now)
                    .unwrap();
                self.aging = RATES[rate];
                assert!(done.moved.is_empty());
                made.extend(done.assignments);
            }
            Op::ExpireOffers => {
                for (call, _, next) in
                    self.acd
                        .expire_offers(now, Duration::from_secs(20), AgentState::NotReady)
                {
                    let idx = self.by_id[&*call];
                    self.calls[idx].status = Status::Waiting;
                    self.calls[idx].requeued = true;
                    made.extend(next);
                }
            }
        }
        for a in &made {
            self.assigned(a);
        }
        self.check();
    }

    fn check(&self) {
        let mut held = HashMap::new();
        for i in 0..AGENTS {
            let agent = self.acd.agent(&format!("a{i}")).unwrap();
            let busy = matches!(agent.state(), AgentState::Reserved | AgentState::OnCall);
            assert_eq!(
                busy,
                agent.call().is_some(),
                "a{i} is {:?} holding {:?}",
                agent.state(),
                agent.call()
            );
            if let Some(call) = agent.call() {
                // Capacity one: a call is held by one agent at most, and an agent holds one.
                assert!(
                    held.insert(call.to_string(), i).is_none(),
                    "{call} held twice"
                );
            }
        }
        for (k, call) in self.calls.iter().enumerate() {
            let id = format!("c{k}");
            let waiting = self.acd.position(&id).is_some();
            let holder = self.acd.holder_of(&id).is_some();
            match call.status {
                Status::Waiting => assert!(waiting && !holder, "{id} should be waiting"),
                Status::Held => assert!(
                    holder && !waiting && held.contains_key(&id),
                    "{id} should be held"
                ),
                Status::Done => assert!(!waiting && !holder, "{id} ended but is still in the ACD"),
            }
        }
        // No call waits while an agent who serves its queue sits available.
        for i in 0..AGENTS {
            if self.acd.agent(&format!("a{i}")).unwrap().state() == AgentState::Available {
                for (k, call) in self.calls.iter().enumerate() {
                    assert!(
                        !(call.status == Status::Waiting && serves(i, call.queue)),
                        "c{k} waits in queue {} while a{i} is available",
                        call.queue
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn acd_invariants_hold_over_random_event_sequences(ops in prop::collection::vec(op(), 1..120)) {
        let mut world = World::new();
        for op in &ops {
            world.step(op);
        }
    }
}
