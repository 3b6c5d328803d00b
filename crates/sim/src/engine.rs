//! The simulated day: one thread, one event queue ordered by simulated time, and the real
//! [`Router`] and ACD answering every event as the server would answer its switch. Every
//! decision (rules, menus, queues, agent choice, aging, overflow) is the engine's own; the
//! simulator only plays the callers, the switch and the agents around it.
//!
//! The switch side is the simplest honest one: an offered call is connected at once (or,
//! for an agent who lets it ring out, handed back as not answered after the ring time),
//! the agent talks for a handle time drawn for the queue, then wraps up for the queue's
//! wrap-up time; a waiting caller hangs up after a patience drawn for their tier, unless
//! they took a callback offered to them.
//!
//! Each call draws its talk time, patience and answer to a callback offer from a random
//! stream of its own, so two runs of one seed (under two configs, two rosters, or the
//! steps of a staffing search) give every caller the same day: their differences are the
//! engine's and the roster's, not the dice's.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap},
    sync::Arc,
};

use switchboard_core::{
    Directory, Millis, Profile, RoutePlan, Router, TierId,
    acd::{Assignment, WaitExpired},
    caller::Channel,
    router::{Action, CallRequest, Input, Placement, Routed},
};

use crate::{random::Rng, scenario::Scenario};

mod desk;

/// How long after the day's last interval the simulation sees calls through.
const DRAIN_MS: u64 = 4 * 3_600_000;

/// What became of one simulated call.
#[derive(Clone, Debug, Default)]
pub struct CallOutcome {
    /// Tier index, for unknown callers too (the plan's lowest, as the router treats them).
    pub tier: usize,
    pub channel: Option<Channel>,
    /// The interval it arrived in.
    pub interval: usize,
    /// The queue it waited in last (by index), if it reached one.
    pub queue: Option<usize>,
    /// Seconds waited in queues until answered or abandoned.
    pub answered_after: Option<f64>,
    pub abandoned_after: Option<f64>,
    /// The estimated wait the caller was told when they joined a queue and waited.
    pub told: Option<f64>,
    /// Sent to voicemail at the queue's maximum wait.
    pub voicemail: bool,
    /// When it joined its first queue (simulated milliseconds since the epoch).
    pub queued_at: Option<u64>,
    /// The caller took a callback offered while waiting: they hung up and were called
    /// back when an agent was free (their wait runs until then).
    pub callback: bool,
    /// Offers of the call that rang out unanswered.
    pub missed: u32,
}

/// Per agent group and interval: seconds at the desk and seconds busy with calls.
#[derive(Clone, Debug, Default)]
pub struct Occupancy {
    pub staffed_s: Vec<f64>,
    pub busy_s: Vec<f64>,
    /// Of the staffed time, seconds away on breaks.
    pub away_s: Vec<f64>,
}

/// What a run produced: each call's outcome, and the agents' occupancy by interval.
#[derive(Clone, Debug, Default)]
pub struct Run {
    pub calls: Vec<CallOutcome>,
    pub occupancy: Occupancy,
    /// Calls routed per wall-clock second of the run.
    pub events: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Arrive(u32),
    Input(u32),
    Abandon(u32),
    End(u32),
    NoAnswer(u32),
    WrapUpEnd,
    /// An agent's stretch at the desk starts; it ends at the time given.
    ShiftStart(u32, u64),
    ShiftEnd(u32),
    ReadyAgain(u32),
    BreakStart(u32),
    BreakEnd(u32),
    Tick,
}

/// An arrival to make: the caller, the line and channel, and (for a replayed call) what
/// its record says they pressed, talked and waited before hanging up.
struct Pending {
    /// The scenario's arrival pattern it comes from; `None` for a replayed call.
    stream: Option<usize>,
    caller: String,
    dialed: String,
    channel: Channel,
    digits: std::collections::VecDeque<String>,
    talk_s: Option<f64>,
    patience_s: Option<f64>,
}

