//! Stage two: raw structs into a checked [`RoutePlan`] and server settings. Every problem
//! is collected, not just the first, each with its position and field path.

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    ops::Range,
    path::Path,
    time::Duration,
};

use std::sync::Arc;

use switchboard_core::{
    NumberPlan, Preference, TierId,
    acd::AgentState,
    behaviour::{MAX_WINDOW, ZeroOutPolicy},
    calendar::{Calendar, WEEKDAYS},
    condition::{Condition, parse_date},
    plan::{
        AgentStandard, Learning, Line, LineId, LineRedirect, MAX_TIERS, MaxWaitAction, Menu,
        MenuId, MenuOption, OverflowStep, PlanParts, Queue, QueueId, RoutePlan, Rule,
        ServiceStandard, Strategy, Target, Then, Tier, TierSet,
    },
};

use crate::{
    Settings,
    condition::{Scope, compile},
    diagnostic::{Diagnostic, Severity, Source, did_you_mean},
    duration::parse_duration,
    raw::{RawCalendar, RawConfig, RawPart, RawTarget, S},
};

pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
/// Where Prometheus scrapes `/metrics` unless the config says otherwise.
pub(crate) const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9464";
/// Long enough to gather a burst of changes into one commit; short enough that a crash
/// loses at most this much of what was acknowledged.
const DEFAULT_COMMIT_DELAY: Duration = Duration::from_millis(50);
const MAX_COMMIT_DELAY: Duration = Duration::from_secs(10);
const DEFAULT_KEEP_CALL_RECORDS: Duration = Duration::from_secs(90 * 24 * 3600);
const DEFAULT_ZERO_OUT_WINDOW: u8 = 5;
const DEFAULT_ZERO_OUT_THRESHOLD: u8 = 3;
const DEFAULT_REPEAT_WINDOW: Duration = Duration::from_secs(7 * 86_400);
const DEFAULT_SERVICE_LEVEL_WINDOW: Duration = Duration::from_secs(30 * 60);
/// The service-level window is kept in memory a minute at a time for this long.
const MAX_SERVICE_LEVEL_WINDOW: Duration = Duration::from_secs(24 * 3_600);
const DEFAULT_FORGET_AFTER: Duration = Duration::from_secs(4 * 3_600);
/// Far longer than any menu takes to hear and answer (with its retries), so only a
/// caller who hung up unreported is timed out.
const DEFAULT_MENU_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const DEFAULT_MENU_ATTEMPTS: u8 = 3;
const DEFAULT_WRAP_UP: Duration = Duration::from_secs(15);
/// A typical voice handle time, used until a queue's calls have been measured.
const DEFAULT_HANDLE_TIME: Duration = Duration::from_secs(180);
/// Long enough for an agent finishing wrap-up to come back; short enough not to matter
/// to a caller who would be served sooner by someone else.
const DEFAULT_SAME_AGENT_FOR: Duration = Duration::from_secs(20);
/// Long enough for a phone to ring a few times; short enough that a lost offer does not
/// keep a caller and an agent apart for long.
const DEFAULT_OFFER_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_NAME: usize = 64;
/// A standard caller who waited two minutes outranks a fresh gold caller (base 20).
const DEFAULT_AGING_PER_MINUTE: i64 = 10;
/// Keeps the aging arithmetic (rate times milliseconds since 1970) far from overflow.
const MAX_AGING: i64 = 100_000;
const MAX_PROMPT: usize = 128;
/// Queues a running server can hold, counting retired ones; well inside a `u16` id.
const MAX_QUEUE_SLOTS: usize = 4_096;
/// Longest tag, offer or note a rule attaches.
const MAX_LABEL: usize = 256;
/// Most tags, offers and notes one rule attaches, each.
const MAX_LABELS: usize = 16;

pub(crate) struct Checker<'a> {
    src: &'a Source<'a>,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(src: &'a Source<'a>) -> Self {
        Checker {
            src,
            diagnostics: Vec::new(),
        }
    }

    pub(crate) fn error(
        &mut self,
        span: Range<usize>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) {
        let d = self
            .src
            .at(Severity::Error, span, &path.into(), message.into());
        self.diagnostics.push(d);
    }

    pub(crate) fn warn(
        &mut self,
        span: Range<usize>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) {
        let d = self
            .src
            .at(Severity::Warning, span, &path.into(), message.into());
        self.diagnostics.push(d);
    }

    /// Where a byte of a string value's content sits in the file: after its opening
    /// quotes, when the text as written is the value (no escapes) so offsets agree; at
    /// the value otherwise.
    fn inside(&self, value: &S<String>, offset: usize) -> Range<usize> {
        let span = value.span();
        let Some(raw) = self.src.slice(span.clone()) else {
            return span;
        };
        let (open, trimmed_newline) = if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
            let after = &raw[3..];
            let nl = if after.starts_with("\r\n") {
                2
            } else {
                usize::from(after.starts_with('\n'))
            };
            (3, nl)
        } else {
            (1, 0)
        };
        let content = raw
            .get(open + trimmed_newline..raw.len().saturating_sub(open))
            .unwrap_or("");
        if content == value.get_ref() {
            let at = span.start + open + trimmed_newline + offset;
            at..at
        } else {
            span
        }
    }

    fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    fn name(&mut self, name: &str, span: Range<usize>, path: &str) {
        let ok = !name.is_empty()
            && name.len() <= MAX_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !ok {
            self.error(
                span,
                path,
                format!(
                    "name {name:?} must be 1 to {MAX_NAME} characters of a-z, 0-9, '_' and '-'"
                ),
            );
        }
    }

    fn text(&mut self, value: &S<String>, path: &str, max: usize) {
        let v = value.get_ref();
        if v.trim().is_empty() {
            self.error(value.span(), path, "must not be empty");
        } else if v.chars().count() > max || v.chars().any(char::is_control) {
            self.error(
                value.span(),
                path,
                format!("{v:?} must be at most {max} characters without control characters"),
            );
        }
    }

    pub(crate) fn duration(
        &mut self,
        value: &S<String>,
        path: &str,
        min: Duration,
    ) -> Option<Duration> {
        match parse_duration(value.get_ref()) {
            Ok(d) if d >= min => Some(d),
            Ok(_) => {
                self.error(
                    value.span(),
                    path,
                    format!(
                        "{:?} is shorter than the minimum {}",
                        value.get_ref(),
                        humanize(min)
                    ),
                );
                None
            }
            Err(e) => {
                self.error(value.span(), path, format!("{:?}: {e}", value.get_ref()));
                None
            }
        }
    }

    pub(crate) fn int_in(
        &mut self,
        value: &S<i64>,
        path: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        let v = *value.get_ref();
        if range.contains(&v) {
            Some(v)
        } else {
            self.error(
                value.span(),
                path,
                format!("{v} is out of range ({} to {})", range.start(), range.end()),
            );
            None
        }
    }
}

