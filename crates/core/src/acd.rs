//! The automatic call distributor: agents, waiting calls, and the matching of the two.
//!
//! Race-freedom rests on two rules:
//! - **An agent is claimed by one compare-and-swap** on its state word (state plus an
//!   epoch that every change bumps), so two calls can never take one agent.
//! - **Publish, then look.** A new call is inserted in its queue before it looks for an
//!   idle agent; an agent is marked available before it looks for a waiting call. With
//!   sequentially consistent atomics at least one of the two sees the other, so a call
//!   never waits while an eligible agent sits idle. A side that claims but finds nothing
//!   undoes its claim and looks once more.
//!
//! Each lane of a queue keeps its waiting calls in an ordered map without a lock (a skip
//! list, see `waitlist`): a call is claimed by setting one bit in its entry, so one call
//! goes to one owner. Keys are fixed at insert (see [`WaitKey`]). Agents and the call
//! index are sharded concurrent maps: there is no global lock.
//!
//! Layout: this file holds the types, the distributor's construction and reloads; the
//! rest is split by responsibility, each an `impl Acd` of its own:
//! - `agents`: log-in, ready, not ready, log-out, the state step, which queues an agent
//!   serves;
//! - `waiting`: calls in their queues and kept for one agent, and how they leave a queue
//!   other than to an agent;
//! - `matching`: publish-then-look matching, idle lists and overflow;
//! - `offers`: offered calls connected, ended, missed or withdrawn;
//! - `closing`: queues a supervisor closed; `callbacks`: callbacks scheduled for a time;
//! - `figures`: snapshots, staffing and estimated waits;
//! - `idle`: the orders idle agents are kept in; `waitlist`: a lane's waiting calls;
//!   `journal`: images for restarts.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, OnceLock, RwLock,
        atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering::SeqCst},
    },
};

use arc_swap::ArcSwap;
use dashmap::DashMap;

use crate::FastHash;

use crate::{
    caller::Channel,
    clock::Millis,
    customer::{Preference, TierId},
    plan::{MaxWaitAction, Queue, QueueId},
};

/// Agent states, as the desk and the switch see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum AgentState {
    LoggedOut = 0,
    Available = 1,
    /// Offered a call; waiting for the switch to connect it.
    Reserved = 2,
    OnCall = 3,
    WrapUp = 4,
    NotReady = 5,
}

impl AgentState {
    fn from_bits(b: u64) -> AgentState {
        match b {
            1 => AgentState::Available,
            2 => AgentState::Reserved,
            3 => AgentState::OnCall,
            4 => AgentState::WrapUp,
            5 => AgentState::NotReady,
            _ => AgentState::LoggedOut,
        }
    }

    /// Whether an agent in this state takes the queue's calls (now or after the current
    /// one): logged in and not stepped away.
    pub fn staffed(self) -> bool {
        !matches!(self, AgentState::LoggedOut | AgentState::NotReady)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged_out",
            AgentState::Available => "available",
            AgentState::Reserved => "reserved",
            AgentState::OnCall => "on_call",
            AgentState::WrapUp => "wrap_up",
            AgentState::NotReady => "not_ready",
        }
    }
}

/// An agent as they logged in. Replaced whole on the next log-in.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgentProfile {
    pub id: String,
    pub endpoint: String,
    /// Skill names with proficiency 1 to 10.
    pub skills: Vec<(String, u8)>,
    pub tags: Vec<String>,
    /// How much work of each lane the agent may hold at once.
    #[serde(default)]
    pub capacity: Limits,
}

