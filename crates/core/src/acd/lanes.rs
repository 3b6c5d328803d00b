//! Capacity per channel: the lanes of an agent's work, how much of each they may hold,
//! the cross-channel rules (blocking and mixing caps), and the atomic claim of one unit.
//!
//! Voice, video and callbacks are all the agent on the phone, so they share the voice
//! lane, which the agent's state machine (available, reserved, on call, wrap-up) is. Chat,
//! email and social work are counted in the same word as that state, so that one
//! compare-and-swap checks every rule against everything the agent holds at that instant:
//! two claims can never together break a limit, a block or a mixing cap.
//!
//! The voice lane counts as held from the moment a call is given to a claimed agent
//! (the `VOICE_HELD` bit, set by [`Agent::confirm_voice`]) until the agent is free of it
//! (available, not ready or logged out). A claim made only to look for a call does not
//! count: otherwise a chat arriving while an agent looks for a voice call would find them
//! blocked by a call that does not exist.

use std::sync::atomic::Ordering::SeqCst;

use super::{Agent, AgentState, EPOCH_MASK};
use crate::Millis;
pub use crate::capacity::{LANES, Lane, LaneRules, LaneSet, Limits, MAX_PER_LANE};

/// Bits of the agent's word: the state in the top byte, then the voice-held bit, then
/// six bits of count for each of chat, email and social, then the epoch.
const COUNT_BITS: u32 = 6;
const COUNT_SHIFT: u32 = 37;
pub(super) const VOICE_HELD: u64 = 1 << 55;
pub(super) const COUNTS_MASK: u64 = ((1 << (3 * COUNT_BITS)) - 1) << COUNT_SHIFT;
const _: () = assert!(COUNT_SHIFT + 3 * COUNT_BITS == 55);
const _: () = assert!(EPOCH_MASK == (1 << COUNT_SHIFT) - 1);
const _: () = assert!((MAX_PER_LANE as u64) < (1 << COUNT_BITS));

/// Where a non-voice lane's count sits in the agent's word.
fn shift(lane: Lane) -> u32 {
    debug_assert!(lane != Lane::Voice);
    COUNT_SHIFT + COUNT_BITS * (lane as u32 - 1)
}

/// The work held per lane, read off a word.
pub(super) fn held(word: u64) -> [u8; LANES] {
    let mut out = [0; LANES];
    out[0] = u8::from(word & VOICE_HELD != 0);
    for lane in [Lane::Chat, Lane::Email, Lane::Social] {
        out[lane.index()] = ((word >> shift(lane)) & ((1 << COUNT_BITS) - 1)) as u8;
    }
    out
}

/// The state a word holds.
fn state_of(word: u64) -> AgentState {
    AgentState::from_bits(word >> 56)
}

impl Agent {
    /// Work held per lane now.
    pub fn held(&self) -> [u8; LANES] {
        held(self.word.load(SeqCst))
    }

    /// What the agent may hold per lane.
    pub fn limits(&self) -> Limits {
        self.profile.capacity
    }

    /// Whether the agent could take one more unit of `lane` now: at their desk, and the
    /// unit fits their limits and the cross-channel rules.
    pub fn can_take(&self, lane: Lane) -> bool {
        let word = self.word.load(SeqCst);
        self.fits(word, lane)
    }

    fn fits(&self, word: u64, lane: Lane) -> bool {
        let desk = state_of(word);
        let at_desk = !matches!(desk, AgentState::NotReady | AgentState::LoggedOut);
        at_desk && self.rules.load().admits(self.limits(), held(word), lane)
    }

    /// Claims one unit of a chat, email or social lane, by one compare-and-swap that
    /// checks the limits and rules against everything held at that instant.
    pub(super) fn claim_unit(&self, lane: Lane) -> bool {
        debug_assert!(lane != Lane::Voice);
        let mut current = self.word.load(SeqCst);
        loop {
            if !self.fits(current, lane) {
                return false;
            }
            let next = bump(current + (1 << shift(lane)));
            match self.word.compare_exchange(current, next, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }

    /// Takes one unit of a lane back after a restart, whatever the desk's state (an agent
    /// not ready keeps the chats they had), within the lane's limit only.
    pub(super) fn hold_unit(&self, lane: Lane) -> bool {
        debug_assert!(lane != Lane::Voice);
        self.word
            .fetch_update(SeqCst, SeqCst, |w| {
                (held(w)[lane.index()] < self.limits().get(lane))
                    .then(|| bump(w + (1 << shift(lane))))
            })
            .is_ok()
    }

    /// Gives back one unit of a chat, email or social lane.
    pub(super) fn release_unit(&self, lane: Lane) {
        debug_assert!(lane != Lane::Voice);
        let _ = self.word.fetch_update(SeqCst, SeqCst, |w| {
            (held(w)[lane.index()] > 0).then(|| bump(w - (1 << shift(lane))))
        });
    }

    /// For an agent claimed (reserved) to look for a voice call: marks the voice lane
    /// held, if the rules let a voice call in beside the rest of their work now. The
    /// caller gives them the call only if this succeeds.
    pub(super) fn confirm_voice(&self) -> bool {
        let mut current = self.word.load(SeqCst);
        loop {
            if state_of(current) != AgentState::Reserved || current & VOICE_HELD != 0 {
                return current & VOICE_HELD != 0;
            }
            if !self.fits(current, Lane::Voice) {
                return false;
            }
            match self
                .word
                .compare_exchange(current, bump(current | VOICE_HELD), SeqCst, SeqCst)
            {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }

    /// The oldest place in a lane's idle lists that still stands for the agent: set when
    /// they were listed in all their queues at once (having had no room, or been away).
    pub(super) fn lane_floor(&self, lane: Lane) -> u64 {
        self.lane_floor[lane.index()].load(SeqCst)
    }

    /// A new place in a lane's idle lists, later than any before.
    pub(super) fn stamp_lane(&self, lane: Lane, now: Millis) -> u64 {
        let slot = &self.lane_stamp[lane.index()];
        let mut old = slot.load(SeqCst);
        loop {
            let next = now.0.max(old + 1);
            match slot.compare_exchange(old, next, SeqCst, SeqCst) {
                Ok(_) => return next,
                Err(seen) => old = seen,
            }
        }
    }

    /// Makes every place older than `stamp` in a lane's idle lists stale.
    pub(super) fn raise_lane_floor(&self, lane: Lane, stamp: u64) {
        self.lane_floor[lane.index()].fetch_max(stamp, SeqCst);
    }
}

/// A word with its epoch moved on (wrapping within its bits).
fn bump(word: u64) -> u64 {
    (word & !EPOCH_MASK) | ((word + 1) & EPOCH_MASK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_back_as_written_beside_the_state_and_epoch() {
        let mut w = (AgentState::OnCall as u64) << 56 | VOICE_HELD | 12345;
        w += 3 << shift(Lane::Chat);
        w += 31 << shift(Lane::Social);
        assert_eq!(held(w), [1, 3, 0, 31]);
        assert_eq!(state_of(w), AgentState::OnCall);
        assert_eq!(bump(w) & EPOCH_MASK, 12346);
        assert_eq!(
            held(bump(w | EPOCH_MASK)),
            [1, 3, 0, 31],
            "the epoch wraps alone"
        );
    }
}