pub(crate) fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s.is_multiple_of(3_600) {
        format!("{}h", s / 3_600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Names of one kind (tiers, lines, menus, queues) and their ids, for references.
struct Names<T> {
    kind: &'static str,
    ids: HashMap<String, T>,
    order: Vec<String>,
}

impl<T: Copy> Names<T> {
    fn new(kind: &'static str) -> Self {
        Names {
            kind,
            ids: HashMap::new(),
            order: Vec::new(),
        }
    }

    fn resolve(&self, c: &mut Checker<'_>, name: &S<String>, path: &str) -> Option<T> {
        let n = name.get_ref();
        match self.ids.get(n) {
            Some(id) => Some(*id),
            None => {
                let hint = did_you_mean(n, self.order.iter().map(String::as_str));
                c.error(
                    name.span(),
                    path,
                    format!("unknown {} {n:?}{hint}", self.kind),
                );
                None
            }
        }
    }
}

fn resolve_target(
    c: &mut Checker<'_>,
    menus: &Names<MenuId>,
    queues: &Names<QueueId>,
    menu: Option<&S<String>>,
    queue: Option<&S<String>>,
    path: &str,
) -> Option<Option<Target>> {
    match (menu, queue) {
        (Some(m), None) => menus
            .resolve(c, m, &format!("{path}.menu"))
            .map(|m| Some(Target::Menu(m))),
        (None, Some(q)) => queues
            .resolve(c, q, &format!("{path}.queue"))
            .map(|q| Some(Target::Queue(q))),
        (None, None) => Some(None),
        (Some(m), Some(_)) => {
            c.error(m.span(), path, "set either menu or queue, not both");
            None
        }
    }
}

pub(crate) fn validate(
    c: &mut Checker<'_>,
    raw: RawConfig,
    base_dir: &Path,
    running: Option<&RoutePlan>,
) -> Option<(RoutePlan, Settings)> {
    // Server settings.
    let listen = match &raw.server.listen {
        Some(l) => match l.get_ref().parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                c.error(
                    l.span(),
                    "server.listen",
                    format!(
                        "{:?} is not an address with a port, e.g. \"127.0.0.1:50051\"",
                        l.get_ref()
                    ),
                );
                None
            }
        },
        None => DEFAULT_LISTEN.parse().ok(),
    };
    let metrics_listen = match &raw.server.metrics_listen {
        Some(l) if l.get_ref() == "off" => Some(None),
        Some(l) => match l.get_ref().parse::<SocketAddr>() {
            Ok(a) => Some(Some(a)),
            Err(_) => {
                c.error(
                    l.span(),
                    "server.metrics_listen",
                    format!(
                        "{:?} is not an address with a port, e.g. \"127.0.0.1:9464\", or \"off\"",
                        l.get_ref()
                    ),
                );
                None
            }
        },
        None => Some(DEFAULT_METRICS_LISTEN.parse().ok()),
    };
    let service_level_window = match &raw.server.service_level_window {
        Some(d) => c
            .duration(d, "server.service_level_window", Duration::from_secs(60))
            .and_then(|w| {
                if w <= MAX_SERVICE_LEVEL_WINDOW {
                    Some(w)
                } else {
                    c.error(
                        d.span(),
                        "server.service_level_window",
                        format!("{:?} is longer than the maximum 24h", d.get_ref()),
                    );
                    None
                }
            }),
        None => Some(DEFAULT_SERVICE_LEVEL_WINDOW),
    };
    let coaching = coaching_standard(c, &raw.coaching);
    let capacity = crate::capacity::capacity(c, &raw.capacity);

    // Store.
    let store_at = crate::store::store_at(c, &raw.store, base_dir);
    let commit_delay = match &raw.store.commit_delay {
        Some(d) => match c.duration(d, "store.commit_delay", Duration::ZERO) {
            Some(v) if v > MAX_COMMIT_DELAY => {
                c.error(
                    d.span(),
                    "store.commit_delay",
                    format!(
                        "{:?} is longer than the most a change may wait, {}",
                        d.get_ref(),
                        humanize(MAX_COMMIT_DELAY)
                    ),
                );
                None
            }
            other => other,
        },
        None => Some(DEFAULT_COMMIT_DELAY),
    };

    let keep_call_records = match &raw.store.keep_call_records {
        Some(d) => c.duration(d, "store.keep_call_records", Duration::from_secs(3600)),
        None => Some(DEFAULT_KEEP_CALL_RECORDS),
    };

    // Directory.
    let dir = raw.directory.get_ref();
    let numbers = match NumberPlan::for_country(dir.default_country.get_ref()) {
        Ok(p) => Some(p),
        Err(e) => {
            c.error(
                dir.default_country.span(),
                "directory.default_country",
                e.to_string(),
            );
            None
        }
    };
    let customers = dir.customers.as_ref().map(|p| base_dir.join(p.get_ref()));

    // Learning and call memory.
    let window = match &raw.learning.zero_out_window {
        Some(w) => c
            .int_in(w, "learning.zero_out_window", 1..=i64::from(MAX_WINDOW))
            .map(|v| v as u8),
        None => Some(DEFAULT_ZERO_OUT_WINDOW),
    };
    let threshold = match (&raw.learning.zero_out_threshold, window) {
        (Some(t), Some(w)) => c
            .int_in(t, "learning.zero_out_threshold", 1..=i64::from(w))
            .map(|v| v as u8),
        (Some(_), None) => None,
        (None, Some(w)) => Some(DEFAULT_ZERO_OUT_THRESHOLD.min(w)),
        (None, None) => None,
    };
    let repeat_window = match &raw.learning.repeat_window {
        Some(d) => c.duration(d, "learning.repeat_window", Duration::from_secs(60)),
        None => Some(DEFAULT_REPEAT_WINDOW),
    };
    let same_agent_for = match &raw.learning.same_agent_for {
        Some(d) => c.duration(d, "learning.same_agent_for", Duration::ZERO),
        None => Some(DEFAULT_SAME_AGENT_FOR),
    };
    let forget_after = match &raw.calls.forget_after {
        Some(d) => c.duration(d, "calls.forget_after", Duration::from_secs(60)),
        None => Some(DEFAULT_FORGET_AFTER),
    };
    let menu_timeout = match &raw.calls.menu_timeout {
        Some(d) => c.duration(d, "calls.menu_timeout", Duration::from_secs(30)),
        None => Some(DEFAULT_MENU_TIMEOUT),
    };
    let limits = crate::limits::limits(c, &raw.server, &raw.store);
    let security = crate::security::security(
        c,
        raw.security.as_ref(),
        base_dir,
        listen.zip(raw.server.listen.as_ref().map(|l| l.span())),
        metrics_listen,
    );
    let sip = crate::sip::sip(c, raw.sip.as_ref());
    let offer_timeout = match &raw.calls.offer_timeout {
        Some(d) => c.duration(d, "calls.offer_timeout", Duration::from_secs(1)),
        None => Some(DEFAULT_OFFER_TIMEOUT),
    };
    let no_answers = match &raw.calls.no_answers_before_not_ready {
        Some(n) => c
            .int_in(n, "calls.no_answers_before_not_ready", 1..=10)
            .map(|n| n as u32),
        None => Some(1),
    };
    let callback_attempts = match &raw.calls.callback_attempts {
        Some(n) => c
            .int_in(n, "calls.callback_attempts", 1..=10)
            .map(|n| n as u8),
        None => Some(3),
    };
    let callback_retry_after = match &raw.calls.callback_retry_after {
        Some(d) => c.duration(d, "calls.callback_retry_after", Duration::from_secs(60)),
        None => Some(Duration::from_secs(15 * 60)),
    };
    let callback_horizon = match &raw.calls.callback_horizon {
        Some(d) => c
            .duration(d, "calls.callback_horizon", Duration::from_secs(60))
            .filter(|h| {
                let ok = *h <= Duration::from_secs(30 * 86_400);
                if !ok {
                    c.error(
                        d.span(),
                        "calls.callback_horizon",
                        format!("{:?} is longer than the maximum 30d", d.get_ref()),
                    );
                }
                ok
            }),
        None => Some(Duration::from_secs(7 * 86_400)),
    };
    let after_offer_timeout = match &raw.calls.after_offer_timeout {
        None => Some(AgentState::NotReady),
        Some(s) => match s.get_ref().as_str() {
            "not_ready" => Some(AgentState::NotReady),
            "available" => Some(AgentState::Available),
            other => {
                let hint = did_you_mean(other, ["not_ready", "available"]);
                c.error(
                    s.span(),
                    "calls.after_offer_timeout",
                    format!("{other:?} is not a state an agent can be put in (not_ready or available){hint}"),
                );
                None
            }
        },
    };

    // Tiers, in order.
    let mut tier_names: Names<TierId> = Names::new("tier");
    let mut tiers = Vec::new();
    if raw.tiers.get_ref().is_empty() || raw.tiers.get_ref().len() > MAX_TIERS {
        c.error(
            raw.tiers.span(),
            "tiers",
            format!("1 to {MAX_TIERS} tiers are required"),
        );
    }
    for (i, t) in raw.tiers.get_ref().iter().enumerate() {
        let path = format!("tiers[{i}]");
        let t = t.get_ref();
        c.name(t.name.get_ref(), t.name.span(), &format!("{path}.name"));
        if tier_names.ids.contains_key(t.name.get_ref()) {
            c.error(
                t.name.span(),
                format!("{path}.name"),
                format!("tier {:?} is defined twice", t.name.get_ref()),
            );
        }
        let priority = c.int_in(
            &t.base_priority,
            &format!("{path}.base_priority"),
            -1_000_000..=1_000_000,
        );
        let standard = service_standard(c, t.standard.get_ref(), &format!("{path}.standard"));
        let mut by_channel = Vec::new();
        let mut channels_ok = true;
        for (name, raw) in &t.channel_standards {
            let at = format!("{path}.channel_standards.{name}");
            match switchboard_core::channel::Channel::parse(name) {
                Some(switchboard_core::channel::Channel::Voice) => {
                    c.error(raw.span(), at, "voice is the tier's own `standard`");
                    channels_ok = false;
                }
                Some(channel) => match service_standard(c, raw.get_ref(), &at) {
                    Some(s) => by_channel.push((channel, s)),
                    None => channels_ok = false,
                },
                None => {
                    let hint = crate::diagnostic::did_you_mean(
                        name,
                        switchboard_core::channel::Channel::ALL
                            .iter()
                            .map(|c| c.as_str()),
                    );
                    c.error(raw.span(), at, format!("unknown channel {name:?}{hint}"));
                    channels_ok = false;
                }
            }
        }
        tier_names
            .ids
            .insert(t.name.get_ref().clone(), TierId(i.min(255) as u8));
        tier_names.order.push(t.name.get_ref().clone());
        if let (Some(p), Some(standard), true) = (priority, standard, channels_ok) {
            tiers.push(Tier {
                name: t.name.get_ref().clone(),
                base_priority: p as i32,
                standard,
                by_channel,
            });
        }
    }

    // Customers and waiting calls hold tiers by position: a reload may add tiers at the
    // end, but not rename, remove or reorder the ones in use.
    if let Some(running) = running {
        let before: Vec<&str> = running.tiers.iter().map(|t| t.name.as_str()).collect();
        let after: Vec<&str> = tier_names.order.iter().map(String::as_str).collect();
        if !after.starts_with(&before) {
            c.error(
                raw.tiers.span(),
                "tiers",
                format!(
                    "a reload cannot rename, remove or reorder tiers (running: {}); add new tiers at the end, or restart to apply",
                    before.join(", ")
                ),
            );
        }
    }

    // Names of lines, menus and queues first, so references can point forward.
    let mut line_names: Names<LineId> = Names::new("line");
    for (i, (name, l)) in raw.lines.get_ref().iter().enumerate() {
        c.name(name, l.span(), &format!("lines.{name}"));
        line_names.ids.insert(name.clone(), LineId(i as u16));
        line_names.order.push(name.clone());
    }
    let mut menu_names: Names<MenuId> = Names::new("menu");
    for (i, (name, m)) in raw.menus.iter().enumerate() {
        c.name(name, m.span(), &format!("menus.{name}"));
        menu_names.ids.insert(name.clone(), MenuId(i as u16));
        menu_names.order.push(name.clone());
    }
    // Queue ids: the running plan's queues keep theirs, so waiting calls and agents keep
    // their places across a reload; new queues follow. A queue the new config drops stays
    // behind, retired, under its old id.
    let mut slots: Vec<String> = running
        .map(|p| p.queues.iter().map(|q| q.name.clone()).collect())
        .unwrap_or_default();
    for name in raw.queues.get_ref().keys() {
        if !slots.contains(name) {
            slots.push(name.clone());
        }
    }
    // Rules that need extra skills get queues of their own, after the configured ones.
    let derived = skilled_queues(c, &raw);
    for name in derived.keys() {
        if !slots.contains(name) {
            slots.push(name.clone());
        }
    }
    if slots.len() > MAX_QUEUE_SLOTS {
        c.error(
            raw.queues.span(),
            "queues",
            format!(
                "more than {MAX_QUEUE_SLOTS} queues, counting those removed since the server started; restart to forget removed queues"
            ),
        );
        slots.truncate(MAX_QUEUE_SLOTS);
    }
    let mut queue_names: Names<QueueId> = Names::new("queue");
    for (name, q) in raw.queues.get_ref() {
        c.name(name, q.span(), &format!("queues.{name}"));
        if let Some(i) = slots.iter().position(|s| s == name) {
            queue_names.ids.insert(name.clone(), QueueId(i as u16));
            queue_names.order.push(name.clone());
        }
    }
    if raw.queues.get_ref().is_empty() {
        c.error(
            raw.queues.span(),
            "queues",
            "at least one queue is required",
        );
    }

    let mut queues: Vec<Option<Queue>> = vec![None; slots.len()];
    if let Some(running) = running {
        for (i, q) in running.queues.iter().enumerate() {
            if !queue_names.ids.contains_key(&q.name) {
                queues[i] = Some(Queue {
                    retired: true,
                    ..q.clone()
                });
            }
        }
    }
    for (name, q) in raw.queues.get_ref() {
        let Some(id) = queue_names.ids.get(name).copied() else {
            continue;
        };
        let path = format!("queues.{name}");
        let q = q.get_ref();
        let mut skills = Vec::new();
        for (skill, min) in &q.skills {
            c.name(skill, min.span(), &format!("{path}.skills.{skill}"));
            if let Some(min) = c.int_in(min, &format!("{path}.skills.{skill}"), 1..=10) {
                skills.push((skill.clone(), min as u8));
            }
        }
        let strategy = match &q.strategy {
            None => Strategy::default(),
            Some(s) => match Strategy::ALL
                .into_iter()
                .find(|x| x.as_str() == s.get_ref())
            {
                Some(x) => x,
                None => {
                    let names = Strategy::ALL.map(Strategy::as_str);
                    let hint = did_you_mean(s.get_ref(), names);
                    c.error(
                        s.span(),
                        format!("{path}.strategy"),
                        format!(
                            "unknown strategy {:?} (expected {} or {}){hint}",
                            s.get_ref(),
                            names[..names.len() - 1].join(", "),
                            names[names.len() - 1]
                        ),
                    );
                    Strategy::default()
                }
            },
        };
        let aging_per_minute = match &q.aging_per_minute {
            Some(a) => c
                .int_in(a, &format!("{path}.aging_per_minute"), 0..=MAX_AGING)
                .unwrap_or(0),
            None => DEFAULT_AGING_PER_MINUTE,
        };
        let wrap_up = match &q.wrap_up {
            Some(d) => c
                .duration(d, &format!("{path}.wrap_up"), Duration::ZERO)
                .unwrap_or_default(),
            None => DEFAULT_WRAP_UP,
        };
        let handle_time = match &q.handle_time {
            Some(d) => c
                .duration(d, &format!("{path}.handle_time"), Duration::from_secs(1))
                .unwrap_or(DEFAULT_HANDLE_TIME),
            None => DEFAULT_HANDLE_TIME,
        };
        let callback_after = q
            .callback_after
            .as_ref()
            .and_then(|d| c.duration(d, &format!("{path}.callback_after"), Duration::from_secs(1)));
        let max_wait = max_wait_policy(c, &path, name, q, &queue_names);
        let overflow = overflow_steps(c, &path, name, q, &queue_names);
        let when_closed = when_closed(c, &path, name, q, &queue_names);
        queues[id.index()] = Some(Queue {
            name: name.clone(),
            skills,
            strategy,
            aging_per_minute,
            wrap_up,
            handle_time,
            callback_after,
            max_wait,
            overflow,
            retired: false,
            part_of: None,
            when_closed,
        });
    }
    for (name, (base, extra)) in &derived {
        let (Some(id), Some(base_id)) = (
            slots.iter().position(|s| s == name),
            queue_names.ids.get(base).copied(),
        ) else {
            continue;
        };
        let Some(base_spec) = queues[base_id.index()].clone() else {
            continue;
        };
        let mut skills = base_spec.skills.clone();
        for (skill, min) in extra {
            match skills.iter_mut().find(|(s, _)| s == skill) {
                Some((_, m)) => *m = (*m).max(*min),
                None => skills.push((skill.clone(), *min)),
            }
        }
        queues[id] = Some(Queue {
            name: name.clone(),
            skills,
            part_of: Some(base_id),
            ..base_spec
        });
    }
    let fallback_queue = raw
        .calls
        .fallback_queue
        .as_ref()
        .and_then(|q| queue_names.resolve(c, q, "calls.fallback_queue"));
    let calendars = calendars(c, &raw.calendars);
    let calendar_names: Vec<String> = raw.calendars.keys().cloned().collect();

    // Lines.
    let mut lines = Vec::new();
    let mut defaults = Vec::new();
    let mut seen_numbers: BTreeMap<u64, String> = BTreeMap::new();
    if raw.lines.get_ref().is_empty() {
        c.error(raw.lines.span(), "lines", "at least one line is required");
    }
    for (name, l) in raw.lines.get_ref() {
        let path = format!("lines.{name}");
        let span = l.span();
        let l = l.get_ref();
        let number = numbers.and_then(|plan| match plan.normalize(l.number.get_ref()) {
            Ok(n) => {
                if let Some(other) = seen_numbers.insert(n.as_u64(), name.clone()) {
                    c.error(
                        l.number.span(),
                        format!("{path}.number"),
                        format!("{n} is also the number of line {other:?}"),
                    );
                }
                Some(n)
            }
            Err(e) => {
                c.error(
                    l.number.span(),
                    format!("{path}.number"),
                    format!("{:?} is not a valid number: {e}", l.number.get_ref()),
                );
                None
            }
        });
        let entry = match resolve_target(
            c,
            &menu_names,
            &queue_names,
            l.menu.as_ref(),
            l.queue.as_ref(),
            &path,
        ) {
            Some(Some(t)) => Some(t),
            Some(None) => {
                c.error(
                    span.clone(),
                    &path,
                    "a line needs an entry: set menu or queue",
                );
                None
            }
            None => None,
        };
        if l.default {
            defaults.push((name.clone(), span.clone()));
        }
        let admits = l.admit_tiers.as_ref().map(|tiers| {
            let mut set = TierSet::default();
            for (i, t) in tiers.get_ref().iter().enumerate() {
                if let Some(id) = tier_names.resolve(c, t, &format!("{path}.admit_tiers[{i}]")) {
                    set.insert(id);
                }
            }
            set
        });
        let others = match (&l.admit_tiers, &l.others) {
            (Some(a), None) => {
                c.error(
                    a.span(),
                    format!("{path}.admit_tiers"),
                    "a line that admits only some tiers needs `others` (where the rest go)",
                );
                None
            }
            (None, Some(o)) => {
                c.error(
                    o.span(),
                    format!("{path}.others"),
                    "`others` only applies with admit_tiers",
                );
                None
            }
            (_, Some(o)) => {
                let o = o.get_ref();
                c.text(&o.prompt, &format!("{path}.others.prompt"), MAX_PROMPT);
                let target = line_names.resolve(c, &o.line, &format!("{path}.others.line"));
                if target == line_names.ids.get(name).copied() {
                    c.error(
                        o.line.span(),
                        format!("{path}.others.line"),
                        "a line cannot send callers to itself",
                    );
                }
                target.map(|line| LineRedirect {
                    line,
                    prompt: o.prompt.get_ref().clone(),
                })
            }
            (None, None) => None,
        };
        if let (Some(number), Some(entry)) = (number, entry) {
            lines.push(Line {
                name: name.clone(),
                number,
                entry,
                admits,
                others,
            });
        }
    }
    let default_line = match defaults.as_slice() {
        [(name, _)] => line_names.ids.get(name).copied(),
        [] if raw.lines.get_ref().len() == 1 => Some(LineId(0)),
        [] => {
            c.error(
                raw.lines.span(),
                "lines",
                "mark one line `default = true`: calls to other numbers follow it",
            );
            None
        }
        [_, (name, span), ..] => {
            c.error(
                span.clone(),
                format!("lines.{name}.default"),
                "only one line may be the default",
            );
            None
        }
    };

    // Menus.
    let mut menus = Vec::new();
    for (name, m) in &raw.menus {
        let path = format!("menus.{name}");
        let m = m.get_ref();
        c.text(&m.prompt, &format!("{path}.prompt"), MAX_PROMPT);
        let attempts = match &m.attempts {
            Some(a) => c
                .int_in(a, &format!("{path}.attempts"), 1..=9)
                .map(|v| v as u8),
            None => Some(DEFAULT_MENU_ATTEMPTS),
        };
        let fb: &RawTarget = m.fallback.get_ref();
        let fallback = match resolve_target(
            c,
            &menu_names,
            &queue_names,
            fb.menu.as_ref(),
            fb.queue.as_ref(),
            &format!("{path}.fallback"),
        ) {
            Some(Some(t)) => Some(t),
            Some(None) => {
                c.error(
                    m.fallback.span(),
                    format!("{path}.fallback"),
                    "set menu or queue",
                );
                None
            }
            None => None,
        };
        if m.options.get_ref().is_empty() {
            c.error(
                m.options.span(),
                format!("{path}.options"),
                "a menu needs at least one option",
            );
        }
        let mut options = Vec::new();
        for (i, o) in m.options.get_ref().iter().enumerate() {
            let opath = format!("{path}.options[{i}]");
            let span = o.span();
            let o = o.get_ref();
            let d = o.digits.get_ref();
            if d.is_empty()
                || d.len() > 4
                || !d
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
            {
                c.error(
                    o.digits.span(),
                    format!("{opath}.digits"),
                    format!("{d:?} must be 1 to 4 of 0-9, * and #"),
                );
            } else if m.options.get_ref()[..i]
                .iter()
                .any(|p| p.get_ref().digits.get_ref() == d)
            {
                c.error(
                    o.digits.span(),
                    format!("{opath}.digits"),
                    format!("{d:?} is already an option of this menu"),
                );
            }
            if let Some(intent) = &o.intent {
                c.name(intent.get_ref(), intent.span(), &format!("{opath}.intent"));
            }
            if let Some(label) = &o.label {
                c.text(label, &format!("{opath}.label"), MAX_PROMPT);
            }
            let remember = o.remember.as_ref().and_then(|r| match r.get_ref().parse::<Preference>() {
                Ok(Preference::None) | Err(_) => {
                    let names = Preference::ALL[1..].iter().map(|p| p.as_str());
                    let hint = did_you_mean(r.get_ref(), names);
                    c.error(r.span(), format!("{opath}.remember"), format!("{:?} is not a preference to remember (always_operator, get_it_done or friendly_chat){hint}", r.get_ref()));
                    None
                }
                Ok(p) => Some(p),
            });
            let target = match resolve_target(
                c,
                &menu_names,
                &queue_names,
                o.menu.as_ref(),
                o.queue.as_ref(),
                &opath,
            ) {
                Some(Some(t)) => Some(t),
                Some(None) => {
                    c.error(span, &opath, "an option needs a menu or queue");
                    None
                }
                None => None,
            };
            if let Some(target) = target {
                options.push(MenuOption {
                    digits: d.clone(),
                    intent: o.intent.as_ref().map(|s| s.get_ref().clone()),
                    label: o
                        .label
                        .as_ref()
                        .map_or_else(|| d.clone(), |s| s.get_ref().clone()),
                    target,
                    remember,
                });
            }
        }
        if let (Some(attempts), Some(fallback)) = (attempts, fallback) {
            menus.push(Menu {
                name: name.clone(),
                prompt: m.prompt.get_ref().clone(),
                options,
                attempts,
                fallback,
            });
        }
    }

    // Rules, in order.
    let queue_scope: Vec<String> = slots
        .iter()
        .map(|n| {
            if queue_names.ids.contains_key(n) {
                n.clone()
            } else {
                String::new()
            }
        })
        .collect();
    let scope = Scope {
        tiers: &tier_names.order,
        lines: &line_names.order,
        queues: &queue_scope,
        calendars: &calendar_names,
    };
    let mut rules = Vec::new();
    let mut rule_names: HashMap<String, usize> = HashMap::new();
    for (i, r) in raw.rules.iter().enumerate() {
        let path = format!("{}[{i}]", "rules");
        let r = r.get_ref();
        let name = r.name.get_ref();
        c.name(name, r.name.span(), &format!("{path}.name"));
        if let Some(first) = rule_names.insert(name.clone(), i) {
            c.error(
                r.name.span(),
                format!("{path}.name"),
                format!("rule {name:?} is already defined at rules[{first}]"),
            );
        }
        let when = match &r.when {
            None => Condition::always(),
            Some(text) => match compile(text.get_ref(), scope) {
                Ok(cond) => cond,
                Err(errors) => {
                    for e in errors {
                        let at = c.inside(text, e.span.start);
                        c.error(at, format!("{path}.when"), e.message);
                    }
                    Condition::always()
                }
            },
        };
        let t = r.then.get_ref();
        let target = resolve_target(
            c,
            &menu_names,
            &queue_names,
            t.menu.as_ref(),
            t.queue.as_ref(),
            &format!("{path}.then"),
        )
        .flatten();
        // With extra skills, the call waits in the queue made for them.
        let target = match (target, t.queue.as_ref(), t.skills.as_ref()) {
            (Some(Target::Queue(_)), Some(q), Some(skills)) => {
                skilled_name(q.get_ref(), skills.get_ref())
                    .and_then(|n| slots.iter().position(|s| *s == n))
                    .map(|i| Target::Queue(QueueId(i as u16)))
                    .or(target)
            }
            _ => target,
        };
        let priority = t
            .priority
            .as_ref()
            .and_then(|p| c.int_in(p, &format!("{path}.then.priority"), -1_000_000..=1_000_000))
            .map(|p| p as i32);
        let raise = t
            .raise_priority
            .as_ref()
            .and_then(|p| {
                c.int_in(
                    p,
                    &format!("{path}.then.raise_priority"),
                    -1_000_000..=1_000_000,
                )
            })
            .map_or(0, |p| p as i32);
        let prefer_agent = t.prefer_agent.as_ref().map(|a| {
            c.text(a, &format!("{path}.then.prefer_agent"), MAX_NAME);
            Arc::<str>::from(a.get_ref().as_str())
        });
        let mut labels = |list: &[S<String>], key: &str| -> Vec<Arc<str>> {
            if list.len() > MAX_LABELS {
                c.error(
                    list[MAX_LABELS].span(),
                    format!("{path}.then.{key}"),
                    format!("at most {MAX_LABELS} per rule"),
                );
            }
            list.iter()
                .enumerate()
                .map(|(j, v)| {
                    c.text(v, &format!("{path}.then.{key}[{j}]"), MAX_LABEL);
                    Arc::from(v.get_ref().as_str())
                })
                .collect()
        };
        let tags = labels(&t.tags, "tags");
        let offers = labels(&t.offers, "offers");
        let notes = labels(&t.notes, "notes");
        let does_something = t.skills.is_some()
            || t.menu.is_some()
            || t.queue.is_some()
            || t.priority.is_some()
            || t.raise_priority.is_some()
            || t.offer_callback
            || prefer_agent.is_some()
            || !tags.is_empty()
            || !offers.is_empty()
            || !notes.is_empty();
        if !does_something {
            c.error(
                r.then.span(),
                format!("{path}.then"),
                "the rule does nothing: set menu, queue, skills, priority, raise_priority, offer_callback, prefer_agent, tags, offers or notes",
            );
        }
        rules.push(Rule {
            name: name.clone(),
            when,
            then: Then {
                target,
                priority,
                raise_priority: raise,
                offer_callback: t.offer_callback,
                prefer_agent,
                tags,
                offers,
                notes,
                continue_: t.continue_,
            },
        });
    }
    if !c.has_errors() {
        let spans: Vec<Range<usize>> = raw.rules.iter().map(|r| r.span()).collect();
        for finding in
            crate::reach::unreachable(&rules, tier_names.order.len(), line_names.order.len())
        {
            let (i, message) = match finding {
                crate::reach::Finding::NeverMatches(i) => (
                    i,
                    format!(
                        "rule {:?} can never match: its condition is false for every call",
                        rules[i].name
                    ),
                ),
                crate::reach::Finding::Shadowed { rule, by } => (
                    rule,
                    format!(
                        "rule {:?} is never reached: every call it matches is taken first by {}",
                        rules[rule].name,
                        by.iter()
                            .map(|b| format!("{:?}", rules[*b].name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            };
            c.warn(spans[i].clone(), format!("rules[{i}]"), message);
        }
    }

    // Menus nothing leads to are dead config: worth a warning, not a refusal. Counted
    // from the names as written, so errors elsewhere do not make menus look unused.
    let mut used: Vec<&str> = Vec::new();
    used.extend(
        raw.lines
            .get_ref()
            .values()
            .filter_map(|l| l.get_ref().menu.as_ref())
            .map(|m| m.get_ref().as_str()),
    );
    for m in raw.menus.values() {
        used.extend(
            m.get_ref()
                .fallback
                .get_ref()
                .menu
                .as_ref()
                .map(|m| m.get_ref().as_str()),
        );
        used.extend(
            m.get_ref()
                .options
                .get_ref()
                .iter()
                .filter_map(|o| o.get_ref().menu.as_ref())
                .map(|m| m.get_ref().as_str()),
        );
    }
    used.extend(
        raw.rules
            .iter()
            .filter_map(|r| r.get_ref().then.get_ref().menu.as_ref())
            .map(|m| m.get_ref().as_str()),
    );
    for (name, m) in &raw.menus {
        if !used.contains(&name.as_str()) {
            c.warn(
                m.span(),
                format!("menus.{name}"),
                "no line, option or rule leads to this menu",
            );
        }
    }

    if c.has_errors() {
        return None;
    }
    let plan = RoutePlan::new(PlanParts {
        numbers: numbers?,
        tiers,
        lines,
        default_line: default_line?,
        menus,
        queues: queues.into_iter().collect::<Option<Vec<Queue>>>()?,
        rules,
        calendars,
        fallback_queue,
        learning: Learning {
            zero_out: ZeroOutPolicy {
                window: window?,
                threshold: threshold?,
            },
            repeat_window: repeat_window?,
            same_agent_for: same_agent_for?,
        },
        coaching: coaching?,
        capacity: capacity?,
    });
    match plan {
        Ok(plan) => Some((
            plan,
            Settings {
                listen: listen?,
                metrics_listen: metrics_listen?,
                service_level_window: service_level_window?,
                reload_on_change: raw.server.reload_on_change.unwrap_or(true),
                log_caller_numbers: raw.server.log_caller_numbers.unwrap_or(false),
                store: store_at?,
                commit_delay: commit_delay?,
                keep_call_records: keep_call_records?,
                forget_calls_after: forget_after?,
                menu_timeout: menu_timeout?,
                limits: limits?,
                security: security?,
                sip: sip?,
                offer_timeout: offer_timeout?,
                no_answers_before_not_ready: no_answers?,
                callbacks: crate::Callbacks {
                    attempts: callback_attempts?,
                    retry_after: callback_retry_after?,
                    horizon: callback_horizon?,
                },
                after_offer_timeout: after_offer_timeout?,
                customers,
            },
        )),
        Err(e) => {
            c.error(0..0, "", format!("internal: {e}"));
            None
        }
    }
}

/// A service standard `{ answer_percent, within }` at `path`.
fn service_standard(
    c: &mut Checker<'_>,
    raw: &crate::raw::RawStandard,
    path: &str,
) -> Option<ServiceStandard> {
    let percent = c.int_in(
        &raw.answer_percent,
        &format!("{path}.answer_percent"),
        1..=100,
    );
    let within = c.duration(
        &raw.within,
        &format!("{path}.within"),
        Duration::from_secs(1),
    );
    Some(ServiceStandard {
        percent: percent? as u8,
        within: within?,
    })
}

/// `[coaching]`: the standard agents' figures are held to, each key with its default.
fn coaching_standard(c: &mut Checker<'_>, raw: &crate::raw::RawCoaching) -> Option<AgentStandard> {
    let default = AgentStandard::default();
    let handle_time = match &raw.handle_time {
        Some(d) => c.duration(d, "coaching.handle_time", Duration::from_secs(1)),
        None => Some(default.handle_time),
    };
    let mut percent = |v: &Option<S<i64>>, path: &str, or: u8| match v {
        Some(v) => c.int_in(v, path, 0..=100).map(|p| p as u8),
        None => Some(or),
    };
    let fcr = percent(
        &raw.first_contact_resolution_percent,
        "coaching.first_contact_resolution_percent",
        default.first_contact_percent,
    );
    let satisfied = percent(
        &raw.satisfied_percent,
        "coaching.satisfied_percent",
        default.satisfied_percent,
    );
    let min_calls = match &raw.min_calls {
        Some(n) => c
            .int_in(n, "coaching.min_calls", 1..=100_000)
            .map(|n| n as u32),
        None => Some(default.min_calls),
    };
    Some(AgentStandard {
        handle_time: handle_time?,
        first_contact_percent: fcr?,
        satisfied_percent: satisfied?,
        min_calls: min_calls?,
    })
}

/// `max_wait` with `max_wait_action` (overflow, callback or voicemail) and, for
/// overflow, `overflow_to`: all or none, and an overflow to a real, other queue.
fn max_wait_policy(
    c: &mut Checker<'_>,
    path: &str,
    name: &str,
    q: &crate::raw::RawQueue,
    queues: &Names<QueueId>,
) -> Option<(Duration, MaxWaitAction)> {
    let only_with_overflow = "only applies with max_wait_action = \"overflow\"";
    let (max, action) = match (&q.max_wait, &q.max_wait_action) {
        (None, None) => {
            if let Some(to) = &q.overflow_to {
                c.error(to.span(), format!("{path}.overflow_to"), only_with_overflow);
            }
            return None;
        }
        (Some(m), None) => {
            c.error(
                m.span(),
                format!("{path}.max_wait_action"),
                "required with max_wait: overflow, callback or voicemail",
            );
            return None;
        }
        (None, Some(a)) => {
            c.error(
                a.span(),
                format!("{path}.max_wait"),
                "required with max_wait_action",
            );
            return None;
        }
        (Some(m), Some(a)) => (m, a),
    };
    let max = c.duration(max, &format!("{path}.max_wait"), Duration::from_secs(1));
    let action = match (action.get_ref().as_str(), &q.overflow_to) {
        ("overflow", Some(to)) if to.get_ref() == name => {
            c.error(
                to.span(),
                format!("{path}.overflow_to"),
                "a queue cannot overflow to itself",
            );
            None
        }
        ("overflow", Some(to)) => queues
            .resolve(c, to, &format!("{path}.overflow_to"))
            .map(MaxWaitAction::Overflow),
        ("overflow", None) => {
            c.error(
                action.span(),
                format!("{path}.overflow_to"),
                "required with max_wait_action = \"overflow\"",
            );
            None
        }
        ("callback" | "voicemail", Some(to)) => {
            c.error(to.span(), format!("{path}.overflow_to"), only_with_overflow);
            None
        }
        ("callback", None) => Some(MaxWaitAction::Callback),
        ("voicemail", None) => Some(MaxWaitAction::Voicemail),
        (other, _) => {
            let hint = did_you_mean(other, ["overflow", "callback", "voicemail"]);
            c.error(
                action.span(),
                format!("{path}.max_wait_action"),
                format!(
                    "unknown action {other:?} (expected overflow, callback or voicemail){hint}"
                ),
            );
            None
        }
    };
    Some((max?, action?))
}

/// `when_closed`: "voicemail" (the default) or another queue.
fn when_closed(
    c: &mut Checker<'_>,
    path: &str,
    name: &str,
    q: &crate::raw::RawQueue,
    queues: &Names<QueueId>,
) -> Option<QueueId> {
    let to = q.when_closed.as_ref()?;
    match to.get_ref().as_str() {
        "voicemail" => None,
        other if other == name => {
            c.error(
                to.span(),
                format!("{path}.when_closed"),
                "a closed queue cannot send its calls to itself (use \"voicemail\" or another queue)",
            );
            None
        }
        _ => queues.resolve(c, to, &format!("{path}.when_closed")),
    }
}

/// Overflow steps: each with `after` (increasing from step to step) and at least one of
/// `min_proficiency` (1-10) or `also` (other queues whose agents may help).
fn overflow_steps(
    c: &mut Checker<'_>,
    path: &str,
    name: &str,
    q: &crate::raw::RawQueue,
    queues: &Names<QueueId>,
) -> Vec<OverflowStep> {
    let mut steps: Vec<OverflowStep> = Vec::new();
    for (i, raw) in q.overflow.iter().enumerate() {
        let p = format!("{path}.overflow[{i}]");
        let step = raw.get_ref();
        let Some(after) = c.duration(&step.after, &format!("{p}.after"), Duration::from_secs(1))
        else {
            continue;
        };
        if steps.last().is_some_and(|prev| prev.after >= after) {
            c.error(
                step.after.span(),
                format!("{p}.after"),
                "each step must come later than the one before",
            );
        }
        let min_proficiency = step
            .min_proficiency
            .as_ref()
            .and_then(|m| c.int_in(m, &format!("{p}.min_proficiency"), 1..=10))
            .map(|m| m as u8);
        let mut also = Vec::new();
        for (j, other) in step
            .also
            .iter()
            .flat_map(|l| l.get_ref().iter())
            .enumerate()
        {
            if other.get_ref() == name {
                c.error(
                    other.span(),
                    format!("{p}.also[{j}]"),
                    "a queue's own agents take its calls already",
                );
            } else if let Some(id) = queues.resolve(c, other, &format!("{p}.also[{j}]")) {
                also.push(id);
            }
        }
        if step.min_proficiency.is_none()
            && step.also.as_ref().is_none_or(|l| l.get_ref().is_empty())
        {
            c.error(
                raw.span(),
                &p,
                "the step widens nothing: set min_proficiency or also",
            );
        }
        steps.push(OverflowStep {
            after,
            min_proficiency,
            also,
        });
    }
    steps
}

/// A config directory's files into one config: each section in at most one file (every
/// name of lines, menus, queues and calendars once), tiers and rules in file order.
pub(crate) fn merge(c: &mut Checker<'_>, parts: Vec<RawPart>) -> Option<RawConfig> {
    fn once<T>(c: &mut Checker<'_>, slot: &mut Option<S<T>>, value: Option<S<T>>, key: &str) {
        let Some(value) = value else { return };
        if let Some(first) = slot {
            let at = c.src.at(Severity::Error, first.span(), "", String::new());
            c.error(
                value.span(),
                key,
                format!(
                    "[{key}] is already set in {}:{}:{}",
                    at.file, at.line, at.column
                ),
            );
        } else {
            *slot = Some(value);
        }
    }
    fn union<T>(
        c: &mut Checker<'_>,
        into: &mut BTreeMap<String, S<T>>,
        from: BTreeMap<String, S<T>>,
        key: &str,
    ) {
        for (name, value) in from {
            if let Some(first) = into.get(&name) {
                let at = c.src.at(Severity::Error, first.span(), "", String::new());
                c.error(
                    value.span(),
                    format!("{key}.{name}"),
                    format!(
                        "{key}.{name} is already defined in {}:{}:{}",
                        at.file, at.line, at.column
                    ),
                );
            } else {
                into.insert(name, value);
            }
        }
    }
    /// Two optional spanned maps as one, the first one's span standing for both.
    fn union_spanned<T>(
        c: &mut Checker<'_>,
        into: Option<S<BTreeMap<String, S<T>>>>,
        from: Option<S<BTreeMap<String, S<T>>>>,
        key: &str,
    ) -> Option<S<BTreeMap<String, S<T>>>> {
        match (into, from) {
            (Some(all), Some(more)) => {
                let span = all.span();
                let mut map = all.into_inner();
                union(c, &mut map, more.into_inner(), key);
                Some(S::new(span, map))
            }
            (all, more) => all.or(more),
        }
    }
    let mut server = None;
    let mut store = None;
    let mut security = None;
    let mut sip = None;
    let mut directory = None;
    let mut learning = None;
    let mut calls = None;
    let mut coaching = None;
    let mut capacity = None;
    let mut tiers: Option<S<Vec<S<crate::raw::RawTier>>>> = None;
    let mut lines: Option<S<BTreeMap<String, S<crate::raw::RawLine>>>> = None;
    let mut queues: Option<S<BTreeMap<String, S<crate::raw::RawQueue>>>> = None;
    let mut menus = BTreeMap::new();
    let mut calendars = BTreeMap::new();
    let mut rules = Vec::new();
    for part in parts {
        once(c, &mut server, part.server, "server");
        once(c, &mut store, part.store, "store");
        once(c, &mut security, part.security, "security");
        once(c, &mut sip, part.sip, "sip");
        once(c, &mut directory, part.directory, "directory");
        once(c, &mut learning, part.learning, "learning");
        once(c, &mut calls, part.calls, "calls");
        once(c, &mut coaching, part.coaching, "coaching");
        once(c, &mut capacity, part.capacity, "capacity");
        if let Some(t) = part.tiers {
            tiers = Some(match tiers.take() {
                None => t,
                Some(all) => {
                    let span = all.span();
                    let mut list = all.into_inner();
                    list.extend(t.into_inner());
                    S::new(span, list)
                }
            });
        }
        lines = union_spanned(c, lines, part.lines, "lines");
        queues = union_spanned(c, queues, part.queues, "queues");
        union(c, &mut menus, part.menus.unwrap_or_default(), "menus");
        union(
            c,
            &mut calendars,
            part.calendars.unwrap_or_default(),
            "calendars",
        );
        rules.extend(part.rules);
    }
    let mut missing = |what: &str| {
        c.error(0..0, what, format!("missing section [{what}]"));
    };
    if directory.is_none() {
        missing("directory");
    }
    if tiers.is_none() {
        missing("tiers");
    }
    if lines.is_none() {
        missing("lines");
    }
    if queues.is_none() {
        missing("queues");
    }
    Some(RawConfig {
        server: server.map(S::into_inner).unwrap_or_default(),
        store: store.map(S::into_inner).unwrap_or_default(),
        security,
        sip,
        directory: directory?,
        learning: learning.map(S::into_inner).unwrap_or_default(),
        calls: calls.map(S::into_inner).unwrap_or_default(),
        coaching: coaching.map(S::into_inner).unwrap_or_default(),
        capacity: capacity.map(S::into_inner).unwrap_or_default(),
        tiers: tiers?,
        lines: lines?,
        menus,
        queues: queues?,
        calendars,
        rules,
    })
}

/// Calendars: a time zone from the bundled database, opening hours per weekday (or
/// range of weekdays, `mon-fri`) as `HH:MM-HH:MM` intervals separated by commas, and
/// closed dates.
fn calendars(c: &mut Checker<'_>, raw: &BTreeMap<String, S<RawCalendar>>) -> Vec<Calendar> {
    let mut out = Vec::new();
    for (name, cal) in raw {
        let path = format!("calendars.{name}");
        c.name(name, cal.span(), &path);
        let cal = cal.get_ref();
        let tz_name = cal.time_zone.get_ref();
        let time_zone = match jiff::tz::TimeZone::get(tz_name) {
            Ok(tz) => Some(tz),
            Err(_) => {
                c.error(
                    cal.time_zone.span(),
                    format!("{path}.time_zone"),
                    format!("unknown time zone {tz_name:?} (use an IANA name such as \"America/New_York\" or \"UTC\")"),
                );
                None
            }
        };
        let mut hours: [Vec<(u16, u16)>; 7] = Default::default();
        let mut seen = [false; 7];
        for (days, spec) in cal.hours.get_ref() {
            let key_path = format!("{path}.hours.{days}");
            let Some(range) = weekday_range(days) else {
                c.error(
                    spec.span(),
                    &key_path,
                    format!("{days:?} is not a day or a range of days (mon, tue, wed, thu, fri, sat, sun, or e.g. mon-fri)"),
                );
                continue;
            };
            let mut intervals = Vec::new();
            if !spec.get_ref().trim().eq_ignore_ascii_case("closed") {
                for part in spec.get_ref().split(',') {
                    match interval(part.trim()) {
                        Some(iv) => intervals.push(iv),
                        None => c.error(
                            spec.span(),
                            &key_path,
                            format!(
                                "{:?} is not opening hours like \"08:00-20:00\" (start before end, 24:00 for midnight), or \"closed\"",
                                part.trim()
                            ),
                        ),
                    }
                }
            }
            intervals.sort_unstable();
            if intervals.windows(2).any(|w| w[0].1 > w[1].0) {
                c.error(spec.span(), &key_path, "opening hours overlap");
            }
            for d in range {
                if seen[d] {
                    c.error(
                        spec.span(),
                        &key_path,
                        format!("{} is given hours twice", WEEKDAYS[d]),
                    );
                }
                seen[d] = true;
                hours[d] = intervals.clone();
            }
        }
        let mut holidays = Vec::new();
        for (i, h) in cal.holidays.iter().enumerate() {
            match parse_date(h.get_ref()).filter(|_| h.get_ref().len() == 10) {
                Some(d) => holidays.push(d),
                None => c.error(
                    h.span(),
                    format!("{path}.holidays[{i}]"),
                    format!("{:?} is not a date like \"2026-12-25\"", h.get_ref()),
                ),
            }
        }
        holidays.sort_unstable();
        holidays.dedup();
        if let Some(time_zone) = time_zone {
            out.push(Calendar {
                name: name.clone(),
                time_zone,
                time_zone_name: tz_name.clone(),
                hours,
                holidays,
                memo: Default::default(),
            });
        }
    }
    out
}

fn weekday_range(days: &str) -> Option<std::ops::RangeInclusive<usize>> {
    let day = |d: &str| WEEKDAYS.iter().position(|w| *w == d);
    match days.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (day(a)?, day(b)?);
            (a <= b).then_some(a..=b)
        }
        None => day(days).map(|d| d..=d),
    }
}

/// `HH:MM-HH:MM` as minutes from midnight, end exclusive; `24:00` ends at midnight.
fn interval(text: &str) -> Option<(u16, u16)> {
    let (a, b) = text.split_once('-')?;
    let time = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let (a, b) = (time(a)?, time(b)?);
    (a < b).then_some((a, b))
}

/// The name of the queue for calls of `base` that need `skills` too, e.g.
/// `support[spanish>=5]`; `None` if a skill or level is invalid (reported elsewhere).
fn skilled_name(base: &str, skills: &BTreeMap<String, S<i64>>) -> Option<String> {
    let mut parts = Vec::with_capacity(skills.len());
    for (skill, level) in skills {
        let level = *level.get_ref();
        if !(1..=10).contains(&level) || skill.is_empty() {
            return None;
        }
        parts.push(format!("{skill}>={level}"));
    }
    (!parts.is_empty()).then(|| format!("{base}[{}]", parts.join(",")))
}

/// The queues that rules needing extra skills (`then = { queue, skills }`) route to, by
/// name, with their base queue's name and the extra skills. Each is the base queue's
/// policy with the skills added, so the calls that need them wait for agents who have
/// them, ordered and matched like any other. Mistakes are reported here, once.
fn skilled_queues(
    c: &mut Checker<'_>,
    raw: &RawConfig,
) -> BTreeMap<String, (String, Vec<(String, u8)>)> {
    let mut out = BTreeMap::new();
    for (i, r) in raw.rules.iter().enumerate() {
        let t = r.get_ref().then.get_ref();
        let Some(skills) = &t.skills else { continue };
        let path = format!("rules[{i}].then.skills");
        if skills.get_ref().is_empty() {
            c.error(
                skills.span(),
                &path,
                "name at least one skill, e.g. { spanish = 5 }",
            );
            continue;
        }
        let mut extra = Vec::new();
        for (skill, level) in skills.get_ref() {
            c.name(skill, level.span(), &format!("{path}.{skill}"));
            if let Some(l) = c.int_in(level, &format!("{path}.{skill}"), 1..=10) {
                extra.push((skill.clone(), l as u8));
            }
        }
        let Some(queue) = &t.queue else {
            c.error(
                skills.span(),
                &path,
                "needs queue in the same rule: the skills are added to that queue's",
            );
            continue;
        };
        if !raw.queues.get_ref().contains_key(queue.get_ref()) {
            continue; // the unknown queue is reported with the rule
        }
        if let Some(name) = skilled_name(queue.get_ref(), skills.get_ref()) {
            out.insert(name, (queue.get_ref().clone(), extra));
        }
    }
    out
}
