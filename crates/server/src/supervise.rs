//! What supervisors do through `switchboard.v1.Admin`: watch the floor live, list a
//! queue's waiting calls, move a call or change its priority, put an agent not ready or
//! log them out, close and reopen a queue. Every change is journaled (it survives a
//! restart) and audited (who, when, what).

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use switchboard_core::{
    acd::{Located, Placed},
    plan::QueueId,
    router::MAX_CALL_ID,
};
use switchboard_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tonic::Status;

use crate::{App, convert, error::ApiError, floor, floor::feed::Ended, security::Caller};

/// How long a floor watcher may leave changes untaken before it is cut off.
const SLOW_WATCHER: Duration = Duration::from_secs(30);

/// Longest `last_event_id` taken (ids are two hexadecimal and decimal numbers).
const MAX_EVENT_ID: usize = 64;

/// A floor watch as a gRPC stream: the events, then the status it ended with.
pub(crate) struct FloorStream {
    rx: mpsc::Receiver<pb::FloorEvent>,
    /// Why the stream ends, set before the sender goes.
    end: Arc<std::sync::Mutex<Option<Status>>>,
    done: bool,
}

impl Stream for FloorStream {
    type Item = Result<pb::FloorEvent, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(e)) => Poll::Ready(Some(Ok(e))),
            Poll::Ready(None) => {
                self.done = true;
                let end = self.end.lock().unwrap_or_else(|e| e.into_inner()).take();
                Poll::Ready(end.map(Err))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// `Admin.WatchFloor`.
pub(crate) fn watch_floor(app: &App, req: pb::WatchFloorRequest) -> Result<FloorStream, ApiError> {
    watch_floor_within(app, req, SLOW_WATCHER)
}

/// `Admin.WatchFloor`, cutting off a watcher that leaves changes untaken for `slow`.
fn watch_floor_within(
    app: &App,
    req: pb::WatchFloorRequest,
    slow: Duration,
) -> Result<FloorStream, ApiError> {
    if req.last_event_id.len() > MAX_EVENT_ID || req.last_event_id.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "last_event_id",
            "at most 64 characters without control characters: an id from a FloorEvent",
        ));
    }
    if app.is_stopping() {
        return Err(ApiError::Unavailable(crate::SHUTDOWN_STATUS.to_owned()));
    }
    let mut watch = app.floor.watch(app, &req.last_event_id);
    let (tx, rx) = mpsc::channel(256);
    let end = Arc::new(std::sync::Mutex::new(None));
    let ending = Arc::clone(&end);
    tokio::spawn(async move {
        let set_end = |status: Status| {
            *ending.lock().unwrap_or_else(|e| e.into_inner()) = Some(status);
        };
        loop {
            let events = tokio::select! {
                events = watch.next() => events,
                () = tx.closed() => return,
            };
            match events {
                Ok(events) => {
                    for e in events {
                        match tokio::time::timeout(slow, tx.send(e.event.clone())).await {
                            Ok(Ok(())) => {}
                            Ok(Err(_)) => return,
                            Err(_) => {
                                set_end(Status::resource_exhausted(
                                    "floor changes not taken for 30 s: watch again with the last event id to resume",
                                ));
                                return;
                            }
                        }
                    }
                    if req.snapshot_only {
                        return;
                    }
                }
                Err(Ended::ShuttingDown) => {
                    set_end(Status::unavailable(crate::SHUTDOWN_STATUS));
                    return;
                }
            }
        }
    });
    Ok(FloorStream {
        rx,
        end,
        done: false,
    })
}

/// Most waiting calls one ListWaitingCalls lists (about 1 MB of answer).
const MAX_LISTED: usize = 10_000;

/// Most characters of a closed queue's reason.
const MAX_CLOSE_REASON: usize = 200;
/// Most characters of a not-ready reason (as the desk's own).
const MAX_REASON: usize = 64;

/// A configured queue by name, or NOT_FOUND.
fn queue_named(app: &App, name: &str) -> Result<QueueId, ApiError> {
    convert::check_name("queue", name, 64)?;
    app.router
        .plan()
        .queue_by_name(name)
        .ok_or_else(|| ApiError::NotFound {
            what: "queue",
            key: name.to_owned(),
        })
}

fn check_reason(field: &str, reason: &str, max: usize) -> Result<(), ApiError> {
    if reason.chars().count() > max || reason.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            format!("at most {max} characters without control characters"),
        ));
    }
    Ok(())
}

