//! The route path: from a new call (or menu input) to a decision.
//!
//! A call is resolved to a caller (number, profile, learned behaviour), checked against
//! its line, then run through the ordered rules. The same evaluation serves `RouteCall`
//! and `ExplainRoute`: a [`Trace`] decides whether it records why, and the no-op trace
//! compiles away, so the route path builds no strings.

use std::sync::Arc;

use arc_swap::ArcSwap;
use dashmap::{DashMap, mapref::entry::Entry};

use crate::FastHash;

use crate::{
    acd::{Acd, Assignment, Placed, WaitingCall},
    behaviour::{Behaviour, LastContact, Learned},
    clock::Millis,
    condition::{Facts, LiveQueues},
    customer::{Customer, Directory, Preference, TierId},
    number::{E164, NumberError},
    plan::{LineId, MenuId, QueueId, RoutePlan, RuleId, Target},
    stats::{Counts, Stats},
};

/// Longest call id a switch may send.
pub const MAX_CALL_ID: usize = 128;
/// Longest number (caller or dialed) we read; anything longer is a bad request.
pub const MAX_NUMBER_TEXT: usize = 64;
/// Most DTMF digits in one menu answer.
pub const MAX_DIGITS_INPUT: usize = 32;
/// Longest intent name.
pub const MAX_INTENT: usize = 64;
/// Most rules a decision lists as matched; later matches still apply but are not listed.
pub const MAX_LISTED_MATCHES: usize = 8;

pub use crate::caller::{Caller, Channel, PreferenceSource};

/// A new call as the switch describes it.
#[derive(Clone, Copy, Debug)]
pub struct CallRequest<'a> {
    pub call_id: &'a str,
    pub caller: &'a str,
    pub dialed: &'a str,
    pub channel: Channel,
    /// The switch whose assignment stream gets the call's agent.
    pub switch_id: &'a str,
}

/// A caller's answer to a menu.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    Digits(&'a str),
    Intent(&'a str),
}

/// What the switch should do with the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    PlayMenu { menu: MenuId, attempt: u8 },
    Enqueue { queue: QueueId, priority: i32 },
}

/// What decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Rule(RuleId),
    /// No rule chose a target: the line's own entry.
    LineEntry,
    MenuOption {
        menu: MenuId,
        option: u8,
    },
    /// Input matched no option; the menu plays again.
    InvalidInput(MenuId),
    /// The menu's attempts ran out.
    MenuFallback(MenuId),
}

/// The rules that matched, in order; at most [`MAX_LISTED_MATCHES`], kept inline so a
/// decision never allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MatchedRules {
    ids: [u16; MAX_LISTED_MATCHES],
    len: u8,
}

impl MatchedRules {
    fn push(&mut self, id: RuleId) {
        if usize::from(self.len) < MAX_LISTED_MATCHES {
            self.ids[usize::from(self.len)] = id.0;
            self.len += 1;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = RuleId> + '_ {
        self.ids[..usize::from(self.len)].iter().map(|i| RuleId(*i))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub reason: Reason,
    pub matched: MatchedRules,
    /// The line the call is on, after any redirect.
    pub line: LineId,
    /// The dialed line, when it did not admit the caller.
    pub redirected_from: Option<LineId>,
    pub menu_skipped: bool,
    /// For an enqueue: whether the call waits (and where) or met an agent at once.
    pub placement: Placement,
    /// A matching rule said to offer the caller a callback, whatever the wait.
    pub offer_callback: bool,
    /// The matching rule whose `prefer_agent` the call is kept for first.
    pub prefer_agent: Option<RuleId>,
}

/// Where an enqueued call stands in the ACD when the decision is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Placement {
    /// Not an enqueue decision (a menu), or a dry run.
    #[default]
    NotQueued,
    /// Waiting, at this 1-based position.
    Waiting {
        position: u32,
        /// `None` when no agent is staffed for the queue.
        estimated_wait: Option<std::time::Duration>,
        /// The estimate passes the queue's callback threshold: offer a callback.
        callback_offered: bool,
    },
    /// An idle agent took the call at once; the assignment is on its way to the switch.
    Assigned,
    /// The queue is closed and its calls go to voicemail: the call is not queued.
    Closed,
}

/// How long a call waited in its queue before it was answered or abandoned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waited {
    pub queue: QueueId,
    pub tier: TierId,
    pub waited: std::time::Duration,
}

/// A decision with the plan it refers to (its ids index that plan).
#[derive(Clone, Debug)]
pub struct Routed {
    pub plan: Arc<RoutePlan>,
    pub decision: Decision,
    /// True when the call id was seen before and this is the first decision again.
    pub replayed: bool,
    /// The agent the call met at once, for the switch's assignment stream. Only on the
    /// request that made the match, never on a replay.
    pub assignment: Option<Assignment>,
    /// For a call sent to a queue: the time its tier's standard for its channel promises
    /// an answer within (what a chat widget or an auto-reply tells the customer).
    pub response_within: Option<std::time::Duration>,
}

/// Requests the router refuses. Small and allocation-free: the server names the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("{field}: {problem}")]
    InvalidField {
        field: &'static str,
        problem: &'static str,
    },
    #[error("unknown call")]
    UnknownCall,
    #[error("the call is not at a menu")]
    NotAtMenu,
}

fn invalid(field: &'static str, problem: &'static str) -> RouteError {
    RouteError::InvalidField { field, problem }
}

/// Checks a call id: 1 to [`MAX_CALL_ID`] printable ASCII characters.
pub fn check_call_id(id: &str) -> Result<(), RouteError> {
    if id.is_empty() {
        return Err(invalid("call_id", "must not be empty"));
    }
    if crate::text::longer_than(id, MAX_CALL_ID) {
        return Err(invalid("call_id", "longer than 128 characters"));
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid("call_id", "must be printable ASCII without spaces"));
    }
    Ok(())
}

/// The channels whose contacts may come from an email address or a social handle.
fn writes(channel: Channel) -> bool {
    matches!(channel, Channel::Chat | Channel::Email | Channel::Social)
}

fn check_number_text(field: &'static str, text: &str) -> Result<(), RouteError> {
    if crate::text::longer_than(text, MAX_NUMBER_TEXT) {
        return Err(invalid(field, "longer than 64 characters"));
    }
    Ok(())
}

