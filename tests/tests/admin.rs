//! Customers, explanations, health and reflection over real gRPC.

use std::collections::HashMap;

use switchboard_proto::v1::{self as pb, decision::Action, get_customer_request::Key};
use switchboard_tests::*;

fn customer(id: &str, numbers: &[&str], tier: &str) -> pb::Customer {
    pb::Customer {
        customer_id: id.into(),
        name: format!("Test {id}"),
        phone_numbers: numbers.iter().map(|s| s.to_string()).collect(),
        tier: tier.into(),
        preference: pb::Preference::None.into(),
        language: "en".into(),
        lifetime_value: 1_250.0,
        influence: 30,
        tags: vec!["new-customer".into()],
        attributes: HashMap::from([("device_purchased".into(), "2023-05-01".into())]),
        preferred_agent: String::new(),
        ..Default::default()
    }
}

#[tokio::test]
async fn upserted_customers_are_found_by_id_and_any_number_format_and_route_by_tier() {
    let server = start().await;
    let mut admin = server.admin().await;
    let view = admin
        .upsert_customer(pb::UpsertCustomerRequest {
            customer: Some(customer(
                "T-1",
                &["(646) 555-0142", "+44 7700 900456"],
                "platinum",
            )),
        })
        .await
        .unwrap()
        .into_inner();
    let stored = view.customer.unwrap();
    assert_eq!(stored.phone_numbers, ["+16465550142", "+447700900456"]);
    assert_eq!(stored.tier, "platinum");

    let by_number = admin
        .get_customer(pb::GetCustomerRequest {
            key: Some(Key::PhoneNumber("0044 7700 900456".into())),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_number.customer.unwrap().customer_id, "T-1");
    let by_id = admin
        .get_customer(pb::GetCustomerRequest {
            key: Some(Key::CustomerId("T-1".into())),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        by_id.customer.unwrap().attributes["device_purchased"],
        "2023-05-01"
    );

    let mut routing = server.routing().await;
    let d = routing
        .route_call(pb::RouteCallRequest {
            call_id: "after-upsert".into(),
            caller: "+16465550142".into(),
            dialed: PLATINUM_LINE.into(),
            switch_id: "sbc-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    match d.action {
        Some(Action::Enqueue(e)) => {
            assert_eq!((e.queue.as_str(), e.priority), ("platinum_desk", 50))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn sample_customers_are_loaded_at_start() {
    let server = start().await;
    let mut admin = server.admin().await;
    let view = admin
        .get_customer(pb::GetCustomerRequest {
            key: Some(Key::PhoneNumber(MARIA_PLATINUM.into())),
        })
        .await
        .unwrap()
        .into_inner();
    let c = view.customer.unwrap();
    assert_eq!(
        (c.customer_id.as_str(), c.name.as_str(), c.tier.as_str()),
        ("C0000001", "Maria Lopez", "platinum")
    );
    assert!(server.app.router.directory().len() >= 1_000);
}

#[tokio::test]
async fn the_customer_view_shows_what_was_learned_and_where_the_preference_came_from() {
    let server = start().await;
    let mut routing = server.routing().await;
    for i in 0..3 {
        let id = format!("l{i}");
        routing
            .route_call(pb::RouteCallRequest {
                call_id: id.clone(),
                caller: EMMA_STANDARD.into(),
                dialed: MAIN_LINE.into(),
                switch_id: "sbc-1".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        routing
            .submit_input(pb::SubmitInputRequest {
                call_id: id,
                input: Some(pb::submit_input_request::Input::Digits("0".into())),
            })
            .await
            .unwrap();
    }
    let view = server
        .admin()
        .await
        .get_customer(pb::GetCustomerRequest {
            key: Some(Key::CustomerId("C0000007".into())),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(view.effective_preference(), pb::Preference::AlwaysOperator);
    assert_eq!(
        view.preference_source(),
        pb::PreferenceSource::LearnedZeroOut
    );
    assert_eq!(
        (view.learned[0].observed_calls, view.learned[0].zero_outs),
        (3, 3)
    );
    assert!(view.learned[0].last_call.is_some());
    // The customer's second number has its own, empty, record.
    assert_eq!(view.learned[1].observed_calls, 0);
    // And the explicit profile preference is untouched.
    assert_eq!(view.customer.unwrap().preference(), pb::Preference::None);
}

#[tokio::test]
async fn explain_route_names_every_rule_its_conditions_and_the_decisions() {
    let server = start().await;
    let mut admin = server.admin().await;
    let e = admin
        .explain_route(pb::ExplainRouteRequest {
            caller: JAMES_GOLD.into(),
            dialed: PLATINUM_LINE.into(),
            channel: 0,
            digits: vec!["2".into()],
            at: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            e.caller.as_str(),
            e.caller_known,
            e.customer_id.as_str(),
            e.tier.as_str()
        ),
        (JAMES_GOLD, true, "C0000002", "gold")
    );
    let names: Vec<&str> = e.rules.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(
        names,
        [
            "repeat-callers-first",
            "warranty-offer",
            "concierge",
            "platinum-desk",
            "operator-seekers",
            "friendly-chat",
            "get-it-done-busy",
            "get-it-done",
            "gold-billing"
        ]
    );
    // James's device is from 2023-02-01: more than two years old, so the agent's screen
    // gets the warranty offer; no other rule matches.
    let matched: Vec<&str> = e
        .rules
        .iter()
        .filter(|r| r.matched)
        .map(|r| r.rule.as_str())
        .collect();
    assert_eq!(matched, ["warranty-offer"]);
    let warranty = &e.rules[1].conditions[0];
    assert_eq!(
        warranty.condition,
        "caller.attr.device_purchased < days_ago(730)"
    );
    assert!(
        warranty.actual.starts_with("2023-02-01 vs "),
        "{warranty:?}"
    );
    assert_eq!(
        e.rules[1].effect,
        "offer \"extended-warranty\", then continue"
    );
    let platinum = &e.rules[3];
    assert_eq!(
        platinum.conditions[0].condition,
        "caller.tier == \"platinum\""
    );
    assert_eq!(platinum.conditions[0].actual, "gold");
    assert_eq!(platinum.effect, "queue platinum_desk, then stop");
    assert!(
        e.notes
            .iter()
            .any(|n| n == "line platinum does not admit tier gold: redirected to line main"),
        "{:?}",
        e.notes
    );
    assert_eq!(e.decisions.len(), 2);
    match &e.decisions[1].action {
        Some(Action::Enqueue(q)) => assert_eq!((q.queue.as_str(), q.priority), ("support", 20)),
        other => panic!("{other:?}"),
    }
    // Nothing was recorded by the dry run.
    assert_eq!(server.app.router.calls_in_progress(), 0);
}

#[tokio::test]
async fn health_reports_serving_and_reflection_lists_the_services() {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let server = start().await;
    let mut health = HealthClient::new(server.channel().await);
    for (service, status) in [
        ("", ServingStatus::Serving),
        ("switchboard.v1.Routing", ServingStatus::Serving),
        ("switchboard.v1.Admin", ServingStatus::Serving),
        ("switchboard.v1.Agents", ServingStatus::Serving),
    ] {
        let r = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.status(), status, "{service:?}");
    }

    let mut reflection = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for name in [
        "switchboard.v1.Routing",
        "switchboard.v1.Agents",
        "switchboard.v1.Admin",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} missing from {names:?}"
        );
    }
}

#[tokio::test]
async fn explain_route_can_be_asked_about_another_time() {
    let server = start().await;
    let e = server
        .admin()
        .await
        .explain_route(pb::ExplainRouteRequest {
            caller: GRACE_GET_IT_DONE.into(),
            dialed: MAIN_LINE.into(),
            // Saturday 2026-11-28 18:00 in New York.
            at: Some(prost_types::Timestamp {
                seconds: 1_795_906_800,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let busy = e
        .rules
        .iter()
        .find(|r| r.rule == "get-it-done-busy")
        .unwrap();
    assert!(busy.matched);
    let hours = busy
        .conditions
        .iter()
        .find(|c| c.condition == "not open(\"support_hours\")")
        .unwrap();
    assert_eq!(
        (hours.actual.as_str(), hours.matched),
        ("closed at sat 18:00 America/New_York", true)
    );
}
