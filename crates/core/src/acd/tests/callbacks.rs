//! Callbacks scheduled for a time.

use super::*;

#[test]
fn a_scheduled_callback_leaves_its_queue_until_due_then_arrives_as_a_callback() {
    let acd = acd(Strategy::LongestIdle);
    position(call(&acd, SUPPORT, "c1", 5, T0));
    position(call(&acd, SUPPORT, "c2", 0, at(1)));
    assert_eq!(acd.schedule_callback("c1", at(3_600)), Ok(SUPPORT));
    assert_eq!(acd.position("c1"), None, "out of the queue");
    assert_eq!(acd.position("c2"), Some(1));
    assert_eq!(acd.scheduled_for("c1"), Some(at(3_600)));
    assert!(matches!(acd.locate("c1"), Some(Located::Scheduled { due, .. }) if due == at(3_600)));
    // Not yet.
    assert_eq!(acd.release_due_callbacks(at(3_599)).0.len(), 0);
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    // Due: back in its queue as if it arrived then, at its priority, as a callback. Ann,
    // ready, takes the better call first: c2, an hour of aging (60 points) against c1's
    // priority 5 and no wait.
    let (released, made) = acd.release_due_callbacks(at(3_600));
    assert_eq!(released.len(), 1);
    assert!(made.is_empty(), "nobody ready");
    assert_eq!(acd.position("c1"), Some(2));
    let a = acd.ready("ann", at(3_600)).unwrap().pop().unwrap();
    assert_eq!(&*a.call.call_id, "c2");
    // c2's caller hangs up before Ann answers: she takes the callback.
    let a = acd.withdraw_offer("c2", at(3_601)).unwrap().pop().unwrap();
    assert_eq!(&*a.call.call_id, "c1");
    assert!(a.call.callback);
    assert_eq!(a.call.arrived, at(3_600));
}

#[test]
fn a_scheduled_callback_can_be_cancelled_moved_and_only_a_waiting_call_scheduled() {
    let acd = acd(Strategy::LongestIdle);
    position(call(&acd, SUPPORT, "c1", 0, T0));
    assert_eq!(
        acd.schedule_callback("nope", at(60)),
        Err(AcdError::NotWaiting)
    );
    acd.schedule_callback("c1", at(60)).unwrap();
    // Moved to a later time: the same call, due later.
    acd.schedule_callback("c1", at(120)).unwrap();
    assert!(acd.release_due_callbacks(at(100)).0.is_empty());
    assert_eq!(acd.scheduled_for("c1"), Some(at(120)));
    // The customer cancels: gone.
    assert!(acd.abandon("c1"));
    assert_eq!(acd.scheduled_for("c1"), None);
    assert!(acd.release_due_callbacks(at(200)).0.is_empty());
    // A call with an agent is not waiting: it cannot be scheduled.
    acd.log_in(agent("ann", &[("technical", 5)]), T0).unwrap();
    acd.ready("ann", T0).unwrap();
    assigned(call(&acd, SUPPORT, "c2", 0, at(1)));
    assert_eq!(
        acd.schedule_callback("c2", at(60)),
        Err(AcdError::NotWaiting)
    );
}
