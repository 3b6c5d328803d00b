//! Prometheus metrics: counted on the request path, and the live figures (calls waiting,
//! longest wait, agents by state) read from the ACD when scraped. Served as text on an
//! HTTP port of its own (`server.metrics_listen`), never on the gRPC port.
//!
//! Label sets stay bounded: queues, rules, actions and states come from the config and
//! the code, never from callers (no numbers, no call ids).

use std::sync::{Arc, atomic::AtomicU64};

use arc_swap::ArcSwapOption;

use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};
use switchboard_core::{
    Millis, RoutePlan,
    acd::AgentState,
    plan::QueueId,
    router::{Action, Decision, Reason},
};
use tokio::net::TcpListener;

use crate::App;

mod channels;
mod operations;
pub(crate) mod sip;
pub(crate) mod text;
mod times;

type Labels = Vec<(&'static str, String)>;

/// The metrics of one server.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    decisions: Family<Labels, Counter>,
    /// The decision counters of the plan in force, found by index, so counting a
    /// decision allocates nothing; made again when a reload brings a new plan.
    by_plan: ArcSwapOption<PlanCounters>,
    decision_seconds: LatencyHistogram,
    waiting: Family<Labels, Gauge>,
    longest_wait: Family<Labels, Gauge<f64, AtomicU64>>,
    agents: Family<Labels, Gauge>,
    /// Per queue and tier, cumulative since start (windows are PromQL's `increase`).
    calls: CallCounters,
    /// Per channel and tier over all queues, against each channel's standard.
    channels: channels::Channels,
    /// Per tier, over all queues since start, against the tier's published standard.
    service_level: Family<Labels, Gauge<f64, AtomicU64>>,
    /// Per tier over `server.service_level_window`.
    service_level_window: Family<Labels, Gauge<f64, AtomicU64>>,
    window_seconds: Gauge<f64, AtomicU64>,
    coaching: Gauge,
    standard: Family<Labels, Gauge<f64, AtomicU64>>,
    standard_seconds: Family<Labels, Gauge<f64, AtomicU64>>,
    speed_of_answer: Family<Labels, Gauge<f64, AtomicU64>>,
    handle_time: Family<Labels, Gauge<f64, AtomicU64>>,
    occupancy: Gauge<f64, AtomicU64>,
    surveys: Surveys,
    contacts: Contacts,
    /// Callers who hung up at a menu (reported by the switch), and calls silent at one
    /// past `calls.menu_timeout`, by menu.
    menu_hang_ups: Family<Labels, Counter>,
    menu_silent: Family<Labels, Counter>,
    operations: operations::Operations,
    /// The SIP front's counters.
    pub(crate) sip: sip::Sip,
    /// Waits, talk and handle times as histograms; agents by state per queue.
    times: times::Times,
    /// One scrape at a time: counters catch up with totals read during the scrape.
    scraping: std::sync::Mutex<()>,
}

/// Calls an agent handled, how many ended resolved, and repeat contacts, per queue and
/// tier: first-contact resolution over a window is `(resolved - reopened) / handled`.
#[derive(Debug, Default)]
struct Contacts {
    handled: Family<Labels, Counter>,
    resolved: Family<Labels, Counter>,
    repeats: Family<Labels, Counter>,
    reopened: Family<Labels, Counter>,
    retention_offers: Family<Labels, Counter>,
    saves: Family<Labels, Counter>,
}

/// Survey answers per queue and tier, each call's counted once.
#[derive(Debug, Default)]
struct Surveys {
    satisfaction_responses: Family<Labels, Counter>,
    satisfaction_points: Family<Labels, Counter>,
    satisfied: Family<Labels, Counter>,
    recommend_responses: Family<Labels, Counter>,
    promoters: Family<Labels, Counter>,
    detractors: Family<Labels, Counter>,
}

/// The ACD's call counters per queue and tier, as Prometheus counters.
#[derive(Debug, Default)]
struct CallCounters {
    offered: Family<Labels, Counter>,
    answered: Family<Labels, Counter>,
    answered_in_standard: Family<Labels, Counter>,
    abandoned: Family<Labels, Counter>,
    abandoned_after_standard: Family<Labels, Counter>,
}

