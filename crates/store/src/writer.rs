//! The writer thread: changes arrive on a channel and are written in batches, one
//! transaction for everything that arrived within `max_delay` of the first (group
//! commit). Whoever sends a change never waits for the disk; whoever needs to know it is
//! durable asks [`Writer::flush`]. A change is durable at most `max_delay` plus two commits
//! after it was sent (the one in progress when it arrived, and its own).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
        mpsc,
    },
    thread::JoinHandle,
    time::Duration,
};

use std::collections::HashSet;

use switchboard_core::{
    Customer, E164, Millis,
    behaviour::{LastContact, Learned},
    router::CallImage,
};

use switchboard_core::Preference;

use crate::{
    Store, StoreError,
    journal::{self, LiveSource, SourceCell},
};

/// Most changes in one transaction; a longer backlog is committed in several.
const MAX_BATCH: usize = 10_000;

/// A change to persist.
#[derive(Debug, Clone)]
pub enum Change {
    /// A customer as stored, with its tier's name.
    Customer {
        customer: Arc<Customer>,
        tier: Arc<str>,
    },
    /// What was learned of a number, as it is now.
    Learned { number: E164, learned: Learned },
    /// How a number's last call that reached an agent ended.
    Served { number: E164, contact: LastContact },
    /// A call changed: the batch writes it as it is then (its journal row, and its call
    /// detail record once it has an outcome).
    Call(Arc<str>),
    /// An agent changed: the batch writes them as they are then.
    Agent(Arc<str>),
    /// A call is over and forgotten: its final record, and out of the journal.
    CallDone(Box<CallImage>),
    /// Call detail records of calls that arrived before this time go.
    Prune(Millis),
}

enum Message {
    Change(Change),
    Flush(mpsc::Sender<Result<(), String>>),
}

/// Counters of the writer's work.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub changes: AtomicU64,
    pub commits: AtomicU64,
    pub failures: AtomicU64,
    /// Call detail records removed by retention.
    pub pruned: AtomicU64,
}

/// Handle to the writer thread; dropping it writes what is queued and stops the thread.
#[derive(Debug)]
pub struct Writer {
    tx: Option<mpsc::Sender<Message>>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<WriterStats>,
    source: Arc<SourceCell>,
}

impl Writer {
    /// Starts the writer thread on `store`.
    pub fn spawn(store: Store, max_delay: Duration) -> Writer {
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(WriterStats::default());
        let counters = Arc::clone(&stats);
        let source = Arc::new(SourceCell::new());
        let cell = Arc::clone(&source);
        let thread = std::thread::Builder::new()
            .name("switchboard-store".into())
            .spawn(move || run(store, &rx, max_delay, &counters, &cell))
            .expect("spawning the store's writer thread");
        Writer {
            tx: Some(tx),
            thread: Some(thread),
            stats,
            source,
        }
    }

    /// Where [`Change::Call`] and [`Change::Agent`] are read from. Held weakly: the
    /// writer never keeps the source alive. Set once; later calls are ignored.
    pub fn read_live_state_from(&self, source: &Arc<dyn LiveSource>) {
        let _ = self.source.set(Arc::downgrade(source));
    }

