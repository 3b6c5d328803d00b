//! Assignments on their way to switches. Each switch has one live stream at a time and a
//! list of assignments not yet settled by a call event; a switch that reconnects gets
//! that list first, so an assignment made while it was away is not lost.
//!
//! On a store shared by several nodes an assignment goes out only once the journal holds
//! it ([`Dispatch::hold_until_written`]): a leader that dies or loses its lease right
//! after deciding can never have offered an agent a call its successor does not know of.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{Arc, Mutex, OnceLock},
    task::{Context, Poll},
};

use switchboard_core::{
    Millis, Router,
    acd::{Assignment, WaitingCall},
    plan::QueueId,
};
use switchboard_proto::v1 as pb;
use switchboard_store::writer::{Change, Writer};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::Stream;
use tonic::Status;

use crate::convert;

/// Assignments a slow switch may have in flight before new ones wait in `pending` only.
const STREAM_BUFFER: usize = 1_024;

type Sender = mpsc::Sender<Result<pb::Assignment, Status>>;

#[derive(Debug, Default)]
struct Switch {
    pending: Vec<pb::Assignment>,
    stream: Option<Watcher>,
}

/// The server's end of a switch's open stream.
#[derive(Debug)]
struct Watcher {
    tx: Sender,
    /// The identity that opened the stream.
    holder: Arc<str>,
    /// Ends the stream with a status, ahead of anything still buffered.
    end: oneshot::Sender<Status>,
}

impl Watcher {
    fn end(self, status: Status) {
        let _ = self.end.send(status);
    }
}

/// A switch's assignment stream: what the dispatcher sends, until it is ended with a
/// status (replaced by a newer stream, or the server shutting down).
#[derive(Debug)]
pub(crate) struct AssignmentStream {
    rx: mpsc::Receiver<Result<pb::Assignment, Status>>,
    end: Option<oneshot::Receiver<Status>>,
}

impl Stream for AssignmentStream {
    type Item = Result<pb::Assignment, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(end) = self.end.as_mut()
            && let Poll::Ready(ended) = Pin::new(end).poll(cx)
        {
            self.end = None;
            self.rx.close();
            // Dropped unsent: the dispatcher is gone with the server; the stream ends.
            return Poll::Ready(ended.ok().map(Err));
        }
        if self.end.is_none() {
            return Poll::Ready(None);
        }
        self.rx.poll_recv(cx)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Dispatch {
    // A short critical section (push, try_send) and never held across an await.
    switches: Mutex<HashMap<Arc<str>, Switch>>,
    /// Told of every call and agent an assignment or directive changed.
    journal: OnceLock<Arc<Writer>>,
    /// Messages waiting for the journal to hold what they say, in order, with the
    /// writer's mark after their changes (only when holding).
    held: Mutex<std::collections::VecDeque<(u64, Arc<str>, pb::Assignment)>>,
    holding: std::sync::atomic::AtomicBool,
}

impl Dispatch {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Switch>> {
        self.switches.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Journals the calls and agents that assignments change, from now on.
    pub(crate) fn journal_to(&self, writer: Option<Arc<Writer>>) {
        if let Some(w) = writer {
            let _ = self.journal.set(w);
        }
    }

    /// Sends an assignment to its switch (or keeps it until the switch connects).
    pub(crate) fn send(&self, router: &Router, a: &Assignment, now: Millis) {
        tracing::debug!(call_id = %a.call.call_id, agent_id = %a.agent.profile.id, "assignment");
        if let Some(w) = self.journal.get() {
            w.send(Change::Call(Arc::clone(&a.call.call_id)));
            w.send(Change::Agent(Arc::from(a.agent.profile.id.as_str())));
        }
        self.send_message(&a.call.switch_id, convert::assignment(router, a, now));
    }

    /// Sends a directive about a waiting call that needs no agent (offer a callback,
    /// send to voicemail).
    pub(crate) fn send_directive(
        &self,
        router: &Router,
        call: &WaitingCall,
        queue: QueueId,
        kind: pb::AssignmentKind,
        now: Millis,
    ) {
        tracing::debug!(call_id = %call.call_id, kind = kind.as_str_name(), "directive");
        if let Some(w) = self.journal.get() {
            w.send(Change::Call(Arc::clone(&call.call_id)));
        }
        self.send_message(
            &call.switch_id,
            convert::directive(router, call, queue, kind, now),
        );
    }

