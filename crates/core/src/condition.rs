//! Compiled rule conditions: what an ops team wrote as
//! `caller.tier >= "gold" and queue("support").estimated_wait > 120`, parsed and
//! type-checked once at load (by the config crate) into a tree of typed tests.
//!
//! Every name is already resolved to an index (tiers, lines, queues, calendars) and every
//! literal to its typed value, so evaluation compares integers and floats, walks no
//! strings except attribute values, and allocates nothing. An explanation evaluates the
//! same tree without short-circuiting and records each test's value.

use std::time::Duration;

use crate::{
    calendar::Calendar,
    caller::{Caller, Channel, PreferenceSource},
    clock::Millis,
    customer::{Customer, Preference, TierId},
    ids::{LineId, QueueId, TierSet},
};

/// How two values compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    /// The comparison with its sides swapped: `a < b` is `b > a`.
    pub fn flipped(self) -> Cmp {
        match self {
            Cmp::Lt => Cmp::Gt,
            Cmp::Le => Cmp::Ge,
            Cmp::Gt => Cmp::Lt,
            Cmp::Ge => Cmp::Le,
            same => same,
        }
    }

    pub fn holds<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

/// A condition tree. `All([])` always holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    All(Box<[Condition]>),
    Any(Box<[Condition]>),
    Not(Box<Condition>),
    Test(Leaf),
}

impl Default for Condition {
    fn default() -> Self {
        Condition::All(Box::new([]))
    }
}

/// One test with the text it was written as, for explanations.
#[derive(Clone, Debug, PartialEq)]
pub struct Leaf {
    pub text: Box<str>,
    pub test: Test,
    /// The leaf holds when the test fails (`!=`, `not in`, `== false`).
    pub negated: bool,
}

impl Leaf {
    pub fn new(text: impl Into<Box<str>>, test: Test) -> Self {
        Leaf {
            text: text.into(),
            test,
            negated: false,
        }
    }

    pub fn negated(text: impl Into<Box<str>>, test: Test) -> Self {
        Leaf {
            negated: true,
            ..Leaf::new(text, test)
        }
    }

    pub fn eval(&self, facts: &Facts<'_>) -> bool {
        self.test.eval(facts) != self.negated
    }
}

/// A true-or-false fact about the caller or the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    /// The number belongs to a customer in the directory.
    Known,
    /// The caller called before within the learning repeat window.
    Repeat,
    /// The literal `true` or `false`.
    Const(bool),
}

/// A number-valued operand.
#[derive(Clone, Debug, PartialEq)]
pub enum Number {
    Const(f64),
    LifetimeValue,
    Influence,
    /// Zero-outs at the first prompt among the caller's recent calls (learning window).
    ZeroOuts,
    /// A free attribute read as a number; a missing or non-numeric value fails the test.
    Attr(Box<str>),
    /// Live state of a queue.
    Queue(QueueId, QueueMetric),
}

/// Live figures of a queue that conditions may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueMetric {
    /// Calls waiting now.
    Waiting,
    /// What a caller entering now would be told, in seconds; unbounded when nobody is
    /// staffed.
    EstimatedWait,
    /// Agents logged in and not stepped away.
    Staffed,
    /// Agents idle and ready for a call now.
    Available,
}

impl QueueMetric {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueMetric::Waiting => "waiting",
            QueueMetric::EstimatedWait => "estimated_wait",
            QueueMetric::Staffed => "staffed",
            QueueMetric::Available => "available",
        }
    }
}

/// A text-valued operand.
#[derive(Clone, Debug, PartialEq)]
pub enum Text {
    /// The caller's menu answers so far in this call, separated by commas ("2,1").
    Digits,
    CustomerId,
    Language,
    PreferredAgent,
    Attr(Box<str>),
}

/// A calendar date, as days since 1970-01-01.
#[derive(Clone, Debug, PartialEq)]
pub enum Date {
    Const(i64),
    /// Today (in UTC) minus this many days.
    DaysAgo(i64),
    /// A free attribute read as `YYYY-MM-DD` (a longer timestamp's date part counts).
    Attr(Box<str>),
}

