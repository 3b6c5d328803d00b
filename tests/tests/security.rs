//! Who may do what, from outside: every RPC of the proto called as no one, as each role
//! and as a switch bound to another switch id; bindings of switches and desks; stream
//! take-overs; the per-identity rate limit, message and stream limits; the audit trail.

use std::{collections::BTreeMap, path::Path, time::Duration};

use prost::Message;
use switchboard_config::{
    DEFAULT_CONFIG,
    security::{Grant, Role},
};
use switchboard_proto::{FILE_DESCRIPTOR_SET, v1 as pb};
use switchboard_server::security::tokens;
use switchboard_tests::*;
use tonic::{
    Code, Request, Status,
    codegen::http::uri::PathAndQuery,
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

/// The tokens a test server knows, by who holds them.
struct Tokens {
    switch: String,
    other_switch: String,
    second_switch: String,
    desk: String,
    supervisor: String,
    admin: String,
}

fn make_tokens(dir: &Path) -> Tokens {
    let file = dir.join("tokens.toml");
    let make = |name: &str, role: Role, switches: &[&str], agents: &[&str]| {
        let grant = Grant::new(
            role,
            switches.iter().map(|s| (*s).to_owned()).collect(),
            agents.iter().map(|s| (*s).to_owned()).collect(),
        )
        .unwrap();
        tokens::create(&file, name, &grant).unwrap().token
    };
    Tokens {
        switch: make("sbc-1", Role::Switch, &["sbc-1"], &[]),
        other_switch: make("sbc-2", Role::Switch, &["sbc-2"], &[]),
        second_switch: make("sbc-1-standby", Role::Switch, &["sbc-1"], &[]),
        desk: make("desk-a1", Role::Desk, &[], &["a-1"]),
        supervisor: make("floor", Role::Supervisor, &[], &[]),
        admin: make("ops", Role::Admin, &[], &[]),
    }
}

/// The shipped config with tokens from `dir` and `extra` in `[security]`.
fn secured(dir: &Path, extra: &str) -> String {
    format!(
        "{DEFAULT_CONFIG}\n[security]\ntokens = {:?}\n{extra}\n",
        dir.join("tokens.toml").display().to_string()
    )
}

#[derive(Clone)]
struct Bearer(Option<MetadataValue<tonic::metadata::Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.0 {
            request.metadata_mut().insert("authorization", v.clone());
        }
        Ok(request)
    }
}

fn bearer(token: &str) -> Bearer {
    Bearer(Some(format!("Bearer {token}").parse().unwrap()))
}

type Authed = InterceptedService<Channel, Bearer>;

async fn routing(server: &TestServer, token: &str) -> pb::routing_client::RoutingClient<Authed> {
    pb::routing_client::RoutingClient::with_interceptor(server.channel().await, bearer(token))
}

async fn agents(server: &TestServer, token: &str) -> pb::agents_client::AgentsClient<Authed> {
    pb::agents_client::AgentsClient::with_interceptor(server.channel().await, bearer(token))
}

async fn admin(server: &TestServer, token: &str) -> pb::admin_client::AdminClient<Authed> {
    pb::admin_client::AdminClient::with_interceptor(server.channel().await, bearer(token))
}