/// Checks a menu answer: digits 0-9, * and # (1 to 32), or an intent name.
pub fn check_input(input: Input<'_>) -> Result<(), RouteError> {
    match input {
        Input::Digits(d) => {
            if d.is_empty() {
                return Err(invalid("digits", "must not be empty"));
            }
            if crate::text::longer_than(d, MAX_DIGITS_INPUT) {
                return Err(invalid("digits", "more than 32 digits"));
            }
            if !d
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
            {
                return Err(invalid("digits", "only 0-9, * and # are digits"));
            }
        }
        Input::Intent(i) => {
            if i.is_empty() {
                return Err(invalid("intent", "must not be empty"));
            }
            if crate::text::longer_than(i, MAX_INTENT) {
                return Err(invalid("intent", "longer than 64 characters"));
            }
            if i.chars().any(char::is_control) {
                return Err(invalid("intent", "contains control characters"));
            }
        }
    }
    Ok(())
}

/// The caller's menu answers so far, comma-separated, kept inline (no allocation).
#[derive(Clone, Copy, Debug)]
struct DigitTrail {
    bytes: [u8; DigitTrail::CAPACITY],
    len: u8,
}

impl DigitTrail {
    /// Answers past this length are not recorded (64 bytes is a dozen menus deep).
    const CAPACITY: usize = 64;

    const EMPTY: DigitTrail = DigitTrail {
        bytes: [0; DigitTrail::CAPACITY],
        len: 0,
    };

    fn push(&mut self, answer: &str) {
        let len = usize::from(self.len);
        let sep = usize::from(len > 0);
        // Digits are ASCII (checked on input), so any cut is a character boundary.
        if len + sep + answer.len() > Self::CAPACITY {
            return;
        }
        if sep == 1 {
            self.bytes[len] = b',';
        }
        self.bytes[len + sep..len + sep + answer.len()].copy_from_slice(answer.as_bytes());
        self.len = (len + sep + answer.len()) as u8;
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

/// Where a call stands, for idempotent replays and menu input.
#[derive(Debug)]
struct CallState {
    plan: Arc<RoutePlan>,
    /// The first decision, kept apart only once a later one replaced it (see
    /// [`CallState::first`]): most calls never get a second.
    first: Option<Box<Decision>>,
    current: Decision,
    number: Option<E164>,
    priority: i32,
    /// The caller's effective preference, which also steers the choice of agent.
    preference: Preference,
    /// The agent the call is kept for first: one a rule prefers, or the one who served
    /// this caller last, if recently.
    /// Boxed: few calls have one, and a box is one word where the id is two.
    last_agent: Option<Box<Arc<str>>>,
    /// A rule said to offer a callback whatever the wait.
    offer_callback: bool,
    tier: TierId,
    /// The queue the call entered and when, once it did.
    queued: Option<(QueueId, Millis)>,
    /// Answered or abandoned has been counted (each call counts once).
    outcome_counted: bool,
    /// The caller has not yet answered the first prompt of the call.
    first_prompt_pending: bool,
    /// The menu answers so far, for rules that read `call.digits`; boxed on the first
    /// answer, so calls that never reach a menu carry one pointer.
    digits: Option<Box<DigitTrail>>,
    channel: Channel,
    /// When the current decision was made: a call at a menu that long ago was hung up
    /// on without a word from the switch.
    decided: Millis,
    /// (The call's id is its key in the map of calls.)
    switch_id: Arc<str>,
    /// What happened after the first decision, for the call detail record; boxed on the
    /// first event.
    record: Option<Box<CallRecord>>,
    /// The call's key in the store: unique and rising with arrival time, its arrival
    /// millisecond above 20 bits (see [`CallState::created`]).
    key: u64,
}

// A call's state is boxed; 192 bytes is one of the allocator's size classes, and the
// next is 224: a field more costs 32 bytes a call.
const _: () = assert!(size_of::<CallState>() <= 192);

impl CallState {
    /// When the call arrived: its journal key's millisecond (see [`journal_key`]).
    fn created(&self) -> Millis {
        Millis(self.key >> 20)
    }

    /// The call's first decision.
    fn first(&self) -> Decision {
        self.first.as_deref().copied().unwrap_or(self.current)
    }

    /// Makes `decision` the current one, keeping the first.
    fn set_current(&mut self, decision: Decision) {
        if self.first.is_none() && decision != self.current {
            self.first = Some(Box::new(self.current));
        }
        self.current = decision;
    }
}

/// A journal key: the arrival millisecond above 20 bits of a counter, so keys rise with
/// time (the store appends rows instead of inserting them among others) and are unique
/// across restarts up to a million calls in one millisecond.
fn journal_key(now: Millis, counter: &std::sync::atomic::AtomicU64) -> u64 {
    let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) & 0xF_FFFF;
    (now.0 << 20) | n
}

/// Records why, for explanations. The route path uses [`NoTrace`].
pub trait Trace {
    const ON: bool;
    fn rule(&mut self, trace: RuleTrace);
    fn note(&mut self, note: String);
}

/// Records nothing.
#[derive(Debug)]
pub struct NoTrace;

impl Trace for NoTrace {
    const ON: bool = false;
    fn rule(&mut self, _: RuleTrace) {}
    fn note(&mut self, _: String) {}
}

/// One condition of a rule as evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionTrace {
    pub condition: String,
    pub actual: String,
    pub matched: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleTrace {
    pub rule: RuleId,
    pub matched: bool,
    pub conditions: Vec<ConditionTrace>,
    /// What the rule does when it matches.
    pub effect: String,
}

/// A dry run: the caller as resolved, every rule considered, and the decisions.
#[derive(Clone, Debug)]
pub struct Explanation {
    pub plan: Arc<RoutePlan>,
    pub caller: Caller,
    pub rules: Vec<RuleTrace>,
    pub decisions: Vec<Decision>,
    pub notes: Vec<String>,
}

#[derive(Debug, Default)]
struct Recorder {
    rules: Vec<RuleTrace>,
    notes: Vec<String>,
}

impl Trace for Recorder {
    const ON: bool = true;
    fn rule(&mut self, trace: RuleTrace) {
        self.rules.push(trace);
    }
    fn note(&mut self, note: String) {
        self.notes.push(note);
    }
}

/// Shards of the map of calls in progress.
const CALL_SHARDS: usize = 128;

/// The routing engine: the current plan, the customer directory, learned behaviour and
/// the calls in progress.
#[derive(Debug)]
pub struct Router {
    plan: ArcSwap<RoutePlan>,
    directory: Arc<Directory>,
    behaviour: Behaviour,
    /// Each call's state boxed: the map's table holds a pointer per slot, not the state,
    /// so its spare slots (a hash table is a half to seven eighths full) cost 24 bytes
    /// each rather than three hundred.
    calls: DashMap<Arc<str>, Box<CallState>, FastHash>,
    acd: Acd,
    stats: Stats,
    /// One reload at a time; routing itself never takes it.
    reloading: std::sync::Mutex<()>,
    /// Numbers new calls' journal keys (see [`CallImage::key`]).
    next_key: std::sync::atomic::AtomicU64,
    /// Switch ids, shared by their calls: a contact center has a handful of switches, so
    /// a call's switch id costs no allocation.
    switches: DashMap<Box<str>, Arc<str>, FastHash>,
    /// Calls hung up at a menu lately (they are gone from `calls`).
    hang_ups: upkeep::RecentHangUps,
    /// Calls by the time they began, and by the time of each decision that left them at
    /// a menu: where upkeep looks for calls to forget (see [`upkeep`]).
    began: upkeep::Deadlines,
    at_menu: upkeep::Deadlines,
}

/// Most switch ids shared; past this (a client inventing ids) each call has its own copy,
/// so the table cannot grow without bound.
const MAX_SHARED_SWITCH_IDS: usize = 1_024;

/// Why a new plan cannot replace the running one. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReloadError {
    #[error("tiers must keep their names and order across a reload (new tiers go at the end)")]
    TiersChanged,
    #[error(
        "queue {queue} is removed but calls.fallback_queue is not set, so its calls would have nowhere to go"
    )]
    NoFallback { queue: String },
    #[error(
        "the new plan does not keep the running queues' ids (it must be built against the running plan)"
    )]
    QueuesMoved,
}

