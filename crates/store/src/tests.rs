use std::{path::PathBuf, sync::Arc, time::Duration};

use super::*;
use crate::writer::{Change, Writer};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Turns a fresh store's journal of calls back into its shape before schema 7 (a row a
/// call), for tests of older stores.
const BEFORE_THE_LOG: &str = "DROP TABLE call_log;
     CREATE TABLE live_calls (
         id INTEGER PRIMARY KEY,
         call_id TEXT NOT NULL,
         created INTEGER NOT NULL,
         image TEXT NOT NULL
     );";

const TIERS: [&str; 3] = ["standard", "gold", "platinum"];

fn tier_name(t: TierId) -> &'static str {
    TIERS[usize::from(t.0)]
}

fn tier_id(name: &str) -> Option<TierId> {
    TIERS
        .iter()
        .position(|t| *t == name)
        .map(|i| TierId(i as u8))
}

fn customer(id: &str, number: &str) -> Customer {
    profile(id, number).into()
}

fn profile(id: &str, number: &str) -> Profile {
    Profile {
        id: id.into(),
        name: "Maria; \"M\" = Lopez".into(),
        numbers: Box::new([number.parse().unwrap(), "+442079460000".parse().unwrap()]),
        tier: TierId(2),
        preference: Preference::FriendlyChat,
        language: "es".into(),
        lifetime_value: 48_200.5,
        influence: 62,
        tags: Box::new(["loyalty;club".into(), "a=b".into(), "back\\slash".into()]),
        attributes: Box::new([
            ("device_purchased".into(), "2025-09-14".into()),
            ("note".into(), "x=y; z\\".into()),
        ]),
        preferred_agent: Some("agent-007".into()),
        contacts: Box::new([format!("{id}@example.com").into(), format!("x:{id}").into()]),
        preferred_channel: Some(switchboard_core::channel::Channel::Chat),
    }
}

#[test]
fn a_new_store_is_created_with_its_folder_and_customers_round_trip() {
    let path = temp("round").join("data").join("switchboard.db");
    let mut store = Store::open(&path).unwrap();
    let c = customer("C1", "+12125550101");
    assert_eq!(store.put_customers([&c], tier_name).unwrap(), 1);
    drop(store);
    let store = Store::open(&path).unwrap();
    let (back, notes) = store.customers(tier_id).unwrap();
    assert_eq!(back, [c.profile()]);
    assert!(notes.is_empty());
}

#[test]
fn a_tier_the_config_no_longer_has_is_served_as_the_lowest_and_noted() {
    let path = temp("tier").join("s.db");
    let mut store = Store::open(&path).unwrap();
    store
        .put_customers([&customer("C1", "+12125550101")], |_| "diamond")
        .unwrap();
    let (back, notes) = store.customers(tier_id).unwrap();
    assert_eq!(back[0].tier, TierId(0));
    assert_eq!(
        notes,
        [RowNote {
            customer_id: "C1".into(),
            note: "tier \"diamond\" is not in the config; served as the lowest tier".into()
        }]
    );
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
    let dir = temp("notdb");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.db");
    std::fs::write(&path, "customer_id,name\nC1,Maria\n").unwrap();
    let err = Store::open(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: not a Switchboard store (not an SQLite database); move it away or point the store elsewhere",
            path.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "customer_id,name\nC1,Maria\n"
    );
}

#[test]
fn a_truncated_or_damaged_store_is_refused_never_started_empty() {
    let path = temp("damaged").join("s.db");
    let mut store = Store::open(&path).unwrap();
    let many: Vec<Customer> = (0..2_000)
        .map(|i| customer(&format!("C{i:05}"), &format!("+1212555{:04}", i)))
        .collect();
    store.put_customers(&many, tier_name).unwrap();
    // Fold the WAL into the main file so the damage below hits the data.
    store
        .conn
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    drop(store);
    let len = std::fs::metadata(&path).unwrap().len();
    // Scribble over the middle of the file, as a bad disk or a stray write would.
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 8192] {
        *b = 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Damaged { .. }), "{err}");
    assert!(err.to_string().contains("the database is damaged"), "{err}");
    // Cut short, it is refused too.
    std::fs::write(&path, &bytes[..(len as usize) / 3]).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Damaged { .. } | StoreError::NotADatabase { .. }
        ),
        "{err}"
    );
    // Cut inside the header: not a database.
    std::fs::write(&path, &bytes[..10]).unwrap();
    assert!(matches!(
        Store::open(&path).unwrap_err(),
        StoreError::NotADatabase { .. }
    ));
}

