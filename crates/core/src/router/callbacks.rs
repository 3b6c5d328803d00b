//! Callbacks the customer scheduled for a time of their choosing, and callbacks they did
//! not answer: tried again after a while, up to a number of attempts, then given up on
//! with outcome `callback_unanswered`.

use std::time::Duration;

use super::{Router, journal::Outcome};
use crate::{
    acd::{AcdError, Assignment, Located},
    clock::Millis,
};

/// Why a callback could not be scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the call is not known (it ended, or was never routed)")]
    UnknownCall,
    #[error("the call is not waiting in a queue (at a menu, or with an agent)")]
    NotWaiting,
}

/// What became of a callback the customer did not answer.
#[derive(Debug, Default)]
pub struct Unanswered {
    /// The freed agent's next work.
    pub assignments: Vec<Assignment>,
    /// When it is tried again; `None` when that was the last attempt.
    pub next: Option<Millis>,
}

impl Router {
    /// The customer chose to be called back at `due`: the call leaves its queue until
    /// then, and its wait counts from `due`.
    pub fn schedule_callback(&self, call_id: &str, due: Millis) -> Result<(), ScheduleError> {
        let mut state = self
            .calls
            .get_mut(call_id)
            .ok_or(ScheduleError::UnknownCall)?;
        let queue = self
            .acd
            .schedule_callback(call_id, due)
            .map_err(|_| ScheduleError::NotWaiting)?;
        state.queued = Some((queue, due));
        state.record.get_or_insert_with(Box::default).callback_due = Some(due);
        Ok(())
    }

    /// The agent called the customer back and nobody answered. The agent is freed (the
    /// offer withdrawn, or the call ended as any call ends); the callback is scheduled
    /// again `retry_after` from now until the customer has missed `attempts` of them,
    /// then the call ends with outcome `callback_unanswered`.
    pub fn callback_unanswered(
        &self,
        call_id: &str,
        agent_id: &str,
        attempts: u8,
        retry_after: Duration,
        now: Millis,
    ) -> Result<Unanswered, AcdError> {
        let Some(Located::Held {
            agent,
            queue,
            call,
            connected,
            ..
        }) = self.acd.locate(call_id)
        else {
            return Err(AcdError::NotHolding);
        };
        if agent.profile.id != agent_id || !call.callback {
            return Err(AcdError::NotHolding);
        }
        let mut out = Unanswered::default();
        if connected {
            self.acd.ended(agent_id, call_id, now)?;
        } else {
            out.assignments = self.acd.withdraw_offer(call_id, now)?;
        }
        let Some(mut state) = self.calls.get_mut(call_id) else {
            return Ok(out);
        };
        let record = state.record.get_or_insert_with(Box::default);
        record.callbacks_unanswered = record.callbacks_unanswered.saturating_add(1);
        if record.callbacks_unanswered < attempts.max(1) {
            let due = Millis(
                now.0
                    .saturating_add(u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX)),
            );
            record.callback_due = Some(due);
            state.queued = Some((queue, due));
            drop(state);
            self.acd.schedule(queue, call, due)?;
            out.next = Some(due);
        } else {
            record.outcome = Some(Outcome::CallbackUnanswered);
            record.ended = Some(now);
            record.agent = Some(agent_id.to_owned());
        }
        Ok(out)
    }
}
