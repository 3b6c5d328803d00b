//! Known answers from queueing theory, computed here: one queue, one skill, Poisson
//! arrivals, exponential handle times, callers who never hang up, no wrap-up is the
//! M/M/n queue, whose probability of waiting, average speed of answer and service level
//! Erlang C gives exactly. With exponential patience it is the M/M/n+M queue (Erlang A),
//! whose probability of waiting, of abandoning and mean time in queue come from its
//! birth-death chain. The real router and ACD, run by the simulator, must agree.
//!
//! Tolerances come from the run itself: the calls are cut into 20 batches by arrival
//! time, and the simulated figure must lie within four standard errors of the batch
//! means (plus 1% of the answer for the start from an empty floor) of the formula's. The
//! test also checks that the standard error is small enough for that to mean something.

mod support;

use support::erlang_c;
use switchboard_sim::{Scenario, engine::CallOutcome, run};

use support::ONE_TIER as TIERS;

fn plan() -> switchboard_core::RoutePlan {
    support::one_queue_plan("erlang", TIERS, "")
}

/// A day of `hours` with `agents` agents and `erlangs` of offered load at a 180 s mean
/// handle time.
fn scenario(agents: u32, erlangs: f64, hours: usize) -> Scenario {
    scenario_with(agents, erlangs, hours, "")
}

/// [`scenario`] with more scenario text (a `[patience]` section).
fn scenario_with(agents: u32, erlangs: f64, hours: usize, more: &str) -> Scenario {
    support::steady_day(
        &plan(),
        11,
        "15m",
        hours * 4,
        erlangs / 180.0 * 900.0,
        "{ standard = 1 }",
        agents,
        &format!("to = \"{}h\"", hours + 10),
        more,
    )
}

/// The mean of `f` over the answered calls, and its standard error by batch means.
fn batched(calls: &[CallOutcome], batches: usize, f: impl Fn(f64) -> f64) -> (f64, f64) {
    batched_all(calls, batches, |c| {
        f(c.answered_after.expect("everyone is answered"))
    })
}

/// The mean of `f` over every call, and its standard error by batch means.
fn batched_all(
    calls: &[CallOutcome],
    batches: usize,
    f: impl Fn(&CallOutcome) -> f64,
) -> (f64, f64) {
    let intervals = calls.iter().map(|c| c.interval).max().unwrap() + 1;
    let mut sums = vec![(0.0, 0usize); batches];
    for c in calls {
        let b = c.interval * batches / intervals;
        sums[b].0 += f(c);
        sums[b].1 += 1;
    }
    let means: Vec<f64> = sums.iter().map(|(s, n)| s / *n as f64).collect();
    let mean = means.iter().sum::<f64>() / batches as f64;
    let var = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (batches - 1) as f64;
    (mean, (var / batches as f64).sqrt())
}

fn check(name: &str, got: (f64, f64), want: f64, max_se: f64) {
    let (mean, se) = got;
    eprintln!("{name}: simulated {mean:.4} (standard error {se:.4}), theory {want:.4}");
    assert!(
        se < max_se,
        "{name}: too few calls for a meaningful test (se {se})"
    );
    assert!(
        (mean - want).abs() <= 4.0 * se + 0.01 * want,
        "{name}: simulated {mean:.4} +- {se:.4}, theory {want:.4}"
    );
}

fn matches_erlang_c(agents: u32, erlangs: f64, hours: usize) {
    let out = run(plan(), &scenario(agents, erlangs, hours), None);
    let calls = &out.calls;
    assert!(calls.len() > 1_000, "{} calls", calls.len());
    let c = erlang_c(agents, erlangs);
    // Rates per second: mu = 1/180, lambda = erlangs * mu.
    let drain = (f64::from(agents) - erlangs) / 180.0;
    let label = format!("n={agents}, a={erlangs}");
    check(
        &format!("{label}: P(wait)"),
        batched(calls, 20, |w| f64::from(u8::from(w > 0.0))),
        c,
        0.03,
    );
    check(
        &format!("{label}: ASA"),
        batched(calls, 20, |w| w),
        c / drain,
        0.15 * c / drain + 1.0,
    );
    check(
        &format!("{label}: service level in 20 s"),
        batched(calls, 20, |w| f64::from(u8::from(w <= 20.0))),
        1.0 - c * (-drain * 20.0).exp(),
        0.03,
    );
}

#[test]
fn a_lightly_loaded_queue_matches_erlang_c() {
    matches_erlang_c(5, 3.0, 200);
}

#[test]
fn a_queue_at_80_percent_matches_erlang_c() {
    matches_erlang_c(10, 8.0, 200);
}

#[test]
fn a_queue_near_saturation_matches_erlang_c() {
    matches_erlang_c(20, 19.0, 800);
}

/// Erlang A for `n` agents, arrival rate `lambda`, service rate `mu` and abandonment
/// rate `theta` (per second): the probability an arrival waits, the probability it
/// abandons, and the mean time in queue of all arrivals. From the stationary
/// distribution of the birth-death chain of calls in the system (arrivals see it, by
/// PASTA), cut where its terms are negligible.
fn erlang_a(n: u32, lambda: f64, mu: f64, theta: f64) -> (f64, f64, f64) {
    let mut p = vec![1.0f64];
    for k in 1..2_000u32 {
        let out = f64::from(k.min(n)) * mu + f64::from(k.saturating_sub(n)) * theta;
        p.push(p[p.len() - 1] * lambda / out);
    }
    let total: f64 = p.iter().sum();
    let waits: f64 = p[n as usize..].iter().sum::<f64>() / total;
    let queue: f64 = p
        .iter()
        .enumerate()
        .skip(n as usize + 1)
        .map(|(k, pk)| (k - n as usize) as f64 * pk)
        .sum::<f64>()
        / total;
    // Little: the mean queue is lambda times the mean time in it; each waiting caller
    // abandons at rate theta.
    (waits, theta * queue / lambda, queue / lambda)
}

#[test]
fn a_queue_whose_callers_hang_up_matches_erlang_a() {
    // 10 agents offered 11 Erlangs (over capacity without abandonment), callers with a
    // mean patience of 2 minutes.
    let (agents, erlangs, patience) = (10, 11.0, 120.0);
    let out = run(
        plan(),
        &scenario_with(
            agents,
            erlangs,
            200,
            "[patience]\ndefault = { exponential = \"2m\" }\n",
        ),
        None,
    );
    let calls = &out.calls;
    let (waits, abandons, in_queue) =
        erlang_a(agents, erlangs / 180.0, 1.0 / 180.0, 1.0 / patience);
    let waited = |c: &CallOutcome| c.answered_after.or(c.abandoned_after).unwrap();
    check(
        "Erlang A: P(wait)",
        batched_all(calls, 20, |c| f64::from(u8::from(waited(c) > 0.0))),
        waits,
        0.03,
    );
    check(
        "Erlang A: P(abandon)",
        batched_all(calls, 20, |c| {
            f64::from(u8::from(c.abandoned_after.is_some()))
        }),
        abandons,
        0.03,
    );
    check(
        "Erlang A: time in queue",
        batched_all(calls, 20, waited),
        in_queue,
        0.15 * in_queue + 1.0,
    );
}
