//! A lane of a queue's waiting calls: an ordered map without a lock (a skip list), best
//! call first.
//!
//! **One claim per call.** Each entry carries a flags word. Whoever sets its `TAKEN` bit
//! first owns the call (an agent, a hang-up, a move, a maximum wait); everyone else sees
//! it gone. The owner then unlinks the entry, so an entry may be seen taken but not yet
//! unlinked for a moment: every read skips those. A caller accepting a callback, or a
//! maximum wait marking a call, sets its bit in the same word unless `TAKEN` is there,
//! so a mark is either carried by the call's owner or refused, never lost.
//!
//! Every operation pins the list's memory once (an epoch guard) and reads entries under
//! that pin, without counting references to them.
//!
//! **Publish, then look.** A call counts as published when the count of calls goes up,
//! after the entry is linked; a look for work starts by reading that count. Both are
//! sequentially consistent, so of a call arriving and an agent becoming free at once, at
//! least one sees the other (see the module above).
//!
//! **Keys and the aging rate.** A key is made under the queue's aging rate (see
//! [`WaitKey`]), and each entry records the rate its key was made under. A reload that
//! changes the rate takes each entry of an older rate and puts it back under the new
//! rate's key; an arrival that meets the new rate after linking its entry does the same
//! for its own call. Whichever of the two takes the entry moves it; the other finds it
//! taken.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};

use crossbeam_epoch::{self as epoch, Guard};
use crossbeam_skiplist::{
    SkipList,
    base::{Entry, RefEntry},
};

use super::{WaitKey, WaitingCall};
use crate::{clock::Millis, customer::Preference, customer::TierId};

/// The call has an owner: it is gone from the queue.
const TAKEN: u8 = 1;
/// The caller accepted a callback.
const CALLBACK: u8 = 2;
/// The call reached its queue's maximum wait once already.
const MAX_WAIT_MET: u8 = 4;

/// A waiting call as kept in the list.
#[derive(Debug)]
struct Slot {
    /// The call as it arrived; `callback` and `max_wait_met` are read from `flags`.
    call: WaitingCall,
    flags: AtomicU8,
    /// The aging rate the entry's key was made under.
    rate: i64,
}

impl Slot {
    fn new(call: WaitingCall, rate: i64) -> Slot {
        let flags =
            (u8::from(call.callback) * CALLBACK) | (u8::from(call.max_wait_met) * MAX_WAIT_MET);
        Slot {
            call,
            flags: AtomicU8::new(flags),
            rate,
        }
    }

    /// The call with the marks in `flags`.
    fn call_as(&self, flags: u8) -> WaitingCall {
        let mut call = self.call.clone();
        call.callback = flags & CALLBACK != 0;
        call.max_wait_met = flags & MAX_WAIT_MET != 0;
        call
    }

    fn taken(&self) -> bool {
        self.flags.load(SeqCst) & TAKEN != 0
    }

    fn glance(&self, key: WaitKey) -> Waiting {
        let flags = self.flags.load(SeqCst);
        Waiting {
            key,
            preference: self.call.preference,
            tier: self.call.tier,
            arrived: self.call.arrived,
            callback: flags & CALLBACK != 0,
            max_wait_met: flags & MAX_WAIT_MET != 0,
        }
    }
}

/// What ordering and announcing need of a waiting call, copied out of the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub key: WaitKey,
    pub preference: Preference,
    pub tier: TierId,
    pub arrived: Millis,
    pub callback: bool,
    pub max_wait_met: bool,
}

/// What [`WaitList::take_confirmed`] answers when its confirmation was refused.
#[derive(Debug)]
pub(super) struct Refused;

/// A call taken out of its list with the rate its key was made under.
struct Taken {
    call: WaitingCall,
    flags: u8,
    rate: i64,
}

/// A call taken out of its list to go back under another aging rate's key.
pub(super) struct Moving {
    pub(super) key: WaitKey,
    slot: Slot,
}

impl Moving {
    pub(super) fn call_id(&self) -> &std::sync::Arc<str> {
        &self.slot.call.call_id
    }
}

/// One lane's waiting calls, best first.
#[derive(Debug)]
pub struct WaitList {
    map: SkipList<WaitKey, Slot>,
    /// Calls in the list not taken: the publication point (see the module docs).
    len: AtomicUsize,
}

