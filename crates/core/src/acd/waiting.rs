//! Waiting work: calls in their queues in priority order (and calls kept for one
//! agent), where they stand, and how they leave a queue other than to an agent:
//! transfers, supervisors' moves, maximum waits, callbacks accepted and hang-ups.

use super::*;

impl Acd {
    /// Puts a call in a queue, or straight to the best idle eligible agent.
    pub fn enqueue(
        &self,
        queue: QueueId,
        call: WaitingCall,
        now: Millis,
    ) -> Result<Placed, AcdError> {
        let q = self.queue(queue)?;
        let spec = q.spec.load();
        // A call still bound for a queue a reload removed (from a menu of the old config,
        // or a promise) goes where the removed queue's calls went.
        if let Some(to) = self.moves_to(queue, &spec) {
            return self.enqueue(to, call, now);
        }
        drop(spec);
        let seq = self.seq.fetch_add(1, SeqCst);
        let lane = Lane::of(call.channel);
        let (position, wants) = {
            let waiting = q.list(lane);
            // The call is indexed while its index entry is held (the same order a reload
            // takes them in), so whoever finds it in the index finds it in the queue.
            let dashmap::mapref::entry::Entry::Vacant(index) =
                self.waiting.entry(Arc::clone(&call.call_id))
            else {
                return Err(AcdError::AlreadyWaiting);
            };
            let (key, position) = q.publish(lane, seq, call, q.rate.load(SeqCst));
            index.insert((queue, key));
            // The call at the head now is the one an agent is wanted for.
            let wants = waiting.head().map_or(Preference::None, |c| c.preference);
            (position, wants)
        };
        // Published; now look for an agent.
        let met = match lane {
            Lane::Voice => self.offer_queue_for(queue, wants, now),
            other => self.offer_lane_queue(queue, other, now),
        };
        match met {
            Some(a) => Ok(Placed::Assigned(a)),
            None => Ok(Placed::Waiting { position }),
        }
    }

    /// 1-based place of a waiting call in its queue (1 for a call kept for its agent).
    pub fn position(&self, call_id: &str) -> Option<usize> {
        if self.promised_calls.contains_key(call_id) {
            return Some(1);
        }
        let (queue, key) = *self.waiting.get(call_id)?;
        Some(self.at(queue).list(key.lane).place_of(key))
    }

    /// Moves a call to another queue, keeping its original arrival time (so its aging
    /// goes on). A waiting call leaves its queue; a connected call leaves its agent, who
    /// wraps up (and whose handle time counts) as after any call. A call only offered,
    /// not yet connected, cannot move. Returns the assignment the call met at once, if any.
    pub fn transfer(
        &self,
        call_id: &str,
        to: QueueId,
        now: Millis,
    ) -> Result<Option<Assignment>, AcdError> {
        self.queue(to)?;
        let call = if let Some((_, (queue, key))) = self.waiting.remove(call_id) {
            self.at(queue).list(key.lane).take(&key)
        } else if let Some(agent) = self.holder_of(call_id)
            && let Some(item) = self.item_of(&agent, call_id)
        {
            self.item_ended(&agent, call_id, now)?;
            Some(item.call)
        } else if let Some(agent) = self.holder_of(call_id) {
            if agent.state() != AgentState::OnCall {
                return Err(AcdError::IllegalTransition {
                    from: agent.state().as_str(),
                    to: "transferred",
                });
            }
            let call = lock(&agent.holding).as_ref().map(|(c, _)| c.clone());
            self.ended(&agent.profile.id, call_id, now)?;
            call
        } else {
            None
        };
        let mut call = call.ok_or(AcdError::NotHolding)?;
        call.callback = false;
        match self.enqueue(to, call, now)? {
            Placed::Assigned(a) => Ok(Some(a)),
            Placed::Waiting { .. } => Ok(None),
        }
    }

