//! The staffing search: the fewest agents at the desk in each interval with which every
//! tier meets its standard, found by running the scenario through the real engine again
//! and again.
//!
//! The search keeps the scenario's mix of agent groups: in each interval the agents are
//! shared among the groups the scenario has at the desk then (all its groups where it
//! has nobody), in proportion to their numbers, each such group keeping at least one
//! agent, so that every skill stays covered. Breaks are left out: what it finds is the
//! agents needed at the desk, before any allowance for breaks and absence.
//!
//! An interval meets the standards when, pooled over the replications (the seed, then
//! the next ones), each tier's calls of each channel that arrived in it reach their
//! standard: answered within its time, against those answered plus those abandoned after
//! it. Every run draws each caller's day the same (see `engine`), so adding agents never
//! changes who calls or how long they talk, only how long they wait.
//!
//! The search doubles the staffing of intervals that miss until all meet, halves the gap
//! between the most that missed and the fewest that met in every interval at once, and
//! ends with a check of the result, adding an agent where an interval still misses
//! (its predecessors' staffing affects it through the calls they leave waiting).

use serde::Serialize;
use switchboard_core::{RoutePlan, TierId, caller::Channel};

use crate::{Run, Scenario, run};

/// Rounds of adding agents after the search before it gives up saying so.
const CHECK_ROUNDS: usize = 12;
/// No interval is staffed beyond this many agents.
const MOST_AGENTS: usize = 100_000;

/// One interval of the staffing found.
#[derive(Clone, Debug, Serialize)]
pub struct IntervalStaffing {
    /// Seconds after the day's start.
    pub starts_s: f64,
    /// Calls arriving in it, pooled over the replications and divided by them.
    pub offered: f64,
    /// Agents at the desk, all groups.
    pub agents: usize,
    /// By group, in the scenario's order.
    pub by_group: Vec<usize>,
    /// The agents the scenario itself has at the desk then.
    pub scenario_agents: usize,
    /// The lowest margin of any tier and channel over its standard, in points (negative
    /// when missed); `None` without counted calls.
    pub worst_margin: Option<f64>,
    /// The tier (and channel, when not voice) with that margin.
    pub worst: Option<String>,
    /// More agents stopped helping before the standards were met: the staffing is the
    /// fewest within a point of the best that staffing reaches.
    pub limited: bool,
}

/// What the search found.
#[derive(Clone, Debug, Serialize)]
pub struct Staffing {
    pub groups: Vec<String>,
    pub intervals: Vec<IntervalStaffing>,
    /// Agent-hours at the desk, found and in the scenario.
    pub agent_hours: f64,
    pub scenario_agent_hours: f64,
    /// Every interval meets every standard with the staffing found.
    pub met: bool,
    /// Simulated days run in all.
    pub runs: usize,
    pub replications: usize,
}

/// The agents of each group the scenario has at the desk in each interval (breaks aside).
pub fn on_desk(scenario: &Scenario) -> Vec<Vec<usize>> {
    let intervals = scenario.intervals();
    let mut out = vec![vec![0; scenario.agents.len()]; intervals];
    for (g, group) in scenario.agents.iter().enumerate() {
        for k in 0..group.count {
            for (from, to) in group.stretches(k, scenario.interval) {
                for (i, row) in out.iter_mut().enumerate() {
                    let start = scenario.interval * i as u32;
                    // At the desk for any of the interval's first half counts.
                    let mid = start + scenario.interval / 2;
                    if from < mid && to > start {
                        row[g] += 1;
                    }
                }
            }
        }
    }
    out
}

/// `total` agents shared among groups by `weights` (largest remainders), each group with
/// a weight keeping at least one while there are enough to go round.
fn share(total: usize, weights: &[usize]) -> Vec<usize> {
    let sum: usize = weights.iter().sum();
    if sum == 0 || total == 0 {
        return vec![0; weights.len()];
    }
    let present = weights.iter().filter(|w| **w > 0).count();
    let mut out: Vec<usize> = weights
        .iter()
        .map(|w| usize::from(*w > 0 && total >= present))
        .collect();
    let rest = total - out.iter().sum::<usize>();
    let exact: Vec<f64> = weights
        .iter()
        .map(|w| rest as f64 * *w as f64 / sum as f64)
        .collect();
    for (o, e) in out.iter_mut().zip(&exact) {
        *o += e.floor() as usize;
    }
    let mut left = total - out.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..weights.len()).filter(|g| weights[*g] > 0).collect();
    order.sort_by(|a, b| {
        let (ra, rb) = (exact[*a].fract(), exact[*b].fract());
        rb.total_cmp(&ra).then(a.cmp(b))
    });
    for g in order.iter().cycle() {
        if left == 0 {
            break;
        }
        out[*g] += 1;
        left -= 1;
    }
    out
}

