//! Queues a supervisor closed: where their calls go instead, and the sweep that sends on
//! calls that reach a closed queue later.

use super::*;

impl Acd {
    /// Closes a queue (and the queues made from it for rules' extra skills): new calls
    /// go to its `when_closed` target, and so do its waiting calls, which are returned
    /// as moved (with any agent they met there) or out to voicemail. Closing a closed
    /// queue again only updates the reason.
    pub fn close(
        &self,
        queue: QueueId,
        reason: &str,
        now: Millis,
    ) -> Result<Vec<WaitExpired>, AcdError> {
        let q = self.queue(queue)?;
        if q.spec.load().retired {
            return Err(AcdError::UnknownQueue);
        }
        let reason = Arc::new(reason.to_owned());
        for (id, state) in self.slots() {
            if id == queue || state.spec.load().part_of == Some(queue) {
                state.closed.store(Some(Arc::clone(&reason)));
            }
        }
        Ok(self.drain_closed(now))
    }

    /// Opens a closed queue (and the queues made from it). False if it was open.
    pub fn open(&self, queue: QueueId) -> Result<bool, AcdError> {
        let q = self.queue(queue)?;
        let was = q.closed.swap(None).is_some();
        for (_, state) in self.slots() {
            if state.spec.load().part_of == Some(queue) {
                state.closed.store(None);
            }
        }
        Ok(was)
    }

    /// Why the queue is closed, while it is.
    pub fn closed(&self, queue: QueueId) -> Option<Arc<String>> {
        self.queue(queue).ok()?.closed.load_full()
    }

    /// Where a call for `queue` goes while it is closed: `None` when it is open,
    /// `Some(Some(to))` for an open queue its `when_closed` leads to (following closed
    /// queues a few steps), `Some(None)` for voicemail.
    pub fn closed_route(&self, queue: QueueId) -> Option<Option<QueueId>> {
        let mut at = queue;
        for _ in 0..8 {
            let q = self.queue(at).ok()?;
            if q.closed.load().is_none() {
                return (at != queue).then_some(Some(at));
            }
            match q.spec.load().when_closed {
                Some(to) if to != queue => at = self.destination(to),
                _ => return Some(None),
            }
        }
        Some(None)
    }

    /// Calls waiting in closed queues (sent there by an overflow, a transfer or a missed
    /// offer after the queue closed, or kept for an agent) go to the queues' `when_closed`
    /// targets with their arrival time, or out to voicemail. Run at close and by the
    /// once-a-second upkeep.
    pub fn drain_closed(&self, now: Millis) -> Vec<WaitExpired> {
        let mut outcomes = Vec::new();
        for (queue, q) in self.slots() {
            if q.closed.load().is_none() {
                continue;
            }
            let Some(route) = self.closed_route(queue) else {
                continue;
            };
            let mut calls: Vec<WaitingCall> = Lane::ALL
                .into_iter()
                .flat_map(|lane| q.list(lane).drain())
                .collect();
            for mut list in self.promised.iter_mut() {
                let (out, keep): (Vec<Promise>, Vec<Promise>) = std::mem::take(list.value_mut())
                    .into_iter()
                    .partition(|p| p.queue == queue);
                *list.value_mut() = keep;
                calls.extend(out.into_iter().map(|p| p.call));
            }
            for call in calls {
                self.waiting.remove(&call.call_id);
                self.promised_calls.remove(&call.call_id);
                outcomes.push(match route {
                    Some(to) => self.move_on(call, queue, to, now),
                    None => WaitExpired::Voicemail { call, queue },
                });
            }
        }
        outcomes
    }
}
