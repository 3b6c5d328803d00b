//! Matching calls and agents: publish, then look. A new call looks for the best idle
//! agent; an agent who becomes free takes the best call across their queues; overflow
//! steps widen who may take a call as it waits.

use super::*;

impl Acd {
    /// A call is waiting in `queue`: find it an agent.
    pub(super) fn offer_queue(&self, queue: QueueId, now: Millis) -> Option<Assignment> {
        let wants = self.head_preference(queue);
        self.offer_queue_for(queue, wants, now)
    }

    /// The preference of the call at the head of a queue: the one that waits for an
    /// agent now.
    pub(super) fn head_preference(&self, queue: QueueId) -> Preference {
        self.at(queue)
            .voice()
            .head()
            .map_or(Preference::None, |c| c.preference)
    }

    /// [`Acd::offer_queue`] with the head call's preference already read.
    pub(super) fn offer_queue_for(
        &self,
        queue: QueueId,
        mut wants: Preference,
        now: Millis,
    ) -> Option<Assignment> {
        let q = &self.at(queue);
        let mut first = true;
        loop {
            // Pick the agent for the call at the head of this queue.
            if !first {
                wants = self.head_preference(queue);
            }
            first = false;
            let agent = self.claim_idle(q, wants, now)?;
            // An idle agent had nothing waiting in their other queues when they went
            // idle, and a call arriving there since looks for an agent itself: so only
            // this queue (and any queue they overflow into, whose calls age into reach
            // without arriving) need a look, not all of theirs.
            match self.pop_best_of(&agent, Some(queue), now) {
                Some(a) => return Some(a),
                None => {
                    // Someone else took the call; give the agent back, and let it look
                    // for work like any newly available agent.
                    agent.give_back(now);
                    if let Some(a) = self.offer_agent(&agent, now) {
                        return Some(a);
                    }
                    if q.voice().is_empty() {
                        return None;
                    }
                }
            }
        }
    }

    /// The best call in an overflow queue that has waited at least `after`.
    pub(super) fn overflow_call(
        &self,
        queue: QueueId,
        after: std::time::Duration,
        now: Millis,
    ) -> Option<WaitKey> {
        let cutoff = now.saturating_sub(after);
        let mut found = None;
        self.at(queue).voice().visit(|c, _| {
            if c.arrived <= cutoff {
                found = Some(c.key);
            }
            found.is_none()
        });
        found
    }

    /// Whether a call is there for the agent now: in their queues, kept for them, or old
    /// enough in a queue they overflow into.
    pub(super) fn has_work(&self, agent: &Agent, now: Millis) -> bool {
        let routing = agent.routing.load();
        self.promised
            .get(agent.profile.id.as_str())
            .is_some_and(|list| !list.is_empty())
            || routing
                .queues
                .iter()
                .any(|(q, _)| !self.at(*q).voice().is_empty())
            || routing
                .overflow_in
                .iter()
                .any(|(q, after)| self.overflow_call(*q, *after, now).is_some())
    }

    /// Calls whose wait crossed an overflow step meet the idle agents it lets in. Run by
    /// the server's once-a-second upkeep (an arrival or a ready agent does it at once).
    pub fn offer_overflow(&self, now: Millis) -> Vec<Assignment> {
        let candidates: Vec<Arc<Agent>> = self
            .agents
            .iter()
            .filter(|a| {
                !a.routing.load().overflow_in.is_empty() && a.state() == AgentState::Available
            })
            .map(|a| Arc::clone(a.value()))
            .collect();
        candidates
            .iter()
            .filter(|a| {
                a.routing
                    .load()
                    .overflow_in
                    .iter()
                    .any(|(q, after)| self.overflow_call(*q, *after, now).is_some())
            })
            .filter_map(|a| self.offer_agent(a, now))
            .collect()
    }

    /// An agent may have room for work again (a lane freed, a block lifted, back at the
    /// desk): a voice call if they are available, then work of each other lane while
    /// it fits.
    pub(super) fn freed(&self, agent: &Arc<Agent>, now: Millis) -> Vec<Assignment> {
        self.freed_in(agent, LaneSet::ALL, now)
    }

    /// [`Acd::freed`] for an agent who can have gained room only in `lanes` (a unit of
    /// one lane came back: see [`LaneRules::freed_by`]). In every other lane their room
    /// is as it was, so are their places in its idle lists, and work that arrived there
    /// since looked for them itself: neither a look nor a new place is needed there.
    pub(super) fn freed_in(
        &self,
        agent: &Arc<Agent>,
        lanes: LaneSet,
        now: Millis,
    ) -> Vec<Assignment> {
        let mut made = Vec::new();
        if lanes.contains(Lane::Voice) && agent.state() == AgentState::Available {
            made.extend(self.offer_agent(agent, now));
        }
        made.extend(self.offer_lanes(agent, lanes, now));
        made
    }

    /// An agent is available: find them a call.
    pub(super) fn offer_agent(&self, agent: &Arc<Agent>, now: Millis) -> Option<Assignment> {
        loop {
            if !agent.transition(AgentState::Available, AgentState::Reserved, now) {
                // Another path claimed this agent (and will look for their call).
                return None;
            }
            if let Some(a) = self
                .pop_promised(agent)
                .or_else(|| self.pop_best(agent, now))
            {
                return Some(a);
            }
            if !self.release_empty_claim(agent, now) {
                return None;
            }
        }
    }