/// A logged-in agent: an immutable profile and the atomics that change.
#[derive(Debug)]
pub struct Agent {
    pub profile: AgentProfile,
    /// `state << 56 | epoch`: every transition bumps the epoch, so a compare-and-swap
    /// cannot succeed against a state that changed and changed back.
    word: AtomicU64,
    /// When the state last changed (longest-idle ordering, time in state).
    since: AtomicU64,
    /// `since` as it was when the agent was last claimed: a claim that finds no call
    /// gives it back, so looking for work costs an idle agent neither their place in
    /// `longest_idle` order nor their time in state.
    idle_since: AtomicU64,
    /// While in wrap-up: when it ends by itself (milliseconds).
    wrap_up_until: AtomicU64,
    /// When the agent logged in, and the time since spent offered, on calls or wrapping
    /// up (milliseconds), for `least_occupied`.
    logged_in: Millis,
    busy_ms: AtomicU64,
    /// Offers not answered in a row; reset by a connected call or saying ready.
    missed: AtomicU32,
    /// Which queues the agent serves, worked out from their skills and the queues'
    /// policies; replaced whole when a reload changes the queues.
    routing: ArcSwap<AgentQueues>,
    /// Why the agent is not ready, while they are.
    reason: Mutex<Option<Box<str>>>,
    /// The call offered to or held by the agent, with its queue, from assignment until it
    /// ends or goes back to the queue.
    holding: Mutex<Option<(WaitingCall, QueueId)>>,
    /// The ACD's staffing version, bumped when this agent starts or stops taking calls.
    staffing: Arc<AtomicU64>,
    /// Log-in order within the ACD: the last tie-break between idle agents.
    no: u32,
    /// The cross-channel rules, shared by the ACD's agents and replaced by a reload.
    rules: Arc<ArcSwap<LaneRules>>,
    /// By lane, the last place given in that lane's idle lists, and the oldest place that
    /// still stands (see [`Agent::lane_floor`]).
    lane_stamp: [AtomicU64; LANES],
    lane_floor: [AtomicU64; LANES],
    /// Chats, emails and social posts offered to or held by the agent.
    items: Mutex<Vec<Item>>,
    /// The `since` the agent is listed idle under in their queues, if listed.
    listed: Mutex<Option<u64>>,
}

/// The queues an agent's skills qualify them for.
#[derive(Debug, Default, PartialEq, Eq)]
struct AgentQueues {
    /// The queues this agent's skills qualify for, with the agent's proficiency score in
    /// each (the sum over the queue's skills).
    queues: Vec<(QueueId, u16)>,
    /// Queues the agent does not serve but may take calls from once they have waited
    /// this long (the queue's overflow steps).
    overflow_in: Vec<(QueueId, std::time::Duration)>,
}

/// The style tag of agents known for rapport, whom `friendly_chat` callers prefer.
pub const RAPPORT: &str = "rapport";

/// Milliseconds in a minute: aging rates are per minute, times in milliseconds.
const AGING_SCALE: i64 = 60_000;

/// The epoch's bits in the agent's word (see `lanes` for the rest).
const EPOCH_MASK: u64 = (1 << 37) - 1;

fn pack(state: AgentState, epoch: u64) -> u64 {
    (state as u64) << 56 | (epoch & EPOCH_MASK)
}

impl Agent {
    pub fn state(&self) -> AgentState {
        AgentState::from_bits(self.word.load(SeqCst) >> 56)
    }

    pub fn since(&self) -> Millis {
        Millis(self.since.load(SeqCst))
    }

    pub fn reason(&self) -> Option<String> {
        lock(&self.reason).as_deref().map(str::to_owned)
    }

    /// The call the agent was offered or is on, if any.
    pub fn call(&self) -> Option<Arc<str>> {
        lock(&self.holding)
            .as_ref()
            .map(|(c, _)| Arc::clone(&c.call_id))
    }

    /// The call the agent was offered or is on, with its queue.
    pub fn holding(&self) -> Option<(WaitingCall, QueueId)> {
        lock(&self.holding).clone()
    }

    /// The queues the agent's skills qualify them for, in id order.
    pub fn serving(&self) -> Vec<QueueId> {
        self.routing.load().queues.iter().map(|(q, _)| *q).collect()
    }

    pub fn serves(&self, queue: QueueId) -> bool {
        self.routing.load().queues.iter().any(|(q, _)| *q == queue)
    }