/// One typed test.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    Flag(Flag),
    /// The caller's tier against one tier, in the configured order.
    Tier(Cmp, TierId),
    TierIn(TierSet),
    /// Bit mask of [`Preference::bit`].
    PreferenceIn(u8),
    LineIn(Box<[LineId]>),
    /// Bit mask of [`Channel::bit`].
    ChannelIn(u8),
    /// The customer's preferred channel is in this mask of [`Channel::bit`] (false when
    /// they have none).
    PreferredChannelIn(u8),
    Number(Number, Cmp, Number),
    /// Text equality (`==`, `!=`) with a literal.
    Text(Text, Cmp, Box<str>),
    TextIn(Text, Box<[Box<str>]>),
    /// The customer carries this tag.
    Tagged(Box<str>),
    Date(Date, Cmp, Date),
    /// The calendar is open now.
    Open(u16),
    /// The caller called before within this time.
    RepeatWithin(Duration),
}

/// Live queue figures, as the ACD knows them.
pub trait LiveQueues {
    fn waiting(&self, queue: QueueId) -> usize;
    /// `None` when nobody is staffed: the wait has no bound.
    fn estimated_wait(&self, queue: QueueId) -> Option<Duration>;
    fn staffed(&self, queue: QueueId) -> usize;
    fn available(&self, queue: QueueId) -> usize;
}

/// No live state (a plan checked offline): queues are empty and unstaffed.
#[derive(Debug)]
pub struct NoLiveQueues;

impl LiveQueues for NoLiveQueues {
    fn waiting(&self, _: QueueId) -> usize {
        0
    }
    fn estimated_wait(&self, _: QueueId) -> Option<Duration> {
        None
    }
    fn staffed(&self, _: QueueId) -> usize {
        0
    }
    fn available(&self, _: QueueId) -> usize {
        0
    }
}

/// What conditions read of the routing plan that holds them: the learning window, names
/// for explanations, and calendars. A trait, so that conditions sit below the plan.
pub trait PlanFacts {
    /// How many recent calls the zero-out count looks back over.
    fn zero_out_window(&self) -> u8;
    fn tier_name(&self, tier: TierId) -> &str;
    fn line_name(&self, line: LineId) -> &str;
    fn calendar(&self, index: u16) -> Option<&Calendar>;
}

/// Everything a condition can look at.
#[derive(Clone, Copy)]
pub struct Facts<'a> {
    pub plan: &'a dyn PlanFacts,
    pub caller: &'a Caller,
    /// The line the call is on (after any redirect).
    pub line: LineId,
    pub channel: Channel,
    pub now: Millis,
    pub live: &'a dyn LiveQueues,
    /// The caller's menu answers so far, separated by commas; empty before any.
    pub digits: &'a str,
}

impl std::fmt::Debug for Facts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Facts")
            .field("line", &self.line)
            .field("channel", &self.channel)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// One test as evaluated, for explanations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestTrace {
    pub text: String,
    pub actual: String,
    pub matched: bool,
}

const DAY_MS: i64 = 86_400_000;

impl Condition {
    pub fn always() -> Self {
        Condition::default()
    }

    /// True when the condition holds for every call (an empty `All`).
    pub fn is_always(&self) -> bool {
        matches!(self, Condition::All(c) if c.is_empty())
    }

    pub fn eval(&self, facts: &Facts<'_>) -> bool {
        match self {
            Condition::All(cs) => cs.iter().all(|c| c.eval(facts)),
            Condition::Any(cs) => cs.iter().any(|c| c.eval(facts)),
            Condition::Not(c) => !c.eval(facts),
            Condition::Test(leaf) => leaf.eval(facts),
        }
    }

