//! Chats, emails and social posts: work of the lanes beside voice. An agent holds as many
//! as their capacity and the cross-channel rules allow (see `lanes`), each offered, then
//! connected, then in wrap-up for its queue's wrap-up time; the unit of capacity comes
//! back when the wrap-up ends (the once-a-second upkeep, as for voice) or the offer is
//! withdrawn, missed or not confirmed in time.
//!
//! Matching is the voice ACD's, lane by lane: work is published in its lane of its queue
//! before it looks for an agent with room, and an agent with room is listed idle in the
//! lane before looking for work, so one of the two always sees the other.

use super::*;

/// Where a chat, email or social item held by an agent stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Offered,
    Connected,
    /// Ended; the agent's unit comes back at `until`.
    WrapUp {
        until: Millis,
    },
}

/// A chat, email or social item an agent holds.
#[derive(Clone, Debug)]
pub struct Item {
    pub call: WaitingCall,
    pub queue: QueueId,
    pub stage: Stage,
    /// When it reached its stage.
    pub since: Millis,
}

impl Item {
    pub fn lane(&self) -> Lane {
        Lane::of(self.call.channel)
    }
}

impl Agent {
    /// The chats, emails and social items the agent holds.
    pub fn items(&self) -> Vec<Item> {
        lock(&self.items).clone()
    }

    /// Every call or item the agent holds: the voice call first.
    pub fn calls(&self) -> Vec<Arc<str>> {
        let mut out: Vec<Arc<str>> = self.call().into_iter().collect();
        out.extend(
            lock(&self.items)
                .iter()
                .map(|i| Arc::clone(&i.call.call_id)),
        );
        out
    }

    fn item(&self, call_id: &str) -> Option<Item> {
        lock(&self.items)
            .iter()
            .find(|i| &*i.call.call_id == call_id)
            .cloned()
    }

    pub(super) fn holds_item(&self, call_id: &str) -> bool {
        lock(&self.items)
            .iter()
            .any(|i| &*i.call.call_id == call_id)
    }
}

/// The standard assumed for a tier or lane the plan gave none for (an ACD used alone).
const DEFAULT_STANDARD_MS: u64 = 60_000;

impl Acd {
    /// Sets, by tier and lane, the time each tier's standard gives work of that lane
    /// (milliseconds), which decides between lanes when an agent has room in several.
    pub fn set_standards(&self, by_tier: Vec<[u64; LANES]>) {
        self.standards.store(Arc::new(by_tier));
    }

    /// Work of a non-voice lane is waiting in `queue`: find it an agent with room.
    pub(super) fn offer_lane_queue(
        &self,
        queue: QueueId,
        lane: Lane,
        now: Millis,
    ) -> Option<Assignment> {
        let q = self.at(queue);
        loop {
            let wants = q
                .list(lane)
                .head()
                .map_or(Preference::None, |c| c.preference);
            let (agent, taken) = q.lock_idle(lane).claim_from(wants, now)?;
            if let Some(a) = self.pop_lane(&agent, lane, Some(queue), now) {
                self.back_of(&agent, lane, queue, taken, now);
                return Some(a);
            }
            // Taken by someone else meanwhile: the unit goes back and the agent is listed
            // again (they had nothing in their other queues when listed, and work arriving
            // there since looks for agents itself); look again while work is here.
            agent.release_unit(lane);
            self.relist_lane(&agent, lane, now);
            if q.list(lane).is_empty() {
                return None;
            }
        }
    }

