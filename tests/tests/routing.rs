//! Routing over real gRPC: menus, skips, lines, tiers, learning and idempotency.

use switchboard_proto::v1::{
    self as pb, decision::Action, routing_client::RoutingClient, submit_input_request::Input,
};
use switchboard_server::Clock;
use switchboard_tests::*;
use tonic::transport::Channel;

fn call(id: &str, caller: &str, dialed: &str) -> pb::RouteCallRequest {
    pb::RouteCallRequest {
        call_id: id.into(),
        caller: caller.into(),
        dialed: dialed.into(),
        channel: pb::Channel::Voice.into(),
        switch_id: "sbc-1".into(),
    }
}

async fn route(
    client: &mut RoutingClient<Channel>,
    id: &str,
    caller: &str,
    dialed: &str,
) -> pb::Decision {
    client
        .route_call(call(id, caller, dialed))
        .await
        .unwrap()
        .into_inner()
}

fn menu(d: &pb::Decision) -> &pb::PlayMenu {
    match &d.action {
        Some(Action::PlayMenu(m)) => m,
        other => panic!("expected a menu, got {other:?} ({})", d.reason),
    }
}

fn queue(d: &pb::Decision) -> (&str, i32) {
    match &d.action {
        Some(Action::Enqueue(e)) => (e.queue.as_str(), e.priority),
        other => panic!("expected a queue, got {other:?} ({})", d.reason),
    }
}

#[tokio::test]
async fn unknown_caller_hears_the_main_menu_with_its_options() {
    let server = start().await;
    let mut c = server.routing().await;
    let d = route(&mut c, "u1", "+13125550177", MAIN_LINE).await;
    let m = menu(&d);
    assert_eq!(
        (m.menu.as_str(), m.prompt.as_str(), m.attempt),
        ("main", "main-menu", 1)
    );
    let options: Vec<(&str, &str)> = m
        .options
        .iter()
        .map(|o| (o.digits.as_str(), o.label.as_str()))
        .collect();
    assert_eq!(
        options,
        [
            ("0", "a person"),
            ("1", "a friendly chat"),
            ("2", "get something done"),
            ("3", "billing")
        ]
    );
    assert_eq!(d.reason, "line entry");
    assert_eq!(d.line, "main");
    assert!(!d.menu_skipped);
    // And the menu leads where it says.
    let next = press(&mut c, "u1", "3").await;
    assert_eq!(queue(&next), ("billing", 0));
    assert_eq!(next.reason, "menu main option 3");
}

#[tokio::test]
async fn withheld_and_malformed_caller_numbers_route_as_unknown_callers() {
    let server = start().await;
    let mut c = server.routing().await;
    for (i, caller) in [
        "anonymous",
        "",
        "Restricted",
        "1-800-FLOWERS",
        "+999 123 4567",
        "212 555 0101 x9",
        "+1 112 555 0101",
    ]
    .iter()
    .enumerate()
    {
        let d = route(&mut c, &format!("w{i}"), caller, MAIN_LINE).await;
        assert_eq!(menu(&d).menu, "main", "caller {caller:?}");
    }
}

#[tokio::test]
async fn always_operator_callers_skip_every_menu() {
    let server = start().await;
    let mut c = server.routing().await;
    let d = route(&mut c, "op1", TOM_ALWAYS_OPERATOR, MAIN_LINE).await;
    assert_eq!(queue(&d), ("operator", 0));
    assert!(d.menu_skipped);
    assert_eq!(d.reason, "rule operator-seekers");
    // In any format the switch sends the number.
    let d = route(&mut c, "op2", "sip:2125550104@sbc.example.net", MAIN_LINE).await;
    assert_eq!(queue(&d).0, "operator");
}

