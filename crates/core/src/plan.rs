//! The compiled routing plan: tiers, lines, menus, queues and rules, with every reference
//! resolved to an index. Built once from config, shared immutably and swapped whole.

use std::{collections::HashMap, fmt, sync::Arc, time::Duration};

use crate::{
    behaviour::ZeroOutPolicy,
    calendar::Calendar,
    condition::{Condition, Test},
    customer::{Preference, TierId},
    number::{E164, NumberPlan},
};

pub use crate::ids::{LineId, MAX_TIERS, MenuId, QueueId, RuleId, TierSet};

/// A published service standard: answer `percent` of calls within `within`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServiceStandard {
    pub percent: u8,
    pub within: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tier {
    pub name: String,
    pub base_priority: i32,
    /// The standard of voice calls, and of every channel without one of its own.
    pub standard: ServiceStandard,
    /// Standards of other channels (e.g. chat 90% in 30 s, email 95% within 4 h).
    pub by_channel: Vec<(crate::channel::Channel, ServiceStandard)>,
}

impl Tier {
    /// The time of the standard of each lane's channel, in milliseconds.
    pub fn lane_standards(&self) -> [u64; crate::capacity::LANES] {
        crate::capacity::Lane::ALL.map(|lane| {
            u64::try_from(self.standard_for(lane.channel()).within.as_millis()).unwrap_or(u64::MAX)
        })
    }

    /// The standard a contact on `channel` is held to.
    pub fn standard_for(&self, channel: crate::channel::Channel) -> ServiceStandard {
        self.by_channel
            .iter()
            .find(|(c, _)| *c == channel)
            .map_or(self.standard, |(_, s)| *s)
    }
}

/// Where a call goes next: a menu to play or a queue to wait in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Menu(MenuId),
    Queue(QueueId),
}

/// A dialed number and how calls to it begin.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub name: String,
    pub number: E164,
    pub entry: Target,
    /// When set, only these tiers may use the line; others follow `others`.
    pub admits: Option<TierSet>,
    pub others: Option<LineRedirect>,
}

/// Where a line sends callers it does not admit, and the prompt that tells them.
#[derive(Clone, Debug, PartialEq)]
pub struct LineRedirect {
    pub line: LineId,
    pub prompt: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Menu {
    pub name: String,
    pub prompt: String,
    pub options: Vec<MenuOption>,
    /// How many times the menu plays before invalid input follows `fallback`.
    pub attempts: u8,
    pub fallback: Target,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MenuOption {
    pub digits: String,
    pub intent: Option<String>,
    pub label: String,
    pub target: Target,
    /// A preference the choice reveals, remembered for the caller's next calls.
    pub remember: Option<Preference>,
}

/// How a queue picks among several idle eligible agents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Strategy {
    /// The agent idle the longest: spreads work evenly over time.
    #[default]
    LongestIdle,
    /// The agent with the highest proficiency in the queue's skills, then longest idle.
    MostSkilled,
    /// Each idle agent in turn, in log-in order.
    RoundRobin,
    /// The agent who has spent the smallest share of their logged-in time busy
    /// (offered, on a call or wrapping up), then longest idle.
    LeastOccupied,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::LongestIdle,
        Strategy::MostSkilled,
        Strategy::RoundRobin,
        Strategy::LeastOccupied,
    ];

    /// The name used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::LongestIdle => "longest_idle",
            Strategy::MostSkilled => "most_skilled",
            Strategy::RoundRobin => "round_robin",
            Strategy::LeastOccupied => "least_occupied",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Queue {
    pub name: String,
    /// Skill names with the minimum proficiency (1 to 10) an agent needs in each.
    pub skills: Vec<(String, u8)>,
    pub strategy: Strategy,
    /// Priority points a waiting call gains per minute waited.
    pub aging_per_minute: i64,
    /// Time an agent spends in wrap-up after a call from this queue before becoming
    /// available again by themselves (they may say ready sooner).
    pub wrap_up: Duration,
    /// Handle time (talk plus wrap-up) assumed until calls have been measured.
    pub handle_time: Duration,
    /// Offer a callback when the estimated wait passes this; `None`: never.
    pub callback_after: Option<Duration>,
    /// What happens to a call that has waited this long (once per call).
    pub max_wait: Option<(Duration, MaxWaitAction)>,
    /// Steps that widen who may take a call as it waits, in increasing `after` order.
    pub overflow: Vec<OverflowStep>,
    /// Removed by a reload: kept only so that calls still holding its id find it (an
    /// agent on one of its calls wraps up by its rules). No rule, menu or agent leads to
    /// it; its waiting calls moved to the fallback queue.
    pub retired: bool,
    /// Set on a queue made for calls that need more skills than `part_of` asks (a rule's
    /// `skills`): it takes that queue's policy with the extra skills, and when it goes,
    /// its calls go back there.
    pub part_of: Option<QueueId>,
    /// Where calls go while a supervisor has the queue closed: another queue (keeping
    /// their arrival time), or `None` for the queue's voicemail.
    pub when_closed: Option<QueueId>,
}

/// After a call has waited `after`, more agents may take it: those with the queue's
/// skills at `min_proficiency` or more (if set), and those who serve any of `also`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverflowStep {
    pub after: Duration,
    pub min_proficiency: Option<u8>,
    pub also: Vec<QueueId>,
}

