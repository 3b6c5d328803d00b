//! The agents' side of the simulated day: shifts and stretches at the desk, breaks,
//! offers they let ring out, and the time they spend at the desk and busy.

use switchboard_core::{
    Millis,
    acd::{AgentProfile, AgentState},
};

use super::{Event, Sim};
use crate::Scenario;

impl Sim<'_> {
    /// An agent's stretch at the desk starts (they log in the first time).
    pub(super) fn shift_start(&mut self, i: u32, to: u64, now: Millis) {
        let (g, id) = self.agents[i as usize].clone();
        let group = &self.scenario.agents[g];
        self.staffed(now.0, to);
        // Back for another stretch while still finishing a call from the last
        // one: they simply stay.
        self.leaving.remove(&id);
        self.off_shift.remove(&id);
        let acd = self.router.acd();
        if acd.agent(&id).is_none() {
            let profile = AgentProfile {
                id: id.clone(),
                endpoint: format!("sip:{id}@sim"),
                skills: group.skills.clone(),
                tags: group.tags.clone(),
                capacity: group.capacity,
            };
            if acd.log_in(profile, now).is_err() {
                return;
            }
        }
        if let Ok(made) = acd.ready(&id, now) {
            self.assigned(made, now);
        }
    }

    /// An agent's stretch ends: not ready now, or once their call ends.
    pub(super) fn shift_end(&mut self, i: u32, now: Millis) {
        let id = self.agents[i as usize].1.clone();
        self.off_shift.insert(id.clone());
        let acd = self.router.acd();
        if acd.not_ready(&id, "shift over", now).is_err() || self.held.contains_key(&id) {
            // On a call: they go once it ends.
            self.leaving.insert(id);
        }
    }

    /// An agent steps away for a break, or once their call ends.
    pub(super) fn break_start(&mut self, i: u32, now: Millis) {
        let id = self.agents[i as usize].1.clone();
        if self.leaving.contains(&id) {
            return;
        }
        if self.router.acd().not_ready(&id, "break", now).is_ok() {
            self.away_since.insert(id, now.0);
        } else {
            // On a call: the break starts once it ends.
            self.break_due.insert(id);
        }
    }

    /// An agent is back from a break.
    pub(super) fn break_end(&mut self, i: u32, now: Millis) {
        let id = self.agents[i as usize].1.clone();
        self.break_due.remove(&id);
        if let Some(since) = self.away_since.remove(&id) {
            spread(
                &mut self.occupancy.away_s,
                self.scenario,
                since,
                now.0.min(self.end_ms),
            );
            if !self.leaving.contains(&id)
                && let Ok(made) = self.router.acd().ready(&id, now)
            {
                self.assigned(made, now);
            }
        }
    }

    /// An offer rang out at an agent who did not answer it: the call goes back to its
    /// queue, the agent on (not ready after too many, and ready again a while later).
    pub(super) fn no_answer(&mut self, n: u32, now: Millis) {
        let Some(agent) = self.ringing.remove(&n) else {
            return;
        };
        let id = Self::call_id(n);
        // An agent due to leave or to step away goes now, not to another call.
        let going = self.leaving.contains(&agent) || self.break_due.remove(&agent);
        let limit = if going {
            1
        } else {
            self.scenario.no_answers_before_not_ready
        };
        if let Ok(made) = self.router.acd().no_answer(&agent, &id, limit, now) {
            self.calls[n as usize].missed += 1;
            self.let_go(&agent, now);
            if going && !self.leaving.contains(&agent) {
                self.away_since.insert(agent.clone(), now.0);
            }
            let away = self
                .router
                .acd()
                .agent(&agent)
                .is_some_and(|a| a.state() == AgentState::NotReady);
            if away
                && !going
                && let Some(&i) = self.agent_index.get(&agent)
            {
                let back = now.0 + self.scenario.ready_after_missed.as_millis() as u64;
                self.at(back, Event::ReadyAgain(i));
            }
            self.assigned(made, now);
        }
    }

    /// An agent put not ready by missed offers says ready again (if still on shift and
    /// not on a break).
    pub(super) fn ready_again(&mut self, i: u32, now: Millis) {
        let id = self.agents[i as usize].1.clone();
        let acd = self.router.acd();
        let missed_out = acd
            .agent(&id)
            .is_some_and(|a| a.state() == AgentState::NotReady);
        if missed_out
            && !self.off_shift.contains(&id)
            && !self.away_since.contains_key(&id)
            && let Ok(made) = acd.ready(&id, now)
        {
            self.assigned(made, now);
        }
    }

    /// Counts an agent's time at the desk from `from` to `to` into the intervals.
    pub(super) fn staffed(&mut self, from: u64, to: u64) {
        let to = to.min(self.end_ms);
        spread(&mut self.occupancy.staffed_s, self.scenario, from, to);
    }

    /// The agent took a piece of work (offered, ringing or connected).
    pub(super) fn hold(&mut self, agent: &str, now: Millis) {
        self.held.entry(agent.to_owned()).or_insert((0, now.0)).0 += 1;
    }

    /// The agent let a piece of work go; busy time runs while they hold any.
    pub(super) fn let_go(&mut self, agent: &str, now: Millis) {
        let Some(entry) = self.held.get_mut(agent) else {
            return;
        };
        entry.0 -= 1;
        if entry.0 == 0 {
            let from = entry.1;
            self.held.remove(agent);
            spread(
                &mut self.occupancy.busy_s,
                self.scenario,
                from,
                now.0.min(self.end_ms),
            );
        }
    }
}

/// Adds the seconds of `[from, to)` to the intervals they fall in.
pub(super) fn spread(into: &mut [f64], scenario: &Scenario, from: u64, to: u64) {
    let interval = scenario.interval.as_millis() as u64;
    let mut t = from.max(scenario.start_ms);
    while t < to {
        let i = ((t - scenario.start_ms) / interval) as usize;
        let Some(slot) = into.get_mut(i) else {
            return;
        };
        let end = (scenario.start_ms + (i as u64 + 1) * interval).min(to);
        *slot += (end - t) as f64 / 1_000.0;
        t = end;
    }
}
