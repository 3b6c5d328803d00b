//! The store's behaviour on either backend: each check takes a fresh, empty store's
//! location and may open it as often as it likes. `sqlite.rs` runs them on files;
//! the real-peer `peers_postgres` runs them on databases of a real PostgreSQL server.

use std::{sync::Arc, time::Duration};

use switchboard_core::{
    Customer, E164, Millis, Preference, Profile, TierId,
    behaviour::{LastContact, Learned},
    router::{CallImage, Outcome},
};
use switchboard_store::{
    Backend, Location, audit,
    journal::LiveSource,
    report,
    testing::{Source, agent, change, waiting},
    writer::{Change, Writer},
};

/// One check: it is handed a fresh, empty store's location.
pub(crate) type Check = fn(Location);

/// Every check, by name, for a runner to call with a fresh location each.
pub(crate) const CHECKS: &[(&str, Check)] = &[
    (
        "customers_round_trip_and_a_removed_tier_is_noted",
        customers_round_trip_and_a_removed_tier_is_noted,
    ),
    (
        "the_writer_batches_changes_and_flush_makes_them_durable",
        the_writer_batches_changes_and_flush_makes_them_durable,
    ),
    (
        "learned_behaviour_and_last_contacts_round_trip",
        learned_behaviour_and_last_contacts_round_trip,
    ),
    (
        "calls_and_agents_come_back_as_last_written_and_finished_calls_as_records",
        calls_and_agents_come_back_as_last_written_and_finished_calls_as_records,
    ),
    (
        "compaction_keeps_every_live_call_in_order",
        compaction_keeps_every_live_call_in_order,
    ),
    (
        "retention_prunes_only_records_older_than_the_cutoff",
        retention_prunes_only_records_older_than_the_cutoff,
    ),
    (
        "closed_queues_are_kept_until_opened",
        closed_queues_are_kept_until_opened,
    ),
    (
        "audit_entries_are_read_newest_first",
        audit_entries_are_read_newest_first,
    ),
    (
        "reports_count_delivered_service_and_replay_calls_in_order",
        reports_count_delivered_service_and_replay_calls_in_order,
    ),
    (
        "a_batch_of_many_calls_writes_every_one",
        a_batch_of_many_calls_writes_every_one,
    ),
];

fn open(at: &Location) -> Backend {
    Backend::open(at).unwrap_or_else(|e| panic!("opening {}: {e}", at.shown()))
}

fn tier_name(t: TierId) -> &'static str {
    ["standard", "gold", "platinum"][usize::from(t.0)]
}

fn tier_id(name: &str) -> Option<TierId> {
    ["standard", "gold", "platinum"]
        .iter()
        .position(|n| *n == name)
        .map(|i| TierId(i as u8))
}

fn profile(id: &str, number: &str) -> Profile {
    Profile {
        id: id.into(),
        name: format!("Customer {id}; \"quoted\" = odd").into(),
        numbers: vec![number.parse::<E164>().unwrap()].into(),
        tier: TierId(1),
        preference: Preference::FriendlyChat,
        language: "es".into(),
        lifetime_value: 1234.5,
        influence: 77,
        tags: vec!["vip;x".into(), "late=payer".into()].into(),
        attributes: vec![
            ("plan".into(), "fiber 1g".into()),
            ("region".into(), "east".into()),
        ]
        .into(),
        preferred_agent: Some("ann".into()),
        contacts: vec!["ana@example.com".into(), "@ana".into()].into(),
        preferred_channel: Some(switchboard_core::channel::Channel::Email),
    }
}

fn customer(id: &str, number: &str) -> Customer {
    Customer::from(profile(id, number))
}

fn writer_on(at: &Location, source: &Arc<Source>) -> Writer {
    let writer = Writer::spawn(open(at), Duration::from_millis(5));
    let dyn_source: Arc<dyn LiveSource> = source.clone();
    writer.read_live_state_from(&dyn_source);
    writer
}