    /// Moves from `from` to `to` if the agent is in `from`; the one atomic step that
    /// claims or releases an agent's voice lane. A claim (available to reserved) succeeds
    /// only if a voice call fits beside the agent's other work; the other lanes' counts
    /// are carried over, and leaving the voice work behind (to available, not ready or
    /// logged out) clears the voice-held bit.
    fn transition(&self, from: AgentState, to: AgentState, now: Millis) -> bool {
        let mut current = self.word.load(SeqCst);
        let done = loop {
            if AgentState::from_bits(current >> 56) != from {
                break false;
            }
            if from == AgentState::Available
                && to == AgentState::Reserved
                && !self
                    .rules
                    .load()
                    .admits(self.limits(), lanes::held(current), Lane::Voice)
            {
                break false;
            }
            let mut kept = current & (lanes::COUNTS_MASK | lanes::VOICE_HELD);
            if matches!(
                to,
                AgentState::Available | AgentState::NotReady | AgentState::LoggedOut
            ) {
                kept &= !lanes::VOICE_HELD;
            }
            let next = pack(to, (current & EPOCH_MASK) + 1) | kept;
            match self.word.compare_exchange(current, next, SeqCst, SeqCst) {
                Ok(_) => break true,
                Err(seen) => current = seen,
            }
        };
        if done {
            if from.staffed() != to.staffed() {
                self.staffing.fetch_add(1, SeqCst);
            }
            let was_since = self.since.swap(now.0, SeqCst);
            if from == AgentState::Available && to == AgentState::Reserved {
                self.idle_since.store(was_since, SeqCst);
            }
            if matches!(
                from,
                AgentState::Reserved | AgentState::OnCall | AgentState::WrapUp
            ) {
                self.busy_ms
                    .fetch_add(now.0.saturating_sub(was_since), SeqCst);
            }
            true
        } else {
            false
        }
    }

    /// Gives back an agent claimed for a call that was not there: available again as
    /// idle as they were before the claim, not as if they had just become free.
    fn give_back(&self, now: Millis) -> bool {
        if !self.transition(AgentState::Reserved, AgentState::Available, now) {
            return false;
        }
        let before = self.idle_since.load(SeqCst);
        // Only if nobody claimed the agent again in between (their claim moved `since`
        // on from `now`).
        let _ = self.since.compare_exchange(now.0, before, SeqCst, SeqCst);
        true
    }
}

/// Where a waiting call sits. With times in milliseconds and the queue's aging rate in
/// points per minute, effective priority at time `t`, scaled by 60,000, is
/// `priority * 60_000 + rate * (t - arrived)`. The rate is the queue's, so the order
/// within a queue is that of `priority * 60_000 - rate * arrived`, fixed at insert. Ties
/// go to the earlier arrival (`seq`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WaitKey {
    /// Negated so that the map's first entry is the best call.
    neg_key: i64,
    seq: u64,
    /// The lane whose map the call is in (never decides the order: `seq` is unique).
    lane: Lane,
}

/// A call waiting in a queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingCall {
    pub call_id: Arc<str>,
    /// The switch whose stream the assignment goes to.
    pub switch_id: Arc<str>,
    pub priority: i32,
    pub arrived: Millis,
    /// How the caller likes to be served: `friendly_chat` callers go to an idle agent
    /// tagged `rapport` when there is one, `get_it_done` callers to the most skilled.
    pub preference: Preference,
    /// The caller accepted a callback: they may hang up, the call keeps its place, and
    /// the agent's assignment is to call them back.
    pub callback: bool,
    /// The caller's tier, for statistics by tier.
    pub tier: TierId,
    /// How the customer reached us; decides the lane of capacity it takes.
    pub channel: Channel,
    /// The call reached a queue's maximum wait once already; it is not acted on again,
    /// so two queues that overflow into each other cannot bounce it.
    pub max_wait_met: bool,
}

