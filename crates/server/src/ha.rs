//! Several nodes on one PostgreSQL store: one leads the routing domain, the others stand
//! by. A node leads while it holds the domain's lease ([`switchboard_store::postgres::lease`])
//! and its own clock says the lease has not run out; everything else is refused with
//! UNAVAILABLE naming the leader, and health says NOT_SERVING, so load balancers and
//! switches send work to the leader.
//!
//! A standby keeps a warm copy ([`switchboard_store::postgres::follow`]): customers and
//! learned behaviour go into its directory as the leader writes them, and the journal's
//! calls into the copy. When the lease expires it takes it (a new epoch, which fences
//! every later write of the old leader), reads the last of the journal, puts the calls
//! and agents back as a restart would, and serves.
//!
//! A leader that loses the lease (another node took it, a write was fenced, or it could
//! not renew in time) stops serving at once and hands itself to [`StepDown`]: the binary
//! starts over as a standby, so nothing it held in memory outlives its lease.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use switchboard_store::{
    PgOptions, StoreError,
    postgres::{
        follow::{FollowFrom, Follower},
        lease::{Held, Holder, Lease},
    },
};

use crate::App;

/// The shared store's settings for the lease, and where the warm copy starts: the
/// customers and learned behaviour changed after the start read them.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) options: PgOptions,
    pub(crate) from: FollowFrom,
}

/// What a node does once it no longer leads: the binary starts over; a library user
/// may do otherwise (the node refuses everything meanwhile).
pub type StepDown = Arc<dyn Fn(&str) + Send + Sync>;

/// A node's standing in its routing domain.
#[derive(Debug)]
pub(crate) struct Node {
    domain: String,
    name: String,
    /// Where clients reach this node: `store.advertise`, else the address the gRPC port
    /// is bound to (set once it is).
    address: Mutex<String>,
    advertised: bool,
    lease: Duration,
    base: Instant,
    /// The end of this node's lease in nanoseconds after `base`, plus one; 0 while it
    /// does not lead.
    until: AtomicU64,
    epoch: AtomicI64,
    /// Set once this node has lost the lease: it never leads again in this process.
    lost: AtomicU64,
    takeovers: AtomicU64,
    /// The warm copy's lag in milliseconds, plus one; 0 before the first poll.
    lag_ms: AtomicU64,
    leader: Mutex<Option<Holder>>,
}

/// What `Admin.GetNode` and `switchboard status` show.
#[derive(Debug, Clone)]
pub struct NodeView {
    pub domain: String,
    pub name: String,
    pub address: String,
    pub leading: bool,
    pub epoch: i64,
    pub leader: Option<Holder>,
    pub lag: Option<Duration>,
    pub takeovers: u64,
}

impl Node {
    pub(crate) fn new(domain: &str, name: &str, advertise: Option<&str>, lease: Duration) -> Node {
        Node {
            domain: domain.to_owned(),
            name: name.to_owned(),
            address: Mutex::new(advertise.unwrap_or_default().to_owned()),
            advertised: advertise.is_some(),
            lease,
            base: Instant::now(),
            until: AtomicU64::new(0),
            epoch: AtomicI64::new(0),
            lost: AtomicU64::new(0),
            takeovers: AtomicU64::new(0),
            lag_ms: AtomicU64::new(0),
            leader: Mutex::new(None),
        }
    }

    /// Whether this node leads now: it holds the lease and, by its own clock, the lease
    /// has not run out.
    pub(crate) fn is_leading(&self) -> bool {
        match self.until.load(Relaxed) {
            0 => false,
            t => (self.base.elapsed().as_nanos() as u64) < t - 1,
        }
    }

    fn hold(&self, held: Held) {
        let nanos = held.until.saturating_duration_since(self.base).as_nanos() as u64;
        self.epoch.store(held.epoch, Relaxed);
        self.until.store(nanos.saturating_add(1), Relaxed);
    }

    fn let_go(&self) {
        self.until.store(0, Relaxed);
        self.lost.store(1, Relaxed);
    }

    /// The address the gRPC port is bound to, unless `store.advertise` names another.
    pub(crate) fn bound(&self, at: std::net::SocketAddr) {
        if !self.advertised {
            *self.address.lock().unwrap_or_else(|e| e.into_inner()) = at.to_string();
        }
    }

