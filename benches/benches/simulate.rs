//! A day of a 500-agent center through the simulator: the shipped config and rules, the
//! shipped weekday scenario with nine times its calls (about 60,000) and five times its
//! agents (500). Budget: under 5 s a day; the bench prints simulated calls per second
//! of wall time.
//!
//! `cargo bench --bench simulate`

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use switchboard_sim::{Scenario, run};

/// The daemon's allocator, so figures are the daemon's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The weekday scenario with arrivals times `calls` and agent groups times `agents`.
fn scaled(calls: f64, agents: usize) -> String {
    let text = include_str!("../../config/scenarios/weekday.toml");
    let mut out = String::new();
    let mut in_arrivals = false;
    for line in text.lines() {
        if line.starts_with("per_interval = [") {
            in_arrivals = true;
        } else if in_arrivals && line.starts_with(']') {
            in_arrivals = false;
        } else if in_arrivals {
            let scaled: Vec<String> = line
                .split(',')
                .filter(|n| !n.trim().is_empty())
                .map(|n| format!("{}", n.trim().parse::<f64>().unwrap() * calls))
                .collect();
            out.push_str(&format!("  {},\n", scaled.join(", ")));
            continue;
        } else if let Some(n) = line.strip_prefix("count = ") {
            out.push_str(&format!(
                "count = {}\n",
                n.parse::<usize>().unwrap() * agents
            ));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn benches(c: &mut Criterion) {
    let plan = switchboard_config::load_default().unwrap().plan;
    let scenario = Scenario::parse(&scaled(9.0, 5), &plan).unwrap();
    let agents: usize = scenario.agents.iter().map(|g| g.count).sum();
    assert_eq!(agents, 500);
    let mut calls = 0;
    let mut g = c.benchmark_group("simulate");
    g.sample_size(10).measurement_time(Duration::from_secs(40));
    g.bench_function("day_500_agents", |b| {
        b.iter(|| {
            let out = run(plan.clone(), &scenario, None);
            calls = out.calls.len();
            out
        })
    });
    g.finish();
    // One more, timed alone, for calls per second.
    let started = Instant::now();
    let out = run(plan.clone(), &scenario, None);
    let took = started.elapsed();
    println!(
        "a day of {} calls, {agents} agents: {:.2} s, {:.0} simulated calls per second",
        out.calls.len(),
        took.as_secs_f64(),
        out.calls.len() as f64 / took.as_secs_f64()
    );
    assert_eq!(calls, out.calls.len(), "the same day every time");
}

criterion_group!(simulate, benches);
criterion_main!(simulate);