#[derive(Debug)]
struct QueueState {
    /// The queue's policy; swapped whole by a reload, read without locking.
    spec: ArcSwap<Queue>,
    /// Waiting calls, best first.
    waiting: WaitList,
    /// The aging rate of the policy in force, which waiting keys are made under: stored
    /// by a reload after the policy, read by an arrival after publishing its call (see
    /// `waitlist`).
    rate: AtomicI64,
    /// Logged-in agents whose skills qualify for this queue.
    members: RwLock<Vec<Arc<Agent>>>,
    /// The members who are idle, in the orders claims need.
    idle: Mutex<IdleAgents>,
    /// Average handle time (talk plus wrap-up) of recent calls, milliseconds.
    handle_ms: AtomicU64,
    /// The staffed count as of a staffing version: `version << 24 | count`. Rules read
    /// it on every call (estimated waits); it changes only when an agent logs in or out,
    /// steps away or comes back, or a reload moves members, so it is counted again only
    /// then rather than walking the members on each read.
    staffed_at: AtomicU64,
    /// Staffed agents who may take a voice call, as of a staffing version (as
    /// `staffed_at`), for voice wait estimates.
    voice_units_at: AtomicU64,
    /// Why a supervisor closed the queue, while it is closed.
    closed: arc_swap::ArcSwapOption<String>,
    /// The chat, email and social lanes: their waiting work and idle agents.
    lanes: [LaneQueue; LANES - 1],
}

/// A non-voice lane of a queue.
#[derive(Debug)]
struct LaneQueue {
    waiting: WaitList,
    idle: Mutex<IdleAgents>,
    /// Average handle time of the lane's recent work, milliseconds (as the queue's).
    handle_ms: AtomicU64,
    /// Units of the lane the staffed members may hold together, as of a staffing
    /// version (as `QueueState::staffed_at`).
    units_at: AtomicU64,
}

/// What happened to a call that reached its queue's maximum wait.
#[derive(Clone, Debug)]
pub enum WaitExpired {
    /// Moved to another queue (and perhaps met an agent there at once).
    Overflowed {
        call_id: Arc<str>,
        from: QueueId,
        to: QueueId,
        assignment: Option<Assignment>,
    },
    /// Still waiting in place; the switch should offer the caller a callback.
    OfferCallback { call: WaitingCall, queue: QueueId },
    /// Out of the queue; the switch should send the caller to voicemail.
    Voicemail { call: WaitingCall, queue: QueueId },
}

/// What [`Acd::waiting_view`] shows of a queue's waiting calls.
#[derive(Clone, Debug, Default)]
pub struct WaitingView {
    /// The first calls, in the order agents will take them, each with the agent it is
    /// kept for (a repeat caller's last agent), if any.
    pub first: Vec<(WaitingCall, Option<Arc<str>>)>,
    pub total: usize,
    /// How many wait of each tier, by tier id (missing tiers: none).
    pub by_tier: Vec<u32>,
    pub oldest: Option<Millis>,
}

/// A queue at one moment: its waiting calls (tier, arrival) and its agents' states.
#[derive(Clone, Debug, Default)]
pub struct QueueSnapshot {
    pub waiting: Vec<(TierId, Millis)>,
    pub agents: Vec<AgentState>,
}

/// A call kept aside for one agent until a deadline.
#[derive(Clone, Debug)]
struct Promise {
    call: WaitingCall,
    queue: QueueId,
    until: Millis,
}

/// A call and an agent brought together; the switch connects them.
#[derive(Clone, Debug)]
pub struct Assignment {
    pub call: WaitingCall,
    pub queue: QueueId,
    pub agent: Arc<Agent>,
}

/// What applying a reloaded plan's queues did.
#[derive(Debug, Default)]
pub struct Reconfigured {
    /// Calls and agents brought together by the new queues.
    pub assignments: Vec<Assignment>,
    /// Calls moved from removed queues, and where to.
    pub moved: Vec<(Arc<str>, QueueId)>,
}

