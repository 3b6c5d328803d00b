//! The live floor feed: a snapshot first, then changes with ids, so that a watcher that
//! reconnects resumes where it left off.
//!
//! While anyone watches (and for a minute after), the floor is built once a second (whatever the number of
//! watchers) and compared row by row with the last one; each queue or agent row that
//! changed becomes one event. So changes are coalesced to one per queue or agent a
//! second, and the route path pays nothing: the feed reads the live state, it is never
//! told about calls. The last [`KEPT`] events are kept for watchers that fall behind or
//! reconnect; one further back gets a fresh snapshot instead.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst},
    },
    time::Duration,
};

use switchboard_core::Millis;
use switchboard_proto::v1 as pb;
use tokio::sync::watch;

use super::Floor;
use crate::{App, convert};

/// Events kept for watchers that resume.
pub(crate) const KEPT: usize = 4_096;

/// How often the floor is compared while someone watches.
const EVERY: Duration = Duration::from_secs(1);

/// How long the feed keeps going after the last watcher leaves, so that a wallboard
/// that lost its connection for a moment resumes rather than starting over.
const LINGER: Duration = Duration::from_secs(60);

/// The feed of one server.
#[derive(Debug)]
pub(crate) struct Feed {
    /// This process's part of every event id, so ids from before a restart never match.
    boot: String,
    state: Mutex<State>,
    /// The sequence number of the last event, for watchers to wait on.
    version: watch::Sender<u64>,
    /// Set when the server shuts down: every watch ends.
    closing: watch::Sender<bool>,
    watchers: AtomicUsize,
    running: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    seq: u64,
    /// The floor as last published; `None` while nobody watches (it is not kept up to
    /// date then, and the next watcher starts it again).
    rows: Option<Rows>,
    /// The last events, oldest first, each with its sequence number.
    events: VecDeque<(u64, Arc<Published>)>,
}

#[derive(Debug)]
struct Rows {
    at: Millis,
    window: Option<prost_types::Duration>,
    today_since: Option<prost_types::Timestamp>,
    queues: Vec<pb::QueueFloor>,
    agents: BTreeMap<String, pb::AgentFloor>,
}

impl Rows {
    fn of(floor: Floor) -> Rows {
        let snapshot = floor.snapshot;
        Rows {
            at: floor.at,
            window: snapshot.window,
            today_since: snapshot.today_since,
            queues: snapshot.queues,
            agents: snapshot
                .agents
                .into_iter()
                .map(|a| (a.agent_id.clone(), a))
                .collect(),
        }
    }

    fn snapshot(&self) -> pb::FloorSnapshot {
        pb::FloorSnapshot {
            queues: self.queues.clone(),
            agents: self.agents.values().cloned().collect(),
            window: self.window,
            today_since: self.today_since,
        }
    }
}

/// An event as published: the message, and its JSON for the wallboards, made once
/// however many browsers take it.
#[derive(Debug)]
pub(crate) struct Published {
    pub(crate) event: pb::FloorEvent,
    json: std::sync::OnceLock<(&'static str, String)>,
}

impl Published {
    fn new(event: pb::FloorEvent) -> Arc<Published> {
        Arc::new(Published {
            event,
            json: std::sync::OnceLock::new(),
        })
    }

    /// The SSE event name and JSON data.
    pub(crate) fn json(&self) -> &(&'static str, String) {
        self.json.get_or_init(|| super::json::event(&self.event))
    }
}

/// Why a watch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The server is shutting down.
    ShuttingDown,
}

impl Default for Feed {
    fn default() -> Self {
        Feed::new(Millis::now())
    }
}

impl Feed {
    pub(crate) fn new(started: Millis) -> Feed {
        Feed {
            boot: format!("{:x}", started.0),
            state: Mutex::default(),
            version: watch::channel(0).0,
            closing: watch::channel(false).0,
            watchers: AtomicUsize::new(0),
            running: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.boot)
    }

    /// Every watch ends (the server is shutting down).
    pub(crate) fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Watchers connected now.
    pub(crate) fn watchers(&self) -> usize {
        self.watchers.load(SeqCst)
    }