    /// A supervisor moves a waiting call: to queue `to` (or where it waits), at
    /// `priority` (or its own), keeping its arrival time so its aging goes on. A call kept
    /// for one agent is released to the queue. Returns the queue it left and what
    /// happened there: it met an agent, or waits at a position.
    pub fn move_waiting(
        &self,
        call_id: &str,
        to: Option<QueueId>,
        priority: Option<i32>,
        now: Millis,
    ) -> Result<(QueueId, Placed), AcdError> {
        if let Some(to) = to {
            self.queue(to)?;
        }
        let (from, call) = if let Some((_, (queue, key))) = self.waiting.remove(call_id) {
            (queue, self.at(queue).list(key.lane).take(&key))
        } else if let Some((_, agent)) = self.promised_calls.remove(call_id) {
            let mut taken = None;
            if let Some(mut list) = self.promised.get_mut(&agent)
                && let Some(i) = list.iter().position(|p| &*p.call.call_id == call_id)
            {
                let p = list.swap_remove(i);
                taken = Some((p.queue, Some(p.call)));
            }
            taken.ok_or(AcdError::NotWaiting)?
        } else {
            return Err(AcdError::NotWaiting);
        };
        let mut call = call.ok_or(AcdError::NotWaiting)?;
        if let Some(p) = priority {
            call.priority = p;
        }
        let placed = self.enqueue(to.unwrap_or(from), call, now)?;
        Ok((from, placed))
    }

    /// Calls that waited their queue's `max_wait` (each only once): overflowed to another
    /// queue with their arrival time, offered a callback in place, or sent to voicemail
    /// (out of the queue). Run by the server's once-a-second upkeep.
    pub fn expire_waits(&self, now: Millis) -> Vec<WaitExpired> {
        let mut outcomes = Vec::new();
        for (queue, q) in self.slots() {
            let Some((max_wait, action)) = q.spec.load().max_wait else {
                continue;
            };
            let cutoff = now.saturating_sub(max_wait);
            let due: Vec<WaitingCall> = {
                let waiting = q.voice();
                let keys: Vec<WaitKey> = waiting
                    .glance_all()
                    .iter()
                    .filter(|c| !c.max_wait_met && !c.callback && c.arrived <= cutoff)
                    .map(|c| c.key)
                    .collect();
                match action {
                    // Stays in place, marked.
                    MaxWaitAction::Callback => keys
                        .iter()
                        .filter_map(|k| waiting.mark_max_wait(k))
                        .collect(),
                    MaxWaitAction::Overflow(_) | MaxWaitAction::Voicemail => {
                        keys.iter().filter_map(|k| waiting.take(k)).collect()
                    }
                }
            };
            for mut call in due {
                call.max_wait_met = true;
                match action {
                    MaxWaitAction::Callback => {
                        outcomes.push(WaitExpired::OfferCallback { call, queue })
                    }
                    MaxWaitAction::Voicemail => {
                        self.waiting.remove(&call.call_id);
                        outcomes.push(WaitExpired::Voicemail { call, queue });
                    }
                    MaxWaitAction::Overflow(to) => {
                        self.waiting.remove(&call.call_id);
                        outcomes.push(self.move_on(call, queue, to, now));
                    }
                }
            }
        }
        outcomes
    }

    /// Puts a call that left `from` in queue `to`, with its arrival time; what became of it.
    pub(super) fn move_on(
        &self,
        call: WaitingCall,
        from: QueueId,
        to: QueueId,
        now: Millis,
    ) -> WaitExpired {
        let call_id = Arc::clone(&call.call_id);
        let assignment = match self.enqueue(to, call, now) {
            Ok(Placed::Assigned(a)) => Some(a),
            _ => None,
        };
        WaitExpired::Overflowed {
            call_id,
            from,
            to,
            assignment,
        }
    }

    /// The caller accepted a callback while waiting: the call keeps its place. False if
    /// the call is not waiting in a queue (offered already, finished, or unknown).
    pub fn accept_callback(&self, call_id: &str) -> bool {
        if let Some(agent) = self.promised_calls.get(call_id).map(|a| a.value().clone())
            && let Some(mut list) = self.promised.get_mut(&agent)
            && let Some(p) = list.iter_mut().find(|p| &*p.call.call_id == call_id)
        {
            p.call.callback = true;
            return true;
        }
        let Some((queue, key)) = self.waiting.get(call_id).map(|e| *e.value()) else {
            return false;
        };
        self.at(queue).list(key.lane).mark_callback(&key)
    }

