//! The idle agents of one queue, kept in the orders a claim needs, so that a call meets
//! its agent in a few map steps instead of a walk over every member.
//!
//! An agent is listed in each queue they serve when they become idle with nothing to
//! take (see `Acd::release_empty_claim`), under the time they became idle. An entry is
//! current while its agent is available with that same `since`; any other entry is
//! stale and is dropped where a claim meets it. Listing only inserts, so that going idle
//! costs one insert per map; stale entries a claim never meets are swept out once the
//! inserts since the last sweep reach half the map, which keeps a map under twice its
//! current entries plus a constant, at a constant cost per insert.
//!
//! Each lane of a queue has its own list. In the voice lane an agent is idle while
//! available; in the chat, email and social lanes while they have room for one more unit
//! of it. An agent with room and nothing to take is listed in all their queues at a new
//! place (`Agent::stamp_lane`), which makes their older places stale; an agent who takes
//! work from a queue and still has room goes to the back of that queue's list only (so
//! that, longest idle first, a queue's work spreads over its agents before anyone takes a
//! second chat), keeping their places in their other queues. Only the map the claim took
//! them from gets a new entry (`IdleAgents::list_back`): their entries in the others
//! stand, and stay current while they have room.

use std::{collections::BTreeMap, sync::Arc};

use super::{Agent, AgentState, RAPPORT, lanes::Lane};
use crate::{Millis, Preference, plan::Strategy};

/// Where an entry sorts: `rank` first (the strategy's measure), then the time the agent
/// became idle, then log-in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct IdleKey {
    rank: u64,
    since: u64,
    no: u32,
}

/// An entry: the `since` it was listed under, and the agent.
type Entry = (u64, Arc<Agent>);

#[derive(Debug)]
pub(super) struct IdleAgents {
    strategy: Strategy,
    lane: Lane,
    /// Every listed agent in the strategy's order.
    order: BTreeMap<IdleKey, Entry>,
    /// The same agents most skilled first, for `get_it_done` callers (empty when the
    /// strategy is `most_skilled`, since `order` is that order).
    skilled: BTreeMap<IdleKey, Entry>,
    /// Agents tagged `rapport`, in the strategy's order, for `friendly_chat` callers.
    rapport: BTreeMap<IdleKey, Entry>,
    /// Round robin: the place of the agent who had the last turn.
    last_turn: Option<IdleKey>,
    /// Listings since the last sweep of stale entries.
    inserts: usize,
}

/// Listings allowed between sweeps on top of half the map.
pub(super) const SWEEP_SLACK: usize = 64;

/// Which of a list's maps a claim took its agent from.
#[derive(Clone, Copy, Debug)]
pub(super) enum Map {
    Order,
    Skilled,
    Rapport,
}

/// Whether an entry listed under `since` still stands for its agent in `lane`.
fn current(lane: Lane, since: u64, agent: &Agent) -> bool {
    match lane {
        Lane::Voice => {
            agent.state() == AgentState::Available && agent.since.load(super::SeqCst) == since
        }
        other => since >= agent.lane_floor(other) && agent.can_take(other),
    }
}

impl IdleAgents {
    pub(super) fn new(strategy: Strategy, lane: Lane) -> Self {
        IdleAgents {
            strategy,
            lane,
            order: BTreeMap::new(),
            skilled: BTreeMap::new(),
            rapport: BTreeMap::new(),
            last_turn: None,
            inserts: 0,
        }
    }

