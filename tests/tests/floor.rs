//! The live floor: `Admin.WatchFloor` and the wallboard's Server-Sent Events, from a
//! client written from the proto alone.

use std::time::Duration;

use switchboard_proto::v1::{self as pb, floor_event::Change};
use switchboard_tests::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_stream::StreamExt;
use tonic::{Code, Streaming};

fn operator(id: &str) -> pb::SetAgentStateRequest {
    agent_with(id, "general", 5)
}

async fn watch(server: &TestServer, last: &str) -> Streaming<pb::FloorEvent> {
    server
        .admin()
        .await
        .watch_floor(pb::WatchFloorRequest {
            last_event_id: last.into(),
            snapshot_only: false,
        })
        .await
        .unwrap()
        .into_inner()
}

async fn next_event(stream: &mut Streaming<pb::FloorEvent>) -> pb::FloorEvent {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a floor event within 10 s")
        .expect("the stream is open")
        .expect("not an error")
}

/// The floor as a watcher sees it, built from the events it applied.
#[derive(Debug, Default)]
struct View {
    queues: std::collections::BTreeMap<String, pb::QueueFloor>,
    agents: std::collections::BTreeMap<String, pb::AgentFloor>,
    snapshots: usize,
    last_id: String,
}

impl View {
    fn apply(&mut self, e: pb::FloorEvent) {
        self.last_id = e.id;
        match e.change.expect("every event carries a change") {
            Change::Snapshot(s) => {
                self.snapshots += 1;
                self.queues = s.queues.into_iter().map(|q| (q.queue.clone(), q)).collect();
                self.agents = s
                    .agents
                    .into_iter()
                    .map(|a| (a.agent_id.clone(), a))
                    .collect();
            }
            Change::Queue(q) => {
                self.queues.insert(q.queue.clone(), q);
            }
            Change::Agent(a) => {
                self.agents.insert(a.agent_id.clone(), a);
            }
            Change::AgentGone(id) => {
                self.agents.remove(&id);
            }
            Change::QueueGone(name) => {
                self.queues.remove(&name);
            }
        }
    }

    fn queue(&self, name: &str) -> &pb::QueueFloor {
        &self.queues[name]
    }

    fn agent(&self, id: &str) -> Option<&pb::AgentFloor> {
        self.agents.get(id)
    }
}

/// Applies events to `view` until it satisfies `want` (within 10 s).
async fn until(
    stream: &mut Streaming<pb::FloorEvent>,
    view: &mut View,
    want: impl Fn(&View) -> bool,
) {
    while !want(view) {
        view.apply(next_event(stream).await);
    }
}

fn snapshot(e: &pb::FloorEvent) -> &pb::FloorSnapshot {
    match &e.change {
        Some(Change::Snapshot(s)) => s,
        other => panic!("expected a snapshot, got {other:?}"),
    }
}

async fn route(server: &TestServer, id: &str, caller: &str) -> pb::Decision {
    route_main(server, id, caller).await
}