    /// Compares `floor` with what was last published and adds an event per changed row.
    fn publish(&self, floor: Floor) {
        let mut st = self.lock();
        let at = floor.at;
        let Some(old) = st.rows.as_mut() else {
            // Nobody was watching: a new start, with no changes to tell.
            st.rows = Some(Rows::of(floor));
            st.seq += 1;
            st.events.clear();
            let seq = st.seq;
            drop(st);
            self.version.send_replace(seq);
            return;
        };
        let new = Rows::of(floor);
        let mut changes = Vec::new();
        for q in &new.queues {
            if old.queues.iter().find(|o| o.queue == q.queue) != Some(q) {
                changes.push(pb::floor_event::Change::Queue(q.clone()));
            }
        }
        for o in &old.queues {
            if !new.queues.iter().any(|q| q.queue == o.queue) {
                changes.push(pb::floor_event::Change::QueueGone(o.queue.clone()));
            }
        }
        for (id, a) in &new.agents {
            if old.agents.get(id) != Some(a) {
                changes.push(pb::floor_event::Change::Agent(a.clone()));
            }
        }
        for id in old.agents.keys() {
            if !new.agents.contains_key(id) {
                changes.push(pb::floor_event::Change::AgentGone(id.clone()));
            }
        }
        let window_changed = old.window != new.window || old.today_since != new.today_since;
        *old = new;
        if window_changed {
            // Figures now count over another period: start watchers afresh.
            changes.clear();
            st.seq += 1;
            st.events.clear();
        }
        for change in changes {
            st.seq += 1;
            let event = pb::FloorEvent {
                id: self.id(st.seq),
                at: Some(convert::timestamp(at)),
                change: Some(change),
            };
            let seq = st.seq;
            st.events.push_back((seq, Published::new(event)));
            if st.events.len() > KEPT {
                st.events.pop_front();
            }
        }
        let seq = st.seq;
        drop(st);
        self.version.send_if_modified(|v| {
            let changed = *v != seq;
            *v = seq;
            changed
        });
    }

    /// A snapshot event of the floor as last published.
    fn snapshot_event(&self, st: &State) -> Option<Arc<Published>> {
        let rows = st.rows.as_ref()?;
        Some(Published::new(pb::FloorEvent {
            id: self.id(st.seq),
            at: Some(convert::timestamp(rows.at)),
            change: Some(pb::floor_event::Change::Snapshot(rows.snapshot())),
        }))
    }

    /// The events after `last` (a sequence number), or a snapshot when they are not all
    /// kept; with the sequence number the watcher is at afterwards.
    fn since(&self, last: Option<u64>) -> (Vec<Arc<Published>>, u64) {
        let st = self.lock();
        let base = st.events.front().map_or(st.seq, |(s, _)| s - 1);
        match last {
            Some(n) if base <= n && n <= st.seq => (
                st.events
                    .iter()
                    .filter(|(s, _)| *s > n)
                    .map(|(_, e)| Arc::clone(e))
                    .collect(),
                st.seq,
            ),
            _ => (self.snapshot_event(&st).into_iter().collect(), st.seq),
        }
    }

    /// The sequence number in an event id of this process, if it is one.
    fn parse(&self, id: &str) -> Option<u64> {
        let (boot, seq) = id.rsplit_once('-')?;
        (boot == self.boot).then(|| seq.parse().ok()).flatten()
    }

    /// Starts watching: resumes after `last_id` when the events since are kept,
    /// otherwise starts with a snapshot.
    pub(crate) fn watch(self: &Arc<Self>, app: &App, last_id: &str) -> Watch {
        self.watchers.fetch_add(1, SeqCst);
        if self.lock().rows.is_none() {
            self.publish(super::build(app));
        }
        if !self.running.swap(true, SeqCst) {
            tokio::spawn(run(app.clone(), Arc::clone(self)));
        }
        let (first, at) = self.since(self.parse(last_id));
        Watch {
            feed: Arc::clone(self),
            version: self.version.subscribe(),
            closing: self.closing.subscribe(),
            at,
            pending: first,
        }
    }
}

/// Builds and publishes the floor once a second while anyone watches, until the server
/// shuts down.
async fn run(app: App, feed: Arc<Feed>) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing = feed.closing.subscribe();
    let mut last_watched = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = closing.wait_for(|c| *c) => return,
        }
        if feed.watchers() > 0 {
            last_watched = tokio::time::Instant::now();
        } else if last_watched.elapsed() > LINGER {
            feed.lock().rows = None;
            continue;
        }
        let built = {
            let app = app.clone();
            tokio::task::spawn_blocking(move || super::build(&app)).await
        };
        if let Ok(floor) = built {
            feed.publish(floor);
        }
    }
}

/// One watcher's place in the feed.
#[derive(Debug)]
pub(crate) struct Watch {
    feed: Arc<Feed>,
    version: watch::Receiver<u64>,
    closing: watch::Receiver<bool>,
    /// The sequence number of the last event handed out.
    at: u64,
    pending: Vec<Arc<Published>>,
}

impl Watch {
    /// The next events (at least one), waiting for them.
    pub(crate) async fn next(&mut self) -> Result<Vec<Arc<Published>>, Ended> {
        loop {
            if !self.pending.is_empty() {
                return Ok(std::mem::take(&mut self.pending));
            }
            if *self.closing.borrow() {
                return Err(Ended::ShuttingDown);
            }
            tokio::select! {
                changed = self.version.changed() => {
                    if changed.is_err() {
                        return Err(Ended::ShuttingDown);
                    }
                }
                _ = self.closing.wait_for(|c| *c) => return Err(Ended::ShuttingDown),
            }
            let (events, at) = self.feed.since(Some(self.at));
            self.at = at;
            self.pending = events;
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.feed.watchers.fetch_sub(1, SeqCst);
    }
}
