//! How long calls take, as histograms, so that any window can be computed from
//! `_bucket`, `_sum` and `_count` (average speed of answer over the last 30 minutes is
//! `increase(_sum[30m]) / increase(_count[30m])`): the wait of answered calls (speed of
//! answer) and of abandoned ones per queue and tier, and talk and handle time per queue.
//! Observed at call events, never on the route path. Also the agents who serve each
//! queue by state, read at the scrape.

use prometheus_client::{
    metrics::{family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use switchboard_core::{RoutePlan, acd::AgentState, plan::QueueId};

use super::Labels;
use crate::App;

/// Upper bounds of the wait histograms, seconds: around the usual standards (10 s to 2 m)
/// finely, then to 20 minutes.
const WAIT_BUCKETS: [f64; 14] = [
    5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1200.0,
];

/// Upper bounds of the talk and handle time histograms, seconds: 30 s to an hour.
const TALK_BUCKETS: [f64; 12] = [
    30.0, 60.0, 120.0, 180.0, 240.0, 300.0, 450.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0,
];

fn waits() -> Family<Labels, Histogram, fn() -> Histogram> {
    Family::new_with_constructor(|| Histogram::new(WAIT_BUCKETS))
}

fn talks() -> Family<Labels, Histogram, fn() -> Histogram> {
    Family::new_with_constructor(|| Histogram::new(TALK_BUCKETS))
}

/// The agent states counted per queue.
const STATES: [AgentState; 5] = [
    AgentState::Available,
    AgentState::Reserved,
    AgentState::OnCall,
    AgentState::WrapUp,
    AgentState::NotReady,
];

#[derive(Debug)]
pub(super) struct Times {
    answer_wait: Family<Labels, Histogram, fn() -> Histogram>,
    abandon_wait: Family<Labels, Histogram, fn() -> Histogram>,
    talk: Family<Labels, Histogram, fn() -> Histogram>,
    handle: Family<Labels, Histogram, fn() -> Histogram>,
    queue_agents: Family<Labels, Gauge>,
}

impl Default for Times {
    fn default() -> Self {
        Times {
            answer_wait: waits(),
            abandon_wait: waits(),
            talk: talks(),
            handle: talks(),
            queue_agents: Family::default(),
        }
    }
}

fn queue_tier(queue: &str, tier: &str) -> Labels {
    vec![("queue", queue.to_owned()), ("tier", tier.to_owned())]
}

impl Times {
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "answer_wait_seconds",
            "How long answered calls waited in the queue (speed of answer), by queue and tier",
            self.answer_wait.clone(),
        );
        registry.register(
            "abandon_wait_seconds",
            "How long callers who hung up waited in the queue first, by queue and tier",
            self.abandon_wait.clone(),
        );
        registry.register(
            "talk_seconds",
            "Talk time of calls agents handled, from connected to ended, by queue",
            self.talk.clone(),
        );
        registry.register(
            "handle_seconds",
            "Handle time of calls agents handled: talk plus the queue's wrap-up time, by queue",
            self.handle.clone(),
        );
        registry.register(
            "queue_agents",
            "Logged-in agents whose skills serve each queue, by state",
            self.queue_agents.clone(),
        );
    }

    /// Every series of the plan's queues and tiers, from zero.
    pub(super) fn at_zero(&self, plan: &RoutePlan) {
        for queue in plan.queues.iter().filter(|q| !q.retired) {
            for tier in &plan.tiers {
                let labels = queue_tier(&queue.name, &tier.name);
                let _ = self.answer_wait.get_or_create(&labels);
                let _ = self.abandon_wait.get_or_create(&labels);
            }
            let labels = vec![("queue", queue.name.clone())];
            let _ = self.talk.get_or_create(&labels);
            let _ = self.handle.get_or_create(&labels);
        }
    }

    pub(super) fn answered(&self, queue: &str, tier: &str, waited: std::time::Duration) {
        self.answer_wait
            .get_or_create(&queue_tier(queue, tier))
            .observe(waited.as_secs_f64());
    }

    pub(super) fn abandoned(&self, queue: &str, tier: &str, waited: std::time::Duration) {
        self.abandon_wait
            .get_or_create(&queue_tier(queue, tier))
            .observe(waited.as_secs_f64());
    }

    pub(super) fn handled(
        &self,
        queue: &str,
        talk: std::time::Duration,
        handle: std::time::Duration,
    ) {
        let labels = vec![("queue", queue.to_owned())];
        self.talk.get_or_create(&labels).observe(talk.as_secs_f64());
        self.handle
            .get_or_create(&labels)
            .observe(handle.as_secs_f64());
    }

    /// The agents of every queue in force by state, read now.
    pub(super) fn render(&self, app: &App, plan: &RoutePlan) {
        self.queue_agents.clear();
        let acd = app.router.acd();
        for (i, queue) in plan.queues.iter().enumerate() {
            if queue.retired {
                continue;
            }
            let mut counts = [0i64; STATES.len()];
            for agent in acd.members(QueueId(i as u16)) {
                if let Some(s) = STATES.iter().position(|s| *s == agent.state()) {
                    counts[s] += 1;
                }
            }
            for (state, count) in STATES.iter().zip(counts) {
                self.queue_agents
                    .get_or_create(&vec![
                        ("queue", queue.name.clone()),
                        ("state", state.as_str().to_owned()),
                    ])
                    .set(count);
            }
        }
    }
}
