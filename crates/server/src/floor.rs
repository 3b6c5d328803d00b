//! The floor as supervisors see it: every queue (waiting calls, agents by state, today's
//! figures and service levels against each tier's standard) and every logged-in agent,
//! built from the router and the ACD. One model feeds `Admin.WatchFloor`, the wallboard's
//! Server-Sent Events and `switchboard status`.
//!
//! Layout:
//! - this file: building the rows, and each agent's answered and missed offers today;
//! - `feed`: the live feed (snapshot, then changes with ids, coalesced to one a second);
//! - `json`: the rows as the wallboard page reads them.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering::Relaxed},
};

use dashmap::DashMap;
use switchboard_core::{Millis, TierId, acd::AgentState, plan::QueueId, stats::Counts};
use switchboard_proto::v1 as pb;

use crate::{App, convert};

pub(crate) mod feed;
pub(crate) mod json;

/// Waiting calls listed per queue in the feed; `waiting` says how many there are.
pub(crate) const CALLS_SHOWN: usize = 50;

/// Where "today" starts: local midnight on the host, kept for the day so that finding it
/// costs a time-zone look-up once a day, not once an event.
#[derive(Debug, Default)]
pub(crate) struct Today {
    /// `[start, end)` of the current local day, milliseconds.
    start: AtomicU64,
    end: AtomicU64,
}

impl Today {
    /// Local midnight before `now`.
    pub(crate) fn midnight(&self, now: Millis) -> Millis {
        let (start, end) = (self.start.load(Relaxed), self.end.load(Relaxed));
        if start <= now.0 && now.0 < end {
            return Millis(start);
        }
        let (start, end) = day_around(now);
        self.start.store(start, Relaxed);
        self.end.store(end, Relaxed);
        Millis(start)
    }
}

/// The local day around `now` on the host's time zone, as `[start, end)` in milliseconds.
fn day_around(now: Millis) -> (u64, u64) {
    let tz = jiff::tz::TimeZone::system();
    let ms = i64::try_from(now.0).unwrap_or(i64::MAX);
    let Ok(ts) = jiff::Timestamp::from_millisecond(ms) else {
        return (0, u64::MAX);
    };
    let date = tz.to_datetime(ts).date();
    let start_of = |d: jiff::civil::Date| {
        tz.to_ambiguous_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
            .compatible()
            .ok()
            .and_then(|t| u64::try_from(t.as_millisecond()).ok())
    };
    let start = start_of(date).unwrap_or(0);
    let end = date.tomorrow().ok().and_then(start_of).unwrap_or(u64::MAX);
    (start, end)
}

/// Each agent's answered calls and missed offers today.
#[derive(Debug, Default)]
pub(crate) struct AgentDays {
    today: Today,
    /// Agent id to (day start, answered, missed).
    days: DashMap<Arc<str>, (u64, u32, u32), switchboard_core::FastHash>,
}

impl AgentDays {
    fn bump(&self, agent: &str, now: Millis, answered: bool) {
        let day = self.today.midnight(now).0;
        let mut entry = self.days.entry(Arc::from(agent)).or_insert((day, 0, 0));
        if entry.0 != day {
            *entry = (day, 0, 0);
        }
        if answered {
            entry.1 = entry.1.saturating_add(1);
        } else {
            entry.2 = entry.2.saturating_add(1);
        }
    }

    pub(crate) fn answered(&self, agent: &str, now: Millis) {
        self.bump(agent, now, true);
    }

    /// An offer the agent did not answer (no answer, or not confirmed in time).
    pub(crate) fn missed(&self, agent: &str, now: Millis) {
        self.bump(agent, now, false);
    }

    /// (answered, missed) today.
    fn of(&self, agent: &str, now: Millis) -> (u32, u32) {
        let day = self.today.midnight(now).0;
        self.days
            .get(agent)
            .filter(|e| e.0 == day)
            .map_or((0, 0), |e| (e.1, e.2))
    }
}

