//! Switchboard's gRPC server: the `switchboard.v1` services over tonic, standard health
//! checking and server reflection, and the background upkeep of call state.
//!
//! Layout:
//! - [`App`]: the shared state every service holds (router, clock, settings).
//! - [`serve`]: the server's life, from serving to a shutdown that loses nothing.
//! - `reload`: applying an edited config while calls are in flight, on request, on
//!   SIGHUP or when the files change.
//! - `routing`, `agents`, `admin`: one module per service.
//! - `audit`: the audit trail of changes admins and supervisors make.
//! - `dispatch`: assignments on their way to the switches' streams.
//! - `convert`: API messages to core types and back, refusing bad fields by name.
//! - `durability`: what the server does while its store cannot write, and at shutdown.
//! - `connections`: accepting (over TLS when configured), limiting and closing idle
//!   client connections.
//! - [`security`]: identities, roles and the one authorization layer every request
//!   passes.
//! - `metrics`: the Prometheus exposition.
//! - `sip`: the SIP redirect server's sockets, peers, and decisions as SIP answers.
//! - [`error`]: every client-visible failure and its one mapping to a gRPC status.

use std::{
    future::Future,
    path::PathBuf,
    sync::{Arc, atomic::AtomicBool},
    time::Duration,
};

use arc_swap::ArcSwap;
use switchboard_config::{Config, Settings, customers, store::StoreAt};
use switchboard_core::{Directory, Millis, Router, acd::WaitExpired, router::Outcome};
use switchboard_proto::{
    FILE_DESCRIPTOR_SET, v1 as pb,
    v1::{admin_server::AdminServer, agents_server::AgentsServer, routing_server::RoutingServer},
};
use switchboard_store::{
    Backend, Location, PgOptions, StoreError,
    journal::{Journal, LiveSource},
    lock::StoreLock,
    writer::{Change, Writer},
};
use tokio::net::TcpListener;

mod admin;
mod agents;
mod audit;
mod connections;
mod convert;
mod dispatch;
mod durability;
mod ha;
pub use ha::{NodeView, StepDown};
pub mod error;
mod floor;
mod metrics;
mod reload;
mod routing;
pub mod security;
mod sip;
mod supervise;
mod wallboard;

pub use durability::STORE_HEALTH;

pub use metrics::serve_metrics;
pub use reload::{ReloadCounts, ReloadOutcome};
pub use sip::SipAddresses;

/// Where time comes from: the wall clock in production, a hand-driven one in tests.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    fn now(&self) -> Millis;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        Millis::now()
    }
}

/// Where the customers loaded at start come from.
#[derive(Debug, Clone)]
pub enum CustomerSource {
    /// The sample customers built into the binary.
    Embedded,
    File(PathBuf),
    None,
}

/// State shared by every service; cheap to clone.
#[derive(Debug, Clone)]
pub struct App {
    pub router: Arc<Router>,
    dispatch: Arc<dispatch::Dispatch>,
    pub clock: Arc<dyn Clock>,
    settings: Arc<ArcSwap<Settings>>,
    /// The config file or directory to reload from; `None` on the embedded default.
    config_path: Option<Arc<PathBuf>>,
    reloads: Arc<reload::Counters>,
    /// Where changes are persisted, when the server keeps a store.
    store: Option<Arc<Writer>>,
    /// Where the store is, read by reports on connections of their own.
    store_location: Option<Arc<switchboard_store::Location>>,
    metrics: Arc<metrics::Metrics>,
    /// Each agent's figures since start.
    scorecards: Arc<switchboard_core::scorecard::Scorecards>,
    /// The store is this process's alone while it runs.
    lock: Option<Arc<StoreLock>>,
    /// Shutting down: new calls are refused.
    stopping: Arc<AtomicBool>,
    connections: Arc<connections::ConnectionCounts>,
    /// Requests the authorization layer refused.
    denials: Arc<security::authorize::Denials>,
    /// The recent audit trail (all of it is in the store, when there is one).
    audit_trail: Arc<audit::Recent>,
    /// The live floor for wallboards and `Admin.WatchFloor`.
    floor: Arc<floor::feed::Feed>,
    /// Each agent's answered and missed offers today.
    floor_days: Arc<floor::AgentDays>,
    /// When this server started (today's figures count from here at the latest).
    started: Millis,
    /// Where the SIP listeners are bound, once they are.
    sip: Arc<sip::Bound>,
    /// On a store shared by several nodes: this node's standing in its routing domain,
    /// and the store's settings for the lease.
    node: Option<Arc<ha::Node>>,
    lease: Option<Arc<ha::Shared>>,
    /// What happens when this node loses the lease.
    step_down: StepDownHook,
}