/// `Admin.ListWaitingCalls`.
pub(crate) fn list_waiting_calls(
    app: &App,
    req: &pb::ListWaitingCallsRequest,
) -> Result<pb::ListWaitingCallsResponse, ApiError> {
    let id = queue_named(app, &req.queue)?;
    let limit = match req.limit {
        0 => MAX_LISTED,
        n => (n as usize).min(MAX_LISTED),
    };
    let (calls, total) = floor::calls_of(app, id, limit);
    Ok(pb::ListWaitingCallsResponse {
        calls,
        total: u32::try_from(total).unwrap_or(u32::MAX),
    })
}

/// `Admin.MoveCall`.
pub(crate) fn move_call(
    app: &App,
    caller: &Caller,
    req: &pb::MoveCallRequest,
) -> Result<pb::MoveCallResponse, ApiError> {
    convert::check_id("call_id", &req.call_id, MAX_CALL_ID)?;
    if req.queue.is_empty() && req.priority.is_none() {
        return Err(ApiError::invalid(
            "queue",
            "give a queue to move the call to, a new priority, or both",
        ));
    }
    let to = if req.queue.is_empty() {
        None
    } else {
        Some(queue_named(app, &req.queue)?)
    };
    let router = &app.router;
    if !router.knows_call(&req.call_id) {
        return Err(ApiError::UnknownCall {
            call_id: req.call_id.clone(),
        });
    }
    let acd = router.acd();
    let now = app.clock.now();
    let before = match acd.locate(&req.call_id) {
        Some(Located::Waiting { call, .. } | Located::Promised { call, .. }) => Some(call.priority),
        _ => None,
    };
    let (from, placed) = acd
        .move_waiting(&req.call_id, to, req.priority, now)
        .map_err(|error| ApiError::Call {
            call_id: req.call_id.clone(),
            error,
        })?;
    let plan = router.plan();
    let to = to.unwrap_or(from);
    if to != from {
        router.record_moved(&req.call_id, to, now);
    }
    let mut call = None;
    if let Placed::Assigned(a) = &placed {
        app.dispatch.send(router, a, now);
        if *a.call.call_id == *req.call_id {
            call = Some(pb::FloorCall {
                call_id: a.call.call_id.to_string(),
                queue: plan.queue(a.queue).name.clone(),
                tier: plan.tier(a.call.tier).name.clone(),
                arrived: Some(convert::timestamp(a.call.arrived)),
                priority: a.call.priority,
                position: 0,
                callback: a.call.callback,
                kept_for_agent: String::new(),
                channel: a.call.channel.as_str().to_owned(),
            });
        }
    }
    let call = call.or_else(|| {
        floor::calls_of(app, to, usize::MAX)
            .0
            .into_iter()
            .find(|c| c.call_id == req.call_id)
    });
    app.mark_call(&req.call_id);
    let mut detail = Vec::new();
    if to != from {
        detail.push(format!(
            "queue {} -> {}",
            plan.queue(from).name,
            plan.queue(to).name
        ));
    }
    if let Some(p) = req.priority {
        detail.push(match before {
            Some(b) => format!("priority {b} -> {p}"),
            None => format!("priority -> {p}"),
        });
    }
    app.audit(
        caller,
        "switchboard.v1.Admin/MoveCall",
        &req.call_id,
        detail.join(", "),
    );
    tracing::info!(call_id = %req.call_id, from = %plan.queue(from).name, to = %plan.queue(to).name, "supervisor moved a waiting call");
    Ok(pb::MoveCallResponse {
        from_queue: plan.queue(from).name.clone(),
        call,
    })
}

/// `Admin.SuperviseAgent`.
pub(crate) fn supervise_agent(
    app: &App,
    caller: &Caller,
    req: &pb::SuperviseAgentRequest,
) -> Result<pb::Agent, ApiError> {
    convert::check_id("agent_id", &req.agent_id, 64)?;
    check_reason("reason", &req.reason, MAX_REASON)?;
    let acd = app.router.acd();
    let agent = acd.agent(&req.agent_id).ok_or_else(|| ApiError::NotFound {
        what: "agent",
        key: req.agent_id.clone(),
    })?;
    let before = agent.state();
    let now = app.clock.now();
    let agent_err = |error| ApiError::Agent {
        agent_id: req.agent_id.clone(),
        error,
    };
    let detail = match pb::AgentState::try_from(req.state) {
        Ok(pb::AgentState::NotReady) => {
            let reason = if req.reason.is_empty() {
                "supervisor"
            } else {
                req.reason.as_str()
            };
            acd.not_ready(&req.agent_id, reason, now)
                .map_err(agent_err)?;
            format!("{} -> not_ready ({reason})", before.as_str())
        }
        Ok(pb::AgentState::LoggedOut) => {
            acd.log_out(&req.agent_id, now).map_err(agent_err)?;
            format!("{} -> logged_out", before.as_str())
        }
        _ => {
            return Err(ApiError::invalid(
                "state",
                format!(
                    "NOT_READY or LOGGED_OUT (got {})",
                    pb::AgentState::try_from(req.state)
                        .map_or_else(|_| req.state.to_string(), |s| s.as_str_name().to_owned())
                ),
            ));
        }
    };
    app.mark_agent(&req.agent_id);
    app.audit(
        caller,
        "switchboard.v1.Admin/SuperviseAgent",
        &req.agent_id,
        detail,
    );
    tracing::info!(agent_id = %req.agent_id, state = %agent.state().as_str(), "supervisor changed an agent's state");
    Ok(convert::agent_to(&agent, app.figures(&agent.profile.id)))
}