#[tokio::test]
async fn preferences_choose_a_shorter_menu_or_skip_it() {
    // Monday 10:00 in New York: support is open.
    let clock = ManualClock::at("2026-11-23T15:00:00Z");
    let server = start_with_clock(switchboard_config::DEFAULT_CONFIG, clock.clone()).await;
    let mut c = server.routing().await;
    // Nobody staffs support yet: the wait has no bound, so the get-it-done caller gets the
    // short menu and, once in the queue, a callback offer.
    let d = route(&mut c, "g1", GRACE_GET_IT_DONE, MAIN_LINE).await;
    assert_eq!(menu(&d).menu, "quick");
    assert_eq!(menu(&d).options.len(), 3);
    assert_eq!(d.reason, "rule get-it-done-busy");
    let d = press(&mut c, "g1", "1").await;
    match &d.action {
        Some(Action::Enqueue(q)) => {
            assert_eq!(q.queue, "support");
            assert!(q.callback_offered, "{q:?}");
        }
        other => panic!("{other:?}"),
    }
    // Two technical agents log in, both busy elsewhere but staffed: an estimated
    // 1 x 6m / 2 = 3 minutes is within the rule's 4, so the plain rule applies.
    let acd = server.app.router.acd();
    for id in ["tech-1", "tech-2"] {
        acd.log_in(
            switchboard_core::acd::AgentProfile {
                id: id.into(),
                endpoint: format!("sip:{id}@pbx"),
                skills: vec![("technical".into(), 5)],
                tags: vec![],
                capacity: Default::default(),
            },
            clock.now(),
        )
        .unwrap();
        acd.ready(id, clock.now()).unwrap();
    }
    let d = route(&mut c, "g2", GRACE_GET_IT_DONE, MAIN_LINE).await;
    assert_eq!(d.reason, "rule get-it-done");
    // Saturday evening support is closed: busy again, whatever the staffing.
    clock.advance(std::time::Duration::from_secs(5 * 86_400 + 9 * 3_600));
    let d = route(&mut c, "g3", GRACE_GET_IT_DONE, MAIN_LINE).await;
    assert_eq!(d.reason, "rule get-it-done-busy");
    let d = route(&mut c, "f1", LUIS_FRIENDLY_CHAT, MAIN_LINE).await;
    // Gold base priority 20, care queue, no menu.
    assert_eq!(queue(&d), ("care", 20));
    assert!(d.menu_skipped);
}

#[tokio::test]
async fn platinum_members_on_the_platinum_line_reach_their_desk_without_a_menu() {
    let server = start().await;
    let mut c = server.routing().await;
    let d = route(&mut c, "p1", MARIA_PLATINUM, PLATINUM_LINE).await;
    assert_eq!(queue(&d), ("platinum_desk", 50));
    assert_eq!(d.line, "platinum");
    assert!(d.redirect.is_none());
    assert!(d.menu_skipped);
    // Concierge callers are admitted too, and go to their own desk.
    let d = route(&mut c, "p2", PRIYA_CONCIERGE, PLATINUM_LINE).await;
    assert_eq!(queue(&d), ("concierge", 80));
    // Platinum callers on the main line skip the menu as well.
    let d = route(&mut c, "p3", MARIA_PLATINUM, MAIN_LINE).await;
    assert_eq!(queue(&d).0, "platinum_desk");
}

#[tokio::test]
async fn non_members_on_the_platinum_line_are_sent_to_the_main_entry_with_a_reason() {
    let server = start().await;
    let mut c = server.routing().await;
    for (id, caller) in [
        ("n1", JAMES_GOLD),
        ("n2", "+13125550178"),
        ("n3", "anonymous"),
    ] {
        let d = route(&mut c, id, caller, PLATINUM_LINE).await;
        let r = d
            .redirect
            .as_ref()
            .unwrap_or_else(|| panic!("{caller}: no redirect"));
        assert_eq!(
            (r.from_line.as_str(), r.to_line.as_str()),
            ("platinum", "main")
        );
        assert_eq!(r.prompt, "platinum-line-members-only");
        assert_eq!(
            r.reason,
            "line platinum is for platinum and concierge callers"
        );
        assert_eq!(d.line, "main");
        assert_eq!(menu(&d).menu, "main");
    }
}

#[tokio::test]
async fn each_tier_gets_its_priority() {
    let server = start().await;
    let mut c = server.routing().await;
    // Through the menu for standard and gold; straight to the desks for the top tiers.
    route(&mut c, "t-std", EMMA_STANDARD, MAIN_LINE).await;
    let std = press(&mut c, "t-std", "2").await;
    route(&mut c, "t-gold", JAMES_GOLD, MAIN_LINE).await;
    let gold = press(&mut c, "t-gold", "2").await;
    let plat = route(&mut c, "t-plat", MARIA_PLATINUM, MAIN_LINE).await;
    let conc = route(&mut c, "t-conc", PRIYA_CONCIERGE, MAIN_LINE).await;
    assert_eq!(
        [
            queue(&std).1,
            queue(&gold).1,
            queue(&plat).1,
            queue(&conc).1
        ],
        [0, 20, 50, 80]
    );
}