    /// Evaluates every test (no short-circuit) and records each one's value.
    pub fn explain(&self, facts: &Facts<'_>, out: &mut Vec<TestTrace>) -> bool {
        match self {
            // Every branch is explained, so no short-circuit.
            Condition::All(cs) => {
                let mut all = true;
                for c in cs.iter() {
                    all &= c.explain(facts, out);
                }
                all
            }
            Condition::Any(cs) => {
                let mut any = false;
                for c in cs.iter() {
                    any |= c.explain(facts, out);
                }
                any
            }
            // A negated test reads as written: `not open("hours")`, true when closed.
            Condition::Not(c) => match &**c {
                Condition::Test(leaf) => {
                    let matched = !leaf.eval(facts);
                    out.push(TestTrace {
                        text: format!("not {}", leaf.text),
                        actual: leaf.test.describe(facts),
                        matched,
                    });
                    matched
                }
                other => !other.explain(facts, out),
            },
            Condition::Test(leaf) => {
                let matched = leaf.eval(facts);
                out.push(TestTrace {
                    text: leaf.text.to_string(),
                    actual: leaf.test.describe(facts),
                    matched,
                });
                matched
            }
        }
    }

    /// The same condition with the branches of every `all` and `any` in order of
    /// [`Test::cost`], cheapest first: evaluation stops at the first false (or true)
    /// branch, and tests have no side effects, so the result is the same, found sooner.
    /// Explanations keep the order as written.
    pub fn cheapest_first(&self) -> Condition {
        match self {
            Condition::All(cs) | Condition::Any(cs) => {
                let mut cs: Vec<Condition> = cs.iter().map(Condition::cheapest_first).collect();
                cs.sort_by_key(Condition::cost);
                if matches!(self, Condition::All(_)) {
                    Condition::All(cs.into())
                } else {
                    Condition::Any(cs.into())
                }
            }
            Condition::Not(c) => Condition::Not(Box::new(c.cheapest_first())),
            Condition::Test(leaf) => Condition::Test(leaf.clone()),
        }
    }

    /// The sum of its tests' [`Test::cost`].
    pub fn cost(&self) -> u32 {
        match self {
            Condition::All(cs) | Condition::Any(cs) => cs.iter().map(Condition::cost).sum(),
            Condition::Not(c) => c.cost(),
            Condition::Test(leaf) => leaf.test.cost(),
        }
    }

    /// The tests of the tree, in order.
    pub fn leaves(&self) -> Vec<&Leaf> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Leaf>) {
        match self {
            Condition::All(cs) | Condition::Any(cs) => cs.iter().for_each(|c| c.collect(out)),
            Condition::Not(c) => c.collect(out),
            Condition::Test(l) => out.push(l),
        }
    }
}

fn attr<'a>(customer: Option<&'a Customer>, key: &str) -> Option<&'a str> {
    customer?.attribute(key)
}

/// A free attribute read as a number, as `caller.attr.KEY` in a number test reads it.
pub fn attr_number(customer: Option<&Customer>, key: &str) -> Option<f64> {
    attr(customer, key)?.trim().parse::<f64>().ok()
}

/// Today (in UTC) as days since 1970-01-01, as `days_ago` counts from.
pub fn today(now: Millis) -> i64 {
    i64::try_from(now.0).unwrap_or(i64::MAX) / DAY_MS
}

/// A cheap necessary condition of a [`Condition`], over the facts every call has at
/// hand: the caller's tier, preference and whether they are known, the call's line and
/// channel, and which calendars are open. A call outside a rule's guard cannot match it,
/// so the rules' index (`rule_index`) leaves the rule out; inside it, the rule
/// is evaluated in full. Sets are bit masks; a line id or calendar of 64 or more is not
/// tracked (always admitted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Guard {
    pub tiers: u32,
    pub preferences: u8,
    /// Bit 0: unknown caller; bit 1: known.
    pub known: u8,
    pub channels: u8,
    pub lines: u64,
    /// Lines with ids of 64 or more are admitted while this is set.
    pub far_lines: bool,
    /// Calendars that must be open, and that must be closed.
    pub open: u64,
    pub closed: u64,
}

