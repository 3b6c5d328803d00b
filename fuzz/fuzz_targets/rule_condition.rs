//! The rule language: any text as a rule's `when` in the shipped config. Never panics,
//! and a refused condition is named by its rule's path.
#![no_main]

use std::{fmt::Write, path::Path};

use libfuzzer_sys::fuzz_target;

/// `text` as a TOML basic string.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c) & 0xFFFF);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fuzz_target!(|condition: &str| {
    if condition
        .chars()
        .any(|c| c.is_control() && u32::from(c) > 0xFFFF)
    {
        return;
    }
    let text = format!(
        "{}\n[[rules]]\nname = \"fuzzed\"\nwhen = {}\nthen = {{ queue = \"care\" }}\n",
        switchboard_config::DEFAULT_CONFIG,
        quoted(condition)
    );
    if let Err(e) = switchboard_config::parse(&text, Path::new("fuzz.toml")) {
        let lines = e.lines();
        assert!(!lines.is_empty(), "refused without a reason");
    }
});
