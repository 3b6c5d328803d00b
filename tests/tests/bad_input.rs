//! Each kind of bad request is refused with the right code and the field named, and the
//! server goes on serving everything else.

use switchboard_proto::v1::{
    self as pb, decision::Action, get_customer_request::Key, submit_input_request::Input,
};
use switchboard_tests::*;
use tonic::Code;

fn call(id: &str) -> pb::RouteCallRequest {
    pb::RouteCallRequest {
        call_id: id.into(),
        caller: EMMA_STANDARD.into(),
        dialed: MAIN_LINE.into(),
        channel: pb::Channel::Voice.into(),
        switch_id: "sbc-1".into(),
    }
}

fn assert_status(err: tonic::Status, code: Code, message: &str) {
    assert_eq!((err.code(), err.message()), (code, message));
}

#[tokio::test]
async fn malformed_route_requests_are_invalid_arguments_naming_the_field() {
    let server = start().await;
    let mut c = server.routing().await;
    // A call in progress that must not be disturbed.
    c.route_call(call("keep")).await.unwrap();

    let cases = [
        (
            pb::RouteCallRequest {
                call_id: String::new(),
                ..call("")
            },
            "call_id: must not be empty",
        ),
        (
            call(&"c".repeat(129)),
            "call_id: longer than 128 characters",
        ),
        (
            call("has space"),
            "call_id: must be printable ASCII without spaces",
        ),
        (
            call("tab\tid"),
            "call_id: must be printable ASCII without spaces",
        ),
        (
            pb::RouteCallRequest {
                channel: 99,
                ..call("ch")
            },
            "channel: unknown value 99",
        ),
        (
            pb::RouteCallRequest {
                caller: "1".repeat(65),
                ..call("long-caller")
            },
            "caller: longer than 64 characters",
        ),
        (
            // An email's sender may be longer than a number, but not without bound.
            pb::RouteCallRequest {
                caller: format!("{}@example.com", "a".repeat(243)),
                channel: pb::Channel::Email.into(),
                ..call("long-sender")
            },
            "caller: longer than 254 characters",
        ),
        (
            pb::RouteCallRequest {
                dialed: "+".repeat(65),
                ..call("long-dialed")
            },
            "dialed: longer than 64 characters",
        ),
        (
            pb::RouteCallRequest {
                switch_id: "s".repeat(129),
                ..call("long-switch")
            },
            "switch_id: longer than 128 characters",
        ),
        (
            pb::RouteCallRequest {
                switch_id: String::new(),
                ..call("no-switch")
            },
            "switch_id: must not be empty",
        ),
    ];
    for (request, message) in cases {
        let err = c.route_call(request).await.unwrap_err();
        assert_status(err, Code::InvalidArgument, message);
    }
    // Nothing was recorded for the refused calls; the good one is untouched and usable.
    assert_eq!(server.app.router.calls_in_progress(), 1);
    let d = c
        .submit_input(pb::SubmitInputRequest {
            call_id: "keep".into(),
            input: Some(Input::Digits("2".into())),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(d.action, Some(Action::Enqueue(ref e)) if e.queue == "support"));
}

#[tokio::test]
async fn bad_menu_input_is_refused_by_field_and_state() {
    let server = start().await;
    let mut c = server.routing().await;
    c.route_call(call("m")).await.unwrap();
    let submit = |id: &str, input: Option<Input>| pb::SubmitInputRequest {
        call_id: id.into(),
        input,
    };
    let cases = [
        (
            submit("m", Some(Input::Digits("1a".into()))),
            Code::InvalidArgument,
            "digits: only 0-9, * and # are digits",
        ),
        (
            submit("m", Some(Input::Digits(String::new()))),
            Code::InvalidArgument,
            "digits: must not be empty",
        ),
        (
            submit("m", Some(Input::Digits("1".repeat(33)))),
            Code::InvalidArgument,
            "digits: more than 32 digits",
        ),
        (
            submit("m", Some(Input::Intent("x".repeat(65)))),
            Code::InvalidArgument,
            "intent: longer than 64 characters",
        ),
        (
            submit("m", None),
            Code::InvalidArgument,
            "input: set digits or intent",
        ),
        (
            submit("nope", Some(Input::Digits("1".into()))),
            Code::NotFound,
            "call_id: unknown call \"nope\"",
        ),
        (
            submit("", Some(Input::Digits("1".into()))),
            Code::InvalidArgument,
            "call_id: must not be empty",
        ),
    ];
    for (request, code, message) in cases {
        assert_status(c.submit_input(request).await.unwrap_err(), code, message);
    }
    // The call is still at its first menu attempt: bad requests did not count as input.
    let d = c
        .submit_input(submit("m", Some(Input::Digits("3".into()))))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(d.action, Some(Action::Enqueue(ref e)) if e.queue == "billing"));
    // Now queued: more input is a state error.
    let err = c
        .submit_input(submit("m", Some(Input::Digits("1".into()))))
        .await
        .unwrap_err();
    assert_status(err, Code::FailedPrecondition, "call \"m\" is not at a menu");
}

