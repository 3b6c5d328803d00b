//! The rules' guards (see [`Guard`]) as rows of bits, one bit per rule: for each tier,
//! preference, known or unknown caller, channel and line, the rules whose guard admits
//! it; for each calendar a guard names, the rules that need it open and those that need
//! it closed. A call's candidates are the AND of its rows, a few words per 64 rules,
//! instead of a guard test per rule.

use crate::condition::{Facts, Guard};

const TIER_ROW: usize = 0;
const PREFERENCE_ROW: usize = TIER_ROW + 32;
const KNOWN_ROW: usize = PREFERENCE_ROW + 8;
const CHANNEL_ROW: usize = KNOWN_ROW + 2;
/// 64 lines, then one row for every line of id 64 or more.
const LINE_ROW: usize = CHANNEL_ROW + 8;
const ROWS: usize = LINE_ROW + 65;

#[derive(Clone, Debug, Default)]
pub(super) struct GuardRows {
    /// Per word of rule bits (64 rules), that word of every row: a call's rows of one
    /// word sit together.
    words: Box<[[u64; ROWS]]>,
    /// Calendars that guards name, each with two rows (needs open, needs closed) of
    /// every word: calendar `k`'s row of word `w` is `calendar_rows[(2k + closed) *
    /// words + w]`.
    calendars: Box<[u16]>,
    calendar_rows: Box<[u64]>,
}

impl GuardRows {
    pub(super) fn new(guards: &[Guard]) -> GuardRows {
        let n = guards.len().div_ceil(64);
        // Calendars of guards that admit any call at all.
        let named = guards
            .iter()
            .filter(|g| g.tiers != 0)
            .fold(0u64, |m, g| m | g.open | g.closed);
        let calendars: Box<[u16]> = (0..64u16).filter(|c| named & 1 << c != 0).collect();
        let mut words = vec![[0u64; ROWS]; n];
        let mut calendar_rows = vec![0u64; 2 * calendars.len() * n];
        for (i, g) in guards.iter().enumerate() {
            let (word, bit) = (i / 64, 1u64 << (i % 64));
            let rows = &mut words[word];
            let mut each = |first: usize, count: usize, mask: u64| {
                for k in (0..count).filter(|k| mask & 1 << k != 0) {
                    rows[first + k] |= bit;
                }
            };
            each(TIER_ROW, 32, u64::from(g.tiers));
            each(PREFERENCE_ROW, 8, u64::from(g.preferences));
            each(KNOWN_ROW, 2, u64::from(g.known));
            each(CHANNEL_ROW, 8, u64::from(g.channels));
            each(LINE_ROW, 64, g.lines);
            each(LINE_ROW + 64, 1, u64::from(g.far_lines));
            for (k, c) in calendars.iter().enumerate() {
                if g.open >> c & 1 != 0 {
                    calendar_rows[2 * k * n + word] |= bit;
                }
                if g.closed >> c & 1 != 0 {
                    calendar_rows[(2 * k + 1) * n + word] |= bit;
                }
            }
        }
        GuardRows {
            words: words.into(),
            calendars,
            calendar_rows: calendar_rows.into(),
        }
    }

    /// Clears from `bits` (the words in use) the rules whose guard does not admit the
    /// call of `f`.
    pub(super) fn admit(&self, bits: &mut [u64], f: &Facts<'_>) {
        let tier = usize::from(f.caller.tier.0);
        if tier >= 32 {
            bits.fill(0);
            return;
        }
        let preference = PREFERENCE_ROW + (f.caller.preference as usize & 7);
        let known = KNOWN_ROW + usize::from(f.caller.customer.is_some());
        let channel = CHANNEL_ROW + (f.channel as usize & 7);
        let line = LINE_ROW + f.line.index().min(64);
        for (b, rows) in bits.iter_mut().zip(self.words.iter()) {
            *b &=
                rows[TIER_ROW + tier] & rows[preference] & rows[known] & rows[channel] & rows[line];
        }
        let n = self.words.len();
        for (k, &c) in self.calendars.iter().enumerate() {
            let open = f.plan.calendar(c).is_some_and(|cal| cal.is_open(f.now));
            // Open: out go the rules that need it closed; closed, those that need it open.
            let out = &self.calendar_rows[(2 * k + usize::from(open)) * n..][..n];
            for (b, o) in bits.iter_mut().zip(out) {
                *b &= !o;
            }
        }
    }
}