/// `Admin.CloseQueue`.
pub(crate) fn close_queue(
    app: &App,
    caller: &Caller,
    req: &pb::CloseQueueRequest,
) -> Result<pb::QueueFloor, ApiError> {
    let id = queue_named(app, &req.queue)?;
    check_reason("reason", &req.reason, MAX_CLOSE_REASON)?;
    let now = app.clock.now();
    let outcomes =
        app.router
            .acd()
            .close(id, &req.reason, now)
            .map_err(|_| ApiError::NotFound {
                what: "queue",
                key: req.queue.clone(),
            })?;
    let sent_on = outcomes.len();
    crate::send_on(app, outcomes, now, true);
    app.persist_queue(&req.queue, Some(&req.reason));
    let target = match app.router.plan().queue(id).when_closed {
        Some(to) => format!("queue {}", app.router.plan().queue(to).name),
        None => "voicemail".to_owned(),
    };
    app.audit(
        caller,
        "switchboard.v1.Admin/CloseQueue",
        &req.queue,
        format!(
            "closed ({}); calls go to {target}; {sent_on} waiting sent on",
            if req.reason.is_empty() {
                "no reason given"
            } else {
                &req.reason
            }
        ),
    );
    tracing::info!(queue = %req.queue, reason = %req.reason, waiting_sent_on = sent_on, "supervisor closed a queue");
    Ok(floor::queue_now(app, id))
}

/// `Admin.OpenQueue`.
pub(crate) fn open_queue(
    app: &App,
    caller: &Caller,
    req: &pb::OpenQueueRequest,
) -> Result<pb::QueueFloor, ApiError> {
    let id = queue_named(app, &req.queue)?;
    let was = app.router.acd().open(id).map_err(|_| ApiError::NotFound {
        what: "queue",
        key: req.queue.clone(),
    })?;
    if was {
        app.persist_queue(&req.queue, None);
        app.audit(
            caller,
            "switchboard.v1.Admin/OpenQueue",
            &req.queue,
            "opened".to_owned(),
        );
        tracing::info!(queue = %req.queue, "supervisor opened a queue");
    }
    Ok(floor::queue_now(app, id))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use switchboard_core::{Millis, acd::AgentProfile};
    use tokio_stream::StreamExt;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_watcher_that_stops_taking_changes_is_cut_off_with_resource_exhausted() {
        let config = switchboard_config::load_default().unwrap();
        let (app, _) = App::new(
            config,
            &crate::CustomerSource::None,
            Arc::new(crate::SystemClock),
        )
        .unwrap();
        let mut stream = watch_floor_within(
            &app,
            pb::WatchFloorRequest::default(),
            Duration::from_millis(200),
        )
        .unwrap();
        // The snapshot, taken; then 400 agents log in, 400 changes at the next comparison,
        // more than the stream holds, and nobody takes them.
        let first = stream.next().await.unwrap().unwrap();
        assert!(matches!(
            first.change,
            Some(pb::floor_event::Change::Snapshot(_))
        ));
        for n in 0..400 {
            app.router
                .acd()
                .log_in(
                    AgentProfile {
                        id: format!("a{n}"),
                        endpoint: format!("sip:a{n}@pbx"),
                        skills: vec![("general".into(), 5)],
                        tags: vec![],
                        capacity: Default::default(),
                    },
                    Millis::now(),
                )
                .unwrap();
        }
        tokio::time::sleep(Duration::from_secs(4)).await;
        let mut taken = 0;
        let end = loop {
            match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
                Ok(Some(Ok(_))) => taken += 1,
                Ok(Some(Err(status))) => break status,
                other => {
                    panic!("expected the stream to end with a status, got {other:?} after {taken}")
                }
            }
        };
        assert_eq!(end.code(), tonic::Code::ResourceExhausted, "{end:?}");
        assert!(end.message().contains("last event id"), "{end:?}");
        assert!(
            (256..400).contains(&taken),
            "the buffered changes came first: {taken}"
        );
        assert!(stream.next().await.is_none(), "nothing after the status");
    }
}