/// The floor at one moment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Floor {
    pub at: Millis,
    pub snapshot: pb::FloorSnapshot,
}

fn verdict(level: Option<f64>, percent: u8) -> pb::FloorVerdict {
    match level {
        None => pb::FloorVerdict::NoCalls,
        Some(l) if l * 100.0 + 1e-9 >= f64::from(percent) => pb::FloorVerdict::Met,
        Some(_) => pb::FloorVerdict::Missed,
    }
}

fn duration(d: std::time::Duration) -> Option<prost_types::Duration> {
    prost_types::Duration::try_from(d).ok()
}

/// The periods today's and the window's figures count over.
struct Periods {
    now: Millis,
    today_since: Millis,
    window_since: Millis,
}

impl Periods {
    fn of(app: &App) -> Periods {
        let now = app.clock.now();
        Periods {
            now,
            today_since: app.floor_days.today.midnight(now).max(app.started),
            window_since: now.saturating_sub(app.settings().service_level_window),
        }
    }
}

/// A queue's waiting calls as listed: in the order agents will take them, then those
/// kept for one agent; at most `limit`. With how many wait in all.
pub(crate) fn calls_of(app: &App, id: QueueId, limit: usize) -> (Vec<pb::FloorCall>, usize) {
    let view = app.router.acd().waiting_view(id, limit);
    (listed(app, id, &view.first), view.total)
}

fn listed(
    app: &App,
    id: QueueId,
    calls: &[(
        switchboard_core::acd::WaitingCall,
        Option<std::sync::Arc<str>>,
    )],
) -> Vec<pb::FloorCall> {
    let plan = app.router.plan();
    let name = &plan.queue(id).name;
    // Places count within each lane (they are listed lane by lane, best first).
    let mut ahead = [0u32; switchboard_core::capacity::LANES];
    calls
        .iter()
        .map(|(c, kept)| {
            let position = if kept.is_some() {
                1
            } else {
                let n = &mut ahead[switchboard_core::capacity::Lane::of(c.channel).index()];
                *n += 1;
                *n
            };
            pb::FloorCall {
                call_id: c.call_id.to_string(),
                queue: name.clone(),
                tier: plan.tier(c.tier).name.clone(),
                arrived: Some(convert::timestamp(c.arrived)),
                priority: c.priority,
                position,
                callback: c.callback,
                kept_for_agent: kept.as_deref().unwrap_or_default().to_owned(),
                channel: c.channel.as_str().to_owned(),
            }
        })
        .collect()
}

/// One queue's row as it is now.
pub(crate) fn queue_now(app: &App, id: QueueId) -> pb::QueueFloor {
    queue_row(app, id, &Periods::of(app))
}