/// What a node does once it no longer leads (see [`ha`]).
#[derive(Clone, Default)]
struct StepDownHook(Option<ha::StepDown>);

impl std::fmt::Debug for StepDownHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "StepDown(set)"
        } else {
            "StepDown(none)"
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("customers: {0}")]
    Customers(#[from] customers::CustomersError),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("security: {0}")]
    Security(#[from] security::SecurityError),
    /// Listening where other hosts reach the server without TLS and authentication.
    #[error("server.listen: {0}")]
    Insecure(String),
    /// A SIP listener could not be bound: the key, the address and why.
    #[error("{0}")]
    Sip(String),
}

/// Where the customers came from at a start with a store.
#[derive(Debug)]
pub struct Loaded {
    /// The store's file, or its URL without the password.
    pub store: String,
    /// Customers read back from the store.
    pub from_store: usize,
    /// The first start: the store was empty and the customers CSV (or the samples) filled
    /// it; the rows that were skipped, with their lines.
    pub seeded: Option<customers::ImportReport>,
    /// Stored customers that no longer fit the config, and how they are served.
    pub notes: Vec<String>,
    /// Agents and calls put back from the journal of live state.
    pub restored_agents: usize,
    pub restored_calls: usize,
    /// Offers re-sent to switches (they get them when they reconnect).
    pub resent_offers: usize,
}

/// Where the config's store is, as the store crate names it.
pub fn store_location(at: &StoreAt) -> Location {
    match at {
        StoreAt::File(path) => Location::File(path.clone()),
        StoreAt::Postgres(p) => Location::Postgres(pg_options(p)),
    }
}

/// The store's view of `[store] url` and its settings.
pub(crate) fn pg_options(p: &switchboard_config::store::Postgres) -> PgOptions {
    PgOptions {
        url: p.url.clone(),
        tls_ca: p.tls_ca.clone(),
        pool_size: p.pool_size,
        domain: p.domain.clone(),
        lease: p.lease,
    }
}

impl App {
    /// Builds the router from a valid config and loads the customers. Bad customer rows
    /// are returned for the caller to report; they never stop the start.
    pub fn new(
        config: Config,
        customers: &CustomerSource,
        clock: Arc<dyn Clock>,
    ) -> Result<(App, customers::ImportReport), StartError> {
        let directory = Arc::new(Directory::new());
        let report = load_customers(customers, &config.plan, &directory, |_| {})?;
        Ok((App::assemble(config, directory, clock), report))
    }

    fn assemble(config: Config, directory: Arc<Directory>, clock: Arc<dyn Clock>) -> App {
        let started = clock.now();
        App {
            router: Arc::new(Router::new(config.plan, directory)),
            dispatch: Arc::default(),
            clock,
            settings: Arc::new(ArcSwap::from_pointee(config.settings)),
            config_path: None,
            reloads: Arc::default(),
            store: None,
            store_location: None,
            metrics: Arc::default(),
            scorecards: Arc::default(),
            lock: None,
            stopping: Arc::default(),
            connections: Arc::default(),
            denials: Arc::default(),
            audit_trail: Arc::default(),
            floor: Arc::new(floor::feed::Feed::new(Millis::now())),
            floor_days: Arc::default(),
            started,
            sip: Arc::default(),
            node: None,
            lease: None,
            step_down: StepDownHook::default(),
        }
    }

    /// Like [`App::new`], keeping the config's store (`store.path`; in memory only when
    /// the store is off). The customers come from the store; on the first start, when it
    /// is empty, `customers` fill it. A store that cannot be trusted stops the start.
    pub fn with_store(
        config: Config,
        customers: &CustomerSource,
        clock: Arc<dyn Clock>,
    ) -> Result<(App, Option<Loaded>), StartError> {
        // PostgreSQL's client blocks on a runtime of its own, which cannot start inside
        // another: called from async code, the start runs on a thread of its own.
        if tokio::runtime::Handle::try_current().is_ok() {
            return std::thread::scope(|s| {
                s.spawn(|| App::open_store(config, customers, clock))
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            });
        }
        App::open_store(config, customers, clock)
    }

    fn open_store(
        config: Config,
        customers: &CustomerSource,
        clock: Arc<dyn Clock>,
    ) -> Result<(App, Option<Loaded>), StartError> {
        let Some(at) = config.settings.store.clone() else {
            let (app, report) = App::new(config, customers, clock)?;
            tracing::warn!(
                customers = report.imported,
                "store.enabled = false: nothing is kept across restarts"
            );
            return Ok((app, None));
        };
        let (location, lock) = match at {
            StoreAt::File(path) => {
                // Taken before the store is read: a second server on it would restore the
                // same calls and agents and run a second distributor over one journal.
                let lock = StoreLock::acquire(&path, &format!("pid {}", std::process::id()))?;
                (Location::File(path), Some(lock))
            }
            StoreAt::Postgres(p) => (Location::Postgres(pg_options(&p)), None),
        };
        let mut store = Backend::open(&location)?;
        // On a shared store nothing is written with a fence until the lease is taken
        // (epoch 0 is never a lease's), and the journal is read when it is.
        let shared = match (&mut store, config.settings.store.as_ref()) {
            (Backend::Postgres(pg), Some(StoreAt::Postgres(p))) => {
                pg.fence_with(Some(0));
                let node =
                    ha::Node::new(&p.domain, &ha::node_name(), p.advertise.as_deref(), p.lease);
                let shared = ha::Shared {
                    options: pg.options().clone(),
                    from: pg.follow_from()?,
                };
                Some((Arc::new(node), Arc::new(shared)))
            }
            _ => None,
        };
        let plan = &config.plan;
        let directory = Arc::new(Directory::new());
        let (stored, stale) = store.customers(|name| plan.tier_by_name(name))?;
        let mut notes: Vec<String> = stale
            .into_iter()
            .map(|n| format!("customer {}: {}", n.customer_id, n.note))
            .collect();
        let from_store = stored.len();
        let seeded = if stored.is_empty() {
            let mut fresh = Vec::new();
            let report = load_customers(customers, plan, &directory, |c| {
                fresh.push(Arc::clone(c));
            })?;
            store.put_customers(fresh.iter().map(|c| &**c), |t| plan.tier(t).name.as_str())?;
            Some(report)
        } else {
            for c in stored {
                let id = c.id.clone();
                if let Err(e) = directory.upsert(c) {
                    notes.push(format!("customer {id}: {e}; not loaded"));
                }
            }
            None
        };
        let learned = store.learned()?;
        let journal = match shared {
            Some(_) => Journal::default(),
            None => store.journal()?,
        };
        let writer = Arc::new(Writer::spawn(store, config.settings.commit_delay));
        let mut app = App::assemble(config, directory, clock);
        let behaviour = app.router.behaviour();
        for (number, l, contact) in learned {
            behaviour.restore(number, l, contact);
        }
        behaviour.keep_with(Arc::new(StoreKeeper(Arc::clone(&writer))));
        let source: Arc<dyn LiveSource> = app.router.clone();
        writer.read_live_state_from(&source);
        app.store = Some(writer);
        app.store_location = Some(Arc::new(location.clone()));
        app.lock = lock.map(Arc::new);
        if let Some((node, shared)) = shared {
            app.node = Some(node);
            app.lease = Some(shared);
        }
        app.metrics = Arc::new(metrics::Metrics::new(true, app.node.is_some()));
        app.dispatch.journal_to(app.store.clone());
        if app.node.is_some() {
            app.dispatch.hold_until_written();
        }
        let restored = app.restore(journal, &mut notes);
        Ok((
            app,
            Some(Loaded {
                store: location.shown(),
                from_store,
                seeded,
                notes,
                restored_agents: restored.0,
                restored_calls: restored.1,
                resent_offers: restored.2,
            }),
        ))
    }

    /// Puts back the agents and calls the journal holds: agents first (in their states),
    /// then calls in their queues under their recorded keys, so they keep their order and
    /// arrival times. Offers pending when the process stopped go to their switches again;
    /// calls and agents that were both free meet. Returns (agents, calls, offers re-sent).
    fn restore(&self, journal: Journal, notes: &mut Vec<String>) -> (usize, usize, usize) {
        let now = self.clock.now();
        let acd = self.router.acd();
        for row in journal.unreadable {
            notes.push(format!("journal: left unread: {row}"));
        }
        for (name, reason) in &journal.closed_queues {
            match self.router.plan().queue_by_name(name) {
                Some(id) => {
                    let _ = acd.close(id, reason, now);
                }
                None => {
                    notes.push(format!(
                        "queue {name} was closed but is no longer in the config; forgotten"
                    ));
                    self.persist_queue(name, None);
                }
            }
        }
        let agents = journal.agents.len();
        for image in journal.agents {
            let id: Arc<str> = Arc::from(image.profile.id.as_str());
            acd.restore_agent(image);
            self.mark_agent(&id);
        }
        acd.order_members();
        let restored = self.router.restore_calls(journal.calls, now);
        notes.extend(restored.notes);
        // Calls put back as written need no new row (rewriting one would also write its
        // call record again, perhaps after retention removed it).
        for id in &restored.changed {
            self.mark_call(id);
        }
        for a in &restored.pending {
            self.dispatch.send(&self.router, a, now);
        }
        for a in acd.offer_idle(now) {
            self.dispatch.send(&self.router, &a, now);
        }
        (agents, restored.calls, restored.pending.len())
    }

    /// Tells the journal a call changed (no-op without a store; never waits).
    pub(crate) fn mark_call(&self, call_id: &str) {
        if let Some(w) = &self.store {
            w.send(Change::Call(Arc::from(call_id)));
        }
    }

    /// Tells the journal an agent changed.
    pub(crate) fn mark_agent(&self, agent_id: &str) {
        if let Some(w) = &self.store {
            w.send(Change::Agent(Arc::from(agent_id)));
        }
    }

    /// A call is over and gone from memory: its final record, and out of the journal.
    pub(crate) fn call_done(&self, call: switchboard_core::router::CallImage) {
        if let Some(w) = &self.store {
            w.send(Change::CallDone(Box::new(call)));
        }
    }

    /// Persists a queue's close (with why) or its opening (no-op without a store).
    pub(crate) fn persist_queue(&self, name: &str, closed: Option<&str>) {
        if let Some(w) = &self.store {
            w.send(Change::Queue {
                name: Arc::from(name),
                closed: closed.map(Arc::from),
            });
        }
    }

    /// Persists a customer as stored in the directory (no-op without a store).
    pub(crate) fn persist_customer(&self, customer: &Arc<switchboard_core::Customer>) {
        if let Some(w) = &self.store {
            let plan = self.router.plan();
            w.send(Change::Customer {
                customer: Arc::clone(customer),
                tier: Arc::from(plan.tier(customer.tier).name.as_str()),
            });
        }
    }

    /// Whether this node leads its routing domain: always on an SQLite store or none;
    /// on a shared store while it holds the lease.
    pub fn leads(&self) -> bool {
        self.node.as_ref().is_none_or(|n| n.is_leading())
    }

    /// This node's standing in its routing domain, on a store shared by several nodes.
    pub fn node(&self) -> Option<ha::NodeView> {
        self.node.as_ref().map(|n| n.view())
    }

    /// What to do when this node loses its routing domain's lease (the binary starts
    /// over as a standby). Without it the node refuses everything until restarted.
    pub fn on_step_down(&mut self, step_down: ha::StepDown) {
        self.step_down = StepDownHook(Some(step_down));
    }

    /// How the store's writer stands, when the server keeps a store.
    pub fn store_stats(&self) -> Option<&switchboard_store::writer::WriterStats> {
        self.store.as_deref().map(Writer::stats)
    }

    /// Waits until every change sent to the store so far is durable.
    pub fn flush_store(&self) -> Result<(), String> {
        self.store.as_ref().map_or(Ok(()), |w| w.flush())
    }

    /// The settings in force (a reload may replace them).
    /// An agent's figures since start (zeros before a first call), judged against the
    /// coaching standard in force.
    pub(crate) fn figures(&self, agent_id: &str) -> switchboard_proto::v1::AgentFigures {
        convert::figures_to(
            &self.scorecards.get(agent_id).unwrap_or_default(),
            &self.router.plan().coaching,
        )
    }

    /// Whether call spans carry the caller's number (`server.log_caller_numbers`).
    pub(crate) fn log_caller_numbers(&self) -> bool {
        self.settings.load().log_caller_numbers
    }

    pub fn settings(&self) -> Arc<Settings> {
        self.settings.load_full()
    }
}

/// How a server stopped.
#[derive(Debug)]
pub struct Stopped {
    /// Whether everything acknowledged was written to the store before the end (always
    /// `Ok` without a store); the error says what could not be.
    pub flushed: Result<(), String>,
    /// Requests were still open when `server.shutdown_grace` ran out.
    pub cut_short: bool,
}

/// What an assignment stream ends with when the server shuts down.
pub(crate) const SHUTDOWN_STATUS: &str =
    "the server is shutting down: reconnect (to this server once it is back, or to another)";

/// File descriptors kept for everything but client connections (the store and its
/// journal, listeners, the metrics port, config files being read).
const RESERVED_DESCRIPTORS: u64 = 64;

/// Serves every service on `listener` until `shutdown` completes, then shuts down
/// without losing anything acknowledged: health goes NOT_SERVING at once, new calls are
/// refused, every assignment stream ends with UNAVAILABLE, requests in flight get up to
/// `server.shutdown_grace` to finish, the background work stops, and the store is
/// flushed (retried until the grace runs out if it is failing).
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Stopped, StartError> {
    let settings = app.settings();
    if let Ok(at) = listener.local_addr()
        && let Some(refusal) = settings.security.refusal(at)
    {
        return Err(StartError::Insecure(refusal));
    }
    let guard = Arc::new(security::Guard::load(&settings.security)?);
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let health = durability::Health::new(reporter, app.store.is_some());
    health.show(&app).await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    // Background work stops on its own at shutdown, finishing the step it is in, so
    // nothing it changes arrives after the last flush.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // Bound before anything else starts, so a SIP address that cannot be had stops the
    // start with nothing to undo.
    let sip_tasks = sip::start(&app, &stopped).await?;
    let background = [
        tokio::spawn(every_second(
            app.clone(),
            stopped.clone(),
            forget_old_calls_once,
        )),
        tokio::spawn(every_second(app.clone(), stopped.clone(), acd_upkeep_once)),
        tokio::spawn(prune_call_records(app.clone(), stopped.clone())),
        tokio::spawn(durability::watch_store(
            app.clone(),
            health.clone(),
            stopped.clone(),
        )),
        tokio::spawn(security::watch_files(Arc::clone(&guard), stopped.clone())),
    ];
    if let (Some(node), Ok(at)) = (&app.node, listener.local_addr()) {
        node.bound(at);
    }
    let lease = app.lease.clone().map(|shared| {
        let step_down = app.step_down.0.clone().unwrap_or_else(|| {
            Arc::new(|why: &str| {
                tracing::error!(
                    why,
                    "no longer leading: every request is refused until this process is restarted"
                );
            })
        });
        ha::start(&app, shared, step_down)
    });
    let reloads = reload::reload_triggers(app.clone());
    let limits = app.settings().limits.clone();
    let connection_limits = connections::ConnectionLimits {
        max: usable_connections(limits.max_connections),
        idle_timeout: limits.idle_timeout,
    };
    if let Ok(address) = listener.local_addr() {
        tracing::info!(
            %address,
            max_connections = connection_limits.max,
            tls = guard.tls.is_some(),
            authentication = app.settings().security.authenticates(),
            "switchboard serving gRPC"
        );
    }
    let incoming = connections::incoming(
        listener,
        connection_limits,
        Arc::clone(&app.connections),
        Arc::clone(&guard),
    );
    let reflection = guard.reflection();
    let authorize = security::authorize::Authorize {
        guard,
        denials: Arc::clone(&app.denials),
        node: app.node.clone(),
    };

    let (began, shutdown_began) = tokio::sync::oneshot::channel();
    let signal = {
        let (app, health) = (app.clone(), health.clone());
        async move {
            shutdown.await;
            app.stopping
                .store(true, std::sync::atomic::Ordering::Relaxed);
            health.show(&app).await;
            health.end_watches().await;
            app.floor.close();
            let streams = app
                .dispatch
                .end_all(&tonic::Status::unavailable(SHUTDOWN_STATUS));
            tracing::info!(
                streams,
                grace_s = app.settings().limits.shutdown_grace.as_secs_f64(),
                "shutting down: new calls refused, assignment streams ended; finishing requests in flight"
            );
            let _ = began.send(std::time::Instant::now());
        }
    };
    let max_message = limits.max_message_size;
    let server = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(limits.keepalive))
        .http2_keepalive_timeout(Some(limits.keepalive.min(Duration::from_secs(20))))
        .max_concurrent_streams(limits.max_streams_per_connection)
        .concurrency_limit_per_connection(limits.max_requests_per_connection)
        .http2_max_header_list_size(limits.max_header_list_size)
        .http2_max_pending_accept_reset_streams(Some(limits.max_pending_resets))
        .layer(connections::TrackRequests)
        .layer(authorize)
        .add_service(health_service)
        .add_optional_service(reflection.then_some(reflection_v1))
        .add_optional_service(reflection.then_some(reflection_v1alpha))
        .add_service(
            RoutingServer::new(routing::RoutingService { app: app.clone() })
                .max_decoding_message_size(max_message),
        )
        .add_service(
            AgentsServer::new(agents::AgentsService { app: app.clone() })
                .max_decoding_message_size(max_message),
        )
        .add_service(
            AdminServer::new(admin::AdminService { app: app.clone() })
                .max_decoding_message_size(max_message),
        )
        .serve_with_incoming_shutdown(incoming, signal);
    let grace_over = async {
        match shutdown_began.await {
            Ok(at) => {
                let grace = app.settings().limits.shutdown_grace;
                tokio::time::sleep_until((at + grace).into()).await;
                at + grace
            }
            // The server ended without a shutdown (it failed): nothing to wait for.
            Err(_) => std::future::pending().await,
        }
    };
    let (result, cut_short, deadline) = tokio::select! {
        result = server => (result, false, None),
        deadline = grace_over => {
            tracing::warn!("requests still open after server.shutdown_grace: stopping without them");
            (Ok(()), true, Some(deadline))
        }
    };
    let _ = stop.send(true);
    for task in background {
        let _ = task.await;
    }
    for task in sip_tasks {
        let _ = task.await;
    }
    if let Some(thread) = lease {
        // It flushes the writer and gives the lease up, off the async workers.
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    if let Some(r) = reloads {
        r.abort();
    }
    // A store that is failing gets until the end of the grace period (at least a
    // second) to take what waits.
    let deadline = deadline
        .unwrap_or_else(|| std::time::Instant::now() + app.settings().limits.shutdown_grace)
        .max(std::time::Instant::now() + Duration::from_secs(1));
    let flushed = durability::final_flush(&app, deadline).await;
    match &flushed {
        Ok(()) if app.store.is_some() => {
            tracing::info!("store flushed: everything acknowledged is on disk")
        }
        Ok(()) => {}
        Err(e) => tracing::error!("{e}"),
    }
    if let Some(lock) = &app.lock {
        lock.release();
    }
    result?;
    Ok(Stopped { flushed, cut_short })
}

/// `server.max_connections`, lowered to what the process's file descriptors allow.
fn usable_connections(configured: usize) -> usize {
    let Ok((soft, _)) = rlimit::Resource::NOFILE.get() else {
        return configured;
    };
    let usable = usize::try_from(soft.saturating_sub(RESERVED_DESCRIPTORS))
        .unwrap_or(usize::MAX)
        .max(1);
    if usable < configured {
        tracing::warn!(
            configured,
            usable,
            descriptors = soft,
            "server.max_connections lowered to what the file-descriptor limit allows"
        );
        return usable;
    }
    configured
}

/// Raises the soft limit on open files to the hard limit, so the server can hold the
/// connections it is configured for; returns the limit in force.
pub fn raise_descriptor_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// Runs `work` once a second on a blocking thread (walks over every call or agent must
/// not hold up the runtime's workers) until `stop` says so.
async fn every_second(app: App, mut stop: tokio::sync::watch::Receiver<bool>, work: fn(&App)) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        // A standby holds nothing to work on; a node that lost its lease must not act.
        if !app.leads() {
            continue;
        }
        let app = app.clone();
        let _ = tokio::task::spawn_blocking(move || work(&app)).await;
    }
}

