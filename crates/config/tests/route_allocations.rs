//! What the common route decision allocates: a known caller, a rule that matches, the call
//! entering its queue. A counting allocator watches each call after a warm-up.
//!
//! The count is exactly three per call, made once for the call's whole life: its id,
//! shared (`Arc<str>`) by the call's state, its place in the queue and its index entries;
//! its state, boxed in the map of calls (so that the map's spare slots are a pointer, not
//! a whole state); and its entry in the queue's lock-free list (a skip list links one
//! node per call). The switch id is shared by all of a switch's calls. Besides that, a
//! map that grows allocates its new table and the list's memory reclamation now and then
//! takes a new batch for retired nodes; the test allows for those and checks they stay
//! rare.

use std::{path::Path, sync::Arc};

use switchboard_config::{DEFAULT_CONFIG, DEFAULT_CUSTOMERS, customers, parse};
use switchboard_core::{
    Directory, Millis, Router,
    router::{Action, CallRequest, Channel, Placement},
};

mod counting;
use counting::allocations;

/// The call's id, its state and its entry in the queue.
const PER_CALL: usize = 3;

/// The allocations of each call routed, for `calls` calls with ids made beforehand.
fn per_call(router: &Router, prefix: &str, calls: usize, now: Millis) -> Vec<usize> {
    let ids: Vec<String> = (0..calls).map(|i| format!("{prefix}-{i}")).collect();
    let mut counts = Vec::with_capacity(calls);
    for id in &ids {
        let request = CallRequest {
            call_id: id,
            // Maria Lopez, platinum: rule platinum-desk sends her to the platinum desk,
            // and after her first call repeat-callers-first raises her priority.
            caller: "+12125550101",
            dialed: "+18005550100",
            channel: Channel::Voice,
            switch_id: "sbc-1",
        };
        let before = allocations();
        let routed = router.route(&request, now).unwrap();
        counts.push(allocations() - before);
        assert!(matches!(routed.decision.action, Action::Enqueue { .. }));
        assert!(matches!(
            routed.decision.placement,
            Placement::Waiting { .. }
        ));
        drop(routed);
    }
    counts
}

#[test]
fn the_common_route_decision_allocates_for_the_call_id_its_state_and_its_place_in_the_queue() {
    let config = parse(DEFAULT_CONFIG, Path::new("t.toml")).unwrap();
    let directory = Directory::new();
    customers::import(DEFAULT_CUSTOMERS.as_bytes(), &config.plan, &directory).unwrap();
    let router = Router::new(config.plan, Arc::new(directory));
    let now = Millis(1_795_435_200_000);
    // Warm up: the caller's learned record exists, the maps have room.
    per_call(&router, "warm", 2_000, now);
    let counts = per_call(&router, "call", 1_000, now);
    let mut sorted = counts.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted[0], PER_CALL,
        "the fewest allocations of one call: {sorted:?}"
    );
    assert_eq!(sorted[sorted.len() / 2], PER_CALL, "the median: {sorted:?}");
    let extra: usize = counts.iter().map(|c| c - PER_CALL).sum();
    eprintln!(
        "{} calls: {PER_CALL} allocations each, and {extra} more in all",
        counts.len()
    );
    // Now and then a growing table or a batch of retired nodes.
    assert!(
        extra <= counts.len() / 4,
        "{extra} allocations beyond {PER_CALL} per call over {} calls",
        counts.len()
    );
}