    /// An agent may have room in their non-voice lanes of `within`: while something fits
    /// they take the most urgent work (see [`Acd::most_urgent_lane`]), then are listed
    /// idle in each of those lanes where room is left.
    pub(super) fn offer_lanes(
        &self,
        agent: &Arc<Agent>,
        within: LaneSet,
        now: Millis,
    ) -> Vec<Assignment> {
        let lanes: Vec<Lane> = agent
            .limits()
            .lanes()
            .filter(|l| *l != Lane::Voice && within.contains(*l))
            .collect();
        let mut made = Vec::new();
        if lanes.is_empty() {
            return made;
        }
        loop {
            while let Some(lane) = self.most_urgent_lane(agent, &lanes, now) {
                if !agent.claim_unit(lane) {
                    // Its room went meanwhile (a claim elsewhere): list and look again.
                    break;
                }
                match self.pop_lane(agent, lane, None, now) {
                    Some(a) => made.push(a),
                    // Taken by someone else meanwhile.
                    None => agent.release_unit(lane),
                }
            }
            // Listed before looking again: work arriving from now on finds the agent,
            // and work that arrived before is seen by the look.
            for &lane in &lanes {
                self.relist_lane(agent, lane, now);
            }
            if self.most_urgent_lane(agent, &lanes, now).is_none() {
                return made;
            }
        }
    }

    /// Of the lanes the agent has room in, the one whose best waiting work has used the
    /// largest share of its tier's standard for its channel: an email four hours into an
    /// eight-hour standard (50%) goes before a chat 20 s into a 60 s one (33%), and a new
    /// email (0%) after it. So neither a stream of chats nor a backlog of emails keeps the
    /// other waiting past its promise when a mix caps them together. Within a lane, work
    /// is taken by effective priority as in any queue.
    fn most_urgent_lane(&self, agent: &Agent, lanes: &[Lane], now: Millis) -> Option<Lane> {
        let now_ms = i64::try_from(now.0).unwrap_or(i64::MAX / 2);
        let standards = self.standards.load();
        let routing = agent.routing.load();
        lanes
            .iter()
            .filter(|l| agent.can_take(**l))
            .filter_map(|&lane| {
                // The lane's best waiting work across the agent's queues.
                let (_, (tier, arrived)) = routing
                    .queues
                    .iter()
                    .filter_map(|(queue, _)| {
                        let q = self.at(*queue);
                        let head = q.list(lane).head()?;
                        let effective = q.effective(head.key, now_ms);
                        Some((
                            (effective, std::cmp::Reverse(head.key.seq)),
                            (head.tier, head.arrived),
                        ))
                    })
                    .max_by_key(|(rank, _)| *rank)?;
                let within = standards
                    .get(usize::from(tier.0))
                    .map_or(DEFAULT_STANDARD_MS, |by_lane| by_lane[lane.index()])
                    .max(1);
                let waited = u128::from(now.0.saturating_sub(arrived.0));
                Some((waited * 1_000_000 / u128::from(within), lane))
            })
            .max_by_key(|(share, lane)| (*share, std::cmp::Reverse(*lane)))
            .map(|(_, lane)| lane)
    }

    /// Lists an agent with room in a lane as idle there, in every queue they serve, at a
    /// new place (behind those who have waited longer for work of it); their older places
    /// are stale from now on.
    fn relist_lane(&self, agent: &Arc<Agent>, lane: Lane, now: Millis) {
        let _gate = self.idle_gate.read().unwrap_or_else(|e| e.into_inner());
        if !agent.can_take(lane) {
            return;
        }
        let since = agent.stamp_lane(lane, now);
        agent.raise_lane_floor(lane, since);
        for (q, score) in &agent.routing.load().queues {
            self.at(*q).lock_idle(lane).list(agent, *score, since);
        }
        *lock(&agent.listed) = Some(agent.since.load(SeqCst));
    }

    /// An agent who took work from `queue`'s idle list (its map `taken`) and still has
    /// room goes to the back of that list; their places in their other queues stand.
    fn back_of(
        &self,
        agent: &Arc<Agent>,
        lane: Lane,
        queue: QueueId,
        taken: idle::Map,
        now: Millis,
    ) {
        let _gate = self.idle_gate.read().unwrap_or_else(|e| e.into_inner());
        if !agent.can_take(lane) {
            return;
        }
        let score = agent
            .routing
            .load()
            .queues
            .iter()
            .find(|(q, _)| *q == queue)
            .map_or(0, |(_, s)| *s);
        let since = agent.stamp_lane(lane, now);
        self.at(queue)
            .lock_idle(lane)
            .list_back(agent, score, since, taken);
    }

