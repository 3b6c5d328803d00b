//! The rules' index, built with the plan: which rules a call can match at all, by their
//! guards, by the attribute values and tags their conditions cannot hold without, and by
//! the bounds their conditions set on the caller's figures.
//!
//! - Guards (tier, preference, known caller, channel, line, calendars open or closed)
//!   are rows of bits, one bit per rule, ANDed for the call (see [`rows`]).
//! - A rule whose condition needs `caller.attr.segment == "s7"`, `caller.attr.plan in
//!   ["a", "b"]` or `"vip" in caller.tags` (as a test every branch of it requires, not
//!   negated; a disjunction files the rule under each of its branches' needs) is filed
//!   under those values, found by hash look-ups over the few the caller has.
//! - A bound on a figure (`caller.lifetime_value > 5000`, `caller.attr.seats >= 10`,
//!   `caller.attr.device_purchased < days_ago(730)`, see [`figures`]) files the rule
//!   under it; bounds are kept sorted, so the ones a figure passes are a run from the
//!   front, walked until the first that fails, the figure worked out once.
//!
//! Every other rule is a candidate whenever its guard admits the call, and is
//! evaluated. The candidates come out in rule order, so first-match order and
//! `continue` are exactly those of evaluating every rule; the index only skips rules
//! whose condition is sure to be false, and marks those whose condition its guard and
//! needs decide exactly, which are then not evaluated at all.

mod figures;
mod rows;

use figures::Figure;

use crate::condition::{Cmp, Condition, Facts, Guard, Test, Text};

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// Rules beyond this many are not indexed (every rule is then a candidate).
pub const MOST_INDEXED: usize = 64 * WORDS;
const WORDS: usize = 16;

/// A value a condition cannot hold without.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Attr(Box<str>, Box<str>),
    Tag(Box<str>),
}

/// Something a condition cannot hold without.
#[derive(Clone, Debug)]
enum Need {
    Key(Key),
    /// The figure compares so with the bound.
    Bound(Figure, Cmp, f64),
}

/// Needs of which the caller must meet one for `c` to hold; `None` when `c` has none.
/// With them, whether meeting one is also enough, given the rule's guard (see
/// [`guard_decides`]): then `c` holds exactly for the candidates its guard admits.
fn required(c: &Condition) -> Option<(Vec<Need>, bool)> {
    match c {
        Condition::Test(leaf) if !leaf.negated => match &leaf.test {
            Test::Text(Text::Attr(k), Cmp::Eq, v) => {
                Some((vec![Need::Key(Key::Attr(k.clone(), v.clone()))], true))
            }
            Test::TextIn(Text::Attr(k), values) => Some((
                values
                    .iter()
                    .map(|v| Need::Key(Key::Attr(k.clone(), v.clone())))
                    .collect(),
                true,
            )),
            Test::Tagged(tag) => Some((vec![Need::Key(Key::Tag(tag.clone()))], true)),
            test => figures::bound(test).map(|(f, cmp, t)| (vec![Need::Bound(f, cmp, t)], true)),
        },
        // Any one requirement of a conjunction will do: the narrowest, values before
        // bounds (a value is met by few callers, a bound often by many). It is enough
        // when the other branches are all the guard's.
        Condition::All(cs) => {
            let (at, (needs, enough)) = cs
                .iter()
                .enumerate()
                .filter_map(|(i, c)| Some((i, required(c)?)))
                .min_by_key(|(_, (needs, _))| {
                    let bounds = needs.iter().any(|n| matches!(n, Need::Bound(..)));
                    (needs.len(), bounds)
                })?;
            let rest_guarded = cs
                .iter()
                .enumerate()
                .all(|(i, c)| i == at || guard_decides(c));
            Some((needs, enough && rest_guarded))
        }
        // A disjunction needs one of its branches' needs, if every branch has some; they
        // are enough when every branch is a need alone.
        Condition::Any(cs) if !cs.is_empty() => {
            let mut needs = Vec::new();
            let mut enough = true;
            for c in cs.iter() {
                let (n, e) = required(c)?;
                enough &= e && matches!(c, Condition::Test(_));
                needs.extend(n);
            }
            Some((needs, enough))
        }
        _ => None,
    }
}