fn customer(id: &str, number: &str) -> pb::Customer {
    pb::Customer {
        customer_id: id.into(),
        name: "Test".into(),
        phone_numbers: vec![number.into()],
        tier: "gold".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn bad_customers_are_refused_naming_the_field_and_nothing_is_stored() {
    let server = start().await;
    let mut admin = server.admin().await;
    let upsert = |c: pb::Customer| pb::UpsertCustomerRequest { customer: Some(c) };
    let cases = [
        (pb::UpsertCustomerRequest { customer: None }, Code::InvalidArgument, "customer: required".to_owned()),
        (upsert(customer("", "+16465550100")), Code::InvalidArgument, "customer.customer_id: must not be empty".to_owned()),
        (upsert(customer("B1", "1-800-FLOWERS")), Code::InvalidArgument, "customer.phone_numbers[0]: \"1-800-FLOWERS\" is not a valid number (letters in number)".to_owned()),
        (upsert(customer("B1", "anonymous")), Code::InvalidArgument, "customer.phone_numbers[0]: \"anonymous\" is not a valid number (number withheld)".to_owned()),
        (upsert(pb::Customer { phone_numbers: vec![], ..customer("B1", "") }), Code::InvalidArgument, "customer.phone_numbers: at least one number is required".to_owned()),
        (upsert(pb::Customer { tier: "platnum".into(), ..customer("B1", "+16465550100") }), Code::InvalidArgument, "customer.tier: unknown tier \"platnum\" (tiers: standard, gold, platinum, concierge)".to_owned()),
        (upsert(pb::Customer { preference: 42, ..customer("B1", "+16465550100") }), Code::InvalidArgument, "customer.preference: unknown value 42".to_owned()),
        (upsert(pb::Customer { lifetime_value: f64::INFINITY, ..customer("B1", "+16465550100") }), Code::InvalidArgument, "customer.lifetime_value: must be a finite amount not below 0 (got inf)".to_owned()),
        (upsert(pb::Customer { influence: 1_000, ..customer("B1", "+16465550100") }), Code::InvalidArgument, "customer.influence: must be 0 to 100 (got 1000)".to_owned()),
        (upsert(pb::Customer { name: "n".repeat(129), ..customer("B1", "+16465550100") }), Code::InvalidArgument, "customer.name: longer than 128 characters (129)".to_owned()),
        (upsert(pb::Customer { attributes: [("k".repeat(65), "v".into())].into(), ..customer("B1", "+16465550100") }), Code::InvalidArgument, "customer.attributes: longer than 64 characters (65)".to_owned()),
        (upsert(customer("B1", MARIA_PLATINUM)), Code::FailedPrecondition, "phone number +12125550101 belongs to customer C0000001".to_owned()),
    ];
    for (request, code, message) in cases {
        let err = admin.upsert_customer(request).await.unwrap_err();
        assert_status(err, code, &message);
    }
    let err = admin
        .get_customer(pb::GetCustomerRequest {
            key: Some(Key::CustomerId("B1".into())),
        })
        .await
        .unwrap_err();
    assert_status(err, Code::NotFound, "customer \"B1\" not found");
    // Maria still owns her number.
    let view = admin
        .get_customer(pb::GetCustomerRequest {
            key: Some(Key::PhoneNumber(MARIA_PLATINUM.into())),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(view.customer.unwrap().customer_id, "C0000001");
}

#[tokio::test]
async fn bad_customer_lookups_and_explanations_are_refused() {
    let server = start().await;
    let mut admin = server.admin().await;
    let get = |key| pb::GetCustomerRequest { key: Some(key) };
    let cases = [
        (
            pb::GetCustomerRequest { key: None },
            Code::InvalidArgument,
            "key: set customer_id, phone_number or address",
        ),
        (
            get(Key::PhoneNumber("12-ab".into())),
            Code::InvalidArgument,
            "phone_number: \"12-ab\" is not a valid number (letters in number)",
        ),
        (
            get(Key::PhoneNumber("9".repeat(65))),
            Code::InvalidArgument,
            "phone_number: longer than 64 characters",
        ),
        (
            get(Key::PhoneNumber("+13125550190".into())),
            Code::NotFound,
            "customer with phone number \"+13125550190\" not found",
        ),
    ];
    for (request, code, message) in cases {
        assert_status(
            admin.get_customer(request).await.unwrap_err(),
            code,
            message,
        );
    }
    let explain = |digits: Vec<&str>, channel| pb::ExplainRouteRequest {
        caller: EMMA_STANDARD.into(),
        dialed: MAIN_LINE.into(),
        channel,
        digits: digits.into_iter().map(String::from).collect(),
        at: None,
    };
    let cases = [
        (
            explain(vec!["1", "x"], 0),
            "digits[1]: only 0-9, * and # are digits",
        ),
        (explain(vec![""], 0), "digits[0]: must not be empty"),
        (
            explain(vec!["1"; 17], 0),
            "digits: more than 16 menu answers",
        ),
        (explain(vec![], -1), "channel: unknown value -1"),
        (
            pb::ExplainRouteRequest {
                at: Some(prost_types::Timestamp {
                    seconds: -5,
                    nanos: 0,
                }),
                ..explain(vec![], 0)
            },
            "at: not a time after 1970",
        ),
        (
            pb::ExplainRouteRequest {
                at: Some(prost_types::Timestamp {
                    seconds: 1,
                    nanos: -1,
                }),
                ..explain(vec![], 0)
            },
            "at: not a time after 1970",
        ),
    ];
    for (request, message) in cases {
        assert_status(
            admin.explain_route(request).await.unwrap_err(),
            Code::InvalidArgument,
            message,
        );
    }
}