    /// For an agent holding a claimed unit of `lane`: takes the work with the highest
    /// effective priority now across their queues (or only `only`), if any waits.
    fn pop_lane(
        &self,
        agent: &Arc<Agent>,
        lane: Lane,
        only: Option<QueueId>,
        now: Millis,
    ) -> Option<Assignment> {
        let now_ms = i64::try_from(now.0).unwrap_or(i64::MAX / 2);
        loop {
            let routing = agent.routing.load();
            let best = routing
                .queues
                .iter()
                .map(|(queue, _)| *queue)
                .filter(|queue| only.is_none_or(|o| o == *queue))
                .filter_map(|queue| {
                    let q = self.at(queue);
                    let key = q.list(lane).head()?.key;
                    let effective = q.effective(key, now_ms);
                    Some((effective, std::cmp::Reverse(key.seq), queue, key))
                })
                .max()?;
            let (_, _, queue, key) = best;
            let Some(call) = self.at(queue).list(lane).take(&key) else {
                continue;
            };
            self.waiting.remove(&call.call_id);
            lock(&agent.items).push(Item {
                call: call.clone(),
                queue,
                stage: Stage::Offered,
                since: now,
            });
            self.held
                .insert(Arc::clone(&call.call_id), Arc::clone(agent));
            return Some(Assignment {
                call,
                queue,
                agent: Arc::clone(agent),
            });
        }
    }

    /// The switch (or chat platform) connected the agent to an item offered to them.
    pub(super) fn item_connected(
        &self,
        agent: &Agent,
        call_id: &str,
        now: Millis,
    ) -> Result<(), AcdError> {
        let mut items = lock(&agent.items);
        let item = items
            .iter_mut()
            .find(|i| &*i.call.call_id == call_id)
            .ok_or(AcdError::NotHolding)?;
        if item.stage != Stage::Offered {
            return Err(AcdError::IllegalTransition {
                from: stage_name(item.stage),
                to: "on_call",
            });
        }
        item.stage = Stage::Connected;
        item.since = now;
        agent.missed.store(0, SeqCst);
        Ok(())
    }

    /// An item ended: its unit is held through the queue's wrap-up time. Returns its
    /// handle time (connected time plus wrap-up).
    pub(super) fn item_ended(
        &self,
        agent: &Agent,
        call_id: &str,
        now: Millis,
    ) -> Result<std::time::Duration, AcdError> {
        let mut items = lock(&agent.items);
        let item = items
            .iter_mut()
            .find(|i| &*i.call.call_id == call_id)
            .ok_or(AcdError::NotHolding)?;
        if item.stage != Stage::Connected {
            return Err(AcdError::IllegalTransition {
                from: stage_name(item.stage),
                to: "wrap_up",
            });
        }
        let wrap_up = self.at(item.queue).spec.load().wrap_up;
        let talk = now.since(item.since);
        item.stage = Stage::WrapUp {
            until: Millis(
                now.0
                    .saturating_add(u64::try_from(wrap_up.as_millis()).unwrap_or(u64::MAX)),
            ),
        };
        item.since = now;
        let (queue, lane) = (item.queue, item.lane());
        drop(items);
        self.held.remove(call_id);
        self.at(queue).handled(lane, talk + wrap_up);
        Ok(talk + wrap_up)
    }

    /// Items whose wrap-up is over give their unit back; the agents take what now fits.
    pub(super) fn end_item_wrap_ups(&self, now: Millis) -> Vec<Assignment> {
        let mut made = Vec::new();
        let agents: Vec<Arc<Agent>> = self
            .agents
            .iter()
            // An item in wrap-up still holds its unit: an agent holding none has none
            // (read from the agent's word, without taking the items' lock).
            .filter(|a| a.held()[1..].iter().any(|n| *n > 0))
            .filter(|a| {
                lock(&a.items)
                    .iter()
                    .any(|i| matches!(i.stage, Stage::WrapUp { until } if until <= now))
            })
            .map(|a| Arc::clone(a.value()))
            .collect();
        for agent in agents {
            let done: Vec<Item> = {
                let mut items = lock(&agent.items);
                let (done, keep) = std::mem::take(&mut *items)
                    .into_iter()
                    .partition(|i| matches!(i.stage, Stage::WrapUp { until } if until <= now));
                *items = keep;
                done
            };
            let rules = agent.rules.load();
            let mut lanes = LaneSet::default();
            for item in &done {
                agent.release_unit(item.lane());
                lanes = lanes.union(rules.freed_by(item.lane()));
            }
            made.extend(self.freed_in(&agent, lanes, now));
        }
        made
    }