/// What a queue does with a call that reached its maximum wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxWaitAction {
    /// Move it to another queue, keeping its arrival time.
    Overflow(QueueId),
    /// Offer a callback; the call keeps its place.
    Callback,
    /// Send the caller to voicemail; the call leaves the queue.
    Voicemail,
}

/// A routing rule: a condition over the caller, the call, the time and live queue state,
/// and what to do on a match.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub name: String,
    pub when: Condition,
    pub then: Then,
}

/// What a matching rule does. Several matching rules (those that `continue`) add up:
/// later targets and priorities win, tags, offers and notes accumulate.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Then {
    pub target: Option<Target>,
    /// Replaces the priority so far.
    pub priority: Option<i32>,
    /// Added to the priority so far (after `priority`).
    pub raise_priority: i32,
    /// Offer the caller a callback whatever the estimated wait.
    pub offer_callback: bool,
    /// Keep the call first for this agent (for `learning.same_agent_for`) before anyone
    /// else may take it.
    pub prefer_agent: Option<Arc<str>>,
    /// Labels on the call, for the switch and for reporting.
    pub tags: Vec<Arc<str>>,
    /// Offers for the agent's screen (e.g. an extended warranty to propose).
    pub offers: Vec<Arc<str>>,
    /// Notes for the agent's screen.
    pub notes: Vec<Arc<str>>,
    /// Evaluate later rules too instead of stopping at this one.
    pub continue_: bool,
}

/// Thresholds for learning from behaviour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Learning {
    pub zero_out: ZeroOutPolicy,
    /// A caller who called before within this window is a repeat caller.
    pub repeat_window: Duration,
    /// How long a repeat caller's call is kept for the agent who served them last before
    /// anyone may take it; zero turns this off.
    pub same_agent_for: Duration,
}

/// The standard agents' own figures are held to (`[coaching]`). An agent who has handled
/// at least `min_calls` calls and falls short of any of it is flagged for coaching; each
/// call earns the agent a point for each part of it the call meets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AgentStandard {
    /// Average handle time (talk plus wrap-up) at most this.
    pub handle_time: Duration,
    /// First-contact resolution at least this percent: calls resolved and not followed by
    /// a repeat contact within the repeat window.
    pub first_contact_percent: u8,
    /// Survey answers of 4 or 5 (of 5) at least this percent.
    pub satisfied_percent: u8,
    /// Figures are judged from this many handled calls on.
    pub min_calls: u32,
}

impl Default for AgentStandard {
    fn default() -> Self {
        AgentStandard {
            handle_time: Duration::from_secs(8 * 60),
            first_contact_percent: 70,
            satisfied_percent: 80,
            min_calls: 10,
        }
    }
}

/// The whole plan: its checked parts (reached through `Deref`) and the indexes built from
/// them. Constructed through [`RoutePlan::new`], which checks that every index points
/// somewhere.
#[derive(Clone, Debug)]
pub struct RoutePlan {
    parts: PlanParts,
    line_by_number: HashMap<E164, LineId>,
    /// Each line's number as E.164 text (`+18005550100`), as switches send the dialed
    /// number: such a number finds its line without being normalized.
    line_by_text: HashMap<Box<str>, LineId, crate::FastHash>,
    /// Rules whose condition reads `call.digits`, in order: they run again after every
    /// menu answer.
    digit_rules: Vec<RuleId>,
    /// Each rule's guard, by rule id: calls outside it skip the rule.
    guards: Box<[crate::condition::Guard]>,
    /// Which rules a call can match, by its guards and the caller's attribute values,
    /// tags and figures.
    rule_index: crate::rule_index::RuleIndex,
    /// Each rule's condition as evaluated: cheapest tests first.
    quick: Box<[crate::condition::Condition]>,
}

