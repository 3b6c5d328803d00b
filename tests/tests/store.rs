//! The store over real gRPC: what the server accepted is there after a restart, and a
//! store that cannot be trusted stops the start instead of starting empty.

use std::{path::Path, sync::Arc};

use switchboard_proto::v1::{self as pb, get_customer_request::Key};
use switchboard_server::{App, CustomerSource, StartError, SystemClock};
use switchboard_tests::*;

async fn customer(server: &TestServer, id: &str) -> Option<pb::Customer> {
    server
        .admin()
        .await
        .get_customer(pb::GetCustomerRequest {
            key: Some(Key::CustomerId(id.into())),
        })
        .await
        .ok()
        .and_then(|r| r.into_inner().customer)
}

#[tokio::test]
async fn customers_the_server_accepted_are_there_after_a_restart() {
    let store = temp_dir("restart").join("data").join("switchboard.db");
    let server = start_stored(&store, Arc::new(SystemClock)).await;
    // The first start filled the store with the sample customers.
    assert!(customer(&server, "C0000002").await.is_some());
    let mut james = customer(&server, "C0000002").await.unwrap();
    james.tier = "platinum".into();
    james.tags = vec!["upgraded; by ops".into()];
    server
        .admin()
        .await
        .upsert_customer(pb::UpsertCustomerRequest {
            customer: Some(james.clone()),
        })
        .await
        .unwrap();
    let new = pb::Customer {
        customer_id: "C9000001".into(),
        name: "Ada Byron".into(),
        phone_numbers: vec!["+13125550170".into()],
        tier: "gold".into(),
        ..Default::default()
    };
    server
        .admin()
        .await
        .upsert_customer(pb::UpsertCustomerRequest {
            customer: Some(new),
        })
        .await
        .unwrap();
    server.app.flush_store().unwrap();
    server.stop().await;

    // Started again on the same store: the samples are not loaded over the changes.
    let server = start_stored(&store, Arc::new(SystemClock)).await;
    let back = customer(&server, "C0000002").await.unwrap();
    assert_eq!(back.tier, "platinum");
    assert_eq!(back.tags, ["upgraded; by ops"]);
    assert_eq!(
        customer(&server, "C9000001").await.unwrap().name,
        "Ada Byron"
    );
    assert_eq!(server.app.router.directory().len(), 1_201);
}

fn start_error(store: &Path) -> String {
    let config = switchboard_config::parse(&stored_config(store), Path::new("test.toml")).unwrap();
    match App::with_store(config, &CustomerSource::Embedded, Arc::new(SystemClock)) {
        Err(e @ StartError::Store(_)) => e.to_string(),
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("started on {}", store.display()),
    }
}

#[test]
fn a_store_that_cannot_be_trusted_stops_the_start() {
    let dir = temp_dir("untrusted");
    let store = dir.join("switchboard.db");
    std::fs::write(&store, "not a database at all, but somebody's notes").unwrap();
    assert_eq!(
        start_error(&store),
        format!(
            "store: {}: not a Switchboard store (not an SQLite database); move it away or point the store elsewhere",
            store.display()
        )
    );
    // The file is left as it was.
    assert_eq!(
        std::fs::read_to_string(&store).unwrap(),
        "not a database at all, but somebody's notes"
    );
    // A folder that cannot be made.
    let blocked = dir.join("switchboard.db").join("data").join("s.db");
    assert!(
        start_error(&blocked).starts_with(&format!(
            "store: {}: cannot create the store's folder",
            dir.join("switchboard.db").join("data").display()
        )),
        "{}",
        start_error(&blocked)
    );
}