    fn address(&self) -> String {
        self.address
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Holder>> {
        self.leader.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Why this node refuses work now: `None` while it leads.
    pub(crate) fn refusal(&self) -> Option<String> {
        if self.is_leading() {
            return None;
        }
        let leader = self.lock().clone();
        Some(match leader {
            Some(h) if h.node != self.name && !h.expires_in.is_zero() => format!(
                "this node ({}) is a standby of routing domain {}: the leader is {} at {} (epoch {}); send requests there",
                self.name, self.domain, h.node, h.address, h.epoch
            ),
            _ if self.lost.load(Relaxed) != 0 => format!(
                "this node ({}) lost the lease of routing domain {} and is starting over as a standby; send requests to the new leader",
                self.name, self.domain
            ),
            _ => format!(
                "this node ({}) is a standby of routing domain {} and no node leads it at the moment (a takeover takes up to {} ms); try again shortly",
                self.name,
                self.domain,
                self.lease.as_millis()
            ),
        })
    }

    /// The leader's address, for clients that follow it.
    pub(crate) fn leader_address(&self) -> Option<String> {
        self.lock()
            .as_ref()
            .filter(|h| h.node != self.name && !h.expires_in.is_zero())
            .map(|h| h.address.clone())
    }

    pub(crate) fn view(&self) -> NodeView {
        let leading = self.is_leading();
        NodeView {
            domain: self.domain.clone(),
            name: self.name.clone(),
            address: self.address(),
            leading,
            epoch: self.epoch.load(Relaxed),
            leader: self.lock().clone(),
            lag: match self.lag_ms.load(Relaxed) {
                0 => None,
                ms => Some(Duration::from_millis(ms - 1)),
            },
            takeovers: self.takeovers.load(Relaxed),
        }
    }
}

/// This node's name: host, process id and start time, unique per start.
pub(crate) fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".to_owned());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("{host}:{}:{started}", std::process::id())
}

/// Runs the lease for `app` on a thread of its own until the app stops: takes the lease
/// (at once when free), renews it a third of its time apart, follows the leader while
/// standing by, and steps down when the lease is lost.
pub(crate) fn start(
    app: &App,
    shared: Arc<Shared>,
    step_down: StepDown,
) -> std::thread::JoinHandle<()> {
    let app = app.clone();
    std::thread::Builder::new()
        .name("switchboard-lease".into())
        .spawn(move || run(&app, &shared, &step_down))
        .expect("spawning the lease thread")
}

fn run(app: &App, shared: &Shared, step_down: &StepDown) {
    let options = &shared.options;
    let Some(node) = app.node.clone() else { return };
    let poll = (options.lease / 4).min(Duration::from_millis(250));
    let renew_every = options.lease / 3;
    let mut parts: Option<(Lease, Follower)> = None;
    let mut last_warning: Option<Instant> = None;
    let mut warn = |what: &str, e: &StoreError| {
        if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
            tracing::warn!(error = %e, domain = %node.domain, "{what}");
            last_warning = Some(Instant::now());
        }
    };
    while !app.is_stopping() {
        let (lease, follower) = match &mut parts {
            Some(p) => (&mut p.0, &mut p.1),
            None => {
                let connected = Lease::connect(options, &node.name, &node.address())
                    .and_then(|l| Ok((l, Follower::connect(options, shared.from)?)));
                match connected {
                    Ok(p) => {
                        let p = parts.insert(p);
                        (&mut p.0, &mut p.1)
                    }
                    Err(e) => {
                        warn("cannot reach the store for the lease; standing by", &e);
                        std::thread::sleep(poll);
                        continue;
                    }
                }
            }
        };
        if node.until.load(Relaxed) == 0 {
            // Standing by: take the lease if it is free, else follow the leader.
            match lease.try_take() {
                Ok(Some(held)) => {
                    if let Err(e) = take_over(app, &node, held, follower) {
                        // Nothing was put back yet: give the lease up and stand by again
                        // (a connection the database dropped is opened anew next time).
                        tracing::warn!(error = %e, "taking over failed; standing by again");
                        let _ = lease.release(held.epoch);
                        std::thread::sleep(poll);
                    }
                    continue;
                }
                Ok(None) => match lease.holder() {
                    Ok(h) => *node.lock() = h,
                    Err(e) => warn("cannot read who leads", &e),
                },
                Err(e) => warn("cannot take the lease", &e),
            }
            match follower.poll(|name| app.router.plan().tier_by_name(name)) {
                Ok(changed) => {
                    apply(app, changed);
                    lag(&node, follower);
                }
                Err(e) => warn("cannot follow the leader's journal", &e),
            }
            std::thread::sleep(poll);
            continue;
        }
        // Leading: renew a third of the lease apart.
        std::thread::sleep(renew_every);
        if app.is_stopping() {
            break;
        }
        let epoch = node.epoch.load(Relaxed);
        let fenced = app.store.as_ref().is_some_and(|w| w.stats().is_fenced());
        let why = match lease.renew(epoch) {
            _ if fenced => Some("a write was refused by the lease's fence".to_owned()),
            Ok(Some(held)) => {
                node.hold(held);
                None
            }
            Ok(None) => Some("another node took the lease".to_owned()),
            Err(e) if !node.is_leading() => Some(format!(
                "the lease ran out while it could not be renewed ({e})"
            )),
            Err(e) => {
                warn("cannot renew the lease; still within it", &e);
                None
            }
        };
        if let Some(why) = why {
            lose(app, &node, &why);
            step_down(&why);
            return;
        }
    }
    // Shutting down: the writer has flushed by the time the process exits; the lease is
    // given up so a standby need not wait it out.
    if node.is_leading()
        && let Some((lease, _)) = &mut parts
    {
        let epoch = node.epoch.load(Relaxed);
        if let Some(w) = &app.store {
            let _ = w.flush();
        }
        node.let_go();
        match lease.release(epoch) {
            Ok(()) => tracing::info!(domain = %node.domain, epoch, "lease given up"),
            Err(e) => {
                tracing::warn!(error = %e, "could not give the lease up; it expires on its own")
            }
        }
    }
}

