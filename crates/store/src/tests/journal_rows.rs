//! Calls and agents in the journal, call records, retention, and older schemas gaining
//! the journal's tables.

use switchboard_core::{
    Millis,
    router::{CallImage, CallRecord, Outcome},
};

use super::*;
use crate::journal::{CallRecordRow, LiveSource};

use crate::testing::{Source, agent, change, waiting};

#[test]
fn calls_and_agents_are_journaled_as_they_are_when_the_batch_is_written() {
    let path = temp("journal").join("s.db");
    let source = Arc::new(Source::default());
    let dyn_source: Arc<dyn LiveSource> = source.clone();
    {
        // A batch window long enough that the change below lands inside it.
        let writer = Writer::spawn(Store::open(&path).unwrap(), Duration::from_millis(500));
        writer.read_live_state_from(&dyn_source);
        let mut first = waiting("c1", 1_000_000, 7);
        source
            .calls
            .lock()
            .unwrap()
            .insert("c1".into(), first.clone());
        source
            .calls
            .lock()
            .unwrap()
            .insert("c2".into(), waiting("c2", 1_000_100, 8));
        source
            .agents
            .lock()
            .unwrap()
            .insert("ann".into(), agent("ann"));
        for c in ["c1", "c2", "c1"] {
            writer.send(Change::Call(c.into()));
        }
        writer.send(Change::Agent("ann".into()));
        // The call changes after it was reported, before the batch is written: the
        // batch writes it as it is then.
        first.record.agent = Some("ann".into());
        source.calls.lock().unwrap().insert("c1".into(), first);
        writer.flush().unwrap();
        // c2 is forgotten: its last image ends its record and its journal row goes.
        let mut done = source.calls.lock().unwrap().remove("c2").unwrap();
        done.record.outcome = Some(Outcome::Expired);
        done.record.ended = Some(Millis(2_000_000));
        writer.send(Change::CallDone(Box::new(done)));
        writer.send(Change::Call("c2".into()));
        writer.flush().unwrap();
    }
    let store = Store::open(&path).unwrap();
    let journal = store.journal().unwrap();
    assert!(journal.unreadable.is_empty());
    assert_eq!(journal.agents, [agent("ann")]);
    let ids: Vec<&str> = journal.calls.iter().map(|c| c.call_id.as_str()).collect();
    assert_eq!(ids, ["c1"]);
    assert_eq!(journal.calls[0].record.agent.as_deref(), Some("ann"));
    assert_eq!(journal.calls[0].place, waiting("c1", 1_000_000, 7).place);
    // A call in progress has its record in the journal row; the record table gets
    // it once the call has an outcome.
    assert!(store.call_records("c1").unwrap().is_empty());
    let c1 = &CallRecordRow::from_image(&journal.calls[0]);
    assert_eq!(
        (
            c1.caller.as_deref(),
            c1.decision.as_str(),
            c1.rule.as_deref(),
            c1.menu_path.as_str(),
            c1.outcome.as_str(),
            c1.agent.as_deref()
        ),
        (
            Some("+12125550102"),
            "queue support",
            Some("gold-billing"),
            "3,1",
            "in_progress",
            Some("ann")
        )
    );
    let c2 = &store.call_records("c2").unwrap()[0];
    assert_eq!(
        (c2.outcome.as_str(), c2.ended_at),
        ("expired", Some(Millis(2_000_000)))
    );
    assert!(!store.has_live_call("c2").unwrap());
}