/// Whether the plan's guard of `c` holds exactly when `c` does: `c` is a conjunction of
/// tests a guard tracks exactly ([`Test::guard_is_exact`]), each perhaps negated.
fn guard_decides(c: &Condition) -> bool {
    match c {
        Condition::Test(leaf) => leaf.test.guard_is_exact(),
        Condition::Not(c) => matches!(&**c, Condition::Test(leaf) if leaf.test.guard_is_exact()),
        Condition::All(cs) => cs.iter().all(guard_decides),
        Condition::Any(_) => false,
    }
}

/// Rules filed under each value of one attribute.
type ByValue = HashMap<Box<str>, Box<[u16]>>;

/// Bounds on one figure, each with the rule filed under it: those a figure must exceed
/// (`>`, `>=`) from the lowest, those it must stay under (`<`, `<=`) from the highest,
/// inclusive ones first among equal bounds. A figure meets a run of each from the front.
#[derive(Clone, Debug, Default)]
struct Ranges {
    above: Box<[(f64, bool, u16)]>,
    below: Box<[(f64, bool, u16)]>,
    /// The rules filed under any of them, as bits: a call whose guards admit none of
    /// them need not work the figure out.
    rules: Box<[u64]>,
}

impl Ranges {
    /// Calls `add` with the rule of every bound `v` meets.
    fn met(&self, v: f64, mut add: impl FnMut(u16)) {
        for &(t, inclusive, rule) in self.above.iter() {
            if !(v > t || inclusive && v == t) {
                break;
            }
            add(rule);
        }
        for &(t, inclusive, rule) in self.below.iter() {
            if !(v < t || inclusive && v == t) {
                break;
            }
            add(rule);
        }
    }
}

/// Which rules each attribute value, tag and bound makes candidates, and which always
/// are.
#[derive(Clone, Debug, Default)]
pub struct RuleIndex {
    /// False beyond [`MOST_INDEXED`] rules.
    enabled: bool,
    rules: usize,
    always: [u64; WORDS],
    /// Rules whose guard and needs decide them (see [`RuleIndex::decides`]).
    decided: [u64; WORDS],
    /// Attribute name, then value: the rules filed under them.
    attrs: HashMap<Box<str>, ByValue>,
    tags: HashMap<Box<str>, Box<[u16]>>,
    /// The figures bounded, each with its bounds.
    ranges: Box<[(Figure, Ranges)]>,
    /// The rules' guards, as rows of bits.
    rows: rows::GuardRows,
}

