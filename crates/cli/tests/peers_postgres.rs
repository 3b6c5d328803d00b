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
