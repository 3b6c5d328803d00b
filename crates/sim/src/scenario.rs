//! A scenario: who calls when, how long agents take, how long callers wait before they
//! hang up, and who is at the desk. Written in TOML (see `config/scenarios/weekday.toml`),
//! checked against the routing config it will run with, each mistake named by its field.

use std::{collections::BTreeMap, time::Duration};

use serde::Deserialize;
use switchboard_core::{
    RoutePlan,
    caller::Channel,
    capacity::{Lane, Limits, MAX_PER_LANE},
};

use crate::random::{Distribution, RawDistribution};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScenarioError {
    #[error("scenario: {0}")]
    Toml(String),
    #[error("scenario: {field}: {message}")]
    Invalid { field: String, message: String },
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    seed: u64,
    /// Seconds since the Unix epoch of the simulated day's start (UTC); calendars in
    /// rules read the simulated time.
    #[serde(default = "default_start")]
    start: u64,
    interval: String,
    #[serde(default)]
    menu_time: Option<String>,
    #[serde(default)]
    customers_per_tier: Option<usize>,
    arrivals: Vec<RawArrivals>,
    handle_time: RawByName,
    #[serde(default)]
    patience: Option<RawByName>,
    #[serde(default)]
    accept_callback: Option<RawShares>,
    #[serde(default)]
    ring_time: Option<String>,
    #[serde(default)]
    ready_after_missed: Option<String>,
    agents: Vec<RawAgents>,
}

/// A share (0 to 1) by default, and others by tier.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShares {
    default: f64,
    #[serde(default)]
    tiers: BTreeMap<String, f64>,
}

/// Monday 2027-01-04 08:00 UTC.
fn default_start() -> u64 {
    1_799_049_600
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArrivals {
    line: String,
    #[serde(default)]
    channel: Option<String>,
    per_interval: Vec<f64>,
    callers: BTreeMap<String, f64>,
    #[serde(default)]
    menus: BTreeMap<String, BTreeMap<String, f64>>,
}

/// A default distribution, and others by name (of a queue, or of a tier).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawByName {
    default: RawDistribution,
    #[serde(default)]
    queues: BTreeMap<String, RawDistribution>,
    #[serde(default)]
    tiers: BTreeMap<String, RawDistribution>,
    #[serde(default)]
    channels: BTreeMap<String, RawDistribution>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgents {
    name: String,
    count: usize,
    skills: BTreeMap<String, u8>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    breaks: Vec<RawBreak>,
    #[serde(default)]
    no_answer: Option<f64>,
    #[serde(default)]
    capacity: Option<BTreeMap<String, u8>>,
    #[serde(default)]
    staffed: Option<Vec<usize>>,
}

/// A break: when it starts (after the day's start) and how long it lasts; with `spread`,
/// the group's agents start theirs one after another over that time.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBreak {
    at: String,
    #[serde(rename = "for")]
    lasts: String,
    #[serde(default)]
    spread: Option<String>,
}

/// Who calls on a line: per interval the expected number of calls (a Poisson process
/// within the interval), the mix of callers, and the choices they make at menus.
#[derive(Clone, Debug)]
pub struct Arrivals {
    pub line: String,
    pub channel: Channel,
    pub per_interval: Vec<f64>,
    /// Weights by tier index; `None` is an unknown caller.
    pub callers: Vec<(Option<usize>, f64)>,
    /// By menu name: digits and their weights.
    pub menus: BTreeMap<String, Vec<(String, f64)>>,
}

