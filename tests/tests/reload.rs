//! Hot reload over real gRPC: an edit on disk takes effect with no restart, a broken edit
//! leaves routing as it was and says why, and waiting calls keep their places.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use switchboard_config::DEFAULT_CONFIG;
use switchboard_proto::v1::{self as pb, decision::Action, routing_client::RoutingClient};
use switchboard_server::SystemClock;
use switchboard_tests::*;
use tonic::{Code, Streaming, transport::Channel};

const SWITCH: &str = "sbc-1";
/// Unknown callers: standard tier, no preference, the main menu.
const CALLERS: [&str; 3] = ["+13125550171", "+13125550172", "+13125550173"];

/// The shipped config as a file of its own in a fresh folder.
fn config_file(test: &str) -> PathBuf {
    let path = temp_dir(test).join("switchboard.toml");
    std::fs::write(&path, DEFAULT_CONFIG).unwrap();
    path
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in the config");
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

const STANDARD_TO_CARE: &str = "
[[rules]]
name = \"standard-to-care\"
when = 'caller.tier == \"standard\" and caller.preference == \"none\"'
then = { queue = \"care\" }
";

async fn route(c: &mut RoutingClient<Channel>, id: &str, caller: &str) -> pb::Decision {
    c.route_call(pb::RouteCallRequest {
        call_id: id.into(),
        caller: caller.into(),
        dialed: MAIN_LINE.into(),
        channel: pb::Channel::Voice.into(),
        switch_id: SWITCH.into(),
    })
    .await
    .unwrap()
    .into_inner()
}

/// Where a dry run sends `caller` now: "menu NAME" or "queue NAME".
async fn goes_to(server: &TestServer, caller: &str) -> String {
    let e = server
        .admin()
        .await
        .explain_route(pb::ExplainRouteRequest {
            caller: caller.into(),
            dialed: MAIN_LINE.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    match &e.decisions[0].action {
        Some(Action::PlayMenu(m)) => format!("menu {}", m.menu),
        Some(Action::Enqueue(q)) => format!("queue {}", q.queue),
        None => "nothing".into(),
    }
}

async fn reload(server: &TestServer) -> pb::ReloadConfigResponse {
    server
        .admin()
        .await
        .reload_config(pb::ReloadConfigRequest {})
        .await
        .unwrap()
        .into_inner()
}

async fn waiting_in(server: &TestServer, queue: &str) -> u32 {
    server
        .admin()
        .await
        .get_queue_stats(pb::GetQueueStatsRequest {
            queue: queue.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .queues[0]
        .waiting
}

fn agent(id: &str, skill: &str) -> pb::SetAgentStateRequest {
    pb::SetAgentStateRequest {
        agent_id: id.into(),
        state: pb::AgentState::Available.into(),
        skills: vec![pb::Skill {
            name: skill.into(),
            proficiency: 5,
        }],
        endpoint: format!("sip:{id}@pbx"),
        ..Default::default()
    }
}

async fn set_state(server: &TestServer, request: pb::SetAgentStateRequest) {
    server
        .agents()
        .await
        .set_agent_state(request)
        .await
        .unwrap();
}

/// Takes the agent's current call to its end and makes them available for the next.
async fn finish(server: &TestServer, c: &mut RoutingClient<Channel>, call: &str, agent: &str) {
    for kind in [pb::CallEventKind::Connected, pb::CallEventKind::Ended] {
        c.report_call_event(pb::CallEvent {
            call_id: call.into(),
            kind: kind.into(),
            agent_id: agent.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    set_state(
        server,
        pb::SetAgentStateRequest {
            agent_id: agent.into(),
            state: pb::AgentState::Available.into(),
            ..Default::default()
        },
    )
    .await;
}

/// The server on the config at `path`, a routing client, and the switch's assignments.
async fn serve_watched(
    path: &Path,
) -> (
    TestServer,
    RoutingClient<Channel>,
    Streaming<pb::Assignment>,
) {
    let server = start_from_path(path, Arc::new(SystemClock)).await;
    let mut routing = server.routing().await;
    let stream = routing
        .watch_assignments(pb::WatchAssignmentsRequest {
            switch_id: SWITCH.into(),
        })
        .await
        .unwrap()
        .into_inner();
    (server, routing, stream)
}

#[tokio::test]
async fn a_rule_edited_on_disk_changes_the_next_decision_without_a_restart() {
    let path = config_file("edit");
    let server = start_from_path(&path, Arc::new(SystemClock)).await;
    let mut routing = server.routing().await;
    assert_eq!(goes_to(&server, CALLERS[0]).await, "menu main");

    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text + STANDARD_TO_CARE).unwrap();
    let edited = Instant::now();
    let deadline = edited + Duration::from_secs(10);
    while goes_to(&server, CALLERS[0]).await != "queue care" {
        assert!(Instant::now() < deadline, "the edit was not applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "edit applied {} ms after the write",
        edited.elapsed().as_millis()
    );
    let d = route(&mut routing, "after-edit", CALLERS[0]).await;
    assert_eq!(d.reason, "rule standard-to-care");
    assert!(d.menu_skipped);
    // The new plan serves decisions a moment before the reload that made it is counted.
    while server.app.reload_counts().applied == 0 {
        assert!(Instant::now() < deadline, "the reload was not counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.app.reload_counts().applied, 1);
    // The change is in the audit trail, made on the host.
    let audit = server
        .admin()
        .await
        .list_audit(pb::ListAuditRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(audit.len(), 1, "{audit:#?}");
    assert_eq!(
        (
            audit[0].who.as_str(),
            audit[0].role.as_str(),
            audit[0].action.as_str()
        ),
        ("file change", "host", "reload")
    );
    assert_eq!(audit[0].target, path.display().to_string());
    assert_eq!(audit[0].detail, "applied, 0 warning(s)");
}

#[tokio::test]
async fn a_broken_edit_leaves_routing_on_the_running_config_and_says_why() {
    let path = config_file("broken");
    let server = start_from_path(&path, Arc::new(SystemClock)).await;
    let broken = STANDARD_TO_CARE
        .replace("queue = \"care\"", "queue = \"car\"")
        .replace("caller.preference", "caller.preferense");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.clone() + &broken).unwrap();
    // The watcher notices, refuses and counts it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.app.reload_counts().failed == 0 {
        assert!(Instant::now() < deadline, "the broken edit was not noticed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.app.reload_counts().applied, 0);
    assert_eq!(goes_to(&server, CALLERS[0]).await, "menu main");
    let mut routing = server.routing().await;
    let d = route(&mut routing, "still-old", CALLERS[0]).await;
    assert_eq!(d.reason, "line entry");

    // Asked directly, the server says exactly what is wrong, every error at once.
    let r = reload(&server).await;
    assert!(!r.applied);
    let file = path.display().to_string();
    let written = std::fs::read_to_string(&path).unwrap();
    let line_of = |needle: &str| written.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert_eq!(
        r.errors,
        [
            format!(
                "{file}:{}:39: rules[9].when: unknown field caller.preferense (did you mean \"caller.preference\"?)",
                line_of("caller.preferense")
            ),
            format!(
                "{file}:{}:18: rules[9].then.queue: unknown queue \"car\" (did you mean \"care\"?)",
                line_of("\"car\"")
            ),
            format!("{file}: 2 errors in config; the running config stays"),
        ]
    );
    assert_eq!((r.reloads_applied, r.reloads_failed), (0, 2));

    // Fixed, it applies.
    std::fs::write(&path, text + STANDARD_TO_CARE).unwrap();
    let r = reload(&server).await;
    assert!(r.applied, "{:?}", r.errors);
    assert_eq!(goes_to(&server, CALLERS[0]).await, "queue care");
}

#[tokio::test]
async fn waiting_calls_keep_their_places_across_a_reload() {
    let path = config_file("places");
    let (server, mut routing, mut stream) = serve_watched(&path).await;
    for (i, caller) in CALLERS.iter().enumerate() {
        route(&mut routing, &format!("w{i}"), caller).await;
        press(&mut routing, &format!("w{i}"), "0").await;
    }
    assert_eq!(waiting_in(&server, "operator").await, 3);

    // A new queue, a new aging rate and strategy for the operator queue, a new rule.
    edit(
        &path,
        "[queues.operator]\nskills = { general = 1 }",
        "[queues.operator]\nskills = { general = 1 }\naging_per_minute = 30\nstrategy = \"round_robin\"\n\n[queues.sales]\nskills = { sales = 1 }",
    );
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text + STANDARD_TO_CARE).unwrap();
    let r = reload(&server).await;
    assert!(r.applied, "{:?}", r.errors);
    assert_eq!(waiting_in(&server, "operator").await, 3);
    assert_eq!(waiting_in(&server, "sales").await, 0);

    // One operator serves them in their original order.
    set_state(&server, agent("op", "general")).await;
    for i in 0..3 {
        let a = next(&mut stream).await;
        assert_eq!(
            (a.call_id.as_str(), a.queue.as_str()),
            (format!("w{i}").as_str(), "operator")
        );
        finish(&server, &mut routing, &a.call_id, "op").await;
    }
}

#[tokio::test]
async fn a_removed_queue_hands_its_waiting_calls_to_the_fallback_queue() {
    let path = config_file("removed");
    let (server, mut routing, mut stream) = serve_watched(&path).await;
    route(&mut routing, "b0", CALLERS[0]).await;
    press(&mut routing, "b0", "3").await;
    route(&mut routing, "o1", CALLERS[1]).await;
    press(&mut routing, "o1", "0").await;
    route(&mut routing, "b2", CALLERS[2]).await;
    press(&mut routing, "b2", "3").await;
    assert_eq!(waiting_in(&server, "billing").await, 2);

    // Billing goes; its menu options lead to care now.
    edit(&path, "[queues.billing]\n", "[queues.billing_gone]\n");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("[queues.billing_gone]", "[queues.collections]")
        .replace("queue = \"billing\" }", "queue = \"care\" }");
    std::fs::write(&path, text).unwrap();
    let r = reload(&server).await;
    assert!(r.applied, "{:?}", r.errors);
    let stats = server
        .admin()
        .await
        .get_queue_stats(pb::GetQueueStatsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = stats.queues.iter().map(|q| q.queue.as_str()).collect();
    assert!(!names.contains(&"billing"), "{names:?}");
    assert!(names.contains(&"collections"), "{names:?}");
    assert_eq!(waiting_in(&server, "operator").await, 3);
    let status = server
        .admin()
        .await
        .get_queue_stats(pb::GetQueueStatsRequest {
            queue: "billing".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    // In arrival order, whichever queue they came from.
    set_state(&server, agent("op", "general")).await;
    for id in ["b0", "o1", "b2"] {
        let a = next(&mut stream).await;
        assert_eq!((a.call_id.as_str(), a.queue.as_str()), (id, "operator"));
        finish(&server, &mut routing, &a.call_id, "op").await;
    }
}

#[tokio::test]
async fn a_reload_that_would_strand_calls_or_reorder_tiers_is_refused() {
    let path = config_file("refused");
    let server = start_from_path(&path, Arc::new(SystemClock)).await;
    // Without a fallback queue, removing a queue is refused.
    edit(&path, "fallback_queue = \"operator\"\n", "");
    edit(&path, "[queues.concierge]\n", "[queues.vip_desk]\n");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "then = { queue = \"concierge\" }",
        "then = { queue = \"vip_desk\" }",
    );
    std::fs::write(&path, &text).unwrap();
    let r = reload(&server).await;
    assert!(!r.applied);
    assert_eq!(
        r.errors,
        [format!(
            "{}: queue concierge is removed but calls.fallback_queue is not set, so its calls would have nowhere to go",
            path.display()
        )]
    );
    // Tiers hold customers' places: they may not be reordered.
    let config = DEFAULT_CONFIG.replacen(
        "name = \"gold\"\nbase_priority = 20",
        "name = \"silver\"\nbase_priority = 20",
        1,
    );
    std::fs::write(&path, config).unwrap();
    let r = reload(&server).await;
    assert!(!r.applied);
    // (The rule that names gold is refused too.)
    assert_eq!(r.errors.len(), 3, "{:?}", r.errors);
    assert!(
        r.errors[0].contains(": tiers: a reload cannot rename, remove or reorder tiers (running: standard, gold, platinum, concierge); add new tiers at the end, or restart to apply"),
        "{:?}",
        r.errors
    );
    assert_eq!(goes_to(&server, JAMES_GOLD).await, "menu main");
}

#[tokio::test]
async fn a_server_on_the_embedded_config_cannot_reload() {
    let server = start().await;
    let status = server
        .admin()
        .await
        .reload_config(pb::ReloadConfigRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("--config"),
        "{}",
        status.message()
    );
}

const SPANISH_GOLD: &str = "[[rules]]
name = \"spanish-gold\"
when = 'caller.language == \"es\" and caller.tier == \"gold\"'
then = { queue = \"support\", skills = { spanish = 5 } }

";

fn agent_with(id: &str, skills: &[(&str, u32)]) -> pb::SetAgentStateRequest {
    pb::SetAgentStateRequest {
        skills: skills
            .iter()
            .map(|(name, proficiency)| pb::Skill {
                name: (*name).into(),
                proficiency: *proficiency,
            })
            .collect(),
        ..agent(id, "")
    }
}

#[tokio::test]
async fn calls_needing_extra_skills_wait_for_agents_who_have_them_and_go_home_when_the_rule_goes() {
    let path = config_file("skills");
    edit(
        &path,
        "[[rules]]\nname = \"concierge\"",
        &format!("{SPANISH_GOLD}[[rules]]\nname = \"concierge\""),
    );
    let (server, mut routing, mut stream) = serve_watched(&path).await;
    // Luis Ortega is gold and speaks Spanish.
    let d = route(&mut routing, "es1", LUIS_FRIENDLY_CHAT).await;
    match &d.action {
        Some(Action::Enqueue(q)) => {
            assert_eq!(
                (q.queue.as_str(), q.position),
                ("support[spanish>=5]", Some(1))
            )
        }
        other => panic!("{other:?}"),
    }
    // A technical agent without Spanish does not get him; one with it does.
    set_state(&server, agent_with("tech", &[("technical", 5)])).await;
    assert_eq!(waiting_in(&server, "support[spanish>=5]").await, 1);
    set_state(
        &server,
        agent_with("ana", &[("technical", 5), ("spanish", 6)]),
    )
    .await;
    let a = next(&mut stream).await;
    assert_eq!(
        (a.call_id.as_str(), a.agent_id.as_str(), a.queue.as_str()),
        ("es1", "ana", "support[spanish>=5]")
    );
    // He calls again while Ana is busy; tech goes on a break, so the call waits.
    set_state(
        &server,
        pb::SetAgentStateRequest {
            agent_id: "tech".into(),
            state: pb::AgentState::NotReady.into(),
            reason: "break".into(),
            ..Default::default()
        },
    )
    .await;
    route(&mut routing, "es2", LUIS_FRIENDLY_CHAT).await;
    assert_eq!(waiting_in(&server, "support[spanish>=5]").await, 1);
    // The rule goes: his call goes back to support, where tech, back from the break,
    // takes it.
    edit(&path, SPANISH_GOLD, "");
    let r = reload(&server).await;
    assert!(r.applied, "{:?}", r.errors);
    assert_eq!(waiting_in(&server, "support").await, 1);
    set_state(
        &server,
        pb::SetAgentStateRequest {
            agent_id: "tech".into(),
            state: pb::AgentState::Available.into(),
            ..Default::default()
        },
    )
    .await;
    let a = next(&mut stream).await;
    assert_eq!(
        (a.call_id.as_str(), a.agent_id.as_str(), a.queue.as_str()),
        ("es2", "tech", "support")
    );
}

#[tokio::test]
async fn a_rule_can_keep_a_call_for_a_named_agent() {
    let path = config_file("prefer");
    edit(
        &path,
        "[[rules]]\nname = \"concierge\"",
        "[[rules]]\nname = \"tom-to-bob\"\nwhen = 'caller.id == \"C0000004\"'\nthen = { queue = \"operator\", prefer_agent = \"bob\" }\n\n[[rules]]\nname = \"concierge\"",
    );
    let (server, mut routing, mut stream) = serve_watched(&path).await;
    // Amy has been idle longest, so longest-idle would pick her; the rule picks Bob.
    set_state(&server, agent("amy", "general")).await;
    set_state(&server, agent("bob", "general")).await;
    let d = route(&mut routing, "tom", TOM_ALWAYS_OPERATOR).await;
    assert_eq!(d.reason, "rule tom-to-bob");
    let a = next(&mut stream).await;
    assert_eq!((a.call_id.as_str(), a.agent_id.as_str()), ("tom", "bob"));
    // Anyone else still gets Amy first.
    route(&mut routing, "other", CALLERS[0]).await;
    press(&mut routing, "other", "0").await;
    let a = next(&mut stream).await;
    assert_eq!((a.call_id.as_str(), a.agent_id.as_str()), ("other", "amy"));
}

#[tokio::test]
async fn a_config_file_that_disappears_is_refused_and_routing_goes_on() {
    let path = config_file("gone");
    let server = start_from_path(&path, Arc::new(SystemClock)).await;
    std::fs::remove_file(&path).unwrap();
    let r = reload(&server).await;
    assert!(!r.applied);
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert!(
        r.errors[0].starts_with(&format!("{}: ", path.display())),
        "{:?}",
        r.errors
    );
    assert_eq!(goes_to(&server, CALLERS[0]).await, "menu main");
    // Put back with an edit, it applies again.
    std::fs::write(&path, DEFAULT_CONFIG.to_owned() + STANDARD_TO_CARE).unwrap();
    let r = reload(&server).await;
    assert!(r.applied, "{:?}", r.errors);
    assert_eq!(goes_to(&server, CALLERS[0]).await, "queue care");
}
