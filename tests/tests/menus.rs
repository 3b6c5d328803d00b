//! Callers who hang up at a menu: the switch's ABANDONED ends the call there, with its
//! own outcome, a record of how far the caller got and a count per menu, and frees its
//! memory at once; a call silent at a menu past `calls.menu_timeout` is ended too.

use std::time::Duration;

use switchboard_proto::v1::{self as pb, decision::Action};
use switchboard_store::Store;
use switchboard_tests::*;
use tonic::Code;

fn stranger(id: &str) -> pb::RouteCallRequest {
    pb::RouteCallRequest {
        call_id: id.into(),
        caller: "+13125550188".into(),
        dialed: MAIN_LINE.into(),
        switch_id: "sbc-1".into(),
        ..Default::default()
    }
}

fn abandoned(id: &str) -> pb::CallEvent {
    pb::CallEvent {
        call_id: id.into(),
        kind: pb::CallEventKind::Abandoned.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_caller_who_hangs_up_at_a_menu_ends_the_call_there_with_a_record_and_a_count() {
    let store = temp_dir("menu-hang-up").join("s.db");
    let (server, metrics) = scraped(start_stored(&store, ManualClock::new()).await).await;
    let mut routing = server.routing().await;
    let d = routing
        .route_call(stranger("m1"))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(d.action, Some(Action::PlayMenu(_))), "{d:?}");
    // A wrong key replays the menu; then the caller gives up.
    press(&mut routing, "m1", "9").await;
    routing.route_call(stranger("m2")).await.unwrap();
    let before = scrape(metrics).await;
    assert_eq!(before.get("switchboard_calls_in_memory"), Some(&2.0));

    let ack = routing
        .report_call_event(pb::CallEvent {
            satisfaction: 2,
            ..abandoned("m1")
        })
        .await
        .unwrap()
        .into_inner();
    assert!(ack.applied);
    // The switch repeats its report: acknowledged, nothing more happens.
    let again = routing
        .report_call_event(abandoned("m1"))
        .await
        .unwrap()
        .into_inner();
    assert!(!again.applied);
    // Anything else for the call is refused: it is over.
    let err = routing
        .submit_input(pb::SubmitInputRequest {
            call_id: "m1".into(),
            input: Some(pb::submit_input_request::Input::Digits("1".into())),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = routing
        .report_call_event(pb::CallEvent {
            kind: pb::CallEventKind::Connected.into(),
            agent_id: "ann".into(),
            ..abandoned("m1")
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (
            Code::FailedPrecondition,
            "call \"m1\" is over: the caller hung up at a menu"
        )
    );

    let after = scrape(metrics).await;
    // Memory freed at once, not after calls.forget_after.
    assert_eq!(after.get("switchboard_calls_in_memory"), Some(&1.0));
    assert_eq!(
        after.get("switchboard_calls_abandoned_in_menu_total{menu=\"main\"}"),
        Some(&1.0)
    );
    // Not a queue's abandoned call: service levels are not touched (every queue's
    // abandoned counter stays at zero).
    let abandoned: f64 = after
        .iter()
        .filter(|(k, _)| k.starts_with("switchboard_calls_abandoned_total"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(abandoned, 0.0, "{after:?}");
    // The survey riding on the hang-up still counts (a call that never reached a queue).
    assert_eq!(
        after.get("switchboard_satisfaction_responses_total{queue=\"none\",tier=\"standard\"}"),
        Some(&1.0)
    );

    // The record says how it ended, and the journal no longer holds the call.
    server.app.flush_store().unwrap();
    let records = Store::open(&store).unwrap().call_records("m1").unwrap();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.outcome, "abandoned_in_menu");
    assert_eq!(r.decision, "menu main");
    assert_eq!(r.queue, None);
    assert_eq!(r.satisfaction, Some(2));
    assert!(r.ended_at.is_some());
    assert!(!Store::open(&store).unwrap().has_live_call("m1").unwrap());

    // The other caller, still at the menu, goes on as usual.
    let d = press(&mut routing, "m2", "0").await;
    assert!(matches!(d.action, Some(Action::Enqueue(_))), "{d:?}");
}

#[tokio::test]
async fn a_call_silent_at_a_menu_past_the_menu_timeout_is_ended_and_freed() {
    let store = temp_dir("menu-silent").join("s.db");
    let clock = ManualClock::new();
    let config = format!(
        "{}\n",
        stored_config(&store).replace(
            "forget_after = \"4h\"",
            "forget_after = \"4h\"\nmenu_timeout = \"2m\""
        )
    );
    let config = switchboard_config::parse(&config, std::path::Path::new("test.toml")).unwrap();
    assert_eq!(config.settings.menu_timeout, Duration::from_secs(120));
    let (app, _) = switchboard_server::App::with_store(
        config,
        &switchboard_server::CustomerSource::Embedded,
        clock.clone(),
    )
    .unwrap();
    let (server, metrics) = scraped(serve_app(app).await).await;
    let mut routing = server.routing().await;
    routing.route_call(stranger("quiet")).await.unwrap();
    routing.route_call(stranger("answering")).await.unwrap();
    clock.advance(Duration::from_secs(90));
    // One caller answers (a new decision, another menu timeout from now) ...
    press(&mut routing, "answering", "9").await;
    clock.advance(Duration::from_secs(60));
    // ... the other has said nothing for 2.5 minutes: gone within the next look.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = scrape(metrics).await;
        if s.get("switchboard_calls_expired_in_menu_total{menu=\"main\"}") == Some(&1.0) {
            assert_eq!(s.get("switchboard_calls_in_memory"), Some(&1.0));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        routing
            .report_call_event(abandoned("quiet"))
            .await
            .is_err_and(|e| e.code() == Code::NotFound)
    );
    server.app.flush_store().unwrap();
    let r = &Store::open(&store).unwrap().call_records("quiet").unwrap()[0];
    assert_eq!(r.outcome, "expired");
    // The one who answered is still at the menu, a minute into its new timeout.
    let d = press(&mut routing, "answering", "0").await;
    assert!(matches!(d.action, Some(Action::Enqueue(_))), "{d:?}");
}