impl Default for WaitList {
    fn default() -> Self {
        WaitList {
            map: SkipList::new(epoch::default_collector().clone()),
            len: AtomicUsize::new(0),
        }
    }
}

/// Moves `e` on to the next entry not taken; false at the end.
fn next_live(e: &mut Entry<'_, '_, WaitKey, Slot>) -> bool {
    while e.move_next() {
        if !e.value().taken() {
            return true;
        }
    }
    false
}

impl WaitList {
    /// Publishes a call under `key`, made under aging rate `rate`; returns its 1-based
    /// place (see [`WaitList::place_of`]).
    pub fn insert(&self, key: WaitKey, call: WaitingCall, rate: i64) -> usize {
        let guard = &epoch::pin();
        self.put(key, Slot::new(call, rate), guard);
        self.place_in(key, guard)
    }

    fn put(&self, key: WaitKey, slot: Slot, guard: &Guard) {
        let at: RefEntry<'_, WaitKey, Slot> = self.map.insert(key, slot, guard);
        at.release(guard);
        self.len.fetch_add(1, SeqCst);
    }

    /// How many calls wait.
    pub fn len(&self) -> usize {
        self.len.load(SeqCst)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The best call, if any waits.
    pub fn head(&self) -> Option<Waiting> {
        if self.is_empty() {
            return None;
        }
        let guard = &epoch::pin();
        let mut at = self.map.front(guard)?;
        if at.value().taken() && !next_live(&mut at) {
            return None;
        }
        Some(at.value().glance(*at.key()))
    }

    /// Calls `f` with each waiting call, best first (the call as it arrived: its marks
    /// are in the [`Waiting`]), until it returns false.
    pub fn visit(&self, mut f: impl FnMut(&Waiting, &WaitingCall) -> bool) {
        let guard = &epoch::pin();
        for e in self.map.iter(guard) {
            let slot = e.value();
            if !slot.taken() && !f(&slot.glance(*e.key()), &slot.call) {
                return;
            }
        }
    }

    /// The waiting calls, best first, copied out.
    pub fn glance_all(&self) -> Vec<Waiting> {
        let mut all = Vec::with_capacity(self.len());
        self.visit(|w, _| {
            all.push(*w);
            true
        });
        all
    }

    /// The call under `key`, with its marks, if it still waits.
    pub fn get(&self, key: &WaitKey) -> Option<WaitingCall> {
        let guard = &epoch::pin();
        let e = self.map.get(key, guard)?;
        let flags = e.value().flags.load(SeqCst);
        (flags & TAKEN == 0).then(|| e.value().call_as(flags))
    }

    /// Takes the call under `key`: `None` if someone else took it first.
    pub fn take(&self, key: &WaitKey) -> Option<WaitingCall> {
        let guard = &epoch::pin();
        self.claim(&self.map.get(key, guard)?).map(|t| t.call)
    }

    /// Takes the call under `key` if it still waits and `confirm` agrees (asked only
    /// then): `Err(())` if `confirm` refused, `Ok(None)` if the call is gone.
    pub(super) fn take_confirmed(
        &self,
        key: &WaitKey,
        confirm: impl FnOnce() -> bool,
    ) -> Result<Option<WaitingCall>, Refused> {
        let guard = &epoch::pin();
        let Some(entry) = self.map.get(key, guard).filter(|e| !e.value().taken()) else {
            return Ok(None);
        };
        if !confirm() {
            return Err(Refused);
        }
        Ok(self.claim(&entry).map(|t| t.call))
    }

    fn claim(&self, entry: &Entry<'_, '_, WaitKey, Slot>) -> Option<Taken> {
        let slot = entry.value();
        let flags = slot.flags.fetch_or(TAKEN, SeqCst);
        if flags & TAKEN != 0 {
            return None;
        }
        self.len.fetch_sub(1, SeqCst);
        entry.remove();
        Some(Taken {
            call: slot.call_as(flags),
            flags,
            rate: slot.rate,
        })
    }

    /// Every call, taken, best first (those taken meanwhile by others are left to them).
    pub fn drain(&self) -> Vec<WaitingCall> {
        let guard = &epoch::pin();
        self.map
            .iter(guard)
            .filter_map(|e| self.claim(&e))
            .map(|t| t.call)
            .collect()
    }

    /// The caller under `key` accepted a callback; false if the call is gone.
    pub fn mark_callback(&self, key: &WaitKey) -> bool {
        self.mark(key, CALLBACK).is_some()
    }

    /// The call under `key` reached its maximum wait; the call as marked, or `None` if
    /// it is gone.
    pub fn mark_max_wait(&self, key: &WaitKey) -> Option<WaitingCall> {
        self.mark(key, MAX_WAIT_MET)
    }

    fn mark(&self, key: &WaitKey, bit: u8) -> Option<WaitingCall> {
        let guard = &epoch::pin();
        let entry = self.map.get(key, guard)?;
        let slot = entry.value();
        let mut flags = slot.flags.load(SeqCst);
        loop {
            if flags & TAKEN != 0 {
                return None;
            }
            match slot
                .flags
                .compare_exchange(flags, flags | bit, SeqCst, SeqCst)
            {
                Ok(_) => return Some(slot.call_as(flags | bit)),
                Err(seen) => flags = seen,
            }
        }
    }

    /// The 1-based place of the call under `key` (which waits), counted from whichever
    /// end of the list is nearer: most calls join at the tail (same priority, later
    /// arrival) or near the head (a higher priority), so this is a few steps rather than
    /// the list's length. Approximate while others change the list, as any place is.
    pub fn place_of(&self, key: WaitKey) -> usize {
        self.place_in(key, &epoch::pin())
    }

    /// [`WaitList::place_of`] under a pin. The list links forward only (a step back is
    /// a search), so both walks go forward, in turn: one from the call to the tail, one
    /// from the head to the call.
    fn place_in(&self, key: WaitKey, guard: &Guard) -> usize {
        let Some(mut after) = self.map.get(&key, guard) else {
            return self.len().max(1);
        };
        let mut before = self.map.front(guard);
        let mut steps = 0;
        loop {
            if !next_live(&mut after) {
                // `steps` calls after it are all; the rest are before it or it.
                return self.len().max(steps + 1) - steps;
            }
            // The next call from the head, if it is before it.
            let more_before = loop {
                match &mut before {
                    Some(e) if *e.key() < key => {
                        let found = !e.value().taken();
                        if !e.move_next() {
                            before = None;
                        }
                        if found {
                            break true;
                        }
                    }
                    _ => break false,
                }
            };
            if !more_before {
                // `steps` calls before it are all.
                return steps + 1;
            }
            steps += 1;
        }
    }

    /// Takes the call under `key` if its key was made under an aging rate other than
    /// `to`, to put it back under the key rate `to` gives (see [`Moving`]). `None` if the
    /// call was taken by someone else or is under rate `to` already.
    pub(super) fn take_to_rekey(&self, key: &WaitKey, to: i64) -> Option<Moving> {
        let guard = &epoch::pin();
        let entry = self.map.get(key, guard)?;
        if entry.value().rate == to {
            return None;
        }
        let taken = self.claim(&entry)?;
        Some(Moving {
            key: moved_key(*key, &taken.call, taken.rate, to),
            slot: Slot {
                call: taken.call,
                flags: AtomicU8::new(taken.flags & !TAKEN),
                rate: to,
            },
        })
    }

    /// Puts back a call taken to move under a new rate.
    pub(super) fn put_moved(&self, moving: Moving) {
        self.put(moving.key, moving.slot, &epoch::pin());
    }

    /// The keys of calls made under a rate other than `rate`.
    pub(super) fn keys_not_under(&self, rate: i64) -> Vec<WaitKey> {
        let guard = &epoch::pin();
        self.map
            .iter(guard)
            .filter(|e| e.value().rate != rate && !e.value().taken())
            .map(|e| *e.key())
            .collect()
    }
}

/// The key a call under `key` (made under aging rate `from`) takes under rate `to`:
/// shifted by the same amount as its own key would be, so that a call put back at the
/// head stays ahead of those it was ahead of.
fn moved_key(key: WaitKey, call: &WaitingCall, from: i64, to: i64) -> WaitKey {
    let arrived = i64::try_from(call.arrived.0).unwrap_or(i64::MAX / 2);
    WaitKey {
        neg_key: key
            .neg_key
            .saturating_add(to.saturating_sub(from).saturating_mul(arrived)),
        ..key
    }
}
