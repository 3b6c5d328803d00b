//! `switchboard status`: the floor of a running server as tables in the terminal (queues,
//! their tiers' service levels, agents), once or, with `--watch`, redrawn as it changes.
//! Read from `Admin.WatchFloor`, like a wallboard.

use std::{
    collections::BTreeMap,
    io::{IsTerminal, Write},
    process::ExitCode,
    time::Duration,
};

use switchboard_proto::v1::{self as pb, admin_client::AdminClient, floor_event::Change};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    connect: crate::client::Connect,
    /// Keep watching: redraw as the floor changes (and each second for the clocks) until
    /// interrupted.
    #[arg(long)]
    watch: bool,
}

/// The floor as the feed has told it so far.
#[derive(Debug, Default)]
struct View {
    /// When the last event was built (the server's clock), milliseconds.
    at: i64,
    window: Option<prost_types::Duration>,
    queues: Vec<pb::QueueFloor>,
    agents: BTreeMap<String, pb::AgentFloor>,
}

fn ms(t: Option<&prost_types::Timestamp>) -> Option<i64> {
    t.map(|t| t.seconds * 1_000 + i64::from(t.nanos / 1_000_000))
}

impl View {
    fn apply(&mut self, e: pb::FloorEvent) {
        self.at = ms(e.at.as_ref()).unwrap_or(self.at);
        match e.change {
            Some(Change::Snapshot(s)) => {
                self.window = s.window;
                self.queues = s.queues;
                self.agents = s
                    .agents
                    .into_iter()
                    .map(|a| (a.agent_id.clone(), a))
                    .collect();
            }
            Some(Change::Queue(q)) => match self.queues.iter_mut().find(|o| o.queue == q.queue) {
                Some(o) => *o = q,
                None => self.queues.push(q),
            },
            Some(Change::QueueGone(name)) => self.queues.retain(|q| q.queue != name),
            Some(Change::Agent(a)) => {
                self.agents.insert(a.agent_id.clone(), a);
            }
            Some(Change::AgentGone(id)) => {
                self.agents.remove(&id);
            }
            None => {}
        }
    }
}

