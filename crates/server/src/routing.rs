//! `switchboard.v1.Routing`: the switch's service.

use std::pin::Pin;

use switchboard_core::{
    acd::AcdError,
    router::{CallRecord, CallRequest, Input, MAX_CALL_ID, MAX_NUMBER_TEXT, Outcome},
    text::prefix,
};
use switchboard_proto::v1::{self as pb, routing_server::Routing};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::{App, convert, error::ApiError, security::Caller};

#[derive(Debug, Clone)]
pub(crate) struct RoutingService {
    pub app: App,
}

type AssignmentStream = Pin<Box<dyn Stream<Item = Result<pb::Assignment, Status>> + Send>>;

#[tonic::async_trait]
impl Routing for RoutingService {
    async fn route_call(
        &self,
        request: Request<pb::RouteCallRequest>,
    ) -> Result<Response<pb::Decision>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        // Every line logged for the call carries its id (and the caller's number only
        // when the config asks) through its `call` span. Opening a span costs a call
        // about a microsecond (the log layers format its fields), so it is opened only
        // when a line will be written: DEBUG on, or a refusal, which is logged as it
        // becomes a status. No await happens under the span.
        let span = if tracing::enabled!(tracing::Level::DEBUG) {
            self.call_span(&req)
        } else {
            tracing::Span::none()
        };
        let routed = span.in_scope(|| self.route(&caller, &req));
        routed.map(Response::new).map_err(|e| {
            let span = if span.is_none() {
                self.call_span(&req)
            } else {
                span
            };
            span.in_scope(|| Status::from(e))
        })
    }

    async fn submit_input(
        &self,
        request: Request<pb::SubmitInputRequest>,
    ) -> Result<Response<pb::Decision>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let span = tracing::info_span!("call", call_id = %prefix(&req.call_id, MAX_CALL_ID));
        let _in_call = span.enter();
        self.owned(&caller, &req.call_id)?;
        let input = match &req.input {
            Some(pb::submit_input_request::Input::Digits(d)) => Input::Digits(d),
            Some(pb::submit_input_request::Input::Intent(i)) => Input::Intent(i),
            None => return Err(ApiError::invalid("input", "set digits or intent").into()),
        };
        let now = self.app.clock.now();
        let routed = self
            .app
            .router
            .submit_input(&req.call_id, input, now)
            .map_err(|e| ApiError::route(&req.call_id, e))?;
        // The input itself is not logged: callers key account numbers into menus.
        tracing::debug!(
            call_id = %req.call_id,
            reason = %switchboard_core::router::describe_reason(&routed.plan, routed.decision.reason),
            "menu input"
        );
        self.app.mark_call(&req.call_id);
        if let Some(a) = &routed.assignment {
            self.app.dispatch.send(&self.app.router, a, now);
        }
        Ok(Response::new(convert::decision(
            &routed.plan,
            &self.app.router.plan(),
            &req.call_id,
            &routed.decision,
            routed.response_within,
        )))
    }

    async fn report_call_event(
        &self,
        request: Request<pb::CallEvent>,
    ) -> Result<Response<pb::CallEventAck>, Status> {
        let caller = Caller::of(&request)?;
        let event = request.into_inner();
        let span = tracing::info_span!("call", call_id = %prefix(&event.call_id, MAX_CALL_ID));
        let _in_call = span.enter();
        Ok(Response::new(self.report(&caller, &event)?))
    }

    type WatchAssignmentsStream = AssignmentStream;

    async fn watch_assignments(
        &self,
        request: Request<pb::WatchAssignmentsRequest>,
    ) -> Result<Response<Self::WatchAssignmentsStream>, Status> {
        let caller = Caller::of(&request)?;
        let switch_id = request.into_inner().switch_id;
        convert::check_id("switch_id", &switch_id, MAX_CALL_ID)?;
        caller.may_switch(&switch_id)?;
        if self.app.is_stopping() {
            return Err(Status::unavailable(crate::SHUTDOWN_STATUS));
        }
        tracing::info!(%switch_id, "switch watching assignments");
        let stream = self
            .app
            .dispatch
            .watch(&switch_id, &caller.identity.key)
            .map_err(|holder| ApiError::StreamHeld {
                switch_id: switch_id.clone(),
                holder,
            })?;
        Ok(Response::new(Box::pin(stream)))
    }
}