/// Calls whose switch never reports their end are forgotten after `calls.forget_after`,
/// and calls silent at a menu after `calls.menu_timeout`, so memory stays bounded and no
/// agent stays on a call that is over.
fn forget_old_calls_once(app: &App) {
    let now = app.clock.now();
    let settings = app.settings();
    let forgotten = app.router.forget_calls(
        now.saturating_sub(settings.forget_calls_after),
        now.saturating_sub(settings.menu_timeout),
        now,
    );
    for menu in &forgotten.silent_at {
        app.metrics.silent_at_menu(menu);
    }
    // Nothing more will settle their messages to the switch (a voicemail directive,
    // an assignment the switch never answered): drop them with the call.
    for call in &forgotten.calls {
        app.dispatch.settle(&call.call_id);
    }
    for agent in &forgotten.agents {
        tracing::warn!(agent_id = %agent, "freed from a call its switch never ended (calls.forget_after)");
        app.mark_agent(agent);
    }
    for a in &forgotten.assignments {
        app.dispatch.send(&app.router, a, now);
    }
    if !forgotten.calls.is_empty() {
        tracing::debug!(
            forgotten = forgotten.calls.len(),
            "forgot calls past calls.forget_after"
        );
    }
    for call in forgotten.calls {
        app.call_done(call);
    }
}