/// `m:ss` (or `h:mm:ss`) of a number of milliseconds; `-` for none.
fn clock(ms: Option<i64>) -> String {
    let Some(ms) = ms else {
        return "-".to_owned();
    };
    let s = ms.max(0) / 1_000;
    if s >= 3_600 {
        format!("{}:{:02}:{:02}", s / 3_600, s % 3_600 / 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn duration_ms(d: Option<&prost_types::Duration>) -> Option<i64> {
    d.map(|d| d.seconds * 1_000 + i64::from(d.nanos / 1_000_000))
}

fn level(level: Option<f64>, verdict: i32) -> String {
    match (level, pb::FloorVerdict::try_from(verdict)) {
        (Some(l), Ok(pb::FloorVerdict::Met)) => format!("{:.0}% met", l * 100.0),
        (Some(l), Ok(pb::FloorVerdict::Missed)) => format!("{:.0}% MISSED", l * 100.0),
        _ => "no calls".to_owned(),
    }
}

fn state(s: i32) -> &'static str {
    match pb::AgentState::try_from(s) {
        Ok(pb::AgentState::Available) => "available",
        Ok(pb::AgentState::Reserved) => "ringing",
        Ok(pb::AgentState::OnCall) => "on call",
        Ok(pb::AgentState::WrapUp) => "wrap-up",
        Ok(pb::AgentState::NotReady) => "not ready",
        _ => "logged out",
    }
}

/// The view as tables, at the server time `now` (milliseconds).
fn render(v: &View, now: i64) -> String {
    let mut out = String::new();
    let time = jiff::Timestamp::from_millisecond(now)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    out.push_str(&format!(
        "Switchboard floor at {time} (service level over the last {}, and today)\n\n",
        clock(duration_ms(v.window.as_ref()))
    ));
    out.push_str(&format!(
        "{:<16} {:>7} {:>7} {:>6} {:>5} {:>5} {:>5} {:>5} {:>5} {:>7} {:>8} {:>9} {:>6}  {}\n",
        "queue",
        "waiting",
        "oldest",
        "est",
        "avail",
        "ring",
        "call",
        "wrap",
        "away",
        "offered",
        "answered",
        "abandoned",
        "ASA",
        "note"
    ));
    for q in &v.queues {
        let a = q.agents.unwrap_or_default();
        let oldest = ms(q.oldest_arrived.as_ref()).map(|t| now - t);
        let note = if q.closed {
            format!("CLOSED {}", q.closed_reason)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{:<16} {:>7} {:>7} {:>6} {:>5} {:>5} {:>5} {:>5} {:>5} {:>7} {:>8} {:>9} {:>6}  {}\n",
            q.queue,
            q.waiting,
            clock(oldest),
            clock(duration_ms(q.estimated_wait.as_ref())),
            a.available,
            a.reserved,
            a.on_call,
            a.wrap_up,
            a.not_ready,
            q.offered,
            q.answered,
            q.abandoned,
            clock(duration_ms(q.average_speed_of_answer.as_ref())),
            note.trim_end()
        ));
    }
    out.push_str(&format!(
        "\n{:<16} {:<12} {:>7} {:<14} {:<14} {}\n",
        "queue", "tier", "waiting", "standard", "window", "today"
    ));
    for q in &v.queues {
        for t in q.tiers.iter().filter(|t| {
            t.waiting > 0 || t.offered > 0 || t.window_level.is_some() || t.today_level.is_some()
        }) {
            out.push_str(&format!(
                "{:<16} {:<12} {:>7} {:<14} {:<14} {}\n",
                q.queue,
                t.tier,
                t.waiting,
                format!(
                    "{}% in {}",
                    t.standard_percent,
                    clock(duration_ms(t.standard_within.as_ref()))
                ),
                level(t.window_level, t.window_verdict),
                level(t.today_level, t.today_verdict)
            ));
        }
    }
    out.push_str(&format!(
        "\n{:<16} {:<22} {:>7} {:<24} {:>8} {:>6}  {}\n",
        "agent", "state", "for", "call", "answered", "missed", "coaching"
    ));
    if v.agents.is_empty() {
        out.push_str("(no agent logged in)\n");
    }
    for a in v.agents.values() {
        let shown = if a.reason.is_empty() {
            state(a.state).to_owned()
        } else {
            format!("{} ({})", state(a.state), a.reason)
        };
        let mut parts: Vec<String> = Vec::new();
        if !a.call_id.is_empty() {
            parts.push(format!("{} ({})", a.call_id, a.call_queue));
        }
        parts.extend(
            a.lanes
                .iter()
                .filter(|l| l.held > 0)
                .map(|l| format!("{} {}/{}", l.lane, l.held, l.capacity)),
        );
        let call = if parts.is_empty() {
            "-".to_owned()
        } else {
            parts.join(", ")
        };
        out.push_str(&format!(
            "{:<16} {:<22} {:>7} {:<24} {:>8} {:>6}  {}\n",
            a.agent_id,
            shown,
            clock(ms(a.state_since.as_ref()).map(|t| now - t)),
            call,
            a.answered_today,
            a.missed_today,
            if a.coaching { "yes" } else { "-" }
        ));
    }
    out
}

/// One line on the node: `leader of default (epoch 3) ...` or `standby of default ...`.
fn node_line(n: &pb::NodeStatus) -> String {
    let secs = |d: Option<&prost_types::Duration>| {
        d.map_or("-".to_owned(), |d| {
            format!("{:.1}s", d.seconds as f64 + f64::from(d.nanos) / 1e9)
        })
    };
    if n.leading {
        format!(
            "node {} ({}): leader of routing domain {}, epoch {}, lease left {}, takeovers {}",
            n.node,
            n.address,
            n.domain,
            n.epoch,
            secs(n.leader_lease_left.as_ref()),
            n.takeovers
        )
    } else if n.leader_node.is_empty() {
        format!(
            "node {} ({}): standby of routing domain {}, no leader at the moment, lag {}",
            n.node,
            n.address,
            n.domain,
            secs(n.lag.as_ref())
        )
    } else {
        format!(
            "node {} ({}): standby of routing domain {}; the leader is {} at {} (epoch {}, lease left {}); lag {}",
            n.node,
            n.address,
            n.domain,
            n.leader_node,
            n.leader_address,
            n.leader_epoch,
            secs(n.leader_lease_left.as_ref()),
            secs(n.lag.as_ref())
        )
    }
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut client = AdminClient::new(args.connect.channel().await?);
        // On a shared store: which node this is, who leads, and how far behind it is.
        let node = client
            .get_node(pb::GetNodeRequest {})
            .await
            .map_err(|s| anyhow::anyhow!("{}", s.message()))?
            .into_inner();
        if node.shared_store {
            println!("{}", node_line(&node));
            if !node.leading {
                return Ok(ExitCode::SUCCESS);
            }
        }
        let mut stream = client
            .watch_floor(pb::WatchFloorRequest {
                last_event_id: String::new(),
                snapshot_only: !args.watch,
            })
            .await
            .map_err(|s| anyhow::anyhow!("{}", s.message()))?
            .into_inner();
        let mut view = View::default();
        let first = stream
            .message()
            .await
            .map_err(|s| anyhow::anyhow!("{}", s.message()))?
            .ok_or_else(|| anyhow::anyhow!("the server ended the floor feed at once"))?;
        view.apply(first);
        if !args.watch {
            print!("{}", render(&view, view.at));
            return Ok(ExitCode::SUCCESS);
        }
        // Times advance between events by the local clock, from the server's last `at`.
        let mut since = std::time::Instant::now();
        let terminal = std::io::stdout().is_terminal();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let now = view.at + i64::try_from(since.elapsed().as_millis()).unwrap_or(0);
            let mut out = std::io::stdout().lock();
            if terminal {
                // Home and clear, so the tables redraw in place.
                write!(out, "\x1b[H\x1b[2J")?;
            }
            write!(out, "{}", render(&view, now))?;
            if !terminal {
                writeln!(out)?;
            }
            out.flush()?;
            drop(out);
            tokio::select! {
                _ = tick.tick() => {}
                event = stream.message() => match event {
                    Ok(Some(e)) => {
                        view.apply(e);
                        since = std::time::Instant::now();
                    }
                    Err(s) => anyhow::bail!("{}", s.message()),
                    Ok(None) => anyhow::bail!("the server ended the floor feed"),
                },
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ms: i64) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp {
            seconds: ms / 1_000,
            nanos: 0,
        })
    }

    #[test]
    fn the_tables_show_queues_tiers_and_agents_with_times_from_the_servers_clock() {
        let now = 1_800_000_000_000;
        let mut view = View::default();
        view.apply(pb::FloorEvent {
            id: "a-1".into(),
            at: ts(now),
            change: Some(Change::Snapshot(pb::FloorSnapshot {
                queues: vec![pb::QueueFloor {
                    queue: "billing".into(),
                    closed: true,
                    closed_reason: "fire drill".into(),
                    waiting: 2,
                    oldest_arrived: ts(now - 83_000),
                    agents: Some(pb::AgentCounts {
                        available: 1,
                        on_call: 2,
                        ..Default::default()
                    }),
                    offered: 12,
                    answered: 9,
                    abandoned: 1,
                    tiers: vec![pb::TierFloor {
                        tier: "gold".into(),
                        waiting: 1,
                        standard_percent: 85,
                        standard_within: Some(prost_types::Duration {
                            seconds: 30,
                            nanos: 0,
                        }),
                        window_level: Some(0.5),
                        window_verdict: pb::FloorVerdict::Missed.into(),
                        today_level: Some(0.9),
                        today_verdict: pb::FloorVerdict::Met.into(),
                        offered: 4,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                agents: vec![pb::AgentFloor {
                    agent_id: "ann".into(),
                    state: pb::AgentState::OnCall.into(),
                    state_since: ts(now - 3_725_000),
                    call_id: "c-9".into(),
                    call_queue: "billing".into(),
                    answered_today: 7,
                    coaching: true,
                    lanes: vec![
                        pb::LaneLoad {
                            lane: "chat".into(),
                            held: 2,
                            capacity: 3,
                        },
                        pb::LaneLoad {
                            lane: "email".into(),
                            held: 0,
                            capacity: 5,
                        },
                    ],
                    ..Default::default()
                }],
                window: Some(prost_types::Duration {
                    seconds: 900,
                    nanos: 0,
                }),
                today_since: ts(now - 3_600_000),
            })),
        });
        let text = render(&view, now);
        let line = |start: &str| {
            text.lines()
                .find(|l| l.starts_with(start))
                .unwrap_or_else(|| panic!("{start} in\n{text}"))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert!(text.contains("service level over the last 15:00"), "{text}");
        assert_eq!(
            line("billing          "),
            "billing 2 1:23 - 1 0 2 0 0 12 9 1 - CLOSED fire drill"
        );
        assert_eq!(
            line("billing          gold"),
            "billing gold 1 85% in 0:30 50% MISSED 90% met"
        );
        assert_eq!(
            line("ann"),
            "ann on call 1:02:05 c-9 (billing), chat 2/3 7 0 yes"
        );

        // A change replaces the agent's row; a departure removes it.
        view.apply(pb::FloorEvent {
            id: "a-2".into(),
            at: ts(now + 1_000),
            change: Some(Change::AgentGone("ann".into())),
        });
        assert!(render(&view, now + 1_000).contains("(no agent logged in)"));
    }
}