impl CallCounters {
    /// Brings the series of `labels` up to `counts`.
    fn catch_up(&self, labels: &Labels, counts: &switchboard_core::stats::Counts) {
        catch_up(&self.offered.get_or_create(labels), counts.offered);
        catch_up(&self.answered.get_or_create(labels), counts.answered);
        catch_up(
            &self.answered_in_standard.get_or_create(labels),
            counts.answered_in_standard,
        );
        catch_up(&self.abandoned.get_or_create(labels), counts.abandoned);
        catch_up(
            &self.abandoned_after_standard.get_or_create(labels),
            counts.abandoned_after_standard,
        );
    }
}

/// Bucket bounds of [`LatencyHistogram`]: 1 µs doubling to about 33 ms, then +Inf.
const LATENCY_BUCKETS: usize = 16;

/// A latency histogram kept in atomics: observing takes no lock (the library's histogram
/// locks a mutex per observation, which every RouteCall would share).
#[derive(Debug, Default, Clone)]
struct LatencyHistogram(Arc<LatencyCells>);

#[derive(Debug, Default)]
struct LatencyCells {
    /// Per bucket (not cumulative); the last is +Inf.
    buckets: [std::sync::atomic::AtomicU64; LATENCY_BUCKETS + 1],
    count: std::sync::atomic::AtomicU64,
    sum_nanos: std::sync::atomic::AtomicU64,
}

impl LatencyHistogram {
    /// The bucket of `nanos`: the first bound (1 µs × 2^i) at or above it.
    fn bucket(nanos: u64) -> usize {
        let micros = nanos.div_ceil(1_000);
        if micros <= 1 {
            0
        } else {
            ((64 - (micros - 1).leading_zeros()) as usize).min(LATENCY_BUCKETS)
        }
    }

    fn observe(&self, elapsed: std::time::Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.0.buckets[Self::bucket(nanos)].fetch_add(1, Relaxed);
        self.0.count.fetch_add(1, Relaxed);
        self.0.sum_nanos.fetch_add(nanos, Relaxed);
    }
}

impl prometheus_client::encoding::EncodeMetric for LatencyHistogram {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        use std::sync::atomic::Ordering::Relaxed;
        let buckets: Vec<(f64, u64)> = self
            .0
            .buckets
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let bound = if i < LATENCY_BUCKETS {
                    1e-6 * f64::from(1u32 << i)
                } else {
                    f64::INFINITY
                };
                (bound, n.load(Relaxed))
            })
            .collect();
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            self.0.sum_nanos.load(Relaxed) as f64 / 1e9,
            self.0.count.load(Relaxed),
            &buckets,
            None,
        )
    }

    fn metric_type(&self) -> prometheus_client::metrics::MetricType {
        prometheus_client::metrics::MetricType::Histogram
    }
}

/// Brings a Prometheus counter up to a total kept elsewhere (totals only grow).
fn catch_up(counter: &Counter, total: u64) {
    let seen = counter.get();
    if total > seen {
        counter.inc_by(total - seen);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(false, false)
    }
}