impl RoutingService {
    /// The span a RouteCall's lines are logged in.
    fn call_span(&self, req: &pb::RouteCallRequest) -> tracing::Span {
        if self.app.log_caller_numbers() {
            tracing::info_span!("call", call_id = %prefix(&req.call_id, MAX_CALL_ID), caller = %prefix(&req.caller, MAX_NUMBER_TEXT))
        } else {
            tracing::info_span!("call", call_id = %prefix(&req.call_id, MAX_CALL_ID))
        }
    }

    /// Routes a new call (or answers a repeat of one with its decision).
    pub(crate) fn route(
        &self,
        caller: &Caller,
        req: &pb::RouteCallRequest,
    ) -> Result<pb::Decision, ApiError> {
        // Reached past the gRPC gate by the SIP front: a standby routes nothing.
        self.app.leads_or_refuses()?;
        let channel = convert::channel(req.channel)?;
        convert::check_id("switch_id", &req.switch_id, MAX_CALL_ID)?;
        caller.may_switch(&req.switch_id)?;
        // Another switch's call is none of this one's business, not even its decision.
        if let Some(owner) = self.app.router.switch_of(&req.call_id)
            && !caller.identity.may_switch(&owner)
        {
            return Err(ApiError::CallIdTaken {
                call_id: req.call_id.clone(),
            });
        }
        // A call already routed still gets its decision again; only new ones are refused.
        if let Some(refusal) = self.app.refuses_new_calls()
            && !self.app.router.knows_call(&req.call_id)
        {
            return Err(refusal);
        }
        let call = CallRequest {
            call_id: &req.call_id,
            caller: &req.caller,
            dialed: &req.dialed,
            channel,
            switch_id: &req.switch_id,
        };
        let now = self.app.clock.now();
        let started = std::time::Instant::now();
        let routed = self
            .app
            .router
            .route(&call, now)
            .map_err(|e| ApiError::route(&req.call_id, e))?;
        if !routed.replayed {
            self.app
                .metrics
                .routed(&routed.plan, &routed.decision, started.elapsed());
            // The caller's previous contact, if it was recent: this call repeats it,
            // and a resolution it ended with was not a first-contact one after all.
            if let Some(last) = self.app.router.last_contact_of(&req.call_id)
                && now.since(last.at) <= routed.plan.learning.repeat_window
                && let Some((tier, _)) = self.app.router.tier_and_queue(&req.call_id)
            {
                self.app.metrics.repeated(tier, &last.queue, last.resolved);
                if last.resolved {
                    self.app.scorecards.reopened(&last.agent);
                }
            }
            self.app.mark_call(&req.call_id);
        }
        if let Some(a) = &routed.assignment {
            self.app.dispatch.send(&self.app.router, a, now);
        }
        tracing::debug!(
            call_id = %req.call_id,
            replayed = routed.replayed,
            reason = %switchboard_core::router::describe_reason(&routed.plan, routed.decision.reason),
            "routed call"
        );
        Ok(convert::decision(
            &routed.plan,
            &self.app.router.plan(),
            &req.call_id,
            &routed.decision,
            routed.response_within,
        ))
    }

    /// Applies a call event `caller` reports (a switch of its own, or the SIP front's
    /// HTTP endpoint for a peer), in the caller's `call` span.
    pub(crate) fn report(
        &self,
        caller: &Caller,
        event: &pb::CallEvent,
    ) -> Result<pb::CallEventAck, ApiError> {
        self.app.leads_or_refuses()?;
        self.owned(caller, &event.call_id)?;
        self.call_event(event)
    }