#[tokio::test]
async fn a_repeat_caller_is_raised_by_the_repeat_rule() {
    let server = start().await;
    let mut c = server.routing().await;
    route(&mut c, "r1", MARIA_PLATINUM, MAIN_LINE).await;
    let again = route(&mut c, "r2", MARIA_PLATINUM, MAIN_LINE).await;
    assert_eq!(queue(&again), ("platinum_desk", 60));
    assert_eq!(
        again.matched_rules,
        ["repeat-callers-first", "platinum-desk"]
    );
}

#[tokio::test]
async fn zero_pressers_skip_the_menu_once_learned() {
    let server = start().await;
    let mut c = server.routing().await;
    let caller = "+1 (415) 555-0188";
    for (i, first_answer) in ["0", "3", "0", "0"].iter().enumerate() {
        let id = format!("z{i}");
        let d = route(&mut c, &id, caller, MAIN_LINE).await;
        assert_eq!(menu(&d).menu, "main", "call {i} still hears the menu");
        press(&mut c, &id, first_answer).await;
    }
    let d = route(&mut c, "z-learned", caller, MAIN_LINE).await;
    // Operator queue; +10 because calling again within the week makes a repeat caller.
    assert_eq!(queue(&d), ("operator", 10));
    assert_eq!(d.reason, "rule operator-seekers");
    assert!(d.menu_skipped);
}

#[tokio::test]
async fn a_preference_chosen_in_the_menu_is_remembered() {
    let server = start().await;
    let mut c = server.routing().await;
    let caller = "+14155550189";
    route(&mut c, "m1", caller, MAIN_LINE).await;
    press(&mut c, "m1", "1").await;
    let d = route(&mut c, "m2", caller, MAIN_LINE).await;
    assert_eq!(queue(&d).0, "care");
    assert_eq!(d.reason, "rule friendly-chat");
}

#[tokio::test]
async fn an_explicit_preference_wins_over_learned_zero_outs() {
    let server = start().await;
    let mut c = server.routing().await;
    for i in 0..4 {
        let id = format!("e{i}");
        route(&mut c, &id, GRACE_GET_IT_DONE, MAIN_LINE).await;
        press(&mut c, &id, "0").await;
    }
    let d = route(&mut c, "e-next", GRACE_GET_IT_DONE, MAIN_LINE).await;
    assert_eq!(menu(&d).menu, "quick");
}

#[tokio::test]
async fn the_same_call_id_gets_the_same_decision() {
    let server = start().await;
    let mut c = server.routing().await;
    let first = route(&mut c, "dup-1", EMMA_STANDARD, MAIN_LINE).await;
    // A retry, even one that disagrees about the call, changes nothing.
    let again = route(&mut c, "dup-1", MARIA_PLATINUM, PLATINUM_LINE).await;
    assert_eq!(first, again);
    // Menu progress is not undone by a retried RouteCall either.
    press(&mut c, "dup-1", "2").await;
    assert_eq!(
        route(&mut c, "dup-1", EMMA_STANDARD, MAIN_LINE).await,
        first
    );
    assert_eq!(server.app.router.calls_in_progress(), 1);
}

#[tokio::test]
async fn invalid_menu_input_replays_the_menu_then_falls_back_to_a_person() {
    let server = start().await;
    let mut c = server.routing().await;
    route(&mut c, "i1", EMMA_STANDARD, MAIN_LINE).await;
    let d = press(&mut c, "i1", "9").await;
    assert_eq!((menu(&d).menu.as_str(), menu(&d).attempt), ("main", 2));
    assert_eq!(d.reason, "menu main: input matched no option");
    press(&mut c, "i1", "7").await;
    let d = press(&mut c, "i1", "#").await;
    assert_eq!(queue(&d), ("operator", 0));
    assert_eq!(d.reason, "menu main: no valid input after 3 attempts");
}

