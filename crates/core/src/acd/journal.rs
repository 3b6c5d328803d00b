//! Reading the distributor's live state out, one call or agent at a time, and putting
//! it back after a restart: what the store's journal of live state is made from.

use std::sync::{Arc, atomic::Ordering::SeqCst};

use super::{
    Acd, AcdError, Agent, AgentProfile, AgentState, Assignment, Placed, WaitKey, WaitingCall,
    lanes::Lane, lock,
};
use crate::{clock::Millis, plan::QueueId};

/// Where a call stands in the distributor.
#[derive(Clone, Debug)]
pub enum Located {
    /// Waiting in a queue under this key (the key fixes its place; see [`WaitKey`]).
    Waiting {
        queue: QueueId,
        key: WaitKey,
        call: WaitingCall,
        /// The queue's aging rate the key was made with, so a restart under another
        /// rate can re-key it as a reload would.
        aging_per_minute: i64,
    },
    /// Kept for one agent until `until`.
    Promised {
        agent: Box<str>,
        queue: QueueId,
        until: Millis,
        call: WaitingCall,
    },
    /// A callback scheduled for `due`, out of every queue until then.
    Scheduled {
        queue: QueueId,
        due: Millis,
        call: WaitingCall,
    },
    /// Offered to or connected with an agent, since `since`.
    Held {
        agent: Arc<Agent>,
        queue: QueueId,
        call: WaitingCall,
        connected: bool,
        since: Millis,
    },
}

/// An agent's state as it can be written down and put back.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgentImage {
    pub profile: AgentProfile,
    pub state: AgentState,
    pub since: Millis,
    pub reason: Option<String>,
    pub logged_in: Millis,
    pub busy_ms: u64,
    pub missed: u32,
    pub wrap_up_until: Millis,
}

impl WaitKey {
    /// The key's two numbers: the negated order key and the arrival sequence.
    pub fn parts(self) -> (i64, u64) {
        (self.neg_key, self.seq)
    }

    /// A key of the voice lane; [`Acd::restore_waiting`] moves it to its call's lane.
    pub fn from_parts(neg_key: i64, seq: u64) -> WaitKey {
        WaitKey {
            neg_key,
            seq,
            lane: Lane::Voice,
        }
    }
}

impl Acd {
    /// Where a call is, if the distributor has it. A call moving between two places
    /// (being offered, put back) may be found in neither for an instant; whoever moves
    /// it reports it afterwards, so a journal that reads it again sees where it landed.
    pub fn locate(&self, call_id: &str) -> Option<Located> {
        if let Some((queue, key)) = self.waiting.get(call_id).map(|e| *e.value()) {
            let q = self.at(queue);
            if let Some(call) = q.list(key.lane).get(&key) {
                return Some(Located::Waiting {
                    queue,
                    key,
                    call,
                    aging_per_minute: q.rate.load(SeqCst),
                });
            }
        }
        if let Some(agent) = self.promised_calls.get(call_id).map(|a| a.value().clone())
            && let Some(list) = self.promised.get(&agent)
            && let Some(p) = list.iter().find(|p| &*p.call.call_id == call_id)
        {
            return Some(Located::Promised {
                queue: p.queue,
                until: p.until,
                call: p.call.clone(),
                agent,
            });
        }
        if let Some((queue, due, call)) = self.scheduled_entry(call_id) {
            return Some(Located::Scheduled { queue, due, call });
        }
        let agent = self.holder_of(call_id)?;
        if let Some(item) = self.item_of(&agent, call_id) {
            return Some(Located::Held {
                agent,
                queue: item.queue,
                call: item.call,
                connected: item.stage != super::Stage::Offered,
                since: item.since,
            });
        }
        let (call, queue) = lock(&agent.holding)
            .as_ref()
            .filter(|(c, _)| &*c.call_id == call_id)
            .cloned()?;
        Some(Located::Held {
            connected: agent.state() == AgentState::OnCall,
            since: agent.since(),
            agent,
            queue,
            call,
        })
    }

    /// The calls waiting in queues (not those kept for an agent, whose place a reload
    /// does not change).
    pub fn waiting_ids(&self) -> Vec<Arc<str>> {
        self.waiting.iter().map(|e| Arc::clone(e.key())).collect()
    }

    /// An agent's state, for the journal.
    pub fn agent_image(&self, id: &str) -> Option<AgentImage> {
        let a = self.agent(id)?;
        let state = match a.state() {
            // Reserved without a call is a claim in progress: available underneath.
            AgentState::Reserved if lock(&a.holding).is_none() => AgentState::Available,
            s => s,
        };
        Some(AgentImage {
            profile: a.profile.clone(),
            state,
            since: a.since(),
            reason: a.reason(),
            logged_in: a.logged_in,
            busy_ms: a.busy_ms.load(SeqCst),
            missed: a.missed.load(SeqCst),
            wrap_up_until: Millis(a.wrap_up_until.load(SeqCst)),
        })
    }