    /// Queues a change; never blocks.
    pub fn send(&self, change: Change) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Message::Change(change));
        }
    }

    /// Waits until everything sent before is committed; the error of a failed commit.
    pub fn flush(&self) -> Result<(), String> {
        let (done, wait) = mpsc::channel();
        self.tx
            .as_ref()
            .ok_or_else(|| "the writer has stopped".to_owned())?
            .send(Message::Flush(done))
            .map_err(|_| "the writer has stopped".to_owned())?;
        wait.recv()
            .map_err(|_| "the writer has stopped".to_owned())?
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel lets the thread write what is queued and end.
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(
    mut store: Store,
    rx: &mpsc::Receiver<Message>,
    max_delay: Duration,
    stats: &WriterStats,
    source: &SourceCell,
) {
    // After a batch cut short at MAX_BATCH the next one starts at once.
    let mut backlog = false;
    while let Ok(first) = rx.recv() {
        // Sleep out the delay rather than wait on the channel message by message: a
        // sender then never has to wake this thread, which would cost the request path a
        // system call per change.
        if !backlog && !max_delay.is_zero() {
            std::thread::sleep(max_delay);
        }
        let mut changes = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(m) = next.take() {
            match m {
                Message::Change(c) => changes.push(c),
                Message::Flush(done) => flushes.push(done),
            }
            if changes.len() >= MAX_BATCH {
                break;
            }
            next = rx.try_recv().ok();
        }
        backlog = changes.len() >= MAX_BATCH;
        let live = read_live(&changes, journal::source(source).as_deref());
        let result = if changes.is_empty() {
            Ok(())
        } else {
            store
                .apply_with(&changes, &live)
                .map(|pruned| {
                    stats.pruned.fetch_add(pruned, Relaxed);
                })
                .map_err(|e| e.to_string())
        };
        match &result {
            Ok(()) => {
                stats.changes.fetch_add(changes.len() as u64, Relaxed);
                stats
                    .commits
                    .fetch_add(u64::from(!changes.is_empty()), Relaxed);
            }
            Err(_) => {
                stats.failures.fetch_add(1, Relaxed);
            }
        }
        for done in flushes {
            let _ = done.send(result.clone());
        }
    }
}

/// The calls and agents a batch names, read once each as they are now.
#[derive(Debug, Default)]
pub struct LiveRows {
    calls: Vec<(Arc<str>, Option<CallImage>)>,
    agents: Vec<(Arc<str>, Option<switchboard_core::acd::AgentImage>)>,
}

fn read_live(changes: &[Change], source: Option<&dyn LiveSource>) -> LiveRows {
    let mut rows = LiveRows::default();
    let Some(source) = source else {
        return rows;
    };
    let mut calls = HashSet::new();
    let mut agents = HashSet::new();
    for c in changes {
        match c {
            Change::Call(id) if calls.insert(Arc::clone(id)) => {
                rows.calls.push((Arc::clone(id), source.call(id)));
            }
            Change::Agent(id) if agents.insert(Arc::clone(id)) => {
                rows.agents.push((Arc::clone(id), source.agent(id)));
            }
            _ => {}
        }
    }
    rows
}

impl Store {
    /// Writes a batch of changes in one transaction.
    pub fn apply(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        self.apply_with(changes, &LiveRows::default()).map(|_| ())
    }

    /// Writes a batch of changes, with the live state they name, in one transaction;
    /// returns how many call records retention removed.
    fn apply_with(&mut self, changes: &[Change], live: &LiveRows) -> Result<u64, StoreError> {
        let mut pruned = 0;
        self.in_transaction(|tx| {
            for change in changes {
                match change {
                    Change::Customer { customer, tier } => crate::put_customer(tx, customer, tier)?,
                    Change::Learned { number, learned } => {
                        let (bits, observed, chosen, last_call) = learned.parts();
                        tx.prepare_cached(
                            "INSERT OR REPLACE INTO learned
                             (number, zero_out_bits, observed, chosen, last_call)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                        )?
                        .execute(rusqlite::params![
                            number.as_u64() as i64,
                            bits,
                            observed,
                            chosen.map(Preference::as_str),
                            last_call.map(|t| t.0 as i64),
                        ])?;
                    }
                    Change::Served { number, contact } => {
                        tx.prepare_cached(
                            "INSERT OR REPLACE INTO last_contact
                             (number, agent, at, queue, resolved, wrap_up_code)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        )?
                        .execute(rusqlite::params![
                            number.as_u64() as i64,
                            &*contact.agent,
                            contact.at.0 as i64,
                            &*contact.queue,
                            contact.resolved,
                            &*contact.wrap_up_code,
                        ])?;
                    }
                    Change::CallDone(call) => journal::end_call(tx, call)?,
                    Change::Prune(before) => pruned += journal::prune(tx, *before)?,
                    // Written below, once each, as they are now.
                    Change::Call(_) | Change::Agent(_) => {}
                }
            }
            // A call gone from the source was forgotten: its CallDone took its row out.
            for c in live.calls.iter().filter_map(|(_, c)| c.as_ref()) {
                journal::put_call(tx, c)?;
            }
            for (id, agent) in &live.agents {
                match agent {
                    Some(a) => journal::put_agent(tx, a)?,
                    None => {
                        tx.prepare_cached("DELETE FROM live_agents WHERE agent_id = ?1")?
                            .execute(rusqlite::params![&**id])?;
                    }
                }
            }
            Ok(())
        })?;
        Ok(pruned)
    }
}