impl RuleIndex {
    /// The index of rules with these conditions and their guards (see
    /// [`Condition::guard`]), in rule order.
    pub fn new<'a>(
        conditions: impl ExactSizeIterator<Item = &'a Condition>,
        guards: &[Guard],
    ) -> RuleIndex {
        let rules = conditions.len();
        let mut index = RuleIndex {
            enabled: rules <= MOST_INDEXED && guards.len() == rules,
            rules,
            ..RuleIndex::default()
        };
        if !index.enabled {
            return index;
        }
        index.rows = rows::GuardRows::new(guards);
        let words = rules.div_ceil(64);
        let mut attrs: HashMap<Box<str>, HashMap<Box<str>, Vec<u16>>> = HashMap::default();
        let mut tags: HashMap<Box<str>, Vec<u16>> = HashMap::default();
        // Per figure bounded: the bounds it must exceed, and stay under.
        type Sides = (Vec<(f64, bool, u16)>, Vec<(f64, bool, u16)>);
        let mut bounds: HashMap<Figure, Sides> = HashMap::default();
        for (i, c) in conditions.enumerate() {
            let Some((needs, enough)) = required(c) else {
                index.always[i / 64] |= 1 << (i % 64);
                // A condition the guard decides alone needs no evaluation either.
                if guard_decides(c) {
                    index.decided[i / 64] |= 1 << (i % 64);
                }
                continue;
            };
            if enough {
                index.decided[i / 64] |= 1 << (i % 64);
            }
            let rule = i as u16;
            for need in needs {
                let list = match need {
                    Need::Key(Key::Attr(k, v)) => attrs.entry(k).or_default().entry(v).or_default(),
                    Need::Key(Key::Tag(t)) => tags.entry(t).or_default(),
                    Need::Bound(f, cmp, t) => {
                        let inclusive = matches!(cmp, Cmp::Ge | Cmp::Le);
                        let (above, below) = bounds.entry(f).or_default();
                        let side = if matches!(cmp, Cmp::Gt | Cmp::Ge) {
                            above
                        } else {
                            below
                        };
                        side.push((t, inclusive, rule));
                        continue;
                    }
                };
                if list.last() != Some(&rule) {
                    list.push(rule);
                }
            }
        }
        index.attrs = attrs
            .into_iter()
            .map(|(k, values)| {
                let values = values.into_iter().map(|(v, l)| (v, l.into())).collect();
                (k, values)
            })
            .collect();
        index.tags = tags.into_iter().map(|(t, l)| (t, l.into())).collect();
        let mut ranges: Vec<(Figure, Ranges)> = bounds
            .into_iter()
            .map(|(figure, (mut above, mut below))| {
                // Inclusive first among equal bounds: `>= 5` is met wherever `> 5` is.
                above.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
                below.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
                let mut rules = vec![0u64; words];
                for &(_, _, rule) in above.iter().chain(&below) {
                    rules[usize::from(rule) / 64] |= 1 << (rule % 64);
                }
                let ranges = Ranges {
                    above: above.into(),
                    below: below.into(),
                    rules: rules.into(),
                };
                (figure, ranges)
            })
            .collect();
        // In a fixed order, so two builds of one plan are the same.
        ranges.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
        index.ranges = ranges.into();
        index
    }

    /// Whether [`RuleIndex::candidates`] leaves out the rules whose guard does not admit
    /// the call (else the caller tests each candidate's guard).
    pub fn guarded(&self) -> bool {
        self.enabled
    }

    /// Whether rule `i`, being a candidate (see [`RuleIndex::candidates`]), holds for
    /// every call its guard admits: its condition is tests the guard decides exactly,
    /// with perhaps a need (or needs, any of which will do), so there is nothing left to
    /// evaluate.
    pub fn decides(&self, i: usize) -> bool {
        self.decided
            .get(i / 64)
            .is_some_and(|w| w & 1 << (i % 64) != 0)
    }

    /// The rules the call of `f` can match, in order, worked out in `room`.
    pub fn candidates<'a>(&self, f: &Facts<'_>, room: &'a mut Bits) -> Candidates<'a> {
        if !self.enabled {
            return Candidates::Every(0..self.rules);
        }
        let words = self.rules.div_ceil(64);
        // The rules whose guards admit the call, first: only they can be candidates.
        let mut admitted: Bits = [!0; WORDS];
        let admitted = &mut admitted[..words];
        self.rows.admit(admitted, f);
        let admitted = &*admitted;
        let bits = &mut room[..words];
        for ((b, a), always) in bits.iter_mut().zip(admitted).zip(&self.always) {
            *b = a & always;
        }
        let mut add = |i: u16| {
            let w = usize::from(i) / 64;
            bits[w] |= admitted[w] & 1 << (i % 64);
        };
        if let Some(c) = f.caller.customer.as_deref() {
            if !self.attrs.is_empty() {
                for (k, v) in c.attributes() {
                    if let Some(list) = self.attrs.get(k).and_then(|values| values.get(v)) {
                        list.iter().for_each(|&i| add(i));
                    }
                }
            }
            if !self.tags.is_empty() {
                for t in c.tags() {
                    if let Some(list) = self.tags.get(t) {
                        list.iter().for_each(|&i| add(i));
                    }
                }
            }
        }
        for (figure, ranges) in self.ranges.iter() {
            let wanted = ranges.rules.iter().zip(admitted).any(|(r, a)| r & a != 0);
            if wanted && let Some(v) = figure.value(f) {
                ranges.met(v, &mut add);
            }
        }
        Candidates::Bits { bits, word: 0 }
    }
}

/// Room for the candidates' bits: one bit per rule, [`MOST_INDEXED`] at most.
pub type Bits = [u64; WORDS];

/// Rule indexes in ascending order.
#[derive(Debug)]
pub enum Candidates<'a> {
    Every(std::ops::Range<usize>),
    /// The candidates' bits, in the words in use, and the word at.
    Bits {
        bits: &'a mut [u64],
        word: usize,
    },
}

