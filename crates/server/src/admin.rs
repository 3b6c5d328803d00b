//! `switchboard.v1.Admin`: customers, route explanations, and (later) reload and stats.

use std::{collections::HashMap, sync::Arc};

use switchboard_config::customers;
use switchboard_core::router::{
    Input, MAX_NUMBER_TEXT, RouteError, check_input, effective_preference,
};
use switchboard_core::{
    Millis, RoutePlan, Router, TierId,
    plan::{AgentStandard, QueueId},
    scorecard::{Figures, Scorecards},
    stats::Counts,
};
use switchboard_proto::v1::{self as pb, admin_server::Admin};
use tonic::{Request, Response, Status, Streaming};

use crate::{
    App, audit, convert,
    error::{ApiError, shown},
    security::Caller,
};

#[derive(Debug, Clone)]
pub(crate) struct AdminService {
    pub app: App,
}

/// Most menu answers one explanation follows.
const MAX_EXPLAIN_STEPS: usize = 16;
/// Largest CSV one import takes (about 2.5 million customers of the sample's shape).
const MAX_IMPORT_BYTES: usize = 256 << 20;
/// Most skipped rows an import lists; the log has the count.
const MAX_REPORTED_ROWS: usize = 1_000;

fn check_number_text(field: &str, text: &str) -> Result<(), ApiError> {
    if switchboard_core::text::longer_than(text, MAX_NUMBER_TEXT) {
        return Err(ApiError::invalid(field, "longer than 64 characters"));
    }
    Ok(())
}

impl AdminService {
    fn view(&self, customer: &switchboard_core::Customer) -> pb::CustomerView {
        let plan = self.app.router.plan();
        let behaviour = self.app.router.behaviour();
        let learned: Vec<_> = customer.numbers.iter().map(|n| behaviour.get(*n)).collect();
        // Routing decides per number; the view reports the customer's first number.
        let first = learned.first().copied().unwrap_or_default();
        let (preference, source) = effective_preference(customer.preference, &first, &plan);
        pb::CustomerView {
            customer: Some(convert::customer_to(&plan, customer)),
            effective_preference: convert::preference_to(preference).into(),
            preference_source: convert::source_to(source).into(),
            learned: learned
                .iter()
                .map(|l| convert::learned_to(&plan, l))
                .collect(),
        }
    }
}

#[tonic::async_trait]
impl Admin for AdminService {
    type WatchFloorStream = crate::supervise::FloorStream;

    async fn watch_floor(
        &self,
        request: Request<pb::WatchFloorRequest>,
    ) -> Result<Response<Self::WatchFloorStream>, Status> {
        let stream = crate::supervise::watch_floor(&self.app, request.into_inner())?;
        Ok(Response::new(stream))
    }

    async fn list_waiting_calls(
        &self,
        request: Request<pb::ListWaitingCallsRequest>,
    ) -> Result<Response<pb::ListWaitingCallsResponse>, Status> {
        let calls = crate::supervise::list_waiting_calls(&self.app, request.get_ref())?;
        Ok(Response::new(calls))
    }

    async fn move_call(
        &self,
        request: Request<pb::MoveCallRequest>,
    ) -> Result<Response<pb::MoveCallResponse>, Status> {
        let caller = Caller::of(&request)?;
        let moved = crate::supervise::move_call(&self.app, &caller, request.get_ref())?;
        Ok(Response::new(moved))
    }

    async fn supervise_agent(
        &self,
        request: Request<pb::SuperviseAgentRequest>,
    ) -> Result<Response<pb::Agent>, Status> {
        let caller = Caller::of(&request)?;
        let agent = crate::supervise::supervise_agent(&self.app, &caller, request.get_ref())?;
        Ok(Response::new(agent))
    }

    async fn close_queue(
        &self,
        request: Request<pb::CloseQueueRequest>,
    ) -> Result<Response<pb::QueueFloor>, Status> {
        let caller = Caller::of(&request)?;
        let queue = crate::supervise::close_queue(&self.app, &caller, request.get_ref())?;
        Ok(Response::new(queue))
    }

