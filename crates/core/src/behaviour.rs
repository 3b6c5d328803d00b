//! What callers teach us by how they behave: who presses 0 at the first prompt, which
//! preference they chose in a menu, and when they last called.
//!
//! Keyed by phone number rather than customer, so that unknown callers learn too. One
//! record is a few bytes and updates under the map's shard lock only.

use std::sync::Arc;

use dashmap::DashMap;

use crate::FastHash;

use crate::{clock::Millis, customer::Preference, number::E164};

/// Most first-prompt observations kept per number; the configured window may not exceed it.
pub const MAX_WINDOW: u8 = 16;

/// The last call of a number that reached an agent: what the next agent should know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastContact {
    pub agent: Arc<str>,
    pub at: Millis,
    pub queue: Arc<str>,
    pub resolved: bool,
    pub wrap_up_code: Arc<str>,
}

impl LastContact {
    /// e.g. "2 days ago in support with ann: not resolved (wrap-up billing-dispute)".
    pub fn describe(&self, now: Millis) -> String {
        let ago = now.since(self.at).as_secs();
        let when = match ago {
            0..=59 => "just now".to_owned(),
            60..=3_599 => plural(ago / 60, "minute"),
            3_600..=86_399 => plural(ago / 3_600, "hour"),
            _ => plural(ago / 86_400, "day"),
        };
        let outcome = if self.resolved {
            "resolved"
        } else {
            "not resolved"
        };
        let code = if self.wrap_up_code.is_empty() {
            String::new()
        } else {
            format!(" (wrap-up {})", self.wrap_up_code)
        };
        format!(
            "{when} in {} with {}: {outcome}{code}",
            self.queue, self.agent
        )
    }
}

fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit} ago")
    } else {
        format!("{n} {unit}s ago")
    }
}

/// The learned record of one number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Learned {
    /// One bit per call that heard the first prompt, newest in bit 0: set when the caller
    /// pressed 0 there.
    zero_out_bits: u16,
    /// How many of those bits are real observations (at most [`MAX_WINDOW`]).
    observed: u8,
    /// A preference the caller chose in a menu.
    pub chosen: Option<Preference>,
    /// When the number last reached us.
    pub last_call: Option<Millis>,
}

impl Learned {
    /// Calls among the last `window` first-prompt observations.
    pub fn observed(&self, window: u8) -> u8 {
        self.observed.min(window)
    }

    /// Zero-outs among the last `window` first-prompt observations.
    pub fn zero_outs(&self, window: u8) -> u8 {
        let window = self.observed(window);
        let mask = if window >= 16 {
            u16::MAX
        } else {
            (1u16 << window) - 1
        };
        (self.zero_out_bits & mask).count_ones() as u8
    }
}

/// How many zero-outs, in how many recent calls, make a caller an operator-seeker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZeroOutPolicy {
    pub window: u8,
    pub threshold: u8,
}

impl ZeroOutPolicy {
    pub fn is_zero_presser(&self, learned: &Learned) -> bool {
        learned.zero_outs(self.window) >= self.threshold
    }
}

/// Told of every change to what was learned, to keep it (the server's store). Called
/// on the route path: it must only hand the change on, never wait.
pub trait Keeper: Send + Sync + std::fmt::Debug {
    fn learned(&self, number: E164, learned: Learned);
    fn served(&self, number: E164, contact: &LastContact);
}

/// The learned records of every number that has called.
#[derive(Debug, Default)]
pub struct Behaviour {
    by_number: DashMap<E164, Learned, FastHash>,
    /// The agent who last served each number, and when.
    served_by: DashMap<E164, LastContact, FastHash>,
    keeper: std::sync::OnceLock<Arc<dyn Keeper>>,
}

impl Learned {
    /// The record as stored: zero-out bits (newest in bit 0), how many are observations,
    /// the chosen preference and the last call.
    pub fn parts(&self) -> (u16, u8, Option<Preference>, Option<Millis>) {
        (
            self.zero_out_bits,
            self.observed,
            self.chosen,
            self.last_call,
        )
    }

    pub fn from_parts(
        zero_out_bits: u16,
        observed: u8,
        chosen: Option<Preference>,
        last_call: Option<Millis>,
    ) -> Learned {
        Learned {
            zero_out_bits,
            observed: observed.min(MAX_WINDOW),
            chosen,
            last_call,
        }
    }
}

