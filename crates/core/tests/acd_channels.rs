//! Random sequences of voice calls, chats, emails and social posts, agents with random
//! capacities under random cross-channel rules, answers, misses, hang-ups, readiness
//! changes and time passing, with the ACD's channel invariants checked after every step:
//! - no agent holds more of a lane than their limit, nor more of a mix than its total;
//! - no work of a lane was taken while the agent held work of a lane that blocks it;
//! - every contact is in exactly one place (waiting, with one agent, or gone);
//! - no work waits while an agent who serves its queue has room for it;
//! - work leaves a lane highest effective priority first.

use std::{collections::HashMap, time::Duration};

mod support;

use proptest::prelude::*;
use switchboard_core::{
    Millis,
    acd::{Acd, AgentProfile, AgentState, Assignment, Placed},
    caller::Channel,
    capacity::{LANES, Lane, LaneRules, LaneSet, Limits},
    plan::{Queue, QueueId, Strategy as Pick},
};

const QUEUES: usize = 2;
const AGENTS: usize = 4;
const AGING_PER_MINUTE: i64 = 30;
const T0: u64 = 1_800_000_000_000;
const CHANNELS: [Channel; 5] = [
    Channel::Voice,
    Channel::Chat,
    Channel::Email,
    Channel::Social,
    Channel::Callback,
];

#[derive(Clone, Debug)]
enum Op {
    Arrive {
        queue: usize,
        channel: usize,
        priority: i32,
    },
    Ready(usize),
    NotReady(usize),
    /// The agent's `k`-th held contact (voice call first).
    Connect(usize, usize),
    End(usize, usize),
    NoAnswer(usize, usize),
    /// The customer of contact `k` leaves: abandoned if waiting, withdrawn if offered.
    Leave(usize),
    Wait(u64),
    ExpireOffers,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..QUEUES, 0..CHANNELS.len(), 0..50i32)
            .prop_map(|(queue, channel, priority)| Op::Arrive { queue, channel, priority }),
        2 => (0..AGENTS).prop_map(Op::Ready),
        1 => (0..AGENTS).prop_map(Op::NotReady),
        3 => (0..AGENTS, 0..4usize).prop_map(|(a, k)| Op::Connect(a, k)),
        3 => (0..AGENTS, 0..4usize).prop_map(|(a, k)| Op::End(a, k)),
        1 => (0..AGENTS, 0..4usize).prop_map(|(a, k)| Op::NoAnswer(a, k)),
        1 => (0..64usize).prop_map(Op::Leave),
        2 => (1..40u64).prop_map(Op::Wait),
        1 => Just(Op::ExpireOffers),
    ]
}

fn limits() -> impl Strategy<Value = Limits> {
    (0..=1u8, 0..=3u8, 0..=3u8, 0..=2u8)
        .prop_filter("some capacity", |(v, c, e, s)| v + c + e + s > 0)
        .prop_map(|(v, c, e, s)| Limits([v, c, e, s]))
}

fn lane_set() -> impl Strategy<Value = LaneSet> {
    (0..16u8).prop_map(|bits| {
        let lanes: Vec<Lane> = Lane::ALL
            .into_iter()
            .filter(|l| bits & (1 << l.index()) != 0)
            .collect();
        LaneSet::of(&lanes)
    })
}

fn rules() -> impl Strategy<Value = LaneRules> {
    (
        prop::array::uniform4(lane_set()),
        prop::option::of((lane_set(), 1..=4u8)),
    )
        .prop_map(|(mut blocks, mix)| {
            // A lane never blocks itself (the config refuses it; its limit caps it).
            for lane in Lane::ALL {
                let others: Vec<Lane> =
                    blocks[lane.index()].iter().filter(|l| *l != lane).collect();
                blocks[lane.index()] = LaneSet::of(&others);
            }
            LaneRules {
                blocks,
                mixes: mix.into_iter().collect(),
            }
        })
}

#[derive(Clone, Debug, PartialEq)]
enum Status {
    Waiting,
    Held(usize),
    Done,
}

#[derive(Debug)]
struct Contact {
    queue: usize,
    lane: Lane,
    priority: i32,
    arrived: u64,
    status: Status,
    /// Went back to the head of its lane once: left out of the ordering check.
    requeued: bool,
}

struct World {
    acd: Acd,
    rules: LaneRules,
    now: u64,
    contacts: Vec<Contact>,
    /// When each contact was last taken, in order of assignment.
    taken: HashMap<String, u64>,
    /// By agent, when their current voice call was taken.
    voice_taken: [u64; AGENTS],
    assignments: u64,
}

/// Agents 0 and 2 serve queue 0, 1 serves queue 1, 3 serves both.
fn serves(agent: usize, queue: usize) -> bool {
    agent == 3 || agent % 2 == queue
}