    /// Refuses a call of a switch the caller is not bound to as if it did not exist, so
    /// a switch learns nothing of another's calls.
    fn owned(&self, caller: &Caller, call_id: &str) -> Result<(), ApiError> {
        match self.app.router.switch_of(call_id) {
            Some(owner) if !caller.identity.may_switch(&owner) => Err(ApiError::UnknownCall {
                call_id: call_id.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    fn call_event(&self, event: &pb::CallEvent) -> Result<pb::CallEventAck, ApiError> {
        convert::check_id("call_id", &event.call_id, MAX_CALL_ID)?;
        let kind = pb::CallEventKind::try_from(event.kind)
            .map_err(|_| ApiError::invalid("kind", format!("unknown value {}", event.kind)))?;
        if event.satisfaction > 5 {
            return Err(ApiError::invalid(
                "satisfaction",
                format!(
                    "must be 1 to 5, or 0 when not answered (got {})",
                    event.satisfaction
                ),
            ));
        }
        if event.recommend.is_some_and(|r| r > 10) {
            return Err(ApiError::invalid("recommend", "must be 0 to 10"));
        }
        let retention = match pb::RetentionOffer::try_from(event.retention) {
            Ok(pb::RetentionOffer::Unspecified) => None,
            Ok(pb::RetentionOffer::Declined) => Some(false),
            Ok(pb::RetentionOffer::Accepted) => Some(true),
            Err(_) => {
                return Err(ApiError::invalid(
                    "retention",
                    format!("unknown value {}", event.retention),
                ));
            }
        };
        if retention.is_some() && kind != pb::CallEventKind::Ended {
            return Err(ApiError::invalid(
                "retention",
                format!(
                    "only with ENDED, when the agent's call ends (got {})",
                    kind.as_str_name()
                ),
            ));
        }
        if event.wrap_up_code.chars().count() > 64
            || event.wrap_up_code.chars().any(char::is_control)
        {
            return Err(ApiError::invalid(
                "wrap_up_code",
                "at most 64 characters without control characters",
            ));
        }
        let needs_agent = matches!(
            kind,
            pb::CallEventKind::Connected | pb::CallEventKind::NoAnswer | pb::CallEventKind::Ended
        );
        if needs_agent {
            convert::check_id("agent_id", &event.agent_id, 64)?;
        }
        let router = &self.app.router;
        if !router.knows_call(&event.call_id) {
            if router.hung_up_at_menu(&event.call_id) {
                // The hang-up took effect already; nothing else can happen to the call.
                return match kind {
                    pb::CallEventKind::Abandoned => Ok(pb::CallEventAck { applied: false }),
                    _ => Err(ApiError::HungUp {
                        call_id: event.call_id.clone(),
                    }),
                };
            }
            return Err(ApiError::UnknownCall {
                call_id: event.call_id.clone(),
            });
        }
        let acd = router.acd();
        let now = self.app.clock.now();
        let call_err = |error| match error {
            AcdError::UnknownAgent => ApiError::Agent {
                agent_id: event.agent_id.clone(),
                error,
            },
            error => ApiError::Call {
                call_id: event.call_id.clone(),
                error,
            },
        };
        // The agent holding the call before the event changes with it.
        let holder = acd.holder_of(&event.call_id);
        let holds = |agent_id: &str| {
            acd.holder_of(&event.call_id)
                .is_some_and(|a| a.profile.id == agent_id)
        };
        // A caller who hangs up at a menu: the call is gone from memory, and its last
        // image takes any survey riding on the report before it is stored.
        let mut hung_up = None;
        let applied = match kind {
            pb::CallEventKind::Unspecified => return Err(ApiError::invalid("kind", "required")),
            pb::CallEventKind::Transferred => {
                if event.queue.is_empty() {
                    return Err(ApiError::invalid(
                        "queue",
                        "required for TRANSFERRED: the queue the call moves to",
                    ));
                }
                let plan = router.plan();
                let to = plan
                    .queue_by_name(&event.queue)
                    .ok_or_else(|| ApiError::NotFound {
                        what: "queue",
                        key: event.queue.clone(),
                    })?;
                if !event.agent_id.is_empty()
                    && acd.holder_of(&event.call_id).is_some()
                    && !holds(&event.agent_id)
                {
                    return Err(call_err(AcdError::NotHolding));
                }
                if let Some(next) = acd.transfer(&event.call_id, to, now).map_err(call_err)? {
                    self.app.dispatch.send(router, &next, now);
                }
                router.record_transfer(&event.call_id, to, now);
                router.record(&event.call_id, |r| {
                    r.transfers = r.transfers.saturating_add(1);
                });
                true
            }
            pb::CallEventKind::Connected => {
                let already = acd.is_connected(&event.call_id)
                    && acd
                        .holder_of(&event.call_id)
                        .is_some_and(|a| a.profile.id == event.agent_id);
                if already {
                    false
                } else {
                    acd.connected(&event.agent_id, &event.call_id, now)
                        .map_err(call_err)?;
                    if let Some(w) = router.record_answered(&event.call_id, now) {
                        self.app.metrics.waited(&router.plan(), &w, true);
                    }
                    self.app.floor_days.answered(&event.agent_id, now);
                    router.record(&event.call_id, |r| {
                        r.answered = Some(now);
                        r.agent = Some(event.agent_id.clone());
                    });
                    true
                }
            }
            // A repeat of an event that already took effect finds the agent no longer
            // holding the call: acknowledged, nothing changes.
            pb::CallEventKind::NoAnswer if !holds(&event.agent_id) => false,
            pb::CallEventKind::NoAnswer => {
                let made = acd
                    .no_answer(
                        &event.agent_id,
                        &event.call_id,
                        self.app.settings().no_answers_before_not_ready,
                        now,
                    )
                    .map_err(call_err)?;
                self.app.floor_days.missed(&event.agent_id, now);
                for next in &made {
                    self.app.dispatch.send(router, next, now);
                }
                true
            }
            pb::CallEventKind::Ended if !holds(&event.agent_id) => false,
            pb::CallEventKind::Ended => {
                // On the call since it was connected: the talk time.
                let talk_since = match acd.locate(&event.call_id) {
                    Some(switchboard_core::acd::Located::Held { since, .. }) => Some(since),
                    _ => None,
                };
                let handle_time = acd
                    .ended(&event.agent_id, &event.call_id, now)
                    .map_err(call_err)?;
                self.app.scorecards.handled(
                    &event.agent_id,
                    handle_time,
                    event.resolved,
                    retention,
                    &router.plan().coaching,
                );
                router.record_served(
                    &event.call_id,
                    &event.agent_id,
                    event.resolved,
                    &event.wrap_up_code,
                    now,
                );
                if let Some((tier, queue)) = router.tier_and_queue(&event.call_id) {
                    if let (Some(q), Some(since)) = (&queue, talk_since) {
                        let talk = now.since(since).min(handle_time);
                        self.app.metrics.talked(q, talk, handle_time);
                    }
                    self.app
                        .metrics
                        .handled(tier, queue, event.resolved, retention);
                }
                router.record(&event.call_id, |r| {
                    r.ended = Some(now);
                    r.outcome = Some(Outcome::Completed);
                    r.agent = Some(event.agent_id.clone());
                    r.resolved = Some(event.resolved);
                    r.retention = retention;
                    r.disposition =
                        (!event.wrap_up_code.is_empty()).then(|| event.wrap_up_code.clone());
                });
                true
            }
            pb::CallEventKind::CallbackAccepted if event.callback_at.is_some() => {
                let callbacks = self.app.settings().callbacks;
                let at = event.callback_at.as_ref().map(convert::millis_from);
                let due = match at {
                    Some(Ok(due)) if due > now => due,
                    Some(Err(e)) => return Err(ApiError::invalid("callback_at", e)),
                    _ => {
                        return Err(ApiError::invalid(
                            "callback_at",
                            "must be after now (the time the customer chose)",
                        ));
                    }
                };
                if due.since(now) > callbacks.horizon {
                    return Err(ApiError::invalid(
                        "callback_at",
                        format!(
                            "more than {} ahead (calls.callback_horizon)",
                            written(callbacks.horizon)
                        ),
                    ));
                }
                match router.schedule_callback(&event.call_id, due) {
                    Ok(()) => true,
                    Err(switchboard_core::router::ScheduleError::NotWaiting) => {
                        return Err(ApiError::NotWaiting {
                            call_id: event.call_id.clone(),
                        });
                    }
                    Err(switchboard_core::router::ScheduleError::UnknownCall) => {
                        return Err(call_err(AcdError::NotWaiting));
                    }
                }
            }
            pb::CallEventKind::CallbackUnanswered => {
                if event.agent_id.is_empty() {
                    return Err(ApiError::invalid(
                        "agent_id",
                        "required for CALLBACK_UNANSWERED: the agent who called back",
                    ));
                }
                let callbacks = self.app.settings().callbacks;
                let out = router
                    .callback_unanswered(
                        &event.call_id,
                        &event.agent_id,
                        callbacks.attempts,
                        callbacks.retry_after,
                        now,
                    )
                    .map_err(call_err)?;
                for next in &out.assignments {
                    self.app.dispatch.send(router, next, now);
                }
                true
            }
            pb::CallEventKind::CallbackAccepted => {
                if acd.accept_callback(&event.call_id) {
                    true
                } else if acd.holder_of(&event.call_id).is_some() {
                    return Err(ApiError::NotWaiting {
                        call_id: event.call_id.clone(),
                    });
                } else {
                    false
                }
            }
            pb::CallEventKind::Abandoned => {
                if acd.abandon(&event.call_id) {
                    if let Some(w) = router.record_abandoned(&event.call_id, now) {
                        self.app.metrics.waited(&router.plan(), &w, false);
                    }
                    true
                } else {
                    match acd.withdraw_offer(&event.call_id, now) {
                        Ok(next) => {
                            if let Some(w) = router.record_abandoned(&event.call_id, now) {
                                self.app.metrics.waited(&router.plan(), &w, false);
                            }
                            for next in &next {
                                self.app.dispatch.send(router, next, now);
                            }
                            true
                        }
                        // Not in a queue nor with an agent: at a menu, the call ends
                        // there (anywhere else, the hang-up was already applied).
                        Err(AcdError::NotHolding) => {
                            hung_up = router.hang_up_at_menu(&event.call_id, now);
                            if let Some(h) = &hung_up {
                                self.app.metrics.hung_up_at_menu(&h.menu);
                                tracing::debug!(menu = %h.menu, "caller hung up at a menu");
                            }
                            hung_up.is_some()
                        }
                        Err(error) => return Err(call_err(error)),
                    }
                }
            }
        };
        if applied && kind == pb::CallEventKind::Abandoned {
            router.record(&event.call_id, |r| {
                r.ended = Some(now);
                r.outcome = Some(Outcome::Abandoned);
            });
        }
        // Survey answers count whenever they come (often after the call ended).
        let survey = event.satisfaction > 0 || event.recommend.is_some();
        if survey {
            let answers = match &mut hung_up {
                Some(h) => {
                    let answers = Survey::take(event, &mut h.call.record);
                    self.app.metrics.surveyed(
                        h.call.tier.clone(),
                        None,
                        answers.satisfaction,
                        answers.recommend,
                    );
                    answers
                }
                None => {
                    let mut answers = Survey::default();
                    router.record(&event.call_id, |r| answers = Survey::take(event, r));
                    if let Some((tier, queue)) = router.tier_and_queue(&event.call_id) {
                        self.app.metrics.surveyed(
                            tier,
                            queue,
                            answers.satisfaction,
                            answers.recommend,
                        );
                    }
                    answers
                }
            };
            // The agent who talked to the caller is judged by the answer.
            if let (Some(agent), Some(score)) = (answers.agent, answers.satisfaction) {
                self.app.scorecards.surveyed(&agent, score);
            }
        }
        if let Some(h) = hung_up {
            self.app.call_done(h.call);
        }
        if applied || survey {
            self.app.mark_call(&event.call_id);
            for agent in holder
                .iter()
                .map(|a| a.profile.id.as_str())
                .chain(Some(event.agent_id.as_str()).filter(|a| !a.is_empty()))
            {
                self.app.mark_agent(agent);
            }
        }
        if applied {
            // Whatever happened, the switch has answered for the call's assignment.
            self.app.dispatch.settle(&event.call_id);
            tracing::debug!(call_id = %event.call_id, kind = kind.as_str_name(), "call event");
        }
        Ok(pb::CallEventAck { applied })
    }
}

/// A call's survey answers that are new to it (a call's answers count once in the
/// metrics, however often they are sent), with the agent its satisfaction judges.
#[derive(Debug, Default)]
struct Survey {
    satisfaction: Option<u8>,
    recommend: Option<u8>,
    agent: Option<String>,
}

impl Survey {
    /// Puts the event's answers on the call's record.
    fn take(event: &pb::CallEvent, r: &mut CallRecord) -> Survey {
        let mut new = Survey::default();
        if event.satisfaction > 0 {
            let score = u8::try_from(event.satisfaction).ok();
            if r.satisfaction.is_none() {
                new.satisfaction = score;
                new.agent.clone_from(&r.agent);
            }
            r.satisfaction = score;
        }
        if let Some(n) = event.recommend {
            let score = u8::try_from(n).ok();
            if r.recommend.is_none() {
                new.recommend = score;
            }
            r.recommend = score;
        }
        new
    }
}

/// A duration as the config writes it: whole days, hours, minutes or seconds.
fn written(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