    /// Takes an offered item back from its agent and puts it at the head of its lane;
    /// the agent's unit comes back (and after `limit` misses, set by the caller, the
    /// agent goes not ready). Returns the assignments this made.
    pub(super) fn return_item(
        &self,
        agent: &Arc<Agent>,
        call_id: &str,
        not_ready: Option<&str>,
        now: Millis,
    ) -> Result<Vec<Assignment>, AcdError> {
        let item = {
            let mut items = lock(&agent.items);
            let i = items
                .iter()
                .position(|i| &*i.call.call_id == call_id)
                .ok_or(AcdError::NotHolding)?;
            if items[i].stage != Stage::Offered {
                return Err(AcdError::CallConnected);
            }
            items.remove(i)
        };
        self.held.remove(call_id);
        let lane = item.lane();
        if let Some(reason) = not_ready {
            *lock(&agent.reason) = Some(reason.into());
            let from = agent.state();
            if matches!(from, AgentState::Available | AgentState::WrapUp) {
                let _ = agent.transition(from, AgentState::NotReady, now);
            }
        }
        let mut made = Vec::new();
        let q = self.at(item.queue);
        if let Some(to) = self.moves_to(item.queue, &q.spec.load()) {
            if let Ok(Placed::Assigned(a)) = self.enqueue(to, item.call, now) {
                made.push(a);
            }
        } else {
            // Back at the head of its lane, before the agent's unit comes back, so that
            // the same agent is not offered it again ahead of everyone else.
            self.put_back(item.queue, item.call);
            made.extend(self.offer_lane_queue(item.queue, lane, now));
        }
        agent.release_unit(lane);
        made.extend(self.freed_in(agent, agent.rules.load().freed_by(lane), now));
        Ok(made)
    }

    /// Offered items the agent confirmed neither way within `timeout`, as call id and agent.
    pub(super) fn stale_item_offers(&self, cutoff: Millis) -> Vec<(Arc<str>, Arc<Agent>)> {
        let mut out = Vec::new();
        for a in self.agents.iter() {
            for i in lock(&a.items).iter() {
                if i.stage == Stage::Offered && i.since <= cutoff {
                    out.push((Arc::clone(&i.call.call_id), Arc::clone(a.value())));
                }
            }
        }
        out
    }

    /// Puts back an item an agent held when the process stopped: their unit is claimed
    /// again (if it fits: an agent who came back with less room cannot take it).
    pub(super) fn restore_item(
        &self,
        agent: &Arc<Agent>,
        queue: QueueId,
        call: WaitingCall,
        connected: bool,
        since: Millis,
    ) -> Result<Assignment, AcdError> {
        let lane = Lane::of(call.channel);
        if agent.holds_item(&call.call_id) || !agent.hold_unit(lane) {
            return Err(AcdError::NotHolding);
        }
        lock(&agent.items).push(Item {
            call: call.clone(),
            queue,
            stage: if connected {
                Stage::Connected
            } else {
                Stage::Offered
            },
            since,
        });
        self.held
            .insert(Arc::clone(&call.call_id), Arc::clone(agent));
        Ok(Assignment {
            call,
            queue,
            agent: Arc::clone(agent),
        })
    }

    /// The item, if the agent holds it.
    pub(super) fn item_of(&self, agent: &Agent, call_id: &str) -> Option<Item> {
        agent.item(call_id)
    }
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Offered => "reserved",
        Stage::Connected => "on_call",
        Stage::WrapUp { .. } => "wrap_up",
    }
}
