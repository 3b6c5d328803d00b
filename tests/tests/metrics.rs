//! `/metrics` over HTTP on a port of its own: route decisions by action and rule, the
//! decision latency histogram, calls waiting and longest wait per queue, agents by
//! state, service levels, FCR, CSAT and saves; scraped and parsed as Prometheus would.
//! With them, the agents' figures and the standards report over gRPC.

use switchboard_proto::v1 as pb;
use switchboard_tests::{get, samples, scrape, scraped, start};

/// The server on the shipped config, with its metrics served on a port of their own.
async fn start_scraped() -> (switchboard_tests::TestServer, std::net::SocketAddr) {
    scraped(start().await).await
}

/// Cy logs in, ready, for the platinum desk and the general queues.
fn cy_logs_in() -> pb::SetAgentStateRequest {
    pb::SetAgentStateRequest {
        agent_id: "cy".into(),
        state: pb::AgentState::Available.into(),
        skills: ["general", "platinum"]
            .iter()
            .map(|s| pb::Skill {
                name: (*s).into(),
                proficiency: 6,
            })
            .collect(),
        endpoint: "sip:cy@pbx".into(),
        ..Default::default()
    }
}

fn last_hour() -> Option<prost_types::Duration> {
    Some(prost_types::Duration {
        seconds: 3_600,
        nanos: 0,
    })
}