    async fn get_node(
        &self,
        _request: Request<pb::GetNodeRequest>,
    ) -> Result<Response<pb::NodeStatus>, Status> {
        let duration = |d: std::time::Duration| prost_types::Duration {
            seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
        };
        let Some(view) = self.app.node() else {
            return Ok(Response::new(pb::NodeStatus {
                leading: true,
                address: self.app.settings().listen.to_string(),
                ..pb::NodeStatus::default()
            }));
        };
        let leader = view.leader.as_ref();
        Ok(Response::new(pb::NodeStatus {
            domain: view.domain,
            node: view.name,
            address: view.address,
            leading: view.leading,
            shared_store: true,
            epoch: view.epoch,
            leader_node: leader.map(|h| h.node.clone()).unwrap_or_default(),
            leader_address: leader.map(|h| h.address.clone()).unwrap_or_default(),
            leader_epoch: leader.map_or(0, |h| h.epoch),
            leader_lease_left: leader.map(|h| duration(h.expires_in)),
            lag: view.lag.filter(|_| !view.leading).map(duration),
            takeovers: view.takeovers,
        }))
    }

    async fn open_queue(
        &self,
        request: Request<pb::OpenQueueRequest>,
    ) -> Result<Response<pb::QueueFloor>, Status> {
        let caller = Caller::of(&request)?;
        let queue = crate::supervise::open_queue(&self.app, &caller, request.get_ref())?;
        Ok(Response::new(queue))
    }

    async fn upsert_customer(
        &self,
        request: Request<pb::UpsertCustomerRequest>,
    ) -> Result<Response<pb::CustomerView>, Status> {
        let caller = Caller::of(&request)?;
        let customer = request
            .into_inner()
            .customer
            .ok_or_else(|| ApiError::invalid("customer", "required"))?;
        let plan = self.app.router.plan();
        let customer = convert::customer_from(&plan, customer)?;
        if let Some(refusal) = self.app.refuses_durable_writes() {
            return Err(refusal.into());
        }
        let before = self.app.router.directory().get(customer.id());
        let stored = self
            .app
            .router
            .directory()
            .upsert(customer)
            .map_err(ApiError::from)?;
        self.app.persist_customer(&stored);
        self.app.audit(
            &caller,
            "switchboard.v1.Admin/UpsertCustomer",
            stored.id(),
            audit::customer_change(&plan, before.as_deref(), &stored),
        );
        // Upserted means stored: the answer waits for the disk.
        self.app.durable().await?;
        tracing::info!(customer_id = %stored.id(), "customer upserted");
        Ok(Response::new(self.view(&stored)))
    }

    async fn get_customer(
        &self,
        request: Request<pb::GetCustomerRequest>,
    ) -> Result<Response<pb::CustomerView>, Status> {
        let directory = self.app.router.directory();
        let customer = match request.into_inner().key {
            Some(pb::get_customer_request::Key::CustomerId(id)) => {
                directory.get(&id).ok_or(ApiError::NotFound {
                    what: "customer",
                    key: id,
                })?
            }
            Some(pb::get_customer_request::Key::PhoneNumber(raw)) => {
                check_number_text("phone_number", &raw)?;
                let number = self
                    .app
                    .router
                    .plan()
                    .numbers
                    .normalize(&raw)
                    .map_err(|e| {
                        ApiError::invalid(
                            "phone_number",
                            format!("{} is not a valid number ({e})", shown(&raw)),
                        )
                    })?;
                directory.lookup(number).ok_or(ApiError::NotFound {
                    what: "customer with phone number",
                    key: number.to_string(),
                })?
            }
            Some(pb::get_customer_request::Key::Address(raw)) => {
                if switchboard_core::text::longer_than(&raw, switchboard_core::address::MAX_EMAIL) {
                    return Err(ApiError::invalid("address", "longer than 254 characters").into());
                }
                let (_, address) = switchboard_core::address::normalize(&raw)
                    .map_err(|e| ApiError::invalid("address", format!("{}: {e}", shown(&raw))))?;
                directory
                    .lookup_address(&address)
                    .ok_or(ApiError::NotFound {
                        what: "customer with address",
                        key: address.to_string(),
                    })?
            }
            None => {
                return Err(
                    ApiError::invalid("key", "set customer_id, phone_number or address").into(),
                );
            }
        };
        Ok(Response::new(self.view(&customer)))
    }

