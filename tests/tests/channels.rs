//! Chats, emails and social posts beside voice, through the API: capacity per channel,
//! the shipped config's cross-channel rules (a voice call keeps new chats and emails out;
//! chats and emails mix up to 4), and what a log-in states.

use std::collections::HashMap;

use switchboard_proto::v1 as pb;
use switchboard_tests::*;

/// Every contact to `care` (skill general 3), whose wrap-up is made 0 s so that a unit
/// comes back at the next second's upkeep.
fn config() -> String {
    switchboard_config::DEFAULT_CONFIG
        .replacen(
            "[[rules]]",
            "[[rules]]\nname = \"all-to-care\"\nthen = { queue = \"care\" }\n\n[[rules]]",
            1,
        )
        .replacen("wrap_up = \"30s\"", "wrap_up = \"0s\"", 1)
}

async fn contact(server: &TestServer, id: &str, channel: pb::Channel) -> pb::Decision {
    route_on(server, id, EMMA_STANDARD, channel).await
}

fn enqueued(d: &pb::Decision) -> &pb::Enqueue {
    match d.action.as_ref() {
        Some(pb::decision::Action::Enqueue(e)) => e,
        other => panic!("expected a queue, got {other:?} ({d:?})"),
    }
}

/// The place a contact waits at.
fn waiting_at(d: &pb::Decision) -> u32 {
    enqueued(d)
        .position
        .unwrap_or_else(|| panic!("expected to wait: {d:?}"))
}

/// Met an agent at once (the assignment goes to the switch's stream).
fn met_agent(d: &pb::Decision) {
    assert_eq!(
        enqueued(d).position,
        Some(0),
        "expected an agent at once: {d:?}"
    );
}

async fn log_in(server: &TestServer, id: &str, capacity: &[(&str, u32)]) {
    let mut req = agent_with(id, "general", 5);
    req.capacity = capacity
        .iter()
        .map(|(k, v)| ((*k).to_owned(), *v))
        .collect::<HashMap<_, _>>();
    server.agents().await.set_agent_state(req).await.unwrap();
}

#[tokio::test]
async fn an_agent_on_a_call_gets_no_chat_while_voice_blocks_chats_but_gets_a_social_post() {
    let server = start_with(&config()).await;
    let mut stream = assignments(&server).await;
    log_in(&server, "ann", &[]).await;
    let ann = agent_view(&server, "ann").await;
    assert_eq!(
        ann.capacity,
        HashMap::from([
            ("voice".to_owned(), 1),
            ("chat".to_owned(), 3),
            ("email".to_owned(), 5),
            ("social".to_owned(), 2)
        ]),
        "a log-in naming no capacity takes the config's"
    );
    met_agent(&contact(&server, "v1", pb::Channel::Voice).await);
    assert_eq!(next(&mut stream).await.call_id, "v1");
    assert_eq!(
        waiting_at(&contact(&server, "c1", pb::Channel::Chat).await),
        1
    );
    // Voice does not block social posts.
    met_agent(&contact(&server, "s1", pb::Channel::Social).await);
    let a = next(&mut stream).await;
    assert_eq!(
        (a.call_id.as_str(), a.agent_id.as_str(), a.channel()),
        ("s1", "ann", pb::Channel::Social)
    );
    report(&server, "v1", pb::CallEventKind::Connected, "ann").await;
    report(&server, "v1", pb::CallEventKind::Ended, "ann").await;
    // The voice call's wrap-up (0 s here) ends at the next upkeep: the chat comes.
    let a = next(&mut stream).await;
    assert_eq!((a.call_id.as_str(), a.channel()), ("c1", pb::Channel::Chat));
    assert_eq!(
        agent_view(&server, "ann").await.call_ids,
        ["s1", "c1"],
        "in the order taken"
    );
}