#[tokio::test]
async fn a_scrape_shows_decisions_waiting_calls_and_agents_as_they_are() {
    let (server, metrics) = start_scraped().await;
    let first = scrape(metrics).await;
    assert_eq!(
        first.get(&format!(
            "switchboard_build_info{{version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        )),
        Some(&1.0),
        "the build is named"
    );
    let mut routing = server.routing().await;
    // Two strangers on the main line get its menu; Maria (platinum) on the platinum
    // line goes straight to a queue and waits there (nobody is logged in).
    for (id, caller, dialed) in [
        ("m1", "+13125550199", "+18005550100"),
        ("m2", "+13125550198", "+18005550100"),
        ("p1", "+12125550101", "+18005550199"),
    ] {
        routing
            .route_call(pb::RouteCallRequest {
                call_id: id.into(),
                caller: caller.into(),
                dialed: dialed.into(),
                switch_id: "sbc-1".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    // A replay is not a second decision.
    routing
        .route_call(pb::RouteCallRequest {
            call_id: "m1".into(),
            caller: "+13125550199".into(),
            dialed: "+18005550100".into(),
            switch_id: "sbc-1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    server
        .agents()
        .await
        .set_agent_state(pb::SetAgentStateRequest {
            agent_id: "ann".into(),
            state: pb::AgentState::NotReady.into(),
            reason: "training".into(),
            skills: vec![pb::Skill {
                name: "billing".into(),
                proficiency: 5,
            }],
            endpoint: "sip:ann@pbx".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    let (status, body) = get(metrics, "/metrics").await;
    assert!(status.contains("200"), "{status}");
    let s = samples(&body);
    let sum = |prefix: &str| -> f64 {
        s.iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .sum()
    };
    assert_eq!(
        s.get("switchboard_route_decisions_total{action=\"menu\",rule=\"line_entry\"}"),
        Some(&2.0),
        "{body}"
    );
    assert_eq!(
        sum("switchboard_route_decisions_total{action=\"enqueue\""),
        1.0,
        "{body}"
    );
    assert_eq!(
        s.get("switchboard_route_decision_seconds_count"),
        Some(&3.0)
    );
    let waiting: Vec<_> = s
        .iter()
        .filter(|(k, v)| k.starts_with("switchboard_calls_waiting{") && **v > 0.0)
        .collect();
    assert_eq!(waiting.len(), 1, "{body}");
    let queue = waiting[0].0.trim_start_matches("switchboard_calls_waiting");
    assert!(s[&format!("switchboard_longest_wait_seconds{queue}")] >= 0.0);
    assert_eq!(s.get("switchboard_agents{state=\"not_ready\"}"), Some(&1.0));
    assert_eq!(s.get("switchboard_agents{state=\"available\"}"), Some(&0.0));
    // Ann is away: nobody staffed, nobody busy.
    assert_eq!(s.get("switchboard_occupancy"), Some(&0.0));
    // Handle times start at each queue's configured estimate.
    assert!(
        s.keys()
            .any(|k| k.starts_with("switchboard_average_handle_time_seconds{"))
    );
    // No caller number appears anywhere in the exposition. (Not a bare "555": the
    // latency histogram's sum is a float that may hold those digits.)
    for number in ["3125550199", "3125550198", "2125550101"] {
        assert!(!body.contains(number), "{number} in {body}");
    }

    // The queue's counters by tier, and the tiers' published standards.
    let offered = format!("switchboard_calls_offered_total{{{}", &queue[1..]);
    let offered = offered.replace("\"}", "\",tier=\"platinum\"}");
    assert_eq!(s.get(&offered), Some(&1.0), "{offered} in {body}");
    assert_eq!(
        s.get("switchboard_service_level_standard{tier=\"platinum\"}"),
        Some(&0.9)
    );
    assert_eq!(
        s.get("switchboard_service_level_standard_seconds{tier=\"platinum\"}"),
        Some(&20.0)
    );
    // Maria hangs up: counted as abandoned, and no longer waiting.
    routing
        .report_call_event(pb::CallEvent {
            call_id: "p1".into(),
            kind: pb::CallEventKind::Abandoned.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (_, body) = get(metrics, "/metrics").await;
    let s = samples(&body);
    let abandoned = offered.replace("calls_offered", "calls_abandoned");
    assert_eq!(s.get(&abandoned), Some(&1.0), "{abandoned} in {body}");
    assert_eq!(s.get(&offered), Some(&1.0), "{body}");
    assert_eq!(
        s.get(&format!("switchboard_calls_waiting{queue}")),
        Some(&0.0),
        "{body}"
    );

    // Surveys: Maria is delighted and says so twice (counted once); a stranger who
    // never reached a queue is not.
    for (call, satisfaction, recommend) in [("p1", 5, 9), ("p1", 2, 3), ("m1", 3, 3)] {
        routing
            .report_call_event(pb::CallEvent {
                call_id: call.into(),
                // The survey rides on a hang-up report (a repeat of one is harmless).
                kind: pb::CallEventKind::Abandoned.into(),
                satisfaction,
                recommend: Some(recommend),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let (_, body) = get(metrics, "/metrics").await;
    let s = samples(&body);
    let maria = |metric: &str| s.get(&offered.replace("calls_offered", metric)).copied();
    assert_eq!(maria("satisfaction_responses"), Some(1.0), "{body}");
    assert_eq!(maria("satisfaction_points"), Some(5.0), "{body}");
    assert_eq!(maria("satisfied"), Some(1.0), "{body}");
    assert_eq!(maria("promoters"), Some(1.0), "{body}");
    assert_eq!(maria("detractors"), Some(0.0), "{body}");
    let stranger = "{queue=\"none\",tier=\"standard\"}";
    assert_eq!(
        s.get(&format!("switchboard_satisfaction_points_total{stranger}")),
        Some(&3.0),
        "{body}"
    );
    assert_eq!(
        s.get(&format!("switchboard_detractors_total{stranger}")),
        Some(&1.0),
        "{body}"
    );

    let (status, _) = get(metrics, "/nothing-here").await;
    assert!(status.contains("404"), "{status}");
    server.stop().await;
}

#[tokio::test]
async fn a_resolved_call_followed_by_a_repeat_contact_is_not_a_first_contact_resolution() {
    let (server, metrics) = start_scraped().await;
    server
        .agents()
        .await
        .set_agent_state(cy_logs_in())
        .await
        .unwrap();
    let mut routing = server.routing().await;
    let maria = |id: &str| pb::RouteCallRequest {
        call_id: id.into(),
        caller: "+12125550101".into(),
        dialed: "+18005550199".into(),
        switch_id: "sbc-1".into(),
        ..Default::default()
    };
    routing.route_call(maria("f1")).await.unwrap();
    for kind in [pb::CallEventKind::Connected, pb::CallEventKind::Ended] {
        routing
            .report_call_event(pb::CallEvent {
                call_id: "f1".into(),
                kind: kind.into(),
                agent_id: "cy".into(),
                resolved: true,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let (_, body) = get(metrics, "/metrics").await;
    let s = samples(&body);
    let series = |metric: &str| {
        format!("switchboard_{metric}_total{{queue=\"platinum_desk\",tier=\"platinum\"}}")
    };
    assert_eq!(s.get(&series("contacts_handled")), Some(&1.0), "{body}");
    assert_eq!(s.get(&series("contacts_resolved")), Some(&1.0), "{body}");
    assert_eq!(s.get(&series("resolutions_reopened")), Some(&0.0), "{body}");

    // She calls again the same day: the matter was not resolved at first contact.
    routing.route_call(maria("f2")).await.unwrap();
    let (_, body) = get(metrics, "/metrics").await;
    let s = samples(&body);
    assert_eq!(s.get(&series("repeat_contacts")), Some(&1.0), "{body}");
    assert_eq!(s.get(&series("resolutions_reopened")), Some(&1.0), "{body}");
    server.stop().await;
}

/// The done-when scenario: calls, surveys and agent events over gRPC on a store-backed
/// server with a hand-moved clock; `/metrics` scraped and parsed; the agent's figures and
/// coaching flag; the standards report marking platinum's missed standard.
#[tokio::test]
async fn service_levels_fcr_csat_agent_figures_and_the_standards_report_match_the_calls() {
    use std::time::Duration;
    let dir = switchboard_tests::temp_dir("standards");
    let clock = switchboard_tests::ManualClock::new();
    // Judge agents from 3 calls on, so the scenario's agent can be flagged.
    let text = switchboard_tests::stored_config(&dir.join("s.db")).replacen(
        "min_calls = 10",
        "min_calls = 3",
        1,
    );
    let config = switchboard_config::parse(&text, std::path::Path::new("test.toml")).unwrap();
    let (app, _) = switchboard_server::App::with_store(
        config,
        &switchboard_server::CustomerSource::Embedded,
        clock.clone(),
    )
    .unwrap();
    let (server, metrics) = scraped(switchboard_tests::serve_app(app).await).await;
    let mut routing = server.routing().await;
    let mut agents = server.agents().await;
    agents.set_agent_state(cy_logs_in()).await.unwrap();
    // Said after wrap-up, without a new log-in.
    let ready = pb::SetAgentStateRequest {
        agent_id: "cy".into(),
        state: pb::AgentState::Available.into(),
        ..Default::default()
    };
    let call = |id: &str, caller: &str| pb::RouteCallRequest {
        call_id: id.into(),
        caller: caller.into(),
        dialed: "+18005550100".into(),
        switch_id: "sbc-1".into(),
        ..Default::default()
    };
    let event = |id: &str, kind: pb::CallEventKind| pb::CallEvent {
        call_id: id.into(),
        kind: kind.into(),
        agent_id: "cy".into(),
        ..Default::default()
    };
    let (maria, fatima, ana, tom) = (
        "+12125550101",
        "+12145550100",
        "+12285550100",
        "+12125550104",
    );
    // Maria (platinum) reaches cy at once and is connected 5 s later: in standard (20 s).
    routing.route_call(call("p1", maria)).await.unwrap();
    clock.advance(Duration::from_secs(5));
    routing
        .report_call_event(event("p1", pb::CallEventKind::Connected))
        .await
        .unwrap();
    // Fatima (platinum) waits 40 s while cy is busy: answered late.
    routing.route_call(call("p2", fatima)).await.unwrap();
    clock.advance(Duration::from_secs(40));
    // Maria's call ends resolved, with a retention offer taken and a glowing survey.
    routing
        .report_call_event(pb::CallEvent {
            resolved: true,
            retention: pb::RetentionOffer::Accepted.into(),
            satisfaction: 5,
            recommend: Some(10),
            ..event("p1", pb::CallEventKind::Ended)
        })
        .await
        .unwrap();
    agents.set_agent_state(ready.clone()).await.unwrap();
    routing
        .report_call_event(event("p2", pb::CallEventKind::Connected))
        .await
        .unwrap();
    // Ana (platinum) waits 30 s and hangs up: abandoned after the standard's time.
    routing.route_call(call("p3", ana)).await.unwrap();
    clock.advance(Duration::from_secs(30));
    routing
        .report_call_event(pb::CallEvent {
            agent_id: String::new(),
            ..event("p3", pb::CallEventKind::Abandoned)
        })
        .await
        .unwrap();
    // Fatima's call ends unresolved; her unhappy survey comes afterwards.
    routing
        .report_call_event(event("p2", pb::CallEventKind::Ended))
        .await
        .unwrap();
    routing
        .report_call_event(pb::CallEvent {
            satisfaction: 2,
            recommend: Some(3),
            ..event("p2", pb::CallEventKind::Ended)
        })
        .await
        .unwrap();
    // Tom (standard, skips menus) reaches cy at once: in standard (60 s), resolved.
    agents.set_agent_state(ready.clone()).await.unwrap();
    routing.route_call(call("s1", tom)).await.unwrap();
    clock.advance(Duration::from_secs(2));
    routing
        .report_call_event(event("s1", pb::CallEventKind::Connected))
        .await
        .unwrap();
    routing
        .report_call_event(pb::CallEvent {
            resolved: true,
            satisfaction: 4,
            ..event("s1", pb::CallEventKind::Ended)
        })
        .await
        .unwrap();
    // Maria calls again the same day: her resolution is reopened. She hangs up at once
    // (cy is wrapping up): abandoned, but not held against the standard.
    routing.route_call(call("p4", maria)).await.unwrap();
    routing
        .report_call_event(pb::CallEvent {
            agent_id: String::new(),
            ..event("p4", pb::CallEventKind::Abandoned)
        })
        .await
        .unwrap();

    let (_, body) = get(metrics, "/metrics").await;
    let s = samples(&body);
    let value = |series: &str| -> f64 {
        *s.get(series)
            .unwrap_or_else(|| panic!("{series} missing from:\n{body}"))
    };
    let platinum = "{queue=\"platinum_desk\",tier=\"platinum\"}";
    let counter = |name: &str| value(&format!("switchboard_{name}_total{platinum}"));
    // Service level: 1 answered in 20 s of 2 answered + 1 late abandon.
    let third = 1.0 / 3.0;
    assert!((value("switchboard_service_level_window{tier=\"platinum\"}") - third).abs() < 1e-9);
    assert!((value("switchboard_service_level{tier=\"platinum\"}") - third).abs() < 1e-9);
    assert_eq!(
        value("switchboard_service_level_window{tier=\"standard\"}"),
        1.0
    );
    assert_eq!(value("switchboard_service_level_window_seconds"), 1800.0);
    assert!(!s.contains_key("switchboard_service_level_window{tier=\"gold\"}"));
    // Abandonment: 2 of 4 platinum calls, one of them after the standard's time.
    assert_eq!(counter("calls_offered"), 4.0);
    assert_eq!(counter("calls_abandoned"), 2.0);
    assert_eq!(counter("calls_abandoned_after_standard"), 1.0);
    // FCR: 2 handled, 1 resolved, and that one reopened: (1 - 1) / 2 = 0.
    assert_eq!(counter("contacts_handled"), 2.0);
    assert_eq!(counter("contacts_resolved"), 1.0);
    assert_eq!(counter("repeat_contacts"), 1.0);
    assert_eq!(counter("resolutions_reopened"), 1.0);
    // CSAT: 1 satisfied of 2 answers; NPS: 1 promoter, 1 detractor of 2.
    assert_eq!(counter("satisfaction_responses"), 2.0);
    assert_eq!(counter("satisfied"), 1.0);
    assert_eq!(counter("satisfaction_points"), 7.0);
    assert_eq!((counter("promoters"), counter("detractors")), (1.0, 1.0));
    assert_eq!(
        (counter("retention_offers"), counter("customer_saves")),
        (1.0, 1.0)
    );
    assert_eq!(value("switchboard_agents_needing_coaching"), 1.0);

    // cy's figures: 3 calls; handle times 40 + 15, 30 + 15 and 0 + 15 s (talk plus the
    // queue's wrap-up; Tom's call ended as it connected): 38.3 s on average; FCR 1 of 3 (Maria's came back); 2 of 3 surveys satisfied.
    let cy = agents
        .get_agent(pb::GetAgentRequest {
            agent_id: "cy".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .figures
        .unwrap();
    assert_eq!((cy.calls_handled, cy.resolved, cy.reopened), (3, 2, 1));
    assert_eq!(cy.average_handle_time.unwrap().seconds, 38);
    assert!((cy.first_contact_resolution.unwrap() - third).abs() < 1e-9);
    assert_eq!(cy.surveys, 3);
    assert!((cy.satisfied.unwrap() - 2.0 / 3.0).abs() < 1e-9);
    assert!((cy.average_satisfaction.unwrap() - 11.0 / 3.0).abs() < 1e-9);
    assert_eq!((cy.retention_offers, cy.customer_saves), (1, 1));
    // Points: Maria's call 3 (time, resolved, satisfied), Fatima's 1 (time), Tom's 3.
    assert_eq!(cy.points, 7);
    assert!(cy.coaching_needed);
    assert_eq!(
        cy.coaching_reasons,
        [
            "first-contact resolution 33.3% is under the standard 70%",
            "satisfied callers 66.7% is under the standard 80%"
        ]
    );
    let mut admin = server.admin().await;
    let stats = admin
        .get_agent_stats(pb::GetAgentStatsRequest {
            coaching_only: true,
            window: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.agents.len(), 1);
    assert_eq!(stats.agents[0].agent_id, "cy");
    assert_eq!(stats.agents[0].figures.as_ref(), Some(&cy));
    assert_eq!(stats.standard.unwrap().min_calls, 3);
    // The same figures made from the call records of the last hour (as after a restart):
    // handle times from answer to end plus wrap-up, Maria's return found by her number.
    let recorded = admin
        .get_agent_stats(pb::GetAgentStatsRequest {
            coaching_only: false,
            window: last_hour(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(recorded.agents.len(), 1);
    assert_eq!(recorded.agents[0].agent_id, "cy");
    assert_eq!(recorded.agents[0].figures.as_ref(), Some(&cy));

    // The standards report, from the call records: platinum missed, standard met, the
    // tiers without calls say so.
    let report = admin
        .get_standards_report(pb::GetStandardsReportRequest {
            window: last_hour(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.source, "call records");
    let tier = |name: &str| report.tiers.iter().find(|t| t.tier == name).unwrap();
    let p = tier("platinum");
    assert_eq!(p.verdict, i32::from(pb::Verdict::Missed));
    assert_eq!(
        (
            p.answered,
            p.answered_in_standard,
            p.abandoned,
            p.abandoned_after_standard
        ),
        (2, 1, 2, 1)
    );
    assert!((p.service_level.unwrap() - third).abs() < 1e-9);
    assert_eq!(
        (p.standard_percent, p.standard_within.unwrap().seconds),
        (90, 20)
    );
    assert_eq!(p.average_speed_of_answer.unwrap().seconds, 22);
    // All of it by phone: one channel row, the same figures against the same standard.
    assert_eq!(p.channels.len(), 1, "{:?}", p.channels);
    let voice = &p.channels[0];
    assert_eq!(voice.channel, "voice");
    assert_eq!(
        (
            voice.answered,
            voice.abandoned_after_standard,
            voice.verdict
        ),
        (2, 1, p.verdict)
    );
    assert_eq!(voice.standard_within, p.standard_within);
    assert_eq!(tier("standard").verdict, i32::from(pb::Verdict::Met));
    assert_eq!(tier("gold").verdict, i32::from(pb::Verdict::NoCalls));
    assert_eq!(tier("gold").service_level, None);
    // A window under a minute is refused, naming the field.
    let refused = admin
        .get_standards_report(pb::GetStandardsReportRequest {
            window: Some(prost_types::Duration {
                seconds: 10,
                nanos: 0,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert_eq!(refused.message(), "window: must be a minute or longer");
    server.stop().await;
}

/// Without a store the report comes from memory, which keeps the last day.
#[tokio::test]
async fn without_a_store_the_standards_report_reads_memory_for_up_to_a_day() {
    use std::time::Duration;
    let clock = switchboard_tests::ManualClock::new();
    let server =
        switchboard_tests::start_with_clock(switchboard_config::DEFAULT_CONFIG, clock.clone())
            .await;
    let mut routing = server.routing().await;
    // Maria (platinum) waits 25 s for nobody and hangs up: platinum misses its standard.
    routing
        .route_call(pb::RouteCallRequest {
            call_id: "m1".into(),
            caller: "+12125550101".into(),
            dialed: "+18005550199".into(),
            switch_id: "sbc-1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    clock.advance(Duration::from_secs(25));
    routing
        .report_call_event(pb::CallEvent {
            call_id: "m1".into(),
            kind: pb::CallEventKind::Abandoned.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut admin = server.admin().await;
    let report = admin
        .get_standards_report(pb::GetStandardsReportRequest { window: None })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.source, "memory");
    let to = report.to.unwrap().seconds;
    assert_eq!(to - report.from.unwrap().seconds, 24 * 3_600);
    let platinum = report.tiers.iter().find(|t| t.tier == "platinum").unwrap();
    assert_eq!(platinum.verdict, i32::from(pb::Verdict::Missed));
    assert_eq!(platinum.service_level, Some(0.0));
    assert_eq!(
        (platinum.abandoned, platinum.abandoned_after_standard),
        (1, 1)
    );
    // A day and a minute later the call has left the window.
    clock.advance(Duration::from_secs(24 * 3_600 + 60));
    let later = admin
        .get_standards_report(pb::GetStandardsReportRequest { window: None })
        .await
        .unwrap()
        .into_inner();
    assert!(
        later
            .tiers
            .iter()
            .all(|t| t.verdict == i32::from(pb::Verdict::NoCalls))
    );
    let refused = admin
        .get_standards_report(pb::GetStandardsReportRequest {
            window: Some(prost_types::Duration {
                seconds: 2 * 86_400,
                nanos: 0,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        refused.message(),
        "window: over 24 h needs the store (store.enabled); memory keeps the last day"
    );
    let refused = admin
        .get_agent_stats(pb::GetAgentStatsRequest {
            coaching_only: false,
            window: last_hour(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        refused.message(),
        "window: agent figures over a window come from the call records: the store is off (store.enabled)"
    );
    server.stop().await;
}

#[tokio::test]
async fn every_labelled_counter_exists_from_zero_at_start_and_after_a_reload() {
    let path = switchboard_tests::temp_dir("metrics-zero").join("switchboard.toml");
    std::fs::write(&path, switchboard_config::DEFAULT_CONFIG).unwrap();
    let server = switchboard_tests::start_from_path(
        &path,
        std::sync::Arc::new(switchboard_server::SystemClock),
    )
    .await;
    let (server, metrics) = scraped(server).await;
    let zero = |scraped: &std::collections::HashMap<String, f64>, series: &str| {
        assert_eq!(scraped.get(series), Some(&0.0), "{series} at zero");
    };
    let before = scrape(metrics).await;
    for series in [
        "switchboard_route_decisions_total{action=\"enqueue\",rule=\"platinum-desk\"}",
        "switchboard_route_decisions_total{action=\"menu\",rule=\"line_entry\"}",
        "switchboard_calls_offered_total{queue=\"care\",tier=\"gold\"}",
        "switchboard_calls_abandoned_after_standard_total{queue=\"concierge\",tier=\"standard\"}",
        "switchboard_contacts_handled_total{queue=\"none\",tier=\"platinum\"}",
        "switchboard_promoters_total{queue=\"billing\",tier=\"concierge\"}",
        "switchboard_calls_abandoned_in_menu_total{menu=\"main\"}",
        "switchboard_calls_expired_in_menu_total{menu=\"main\"}",
        "switchboard_answer_wait_seconds_count{queue=\"care\",tier=\"gold\"}",
        "switchboard_abandon_wait_seconds_bucket{le=\"20.0\",queue=\"billing\",tier=\"platinum\"}",
        "switchboard_talk_seconds_count{queue=\"support\"}",
        "switchboard_handle_seconds_sum{queue=\"concierge\"}",
        "switchboard_queue_agents{queue=\"operator\",state=\"available\"}",
        "switchboard_queue_agents{queue=\"care\",state=\"not_ready\"}",
    ] {
        zero(&before, series);
    }
    // A rule added by a reload has its series at once.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text + "\n[[rules]]\nname = \"late-addition\"\nwhen = 'caller.tier == \"gold\"'\nthen = { queue = \"care\" }\n",
    )
    .unwrap();
    let reloaded = server
        .admin()
        .await
        .reload_config(pb::ReloadConfigRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(reloaded.applied, "{reloaded:?}");
    let after = scrape(metrics).await;
    zero(
        &after,
        "switchboard_route_decisions_total{action=\"enqueue\",rule=\"late-addition\"}",
    );
}

/// `GET /metrics` with an `Accept` header: the content type and the body.
async fn metrics_as(addr: std::net::SocketAddr, accept: Option<&str>) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let accept = accept.map_or_else(String::new, |a| format!("Accept: {a}\r\n"));
    stream
        .write_all(
            format!("GET /metrics HTTP/1.1\r\nHost: t\r\n{accept}Connection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or_default()
        .to_owned();
    (content_type, body.to_owned())
}

#[tokio::test]
async fn scrapers_get_the_text_format_unless_they_ask_for_openmetrics() {
    let (_server, metrics) = start_scraped().await;
    let (kind, text) = metrics_as(metrics, None).await;
    assert_eq!(kind, "text/plain; version=0.0.4; charset=utf-8");
    assert!(
        text.contains("# TYPE switchboard_calls_offered_total counter\n"),
        "{text}"
    );
    assert!(
        text.contains("# HELP switchboard_calls_offered_total "),
        "{text}"
    );
    assert!(
        text.contains("# TYPE switchboard_build_info gauge\n"),
        "{text}"
    );
    assert!(!text.contains("# EOF"), "{text}");
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let (kind, open) = metrics_as(metrics, Some(prometheus)).await;
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    assert!(
        open.contains("# TYPE switchboard_calls_offered counter\n"),
        "{open}"
    );
    assert!(open.ends_with("# EOF\n"), "{open}");
    // The same samples either way.
    assert_eq!(samples(&text), samples(&open));
}

#[tokio::test]
async fn waits_talk_and_handle_times_are_histograms_and_agents_are_counted_per_queue() {
    let clock = switchboard_tests::ManualClock::new();
    let server =
        switchboard_tests::start_with_clock(switchboard_config::DEFAULT_CONFIG, clock.clone())
            .await;
    let (server, metrics) = scraped(server).await;
    let mut routing = server.routing().await;
    // Tom (standard) waits 25 s in the operators' queue before Cy comes and answers.
    routing
        .route_call(pb::RouteCallRequest {
            call_id: "t1".into(),
            caller: switchboard_tests::TOM_ALWAYS_OPERATOR.into(),
            dialed: switchboard_tests::MAIN_LINE.into(),
            switch_id: "sbc-1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    clock.advance(std::time::Duration::from_secs(25));
    server
        .agents()
        .await
        .set_agent_state(cy_logs_in())
        .await
        .unwrap();
    let event = |kind: pb::CallEventKind| pb::CallEvent {
        call_id: "t1".into(),
        kind: kind.into(),
        agent_id: "cy".into(),
        ..Default::default()
    };
    routing
        .report_call_event(event(pb::CallEventKind::Connected))
        .await
        .unwrap();
    clock.advance(std::time::Duration::from_secs(120));
    routing
        .report_call_event(event(pb::CallEventKind::Ended))
        .await
        .unwrap();
    let s = scrape(metrics).await;
    let at = |series: &str| *s.get(series).unwrap_or_else(|| panic!("{series}"));
    let wait = "queue=\"operator\",tier=\"standard\"";
    assert_eq!(
        at(&format!("switchboard_answer_wait_seconds_count{{{wait}}}")),
        1.0
    );
    assert_eq!(
        at(&format!("switchboard_answer_wait_seconds_sum{{{wait}}}")),
        25.0
    );
    assert_eq!(
        at(&format!(
            "switchboard_answer_wait_seconds_bucket{{le=\"20.0\",{wait}}}"
        )),
        0.0
    );
    assert_eq!(
        at(&format!(
            "switchboard_answer_wait_seconds_bucket{{le=\"30.0\",{wait}}}"
        )),
        1.0
    );
    assert_eq!(
        at("switchboard_talk_seconds_sum{queue=\"operator\"}"),
        120.0
    );
    // Handle time adds the operators' queue's wrap-up (the default 15 s).
    assert_eq!(
        at("switchboard_handle_seconds_sum{queue=\"operator\"}"),
        135.0
    );
    assert_eq!(
        at("switchboard_handle_seconds_count{queue=\"operator\"}"),
        1.0
    );
    // Cy serves the operators' queue and is wrapping up.
    assert_eq!(
        at("switchboard_queue_agents{queue=\"operator\",state=\"wrap_up\"}"),
        1.0
    );
    assert_eq!(
        at("switchboard_queue_agents{queue=\"operator\",state=\"available\"}"),
        0.0
    );
    assert_eq!(
        at("switchboard_queue_agents{queue=\"billing\",state=\"wrap_up\"}"),
        0.0
    );
}