/// Calls forgotten by [`Router::forget_calls`].
#[derive(Debug, Default)]
pub struct Forgotten {
    /// Each call's last image, for its call detail record.
    pub calls: Vec<CallImage>,
    /// The menus that calls silent past `calls.menu_timeout` were at, one per call.
    pub silent_at: Vec<String>,
    /// Agents freed from a forgotten call.
    pub agents: Vec<Arc<str>>,
    /// Calls those agents took next.
    pub assignments: Vec<Assignment>,
}

/// What a reload did besides swapping the plan.
#[derive(Debug, Default)]
pub struct Reloaded {
    /// Calls moved from removed queues to the fallback queue.
    pub moved: usize,
    /// Assignments the new queues made possible, for the switches.
    pub assignments: Vec<Assignment>,
}

impl Router {
    /// Replaces the plan. Calls keep their places: the ACD keeps every queue's waiting
    /// calls, agents are matched to the new queues by their skills, and calls waiting in
    /// a removed queue move to the plan's fallback queue with their arrival times. Calls
    /// at a menu finish it under the plan they started with.
    pub fn reload(&self, plan: RoutePlan, now: Millis) -> Result<Reloaded, ReloadError> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.plan.load_full();
        if plan.tiers.len() < old.tiers.len()
            || old
                .tiers
                .iter()
                .zip(&plan.tiers)
                .any(|(a, b)| a.name != b.name)
        {
            return Err(ReloadError::TiersChanged);
        }
        if plan.queues.len() < old.queues.len()
            || old
                .queues
                .iter()
                .zip(&plan.queues)
                .any(|(a, b)| a.name != b.name)
        {
            return Err(ReloadError::QueuesMoved);
        }
        // A removed queue made for extra skills hands its calls back to the queue it was
        // made from; any other needs the fallback queue.
        let has_home = |q: &crate::plan::Queue| {
            q.part_of
                .is_some_and(|p| plan.queues.get(p.index()).is_some_and(|p| !p.retired))
        };
        if plan.fallback_queue.is_none()
            && let Some(q) = plan
                .queues
                .iter()
                .zip(&old.queues)
                .find(|(new, old)| new.retired && !old.retired && !has_home(new))
        {
            return Err(ReloadError::NoFallback {
                queue: q.0.name.clone(),
            });
        }
        self.stats.ensure(plan.queues.len());
        let mut reconfigured = self
            .acd
            .reconfigure(&plan.queues, plan.fallback_queue, now)
            .map_err(|_| ReloadError::QueuesMoved)?;
        self.acd.set_standards(
            plan.tiers
                .iter()
                .map(crate::plan::Tier::lane_standards)
                .collect(),
        );
        // New cross-channel rules may free agents for more work.
        reconfigured
            .assignments
            .extend(self.acd.set_lane_rules(plan.capacity.rules.clone(), now));
        for (call_id, to) in &reconfigured.moved {
            if let Some(mut state) = self.calls.get_mut(&**call_id) {
                let since = state.queued.map_or(now, |(_, t)| t);
                state.queued = Some((*to, since));
                self.stats.offered(*to, state.tier, now);
                self.stats.channel_offered(state.channel, state.tier);
            }
        }
        self.plan.store(Arc::new(plan));
        Ok(Reloaded {
            moved: reconfigured.moved.len(),
            assignments: reconfigured.assignments,
        })
    }

    pub fn new(plan: RoutePlan, directory: Arc<Directory>) -> Self {
        let acd = Acd::new(plan.queues.clone());
        // Only sets the fallback: the queues are the ones just made.
        let _ = acd.reconfigure(&plan.queues, plan.fallback_queue, Millis(0));
        acd.set_lane_rules(plan.capacity.rules.clone(), Millis(0));
        acd.set_standards(
            plan.tiers
                .iter()
                .map(crate::plan::Tier::lane_standards)
                .collect(),
        );
        Router {
            acd,
            stats: Stats::new(plan.queues.len()),
            plan: ArcSwap::from_pointee(plan),
            directory,
            behaviour: Behaviour::new(),
            // Many small shards: the once-a-second walk for calls to forget read-locks
            // one shard at a time, and a shard of a million calls' eighth would hold
            // new calls on it back for milliseconds.
            calls: DashMap::with_hasher_and_shard_amount(FastHash::default(), CALL_SHARDS),
            next_key: std::sync::atomic::AtomicU64::new(0),
            switches: DashMap::default(),
            hang_ups: upkeep::RecentHangUps::default(),
            began: upkeep::Deadlines::default(),
            at_menu: upkeep::Deadlines::default(),
            reloading: std::sync::Mutex::new(()),
        }
    }

    /// The agents and live queues.
    pub fn acd(&self) -> &Acd {
        &self.acd
    }

    pub fn plan(&self) -> Arc<RoutePlan> {
        self.plan.load_full()
    }

    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    pub fn behaviour(&self) -> &Behaviour {
        &self.behaviour
    }

    /// The known customer behind a call, for the agent's screen.
    pub fn customer_of(&self, call_id: &str) -> Option<Arc<Customer>> {
        let number = self.calls.get(call_id)?.number?;
        self.directory.lookup(number)
    }

    /// Records who served a call's caller and how it ended, so their next call is kept
    /// for that agent first and the next agent sees what happened.
    pub fn record_served(
        &self,
        call_id: &str,
        agent_id: &str,
        resolved: bool,
        wrap_up_code: &str,
        now: Millis,
    ) {
        let Some(state) = self.calls.get(call_id) else {
            return;
        };
        let (Some(number), Some((queue, _))) = (state.number, state.queued) else {
            return;
        };
        let contact = LastContact {
            agent: Arc::from(agent_id),
            at: now,
            // The current plan: a transfer or a reload may have moved the call to a
            // queue its own plan does not know.
            queue: Arc::from(self.plan.load().queue(queue).name.as_str()),
            resolved,
            wrap_up_code: Arc::from(wrap_up_code),
        };
        drop(state);
        self.behaviour.record_served(number, contact);
    }

    /// The first decision of a call with the plan it refers to: its matching rules say
    /// what goes on the agent's screen.
    pub fn first_decision(&self, call_id: &str) -> Option<(Arc<RoutePlan>, Decision)> {
        let state = self.calls.get(call_id)?;
        Some((Arc::clone(&state.plan), state.first()))
    }

    /// What the caller behind a call last called about, for the agent's screen.
    pub fn last_contact_of(&self, call_id: &str) -> Option<LastContact> {
        let number = self.calls.get(call_id)?.number?;
        self.behaviour.last_contact(number)
    }

    /// The call was answered by an agent: counts toward its queue and tier's service
    /// level, once. The first time, the queue, tier and how long the call waited there.
    pub fn record_answered(&self, call_id: &str, now: Millis) -> Option<Waited> {
        self.record_outcome(call_id, now, true)
    }

    /// The caller hung up before an agent answered; counted once. The first time, the
    /// queue, tier and how long the caller waited there.
    pub fn record_abandoned(&self, call_id: &str, now: Millis) -> Option<Waited> {
        self.record_outcome(call_id, now, false)
    }

    /// The call reached its queue's maximum wait and went to voicemail; counted once.
    pub fn record_timed_out(&self, call_id: &str) {
        let Some(mut state) = self.calls.get_mut(call_id) else {
            return;
        };
        if let Some((queue, _)) = state.queued.filter(|_| !state.outcome_counted) {
            state.outcome_counted = true;
            self.stats.timed_out(queue, state.tier);
            self.stats.channel_timed_out(state.channel, state.tier);
        }
    }

    fn record_outcome(&self, call_id: &str, now: Millis, answered: bool) -> Option<Waited> {
        let mut state = self.calls.get_mut(call_id)?;
        let (queue, since) = state.queued.filter(|_| !state.outcome_counted)?;
        state.outcome_counted = true;
        let standard = state
            .plan
            .tier(state.tier)
            .standard_for(state.channel)
            .within;
        let waited = now.since(since);
        if answered {
            self.stats
                .answered(queue, state.tier, waited, standard, now);
        } else {
            self.stats
                .abandoned(queue, state.tier, waited, standard, now);
        }
        self.stats
            .channel_outcome(state.channel, state.tier, answered, waited, standard, now);
        Some(Waited {
            queue,
            tier: state.tier,
            waited,
        })
    }

    /// A tier's answered and abandoned calls over all queues in the `window` (to the
    /// minute, up to a day) before `now`.
    pub fn recent(&self, tier: TierId, window: std::time::Duration, now: Millis) -> Counts {
        self.stats.recent(tier, window, now)
    }

    /// A tier's contacts of one channel over all queues in the `window` (to the minute,
    /// up to a day) before `now`, held to the tier's standard for the channel.
    pub fn recent_channel(
        &self,
        channel: Channel,
        tier: TierId,
        window: std::time::Duration,
        now: Millis,
    ) -> Counts {
        self.stats.recent_channel(channel, tier, window, now)
    }

    /// One queue and tier's calls from `since` to `now` (to the minute, up to a day),
    /// offered included.
    pub fn recent_in(&self, queue: QueueId, tier: TierId, since: Millis, now: Millis) -> Counts {
        self.stats.recent_in(queue, tier, since, now)
    }

    /// The call moved to another queue: it is offered there (and its wait there counted
    /// from now) and will be answered or abandoned there.
    pub fn record_transfer(&self, call_id: &str, queue: QueueId, now: Millis) {
        if let Some(mut state) = self.calls.get_mut(call_id) {
            state.queued = Some((queue, now));
            state.outcome_counted = false;
            self.stats.offered(queue, state.tier, now);
            self.stats.channel_offered(state.channel, state.tier);
        }
    }

    /// A supervisor moved the call to `queue`: it is offered there, its wait still
    /// counted from its arrival in the first queue.
    pub fn record_moved(&self, call_id: &str, queue: QueueId, now: Millis) {
        if let Some(mut state) = self.calls.get_mut(call_id) {
            let since = state.queued.map_or(now, |(_, t)| t);
            state.queued = Some((queue, since));
            self.stats.offered(queue, state.tier, now);
            self.stats.channel_offered(state.channel, state.tier);
        }
    }

    /// Counters of a queue and tier.
    pub fn counts(&self, queue: QueueId, tier: TierId) -> Counts {
        self.stats.counts(queue, tier)
    }

    /// Counters of a channel and tier over all queues, each contact held to its tier's
    /// standard for the channel.
    pub fn channel_counts(&self, channel: Channel, tier: TierId) -> Counts {
        self.stats.channel_counts(channel, tier)
    }

    /// Whether the router knows this call (routed and not yet forgotten).
    pub fn knows_call(&self, call_id: &str) -> bool {
        self.calls.contains_key(call_id)
    }

    /// The switch a known call came from.
    pub fn switch_of(&self, call_id: &str) -> Option<Arc<str>> {
        self.calls.get(call_id).map(|c| Arc::clone(&c.switch_id))
    }

    /// The shared copy of a switch id.
    fn switch_id(&self, id: &str) -> Arc<str> {
        if let Some(shared) = self.switches.get(id) {
            return Arc::clone(&shared);
        }
        let fresh: Arc<str> = Arc::from(id);
        if self.switches.len() < MAX_SHARED_SWITCH_IDS {
            self.switches.insert(id.into(), Arc::clone(&fresh));
        }
        fresh
    }

    /// The ids of the calls the router remembers.
    pub fn call_ids(&self) -> Vec<Arc<str>> {
        self.calls.iter().map(|c| Arc::clone(c.key())).collect()
    }

    /// Calls the router remembers (for idempotency and menu input).
    pub fn calls_in_progress(&self) -> usize {
        self.calls.len()
    }

    /// Decides where a new call goes. The same call id again returns the first decision
    /// and changes nothing.
    pub fn route(&self, req: &CallRequest<'_>, now: Millis) -> Result<Routed, RouteError> {
        check_call_id(req.call_id)?;
        if writes(req.channel) {
            if crate::text::longer_than(req.caller, crate::address::MAX_EMAIL) {
                return Err(invalid("caller", "longer than 254 characters"));
            }
        } else {
            check_number_text("caller", req.caller)?;
        }
        check_number_text("dialed", req.dialed)?;
        // One look-up: new calls are the common case, so the entry is taken at once (a
        // repeat of a call id pays for the key it did not need). The entry holds the call
        // id's shard until the state is in, so two concurrent requests for one new call
        // id decide once.
        let call_id: Arc<str> = Arc::from(req.call_id);
        match self.calls.entry(Arc::clone(&call_id)) {
            Entry::Occupied(state) => Ok(replay(state.get())),
            Entry::Vacant(slot) => {
                let plan = self.plan.load_full();
                let caller = self.resolve_caller(&plan, req.caller, req.channel, now, true);
                let line = configured_line(&plan, req.dialed).unwrap_or(plan.default_line);
                let call = CallFacts {
                    dialed: line,
                    channel: req.channel,
                    now,
                    live: &self.acd,
                    digits: "",
                };
                let (mut decision, priority) = evaluate(&plan, &caller, call, &mut NoTrace);
                // A rule may name the agent to keep the call for; otherwise a caller
                // served recently is kept first for the agent who served them.
                let preferred = decision
                    .prefer_agent
                    .and_then(|r| plan.rule(r).then.prefer_agent.clone());
                let last_agent = preferred.or_else(|| match caller.number {
                    Ok(n) if !plan.learning.same_agent_for.is_zero() => self
                        .behaviour
                        .last_agent(n)
                        .filter(|(_, t)| now.since(*t) <= plan.learning.repeat_window)
                        .map(|(agent, _)| agent),
                    _ => None,
                });
                let mut state = CallState {
                    plan: Arc::clone(&plan),
                    first: None,
                    current: decision,
                    number: caller.number.ok(),
                    priority,
                    preference: caller.preference,
                    last_agent: last_agent.map(Box::new),
                    offer_callback: decision.offer_callback,
                    tier: caller.tier,
                    queued: None,
                    outcome_counted: false,
                    first_prompt_pending: true,
                    digits: None,
                    channel: req.channel,
                    decided: now,
                    key: journal_key(now, &self.next_key),
                    switch_id: self.switch_id(req.switch_id),
                    record: None,
                };
                let assignment = self.place(&call_id, &mut decision, &mut state, now);
                state.current = decision;
                let response_within = response_within(&state, &decision);
                slot.insert(Box::new(state));
                self.began.push(now, &call_id);
                if matches!(decision.action, Action::PlayMenu { .. }) {
                    self.at_menu.push(now, &call_id);
                }
                Ok(Routed {
                    plan,
                    decision,
                    replayed: false,
                    assignment,
                    response_within,
                })
            }
        }
    }

    /// Who is calling, as the rules would see them now, without recording the call: the
    /// number normalized, the profile looked up, and what behaviour taught.
    pub fn caller(&self, plan: &RoutePlan, raw: &str, now: Millis) -> Caller {
        self.resolve_caller(plan, raw, Channel::Voice, now, false)
    }

    /// Rule evaluation alone: the decision `plan` gives `caller` on `line` (after the
    /// line's tier check), with the call's priority, read against the live queues.
    /// Nothing is placed or kept; [`Router::route`] is this plus the lookup and the queue.
    pub fn decide(
        &self,
        plan: &RoutePlan,
        caller: &Caller,
        line: LineId,
        channel: Channel,
        now: Millis,
    ) -> (Decision, i32) {
        let call = CallFacts {
            dialed: line,
            channel,
            now,
            live: &self.acd,
            digits: "",
        };
        evaluate(plan, caller, call, &mut NoTrace)
    }

    /// Applies the caller's answer to the menu the call is at.
    pub fn submit_input(
        &self,
        call_id: &str,
        input: Input<'_>,
        now: Millis,
    ) -> Result<Routed, RouteError> {
        check_call_id(call_id)?;
        check_input(input)?;
        let mut state = self.calls.get_mut(call_id).ok_or(RouteError::UnknownCall)?;
        let id = Arc::clone(state.key());
        let Action::PlayMenu { menu, attempt } = state.current.action else {
            return Err(RouteError::NotAtMenu);
        };
        let plan = Arc::clone(&state.plan);
        let step = menu_step(
            &plan,
            menu,
            attempt,
            input,
            state.priority,
            state.current.line,
        );
        if let Some(number) = state.number {
            if state.first_prompt_pending {
                self.behaviour
                    .record_first_prompt(number, step.pressed_zero);
            }
            if let Some(p) = step.remember {
                self.behaviour.record_choice(number, p);
            }
        }
        state.first_prompt_pending = false;
        // A choice that reveals a preference ("a friendly chat") applies to this call too.
        if let Some(p) = step.remember {
            state.preference = p;
        }
        let mut decision = step.decision;
        if let (Reason::MenuOption { .. }, Input::Digits(d)) = (decision.reason, input) {
            state
                .digits
                .get_or_insert_with(|| Box::new(DigitTrail::EMPTY))
                .push(d);
            if !plan.digit_rules().is_empty() {
                let number = state.number.ok_or(NumberError::Withheld);
                let caller = self.caller_for(&plan, number, now, false);
                let call = CallFacts {
                    dialed: decision.line,
                    channel: state.channel,
                    now,
                    live: &self.acd,
                    digits: state.digits.as_deref().map_or("", DigitTrail::as_str),
                };
                let priority;
                (decision, priority) = digit_rules(&plan, &caller, call, decision, state.priority);
                state.priority = priority;
                state.offer_callback |= decision.offer_callback;
            }
        }
        let assignment = self.place(&id, &mut decision, &mut state, now);
        state.set_current(decision);
        state.decided = now;
        if matches!(decision.action, Action::PlayMenu { .. }) {
            self.at_menu.push(now, &id);
        }
        Ok(Routed {
            response_within: response_within(&state, &decision),
            plan,
            decision,
            replayed: false,
            assignment,
        })
    }

    /// A dry run of [`Router::route`] followed by one menu answer per `digits` entry.
    /// Records nothing: no call, no learning.
    pub fn explain(
        &self,
        caller: &str,
        dialed: &str,
        channel: Channel,
        digits: &[&str],
        now: Millis,
    ) -> Explanation {
        let plan = self.plan.load_full();
        let caller = self.resolve_caller(&plan, caller, channel, now, false);
        let mut rec = Recorder::default();
        let line = configured_line(&plan, dialed).unwrap_or_else(|| {
            rec.note(format!(
                "dialed number {} is not a configured line: default line {}",
                crate::text::shown(dialed),
                plan.line(plan.default_line).name
            ));
            plan.default_line
        });
        let call = CallFacts {
            dialed: line,
            channel,
            now,
            live: &self.acd,
            digits: "",
        };
        let (first, mut priority) = evaluate(&plan, &caller, call, &mut rec);
        let mut trail = DigitTrail::EMPTY;
        let mut decisions = vec![first];
        let mut current = first;
        for d in digits {
            let Action::PlayMenu { menu, attempt } = current.action else {
                rec.note(format!(
                    "input {} not applied: the call is no longer at a menu",
                    crate::text::shown(d)
                ));
                break;
            };
            if let Err(e) = check_input(Input::Digits(d)) {
                rec.note(format!("input {} not applied: {e}", crate::text::shown(d)));
                break;
            }
            let step = menu_step(
                &plan,
                menu,
                attempt,
                Input::Digits(d),
                priority,
                current.line,
            );
            current = step.decision;
            if matches!(current.reason, Reason::MenuOption { .. }) {
                trail.push(d);
                let call = CallFacts {
                    dialed: current.line,
                    channel,
                    now,
                    live: &self.acd,
                    digits: trail.as_str(),
                };
                let before = current.matched;
                (current, priority) = digit_rules(&plan, &caller, call, current, priority);
                for r in current
                    .matched
                    .iter()
                    .filter(|r| !before.iter().any(|b| b == *r))
                {
                    rec.note(format!(
                        "after answers {:?}: rule {} matched ({})",
                        trail.as_str(),
                        plan.rule(r).name,
                        describe_then(&plan, &plan.rule(r).then)
                    ));
                }
            }
            decisions.push(current);
        }
        Explanation {
            plan,
            caller,
            rules: rec.rules,
            decisions,
            notes: rec.notes,
        }
    }

    /// Puts an enqueue decision's call in its live queue, recording where it stands.
    fn place(
        &self,
        call_id: &Arc<str>,
        decision: &mut Decision,
        state: &mut CallState,
        now: Millis,
    ) -> Option<Assignment> {
        let Action::Enqueue { queue, priority } = decision.action else {
            return None;
        };
        // The call's plan may be older than a reload that removed this queue (a caller
        // at a menu when it happened): it goes where that queue's calls went, and the
        // decision says so.
        let mut queue = self.acd.destination(queue);
        // A queue a supervisor closed sends its calls to its `when_closed` queue, or to
        // voicemail.
        match self.acd.closed_route(queue) {
            None => {}
            Some(Some(to)) => queue = to,
            Some(None) => {
                decision.placement = Placement::Closed;
                let record = state.record.get_or_insert_with(Box::default);
                record.outcome = Some(Outcome::Voicemail);
                record.ended = Some(now);
                return None;
            }
        }
        decision.action = Action::Enqueue { queue, priority };
        state.queued = Some((queue, now));
        self.stats.offered(queue, state.tier, now);
        self.stats.channel_offered(state.channel, state.tier);
        let call = WaitingCall {
            call_id: Arc::clone(call_id),
            switch_id: Arc::clone(&state.switch_id),
            priority,
            arrived: now,
            preference: state.preference,
            callback: false,
            tier: state.tier,
            max_wait_met: false,
            channel: state.channel,
        };
        // The queue comes from the same plan the ACD was built from, and a call is
        // enqueued once (its id is new, or it just left a menu), so this cannot fail.
        let placed = match &state.last_agent {
            Some(agent) => {
                let until = Millis(
                    now.0.saturating_add(
                        u64::try_from(state.plan.learning.same_agent_for.as_millis())
                            .unwrap_or(u64::MAX),
                    ),
                );
                self.acd.enqueue_for(queue, call, agent, until, now)
            }
            None => self.acd.enqueue(queue, call, now),
        };
        match placed {
            // Under concurrent arrivals the agent claimed may have taken another call;
            // this one then waits, and says where.
            Ok(Placed::Assigned(a)) if a.call.call_id != *call_id => {
                let position = self.acd.position(call_id).unwrap_or(1);
                decision.placement =
                    self.waiting(queue, state.channel, position, state.offer_callback);
                Some(a)
            }
            Ok(Placed::Assigned(a)) => {
                decision.placement = Placement::Assigned;
                Some(a)
            }
            Ok(Placed::Waiting { position }) => {
                decision.placement =
                    self.waiting(queue, state.channel, position, state.offer_callback);
                None
            }
            Err(_) => None,
        }
    }

    /// Where a waiting call stands: position (among the work of its channel's lane),
    /// estimated wait (by that lane's units and handle time) and whether to offer a
    /// callback.
    fn waiting(
        &self,
        queue: QueueId,
        channel: Channel,
        position: usize,
        by_rule: bool,
    ) -> Placement {
        let estimated_wait =
            self.acd
                .estimated_wait_in(queue, crate::capacity::Lane::of(channel), position);
        // The current plan: queue ids never change meaning, and it knows them all.
        let callback_after = self.plan.load().queue(queue).callback_after;
        let callback_offered = by_rule
            || match (estimated_wait, callback_after) {
                (Some(wait), Some(after)) => wait > after,
                // Nobody staffed at all: the wait is open-ended, so offer the callback.
                (None, Some(_)) => true,
                (_, None) => false,
            };
        Placement::Waiting {
            position: u32::try_from(position).unwrap_or(u32::MAX),
            estimated_wait,
            callback_offered,
        }
    }

    /// Who is calling. On the written channels (chat, email, social) the caller may be
    /// an email address or a social handle: its customer is found by it, and then known
    /// by their first phone number, so that what they did on any channel counts (repeat
    /// contacts, learned behaviour).
    fn resolve_caller(
        &self,
        plan: &RoutePlan,
        raw: &str,
        channel: Channel,
        now: Millis,
        record: bool,
    ) -> Caller {
        if writes(channel)
            && crate::address::kind_of(raw).is_some()
            && let Ok((_, address)) = crate::address::normalize(raw)
        {
            let number = self
                .directory
                .lookup_address(&address)
                .and_then(|c| c.numbers.first().copied())
                .ok_or(NumberError::Address);
            return self.caller_for(plan, number, now, record);
        }
        self.caller_for(plan, plan.numbers.normalize(raw), now, record)
    }

    fn caller_for(
        &self,
        plan: &RoutePlan,
        number: Result<E164, NumberError>,
        now: Millis,
        record: bool,
    ) -> Caller {
        let customer = number.ok().and_then(|n| self.directory.lookup(n));
        let learned = match number {
            Ok(n) if record => self.behaviour.record_call(n, now),
            Ok(n) => self.behaviour.get(n),
            Err(_) => Learned::default(),
        };
        let repeat = learned
            .last_call
            .is_some_and(|t| now.since(t) <= plan.learning.repeat_window);
        let tier = customer
            .as_ref()
            .map(|c| c.tier)
            .filter(|t| usize::from(t.0) < plan.tiers.len())
            .unwrap_or_default();
        let explicit = customer.as_ref().map_or(Preference::None, |c| c.preference);
        let (preference, source) = effective_preference(explicit, &learned, plan);
        Caller {
            number,
            customer,
            tier,
            preference,
            source,
            repeat,
            learned,
        }
    }
}