    pub fn abandon(&self, call_id: &str) -> bool {
        if self.take_scheduled(call_id).is_some() {
            return true;
        }
        if let Some((_, agent)) = self.promised_calls.remove(call_id) {
            if let Some(mut list) = self.promised.get_mut(&agent) {
                list.retain(|p| &*p.call.call_id != call_id);
            }
            return true;
        }
        let Some((_, (queue, key))) = self.waiting.remove(call_id) else {
            return false;
        };
        self.at(queue).list(key.lane).take(&key).is_some()
    }

    /// A queue's waiting calls as a wallboard shows them: the first `limit` in the order
    /// agents will take them (then those kept for one agent, within the limit), how many
    /// wait, how many of each tier (by tier id), and the oldest arrival. One pass over
    /// each lane, cloning only what is listed.
    pub fn waiting_view(&self, queue: QueueId, limit: usize) -> WaitingView {
        let mut view = WaitingView::default();
        let Ok(q) = self.queue(queue) else {
            return view;
        };
        let count = |c: &WaitingCall, view: &mut WaitingView| {
            view.total += 1;
            let t = usize::from(c.tier.0);
            if view.by_tier.len() <= t {
                view.by_tier.resize(t + 1, 0);
            }
            view.by_tier[t] += 1;
            view.oldest = Some(view.oldest.map_or(c.arrived, |o: Millis| o.min(c.arrived)));
        };
        for lane in Lane::ALL {
            q.list(lane).visit(|w, c| {
                count(c, &mut view);
                if view.first.len() < limit {
                    let mut c = c.clone();
                    (c.callback, c.max_wait_met) = (w.callback, w.max_wait_met);
                    view.first.push((c, None));
                }
                true
            });
        }
        for list in self.promised.iter() {
            for p in list.iter().filter(|p| p.queue == queue) {
                count(&p.call, &mut view);
                if view.first.len() < limit {
                    view.first
                        .push((p.call.clone(), Some(Arc::from(&**list.key()))));
                }
            }
        }
        view
    }

    pub fn waiting_in(&self, queue: QueueId) -> usize {
        self.queue(queue).map_or(0, |q| {
            Lane::ALL.into_iter().map(|lane| q.list(lane).len()).sum()
        })
    }

    /// Puts a call that was offered back at the head of its lane of `queue`: under its
    /// own key, or just ahead of the head's.
    pub(super) fn put_back(&self, queue: QueueId, call: WaitingCall) {
        let q = self.at(queue);
        let lane = Lane::of(call.channel);
        let waiting = q.list(lane);
        let rate = q.rate.load(SeqCst);
        let own = Self::key(rate, call.priority, call.arrived);
        let neg_key = waiting
            .head()
            .map_or(own, |head| own.min(head.key.neg_key - 1));
        let key = WaitKey {
            neg_key,
            seq: self.seq.fetch_add(1, SeqCst),
            lane,
        };
        // Indexed while the index entry is held, as on arrival.
        let mut index = self
            .waiting
            .entry(Arc::clone(&call.call_id))
            .or_insert((queue, key));
        waiting.insert(key, call, rate);
        *index = (queue, key);
    }

    /// The negated order key of a call (see [`WaitKey`]).
    pub(super) fn key(aging_per_minute: i64, priority: i32, arrived: Millis) -> i64 {
        let arrived = i64::try_from(arrived.0).unwrap_or(i64::MAX / 2);
        aging_per_minute.saturating_mul(arrived) - i64::from(priority) * AGING_SCALE
    }

    /// Where calls bound for a retired queue go instead: the queue it was made from, if
    /// that one is in service, else the fallback queue. `None` for a queue in service.
    pub(super) fn moves_to(&self, queue: QueueId, spec: &Queue) -> Option<QueueId> {
        if !spec.retired {
            return None;
        }
        spec.part_of
            .filter(|p| self.queue(*p).is_ok_and(|q| !q.spec.load().retired))
            .or(**self.fallback.load())
            .filter(|to| *to != queue)
    }

    /// The queue a call bound for `queue` goes to: itself, or for a retired queue, where
    /// its calls went.
    pub fn destination(&self, queue: QueueId) -> QueueId {
        self.queue(queue)
            .ok()
            .and_then(|q| self.moves_to(queue, &q.spec.load()))
            .unwrap_or(queue)
    }