#[tokio::test]
async fn an_agent_with_two_chats_gets_a_third_and_not_a_fourth_until_one_ends() {
    let server = start_with(&config()).await;
    let mut stream = assignments(&server).await;
    log_in(&server, "ann", &[("chat", 3)]).await;
    for id in ["c1", "c2", "c3"] {
        met_agent(&contact(&server, id, pb::Channel::Chat).await);
        assert_eq!(next(&mut stream).await.call_id, id);
        report(&server, id, pb::CallEventKind::Connected, "ann").await;
    }
    let c4 = contact(&server, "c4", pb::Channel::Chat).await;
    assert_eq!(waiting_at(&c4), 1);
    // Told a third of care's handle time (the default 3 minutes): holding three chats,
    // Ann frees one about every minute.
    assert_eq!(
        enqueued(&c4).estimated_wait.as_ref().map(|d| d.seconds),
        Some(60)
    );
    // Ann logged in for chats only: a voice call waits for someone else, with no
    // estimate, since nobody at the desk takes calls.
    let v1 = contact(&server, "v1", pb::Channel::Voice).await;
    assert_eq!(waiting_at(&v1), 1);
    assert_eq!(enqueued(&v1).estimated_wait, None);
    let ann = agent_view(&server, "ann").await;
    assert_eq!(ann.call_ids, ["c1", "c2", "c3"]);
    assert_eq!(ann.capacity, HashMap::from([("chat".to_owned(), 3)]));
    // The floor shows what she holds of each lane beside her capacity.
    let (server, http) = scraped(server).await;
    let (status, json) = get(http, "/floor").await;
    assert!(status.contains("200"), "{status}");
    assert!(
        json.contains("\"lanes\":[{\"capacity\":3,\"held\":3,\"lane\":\"chat\"}]"),
        "{json}"
    );
    // The waiting list names each contact's channel, and places count within its lane:
    // the chat and the call both wait first in line.
    for (id, channel) in [("c4", "chat"), ("v1", "voice")] {
        let row = format!(
            "\"call_id\":\"{id}\",\"callback\":false,\"channel\":\"{channel}\",\"kept_for_agent\":\"\",\"position\":1"
        );
        assert!(json.contains(&row), "{row} in {json}");
    }
    // Ann cannot log out while she holds chats.
    let e = server
        .agents()
        .await
        .set_agent_state(pb::SetAgentStateRequest {
            agent_id: "ann".into(),
            state: pb::AgentState::LoggedOut.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e:?}");
    report(&server, "c2", pb::CallEventKind::Ended, "ann").await;
    let a = next(&mut stream).await;
    assert_eq!((a.call_id.as_str(), a.agent_id.as_str()), ("c4", "ann"));
}

#[tokio::test]
async fn a_chat_whose_customer_leaves_before_it_is_answered_frees_the_unit_at_once() {
    let server = start_with(&config()).await;
    let mut stream = assignments(&server).await;
    log_in(&server, "ann", &[("chat", 1), ("email", 2)]).await;
    met_agent(&contact(&server, "c1", pb::Channel::Chat).await);
    assert_eq!(next(&mut stream).await.call_id, "c1");
    assert_eq!(
        waiting_at(&contact(&server, "c2", pb::Channel::Chat).await),
        1
    );
    // Emails are a lane of their own: one chat and two emails fit the mix of 4.
    for id in ["e1", "e2"] {
        met_agent(&contact(&server, id, pb::Channel::Email).await);
        assert_eq!(next(&mut stream).await.call_id, id);
    }
    assert_eq!(
        waiting_at(&contact(&server, "e3", pb::Channel::Email).await),
        1
    );
    report(&server, "c1", pb::CallEventKind::Abandoned, "").await;
    let a = next(&mut stream).await;
    assert_eq!((a.call_id.as_str(), a.channel()), ("c2", pb::Channel::Chat));
}

#[tokio::test]
async fn chats_an_agent_holds_are_theirs_again_after_a_restart() {
    let store = temp_dir("channels-restart").join("s.db");
    let clock = ManualClock::new();
    let config = with_store(&config(), &store);
    let server = start_stored_config(&config, clock.clone()).await;
    let mut stream = assignments(&server).await;
    log_in(&server, "ann", &[("chat", 2)]).await;
    for id in ["c1", "c2"] {
        met_agent(&contact(&server, id, pb::Channel::Chat).await);
        assert_eq!(next(&mut stream).await.call_id, id);
    }
    report(&server, "c1", pb::CallEventKind::Connected, "ann").await;
    server.app.flush_store().unwrap();
    server.stop().await;

    let server = start_stored_config(&config, clock.clone()).await;
    let mut stream = assignments(&server).await;
    // The offer not yet confirmed is sent to the switch again.
    assert_eq!(next(&mut stream).await.call_id, "c2");
    let ann = agent_view(&server, "ann").await;
    assert_eq!(ann.call_ids, ["c1", "c2"]);
    // Both units are still hers: a third chat waits.
    assert_eq!(
        waiting_at(&contact(&server, "c3", pb::Channel::Chat).await),
        1
    );
    // The connected chat ends and the offered one is confirmed, as before the restart.
    report(&server, "c2", pb::CallEventKind::Connected, "ann").await;
    report(&server, "c1", pb::CallEventKind::Ended, "ann").await;
    let a = next(&mut stream).await;
    assert_eq!((a.call_id.as_str(), a.agent_id.as_str()), ("c3", "ann"));
}

fn jane() -> pb::Customer {
    pb::Customer {
        customer_id: "cust-jane".into(),
        name: "Jane Doe".into(),
        phone_numbers: vec!["+12125550177".into()],
        tier: "gold".into(),
        emails: vec!["Jane.Doe@Example.COM".into()],
        social_handles: vec!["X:@JaneD".into()],
        preferred_channel: pb::Channel::Chat.into(),
        ..Default::default()
    }
}

async fn upsert(server: &TestServer, c: pb::Customer) -> Result<pb::Customer, tonic::Status> {
    server
        .admin()
        .await
        .upsert_customer(pb::UpsertCustomerRequest { customer: Some(c) })
        .await
        .map(|r| r.into_inner().customer.expect("the customer as stored"))
}

#[tokio::test]
async fn an_email_or_a_post_finds_its_customer_and_rules_read_the_preferred_channel() {
    // Ahead of every rule: customers who prefer chat, writing by email, get the chat
    // desk's queue; anyone else known writes to care by the rule after.
    let config = switchboard_config::DEFAULT_CONFIG.replacen(
        "[[rules]]",
        "[[rules]]\nname = \"prefers-chat\"\nwhen = 'caller.preferred_channel == \"chat\" and call.channel in [\"email\", \"social\"]'\nthen = { queue = \"operator\" }\n\n[[rules]]\nname = \"known-writer\"\nwhen = 'caller.known and call.channel != \"voice\"'\nthen = { queue = \"care\" }\n\n[[rules]]",
        1,
    );
    let server = start_with(&config).await;
    let stored = upsert(&server, jane()).await.unwrap();
    assert_eq!(stored.emails, ["jane.doe@example.com"]);
    assert_eq!(stored.social_handles, ["x:janed"]);
    assert_eq!(stored.preferred_channel(), pb::Channel::Chat);
    // Jane is gold: her tier promises an email answer within 8 hours, a post within 2.
    for (id, caller, channel, within) in [
        ("e1", "JANE.DOE@example.com", pb::Channel::Email, 8 * 3600),
        ("s1", "x:JaneD", pb::Channel::Social, 2 * 3600),
    ] {
        let d = route_on(&server, id, caller, channel).await;
        assert_eq!(d.reason, "rule prefers-chat", "{caller}: {d:?}");
        assert_eq!(enqueued(&d).queue, "operator");
        assert_eq!(
            enqueued(&d).response_within,
            Some(prost_types::Duration {
                seconds: within,
                nanos: 0
            })
        );
    }
    // A standard caller's chat is promised an answer within 2 minutes.
    let d = contact(&server, "c9", pb::Channel::Chat).await;
    assert_eq!(
        enqueued(&d).response_within.as_ref().map(|w| w.seconds),
        Some(120)
    );
    // An address nobody has is an unknown caller; on the phone an address is no number.
    let d = contact(&server, "e2", pb::Channel::Email).await;
    assert_ne!(d.reason, "rule prefers-chat");
    let d = route_on(&server, "e3", "someone@example.org", pb::Channel::Email).await;
    assert!(
        !d.matched_rules.iter().any(|r| r == "known-writer"),
        "{d:?}"
    );
}

#[tokio::test]
async fn bad_or_taken_addresses_are_refused_naming_the_field_and_nothing_changes() {
    let server = start_with(&config()).await;
    upsert(&server, jane()).await.unwrap();
    let cases = [
        (
            pb::Customer {
                emails: vec!["ok@example.com".into(), "jane@localhost".into()],
                ..jane()
            },
            tonic::Code::InvalidArgument,
            "customer.emails[1]: \"jane@localhost\": not an email address: the domain needs a dot (example.com)",
        ),
        (
            pb::Customer {
                social_handles: vec!["x:jane doe".into()],
                ..jane()
            },
            tonic::Code::InvalidArgument,
            "customer.social_handles[0]: \"x:jane doe\": not a social handle: the name takes letters, digits, _, . and - only",
        ),
        (
            pb::Customer {
                preferred_channel: 42,
                ..jane()
            },
            tonic::Code::InvalidArgument,
            "customer.preferred_channel: unknown value 42",
        ),
        (
            pb::Customer {
                customer_id: "cust-other".into(),
                phone_numbers: vec!["+12125550178".into()],
                emails: vec![],
                ..jane()
            },
            tonic::Code::FailedPrecondition,
            "x:janed belongs to customer cust-jane",
        ),
    ];
    for (customer, code, message) in cases {
        let e = upsert(&server, customer).await.unwrap_err();
        assert_eq!((e.code(), e.message()), (code, message));
    }
    let kept = server
        .admin()
        .await
        .get_customer(pb::GetCustomerRequest {
            key: Some(pb::get_customer_request::Key::CustomerId(
                "cust-jane".into(),
            )),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.customer.unwrap().emails, ["jane.doe@example.com"]);
    // Found by her address too, in any case; a bad or unknown one is refused by name.
    let by = |address: &str| {
        let server = &server;
        let address = address.to_owned();
        async move {
            server
                .admin()
                .await
                .get_customer(pb::GetCustomerRequest {
                    key: Some(pb::get_customer_request::Key::Address(address)),
                })
                .await
        }
    };
    let found = by("X:@JaneD").await.unwrap().into_inner();
    assert_eq!(found.customer.unwrap().customer_id, "cust-jane");
    let e = by("nobody@example.com").await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound, "{e:?}");
    let e = by("jane@localhost").await.unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (
            tonic::Code::InvalidArgument,
            "address: \"jane@localhost\": not an email address: the domain needs a dot (example.com)"
        )
    );
    assert!(
        server
            .admin()
            .await
            .get_customer(pb::GetCustomerRequest {
                key: Some(pb::get_customer_request::Key::CustomerId(
                    "cust-other".into()
                )),
            })
            .await
            .is_err()
    );
}

