//! Which rules can never decide anything: those whose condition no call satisfies, and
//! those every call of which an earlier stopping rule takes first.
//!
//! The caller's tier, preference, line and channel and the known and repeat flags have few
//! values, so every combination of the ones the rules use is tried. Tests over anything
//! else (amounts, attributes, dates, calendars, live queues) are unknown: with three-valued
//! logic a rule is *possible* where its condition is not false and *certain* where it is
//! true whatever those tests say. A rule is reported only when no combination makes it
//! possible, or when every combination that does is certain for an earlier stopping rule,
//! so the warnings are never wrong; some dead rules (say, `amount > 5 and amount < 3`)
//! go unreported. Rules that read `call.digits` run again after menu answers, without
//! the rules before them, so they are never reported as shadowed.

use switchboard_core::{
    Preference,
    condition::{Condition, Flag, Test},
    plan::Rule,
    router::Channel,
};

pub(crate) enum Finding {
    NeverMatches(usize),
    Shadowed { rule: usize, by: Vec<usize> },
}

/// Past this many combinations the check is skipped rather than slow a reload down.
const MAX_COMBINATIONS: usize = 20_000;
const MAX_WORK: usize = 20_000_000;

#[derive(Clone, Copy, Default)]
struct Dims {
    tier: bool,
    preference: bool,
    line: bool,
    channel: bool,
    known: bool,
    repeat: bool,
}

#[derive(Clone, Copy)]
struct Point {
    tier: u8,
    preference: Preference,
    line: u16,
    channel: Channel,
    known: bool,
    repeat: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tri {
    False,
    Unknown,
    True,
}

/// A rule that reads the menu answers also runs after each answer, where the rules
/// before it do not: they cannot shadow it.
fn reads_digits(rule: &Rule) -> bool {
    rule.when.leaves().iter().any(|l| l.test.reads_digits())
}

fn uses(cond: &Condition, d: &mut Dims) {
    for leaf in cond.leaves() {
        match &leaf.test {
            Test::Tier(..) | Test::TierIn(_) => d.tier = true,
            Test::PreferenceIn(_) => d.preference = true,
            Test::LineIn(_) => d.line = true,
            Test::ChannelIn(_) => d.channel = true,
            Test::Flag(Flag::Known) => d.known = true,
            Test::Flag(Flag::Repeat) => d.repeat = true,
            _ => {}
        }
    }
}

fn eval(cond: &Condition, p: &Point) -> Tri {
    match cond {
        Condition::All(cs) => cs.iter().fold(Tri::True, |acc, c| match (acc, eval(c, p)) {
            (Tri::False, _) | (_, Tri::False) => Tri::False,
            (Tri::True, Tri::True) => Tri::True,
            _ => Tri::Unknown,
        }),
        Condition::Any(cs) => cs
            .iter()
            .fold(Tri::False, |acc, c| match (acc, eval(c, p)) {
                (Tri::True, _) | (_, Tri::True) => Tri::True,
                (Tri::False, Tri::False) => Tri::False,
                _ => Tri::Unknown,
            }),
        Condition::Not(c) => match eval(c, p) {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        },
        Condition::Test(leaf) => {
            let known = match &leaf.test {
                Test::Tier(cmp, t) => Some(cmp.holds(p.tier, t.0)),
                Test::TierIn(set) => Some(set.contains(switchboard_core::TierId(p.tier))),
                Test::PreferenceIn(m) => Some(m & p.preference.bit() != 0),
                Test::LineIn(ls) => Some(ls.iter().any(|l| l.0 == p.line)),
                Test::ChannelIn(m) => Some(m & p.channel.bit() != 0),
                Test::Flag(Flag::Known) => Some(p.known),
                Test::Flag(Flag::Repeat) => Some(p.repeat),
                Test::Flag(Flag::Const(b)) => Some(*b),
                _ => None,
            };
            match known {
                Some(v) if v != leaf.negated => Tri::True,
                Some(_) => Tri::False,
                None => Tri::Unknown,
            }
        }
    }
}

pub(crate) fn unreachable(rules: &[Rule], tiers: usize, lines: usize) -> Vec<Finding> {
    let mut dims = Dims::default();
    for r in rules {
        uses(&r.when, &mut dims);
    }
    let size = |used: bool, n: usize| if used { n.max(1) } else { 1 };
    let tier_n = size(dims.tier || dims.known, tiers);
    let pref_n = size(dims.preference, Preference::ALL.len());
    let line_n = size(dims.line, lines);
    let chan_n = size(dims.channel, Channel::ALL.len());
    let known_n = size(dims.known, 2);
    let repeat_n = size(dims.repeat, 2);
    let combos = [tier_n, pref_n, line_n, chan_n, known_n, repeat_n]
        .iter()
        .try_fold(1usize, |a, n| a.checked_mul(*n));
    let Some(combos) = combos.filter(|c| *c <= MAX_COMBINATIONS) else {
        return Vec::new();
    };
    if combos.saturating_mul(rules.len()) > MAX_WORK {
        return Vec::new();
    }
    let mut points = Vec::with_capacity(combos);
    for t in 0..tier_n {
        for p in 0..pref_n {
            for l in 0..line_n {
                for ch in 0..chan_n {
                    for k in 0..known_n {
                        for rp in 0..repeat_n {
                            let known = !dims.known || k == 1;
                            // Unknown callers are served as the lowest tier.
                            if !known && t != 0 {
                                continue;
                            }
                            points.push(Point {
                                tier: t as u8,
                                preference: Preference::ALL[p],
                                line: l as u16,
                                channel: Channel::ALL[ch],
                                known,
                                repeat: rp == 1,
                            });
                        }
                    }
                }
            }
        }
    }
    let words = points.len().div_ceil(64);
    // For each earlier stopping rule, where it is certain to match.
    let mut certain_by: Vec<(usize, Vec<u64>)> = Vec::new();
    let mut covered = vec![0u64; words];
    let mut findings = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let mut possible = vec![0u64; words];
        let mut certain = vec![0u64; words];
        for (j, p) in points.iter().enumerate() {
            match eval(&rule.when, p) {
                Tri::True => {
                    possible[j / 64] |= 1 << (j % 64);
                    certain[j / 64] |= 1 << (j % 64);
                }
                Tri::Unknown => possible[j / 64] |= 1 << (j % 64),
                Tri::False => {}
            }
        }
        let dead = if possible.iter().all(|w| *w == 0) {
            findings.push(Finding::NeverMatches(i));
            true
        } else if !reads_digits(rule) && possible.iter().zip(&covered).all(|(p, c)| p & !c == 0) {
            let by = certain_by
                .iter()
                .filter(|(_, cert)| cert.iter().zip(&possible).any(|(c, p)| c & p != 0))
                .map(|(r, _)| *r)
                .collect();
            findings.push(Finding::Shadowed { rule: i, by });
            true
        } else {
            false
        };
        // A rule that never decides takes no call from those after it.
        if !dead && !rule.then.continue_ && certain.iter().any(|w| *w != 0) {
            for (c, x) in covered.iter_mut().zip(&certain) {
                *c |= x;
            }
            certain_by.push((i, certain));
        }
    }
    findings
}
