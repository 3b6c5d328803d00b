//! The hot path's operations, one at a time, for counting their instructions under
//! `valgrind --tool=callgrind`: repeatable where timings on a shared machine are not.
//! `.ci/instructions` runs each case under callgrind, collecting only inside its
//! `measured_*` function, and holds the instructions per operation to the baseline in
//! `benches/instructions.txt`.
//!
//! `hot_path_instructions CASE N` sets the case up (not counted), then performs its
//! operation N times, each through its `measured_*` function (counted); anything done to
//! undo an operation between two (a call withdrawn, an agent stepping away) is outside it.
//!
//! Cases: `normalize`, `lookup`, `route_shipped`, `route_200_rules` (the rules'
//! decision for a known caller), `route_full_shipped`, `route_full_200_rules` (whole
//! calls routed: looked up, decided and placed, the latter for callers spread over the
//! directory on the floor of the queue benches), `enqueue_idle`, `agent_ready`.

use std::{hint::black_box, sync::Arc};

use switchboard_benches::floor::{self, IDLE_QUEUE, NOW};
use switchboard_config::{customers, load_default};
use switchboard_core::{
    Directory, E164, Millis, RoutePlan, Router,
    acd::{Acd, Assignment, Placed, WaitingCall},
    caller::Channel,
    plan::LineId,
    router::CallRequest,
};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Customers in the directory: enough for realistic maps, few enough to load quickly
/// under valgrind. Instruction counts of a hash look-up do not depend on the size.
const CUSTOMERS: u64 = 20_000;

/// A platinum customer of the synthetic file's personas.
const KNOWN: &str = "+12125550101";

fn directory(plan: &RoutePlan) -> Directory {
    let mut csv = Vec::new();
    switchboard_benches::synthetic::write_csv(&mut csv, CUSTOMERS, 7).unwrap();
    let directory = Directory::new();
    customers::import(csv.as_slice(), plan, &directory).unwrap();
    directory
}

#[inline(never)]
fn measured_normalize(plan: &RoutePlan, raw: &str) -> bool {
    plan.numbers.normalize(black_box(raw)).is_ok()
}

#[inline(never)]
fn measured_lookup(directory: &Directory, number: E164) -> bool {
    directory.lookup(black_box(number)).is_some()
}

/// A known caller on the main line: who they are (normalized and looked up), then the
/// rules' decision.
#[inline(never)]
fn measured_route(router: &Router, plan: &RoutePlan, line: LineId) -> i32 {
    let caller = router.caller(plan, black_box(KNOWN), NOW);
    router.decide(plan, &caller, line, Channel::Voice, NOW).1
}

/// A whole RouteCall in the core: the caller looked up, the rules' decision, the call
/// placed (queued, or offered to an idle agent).
#[inline(never)]
fn measured_full(router: &Router, req: &CallRequest<'_>) -> bool {
    router.route(black_box(req), NOW).is_ok()
}

#[inline(never)]
fn measured_enqueue(acd: &Acd, call: WaitingCall) -> Option<Assignment> {
    match acd.enqueue(IDLE_QUEUE, black_box(call), NOW) {
        Ok(Placed::Assigned(a)) => Some(a),
        _ => None,
    }
}

#[inline(never)]
fn measured_ready(acd: &Acd, id: &str) -> Vec<Assignment> {
    acd.ready(black_box(id), NOW).unwrap()
}

fn route(plan: RoutePlan, n: u64) {
    let directory = directory(&plan);
    let router = Router::new(plan, Arc::new(directory));
    let plan = router.plan();
    let line = plan.lines.iter().position(|l| l.name == "main").unwrap();
    let line = LineId(line as u16);
    for _ in 0..n {
        black_box(measured_route(&router, &plan, line));
    }
}

/// The floor of the queue benches (5,000 agents, 1,000 waiting calls, 200 rules).
fn floor_router() -> Router {
    floor_router_with(Directory::new())
}

