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
//! Each queue's waiting calls sit in an ordered map behind a short per-queue mutex; keys
//! are fixed at insert (see [`WaitKey`]), so the critical section is one map operation.
//! Agents and the call index are sharded concurrent maps: there is no global lock.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, OnceLock, RwLock,
        atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::SeqCst},
    },
};

use arc_swap::ArcSwap;
use dashmap::DashMap;

use crate::FastHash;

use crate::{
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

const EPOCH_MASK: u64 = (1 << 56) - 1;

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
    /// claims or releases an agent.
    fn transition(&self, from: AgentState, to: AgentState, now: Millis) -> bool {
        let current = self.word.load(SeqCst);
        if AgentState::from_bits(current >> 56) != from {
            return false;
        }
        let next = pack(to, (current & EPOCH_MASK) + 1);
        if self
            .word
            .compare_exchange(current, next, SeqCst, SeqCst)
            .is_ok()
        {
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
    /// The call reached a queue's maximum wait once already; it is not acted on again,
    /// so two queues that overflow into each other cannot bounce it.
    pub max_wait_met: bool,
}

#[derive(Debug)]
struct QueueState {
    /// The queue's policy; swapped whole by a reload, read without locking.
    spec: ArcSwap<Queue>,
    /// Waiting calls, best first; reached through [`QueueState::lock_waiting`], which
    /// keeps `waiting_len`.
    waiting: Mutex<BTreeMap<WaitKey, WaitingCall>>,
    /// How many calls wait, as of the last release of `waiting`'s lock: read by rules
    /// and statistics without taking the lock (two threads evaluating rules would
    /// otherwise pass every queue's lock back and forth).
    waiting_len: AtomicUsize,
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
    /// Why a supervisor closed the queue, while it is closed.
    closed: arc_swap::ArcSwapOption<String>,
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
}

/// Bits of [`QueueState::staffed_at`] that hold the count.
const STAFFED_BITS: u32 = 24;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a queue lock leaves a whole map behind; keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The 1-based place of `key` (which is in `waiting`), counted from whichever end of the
/// queue is nearer: most calls join at the tail (same priority, later arrival) or near
/// the head (a higher priority), so this is a few steps rather than the queue's length.
fn place_of(waiting: &BTreeMap<WaitKey, WaitingCall>, key: WaitKey) -> usize {
    use std::ops::Bound::{Excluded, Unbounded};
    let mut before = waiting.range(..key);
    let mut after = waiting.range((Excluded(key), Unbounded));
    let mut steps = 0;
    loop {
        if before.next().is_none() {
            return steps + 1;
        }
        if after.next().is_none() {
            // `steps + 1` entries before it have been seen; `steps` after it are all.
            return waiting.len() - steps;
        }
        steps += 1;
    }
}

/// Most queues an ACD holds over its life, retired ones included.
pub const MAX_QUEUES: usize = 4_096;

/// A queue's waiting calls, locked; the count is published when the lock is released.
struct WaitingGuard<'a> {
    calls: std::sync::MutexGuard<'a, BTreeMap<WaitKey, WaitingCall>>,
    len: &'a AtomicUsize,
}

impl std::ops::Deref for WaitingGuard<'_> {
    type Target = BTreeMap<WaitKey, WaitingCall>;

    fn deref(&self) -> &Self::Target {
        &self.calls
    }
}

impl std::ops::DerefMut for WaitingGuard<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.calls
    }
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.len.store(self.calls.len(), SeqCst);
    }
}

