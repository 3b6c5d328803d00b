//! `[capacity]` and `calls.callback_*`: read from the shipped config, and every mistake
//! refused with its place.

use std::path::Path;

use switchboard_config::{ConfigError, DEFAULT_CONFIG, parse};
use switchboard_core::capacity::{Lane, LaneSet, Limits};

fn edited(from: &str, to: &str) -> String {
    assert!(
        DEFAULT_CONFIG.contains(from),
        "not in the shipped config: {from}"
    );
    DEFAULT_CONFIG.replacen(from, to, 1)
}

fn errors(text: &str) -> Vec<String> {
    match parse(text, Path::new("switchboard.toml")) {
        Ok(_) => panic!("expected the config to be refused"),
        Err(e @ ConfigError::Invalid { .. }) => e.lines(),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn the_shipped_capacity_is_read_with_its_blocks_and_mix() {
    let config = parse(DEFAULT_CONFIG, Path::new("switchboard.toml")).unwrap();
    let capacity = &config.plan.capacity;
    assert_eq!(capacity.limits, Limits([1, 3, 5, 2]));
    assert_eq!(
        capacity.rules.blocks[Lane::Voice.index()],
        LaneSet::of(&[Lane::Chat, Lane::Email])
    );
    assert_eq!(
        capacity.rules.mixes,
        [(LaneSet::of(&[Lane::Chat, Lane::Email]), 4)]
    );
}

#[test]
fn a_config_without_capacity_gives_agents_one_voice_call_and_nothing_else() {
    let start = DEFAULT_CONFIG.find("[capacity]").unwrap();
    let end = DEFAULT_CONFIG[start..].find("\n\n").unwrap() + start;
    let text = format!("{}{}", &DEFAULT_CONFIG[..start], &DEFAULT_CONFIG[end..]);
    let config = parse(&text, Path::new("switchboard.toml")).unwrap();
    assert_eq!(config.plan.capacity.limits, Limits([1, 0, 0, 0]));
    assert!(config.plan.capacity.rules.mixes.is_empty());
}

#[test]
fn capacity_mistakes_are_refused_naming_the_key() {
    let cases = [
        (
            ("voice = 1\nchat = 3", "voice = 2\nchat = 3"),
            "capacity.voice: 2 is out of range (0 to 1)",
        ),
        (
            ("chat = 3", "chat = 33"),
            "capacity.chat: 33 is out of range (0 to 32)",
        ),
        (("social = 2", "sms = 2"), "unknown key \"sms\""),
        (
            (
                "voice = [\"chat\", \"email\"]",
                "voice = [\"chat\", \"fax\"]",
            ),
            "capacity.blocks.voice[1]: unknown channel \"fax\"",
        ),
        (
            ("voice = [\"chat\", \"email\"]", "voice = [\"voice\"]"),
            "capacity.blocks.voice[0]: a lane does not block itself",
        ),
        (
            ("blocks = { voice", "blocks = { video"),
            "capacity.blocks.video: unknown channel \"video\"",
        ),
        (
            (
                "channels = [\"chat\", \"email\"], total = 4",
                "channels = [\"chat\"], total = 4",
            ),
            "capacity.mix[0].channels: a mix names at least two channels",
        ),
        (
            (
                "channels = [\"chat\", \"email\"], total = 4",
                "channels = [\"chat\", \"chat\"], total = 4",
            ),
            "capacity.mix[0].channels[1]: \"chat\" is named twice",
        ),
        (
            ("total = 4 }]", "total = 0 }]"),
            "capacity.mix[0].total: 0 is out of range (1 to 128)",
        ),
    ];
    for ((from, to), expected) in cases {
        let found = errors(&edited(from, to));
        assert!(
            found.iter().any(|e| e.contains(expected)),
            "{to:?}: expected {expected:?} in {found:#?}"
        );
    }
}

#[test]
fn callback_settings_are_read_and_mistakes_named() {
    let config = parse(DEFAULT_CONFIG, Path::new("switchboard.toml")).unwrap();
    let c = config.settings.callbacks;
    assert_eq!(c.attempts, 3);
    assert_eq!(c.retry_after, std::time::Duration::from_secs(900));
    assert_eq!(c.horizon, std::time::Duration::from_secs(7 * 86_400));
    for ((from, to), expected) in [
        (
            ("callback_attempts = 3", "callback_attempts = 0"),
            "calls.callback_attempts: 0 is out of range (1 to 10)",
        ),
        (
            (
                "callback_retry_after = \"15m\"",
                "callback_retry_after = \"10s\"",
            ),
            "calls.callback_retry_after",
        ),
        (
            ("callback_horizon = \"7d\"", "callback_horizon = \"60d\""),
            "calls.callback_horizon: \"60d\" is longer than the maximum 30d",
        ),
    ] {
        let found = errors(&edited(from, to));
        assert!(
            found.iter().any(|e| e.contains(expected)),
            "{to:?}: expected {expected:?} in {found:#?}"
        );
    }
}