impl Metrics {
    /// The metrics of a server, with the store's series when it keeps one and the
    /// lease's when the store is shared by several nodes.
    pub(crate) fn new(has_store: bool, shared: bool) -> Self {
        let decisions = Family::<Labels, Counter>::default();
        // 1 µs to about 33 ms, doubling.
        let decision_seconds = LatencyHistogram::default();
        let waiting = Family::<Labels, Gauge>::default();
        let longest_wait = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        let agents = Family::<Labels, Gauge>::default();
        let calls = CallCounters::default();
        let service_level = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        let service_level_window = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        let window_seconds = Gauge::<f64, AtomicU64>::default();
        let coaching = Gauge::default();
        let standard = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        let standard_seconds = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        let speed_of_answer = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        let handle_time = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        let occupancy = Gauge::<f64, AtomicU64>::default();
        let surveys = Surveys::default();
        let contacts = Contacts::default();
        let mut registry = Registry::with_prefix("switchboard");
        for (name, help, family) in [
            (
                "calls_offered",
                "Calls that entered each queue, by tier",
                &calls.offered,
            ),
            (
                "calls_answered",
                "Calls answered, by queue and tier",
                &calls.answered,
            ),
            (
                "calls_answered_in_standard",
                "Calls answered within their tier's standard time, by queue and tier",
                &calls.answered_in_standard,
            ),
            (
                "calls_abandoned",
                "Callers who hung up waiting, by queue and tier",
                &calls.abandoned,
            ),
            (
                "calls_abandoned_after_standard",
                "Callers who hung up after waiting longer than their tier's standard time, by queue and tier",
                &calls.abandoned_after_standard,
            ),
            (
                "satisfaction_responses",
                "Calls whose caller answered the satisfaction question (1-5), by queue and tier",
                &surveys.satisfaction_responses,
            ),
            (
                "satisfaction_points",
                "Sum of satisfaction answers (1-5); average = points / responses",
                &surveys.satisfaction_points,
            ),
            (
                "satisfied",
                "Satisfaction answers of 4 or 5; CSAT = satisfied / responses",
                &surveys.satisfied,
            ),
            (
                "recommend_responses",
                "Calls whose caller answered how likely they are to recommend (0-10)",
                &surveys.recommend_responses,
            ),
            (
                "promoters",
                "Recommend answers of 9 or 10",
                &surveys.promoters,
            ),
            (
                "detractors",
                "Recommend answers of 0 to 6; NPS = 100 * (promoters - detractors) / responses",
                &surveys.detractors,
            ),
            (
                "contacts_handled",
                "Calls that ended after an agent talked to the caller, by queue and tier",
                &contacts.handled,
            ),
            (
                "contacts_resolved",
                "Handled calls the agent marked resolved",
                &contacts.resolved,
            ),
            (
                "repeat_contacts",
                "Callers who called again within learning.repeat_window of a handled call, by that call's queue and the caller's tier",
                &contacts.repeats,
            ),
            (
                "resolutions_reopened",
                "Repeat contacts after a call marked resolved: FCR = (resolved - reopened) / handled",
                &contacts.reopened,
            ),
            (
                "retention_offers",
                "Handled calls on which the agent made a retention offer, by queue and tier",
                &contacts.retention_offers,
            ),
            (
                "customer_saves",
                "Retention offers the caller accepted: save rate = customer_saves / retention_offers",
                &contacts.saves,
            ),
        ] {
            registry.register(name, help, family.clone());
        }
        registry.register(
            "service_level",
            "Share of calls answered within the tier's standard time since start (answered in standard / (answered + abandoned after the standard)); see the calls_* counters for windows",
            service_level.clone(),
        );
        registry.register(
            "service_level_window",
            "Share of calls answered within the tier's standard time over the last service_level_window_seconds, to the minute (absent when no call counts)",
            service_level_window.clone(),
        );
        registry.register(
            "service_level_window_seconds",
            "The window of service_level_window (server.service_level_window)",
            window_seconds.clone(),
        );
        registry.register(
            "agents_needing_coaching",
            "Agents whose figures since start fall short of the [coaching] standard",
            coaching.clone(),
        );
        registry.register(
            "service_level_standard",
            "The tier's published standard: the share of calls to answer within its time",
            standard.clone(),
        );
        registry.register(
            "service_level_standard_seconds",
            "The tier's published standard: the time to answer within",
            standard_seconds.clone(),
        );
        registry.register(
            "average_speed_of_answer_seconds",
            "Average wait of answered calls in each queue since start",
            speed_of_answer.clone(),
        );
        registry.register(
            "average_handle_time_seconds",
            "Average handle time (talk and wrap-up) of each queue's recent calls",
            handle_time.clone(),
        );
        registry.register(
            "occupancy",
            "Share of staffed agents (not away, not logged out) busy with a call now: offered, talking or wrapping up",
            occupancy.clone(),
        );
        registry.register(
            "route_decisions",
            "First route decisions (RouteCall), by action (menu or enqueue) and the rule that decided (or the built-in step)",
            decisions.clone(),
        );
        registry.register(
            "route_decision_seconds",
            "Time to make a first route decision in process (number, lookup, rules, queue)",
            decision_seconds.clone(),
        );
        registry.register(
            "calls_waiting",
            "Calls waiting in each queue now",
            waiting.clone(),
        );
        registry.register(
            "longest_wait_seconds",
            "How long the longest-waiting call in each queue has waited now",
            longest_wait.clone(),
        );
        registry.register("agents", "Logged-in agents by state now", agents.clone());
        let menu_hang_ups = Family::<Labels, Counter>::default();
        let menu_silent = Family::<Labels, Counter>::default();
        registry.register(
            "calls_abandoned_in_menu",
            "Callers who hung up at a menu before reaching a queue (ABANDONED at a menu), by the menu they were at",
            menu_hang_ups.clone(),
        );
        registry.register(
            "calls_expired_in_menu",
            "Calls at a menu with no answer and no report past calls.menu_timeout, by menu",
            menu_silent.clone(),
        );
        let operations = operations::Operations::new(has_store, shared);
        operations.register(&mut registry);
        let sip = sip::Sip::default();
        sip.register(&mut registry);
        let times = times::Times::default();
        times.register(&mut registry);
        let channels = channels::Channels::default();
        channels.register(&mut registry);
        Metrics {
            registry,
            channels,
            decisions,
            by_plan: ArcSwapOption::empty(),
            decision_seconds,
            waiting,
            longest_wait,
            agents,
            calls,
            service_level,
            service_level_window,
            window_seconds,
            coaching,
            standard,
            standard_seconds,
            speed_of_answer,
            handle_time,
            occupancy,
            surveys,
            contacts,
            menu_hang_ups,
            menu_silent,
            operations,
            sip,
            times,
            scraping: std::sync::Mutex::new(()),
        }
    }
}