    /// Entries held, stale ones included (for tests of the bound).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.order.len() + self.skilled.len() + self.rapport.len()
    }

    fn skill_key(score: u16, since: u64, no: u32) -> IdleKey {
        IdleKey {
            rank: u64::from(u16::MAX - score),
            since,
            no,
        }
    }

    fn order_key(&self, agent: &Agent, score: u16, since: u64) -> IdleKey {
        match self.strategy {
            Strategy::LongestIdle | Strategy::LeastOccupied => IdleKey {
                rank: 0,
                since,
                no: agent.no,
            },
            Strategy::MostSkilled => Self::skill_key(score, since, agent.no),
            // Log-in order, whatever the idle time: the key stays put between turns.
            Strategy::RoundRobin => IdleKey {
                rank: agent.logged_in.0,
                since: 0,
                no: agent.no,
            },
        }
    }

    fn map(&mut self, which: Map) -> &mut BTreeMap<IdleKey, Entry> {
        match which {
            Map::Order => &mut self.order,
            Map::Skilled if self.strategy == Strategy::MostSkilled => &mut self.order,
            Map::Skilled => &mut self.skilled,
            Map::Rapport => &mut self.rapport,
        }
    }

    /// Lists `agent` (score `score` in this queue) as idle since `since`. Their earlier
    /// entries are stale from now on.
    pub(super) fn list(&mut self, agent: &Arc<Agent>, score: u16, since: u64) {
        let rapport = agent.profile.tags.iter().any(|t| t == RAPPORT);
        let key = self.order_key(agent, score, since);
        if self.strategy != Strategy::MostSkilled {
            self.skilled.insert(
                Self::skill_key(score, since, agent.no),
                (since, Arc::clone(agent)),
            );
        }
        if rapport {
            self.rapport.insert(key, (since, Arc::clone(agent)));
        }
        self.order.insert(key, (since, Arc::clone(agent)));
        self.inserts += 1;
        if self.inserts > self.order.len() / 2 + SWEEP_SLACK {
            self.sweep();
        }
    }

    /// Lists again, at the back, an agent a claim took from map `taken` who still has
    /// room: only that map's entry was taken, so only it is put back; their entries in
    /// the other maps stand (and stay current while they have room).
    pub(super) fn list_back(&mut self, agent: &Arc<Agent>, score: u16, since: u64, taken: Map) {
        let key = match taken {
            Map::Skilled => Self::skill_key(score, since, agent.no),
            Map::Order | Map::Rapport => self.order_key(agent, score, since),
        };
        self.map(taken).insert(key, (since, Arc::clone(agent)));
        self.inserts += 1;
        if self.inserts > self.order.len() / 2 + SWEEP_SLACK {
            self.sweep();
        }
    }

    /// Drops every stale entry.
    pub(super) fn sweep(&mut self) {
        let lane = self.lane;
        for map in [&mut self.order, &mut self.skilled, &mut self.rapport] {
            map.retain(|_, (since, agent)| current(lane, *since, agent));
        }
        self.inserts = 0;
    }

    /// Claims (available to reserved, or one unit of a lane) the idle agent a call with preference `wants`
    /// should meet: the strategy's choice, except that `get_it_done` means the most
    /// skilled and `friendly_chat` takes an agent tagged `rapport` first. Stale entries
    /// met on the way are dropped.
    pub(super) fn claim(&mut self, wants: Preference, now: Millis) -> Option<Arc<Agent>> {
        self.claim_from(wants, now).map(|(agent, _)| agent)
    }

    /// [`IdleAgents::claim`], saying which map the agent's entry was taken from.
    pub(super) fn claim_from(
        &mut self,
        wants: Preference,
        now: Millis,
    ) -> Option<(Arc<Agent>, Map)> {
        match wants {
            Preference::GetItDone => self.claim_first(Map::Skilled, now),
            Preference::FriendlyChat => self
                .claim_in(Map::Rapport, now)
                .or_else(|| self.claim_in(Map::Order, now)),
            _ => self.claim_in(Map::Order, now),
        }
    }

    fn claim_in(&mut self, which: Map, now: Millis) -> Option<(Arc<Agent>, Map)> {
        match self.strategy {
            Strategy::LongestIdle | Strategy::MostSkilled => self.claim_first(which, now),
            Strategy::RoundRobin => self.claim_turn(which, now),
            Strategy::LeastOccupied => self.claim_least_occupied(which, now),
        }
    }

    /// Claims the agent of `entry` if it is current; drops it otherwise (a claimed entry
    /// is stale from now on, so it goes too).
    fn take(
        lane: Lane,
        map: &mut BTreeMap<IdleKey, Entry>,
        key: IdleKey,
        now: Millis,
    ) -> Option<Arc<Agent>> {
        let (since, agent) = map.remove(&key)?;
        let claimed = current(lane, since, &agent)
            && match lane {
                Lane::Voice => agent.transition(AgentState::Available, AgentState::Reserved, now),
                other => agent.claim_unit(other),
            };
        claimed.then_some(agent)
    }

    /// The first current entry of a map.
    fn claim_first(&mut self, which: Map, now: Millis) -> Option<(Arc<Agent>, Map)> {
        let lane = self.lane;
        let map = self.map(which);
        loop {
            let key = *map.keys().next()?;
            if let Some(agent) = Self::take(lane, map, key, now) {
                return Some((agent, which));
            }
        }
    }

    /// The first current entry after the last turn's, wrapping round to the start.
    fn claim_turn(&mut self, which: Map, now: Millis) -> Option<(Arc<Agent>, Map)> {
        use std::ops::Bound::{Excluded, Unbounded};
        let after = self.last_turn;
        let lane = self.lane;
        let map = self.map(which);
        loop {
            let next = after
                .and_then(|t| map.range((Excluded(t), Unbounded)).next())
                .or_else(|| map.iter().next())
                .map(|(k, _)| *k)?;
            if let Some(agent) = Self::take(lane, map, next, now) {
                self.last_turn = Some(next);
                return Some((agent, which));
            }
        }
    }

    /// The current entry whose agent holds the least work of the lane (for voice: none),
    /// then spent the smallest share of their logged-in time busy, then the longest idle
    /// (a walk over the listed agents: the measure moves with time, so no order can be
    /// kept for it).
    fn claim_least_occupied(&mut self, which: Map, now: Millis) -> Option<(Arc<Agent>, Map)> {
        let lane = self.lane;
        let map = self.map(which);
        loop {
            let mut stale = Vec::new();
            let best = map
                .iter()
                .filter(|(k, (since, agent))| {
                    let ok = current(lane, *since, agent);
                    if !ok {
                        stale.push(**k);
                    }
                    ok
                })
                .min_by_key(|(k, (_, a))| {
                    let logged = now.0.saturating_sub(a.logged_in.0).max(1);
                    let busy = u128::from(a.busy_ms.load(super::SeqCst)) * 1_000_000;
                    (
                        a.held()[lane.index()],
                        u64::try_from(busy / u128::from(logged)).unwrap_or(u64::MAX),
                        **k,
                    )
                })
                .map(|(k, _)| *k);
            for k in stale {
                map.remove(&k);
            }
            if let Some(agent) = Self::take(lane, map, best?, now) {
                return Some((agent, which));
            }
        }
    }
}