/// The result of putting a call in a queue.
#[derive(Clone, Debug)]
pub enum Placed {
    /// An idle agent took it at once.
    Assigned(Assignment),
    /// It waits; `position` is 1-based.
    Waiting { position: usize },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AcdError {
    #[error("unknown queue")]
    UnknownQueue,
    #[error("unknown agent")]
    UnknownAgent,
    #[error("the agent does not hold that call")]
    NotHolding,
    #[error("the call is connected to an agent")]
    CallConnected,
    #[error("call is already waiting")]
    AlreadyWaiting,
    #[error("the call is not waiting in a queue")]
    NotWaiting,
    #[error("a reloaded plan must keep every queue's id")]
    QueuesMoved,
    #[error("agent cannot go from {from} to {to}")]
    IllegalTransition {
        from: &'static str,
        to: &'static str,
    },
}

/// The distributor.
#[derive(Debug)]
pub struct Acd {
    /// One slot per queue id, filled in id order and never emptied: a queue keeps its
    /// slot (and its waiting calls) across reloads, so no lookup ever locks the list.
    queues: Box<[OnceLock<Box<QueueState>>]>,
    /// Where calls sent to a retired queue go instead.
    fallback: ArcSwap<Option<QueueId>>,
    /// Serializes log-in and log-out with reloads, so that no agent's queues are worked
    /// out against a policy that is being replaced.
    membership: Mutex<()>,
    agents: DashMap<Box<str>, Arc<Agent>, FastHash>,
    /// Waiting calls by id, to find them for abandon and transfer.
    waiting: DashMap<Arc<str>, (QueueId, WaitKey), FastHash>,
    /// Offered or connected calls by id, with the agent who holds them.
    held: DashMap<Arc<str>, Arc<Agent>, FastHash>,
    /// Calls kept for one agent (a repeat caller's last agent) until a deadline, by agent.
    promised: DashMap<Box<str>, Vec<Promise>, FastHash>,
    /// The agent each promised call is kept for, by call.
    promised_calls: DashMap<Arc<str>, Box<str>, FastHash>,
    seq: AtomicU64,
    /// Bumped whenever the set of agents taking a queue's calls may have changed (see
    /// [`QueueState::staffed_at`]); starts at 1, so no count is current at first.
    staffing: Arc<AtomicU64>,
    /// Log-in numbers for agents.
    agent_no: AtomicU32,
    /// Held shared while an agent is listed idle or unlisted, and exclusively while a
    /// reload rebuilds the idle lists under new policies.
    idle_gate: RwLock<()>,
    /// The cross-channel rules every agent's claims obey.
    rules: Arc<ArcSwap<LaneRules>>,
    /// By tier and lane, the time of the tier's standard (milliseconds).
    standards: ArcSwap<Vec<[u64; LANES]>>,
    /// Callbacks waiting for the time the customer chose, by due time, and their keys
    /// by call.
    scheduled: Mutex<BTreeMap<(Millis, u64), callbacks::Scheduled>>,
    scheduled_ids: DashMap<Arc<str>, (Millis, u64), FastHash>,
}

/// Bits of [`QueueState::staffed_at`] that hold the count.
const STAFFED_BITS: u32 = 24;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a queue lock leaves a whole map behind; keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Most queues an ACD holds over its life, retired ones included.
pub const MAX_QUEUES: usize = 4_096;

impl WaitKey {
    /// The key of a call in `lane` whose order key (see above) is `neg_key`, the
    /// `seq`-th to arrive.
    pub fn new(neg_key: i64, seq: u64, lane: Lane) -> WaitKey {
        WaitKey { neg_key, seq, lane }
    }
}

impl QueueState {
    /// The voice lane's waiting calls.
    fn voice(&self) -> &WaitList {
        &self.waiting
    }

    /// A lane's waiting work.
    fn list(&self, lane: Lane) -> &WaitList {
        match lane {
            Lane::Voice => &self.waiting,
            other => &self.lanes[other.index() - 1].waiting,
        }
    }