    /// Puts a call aside for one agent until `until` (a repeat caller and the agent who
    /// served them last). If that agent is free they take it now; when they become ready
    /// they take it before anything in their queues; after `until` it joins its queue
    /// with its arrival time (see [`Acd::expire_promises`]). An agent who is logged out
    /// or does not serve the queue is not waited for.
    pub fn enqueue_for(
        &self,
        queue: QueueId,
        call: WaitingCall,
        agent_id: &str,
        until: Millis,
        now: Millis,
    ) -> Result<Placed, AcdError> {
        self.queue(queue)?;
        let agent = match self.agent(agent_id) {
            Some(a)
                if a.state() != AgentState::LoggedOut
                    && a.serves(queue)
                    && until > now
                    && Lane::of(call.channel) == Lane::Voice =>
            {
                a
            }
            _ => return self.enqueue(queue, call, now),
        };
        if self.waiting.contains_key(&call.call_id)
            || self.promised_calls.contains_key(&call.call_id)
        {
            return Err(AcdError::AlreadyWaiting);
        }
        // Publish, then look, as everywhere else.
        self.keep_for(agent_id, queue, call, until);
        if agent.transition(AgentState::Available, AgentState::Reserved, now) {
            if let Some(a) = self.pop_promised(&agent) {
                return Ok(Placed::Assigned(a));
            }
            if self.release_empty_claim(&agent, now)
                && let Some(a) = self.offer_agent(&agent, now)
            {
                return Ok(Placed::Assigned(a));
            }
        }
        Ok(Placed::Waiting { position: 1 })
    }

    /// Puts a call aside for one agent until `until`.
    pub(super) fn keep_for(
        &self,
        agent_id: &str,
        queue: QueueId,
        call: WaitingCall,
        until: Millis,
    ) {
        self.promised_calls
            .insert(Arc::clone(&call.call_id), agent_id.into());
        self.promised
            .entry(agent_id.into())
            .or_default()
            .push(Promise { call, queue, until });
    }

    /// Promised calls whose agent did not come in time (or logged out) join their queues,
    /// keeping their arrival time; returns the assignments they met at once.
    pub fn expire_promises(&self, now: Millis) -> Vec<Assignment> {
        let mut released = Vec::new();
        // An agent's entry goes once nothing is kept for them, so this walk is over the
        // agents with a call kept for them now, not every agent who ever had one.
        self.promised.retain(|agent_id, list| {
            let gone = self
                .agent(agent_id)
                .is_none_or(|a| a.state() == AgentState::LoggedOut);
            let (due, keep): (Vec<Promise>, Vec<Promise>) = std::mem::take(list)
                .into_iter()
                .partition(|p| gone || p.until <= now);
            *list = keep;
            released.extend(due);
            !list.is_empty()
        });
        let mut made = Vec::new();
        for p in released {
            // Gone already if the caller hung up meanwhile.
            if self.promised_calls.remove(&p.call.call_id).is_some()
                && let Ok(Placed::Assigned(a)) = self.enqueue(p.queue, p.call, now)
            {
                made.push(a);
            }
        }
        made
    }

    /// Takes the best call promised to a claimed agent.
    pub(super) fn pop_promised(&self, agent: &Arc<Agent>) -> Option<Assignment> {
        let promise = {
            let mut list = self.promised.get_mut(agent.profile.id.as_str())?;
            let best = list
                .iter()
                .enumerate()
                .max_by_key(|(_, p)| (p.call.priority, std::cmp::Reverse(p.call.arrived)))
                .map(|(i, _)| i)?;
            if !agent.confirm_voice() {
                return None;
            }
            list.swap_remove(best)
        };
        self.promised_calls.remove(&promise.call.call_id);
        *lock(&agent.holding) = Some((promise.call.clone(), promise.queue));
        self.held
            .insert(Arc::clone(&promise.call.call_id), Arc::clone(agent));
        Some(Assignment {
            call: promise.call,
            queue: promise.queue,
            agent: Arc::clone(agent),
        })
    }
}
