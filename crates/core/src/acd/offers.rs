//! Calls offered to agents: connected, ended (wrap-up), not answered, not confirmed in
//! time, or withdrawn when the caller hangs up first.

use super::*;

impl Acd {
    /// Removes a waiting call (the caller hung up). False if it was not waiting.
    /// The agent holding a call (offered or connected), if any.
    pub fn holder_of(&self, call_id: &str) -> Option<Arc<Agent>> {
        self.held.get(call_id).map(|a| Arc::clone(&a))
    }

    /// Whether a call (or chat, email or social item) is connected with its agent: on the
    /// call, or the item answered (in wrap-up, it is no longer held at all).
    pub fn is_connected(&self, call_id: &str) -> bool {
        self.holder_of(call_id)
            .is_some_and(|a| match self.item_of(&a, call_id) {
                Some(item) => item.stage == Stage::Connected,
                None => a.state() == AgentState::OnCall && a.call().as_deref() == Some(call_id),
            })
    }

    /// The caller hung up after their call was offered to an agent but before it was
    /// connected: the agent is free again and looks for the next call. A call already
    /// connected is ended, not abandoned.
    pub fn withdraw_offer(&self, call_id: &str, now: Millis) -> Result<Vec<Assignment>, AcdError> {
        let agent = self.holder_of(call_id).ok_or(AcdError::NotHolding)?;
        if let Some(item) = self.item_of(&agent, call_id) {
            if item.stage != Stage::Offered {
                return Err(AcdError::CallConnected);
            }
            let mut items = lock(&agent.items);
            let Some(i) = items.iter().position(|i| &*i.call.call_id == call_id) else {
                return Err(AcdError::NotHolding);
            };
            items.remove(i);
            drop(items);
            self.held.remove(call_id);
            agent.release_unit(item.lane());
            let lanes = agent.rules.load().freed_by(item.lane());
            return Ok(self.freed_in(&agent, lanes, now));
        }
        if agent.state() == AgentState::OnCall {
            return Err(AcdError::CallConnected);
        }
        // Let go under the same lock as the state step: once available, the agent may
        // be given another call at any time.
        let mut holding = lock(&agent.holding);
        if holding.as_ref().map(|(c, _)| &*c.call_id) != Some(call_id) {
            return Err(AcdError::NotHolding);
        }
        self.step(&agent, AgentState::Reserved, AgentState::Available, now)?;
        holding.take();
        drop(holding);
        self.held.remove(call_id);
        Ok(self.freed(&agent, now))
    }

    /// The switch connected the agent to the call they were offered.
    pub fn connected(&self, agent_id: &str, call_id: &str, now: Millis) -> Result<(), AcdError> {
        let agent = self.holder(agent_id, call_id)?;
        if agent.holds_item(call_id) {
            return self.item_connected(&agent, call_id, now);
        }
        self.step(&agent, AgentState::Reserved, AgentState::OnCall, now)?;
        agent.missed.store(0, SeqCst);
        Ok(())
    }

    /// The call ended; the agent wraps up for the call's queue's wrap-up time. Returns the
    /// call's handle time: talk plus that wrap-up time.
    pub fn ended(
        &self,
        agent_id: &str,
        call_id: &str,
        now: Millis,
    ) -> Result<std::time::Duration, AcdError> {
        let agent = self.holder(agent_id, call_id)?;
        if agent.holds_item(call_id) {
            return self.item_ended(&agent, call_id, now);
        }
        // The call is let go under the same lock as the state step: once in wrap-up the
        // agent may be made available and given another call by the upkeep at any time.
        let mut holding = lock(&agent.holding);
        let queue = holding.as_ref().map(|(_, q)| *q);
        let wrap_up = queue.map_or(std::time::Duration::ZERO, |q| {
            self.at(q).spec.load().wrap_up
        });
        let until = Millis(
            now.0
                .saturating_add(u64::try_from(wrap_up.as_millis()).unwrap_or(u64::MAX)),
        );
        agent.wrap_up_until.store(until.0, SeqCst);
        let talk = now.since(agent.since());
        self.step(&agent, AgentState::OnCall, AgentState::WrapUp, now)?;
        holding.take();
        drop(holding);
        if let Some(q) = queue {
            self.at(q).handled(Lane::Voice, talk + wrap_up);
        }
        self.held.remove(call_id);
        Ok(talk + wrap_up)
    }

    /// Agents whose wrap-up time is over become available and take the best waiting
    /// call, and items whose wrap-up is over give their unit back; returns the
    /// assignments made.
    pub fn end_wrap_ups(&self, now: Millis) -> Vec<Assignment> {
        let mut made = self.end_voice_wrap_ups(now);
        made.extend(self.end_item_wrap_ups(now));
        made
    }