/// A call to replay, as its record tells it.
#[derive(Clone, Debug)]
pub struct Replayed {
    /// When it arrived, milliseconds since the epoch.
    pub at_ms: u64,
    pub caller: String,
    pub dialed: String,
    pub channel: Channel,
    /// The menu answers it gave, in order (then the scenario's choices).
    pub digits: Vec<String>,
    /// Its talk time when it was answered (else the scenario's handle time is drawn).
    pub talk_s: Option<f64>,
    /// How long it waited before hanging up, when it did; a call that was answered
    /// waits as long as it takes.
    pub patience_s: Option<f64>,
}

struct Sim<'a> {
    scenario: &'a Scenario,
    plan: Arc<RoutePlan>,
    router: Router,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    seq: u64,
    calls: Vec<CallOutcome>,
    pending: Vec<Pending>,
    ids: HashMap<Arc<str>, u32>,
    /// Agent of each call being handled.
    agent_of: HashMap<u32, String>,
    /// The menu playing to each call at one.
    at_menu: HashMap<u32, switchboard_core::plan::MenuId>,
    seed: u64,
    menus: Rng,
    rings_out: Rng,
    /// Agents (group, id), by their index in events.
    agents: Vec<(usize, String)>,
    agent_index: HashMap<String, u32>,
    /// Offers ringing at agents who will not answer them: call, agent.
    ringing: HashMap<u32, String>,
    leaving: std::collections::HashSet<String>,
    /// Agents whose stretch at the desk is over.
    off_shift: std::collections::HashSet<String>,
    /// Agents due a break who were on a call: they step away once it ends.
    break_due: std::collections::HashSet<String>,
    /// Agents away on a break, since when (simulated milliseconds).
    away_since: HashMap<String, u64>,
    /// Per agent: the work they hold, and since when they have held any.
    held: HashMap<String, (u32, u64)>,
    occupancy: Occupancy,
    end_ms: u64,
}

/// Numbers of simulated customers: one area code per tier, numbered from 200-0000.
fn customer_number(tier: usize, k: usize) -> String {
    const AREAS: [u32; 8] = [212, 312, 415, 617, 646, 702, 808, 919];
    format!("+1{}{:07}", AREAS[tier % AREAS.len()], 2_000_000 + k)
}

/// A directory with `per_tier` customers in each tier of the plan.
pub fn directory(plan: &RoutePlan, per_tier: usize) -> Directory {
    let directory = Directory::new();
    for tier in 0..plan.tiers.len() {
        for k in 0..per_tier {
            let number = customer_number(tier, k);
            let customer = Profile {
                id: format!("sim-{tier}-{k}").into(),
                name: "Simulated".into(),
                numbers: Box::new([plan.numbers.normalize(&number).expect("a valid number")]),
                tier: TierId(tier as u8),
                preference: Default::default(),
                language: "en".into(),
                lifetime_value: 0.0,
                influence: 0,
                tags: Box::new([]),
                attributes: Box::new([]),
                preferred_agent: None,
                contacts: Box::new([]),
                preferred_channel: None,
            };
            directory
                .upsert(customer)
                .expect("distinct simulated customers");
        }
    }
    directory
}

/// Runs a scenario against `plan` with `seed` (the scenario's own when `None`).
pub fn run(plan: RoutePlan, scenario: &Scenario, seed: Option<u64>) -> Run {
    let directory = directory(&plan, scenario.customers_per_tier);
    simulate(plan, scenario, directory, &[], seed)
}

/// Replays recorded calls against `plan` with the scenario's agents, handle times (for
/// calls not answered then) and patience, and the customers of `directory`: the
/// scenario's own arrivals are left out, its day runs from its start for as many
/// intervals as it has (see [`Scenario::for_replay`]).
pub fn replay(
    plan: RoutePlan,
    scenario: &Scenario,
    calls: &[Replayed],
    directory: Directory,
    seed: Option<u64>,
) -> Run {
    simulate(plan, scenario, directory, calls, seed)
}

