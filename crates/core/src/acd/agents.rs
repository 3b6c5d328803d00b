//! Agents: log-in with the queues their skills qualify them for, ready, not ready and
//! log-out, and the one atomic step every state change takes.

use super::*;

impl Acd {
    pub fn agent(&self, id: &str) -> Option<Arc<Agent>> {
        self.agents.get(id).map(|a| Arc::clone(&a))
    }

    /// Logs an agent in, not ready. A second log-in replaces the profile only from
    /// logged out; otherwise it is an illegal transition.
    pub fn log_in(&self, profile: AgentProfile, now: Millis) -> Result<Arc<Agent>, AcdError> {
        if let Some(old) = self.agent(&profile.id) {
            let state = old.state();
            if state != AgentState::LoggedOut {
                return Err(AcdError::IllegalTransition {
                    from: state.as_str(),
                    to: "logged in",
                });
            }
        }
        let _membership = lock(&self.membership);
        let agent = Arc::new(self.new_agent(profile, AgentState::NotReady, now, now));
        self.enroll(&agent, true);
        Ok(agent)
    }

    /// A new agent record in `state` since `since`, with the queues their skills qualify
    /// for under the current policies. Call with the membership lock held.
    pub(super) fn new_agent(
        &self,
        profile: AgentProfile,
        state: AgentState,
        since: Millis,
        logged_in: Millis,
    ) -> Agent {
        let routing = self.eligibility(&profile, &self.policies());
        Agent {
            profile,
            word: AtomicU64::new(pack(state, 0)),
            since: AtomicU64::new(since.0),
            idle_since: AtomicU64::new(since.0),
            wrap_up_until: AtomicU64::new(0),
            logged_in,
            busy_ms: AtomicU64::new(0),
            missed: AtomicU32::new(0),
            routing: ArcSwap::from_pointee(routing),
            reason: Mutex::new(None),
            holding: Mutex::new(None),
            staffing: Arc::clone(&self.staffing),
            no: self.agent_no.fetch_add(1, SeqCst),
            listed: Mutex::new(None),
            rules: Arc::clone(&self.rules),
            lane_stamp: std::array::from_fn(|_| AtomicU64::new(since.0)),
            lane_floor: std::array::from_fn(|_| AtomicU64::new(since.0)),
            items: Mutex::new(Vec::new()),
        }
    }

    /// Makes `agent` the ACD's agent of their id (replacing any), and with `member` a
    /// member of their queues. Call with the membership lock held.
    pub(super) fn enroll(&self, agent: &Arc<Agent>, member: bool) {
        if member {
            for (q, _) in &agent.routing.load().queues {
                let mut members = self
                    .at(*q)
                    .members
                    .write()
                    .unwrap_or_else(|e| e.into_inner());
                members.retain(|a| a.profile.id != agent.profile.id);
                members.push(Arc::clone(agent));
            }
        }
        self.staffing.fetch_add(1, SeqCst);
        self.agents
            .insert(agent.profile.id.clone().into_boxed_str(), Arc::clone(agent));
    }

    /// The agent is ready for work: marks them available, then offers them the best
    /// waiting call across their queues, and the work of their other lanes that fits.
    pub fn ready(&self, agent_id: &str, now: Millis) -> Result<Vec<Assignment>, AcdError> {
        let agent = self.agent(agent_id).ok_or(AcdError::UnknownAgent)?;
        let from = agent.state();
        match from {
            AgentState::NotReady | AgentState::WrapUp => {
                *lock(&agent.reason) = None;
                agent.missed.store(0, SeqCst);
                // Lost to another ready for the same agent: available all the same.
                if !agent.transition(from, AgentState::Available, now)
                    && agent.state() != AgentState::Available
                {
                    return Err(AcdError::IllegalTransition {
                        from: agent.state().as_str(),
                        to: "available",
                    });
                }
            }
            AgentState::Available => {}
            other => {
                return Err(AcdError::IllegalTransition {
                    from: other.as_str(),
                    to: "available",
                });
            }
        }
        Ok(self.freed(&agent, now))
    }

    /// The agent steps away: from available, wrap-up or not ready (a new reason).
    pub fn not_ready(&self, agent_id: &str, reason: &str, now: Millis) -> Result<(), AcdError> {
        let agent = self.agent(agent_id).ok_or(AcdError::UnknownAgent)?;
        let from = agent.state();
        match from {
            AgentState::NotReady => {}
            AgentState::Available | AgentState::WrapUp => {
                self.step(&agent, from, AgentState::NotReady, now)?
            }
            other => {
                return Err(AcdError::IllegalTransition {
                    from: other.as_str(),
                    to: "not_ready",
                });
            }
        }
        *lock(&agent.reason) = Some(reason.into());
        Ok(())
    }