/// Every method the server serves: the proto's services, health and reflection.
fn every_method() -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
    let mut methods = Vec::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                methods.push(format!(
                    "/{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    assert!(methods.len() >= 16, "{methods:?}");
    methods.extend(
        [
            "/grpc.health.v1.Health/Check",
            "/grpc.health.v1.Health/Watch",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ]
        .map(String::from),
    );
    methods
}

/// Who may call each method, as the README's role table says. A method missing here
/// fails the matrix: give it a rule in the server and a row here.
fn allowed(method: &str) -> Option<&'static [&'static str]> {
    const ANYONE: &[&str] = &["none", "switch", "desk", "supervisor", "admin"];
    Some(match method.rsplit_once('.').map_or(method, |(_, m)| m) {
        "Health/Check" | "Health/Watch" => ANYONE,
        "ServerReflection/ServerReflectionInfo" => &["admin"],
        "Routing/RouteCall"
        | "Routing/SubmitInput"
        | "Routing/ReportCallEvent"
        | "Routing/WatchAssignments" => &["switch", "admin"],
        "Agents/SetAgentState" => &["desk", "admin"],
        "Agents/GetAgent" => &["desk", "supervisor", "admin"],
        "Agents/ListAgents" => &["supervisor", "admin"],
        "Admin/UpsertCustomer" | "Admin/ImportCustomers" | "Admin/ReloadConfig" => &["admin"],
        "Admin/GetCustomer"
        | "Admin/GetQueueStats"
        | "Admin/ExplainRoute"
        | "Admin/GetAgentStats"
        | "Admin/GetStandardsReport"
        | "Admin/ListAudit"
        | "Admin/WatchFloor"
        | "Admin/ListWaitingCalls"
        | "Admin/MoveCall"
        | "Admin/SuperviseAgent"
        | "Admin/CloseQueue"
        | "Admin/OpenQueue"
        | "Admin/GetNode" => &["supervisor", "admin"],
        _ => return None,
    })
}

/// Calls `method` with `message` (one, on a stream for streaming methods) as the
/// holder of `token`; the status code it ends with, or OK (a stream still open counts).
async fn call<M: Message + Send + Sync + 'static>(
    channel: Channel,
    method: &str,
    token: Option<&str>,
    message: M,
) -> (Code, String) {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let mut request = Request::new(tokio_stream::once(message));
    if let Some(t) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    let codec = tonic_prost::ProstCodec::<M, ()>::default();
    let path = PathAndQuery::try_from(method.to_owned()).unwrap();
    match grpc.streaming(request, path, codec).await {
        Err(status) => (status.code(), status.message().to_owned()),
        Ok(response) => {
            let mut stream = response.into_inner();
            match tokio::time::timeout(Duration::from_millis(300), stream.message()).await {
                Ok(Err(status)) => (status.code(), status.message().to_owned()),
                Ok(Ok(_)) | Err(_) => (Code::Ok, String::new()),
            }
        }
    }
}

/// The call switch sbc-1 routes before the matrix: the Routing methods are called about
/// it, so a switch bound to sbc-2 is seen asking about another switch's call.
const THEIR_CALL: &str = "m-1";

/// Calls `method` as `token` holder: the Routing methods with a request about
/// [`THEIR_CALL`] and switch sbc-1, every other method with an empty message.
async fn call_method(channel: Channel, method: &str, token: Option<&str>) -> (Code, String) {
    match method.rsplit_once('.').map_or(method, |(_, m)| m) {
        "Routing/RouteCall" => {
            let request = pb::RouteCallRequest {
                call_id: THEIR_CALL.into(),
                caller: EMMA_STANDARD.into(),
                dialed: MAIN_LINE.into(),
                switch_id: "sbc-1".into(),
                ..Default::default()
            };
            call(channel, method, token, request).await
        }
        "Routing/SubmitInput" => {
            let request = pb::SubmitInputRequest {
                call_id: THEIR_CALL.into(),
                input: Some(pb::submit_input_request::Input::Digits("2".into())),
            };
            call(channel, method, token, request).await
        }
        "Routing/ReportCallEvent" => {
            let request = pb::CallEvent {
                call_id: THEIR_CALL.into(),
                kind: pb::CallEventKind::Abandoned.into(),
                ..Default::default()
            };
            call(channel, method, token, request).await
        }
        "Routing/WatchAssignments" => {
            let request = pb::WatchAssignmentsRequest {
                switch_id: "sbc-1".into(),
            };
            call(channel, method, token, request).await
        }
        _ => call(channel, method, token, ()).await,
    }
}

/// What a switch bound to sbc-2 gets from a Routing method about sbc-1 and its call.
fn for_another_switch(method: &str) -> Option<Code> {
    Some(match method.rsplit_once('.').map_or(method, |(_, m)| m) {
        "Routing/RouteCall" | "Routing/WatchAssignments" => Code::PermissionDenied,
        "Routing/SubmitInput" | "Routing/ReportCallEvent" => Code::NotFound,
        _ => return None,
    })
}

