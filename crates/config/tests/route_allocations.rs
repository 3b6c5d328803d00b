//! What the common route decision allocates: a known caller, a rule that matches, the call
//! entering its queue. A counting allocator watches each call after a warm-up.
//!
//! The count is exactly two per call, made once for the call's whole life: its id, shared
//! (`Arc<str>`) by the call's state, its place in the queue and its index entries; and
//! its state, boxed in the map of calls (so that the map's spare slots are a pointer,
//! not a whole state). The switch id is shared by all of a switch's calls. Besides that, a queue's ordered map
//! allocates a node now and then (a B-tree node holds up to eleven calls) and a map that
//! grows allocates its new table; the test allows for those and checks they stay rare.

use std::{path::Path, sync::Arc};

use switchboard_config::{DEFAULT_CONFIG, DEFAULT_CUSTOMERS, customers, parse};
use switchboard_core::{
    Directory, Millis, Router,
    router::{Action, CallRequest, Channel, Placement},
};

mod counting;
use counting::allocations;

/// The call's id and its state.
const PER_CALL: usize = 2;

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
fn the_common_route_decision_allocates_once_for_the_call_id_and_once_for_its_state() {
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
    // One B-tree node per few calls, and now and then a growing table.
    assert!(
        extra <= counts.len() / 4,
        "{extra} allocations beyond {PER_CALL} per call over {} calls",
        counts.len()
    );
}
