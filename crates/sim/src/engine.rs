//! The simulated day: one thread, one event queue ordered by simulated time, and the real
//! [`Router`] and ACD answering every event as the server would answer its switch. Every
//! decision (rules, menus, queues, agent choice, aging, overflow) is the engine's own; the
//! simulator only plays the callers, the switch and the agents around it.
//!
//! The switch side is the simplest honest one: an offered call is connected at once, the
//! agent talks for a handle time drawn for the queue, then wraps up for the queue's
//! wrap-up time; a waiting caller hangs up after a patience drawn for their tier.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap},
    sync::Arc,
};

use switchboard_core::{
    Customer, Directory, Millis, RoutePlan, Router, TierId,
    acd::{AgentProfile, Assignment, WaitExpired},
    caller::Channel,
    router::{Action, CallRequest, Input, Placement, Routed},
};

use crate::{random::Rng, scenario::Scenario};

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
    WrapUpEnd,
    ShiftStart(u32),
    ShiftEnd(u32),
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
    handle: Rng,
    patience: Rng,
    menus: Rng,
    /// Agents (group, id, from, to), by their index in events.
    agents: Vec<(usize, String, u64, u64)>,
    leaving: std::collections::HashSet<String>,
    /// Agents due a break who were on a call: they step away once it ends.
    break_due: std::collections::HashSet<String>,
    /// Agents away on a break, since when (simulated milliseconds).
    away_since: HashMap<String, u64>,
    busy_since: HashMap<String, u64>,
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
            let customer = Customer {
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
        handle: Rng::stream(seed, 2),
        patience: Rng::stream(seed, 3),
        menus: Rng::stream(seed, 4),
        agents: Vec::new(),
        leaving: Default::default(),
        break_due: Default::default(),
        away_since: HashMap::new(),
        busy_since: HashMap::new(),
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
            let from = scenario.start_ms + group.from.as_millis() as u64;
            let to = scenario.start_ms + group.to.as_millis() as u64;
            sim.agents
                .push((g, format!("{}-{k}", group.name), from, to));
            sim.at(from, Event::ShiftStart(i));
            sim.at(to, Event::ShiftEnd(i));
            for b in &group.breaks {
                let start = scenario.start_ms + b.start_of(k, group.count).as_millis() as u64;
                sim.at(start, Event::BreakStart(i));
                sim.at(start + b.lasts.as_millis() as u64, Event::BreakEnd(i));
            }
        }
    }
    sim.at(scenario.start_ms + 1_000, Event::Tick);
    let mut events = 0;
    while let Some(Reverse((t, _, event))) = sim.queue.pop() {
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
                let id = Self::call_id(n);
                if self.router.acd().abandon(&id) {
                    self.router.record_abandoned(&id, now);
                    let call = &mut self.calls[n as usize];
                    call.abandoned_after = call.queued_at.map(|q| (now.0 - q) as f64 / 1_000.0);
                }
            }
            Event::End(n) => {
                let id = Self::call_id(n);
                let Some(agent) = self.agent_of.remove(&n) else {
                    return;
                };
                if self.router.acd().ended(&agent, &id, now).is_ok() {
                    self.router.record_served(&id, &agent, true, "", now);
                }
                self.busy_until(&agent, now);
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
            Event::ShiftStart(i) => {
                let (g, id, _, to) = self.agents[i as usize].clone();
                let group = &self.scenario.agents[g];
                let profile = AgentProfile {
                    id: id.clone(),
                    endpoint: format!("sip:{id}@sim"),
                    skills: group.skills.clone(),
                    tags: group.tags.clone(),
                    capacity: Default::default(),
                };
                self.staffed(now.0, to);
                if self.router.acd().log_in(profile, now).is_ok()
                    && let Ok(made) = self.router.acd().ready(&id, now)
                {
                    self.assigned(made, now);
                }
            }
            Event::ShiftEnd(i) => {
                let id = self.agents[i as usize].1.clone();
                if self.router.acd().not_ready(&id, "shift over", now).is_err() {
                    // On a call: they go once it ends.
                    self.leaving.insert(id);
                }
            }
            Event::BreakStart(i) => {
                let id = self.agents[i as usize].1.clone();
                if self.leaving.contains(&id) {
                    return;
                }
                if self.router.acd().not_ready(&id, "break", now).is_ok() {
                    self.away_since.insert(id, now.0);
                } else {
                    // On a call: the break starts once it ends.
                    self.break_due.insert(id);
                }
            }
            Event::BreakEnd(i) => {
                let id = self.agents[i as usize].1.clone();
                self.break_due.remove(&id);
                if let Some(since) = self.away_since.remove(&id) {
                    spread(
                        &mut self.occupancy.away_s,
                        self.scenario,
                        since,
                        now.0.min(self.end_ms),
                    );
                    if !self.leaving.contains(&id)
                        && let Ok(made) = self.router.acd().ready(&id, now)
                    {
                        self.assigned(made, now);
                    }
                }
            }
            Event::Tick => {
                self.tick(now);
                if now.0 + 1_000 <= self.end_ms || !self.agent_of.is_empty() {
                    self.at(now.0 + 1_000, Event::Tick);
                }
            }
        }
    }

    /// The server's once-a-second upkeep, minus what a simulated switch never needs
    /// (offers are connected at once, so none expires).
    fn tick(&mut self, now: Millis) {
        let acd = self.router.acd();
        let mut made: Vec<Assignment> = acd.offer_overflow(now);
        for outcome in acd.expire_waits(now) {
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
                // The caller keeps waiting (they did not take the offer).
                WaitExpired::OfferCallback { .. } => {}
                WaitExpired::Voicemail { call, .. } => {
                    self.router.record_timed_out(&call.call_id);
                    if let Some(&n) = self.ids.get(&call.call_id) {
                        self.calls[n as usize].voicemail = true;
                    }
                }
            }
        }
        made.extend(acd.expire_promises(now));
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
                if let Placement::Waiting { estimated_wait, .. } = routed.decision.placement {
                    call.told = estimated_wait.map(|d| d.as_secs_f64());
                    let pending = &self.pending[n as usize];
                    let after = match (pending.stream, pending.patience_s) {
                        (_, Some(p)) => Some(p),
                        // Replayed and answered then: as patient as it takes.
                        (None, None) => None,
                        (Some(_), None) => self.scenario.patience[call.tier]
                            .as_ref()
                            .map(|p| p.sample(&mut self.patience)),
                    };
                    if let Some(after) = after {
                        self.at(now.0 + (after * 1_000.0) as u64, Event::Abandon(n));
                    }
                }
            }
        }
        self.assigned(routed.assignment.into_iter().collect(), now);
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
            if self.router.acd().connected(&agent, &id, now).is_err() {
                continue;
            }
            self.router.record_answered(&id, now);
            let call = &mut self.calls[n as usize];
            call.queue = Some(a.queue.index());
            call.answered_after =
                Some(call.queued_at.map_or(0.0, |q| (now.0 - q) as f64 / 1_000.0));
            let talk = match self.pending[n as usize].talk_s {
                Some(t) => t,
                None => self.scenario.handle_time[a.queue.index()].sample(&mut self.handle),
            };
            self.busy_since.insert(agent.clone(), now.0);
            self.agent_of.insert(n, agent);
            self.at(now.0 + (talk * 1_000.0).max(1.0) as u64, Event::End(n));
        }
    }

    /// Counts an agent's time at the desk from `from` to `to` into the intervals.
    fn staffed(&mut self, from: u64, to: u64) {
        let to = to.min(self.end_ms);
        spread(&mut self.occupancy.staffed_s, self.scenario, from, to);
    }

    fn busy_until(&mut self, agent: &str, now: Millis) {
        if let Some(from) = self.busy_since.remove(agent) {
            spread(
                &mut self.occupancy.busy_s,
                self.scenario,
                from,
                now.0.min(self.end_ms),
            );
        }
    }
}

/// Adds the seconds of `[from, to)` to the intervals they fall in.
fn spread(into: &mut [f64], scenario: &Scenario, from: u64, to: u64) {
    let interval = scenario.interval.as_millis() as u64;
    let mut t = from.max(scenario.start_ms);
    while t < to {
        let i = ((t - scenario.start_ms) / interval) as usize;
        let Some(slot) = into.get_mut(i) else {
            return;
        };
        let end = (scenario.start_ms + (i as u64 + 1) * interval).min(to);
        *slot += (end - t) as f64 / 1_000.0;
        t = end;
    }
}

/// The number of the `k`-th simulated customer of a tier (for tests and replays).
pub fn number_of(tier: usize, k: usize) -> String {
    customer_number(tier, k)
}