#[tokio::test]
async fn a_speech_intent_chooses_like_digits() {
    let server = start().await;
    let mut c = server.routing().await;
    route(&mut c, "s1", EMMA_STANDARD, MAIN_LINE).await;
    let d = c
        .submit_input(pb::SubmitInputRequest {
            call_id: "s1".into(),
            input: Some(Input::Intent("Billing".into())),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(queue(&d).0, "billing");
}

#[tokio::test]
async fn decisions_reveal_nothing_of_the_callers_profile() {
    use prost::Message;
    let server = start().await;
    let mut c = server.routing().await;
    for (id, caller) in [("x1", MARIA_PLATINUM), ("x2", JAMES_GOLD)] {
        let d = route(&mut c, id, caller, PLATINUM_LINE).await;
        let bytes = d.encode_to_vec();
        let text = String::from_utf8_lossy(&bytes);
        for secret in [
            "Maria",
            "Lopez",
            "James",
            "Carter",
            "C000000",
            "gold",
            "48200",
            "agent-007",
        ] {
            assert!(
                !text.contains(secret),
                "decision for {caller} reveals {secret:?}: {d:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_dialed_number_that_is_not_a_line_follows_the_default_line() {
    let server = start().await;
    let mut c = server.routing().await;
    let d = route(&mut c, "d1", EMMA_STANDARD, "+18005550123").await;
    assert_eq!(d.line, "main");
    assert_eq!(menu(&d).menu, "main");
    let d = route(&mut c, "d2", EMMA_STANDARD, "not a number").await;
    assert_eq!(d.line, "main");
}

#[tokio::test]
async fn rules_that_read_the_menu_answers_apply_after_each_answer() {
    let server = start().await;
    let mut c = server.routing().await;
    // James is gold: billing (3) puts him ahead, by rule gold-billing.
    let d = route(&mut c, "gb1", JAMES_GOLD, MAIN_LINE).await;
    assert_eq!(menu(&d).menu, "main");
    let d = press(&mut c, "gb1", "3").await;
    assert_eq!(queue(&d), ("billing", 35));
    assert_eq!(d.reason, "menu main option 3");
    assert_eq!(d.matched_rules, ["gold-billing"]);
    // Emma is standard: the same answer, no boost.
    let d = route(&mut c, "gb2", EMMA_STANDARD, MAIN_LINE).await;
    assert_eq!(menu(&d).menu, "main");
    let d = press(&mut c, "gb2", "3").await;
    assert_eq!(queue(&d), ("billing", 0));
    assert!(d.matched_rules.is_empty());
    // The dry run says so too.
    let e = server
        .admin()
        .await
        .explain_route(pb::ExplainRouteRequest {
            caller: JAMES_GOLD.into(),
            dialed: MAIN_LINE.into(),
            digits: vec!["3".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        e.notes.contains(
            &"after answers \"3\": rule gold-billing matched (priority +15, then stop)".to_owned()
        ),
        "{:?}",
        e.notes
    );
}

#[tokio::test]
async fn a_social_contact_is_routed_and_rules_can_tell_its_channel() {
    // A rule ahead of all the others, so nothing earlier takes the contact.
    let config = switchboard_config::DEFAULT_CONFIG.replacen(
        "[[rules]]",
        "[[rules]]\nname = \"social-first\"\nwhen = 'call.channel == \"social\"'\nthen = { queue = \"care\" }\n\n[[rules]]",
        1,
    );
    let server = start_with(&config).await;
    let mut c = server.routing().await;
    let d = c
        .route_call(pb::RouteCallRequest {
            call_id: "soc-1".into(),
            caller: EMMA_STANDARD.into(),
            dialed: MAIN_LINE.into(),
            channel: pb::Channel::Social.into(),
            switch_id: "sbc-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.reason, "rule social-first", "{d:?}");
    let voice = c
        .route_call(pb::RouteCallRequest {
            call_id: "voice-1".into(),
            caller: EMMA_STANDARD.into(),
            dialed: MAIN_LINE.into(),
            channel: pb::Channel::Voice.into(),
            switch_id: "sbc-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(voice.reason, "rule social-first");
}
