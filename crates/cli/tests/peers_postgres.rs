//! The store against a real PostgreSQL server (Debian's `postgresql`, started here in a
//! temporary folder as a non-root user): the store's shared checks, each on a database
//! of its own.

#[path = "../../store/tests/suite/mod.rs"]
mod suite;

use switchboard_pgtest::PgServer;
use switchboard_store::{Location, PgOptions};

fn options(url: String) -> PgOptions {
    PgOptions {
        url,
        tls_ca: None,
        pool_size: 2,
        domain: "default".into(),
        lease: std::time::Duration::from_secs(2),
    }
}

#[test]
fn every_shared_store_check_passes_on_postgresql() {
    let server = PgServer::start();
    for (name, check) in suite::CHECKS {
        eprintln!("check: {name}");
        check(Location::Postgres(options(server.create_database(name))));
    }
}

#[test]
fn a_write_carrying_an_epoch_the_lease_has_left_is_refused_by_the_database() {
    use switchboard_store::{Backend, PgStore, StoreError, postgres::lease::Lease, writer::Change};
    let server = PgServer::start();
    let options = PgOptions {
        lease: std::time::Duration::from_secs(1),
        ..options(server.create_database("fence"))
    };
    let queue = |name: &str| Change::Queue {
        name: name.into(),
        closed: Some("drill".into()),
    };
    let mut a = PgStore::open(options.clone()).unwrap();
    let mut first = Lease::connect(&options, "node-a", "10.0.0.1:50051").unwrap();
    let held = first.try_take().unwrap().expect("a free lease is taken");
    assert_eq!(held.epoch, 1);
    a.fence_with(Some(held.epoch));
    let mut a = Backend::from(a);
    a.apply(&[queue("billing")]).unwrap();
    // Held and not expired: nobody else takes it.
    let mut second = Lease::connect(&options, "node-b", "10.0.0.2:50051").unwrap();
    assert_eq!(second.try_take().unwrap(), None);
    let holder = second.holder().unwrap().unwrap();
    assert_eq!((holder.node.as_str(), holder.epoch), ("node-a", 1));
    // Node a stops renewing; once the lease is over node b takes it, at epoch 2.
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    let taken = second
        .try_take()
        .unwrap()
        .expect("an expired lease is taken");
    assert_eq!(taken.epoch, 2);
    // Node a's next write is refused by the database, and nothing of it is written.
    match a.apply(&[queue("sales")]) {
        Err(StoreError::Fenced { domain, detail }) => {
            assert_eq!(domain, "default");
            assert!(
                detail.contains("at epoch 2") && detail.contains("carries epoch 1"),
                "{detail}"
            );
        }
        other => panic!("expected the fence to refuse the write, got {other:?}"),
    }
    assert_eq!(
        first.renew(held.epoch).unwrap(),
        None,
        "the lease is not node a's"
    );
    let closed = server.psql("fence", "SELECT queue FROM closed_queues ORDER BY queue");
    assert_eq!(closed.trim(), "billing");
}