/// An explicit preference wins; then learned zero-outs; then a choice made in a menu.
pub fn effective_preference(
    explicit: Preference,
    learned: &Learned,
    plan: &RoutePlan,
) -> (Preference, PreferenceSource) {
    if explicit != Preference::None {
        (explicit, PreferenceSource::Explicit)
    } else if plan.learning.zero_out.is_zero_presser(learned) {
        (Preference::AlwaysOperator, PreferenceSource::LearnedZeroOut)
    } else if let Some(p) = learned.chosen.filter(|p| *p != Preference::None) {
        (p, PreferenceSource::LearnedChoice)
    } else {
        (Preference::None, PreferenceSource::None)
    }
}

fn replay(state: &CallState) -> Routed {
    Routed {
        plan: Arc::clone(&state.plan),
        decision: state.first(),
        replayed: true,
        assignment: None,
        response_within: response_within(state, &state.first()),
    }
}

/// The time a queued call's tier promises an answer within on its channel.
fn response_within(state: &CallState, decision: &Decision) -> Option<std::time::Duration> {
    matches!(decision.action, Action::Enqueue { .. }).then(|| {
        state
            .plan
            .tier(state.tier)
            .standard_for(state.channel)
            .within
    })
}

fn configured_line(plan: &RoutePlan, dialed: &str) -> Option<LineId> {
    // Switches mostly send a line's number as it prints; other spellings are normalized.
    plan.line_for_text(dialed).or_else(|| {
        plan.numbers
            .normalize(dialed)
            .ok()
            .and_then(|n| plan.line_for(n))
    })
}