/// Call detail records older than `store.keep_call_records` are deleted, at start and
/// every hour after, by the store's writer (so the route path never waits on it).
async fn prune_call_records(app: App, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if let Some(w) = app.store.as_ref().filter(|_| app.leads()) {
            let before = app
                .clock
                .now()
                .saturating_sub(app.settings().keep_call_records);
            w.send(Change::Prune(before));
        }
    }
}

/// The ACD's time-driven work, once a second:
/// - offers the switch never confirmed go back to their queue when their lease runs out,
///   so no agent stays reserved for a call that is not coming;
/// - calls whose wait crossed an overflow step meet the idle agents it lets in;
/// - calls that reached their queue's maximum wait overflow, get a callback offer or go
///   to voicemail;
/// - calls kept for a repeat caller's last agent join their queue when that time is up;
/// - agents whose wrap-up time is over become available and take the next call;
/// - callbacks scheduled for a time join their queues when it comes.
fn acd_upkeep_once(app: &App) {
    let now = app.clock.now();
    let acd = app.router.acd();
    let settings = app.settings();
    let expired = acd.expire_offers(now, settings.offer_timeout, settings.after_offer_timeout);
    for (call_id, agent, made) in expired {
        app.floor_days.missed(&agent.profile.id, now);
        tracing::warn!(%call_id, agent_id = %agent.profile.id, "offer not confirmed within calls.offer_timeout; call back to its queue");
        app.dispatch.settle(&call_id);
        app.mark_call(&call_id);
        app.mark_agent(&agent.profile.id);
        for a in &made {
            app.dispatch.send(&app.router, a, now);
        }
    }
    for a in acd.offer_overflow(now) {
        app.dispatch.send(&app.router, &a, now);
    }
    // A call that waited too long starts a new wait in its overflow queue.
    send_on(app, acd.expire_waits(now), now, false);
    let (released, callbacks) = acd.release_due_callbacks(now);
    for call_id in &released {
        app.mark_call(call_id);
    }
    for a in acd
        .expire_promises(now)
        .into_iter()
        .chain(acd.end_wrap_ups(now))
        .chain(callbacks)
    {
        app.dispatch.send(&app.router, &a, now);
    }
    // A call that left a closed queue keeps counting its wait from its arrival.
    send_on(app, acd.drain_closed(now), now, true);
}