impl Guard {
    /// Admits every call.
    pub const ALL: Guard = Guard {
        tiers: u32::MAX,
        preferences: u8::MAX,
        known: 0b11,
        channels: u8::MAX,
        lines: u64::MAX,
        far_lines: true,
        open: 0,
        closed: 0,
    };
    /// Admits no call.
    pub const NONE: Guard = Guard {
        tiers: 0,
        preferences: 0,
        known: 0,
        channels: 0,
        lines: 0,
        far_lines: false,
        open: u64::MAX,
        closed: u64::MAX,
    };

    fn and(self, o: Guard) -> Guard {
        Guard {
            tiers: self.tiers & o.tiers,
            preferences: self.preferences & o.preferences,
            known: self.known & o.known,
            channels: self.channels & o.channels,
            lines: self.lines & o.lines,
            far_lines: self.far_lines && o.far_lines,
            open: self.open | o.open,
            closed: self.closed | o.closed,
        }
    }

    /// Each dimension's union: wider than the union of the two sets (it also admits
    /// mixes of the two), so still a necessary condition of either holding.
    fn or(self, o: Guard) -> Guard {
        Guard {
            tiers: self.tiers | o.tiers,
            preferences: self.preferences | o.preferences,
            known: self.known | o.known,
            channels: self.channels | o.channels,
            lines: self.lines | o.lines,
            far_lines: self.far_lines || o.far_lines,
            open: self.open & o.open,
            closed: self.closed & o.closed,
        }
    }

    /// Whether a call with these facts may satisfy the condition.
    pub fn admits(&self, f: &Facts<'_>) -> bool {
        let tier = f.caller.tier.0;
        let line = f.line.index();
        let calendar = |i: u32| f.plan.calendar(i as u16).is_some_and(|c| c.is_open(f.now));
        let mut calendars_agree = true;
        for (mask, open) in [(self.open, true), (self.closed, false)] {
            let mut m = mask;
            while m != 0 && calendars_agree {
                calendars_agree = calendar(m.trailing_zeros()) == open;
                m &= m - 1;
            }
        }
        tier < 32
            && self.tiers & (1 << tier) != 0
            && self.preferences & f.caller.preference.bit() != 0
            && self.known & (1 << u8::from(f.caller.customer.is_some())) != 0
            && self.channels & f.channel.bit() != 0
            && if line < 64 {
                self.lines & (1 << line) != 0
            } else {
                self.far_lines
            }
            && calendars_agree
    }

    /// The guard of an `open(calendar)` test, or of its negation.
    fn calendar(calendar: u16, open: bool) -> Guard {
        let bit = if calendar < 64 { 1 << calendar } else { 0 };
        let mut g = Guard::ALL;
        if open {
            g.open = bit;
        } else {
            g.closed = bit;
        }
        g
    }
}

impl Test {
    /// Whether a [`Guard`] holds exactly the calls this test holds for: a test of tier,
    /// preference, line (below 64) or channel alone, whether the caller is known, or a
    /// constant.
    pub fn guard_is_exact(&self) -> bool {
        match self {
            Test::LineIn(lines) => lines.iter().all(|l| l.index() < 64),
            other => other.exact_guard().is_some(),
        }
    }

    /// A rough relative cost of evaluating the test: a flag or a mask test is 1, a read
    /// of a free attribute or a tag several, a queue's live figure the most.
    pub fn cost(&self) -> u32 {
        let number = |n: &Number| match n {
            Number::Const(_) => 0,
            Number::LifetimeValue | Number::Influence | Number::ZeroOuts => 1,
            Number::Attr(_) => 5,
            Number::Queue(..) => 10,
        };
        let text = |t: &Text| match t {
            Text::Attr(_) => 3,
            _ => 1,
        };
        let date = |d: &Date| match d {
            Date::Attr(_) => 5,
            _ => 1,
        };
        match self {
            Test::Number(a, _, b) => 1 + number(a) + number(b),
            Test::Text(t, ..) => 1 + text(t),
            Test::TextIn(t, set) => text(t) + set.len() as u32,
            Test::Tagged(_) => 3,
            Test::Date(a, _, b) => 1 + date(a) + date(b),
            Test::Open(_) => 2,
            _ => 1,
        }
    }