/// One plan's decision counters: `[menu, enqueue]` for each rule, then for the line's
/// own entry, then for any other built-in step.
#[derive(Debug)]
struct PlanCounters {
    plan: Arc<RoutePlan>,
    counters: Vec<[Counter; 2]>,
}

impl PlanCounters {
    fn new(plan: &Arc<RoutePlan>, family: &Family<Labels, Counter>) -> Self {
        let names = plan
            .rules
            .iter()
            .map(|r| r.name.clone())
            .chain(["line_entry".to_owned(), "built_in".to_owned()]);
        let counters = names
            .map(|rule| {
                ["menu", "enqueue"].map(|action| {
                    family
                        .get_or_create(&vec![("action", action.to_owned()), ("rule", rule.clone())])
                        .clone()
                })
            })
            .collect();
        PlanCounters {
            plan: Arc::clone(plan),
            counters,
        }
    }

    fn of(&self, decision: &Decision) -> &Counter {
        let rules = self.plan.rules.len();
        let row = match decision.reason {
            Reason::Rule(r) => r.index(),
            Reason::LineEntry => rules,
            _ => rules + 1,
        };
        let action = usize::from(matches!(decision.action, Action::Enqueue { .. }));
        &self.counters[row.min(rules + 1)][action]
    }
}

impl Metrics {
    /// A first route decision was made in `seconds`.
    pub(crate) fn routed(
        &self,
        plan: &Arc<RoutePlan>,
        decision: &Decision,
        elapsed: std::time::Duration,
    ) {
        let current = self.by_plan.load();
        match current.as_deref() {
            Some(c) if Arc::ptr_eq(&c.plan, plan) => {
                c.of(decision).inc();
            }
            _ => {
                // The first decision under a new plan: its counters, made once.
                let fresh = Arc::new(PlanCounters::new(plan, &self.decisions));
                fresh.of(decision).inc();
                self.by_plan.store(Some(fresh));
            }
        }
        self.decision_seconds.observe(elapsed);
    }

    /// A call an agent talked to ended, resolved or not, with a retention offer taken
    /// (`Some(true)`), declined or not made.
    pub(crate) fn handled(
        &self,
        tier: String,
        queue: Option<String>,
        resolved: bool,
        retention: Option<bool>,
    ) {
        let labels = vec![
            ("queue", queue.unwrap_or_else(|| "none".to_owned())),
            ("tier", tier),
        ];
        self.contacts.handled.get_or_create(&labels).inc();
        if resolved {
            self.contacts.resolved.get_or_create(&labels).inc();
        }
        if let Some(saved) = retention {
            self.contacts.retention_offers.get_or_create(&labels).inc();
            if saved {
                self.contacts.saves.get_or_create(&labels).inc();
            }
        }
    }

