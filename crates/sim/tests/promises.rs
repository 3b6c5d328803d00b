//! Two promises the engine makes, checked over simulated days: the estimated wait told to
//! a waiting caller is what they then wait, on average; and aging keeps a standard caller
//! from being passed, however many platinum callers keep arriving, by any who joined the
//! queue more than the tiers' priority gap (in aging minutes) after them.

mod support;

use switchboard_sim::{CallOutcome, Scenario, run};

/// Standard and platinum, 100 points apart: with the queue aging 10 points a minute (as the
/// tests set it), a standard caller outranks a platinum caller who joined 10 minutes later.
const TIERS: &str = r#"
[[tiers]]
name = "standard"
base_priority = 0
standard = { answer_percent = 80, within = "60s" }

[[tiers]]
name = "platinum"
base_priority = 100
standard = { answer_percent = 90, within = "20s" }
"#;

fn plan(aging: u32) -> switchboard_core::RoutePlan {
    support::one_queue_plan(
        &format!("promises-{aging}"),
        TIERS,
        &format!("aging_per_minute = {aging}"),
    )
}

/// `hours` of 10 agents (180 s exponential handle times) offered `erlangs`, the mix of
/// callers given.
fn scenario(
    plan: &switchboard_core::RoutePlan,
    hours: usize,
    erlangs: f64,
    callers: &str,
) -> Scenario {
    support::steady_day(
        plan,
        5,
        "15m",
        hours * 4,
        erlangs / 180.0 * 900.0,
        callers,
        10,
        &format!("to = \"{}h\"", hours + 24),
        "",
    )
}

#[test]
fn the_estimated_wait_told_is_on_average_the_wait_had_on_a_steady_queue() {
    // 10 agents offered 9 Erlangs, callers who never hang up: most wait. On this queue a
    // caller at place k waits on average k handle times over 10 (each of the 10 agents
    // frees up at rate 1/180 s), which is the estimate's formula; the handle time it uses
    // is the queue's measured average (a moving one, so each estimate is off by its
    // noise, which the mean cancels).
    let plan = plan(10);
    let out = run(
        plan.clone(),
        &scenario(&plan, 100, 9.0, "{ standard = 1 }"),
        None,
    );
    let told: Vec<(f64, f64)> = out
        .calls
        .iter()
        .filter_map(|c| Some((c.told?, c.answered_after?)))
        .collect();
    assert!(told.len() > 5_000, "{} callers told", told.len());
    let n = told.len() as f64;
    let mean_told = told.iter().map(|(t, _)| t).sum::<f64>() / n;
    let mean_error = told.iter().map(|(t, w)| w - t).sum::<f64>() / n;
    let mean_abs = told.iter().map(|(t, w)| (w - t).abs()).sum::<f64>() / n;
    eprintln!(
        "{} told, mean told {mean_told:.1}s, mean error {mean_error:.1}s, mean absolute error {mean_abs:.1}s",
        told.len()
    );
    // Stated: on average within 10% of the wait told.
    assert!(
        mean_error.abs() <= 0.10 * mean_told,
        "mean error {mean_error:.1}s against a mean told wait of {mean_told:.1}s"
    );
}

/// Standard callers passed by a platinum caller who joined the queue more than `gap`
/// seconds after them.
fn passed_beyond(calls: &[CallOutcome], gap: f64) -> usize {
    let answered = |c: &CallOutcome| {
        Some((
            c.queued_at? as f64 / 1_000.0,
            c.queued_at? as f64 / 1_000.0 + c.answered_after?,
        ))
    };
    let platinum: Vec<(f64, f64)> = calls
        .iter()
        .filter(|c| c.tier == 1)
        .filter_map(answered)
        .collect();
    calls
        .iter()
        .filter(|c| c.tier == 0)
        .filter_map(answered)
        .filter(|(joined, at)| {
            platinum
                .iter()
                .any(|(p_joined, p_at)| *p_joined > joined + gap && p_at < at)
        })
        .count()
}

#[test]
fn under_platinum_overload_aging_bounds_what_a_standard_caller_waits_behind() {
    // 4 hours of 12 Erlangs on 10 agents, 90% of it platinum: more platinum work than
    // the floor can do, so without aging a standard caller waits until the overload ends.
    let callers = "{ standard = 10, platinum = 90 }";
    let aging = plan(10);
    let out = run(aging.clone(), &scenario(&aging, 4, 12.0, callers), None);
    let worst = |tier: usize| {
        out.calls
            .iter()
            .filter(|c| c.tier == tier)
            .filter_map(|c| c.answered_after)
            .fold(0.0, f64::max)
    };
    eprintln!(
        "aging 10/min: worst wait standard {:.0}s, platinum {:.0}s",
        worst(0),
        worst(1)
    );
    // 100 points at 10 a minute: 600 s, plus a second for the clock's millisecond
    // rounding of effective priorities.
    assert_eq!(passed_beyond(&out.calls, 601.0), 0);
    assert!(
        worst(0) <= worst(1) + 601.0,
        "{} > {} + 601",
        worst(0),
        worst(1)
    );

    // The same day without aging: standard callers are passed by platinum callers who
    // came long after them, which is what the bound above rules out.
    let flat = plan(0);
    let out = run(flat.clone(), &scenario(&flat, 4, 12.0, callers), None);
    let passed = passed_beyond(&out.calls, 601.0);
    eprintln!("aging 0: {passed} standard callers passed");
    assert!(passed > 10, "{passed}");
}