    /// Puts an agent back as they were. An agent recorded as offered a call comes back
    /// offered only once [`Acd::restore_held`] gives them the call; until then they are
    /// available. Replaces any agent of that id.
    pub fn restore_agent(&self, image: AgentImage) -> Arc<Agent> {
        let _membership = lock(&self.membership);
        let state = match image.state {
            AgentState::Reserved | AgentState::OnCall => AgentState::Available,
            s => s,
        };
        let agent = self.new_agent(image.profile, state, image.since, image.logged_in);
        agent.wrap_up_until.store(image.wrap_up_until.0, SeqCst);
        agent.busy_ms.store(image.busy_ms, SeqCst);
        agent.missed.store(image.missed, SeqCst);
        *lock(&agent.reason) = image.reason.map(String::into_boxed_str);
        let agent = Arc::new(agent);
        self.enroll(&agent, state != AgentState::LoggedOut);
        agent
    }

    /// Members are kept in log-in order, which round robin follows; call once every
    /// agent is back.
    pub fn order_members(&self) {
        let _membership = lock(&self.membership);
        for (_, q) in self.slots() {
            q.members
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .sort_by(|a, b| (a.logged_in, &a.profile.id).cmp(&(b.logged_in, &b.profile.id)));
        }
    }

    /// Puts a waiting call back under its recorded key, re-keyed if the queue's aging rate
    /// is not the one the key was made with. Later calls get later sequence numbers.
    pub fn restore_waiting(
        &self,
        queue: QueueId,
        key: WaitKey,
        aging_per_minute: i64,
        call: WaitingCall,
    ) -> Result<(), AcdError> {
        let q = self.queue(queue)?;
        if self.waiting.contains_key(&call.call_id)
            || self.promised_calls.contains_key(&call.call_id)
            || self.held.contains_key(&call.call_id)
        {
            return Err(AcdError::AlreadyWaiting);
        }
        let rate = q.rate.load(SeqCst);
        let arrived = i64::try_from(call.arrived.0).unwrap_or(i64::MAX / 2);
        let key = WaitKey {
            neg_key: key.neg_key.saturating_add(
                rate.saturating_sub(aging_per_minute)
                    .saturating_mul(arrived),
            ),
            seq: key.seq,
            lane: Lane::of(call.channel),
        };
        self.seq.fetch_max(key.seq.saturating_add(1), SeqCst);
        let mut index = self
            .waiting
            .entry(Arc::clone(&call.call_id))
            .or_insert((queue, key));
        q.list(key.lane).insert(key, call, rate);
        *index = (queue, key);
        Ok(())
    }

    /// Puts a call kept for one agent back. An agent who is not back, or no longer serves
    /// the queue, is not waited for: the call joins its queue.
    pub fn restore_promise(
        &self,
        queue: QueueId,
        agent_id: &str,
        until: Millis,
        call: WaitingCall,
        now: Millis,
    ) -> Result<Placed, AcdError> {
        self.queue(queue)?;
        let keeps = self
            .agent(agent_id)
            .is_some_and(|a| a.state() != AgentState::LoggedOut && a.serves(queue));
        if !keeps {
            return self.enqueue(queue, call, now);
        }
        self.keep_for(agent_id, queue, call, until);
        Ok(Placed::Waiting { position: 1 })
    }

    /// Gives an agent back the call they were offered (`connected` false) or were on.
    /// An agent who is not back, or already holds another call, cannot take it: the
    /// error says so and the caller puts the call back in its queue.
    pub fn restore_held(
        &self,
        agent_id: &str,
        queue: QueueId,
        call: WaitingCall,
        connected: bool,
        since: Millis,
    ) -> Result<Assignment, AcdError> {
        self.queue(queue)?;
        let agent = self.agent(agent_id).ok_or(AcdError::UnknownAgent)?;
        if Lane::of(call.channel) != Lane::Voice {
            return self.restore_item(&agent, queue, call, connected, since);
        }
        let mut holding = lock(&agent.holding);
        if holding.is_some() {
            return Err(AcdError::NotHolding);
        }
        let to = if connected {
            AgentState::OnCall
        } else {
            AgentState::Reserved
        };
        if !agent.transition(AgentState::Available, to, since) {
            return Err(AcdError::IllegalTransition {
                from: agent.state().as_str(),
                to: to.as_str(),
            });
        }
        *holding = Some((call.clone(), queue));
        drop(holding);
        agent.confirm_voice();
        self.held
            .insert(Arc::clone(&call.call_id), Arc::clone(&agent));
        Ok(Assignment { call, queue, agent })
    }

    /// Offers every available agent the best call waiting for them; after a restart this
    /// brings together calls and agents that were both free when the process stopped.
    pub fn offer_idle(&self, now: Millis) -> Vec<Assignment> {
        let idle: Vec<Arc<Agent>> = self
            .agents
            .iter()
            .filter(|a| a.state().staffed())
            .map(|a| Arc::clone(a.value()))
            .collect();
        idle.iter().flat_map(|a| self.freed(a, now)).collect()
    }
}