/// The scenario with `by_interval[i][g]` agents of group `g` at the desk in interval `i`.
pub fn staffed(scenario: &Scenario, by_interval: &[Vec<usize>]) -> Scenario {
    let mut out = scenario.clone();
    for (g, group) in out.agents.iter_mut().enumerate() {
        let counts: Vec<usize> = by_interval.iter().map(|row| row[g]).collect();
        group.count = counts.iter().copied().max().unwrap_or(0);
        group.staffed = Some(counts);
        group.from = std::time::Duration::ZERO;
        group.to = scenario.interval * by_interval.len() as u32;
        group.breaks.clear();
    }
    out
}

/// Per interval: each (tier, channel)'s calls answered in standard and counted, pooled
/// over the replications, and the work they brought.
#[derive(Clone, Default)]
struct Pool {
    offered: f64,
    /// Agent-seconds of work (mean talk and wrap-up, over the lane's room per agent).
    work_s: f64,
    /// (tier, channel, in standard, counted)
    slices: Vec<(usize, Channel, u64, u64)>,
}

impl Pool {
    fn add(&mut self, tier: usize, channel: Channel, in_standard: bool, counted: bool) {
        let at = match self
            .slices
            .iter()
            .position(|(t, c, _, _)| *t == tier && *c == channel)
        {
            Some(i) => i,
            None => {
                self.slices.push((tier, channel, 0, 0));
                self.slices.len() - 1
            }
        };
        self.slices[at].2 += u64::from(in_standard);
        self.slices[at].3 += u64::from(counted);
    }

    fn slice(&self, tier: usize, channel: Channel) -> (u64, u64) {
        self.slices
            .iter()
            .find(|(t, c, _, _)| *t == tier && *c == channel)
            .map_or((0, 0), |s| (s.2, s.3))
    }
}

/// The standard error, in points, a tier's level is judged with at most: with fewer calls
/// in an interval (pooled over the replications) than that takes, the tier is judged
/// with its calls of the intervals around it too.
const STANDARD_ERROR: f64 = 2.0;

