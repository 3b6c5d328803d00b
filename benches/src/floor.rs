//! A contact-center floor at a busy hour, for the benches that time queue operations at
//! scale: a config of 50 queues and 200 rules, 5,000 agents and 1,000 waiting calls.
//!
//! - Queues `q010`-`q019` and `q030`-`q039` (skills 10-19) hold the 1,000 waiting calls,
//!   50 each, and every agent with those skills is on a call.
//! - The other 30 queues (skills 0-9) have nobody waiting, and idle agents.
//! - 500 agents are not ready.
//!
//! Queue `q` needs skill `q % 20` (see [`crate::large_config`]); every agent here has
//! proficiency 5, enough for any queue.

use std::sync::Arc;

use switchboard_config::ConfigFiles;
use switchboard_core::{
    Millis, Preference, RoutePlan, TierId,
    acd::{Acd, AgentProfile, Placed, WaitingCall},
    caller::Channel,
    capacity::{LANES, Lane, LaneRules, LaneSet, Limits},
    plan::QueueId,
};

pub const QUEUES: usize = 50;
pub const RULES: usize = 200;
/// Agents on calls (four skills of 10-19 each).
pub const BUSY: usize = 3_000;
/// Idle agents (four skills of 0-9 each).
pub const IDLE: usize = 1_500;
/// Agents not ready (mixed skills).
pub const AWAY: usize = 500;
pub const WAITING: usize = 1_000;
pub const NOW: Millis = Millis(1_800_000_000_000);

/// A queue with idle agents and nobody waiting (skill 0, longest idle).
pub const IDLE_QUEUE: QueueId = QueueId(0);
/// A queue with 50 calls waiting and every agent busy (skill 10).
pub const BUSY_QUEUE: QueueId = QueueId(10);

/// The skills of the `i`-th busy agent.
pub fn busy_skills(i: usize) -> Vec<usize> {
    (0..4).map(|k| 10 + (i + 3 * k) % 10).collect()
}

/// The skills of the `i`-th idle agent.
pub fn idle_skills(i: usize) -> Vec<usize> {
    (0..4).map(|k| (i + 3 * k) % 10).collect()
}

/// When the `i`-th idle agent became idle: one a second, the first longest ago.
pub fn idle_since(i: usize) -> Millis {
    Millis(NOW.0 - 1_000 * (IDLE - i) as u64)
}

/// The queues that hold waiting calls.
pub fn waiting_queues() -> Vec<QueueId> {
    (0..QUEUES)
        .filter(|q| q % 20 >= 10)
        .map(|q| QueueId(q as u16))
        .collect()
}

/// The `i`-th waiting call's queue, priority and arrival: mixed priorities, arrivals
/// over the last 20 minutes.
pub fn waiting(i: usize) -> (QueueId, i32, Millis) {
    let queues = waiting_queues();
    (
        queues[i % queues.len()],
        (i % 7) as i32 * 10,
        Millis(NOW.0 - i as u64 * 1_200),
    )
}

/// The compiled plan of the floor's config.
pub fn plan() -> RoutePlan {
    let files = ConfigFiles {
        files: vec![(
            "large.toml".into(),
            crate::large_config::text(QUEUES, RULES, 10),
        )],
        base_dir: ".".into(),
    };
    let plan = files.compile(None).expect("large config").plan;
    assert_eq!((plan.queues.len(), plan.rules.len()), (QUEUES, RULES));
    plan
}

pub fn agent(id: String, skills: impl IntoIterator<Item = usize>) -> AgentProfile {
    AgentProfile {
        endpoint: format!("sip:{id}@pbx"),
        id,
        skills: skills
            .into_iter()
            .map(|s| (format!("skill_{s}"), 5))
            .collect(),
        tags: vec![],
        capacity: Default::default(),
    }
}