impl Iterator for Candidates<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match self {
            Candidates::Every(range) => range.next(),
            Candidates::Bits { bits, word } => {
                while let Some(w) = bits.get_mut(*word) {
                    if *w != 0 {
                        let bit = w.trailing_zeros() as usize;
                        *w &= *w - 1;
                        return Some(*word * 64 + bit);
                    }
                    *word += 1;
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{
        Millis, TierId,
        calendar::Calendar,
        caller::{Caller, Channel, PreferenceSource},
        condition::{Leaf, NoLiveQueues, Number, PlanFacts},
        customer::{Customer, Preference, Profile},
        ids::LineId,
    };

    /// Calendar 0 is always open, calendar 1 never.
    struct Plan([Calendar; 2]);

    impl PlanFacts for Plan {
        fn zero_out_window(&self) -> u8 {
            5
        }
        fn tier_name(&self, _: TierId) -> &str {
            ""
        }
        fn line_name(&self, _: LineId) -> &str {
            ""
        }
        fn calendar(&self, index: u16) -> Option<&Calendar> {
            self.0.get(usize::from(index))
        }
    }

    fn plan() -> Plan {
        Plan([
            Calendar::daily_utc("always", vec![(0, 24 * 60)]),
            Calendar::daily_utc("never", vec![]),
        ])
    }

    fn index_of(rules: &[Condition]) -> RuleIndex {
        let guards: Vec<Guard> = rules.iter().map(Condition::guard).collect();
        RuleIndex::new(rules.iter(), &guards)
    }

    /// The candidates for `caller` on line 0 by voice.
    fn candidates(index: &RuleIndex, caller: &Caller) -> Vec<usize> {
        let plan = plan();
        let facts = Facts {
            plan: &plan,
            caller,
            line: LineId(0),
            channel: Channel::Voice,
            now: Millis(1_800_000_000_000),
            live: &NoLiveQueues,
            digits: "",
        };
        index.candidates(&facts, &mut Bits::default()).collect()
    }

    fn attr_is(k: &str, v: &str) -> Condition {
        Condition::Test(Leaf::new(
            "",
            Test::Text(Text::Attr(k.into()), Cmp::Eq, v.into()),
        ))
    }

    fn tagged(t: &str) -> Condition {
        Condition::Test(Leaf::new("", Test::Tagged(t.into())))
    }

    fn customer(attrs: &[(&str, &str)], tags: &[&str]) -> Profile {
        let mut attributes: Vec<(Box<str>, Box<str>)> = attrs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        attributes.sort();
        Profile {
            id: "c".into(),
            name: "C".into(),
            numbers: Box::new([]),
            tier: crate::TierId(0),
            preference: Default::default(),
            language: "en".into(),
            lifetime_value: 0.0,
            influence: 0,
            tags: tags.iter().map(|t| (*t).into()).collect(),
            attributes: attributes.into(),
            preferred_agent: None,
            contacts: Box::new([]),
            preferred_channel: None,
        }
    }

    fn caller(customer: Option<&Profile>) -> Caller {
        Caller {
            number: "+12125550100".parse(),
            customer: customer.cloned().map(|p| Arc::new(Customer::from(p))),
            tier: crate::TierId(0),
            preference: Preference::None,
            source: PreferenceSource::None,
            repeat: false,
            learned: Default::default(),
        }
    }

    fn figure_is(n: Number, cmp: Cmp, bound: f64) -> Condition {
        Condition::Test(Leaf::new("", Test::Number(n, cmp, Number::Const(bound))))
    }

    #[test]
    fn a_rule_is_offered_only_to_callers_carrying_a_value_it_needs() {
        let rules = [
            attr_is("segment", "s1"),
            Condition::All(Box::new([tagged("vip"), attr_is("segment", "s2")])),
            Condition::Any(Box::new([tagged("vip"), attr_is("plan", "gold")])),
            // Not indexable: a branch without a key, and a negation.
            Condition::Any(Box::new([tagged("vip"), Condition::default()])),
            Condition::Not(Box::new(attr_is("segment", "s1"))),
        ];
        let index = index_of(&rules);
        let of = |c: Option<&Profile>| candidates(&index, &caller(c));
        assert_eq!(of(None), [3, 4]);
        assert_eq!(of(Some(&customer(&[("segment", "s1")], &[]))), [0, 3, 4]);
        assert_eq!(
            of(Some(&customer(&[("segment", "s2")], &["vip"]))),
            [1, 2, 3, 4]
        );
        assert_eq!(of(Some(&customer(&[("plan", "gold")], &[]))), [2, 3, 4]);
    }

    #[test]
    fn beyond_the_most_indexed_every_rule_is_a_candidate() {
        let rules = vec![attr_is("segment", "s1"); MOST_INDEXED + 1];
        let index = index_of(&rules);
        assert!(!index.guarded());
        assert_eq!(candidates(&index, &caller(None)).len(), MOST_INDEXED + 1);
        let rules = vec![attr_is("segment", "s1"); MOST_INDEXED];
        let index = index_of(&rules);
        assert!(index.guarded());
        assert_eq!(candidates(&index, &caller(None)).len(), 0);
        let known = customer(&[("segment", "s1")], &[]);
        assert_eq!(
            candidates(&index, &caller(Some(&known))).last().copied(),
            Some(MOST_INDEXED - 1)
        );
    }

    #[test]
    fn a_rule_bounding_a_figure_is_offered_only_to_callers_within_the_bound() {
        let ltv = |cmp, b| figure_is(Number::LifetimeValue, cmp, b);
        let rules = [
            ltv(Cmp::Gt, 100.0),
            ltv(Cmp::Ge, 100.0),
            ltv(Cmp::Lt, 100.0),
            ltv(Cmp::Le, 50.0),
            // Written the other way round: influence above 3.
            Condition::Test(Leaf::new(
                "",
                Test::Number(Number::Const(3.0), Cmp::Lt, Number::Influence),
            )),
            // A tag or a bound: either will do.
            Condition::Any(Box::new([tagged("vip"), ltv(Cmp::Gt, 1000.0)])),
            // Equality is not a bound; an unknown caller's lifetime value is 0.
            ltv(Cmp::Eq, 0.0),
        ];
        let index = index_of(&rules);
        let of = |ltv: f64, influence: u8, tags: &[&str]| {
            let mut c = customer(&[], tags);
            c.lifetime_value = ltv;
            c.influence = influence;
            candidates(&index, &caller(Some(&c)))
        };
        assert_eq!(of(100.0, 0, &[]), [1, 6]);
        assert_eq!(of(100.5, 4, &[]), [0, 1, 4, 6]);
        assert_eq!(of(50.0, 3, &["vip"]), [2, 3, 5, 6]);
        assert_eq!(of(5000.0, 0, &[]), [0, 1, 5, 6]);
        assert_eq!(of(f64::NAN, 9, &[]), [4, 6]);
        assert_eq!(candidates(&index, &caller(None)), [2, 3, 6]);
    }

    #[test]
    fn a_rule_outside_its_guard_is_no_candidate() {
        let leaf = |test| Condition::Test(Leaf::new("", test));
        let rules = [
            leaf(Test::Tier(Cmp::Ge, TierId(1))),
            leaf(Test::Flag(crate::condition::Flag::Known)),
            leaf(Test::ChannelIn(Channel::Chat.bit())),
            leaf(Test::LineIn(Box::new([LineId(0)]))),
            leaf(Test::Open(0)),
            leaf(Test::Open(1)),
            Condition::Not(Box::new(leaf(Test::Open(1)))),
            // Open and not open at once: never.
            Condition::All(Box::new([
                leaf(Test::Open(0)),
                Condition::Not(Box::new(leaf(Test::Open(0)))),
            ])),
            // Either calendar will do.
            Condition::Any(Box::new([leaf(Test::Open(0)), leaf(Test::Open(1))])),
        ];
        let index = index_of(&rules);
        assert_eq!(candidates(&index, &caller(None)), [3, 4, 6, 8]);
        let mut gold = caller(Some(&customer(&[], &[])));
        gold.tier = TierId(2);
        assert_eq!(candidates(&index, &gold), [0, 1, 3, 4, 6, 8]);
    }
}
