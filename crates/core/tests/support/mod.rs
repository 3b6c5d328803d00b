//! What the ACD's property tests share: a queue of their shape and a waiting contact.

use std::{sync::Arc, time::Duration};

use switchboard_core::{
    Millis, Preference,
    acd::WaitingCall,
    caller::Channel,
    plan::{Queue, Strategy},
};

/// Queue `q{index}` needing skill `q{index}` at 1, with no callbacks, maximum wait or
/// overflow.
pub(crate) fn queue(
    index: usize,
    strategy: Strategy,
    aging_per_minute: i64,
    wrap_up: Duration,
) -> Queue {
    Queue {
        name: format!("q{index}"),
        skills: vec![(format!("q{index}"), 1)],
        strategy,
        aging_per_minute,
        wrap_up,
        handle_time: Duration::from_secs(180),
        callback_after: Some(Duration::from_secs(300)),
        max_wait: None,
        overflow: vec![],
        retired: false,
        part_of: None,
        when_closed: None,
    }
}

/// A contact of `channel` from switch `sbc`, tier 0, no preference.
pub(crate) fn contact(id: &str, priority: i32, arrived: Millis, channel: Channel) -> WaitingCall {
    WaitingCall {
        call_id: Arc::from(id),
        switch_id: Arc::from("sbc"),
        priority,
        arrived,
        preference: Preference::None,
        callback: false,
        tier: switchboard_core::TierId(0),
        max_wait_met: false,
        channel,
    }
}