    /// Publishes a call in its lane under the key aging rate `rate` gives (the rate in
    /// force as the caller read it), and returns its key and 1-based place. A reload that changed the rate
    /// since may have looked at the list before the call was in it: then the call moves
    /// itself under the new rate's key.
    fn publish(&self, lane: Lane, seq: u64, call: WaitingCall, rate: i64) -> (WaitKey, usize) {
        let waiting = self.list(lane);
        let key = WaitKey {
            neg_key: Acd::key(rate, call.priority, call.arrived),
            seq,
            lane,
        };
        let place = waiting.insert(key, call, rate);
        let now_rate = self.rate.load(SeqCst);
        if now_rate != rate
            && let Some(moving) = waiting.take_to_rekey(&key, now_rate)
        {
            let moved = moving.key;
            waiting.put_moved(moving);
            return (moved, waiting.place_of(moved));
        }
        (key, place)
    }

    /// The effective priority (scaled, see [`WaitKey`]) of the work under `key` at
    /// `now_ms`, by the queue's aging rate.
    fn effective(&self, key: WaitKey, now_ms: i64) -> i64 {
        self.spec.load().aging_per_minute.saturating_mul(now_ms) - key.neg_key
    }

    /// A lane's average handle time, and its staffed units' cache (voice: the queue's,
    /// and the staffed count's).
    fn lane_figures(&self, lane: Lane) -> (&AtomicU64, &AtomicU64) {
        match lane {
            Lane::Voice => (&self.handle_ms, &self.voice_units_at),
            other => {
                let l = &self.lanes[other.index() - 1];
                (&l.handle_ms, &l.units_at)
            }
        }
    }

    /// Folds a handle time into a lane's average, weighting the latest 1/8: it follows
    /// a change in the work within a few dozen contacts without jumping on one long one.
    fn handled(&self, lane: Lane, took: std::time::Duration) {
        let sample = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        let _ = self
            .lane_figures(lane)
            .0
            .fetch_update(SeqCst, SeqCst, |old| {
                Some(old.saturating_sub(old / 8).saturating_add(sample / 8))
            });
    }

    /// A lane's idle agents, locked.
    fn lock_idle(&self, lane: Lane) -> std::sync::MutexGuard<'_, IdleAgents> {
        match lane {
            Lane::Voice => lock(&self.idle),
            other => lock(&self.lanes[other.index() - 1].idle),
        }
    }

    fn new(spec: Queue) -> Self {
        QueueState {
            handle_ms: AtomicU64::new(
                u64::try_from(spec.handle_time.as_millis()).unwrap_or(u64::MAX),
            ),
            idle: Mutex::new(IdleAgents::new(spec.strategy, Lane::Voice)),
            lanes: [Lane::Chat, Lane::Email, Lane::Social].map(|lane| LaneQueue {
                waiting: WaitList::default(),
                idle: Mutex::new(IdleAgents::new(spec.strategy, lane)),
                handle_ms: AtomicU64::new(
                    u64::try_from(spec.handle_time.as_millis()).unwrap_or(u64::MAX),
                ),
                units_at: AtomicU64::new(0),
            }),
            rate: AtomicI64::new(spec.aging_per_minute),
            spec: ArcSwap::from_pointee(spec),
            waiting: WaitList::default(),
            members: RwLock::new(Vec::new()),
            staffed_at: AtomicU64::new(0),
            voice_units_at: AtomicU64::new(0),
            closed: arc_swap::ArcSwapOption::empty(),
        }
    }
}