fn floor_router_with(directory: Directory) -> Router {
    let router = Router::new(floor::plan(), Arc::new(directory));
    floor::staff(router.acd());
    router
}

/// Whole calls routed (looked up, decided, placed), fresh call ids, the `i`-th from
/// `callers[i % len]` to `dialed(i)`; calls are forgotten every 1,000 (not counted),
/// which frees the agents they reached.
fn route_full(router: &Router, callers: &[String], dialed: impl Fn(u64) -> &'static str, n: u64) {
    let mut id = String::new();
    for i in 0..n {
        use std::fmt::Write;
        id.clear();
        let _ = write!(id, "route-{i}");
        let req = CallRequest {
            call_id: &id,
            caller: &callers[(i as usize * 13) % callers.len()],
            dialed: dialed(i),
            channel: Channel::Voice,
            switch_id: "sbc-1",
        };
        assert!(measured_full(router, &req));
        if i % 1_000 == 999 {
            router.forget_calls_before(Millis(u64::MAX), Millis(u64::MAX));
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_default();
    let n: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1_000);
    match case.as_str() {
        "normalize" => {
            let plan = load_default().unwrap().plan;
            for _ in 0..n {
                assert!(measured_normalize(&plan, "(212) 555-0101"));
            }
        }
        "lookup" => {
            let plan = load_default().unwrap().plan;
            let directory = directory(&plan);
            let known: E164 = KNOWN.parse().unwrap();
            for _ in 0..n {
                assert!(measured_lookup(&directory, known));
            }
        }
        "route_shipped" => route(load_default().unwrap().plan, n),
        "route_200_rules" => route(floor::plan(), n),
        "route_full_shipped" => {
            let plan = load_default().unwrap().plan;
            let router = Router::new(plan.clone(), Arc::new(directory(&plan)));
            let callers = [KNOWN.to_owned()];
            route_full(&router, &callers, |_| "+18005550199", n);
        }
        "route_full_200_rules" => {
            let router = floor_router_with(directory(&floor::plan()));
            // Callers spread over the directory, one in four on the platinum line.
            let callers: Vec<String> = (0..4_096u64)
                .map(|k| {
                    switchboard_benches::synthetic::customer_number(k * 241 % (CUSTOMERS - 100))
                })
                .collect();
            route_full(
                &router,
                &callers,
                |i| {
                    if i % 4 == 0 {
                        "+18005550199"
                    } else {
                        "+18005550100"
                    }
                },
                n,
            );
        }
        "enqueue_idle" => {
            let router = floor_router();
            let acd = router.acd();
            for i in 0..n {
                // Met by an idle agent at once; undone by the caller hanging up.
                let call = floor::call(&format!("i-{i}"), 0, NOW);
                let a = measured_enqueue(acd, call).expect("an idle agent");
                let mut next = acd.withdraw_offer(&a.call.call_id, NOW).unwrap();
                while let Some(a) = next.pop() {
                    next = acd.withdraw_offer(&a.call.call_id, NOW).unwrap();
                }
            }
        }
        "agent_ready" => {
            let router = floor_router();
            let acd = router.acd();
            // An agent serving 10 queues with calls waiting takes the best of them;
            // undone by letting it ring out (back to its place, the agent away).
            let skills: Vec<usize> = (10..20).collect();
            acd.log_in(floor::agent("ready-0".into(), skills), NOW)
                .unwrap();
            for _ in 0..n {
                let a = measured_ready(acd, "ready-0")
                    .pop()
                    .expect("a call was waiting");
                acd.no_answer("ready-0", &a.call.call_id, 1, Millis(NOW.0))
                    .unwrap();
            }
        }
        other => {
            eprintln!(
                "unknown case {other:?}: normalize, lookup, route_shipped, route_200_rules, route_full_shipped, route_full_200_rules, enqueue_idle or agent_ready"
            );
            std::process::exit(2);
        }
    }
}
