//! A huge value in any string field of any RPC gets the real error (INVALID_ARGUMENT,
//! NOT_FOUND ...) with a short message: the value is cut, never echoed whole, so a
//! standard client (16 KiB of metadata at most) sees the error rather than
//! RESOURCE_EXHAUSTED. And the API's limits count characters, as the proto says.

use std::collections::HashMap;

use switchboard_proto::v1::{self as pb, get_customer_request::Key, submit_input_request::Input};
use switchboard_tests::*;
use tonic::Code;

/// A megabyte of text, valid UTF-8 but nothing any field accepts.
fn huge() -> String {
    "é".repeat(1 << 19)
}

fn call(id: &str) -> pb::RouteCallRequest {
    pb::RouteCallRequest {
        call_id: id.into(),
        caller: EMMA_STANDARD.into(),
        dialed: MAIN_LINE.into(),
        channel: pb::Channel::Voice.into(),
        switch_id: "sbc-1".into(),
    }
}

fn ann(state: pb::AgentState) -> pb::SetAgentStateRequest {
    pb::SetAgentStateRequest {
        agent_id: "ann".into(),
        state: state.into(),
        skills: vec![pb::Skill {
            name: "general".into(),
            proficiency: 5,
        }],
        endpoint: "sip:ann@pbx".into(),
        ..Default::default()
    }
}

fn customer() -> pb::Customer {
    pb::Customer {
        customer_id: "C7000001".into(),
        name: "Ida Long".into(),
        phone_numbers: vec!["+13125550161".into()],
        tier: "gold".into(),
        ..Default::default()
    }
}

/// What each refusal is: the field or RPC, the status, and the code it must carry.
struct Refusal {
    what: &'static str,
    status: tonic::Status,
    code: Code,
}

fn check(refusals: &[Refusal]) {
    for r in refusals {
        assert_eq!(
            r.status.code(),
            r.code,
            "{}: {:.300}",
            r.what,
            r.status.message()
        );
        assert!(
            r.status.message().len() < 1024,
            "{}: a message of {} bytes: {:.300}",
            r.what,
            r.status.message().len(),
            r.status.message()
        );
    }
}

