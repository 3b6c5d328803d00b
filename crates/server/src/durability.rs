//! What the server promises about what it acknowledged: while the store cannot write,
//! it says so everywhere at once (an ERROR log when it starts and when it ends, with a
//! reminder every minute; the `switchboard.store` health status; metrics; UNAVAILABLE
//! from the admin writes that need the disk) and follows `store.on_failure` for new
//! calls; past `store.max_pending` it refuses new work whatever that says. At shutdown
//! it writes everything before it exits, or says what it could not.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use switchboard_config::StoreFailure;
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{App, error::ApiError};

/// The health service that follows the store.
pub const STORE_HEALTH: &str = "switchboard.store";

/// How often the store's state is looked at.
const LOOK_EVERY: Duration = Duration::from_millis(250);
/// How often a store that is still failing is logged again.
const REMIND_EVERY: Duration = Duration::from_secs(60);

impl App {
    /// Why a new call is refused now, if it is: the server is stopping, or its store
    /// cannot take more (failing with `store.on_failure = "refuse"`, or its backlog past
    /// `store.max_pending`).
    pub(crate) fn refuses_new_calls(&self) -> Option<ApiError> {
        self.refusal(
            "the server is shutting down: send new calls elsewhere",
            |failing, limits| {
                (failing && limits.on_store_failure == StoreFailure::Refuse).then(|| {
                    "the store cannot write and store.on_failure = \"refuse\": new calls are refused until it recovers".to_owned()
                })
            },
        )
    }

    /// Why a change that must be on disk before it is acknowledged (a customer upsert or
    /// import) is refused now, if it is. Nothing is applied when it is.
    pub(crate) fn refuses_durable_writes(&self) -> Option<ApiError> {
        self.refusal(
            "the server is shutting down: nothing was changed",
            |failing, _| {
                failing.then(|| {
                    format!(
                        "the store cannot write ({}): nothing was changed; try again once it recovers",
                        self.store_stats()
                            .and_then(|s| s.last_error())
                            .unwrap_or_default()
                    )
                })
            },
        )
    }

    /// The refusal both kinds of work share (stopping, the backlog past its limit), then
    /// the one `while_failing` gives for a store that is failing (or not).
    fn refusal(
        &self,
        stopping: &str,
        while_failing: impl FnOnce(bool, &switchboard_config::Limits) -> Option<String>,
    ) -> Option<ApiError> {
        if self.is_stopping() {
            return Some(ApiError::Unavailable(stopping.to_owned()));
        }
        if let Some(why) = self.node.as_ref().and_then(|n| n.refusal()) {
            return Some(ApiError::Unavailable(why));
        }
        let stats = self.store_stats()?;
        let limits = &self.settings.load().limits;
        if stats.pending_bytes() > limits.max_pending {
            return Some(backlog_full(limits.max_pending));
        }
        while_failing(!stats.is_up(), limits).map(ApiError::Unavailable)
    }

    /// Waits (off the async workers) until every change so far is on disk. An error
    /// says the changes were applied in memory and wait for the store.
    pub(crate) async fn durable(&self) -> Result<(), ApiError> {
        let app = self.clone();
        match tokio::task::spawn_blocking(move || app.flush_store()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "a change was applied but could not be stored yet");
                Err(ApiError::Unavailable(format!(
                    "applied, but the store cannot write ({e}): the change waits in memory and is written when the store recovers"
                )))
            }
            Err(e) => {
                tracing::error!(error = %e, "store flush task failed");
                Err(ApiError::Unavailable(
                    "the store flush failed; see the server log".into(),
                ))
            }
        }
    }

    /// UNAVAILABLE naming the leader unless this node leads its routing domain.
    pub(crate) fn leads_or_refuses(&self) -> Result<(), ApiError> {
        match self.node.as_ref().and_then(|n| n.refusal()) {
            Some(why) => Err(ApiError::Unavailable(why)),
            None => Ok(()),
        }
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::Relaxed)
    }
}

fn backlog_full(max: u64) -> ApiError {
    ApiError::Unavailable(format!(
        "the store cannot write and the changes waiting for it passed store.max_pending ({} MiB): new calls and admin writes are refused until it recovers",
        max >> 20
    ))
}

/// The health statuses the server publishes, set only when they change.
#[derive(Debug, Clone)]
pub(crate) struct Health {
    reporter: HealthReporter,
    shown: Arc<Mutex<HashMap<&'static str, ServingStatus>>>,
    has_store: bool,
}

