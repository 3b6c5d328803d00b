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

use switchboard_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tonic::Status;

use crate::{App, error::ApiError, floor::feed::Ended};

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
                        match tokio::time::timeout(SLOW_WATCHER, tx.send((*e).clone())).await {
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