/// Interval `i`'s lowest margin over the standards, in points, and whose it is. Each
/// tier and channel with calls in it is judged on them, widened to the intervals either
/// side until enough calls count for a standard error of [`STANDARD_ERROR`] points at
/// its standard (400 calls for 80%, 119 for 95%): a tier with a handful of calls an
/// interval is held to its standard over a few hours, not over each interval's chance.
fn judge(pools: &[Pool], i: usize, plan: &RoutePlan) -> Option<(f64, String)> {
    pools[i]
        .slices
        .iter()
        .filter(|s| s.3 > 0)
        .map(|&(t, c, _, _)| {
            let tier = plan.tier(TierId(t as u8));
            let standard = tier.standard_for(c);
            let p = f64::from(standard.percent) / 100.0;
            let needed = (p * (1.0 - p) / (STANDARD_ERROR / 100.0).powi(2)).ceil() as u64;
            let (mut ok, mut n) = pools[i].slice(t, c);
            let mut reach = 1;
            while n < needed.max(1) && reach < pools.len() {
                for j in [i.checked_sub(reach), Some(i + reach)]
                    .into_iter()
                    .flatten()
                {
                    if let Some(p) = pools.get(j) {
                        let (o, k) = p.slice(t, c);
                        ok += o;
                        n += k;
                    }
                }
                reach += 1;
            }
            let level = ok as f64 / n as f64 * 100.0;
            let name = if c == Channel::Voice {
                tier.name.clone()
            } else {
                format!("{} {}", tier.name, c.as_str())
            };
            (level - f64::from(standard.percent), name)
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
}

/// Runs `scenario` `replications` times from `seed` (on two threads) and pools its
/// calls per interval.
fn evaluate(plan: &RoutePlan, scenario: &Scenario, seed: u64, replications: usize) -> Vec<Pool> {
    let runs: Vec<Run> = std::thread::scope(|scope| {
        let half = replications.div_ceil(2);
        let other = scope.spawn(move || {
            (half..replications)
                .map(|r| run(plan.clone(), scenario, Some(seed.wrapping_add(r as u64))))
                .collect::<Vec<_>>()
        });
        let mut runs: Vec<Run> = (0..half)
            .map(|r| run(plan.clone(), scenario, Some(seed.wrapping_add(r as u64))))
            .collect();
        runs.extend(other.join().expect("a simulation thread"));
        runs
    });
    let mut pools = vec![Pool::default(); scenario.intervals()];
    let share = 1.0 / replications as f64;
    for c in runs.iter().flat_map(|r| &r.calls) {
        let Some(pool) = pools.get_mut(c.interval) else {
            continue;
        };
        pool.offered += share;
        let channel = c.channel.unwrap_or(Channel::Voice);
        if let Some(q) = c.queue {
            let room = plan
                .capacity
                .limits
                .get(switchboard_core::capacity::Lane::of(channel))
                .max(1);
            let work =
                scenario.handle_time_for(q, channel).mean() + plan.queues[q].wrap_up.as_secs_f64();
            pool.work_s += work / f64::from(room) * share;
        }
        let within = plan
            .tier(TierId(c.tier as u8))
            .standard_for(channel)
            .within
            .as_secs_f64();
        match (c.answered_after, c.abandoned_after) {
            (Some(w), _) => pool.add(c.tier, channel, w <= within, true),
            (None, Some(w)) => pool.add(c.tier, channel, false, w > within),
            _ => {}
        }
    }
    pools
}

/// Interval `i` reaches `target` points over every standard (0: just meets them).
fn reaches(pools: &[Pool], i: usize, plan: &RoutePlan, target: f64) -> bool {
    judge(pools, i, plan).is_none_or(|(margin, _)| margin >= target - 1e-9)
}

fn margin(pools: &[Pool], i: usize, plan: &RoutePlan) -> f64 {
    judge(pools, i, plan).map_or(f64::INFINITY, |w| w.0)
}

/// Finds the fewest agents per interval that meet every tier's standard (see the
/// module's notes), with `replications` runs per step from `seed`.
pub fn search(plan: &RoutePlan, scenario: &Scenario, seed: u64, replications: usize) -> Staffing {
    let replications = replications.max(1);
    let desk = on_desk(scenario);
    let intervals = desk.len();
    let whole_day: Vec<usize> = scenario.agents.iter().map(|g| g.count).collect();
    let mix: Vec<Vec<usize>> = desk
        .iter()
        .map(|row| {
            if row.iter().all(|n| *n == 0) {
                whole_day.clone()
            } else {
                row.clone()
            }
        })
        .collect();
    let scenario_totals: Vec<usize> = desk.iter().map(|r| r.iter().sum()).collect();
    let runs = std::cell::Cell::new(0);
    let try_roster = |roster: &[Vec<usize>]| {
        runs.set(runs.get() + replications);
        evaluate(plan, &staffed(scenario, roster), seed, replications)
    };
    let try_totals = |totals: &[usize]| {
        let roster: Vec<Vec<usize>> = totals
            .iter()
            .zip(&mix)
            .map(|(t, weights)| share(*t, weights))
            .collect();
        try_roster(&roster)
    };
    let interval_s = scenario.interval.as_secs_f64();
    // Where to start: the work each interval brings, in agents (its load in Erlangs),
    // from a run as the scenario is staffed. Fewer agents than 80% of the load cannot
    // keep up; the load and three times its square root, plus three, serves it well.
    let first = try_totals(&scenario_totals);
    let load: Vec<f64> = first.iter().map(|p| p.work_s / interval_s).collect();
    let mut lo: Vec<isize> = load
        .iter()
        .map(|a| (a * 0.8).floor() as isize - 1)
        .map(|n| n.max(-1))
        .collect();
    let mut hi: Vec<usize> = load
        .iter()
        .map(|a| (a + 3.0 * a.sqrt() + 3.0).ceil() as usize)
        .collect();
    // What each interval must reach: the standards (a margin of 0), or, where more
    // agents stop helping (a caller kept for their last agent waits for that agent
    // however many others are free), within a point of the best that staffing reaches.
    let mut target = vec![0.0f64; intervals];
    let ceiling = (hi.iter().copied().max().unwrap_or(0) * 16 + 16).min(MOST_AGENTS);
    let mut pools = try_totals(&hi);
    for _ in 0..30 {
        let missing: Vec<usize> = (0..intervals)
            .filter(|i| !reaches(&pools, *i, plan, target[*i]))
            .collect();
        if missing.is_empty() {
            break;
        }
        let before: Vec<f64> = missing.iter().map(|i| margin(&pools, *i, plan)).collect();
        for &i in &missing {
            if hi[i] < ceiling {
                lo[i] = hi[i] as isize;
                hi[i] = (hi[i] * 2).min(ceiling);
            }
        }
        pools = try_totals(&hi);
        for (&i, was) in missing.iter().zip(&before) {
            let now = margin(&pools, i, plan);
            if now < 0.0 && (now < was + 1.0 || hi[i] >= ceiling) {
                // Doubling bought less than a point, or no more may be tried.
                target[i] = now.max(*was) - 1.0;
            }
        }
    }
    // Halving the gaps, every interval at once.
    let open = |i: usize, lo: &[isize], hi: &[usize]| hi[i] as isize > lo[i] + 1;
    while (0..intervals).any(|i| open(i, &lo, &hi)) {
        let mid: Vec<usize> = (0..intervals)
            .map(|i| {
                if open(i, &lo, &hi) {
                    ((lo[i] + hi[i] as isize) / 2).max(0) as usize
                } else {
                    hi[i]
                }
            })
            .collect();
        let tried = try_totals(&mid);
        for i in 0..intervals {
            if mid[i] == hi[i] {
                continue;
            }
            if reaches(&tried, i, plan, target[i]) {
                hi[i] = mid[i];
            } else {
                lo[i] = mid[i] as isize;
            }
        }
    }
    // The check, every interval at once as the day will run: an agent more where one
    // misses (the intervals around it were tried short while it was halved).
    let check = |totals: &mut Vec<usize>| {
        for _ in 0..CHECK_ROUNDS {
            let pools = try_totals(totals);
            let missing: Vec<usize> = (0..intervals)
                .filter(|i| !reaches(&pools, *i, plan, target[*i]))
                .collect();
            if missing.is_empty() {
                break;
            }
            for i in missing {
                totals[i] = (totals[i] + 1).min(MOST_AGENTS);
            }
        }
    };
    let mut totals = hi;
    check(&mut totals);
    // Then an agent fewer where every interval still reaches its target, in every
    // other interval at a time so that each cut is judged with its neighbours as found.
    for parity in [0, 1, 0, 1] {
        let cut: Vec<usize> = (0..intervals)
            .filter(|i| i % 2 == parity && totals[*i] > 0)
            .collect();
        let mut fewer = totals.clone();
        cut.iter().for_each(|i| fewer[*i] -= 1);
        let tried = try_totals(&fewer);
        if (0..intervals).all(|i| reaches(&tried, i, plan, target[i])) {
            totals = fewer;
        } else {
            // Judged each on its own: keep the cuts whose interval and neighbours hold.
            let holds = |i: usize| i >= intervals || reaches(&tried, i, plan, target[i]);
            for &i in &cut {
                if holds(i) && holds(i + 1) && (i == 0 || holds(i - 1)) {
                    totals[i] -= 1;
                }
            }
        }
    }
    // Cuts reach further than the next interval where a tier is judged over several.
    check(&mut totals);
    let roster: Vec<Vec<usize>> = (0..intervals).map(|i| share(totals[i], &mix[i])).collect();
    // The figures reported are those of the roster found.
    let pools = try_roster(&roster);
    let interval_h = interval_s / 3_600.0;
    let rows: Vec<IntervalStaffing> = (0..intervals)
        .map(|i| {
            let worst = judge(&pools, i, plan);
            IntervalStaffing {
                starts_s: interval_s * i as f64,
                offered: pools[i].offered,
                agents: roster[i].iter().sum(),
                by_group: roster[i].clone(),
                scenario_agents: scenario_totals[i],
                worst_margin: worst.as_ref().map(|w| w.0),
                worst: worst.map(|w| w.1),
                limited: target[i] < 0.0,
            }
        })
        .collect();
    Staffing {
        groups: scenario.agents.iter().map(|g| g.name.clone()).collect(),
        met: (0..intervals).all(|i| reaches(&pools, i, plan, 0.0)),
        agent_hours: roster.iter().flatten().sum::<usize>() as f64 * interval_h,
        scenario_agent_hours: scenario_totals.iter().sum::<usize>() as f64 * interval_h,
        intervals: rows,
        runs: runs.get(),
        replications,
    }
}

/// The staffing as a table, then as `[[agents]]` tables a scenario can take.
pub fn render_staffing(s: &Staffing, scenario: &Scenario) -> String {
    let day_start_s = (scenario.start_ms / 1_000) % 86_400;
    let clock = |after: f64| {
        let t = (day_start_s + after as u64) % 86_400;
        format!("{:02}:{:02}", t / 3_600, t % 3_600 / 60)
    };
    let mut out = format!(
        "{:<6} {:>7} {:>7} {:>9}  {:<40}  {}\n",
        "from", "calls", "agents", "scenario", "by group", "tightest standard"
    );
    for row in &s.intervals {
        let groups: Vec<String> = s
            .groups
            .iter()
            .zip(&row.by_group)
            .filter(|(_, n)| **n > 0)
            .map(|(g, n)| format!("{g} {n}"))
            .collect();
        let worst = match (&row.worst, row.worst_margin) {
            (Some(w), Some(m)) if row.limited => {
                format!("{w} {m:+.1} points, the best more agents reach")
            }
            (Some(w), Some(m)) => format!("{w} {m:+.1} points"),
            _ => "no calls".to_owned(),
        };
        out.push_str(&format!(
            "{:<6} {:>7.1} {:>7} {:>9}  {:<40}  {worst}\n",
            clock(row.starts_s),
            row.offered,
            row.agents,
            row.scenario_agents,
            groups.join(", "),
        ));
    }
    out.push_str(&format!(
        "\n{:.1} agent-hours at the desk (the scenario has {:.1}); {} with every standard met; {} simulated days ({} per step)\n",
        s.agent_hours,
        s.scenario_agent_hours,
        if s.met {
            "every interval"
        } else {
            "NOT every interval"
        },
        s.runs,
        s.replications,
    ));
    out.push_str("\n# The roster found, for the scenario's [[agents]]:\n");
    for (g, name) in s.groups.iter().enumerate() {
        let counts: Vec<String> = s
            .intervals
            .iter()
            .map(|r| r.by_group[g].to_string())
            .collect();
        out.push_str(&format!(
            "[[agents]]\nname = {name:?}\ncount = {}\n{}staffed = [{}]\n\n",
            s.intervals.iter().map(|r| r.by_group[g]).max().unwrap_or(0),
            group_text(&scenario.agents[g]),
            counts.join(", ")
        ));
    }
    out
}

/// A group's skills, tags, capacity and no-answer chance as scenario text.
fn group_text(g: &crate::scenario::Agents) -> String {
    let skills: Vec<String> = g.skills.iter().map(|(s, p)| format!("{s} = {p}")).collect();
    let mut out = format!("skills = {{ {} }}\n", skills.join(", "));
    if !g.tags.is_empty() {
        out.push_str(&format!("tags = {:?}\n", g.tags));
    }
    let capacity: Vec<String> = switchboard_core::capacity::Lane::ALL
        .iter()
        .map(|l| format!("{} = {}", l.as_str(), g.capacity.get(*l)))
        .collect();
    out.push_str(&format!("capacity = {{ {} }}\n", capacity.join(", ")));
    if g.no_answer > 0.0 {
        out.push_str(&format!("no_answer = {}\n", g.no_answer));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_are_shared_by_the_mix_each_group_keeping_one() {
        assert_eq!(share(10, &[30, 10, 0]), [7, 3, 0]);
        assert_eq!(share(3, &[100, 2, 1]), [1, 1, 1]);
        assert_eq!(share(2, &[100, 2, 1]), [2, 0, 0]);
        assert_eq!(share(0, &[1, 1]), [0, 0]);
        for total in 0..50 {
            assert_eq!(
                share(total, &[24, 24, 30, 14, 6, 2]).iter().sum::<usize>(),
                total
            );
        }
    }
}