fn customers_round_trip_and_a_removed_tier_is_noted(at: Location) {
    let mut store = open(&at);
    let (none, _) = store.customers(tier_id).unwrap();
    assert!(none.is_empty());
    let mut platinum = customer("c2", "+14155550100");
    platinum.tier = TierId(2);
    store
        .put_customers([&customer("c1", "+12125550101"), &platinum], tier_name)
        .unwrap();
    // Replacing one keeps one row.
    store
        .put_customers([&customer("c1", "+12125550101")], tier_name)
        .unwrap();
    drop(store);
    let (back, notes) = open(&at).customers(tier_id).unwrap();
    assert!(notes.is_empty());
    assert_eq!(back.len(), 2);
    assert_eq!(back[0], profile("c1", "+12125550101"));
    assert_eq!(back[1].tier, TierId(2));
    // A config without "platinum": served as the lowest tier, and said so.
    let (back, notes) = open(&at)
        .customers(|n| (n != "platinum").then(|| tier_id(n)).flatten())
        .unwrap();
    assert_eq!(back[1].tier, TierId(0));
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].customer_id, "c2");
    assert!(
        notes[0].note.contains("\"platinum\" is not in the config"),
        "{notes:?}"
    );
}

fn the_writer_batches_changes_and_flush_makes_them_durable(at: Location) {
    let writer = Writer::spawn(open(&at), Duration::from_millis(50));
    for i in 0..200 {
        writer.send(Change::Customer {
            customer: Arc::new(customer(&format!("c{i:03}"), &format!("+1212555{i:04}"))),
            tier: "gold".into(),
        });
    }
    writer.flush().unwrap();
    let stats = writer.stats();
    assert_eq!(stats.pending(), 0);
    let commits = stats.commits.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        (1..=5).contains(&commits),
        "{commits} commits for 200 changes"
    );
    drop(writer);
    let (back, _) = open(&at).customers(tier_id).unwrap();
    assert_eq!(back.len(), 200);
}

fn learned_behaviour_and_last_contacts_round_trip(at: Location) {
    let mut store = open(&at);
    let a: E164 = "+12125550101".parse().unwrap();
    let b: E164 = "+12125550102".parse().unwrap();
    let learned = Learned::from_parts(0b1011, 4, Some(Preference::GetItDone), Some(Millis(9_000)));
    let contact = LastContact {
        agent: "ann".into(),
        at: Millis(8_000),
        queue: "support".into(),
        resolved: false,
        wrap_up_code: "callback".into(),
    };
    store
        .apply(&[
            Change::Learned { number: a, learned },
            Change::Served {
                number: a,
                contact: contact.clone(),
            },
            // Served without anything learned: still read back.
            Change::Served {
                number: b,
                contact: contact.clone(),
            },
        ])
        .unwrap();
    drop(store);
    let mut back = open(&at).learned().unwrap();
    back.sort_by_key(|(n, ..)| n.as_u64());
    assert_eq!(
        back,
        [
            (a, learned, Some(contact.clone())),
            (b, Learned::default(), Some(contact)),
        ]
    );
}

fn calls_and_agents_come_back_as_last_written_and_finished_calls_as_records(at: Location) {
    let source = Arc::new(Source::default());
    let (a, b) = (waiting("a", 1_000_000, 1), waiting("b", 1_000_100, 2));
    let mut a_later = a.clone();
    {
        let writer = writer_on(&at, &source);
        change(&writer, &source, &a);
        change(&writer, &source, &b);
        source
            .agents
            .lock()
            .unwrap()
            .insert("ann".into(), agent("ann"));
        writer.send(Change::Agent("ann".into()));
        writer.flush().unwrap();
        a_later.digits = "3,1,9".into();
        a_later.last_agent = Some("ann".into());
        change(&writer, &source, &a_later);
        writer.flush().unwrap();
        // b is over: its last image is its record, and it leaves the journal.
        let mut done = source.calls.lock().unwrap().remove("b").unwrap();
        done.record.outcome = Some(Outcome::Expired);
        done.record.ended = Some(Millis(2_000_000));
        writer.send(Change::CallDone(Box::new(done)));
        writer.send(Change::Call("b".into()));
        // An agent the process never saw leaves the journal too.
        writer.send(Change::Agent("ghost".into()));
        writer.flush().unwrap();
    }
    let mut store = open(&at);
    let journal = store.journal().unwrap();
    assert!(journal.unreadable.is_empty(), "{:?}", journal.unreadable);
    assert_eq!(journal.calls, [a_later]);
    assert_eq!(journal.agents, [agent("ann")]);
    assert!(store.call_records("a").unwrap().is_empty());
    let b = &store.call_records("b").unwrap()[0];
    assert_eq!(
        (
            b.outcome.as_str(),
            b.ended_at,
            b.decision.as_str(),
            b.caller.as_deref()
        ),
        (
            "expired",
            Some(Millis(2_000_000)),
            "queue support",
            Some("+12125550102")
        )
    );
    assert!(store.has_live_call("a").unwrap() && !store.has_live_call("b").unwrap());
}

