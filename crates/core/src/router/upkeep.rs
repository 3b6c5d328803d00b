//! Calls that end without reaching an agent's hands through the usual events: a caller
//! who hangs up at a menu (reported by the switch, or never reported and silent past
//! `calls.menu_timeout`), and calls the switch never reports on again (forgotten after
//! `calls.forget_after`). Each leaves memory at once with its final image, for its call
//! detail record.
//!
//! Upkeep finds them without walking every call in memory: each call is listed by the
//! time it began, and again by the time of each decision that leaves it at a menu
//! ([`Deadlines`]). Upkeep takes from the front of those lists only what is older than
//! its cutoffs, and looks at each such call again (a later decision, or a callback
//! scheduled for later, makes an entry stale), so its work follows what expires.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashSet, VecDeque},
    sync::{Arc, Mutex},
};

use super::{Action, CallState, Forgotten, Outcome, Router};
use crate::clock::Millis;

/// Call ids of calls hung up at a menu lately, so a repeat of the switch's report is
/// acknowledged as such rather than refused as an unknown call. A ring: memory stays
/// the same however many callers hang up.
#[derive(Debug, Default)]
pub(super) struct RecentHangUps(Mutex<Ring>);

/// The ids in the order they came, and the same ids to look up.
#[derive(Debug, Default)]
struct Ring {
    order: VecDeque<Arc<str>>,
    ids: HashSet<Arc<str>>,
}

/// Hang-ups remembered; a switch repeats a report within seconds, not thousands of calls.
const REMEMBERED_HANG_UPS: usize = 4_096;

impl RecentHangUps {
    fn remember(&self, call_id: &Arc<str>) {
        let mut ring = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !ring.ids.insert(Arc::clone(call_id)) {
            return;
        }
        ring.order.push_back(Arc::clone(call_id));
        if ring.order.len() > REMEMBERED_HANG_UPS
            && let Some(old) = ring.order.pop_front()
        {
            ring.ids.remove(&old);
        }
    }

    fn contains(&self, call_id: &str) -> bool {
        let ring = self.0.lock().unwrap_or_else(|e| e.into_inner());
        ring.ids.contains(call_id)
    }
}

/// Call ids by a time, earliest first, in shards so that routing threads rarely meet on
/// one lock. An entry is a hint (the call may have moved on since), checked when taken.
#[derive(Debug)]
pub(super) struct Deadlines(Box<[Mutex<Earliest>]>);

/// Entries by time, the earliest on top.
type Earliest = BinaryHeap<Reverse<(Millis, Arc<str>)>>;

const DEADLINE_SHARDS: usize = 16;

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines((0..DEADLINE_SHARDS).map(|_| Mutex::default()).collect())
    }
}

impl Deadlines {
    pub(super) fn push(&self, at: Millis, id: &Arc<str>) {
        // By the id's address: spread, and no hashing of its text.
        let shard = (Arc::as_ptr(id).cast::<u8>() as usize >> 4) % self.0.len();
        let mut heap = self.0[shard].lock().unwrap_or_else(|e| e.into_inner());
        heap.push(Reverse((at, Arc::clone(id))));
    }

    /// Takes every entry before `cutoff`.
    fn take_before(&self, cutoff: Millis) -> Vec<(Millis, Arc<str>)> {
        let mut out = Vec::new();
        for shard in self.0.iter() {
            let mut heap = shard.lock().unwrap_or_else(|e| e.into_inner());
            while heap.peek().is_some_and(|Reverse((at, _))| *at < cutoff) {
                if let Some(Reverse(entry)) = heap.pop() {
                    out.push(entry);
                }
            }
        }
        out
    }

    /// Entries held, stale ones included.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.0
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
}

/// When a call began, for forgetting it: a scheduled callback counts from the time it
/// was scheduled for, not its call's.
pub(super) fn began(s: &CallState) -> Millis {
    s.record
        .as_ref()
        .and_then(|r| r.callback_due)
        .map_or(s.created(), |due| due.max(s.created()))
}

/// A call that ended at a menu.
#[derive(Debug)]
pub struct HungUp {
    /// The call's last image, outcome `abandoned_in_menu`.
    pub call: super::CallImage,
    /// The menu the caller was at.
    pub menu: String,
}

