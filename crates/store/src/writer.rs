//! The writer thread: changes arrive on a channel and are written in batches, one
//! transaction for everything that arrived within `max_delay` of the first (group
//! commit). Whoever sends a change never waits for the disk; whoever needs to know it is
//! durable asks [`Writer::flush`]. A change is durable at most `max_delay` plus two commits
//! after it was sent (the one in progress when it arrived, and its own).
//!
//! A batch that cannot be written (a full disk, a file system gone read-only) is kept,
//! never dropped: later changes fold into it ([`crate::pending`]) and it is tried again,
//! after 100 ms and then twice as long each time up to 5 s, until it is written. Nothing
//! is written out of order meanwhile. [`WriterStats`] says how it stands, for the health
//! service, metrics and logs; whoever sends changes decides what to refuse while it lasts.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
        mpsc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use switchboard_core::{
    Customer, E164, Millis,
    behaviour::{LastContact, Learned},
    router::CallImage,
};

use crate::{
    Backend, Store,
    journal::{self, LiveSource, SourceCell},
    pending::Pending,
};

/// Most changes in one healthy batch; a longer backlog is committed in several. While
/// the store is failing there is no such cut: everything waiting goes in the next try.
const MAX_BATCH: u64 = 10_000;

/// The first wait before a failed batch is tried again, and the longest.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);

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
    /// A change an administrator or supervisor made, for the audit trail.
    Audit(Box<crate::audit::AuditEntry>),
    /// A supervisor closed a queue (with why) or opened it again (`None`).
    Queue {
        name: Arc<str>,
        closed: Option<Arc<str>>,
    },
}

enum Message {
    Change(Change),
    Flush(mpsc::Sender<Result<(), String>>),
    /// Writes from now on carry this epoch of the routing domain's lease (PostgreSQL).
    Fence(i64, mpsc::Sender<Result<(), String>>),
}

/// How the writer stands: its work so far and, while the store cannot write, for how
/// long and how much waits.
#[derive(Debug)]
pub struct WriterStats {
    /// Changes sent, and of those, written (or folded into a written batch).
    sent: AtomicU64,
    written: AtomicU64,
    pub commits: AtomicU64,
    /// Batches that failed to write (each try counts).
    pub failures: AtomicU64,
    /// Call detail records removed by retention.
    pub pruned: AtomicU64,
    /// A write was refused by the lease's fence: another node leads the domain now.
    fenced: AtomicBool,
    /// The last try wrote (or nothing has failed yet).
    up: AtomicBool,
    /// About how many bytes the waiting batch holds.
    pending_bytes: AtomicU64,
    /// Since when the oldest change not yet written has waited, in nanoseconds after
    /// `base` plus one; 0 when nothing waits.
    oldest: AtomicU64,
    /// Since when the store has failed (as `oldest`).
    failing: AtomicU64,
    base: Instant,
    last_error: Mutex<Option<String>>,
}

impl Default for WriterStats {
    fn default() -> Self {
        WriterStats {
            sent: AtomicU64::new(0),
            written: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            pruned: AtomicU64::new(0),
            fenced: AtomicBool::new(false),
            up: AtomicBool::new(true),
            pending_bytes: AtomicU64::new(0),
            oldest: AtomicU64::new(0),
            failing: AtomicU64::new(0),
            base: Instant::now(),
            last_error: Mutex::new(None),
        }
    }
}

impl WriterStats {
    /// Whether the last write succeeded: false from a failed batch until it is written.
    pub fn is_up(&self) -> bool {
        self.up.load(Relaxed)
    }

    /// Whether the database refused a write for carrying an epoch the routing domain's
    /// lease has left: this node no longer leads, and what it holds is not written.
    pub fn is_fenced(&self) -> bool {
        self.fenced.load(Relaxed)
    }

    /// Changes sent and not yet on disk.
    pub fn pending(&self) -> u64 {
        self.sent
            .load(Relaxed)
            .saturating_sub(self.written.load(Relaxed))
    }

    /// About how many bytes of memory the changes waiting to be written hold.
    pub fn pending_bytes(&self) -> u64 {
        self.pending_bytes.load(Relaxed)
    }

    /// How long the oldest change not yet written has waited.
    pub fn oldest_pending(&self) -> Option<Duration> {
        self.age(&self.oldest)
    }

    /// How long the store has been failing, while it is.
    pub fn failing_for(&self) -> Option<Duration> {
        self.age(&self.failing)
    }