    async fn import_customers(
        &self,
        request: Request<Streaming<pb::ImportCustomersRequest>>,
    ) -> Result<Response<pb::ImportCustomersResponse>, Status> {
        let caller = Caller::of(&request)?;
        if let Some(refusal) = self.app.refuses_durable_writes() {
            return Err(refusal.into());
        }
        let mut stream = request.into_inner();
        let mut csv = Vec::new();
        while let Some(chunk) = stream.message().await? {
            if csv.len() + chunk.csv_chunk.len() > MAX_IMPORT_BYTES {
                return Err(ApiError::invalid(
                    "csv_chunk",
                    format!(
                        "more than {} MiB in one import; split the file",
                        MAX_IMPORT_BYTES >> 20
                    ),
                )
                .into());
            }
            csv.extend_from_slice(&chunk.csv_chunk);
        }
        // The store may have failed while the file came in.
        if let Some(refusal) = self.app.refuses_durable_writes() {
            return Err(refusal.into());
        }
        let app = self.app.clone();
        // Parsing a large file takes seconds: off the async workers.
        let report = tokio::task::spawn_blocking(move || {
            let plan = app.router.plan();
            customers::import_each(csv.as_slice(), &plan, app.router.directory(), |c| {
                app.persist_customer(c)
            })
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "import task failed");
            Status::internal("import failed; see the server log")
        })?
        .map_err(|e| ApiError::invalid("csv_chunk", e.to_string()))?;
        self.app.audit(
            &caller,
            "switchboard.v1.Admin/ImportCustomers",
            "customers",
            format!(
                "{} imported, {} rows rejected",
                report.imported,
                report.rejected.len()
            ),
        );
        // Imported means stored: wait for the writer before answering.
        self.app.durable().await?;
        tracing::info!(
            imported = report.imported,
            rejected = report.rejected.len(),
            "customers imported"
        );
        Ok(Response::new(pb::ImportCustomersResponse {
            imported: report.imported as u64,
            rejected: report
                .rejected
                .iter()
                .take(MAX_REPORTED_ROWS)
                .map(|r| pb::RowError {
                    line: r.line,
                    message: r.message.clone(),
                })
                .collect(),
        }))
    }

    async fn reload_config(
        &self,
        request: Request<pb::ReloadConfigRequest>,
    ) -> Result<Response<pb::ReloadConfigResponse>, Status> {
        let caller = Caller::of(&request)?;
        let app = self.app.clone();
        // Reading and checking a large config takes milliseconds: off the async workers.
        let outcome = tokio::task::spawn_blocking(move || app.reload("Admin.ReloadConfig"))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "reload task failed");
                Status::internal("reload failed; see the server log")
            })??;
        let counts = self.app.reload_counts();
        self.app.audit(
            &caller,
            "switchboard.v1.Admin/ReloadConfig",
            &self.app.config_path_shown(),
            audit::reload_outcome(&outcome),
        );
        Ok(Response::new(pb::ReloadConfigResponse {
            errors: outcome.errors,
            warnings: outcome.warnings,
            applied: outcome.applied,
            reloads_applied: counts.applied,
            reloads_failed: counts.failed,
        }))
    }

    async fn get_queue_stats(
        &self,
        request: Request<pb::GetQueueStatsRequest>,
    ) -> Result<Response<pb::GetQueueStatsResponse>, Status> {
        let wanted = request.into_inner().queue;
        let router = &self.app.router;
        let plan = router.plan();
        let ids: Vec<QueueId> = if wanted.is_empty() {
            (0..plan.queues.len())
                .map(|i| QueueId(i as u16))
                .filter(|q| !plan.queue(*q).retired)
                .collect()
        } else {
            vec![plan.queue_by_name(&wanted).ok_or(ApiError::NotFound {
                what: "queue",
                key: wanted,
            })?]
        };
        let now = self.app.clock.now();
        let queues = ids
            .into_iter()
            .map(|q| queue_stats(router, &plan, q, now))
            .collect();
        let channels = switchboard_core::channel::Channel::ALL
            .into_iter()
            .map(|channel| pb::ChannelStats {
                channel: convert::channel_to(channel).into(),
                tiers: plan
                    .tiers
                    .iter()
                    .enumerate()
                    .map(|(i, tier)| {
                        let c = router.channel_counts(channel, TierId(i as u8));
                        let standard = tier.standard_for(channel);
                        pb::ChannelTierStats {
                            tier: tier.name.clone(),
                            offered: c.offered,
                            answered: c.answered,
                            abandoned: c.abandoned,
                            service_level: c.service_level(),
                            service_level_target: f64::from(standard.percent) / 100.0,
                            service_level_threshold: duration(standard.within),
                            average_speed_of_answer: c.average_speed_of_answer().and_then(duration),
                        }
                    })
                    .collect(),
            })
            .collect();
        Ok(Response::new(pb::GetQueueStatsResponse {
            queues,
            channels,
        }))
    }

    async fn get_agent_stats(
        &self,
        request: Request<pb::GetAgentStatsRequest>,
    ) -> Result<Response<pb::GetAgentStatsResponse>, Status> {
        let req = request.into_inner();
        let standard = self.app.router.plan().coaching;
        // Each agent's figures by id: from the records of the window, or since start for
        // every agent known (zeros for one who has handled nothing yet).
        let figures: Vec<(String, Figures)> = match req.window {
            Some(window) => recorded_figures(&self.app, report_window(window)?)
                .await?
                .into_iter()
                .map(|(id, f)| (id.to_string(), f))
                .collect(),
            None => {
                let cards = &self.app.scorecards;
                let mut ids: Vec<String> = self
                    .app
                    .router
                    .acd()
                    .agents()
                    .iter()
                    .map(|a| a.profile.id.clone())
                    .chain(cards.all().into_iter().map(|(id, _)| id.to_string()))
                    .collect();
                ids.sort();
                ids.dedup();
                ids.into_iter()
                    .map(|id| {
                        let f = cards.get(&id).unwrap_or_default();
                        (id, f)
                    })
                    .collect()
            }
        };
        let mut agents: Vec<pb::AgentStats> = figures
            .into_iter()
            .map(|(agent_id, f)| pb::AgentStats {
                agent_id,
                figures: Some(convert::figures_to(&f, &standard)),
            })
            .filter(|a| !req.coaching_only || a.figures.as_ref().is_some_and(|f| f.coaching_needed))
            .collect();
        // Most points first; ties in id order (the sort is stable).
        agents.sort_by_key(|a| std::cmp::Reverse(a.figures.as_ref().map_or(0, |f| f.points)));
        Ok(Response::new(pb::GetAgentStatsResponse {
            agents,
            standard: Some(coaching_to(&standard)),
        }))
    }

    async fn get_standards_report(
        &self,
        request: Request<pb::GetStandardsReportRequest>,
    ) -> Result<Response<pb::StandardsReport>, Status> {
        let window = match request.into_inner().window {
            None => DEFAULT_REPORT_WINDOW,
            Some(w) => report_window(w)?,
        };
        Ok(Response::new(standards_report(&self.app, window).await?))
    }

    async fn list_audit(
        &self,
        request: Request<pb::ListAuditRequest>,
    ) -> Result<Response<pb::ListAuditResponse>, Status> {
        let req = request.into_inner();
        let limit = match req.limit as usize {
            0 => audit::DEFAULT_LIMIT,
            n if n > audit::MAX_LIMIT => {
                return Err(ApiError::invalid(
                    "limit",
                    format!(
                        "{n} is over the most one answer holds, {}",
                        audit::MAX_LIMIT
                    ),
                )
                .into());
            }
            n => n,
        };
        let since = match req.since {
            Some(t) => convert::millis_from(&t).map_err(|e| ApiError::invalid("since", e))?,
            None => Millis(0),
        };
        let entries = match (&self.app.store, &self.app.store_location) {
            (Some(writer), Some(path)) => {
                read_records(writer, path, move |p| {
                    switchboard_store::audit::list(p, since, limit)
                })
                .await?
            }
            _ => self.app.audit_trail.list(since, limit),
        };
        Ok(Response::new(pb::ListAuditResponse {
            entries: entries.iter().map(audit::entry_to).collect(),
        }))
    }

    async fn explain_route(
        &self,
        request: Request<pb::ExplainRouteRequest>,
    ) -> Result<Response<pb::ExplainRouteResponse>, Status> {
        let req = request.into_inner();
        check_number_text("caller", &req.caller)?;
        check_number_text("dialed", &req.dialed)?;
        let channel = convert::channel(req.channel)?;
        if req.digits.len() > MAX_EXPLAIN_STEPS {
            return Err(ApiError::invalid(
                "digits",
                format!("more than {MAX_EXPLAIN_STEPS} menu answers"),
            )
            .into());
        }
        for (i, d) in req.digits.iter().enumerate() {
            if let Err(RouteError::InvalidField { problem, .. }) = check_input(Input::Digits(d)) {
                return Err(ApiError::invalid(format!("digits[{i}]"), problem).into());
            }
        }
        let digits: Vec<&str> = req.digits.iter().map(String::as_str).collect();
        let at = match req.at {
            None => self.app.clock.now(),
            Some(t) => {
                let ms = t
                    .seconds
                    .checked_mul(1_000)
                    .and_then(|s| s.checked_add(i64::from(t.nanos) / 1_000_000))
                    .filter(|ms| *ms >= 0 && (0..1_000_000_000).contains(&t.nanos))
                    .ok_or_else(|| ApiError::invalid("at", "not a time after 1970"))?;
                Millis(ms as u64)
            }
        };
        let e = self
            .app
            .router
            .explain(&req.caller, &req.dialed, channel, &digits, at);
        Ok(Response::new(explanation(&e)))
    }
}

