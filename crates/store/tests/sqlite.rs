//! The store's shared checks (`suite`) on SQLite files.

mod suite;

use switchboard_store::Location;

fn fresh(name: &str) -> Location {
    let dir = std::env::temp_dir().join(format!("switchboard-suite-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    Location::File(dir.join("s.db"))
}

#[test]
fn every_shared_store_check_passes_on_sqlite() {
    for (name, check) in suite::CHECKS {
        eprintln!("check: {name}");
        check(fresh(name));
    }
}