    /// The exact set of calls this test holds for, when it depends only on the facts a
    /// [`Guard`] tracks; `None` otherwise.
    fn exact_guard(&self) -> Option<Guard> {
        let mut g = Guard::ALL;
        match self {
            Test::Flag(Flag::Known) => g.known = 0b10,
            Test::Flag(Flag::Const(true)) => {}
            Test::Flag(Flag::Const(false)) => g = Guard::NONE,
            Test::Tier(cmp, t) => {
                g.tiers = (0..32u8)
                    .filter(|x| cmp.holds(*x, t.0))
                    .fold(0, |m, x| m | 1 << x);
            }
            Test::TierIn(set) => g.tiers = set.0,
            Test::PreferenceIn(mask) => g.preferences = *mask,
            Test::ChannelIn(mask) => g.channels = *mask,
            Test::LineIn(lines) => {
                g.lines = lines
                    .iter()
                    .filter(|l| l.index() < 64)
                    .fold(0, |m, l| m | 1 << l.index());
                g.far_lines = lines.iter().any(|l| l.index() >= 64);
            }
            _ => return None,
        }
        Some(g)
    }
}

/// The complement of an exact leaf's set: exact tests restrict one dimension (or none,
/// or all), so the complement flips that dimension.
fn complement(g: Guard) -> Guard {
    if g == Guard::NONE {
        return Guard::ALL;
    }
    if g == Guard::ALL {
        return Guard::NONE;
    }
    let mut c = Guard::ALL;
    if g.tiers != Guard::ALL.tiers {
        c.tiers = !g.tiers;
    } else if g.preferences != Guard::ALL.preferences {
        c.preferences = !g.preferences;
    } else if g.known != Guard::ALL.known {
        c.known = !g.known & 0b11;
    } else if g.channels != Guard::ALL.channels {
        c.channels = !g.channels;
    } else {
        c.lines = !g.lines;
        c.far_lines = !g.far_lines;
    }
    c
}

impl Condition {
    /// A necessary condition of this one (see [`Guard`]).
    pub fn guard(&self) -> Guard {
        match self {
            Condition::All(cs) => cs.iter().fold(Guard::ALL, |g, c| g.and(c.guard())),
            Condition::Any(cs) => cs.iter().fold(Guard::NONE, |g, c| g.or(c.guard())),
            Condition::Not(c) => match &**c {
                Condition::Test(leaf) => match (&leaf.test, leaf.test.exact_guard()) {
                    (Test::Open(cal), _) => Guard::calendar(*cal, leaf.negated),
                    // `not` of a negated leaf is the plain test.
                    (_, Some(g)) if leaf.negated => g,
                    (_, Some(g)) => complement(g),
                    (_, None) => Guard::ALL,
                },
                _ => Guard::ALL,
            },
            Condition::Test(leaf) => match (&leaf.test, leaf.test.exact_guard()) {
                (Test::Open(cal), _) => Guard::calendar(*cal, !leaf.negated),
                (_, Some(g)) if leaf.negated => complement(g),
                (_, Some(g)) => g,
                (_, None) => Guard::ALL,
            },
        }
    }
}

pub use crate::clock::{civil_from_days, days_from_civil, parse_date};

fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

impl Number {
    /// The caller's own figure this operand reads (lifetime value, influence,
    /// zero-outs), which an unknown caller has too; `None` for any other operand.
    pub fn of_caller(&self, caller: &Caller, zero_out_window: u8) -> Option<f64> {
        let customer = caller.customer.as_deref();
        match self {
            Number::LifetimeValue => Some(customer.map_or(0.0, |c| c.lifetime_value)),
            Number::Influence => Some(customer.map_or(0.0, |c| f64::from(c.influence))),
            Number::ZeroOuts => Some(f64::from(caller.learned.zero_outs(zero_out_window))),
            _ => None,
        }
    }