fn queues() -> Vec<Queue> {
    (0..QUEUES)
        .map(|q| {
            let strategy = if q == 0 {
                Pick::LongestIdle
            } else {
                Pick::LeastOccupied
            };
            support::queue(
                q,
                strategy,
                AGING_PER_MINUTE,
                Duration::from_secs(5 * q as u64),
            )
        })
        .collect()
}

impl World {
    fn new(limits: &[Limits], rules: LaneRules) -> World {
        let acd = Acd::new(queues());
        acd.set_lane_rules(rules.clone(), Millis(T0));
        for (i, limits) in limits.iter().enumerate() {
            let skills = (0..QUEUES)
                .filter(|q| serves(i, *q))
                .map(|q| (format!("q{q}"), 5))
                .collect();
            let profile = AgentProfile {
                id: format!("a{i}"),
                endpoint: format!("sip:a{i}@pbx"),
                skills,
                tags: vec![],
                capacity: *limits,
            };
            acd.log_in(profile, Millis(T0)).unwrap();
        }
        World {
            acd,
            rules,
            now: T0,
            contacts: Vec::new(),
            taken: HashMap::new(),
            voice_taken: [0; AGENTS],
            assignments: 0,
        }
    }

    fn effective(&self, c: &Contact) -> i64 {
        i64::from(c.priority) * 60_000 + AGING_PER_MINUTE * (self.now as i64 - c.arrived as i64)
    }

    fn index(id: &str) -> usize {
        id[1..].parse().unwrap()
    }

    fn assigned(&mut self, a: &Assignment) {
        let idx = Self::index(&a.call.call_id);
        let agent = Self::index(&a.agent.profile.id);
        let c = &self.contacts[idx];
        assert_eq!(
            c.status,
            Status::Waiting,
            "{} assigned twice",
            a.call.call_id
        );
        assert!(
            serves(agent, c.queue),
            "a{agent} got work of queue {}",
            c.queue
        );
        assert_eq!(Lane::of(a.call.channel), c.lane);
        if !c.requeued {
            let mine = self.effective(c);
            for (j, other) in self.contacts.iter().enumerate() {
                if j != idx
                    && other.status == Status::Waiting
                    && !other.requeued
                    && other.lane == c.lane
                    && serves(agent, other.queue)
                {
                    let theirs = self.effective(other);
                    assert!(
                        mine > theirs || (mine == theirs && idx < j),
                        "c{idx} (effective {mine}) went before c{j} (effective {theirs}) in {:?}",
                        c.lane
                    );
                }
            }
        }
        self.assignments += 1;
        self.taken
            .insert(a.call.call_id.to_string(), self.assignments);
        if c.lane == Lane::Voice {
            self.voice_taken[agent] = self.assignments;
        }
        self.contacts[idx].status = Status::Held(agent);
    }

    /// The agent's `k`-th held contact, voice first.
    fn held(&self, agent: usize, k: usize) -> Option<String> {
        let calls = self.acd.agent(&format!("a{agent}"))?.calls();
        calls.get(k % calls.len().max(1)).map(|c| c.to_string())
    }