fn compaction_keeps_every_live_call_in_order(at: Location) {
    let source = Arc::new(Source::default());
    let mut store = open(&at);
    store.compact_journal_from(4_096);
    let writer = Writer::spawn(store, Duration::ZERO);
    let dyn_source: Arc<dyn LiveSource> = source.clone();
    writer.read_live_state_from(&dyn_source);
    let calls: Vec<CallImage> = (0..50)
        .map(|i| waiting(&format!("call-{i:02}"), 1_000_000 + i * 100, i))
        .collect();
    // Each call changes many times, in batches of its own, and every third ends.
    for round in 0..8 {
        for c in &calls {
            let mut now = c.clone();
            now.digits = format!("{round}");
            change(&writer, &source, &now);
        }
        writer.flush().unwrap();
    }
    for c in calls.iter().step_by(3) {
        source.calls.lock().unwrap().remove(&c.call_id);
        writer.send(Change::CallDone(Box::new(c.clone())));
    }
    writer.flush().unwrap();
    drop(writer);
    let mut store = open(&at);
    let (live, dead) = store.journal_log_bytes();
    let journal = store.journal().unwrap();
    let ids: Vec<String> = journal.calls.iter().map(|c| c.call_id.clone()).collect();
    let expected: Vec<String> = calls
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, c)| c.call_id.clone())
        .collect();
    assert_eq!(ids, expected);
    assert!(journal.calls.iter().all(|c| c.digits == "7"));
    assert!(
        dead <= live.max(4_096) * 2,
        "live {live} dead {dead}: never compacted"
    );
    assert!(store.compact_journal().unwrap());
    assert_eq!(store.journal().unwrap().calls, journal.calls);
}

fn retention_prunes_only_records_older_than_the_cutoff(at: Location) {
    let mut store = open(&at);
    store
        .apply(&[
            Change::CallDone(Box::new(waiting("old", 1_000_000, 1))),
            Change::CallDone(Box::new(waiting("new", 9_000_000, 2))),
        ])
        .unwrap();
    assert_eq!(store.count_call_records().unwrap(), 2);
    let writer = Writer::spawn(store, Duration::ZERO);
    writer.send(Change::Prune(Millis(5_000_000)));
    writer.flush().unwrap();
    assert_eq!(
        writer
            .stats()
            .pruned
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    drop(writer);
    let mut store = open(&at);
    assert!(store.call_records("old").unwrap().is_empty());
    assert_eq!(store.call_records("new").unwrap().len(), 1);
}

fn closed_queues_are_kept_until_opened(at: Location) {
    let mut store = open(&at);
    let queue = |name: &str, closed: Option<&str>| Change::Queue {
        name: name.into(),
        closed: closed.map(Into::into),
    };
    store
        .apply(&[
            queue("billing", Some("fire drill")),
            queue("sales", Some("training")),
        ])
        .unwrap();
    store
        .apply(&[queue("sales", None), queue("billing", Some("flood"))])
        .unwrap();
    drop(store);
    assert_eq!(
        open(&at).journal().unwrap().closed_queues,
        [("billing".to_owned(), "flood".to_owned())]
    );
}

fn audit_entries_are_read_newest_first(at: Location) {
    let mut store = open(&at);
    let entry = |t: u64, target: &str| {
        Change::Audit(Box::new(audit::AuditEntry {
            at: Millis(t),
            who: "admin ops (token)".into(),
            role: "admin".into(),
            remote: Some("127.0.0.1:5000".into()),
            action: "Admin/UpsertCustomer".into(),
            target: target.into(),
            detail: "tier gold -> platinum".into(),
        }))
    };
    store
        .apply(&[entry(1_000, "c1"), entry(2_000, "c2"), entry(2_000, "c3")])
        .unwrap();
    drop(store);
    let all = audit::list(&at, Millis(0), 10).unwrap();
    let targets: Vec<&str> = all.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(targets, ["c3", "c2", "c1"]);
    assert_eq!(all[2].remote.as_deref(), Some("127.0.0.1:5000"));
    let recent = audit::list(&at, Millis(1_500), 1).unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].target, "c3");
}