    fn value(&self, f: &Facts<'_>) -> Option<f64> {
        let customer = f.caller.customer.as_deref();
        Some(match self {
            Number::Const(v) => *v,
            Number::LifetimeValue | Number::Influence | Number::ZeroOuts => {
                self.of_caller(f.caller, f.plan.zero_out_window())?
            }
            Number::Attr(key) => attr_number(customer, key)?,
            Number::Queue(q, metric) => match metric {
                QueueMetric::Waiting => f.live.waiting(*q) as f64,
                QueueMetric::EstimatedWait => f
                    .live
                    .estimated_wait(*q)
                    .map_or(f64::INFINITY, |d| d.as_secs_f64()),
                QueueMetric::Staffed => f.live.staffed(*q) as f64,
                QueueMetric::Available => f.live.available(*q) as f64,
            },
        })
    }

    fn describe(&self, f: &Facts<'_>) -> String {
        match (self, self.value(f)) {
            (Number::Attr(key), None) => match attr(f.caller.customer.as_deref(), key) {
                Some(v) => format!("{v:?} (not a number)"),
                None => "missing".to_owned(),
            },
            (Number::Queue(_, QueueMetric::EstimatedWait), Some(v)) if v.is_infinite() => {
                "unbounded (nobody staffed)".to_owned()
            }
            (_, Some(v)) => format_number(v),
            (_, None) => "missing".to_owned(),
        }
    }
}

fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

impl Text {
    fn value<'a>(&self, f: &Facts<'a>) -> Option<&'a str> {
        if let Text::Digits = self {
            return Some(f.digits);
        }
        let customer = f.caller.customer.as_deref()?;
        match self {
            Text::Digits => Some(f.digits),
            Text::CustomerId => Some(customer.id()),
            Text::Language => Some(customer.language()),
            Text::PreferredAgent => customer.preferred_agent(),
            Text::Attr(key) => attr(Some(customer), key),
        }
    }
}

impl Date {
    fn value(&self, f: &Facts<'_>) -> Option<i64> {
        match self {
            Date::Const(d) => Some(*d),
            Date::DaysAgo(n) => Some(today(f.now) - n),
            Date::Attr(key) => parse_date(attr(f.caller.customer.as_deref(), key)?),
        }
    }

    fn describe(&self, f: &Facts<'_>) -> String {
        match (self, self.value(f)) {
            (_, Some(d)) => format_date(d),
            (Date::Attr(key), None) => match attr(f.caller.customer.as_deref(), key) {
                Some(v) => format!("{v:?} (not a date)"),
                None => "missing".to_owned(),
            },
            (_, None) => "missing".to_owned(),
        }
    }
}

impl Test {
    pub fn eval(&self, f: &Facts<'_>) -> bool {
        let caller = f.caller;
        match self {
            Test::Flag(flag) => match flag {
                Flag::Known => caller.customer.is_some(),
                Flag::Repeat => caller.repeat,
                Flag::Const(b) => *b,
            },
            Test::Tier(cmp, tier) => cmp.holds(caller.tier, *tier),
            Test::TierIn(set) => set.contains(caller.tier),
            Test::PreferenceIn(mask) => mask & caller.preference.bit() != 0,
            Test::LineIn(lines) => lines.contains(&f.line),
            Test::ChannelIn(mask) => mask & f.channel.bit() != 0,
            Test::PreferredChannelIn(mask) => caller
                .customer
                .as_ref()
                .and_then(|c| c.preferred_channel)
                .is_some_and(|c| mask & c.bit() != 0),
            Test::Number(a, cmp, b) => match (a.value(f), b.value(f)) {
                (Some(a), Some(b)) => cmp.holds(a, b),
                _ => false,
            },
            Test::Text(t, cmp, lit) => t.value(f).is_some_and(|v| cmp.holds(v, lit)),
            Test::TextIn(t, set) => t.value(f).is_some_and(|v| set.iter().any(|s| **s == *v)),
            Test::Tagged(tag) => caller.customer.as_ref().is_some_and(|c| c.has_tag(tag)),
            Test::Date(a, cmp, b) => match (a.value(f), b.value(f)) {
                (Some(a), Some(b)) => cmp.holds(a, b),
                _ => false,
            },
            Test::Open(cal) => f.plan.calendar(*cal).is_some_and(|c| c.is_open(f.now)),
            Test::RepeatWithin(window) => caller
                .learned
                .last_call
                .is_some_and(|t| f.now.since(t) <= *window),
        }
    }