/// The service names of the API, as health checks know them.
const ROUTING: &str = "switchboard.v1.Routing";
const AGENTS: &str = "switchboard.v1.Agents";
const ADMIN: &str = "switchboard.v1.Admin";

impl Health {
    pub(crate) fn new(reporter: HealthReporter, has_store: bool) -> Health {
        Health {
            reporter,
            shown: Arc::default(),
            has_store,
        }
    }

    /// Publishes what `app` is now: everything NOT_SERVING once stopping; the overall
    /// status and Routing NOT_SERVING while new calls are refused; the store's own
    /// status while it cannot write.
    pub(crate) async fn show(&self, app: &App) {
        let serving = |yes: bool| {
            if yes {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            }
        };
        // A standby reports NOT_SERVING everywhere, so traffic goes to the leader.
        let up = !app.is_stopping() && app.leads();
        let routing = up && app.refuses_new_calls().is_none();
        let mut wanted = vec![
            ("", serving(routing)),
            (ROUTING, serving(routing)),
            (AGENTS, serving(up)),
            (ADMIN, serving(up)),
        ];
        if self.has_store {
            let store_up = app.store.as_ref().is_some_and(|w| w.stats().is_up());
            wanted.push((STORE_HEALTH, serving(up && store_up)));
        }
        let changes: Vec<_> = {
            let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
            wanted
                .into_iter()
                .filter(|(name, status)| shown.insert(name, *status) != Some(*status))
                .collect()
        };
        for (name, status) in changes {
            self.reporter.set_service_status(name, status).await;
        }
    }
}

impl Health {
    /// Ends every health watch (after it saw the final status), so a load balancer's
    /// watch does not hold its connection, and so the shutdown, open; checks go on
    /// answering with the final status.
    pub(crate) async fn end_watches(&self) {
        let mut reporter = self.reporter.clone();
        let shown: Vec<(&'static str, ServingStatus)> = self
            .shown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, status)| (*name, *status))
            .collect();
        for (name, status) in shown {
            reporter.clear_service_status(name).await;
            reporter.set_service_status(name, status).await;
        }
    }
}

/// Follows the store while the server runs: health, and the log lines ops act on.
pub(crate) async fn watch_store(
    app: App,
    health: Health,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(LOOK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing: Option<Instant> = None;
    let mut full = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        health.show(&app).await;
        let Some(writer) = &app.store else { continue };
        let stats = writer.stats();
        let pending = stats.pending();
        let bytes = stats.pending_bytes();
        let limits = app.settings().limits.clone();
        match (stats.is_up(), failing) {
            (false, None) => {
                failing = Some(Instant::now());
                tracing::error!(
                    error = %stats.last_error().unwrap_or_default(),
                    pending,
                    policy = policy(limits.on_store_failure),
                    "store cannot write: acknowledged changes are kept in memory and retried until it can"
                );
            }
            (false, Some(last)) if last.elapsed() >= REMIND_EVERY => {
                failing = Some(Instant::now());
                tracing::error!(
                    error = %stats.last_error().unwrap_or_default(),
                    failing_for_s = stats.failing_for().unwrap_or_default().as_secs(),
                    pending,
                    pending_bytes = bytes,
                    max_pending_bytes = limits.max_pending,
                    "store still cannot write"
                );
            }
            (true, Some(_)) => {
                failing = None;
                tracing::error!("store writes again: every change kept while it failed is written");
            }
            _ => {}
        }
        let over = bytes > limits.max_pending;
        if over != full {
            full = over;
            if over {
                tracing::error!(
                    pending_bytes = bytes,
                    max_pending_bytes = limits.max_pending,
                    "store backlog past store.max_pending: new calls and admin writes are refused until the store recovers"
                );
            } else {
                tracing::warn!("store backlog back under store.max_pending");
            }
        }
    }
}

fn policy(p: StoreFailure) -> &'static str {
    match p {
        StoreFailure::Route => "route: new calls are still routed",
        StoreFailure::Refuse => "refuse: new calls are refused",
    }
}

/// Writes everything still waiting, trying until `deadline` if the store is failing.
/// The error says what is lost.
pub(crate) async fn final_flush(app: &App, deadline: Instant) -> Result<(), String> {
    let Some(writer) = app.store.clone() else {
        return Ok(());
    };
    loop {
        let w = Arc::clone(&writer);
        let result = tokio::task::spawn_blocking(move || w.flush())
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        match result {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                let stats = writer.stats();
                return Err(format!(
                    "{} changes ({} bytes) could not be written and are lost: {e}",
                    stats.pending(),
                    stats.pending_bytes()
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