#[tokio::test]
async fn every_rpc_answers_each_role_as_the_role_table_says_and_a_method_without_a_rule_is_denied()
{
    let dir = temp_dir("security-matrix");
    let t = make_tokens(&dir);
    let server = start_with(&secured(&dir, "")).await;
    let channel = server.channel().await;
    routing(&server, &t.switch)
        .await
        .route_call(pb::RouteCallRequest {
            call_id: THEIR_CALL.into(),
            caller: EMMA_STANDARD.into(),
            dialed: MAIN_LINE.into(),
            switch_id: "sbc-1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    // The switch bound elsewhere goes first, while sbc-1's call is still at its menu.
    let callers: [(&str, Option<&str>); 6] = [
        ("none", None),
        ("another switch", Some(&t.other_switch)),
        ("switch", Some(&t.switch)),
        ("desk", Some(&t.desk)),
        ("supervisor", Some(&t.supervisor)),
        ("admin", Some(&t.admin)),
    ];
    let mut failures = Vec::new();
    for method in every_method() {
        let Some(allowed) = allowed(&method) else {
            failures.push(format!("{method}: not in the test's role table"));
            continue;
        };
        for (who, token) in callers {
            let (code, message) = call_method(channel.clone(), &method, token).await;
            let ok = match (who, for_another_switch(&method)) {
                ("another switch", Some(expected)) => {
                    code == expected
                        && (message.contains("not bound to switch \"sbc-2\"")
                            || message.contains(&format!("unknown call \"{THEIR_CALL}\"")))
                }
                _ => {
                    let role = if who == "another switch" {
                        "switch"
                    } else {
                        who
                    };
                    match (allowed.contains(&role), role) {
                        (true, _) => {
                            !matches!(code, Code::Unauthenticated | Code::PermissionDenied)
                        }
                        (false, "none") => {
                            code == Code::Unauthenticated && message.contains("no credentials")
                        }
                        (false, _) => {
                            code == Code::PermissionDenied
                                && message.contains("needs role")
                                && message.contains(&format!("has role {role}"))
                        }
                    }
                }
            };
            if !ok {
                failures.push(format!("{method} as {who}: {code:?} {message}"));
            }
        }
    }
    // A method the server has no rule for is refused to everyone, admins included.
    let (code, message) = call(
        channel.clone(),
        "/switchboard.v1.Admin/DropEverything",
        Some(&t.admin),
        (),
    )
    .await;
    assert_eq!(code, Code::PermissionDenied, "{message}");
    assert!(
        message.contains("no access rule for this method"),
        "{message}"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn a_switch_is_bound_to_its_switch_ids_and_another_switchs_calls_do_not_exist_for_it() {
    let dir = temp_dir("security-bindings");
    let t = make_tokens(&dir);
    let server = start_with(&secured(&dir, "")).await;
    let mut sbc1 = routing(&server, &t.switch).await;
    let mut sbc2 = routing(&server, &t.other_switch).await;
    let call = |id: &str, switch: &str| pb::RouteCallRequest {
        call_id: id.into(),
        caller: EMMA_STANDARD.into(),
        dialed: MAIN_LINE.into(),
        switch_id: switch.into(),
        ..Default::default()
    };
    sbc1.route_call(call("c-1", "sbc-1")).await.unwrap();

    // Routing as a switch id it is not bound to.
    let e = sbc2.route_call(call("c-2", "sbc-1")).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert!(
        e.message()
            .contains("switch_id \"sbc-1\" is not bound to switch \"sbc-2\""),
        "{e:?}"
    );
    // Another switch's call id: neither its decision nor a new route.
    let e = sbc2.route_call(call("c-1", "sbc-2")).await.unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists, "{e:?}");
    // Menu input and events for another switch's call: as for a call that never was.
    let unknown = sbc2
        .submit_input(pb::SubmitInputRequest {
            call_id: "c-never".into(),
            input: Some(pb::submit_input_request::Input::Digits("2".into())),
        })
        .await
        .unwrap_err();
    let theirs = sbc2
        .submit_input(pb::SubmitInputRequest {
            call_id: "c-1".into(),
            input: Some(pb::submit_input_request::Input::Digits("2".into())),
        })
        .await
        .unwrap_err();
    assert_eq!(theirs.code(), Code::NotFound);
    assert_eq!(
        theirs.message(),
        unknown.message().replace("c-never", "c-1")
    );
    let e = sbc2
        .report_call_event(pb::CallEvent {
            call_id: "c-1".into(),
            kind: pb::CallEventKind::Abandoned.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    // The call is untouched: its own switch carries on with it.
    sbc1.submit_input(pb::SubmitInputRequest {
        call_id: "c-1".into(),
        input: Some(pb::submit_input_request::Input::Digits("2".into())),
    })
    .await
    .unwrap();

    // A desk acts for its own agents only.
    let mut desk = agents(&server, &t.desk).await;
    let login = |agent: &str| pb::SetAgentStateRequest {
        agent_id: agent.into(),
        state: pb::AgentState::NotReady.into(),
        endpoint: format!("sip:{agent}@pbx"),
        skills: vec![pb::Skill {
            name: "support".into(),
            proficiency: 5,
        }],
        ..Default::default()
    };
    desk.set_agent_state(login("a-1")).await.unwrap();
    let e = desk.set_agent_state(login("a-2")).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert!(
        e.message()
            .contains("agent \"a-2\" is not bound to desk \"desk-a1\""),
        "{e:?}"
    );
    let e = desk
        .get_agent(pb::GetAgentRequest {
            agent_id: "a-2".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    let mut supervisor = agents(&server, &t.supervisor).await;
    supervisor
        .get_agent(pb::GetAgentRequest {
            agent_id: "a-1".into(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_stolen_switch_id_gets_no_assignments_and_only_the_holder_replaces_a_stream() {
    let dir = temp_dir("security-streams");
    let t = make_tokens(&dir);
    let server = start_with(&secured(&dir, "")).await;
    let watch = |switch: &str| pb::WatchAssignmentsRequest {
        switch_id: switch.into(),
    };
    // sbc-2's token asking for sbc-1's stream gets nothing.
    let mut thief = routing(&server, &t.other_switch).await;
    let e = thief.watch_assignments(watch("sbc-1")).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");

    let mut owner = routing(&server, &t.switch).await;
    let mut stream = owner
        .watch_assignments(watch("sbc-1"))
        .await
        .unwrap()
        .into_inner();
    // Another identity bound to the same switch id cannot take an open stream over.
    let mut standby = routing(&server, &t.second_switch).await;
    let e = standby.watch_assignments(watch("sbc-1")).await.unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists, "{e:?}");
    assert!(e.message().contains("token"), "names the holder: {e:?}");

    // Assignments still reach the owner's stream.
    let mut desk = agents(&server, &t.admin).await;
    desk.set_agent_state(pb::SetAgentStateRequest {
        agent_id: "a-1".into(),
        state: pb::AgentState::Available.into(),
        endpoint: "sip:a-1@pbx".into(),
        skills: vec![
            pb::Skill {
                name: "general".into(),
                proficiency: 5,
            },
            pb::Skill {
                name: "platinum".into(),
                proficiency: 5,
            },
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    owner
        .route_call(pb::RouteCallRequest {
            call_id: "vip-1".into(),
            caller: MARIA_PLATINUM.into(),
            dialed: PLATINUM_LINE.into(),
            switch_id: "sbc-1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let a = next(&mut stream).await;
    assert_eq!(a.call_id, "vip-1");

    // The holder itself replaces its stream (a reconnect); the old one is told.
    let _again = owner.watch_assignments(watch("sbc-1")).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(ended.code(), Code::Aborted, "{ended:?}");
    // Once the holder's stream is gone, the standby may watch.
    drop(_again);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match standby.watch_assignments(watch("sbc-1")).await {
            Ok(_) => break,
            Err(e) if e.code() == Code::AlreadyExists && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}

#[tokio::test]
async fn an_identity_past_its_rate_limit_is_told_the_limit() {
    let dir = temp_dir("security-rate");
    let t = make_tokens(&dir);
    let (server, metrics) = scraped(start_with(&secured(&dir, "rate_limit = 3")).await).await;
    let before = scrape(metrics).await;
    assert_eq!(
        before.get("switchboard_requests_refused_total{reason=\"rate_limited\"}"),
        Some(&0.0),
        "counted from zero"
    );
    let mut supervisor = admin(&server, &t.supervisor).await;
    let mut codes = Vec::new();
    for _ in 0..10 {
        let r = supervisor
            .get_queue_stats(pb::GetQueueStatsRequest::default())
            .await;
        codes.push(r.map(|_| Code::Ok).unwrap_or_else(|e| {
            assert!(
                e.message()
                    .contains("may make 3 requests per second (security.rate_limit)"),
                "{e:?}"
            );
            e.code()
        }));
    }
    assert_eq!(codes[..3], [Code::Ok; 3], "{codes:?}");
    assert!(codes.contains(&Code::ResourceExhausted), "{codes:?}");
    let limited = codes
        .iter()
        .filter(|c| **c == Code::ResourceExhausted)
        .count();
    let after = scrape(metrics).await;
    assert_eq!(
        after["switchboard_requests_refused_total{reason=\"rate_limited\"}"],
        limited as f64
    );
    assert_eq!(
        after["switchboard_requests_refused_total{reason=\"unauthenticated\"}"],
        0.0
    );
    // Another identity has a limit of its own.
    let mut ops = admin(&server, &t.admin).await;
    ops.get_queue_stats(pb::GetQueueStatsRequest::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn admin_changes_are_audited_with_who_and_what_and_no_secret() {
    let dir = temp_dir("security-audit");
    let t = make_tokens(&dir);
    let server = start_with(&secured(&dir, "")).await;
    let mut ops = admin(&server, &t.admin).await;
    let maria = ops
        .get_customer(pb::GetCustomerRequest {
            key: Some(pb::get_customer_request::Key::PhoneNumber(
                MARIA_PLATINUM.into(),
            )),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    let mut raised = maria.clone();
    raised.tier = "concierge".into();
    raised.name = "Maria L.".into();
    ops.upsert_customer(pb::UpsertCustomerRequest {
        customer: Some(raised),
    })
    .await
    .unwrap();
    let e = ops
        .reload_config(pb::ReloadConfigRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "embedded config: {e:?}");

    let mut floor = admin(&server, &t.supervisor).await;
    let entries = floor
        .list_audit(pb::ListAuditRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(entries.len(), 1, "{entries:#?}");
    let e = &entries[0];
    assert_eq!(e.action, "switchboard.v1.Admin/UpsertCustomer");
    assert_eq!(e.target, maria.customer_id);
    assert_eq!(e.role, "admin");
    assert!(e.who.starts_with("admin \"ops\" (token "), "{e:?}");
    assert!(e.remote.starts_with("127.0.0.1:"), "{e:?}");
    assert_eq!(e.detail, "tier platinum -> concierge; name changed");
    let shown = format!("{entries:?}");
    for secret in [&t.admin, &t.supervisor] {
        assert!(
            !shown.contains(&secret[secret.len() - 20..]),
            "a token in the audit trail"
        );
    }
    assert!(!shown.contains("Maria L."), "a name in the audit trail");

    // Supervisors read the trail; they change nothing.
    let e = floor
        .upsert_customer(pb::UpsertCustomerRequest {
            customer: Some(maria),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = floor
        .list_audit(pb::ListAuditRequest {
            limit: 5_000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().starts_with("limit: 5000 is over"), "{e:?}");
    let e = floor
        .list_audit(pb::ListAuditRequest {
            since: Some(prost_types::Timestamp {
                seconds: -5,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(
        e.message().starts_with("since: must be a valid time"),
        "{e:?}"
    );
    // A time after every entry: none.
    let later = floor
        .list_audit(pb::ListAuditRequest {
            since: Some(prost_types::Timestamp {
                seconds: 4_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(later.entries.is_empty());
}

#[tokio::test]
async fn a_token_revoked_from_the_file_is_refused_within_seconds_and_a_new_one_is_let_in() {
    let dir = temp_dir("security-revoke");
    let t = make_tokens(&dir);
    let server = start_with(&secured(&dir, "")).await;
    let mut floor = admin(&server, &t.supervisor).await;
    floor
        .get_queue_stats(pb::GetQueueStatsRequest::default())
        .await
        .unwrap();
    let file = dir.join("tokens.toml");
    // A tokens file that cannot be read (a bad edit) leaves the tokens read before.
    let good = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, "[[tokens]]\nid = 3\n").unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    floor
        .get_queue_stats(pb::GetQueueStatsRequest::default())
        .await
        .expect("the tokens read before stay while the file is broken");
    std::fs::write(&file, good).unwrap();
    assert!(tokens::revoke(&file, "floor").unwrap());
    let fresh = tokens::create(
        &file,
        "floor-2",
        &Grant::new(Role::Supervisor, vec![], vec![]).unwrap(),
    )
    .unwrap()
    .token;
    let mut by_code = BTreeMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let old = floor
            .get_queue_stats(pb::GetQueueStatsRequest::default())
            .await;
        let new = admin(&server, &fresh)
            .await
            .get_queue_stats(pb::GetQueueStatsRequest::default())
            .await;
        if let (Err(e), Ok(_)) = (&old, &new) {
            assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
            assert!(e.message().contains("revoked"), "{e:?}");
            break;
        }
        *by_code.entry(old.is_ok()).or_insert(0) += 1;
        assert!(
            std::time::Instant::now() < deadline,
            "still served: {by_code:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn reflection_turned_off_is_not_served_even_to_admins() {
    let dir = temp_dir("security-reflection");
    let t = make_tokens(&dir);
    let server = start_with(&secured(&dir, "reflection = \"off\"")).await;
    let channel = server.channel().await;
    let reflection = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
    let (code, message) = call(channel.clone(), reflection, Some(&t.admin), ()).await;
    assert_eq!(code, Code::Unimplemented, "{message}");
    let (code, _) = call(channel, reflection, Some(&t.supervisor), ()).await;
    assert_eq!(code, Code::PermissionDenied);
}

/// `GET path` on the metrics port with `authorization` (a header value, or none): the
/// status line and the headers.
async fn http_as(addr: std::net::SocketAddr, path: &str, authorization: Option<&str>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = authorization.map_or_else(String::new, |a| format!("Authorization: {a}\r\n"));
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: t\r\n{auth}Connection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut raw = Vec::new();
    // An event stream stays open: its head is enough.
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut raw)).await;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    raw.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_wallboard_and_its_feed_need_a_supervisors_token_and_metrics_stay_open() {
    use base64::Engine;
    let dir = temp_dir("security-wallboard");
    let tokens = make_tokens(&dir);
    let (_server, http) = scraped(start_with(&secured(&dir, "")).await).await;
    let basic = |token: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("wall-tv:{token}"))
        )
    };
    for path in [
        "/wallboard",
        "/floor",
        "/floor/events",
        "/wallboard/wallboard.js",
    ] {
        let none = http_as(http, path, None).await;
        assert!(none.starts_with("HTTP/1.1 401"), "{path}: {none}");
        assert!(
            none.to_ascii_lowercase()
                .contains("www-authenticate: basic realm="),
            "{path}: the browser is asked for the token: {none}"
        );
        let wrong = http_as(http, path, Some(&basic("sbt_nope_nope"))).await;
        assert!(wrong.starts_with("HTTP/1.1 401"), "{path}: {wrong}");
        let desk = http_as(http, path, Some(&format!("Bearer {}", tokens.desk))).await;
        assert!(desk.starts_with("HTTP/1.1 403"), "{path}: {desk}");
        for ok in [
            basic(&tokens.supervisor),
            format!("Bearer {}", tokens.supervisor),
            basic(&tokens.admin),
        ] {
            let head = http_as(http, path, Some(&ok)).await;
            assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
        }
    }
    let garbled = http_as(http, "/wallboard", Some("Basic !!!not-base64")).await;
    assert!(garbled.starts_with("HTTP/1.1 401"), "{garbled}");
    let metrics = http_as(http, "/metrics", None).await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
}