    /// Why the last failed write failed, while the store is failing.
    pub fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }

    fn age(&self, at: &AtomicU64) -> Option<Duration> {
        match at.load(Relaxed) {
            0 => None,
            t => Some(
                self.base
                    .elapsed()
                    .saturating_sub(Duration::from_nanos(t - 1)),
            ),
        }
    }

    fn mark(&self, at: &AtomicU64, now: Instant) {
        let nanos = u64::try_from(now.duration_since(self.base).as_nanos()).unwrap_or(u64::MAX);
        at.store(nanos.saturating_add(1), Relaxed);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Called by the writer thread after each batch it wrote, with how many changes are
/// written so far (see [`Writer::mark`]).
pub type OnWritten = Box<dyn Fn(u64) + Send + Sync>;

/// Handle to the writer thread; dropping it writes what is queued and stops the thread.
#[derive(Debug)]
pub struct Writer {
    tx: Option<mpsc::Sender<Message>>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<WriterStats>,
    source: Arc<SourceCell>,
    on_written: Arc<OnWrittenCell>,
}

#[derive(Default)]
struct OnWrittenCell(std::sync::OnceLock<OnWritten>);

impl std::fmt::Debug for OnWrittenCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "OnWritten(set)"
        } else {
            "OnWritten(none)"
        })
    }
}

impl Writer {
    /// Starts the writer thread on `store`.
    pub fn spawn(store: impl Into<Backend>, max_delay: Duration) -> Writer {
        let store = store.into();
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(WriterStats::default());
        let counters = Arc::clone(&stats);
        let source = Arc::new(SourceCell::new());
        let cell = Arc::clone(&source);
        let on_written = Arc::new(OnWrittenCell::default());
        let hook = Arc::clone(&on_written);
        let thread = std::thread::Builder::new()
            .name("switchboard-store".into())
            .spawn(move || {
                Thread {
                    store,
                    max_delay,
                    stats: &counters,
                    source: &cell,
                    on_written: &hook,
                    pending: Pending::default(),
                    flushes: Vec::new(),
                }
                .run(&rx);
            })
            .expect("spawning the store's writer thread");
        Writer {
            tx: Some(tx),
            thread: Some(thread),
            stats,
            source,
            on_written,
        }
    }

    /// Where [`Change::Call`] and [`Change::Agent`] are read from. Held weakly: the
    /// writer never keeps the source alive. Set once; later calls are ignored.
    pub fn read_live_state_from(&self, source: &Arc<dyn LiveSource>) {
        let _ = self.source.set(Arc::downgrade(source));
    }

    /// Changes sent so far: once [`OnWritten`] reports this many written, every change
    /// sent before this call is durable (the channel keeps their order, so any change
    /// counted here but sent after is behind them).
    pub fn mark(&self) -> u64 {
        self.stats.sent.load(Relaxed)
    }

    /// Tells `f` after each batch written how many changes are written so far. Set
    /// once; later calls are ignored.
    pub fn on_written(&self, f: OnWritten) {
        let _ = self.on_written.0.set(f);
    }

    /// Queues a change; never blocks.
    pub fn send(&self, change: Change) {
        if let Some(tx) = &self.tx {
            self.stats.sent.fetch_add(1, Relaxed);
            let _ = tx.send(Message::Change(change));
        }
    }

    /// Waits until everything sent before is written; while the store is failing, the
    /// error of the try that includes it (the changes stay queued and are written when
    /// the store recovers).
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