pub(crate) fn explanation(e: &switchboard_core::router::Explanation) -> pb::ExplainRouteResponse {
    let plan = &e.plan;
    pb::ExplainRouteResponse {
        caller: match e.caller.number {
            Ok(n) => n.to_string(),
            Err(err) => err.to_string(),
        },
        caller_known: e.caller.customer.is_some(),
        customer_id: e
            .caller
            .customer
            .as_ref()
            .map(|c| c.id().to_string())
            .unwrap_or_default(),
        tier: plan.tier(e.caller.tier).name.clone(),
        effective_preference: convert::preference_to(e.caller.preference).into(),
        preference_source: convert::source_to(e.caller.source).into(),
        rules: e
            .rules
            .iter()
            .map(|r| pb::RuleTrace {
                rule: plan.rule(r.rule).name.clone(),
                matched: r.matched,
                conditions: r
                    .conditions
                    .iter()
                    .map(|c| pb::ConditionTrace {
                        condition: c.condition.clone(),
                        actual: c.actual.clone(),
                        matched: c.matched,
                    })
                    .collect(),
                effect: r.effect.clone(),
            })
            .collect(),
        decisions: e
            .decisions
            .iter()
            .map(|d| convert::decision(plan, plan, "", d, None))
            .collect(),
        notes: e.notes.clone(),
    }
}