impl Behaviour {
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on every change is also handed to `keeper`. Set once, at start.
    pub fn keep_with(&self, keeper: Arc<dyn Keeper>) {
        let _ = self.keeper.set(keeper);
    }

    /// Puts back what was kept, at start (not handed to the keeper again).
    pub fn restore(&self, number: E164, learned: Learned, contact: Option<LastContact>) {
        self.by_number.insert(number, learned);
        if let Some(c) = contact {
            self.served_by.insert(number, c);
        }
    }

    /// Numbers with a learned record.
    pub fn len(&self) -> usize {
        self.by_number.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_number.is_empty()
    }

    fn kept(&self, number: E164, learned: Learned) {
        if let Some(k) = self.keeper.get() {
            k.learned(number, learned);
        }
    }

    pub fn get(&self, number: E164) -> Learned {
        self.by_number.get(&number).map(|l| *l).unwrap_or_default()
    }

    /// Records a call's arrival and returns the record as it was before it.
    pub fn record_call(&self, number: E164, now: Millis) -> Learned {
        let mut entry = self.by_number.entry(number).or_default();
        let before = *entry;
        entry.last_call = Some(now);
        // Handed on under the entry's lock, so the keeper sees changes to one number in
        // the order they happened.
        self.kept(number, *entry);
        before
    }

    /// Records what the caller did at the first prompt of a call.
    pub fn record_first_prompt(&self, number: E164, pressed_zero: bool) {
        let mut entry = self.by_number.entry(number).or_default();
        entry.zero_out_bits = (entry.zero_out_bits << 1) | u16::from(pressed_zero);
        entry.observed = (entry.observed + 1).min(MAX_WINDOW);
        // Handed on under the entry's lock, so the keeper sees changes to one number in
        // the order they happened.
        self.kept(number, *entry);
    }

    /// Records that an agent served the number (the call ended with them).
    pub fn record_served(&self, number: E164, contact: LastContact) {
        if let Some(k) = self.keeper.get() {
            k.served(number, &contact);
        }
        self.served_by.insert(number, contact);
    }

    /// The agent who last served the number, and when.
    pub fn last_agent(&self, number: E164) -> Option<(Arc<str>, Millis)> {
        self.served_by
            .get(&number)
            .map(|c| (Arc::clone(&c.agent), c.at))
    }

    /// The number's last call that reached an agent.
    pub fn last_contact(&self, number: E164) -> Option<LastContact> {
        self.served_by.get(&number).map(|c| c.clone())
    }

    /// Records a preference the caller chose in a menu.
    pub fn record_choice(&self, number: E164, preference: Preference) {
        let mut entry = self.by_number.entry(number).or_default();
        entry.chosen = Some(preference);
        // Handed on under the entry's lock, so the keeper sees changes to one number in
        // the order they happened.
        self.kept(number, *entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: ZeroOutPolicy = ZeroOutPolicy {
        window: 5,
        threshold: 3,
    };

    fn number() -> E164 {
        "+12125550101".parse().unwrap()
    }

    #[test]
    fn three_zero_outs_in_the_last_five_calls_make_a_zero_presser() {
        let b = Behaviour::new();
        for pressed in [true, false, true] {
            b.record_first_prompt(number(), pressed);
        }
        assert!(!POLICY.is_zero_presser(&b.get(number())));
        b.record_first_prompt(number(), true);
        assert!(POLICY.is_zero_presser(&b.get(number())));
    }

    #[test]
    fn zero_outs_older_than_the_window_are_forgotten() {
        let b = Behaviour::new();
        for pressed in [true, true, true, false, false, false] {
            b.record_first_prompt(number(), pressed);
        }
        // The last five calls hold only two zero-outs.
        assert_eq!(b.get(number()).zero_outs(5), 2);
        assert!(!POLICY.is_zero_presser(&b.get(number())));
    }

    #[test]
    fn the_window_is_bounded_by_what_was_observed() {
        let b = Behaviour::new();
        for _ in 0..40 {
            b.record_first_prompt(number(), true);
        }
        let l = b.get(number());
        assert_eq!(l.observed(16), 16);
        assert_eq!(l.zero_outs(16), 16);
        assert_eq!(l.zero_outs(5), 5);
    }

    #[test]
    fn record_call_returns_the_previous_call_time() {
        let b = Behaviour::new();
        assert_eq!(b.record_call(number(), Millis(1_000)).last_call, None);
        assert_eq!(
            b.record_call(number(), Millis(2_000)).last_call,
            Some(Millis(1_000))
        );
    }
}
