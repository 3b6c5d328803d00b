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
//! Cases: `normalize`, `lookup`, `route_shipped`, `route_200_rules`, `enqueue_idle`,
//! `agent_ready`.

use std::{hint::black_box, sync::Arc};

use switchboard_benches::floor::{self, IDLE_QUEUE, NOW};
use switchboard_config::{customers, load_default};
use switchboard_core::{
    Directory, E164, Millis, RoutePlan, Router,
    acd::{Acd, Assignment, Placed, WaitingCall},
    caller::Channel,
    plan::LineId,
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
    let router = Router::new(floor::plan(), Arc::new(Directory::new()));
    floor::staff(router.acd());
    router
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
                "unknown case {other:?}: normalize, lookup, route_shipped, route_200_rules, enqueue_idle or agent_ready"
            );
            std::process::exit(2);
        }
    }
}