fn coaching_to(standard: &AgentStandard) -> pb::CoachingStandard {
    pb::CoachingStandard {
        handle_time: duration(standard.handle_time),
        first_contact_resolution_percent: u32::from(standard.first_contact_percent),
        satisfied_percent: u32::from(standard.satisfied_percent),
        min_calls: standard.min_calls,
    }
}

/// A report's window as requested: a minute or longer.
fn report_window(w: prost_types::Duration) -> Result<std::time::Duration, ApiError> {
    std::time::Duration::try_from(w)
        .ok()
        .filter(|w| *w >= std::time::Duration::from_secs(60))
        .ok_or_else(|| ApiError::invalid("window", "must be a minute or longer"))
}

/// Every agent's figures over the `window` before now, made from the call records: a
/// handled call's handle time is its talk plus its queue's wrap-up time, and a resolved
/// call is reopened when the caller's next call came within the repeat window of its end.
/// `[from, to)` for the `window` up to and including `now`.
fn window_before(now: Millis, window: std::time::Duration) -> (Millis, Millis) {
    let span = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
    (
        Millis(now.0.saturating_sub(span)),
        Millis(now.0.saturating_add(1)),
    )
}

/// Runs `read` on the store (a connection of its own) once the writer has written what it holds (so the
/// records include every call that has ended), on a blocking thread.
async fn read_records<T: Send + 'static>(
    writer: &Arc<switchboard_store::writer::Writer>,
    path: &Arc<switchboard_store::Location>,
    read: impl FnOnce(&switchboard_store::Location) -> Result<T, switchboard_store::StoreError>
    + Send
    + 'static,
) -> Result<T, ApiError> {
    let (writer, path) = (Arc::clone(writer), Arc::clone(path));
    tokio::task::spawn_blocking(move || {
        writer.flush().map_err(|e| format!("store: {e}"))?;
        read(&path).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ApiError::Unavailable(e.to_string()))?
    .map_err(ApiError::Unavailable)
}

async fn recorded_figures(
    app: &App,
    window: std::time::Duration,
) -> Result<Vec<(Arc<str>, Figures)>, ApiError> {
    let (Some(writer), Some(path)) = (&app.store, &app.store_location) else {
        return Err(ApiError::invalid(
            "window",
            "agent figures over a window come from the call records: the store is off (store.enabled)",
        ));
    };
    let plan = app.router.plan();
    let (from, to) = window_before(app.clock.now(), window);
    let repeat = plan.learning.repeat_window;
    let read = read_records(writer, path, move |path| {
        switchboard_store::report::handled_calls(path, from, to)
    })
    .await?;
    let mut by_caller: HashMap<&str, Vec<Millis>> = HashMap::new();
    for (caller, arrived) in &read.contacts {
        by_caller.entry(caller.as_str()).or_default().push(*arrived);
    }
    let cards = Scorecards::default();
    for c in &read.calls {
        let wrap_up = c
            .queue
            .as_deref()
            .and_then(|q| plan.queue_by_name(q))
            .map_or(std::time::Duration::ZERO, |q| plan.queue(q).wrap_up);
        let talk = c.ended.since(c.answered);
        cards.handled(
            &c.agent,
            talk + wrap_up,
            c.resolved,
            c.retention,
            &plan.coaching,
        );
        if let Some(score) = c.satisfaction {
            cards.surveyed(&c.agent, score);
        }
        let next = c.caller.as_deref().and_then(|caller| {
            let arrivals = by_caller.get(caller)?;
            let i = arrivals.partition_point(|t| *t <= c.ended);
            arrivals.get(i).copied()
        });
        if c.resolved && next.is_some_and(|t| t.since(c.ended) <= repeat) {
            cards.reopened(&c.agent);
        }
    }
    Ok(cards.all())
}

/// The standards report's window when the request names none.
const DEFAULT_REPORT_WINDOW: std::time::Duration = std::time::Duration::from_secs(24 * 3_600);

/// Per tier, the published standard beside what was delivered in the `window` before
/// now: from the call records when there is a store, otherwise from memory.
async fn standards_report(
    app: &App,
    window: std::time::Duration,
) -> Result<pb::StandardsReport, ApiError> {
    let plan = app.router.plan();
    let now = app.clock.now();
    let (from, to) = window_before(now, window);
    let channels = switchboard_core::channel::Channel::ALL;
    // Per tier, per channel (in `channels`' order): what was delivered.
    let (source, delivered): (_, Vec<Vec<Counts>>) = match (&app.store, &app.store_location) {
        (Some(writer), Some(path)) => {
            // Each record is held to its tier's standard for its channel.
            let tiers: Vec<(String, Vec<(String, std::time::Duration)>)> = plan
                .tiers
                .iter()
                .map(|t| {
                    let by_channel = channels
                        .into_iter()
                        .map(|c| (c.as_str().to_owned(), t.standard_for(c).within))
                        .collect();
                    (t.name.clone(), by_channel)
                })
                .collect();
            let rows = read_records(writer, path, move |path| {
                switchboard_store::report::delivered(path, from, to, &tiers)
            })
            .await?;
            let counts = rows
                .into_iter()
                .map(|by_channel| {
                    by_channel
                        .into_iter()
                        .map(|d| Counts {
                            answered: d.answered,
                            answered_in_standard: d.answered_in_standard,
                            answer_wait: d.answer_wait,
                            abandoned: d.abandoned,
                            abandoned_after_standard: d.abandoned_after_standard,
                            ..Counts::default()
                        })
                        .collect()
                })
                .collect();
            ("call records", counts)
        }
        _ => {
            if window > switchboard_core::stats::RECENT_SPAN {
                return Err(ApiError::invalid(
                    "window",
                    "over 24 h needs the store (store.enabled); memory keeps the last day",
                ));
            }
            let counts = (0..plan.tiers.len())
                .map(|t| {
                    channels
                        .into_iter()
                        .map(|c| app.router.recent_channel(c, TierId(t as u8), window, now))
                        .collect()
                })
                .collect();
            ("memory", counts)
        }
    };
    let tiers = plan
        .tiers
        .iter()
        .zip(delivered)
        .map(|(tier, by_channel)| {
            let mut c = Counts::default();
            for d in &by_channel {
                c.add(d);
            }
            let (service_level, verdict) = judged(&c, tier.standard.percent);
            let channels = channels
                .into_iter()
                .zip(&by_channel)
                .filter(|(_, d)| d.answered + d.abandoned > 0)
                .map(|(channel, d)| {
                    let standard = tier.standard_for(channel);
                    let (service_level, verdict) = judged(d, standard.percent);
                    pb::ChannelReport {
                        channel: channel.as_str().to_owned(),
                        standard_percent: u32::from(standard.percent),
                        standard_within: duration(standard.within),
                        answered: d.answered,
                        answered_in_standard: d.answered_in_standard,
                        abandoned: d.abandoned,
                        abandoned_after_standard: d.abandoned_after_standard,
                        service_level,
                        average_speed_of_answer: d.average_speed_of_answer().and_then(duration),
                        verdict: verdict.into(),
                    }
                })
                .collect();
            pb::TierReport {
                tier: tier.name.clone(),
                standard_percent: u32::from(tier.standard.percent),
                standard_within: duration(tier.standard.within),
                answered: c.answered,
                answered_in_standard: c.answered_in_standard,
                abandoned: c.abandoned,
                abandoned_after_standard: c.abandoned_after_standard,
                service_level,
                average_speed_of_answer: c.average_speed_of_answer().and_then(duration),
                verdict: verdict.into(),
                channels,
            }
        })
        .collect();
    Ok(pb::StandardsReport {
        from: Some(convert::timestamp(from)),
        to: Some(convert::timestamp(now)),
        source: source.to_owned(),
        tiers,
    })
}

/// A service level against a standard's percentage: the level, and met or missed
/// (no calls when there is nothing to judge).
fn judged(c: &Counts, percent: u8) -> (Option<f64>, pb::Verdict) {
    let level = c.service_level();
    let verdict = match level {
        None => pb::Verdict::NoCalls,
        Some(l) if l * 100.0 + 1e-9 >= f64::from(percent) => pb::Verdict::Met,
        Some(_) => pb::Verdict::Missed,
    };
    (level, verdict)
}

fn duration(d: std::time::Duration) -> Option<prost_types::Duration> {
    prost_types::Duration::try_from(d).ok()
}

fn queue_stats(router: &Router, plan: &RoutePlan, queue: QueueId, now: Millis) -> pb::QueueStats {
    let acd = router.acd();
    let snapshot = acd.snapshot(queue).unwrap_or_default();
    let mut agents_by_state: HashMap<String, u32> = HashMap::new();
    for s in &snapshot.agents {
        *agents_by_state.entry(s.as_str().to_owned()).or_default() += 1;
    }
    let longest = |tier: Option<TierId>| {
        snapshot
            .waiting
            .iter()
            .filter(|(t, _)| tier.is_none_or(|x| x == *t))
            .map(|(_, arrived)| now.since(*arrived))
            .max()
            .and_then(duration)
    };
    let mut total = Counts::default();
    let tiers = plan
        .tiers
        .iter()
        .enumerate()
        .map(|(i, tier)| {
            let id = TierId(i as u8);
            let c = router.counts(queue, id);
            total.add(&c);
            pb::TierStats {
                tier: tier.name.clone(),
                waiting: snapshot.waiting.iter().filter(|(t, _)| *t == id).count() as u32,
                longest_wait: longest(Some(id)),
                offered: c.offered,
                answered: c.answered,
                abandoned: c.abandoned,
                service_level: c.service_level(),
                service_level_target: f64::from(tier.standard.percent) / 100.0,
                service_level_threshold: duration(tier.standard.within),
                average_speed_of_answer: c.average_speed_of_answer().and_then(duration),
            }
        })
        .collect();
    pb::QueueStats {
        queue: plan.queue(queue).name.clone(),
        waiting: snapshot.waiting.len() as u32,
        longest_wait: longest(None),
        estimated_wait: acd
            .estimated_wait(queue, snapshot.waiting.len() + 1)
            .and_then(duration),
        agents_by_state,
        offered: total.offered,
        answered: total.answered,
        abandoned: total.abandoned,
        tiers,
    }
}
