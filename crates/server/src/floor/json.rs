//! Floor events as the wallboard page reads them: JSON with times in milliseconds since
//! the epoch and durations in seconds, field names as in the proto.

use serde_json::{Value, json};
use switchboard_proto::v1 as pb;

fn ms(t: Option<&prost_types::Timestamp>) -> Value {
    t.map_or(Value::Null, |t| {
        json!(t.seconds.saturating_mul(1_000) + i64::from(t.nanos / 1_000_000))
    })
}

fn secs(d: Option<&prost_types::Duration>) -> Value {
    d.map_or(Value::Null, |d| {
        json!(d.seconds as f64 + f64::from(d.nanos) / 1e9)
    })
}

fn verdict(v: i32) -> &'static str {
    match pb::FloorVerdict::try_from(v) {
        Ok(pb::FloorVerdict::Met) => "met",
        Ok(pb::FloorVerdict::Missed) => "missed",
        _ => "no_calls",
    }
}

/// An agent state as the page shows it: `available`, `on_call`, ...
pub(crate) fn state(s: i32) -> &'static str {
    match pb::AgentState::try_from(s) {
        Ok(pb::AgentState::Available) => "available",
        Ok(pb::AgentState::Reserved) => "reserved",
        Ok(pb::AgentState::OnCall) => "on_call",
        Ok(pb::AgentState::WrapUp) => "wrap_up",
        Ok(pb::AgentState::NotReady) => "not_ready",
        _ => "logged_out",
    }
}

fn queue(q: &pb::QueueFloor) -> Value {
    let agents = q.agents.unwrap_or_default();
    json!({
        "queue": q.queue,
        "closed": q.closed,
        "closed_reason": q.closed_reason,
        "waiting": q.waiting,
        "oldest_arrived": ms(q.oldest_arrived.as_ref()),
        "estimated_wait": secs(q.estimated_wait.as_ref()),
        "agents": {
            "available": agents.available,
            "reserved": agents.reserved,
            "on_call": agents.on_call,
            "wrap_up": agents.wrap_up,
            "not_ready": agents.not_ready,
        },
        "not_ready_reasons": q.not_ready_reasons,
        "offered": q.offered,
        "answered": q.answered,
        "abandoned": q.abandoned,
        "abandon_rate": q.abandon_rate,
        "average_speed_of_answer": secs(q.average_speed_of_answer.as_ref()),
        "tiers": q.tiers.iter().map(|t| json!({
            "tier": t.tier,
            "waiting": t.waiting,
            "standard_percent": t.standard_percent,
            "standard_within": secs(t.standard_within.as_ref()),
            "window_level": t.window_level,
            "window_verdict": verdict(t.window_verdict),
            "today_level": t.today_level,
            "today_verdict": verdict(t.today_verdict),
            "offered": t.offered,
            "answered": t.answered,
            "abandoned": t.abandoned,
        })).collect::<Vec<_>>(),
        "calls": q.calls.iter().map(|c| json!({
            "call_id": c.call_id,
            "tier": c.tier,
            "arrived": ms(c.arrived.as_ref()),
            "priority": c.priority,
            "position": c.position,
            "callback": c.callback,
            "kept_for_agent": c.kept_for_agent,
            "channel": c.channel,
        })).collect::<Vec<_>>(),
    })
}

fn agent(a: &pb::AgentFloor) -> Value {
    json!({
        "agent_id": a.agent_id,
        "state": state(a.state),
        "state_since": ms(a.state_since.as_ref()),
        "reason": a.reason,
        "call_id": a.call_id,
        "call_queue": a.call_queue,
        "answered_today": a.answered_today,
        "missed_today": a.missed_today,
        "coaching": a.coaching,
        "queues": a.queues,
        "lanes": a.lanes.iter().map(|l| json!({
            "lane": l.lane,
            "held": l.held,
            "capacity": l.capacity,
        })).collect::<Vec<_>>(),
    })
}

/// The SSE event name and JSON data of a floor event.
pub(crate) fn event(e: &pb::FloorEvent) -> (&'static str, String) {
    use pb::floor_event::Change;
    let at = ms(e.at.as_ref());
    let (name, data) = match &e.change {
        Some(Change::Snapshot(s)) => (
            "snapshot",
            json!({
                "at": at,
                "window": secs(s.window.as_ref()),
                "today_since": ms(s.today_since.as_ref()),
                "queues": s.queues.iter().map(queue).collect::<Vec<_>>(),
                "agents": s.agents.iter().map(agent).collect::<Vec<_>>(),
            }),
        ),
        Some(Change::Queue(q)) => ("queue", json!({ "at": at, "queue": queue(q) })),
        Some(Change::Agent(a)) => ("agent", json!({ "at": at, "agent": agent(a) })),
        Some(Change::AgentGone(id)) => ("agent_gone", json!({ "at": at, "agent_id": id })),
        Some(Change::QueueGone(name)) => ("queue_gone", json!({ "at": at, "queue": name })),
        None => ("none", json!({ "at": at })),
    };
    (name, data.to_string())
}