#[test]
fn a_store_written_by_a_newer_build_is_refused() {
    let path = temp("newer").join("s.db");
    let store = Store::open(&path).unwrap();
    store
        .conn
        .execute("UPDATE meta SET value = '99' WHERE key = 'schema'", [])
        .unwrap();
    drop(store);
    let err = Store::open(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: written by a newer Switchboard (schema 99, this build reads up to 7)",
            path.display()
        )
    );
}

#[cfg(unix)]
#[test]
fn a_place_the_store_cannot_write_is_refused_by_name() {
    use std::os::unix::fs::PermissionsExt;
    // Root ignores permissions; a path under a regular file fails for everyone.
    let dir = temp("readonly");
    std::fs::create_dir_all(&dir).unwrap();
    let blocker = dir.join("file");
    std::fs::write(&blocker, "x").unwrap();
    let err = Store::open(&blocker.join("data").join("s.db")).unwrap_err();
    assert!(matches!(err, StoreError::CreateFolder { .. }), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "{}: cannot create the store's folder",
            blocker.join("data").display()
        )),
        "{err}"
    );
    // A read-only file, for users the permission applies to.
    let path = dir.join("ro.db");
    drop(Store::open(&path).unwrap());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let result = Store::open(&path);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    if !running_as_root() {
        assert!(
            matches!(result, Err(StoreError::ReadOnly { .. })),
            "{result:?}"
        );
    }
}

/// Whether the tests run as root (who may write read-only files).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn the_writer_batches_changes_into_few_transactions_and_flush_makes_them_durable() {
    let path = temp("writer").join("s.db");
    let writer = Writer::spawn(Store::open(&path).unwrap(), Duration::from_millis(50));
    let tier: Arc<str> = Arc::from("gold");
    for i in 0..1_000 {
        writer.send(Change::Customer {
            customer: Arc::new(customer(&format!("W{i:04}"), &format!("+1312555{i:04}"))),
            tier: Arc::clone(&tier),
        });
    }
    writer.flush().unwrap();
    let commits = writer
        .stats()
        .commits
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        (1..=10).contains(&commits),
        "{commits} commits for 1,000 changes"
    );
    drop(writer);
    let (back, _) = Store::open(&path).unwrap().customers(tier_id).unwrap();
    assert_eq!(back.len(), 1_000);
    assert!(back.iter().all(|c| c.tier == TierId(1)));
}

mod journal_rows;

#[test]
fn audit_entries_are_kept_in_order_read_newest_first_and_a_schema_3_store_gains_them() {
    let path = temp("audit").join("s.db");
    {
        let store = Store::open(&path).unwrap();
        store
            .conn
            .execute_batch(&format!(
                "{BEFORE_THE_LOG}
                 DROP TABLE audit;
                 ALTER TABLE customers DROP COLUMN contacts;
                 ALTER TABLE customers DROP COLUMN preferred_channel;
                 UPDATE meta SET value = '3' WHERE key = 'schema';"
            ))
            .unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    let entry = |at: u64, target: &str| crate::audit::AuditEntry {
        at: Millis(at),
        who: "admin \"ops\" (token 0123456789abcdef)".into(),
        role: "admin".into(),
        remote: Some("10.0.0.7:51234".into()),
        action: "Admin/UpsertCustomer".into(),
        target: target.into(),
        detail: "tier gold -> platinum".into(),
    };
    store
        .apply(&[
            Change::Audit(Box::new(entry(1_000, "c-1"))),
            Change::Audit(Box::new(entry(2_000, "c-2"))),
            Change::Audit(Box::new(entry(2_000, "c-3"))),
        ])
        .unwrap();
    let all = crate::audit::list(&Location::File(path.clone()), Millis(0), 10).unwrap();
    let targets: Vec<&str> = all.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(targets, ["c-3", "c-2", "c-1"]);
    assert_eq!(all[2], entry(1_000, "c-1"));
    let recent = crate::audit::list(&Location::File(path.clone()), Millis(1_500), 1).unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].target, "c-3");
}