#[test]
fn a_call_is_journaled_as_a_binary_image_and_a_json_one_from_an_earlier_version_still_reads() {
    let path = temp("binary-image").join("s.db");
    let source = Arc::new(Source::default());
    let dyn_source: Arc<dyn LiveSource> = source.clone();
    // Every optional part set, so each field's place in the binary form is exercised.
    let mut full = waiting("c-full", 1_000_000, 7);
    full.current = Some(full.first.clone());
    full.first.redirected_from = Some("platinum".into());
    full.first.prefer_agent = Some("ann".into());
    full.first.menu_skipped = true;
    full.last_agent = Some("bob".into());
    full.record = CallRecord {
        answered: Some(Millis(1_000_500)),
        agent: Some("ann".into()),
        satisfaction: Some(4),
        transfers: 2,
        retention: Some(true),
        callback_due: Some(Millis(2_000_000)),
        callbacks_unanswered: 1,
        ..CallRecord::default()
    };
    // The image JSON had before this build: `None`, `false`, empty and default parts
    // left out, in a store of schema 6 (a row a call), which opening moves into the log.
    let old = waiting("c-json", 1_000_100, 8);
    let mut json = serde_json::to_value(&old).unwrap();
    let top = json.as_object_mut().unwrap();
    for gone in ["current", "record"] {
        top.remove(gone);
    }
    let first = top["first"].as_object_mut().unwrap();
    for gone in [
        "redirected_from",
        "menu_skipped",
        "offer_callback",
        "prefer_agent",
    ] {
        first.remove(gone);
    }
    {
        let store = Store::open(&path).unwrap();
        store.conn.execute_batch(BEFORE_THE_LOG).unwrap();
        store
            .conn
            .execute(
                "INSERT INTO live_calls (id, call_id, created, image) VALUES (?1, 'c-json', 0, ?2)",
                rusqlite::params![(old.key as i64), json.to_string()],
            )
            .unwrap();
        store
            .conn
            .execute("UPDATE meta SET value = '6' WHERE key = 'schema'", [])
            .unwrap();
    }
    {
        let writer = Writer::spawn(Store::open(&path).unwrap(), Duration::ZERO);
        writer.read_live_state_from(&dyn_source);
        source
            .calls
            .lock()
            .unwrap()
            .insert("c-full".into(), full.clone());
        writer.send(Change::Call("c-full".into()));
        writer.flush().unwrap();
    }
    let store = Store::open(&path).unwrap();
    // The batch's row: the log's format, one entry putting the call under its key and
    // id, then its image, binary.
    let row: Vec<u8> = store
        .conn
        .query_row(
            "SELECT entries FROM call_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut head = vec![1u8, 1];
    head.extend_from_slice(&(full.key as i64).to_le_bytes());
    head.extend_from_slice(&6u16.to_le_bytes());
    head.extend_from_slice(b"c-full");
    assert_eq!(row[..head.len()], head[..]);
    assert_eq!(row[head.len() + 4], 1, "the image's format byte");
    let journal = store.journal().unwrap();
    assert!(journal.unreadable.is_empty(), "{:?}", journal.unreadable);
    assert_eq!(journal.calls, [full, old]);
}

#[test]
fn a_batch_of_many_calls_writes_every_one_of_them_and_records_the_finished_ones() {
    let path = temp("many-calls").join("s.db");
    let source = Arc::new(Source::default());
    let dyn_source: Arc<dyn LiveSource> = source.clone();
    // More calls than any other test writes at once; every fifth has ended.
    let calls: Vec<CallImage> = (0..70u64)
        .map(|i| {
            let mut c = waiting(&format!("m{i}"), 1_000_000 + i, i);
            if i % 5 == 0 {
                c.record.outcome = Some(Outcome::Abandoned);
                c.record.ended = Some(Millis(1_100_000 + i));
            }
            c
        })
        .collect();
    {
        // A window long enough that all 70 land in one batch.
        let writer = Writer::spawn(Store::open(&path).unwrap(), Duration::from_millis(500));
        writer.read_live_state_from(&dyn_source);
        for c in &calls {
            change(&writer, &source, c);
        }
        writer.flush().unwrap();
    }
    let store = Store::open(&path).unwrap();
    let journal = store.journal().unwrap();
    assert!(journal.unreadable.is_empty(), "{:?}", journal.unreadable);
    assert_eq!(journal.calls, calls);
    assert_eq!(store.count_call_records().unwrap(), 14);
    assert_eq!(store.call_records("m35").unwrap()[0].outcome, "abandoned");
}

/// Spawns a writer on a store that compacts its log from `compact_from` bytes.
fn writer_on(path: &std::path::Path, source: &Arc<Source>, compact_from: u64) -> Writer {
    let mut store = Store::open(path).unwrap();
    store.compact_journal_from(compact_from);
    let writer = Writer::spawn(store, Duration::ZERO);
    let dyn_source: Arc<dyn LiveSource> = source.clone();
    writer.read_live_state_from(&dyn_source);
    writer
}

fn log_rows(store: &Store) -> i64 {
    store
        .conn
        .query_row("SELECT COUNT(*) FROM call_log", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_call_changed_over_many_batches_comes_back_as_last_written_and_a_finished_one_not_at_all() {
    let path = temp("log-replay").join("s.db");
    let source = Arc::new(Source::default());
    let set = |c: &CallImage| {
        source.set(c);
    };
    let (a, b) = (waiting("a", 1_000_000, 1), waiting("b", 1_000_100, 2));
    let mut a_later = a.clone();
    {
        let writer = writer_on(&path, &source, u64::MAX);
        set(&a);
        set(&b);
        writer.send(Change::Call("a".into()));
        writer.send(Change::Call("b".into()));
        writer.flush().unwrap();
        a_later.digits = "3,1,9".into();
        a_later.last_agent = Some("ann".into());
        set(&a_later);
        writer.send(Change::Call("a".into()));
        writer.flush().unwrap();
        source.calls.lock().unwrap().remove("b");
        writer.send(Change::CallDone(Box::new(b.clone())));
        writer.flush().unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(log_rows(&store), 3, "a row a batch");
    let journal = store.journal().unwrap();
    assert!(journal.unreadable.is_empty(), "{:?}", journal.unreadable);
    assert_eq!(journal.calls, [a_later]);
    assert_eq!(store.call_records("b").unwrap().len(), 1);
    assert!(store.has_live_call("a").unwrap() && !store.has_live_call("b").unwrap());
}

#[test]
fn compaction_keeps_every_live_call_in_order_and_the_log_near_their_size() {
    let path = temp("log-compact").join("s.db");
    let source = Arc::new(Source::default());
    // 400 calls, a batch each; every call is changed again two batches later and every
    // third one ends three batches later.
    let mut live: Vec<CallImage> = Vec::new();
    let writer = writer_on(&path, &source, 16 * 1024);
    let mut calls: Vec<CallImage> = (0..400u64)
        .map(|i| waiting(&format!("c{i}"), 1_000_000 + i, i))
        .collect();
    for i in 0..calls.len() + 3 {
        if i < calls.len() {
            let c = &calls[i];
            change(&writer, &source, c);
        }
        if let Some(c) = i.checked_sub(2).and_then(|j| calls.get_mut(j)) {
            c.digits = format!("{i},0");
            change(&writer, &source, c);
        }
        if let Some(c) = i.checked_sub(3).and_then(|j| calls.get(j))
            && i % 3 == 0
        {
            source.calls.lock().unwrap().remove(&c.call_id);
            writer.send(Change::CallDone(Box::new(c.clone())));
        }
        writer.flush().unwrap();
    }
    for (j, c) in calls.iter().enumerate() {
        if (j + 3) % 3 != 0 {
            live.push(c.clone());
        }
    }
    drop(writer);
    let mut store = Store::open(&path).unwrap();
    let journal = store.journal().unwrap();
    assert!(journal.unreadable.is_empty(), "{:?}", journal.unreadable);
    assert_eq!(journal.calls.len(), live.len());
    assert_eq!(
        journal.calls, live,
        "every live call, as last changed, in order"
    );
    // 403 batches were written; compaction kept the log's dead entries (replaced, and
    // calls gone) below its live ones, or the threshold, give or take a batch.
    let rows = log_rows(&store);
    assert!(rows < 300, "{rows} rows: the log was never compacted");
    let (live_bytes, dead) = store.journal_log_bytes();
    assert!(
        dead <= live_bytes.max(16 * 1024) + 4096,
        "{dead} dead bytes beside {live_bytes} live"
    );
    assert!(store.compact_journal().unwrap());
    // What the store counts is what the rows hold; after compaction nearly all of it
    // live (the estimate takes every call's entry to be of the average size).
    let (rows, held): (i64, i64) = store
        .conn
        .query_row(
            "SELECT COUNT(*), SUM(length(entries)) FROM call_log",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(rows, 1);
    let (live_bytes, dead) = store.journal_log_bytes();
    assert_eq!(live_bytes + dead, held as u64);
    assert!(
        dead * 20 < held as u64,
        "{dead} of {held} bytes taken as dead"
    );
    assert_eq!(store.journal().unwrap().calls, live);
}

#[test]
fn a_compaction_the_database_refuses_changes_nothing_and_batches_go_on() {
    let path = temp("log-refused").join("s.db");
    let source = Arc::new(Source::default());
    let calls: Vec<CallImage> = (0..30u64)
        .map(|i| waiting(&format!("r{i}"), 1_000_000 + i, i))
        .collect();
    {
        let store = Store::open(&path).unwrap();
        // A real failure inside SQLite: rows of the log cannot be deleted, as a
        // compaction must.
        store
            .conn
            .execute_batch(
                "CREATE TRIGGER keep_log BEFORE DELETE ON call_log
                 BEGIN SELECT RAISE(ABORT, 'the log is kept'); END;",
            )
            .unwrap();
    }
    {
        // Small enough that every batch that replaces a call is past the threshold:
        // each call is written, then written again in the next batch.
        let writer = writer_on(&path, &source, 64);
        for c in calls.iter().chain(&calls) {
            change(&writer, &source, c);
            writer.flush().unwrap();
        }
        assert!(
            writer.stats().is_up(),
            "a failed compaction is not a failed batch"
        );
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(log_rows(&store), 60, "every batch's row, none taken away");
    assert_eq!(store.journal().unwrap().calls, calls);
    let err = store.compact_journal().unwrap_err();
    assert!(err.to_string().contains("the log is kept"), "{err}");
    assert_eq!(log_rows(&store), 60);
    store.conn.execute_batch("DROP TRIGGER keep_log").unwrap();
    assert!(store.compact_journal().unwrap());
    assert_eq!(log_rows(&store), 1);
    assert_eq!(store.journal().unwrap().calls, calls);
}

#[test]
fn the_report_counts_what_each_tier_was_delivered_on_each_channel_in_the_window() {
    let path = temp("report").join("s.db");
    let mut store = Store::open(&path).unwrap();
    let ended = |id: &str, arrived: u64, seq, waited_s: u64, outcome| {
        let mut c = waiting(id, arrived, seq);
        let at = Millis(arrived + waited_s * 1_000);
        // An answered call ends after a talk; an abandoned one when the caller hangs up.
        c.record.ended = Some(at);
        if outcome == Outcome::Completed {
            c.record.answered = Some(at);
            c.record.ended = Some(Millis(at.0 + 60_000));
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
        // Outside the window.
        ended("later", t0 + 50_000_000, 5, 1, Outcome::Completed),
        // An email answered after an hour: within its 8 hours.
        {
            let mut e = ended("email", t0 + 4_000, 6, 3_600, Outcome::Completed);
            e.channel = switchboard_core::channel::Channel::Email;
            e
        },
    ];
    let changes: Vec<Change> = calls
        .into_iter()
        .map(|c| Change::CallDone(Box::new(c)))
        .collect();
    store.apply(&changes).unwrap();
    // Gold calls are held to 30 s on the phone and 8 h by email.
    let tiers = [
        (
            "gold".to_owned(),
            vec![
                ("voice".to_owned(), Duration::from_secs(30)),
                ("email".to_owned(), Duration::from_secs(8 * 3_600)),
            ],
        ),
        (
            "platinum".to_owned(),
            vec![("voice".to_owned(), Duration::from_secs(20))],
        ),
    ];
    // Read while the writer's connection is open.
    let got = crate::report::delivered(
        &Location::File(path.clone()),
        Millis(t0 - 10_000),
        Millis(t0 + 3_600_000),
        &tiers,
    )
    .unwrap();
    // Each channel apart: the voice calls against 30 s, the email against 8 h.
    assert_eq!(
        got[0],
        [
            crate::report::Delivered {
                answered: 2,
                answered_in_standard: 1,
                answer_wait: Duration::from_secs(60),
                abandoned: 2,
                abandoned_after_standard: 1,
            },
            crate::report::Delivered {
                answered: 1,
                answered_in_standard: 1,
                answer_wait: Duration::from_secs(3_600),
                abandoned: 0,
                abandoned_after_standard: 0,
            }
        ]
    );
    assert_eq!(got[1], [crate::report::Delivered::default()]);
    // The same window for a replay: every call in it, oldest first, with what became
    // of it.
    let replayed = crate::report::replayed_calls(
        &Location::File(path.clone()),
        Millis(t0 - 10_000),
        Millis(t0 + 3_600_000),
    )
    .unwrap();
    let outcomes: Vec<(&str, bool)> = replayed
        .iter()
        .map(|c| (c.outcome.as_str(), c.answered_at.is_some()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("completed", true),
            ("completed", true),
            ("abandoned", false),
            ("abandoned", false),
            ("completed", true),
        ]
    );
    assert!(replayed.windows(2).all(|w| w[0].arrived <= w[1].arrived));
    assert_eq!(replayed[4].channel, "email");
    drop(store);
    let missing = crate::report::delivered(
        &Location::File(temp("report-none").join("none.db")),
        Millis(0),
        Millis(1),
        &tiers,
    );
    assert!(missing.is_err());
}

#[test]
fn a_store_of_schema_1_gains_the_journal_and_keeps_its_customers() {
    let path = temp("v1").join("s.db");
    {
        let mut store = Store::open(&path).unwrap();
        store
            .put_customers([&customer("c-1", "+12125550101")], tier_name)
            .unwrap();
        store
            .conn
            .execute_batch(
                "DROP TABLE call_records; DROP TABLE call_log; DROP TABLE live_agents;
                 DROP TABLE audit;
                 ALTER TABLE customers DROP COLUMN contacts;
                 ALTER TABLE customers DROP COLUMN preferred_channel;
                 UPDATE meta SET value = '1' WHERE key = 'schema';",
            )
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.customers(tier_id).unwrap().0.len(), 1);
    assert!(store.journal().unwrap().calls.is_empty());
    assert_eq!(store.count_call_records().unwrap(), 0);
}

#[test]
fn a_store_of_schema_2_gains_the_retention_column_and_keeps_its_records() {
    let path = temp("v2").join("s.db");
    {
        let mut store = Store::open(&path).unwrap();
        store
            .apply(&[Change::CallDone(Box::new(waiting("old", 1_000_000, 1)))])
            .unwrap();
        store
            .conn
            .execute_batch(&format!(
                "{BEFORE_THE_LOG}
                 ALTER TABLE call_records DROP COLUMN retention;
                 DROP TABLE audit;
                 ALTER TABLE customers DROP COLUMN contacts;
                 ALTER TABLE customers DROP COLUMN preferred_channel;
                 UPDATE meta SET value = '2' WHERE key = 'schema';"
            ))
            .unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.call_records("old").unwrap()[0].retention, None);
    let mut saved = waiting("saved", 2_000_000, 2);
    saved.record.retention = Some(true);
    store.apply(&[Change::CallDone(Box::new(saved))]).unwrap();
    assert_eq!(
        store.call_records("saved").unwrap()[0].retention,
        Some(true)
    );
}
