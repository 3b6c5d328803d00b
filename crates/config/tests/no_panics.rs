//! Whatever an ops team saves, checking it never panics: random and mutated config text
//! and rule conditions either load or come back as diagnostics.

use std::path::Path;

use proptest::prelude::*;
use switchboard_config::{ConfigError, DEFAULT_CONFIG, parse};

/// Pieces of config and condition syntax, so that mutations stay close to real edits.
const FRAGMENTS: &[&str] = &[
    "\"",
    "'",
    "'''",
    "[",
    "]",
    "{",
    "}",
    "=",
    ",",
    ".",
    "\n",
    "#",
    "\\",
    "(",
    ")",
    "and",
    "or",
    "not",
    "in",
    "==",
    "!=",
    ">=",
    "<",
    "true",
    "-1",
    "1e999",
    "0.5",
    "caller.tier",
    "caller.attr.x",
    "queue(\"support\").waiting",
    "open(\"support_hours\")",
    "days_ago(",
    "date(\"2026-02-30\")",
    "call.repeat_within(\"7d\")",
    "[[rules]]",
    "[queues.x]",
    "when = ",
    "then = { queue = \"care\" }",
    "é",
    "\u{0}",
    "🙂",
];

#[derive(Clone, Debug)]
enum Edit {
    Delete {
        at: usize,
        len: usize,
    },
    Insert {
        at: usize,
        fragment: usize,
    },
    Replace {
        at: usize,
        len: usize,
        fragment: usize,
    },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0..40usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), 0..FRAGMENTS.len())
            .prop_map(|(at, fragment)| Edit::Insert { at, fragment }),
        (any::<usize>(), 0..12usize, 0..FRAGMENTS.len())
            .prop_map(|(at, len, fragment)| Edit::Replace { at, len, fragment }),
    ]
}

fn boundary(text: &str, mut at: usize) -> usize {
    at %= text.len() + 1;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &mut String, e: &Edit) {
    match *e {
        Edit::Delete { at, len } => {
            let start = boundary(text, at);
            let end = boundary(text, start + len);
            text.replace_range(start..end.max(start), "");
        }
        Edit::Insert { at, fragment } => {
            let at = boundary(text, at);
            text.insert_str(at, FRAGMENTS[fragment]);
        }
        Edit::Replace { at, len, fragment } => {
            let start = boundary(text, at);
            let end = boundary(text, start + len).max(start);
            text.replace_range(start..end, FRAGMENTS[fragment]);
        }
    }
}

fn check(text: &str) {
    match parse(text, Path::new("fuzz.toml")) {
        Ok(_) => {}
        Err(ConfigError::Invalid { errors, .. }) => {
            assert!(!errors.is_empty(), "refused without an error");
            for e in &errors {
                assert!(e.line >= 1 && e.column >= 1, "{e}");
                assert!(!e.message.is_empty(), "{e}");
            }
        }
        Err(e) => panic!("unexpected error {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_config_text_never_panics(edits in prop::collection::vec(edit(), 1..8)) {
        let mut text = DEFAULT_CONFIG.to_owned();
        for e in &edits {
            apply(&mut text, e);
        }
        check(&text);
    }

    #[test]
    fn random_conditions_never_panic(parts in prop::collection::vec(0..FRAGMENTS.len(), 0..24)) {
        let condition: String = parts.iter().map(|i| FRAGMENTS[*i]).collect::<Vec<_>>().join(" ");
        let rule = format!(
            "\n[[rules]]\nname = \"fuzz\"\nwhen = '''{}'''\nthen = {{ queue = \"care\" }}\n",
            condition.replace("'''", "")
        );
        check(&(DEFAULT_CONFIG.to_owned() + &rule));
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        check(&text);
        check(&(DEFAULT_CONFIG.to_owned() + &text));
    }
}