    /// A queued call was answered after `waited.waited`, or abandoned.
    pub(crate) fn waited(
        &self,
        plan: &RoutePlan,
        w: &switchboard_core::router::Waited,
        answered: bool,
    ) {
        let (queue, tier) = (&plan.queue(w.queue).name, &plan.tier(w.tier).name);
        if answered {
            self.times.answered(queue, tier, w.waited);
        } else {
            self.times.abandoned(queue, tier, w.waited);
        }
    }

    /// An agent's call from `queue` ended after `talk`; with the queue's wrap-up, `handle`.
    pub(crate) fn talked(
        &self,
        queue: &str,
        talk: std::time::Duration,
        handle: std::time::Duration,
    ) {
        self.times.handled(queue, talk, handle);
    }

    /// A caller hung up at `menu`.
    pub(crate) fn hung_up_at_menu(&self, menu: &str) {
        self.menu_hang_ups
            .get_or_create(&vec![("menu", menu.to_owned())])
            .inc();
    }

    /// A call sat silent at `menu` past `calls.menu_timeout`.
    pub(crate) fn silent_at_menu(&self, menu: &str) {
        self.menu_silent
            .get_or_create(&vec![("menu", menu.to_owned())])
            .inc();
    }

    /// A caller called again within the repeat window of a call handled in `queue`.
    pub(crate) fn repeated(&self, tier: String, queue: &str, was_resolved: bool) {
        let labels = vec![("queue", queue.to_owned()), ("tier", tier)];
        self.contacts.repeats.get_or_create(&labels).inc();
        if was_resolved {
            self.contacts.reopened.get_or_create(&labels).inc();
        }
    }

    /// A caller's first survey answers for a call (`None` for one not given, or given
    /// before). Calls that never reached a queue count under queue `none`.
    pub(crate) fn surveyed(
        &self,
        tier: String,
        queue: Option<String>,
        satisfaction: Option<u8>,
        recommend: Option<u8>,
    ) {
        let labels = vec![
            ("queue", queue.unwrap_or_else(|| "none".to_owned())),
            ("tier", tier),
        ];
        let s = &self.surveys;
        if let Some(score) = satisfaction {
            s.satisfaction_responses.get_or_create(&labels).inc();
            s.satisfaction_points
                .get_or_create(&labels)
                .inc_by(u64::from(score));
            if score >= 4 {
                s.satisfied.get_or_create(&labels).inc();
            }
        }
        if let Some(score) = recommend {
            s.recommend_responses.get_or_create(&labels).inc();
            if score >= 9 {
                s.promoters.get_or_create(&labels).inc();
            } else if score <= 6 {
                s.detractors.get_or_create(&labels).inc();
            }
        }
    }

    /// Every labelled counter of the plan in force exists, at zero until its first event:
    /// decisions per rule and action, calls, contacts and surveys per queue and tier
    /// (and queue `none` for contacts and surveys), hang-ups per menu. So a rate or an
    /// increase over any series has a start, from the first scrape and after a reload.
    fn every_series_at_zero(&self, plan: &Arc<RoutePlan>) {
        let current = self.by_plan.load();
        if !current
            .as_deref()
            .is_some_and(|c| Arc::ptr_eq(&c.plan, plan))
        {
            self.by_plan
                .store(Some(Arc::new(PlanCounters::new(plan, &self.decisions))));
        }
        let queues = plan
            .queues
            .iter()
            .filter(|q| !q.retired)
            .map(|q| q.name.clone());
        for queue in queues.chain(["none".to_owned()]) {
            for tier in &plan.tiers {
                let labels = vec![("queue", queue.clone()), ("tier", tier.name.clone())];
                let c = &self.contacts;
                let s = &self.surveys;
                for family in [
                    &c.handled,
                    &c.resolved,
                    &c.repeats,
                    &c.reopened,
                    &c.retention_offers,
                    &c.saves,
                    &s.satisfaction_responses,
                    &s.satisfaction_points,
                    &s.satisfied,
                    &s.recommend_responses,
                    &s.promoters,
                    &s.detractors,
                ] {
                    let _ = family.get_or_create(&labels);
                }
                if queue != "none" {
                    let k = &self.calls;
                    for family in [
                        &k.offered,
                        &k.answered,
                        &k.answered_in_standard,
                        &k.abandoned,
                        &k.abandoned_after_standard,
                    ] {
                        let _ = family.get_or_create(&labels);
                    }
                }
            }
        }
        for menu in &plan.menus {
            let labels = vec![("menu", menu.name.clone())];
            let _ = self.menu_hang_ups.get_or_create(&labels);
            let _ = self.menu_silent.get_or_create(&labels);
        }
    }