/// The call as the rules see it, apart from who is calling.
#[derive(Clone, Copy)]
struct CallFacts<'a> {
    dialed: LineId,
    channel: Channel,
    now: Millis,
    live: &'a dyn LiveQueues,
    digits: &'a str,
}

/// Runs the line check and the rules; returns the decision and the call's priority.
fn evaluate<T: Trace>(
    plan: &RoutePlan,
    caller: &Caller,
    call: CallFacts<'_>,
    trace: &mut T,
) -> (Decision, i32) {
    let dialed = call.dialed;
    let mut line = dialed;
    let mut redirected_from = None;
    let dialed_line = plan.line(dialed);
    if let (Some(admits), Some(others)) = (dialed_line.admits, &dialed_line.others)
        && !admits.contains(caller.tier)
    {
        redirected_from = Some(dialed);
        line = others.line;
        if T::ON {
            trace.note(format!(
                "line {} does not admit tier {}: redirected to line {}",
                dialed_line.name,
                plan.tier(caller.tier).name,
                plan.line(line).name
            ));
        }
    }
    let facts = Facts {
        plan,
        caller,
        line,
        channel: call.channel,
        now: call.now,
        live: call.live,
        digits: call.digits,
    };
    let mut priority = plan.tier(caller.tier).base_priority;
    let mut target = None;
    let mut reason = Reason::LineEntry;
    let mut matched = MatchedRules::default();
    let mut offer_callback = false;
    let mut prefer_agent = None;
    let guards = plan.guards();
    // Explained, every rule shows; decided, only those the call's guards and the
    // caller's attribute values, tags and figures leave within reach, in the same order.
    let index = plan.rule_index();
    let mut room = crate::rule_index::Bits::default();
    let candidates = if T::ON {
        crate::rule_index::Candidates::Every(0..plan.rules.len())
    } else {
        index.candidates(&facts, &mut room)
    };
    let guarded = index.guarded();
    for i in candidates {
        let rule = &plan.rules[i];
        let id = RuleId(i as u16);
        let ok = if T::ON {
            let mut tests = Vec::new();
            let ok = rule.when.explain(&facts, &mut tests);
            trace.rule(rule_trace(plan, id, tests, ok));
            ok
        } else {
            // Candidates are within their guards (tier, preference, line, channel,
            // calendars) unless there are too many rules to index. A rule the guard and
            // the index decide between them needs nothing more.
            (guarded || guards[i].admits(&facts)) && (index.decides(i) || plan.holds(id, &facts))
        };
        if !ok {
            continue;
        }
        matched.push(id);
        let then = &rule.then;
        if let Some(p) = then.priority {
            priority = p;
        }
        priority = priority.saturating_add(then.raise_priority);
        if let Some(t) = then.target {
            target = Some(t);
            reason = Reason::Rule(id);
        }
        offer_callback |= then.offer_callback;
        if then.prefer_agent.is_some() {
            prefer_agent = Some(id);
        }
        if !then.continue_ {
            break;
        }
    }
    let entry = plan.line(line).entry;
    let chosen = target.unwrap_or(entry);
    let action = match chosen {
        Target::Menu(menu) => Action::PlayMenu { menu, attempt: 1 },
        Target::Queue(queue) => Action::Enqueue { queue, priority },
    };
    let menu_skipped = matches!(entry, Target::Menu(_)) && matches!(chosen, Target::Queue(_));
    let decision = Decision {
        action,
        reason,
        matched,
        line,
        redirected_from,
        menu_skipped,
        placement: Placement::NotQueued,
        offer_callback,
        prefer_agent,
    };
    (decision, priority)
}