async fn import(
    server: &TestServer,
    chunks: &[&str],
) -> Result<pb::ImportCustomersResponse, tonic::Status> {
    let messages: Vec<pb::ImportCustomersRequest> = chunks
        .iter()
        .map(|c| pb::ImportCustomersRequest {
            csv_chunk: c.as_bytes().to_vec(),
        })
        .collect();
    server
        .admin()
        .await
        .import_customers(tokio_stream::iter(messages))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn imported_customers_route_at_once_and_are_stored() {
    let store = temp_dir("import").join("s.db");
    let server = start_stored(&store, Arc::new(SystemClock)).await;
    // Chunks may split a line anywhere.
    let r = import(
        &server,
        &[
            "customer_id,name,phone_numbers,tier\nN1,Ada Byron,+1312555",
            "0170,platinum\nN2,Bad,+13125550171,golden\nN3,Charles,+13125550172,gold\n",
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.imported, 2);
    assert_eq!(
        r.rejected,
        [pb::RowError {
            line: 3,
            message: "tier: unknown tier \"golden\" (did you mean \"gold\"?)".into()
        }]
    );
    // Ada is platinum at once: straight to the platinum desk.
    let d = server
        .routing()
        .await
        .route_call(pb::RouteCallRequest {
            call_id: "ada".into(),
            caller: "+13125550170".into(),
            dialed: PLATINUM_LINE.into(),
            switch_id: "sbc-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.reason, "rule platinum-desk");
    server.stop().await;
    let server = start_stored(&store, Arc::new(SystemClock)).await;
    assert_eq!(customer(&server, "N1").await.unwrap().tier, "platinum");
    assert!(customer(&server, "N2").await.is_none());
}

#[tokio::test]
async fn an_import_with_a_header_that_is_not_ours_is_refused_whole() {
    let server = start().await;
    let status = import(&server, &["id,phone\nN1,+13125550170\n"])
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("csv_chunk: header: unknown column \"id\""),
        "{}",
        status.message()
    );
    assert!(customer(&server, "N1").await.is_none());
    // Without a store the import still loads the directory.
    let r = import(&server, &["customer_id,phone_numbers\nN1,+13125550170\n"])
        .await
        .unwrap();
    assert_eq!((r.imported, r.rejected.len()), (1, 0));
}

#[tokio::test]
async fn what_callers_taught_is_remembered_after_a_restart() {
    let store = temp_dir("learned").join("s.db");
    let server = start_stored(&store, Arc::new(SystemClock)).await;
    let mut routing = server.routing().await;
    let call = |id: &str| pb::RouteCallRequest {
        call_id: id.into(),
        caller: "+13125550199".into(),
        dialed: MAIN_LINE.into(),
        switch_id: "sbc-1".into(),
        ..Default::default()
    };
    // An unknown caller asks for "a friendly chat" (1), which is remembered.
    let d = routing.route_call(call("l1")).await.unwrap().into_inner();
    assert_eq!(d.reason, "line entry");
    press(&mut routing, "l1", "1").await;
    server.app.flush_store().unwrap();
    server.stop().await;

    let server = start_stored(&store, Arc::new(SystemClock)).await;
    let mut routing = server.routing().await;
    let d = routing.route_call(call("l2")).await.unwrap().into_inner();
    // Known again: a repeat caller who likes a friendly chat skips the menu.
    assert_eq!(
        d.matched_rules,
        ["repeat-callers-first", "friendly-chat"],
        "{d:?}"
    );
    assert!(d.menu_skipped);
}

mod call_records {
    use std::time::Duration;

    use switchboard_store::{Store, journal::CallRecordRow};

    use super::*;

    fn operator(id: &str) -> pb::SetAgentStateRequest {
        pb::SetAgentStateRequest {
            agent_id: id.into(),
            state: pb::AgentState::Available.into(),
            skills: vec![pb::Skill {
                name: "general".into(),
                proficiency: 8,
            }],
            endpoint: format!("sip:{id}@pbx.example"),
            ..Default::default()
        }
    }

    async fn call(server: &TestServer, id: &str, caller: &str) {
        let mut routing = server.routing().await;
        routing
            .route_call(pb::RouteCallRequest {
                call_id: id.into(),
                caller: caller.into(),
                dialed: "+18005550100".into(),
                switch_id: "sbc-1".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        press(&mut routing, id, "0").await;
    }

    async fn event(server: &TestServer, e: pb::CallEvent) -> bool {
        server
            .routing()
            .await
            .report_call_event(e)
            .await
            .unwrap()
            .into_inner()
            .applied
    }

    fn record(store: &Path, call_id: &str) -> CallRecordRow {
        let rows = Store::open(store).unwrap().call_records(call_id).unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        rows.into_iter().next().unwrap()
    }

    #[tokio::test]
    async fn every_call_leaves_a_record_of_its_path_wait_agent_outcome_and_survey() {
        let store = temp_dir("records").join("s.db");
        let clock = ManualClock::new();
        let server = start_stored(&store, clock.clone()).await;
        let mut agents = server.agents().await;
        agents.set_agent_state(operator("ann")).await.unwrap();
        // Answered after 4 s, talked, resolved, and rated by the caller.
        call(&server, "rec-1", "+19075551234").await;
        clock.advance(Duration::from_secs(4));
        let connected = pb::CallEvent {
            call_id: "rec-1".into(),
            kind: pb::CallEventKind::Connected.into(),
            agent_id: "ann".into(),
            ..Default::default()
        };
        assert!(event(&server, connected.clone()).await);
        clock.advance(Duration::from_secs(95));
        let ended = pb::CallEvent {
            kind: pb::CallEventKind::Ended.into(),
            wrap_up_code: "billing-question".into(),
            resolved: true,
            satisfaction: 5,
            recommend: Some(9),
            ..connected
        };
        assert!(event(&server, ended).await);
        // Nobody is free for the next caller, who hangs up after 45 s.
        call(&server, "rec-2", "+19075551235").await;
        clock.advance(Duration::from_secs(45));
        let abandoned = pb::CallEvent {
            call_id: "rec-2".into(),
            kind: pb::CallEventKind::Abandoned.into(),
            ..Default::default()
        };
        assert!(event(&server, abandoned).await);
        server.app.flush_store().unwrap();

        let r = record(&store, "rec-1");
        assert_eq!(
            (
                r.caller.as_deref(),
                r.tier.as_str(),
                r.line.as_str(),
                r.decision.as_str(),
                r.menu_path.as_str(),
                r.queue.as_deref(),
            ),
            (
                Some("+19075551234"),
                "standard",
                "main",
                "menu main",
                "0",
                Some("operator")
            )
        );
        assert_eq!(
            (
                r.wait_ms,
                r.agent.as_deref(),
                r.outcome.as_str(),
                r.disposition.as_deref(),
                r.resolved,
                r.satisfaction,
                r.recommend,
            ),
            (
                Some(4_000),
                Some("ann"),
                "completed",
                Some("billing-question"),
                Some(true),
                Some(5),
                Some(9)
            )
        );
        assert_eq!(
            r.ended_at.unwrap().0 - r.answered_at.unwrap().0,
            95_000,
            "talk time"
        );
        let r = record(&store, "rec-2");
        assert_eq!(
            (r.outcome.as_str(), r.wait_ms, r.agent.as_deref()),
            ("abandoned", Some(45_000), None)
        );
    }

    #[tokio::test]
    async fn a_call_whose_switch_goes_silent_is_forgotten_and_its_agent_freed() {
        let store = temp_dir("silent").join("s.db");
        let clock = ManualClock::new();
        let server = start_stored(&store, clock.clone()).await;
        let mut agents = server.agents().await;
        agents.set_agent_state(operator("bo")).await.unwrap();
        call(&server, "gone-1", "+19075551236").await;
        let connected = pb::CallEvent {
            call_id: "gone-1".into(),
            kind: pb::CallEventKind::Connected.into(),
            agent_id: "bo".into(),
            ..Default::default()
        };
        assert!(event(&server, connected).await);
        // The switch never reports again. Past calls.forget_after (4h) the call goes and
        // Bo wraps up instead of staying on it for ever.
        clock.advance(Duration::from_secs(4 * 3600 + 1));
        let get = || pb::GetAgentRequest {
            agent_id: "bo".into(),
        };
        let mut state = pb::AgentState::OnCall;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            state = agents.get_agent(get()).await.unwrap().into_inner().state();
            if state != pb::AgentState::OnCall {
                break;
            }
        }
        assert_eq!(state, pb::AgentState::WrapUp);
        let unknown = server
            .routing()
            .await
            .report_call_event(pb::CallEvent {
                call_id: "gone-1".into(),
                kind: pb::CallEventKind::Ended.into(),
                agent_id: "bo".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), tonic::Code::NotFound);
        server.app.flush_store().unwrap();
        let r = record(&store, "gone-1");
        assert_eq!(
            (r.outcome.as_str(), r.agent.as_deref()),
            ("expired", Some("bo"))
        );
        assert!(
            !Store::open(&store)
                .unwrap()
                .has_live_call("gone-1")
                .unwrap()
        );
    }

    #[tokio::test]
    async fn call_records_past_their_keeping_time_are_pruned() {
        let store = temp_dir("retention").join("s.db");
        let config = format!(
            "{}\n[store]\npath = {:?}\ncommit_delay = \"10ms\"\nkeep_call_records = \"1h\"\n",
            switchboard_config::DEFAULT_CONFIG,
            store.display().to_string()
        );
        let start = |clock: Arc<ManualClock>| {
            let config = switchboard_config::parse(&config, Path::new("test.toml")).unwrap();
            App::with_store(config, &CustomerSource::Embedded, clock)
                .unwrap()
                .0
        };
        let clock = ManualClock::new();
        let app = start(clock.clone());
        let server = serve_app(app).await;
        for id in ["old-1", "old-2"] {
            call(&server, id, "+19075551240").await;
            let abandoned = pb::CallEvent {
                call_id: id.into(),
                kind: pb::CallEventKind::Abandoned.into(),
                ..Default::default()
            };
            assert!(event(&server, abandoned).await);
        }
        server.app.flush_store().unwrap();
        server.stop().await;
        assert_eq!(
            Store::open(&store).unwrap().count_call_records().unwrap(),
            2
        );
        // Two hours on, the next start prunes them (and every hour after).
        clock.advance(Duration::from_secs(2 * 3600));
        let server = serve_app(start(clock.clone())).await;
        let mut left = u64::MAX;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            left = Store::open(&store).unwrap().count_call_records().unwrap();
            if left == 0 {
                break;
            }
        }
        assert_eq!(left, 0);
        server.stop().await;
    }
}

#[tokio::test]
async fn agents_keep_their_time_in_state_and_idle_order_across_a_restart() {
    let store = temp_dir("agent-times").join("s.db");
    let clock = ManualClock::new();
    let server = start_stored(&store, clock.clone()).await;
    let mut agents = server.agents().await;
    let ready = |id: &str| pb::SetAgentStateRequest {
        agent_id: id.into(),
        state: pb::AgentState::Available.into(),
        skills: vec![pb::Skill {
            name: "general".into(),
            proficiency: 8,
        }],
        endpoint: format!("sip:{id}@pbx"),
        ..Default::default()
    };
    // Bea is ready first, Ann ten seconds later.
    agents.set_agent_state(ready("bea")).await.unwrap();
    clock.advance(std::time::Duration::from_secs(10));
    agents.set_agent_state(ready("ann")).await.unwrap();
    let since = |a: pb::Agent| a.state_since.unwrap();
    let bea_since = since(
        agents
            .get_agent(pb::GetAgentRequest {
                agent_id: "bea".into(),
            })
            .await
            .unwrap()
            .into_inner(),
    );
    server.app.flush_store().unwrap();
    server.stop().await;

    // A minute later the server is back: both still idle since when they were.
    clock.advance(std::time::Duration::from_secs(60));
    let server = start_stored(&store, clock.clone()).await;
    let mut agents = server.agents().await;
    let bea = agents
        .get_agent(pb::GetAgentRequest {
            agent_id: "bea".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(bea.state, i32::from(pb::AgentState::Available));
    assert_eq!(since(bea), bea_since);
    // The longest idle, Bea, takes the next call for the operators' queue.
    let mut watch = server
        .routing()
        .await
        .watch_assignments(pb::WatchAssignmentsRequest {
            switch_id: "sbc-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    server
        .routing()
        .await
        .route_call(pb::RouteCallRequest {
            call_id: "t1".into(),
            caller: TOM_ALWAYS_OPERATOR.into(),
            dialed: MAIN_LINE.into(),
            switch_id: "sbc-1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(next(&mut watch).await.agent_id, "bea");
}