fn simulate(
    plan: RoutePlan,
    scenario: &Scenario,
    directory: Directory,
    replayed: &[Replayed],
    seed: Option<u64>,
) -> Run {
    let seed = seed.unwrap_or(scenario.seed);
    let router = Router::new(plan, Arc::new(directory));
    let plan = router.plan();
    let intervals = scenario.intervals();
    let interval_ms = scenario.interval.as_millis() as u64;
    let mut sim = Sim {
        scenario,
        plan,
        router,
        queue: BinaryHeap::new(),
        seq: 0,
        calls: Vec::new(),
        pending: Vec::new(),
        ids: HashMap::new(),
        agent_of: HashMap::new(),
        at_menu: HashMap::new(),
        seed,
        menus: Rng::stream(seed, 4),
        rings_out: Rng::stream(seed, 6),
        agents: Vec::new(),
        agent_index: HashMap::new(),
        ringing: HashMap::new(),
        leaving: Default::default(),
        off_shift: Default::default(),
        break_due: Default::default(),
        away_since: HashMap::new(),
        held: HashMap::new(),
        occupancy: Occupancy {
            staffed_s: vec![0.0; intervals],
            busy_s: vec![0.0; intervals],
            away_s: vec![0.0; intervals],
        },
        end_ms: scenario.start_ms + interval_ms * intervals as u64,
    };
    sim.arrivals(seed);
    sim.replayed(replayed);
    for (g, group) in scenario.agents.iter().enumerate() {
        for k in 0..group.count {
            let i = sim.agents.len() as u32;
            let id = format!("{}-{k}", group.name);
            sim.agent_index.insert(id.clone(), i);
            sim.agents.push((g, id));
            for (from, to) in group.stretches(k, scenario.interval) {
                let from = scenario.start_ms + from.as_millis() as u64;
                let to = scenario.start_ms + to.as_millis() as u64;
                sim.at(from, Event::ShiftStart(i, to));
                sim.at(to, Event::ShiftEnd(i));
            }
            for b in &group.breaks {
                let start = scenario.start_ms + b.start_of(k, group.count).as_millis() as u64;
                sim.at(start, Event::BreakStart(i));
                sim.at(start + b.lasts.as_millis() as u64, Event::BreakEnd(i));
            }
        }
    }
    sim.at(scenario.start_ms + 1_000, Event::Tick);
    let mut events = 0;
    // After the day, the calls still in the building are seen through, for a while: one
    // still waiting then (no agent who answers at all, say) is left unanswered.
    let last = sim.end_ms + DRAIN_MS;
    while let Some(Reverse((t, _, event))) = sim.queue.pop() {
        if t > last {
            break;
        }
        events += 1;
        sim.handle_event(Millis(t), event);
    }
    Run {
        calls: sim.calls,
        occupancy: sim.occupancy,
        events,
    }
}