    /// The value the test looked at, in words.
    pub fn describe(&self, f: &Facts<'_>) -> String {
        let caller = f.caller;
        let text = |t: &Text| match t.value(f) {
            Some(v) => format!("{v:?}"),
            None if caller.customer.is_none() => "unknown caller".to_owned(),
            None => "missing".to_owned(),
        };
        match self {
            Test::Flag(Flag::Known) => caller.customer.is_some().to_string(),
            Test::Flag(Flag::Repeat) => caller.repeat.to_string(),
            Test::Flag(Flag::Const(b)) => b.to_string(),
            Test::Tier(..) | Test::TierIn(_) => f.plan.tier_name(caller.tier).to_owned(),
            Test::PreferenceIn(_) => {
                let source = match caller.source {
                    PreferenceSource::None => "",
                    PreferenceSource::Explicit => " (explicit)",
                    PreferenceSource::LearnedZeroOut => " (learned from zero-outs)",
                    PreferenceSource::LearnedChoice => " (learned from a menu choice)",
                };
                format!("{}{source}", caller.preference)
            }
            Test::LineIn(_) => f.plan.line_name(f.line).to_owned(),
            Test::ChannelIn(_) => f.channel.as_str().to_owned(),
            Test::PreferredChannelIn(_) => match &caller.customer {
                None => "unknown caller".to_owned(),
                Some(c) => c
                    .preferred_channel
                    .map_or_else(|| "none said".to_owned(), |ch| ch.as_str().to_owned()),
            },
            Test::Number(a, _, b) => {
                let (a, b) = (a.describe(f), b.describe(f));
                if matches!(self, Test::Number(_, _, Number::Const(_))) {
                    a
                } else {
                    format!("{a} vs {b}")
                }
            }
            Test::Text(t, ..) | Test::TextIn(t, _) => text(t),
            Test::Tagged(_) => match &caller.customer {
                Some(c) if c.tags().len() == 0 => "no tags".to_owned(),
                Some(c) => format!("tags [{}]", c.tags().collect::<Vec<_>>().join(", ")),
                None => "unknown caller".to_owned(),
            },
            Test::Date(a, _, b) => format!("{} vs {}", a.describe(f), b.describe(f)),
            Test::Open(cal) => match f.plan.calendar(*cal) {
                Some(c) => c.describe(f.now),
                None => "no such calendar".to_owned(),
            },
            Test::RepeatWithin(_) => match caller.learned.last_call {
                Some(t) => format!("last called {}s ago", f.now.since(t).as_secs()),
                None => "no earlier call".to_owned(),
            },
        }
    }

    /// Whether the test reads the caller's menu answers (such rules run again after each).
    pub fn reads_digits(&self) -> bool {
        matches!(
            self,
            Test::Text(Text::Digits, ..) | Test::TextIn(Text::Digits, _)
        )
    }

    /// Queues whose live state the test reads.
    pub fn queues(&self) -> impl Iterator<Item = QueueId> + '_ {
        let (a, b) = match self {
            Test::Number(Number::Queue(q, _), _, other)
            | Test::Number(other, _, Number::Queue(q, _)) => (
                Some(*q),
                match other {
                    Number::Queue(q, _) => Some(*q),
                    _ => None,
                },
            ),
            _ => (None, None),
        };
        a.into_iter().chain(b)
    }
}

impl Preference {
    /// The mask of a set of preferences.
    pub fn mask(prefs: &[Preference]) -> u8 {
        prefs.iter().fold(0, |m, p| m | p.bit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_day_numbers() {
        for days in [-1_000, 0, 59, 60, 11_000, 20_454, 30_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2024-02-29T10:00:00Z"), Some(19_782));
    }

    #[test]
    fn impossible_or_malformed_dates_are_refused() {
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "24-01-01",
            "2024/01/01",
            "2024-01-0x",
            "2024-01-01x",
            "",
            "२०२४-01-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