/// After a menu answer: the rules that read `call.digits`, in order, on the decision the
/// menu made. The first match with a target replaces the menu's destination; priorities
/// and callback offers apply as in [`evaluate`].
fn digit_rules(
    plan: &RoutePlan,
    caller: &Caller,
    call: CallFacts<'_>,
    mut decision: Decision,
    mut priority: i32,
) -> (Decision, i32) {
    let facts = Facts {
        plan,
        caller,
        line: call.dialed,
        channel: call.channel,
        now: call.now,
        live: call.live,
        digits: call.digits,
    };
    let mut target = None;
    for id in plan.digit_rules() {
        let rule = plan.rule(*id);
        if !plan.holds(*id, &facts) {
            continue;
        }
        decision.matched.push(*id);
        let then = &rule.then;
        if let Some(p) = then.priority {
            priority = p;
        }
        priority = priority.saturating_add(then.raise_priority);
        decision.offer_callback |= then.offer_callback;
        if then.target.is_some() {
            target = then.target;
            decision.reason = Reason::Rule(*id);
        }
        if !then.continue_ {
            break;
        }
    }
    decision.action = match (target, decision.action) {
        (Some(Target::Menu(menu)), _) => Action::PlayMenu { menu, attempt: 1 },
        (Some(Target::Queue(queue)), _) | (None, Action::Enqueue { queue, .. }) => {
            Action::Enqueue { queue, priority }
        }
        (None, menu @ Action::PlayMenu { .. }) => menu,
    };
    (decision, priority)
}