#[tokio::test]
async fn an_email_waits_while_chats_are_served_yet_is_answered_within_its_standard_and_stats_say_so()
 {
    let server = start_with(&config()).await;
    let mut stream = assignments(&server).await;
    // Chats and emails mix up to 4 (the shipped config): three chats and one email fill her.
    log_in(&server, "ann", &[("chat", 3), ("email", 5)]).await;
    for (id, channel) in [
        ("c1", pb::Channel::Chat),
        ("c2", pb::Channel::Chat),
        ("c3", pb::Channel::Chat),
        ("e0", pb::Channel::Email),
    ] {
        met_agent(&contact(&server, id, channel).await);
        assert_eq!(next(&mut stream).await.call_id, id);
        report(&server, id, pb::CallEventKind::Connected, "ann").await;
    }
    assert_eq!(
        waiting_at(&contact(&server, "e1", pb::Channel::Email).await),
        1
    );
    assert_eq!(
        waiting_at(&contact(&server, "c4", pb::Channel::Chat).await),
        1
    );
    // A chat ends: the waiting chat, a quarter into its 2-minute standard, goes before the
    // email, nowhere near its 24 hours.
    report(&server, "c1", pb::CallEventKind::Ended, "ann").await;
    assert_eq!(next(&mut stream).await.call_id, "c4");
    report(&server, "c4", pb::CallEventKind::Connected, "ann").await;
    // The email that was answered ends: the waiting one is next, well within its standard.
    report(&server, "e0", pb::CallEventKind::Ended, "ann").await;
    assert_eq!(next(&mut stream).await.call_id, "e1");
    report(&server, "e1", pb::CallEventKind::Connected, "ann").await;

    let stats = server
        .admin()
        .await
        .get_queue_stats(pb::GetQueueStatsRequest {
            queue: "care".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let standard_tier = |channel: pb::Channel| {
        let c = stats
            .channels
            .iter()
            .find(|c| c.channel() == channel)
            .unwrap_or_else(|| panic!("{channel:?} in {stats:?}"));
        c.tiers
            .iter()
            .find(|t| t.tier == "standard")
            .unwrap()
            .clone()
    };
    let email = standard_tier(pb::Channel::Email);
    assert_eq!((email.offered, email.answered), (2, 2));
    assert_eq!(email.service_level, Some(1.0));
    assert_eq!(
        email.service_level_threshold.as_ref().map(|d| d.seconds),
        Some(86_400)
    );
    let chat = standard_tier(pb::Channel::Chat);
    assert_eq!((chat.offered, chat.answered), (4, 4));
    assert_eq!(
        chat.service_level_threshold.as_ref().map(|d| d.seconds),
        Some(120)
    );
    let voice = standard_tier(pb::Channel::Voice);
    assert_eq!((voice.offered, voice.service_level), (0, None));
    assert_eq!(stats.channels.len(), 6, "every channel, zeros included");

    // The standards report, channel by channel under the tier, each against its own
    // standard; the tier's line sums them.
    let report = server
        .admin()
        .await
        .get_standards_report(pb::GetStandardsReportRequest { window: None })
        .await
        .unwrap()
        .into_inner();
    let standard = report.tiers.iter().find(|t| t.tier == "standard").unwrap();
    assert_eq!((standard.answered, standard.answered_in_standard), (6, 6));
    let rows: Vec<(&str, u64, i64, pb::Verdict)> = standard
        .channels
        .iter()
        .map(|c| {
            (
                c.channel.as_str(),
                c.answered,
                c.standard_within.as_ref().unwrap().seconds,
                c.verdict(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("chat", 4, 120, pb::Verdict::Met),
            ("email", 2, 86_400, pb::Verdict::Met)
        ],
        "only channels with contacts, in channel order"
    );

    // The same in the metrics, every channel and tier from zero.
    let (_server, http) = scraped(server).await;
    let m = scrape(http).await;
    let at = |name: &str, channel: &str, tier: &str| {
        m.get(&format!("{name}{{channel=\"{channel}\",tier=\"{tier}\"}}"))
            .copied()
            .unwrap_or_else(|| panic!("{name} {channel} {tier} in {m:?}"))
    };
    assert_eq!(
        at(
            "switchboard_channel_contacts_offered_total",
            "email",
            "standard"
        ),
        2.0
    );
    assert_eq!(
        at(
            "switchboard_channel_contacts_answered_total",
            "chat",
            "standard"
        ),
        4.0
    );
    assert_eq!(
        at(
            "switchboard_channel_contacts_offered_total",
            "social",
            "concierge"
        ),
        0.0
    );
    assert_eq!(
        at("switchboard_channel_service_level", "email", "standard"),
        1.0
    );
    assert_eq!(
        at(
            "switchboard_channel_service_level_standard_seconds",
            "email",
            "gold"
        ),
        28_800.0
    );
}