/// Runs the binary with `args`: its exit code, stdout and stderr.
fn switchboard(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn migrate_moves_every_table_of_a_file_into_an_empty_database_and_refuses_anything_else() {
    use std::{sync::Arc, time::Duration};
    use switchboard_core::{Millis, router::Outcome};
    use switchboard_store::{
        Backend, Store, audit,
        journal::LiveSource,
        lock::StoreLock,
        report,
        testing::{Source, agent, change, waiting},
        writer::{Change, Writer},
    };
    let dir = std::env::temp_dir().join(format!("switchboard-migrate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let file = dir.join("s.db");
    // A file store with something in every table.
    {
        let source = Arc::new(Source::default());
        let writer = Writer::spawn(Store::open(&file).unwrap(), Duration::ZERO);
        let dyn_source: Arc<dyn LiveSource> = source.clone();
        writer.read_live_state_from(&dyn_source);
        for i in 0..40u64 {
            let mut c = waiting(&format!("call-{i:02}"), 1_000_000 + i * 10, i);
            if i % 4 == 0 {
                c.record.outcome = Some(Outcome::Abandoned);
                c.record.ended = Some(Millis(2_000_000 + i));
            }
            change(&writer, &source, &c);
        }
        source
            .agents
            .lock()
            .unwrap()
            .insert("ann".into(), agent("ann"));
        writer.send(Change::Agent("ann".into()));
        writer.send(Change::Queue {
            name: "billing".into(),
            closed: Some("fire drill".into()),
        });
        writer.send(Change::Audit(Box::new(audit::AuditEntry {
            at: Millis(5_000),
            who: "admin ops".into(),
            role: "admin".into(),
            remote: None,
            action: "Admin/CloseQueue".into(),
            target: "billing".into(),
            detail: "fire drill".into(),
        })));
        writer.flush().unwrap();
    }
    let mut sqlite = Backend::open(&Location::File(file.clone())).unwrap();
    let (customers, learned, journal) = (
        sqlite
            .customers(|_| Some(switchboard_core::TierId(0)))
            .unwrap()
            .0,
        sqlite.learned().unwrap(),
        sqlite.journal().unwrap(),
    );
    drop(sqlite);
    let server = PgServer::start();
    let url = server.create_database("migrated");
    let from = format!("sqlite:{}", file.display());
    let (code, out, err) = switchboard(&["migrate", "--from", &from, "--to", &url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("10 call records")
            && out.contains("1 agents")
            && out.contains("1 audit entries"),
        "{out}"
    );
    // Everything reads back from PostgreSQL as it did from the file.
    let pg = Location::Postgres(options(url.clone()));
    let mut moved = Backend::open(&pg).unwrap();
    assert_eq!(
        moved
            .customers(|_| Some(switchboard_core::TierId(0)))
            .unwrap()
            .0,
        customers
    );
    assert_eq!(moved.learned().unwrap(), learned);
    let back = moved.journal().unwrap();
    assert_eq!(back.calls, journal.calls);
    assert_eq!(back.calls.len(), 40);
    assert_eq!(back.agents, journal.agents);
    assert_eq!(back.closed_queues, journal.closed_queues);
    assert_eq!(moved.count_call_records().unwrap(), 10);
    let window = (Millis(0), Millis(10_000_000));
    assert_eq!(
        report::replayed_calls(&pg, window.0, window.1).unwrap(),
        report::replayed_calls(&Location::File(file.clone()), window.0, window.1).unwrap()
    );
    assert_eq!(
        audit::list(&pg, Millis(0), 10).unwrap(),
        audit::list(&Location::File(file.clone()), Millis(0), 10).unwrap()
    );
    drop(moved);
    // Into a database that holds a store: refused, nothing copied.
    let (code, _, err) = switchboard(&["migrate", "--from", &from, "--to", &url]);
    assert_eq!(code, 74, "{err}");
    assert!(err.contains("already holds a store"), "{err}");
    // A file a server holds: refused, naming the holder.
    let empty = server.create_database("empty");
    let lock = StoreLock::acquire(&file, "pid 4242").unwrap();
    let (code, _, err) = switchboard(&["migrate", "--from", &from, "--to", &empty]);
    assert_eq!(code, 75, "{err}");
    assert!(err.contains("pid 4242"), "{err}");
    drop(lock);
    // Not a file store, or not a PostgreSQL URL: usage errors.
    let (code, _, err) = switchboard(&["migrate", "--from", "postgres://x/y", "--to", &empty]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("expected sqlite:PATH"), "{err}");
    let (code, _, err) = switchboard(&["migrate", "--from", &from, "--to", "mysql://db"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("expected postgres://"), "{err}");
    let none = format!("sqlite:{}", dir.join("none.db").display());
    let (code, _, err) = switchboard(&["migrate", "--from", &none, "--to", &empty]);
    assert_eq!(code, 74, "{err}");
    assert!(err.contains("no store there"), "{err}");
    assert_eq!(
        server
            .psql(
                "empty",
                "SELECT count(*) FROM pg_tables WHERE tablename = 'customers'"
            )
            .trim(),
        "0"
    );
}

/// A certificate authority and a certificate it signed for 127.0.0.1 (PEM): (CA, cert,
/// key).
fn tls_for_loopback(name: &str) -> (String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, name);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let mut server = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    server
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    server
        .distinguished_name
        .push(DnType::CommonName, "database");
    let key = KeyPair::generate().unwrap();
    let cert = server.signed_by(&key, &ca).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

#[test]
fn the_store_reaches_the_database_over_tls_checked_against_its_ca_and_refuses_a_stranger() {
    use switchboard_store::{Backend, StoreError};
    let (ca, cert, key) = tls_for_loopback("database CA");
    let (other_ca, ..) = tls_for_loopback("someone else's CA");
    let server = PgServer::start_tls(&cert, &key);
    let url = server.create_database("tls");
    let dir = std::env::temp_dir().join(format!("switchboard-pg-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ca.pem"), &ca).unwrap();
    std::fs::write(dir.join("other.pem"), &other_ca).unwrap();
    let with_ca = |file: &str| {
        Location::Postgres(PgOptions {
            tls_ca: Some(dir.join(file)),
            ..options(url.clone())
        })
    };
    // With the database's CA: a store over TLS, as the server itself reports.
    let mut store = Backend::open(&with_ca("ca.pem")).unwrap();
    store.count_call_records().unwrap();
    let encrypted = server.psql(
        "tls",
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
         WHERE a.application_name = 'switchboard' AND s.ssl",
    );
    assert_eq!(encrypted.trim(), "1", "the store's connection uses TLS");
    drop(store);
    // Another CA: the certificate is not trusted, nothing is opened.
    let err = Backend::open(&with_ca("other.pem")).unwrap_err();
    assert!(matches!(err, StoreError::Postgres { .. }), "{err}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    // A CA file that holds no certificate, or is not there: named.
    std::fs::write(dir.join("empty.pem"), "not a certificate\n").unwrap();
    let err = Backend::open(&with_ca("empty.pem"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("store.tls_ca") && err.contains("holds no PEM certificate"),
        "{err}"
    );
    let err = Backend::open(&with_ca("missing.pem"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("store.tls_ca") && err.contains("missing.pem"),
        "{err}"
    );
    // TLS asked for in the URL without a CA to check it against: refused, naming the key.
    let err = Backend::open(&Location::Postgres(options(format!(
        "{url}?sslmode=require"
    ))))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("name the database's certificate authority in store.tls_ca"),
        "{err}"
    );
}
