//! The config parser on any text: never panics, and a refused config always says why.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Err(e) = switchboard_config::parse(text, Path::new("fuzz.toml")) {
        let lines = e.lines();
        assert!(!lines.is_empty(), "refused without a reason");
    }
});