/// A group of agents alike: their skills and tags, and when they are at the desk.
#[derive(Clone, Debug)]
pub struct Agents {
    pub name: String,
    pub count: usize,
    pub skills: Vec<(String, u8)>,
    pub tags: Vec<String>,
    pub from: Duration,
    pub to: Duration,
    /// Breaks: when the group's first agent steps away, for how long, and over how long
    /// the others follow one after another.
    pub breaks: Vec<Break>,
    /// The chance that an agent lets an offered call ring out.
    pub no_answer: f64,
    /// What each agent may hold at once per channel (the config's `[capacity]` unless
    /// the group names its own).
    pub capacity: Limits,
    /// How many of the group are at the desk in each interval (the first ones by
    /// number), instead of one shift for all: what a staffing search finds.
    pub staffed: Option<Vec<usize>>,
}

impl Agents {
    /// The stretches of time (after the day's start) the `k`-th agent of the group is at
    /// the desk, with `interval` the scenario's.
    pub fn stretches(&self, k: usize, interval: Duration) -> Vec<(Duration, Duration)> {
        let Some(staffed) = &self.staffed else {
            return vec![(self.from, self.to)];
        };
        let mut out: Vec<(Duration, Duration)> = Vec::new();
        for (i, n) in staffed.iter().enumerate() {
            if k >= *n {
                continue;
            }
            let (from, to) = (interval * i as u32, interval * (i as u32 + 1));
            match out.last_mut() {
                Some(last) if last.1 == from => last.1 = to,
                _ => out.push((from, to)),
            }
        }
        out
    }
}

/// A break of a group of agents (times after the day's start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Break {
    pub at: Duration,
    pub lasts: Duration,
    pub spread: Duration,
}

impl Break {
    /// When the `k`-th of `count` agents of the group starts this break.
    pub fn start_of(&self, k: usize, count: usize) -> Duration {
        self.at + self.spread.mul_f64(k as f64 / count.max(1) as f64)
    }
}

/// A checked scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    /// The simulated day's start, milliseconds since the epoch.
    pub start_ms: u64,
    pub interval: Duration,
    pub menu_time: Duration,
    pub customers_per_tier: usize,
    pub arrivals: Vec<Arrivals>,
    /// Handle time by queue index (talk time; the queue's wrap-up comes on top).
    pub handle_time: Vec<Distribution>,
    /// Handle time by channel, where the scenario names one (before the queue's).
    pub handle_time_channels: Vec<(Channel, Distribution)>,
    /// Patience by tier index, `None` for callers who never hang up.
    pub patience: Vec<Option<Distribution>>,
    /// By tier index: the share of callers who take a callback when it is offered.
    pub accept_callback: Vec<f64>,
    /// How long an offer rings before an agent who does not answer lets it go.
    pub ring_time: Duration,
    /// How long after missed offers put them not ready an agent says ready again.
    pub ready_after_missed: Duration,
    /// Offers an agent may leave unanswered in a row before going not ready: the
    /// config's `no_answers_before_not_ready` (set by whoever loaded the config; 1, the
    /// config's default, otherwise).
    pub no_answers_before_not_ready: u32,
    pub agents: Vec<Agents>,
}

impl Scenario {
    /// The number of intervals the longest arrival pattern covers.
    pub fn intervals(&self) -> usize {
        self.arrivals
            .iter()
            .map(|a| a.per_interval.len())
            .max()
            .unwrap_or(0)
    }

    /// The handle time of work of `channel` answered from queue `queue`: the channel's
    /// where the scenario names one, else the queue's.
    pub fn handle_time_for(&self, queue: usize, channel: Channel) -> &Distribution {
        self.handle_time_channels
            .iter()
            .find(|(c, _)| *c == channel)
            .map_or(&self.handle_time[queue], |(_, d)| d)
    }

    /// The scenario for replaying the calls that arrived in `[from_ms, to_ms)`: its day
    /// starts at `from_ms` and has as many intervals as cover `to_ms`, and its own
    /// arrivals are left out (the recorded calls come instead). Agents, handle times and
    /// patience stay.
    pub fn for_replay(&self, from_ms: u64, to_ms: u64) -> Scenario {
        let interval = self.interval.as_millis().max(1) as u64;
        let intervals = to_ms.saturating_sub(from_ms).div_ceil(interval).max(1) as usize;
        Scenario {
            start_ms: from_ms,
            arrivals: vec![Arrivals {
                line: String::new(),
                channel: Channel::Voice,
                per_interval: vec![0.0; intervals],
                callers: vec![(None, 1.0)],
                menus: BTreeMap::new(),
            }],
            ..self.clone()
        }
    }