impl Acd {
    pub fn new(queues: Vec<Queue>) -> Self {
        let slots: Box<[OnceLock<Box<QueueState>>]> =
            (0..MAX_QUEUES).map(|_| OnceLock::new()).collect();
        for (slot, spec) in slots.iter().zip(queues) {
            let _ = slot.set(Box::new(QueueState::new(spec)));
        }
        Acd {
            queues: slots,
            fallback: ArcSwap::from_pointee(None),
            membership: Mutex::new(()),
            agents: DashMap::default(),
            waiting: DashMap::default(),
            held: DashMap::default(),
            promised: DashMap::default(),
            promised_calls: DashMap::default(),
            seq: AtomicU64::new(0),
            staffing: Arc::new(AtomicU64::new(1)),
            agent_no: AtomicU32::new(0),
            idle_gate: RwLock::new(()),
            rules: Arc::new(ArcSwap::from_pointee(LaneRules::default())),
            standards: ArcSwap::from_pointee(Vec::new()),
            scheduled: Mutex::new(BTreeMap::new()),
            scheduled_ids: DashMap::default(),
        }
    }

    fn queue(&self, q: QueueId) -> Result<&QueueState, AcdError> {
        self.queues
            .get(q.index())
            .and_then(OnceLock::get)
            .map(|b| &**b)
            .ok_or(AcdError::UnknownQueue)
    }

    /// A queue by an id known to be valid (taken from a call or an agent of this ACD).
    fn at(&self, q: QueueId) -> &QueueState {
        self.queue(q)
            .unwrap_or_else(|_| panic!("queue id {} has no slot", q.index()))
    }

    /// The queues in id order.
    fn slots(&self) -> impl Iterator<Item = (QueueId, &QueueState)> {
        self.queues
            .iter()
            .map_while(|s| s.get())
            .enumerate()
            .map(|(i, q)| (QueueId(i as u16), &**q))
    }

    /// Applies the queues of a reloaded plan. A queue keeps its id, its waiting calls (in
    /// their order) and its measured handle time; its policy is replaced. New queues take
    /// new ids. A queue the plan retires has its waiting calls moved to `fallback`, with
    /// their arrival times and priorities. Every logged-in agent's queues are worked out
    /// again from their skills. Returns the assignments this made possible (moved calls
    /// meeting agents, agents who now serve a queue taking its calls).
    pub fn reconfigure(
        &self,
        queues: &[Queue],
        fallback: Option<QueueId>,
        now: Millis,
    ) -> Result<Reconfigured, AcdError> {
        let existing = self.slots().count();
        if queues.len() > MAX_QUEUES || queues.len() < existing {
            return Err(AcdError::QueuesMoved);
        }
        for (id, q) in self.slots() {
            if q.spec.load().name != queues[id.index()].name {
                return Err(AcdError::QueuesMoved);
            }
        }
        if fallback.is_some_and(|f| queues.get(f.index()).is_none_or(|q| q.retired)) {
            return Err(AcdError::UnknownQueue);
        }
        let membership = lock(&self.membership);
        self.fallback.store(Arc::new(fallback));
        for (i, spec) in queues.iter().enumerate() {
            let id = QueueId(i as u16);
            match self.queue(id) {
                Ok(q) => self.replace_policy(id, q, spec),
                Err(_) => {
                    let _ = self.queues[i].set(Box::new(QueueState::new(spec.clone())));
                }
            }
        }
        let mut agents: Vec<Arc<Agent>> = self
            .agents
            .iter()
            .filter(|a| a.state() != AgentState::LoggedOut)
            .map(|a| Arc::clone(a.value()))
            .collect();
        // Log-in order, which round robin follows.
        agents.sort_by(|a, b| (a.logged_in, &a.profile.id).cmp(&(b.logged_in, &b.profile.id)));
        let specs = self.policies();
        let mut members: Vec<Vec<Arc<Agent>>> = vec![Vec::new(); specs.len()];
        for a in &agents {
            let routing = self.eligibility(&a.profile, &specs);
            for (q, _) in &routing.queues {
                members[q.index()].push(Arc::clone(a));
            }
            a.routing.store(Arc::new(routing));
        }
        for ((_, q), list) in self.slots().zip(members) {
            *q.members.write().unwrap_or_else(|e| e.into_inner()) = list;
        }
        self.staffing.fetch_add(1, SeqCst);
        self.rebuild_idle(&agents);
        drop(membership);
        let mut made = Vec::new();
        let mut moved = Vec::new();
        for (id, q) in self.slots() {
            let Some(to) = self.moves_to(id, &q.spec.load()) else {
                continue;
            };
            let calls: Vec<WaitingCall> = Lane::ALL
                .into_iter()
                .flat_map(|lane| q.list(lane).drain())
                .collect();
            for call in calls {
                // Gone from the index: the caller hung up while it moved.
                if self.waiting.remove(&call.call_id).is_none() {
                    continue;
                }
                moved.push((Arc::clone(&call.call_id), to));
                if let Ok(Placed::Assigned(a)) = self.enqueue(to, call, now) {
                    made.push(a);
                }
            }
        }
        for a in &agents {
            made.extend(self.freed(a, now));
        }
        Ok(Reconfigured {
            assignments: made,
            moved,
        })
    }