impl std::ops::Deref for RoutePlan {
    type Target = PlanParts;

    fn deref(&self) -> &PlanParts {
        &self.parts
    }
}

/// The parts of a plan. Only a [`RoutePlan`] guarantees their indexes are in range.
#[derive(Clone, Debug)]
pub struct PlanParts {
    pub numbers: NumberPlan,
    pub tiers: Vec<Tier>,
    pub lines: Vec<Line>,
    pub default_line: LineId,
    pub menus: Vec<Menu>,
    pub queues: Vec<Queue>,
    pub rules: Vec<Rule>,
    pub learning: Learning,
    pub coaching: AgentStandard,
    /// What agents may hold of each channel's work, and the rules across channels.
    pub capacity: crate::capacity::Capacity,
    /// Business-hours calendars that conditions may ask about (`open("name")`).
    pub calendars: Vec<Calendar>,
    /// Where a reload sends the waiting calls of a queue it removes.
    pub fallback_queue: Option<QueueId>,
}

/// A plan whose parts do not fit together. The config crate reports these with file
/// positions before a plan is ever built; this is the last line of defence.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{what} index {index} is out of range")]
    DanglingIndex { what: &'static str, index: usize },
    #[error("number {0} is used by two lines")]
    DuplicateLineNumber(E164),
    #[error("at least one tier is required, at most {MAX_TIERS}")]
    TierCount,
}