    /// Reads a scenario for `plan`.
    pub fn parse(text: &str, plan: &RoutePlan) -> Result<Scenario, ScenarioError> {
        let raw: Raw = toml::from_str(text).map_err(|e| ScenarioError::Toml(e.to_string()))?;
        let duration = |field: &str, text: &str| {
            switchboard_config::duration::parse_duration(text)
                .map_err(|e| invalid(field, e.to_string()))
        };
        let interval = duration("interval", &raw.interval)?;
        if interval < Duration::from_secs(60) {
            return Err(invalid("interval", "must be a minute or longer"));
        }
        let menu_time = match &raw.menu_time {
            Some(t) => duration("menu_time", t)?,
            None => Duration::from_secs(8),
        };
        let tier_of = |name: &str| plan.tiers.iter().position(|t| t.name == name);
        let mut arrivals = Vec::new();
        if raw.arrivals.is_empty() {
            return Err(invalid("arrivals", "at least one [[arrivals]] is needed"));
        }
        for (i, a) in raw.arrivals.iter().enumerate() {
            let at = |f: &str| format!("arrivals[{i}].{f}");
            let channel = match &a.channel {
                None => Channel::Voice,
                Some(c) => Channel::parse(c)
                    .ok_or_else(|| invalid(at("channel"), format!("{c:?} is not a channel")))?,
            };
            if let Some(n) = a
                .per_interval
                .iter()
                .find(|n| !(n.is_finite() && **n >= 0.0))
            {
                return Err(invalid(
                    at("per_interval"),
                    format!("{n} is not a count of calls"),
                ));
            }
            let mut callers = Vec::new();
            for (name, weight) in &a.callers {
                let tier = match name.as_str() {
                    "unknown" => None,
                    t => Some(tier_of(t).ok_or_else(|| {
                        invalid(
                            at("callers"),
                            format!("{t:?} is neither a tier nor \"unknown\""),
                        )
                    })?),
                };
                if !(weight.is_finite() && *weight >= 0.0) {
                    return Err(invalid(
                        at("callers"),
                        format!("{name}: a weight is 0 or more"),
                    ));
                }
                callers.push((tier, *weight));
            }
            if callers.iter().all(|(_, w)| *w == 0.0) {
                return Err(invalid(at("callers"), "some caller needs a weight above 0"));
            }
            let mut menus = BTreeMap::new();
            for (menu, choices) in &a.menus {
                if !plan.menus.iter().any(|m| m.name == *menu) {
                    return Err(invalid(
                        at("menus"),
                        format!("{menu:?} is not a menu of the config"),
                    ));
                }
                let choices: Vec<(String, f64)> =
                    choices.iter().map(|(d, w)| (d.clone(), *w)).collect();
                if let Some((d, _)) = choices.iter().find(|(_, w)| !(w.is_finite() && *w >= 0.0)) {
                    return Err(invalid(
                        at("menus"),
                        format!("{menu}.{d}: a weight is 0 or more"),
                    ));
                }
                if choices.iter().all(|(_, w)| *w == 0.0) {
                    return Err(invalid(
                        at("menus"),
                        format!("{menu}: some choice needs a weight above 0"),
                    ));
                }
                menus.insert(menu.clone(), choices);
            }
            arrivals.push(Arrivals {
                line: a.line.clone(),
                channel,
                per_interval: a.per_interval.clone(),
                callers,
                menus,
            });
        }
        let dist = |field: String, raw: &RawDistribution| {
            Distribution::from_raw(raw).map_err(|m| invalid(field, m))
        };
        let by_queue = |field: &str, raw: &RawByName| -> Result<Vec<Distribution>, ScenarioError> {
            let default = dist(format!("{field}.default"), &raw.default)?;
            for name in raw.queues.keys() {
                if !plan.queues.iter().any(|q| q.name == *name) {
                    return Err(invalid(
                        format!("{field}.queues"),
                        format!("{name:?} is not a queue"),
                    ));
                }
            }
            plan.queues
                .iter()
                .map(|q| match raw.queues.get(&q.name) {
                    Some(d) => dist(format!("{field}.queues.{}", q.name), d),
                    None => Ok(default.clone()),
                })
                .collect()
        };
        let handle_time = by_queue("handle_time", &raw.handle_time)?;
        let mut handle_time_channels = Vec::new();
        for (name, d) in &raw.handle_time.channels {
            let channel = Channel::parse(name).ok_or_else(|| {
                invalid("handle_time.channels", format!("{name:?} is not a channel"))
            })?;
            handle_time_channels.push((channel, dist(format!("handle_time.channels.{name}"), d)?));
        }
        if !raw.handle_time.tiers.is_empty() {
            return Err(invalid(
                "handle_time.tiers",
                "handle time is by queue and channel, not by tier",
            ));
        }
        let share = |field: String, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(v)
            } else {
                Err(invalid(field, format!("{v} is not a share from 0 to 1")))
            }
        };
        let accept_callback = match &raw.accept_callback {
            None => vec![0.0; plan.tiers.len()],
            Some(a) => {
                let default = share("accept_callback.default".into(), a.default)?;
                for name in a.tiers.keys() {
                    if tier_of(name).is_none() {
                        return Err(invalid(
                            "accept_callback.tiers",
                            format!("{name:?} is not a tier"),
                        ));
                    }
                }
                plan.tiers
                    .iter()
                    .map(|t| match a.tiers.get(&t.name) {
                        Some(v) => share(format!("accept_callback.tiers.{}", t.name), *v),
                        None => Ok(default),
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        let ring_time = match &raw.ring_time {
            Some(t) => duration("ring_time", t)?,
            None => Duration::from_secs(15),
        };
        let ready_after_missed = match &raw.ready_after_missed {
            Some(t) => duration("ready_after_missed", t)?,
            None => Duration::from_secs(60),
        };
        let patience = match &raw.patience {
            None => vec![None; plan.tiers.len()],
            Some(p) => {
                if !(p.queues.is_empty() && p.channels.is_empty()) {
                    return Err(invalid("patience", "patience is by tier only"));
                }
                let default = dist("patience.default".into(), &p.default)?;
                for name in p.tiers.keys() {
                    if tier_of(name).is_none() {
                        return Err(invalid("patience.tiers", format!("{name:?} is not a tier")));
                    }
                }
                plan.tiers
                    .iter()
                    .map(|t| match p.tiers.get(&t.name) {
                        Some(d) => dist(format!("patience.tiers.{}", t.name), d).map(Some),
                        None => Ok(Some(default.clone())),
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        let day = interval
            * u32::try_from(
                raw.arrivals
                    .iter()
                    .map(|a| a.per_interval.len())
                    .max()
                    .unwrap_or(0),
            )
            .unwrap_or(u32::MAX);
        let mut agents = Vec::new();
        for (i, g) in raw.agents.iter().enumerate() {
            let at = |f: &str| format!("agents[{i}].{f}");
            if g.name.is_empty() || g.name.len() > 32 {
                return Err(invalid(at("name"), "1 to 32 characters"));
            }
            if g.count > 100_000 {
                return Err(invalid(at("count"), "at most 100000"));
            }
            if let Some((s, p)) = g.skills.iter().find(|(_, p)| !(1..=10).contains(*p)) {
                return Err(invalid(
                    at("skills"),
                    format!("{s}: proficiency {p} is not 1 to 10"),
                ));
            }
            let from = g
                .from
                .as_deref()
                .map(|t| duration(&at("from"), t))
                .transpose()?
                .unwrap_or_default();
            let to =
                g.to.as_deref()
                    .map(|t| duration(&at("to"), t))
                    .transpose()?
                    .unwrap_or(day);
            if to <= from {
                return Err(invalid(at("to"), "the shift ends after it starts"));
            }
            let no_answer = share(at("no_answer"), g.no_answer.unwrap_or(0.0))?;
            let capacity = match &g.capacity {
                None => plan.capacity.limits,
                Some(named) => {
                    let mut limits = [0u8; switchboard_core::capacity::LANES];
                    for (name, n) in named {
                        let lane = Lane::parse(name).ok_or_else(|| {
                            invalid(
                                at("capacity"),
                                format!("{name:?} is not voice, chat, email or social"),
                            )
                        })?;
                        let most = if lane == Lane::Voice { 1 } else { MAX_PER_LANE };
                        if *n > most {
                            return Err(invalid(
                                at("capacity"),
                                format!("{name}: {n} is more than {most}"),
                            ));
                        }
                        limits[lane.index()] = *n;
                    }
                    if limits.iter().all(|n| *n == 0) {
                        return Err(invalid(at("capacity"), "some channel needs room above 0"));
                    }
                    Limits(limits)
                }
            };
            let intervals = raw
                .arrivals
                .iter()
                .map(|a| a.per_interval.len())
                .max()
                .unwrap_or(0);
            if let Some(staffed) = &g.staffed {
                if g.from.is_some() || g.to.is_some() || !g.breaks.is_empty() {
                    return Err(invalid(
                        at("staffed"),
                        "a group staffed per interval has no from, to or breaks",
                    ));
                }
                if staffed.len() != intervals {
                    return Err(invalid(
                        at("staffed"),
                        format!(
                            "{} counts for {intervals} intervals of arrivals",
                            staffed.len()
                        ),
                    ));
                }
                if staffed.iter().any(|n| *n > g.count) {
                    return Err(invalid(
                        at("staffed"),
                        format!("at most the group's count ({}) in an interval", g.count),
                    ));
                }
            }
            let mut breaks = Vec::new();
            for (b, raw) in g.breaks.iter().enumerate() {
                let field = |f: &str| at(&format!("breaks[{b}].{f}"));
                let brk = Break {
                    at: duration(&field("at"), &raw.at)?,
                    lasts: duration(&field("for"), &raw.lasts)?,
                    spread: raw
                        .spread
                        .as_deref()
                        .map(|t| duration(&field("spread"), t))
                        .transpose()?
                        .unwrap_or_default(),
                };
                if brk.lasts.is_zero() {
                    return Err(invalid(field("for"), "a break lasts more than 0s"));
                }
                if brk.at < from || brk.at + brk.spread + brk.lasts > to {
                    return Err(invalid(field("at"), "every break falls within the shift"));
                }
                breaks.push(brk);
            }
            agents.push(Agents {
                name: g.name.clone(),
                count: g.count,
                skills: g.skills.iter().map(|(s, p)| (s.clone(), *p)).collect(),
                tags: g.tags.clone(),
                from,
                to,
                breaks,
                no_answer,
                capacity,
                staffed: g.staffed.clone(),
            });
        }
        Ok(Scenario {
            seed: raw.seed,
            start_ms: raw.start.saturating_mul(1_000),
            interval,
            menu_time,
            customers_per_tier: raw.customers_per_tier.unwrap_or(2_000).clamp(1, 1_000_000),
            arrivals,
            handle_time,
            handle_time_channels,
            patience,
            accept_callback,
            ring_time,
            ready_after_missed,
            no_answers_before_not_ready: 1,
            agents,
        })
    }
}