impl Sim<'_> {
    fn at(&mut self, t: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse((t, self.seq, event)));
    }

    /// Every arrival of the day, as a Poisson process within each interval.
    fn arrivals(&mut self, seed: u64) {
        let mut rng = Rng::stream(seed, 1);
        let interval_s = self.scenario.interval.as_secs_f64();
        for (s, a) in self.scenario.arrivals.iter().enumerate() {
            let weights: Vec<f64> = a.callers.iter().map(|(_, w)| *w).collect();
            for (i, mean) in a.per_interval.iter().enumerate() {
                if *mean <= 0.0 {
                    continue;
                }
                let mut t = rng.exponential(interval_s / mean);
                while t < interval_s {
                    let (tier, caller) = match a.callers[rng.weighted(&weights)].0 {
                        Some(tier) => {
                            let k = rng.below(self.scenario.customers_per_tier);
                            (tier, customer_number(tier, k))
                        }
                        None => (0, format!("+1718{:07}", 2_000_000 + rng.below(7_000_000))),
                    };
                    let n = self.calls.len() as u32;
                    self.calls.push(CallOutcome {
                        tier,
                        channel: Some(a.channel),
                        interval: i,
                        ..Default::default()
                    });
                    self.pending.push(Pending {
                        stream: Some(s),
                        caller,
                        dialed: a.line.clone(),
                        channel: a.channel,
                        digits: Default::default(),
                        talk_s: None,
                        patience_s: None,
                    });
                    let at =
                        self.scenario.start_ms + ((i as f64 * interval_s + t) * 1_000.0) as u64;
                    self.at(at, Event::Arrive(n));
                    t += rng.exponential(interval_s / mean);
                }
            }
        }
    }

    /// The recorded calls, each at its time, its tier that of its customer.
    fn replayed(&mut self, calls: &[Replayed]) {
        let interval = self.scenario.interval.as_millis() as u64;
        for r in calls {
            let tier = self
                .plan
                .numbers
                .normalize(&r.caller)
                .ok()
                .and_then(|n| self.router.directory().lookup(n))
                .map_or(0, |c| usize::from(c.tier.0));
            let n = self.calls.len() as u32;
            self.calls.push(CallOutcome {
                tier,
                channel: Some(r.channel),
                interval: (r.at_ms.saturating_sub(self.scenario.start_ms) / interval) as usize,
                ..Default::default()
            });
            self.pending.push(Pending {
                stream: None,
                caller: r.caller.clone(),
                dialed: r.dialed.clone(),
                channel: r.channel,
                digits: r.digits.iter().cloned().collect(),
                talk_s: r.talk_s,
                patience_s: r.patience_s,
            });
            self.at(r.at_ms, Event::Arrive(n));
        }
    }

    fn call_id(n: u32) -> String {
        format!("sim-{n}")
    }

    fn handle_event(&mut self, now: Millis, event: Event) {
        match event {
            Event::Arrive(n) => {
                let p = &self.pending[n as usize];
                let id = Self::call_id(n);
                let (caller, dialed) = (p.caller.clone(), p.dialed.clone());
                let req = CallRequest {
                    call_id: &id,
                    caller: &caller,
                    dialed: &dialed,
                    channel: p.channel,
                    switch_id: "sim",
                };
                self.ids.insert(Arc::from(id.as_str()), n);
                if let Ok(routed) = self.router.route(&req, now) {
                    self.decided(n, routed, now);
                }
            }
            Event::Input(n) => {
                let id = Self::call_id(n);
                let Some(digits) = self.choice(n) else {
                    return;
                };
                if let Ok(routed) = self.router.submit_input(&id, Input::Digits(&digits), now) {
                    self.decided(n, routed, now);
                }
            }
            Event::Abandon(n) => {
                if self.calls[n as usize].callback {
                    // They hung up for the callback: nobody is left to give up.
                    return;
                }
                let id = Self::call_id(n);
                let acd = self.router.acd();
                let gone = if acd.abandon(&id) {
                    Some(Vec::new())
                } else if self.ringing.remove(&n).is_some() {
                    // Hung up while it rang at an agent who was not answering.
                    acd.withdraw_offer(&id, now).ok()
                } else {
                    None
                };
                if let Some(made) = gone {
                    self.router.record_abandoned(&id, now);
                    let call = &mut self.calls[n as usize];
                    call.abandoned_after = call.queued_at.map(|q| (now.0 - q) as f64 / 1_000.0);
                    self.assigned(made, now);
                }
            }
            Event::NoAnswer(n) => self.no_answer(n, now),
            Event::ReadyAgain(i) => self.ready_again(i, now),
            Event::End(n) => {
                let id = Self::call_id(n);
                let Some(agent) = self.agent_of.remove(&n) else {
                    return;
                };
                if self.router.acd().ended(&agent, &id, now).is_ok() {
                    self.router.record_served(&id, &agent, true, "", now);
                }
                self.let_go(&agent, now);
                if self.leaving.contains(&agent) {
                    let _ = self.router.acd().not_ready(&agent, "shift over", now);
                } else if self.break_due.remove(&agent)
                    && self.router.acd().not_ready(&agent, "break", now).is_ok()
                {
                    self.away_since.insert(agent.clone(), now.0);
                }
                let queue = self.calls[n as usize].queue.unwrap_or(0);
                let wrap = self.plan.queues[queue].wrap_up;
                if wrap.is_zero() {
                    self.wrap_ups(now);
                } else {
                    self.at(now.0 + wrap.as_millis() as u64, Event::WrapUpEnd);
                }
            }
            Event::WrapUpEnd => self.wrap_ups(now),
            Event::ShiftStart(i, to) => self.shift_start(i, to, now),
            Event::ShiftEnd(i) => self.shift_end(i, now),
            Event::BreakStart(i) => self.break_start(i, now),
            Event::BreakEnd(i) => self.break_end(i, now),
            Event::Tick => {
                self.tick(now);
                if now.0 + 1_000 <= self.end_ms || !self.agent_of.is_empty() {
                    self.at(now.0 + 1_000, Event::Tick);
                }
            }
        }
    }

    /// The server's once-a-second upkeep, minus what a simulated switch never needs: its
    /// offers are always answered or reported unanswered, so none expires, and its
    /// callers ask for no callback at a time of their own.
    fn tick(&mut self, now: Millis) {
        let mut made: Vec<Assignment> = self.router.acd().offer_overflow(now);
        let expired = self.router.acd().expire_waits(now);
        for outcome in expired {
            match outcome {
                WaitExpired::Overflowed {
                    call_id,
                    to,
                    assignment,
                    ..
                } => {
                    self.router.record_transfer(&call_id, to, now);
                    if let Some(&n) = self.ids.get(&call_id) {
                        self.calls[n as usize].queue = Some(to.index());
                    }
                    made.extend(assignment);
                }
                WaitExpired::OfferCallback { call, .. } => {
                    if let Some(&n) = self.ids.get(&call.call_id) {
                        self.offer_callback(n);
                    }
                }
                WaitExpired::Voicemail { call, .. } => {
                    self.router.record_timed_out(&call.call_id);
                    if let Some(&n) = self.ids.get(&call.call_id) {
                        self.calls[n as usize].voicemail = true;
                    }
                }
            }
        }
        made.extend(self.router.acd().expire_promises(now));
        self.assigned(made, now);
    }

    fn wrap_ups(&mut self, now: Millis) {
        let made = self.router.acd().end_wrap_ups(now);
        self.assigned(made, now);
    }

    /// A decision for call `n`: a menu is answered after the menu time; a queue is joined.
    fn decided(&mut self, n: u32, routed: Routed, now: Millis) {
        match routed.decision.action {
            Action::PlayMenu { menu, .. } => {
                self.at_menu.insert(n, menu);
                self.at(
                    now.0 + self.scenario.menu_time.as_millis() as u64,
                    Event::Input(n),
                );
            }
            Action::Enqueue { queue, .. } => {
                self.at_menu.remove(&n);
                let call = &mut self.calls[n as usize];
                call.queue = Some(queue.index());
                call.queued_at.get_or_insert(now.0);
                if let Placement::Waiting {
                    estimated_wait,
                    callback_offered,
                    ..
                } = routed.decision.placement
                {
                    call.told = estimated_wait.map(|d| d.as_secs_f64());
                    let tier = call.tier;
                    let pending = &self.pending[n as usize];
                    let after = match (pending.stream, pending.patience_s) {
                        (_, Some(p)) => Some(p),
                        // Replayed and answered then: as patient as it takes.
                        (None, None) => None,
                        (Some(_), None) => self.scenario.patience[tier]
                            .as_ref()
                            .map(|p| p.sample(&mut self.call_rng(n, 3))),
                    };
                    if let Some(after) = after {
                        self.at(now.0 + (after * 1_000.0) as u64, Event::Abandon(n));
                    }
                    if callback_offered {
                        self.offer_callback(n);
                    }
                }
            }
        }
        self.assigned(routed.assignment.into_iter().collect(), now);
    }

    /// The random stream of call `n` for one purpose: the same whatever else happens.
    fn call_rng(&self, n: u32, purpose: u64) -> Rng {
        Rng::stream(
            self.seed ^ (u64::from(n) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            purpose,
        )
    }

    /// A callback is offered to the waiting caller of `n`: whether they take it is their
    /// own (a caller who declined once declines again). One who takes it keeps their place
    /// and hangs up to wait for the call back.
    fn offer_callback(&mut self, n: u32) {
        let call = &self.calls[n as usize];
        // Replayed calls do what their record says they did.
        if call.callback || self.pending[n as usize].stream.is_none() {
            return;
        }
        let takes = self.call_rng(n, 5).unit() <= self.scenario.accept_callback[call.tier];
        if takes && self.router.acd().accept_callback(&Self::call_id(n)) {
            self.calls[n as usize].callback = true;
        }
    }

    /// What the caller of `n` presses at the menu playing to them.
    fn choice(&mut self, n: u32) -> Option<String> {
        let menu = self.plan.menu(*self.at_menu.get(&n)?);
        let pending = &mut self.pending[n as usize];
        if let Some(d) = pending.digits.pop_front() {
            return Some(d);
        }
        let said = pending
            .stream
            .and_then(|s| self.scenario.arrivals[s].menus.get(&menu.name));
        Some(match said {
            Some(c) => {
                let weights: Vec<f64> = c.iter().map(|(_, w)| *w).collect();
                c[self.menus.weighted(&weights)].0.clone()
            }
            // Not said: the first option.
            None => menu.options.first()?.digits.clone(),
        })
    }

    /// Offered calls: connected at once, ended after a handle time.
    fn assigned(&mut self, made: Vec<Assignment>, now: Millis) {
        for a in made {
            let Some(&n) = self.ids.get(&a.call.call_id) else {
                continue;
            };
            let agent = a.agent.profile.id.clone();
            let id = Self::call_id(n);
            self.hold(&agent, now);
            let group = self
                .agent_index
                .get(&agent)
                .map(|i| self.agents[*i as usize].0);
            let rings_out = group.map_or(0.0, |g| self.scenario.agents[g].no_answer);
            if rings_out > 0.0 && self.rings_out.unit() <= rings_out {
                self.ringing.insert(n, agent);
                self.at(
                    now.0 + self.scenario.ring_time.as_millis() as u64,
                    Event::NoAnswer(n),
                );
                continue;
            }
            if self.router.acd().connected(&agent, &id, now).is_err() {
                self.let_go(&agent, now);
                continue;
            }
            self.router.record_answered(&id, now);
            let call = &mut self.calls[n as usize];
            call.queue = Some(a.queue.index());
            call.answered_after =
                Some(call.queued_at.map_or(0.0, |q| (now.0 - q) as f64 / 1_000.0));
            let channel = call.channel.unwrap_or(Channel::Voice);
            let talk = match self.pending[n as usize].talk_s {
                Some(t) => t,
                None => self
                    .scenario
                    .handle_time_for(a.queue.index(), channel)
                    .sample(&mut self.call_rng(n, 2)),
            };
            self.agent_of.insert(n, agent);
            self.at(now.0 + (talk * 1_000.0).max(1.0) as u64, Event::End(n));
        }
    }
}

/// The number of the `k`-th simulated customer of a tier (for tests and replays).
pub fn number_of(tier: usize, k: usize) -> String {
    customer_number(tier, k)
}