    fn step(&mut self, op: &Op) {
        let now = Millis(self.now);
        let id = |i: usize| format!("a{i}");
        let mut made: Vec<Assignment> = Vec::new();
        match *op {
            Op::Arrive {
                queue,
                channel,
                priority,
            } => {
                let channel = CHANNELS[channel];
                let call_id = format!("c{}", self.contacts.len());
                self.contacts.push(Contact {
                    queue,
                    lane: Lane::of(channel),
                    priority,
                    arrived: self.now,
                    status: Status::Waiting,
                    requeued: false,
                });
                let call = support::contact(&call_id, priority, now, channel);
                if let Placed::Assigned(a) =
                    self.acd.enqueue(QueueId(queue as u16), call, now).unwrap()
                {
                    made.push(a);
                }
            }
            Op::Ready(i) => made.extend(self.acd.ready(&id(i), now).unwrap_or_default()),
            Op::NotReady(i) => {
                let _ = self.acd.not_ready(&id(i), "break", now);
            }
            Op::Connect(i, k) => {
                if let Some(c) = self.held(i, k) {
                    let _ = self.acd.connected(&id(i), &c, now);
                }
            }
            Op::End(i, k) => {
                if let Some(c) = self.held(i, k)
                    && self.acd.ended(&id(i), &c, now).is_ok()
                {
                    self.contacts[Self::index(&c)].status = Status::Done;
                    assert!(self.acd.ended(&id(i), &c, now).is_err(), "ends once");
                }
            }
            Op::NoAnswer(i, k) => {
                if let Some(c) = self.held(i, k)
                    && let Ok(next) = self.acd.no_answer(&id(i), &c, 2, now)
                {
                    let idx = Self::index(&c);
                    self.contacts[idx].status = Status::Waiting;
                    self.contacts[idx].requeued = true;
                    made.extend(next);
                }
            }
            Op::Leave(k) => {
                let call_id = format!("c{k}");
                match self.contacts.get(k).map(|c| c.status.clone()) {
                    Some(Status::Waiting) => {
                        assert!(self.acd.abandon(&call_id), "{call_id} was waiting");
                        self.contacts[k].status = Status::Done;
                    }
                    Some(Status::Held(_)) => {
                        if let Ok(next) = self.acd.withdraw_offer(&call_id, now) {
                            self.contacts[k].status = Status::Done;
                            made.extend(next);
                        }
                    }
                    _ => {}
                }
            }
            Op::Wait(seconds) => {
                self.now += seconds * 1_000;
                made.extend(self.acd.end_wrap_ups(Millis(self.now)));
            }
            Op::ExpireOffers => {
                for (call, _, next) in
                    self.acd
                        .expire_offers(now, Duration::from_secs(20), AgentState::Available)
                {
                    let idx = Self::index(&call);
                    self.contacts[idx].status = Status::Waiting;
                    self.contacts[idx].requeued = true;
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
        let mut holders: HashMap<String, usize> = HashMap::new();
        for i in 0..AGENTS {
            let agent = self.acd.agent(&format!("a{i}")).unwrap();
            let held = agent.held();
            let limits = agent.limits();
            for lane in Lane::ALL {
                assert!(
                    held[lane.index()] <= limits.get(lane),
                    "a{i} holds {held:?} over {limits:?}"
                );
            }
            for (set, total) in &self.rules.mixes {
                let sum: u32 = set.iter().map(|l| u32::from(held[l.index()])).sum();
                assert!(
                    sum <= u32::from(*total),
                    "a{i} holds {held:?} over a mix of {total}"
                );
            }
            let voice = agent.call().is_some() || agent.state() == AgentState::WrapUp;
            assert_eq!(
                held[0] == 1,
                voice,
                "a{i} voice held {held:?} in {:?}",
                agent.state()
            );
            let items = agent.items();
            let mut counted = [0u8; LANES];
            // Each unit with the order it was taken in, to check blocks.
            let mut units: Vec<(Lane, u64)> = Vec::new();
            if held[0] == 1 {
                units.push((Lane::Voice, self.voice_taken[i]));
            }
            for item in &items {
                counted[item.lane().index()] += 1;
                units.push((item.lane(), self.taken[&*item.call.call_id]));
            }
            assert_eq!(&counted[1..], &held[1..], "a{i}'s items and counts agree");
            for (l, when_l) in &units {
                for (m, when_m) in &units {
                    assert!(
                        !(self.rules.blocks[l.index()].contains(*m) && when_m > when_l),
                        "a{i} took {m:?} work while holding {l:?} work, which blocks it"
                    );
                }
            }
            for c in agent.calls() {
                assert!(holders.insert(c.to_string(), i).is_none(), "{c} held twice");
            }
        }
        for (k, c) in self.contacts.iter().enumerate() {
            let call_id = format!("c{k}");
            let waiting = self.acd.position(&call_id).is_some();
            let holder = self.acd.holder_of(&call_id).map(|a| a.profile.id.clone());
            match c.status {
                Status::Waiting => assert!(waiting && holder.is_none(), "{call_id} should wait"),
                Status::Held(a) => {
                    assert!(!waiting, "{call_id} held and waiting");
                    assert_eq!(holder, Some(format!("a{a}")), "{call_id} should be a{a}'s");
                    assert_eq!(holders.get(&call_id), Some(&a));
                }
                Status::Done => {
                    assert!(
                        !waiting && holder.is_none(),
                        "{call_id} ended but is in the ACD"
                    )
                }
            }
            if c.status != Status::Waiting {
                continue;
            }
            for i in (0..AGENTS).filter(|i| serves(*i, c.queue)) {
                let agent = self.acd.agent(&format!("a{i}")).unwrap();
                let free = match c.lane {
                    Lane::Voice => {
                        agent.state() == AgentState::Available && agent.can_take(Lane::Voice)
                    }
                    lane => agent.can_take(lane),
                };
                assert!(
                    !free,
                    "{call_id} waits in {:?} of queue {} while a{i} has room ({:?} of {:?}, {:?})",
                    c.lane,
                    c.queue,
                    agent.held(),
                    agent.limits(),
                    agent.state()
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn channel_invariants_hold_over_random_event_sequences(
        limits in prop::collection::vec(limits(), AGENTS),
        rules in rules(),
        ops in prop::collection::vec(op(), 1..150),
    ) {
        let mut world = World::new(&limits, rules);
        for i in 0..AGENTS {
            world.step(&Op::Ready(i));
        }
        for op in &ops {
            world.step(op);
        }
    }
}
