//! Callbacks for a time the customer chose ("call me at 3 pm"): held out of every queue
//! until due, then put in their queue as if they arrived then (at the call's priority,
//! aging from the due time), to be offered as a callback.

use super::*;

/// A callback waiting for its time.
#[derive(Clone, Debug)]
pub(super) struct Scheduled {
    pub(super) queue: QueueId,
    pub(super) call: WaitingCall,
}

impl Acd {
    /// Takes a call waiting in a queue (or kept for an agent, or already scheduled) out
    /// until `due`, when it joins its queue again as a callback. Returns its queue.
    pub fn schedule_callback(&self, call_id: &str, due: Millis) -> Result<QueueId, AcdError> {
        let (queue, call) = if let Some((_, (queue, key))) = self.waiting.remove(call_id) {
            let call = self
                .at(queue)
                .list(key.lane)
                .take(&key)
                .ok_or(AcdError::NotWaiting)?;
            (queue, call)
        } else if let Some((_, agent)) = self.promised_calls.remove(call_id) {
            let mut list = self.promised.get_mut(&agent).ok_or(AcdError::NotWaiting)?;
            let i = list
                .iter()
                .position(|p| &*p.call.call_id == call_id)
                .ok_or(AcdError::NotWaiting)?;
            let p = list.swap_remove(i);
            (p.queue, p.call)
        } else if let Some(s) = self.take_scheduled(call_id) {
            (s.queue, s.call)
        } else {
            return Err(AcdError::NotWaiting);
        };
        self.put_scheduled(queue, call, due);
        Ok(queue)
    }

    /// Schedules `call` (as it was offered, say) for `due` in `queue`.
    pub fn schedule(&self, queue: QueueId, call: WaitingCall, due: Millis) -> Result<(), AcdError> {
        self.queue(queue)?;
        if self.waiting.contains_key(&call.call_id)
            || self.promised_calls.contains_key(&call.call_id)
            || self.scheduled_ids.contains_key(&call.call_id)
        {
            return Err(AcdError::AlreadyWaiting);
        }
        self.put_scheduled(queue, call, due);
        Ok(())
    }

    fn put_scheduled(&self, queue: QueueId, mut call: WaitingCall, due: Millis) {
        call.callback = true;
        let seq = self.seq.fetch_add(1, SeqCst);
        let mut scheduled = lock(&self.scheduled);
        self.scheduled_ids
            .insert(Arc::clone(&call.call_id), (due, seq));
        scheduled.insert((due, seq), Scheduled { queue, call });
    }

    /// Takes a scheduled callback out (the customer cancelled, or it is moved).
    pub(super) fn take_scheduled(&self, call_id: &str) -> Option<Scheduled> {
        let mut scheduled = lock(&self.scheduled);
        let (_, key) = self.scheduled_ids.remove(call_id)?;
        scheduled.remove(&key)
    }

    /// When a scheduled callback is due, if the call is one.
    pub fn scheduled_for(&self, call_id: &str) -> Option<Millis> {
        self.scheduled_ids.get(call_id).map(|e| e.value().0)
    }

    /// Callbacks due by `now` join their queues as if they arrived when due; returns
    /// their call ids and the assignments they met at once. Run by the server's
    /// once-a-second upkeep.
    pub fn release_due_callbacks(&self, now: Millis) -> (Vec<Arc<str>>, Vec<Assignment>) {
        let due: Vec<((Millis, u64), Scheduled)> = {
            let mut scheduled = lock(&self.scheduled);
            let later = scheduled.split_off(&(Millis(now.0.saturating_add(1)), 0));
            let due = std::mem::replace(&mut *scheduled, later);
            for s in due.values() {
                self.scheduled_ids.remove(&s.call.call_id);
            }
            due.into_iter().collect()
        };
        let mut released = Vec::with_capacity(due.len());
        let mut made = Vec::new();
        for ((when, _), s) in due {
            let mut call = s.call;
            call.arrived = when;
            released.push(Arc::clone(&call.call_id));
            if let Ok(Placed::Assigned(a)) = self.enqueue(s.queue, call, now) {
                made.push(a);
            }
        }
        (released, made)
    }

    /// The scheduled callbacks, for the journal: queue, due time and call.
    pub(super) fn scheduled_entry(&self, call_id: &str) -> Option<(QueueId, Millis, WaitingCall)> {
        let scheduled = lock(&self.scheduled);
        let key = *self.scheduled_ids.get(call_id)?.value();
        scheduled
            .get(&key)
            .map(|s| (s.queue, key.0, s.call.clone()))
    }
}