    /// The text exposition, with the live figures read now.
    pub(crate) fn render(&self, app: &App, now: Millis) -> String {
        let _one = self.scraping.lock().unwrap_or_else(|e| e.into_inner());
        let plan = app.router.plan();
        let acd = app.router.acd();
        self.every_series_at_zero(&plan);
        // Queues and states a reload removed must not linger as stale series.
        self.waiting.clear();
        self.longest_wait.clear();
        self.agents.clear();
        for (i, queue) in plan.queues.iter().enumerate() {
            if queue.retired {
                continue;
            }
            let labels = vec![("queue", queue.name.clone())];
            let snapshot = acd.snapshot(QueueId(i as u16)).unwrap_or_default();
            self.waiting
                .get_or_create(&labels)
                .set(snapshot.waiting.len() as i64);
            let longest = snapshot
                .waiting
                .iter()
                .map(|(_, arrived)| now.since(*arrived).as_secs_f64())
                .fold(0.0, f64::max);
            self.longest_wait.get_or_create(&labels).set(longest);
        }
        self.speed_of_answer.clear();
        self.handle_time.clear();
        let mut by_tier = vec![switchboard_core::stats::Counts::default(); plan.tiers.len()];
        for (q, queue) in plan.queues.iter().enumerate() {
            let mut in_queue = switchboard_core::stats::Counts::default();
            for (t, tier) in plan.tiers.iter().enumerate() {
                let counts = app
                    .router
                    .counts(QueueId(q as u16), switchboard_core::TierId(t as u8));
                in_queue.add(&counts);
                by_tier[t].add(&counts);
                if queue.retired
                    && counts.offered == 0
                    && counts.abandoned == 0
                    && counts.answered == 0
                {
                    continue;
                }
                let labels = vec![("queue", queue.name.clone()), ("tier", tier.name.clone())];
                self.calls.catch_up(&labels, &counts);
            }
            if !queue.retired
                && let Some(aht) = app.router.acd().average_handle_time(QueueId(q as u16))
            {
                self.handle_time
                    .get_or_create(&vec![("queue", queue.name.clone())])
                    .set(aht.as_secs_f64());
            }
            if let Some(asa) = in_queue.average_speed_of_answer() {
                self.speed_of_answer
                    .get_or_create(&vec![("queue", queue.name.clone())])
                    .set(asa.as_secs_f64());
            }
        }
        self.channels.refresh(&app.router, &plan);
        self.service_level.clear();
        self.service_level_window.clear();
        let window = app.settings().service_level_window;
        self.window_seconds.set(window.as_secs_f64());
        for (t, (tier, counts)) in plan.tiers.iter().zip(&by_tier).enumerate() {
            let labels = vec![("tier", tier.name.clone())];
            if let Some(level) = app
                .router
                .recent(switchboard_core::TierId(t as u8), window, now)
                .service_level()
            {
                self.service_level_window.get_or_create(&labels).set(level);
            }
            self.standard
                .get_or_create(&labels)
                .set(f64::from(tier.standard.percent) / 100.0);
            self.standard_seconds
                .get_or_create(&labels)
                .set(tier.standard.within.as_secs_f64());
            if let Some(level) = counts.service_level() {
                self.service_level.get_or_create(&labels).set(level);
            }
        }
        for state in [
            AgentState::Available,
            AgentState::Reserved,
            AgentState::OnCall,
            AgentState::WrapUp,
            AgentState::NotReady,
        ] {
            self.agents
                .get_or_create(&vec![("state", state.as_str().to_owned())])
                .set(0);
        }
        let (mut staffed, mut busy) = (0u32, 0u32);
        for agent in acd.agents() {
            let state = agent.state();
            if state != AgentState::LoggedOut {
                self.agents
                    .get_or_create(&vec![("state", state.as_str().to_owned())])
                    .inc();
            }
            if state.staffed() {
                staffed += 1;
                busy += u32::from(state != AgentState::Available);
            }
        }
        self.occupancy.set(if staffed == 0 {
            0.0
        } else {
            f64::from(busy) / f64::from(staffed)
        });
        let flagged = app
            .scorecards
            .all()
            .iter()
            .filter(|(_, f)| !f.shortfalls(&plan.coaching).is_empty())
            .count();
        self.coaching
            .set(i64::try_from(flagged).unwrap_or(i64::MAX));
        self.operations.render(app);
        self.times.at_zero(&plan);
        self.times.render(app, &plan);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Serves `GET /metrics` on `listener` until `shutdown` completes.
pub async fn serve_metrics(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::{Router, http::header, routing::get};
    let security = app.settings().security.clone();
    let scraped = app.clone();
    let scrape = move |headers: axum::http::HeaderMap| {
        let app = scraped.clone();
        async move {
            let open = app.metrics.render(&app, app.clock.now());
            let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
            if text::wants_openmetrics(accept) {
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    open,
                )
            } else {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    text::to_text(&open),
                )
            }
        }
    };
    let tls = match &security.tls {
        Some(files) if security.metrics_tls => Some(
            crate::security::tls::Tls::load(files, true)
                .map_err(|e| std::io::Error::other(e.to_string()))?,
        ),
        _ => None,
    };
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, tls = tls.is_some(), "switchboard serving metrics at /metrics and the wallboard at /wallboard");
    }
    let guard = Arc::new(
        crate::security::Guard::load(&security)
            .map_err(|e| std::io::Error::other(e.to_string()))?,
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(crate::security::watch_files(Arc::clone(&guard), stopped));
    let floor = Arc::clone(&app.floor);
    let shutdown = async move {
        shutdown.await;
        // Live feeds end, or the graceful shutdown would wait for them forever.
        floor.close();
        let _ = stop.send(true);
    };
    let routes = Router::new()
        .route("/metrics", get(scrape))
        .merge(crate::wallboard::routes(app, guard));
    match tls {
        None => {
            axum::serve(listener, routes)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(tls) => {
            axum::serve(crate::security::tls::Listener::new(listener, tls), routes)
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_are_the_doubling_bounds_at_or_above_each_value() {
        assert_eq!(LatencyHistogram::bucket(0), 0);
        assert_eq!(LatencyHistogram::bucket(1_000), 0);
        assert_eq!(LatencyHistogram::bucket(1_001), 1);
        assert_eq!(LatencyHistogram::bucket(2_000), 1);
        assert_eq!(LatencyHistogram::bucket(2_001), 2);
        assert_eq!(LatencyHistogram::bucket(4_000), 2);
        assert_eq!(LatencyHistogram::bucket(700_000), 10);
        assert_eq!(LatencyHistogram::bucket(32_768_000), 15);
        assert_eq!(LatencyHistogram::bucket(32_768_001), 16);
        assert_eq!(LatencyHistogram::bucket(u64::MAX), 16);
        let h = LatencyHistogram::default();
        let mut registry = Registry::default();
        registry.register("d", "decisions", h.clone());
        for us in [1, 3, 3, 50_000] {
            h.observe(std::time::Duration::from_micros(us));
        }
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        // Cumulative, in seconds, as Prometheus reads them.
        assert!(text.contains("d_bucket{le=\"0.000001\"} 1\n"), "{text}");
        assert!(text.contains("d_bucket{le=\"0.000004\"} 3\n"), "{text}");
        assert!(text.contains("d_bucket{le=\"0.032768\"} 3\n"), "{text}");
        assert!(text.contains("d_bucket{le=\"+Inf\"} 4\n"), "{text}");
        assert!(text.contains("d_count 4\n"), "{text}");
        assert!(text.contains("d_sum 0.050007\n"), "{text}");
    }
}