impl QueueState {
    fn lock_waiting(&self) -> WaitingGuard<'_> {
        WaitingGuard {
            calls: lock(&self.waiting),
            len: &self.waiting_len,
        }
    }

    fn new(spec: Queue) -> Self {
        QueueState {
            handle_ms: AtomicU64::new(
                u64::try_from(spec.handle_time.as_millis()).unwrap_or(u64::MAX),
            ),
            idle: Mutex::new(IdleAgents::new(spec.strategy)),
            spec: ArcSwap::from_pointee(spec),
            waiting: Mutex::new(BTreeMap::new()),
            waiting_len: AtomicUsize::new(0),
            members: RwLock::new(Vec::new()),
            staffed_at: AtomicU64::new(0),
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

    pub fn agent(&self, id: &str) -> Option<Arc<Agent>> {
        self.agents.get(id).map(|a| Arc::clone(&a))
    }

    /// Logs an agent in, not ready. A second log-in replaces the profile only from
    /// logged out; otherwise it is an illegal transition.
    pub fn log_in(&self, profile: AgentProfile, now: Millis) -> Result<Arc<Agent>, AcdError> {
        if let Some(old) = self.agent(&profile.id) {
            let state = old.state();
            if state != AgentState::LoggedOut {
                return Err(AcdError::IllegalTransition {
                    from: state.as_str(),
                    to: "logged in",
                });
            }
        }
        let _membership = lock(&self.membership);
        let agent = Arc::new(self.new_agent(profile, AgentState::NotReady, now, now));
        self.enroll(&agent, true);
        Ok(agent)
    }

    /// A new agent record in `state` since `since`, with the queues their skills qualify
    /// for under the current policies. Call with the membership lock held.
    fn new_agent(
        &self,
        profile: AgentProfile,
        state: AgentState,
        since: Millis,
        logged_in: Millis,
    ) -> Agent {
        let routing = self.eligibility(&profile, &self.policies());
        Agent {
            profile,
            word: AtomicU64::new(pack(state, 0)),
            since: AtomicU64::new(since.0),
            idle_since: AtomicU64::new(since.0),
            wrap_up_until: AtomicU64::new(0),
            logged_in,
            busy_ms: AtomicU64::new(0),
            missed: AtomicU32::new(0),
            routing: ArcSwap::from_pointee(routing),
            reason: Mutex::new(None),
            holding: Mutex::new(None),
            staffing: Arc::clone(&self.staffing),
            no: self.agent_no.fetch_add(1, SeqCst),
            listed: Mutex::new(None),
        }
    }

    /// Makes `agent` the ACD's agent of their id (replacing any), and with `member` a
    /// member of their queues. Call with the membership lock held.
    fn enroll(&self, agent: &Arc<Agent>, member: bool) {
        if member {
            for (q, _) in &agent.routing.load().queues {
                let mut members = self
                    .at(*q)
                    .members
                    .write()
                    .unwrap_or_else(|e| e.into_inner());
                members.retain(|a| a.profile.id != agent.profile.id);
                members.push(Arc::clone(agent));
            }
        }
        self.staffing.fetch_add(1, SeqCst);
        self.agents
            .insert(agent.profile.id.clone().into_boxed_str(), Arc::clone(agent));
    }

    /// The agent is ready for a call: marks them available, then offers them the best
    /// waiting call across their queues.
    pub fn ready(&self, agent_id: &str, now: Millis) -> Result<Option<Assignment>, AcdError> {
        let agent = self.agent(agent_id).ok_or(AcdError::UnknownAgent)?;
        let from = agent.state();
        match from {
            AgentState::NotReady | AgentState::WrapUp => {
                *lock(&agent.reason) = None;
                agent.missed.store(0, SeqCst);
                if !agent.transition(from, AgentState::Available, now) {
                    return Err(AcdError::IllegalTransition {
                        from: agent.state().as_str(),
                        to: "available",
                    });
                }
            }
            AgentState::Available => {}
            other => {
                return Err(AcdError::IllegalTransition {
                    from: other.as_str(),
                    to: "available",
                });
            }
        }
        Ok(self.offer_agent(&agent, now))
    }

    /// Puts a call in a queue, or straight to the best idle eligible agent.
    pub fn enqueue(
        &self,
        queue: QueueId,
        call: WaitingCall,
        now: Millis,
    ) -> Result<Placed, AcdError> {
        let q = self.queue(queue)?;
        let spec = q.spec.load();
        // A call still bound for a queue a reload removed (from a menu of the old config,
        // or a promise) goes where the removed queue's calls went.
        if let Some(to) = self.moves_to(queue, &spec) {
            return self.enqueue(to, call, now);
        }
        drop(spec);
        let seq = self.seq.fetch_add(1, SeqCst);
        let (position, wants) = {
            let mut waiting = q.lock_waiting();
            // The key comes from the policy in force under the queue's lock, which is
            // where a reload changes it. The call is indexed under the same lock (queue
            // then index, the order a reload takes them in), so whoever finds it in the
            // index finds it in the queue.
            let key = WaitKey {
                neg_key: Self::key(&q.spec.load(), call.priority, call.arrived),
                seq,
            };
            match self.waiting.entry(Arc::clone(&call.call_id)) {
                dashmap::mapref::entry::Entry::Occupied(_) => {
                    return Err(AcdError::AlreadyWaiting);
                }
                dashmap::mapref::entry::Entry::Vacant(v) => {
                    v.insert((queue, key));
                }
            }
            waiting.insert(key, call);
            // The call at the head now is the one an agent is wanted for.
            let wants = waiting
                .values()
                .next()
                .map_or(Preference::None, |c| c.preference);
            (place_of(&waiting, key), wants)
        };
        // Published; now look for an agent.
        match self.offer_queue_for(queue, wants, now) {
            Some(a) => Ok(Placed::Assigned(a)),
            None => Ok(Placed::Waiting { position }),
        }
    }

    /// Removes a waiting call (the caller hung up). False if it was not waiting.
    /// The agent holding a call (offered or connected), if any.
    pub fn holder_of(&self, call_id: &str) -> Option<Arc<Agent>> {
        self.held.get(call_id).map(|a| Arc::clone(&a))
    }

    /// The caller hung up after their call was offered to an agent but before it was
    /// connected: the agent is free again and looks for the next call. A call already
    /// connected is ended, not abandoned.
    pub fn withdraw_offer(
        &self,
        call_id: &str,
        now: Millis,
    ) -> Result<Option<Assignment>, AcdError> {
        let agent = self.holder_of(call_id).ok_or(AcdError::NotHolding)?;
        if agent.state() == AgentState::OnCall {
            return Err(AcdError::CallConnected);
        }
        self.step(&agent, AgentState::Reserved, AgentState::Available, now)?;
        lock(&agent.holding).take();
        self.held.remove(call_id);
        Ok(self.offer_agent(&agent, now))
    }

    /// Puts a call aside for one agent until `until` (a repeat caller and the agent who
    /// served them last). If that agent is free they take it now; when they become ready
    /// they take it before anything in their queues; after `until` it joins its queue
    /// with its arrival time (see [`Acd::expire_promises`]). An agent who is logged out
    /// or does not serve the queue is not waited for.
    pub fn enqueue_for(
        &self,
        queue: QueueId,
        call: WaitingCall,
        agent_id: &str,
        until: Millis,
        now: Millis,
    ) -> Result<Placed, AcdError> {
        self.queue(queue)?;
        let agent = match self.agent(agent_id) {
            Some(a) if a.state() != AgentState::LoggedOut && a.serves(queue) && until > now => a,
            _ => return self.enqueue(queue, call, now),
        };
        if self.waiting.contains_key(&call.call_id)
            || self.promised_calls.contains_key(&call.call_id)
        {
            return Err(AcdError::AlreadyWaiting);
        }
        // Publish, then look, as everywhere else.
        self.keep_for(agent_id, queue, call, until);
        if agent.transition(AgentState::Available, AgentState::Reserved, now) {
            if let Some(a) = self.pop_promised(&agent) {
                return Ok(Placed::Assigned(a));
            }
            if self.release_empty_claim(&agent, now)
                && let Some(a) = self.offer_agent(&agent, now)
            {
                return Ok(Placed::Assigned(a));
            }
        }
        Ok(Placed::Waiting { position: 1 })
    }

    /// Puts a call aside for one agent until `until`.
    fn keep_for(&self, agent_id: &str, queue: QueueId, call: WaitingCall, until: Millis) {
        self.promised_calls
            .insert(Arc::clone(&call.call_id), agent_id.into());
        self.promised
            .entry(agent_id.into())
            .or_default()
            .push(Promise { call, queue, until });
    }

    /// Promised calls whose agent did not come in time (or logged out) join their queues,
    /// keeping their arrival time; returns the assignments they met at once.
    pub fn expire_promises(&self, now: Millis) -> Vec<Assignment> {
        let mut released = Vec::new();
        for mut entry in self.promised.iter_mut() {
            let gone = self
                .agent(entry.key())
                .is_none_or(|a| a.state() == AgentState::LoggedOut);
            let (due, keep): (Vec<Promise>, Vec<Promise>) = std::mem::take(entry.value_mut())
                .into_iter()
                .partition(|p| gone || p.until <= now);
            *entry.value_mut() = keep;
            released.extend(due);
        }
        let mut made = Vec::new();
        for p in released {
            // Gone already if the caller hung up meanwhile.
            if self.promised_calls.remove(&p.call.call_id).is_some()
                && let Ok(Placed::Assigned(a)) = self.enqueue(p.queue, p.call, now)
            {
                made.push(a);
            }
        }
        made
    }

    /// Takes the best call promised to a claimed agent.
    fn pop_promised(&self, agent: &Arc<Agent>) -> Option<Assignment> {
        let promise = {
            let mut list = self.promised.get_mut(agent.profile.id.as_str())?;
            let best = list
                .iter()
                .enumerate()
                .max_by_key(|(_, p)| (p.call.priority, std::cmp::Reverse(p.call.arrived)))
                .map(|(i, _)| i)?;
            list.swap_remove(best)
        };
        self.promised_calls.remove(&promise.call.call_id);
        *lock(&agent.holding) = Some((promise.call.clone(), promise.queue));
        self.held
            .insert(Arc::clone(&promise.call.call_id), Arc::clone(agent));
        Some(Assignment {
            call: promise.call,
            queue: promise.queue,
            agent: Arc::clone(agent),
        })
    }

    /// 1-based place of a waiting call in its queue (1 for a call kept for its agent).
    pub fn position(&self, call_id: &str) -> Option<usize> {
        if self.promised_calls.contains_key(call_id) {
            return Some(1);
        }
        let (queue, key) = *self.waiting.get(call_id)?;
        Some(place_of(&self.at(queue).lock_waiting(), key))
    }

    /// Moves a call to another queue, keeping its original arrival time (so its aging
    /// goes on). A waiting call leaves its queue; a connected call leaves its agent, who
    /// wraps up (and whose handle time counts) as after any call. A call only offered,
    /// not yet connected, cannot move. Returns the assignment the call met at once, if any.
    pub fn transfer(
        &self,
        call_id: &str,
        to: QueueId,
        now: Millis,
    ) -> Result<Option<Assignment>, AcdError> {
        self.queue(to)?;
        let call = if let Some((_, (queue, key))) = self.waiting.remove(call_id) {
            self.at(queue).lock_waiting().remove(&key)
        } else if let Some(agent) = self.holder_of(call_id) {
            if agent.state() != AgentState::OnCall {
                return Err(AcdError::IllegalTransition {
                    from: agent.state().as_str(),
                    to: "transferred",
                });
            }
            let call = lock(&agent.holding).as_ref().map(|(c, _)| c.clone());
            self.ended(&agent.profile.id, call_id, now)?;
            call
        } else {
            None
        };
        let mut call = call.ok_or(AcdError::NotHolding)?;
        call.callback = false;
        match self.enqueue(to, call, now)? {
            Placed::Assigned(a) => Ok(Some(a)),
            Placed::Waiting { .. } => Ok(None),
        }
    }

    /// A supervisor moves a waiting call: to queue `to` (or where it waits), at
    /// `priority` (or its own), keeping its arrival time so its aging goes on. A call kept
    /// for one agent is released to the queue. Returns the queue it left and what
    /// happened there: it met an agent, or waits at a position.
    pub fn move_waiting(
        &self,
        call_id: &str,
        to: Option<QueueId>,
        priority: Option<i32>,
        now: Millis,
    ) -> Result<(QueueId, Placed), AcdError> {
        if let Some(to) = to {
            self.queue(to)?;
        }
        let (from, call) = if let Some((_, (queue, key))) = self.waiting.remove(call_id) {
            (queue, self.at(queue).lock_waiting().remove(&key))
        } else if let Some((_, agent)) = self.promised_calls.remove(call_id) {
            let mut taken = None;
            if let Some(mut list) = self.promised.get_mut(&agent)
                && let Some(i) = list.iter().position(|p| &*p.call.call_id == call_id)
            {
                let p = list.swap_remove(i);
                taken = Some((p.queue, Some(p.call)));
            }
            taken.ok_or(AcdError::NotWaiting)?
        } else {
            return Err(AcdError::NotWaiting);
        };
        let mut call = call.ok_or(AcdError::NotWaiting)?;
        if let Some(p) = priority {
            call.priority = p;
        }
        let placed = self.enqueue(to.unwrap_or(from), call, now)?;
        Ok((from, placed))
    }

    /// Calls that waited their queue's `max_wait` (each only once): overflowed to another
    /// queue with their arrival time, offered a callback in place, or sent to voicemail
    /// (out of the queue). Run by the server's once-a-second upkeep.
    pub fn expire_waits(&self, now: Millis) -> Vec<WaitExpired> {
        let mut outcomes = Vec::new();
        for (queue, q) in self.slots() {
            let Some((max_wait, action)) = q.spec.load().max_wait else {
                continue;
            };
            let cutoff = now.saturating_sub(max_wait);
            let due: Vec<(WaitKey, WaitingCall)> = {
                let mut waiting = q.lock_waiting();
                let keys: Vec<WaitKey> = waiting
                    .iter()
                    .filter(|(_, c)| !c.max_wait_met && !c.callback && c.arrived <= cutoff)
                    .map(|(k, _)| *k)
                    .collect();
                match action {
                    // Stays in place, marked.
                    MaxWaitAction::Callback => keys
                        .iter()
                        .filter_map(|k| {
                            waiting.get_mut(k).map(|c| {
                                c.max_wait_met = true;
                                (*k, c.clone())
                            })
                        })
                        .collect(),
                    MaxWaitAction::Overflow(_) | MaxWaitAction::Voicemail => keys
                        .iter()
                        .filter_map(|k| waiting.remove(k).map(|c| (*k, c)))
                        .collect(),
                }
            };
            for (_, mut call) in due {
                call.max_wait_met = true;
                match action {
                    MaxWaitAction::Callback => {
                        outcomes.push(WaitExpired::OfferCallback { call, queue })
                    }
                    MaxWaitAction::Voicemail => {
                        self.waiting.remove(&call.call_id);
                        outcomes.push(WaitExpired::Voicemail { call, queue });
                    }
                    MaxWaitAction::Overflow(to) => {
                        self.waiting.remove(&call.call_id);
                        outcomes.push(self.move_on(call, queue, to, now));
                    }
                }
            }
        }
        outcomes
    }

    /// Puts a call that left `from` in queue `to`, with its arrival time; what became of it.
    fn move_on(&self, call: WaitingCall, from: QueueId, to: QueueId, now: Millis) -> WaitExpired {
        let call_id = Arc::clone(&call.call_id);
        let assignment = match self.enqueue(to, call, now) {
            Ok(Placed::Assigned(a)) => Some(a),
            _ => None,
        };
        WaitExpired::Overflowed {
            call_id,
            from,
            to,
            assignment,
        }
    }

    /// The caller accepted a callback while waiting: the call keeps its place. False if
    /// the call is not waiting in a queue (offered already, finished, or unknown).
    pub fn accept_callback(&self, call_id: &str) -> bool {
        if let Some(agent) = self.promised_calls.get(call_id).map(|a| a.value().clone())
            && let Some(mut list) = self.promised.get_mut(&agent)
            && let Some(p) = list.iter_mut().find(|p| &*p.call.call_id == call_id)
        {
            p.call.callback = true;
            return true;
        }
        let Some((queue, key)) = self.waiting.get(call_id).map(|e| *e.value()) else {
            return false;
        };
        self.at(queue)
            .lock_waiting()
            .get_mut(&key)
            .map(|c| c.callback = true)
            .is_some()
    }

    pub fn abandon(&self, call_id: &str) -> bool {
        if let Some((_, agent)) = self.promised_calls.remove(call_id) {
            if let Some(mut list) = self.promised.get_mut(&agent) {
                list.retain(|p| &*p.call.call_id != call_id);
            }
            return true;
        }
        let Some((_, (queue, key))) = self.waiting.remove(call_id) else {
            return false;
        };
        self.at(queue).lock_waiting().remove(&key).is_some()
    }

    /// The calls waiting in a queue (kept-for-an-agent ones included) and its agents by
    /// state, for statistics.
    pub fn snapshot(&self, queue: QueueId) -> Option<QueueSnapshot> {
        let q = self.queue(queue).ok()?;
        let mut waiting: Vec<(TierId, Millis)> = q
            .lock_waiting()
            .values()
            .map(|c| (c.tier, c.arrived))
            .collect();
        for list in self.promised.iter() {
            waiting.extend(
                list.iter()
                    .filter(|p| p.queue == queue)
                    .map(|p| (p.call.tier, p.call.arrived)),
            );
        }
        let mut agents = Vec::new();
        for a in q.members.read().unwrap_or_else(|e| e.into_inner()).iter() {
            agents.push(a.state());
        }
        Some(QueueSnapshot { waiting, agents })
    }

    /// Closes a queue (and the queues made from it for rules' extra skills): new calls
    /// go to its `when_closed` target, and so do its waiting calls, which are returned
    /// as moved (with any agent they met there) or out to voicemail. Closing a closed
    /// queue again only updates the reason.
    pub fn close(
        &self,
        queue: QueueId,
        reason: &str,
        now: Millis,
    ) -> Result<Vec<WaitExpired>, AcdError> {
        let q = self.queue(queue)?;
        if q.spec.load().retired {
            return Err(AcdError::UnknownQueue);
        }
        let reason = Arc::new(reason.to_owned());
        for (id, state) in self.slots() {
            if id == queue || state.spec.load().part_of == Some(queue) {
                state.closed.store(Some(Arc::clone(&reason)));
            }
        }
        Ok(self.drain_closed(now))
    }

    /// Opens a closed queue (and the queues made from it). False if it was open.
    pub fn open(&self, queue: QueueId) -> Result<bool, AcdError> {
        let q = self.queue(queue)?;
        let was = q.closed.swap(None).is_some();
        for (_, state) in self.slots() {
            if state.spec.load().part_of == Some(queue) {
                state.closed.store(None);
            }
        }
        Ok(was)
    }

    /// Why the queue is closed, while it is.
    pub fn closed(&self, queue: QueueId) -> Option<Arc<String>> {
        self.queue(queue).ok()?.closed.load_full()
    }

    /// Where a call for `queue` goes while it is closed: `None` when it is open,
    /// `Some(Some(to))` for an open queue its `when_closed` leads to (following closed
    /// queues a few steps), `Some(None)` for voicemail.
    pub fn closed_route(&self, queue: QueueId) -> Option<Option<QueueId>> {
        let mut at = queue;
        for _ in 0..8 {
            let q = self.queue(at).ok()?;
            if q.closed.load().is_none() {
                return (at != queue).then_some(Some(at));
            }
            match q.spec.load().when_closed {
                Some(to) if to != queue => at = self.destination(to),
                _ => return Some(None),
            }
        }
        Some(None)
    }

    /// Calls waiting in closed queues (sent there by an overflow, a transfer or a missed
    /// offer after the queue closed, or kept for an agent) go to the queues' `when_closed`
    /// targets with their arrival time, or out to voicemail. Run at close and by the
    /// once-a-second upkeep.
    pub fn drain_closed(&self, now: Millis) -> Vec<WaitExpired> {
        let mut outcomes = Vec::new();
        for (queue, q) in self.slots() {
            if q.closed.load().is_none() {
                continue;
            }
            let Some(route) = self.closed_route(queue) else {
                continue;
            };
            let mut calls: Vec<WaitingCall> = std::mem::take(&mut *q.lock_waiting())
                .into_values()
                .collect();
            for mut list in self.promised.iter_mut() {
                let (out, keep): (Vec<Promise>, Vec<Promise>) = std::mem::take(list.value_mut())
                    .into_iter()
                    .partition(|p| p.queue == queue);
                *list.value_mut() = keep;
                calls.extend(out.into_iter().map(|p| p.call));
            }
            for call in calls {
                self.waiting.remove(&call.call_id);
                self.promised_calls.remove(&call.call_id);
                outcomes.push(match route {
                    Some(to) => self.move_on(call, queue, to, now),
                    None => WaitExpired::Voicemail { call, queue },
                });
            }
        }
        outcomes
    }

    /// A queue's waiting calls as a wallboard shows them: the first `limit` in the order
    /// agents will take them (then those kept for one agent, within the limit), how many
    /// wait, how many of each tier (by tier id), and the oldest arrival. One pass under
    /// the queue's lock, cloning only what is listed.
    pub fn waiting_view(&self, queue: QueueId, limit: usize) -> WaitingView {
        let mut view = WaitingView::default();
        let Ok(q) = self.queue(queue) else {
            return view;
        };
        let count = |c: &WaitingCall, view: &mut WaitingView| {
            view.total += 1;
            let t = usize::from(c.tier.0);
            if view.by_tier.len() <= t {
                view.by_tier.resize(t + 1, 0);
            }
            view.by_tier[t] += 1;
            view.oldest = Some(view.oldest.map_or(c.arrived, |o: Millis| o.min(c.arrived)));
        };
        for c in q.lock_waiting().values() {
            count(c, &mut view);
            if view.first.len() < limit {
                view.first.push((c.clone(), None));
            }
        }
        for list in self.promised.iter() {
            for p in list.iter().filter(|p| p.queue == queue) {
                count(&p.call, &mut view);
                if view.first.len() < limit {
                    view.first
                        .push((p.call.clone(), Some(Arc::from(&**list.key()))));
                }
            }
        }
        view
    }

    /// The logged-in agents whose skills qualify for the queue.
    pub fn members(&self, queue: QueueId) -> Vec<Arc<Agent>> {
        self.queue(queue).map_or_else(
            |_| Vec::new(),
            |q| q.members.read().unwrap_or_else(|e| e.into_inner()).clone(),
        )
    }

    /// The queue's average handle time (talk plus wrap-up) over recent calls.
    pub fn average_handle_time(&self, queue: QueueId) -> Option<std::time::Duration> {
        let q = self.queue(queue).ok()?;
        Some(std::time::Duration::from_millis(q.handle_ms.load(SeqCst)))
    }

    /// Agents who will take the queue's calls: logged in and not stepped away.
    pub fn staffed(&self, queue: QueueId) -> usize {
        let Ok(q) = self.queue(queue) else {
            return 0;
        };
        // Read the version first: a count made after this read reflects every change
        // up to it (a change bumps the version after it is made).
        let version = self.staffing.load(SeqCst);
        let cached = q.staffed_at.load(SeqCst);
        if cached >> STAFFED_BITS == version {
            return (cached & ((1 << STAFFED_BITS) - 1)) as usize;
        }
        let count = q
            .members
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|a| a.state().staffed())
            .count();
        let fresh = version << STAFFED_BITS | (count as u64).min((1 << STAFFED_BITS) - 1);
        // Never replace a count of a later version with this one.
        let _ = q.staffed_at.fetch_update(SeqCst, SeqCst, |old| {
            (old >> STAFFED_BITS < version).then_some(fresh)
        });
        count
    }

    /// Estimated wait for a call at `position` (1-based): `position x AHT / N` with N
    /// the staffed agents. Why this method: with N agents busy, one frees up about every
    /// AHT/N (their remaining times are spread over a handle time), and the call needs
    /// `position` of those; it needs only live counts, reacts at once to staffing, and
    /// errs long rather than short when agents are idle. `None` when nobody is staffed:
    /// no honest estimate exists.
    pub fn estimated_wait(&self, queue: QueueId, position: usize) -> Option<std::time::Duration> {
        let staffed = self.staffed(queue);
        if staffed == 0 {
            return None;
        }
        let aht = self.average_handle_time(queue)?;
        Some(
            aht * u32::try_from(position).unwrap_or(u32::MAX)
                / u32::try_from(staffed).unwrap_or(u32::MAX),
        )
    }

    pub fn waiting_in(&self, queue: QueueId) -> usize {
        self.queue(queue).map_or(0, |q| q.lock_waiting().len())
    }

    /// The switch connected the agent to the call they were offered.
    pub fn connected(&self, agent_id: &str, call_id: &str, now: Millis) -> Result<(), AcdError> {
        let agent = self.holder(agent_id, call_id)?;
        self.step(&agent, AgentState::Reserved, AgentState::OnCall, now)?;
        agent.missed.store(0, SeqCst);
        Ok(())
    }

    /// The call ended; the agent wraps up for the call's queue's wrap-up time. Returns the
    /// call's handle time: talk plus that wrap-up time.
    pub fn ended(
        &self,
        agent_id: &str,
        call_id: &str,
        now: Millis,
    ) -> Result<std::time::Duration, AcdError> {
        let agent = self.holder(agent_id, call_id)?;
        let queue = lock(&agent.holding).as_ref().map(|(_, q)| *q);
        let wrap_up = queue.map_or(std::time::Duration::ZERO, |q| {
            self.at(q).spec.load().wrap_up
        });
        let until = Millis(
            now.0
                .saturating_add(u64::try_from(wrap_up.as_millis()).unwrap_or(u64::MAX)),
        );
        agent.wrap_up_until.store(until.0, SeqCst);
        let talk = now.since(agent.since());
        self.step(&agent, AgentState::OnCall, AgentState::WrapUp, now)?;
        if let Some(q) = queue {
            let sample = u64::try_from((talk + wrap_up).as_millis()).unwrap_or(u64::MAX);
            // An exponential average weighting the latest call 1/8: follows a change in
            // the work within a few dozen calls without jumping on one long call.
            let avg = &self.at(q).handle_ms;
            let _ = avg.fetch_update(SeqCst, SeqCst, |old| {
                Some(old.saturating_sub(old / 8).saturating_add(sample / 8))
            });
        }
        lock(&agent.holding).take();
        self.held.remove(call_id);
        Ok(talk + wrap_up)
    }

    /// Agents whose wrap-up time is over become available and take the best waiting
    /// call; returns the assignments made.
    pub fn end_wrap_ups(&self, now: Millis) -> Vec<Assignment> {
        let due: Vec<Arc<Agent>> = self
            .agents
            .iter()
            .filter(|a| a.state() == AgentState::WrapUp && a.wrap_up_until.load(SeqCst) <= now.0)
            .map(|a| Arc::clone(a.value()))
            .collect();
        due.iter()
            // An agent who said ready, stepped away or logged out meanwhile is skipped.
            .filter(|a| a.transition(AgentState::WrapUp, AgentState::Available, now))
            .filter_map(|a| self.offer_agent(a, now))
            .collect()
    }

    /// The agent did not answer: the call goes back to the head of its queue with its
    /// arrival time; the agent goes not ready after `limit` misses in a row. Returns the
    /// assignments this made (the call meeting another agent, the agent another call).
    pub fn no_answer(
        &self,
        agent_id: &str,
        call_id: &str,
        limit: u32,
        now: Millis,
    ) -> Result<Vec<Assignment>, AcdError> {
        let agent = self.holder(agent_id, call_id)?;
        // After `limit` misses in a row the agent is surely away: not ready. Before that
        // they stay available (the missed call goes to someone else first).
        let missed = agent.missed.fetch_add(1, SeqCst) + 1;
        let then = if missed >= limit.max(1) {
            AgentState::NotReady
        } else {
            AgentState::Available
        };
        self.return_offer(&agent, call_id, then, "no_answer", now)
    }

    /// Offers the switch confirmed neither way within `timeout`: each call goes back to
    /// the head of its queue and the agent to `then` (not ready, reason `offer_timeout`,
    /// or available). Returns the expired call ids, each with the agent it was offered to
    /// and the assignments made. This is what keeps agents from being stuck reserved.
    pub fn expire_offers(
        &self,
        now: Millis,
        timeout: std::time::Duration,
        then: AgentState,
    ) -> Vec<(Arc<str>, Arc<Agent>, Vec<Assignment>)> {
        let cutoff = now.saturating_sub(timeout);
        let expired: Vec<(Arc<str>, Arc<Agent>)> = self
            .held
            .iter()
            .filter(|e| e.value().state() == AgentState::Reserved && e.value().since() <= cutoff)
            .map(|e| (Arc::clone(e.key()), Arc::clone(e.value())))
            .collect();
        expired
            .into_iter()
            // A CONNECTED that raced the sweep wins the state change; skip those.
            .filter_map(|(call, agent)| {
                let next = self
                    .return_offer(&agent, &call, then, "offer_timeout", now)
                    .ok()?;
                Some((call, agent, next))
            })
            .collect()
    }

    /// Takes an offered call back from a reserved agent and puts it at the head of its
    /// queue; the agent goes to `then` (with `reason` if not ready).
    fn return_offer(
        &self,
        agent: &Arc<Agent>,
        call_id: &str,
        then: AgentState,
        reason: &str,
        now: Millis,
    ) -> Result<Vec<Assignment>, AcdError> {
        // Hold the agent reserved while the call goes back, so that, made available, they
        // are not offered the very call they failed to take before others see it.
        let Some((call, queue)) = lock(&agent.holding).take() else {
            return Err(AcdError::NotHolding);
        };
        if agent.state() != AgentState::Reserved {
            *lock(&agent.holding) = Some((call, queue));
            return Err(AcdError::IllegalTransition {
                from: agent.state().as_str(),
                to: then.as_str(),
            });
        }
        self.held.remove(call_id);
        let q = &self.at(queue);
        let retired_to = self.moves_to(queue, &q.spec.load());
        let mut made: Vec<Assignment> = Vec::new();
        if let Some(fallback) = retired_to {
            // Its queue was removed meanwhile: it goes where that queue's calls went.
            if let Ok(Placed::Assigned(a)) = self.enqueue(fallback, call, now) {
                made.push(a);
            }
        } else {
            // Back at the head of its queue: its own key, or just ahead of the head.
            let mut waiting = q.lock_waiting();
            let own = Self::key(&q.spec.load(), call.priority, call.arrived);
            let neg_key = waiting
                .keys()
                .next()
                .map_or(own, |head| own.min(head.neg_key - 1));
            let key = WaitKey {
                neg_key,
                seq: self.seq.fetch_add(1, SeqCst),
            };
            self.waiting.insert(Arc::clone(&call.call_id), (queue, key));
            waiting.insert(key, call);
            drop(waiting);
            // Two assignments can come of this: the call meeting another agent, and the
            // agent (made available) taking another waiting call. Both must go out.
            made.extend(self.offer_queue(queue, now));
        }
        if then == AgentState::NotReady {
            *lock(&agent.reason) = Some(reason.into());
        }
        if self.step(agent, AgentState::Reserved, then, now).is_ok()
            && then == AgentState::Available
        {
            made.extend(self.offer_agent(agent, now));
        }
        Ok(made)
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
            let calls: Vec<WaitingCall> = std::mem::take(&mut *q.lock_waiting())
                .into_values()
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
        for a in agents.iter().filter(|a| a.state() == AgentState::Available) {
            made.extend(self.offer_agent(a, now));
        }
        Ok(Reconfigured {
            assignments: made,
            moved,
        })
    }

    /// Replaces a queue's policy under its lock. If the aging rate changed, its waiting
    /// calls take the keys the new rate gives (see [`WaitKey`]), shifted by the same
    /// amount so that a call put back at the head stays ahead of those it was before.
    fn replace_policy(&self, id: QueueId, q: &QueueState, spec: &Queue) {
        let mut waiting = q.lock_waiting();
        let old_rate = q.spec.load().aging_per_minute;
        let new_rate = spec.aging_per_minute;
        q.spec.store(Arc::new(spec.clone()));
        if old_rate == new_rate {
            return;
        }
        let calls = std::mem::take(&mut *waiting);
        for (key, call) in calls {
            let arrived = i64::try_from(call.arrived.0).unwrap_or(i64::MAX / 2);
            let moved = WaitKey {
                neg_key: key
                    .neg_key
                    .saturating_add(new_rate.saturating_sub(old_rate).saturating_mul(arrived)),
                seq: key.seq,
            };
            // A call whose index entry is gone is being abandoned: let it go.
            if let Some(mut entry) = self.waiting.get_mut(&call.call_id) {
                *entry = (id, moved);
                drop(entry);
                waiting.insert(moved, call);
            }
        }
    }

    /// The agent steps away: from available, wrap-up or not ready (a new reason).
    pub fn not_ready(&self, agent_id: &str, reason: &str, now: Millis) -> Result<(), AcdError> {
        let agent = self.agent(agent_id).ok_or(AcdError::UnknownAgent)?;
        let from = agent.state();
        match from {
            AgentState::NotReady => {}
            AgentState::Available | AgentState::WrapUp => {
                self.step(&agent, from, AgentState::NotReady, now)?
            }
            other => {
                return Err(AcdError::IllegalTransition {
                    from: other.as_str(),
                    to: "not_ready",
                });
            }
        }
        *lock(&agent.reason) = Some(reason.into());
        Ok(())
    }

    /// The agent logs out; not while offered or on a call.
    pub fn log_out(&self, agent_id: &str, now: Millis) -> Result<(), AcdError> {
        let agent = self.agent(agent_id).ok_or(AcdError::UnknownAgent)?;
        let from = agent.state();
        match from {
            AgentState::Available | AgentState::WrapUp | AgentState::NotReady => {
                self.step(&agent, from, AgentState::LoggedOut, now)?;
            }
            other => {
                return Err(AcdError::IllegalTransition {
                    from: other.as_str(),
                    to: "logged_out",
                });
            }
        }
        let _membership = lock(&self.membership);
        self.unlist_idle(&agent);
        for (q, _) in &agent.routing.load().queues {
            let members = &self.at(*q).members;
            members
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|a| !Arc::ptr_eq(a, &agent));
        }
        self.staffing.fetch_add(1, SeqCst);
        Ok(())
    }

    /// Every agent that ever logged in, by id.
    pub fn agents(&self) -> Vec<Arc<Agent>> {
        let mut all: Vec<Arc<Agent>> = self.agents.iter().map(|a| Arc::clone(a.value())).collect();
        all.sort_by(|a, b| a.profile.id.cmp(&b.profile.id));
        all
    }

    /// The agent, if they hold `call_id`.
    fn holder(&self, agent_id: &str, call_id: &str) -> Result<Arc<Agent>, AcdError> {
        let agent = self.agent(agent_id).ok_or(AcdError::UnknownAgent)?;
        if agent.call().as_deref() != Some(call_id) {
            return Err(AcdError::NotHolding);
        }
        Ok(agent)
    }

    /// The negated order key of a call (see [`WaitKey`]).
    fn key(spec: &Queue, priority: i32, arrived: Millis) -> i64 {
        let arrived = i64::try_from(arrived.0).unwrap_or(i64::MAX / 2);
        spec.aging_per_minute.saturating_mul(arrived) - i64::from(priority) * AGING_SCALE
    }

    fn step(
        &self,
        agent: &Agent,
        from: AgentState,
        to: AgentState,
        now: Millis,
    ) -> Result<(), AcdError> {
        if agent.transition(from, to, now) {
            Ok(())
        } else {
            Err(AcdError::IllegalTransition {
                from: agent.state().as_str(),
                to: to.as_str(),
            })
        }
    }

    /// A call is waiting in `queue`: find it an agent.
    fn offer_queue(&self, queue: QueueId, now: Millis) -> Option<Assignment> {
        let wants = self.head_preference(queue);
        self.offer_queue_for(queue, wants, now)
    }

    /// The preference of the call at the head of a queue: the one that waits for an
    /// agent now.
    fn head_preference(&self, queue: QueueId) -> Preference {
        self.at(queue)
            .lock_waiting()
            .values()
            .next()
            .map_or(Preference::None, |c| c.preference)
    }

    /// [`Acd::offer_queue`] with the head call's preference already read.
    fn offer_queue_for(
        &self,
        queue: QueueId,
        mut wants: Preference,
        now: Millis,
    ) -> Option<Assignment> {
        let q = &self.at(queue);
        let mut first = true;
        loop {
            // Pick the agent for the call at the head of this queue.
            if !first {
                wants = self.head_preference(queue);
            }
            first = false;
            let agent = self.claim_idle(q, wants, now)?;
            // An idle agent had nothing waiting in their other queues when they went
            // idle, and a call arriving there since looks for an agent itself: so only
            // this queue (and any queue they overflow into, whose calls age into reach
            // without arriving) need a look, not all of theirs.
            match self.pop_best_of(&agent, Some(queue), now) {
                Some(a) => return Some(a),
                None => {
                    // Someone else took the call; give the agent back, and let it look
                    // for work like any newly available agent.
                    agent.give_back(now);
                    if let Some(a) = self.offer_agent(&agent, now) {
                        return Some(a);
                    }
                    if q.lock_waiting().is_empty() {
                        return None;
                    }
                }
            }
        }
    }

    /// Where calls bound for a retired queue go instead: the queue it was made from, if
    /// that one is in service, else the fallback queue. `None` for a queue in service.
    fn moves_to(&self, queue: QueueId, spec: &Queue) -> Option<QueueId> {
        if !spec.retired {
            return None;
        }
        spec.part_of
            .filter(|p| self.queue(*p).is_ok_and(|q| !q.spec.load().retired))
            .or(**self.fallback.load())
            .filter(|to| *to != queue)
    }

    /// The queue a call bound for `queue` goes to: itself, or for a retired queue, where
    /// its calls went.
    pub fn destination(&self, queue: QueueId) -> QueueId {
        self.queue(queue)
            .ok()
            .and_then(|q| self.moves_to(queue, &q.spec.load()))
            .unwrap_or(queue)
    }

    /// Every queue's policy now, in id order.
    fn policies(&self) -> Vec<Arc<Queue>> {
        self.slots().map(|(_, q)| q.spec.load_full()).collect()
    }

    /// The queues an agent's skills qualify for under the current policies (retired
    /// queues are served by nobody), and those they may help once calls have waited.
    fn eligibility(&self, profile: &AgentProfile, specs: &[Arc<Queue>]) -> AgentQueues {
        let queues = specs
            .iter()
            .enumerate()
            .filter_map(|(i, spec)| {
                let id = QueueId(i as u16);
                if spec.retired {
                    return None;
                }
                let mut score = 0u16;
                for (skill, min) in &spec.skills {
                    let have = profile
                        .skills
                        .iter()
                        .find(|(s, _)| s == skill)
                        .map(|(_, p)| *p)?;
                    if have < *min {
                        return None;
                    }
                    score += u16::from(have);
                }
                Some((id, score))
            })
            .collect::<Vec<(QueueId, u16)>>();
        let overflow_in = Self::overflow_eligibility(profile, &queues, specs);
        AgentQueues {
            queues,
            overflow_in,
        }
    }

    /// For each queue the agent does not serve, the wait after which one of its overflow
    /// steps lets them take its calls (lowered skill minimums, or serving an `also` queue).
    fn overflow_eligibility(
        profile: &AgentProfile,
        serves: &[(QueueId, u16)],
        specs: &[Arc<Queue>],
    ) -> Vec<(QueueId, std::time::Duration)> {
        let proficiency = |skill: &str| {
            profile
                .skills
                .iter()
                .find(|(s, _)| s == skill)
                .map(|(_, p)| *p)
        };
        specs
            .iter()
            .enumerate()
            .map(|(i, spec)| (QueueId(i as u16), spec))
            .filter(|(id, _)| !serves.iter().any(|(q, _)| q == id))
            .filter_map(|(id, spec)| {
                if spec.retired || spec.overflow.is_empty() {
                    return None;
                }
                let step = spec.overflow.iter().find(|step| {
                    let skilled = step.min_proficiency.is_some_and(|min| {
                        spec.skills
                            .iter()
                            .all(|(s, _)| proficiency(s).is_some_and(|p| p >= min))
                    });
                    let via_also = step.also.iter().any(|a| serves.iter().any(|(q, _)| q == a));
                    skilled || via_also
                })?;
                Some((id, step.after))
            })
            .collect()
    }

    /// The best call in an overflow queue that has waited at least `after`.
    fn overflow_call(
        &self,
        queue: QueueId,
        after: std::time::Duration,
        now: Millis,
    ) -> Option<WaitKey> {
        let cutoff = now.saturating_sub(after);
        self.at(queue)
            .lock_waiting()
            .iter()
            .find(|(_, c)| c.arrived <= cutoff)
            .map(|(k, _)| *k)
    }

    /// Whether a call is there for the agent now: in their queues, kept for them, or old
    /// enough in a queue they overflow into.
    fn has_work(&self, agent: &Agent, now: Millis) -> bool {
        let routing = agent.routing.load();
        self.promised
            .get(agent.profile.id.as_str())
            .is_some_and(|list| !list.is_empty())
            || routing
                .queues
                .iter()
                .any(|(q, _)| !self.at(*q).lock_waiting().is_empty())
            || routing
                .overflow_in
                .iter()
                .any(|(q, after)| self.overflow_call(*q, *after, now).is_some())
    }

    /// Calls whose wait crossed an overflow step meet the idle agents it lets in. Run by
    /// the server's once-a-second upkeep (an arrival or a ready agent does it at once).
    pub fn offer_overflow(&self, now: Millis) -> Vec<Assignment> {
        let candidates: Vec<Arc<Agent>> = self
            .agents
            .iter()
            .filter(|a| {
                !a.routing.load().overflow_in.is_empty() && a.state() == AgentState::Available
            })
            .map(|a| Arc::clone(a.value()))
            .collect();
        candidates
            .iter()
            .filter(|a| {
                a.routing
                    .load()
                    .overflow_in
                    .iter()
                    .any(|(q, after)| self.overflow_call(*q, *after, now).is_some())
            })
            .filter_map(|a| self.offer_agent(a, now))
            .collect()
    }

    /// An agent is available: find them a call.
    fn offer_agent(&self, agent: &Arc<Agent>, now: Millis) -> Option<Assignment> {
        loop {
            if !agent.transition(AgentState::Available, AgentState::Reserved, now) {
                // Another path claimed this agent (and will look for their call).
                return None;
            }
            if let Some(a) = self
                .pop_promised(agent)
                .or_else(|| self.pop_best(agent, now))
            {
                return Some(a);
            }
            if !self.release_empty_claim(agent, now) {
                return None;
            }
        }
    }

    /// Gives back an agent claimed for a call that was not there. True when a call is
    /// waiting in one of the agent's queues: it may have arrived while the agent was
    /// reserved and so not seen them, and the agent must look again.
    fn release_empty_claim(&self, agent: &Arc<Agent>, now: Millis) -> bool {
        if agent.give_back(now) {
            // Listed before looking: a call arriving from now on finds the agent in the
            // idle lists, and one that arrived before is seen by the look.
            self.list_idle(agent);
        }
        self.has_work(agent, now)
    }

    /// Lists an available agent as idle in every queue they serve, replacing their last
    /// listing. An agent no longer available by now is not listed.
    fn list_idle(&self, agent: &Arc<Agent>) {
        let _gate = self.idle_gate.read().unwrap_or_else(|e| e.into_inner());
        let mut listed = lock(&agent.listed);
        if agent.state() != AgentState::Available {
            return;
        }
        let since = agent.since.load(SeqCst);
        for (q, score) in &agent.routing.load().queues {
            lock(&self.at(*q).idle).list(agent, *score, since);
        }
        *listed = Some(since);
    }

    /// Drops a logged-out agent's idle entries (stale now), so the agent is not kept.
    fn unlist_idle(&self, agent: &Agent) {
        let _gate = self.idle_gate.read().unwrap_or_else(|e| e.into_inner());
        if lock(&agent.listed).take().is_none() {
            return;
        }
        for (q, _) in &agent.routing.load().queues {
            lock(&self.at(*q).idle).sweep();
        }
    }

    /// Lists the available agents anew under the queues' current policies and the
    /// agents' current queues (after a reload changed either).
    fn rebuild_idle(&self, agents: &[Arc<Agent>]) {
        let _gate = self.idle_gate.write().unwrap_or_else(|e| e.into_inner());
        for (_, q) in self.slots() {
            *lock(&q.idle) = IdleAgents::new(q.spec.load().strategy);
        }
        for agent in agents {
            let mut listed = lock(&agent.listed);
            *listed = None;
            if agent.state() != AgentState::Available {
                continue;
            }
            let since = agent.since.load(SeqCst);
            for (q, score) in &agent.routing.load().queues {
                lock(&self.at(*q).idle).list(agent, *score, since);
            }
            *listed = Some(since);
        }
    }

    /// Claims the best idle agent of a queue for a call with preference `wants`: the
    /// queue's strategy, except that `get_it_done` always means most skilled and
    /// `friendly_chat` puts agents tagged `rapport` first (see [`IdleAgents::claim`]).
    fn claim_idle(&self, q: &QueueState, wants: Preference, now: Millis) -> Option<Arc<Agent>> {
        lock(&q.idle).claim(wants, now)
    }

    /// For a claimed agent: takes the call with the highest effective priority now across
    /// the agent's queues, or returns `None` if none waits.
    fn pop_best(&self, agent: &Arc<Agent>, now: Millis) -> Option<Assignment> {
        self.pop_best_of(agent, None, now)
    }

    /// [`Acd::pop_best`] looking only at `only` among the agent's own queues (overflow
    /// queues are always looked at), when given.
    fn pop_best_of(
        &self,
        agent: &Arc<Agent>,
        only: Option<QueueId>,
        now: Millis,
    ) -> Option<Assignment> {
        loop {
            let mut best: Option<(i64, u64, QueueId, WaitKey)> = None;
            // The head of each queue the agent serves, and the best call old enough in
            // each queue they overflow into.
            let routing = agent.routing.load();
            let own = routing
                .queues
                .iter()
                .map(|(queue, _)| *queue)
                .filter(|queue| only.is_none_or(|o| o == *queue))
                .filter_map(|queue| {
                    Some((queue, self.at(queue).lock_waiting().keys().next().copied()?))
                });
            let overflow = routing.overflow_in.iter().filter_map(|(queue, after)| {
                Some((*queue, self.overflow_call(*queue, *after, now)?))
            });
            let now_ms = i64::try_from(now.0).unwrap_or(i64::MAX / 2);
            for (queue, key) in own.chain(overflow) {
                let q = &self.at(queue);
                let effective = q.spec.load().aging_per_minute.saturating_mul(now_ms) - key.neg_key;
                let better = best
                    .is_none_or(|(e, s, _, _)| effective > e || (effective == e && key.seq < s));
                if better {
                    best = Some((effective, key.seq, queue, key));
                }
            }
            let (_, _, queue, key) = best?;
            let call = self.at(queue).lock_waiting().remove(&key);
            // Gone already (another agent or an abandon): look again.
            if let Some(call) = call {
                self.waiting.remove(&call.call_id);
                *lock(&agent.holding) = Some((call.clone(), queue));
                self.held
                    .insert(Arc::clone(&call.call_id), Arc::clone(agent));
                return Some(Assignment {
                    call,
                    queue,
                    agent: Arc::clone(agent),
                });
            }
        }
    }
}

impl crate::condition::LiveQueues for Acd {
    fn waiting(&self, queue: QueueId) -> usize {
        self.queue(queue).map_or(0, |q| q.waiting_len.load(SeqCst))
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
                .filter(|a| a.state() == AgentState::Available)
                .count()
        })
    }
}

mod idle;
mod journal;
use idle::IdleAgents;
pub use journal::{AgentImage, Located};

#[cfg(test)]
mod tests;