#[tokio::test]
async fn a_huge_value_in_any_string_field_gets_the_real_error_in_a_short_message() {
    let server = start().await;
    let mut routing = server.routing().await;
    let mut agents = server.agents().await;
    let mut admin = server.admin().await;
    let big = huge();
    // A call at a menu and one waiting, for the events that need a call.
    routing.route_call(call("menu-1")).await.unwrap();
    routing
        .route_call(pb::RouteCallRequest {
            caller: MARIA_PLATINUM.into(),
            dialed: PLATINUM_LINE.into(),
            ..call("wait-1")
        })
        .await
        .unwrap();
    let mut out = Vec::new();
    let mut refused = |what, r: Result<(), tonic::Status>, code| match r {
        Ok(()) => panic!("{what}: accepted"),
        Err(status) => out.push(Refusal { what, status, code }),
    };

    // Routing.
    for (what, req) in [
        ("RouteCall.call_id", call(&big)),
        (
            "RouteCall.caller",
            pb::RouteCallRequest {
                caller: big.clone(),
                ..call("r-2")
            },
        ),
        (
            "RouteCall.dialed",
            pb::RouteCallRequest {
                dialed: big.clone(),
                ..call("r-3")
            },
        ),
        (
            "RouteCall.switch_id",
            pb::RouteCallRequest {
                switch_id: big.clone(),
                ..call("r-4")
            },
        ),
    ] {
        refused(
            what,
            routing.route_call(req).await.map(drop),
            Code::InvalidArgument,
        );
    }
    for (what, call_id, input, code) in [
        (
            "SubmitInput.call_id (unknown)",
            "x".repeat(100_000),
            Input::Digits("1".into()),
            Code::InvalidArgument,
        ),
        (
            "SubmitInput.call_id",
            big.clone(),
            Input::Digits("1".into()),
            Code::InvalidArgument,
        ),
        (
            "SubmitInput.digits",
            "menu-1".into(),
            Input::Digits(big.clone()),
            Code::InvalidArgument,
        ),
        (
            "SubmitInput.intent",
            "menu-1".into(),
            Input::Intent(big.clone()),
            Code::InvalidArgument,
        ),
    ] {
        refused(
            what,
            routing
                .submit_input(pb::SubmitInputRequest {
                    call_id,
                    input: Some(input),
                })
                .await
                .map(drop),
            code,
        );
    }
    let event = |kind: pb::CallEventKind| pb::CallEvent {
        call_id: "wait-1".into(),
        kind: kind.into(),
        ..Default::default()
    };
    for (what, e, code) in [
        (
            "ReportCallEvent.call_id",
            pb::CallEvent {
                call_id: big.clone(),
                ..event(pb::CallEventKind::Abandoned)
            },
            Code::InvalidArgument,
        ),
        (
            "ReportCallEvent.agent_id",
            pb::CallEvent {
                agent_id: big.clone(),
                ..event(pb::CallEventKind::Connected)
            },
            Code::InvalidArgument,
        ),
        (
            "ReportCallEvent.wrap_up_code",
            pb::CallEvent {
                agent_id: "ann".into(),
                wrap_up_code: big.clone(),
                ..event(pb::CallEventKind::Ended)
            },
            Code::InvalidArgument,
        ),
        (
            "ReportCallEvent.queue",
            pb::CallEvent {
                queue: big.clone(),
                ..event(pb::CallEventKind::Transferred)
            },
            Code::NotFound,
        ),
    ] {
        refused(what, routing.report_call_event(e).await.map(drop), code);
    }
    refused(
        "WatchAssignments.switch_id",
        routing
            .watch_assignments(pb::WatchAssignmentsRequest {
                switch_id: big.clone(),
            })
            .await
            .map(drop),
        Code::InvalidArgument,
    );

    // Agents.
    let available = || ann(pb::AgentState::Available);
    for (what, req) in [
        (
            "SetAgentState.agent_id",
            pb::SetAgentStateRequest {
                agent_id: big.clone(),
                ..available()
            },
        ),
        (
            "SetAgentState.reason",
            pb::SetAgentStateRequest {
                reason: big.clone(),
                ..ann(pb::AgentState::NotReady)
            },
        ),
        (
            "SetAgentState.skills.name",
            pb::SetAgentStateRequest {
                skills: vec![pb::Skill {
                    name: big.clone(),
                    proficiency: 5,
                }],
                ..available()
            },
        ),
        (
            "SetAgentState.endpoint",
            pb::SetAgentStateRequest {
                endpoint: big.clone(),
                ..available()
            },
        ),
        (
            "SetAgentState.style_tags",
            pb::SetAgentStateRequest {
                style_tags: vec![big.clone()],
                ..available()
            },
        ),
        (
            "SetAgentState.capacity",
            pb::SetAgentStateRequest {
                capacity: HashMap::from([(big.clone(), 1)]),
                ..available()
            },
        ),
    ] {
        refused(
            what,
            agents.set_agent_state(req).await.map(drop),
            Code::InvalidArgument,
        );
    }
    refused(
        "GetAgent.agent_id",
        agents
            .get_agent(pb::GetAgentRequest {
                agent_id: big.clone(),
            })
            .await
            .map(drop),
        Code::InvalidArgument,
    );
    refused(
        "GetAgent.agent_id (unknown)",
        agents
            .get_agent(pb::GetAgentRequest {
                agent_id: "a".repeat(64),
            })
            .await
            .map(drop),
        Code::NotFound,
    );

    // Admin.
    let mut attributes = HashMap::from([(big.clone(), "v".to_owned())]);
    let mut customers: Vec<(&str, pb::Customer)> = vec![
        (
            "UpsertCustomer.customer_id",
            pb::Customer {
                customer_id: big.clone(),
                ..customer()
            },
        ),
        (
            "UpsertCustomer.name",
            pb::Customer {
                name: big.clone(),
                ..customer()
            },
        ),
        (
            "UpsertCustomer.phone_numbers",
            pb::Customer {
                phone_numbers: vec![big.clone()],
                ..customer()
            },
        ),
        (
            "UpsertCustomer.phone_numbers (not a number)",
            pb::Customer {
                phone_numbers: vec!["x".repeat(60)],
                ..customer()
            },
        ),
        (
            "UpsertCustomer.tier",
            pb::Customer {
                tier: big.clone(),
                ..customer()
            },
        ),
        (
            "UpsertCustomer.language",
            pb::Customer {
                language: big.clone(),
                ..customer()
            },
        ),
        (
            "UpsertCustomer.tags",
            pb::Customer {
                tags: vec![big.clone()],
                ..customer()
            },
        ),
        (
            "UpsertCustomer.attributes key",
            pb::Customer {
                attributes: std::mem::take(&mut attributes),
                ..customer()
            },
        ),
        (
            "UpsertCustomer.attributes value",
            pb::Customer {
                attributes: HashMap::from([("k".to_owned(), big.clone())]),
                ..customer()
            },
        ),
        (
            "UpsertCustomer.preferred_agent",
            pb::Customer {
                preferred_agent: big.clone(),
                ..customer()
            },
        ),
    ];
    for (what, c) in customers.drain(..) {
        refused(
            what,
            admin
                .upsert_customer(pb::UpsertCustomerRequest { customer: Some(c) })
                .await
                .map(drop),
            Code::InvalidArgument,
        );
    }
    for (what, key, code) in [
        (
            "GetCustomer.customer_id",
            Key::CustomerId(big.clone()),
            Code::NotFound,
        ),
        (
            "GetCustomer.phone_number",
            Key::PhoneNumber(big.clone()),
            Code::InvalidArgument,
        ),
    ] {
        refused(
            what,
            admin
                .get_customer(pb::GetCustomerRequest { key: Some(key) })
                .await
                .map(drop),
            code,
        );
    }
    let header = format!("customer_id,phone_numbers,{big}\n");
    refused(
        "ImportCustomers.csv_chunk (header)",
        admin
            .import_customers(tokio_stream::iter([pb::ImportCustomersRequest {
                csv_chunk: header.into_bytes(),
            }]))
            .await
            .map(drop),
        Code::InvalidArgument,
    );
    refused(
        "GetQueueStats.queue",
        admin
            .get_queue_stats(pb::GetQueueStatsRequest { queue: big.clone() })
            .await
            .map(drop),
        Code::NotFound,
    );
    let explain = || pb::ExplainRouteRequest {
        caller: EMMA_STANDARD.into(),
        dialed: MAIN_LINE.into(),
        ..Default::default()
    };
    for (what, req) in [
        (
            "ExplainRoute.caller",
            pb::ExplainRouteRequest {
                caller: big.clone(),
                ..explain()
            },
        ),
        (
            "ExplainRoute.dialed",
            pb::ExplainRouteRequest {
                dialed: big.clone(),
                ..explain()
            },
        ),
        (
            "ExplainRoute.digits",
            pb::ExplainRouteRequest {
                digits: vec![big.clone()],
                ..explain()
            },
        ),
    ] {
        refused(
            what,
            admin.explain_route(req).await.map(drop),
            Code::InvalidArgument,
        );
    }
    check(&out);
    assert_eq!(out.len(), 38, "every field above was tried");

    // Rows of an import are reported, each in a short message, and the good row loads.
    let csv = format!(
        "customer_id,phone_numbers,tier,lifetime_value,influence,attributes,preference\n\
         C7000002,+13125550162,{big},,,,\n\
         C7000003,{big},,,,,\n\
         C7000004,+13125550164,,{big},,,\n\
         C7000005,+13125550165,,,{big},,\n\
         C7000006,+13125550166,,,,{big},\n\
         C7000007,+13125550167,,,,,{big}\n\
         C7000008,+13125550168,gold,,,,\n"
    );
    // In chunks, as a client sends a large file (one message is at most 4 MiB).
    let chunks: Vec<pb::ImportCustomersRequest> = csv
        .into_bytes()
        .chunks(1 << 20)
        .map(|c| pb::ImportCustomersRequest {
            csv_chunk: c.to_vec(),
        })
        .collect();
    let report = admin
        .import_customers(tokio_stream::iter(chunks))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.imported, 1);
    assert_eq!(report.rejected.len(), 6, "{:.2000?}", report.rejected);
    for row in &report.rejected {
        assert!(
            row.message.len() < 1024,
            "line {}: {:.300}",
            row.line,
            row.message
        );
        assert!(
            row.message.contains('…'),
            "line {}: {}",
            row.line,
            row.message
        );
    }

    // Nothing above disturbed the calls in progress.
    let d = routing
        .route_call(call("menu-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.call_id, "menu-1");
}

#[tokio::test]
async fn a_cut_value_shows_its_start_and_its_length() {
    let server = start().await;
    let err = server
        .admin()
        .await
        .get_queue_stats(pb::GetQueueStatsRequest {
            queue: format!("platinum{}", "x".repeat(10_000)),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        format!(
            "queue \"platinum{}…\" (10008 characters) not found",
            "x".repeat(32)
        )
    );
}

#[tokio::test]
async fn limits_count_characters_as_the_proto_says_not_bytes() {
    let server = start().await;
    let mut routing = server.routing().await;
    // 64 characters of four bytes each: within "at most 64 characters"; not a number, so
    // the call routes as an unknown caller.
    let emoji = "📞".repeat(64);
    let d = routing
        .route_call(pb::RouteCallRequest {
            caller: emoji.clone(),
            ..call("emoji-64")
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.reason, "line entry");
    let err = routing
        .route_call(pb::RouteCallRequest {
            caller: format!("{emoji}📞"),
            ..call("emoji-65")
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::InvalidArgument, "caller: longer than 64 characters")
    );
    // The same for the dialed number and, at ExplainRoute, both.
    assert!(
        routing
            .route_call(pb::RouteCallRequest {
                dialed: "☎".repeat(64),
                ..call("dialed-64")
            })
            .await
            .is_ok()
    );
    let mut admin = server.admin().await;
    assert!(
        admin
            .explain_route(pb::ExplainRouteRequest {
                caller: emoji.clone(),
                dialed: "☎".repeat(64),
                ..Default::default()
            })
            .await
            .is_ok()
    );
    // A call id is ASCII: emoji are refused for what they are, not for their bytes.
    let err = routing
        .route_call(call(&"📞".repeat(40)))
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        "call_id: must be printable ASCII without spaces"
    );
    // Intents, customer names and tags: the character counts of the proto.
    let d = routing.route_call(call("intent-64")).await.unwrap();
    drop(d);
    let err = routing
        .submit_input(pb::SubmitInputRequest {
            call_id: "intent-64".into(),
            input: Some(Input::Intent("ü".repeat(64))),
        })
        .await;
    assert!(err.is_ok(), "{err:?}");
    let accepted = admin
        .upsert_customer(pb::UpsertCustomerRequest {
            customer: Some(pb::Customer {
                customer_id: "ü".repeat(64),
                tags: vec!["ß".repeat(64)],
                ..customer()
            }),
        })
        .await;
    assert!(accepted.is_ok(), "{accepted:?}");
    let err = admin
        .upsert_customer(pb::UpsertCustomerRequest {
            customer: Some(pb::Customer {
                customer_id: "ü".repeat(65),
                ..customer()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        "customer.customer_id: longer than 64 characters (65)"
    );
}