    fn end_voice_wrap_ups(&self, now: Millis) -> Vec<Assignment> {
        let due: Vec<Arc<Agent>> = self
            .agents
            .iter()
            .filter(|a| a.state() == AgentState::WrapUp && a.wrap_up_until.load(SeqCst) <= now.0)
            .map(|a| Arc::clone(a.value()))
            .collect();
        due.iter()
            // An agent who said ready, stepped away or logged out meanwhile is skipped.
            .filter(|a| a.transition(AgentState::WrapUp, AgentState::Available, now))
            .flat_map(|a| self.freed(a, now))
            .collect()
    }

    /// The agent did not answer: the call goes back to the head of its queue with its
    /// arrival time; the agent goes not ready after `limit` misses in a row. Returns the
    /// assignments this made (the call meeting another agent, the agent another call).
    pub fn no_answer(
        &self,
        agent_id: &str,
        call_id: &str,
        limit: u32,
        now: Millis,
    ) -> Result<Vec<Assignment>, AcdError> {
        let agent = self.holder(agent_id, call_id)?;
        // After `limit` misses in a row the agent is surely away: not ready. Before that
        // they stay available (the missed call goes to someone else first).
        let missed = agent.missed.fetch_add(1, SeqCst) + 1;
        if agent.holds_item(call_id) {
            let away = (missed >= limit.max(1)).then_some("no_answer");
            return self.return_item(&agent, call_id, away, now);
        }
        let then = if missed >= limit.max(1) {
            AgentState::NotReady
        } else {
            AgentState::Available
        };
        self.return_offer(&agent, call_id, then, "no_answer", now)
    }

    /// Offers the switch confirmed neither way within `timeout`: each call goes back to
    /// the head of its queue and the agent to `then` (not ready, reason `offer_timeout`,
    /// or available). Returns the expired call ids, each with the agent it was offered to
    /// and the assignments made. This is what keeps agents from being stuck reserved.
    pub fn expire_offers(
        &self,
        now: Millis,
        timeout: std::time::Duration,
        then: AgentState,
    ) -> Vec<(Arc<str>, Arc<Agent>, Vec<Assignment>)> {
        let cutoff = now.saturating_sub(timeout);
        let expired: Vec<(Arc<str>, Arc<Agent>)> = self
            .held
            .iter()
            .filter(|e| {
                let a = e.value();
                a.state() == AgentState::Reserved
                    && a.since() <= cutoff
                    && a.call().as_deref() == Some(&**e.key())
            })
            .map(|e| (Arc::clone(e.key()), Arc::clone(e.value())))
            .collect();
        let mut out: Vec<(Arc<str>, Arc<Agent>, Vec<Assignment>)> = expired
            .into_iter()
            // A CONNECTED that raced the sweep wins the state change; skip those.
            .filter_map(|(call, agent)| {
                let next = self
                    .return_offer(&agent, &call, then, "offer_timeout", now)
                    .ok()?;
                Some((call, agent, next))
            })
            .collect();
        let away = (then == AgentState::NotReady).then_some("offer_timeout");
        for (call, agent) in self.stale_item_offers(cutoff) {
            if let Ok(next) = self.return_item(&agent, &call, away, now) {
                out.push((call, agent, next));
            }
        }
        out
    }

    /// Takes an offered call back from a reserved agent and puts it at the head of its
    /// queue; the agent goes to `then` (with `reason` if not ready).
    pub(super) fn return_offer(
        &self,
        agent: &Arc<Agent>,
        call_id: &str,
        then: AgentState,
        reason: &str,
        now: Millis,
    ) -> Result<Vec<Assignment>, AcdError> {
        // Hold the agent reserved while the call goes back, so that, made available, they
        // are not offered the very call they failed to take before others see it.
        let Some((call, queue)) = lock(&agent.holding).take() else {
            return Err(AcdError::NotHolding);
        };
        if agent.state() != AgentState::Reserved {
            *lock(&agent.holding) = Some((call, queue));
            return Err(AcdError::IllegalTransition {
                from: agent.state().as_str(),
                to: then.as_str(),
            });
        }
        self.held.remove(call_id);
        let q = &self.at(queue);
        let retired_to = self.moves_to(queue, &q.spec.load());
        let mut made: Vec<Assignment> = Vec::new();
        if let Some(fallback) = retired_to {
            // Its queue was removed meanwhile: it goes where that queue's calls went.
            if let Ok(Placed::Assigned(a)) = self.enqueue(fallback, call, now) {
                made.push(a);
            }
        } else {
            self.put_back(queue, call);
            // Two assignments can come of this: the call meeting another agent, and the
            // agent (made available) taking another waiting call. Both must go out.
            made.extend(self.offer_queue(queue, now));
        }
        if then == AgentState::NotReady {
            *lock(&agent.reason) = Some(reason.into());
        }
        if self.step(agent, AgentState::Reserved, then, now).is_ok()
            && then == AgentState::Available
        {
            made.extend(self.freed(agent, now));
        }
        Ok(made)
    }
}