    /// From now on a message goes out once the writer has written the changes made
    /// before it (a store shared by several nodes).
    pub(crate) fn hold_until_written(self: &Arc<Self>) {
        let Some(writer) = self.journal.get() else {
            return;
        };
        self.holding
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let me = Arc::downgrade(self);
        writer.on_written(Box::new(move |written| {
            if let Some(d) = me.upgrade() {
                d.release(written);
            }
        }));
    }

    /// Sends the held messages whose changes are written.
    fn release(&self, written: u64) {
        let ready: Vec<_> = {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            let n = held
                .iter()
                .take_while(|(mark, ..)| *mark <= written)
                .count();
            held.drain(..n).collect()
        };
        for (_, switch_id, message) in ready {
            self.deliver(&switch_id, message);
        }
    }

    /// Sends any message for the stream (an assignment, or a directive with no agent such
    /// as a callback offer or voicemail) and keeps it until the switch reports on the call.
    fn send_message(&self, switch_id: &Arc<str>, message: pb::Assignment) {
        if self.holding.load(std::sync::atomic::Ordering::Relaxed)
            && let Some(writer) = self.journal.get()
        {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            // Taken under the lock, so the queue's marks rise in its order.
            held.push_back((writer.mark(), Arc::clone(switch_id), message));
            return;
        }
        self.deliver(switch_id, message);
    }

    fn deliver(&self, switch_id: &Arc<str>, message: pb::Assignment) {
        let mut switches = self.lock();
        let switch = switches.entry(Arc::clone(switch_id)).or_default();
        switch.pending.push(message.clone());
        if let Some(stream) = &switch.stream
            && stream.tx.try_send(Ok(message)).is_err()
        {
            // Closed or full: the message stays pending and goes out on reconnect.
            tracing::warn!(%switch_id, "assignment stream not accepting; kept pending");
            if stream.tx.is_closed() {
                switch.stream = None;
            }
        }
    }

    /// A new stream for a switch, starting with what is pending for it. A stream the
    /// same identity still had open ends with ABORTED, so a switch that opened two by
    /// mistake sees which one is dead rather than wait on it in silence. A stream another
    /// identity holds open is not replaced: the error names its holder.
    pub(crate) fn watch(
        &self,
        switch_id: &str,
        holder: &Arc<str>,
    ) -> Result<AssignmentStream, String> {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let (end, ended) = oneshot::channel();
        let mut switches = self.lock();
        let switch = switches.entry(Arc::from(switch_id)).or_default();
        if let Some(open) = &switch.stream
            && !open.tx.is_closed()
            && open.holder != *holder
        {
            return Err(open.holder.to_string());
        }
        for a in &switch.pending {
            if tx.try_send(Ok(a.clone())).is_err() {
                break;
            }
        }
        let holder = Arc::clone(holder);
        if let Some(old) = switch.stream.replace(Watcher { tx, holder, end })
            && !old.tx.is_closed()
        {
            tracing::info!(%switch_id, "assignment stream replaced by a newer one");
            old.end(Status::aborted(format!(
                "replaced by a newer stream for switch {}",
                crate::error::shown(switch_id)
            )));
        }
        Ok(AssignmentStream {
            rx,
            end: Some(ended),
        })
    }

    /// Ends every open stream with `status` (the server is shutting down); what is
    /// pending stays for the switches' next streams.
    pub(crate) fn end_all(&self, status: &Status) -> usize {
        let mut ended = 0;
        for switch in self.lock().values_mut() {
            if let Some(w) = switch.stream.take() {
                ended += usize::from(!w.tx.is_closed());
                w.end(status.clone());
            }
        }
        ended
    }

    /// The switch reported on the call: its assignment is no longer pending.
    pub(crate) fn settle(&self, call_id: &str) {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(_, _, a)| a.call_id != call_id);
        for switch in self.lock().values_mut() {
            switch.pending.retain(|a| a.call_id != call_id);
        }
    }
}
