//! The server's own health as metrics: the store (up, changes waiting, how long the
//! oldest has waited, failed writes), client connections, and calls held in memory.
//! The store's series are absent when the server keeps no store.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use prometheus_client::{
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

use super::catch_up;
use crate::App;

#[derive(Debug, Default)]
pub(super) struct Operations {
    /// Only for a server that keeps a store.
    store: Option<StoreGauges>,
    /// Only for a node of a store shared by several (PostgreSQL).
    lease: Option<LeaseGauges>,
    connections: Gauge,
    connections_refused: Counter,
    accept_errors: Counter,
    handshake_failures: Counter,
    calls_in_memory: Gauge,
    /// By reason: unauthenticated, permission_denied, rate_limited.
    requests_refused: Family<Vec<(&'static str, String)>, Counter>,
}

/// The reasons the authorization layer refuses a request, as metric labels.
const REFUSALS: [&str; 3] = ["unauthenticated", "permission_denied", "rate_limited"];

#[derive(Debug, Default)]
struct StoreGauges {
    up: Gauge,
    pending: Gauge,
    pending_bytes: Gauge,
    max_pending_bytes: Gauge,
    oldest_pending: Gauge<f64, AtomicU64>,
    write_errors: Counter,
}

#[derive(Debug, Default)]
struct LeaseGauges {
    leading: Gauge,
    epoch: Gauge,
    lag: Gauge<f64, AtomicU64>,
    takeovers: Counter,
}

impl Operations {
    pub(super) fn new(has_store: bool, shared: bool) -> Operations {
        Operations {
            store: has_store.then(StoreGauges::default),
            lease: shared.then(LeaseGauges::default),
            ..Operations::default()
        }
    }

    pub(super) fn register(&self, registry: &mut Registry) {
        if let Some(lease) = &self.lease {
            registry.register(
                "lease_leading",
                "1 while this node holds its routing domain's lease and serves, 0 while it stands by",
                lease.leading.clone(),
            );
            registry.register(
                "lease_epoch",
                "The epoch of the lease this node holds or last held (0 before it ever led)",
                lease.epoch.clone(),
            );
            registry.register(
                "replay_lag_seconds",
                "A standby: the age of its warm copy of the leader's journal (0 while leading)",
                lease.lag.clone(),
            );
            registry.register(
                "lease_takeovers",
                "Times this node took its routing domain over (its first lease included)",
                lease.takeovers.clone(),
            );
        }
        if let Some(store) = &self.store {
            for (name, help, gauge) in [
                (
                    "store_up",
                    "1 while the store writes, 0 from a failed write until the changes kept meanwhile are written",
                    &store.up,
                ),
                (
                    "store_pending_changes",
                    "Acknowledged changes not yet on disk",
                    &store.pending,
                ),
                (
                    "store_pending_bytes",
                    "About how much memory the changes waiting for the store hold",
                    &store.pending_bytes,
                ),
                (
                    "store_max_pending_bytes",
                    "store.max_pending: past it new calls and admin writes are refused",
                    &store.max_pending_bytes,
                ),
            ] {
                registry.register(name, help, gauge.clone());
            }
            registry.register(
                "store_oldest_pending_seconds",
                "How long the oldest change not yet on disk has waited (0 when none waits)",
                store.oldest_pending.clone(),
            );
            registry.register(
                "store_write_errors",
                "Store writes that failed (each retry counts)",
                store.write_errors.clone(),
            );
        }
        registry.register(
            "connections",
            "Client connections open on the gRPC port",
            self.connections.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections closed as accepted because server.max_connections were open",
            self.connections_refused.clone(),
        );
        registry.register(
            "accept_errors",
            "Failed accepts (such as running out of file descriptors), each followed by a pause",
            self.accept_errors.clone(),
        );
        let build_info = Family::<Vec<(&'static str, String)>, Gauge>::default();
        build_info
            .get_or_create(&vec![("version", env!("CARGO_PKG_VERSION").to_owned())])
            .set(1);
        registry.register(
            "build_info",
            "The running build: 1, with its version as a label",
            build_info,
        );
        registry.register(
            "tls_handshake_failures",
            "TLS handshakes on the gRPC port that failed or timed out (a certificate the CA did not sign or that expired, a client without TLS)",
            self.handshake_failures.clone(),
        );
        for reason in REFUSALS {
            // Each series exists from zero, so a rate over it has a start.
            let _ = self
                .requests_refused
                .get_or_create(&vec![("reason", reason.to_owned())]);
        }
        registry.register(
            "requests_refused",
            "Requests the authorization layer refused, by reason: no or unknown credentials, a role without the method, or past security.rate_limit",
            self.requests_refused.clone(),
        );
        registry.register(
            "calls_in_memory",
            "Calls the router holds: in progress, or ended and kept until calls.forget_after for replays and late surveys",
            self.calls_in_memory.clone(),
        );
    }

    pub(super) fn render(&self, app: &App) {
        if let (Some(gauges), Some(node)) = (&self.lease, &app.node) {
            let view = node.view();
            gauges.leading.set(i64::from(view.leading));
            gauges.epoch.set(view.epoch);
            gauges.lag.set(if view.leading {
                0.0
            } else {
                view.lag.unwrap_or_default().as_secs_f64()
            });
            catch_up(&gauges.takeovers, view.takeovers);
        }
        if let (Some(gauges), Some(writer)) = (&self.store, &app.store) {
            let stats = writer.stats();
            let set = |g: &Gauge, v: u64| {
                g.set(i64::try_from(v).unwrap_or(i64::MAX));
            };
            set(&gauges.up, u64::from(stats.is_up()));
            set(&gauges.pending, stats.pending());
            set(&gauges.pending_bytes, stats.pending_bytes());
            set(&gauges.max_pending_bytes, app.settings().limits.max_pending);
            gauges
                .oldest_pending
                .set(stats.oldest_pending().unwrap_or_default().as_secs_f64());
            catch_up(&gauges.write_errors, stats.failures.load(Relaxed));
        }
        let counts = &app.connections;
        self.connections
            .set(i64::try_from(counts.open.load(Relaxed)).unwrap_or(i64::MAX));
        catch_up(&self.connections_refused, counts.refused.load(Relaxed));
        catch_up(&self.accept_errors, counts.accept_errors.load(Relaxed));
        catch_up(
            &self.handshake_failures,
            counts.handshake_failures.load(Relaxed),
        );
        let denials = &app.denials;
        for (reason, count) in REFUSALS.into_iter().zip([
            &denials.unauthenticated,
            &denials.permission_denied,
            &denials.rate_limited,
        ]) {
            catch_up(
                &self
                    .requests_refused
                    .get_or_create(&vec![("reason", reason.to_owned())]),
                count.load(Relaxed),
            );
        }
        self.calls_in_memory
            .set(i64::try_from(app.router.calls_in_progress()).unwrap_or(i64::MAX));
    }
}