fn reports_count_delivered_service_and_replay_calls_in_order(at: Location) {
    let mut store = open(&at);
    let ended = |id: &str, arrived: u64, seq, waited_s: u64, outcome| {
        let mut c = waiting(id, arrived, seq);
        let t = Millis(arrived + waited_s * 1_000);
        c.record.ended = Some(t);
        if outcome == Outcome::Completed {
            c.record.answered = Some(t);
            c.record.agent = Some("ann".into());
            c.record.resolved = Some(true);
            c.record.satisfaction = Some(5);
            c.record.ended = Some(Millis(t.0 + 60_000));
        }
        c.record.outcome = Some(outcome);
        c
    };
    let t0 = 10_000_000;
    let calls = [
        ended("fast", t0, 1, 10, Outcome::Completed),
        ended("slow", t0 + 1_000, 2, 50, Outcome::Completed),
        ended("gave-up-late", t0 + 2_000, 3, 40, Outcome::Abandoned),
        ended("gave-up-early", t0 + 3_000, 4, 5, Outcome::Abandoned),
        ended("later", t0 + 50_000_000, 5, 1, Outcome::Completed),
    ];
    let changes: Vec<Change> = calls
        .into_iter()
        .map(|c| Change::CallDone(Box::new(c)))
        .collect();
    store.apply(&changes).unwrap();
    drop(store);
    let (from, to) = (Millis(t0 - 10_000), Millis(t0 + 3_600_000));
    let tiers = [
        (
            "gold".to_owned(),
            vec![("voice".to_owned(), Duration::from_secs(30))],
        ),
        (
            "standard".to_owned(),
            vec![("voice".to_owned(), Duration::from_secs(30))],
        ),
    ];
    let got = report::delivered(&at, from, to, &tiers).unwrap();
    assert_eq!(
        got,
        [
            vec![report::Delivered {
                answered: 2,
                answered_in_standard: 1,
                answer_wait: Duration::from_secs(60),
                abandoned: 2,
                abandoned_after_standard: 1,
            }],
            vec![report::Delivered::default()],
        ]
    );
    let replayed = report::replayed_calls(&at, from, to).unwrap();
    let outcomes: Vec<(&str, Vec<String>)> = replayed
        .iter()
        .map(|r| (r.outcome.as_str(), r.digits.clone()))
        .collect();
    assert_eq!(outcomes.len(), 4);
    assert_eq!(
        outcomes[0],
        ("completed", vec!["3".to_owned(), "1".to_owned()])
    );
    assert_eq!(outcomes[2].0, "abandoned");
    let handled = report::handled_calls(&at, from, to).unwrap();
    assert_eq!(handled.calls.len(), 2);
    assert_eq!(handled.calls[0].agent, "ann");
    assert_eq!(handled.calls[0].satisfaction, Some(5));
    assert!(handled.calls[0].resolved);
    assert_eq!(handled.contacts.len(), 4);
}

fn a_batch_of_many_calls_writes_every_one(at: Location) {
    let source = Arc::new(Source::default());
    let writer = writer_on(&at, &source);
    for i in 0..3_000u64 {
        let mut c = waiting(&format!("bulk-{i:04}"), 2_000_000 + i, i);
        if i % 2 == 0 {
            c.record.outcome = Some(Outcome::Abandoned);
            c.record.ended = Some(Millis(3_000_000 + i));
        }
        change(&writer, &source, &c);
    }
    writer.flush().unwrap();
    drop(writer);
    let mut store = open(&at);
    assert_eq!(store.journal().unwrap().calls.len(), 3_000);
    // Calls with an outcome have their record as soon as the journal holds them so.
    assert_eq!(store.count_call_records().unwrap(), 1_500);
}