#[tokio::test]
async fn watch_floor_starts_with_every_queue_and_then_tells_each_change() {
    let server = start().await;
    let mut floor = watch(&server, "").await;
    let first = next_event(&mut floor).await;
    let snap = snapshot(&first).clone();
    let names: Vec<&str> = snap.queues.iter().map(|q| q.queue.as_str()).collect();
    for q in [
        "operator",
        "care",
        "support",
        "billing",
        "platinum_desk",
        "concierge",
    ] {
        assert!(names.contains(&q), "{q} in {names:?}");
    }
    assert!(snap.agents.is_empty());
    let mut view = View::default();
    view.apply(first);
    let operator_row = view.queue("operator");
    let tiers: Vec<&str> = operator_row.tiers.iter().map(|t| t.tier.as_str()).collect();
    assert_eq!(tiers, ["standard", "gold", "platinum", "concierge"]);
    assert!(
        operator_row
            .tiers
            .iter()
            .all(|t| t.window_verdict() == pb::FloorVerdict::NoCalls)
    );

    // An agent logs in: their row comes, and the queue's available count.
    server
        .agents()
        .await
        .set_agent_state(operator("ann"))
        .await
        .unwrap();
    until(&mut floor, &mut view, |v| {
        v.agent("ann").is_some() && v.queue("operator").agents.unwrap_or_default().available == 1
    })
    .await;
    let ann = view.agent("ann").unwrap();
    assert_eq!(ann.state(), pb::AgentState::Available);
    assert!(
        ann.queues.contains(&"operator".to_owned()),
        "{:?}",
        ann.queues
    );
    assert_eq!(view.snapshots, 1, "changes, not snapshots");

    // A call meets her: she rings with it, then talks; answered counts today.
    route(&server, "f1", TOM_ALWAYS_OPERATOR).await;
    until(&mut floor, &mut view, |v| {
        v.agent("ann").is_some_and(|a| a.call_id == "f1")
    })
    .await;
    let ann = view.agent("ann").unwrap();
    assert_eq!(ann.state(), pb::AgentState::Reserved);
    assert_eq!(ann.call_queue, "operator");
    report(&server, "f1", pb::CallEventKind::Connected, "ann").await;
    until(&mut floor, &mut view, |v| {
        v.agent("ann")
            .is_some_and(|a| a.state() == pb::AgentState::OnCall && a.answered_today == 1)
            && v.queue("operator").answered == 1
    })
    .await;
    let q = view.queue("operator");
    assert_eq!(q.offered, 1);
    assert_eq!(q.agents.unwrap_or_default().on_call, 1);
    let standard = q.tiers.iter().find(|t| t.tier == "standard").unwrap();
    assert_eq!(standard.answered, 1);
    assert_eq!(standard.window_verdict(), pb::FloorVerdict::Met);
    assert_eq!(standard.today_verdict(), pb::FloorVerdict::Met);
    assert!(q.average_speed_of_answer.is_some());

    // She logs out after the call: her row goes.
    report(&server, "f1", pb::CallEventKind::Ended, "ann").await;
    let mut out = operator("ann");
    out.state = pb::AgentState::LoggedOut.into();
    out.skills.clear();
    server.agents().await.set_agent_state(out).await.unwrap();
    until(&mut floor, &mut view, |v| v.agent("ann").is_none()).await;
    assert_eq!(
        view.queue("operator").agents.unwrap_or_default(),
        pb::AgentCounts::default()
    );
}

#[tokio::test]
async fn waiting_calls_are_listed_in_order_with_tier_priority_and_position() {
    let server = start().await;
    route(&server, "w1", TOM_ALWAYS_OPERATOR).await;
    route(&server, "w2", TOM_ALWAYS_OPERATOR).await;
    let mut floor = watch(&server, "").await;
    let first = next_event(&mut floor).await;
    let q = snapshot(&first)
        .queues
        .iter()
        .find(|q| q.queue == "operator")
        .unwrap()
        .clone();
    assert_eq!(q.waiting, 2);
    assert!(q.oldest_arrived.is_some());
    assert_eq!(q.estimated_wait, None, "nobody staffed: no estimate");
    // In the order agents will take them: best priority first (Tom's second call is a
    // repeat caller's), each with its place.
    let mut ids: Vec<&str> = q.calls.iter().map(|c| c.call_id.as_str()).collect();
    let positions: Vec<u32> = q.calls.iter().map(|c| c.position).collect();
    assert_eq!(positions, [1, 2]);
    assert!(q.calls[0].priority >= q.calls[1].priority, "{:?}", q.calls);
    assert!(
        q.calls
            .iter()
            .all(|c| c.tier == "standard" && c.arrived.is_some())
    );
    ids.sort_unstable();
    assert_eq!(ids, ["w1", "w2"]);
    let standard = q.tiers.iter().find(|t| t.tier == "standard").unwrap();
    assert_eq!((standard.waiting, standard.offered), (2, 2));
}

#[tokio::test]
async fn a_watcher_resuming_after_its_last_event_gets_only_the_changes_since() {
    let server = start().await;
    let mut floor = watch(&server, "").await;
    let mut view = View::default();
    let first = next_event(&mut floor).await;
    let first_id = first.id.clone();
    view.apply(first);
    server
        .agents()
        .await
        .set_agent_state(operator("bo"))
        .await
        .unwrap();
    until(&mut floor, &mut view, |v| v.agent("bo").is_some()).await;
    // The watcher goes away, the floor changes, it comes back with its last id.
    drop(floor);
    route(&server, "r2", TOM_ALWAYS_OPERATOR).await;
    let mut back = watch(&server, &view.last_id).await;
    until(&mut back, &mut view, |v| {
        v.agent("bo").is_some_and(|a| a.call_id == "r2")
    })
    .await;
    assert_eq!(view.snapshots, 1, "resumed with changes, not a snapshot");

    // An id from another server process (or long gone) gets a fresh snapshot.
    let mut stale = watch(&server, "123abc-5").await;
    snapshot(&next_event(&mut stale).await);
    let mut garbage = watch(&server, "not an id").await;
    snapshot(&next_event(&mut garbage).await);
    // The first snapshot's id resumes too, with everything since.
    let mut from_snapshot = watch(&server, &first_id).await;
    let e = next_event(&mut from_snapshot).await;
    assert!(!matches!(e.change, Some(Change::Snapshot(_))), "{e:?}");
}

