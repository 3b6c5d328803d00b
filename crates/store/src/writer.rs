//! The writer thread: changes arrive on a channel and are written in batches, one
//! transaction for everything that arrived within `max_delay` of the first (group
//! commit). Whoever sends a change never waits for the disk; whoever needs to know it is
//! durable asks [`Writer::flush`]. A change is durable at most `max_delay` plus one commit
//! after it was sent.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
        mpsc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use switchboard_core::{
    Customer, E164,
    behaviour::{LastContact, Learned},
};

use switchboard_core::Preference;

use crate::{Store, StoreError};

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
}

/// Handle to the writer thread; dropping it writes what is queued and stops the thread.
#[derive(Debug)]
pub struct Writer {
    tx: Option<mpsc::Sender<Message>>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<WriterStats>,
}

impl Writer {
    /// Starts the writer thread on `store`.
    pub fn spawn(store: Store, max_delay: Duration) -> Writer {
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(WriterStats::default());
        let counters = Arc::clone(&stats);
        let thread = std::thread::Builder::new()
            .name("switchboard-store".into())
            .spawn(move || run(store, &rx, max_delay, &counters))
            .expect("spawning the store's writer thread");
        Writer {
            tx: Some(tx),
            thread: Some(thread),
            stats,
        }
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

fn run(mut store: Store, rx: &mpsc::Receiver<Message>, max_delay: Duration, stats: &WriterStats) {
    while let Ok(first) = rx.recv() {
        let deadline = Instant::now() + max_delay;
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
            let left = deadline.saturating_duration_since(Instant::now());
            next = rx.recv_timeout(left).ok();
        }
        let result = if changes.is_empty() {
            Ok(())
        } else {
            store.apply(&changes).map_err(|e| e.to_string())
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

impl Store {
    /// Writes a batch of changes in one transaction.
    pub fn apply(&mut self, changes: &[Change]) -> Result<(), StoreError> {
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
                }
            }
            Ok(())
        })
    }
}
