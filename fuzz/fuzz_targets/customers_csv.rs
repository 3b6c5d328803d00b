//! The customer CSV importer on any bytes: never panics, and every row is either imported
//! or reported, so the directory never holds more customers than were imported.
#![no_main]

use std::{path::Path, sync::OnceLock};

use libfuzzer_sys::fuzz_target;
use switchboard_config::{Config, customers};
use switchboard_core::Directory;

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        switchboard_config::parse(switchboard_config::DEFAULT_CONFIG, Path::new("fuzz.toml"))
            .expect("the shipped config")
    })
}

fuzz_target!(|bytes: &[u8]| {
    let directory = Directory::new();
    let mut stored = 0usize;
    if let Ok(report) = customers::import_each(bytes, &config().plan, &directory, |_| stored += 1) {
        assert_eq!(stored, report.imported);
        assert!(directory.len() <= report.imported);
    }
});