fn rule_trace(
    plan: &RoutePlan,
    rule: RuleId,
    tests: Vec<crate::condition::TestTrace>,
    matched: bool,
) -> RuleTrace {
    let conditions = tests
        .into_iter()
        .map(|t| ConditionTrace {
            condition: t.text,
            actual: t.actual,
            matched: t.matched,
        })
        .collect();
    RuleTrace {
        rule,
        matched,
        conditions,
        effect: describe_then(plan, &plan.rule(rule).then),
    }
}

/// What a rule does, in words: `queue operator, priority +10, tag vip, then stop`.
pub fn describe_then(plan: &RoutePlan, then: &crate::plan::Then) -> String {
    let mut effect = Vec::new();
    if let Some(t) = then.target {
        effect.push(plan.target_name(t).to_string());
    }
    if let Some(p) = then.priority {
        effect.push(format!("priority {p}"));
    }
    if then.raise_priority != 0 {
        effect.push(format!("priority {:+}", then.raise_priority));
    }
    if then.offer_callback {
        effect.push("offer a callback".to_owned());
    }
    if let Some(a) = &then.prefer_agent {
        effect.push(format!("prefer agent {a}"));
    }
    for (word, list) in [
        ("tag", &then.tags),
        ("offer", &then.offers),
        ("note", &then.notes),
    ] {
        effect.extend(list.iter().map(|x| format!("{word} {x:?}")));
    }
    effect.push(
        if then.continue_ {
            "then continue"
        } else {
            "then stop"
        }
        .to_owned(),
    );
    effect.join(", ")
}

