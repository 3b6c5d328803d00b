//! Reloading a large config (1,000 rules, 200 queues) into a running router with 2,000
//! agents logged in and 1,000 calls waiting, and evaluating that many rules on a call.
//!
//! `cargo bench --bench reload`

use std::{hint::black_box, path::PathBuf, sync::Arc};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use switchboard_benches::large_config::{SKILLS, text};
use switchboard_config::ConfigFiles;
use switchboard_core::{
    Directory, Millis, RoutePlan, Router,
    acd::{AgentProfile, WaitingCall},
    plan::QueueId,
    router::{CallRequest, Channel},
};

/// The daemon's allocator, so figures are the daemon's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const QUEUES: usize = 200;
const RULES: usize = 1_000;
const AGENTS: usize = 2_000;
const WAITING: usize = 1_000;
const NOW: Millis = Millis(1_800_000_000_000);

fn files(aging: u32) -> ConfigFiles {
    ConfigFiles {
        files: vec![("large.toml".into(), text(QUEUES, RULES, aging))],
        base_dir: PathBuf::from("."),
    }
}

/// A router on the large config with agents logged in (not ready, so calls wait) and
/// calls waiting across the queues.
fn busy_router() -> Router {
    let plan = files(10).compile(None).expect("large config").plan;
    let router = Router::new(plan, Arc::new(Directory::new()));
    let acd = router.acd();
    for i in 0..AGENTS {
        let skills = (0..3)
            .map(|k| (format!("skill_{}", (i + k) % SKILLS), 5))
            .collect();
        acd.log_in(
            AgentProfile {
                id: format!("agent-{i}"),
                endpoint: format!("sip:agent-{i}@pbx"),
                skills,
                tags: vec![],
                capacity: Default::default(),
            },
            NOW,
        )
        .unwrap();
    }
    for i in 0..WAITING {
        let call = WaitingCall {
            call_id: Arc::from(format!("w{i}").as_str()),
            switch_id: Arc::from("sbc-1"),
            priority: (i % 7) as i32 * 10,
            arrived: Millis(NOW.0 - (i as u64) * 1_000),
            preference: switchboard_core::Preference::None,
            callback: false,
            tier: switchboard_core::TierId(0),
            max_wait_met: false,
            channel: Default::default(),
        };
        acd.enqueue(QueueId((i % QUEUES) as u16), call, NOW)
            .unwrap();
    }
    router
}

fn benches(c: &mut Criterion) {
    let router = busy_router();
    let mut g = c.benchmark_group("reload_1000_rules_200_queues");
    g.sample_size(30);
    let (a, b) = (files(10), files(12));
    g.bench_function("check_text", |bench| {
        bench.iter(|| black_box(&a).compile(None).map(|c| c.plan.rules.len()))
    });
    // Alternating aging rates, so every apply re-keys the waiting calls too.
    let plans: [RoutePlan; 2] = [
        a.compile(Some(&router.plan())).unwrap().plan,
        b.compile(Some(&router.plan())).unwrap().plan,
    ];
    let mut turn = 0usize;
    g.bench_function("apply_to_running_router", |bench| {
        bench.iter_batched(
            || {
                turn += 1;
                plans[turn % 2].clone()
            },
            |plan| router.reload(plan, NOW).map(|r| r.moved),
            BatchSize::LargeInput,
        )
    });
    let mut turn = 0usize;
    g.bench_function("check_and_apply", |bench| {
        bench.iter(|| {
            turn += 1;
            let files = if turn.is_multiple_of(2) { &a } else { &b };
            let plan = files.compile(Some(&router.plan())).unwrap().plan;
            router.reload(plan, NOW).map(|r| r.moved)
        })
    });
    g.finish();

    // A call no rule takes: every one of the 1,000 conditions is evaluated.
    let mut g = c.benchmark_group("rules_1000");
    let mut n = 0u64;
    g.bench_function("route_through_every_rule", |bench| {
        bench.iter_batched(
            || {
                n += 1;
                if n.is_multiple_of(1_000) {
                    router.forget_calls_before(Millis(u64::MAX), Millis(u64::MAX));
                }
                format!("through-{n}")
            },
            |id| {
                let req = CallRequest {
                    call_id: &id,
                    caller: "+13125550199",
                    dialed: "+18005550100",
                    channel: Channel::Voice,
                    switch_id: "sbc-1",
                };
                router.route(black_box(&req), NOW).map(|r| r.decision)
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(reload, benches);
criterion_main!(reload);