/// Calls that left their queue by the ACD's rules (a maximum wait, a closed queue): moved
/// to another queue (their wait counted there from now, or with `keep_wait` from their
/// arrival), offered a callback in place, or out to voicemail; their switches are told.
pub(crate) fn send_on(app: &App, outcomes: Vec<WaitExpired>, now: Millis, keep_wait: bool) {
    for outcome in outcomes {
        match outcome {
            WaitExpired::Overflowed {
                call_id,
                to,
                assignment,
                ..
            } => {
                if keep_wait {
                    app.router.record_moved(&call_id, to, now);
                } else {
                    app.router.record_transfer(&call_id, to, now);
                }
                app.mark_call(&call_id);
                if let Some(a) = assignment {
                    app.dispatch.send(&app.router, &a, now);
                }
            }
            WaitExpired::OfferCallback { call, queue } => {
                app.dispatch.send_directive(
                    &app.router,
                    &call,
                    queue,
                    pb::AssignmentKind::OfferCallback,
                    now,
                );
            }
            WaitExpired::Voicemail { call, queue } => {
                app.router.record_timed_out(&call.call_id);
                app.router.record(&call.call_id, |r| {
                    r.outcome = Some(Outcome::Voicemail);
                    r.ended = Some(now);
                });
                app.mark_call(&call.call_id);
                app.dispatch.send_directive(
                    &app.router,
                    &call,
                    queue,
                    pb::AssignmentKind::Voicemail,
                    now,
                );
            }
        }
    }
}