#[tokio::test]
async fn snapshot_only_ends_after_the_snapshot_and_a_bad_id_is_refused_by_name() {
    let server = start().await;
    let mut admin = server.admin().await;
    let mut once = admin
        .watch_floor(pb::WatchFloorRequest {
            last_event_id: String::new(),
            snapshot_only: true,
        })
        .await
        .unwrap()
        .into_inner();
    snapshot(&next_event(&mut once).await);
    let end = tokio::time::timeout(Duration::from_secs(5), once.next())
        .await
        .expect("the stream ends");
    assert!(end.is_none(), "{end:?}");

    let refused = admin
        .watch_floor(pb::WatchFloorRequest {
            last_event_id: "x".repeat(65),
            snapshot_only: false,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("last_event_id"),
        "{}",
        refused.message()
    );
}

#[tokio::test]
async fn floor_watches_end_unavailable_when_the_server_shuts_down() {
    let mut server = start().await;
    let mut floor = watch(&server, "").await;
    next_event(&mut floor).await;
    server.begin_stop();
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match floor.next().await {
                Some(Ok(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the stream ends");
    let status = end.expect("an ending status").unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let stopped = server.stopped().await;
    assert!(!stopped.cut_short, "the watch did not hold up the shutdown");
}

/// Reads Server-Sent Events from `GET path` with `headers`: each (id, event, data) until
/// `count` have come.
async fn sse(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &str,
    count: usize,
) -> Vec<(String, String, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\n{headers}\r\n").as_bytes())
        .await
        .unwrap();
    let mut lines = BufReader::new(stream).lines();
    let mut events = Vec::new();
    let (mut id, mut name, mut data) = (String::new(), String::new(), String::new());
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            // Chunked encoding interleaves chunk sizes; SSE lines are what count.
            if let Some(v) = line.strip_prefix("id: ") {
                id = v.to_owned();
            } else if let Some(v) = line.strip_prefix("event: ") {
                name = v.to_owned();
            } else if let Some(v) = line.strip_prefix("data: ") {
                data = v.to_owned();
                events.push((id.clone(), name.clone(), data.clone()));
                if events.len() == count {
                    return;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("events within 10 s");
    events
}

#[tokio::test]
async fn the_wallboard_feed_is_server_sent_events_that_resume_from_last_event_id() {
    let (server, http) = scraped(start().await).await;
    let (status, page) = get(http, "/wallboard").await;
    assert!(status.contains("200"), "{status}");
    assert!(page.contains("/wallboard/wallboard.js"), "{page}");
    for asset in ["/wallboard/wallboard.js", "/wallboard/wallboard.css"] {
        let (status, body) = get(http, asset).await;
        assert!(
            status.contains("200") && !body.is_empty(),
            "{asset}: {status}"
        );
    }

    let first = sse(http, "/floor/events", "", 1).await;
    let (id, name, data) = &first[0];
    assert_eq!(name, "snapshot");
    assert!(data.contains("\"queue\":\"operator\""), "{data}");
    server
        .agents()
        .await
        .set_agent_state(operator("cy"))
        .await
        .unwrap();
    // The change reaches the feed within its second; then a browser resuming after the
    // snapshot gets the changes (the queues' counts and the agent), no second snapshot.
    let mut floor = watch(&server, id).await;
    let mut view = View::default();
    until(&mut floor, &mut view, |v| v.agent("cy").is_some()).await;
    let resumed = sse(
        http,
        "/floor/events",
        &format!("Last-Event-ID: {id}\r\n"),
        3,
    )
    .await;
    assert!(
        resumed.iter().all(|(_, name, _)| name != "snapshot"),
        "{resumed:?}"
    );
    assert!(
        resumed
            .iter()
            .any(|(_, name, data)| name == "agent" && data.contains("\"agent_id\":\"cy\"")),
        "{resumed:?}"
    );
    // The same by query parameter, as a page reconnecting on purpose does it.
    let by_query = sse(http, &format!("/floor/events?last_event_id={id}"), "", 3).await;
    assert!(
        by_query.iter().all(|(_, name, _)| name != "snapshot"),
        "{by_query:?}"
    );

    let (status, json) = get(http, "/floor").await;
    assert!(status.contains("200"), "{status}");
    assert!(json.contains("\"agent_id\":\"cy\""), "{json}");
    assert!(json.contains("\"state\":\"available\""), "{json}");
}