fn lag(node: &Node, follower: &Follower) {
    if let Some(l) = follower.lag() {
        node.lag_ms
            .store((l.as_millis() as u64).saturating_add(1), Relaxed);
    }
}

/// Customers and learned behaviour the leader wrote, into this node's directory.
fn apply(app: &App, changed: switchboard_store::postgres::follow::Followed) {
    for c in changed.customers {
        let id = c.id.clone();
        if let Err(e) = app.router.directory().upsert(c) {
            tracing::debug!(customer = %id, error = %e, "followed customer not loaded");
        }
    }
    let behaviour = app.router.behaviour();
    for (number, learned, contact) in changed.learned {
        behaviour.restore(number, learned, contact);
    }
}

/// Takes the domain over at `held`: every later write carries its epoch, the last of
/// the journal is read, and the calls and agents are put back. Whatever fails, fails
/// before anything is put back, so the node can stand by again as it was.
fn take_over(app: &App, node: &Node, held: Held, follower: &mut Follower) -> Result<(), String> {
    let began = Instant::now();
    let had = node.lock().clone();
    if let Some(w) = &app.store {
        w.fence_with(held.epoch)?;
    }
    let changed = follower
        .poll(|name| app.router.plan().tier_by_name(name))
        .map_err(|e| e.to_string())?;
    apply(app, changed);
    let journal = follower.journal().map_err(|e| e.to_string())?;
    node.hold(held);
    let mut notes = Vec::new();
    let (agents, calls, offers) = app.restore(journal, &mut notes);
    for note in notes {
        tracing::warn!("{note}");
    }
    node.takeovers.fetch_add(1, Relaxed);
    *node.lock() = Some(Holder {
        node: node.name.clone(),
        address: node.address(),
        epoch: held.epoch,
        expires_in: node.lease,
    });
    tracing::info!(
        domain = %node.domain,
        epoch = held.epoch,
        previous = had.as_ref().map(|h| h.node.as_str()).unwrap_or("none"),
        agents,
        calls,
        offers,
        took_ms = began.elapsed().as_millis() as u64,
        "leading the routing domain: calls and agents put back from the journal"
    );
    Ok(())
}

/// Stops leading: refuses everything, and ends the switches' streams so they reconnect
/// to the new leader.
fn lose(app: &App, node: &Node, why: &str) {
    node.let_go();
    let streams = app.dispatch.end_all(&tonic::Status::unavailable(format!(
        "this node lost the lease of routing domain {}: {why}; reconnect to the new leader",
        node.domain
    )));
    tracing::error!(domain = %node.domain, streams, "{why}: no longer leading; starting over as a standby");
}