    /// From now on every write carries `epoch`, the lease this node took, and the
    /// database refuses it once another node takes the lease (PostgreSQL; a file store
    /// has no lease and ignores it). Waits until the writer has it, and has counted the
    /// journal's log as it now stands.
    pub fn fence_with(&self, epoch: i64) -> Result<(), String> {
        let (done, wait) = mpsc::channel();
        self.tx
            .as_ref()
            .ok_or_else(|| "the writer has stopped".to_owned())?
            .send(Message::Fence(epoch, done))
            .map_err(|_| "the writer has stopped".to_owned())?;
        wait.recv()
            .map_err(|_| "the writer has stopped".to_owned())?
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

struct Thread<'a> {
    store: Backend,
    max_delay: Duration,
    stats: &'a WriterStats,
    source: &'a SourceCell,
    on_written: &'a OnWrittenCell,
    pending: Pending,
    /// Flushes waiting for the changes sent before them.
    flushes: Vec<mpsc::Sender<Result<(), String>>>,
}

impl Thread<'_> {
    fn run(mut self, rx: &mpsc::Receiver<Message>) {
        // After a batch cut short at MAX_BATCH the next one starts at once.
        let mut backlog = false;
        let mut retry = FIRST_RETRY;
        loop {
            if self.stats.is_up() {
                let Ok(first) = rx.recv() else { break };
                // Sleep out the delay rather than wait on the channel message by message:
                // a sender then never has to wake this thread, which would cost the
                // request path a system call per change.
                if !backlog && !self.max_delay.is_zero() {
                    std::thread::sleep(self.max_delay);
                }
                self.take(first);
                while self.pending.changes() < MAX_BATCH
                    && let Ok(m) = rx.try_recv()
                {
                    self.take(m);
                }
                backlog = self.pending.changes() >= MAX_BATCH;
            } else {
                // Failing: gather what arrives until the next try (a flush asked for
                // meanwhile is answered by that try).
                let until = Instant::now() + retry;
                let mut closed = false;
                while let Some(left) = until.checked_duration_since(Instant::now()) {
                    match rx.recv_timeout(left) {
                        Ok(m) => self.take(m),
                        Err(mpsc::RecvTimeoutError::Timeout) => break,
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            closed = true;
                            break;
                        }
                    }
                }
                if closed {
                    // The last try, for what the process still holds.
                    self.write();
                    break;
                }
            }
            if self.write() {
                retry = FIRST_RETRY;
            } else {
                retry = (retry * 2).min(LAST_RETRY);
            }
        }
    }

    /// Folds a message in.
    fn take(&mut self, m: Message) {
        match m {
            Message::Change(c) => {
                if self.pending.is_empty() {
                    self.stats.mark(&self.stats.oldest, Instant::now());
                }
                self.pending.add(c);
                self.stats
                    .pending_bytes
                    .store(self.pending.bytes(), Relaxed);
            }
            Message::Flush(done) => self.flushes.push(done),
            Message::Fence(epoch, done) => {
                let _ = done.send(self.store.fence_with(epoch).map_err(|e| e.to_string()));
            }
        }
    }

    /// Tries to write the batch; answers the flushes that waited for it. True when the
    /// store is up after it.
    fn write(&mut self) -> bool {
        let result = if self.pending.is_empty() {
            Ok(())
        } else {
            let source = journal::source(self.source);
            self.pending
                .write(&mut self.store, source.as_deref())
                .map(|pruned| {
                    self.stats.pruned.fetch_add(pruned, Relaxed);
                    self.stats.commits.fetch_add(1, Relaxed);
                    self.stats
                        .written
                        .fetch_add(self.pending.changes(), Relaxed);
                    self.pending = Pending::default();
                    self.stats.pending_bytes.store(0, Relaxed);
                    self.stats.oldest.store(0, Relaxed);
                })
                .map_err(|e| {
                    if matches!(e, crate::StoreError::Fenced { .. }) {
                        self.stats.fenced.store(true, Relaxed);
                    }
                    e.to_string()
                })
        };
        match &result {
            Ok(()) => {
                if !self.stats.is_up() {
                    self.stats.failing.store(0, Relaxed);
                    *lock(&self.stats.last_error) = None;
                    self.stats.up.store(true, Relaxed);
                }
            }
            Err(e) => {
                self.stats.failures.fetch_add(1, Relaxed);
                if self.stats.is_up() {
                    self.stats.mark(&self.stats.failing, Instant::now());
                    self.stats.up.store(false, Relaxed);
                }
                *lock(&self.stats.last_error) = Some(e.clone());
            }
        }
        if result.is_ok()
            && let Some(f) = self.on_written.0.get()
        {
            f(self.stats.written.load(Relaxed));
        }
        for done in self.flushes.drain(..) {
            let _ = done.send(result.clone());
        }
        result.is_ok()
    }
}

impl Store {
    /// Writes a batch of changes in one transaction.
    pub fn apply(&mut self, changes: &[Change]) -> Result<(), crate::StoreError> {
        let mut pending = Pending::default();
        for c in changes {
            pending.add(c.clone());
        }
        let batch = pending.prepare(None)?;
        self.write_prepared(&batch)?;
        self.appended(&batch.calls, None);
        Ok(())
    }
}
