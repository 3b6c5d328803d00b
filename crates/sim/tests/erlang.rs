//! Known answers from queueing theory, computed here: one queue, one skill, Poisson
//! arrivals, exponential handle times, callers who never hang up, no wrap-up is the
//! M/M/n queue, whose probability of waiting, average speed of answer and service level
//! Erlang C gives exactly. The real router and ACD, run by the simulator, must agree.
//!
//! Tolerances come from the run itself: the calls are cut into 20 batches by arrival
//! time, and the simulated figure must lie within four standard errors of the batch
//! means (plus 1% of the answer for the start from an empty floor) of the formula's. The
//! test also checks that the standard error is small enough for that to mean something.

use switchboard_sim::{Scenario, engine::CallOutcome, run};

/// One tier, one line straight to one queue with no wrap-up; repeat callers are not kept
/// for their last agent (which makes them wait while others are free: not M/M/n).
const CONFIG: &str = r#"
[learning]
same_agent_for = "0s"
[[tiers]]
name = "standard"
base_priority = 0
standard = { answer_percent = 80, within = "20s" }

[directory]
default_country = "US"
customers = "none.csv"

[lines.main]
number = "+18005550100"
queue = "q"
default = true

[queues.q]
skills = { general = 1 }
wrap_up = "0s"
handle_time = "3m"
"#;

fn plan() -> switchboard_core::RoutePlan {
    let dir = std::env::temp_dir().join(format!("switchboard-sim-erlang-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("none.csv"),
        "customer_id,name,phone_numbers,tier\n",
    )
    .unwrap();
    switchboard_config::parse(CONFIG, &dir.join("switchboard.toml"))
        .unwrap()
        .plan
}

/// Erlang C for `n` agents and `a` Erlangs: the probability a call waits.
fn erlang_c(n: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=n {
        b = a * b / (f64::from(k) + a * b);
    }
    f64::from(n) * b / (f64::from(n) - a * (1.0 - b))
}

/// A day of `hours` with `agents` agents and `erlangs` of offered load at a 180 s mean
/// handle time.
fn scenario(agents: u32, erlangs: f64, hours: usize) -> Scenario {
    let per_interval = erlangs / 180.0 * 900.0;
    let text = format!(
        r#"
seed = 11
interval = "15m"
customers_per_tier = 50000
handle_time = {{ default = {{ exponential = "3m" }} }}

[[arrivals]]
line = "+18005550100"
per_interval = [{}]
callers = {{ standard = 1 }}

[[agents]]
name = "a"
count = {agents}
skills = {{ general = 5 }}
to = "{}h"
"#,
        vec![per_interval.to_string(); hours * 4].join(", "),
        hours + 10
    );
    Scenario::parse(&text, &plan()).unwrap()
}

/// The mean of `f` over the answered calls, and its standard error by batch means.
fn batched(calls: &[CallOutcome], batches: usize, f: impl Fn(f64) -> f64) -> (f64, f64) {
    let intervals = calls.iter().map(|c| c.interval).max().unwrap() + 1;
    let mut sums = vec![(0.0, 0usize); batches];
    for c in calls {
        let wait = c.answered_after.expect("everyone is answered");
        let b = c.interval * batches / intervals;
        sums[b].0 += f(wait);
        sums[b].1 += 1;
    }
    let means: Vec<f64> = sums.iter().map(|(s, n)| s / *n as f64).collect();
    let mean = means.iter().sum::<f64>() / batches as f64;
    let var = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (batches - 1) as f64;
    (mean, (var / batches as f64).sqrt())
}

fn check(name: &str, got: (f64, f64), want: f64, max_se: f64) {
    let (mean, se) = got;
    eprintln!("{name}: simulated {mean:.4} (standard error {se:.4}), Erlang C {want:.4}");
    assert!(
        se < max_se,
        "{name}: too few calls for a meaningful test (se {se})"
    );
    assert!(
        (mean - want).abs() <= 4.0 * se + 0.01 * want,
        "{name}: simulated {mean:.4} +- {se:.4}, Erlang C {want:.4}"
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