pub fn call(id: &str, priority: i32, arrived: Millis) -> WaitingCall {
    WaitingCall {
        call_id: Arc::from(id),
        switch_id: Arc::from("sbc-1"),
        priority,
        arrived,
        preference: Preference::None,
        callback: false,
        tier: TierId(0),
        max_wait_met: false,
        channel: Default::default(),
    }
}

/// Fills `acd` (made from [`plan`]'s queues) with the floor's agents and calls.
pub fn staff(acd: &Acd) {
    staff_with(acd, &Floor::VOICE);
}

/// What the floor's agents may hold and what its waiting work is.
#[derive(Debug)]
pub struct Floor {
    /// Capacity of agents on calls, and of the others.
    pub busy: Limits,
    pub others: Limits,
    /// The channel of the `i`-th waiting contact.
    pub channel: fn(usize) -> Channel,
}

impl Floor {
    /// Voice only: one call per agent, every waiting contact a call.
    pub const VOICE: Floor = Floor {
        busy: Limits([1, 0, 0, 0]),
        others: Limits([1, 0, 0, 0]),
        channel: |_| Channel::Voice,
    };

    /// Every channel, under [`mixed_rules`]: the agents on calls may hold chats and
    /// emails too (which their call blocks) but no social posts, so all four lanes of
    /// the busy queues are full; the others may hold a voice call, 3 chats, 5 emails and
    /// 2 social posts. The waiting contacts are voice, chat, email and social in turn.
    pub const MIXED: Floor = Floor {
        busy: Limits([1, 3, 5, 0]),
        others: Limits([1, 3, 5, 2]),
        channel: |i| {
            [
                Channel::Voice,
                Channel::Chat,
                Channel::Email,
                Channel::Social,
            ][i % 4]
        },
    };
}

/// The shipped config's cross-channel rules: a voice call keeps new chats and emails
/// out; chats and emails mix up to 4.
pub fn mixed_rules() -> LaneRules {
    let mut blocks = [LaneSet::default(); LANES];
    blocks[Lane::Voice.index()] = LaneSet::of(&[Lane::Chat, Lane::Email]);
    LaneRules {
        blocks,
        mixes: vec![(LaneSet::of(&[Lane::Chat, Lane::Email]), 4)],
    }
}

/// [`staff`] with the capacities and waiting channels of `floor`.
pub fn staff_with(acd: &Acd, floor: &Floor) {
    let with = |profile: AgentProfile, capacity: Limits| AgentProfile {
        capacity,
        ..profile
    };
    // Agents on calls: each says ready, takes a call of their own and connects.
    for i in 0..BUSY {
        let id = format!("busy-{i}");
        acd.log_in(with(agent(id.clone(), busy_skills(i)), floor.busy), NOW)
            .unwrap();
        acd.ready(&id, NOW).unwrap();
        let call_id = format!("talking-{i}");
        let queue = acd.agent(&id).unwrap().serving()[0];
        match acd.enqueue(queue, call(&call_id, 0, NOW), NOW).unwrap() {
            Placed::Assigned(a) => acd.connected(&a.agent.profile.id, &call_id, NOW).unwrap(),
            Placed::Waiting { .. } => panic!("an available agent was not offered the call"),
        }
    }
    for i in 0..IDLE {
        let id = format!("idle-{i}");
        acd.log_in(with(agent(id.clone(), idle_skills(i)), floor.others), NOW)
            .unwrap();
        acd.ready(&id, idle_since(i)).unwrap();
    }
    for i in 0..AWAY {
        acd.log_in(
            with(
                agent(format!("away-{i}"), (0..4).map(|k| (i + 5 * k) % 20)),
                floor.others,
            ),
            NOW,
        )
        .unwrap();
    }
    for i in 0..WAITING {
        let (queue, priority, arrived) = waiting(i);
        let contact = WaitingCall {
            channel: (floor.channel)(i),
            ..call(&format!("waiting-{i}"), priority, arrived)
        };
        let placed = acd.enqueue(queue, contact, NOW).unwrap();
        assert!(matches!(placed, Placed::Waiting { .. }));
    }
}
