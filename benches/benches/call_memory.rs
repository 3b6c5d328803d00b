//! Memory of calls in flight: the heap bytes and resident memory each live call costs,
//! with the shipped config and no store. Calls from one unknown caller (so the learned
//! behaviour is one entry, not one per call) reach the main menu and stay there, as
//! calls do between a RouteCall and the caller's first key press.
//!
//! Then the once-a-second upkeep over them, with none due: how long it takes to find
//! that nothing is to be forgotten (median of 9).
//!
//! `cargo bench --bench call_memory` (`-- --quick` for 50,000 calls; 1,000,000 otherwise)

use std::{fmt::Write, sync::Arc};

use switchboard_benches::memory::{LiveBytes, live_bytes, resident_bytes};
use switchboard_config::load_default;
use switchboard_core::{
    Directory, Millis, Router,
    router::{CallRequest, Channel},
};

#[global_allocator]
static GLOBAL: LiveBytes = LiveBytes;

const NOW: Millis = Millis(1_800_000_000_000);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let calls: u64 = if quick { 50_000 } else { 1_000_000 };
    let config = load_default().expect("shipped config");
    let router = Router::new(config.plan, Arc::new(Directory::new()));
    // One call first, so that what every call shares (the learned entry, the switch's
    // name) is there before counting.
    let mut id = String::from("warm-up");
    let route = |id: &str| {
        let req = CallRequest {
            call_id: id,
            caller: "+13125550199",
            dialed: "+18005550100",
            channel: Channel::Voice,
            switch_id: "sbc-1",
        };
        router.route(&req, NOW).expect("routed");
    };
    route(&id);
    let (live_before, rss_before) = (live_bytes(), resident_bytes());
    for n in 0..calls {
        id.clear();
        let _ = write!(id, "call-{n:012}");
        route(&id);
    }
    let (live_after, rss_after) = (live_bytes(), resident_bytes());
    let n = calls as f64;
    println!(
        "{calls} live calls at the main menu: heap {:.0} B per call, resident {:.0} B per call",
        (live_after - live_before) as f64 / n,
        rss_after.saturating_sub(rss_before) as f64 / n
    );
    let mut took: Vec<std::time::Duration> = (0..9)
        .map(|_| {
            let start = std::time::Instant::now();
            let forgotten = router.forget_calls(NOW, NOW, NOW);
            let took = start.elapsed();
            assert!(forgotten.calls.is_empty(), "none is due");
            took
        })
        .collect();
    took.sort_unstable();
    println!(
        "upkeep over {calls} live calls, none due: {:?} (median of 9)",
        took[took.len() / 2]
    );
    std::hint::black_box(&router);
}