fn queue_row(app: &App, id: QueueId, at: &Periods) -> pb::QueueFloor {
    let plan = app.router.plan();
    let acd = app.router.acd();
    let queue = plan.queue(id);
    let calls = acd.waiting_view(id, CALLS_SHOWN);
    let mut tiers = Vec::with_capacity(plan.tiers.len());
    let mut today = Counts::default();
    for (t, tier) in plan.tiers.iter().enumerate() {
        let tier_id = TierId(t as u8);
        let day = app.router.recent_in(id, tier_id, at.today_since, at.now);
        let recent = app.router.recent_in(id, tier_id, at.window_since, at.now);
        today.add(&day);
        let (window_level, today_level) = (recent.service_level(), day.service_level());
        tiers.push(pb::TierFloor {
            tier: tier.name.clone(),
            waiting: calls.by_tier.get(t).copied().unwrap_or(0),
            standard_percent: u32::from(tier.standard.percent),
            standard_within: duration(tier.standard.within),
            window_level,
            window_verdict: verdict(window_level, tier.standard.percent).into(),
            today_level,
            today_verdict: verdict(today_level, tier.standard.percent).into(),
            offered: day.offered,
            answered: day.answered,
            abandoned: day.abandoned,
        });
    }
    let mut agents = pb::AgentCounts::default();
    let mut reasons = std::collections::HashMap::new();
    for agent in acd.members(id) {
        match agent.state() {
            AgentState::Available => agents.available += 1,
            AgentState::Reserved => agents.reserved += 1,
            AgentState::OnCall => agents.on_call += 1,
            AgentState::WrapUp => agents.wrap_up += 1,
            AgentState::NotReady => {
                agents.not_ready += 1;
                *reasons
                    .entry(agent.reason().unwrap_or_default())
                    .or_insert(0u32) += 1;
            }
            AgentState::LoggedOut => {}
        }
    }
    let left = today.answered + today.abandoned;
    let closed = acd.closed(id);
    pb::QueueFloor {
        queue: queue.name.clone(),
        closed: closed.is_some(),
        closed_reason: closed.map(|r| r.to_string()).unwrap_or_default(),
        waiting: u32::try_from(calls.total).unwrap_or(u32::MAX),
        oldest_arrived: calls.oldest.map(convert::timestamp),
        estimated_wait: acd.estimated_wait(id, 1).and_then(duration),
        agents: Some(agents),
        not_ready_reasons: reasons,
        offered: today.offered,
        answered: today.answered,
        abandoned: today.abandoned,
        abandon_rate: (left > 0).then(|| today.abandoned as f64 / left as f64),
        average_speed_of_answer: today.average_speed_of_answer().and_then(duration),
        tiers,
        calls: listed(app, id, &calls.first),
    }
}

/// Builds the whole floor as it is now.
pub(crate) fn build(app: &App) -> Floor {
    let at = Periods::of(app);
    let plan = app.router.plan();
    let queues = plan
        .queues
        .iter()
        .enumerate()
        .filter(|(_, q)| !q.retired)
        .map(|(i, _)| queue_row(app, QueueId(i as u16), &at))
        .collect();
    let agents = app
        .router
        .acd()
        .agents()
        .iter()
        .filter(|a| a.state() != AgentState::LoggedOut)
        .map(|a| agent_row(app, a, at.now))
        .collect();
    Floor {
        at: at.now,
        snapshot: pb::FloorSnapshot {
            queues,
            agents,
            window: duration(app.settings().service_level_window),
            today_since: Some(convert::timestamp(at.today_since)),
        },
    }
}

fn agent_row(app: &App, a: &switchboard_core::acd::Agent, now: Millis) -> pb::AgentFloor {
    let plan = app.router.plan();
    let holding = a.holding();
    let (answered_today, missed_today) = app.floor_days.of(&a.profile.id, now);
    let coaching = app
        .scorecards
        .get(&a.profile.id)
        .is_some_and(|f| !f.shortfalls(&plan.coaching).is_empty());
    pb::AgentFloor {
        agent_id: a.profile.id.clone(),
        state: convert::agent_state_to(a.state()).into(),
        state_since: Some(convert::timestamp(a.since())),
        reason: a.reason().unwrap_or_default(),
        call_id: holding
            .as_ref()
            .map(|(c, _)| c.call_id.to_string())
            .unwrap_or_default(),
        call_queue: holding
            .as_ref()
            .map(|(_, q)| plan.queue(*q).name.clone())
            .unwrap_or_default(),
        answered_today,
        missed_today,
        coaching,
        queues: a
            .serving()
            .into_iter()
            .map(|q| plan.queue(q).name.clone())
            .collect(),
        lanes: {
            let held = a.held();
            a.limits()
                .lanes()
                .filter(|l| *l != switchboard_core::capacity::Lane::Voice)
                .map(|l| pb::LaneLoad {
                    lane: l.as_str().to_owned(),
                    held: u32::from(held[l.index()]),
                    capacity: u32::from(a.limits().get(l)),
                })
                .collect()
        },
    }
}