impl RoutePlan {
    pub fn new(parts: PlanParts) -> Result<Self, PlanError> {
        let PlanParts {
            tiers,
            lines,
            default_line,
            menus,
            queues,
            rules,
            ..
        } = &parts;
        let default_line = *default_line;
        if tiers.is_empty() || tiers.len() > MAX_TIERS {
            return Err(PlanError::TierCount);
        }
        let check_target = |t: Target| match t {
            Target::Menu(m) if m.index() >= menus.len() => Err(PlanError::DanglingIndex {
                what: "menu",
                index: m.index(),
            }),
            Target::Queue(q) if q.index() >= queues.len() => Err(PlanError::DanglingIndex {
                what: "queue",
                index: q.index(),
            }),
            _ => Ok(()),
        };
        let check_line = |l: LineId| {
            if l.index() >= lines.len() {
                Err(PlanError::DanglingIndex {
                    what: "line",
                    index: l.index(),
                })
            } else {
                Ok(())
            }
        };
        check_line(default_line)?;
        let mut line_by_number = HashMap::with_capacity(lines.len());
        let mut line_by_text = HashMap::with_capacity_and_hasher(lines.len(), Default::default());
        for (i, line) in lines.iter().enumerate() {
            check_target(line.entry)?;
            if let Some(r) = &line.others {
                check_line(r.line)?;
            }
            if line_by_number
                .insert(line.number, LineId(i as u16))
                .is_some()
            {
                return Err(PlanError::DuplicateLineNumber(line.number));
            }
            line_by_text.insert(line.number.to_string().into(), LineId(i as u16));
        }
        for menu in menus {
            check_target(menu.fallback)?;
            for option in &menu.options {
                check_target(option.target)?;
            }
        }
        for queue in queues {
            if let Some((_, MaxWaitAction::Overflow(q))) = queue.max_wait {
                check_target(Target::Queue(q))?;
            }
            for q in queue.overflow.iter().flat_map(|s| &s.also) {
                check_target(Target::Queue(*q))?;
            }
        }
        if let Some(q) = parts.fallback_queue {
            check_target(Target::Queue(q))?;
        }
        for rule in rules {
            if let Some(t) = rule.then.target {
                check_target(t)?;
            }
            for leaf in rule.when.leaves() {
                match &leaf.test {
                    Test::LineIn(ls) => ls.iter().try_for_each(|l| check_line(*l))?,
                    Test::Open(c) if usize::from(*c) >= parts.calendars.len() => {
                        return Err(PlanError::DanglingIndex {
                            what: "calendar",
                            index: usize::from(*c),
                        });
                    }
                    test => test
                        .queues()
                        .try_for_each(|q| check_target(Target::Queue(q)))?,
                }
            }
        }
        let digit_rules = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.when.leaves().iter().any(|l| l.test.reads_digits()))
            .map(|(i, _)| RuleId(i as u16))
            .collect();
        let guards: Box<[_]> = rules.iter().map(|r| r.when.guard()).collect();
        let rule_index = crate::rule_index::RuleIndex::new(rules.iter().map(|r| &r.when), &guards);
        let quick = rules.iter().map(|r| r.when.cheapest_first()).collect();
        Ok(RoutePlan {
            parts,
            line_by_number,
            line_by_text,
            digit_rules,
            guards,
            rule_index,
            quick,
        })
    }

    /// Whether rule `rule` holds for a call with these facts, evaluated cheapest tests
    /// first (see [`crate::condition::Condition::cheapest_first`]).
    pub fn holds(&self, rule: RuleId, facts: &crate::condition::Facts<'_>) -> bool {
        self.quick[usize::from(rule.0)].eval(facts)
    }

    /// The guard of each rule, by rule id (see [`crate::condition::Guard`]).
    pub fn guards(&self) -> &[crate::condition::Guard] {
        &self.guards
    }

    /// The rules' index (see [`crate::rule_index`]).
    pub fn rule_index(&self) -> &crate::rule_index::RuleIndex {
        &self.rule_index
    }

    /// Rules that read the caller's menu answers, in order.
    pub fn digit_rules(&self) -> &[RuleId] {
        &self.digit_rules
    }

    /// The line for a dialed number, if it is one of ours.
    pub fn line_for(&self, dialed: E164) -> Option<LineId> {
        self.line_by_number.get(&dialed).copied()
    }

    /// The line whose number is exactly this E.164 text (`+` and digits, as a line's
    /// number prints), with no normalizing; `None` for any other spelling.
    pub fn line_for_text(&self, dialed: &str) -> Option<LineId> {
        self.line_by_text.get(dialed).copied()
    }

    pub fn tier(&self, id: TierId) -> &Tier {
        // Customers loaded under an older plan may name a tier this plan no longer has;
        // they are served as the lowest tier rather than not at all.
        self.tiers.get(usize::from(id.0)).unwrap_or(&self.tiers[0])
    }

    pub fn line(&self, id: LineId) -> &Line {
        &self.lines[id.index()]
    }

    pub fn menu(&self, id: MenuId) -> &Menu {
        &self.menus[id.index()]
    }

    pub fn queue(&self, id: QueueId) -> &Queue {
        &self.queues[id.index()]
    }

    pub fn rule(&self, id: RuleId) -> &Rule {
        &self.rules[id.index()]
    }

    /// A queue in service by name (retired queues are not found).
    pub fn queue_by_name(&self, name: &str) -> Option<QueueId> {
        self.queues
            .iter()
            .position(|q| q.name == name && !q.retired)
            .map(|i| QueueId(i as u16))
    }

    pub fn tier_by_name(&self, name: &str) -> Option<TierId> {
        self.tiers
            .iter()
            .position(|t| t.name == name)
            .map(|i| TierId(i as u8))
    }

    /// A target by name, for messages: `menu main` or `queue operator`.
    pub fn target_name(&self, target: Target) -> TargetName<'_> {
        TargetName { plan: self, target }
    }
}

/// Displays a [`Target`] with its configured name.
#[derive(Debug)]
pub struct TargetName<'a> {
    plan: &'a RoutePlan,
    target: Target,
}

impl fmt::Display for TargetName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.target {
            Target::Menu(m) => write!(f, "menu {}", self.plan.menu(m).name),
            Target::Queue(q) => write!(f, "queue {}", self.plan.queue(q).name),
        }
    }
}

impl crate::condition::PlanFacts for RoutePlan {
    fn zero_out_window(&self) -> u8 {
        self.learning.zero_out.window
    }

    fn tier_name(&self, tier: TierId) -> &str {
        &self.tier(tier).name
    }

    fn line_name(&self, line: LineId) -> &str {
        &self.line(line).name
    }

    fn calendar(&self, index: u16) -> Option<&Calendar> {
        self.calendars.get(usize::from(index))
    }
}