    /// Replaces a queue's policy. If the aging rate changed, its waiting calls take the
    /// keys the new rate gives, shifted by the same amount so that a call put back at the
    /// head stays ahead of those it was before (see `waitlist`).
    fn replace_policy(&self, id: QueueId, q: &QueueState, spec: &Queue) {
        let new_rate = spec.aging_per_minute;
        q.spec.store(Arc::new(spec.clone()));
        if q.rate.swap(new_rate, SeqCst) == new_rate {
            return;
        }
        for lane in Lane::ALL {
            let list = q.list(lane);
            // Read after the rate is stored: every call published before an arrival
            // could read the old rate is in the list from here on (see `waitlist`).
            if list.is_empty() {
                continue;
            }
            for key in list.keys_not_under(new_rate) {
                let Some(moving) = list.take_to_rekey(&key, new_rate) else {
                    continue;
                };
                // Put back under the index's guard, so whoever finds it in the index
                // finds it in the queue; a call whose index entry is gone is being
                // abandoned: let it go.
                if let Some(mut entry) = self.waiting.get_mut(moving.call_id()) {
                    *entry = (id, moving.key);
                    list.put_moved(moving);
                }
            }
        }
    }

    /// Replaces the cross-channel rules every agent's claims obey (from a reload), and
    /// lets agents whom the new rules free take work.
    pub fn set_lane_rules(&self, rules: LaneRules, now: Millis) -> Vec<Assignment> {
        self.rules.store(Arc::new(rules));
        // Mixing caps count in the staffed units of a lane.
        self.staffing.fetch_add(1, SeqCst);
        let agents: Vec<Arc<Agent>> = self.agents.iter().map(|a| Arc::clone(a.value())).collect();
        agents.iter().flat_map(|a| self.freed(a, now)).collect()
    }
}

impl crate::condition::LiveQueues for Acd {
    fn waiting(&self, queue: QueueId) -> usize {
        self.queue(queue).map_or(0, |q| q.voice().len())
    }

    fn estimated_wait(&self, queue: QueueId) -> Option<std::time::Duration> {
        let position = crate::condition::LiveQueues::waiting(self, queue) + 1;
        Acd::estimated_wait(self, queue, position)
    }

    fn staffed(&self, queue: QueueId) -> usize {
        Acd::staffed(self, queue)
    }

    fn available(&self, queue: QueueId) -> usize {
        self.queue(queue).map_or(0, |q| {
            q.members
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                // Available for a call: not only at the desk, but with room for voice
                // beside any chats they hold.
                .filter(|a| a.state() == AgentState::Available && a.can_take(Lane::Voice))
                .count()
        })
    }
}

mod agents;
mod callbacks;
mod closing;
mod figures;
mod idle;
mod items;
mod journal;
pub mod lanes;
mod matching;
mod offers;
mod waiting;
mod waitlist;
use idle::IdleAgents;
pub use items::{Item, Stage};
pub use journal::{AgentImage, Located};
use lanes::{LANES, Lane, LaneRules, LaneSet, Limits};
pub use waitlist::{WaitList, Waiting};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod waitlist_tests;
