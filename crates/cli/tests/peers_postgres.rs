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