pub(super) fn at_menu(state: &CallState) -> bool {
    matches!(state.current.action, Action::PlayMenu { .. })
}

fn menu_of(state: &CallState) -> String {
    match state.current.action {
        Action::PlayMenu { menu, .. } => state.plan.menu(menu).name.clone(),
        Action::Enqueue { .. } => String::new(),
    }
}

impl Router {
    /// The caller hung up while the call was at a menu: the call ends there (outcome
    /// `abandoned_in_menu`, with the menu answers so far) and leaves memory. `None` when
    /// the call is not at a menu.
    pub fn hang_up_at_menu(&self, call_id: &str, now: Millis) -> Option<HungUp> {
        let (id, mut state) = self.calls.remove_if(call_id, |_, s| at_menu(s))?;
        let menu = menu_of(&state);
        let record = state.record.get_or_insert_with(Box::default);
        record.outcome = Some(Outcome::AbandonedInMenu);
        record.ended = Some(now);
        self.hang_ups.remember(&id);
        Some(HungUp {
            call: self.image_of(&id, &state, &self.plan.load()),
            menu,
        })
    }

    /// Whether a call hung up at a menu lately (and so is no longer known).
    pub fn hung_up_at_menu(&self, call_id: &str) -> bool {
        self.hang_ups.contains(call_id)
    }

    /// Forgets calls that began before `cutoff`, whatever their state (the switch never
    /// reported their end), and calls still at a menu whose last decision came before
    /// `menu_cutoff` (the caller hung up unreported). A forgotten call stops waiting, and
    /// an agent still holding it is freed (an offered agent becomes available, one on the
    /// call wraps up), so no agent stays stuck on a call that is over. Returns each call's
    /// last image, with outcome `expired` where none was reported, and the assignments
    /// freed agents made.
    pub fn forget_calls(&self, cutoff: Millis, menu_cutoff: Millis, now: Millis) -> Forgotten {
        let silent = |s: &CallState| at_menu(s) && s.decided < menu_cutoff;
        let mut due: Vec<Arc<str>> = Vec::new();
        for (_, id) in self.began.take_before(cutoff) {
            let Some(began) = self.calls.get(&id).map(|s| began(&s)) else {
                continue; // Gone already.
            };
            if began < cutoff {
                due.push(id);
            } else {
                // A callback scheduled for later: listed again by its time.
                self.began.push(began, &id);
            }
        }
        for (_, id) in self.at_menu.take_before(menu_cutoff) {
            // A call that moved on has no business here; one at a menu again since has a
            // later entry.
            if self.calls.get(&id).is_some_and(|s| silent(&s)) {
                due.push(id);
            }
        }
        due.sort_unstable();
        due.dedup();
        let mut out = Forgotten::default();
        let current = self.plan.load_full();
        for id in due {
            // The call leaves the distributor first, so nothing offers it meanwhile.
            self.acd.abandon(&id);
            if let Some(agent) = self.acd.holder_of(&id) {
                let agent_id = agent.profile.id.clone();
                if self.acd.is_connected(&id) {
                    let _ = self.acd.ended(&agent_id, &id, now);
                } else {
                    out.assignments
                        .extend(self.acd.withdraw_offer(&id, now).ok().into_iter().flatten());
                }
                out.agents.push(Arc::from(agent_id.as_str()));
            }
            // Looked at again as it goes: an answer may have moved it on from the menu.
            let gone = self
                .calls
                .remove_if(&id, |_, s| s.created() < cutoff || silent(s));
            if let Some((_, mut state)) = gone {
                if state.created() >= cutoff {
                    out.silent_at.push(menu_of(&state));
                }
                let record = state.record.get_or_insert_with(Box::default);
                if record.outcome.is_none() {
                    record.outcome = Some(Outcome::Expired);
                    record.ended = Some(now);
                }
                out.calls.push(self.image_of(&id, &state, &current));
            }
        }
        out
    }

    /// [`Router::forget_calls`] by age alone.
    pub fn forget_calls_before(&self, cutoff: Millis, now: Millis) -> Forgotten {
        self.forget_calls(cutoff, Millis(0), now)
    }
}