#[test]
fn journal_rows_that_cannot_be_read_are_named_left_in_place_and_the_rest_still_come_back() {
    let path = temp("unreadable").join("s.db");
    {
        // A store of schema 6 (a row a call), its bad rows carried into the log as
        // they are.
        let store = Store::open(&path).unwrap();
        store
            .conn
            .execute_batch(&format!(
                "{BEFORE_THE_LOG}
                 INSERT INTO live_calls (id, call_id, created, image) VALUES (1, 'c-bad', 0, '{{\"call_id\": 7');
                 INSERT INTO live_calls (id, call_id, created, image) VALUES (2, 'c-newer', 0, x'09aa');
                 INSERT INTO live_calls (id, call_id, created, image) VALUES (3, 'c-cut', 0, x'0103');
                 INSERT INTO live_agents (agent_id, image) VALUES ('a-bad', 'not json');
                 UPDATE meta SET value = '6' WHERE key = 'schema';"
            ))
            .unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    let journal = store.journal().unwrap();
    assert!(journal.calls.is_empty() && journal.agents.is_empty());
    // The last two: a binary image of a format this build does not know, and one cut
    // short.
    let starts = [
        "agent a-bad: ",
        "call c-bad: ",
        "call c-newer: image format 9 is not one",
        "call c-cut: ",
    ];
    assert_eq!(journal.unreadable.len(), 4, "{:?}", journal.unreadable);
    for (line, start) in journal.unreadable.iter().zip(starts) {
        assert!(line.starts_with(start), "{:?}", journal.unreadable);
    }
    // Rows of the log itself: one of a format this build does not know, one whose
    // first entry is cut short in its key.
    store
        .conn
        .execute_batch(
            "INSERT INTO call_log (seq, entries) VALUES (100, x'09010203');
             INSERT INTO call_log (seq, entries) VALUES (101, x'0101020304');",
        )
        .unwrap();
    let journal = store.journal().unwrap();
    assert_eq!(journal.unreadable.len(), 6, "{:?}", journal.unreadable);
    assert_eq!(
        journal.unreadable[4..],
        [
            "journal row 100: log format 9 is not one this version reads (written by a newer one?)",
            "journal row 101: cut short after 0 entries; the rest is not read",
        ]
    );
    // Compaction would drop what it cannot read: it leaves everything as it is.
    let rows = |s: &Store| -> i64 {
        s.conn
            .query_row("SELECT COUNT(*) FROM call_log", [], |r| r.get(0))
            .unwrap()
    };
    let before = rows(&store);
    assert!(!store.compact_journal().unwrap());
    assert_eq!(rows(&store), before);
    assert_eq!(store.journal().unwrap().unreadable, journal.unreadable);
}

#[test]
fn a_batch_the_store_refuses_is_kept_and_written_in_order_once_it_can_be() {
    let path = temp("refused").join("s.db");
    let writer = Writer::spawn(Store::open(&path).unwrap(), Duration::from_millis(5));
    let tier: Arc<str> = Arc::from("gold");
    let send = |id: &str, number: &str, name: &str| {
        let mut c = profile(id, number);
        c.name = name.into();
        writer.send(Change::Customer {
            customer: Arc::new(c.into()),
            tier: Arc::clone(&tier),
        });
    };
    send("C1", "+12125550101", "before");
    writer.flush().unwrap();
    // A real failure inside SQLite, from another connection: every customer row is
    // refused, as a full disk would refuse it.
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON customers
             BEGIN SELECT RAISE(ABORT, 'injected: database or disk is full'); END;",
        )
        .unwrap();
    send("C2", "+12125550102", "first");
    send("C3", "+12125550103", "only");
    let number: E164 = "+12125550104".parse().unwrap();
    writer.send(Change::Learned {
        number,
        learned: Learned::from_parts(1, 1, None, Some(Millis(7))),
    });
    let err = writer.flush().unwrap_err();
    assert!(err.contains("injected: database or disk is full"), "{err}");
    let stats = writer.stats();
    assert!(!stats.is_up());
    assert_eq!(stats.pending(), 3);
    assert!(stats.pending_bytes() > 0);
    assert!(stats.failing_for().is_some());
    assert!(stats.oldest_pending().is_some());
    assert!(stats.last_error().unwrap().contains("injected"));
    // More changes while it lasts, one of them to a customer already waiting.
    send("C2", "+12125550102", "second");
    assert_eq!(stats.pending(), 4);
    // Retried, and refused again, without losing anything.
    let failures = stats.failures.load(std::sync::atomic::Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(400));
    assert!(stats.failures.load(std::sync::atomic::Ordering::Relaxed) > failures);
    assert_eq!(stats.pending(), 4);

    // The cause goes away: the next try writes everything, the latest of each.
    other.execute_batch("DROP TRIGGER refuse").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !stats.is_up() {
        assert!(std::time::Instant::now() < deadline, "never recovered");
        std::thread::sleep(Duration::from_millis(20));
    }
    writer.flush().unwrap();
    assert_eq!((stats.pending(), stats.pending_bytes()), (0, 0));
    assert!(stats.last_error().is_none() && stats.failing_for().is_none());
    drop(writer);
    let store = Store::open(&path).unwrap();
    let (back, _) = store.customers(tier_id).unwrap();
    let names: Vec<(&str, &str)> = back.iter().map(|c| (&*c.id, &*c.name)).collect();
    assert_eq!(names, [("C1", "before"), ("C2", "second"), ("C3", "only")]);
    let learned = store.learned().unwrap();
    assert_eq!(learned.len(), 1);
    assert_eq!(learned[0].0, number);
}