    /// Gives back an agent claimed for a call that was not there. True when a call is
    /// waiting in one of the agent's queues: it may have arrived while the agent was
    /// reserved and so not seen them, and the agent must look again.
    pub(super) fn release_empty_claim(&self, agent: &Arc<Agent>, now: Millis) -> bool {
        if agent.give_back(now) {
            // Listed before looking: a call arriving from now on finds the agent in the
            // idle lists, and one that arrived before is seen by the look.
            self.list_idle(agent);
        }
        self.has_work(agent, now)
    }

    /// Lists an available agent as idle in every queue they serve, replacing their last
    /// listing. An agent no longer available by now is not listed.
    pub(super) fn list_idle(&self, agent: &Arc<Agent>) {
        let _gate = self.idle_gate.read().unwrap_or_else(|e| e.into_inner());
        let mut listed = lock(&agent.listed);
        if agent.state() != AgentState::Available || agent.limits().get(Lane::Voice) == 0 {
            return;
        }
        let since = agent.since.load(SeqCst);
        for (q, score) in &agent.routing.load().queues {
            lock(&self.at(*q).idle).list(agent, *score, since);
        }
        *listed = Some(since);
    }

    /// Drops a logged-out agent's idle entries (stale now), so the agent is not kept.
    pub(super) fn unlist_idle(&self, agent: &Agent) {
        let _gate = self.idle_gate.read().unwrap_or_else(|e| e.into_inner());
        if lock(&agent.listed).take().is_none() {
            return;
        }
        for (q, _) in &agent.routing.load().queues {
            for lane in Lane::ALL {
                self.at(*q).lock_idle(lane).sweep();
            }
        }
    }

    /// Lists the available agents anew under the queues' current policies and the
    /// agents' current queues (after a reload changed either).
    pub(super) fn rebuild_idle(&self, agents: &[Arc<Agent>]) {
        let _gate = self.idle_gate.write().unwrap_or_else(|e| e.into_inner());
        for (_, q) in self.slots() {
            for lane in Lane::ALL {
                *q.lock_idle(lane) = IdleAgents::new(q.spec.load().strategy, lane);
            }
        }
        for agent in agents {
            let mut listed = lock(&agent.listed);
            *listed = None;
            for lane in agent.limits().lanes().filter(|l| *l != Lane::Voice) {
                if agent.can_take(lane) {
                    let since = agent.lane_floor(lane);
                    for (q, score) in &agent.routing.load().queues {
                        self.at(*q).lock_idle(lane).list(agent, *score, since);
                    }
                    *listed = Some(agent.since.load(SeqCst));
                }
            }
            if agent.state() != AgentState::Available || agent.limits().get(Lane::Voice) == 0 {
                continue;
            }
            let since = agent.since.load(SeqCst);
            for (q, score) in &agent.routing.load().queues {
                lock(&self.at(*q).idle).list(agent, *score, since);
            }
            *listed = Some(since);
        }
    }

    /// Claims the best idle agent of a queue for a call with preference `wants`: the
    /// queue's strategy, except that `get_it_done` always means most skilled and
    /// `friendly_chat` puts agents tagged `rapport` first (see [`IdleAgents::claim`]).
    pub(super) fn claim_idle(
        &self,
        q: &QueueState,
        wants: Preference,
        now: Millis,
    ) -> Option<Arc<Agent>> {
        lock(&q.idle).claim(wants, now)
    }

    /// For a claimed agent: takes the call with the highest effective priority now across
    /// the agent's queues, or returns `None` if none waits.
    pub(super) fn pop_best(&self, agent: &Arc<Agent>, now: Millis) -> Option<Assignment> {
        self.pop_best_of(agent, None, now)
    }

    /// [`Acd::pop_best`] looking only at `only` among the agent's own queues (overflow
    /// queues are always looked at), when given.
    pub(super) fn pop_best_of(
        &self,
        agent: &Arc<Agent>,
        only: Option<QueueId>,
        now: Millis,
    ) -> Option<Assignment> {
        loop {
            let mut best: Option<(i64, u64, QueueId, WaitKey)> = None;
            // The head of each queue the agent serves, and the best call old enough in
            // each queue they overflow into.
            let routing = agent.routing.load();
            let own = routing
                .queues
                .iter()
                .map(|(queue, _)| *queue)
                .filter(|queue| only.is_none_or(|o| o == *queue))
                .filter_map(|queue| Some((queue, self.at(queue).voice().head()?.key)));
            let overflow = routing.overflow_in.iter().filter_map(|(queue, after)| {
                Some((*queue, self.overflow_call(*queue, *after, now)?))
            });
            let now_ms = i64::try_from(now.0).unwrap_or(i64::MAX / 2);
            for (queue, key) in own.chain(overflow) {
                let effective = self.at(queue).effective(key, now_ms);
                let better = best
                    .is_none_or(|(e, s, _, _)| effective > e || (effective == e && key.seq < s));
                if better {
                    best = Some((effective, key.seq, queue, key));
                }
            }
            let (_, _, queue, key) = best?;
            // The call is there: the agent takes it if a voice call fits beside their
            // other work now (a chat may have come in while they looked). Confirmed but
            // then taken by someone else, the agent looks again and stays confirmed; a
            // look that finds nothing gives the claim back, which clears it.
            let Ok(call) = self
                .at(queue)
                .voice()
                .take_confirmed(&key, || agent.confirm_voice())
            else {
                return None;
            };
            // Gone already (another agent or an abandon): look again.
            if let Some(call) = call {
                self.waiting.remove(&call.call_id);
                *lock(&agent.holding) = Some((call.clone(), queue));
                self.held
                    .insert(Arc::clone(&call.call_id), Arc::clone(agent));
                return Some(Assignment {
                    call,
                    queue,
                    agent: Arc::clone(agent),
                });
            }
        }
    }
}