struct Step {
    decision: Decision,
    pressed_zero: bool,
    remember: Option<Preference>,
}

fn menu_step(
    plan: &RoutePlan,
    menu_id: MenuId,
    attempt: u8,
    input: Input<'_>,
    priority: i32,
    line: LineId,
) -> Step {
    let menu = plan.menu(menu_id);
    let found = menu.options.iter().position(|o| match input {
        Input::Digits(d) => o.digits == d,
        Input::Intent(i) => o
            .intent
            .as_deref()
            .is_some_and(|oi| oi.eq_ignore_ascii_case(i)),
    });
    let to = |target: Target, reason: Reason| {
        let action = match target {
            Target::Menu(menu) => Action::PlayMenu { menu, attempt: 1 },
            Target::Queue(queue) => Action::Enqueue { queue, priority },
        };
        Decision {
            action,
            reason,
            matched: MatchedRules::default(),
            line,
            redirected_from: None,
            menu_skipped: false,
            placement: Placement::NotQueued,
            offer_callback: false,
            prefer_agent: None,
        }
    };
    match found {
        Some(i) => {
            let option = &menu.options[i];
            Step {
                decision: to(
                    option.target,
                    Reason::MenuOption {
                        menu: menu_id,
                        option: i as u8,
                    },
                ),
                pressed_zero: option.digits == "0",
                remember: option.remember,
            }
        }
        None if attempt < menu.attempts => Step {
            decision: Decision {
                action: Action::PlayMenu {
                    menu: menu_id,
                    attempt: attempt + 1,
                },
                ..to(Target::Menu(menu_id), Reason::InvalidInput(menu_id))
            },
            pressed_zero: false,
            remember: None,
        },
        None => Step {
            decision: to(menu.fallback, Reason::MenuFallback(menu_id)),
            pressed_zero: false,
            remember: None,
        },
    }
}

/// A reason in words, with configured names: `rule platinum-desk`, `line entry`,
/// `menu main option 2`.
pub fn describe_reason(plan: &RoutePlan, reason: Reason) -> String {
    match reason {
        Reason::Rule(r) => format!("rule {}", plan.rule(r).name),
        Reason::LineEntry => "line entry".to_owned(),
        Reason::MenuOption { menu, option } => {
            let m = plan.menu(menu);
            format!(
                "menu {} option {}",
                m.name,
                m.options[usize::from(option)].digits
            )
        }
        Reason::InvalidInput(menu) => {
            format!("menu {}: input matched no option", plan.menu(menu).name)
        }
        Reason::MenuFallback(menu) => {
            format!(
                "menu {}: no valid input after {} attempts",
                plan.menu(menu).name,
                plan.menu(menu).attempts
            )
        }
    }
}

mod callbacks;
mod journal;
mod upkeep;
pub use callbacks::{ScheduleError, Unanswered};
pub use journal::{
    ActionImage, CallImage, CallRecord, DecisionImage, Outcome, PlaceImage, PlacementImage,
    ReasonImage, Restored, WaitImage,
};
pub use upkeep::HungUp;

#[cfg(test)]
mod index_tests;
#[cfg(test)]
mod tests;
