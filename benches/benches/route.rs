//! The route path in process, at realistic scale: 1,000,000 customers in the directory and
//! the shipped routing config.
//!
//! `cargo bench --bench route`

use std::{hint::black_box, sync::Arc};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use switchboard_config::{customers, load_default};
use switchboard_core::{
    Directory, E164, Millis, Router,
    router::{CallRequest, Channel},
};

/// The daemon's allocator, so figures are the daemon's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CUSTOMERS: u64 = 1_000_000;

fn router() -> Router {
    let config = load_default().expect("shipped config");
    let mut csv = Vec::with_capacity(110 * CUSTOMERS as usize);
    switchboard_benches::synthetic::write_csv(&mut csv, CUSTOMERS, 7).unwrap();
    let directory = Directory::new();
    let report = customers::import(csv.as_slice(), &config.plan, &directory).unwrap();
    assert!(
        report.rejected.is_empty(),
        "{:?}",
        &report.rejected[..report.rejected.len().min(5)]
    );
    Router::new(config.plan, Arc::new(directory))
}

fn benches(c: &mut Criterion) {
    let router = router();
    let plan = router.plan();

    let mut g = c.benchmark_group("normalize");
    for (name, raw) in [
        ("e164", "+12125550101"),
        ("national_formatted", "(212) 555-0101"),
        ("sip_uri", "sip:+12125550101@sbc.example.net;user=phone"),
        ("letters_refused", "1-800-FLOWERS"),
    ] {
        g.bench_function(name, |b| b.iter(|| plan.numbers.normalize(black_box(raw))));
    }
    g.finish();

    let known: E164 = "+12125550101".parse().unwrap();
    let unknown: E164 = "+13125550199".parse().unwrap();
    let mut g = c.benchmark_group("directory_lookup_1m");
    g.bench_function("hit", |b| {
        b.iter(|| router.directory().lookup(black_box(known)))
    });
    g.bench_function("miss", |b| {
        b.iter(|| router.directory().lookup(black_box(unknown)))
    });
    g.finish();

    let mut g = c.benchmark_group("route_decision");
    let now = Millis(1_800_000_000_000);
    let mut n = 0u64;
    let mut next_id = || {
        n += 1;
        // Calls accumulate in the router and the live queues as the benchmark runs; forget
        // them now and then (untimed).
        // Few enough that a queue never grows past a realistic thousand waiting calls.
        if n.is_multiple_of(1_000) {
            router.forget_calls_before(Millis(u64::MAX), Millis(u64::MAX));
        }
        format!("bench-{n}")
    };
    for (name, caller, dialed) in [
        ("platinum_known_skips_menu", "+12125550101", "+18005550199"),
        ("unknown_caller_main_menu", "+13125550199", "+18005550100"),
        ("withheld_caller", "anonymous", "+18005550100"),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                &mut next_id,
                |id| {
                    let req = CallRequest {
                        call_id: &id,
                        caller,
                        dialed,
                        channel: Channel::Voice,
                        switch_id: "sbc-1",
                    };
                    router.route(black_box(&req), now).map(|r| r.decision)
                },
                BatchSize::SmallInput,
            )
        });
    }
    router
        .route(
            &CallRequest {
                call_id: "replay",
                caller: "+12125550101",
                dialed: "+18005550199",
                channel: Channel::Voice,
                switch_id: "sbc-1",
            },
            now,
        )
        .unwrap();
    g.bench_function("replayed_call_id", |b| {
        let req = CallRequest {
            call_id: "replay",
            caller: "+12125550101",
            dialed: "+18005550199",
            channel: Channel::Voice,
            switch_id: "sbc-1",
        };
        b.iter(|| router.route(black_box(&req), now).map(|r| r.decision))
    });
    g.finish();
}

/// The budget is on the median of single decisions: time 200,000 of them one by one
/// (known platinum caller, fresh call ids, calls forgotten every 1,000 untimed) and
/// print the percentiles. Each figure includes one clock read (about 20 ns here).
fn percentiles(_: &mut Criterion) {
    let router = router();
    let now = Millis(1_800_000_000_000);
    for (name, caller, dialed) in [
        ("platinum_known_skips_menu", "+12125550101", "+18005550199"),
        ("unknown_caller_main_menu", "+13125550199", "+18005550100"),
    ] {
        let mut times = Vec::with_capacity(200_000);
        let mut id = String::new();
        for n in 0..200_000u64 {
            use std::fmt::Write;
            id.clear();
            let _ = write!(id, "p-{name}-{n}");
            let req = CallRequest {
                call_id: &id,
                caller,
                dialed,
                channel: Channel::Voice,
                switch_id: "sbc-1",
            };
            let start = std::time::Instant::now();
            let routed = router.route(black_box(&req), now);
            times.push(start.elapsed());
            black_box(routed.unwrap());
            if n % 1_000 == 999 {
                router.forget_calls_before(Millis(u64::MAX), Millis(u64::MAX));
            }
        }
        if std::env::var_os("ROUTE_DEBUG").is_some() {
            for band in 0..10 {
                let mut t: Vec<_> = times
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| (i % 1_000) / 100 == band)
                    .map(|(_, d)| *d)
                    .collect();
                t.sort_unstable();
                println!("band {band}: p50 {:?}", t[t.len() / 2]);
            }
        }
        times.sort_unstable();
        let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
        println!(
            "route_decision/{name} single calls: p50 {:?}, p90 {:?}, p99 {:?} (budget p50 < 1 us)",
            at(0.50),
            at(0.90),
            at(0.99)
        );
    }
}

criterion_group!(route, benches, percentiles);
criterion_main!(route);