/// Hands what routing learns to the store's writer (a channel send; never waits).
#[derive(Debug)]
struct StoreKeeper(Arc<Writer>);

impl switchboard_core::behaviour::Keeper for StoreKeeper {
    fn learned(
        &self,
        number: switchboard_core::E164,
        learned: switchboard_core::behaviour::Learned,
    ) {
        self.0.send(Change::Learned { number, learned });
    }

    fn served(
        &self,
        number: switchboard_core::E164,
        contact: &switchboard_core::behaviour::LastContact,
    ) {
        self.0.send(Change::Served {
            number,
            contact: contact.clone(),
        });
    }
}

/// Reads customers from their source into `directory`, handing each stored one on.
fn load_customers(
    source: &CustomerSource,
    plan: &switchboard_core::RoutePlan,
    directory: &Directory,
    stored: impl FnMut(&Arc<switchboard_core::Customer>),
) -> Result<customers::ImportReport, StartError> {
    Ok(match source {
        CustomerSource::Embedded => customers::import_each(
            switchboard_config::DEFAULT_CUSTOMERS.as_bytes(),
            plan,
            directory,
            stored,
        )?,
        CustomerSource::File(path) => {
            let file =
                std::fs::File::open(path).map_err(|source| customers::CustomersError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
            customers::import_each(file, plan, directory, stored)?
        }
        CustomerSource::None => customers::ImportReport::default(),
    })
}