    /// The agent logs out; not while offered or on a call, or holding chats, emails or
    /// social items (wrap-ups included).
    pub fn log_out(&self, agent_id: &str, now: Millis) -> Result<(), AcdError> {
        let agent = self.agent(agent_id).ok_or(AcdError::UnknownAgent)?;
        let from = agent.state();
        if !lock(&agent.items).is_empty() {
            return Err(AcdError::IllegalTransition {
                from: "holding work",
                to: "logged_out",
            });
        }
        match from {
            AgentState::Available | AgentState::WrapUp | AgentState::NotReady => {
                self.step(&agent, from, AgentState::LoggedOut, now)?;
            }
            other => {
                return Err(AcdError::IllegalTransition {
                    from: other.as_str(),
                    to: "logged_out",
                });
            }
        }
        let _membership = lock(&self.membership);
        self.unlist_idle(&agent);
        for (q, _) in &agent.routing.load().queues {
            let members = &self.at(*q).members;
            members
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|a| !Arc::ptr_eq(a, &agent));
        }
        self.staffing.fetch_add(1, SeqCst);
        Ok(())
    }

    /// Every agent that ever logged in, by id.
    pub fn agents(&self) -> Vec<Arc<Agent>> {
        let mut all: Vec<Arc<Agent>> = self.agents.iter().map(|a| Arc::clone(a.value())).collect();
        all.sort_by(|a, b| a.profile.id.cmp(&b.profile.id));
        all
    }

    /// The agent, if they hold `call_id`.
    pub(super) fn holder(&self, agent_id: &str, call_id: &str) -> Result<Arc<Agent>, AcdError> {
        let agent = self.agent(agent_id).ok_or(AcdError::UnknownAgent)?;
        if agent.call().as_deref() != Some(call_id) && !agent.holds_item(call_id) {
            return Err(AcdError::NotHolding);
        }
        Ok(agent)
    }

    pub(super) fn step(
        &self,
        agent: &Agent,
        from: AgentState,
        to: AgentState,
        now: Millis,
    ) -> Result<(), AcdError> {
        if agent.transition(from, to, now) {
            Ok(())
        } else {
            Err(AcdError::IllegalTransition {
                from: agent.state().as_str(),
                to: to.as_str(),
            })
        }
    }

    /// Every queue's policy now, in id order.
    pub(super) fn policies(&self) -> Vec<Arc<Queue>> {
        self.slots().map(|(_, q)| q.spec.load_full()).collect()
    }

    /// The queues an agent's skills qualify for under the current policies (retired
    /// queues are served by nobody), and those they may help once calls have waited.
    pub(super) fn eligibility(&self, profile: &AgentProfile, specs: &[Arc<Queue>]) -> AgentQueues {
        let queues = specs
            .iter()
            .enumerate()
            .filter_map(|(i, spec)| {
                let id = QueueId(i as u16);
                if spec.retired {
                    return None;
                }
                let mut score = 0u16;
                for (skill, min) in &spec.skills {
                    let have = profile
                        .skills
                        .iter()
                        .find(|(s, _)| s == skill)
                        .map(|(_, p)| *p)?;
                    if have < *min {
                        return None;
                    }
                    score += u16::from(have);
                }
                Some((id, score))
            })
            .collect::<Vec<(QueueId, u16)>>();
        let overflow_in = Self::overflow_eligibility(profile, &queues, specs);
        AgentQueues {
            queues,
            overflow_in,
        }
    }

    /// For each queue the agent does not serve, the wait after which one of its overflow
    /// steps lets them take its calls (lowered skill minimums, or serving an `also` queue).
    pub(super) fn overflow_eligibility(
        profile: &AgentProfile,
        serves: &[(QueueId, u16)],
        specs: &[Arc<Queue>],
    ) -> Vec<(QueueId, std::time::Duration)> {
        let proficiency = |skill: &str| {
            profile
                .skills
                .iter()
                .find(|(s, _)| s == skill)
                .map(|(_, p)| *p)
        };
        specs
            .iter()
            .enumerate()
            .map(|(i, spec)| (QueueId(i as u16), spec))
            .filter(|(id, _)| !serves.iter().any(|(q, _)| q == id))
            .filter_map(|(id, spec)| {
                if spec.retired || spec.overflow.is_empty() {
                    return None;
                }
                let step = spec.overflow.iter().find(|step| {
                    let skilled = step.min_proficiency.is_some_and(|min| {
                        spec.skills
                            .iter()
                            .all(|(s, _)| proficiency(s).is_some_and(|p| p >= min))
                    });
                    let via_also = step.also.iter().any(|a| serves.iter().any(|(q, _)| q == a));
                    skilled || via_also
                })?;
                Some((id, step.after))
            })
            .collect()
    }
}
