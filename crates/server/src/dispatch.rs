//! Assignments on their way to switches. Each switch has one live stream at a time and a
//! list of assignments not yet settled by a call event; a switch that reconnects gets
//! that list first, so an assignment made while it was away is not lost.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
};

use switchboard_core::{
    Millis, Router,
    acd::{Assignment, WaitingCall},
    plan::QueueId,
};
use switchboard_proto::v1 as pb;
use switchboard_store::writer::{Change, Writer};
use tokio::sync::mpsc;
use tonic::Status;

use crate::convert;

/// Assignments a slow switch may have in flight before new ones wait in `pending` only.
const STREAM_BUFFER: usize = 1_024;

type Sender = mpsc::Sender<Result<pb::Assignment, Status>>;

#[derive(Debug, Default)]
struct Switch {
    pending: Vec<pb::Assignment>,
    stream: Option<Sender>,
}

#[derive(Debug, Default)]
pub(crate) struct Dispatch {
    // A short critical section (push, try_send) and never held across an await.
    switches: Mutex<HashMap<Arc<str>, Switch>>,
    /// Told of every call and agent an assignment or directive changed.
    journal: OnceLock<Arc<Writer>>,
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

    /// Sends any message for the stream (an assignment, or a directive with no agent such
    /// as a callback offer or voicemail) and keeps it until the switch reports on the call.
    fn send_message(&self, switch_id: &Arc<str>, message: pb::Assignment) {
        let mut switches = self.lock();
        let switch = switches.entry(Arc::clone(switch_id)).or_default();
        switch.pending.push(message.clone());
        if let Some(stream) = &switch.stream
            && stream.try_send(Ok(message)).is_err()
        {
            // Closed or full: the message stays pending and goes out on reconnect.
            tracing::warn!(%switch_id, "assignment stream not accepting; kept pending");
            if stream.is_closed() {
                switch.stream = None;
            }
        }
    }

    /// A new stream for a switch, starting with what is pending for it.
    pub(crate) fn watch(&self, switch_id: &str) -> mpsc::Receiver<Result<pb::Assignment, Status>> {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let mut switches = self.lock();
        let switch = switches.entry(Arc::from(switch_id)).or_default();
        for a in &switch.pending {
            if tx.try_send(Ok(a.clone())).is_err() {
                break;
            }
        }
        switch.stream = Some(tx);
        rx
    }

    /// The switch reported on the call: its assignment is no longer pending.
    pub(crate) fn settle(&self, call_id: &str) {
        for switch in self.lock().values_mut() {
            switch.pending.retain(|a| a.call_id != call_id);
        }
    }
}