#[test]
fn closed_queues_are_kept_until_opened_and_a_schema_4_store_gains_them() {
    let path = temp("closed-queues").join("s.db");
    {
        let store = Store::open(&path).unwrap();
        store
            .conn
            .execute_batch(&format!(
                "{BEFORE_THE_LOG}
                 DROP TABLE closed_queues;
                 ALTER TABLE customers DROP COLUMN contacts;
                 ALTER TABLE customers DROP COLUMN preferred_channel;
                 UPDATE meta SET value = '4' WHERE key = 'schema';"
            ))
            .unwrap();
    }
    let queue = |name: &str, closed: Option<&str>| Change::Queue {
        name: Arc::from(name),
        closed: closed.map(Arc::from),
    };
    let mut store = Store::open(&path).unwrap();
    store
        .apply(&[
            queue("billing", Some("fire drill")),
            queue("care", Some("training")),
            queue("care", None),
            queue("support", Some("system down")),
        ])
        .unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.journal().unwrap().closed_queues,
        [
            ("billing".to_owned(), "fire drill".to_owned()),
            ("support".to_owned(), "system down".to_owned())
        ]
    );
}

#[test]
fn a_backup_beside_a_writer_is_a_consistent_checked_copy_and_never_overwrites() {
    let dir = temp("backup");
    let path = dir.join("s.db");
    let mut store = Store::open(&path).unwrap();
    store
        .put_customers(
            [
                customer("c-1", "+12125550101"),
                customer("c-2", "+12125550102"),
            ]
            .iter(),
            tier_name,
        )
        .unwrap();
    let to = dir.join("copy.db");
    // The store stays open (as a running server keeps it) while it is copied.
    let copied = crate::backup::backup(&path, &to).unwrap();
    assert_eq!((copied.customers, copied.call_records), (2, 0));
    assert!(copied.bytes > 0);
    assert!(!dir.join("copy.partial").exists());
    let restored = Store::open(&to).unwrap();
    let (customers, _) = restored.customers(tier_id).unwrap();
    assert_eq!(customers.len(), 2);
    drop(restored);
    let again = crate::backup::backup(&path, &to).unwrap_err();
    assert!(again.to_string().contains("never overwrites"), "{again}");
    let missing = crate::backup::backup(&dir.join("none.db"), &dir.join("x.db")).unwrap_err();
    assert!(missing.to_string().contains("none.db"), "{missing}");
    assert!(!dir.join("x.db").exists() && !dir.join("x.partial").exists());
    drop(store);
}

#[test]
fn customers_addresses_and_preferred_channel_round_trip_and_a_schema_5_store_gains_them() {
    let path = temp("contacts").join("s.db");
    {
        let mut store = Store::open(&path).unwrap();
        let mut plain = profile("c-1", "+12125550101");
        plain.contacts = Box::default();
        plain.preferred_channel = None;
        store
            .put_customers([&Customer::from(plain)], tier_name)
            .unwrap();
        store
            .conn
            .execute_batch(&format!(
                "{BEFORE_THE_LOG}
                 ALTER TABLE customers DROP COLUMN contacts;
                 ALTER TABLE customers DROP COLUMN preferred_channel;
                 UPDATE meta SET value = '5' WHERE key = 'schema';"
            ))
            .unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    let (customers, _) = store.customers(tier_id).unwrap();
    assert_eq!(customers.len(), 1, "kept through the migration");
    assert!(customers[0].contacts.is_empty());
    assert_eq!(customers[0].preferred_channel, None);
    let full = customer("c-2", "+12125550102");
    store.put_customers([&full], tier_name).unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    let (customers, _) = store.customers(tier_id).unwrap();
    assert_eq!(customers[1], full.profile());
}
