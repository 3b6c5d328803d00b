//! `[sip]`: what is read, and every mistake named with its key.

use std::{net::IpAddr, path::Path, time::Duration};

use super::*;
use crate::sip::Network;

const FILE: &str = "config/switchboard.toml";

const GOOD: &str = r#"
[sip]
listen_udp = "127.0.0.1:5060"
listen_tcp = "127.0.0.1:5060"
http_listen = "127.0.0.1:8089"
ivr_uri = "sip:ivr-{menu}@127.0.0.1:5090"
hold_uri = "sip:hold-{queue}@127.0.0.1:5090"
voicemail_uri = "sip:vm-{queue}@127.0.0.1:5090"
agent_domain = "pbx.example.com"
retry_after = "30s"

[[sip.peers]]
address = "127.0.0.1"
switch_id = "kamailio-1"

[[sip.peers]]
address = "10.1.0.0/16"
switch_id = "sbc-east"
"#;

fn with(sip: &str) -> String {
    format!("{DEFAULT_CONFIG}\n{sip}")
}

/// Every error as `path: message`.
fn errors(text: &str) -> Vec<String> {
    match parse(text, Path::new(FILE)) {
        Ok(_) => panic!("expected the config to be refused"),
        Err(ConfigError::Invalid { errors, .. }) => errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect(),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn without_a_sip_section_there_is_no_sip_listener() {
    let config = parse(DEFAULT_CONFIG, Path::new(FILE)).unwrap();
    assert!(!config.settings.sip.enabled());
    assert_eq!(config.settings.sip.retry_after, Duration::from_secs(5));
}

#[test]
fn a_sip_section_gives_listeners_peers_and_uris() {
    let sip = parse(&with(GOOD), Path::new(FILE)).unwrap().settings.sip;
    assert!(sip.enabled());
    assert_eq!(sip.listen_udp, Some("127.0.0.1:5060".parse().unwrap()));
    assert_eq!(sip.http_listen, Some("127.0.0.1:8089".parse().unwrap()));
    assert_eq!(sip.ivr_uri, "sip:ivr-{menu}@127.0.0.1:5090");
    assert_eq!(
        sip.voicemail_uri.as_deref(),
        Some("sip:vm-{queue}@127.0.0.1:5090")
    );
    assert_eq!(sip.retry_after, Duration::from_secs(30));
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(sip.peer(ip("127.0.0.1")), Some("kamailio-1"));
    assert_eq!(sip.peer(ip("10.1.200.7")), Some("sbc-east"));
    assert_eq!(sip.peer(ip("::ffff:10.1.0.1")), Some("sbc-east"));
    assert_eq!(sip.peer(ip("10.2.0.1")), None);
    assert_eq!(sip.peer(ip("::1")), None);
}

#[test]
fn networks_cover_what_their_prefix_says() {
    let net = Network::parse("2001:db8::/32").unwrap();
    assert!(net.contains("2001:db8:ffff::1".parse().unwrap()));
    assert!(!net.contains("2001:db9::1".parse().unwrap()));
    assert!(
        Network::parse("0.0.0.0/0")
            .unwrap()
            .contains("192.0.2.1".parse().unwrap())
    );
    for bad in ["10.0.0.0/33", "::/129", "host.example", "10.0.0.0/x", ""] {
        assert!(Network::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn each_mistake_in_sip_is_named_with_its_key() {
    let cases = [
        (
            GOOD.replace("\"127.0.0.1:5060\"\nlisten_tcp", "\"5060\"\nlisten_tcp"),
            "sip.listen_udp: \"5060\" is not an address with a port",
        ),
        (
            GOOD.replace("address = \"127.0.0.1\"", "address = \"localhost\""),
            "sip.peers[0].address: \"localhost\" is not an IP address",
        ),
        (
            GOOD.replace("10.1.0.0/16", "10.1.0.0/40"),
            "sip.peers[1].address: \"10.1.0.0/40\": the prefix length must be 0 to 32",
        ),
        (
            GOOD.replace("switch_id = \"kamailio-1\"", "switch_id = \"\""),
            "sip.peers[0].switch_id: \"\" must be 1 to 128 printable ASCII",
        ),
        (
            GOOD.replace("sip:ivr-{menu}", "http://ivr-{menu}"),
            "sip.ivr_uri: \"http://ivr-{menu}@127.0.0.1:5090\" must be a sip: or sips: URI",
        ),
        (
            GOOD.replace("hold-{queue}", "hold-{menu}"),
            "sip.hold_uri: \"sip:hold-{menu}@127.0.0.1:5090\" may hold only {queue}",
        ),
        (
            GOOD.replace("sip:vm-{queue}", "sip:vm {queue}"),
            "sip.voicemail_uri: \"sip:vm {queue}@127.0.0.1:5090\" must be at most 256 visible ASCII",
        ),
        (
            GOOD.replace("ivr_uri = \"sip:ivr-{menu}@127.0.0.1:5090\"\n", ""),
            "sip.ivr_uri: missing: where calls go for a menu decision",
        ),
        (
            GOOD.replace("hold_uri = \"sip:hold-{queue}@127.0.0.1:5090\"\n", ""),
            "sip.hold_uri: missing: where calls go for a queue decision",
        ),
        (
            GOOD.replace(
                "agent_domain = \"pbx.example.com\"",
                "agent_domain = \"pbx example\"",
            ),
            "sip.agent_domain: \"pbx example\" is not a host name",
        ),
        (
            GOOD.replace("retry_after = \"30s\"", "retry_after = \"2h\""),
            "sip.retry_after: \"2h\" is longer than 1h",
        ),
        (
            GOOD.split("[[sip.peers]]").next().unwrap().to_owned(),
            "sip.peers: no peers: the SIP listeners and the HTTP endpoint answer only the addresses listed",
        ),
        (
            GOOD.replace("agent_domain", "agent_domian"),
            "unknown key \"agent_domian\"",
        ),
    ];
    for (text, expected) in cases {
        let errs = errors(&with(&text));
        assert!(
            errs.iter().any(|e| e.contains(expected)),
            "{expected:?} not in {errs:?}"
        );
    }
}

#[test]
fn the_sip_listeners_change_only_at_a_restart_and_the_rest_at_a_reload() {
    let running = parse(&with(GOOD), Path::new(FILE)).unwrap().settings;
    let moved = GOOD.replace(
        "listen_udp = \"127.0.0.1:5060\"",
        "listen_udp = \"127.0.0.1:5070\"",
    );
    let next = parse(&with(&moved), Path::new(FILE)).unwrap().settings;
    assert_eq!(next.restart_only_changes(&running), ["sip.listen_udp"]);
    let peers = GOOD.replace("10.1.0.0/16", "10.9.0.0/16");
    let next = parse(&with(&peers), Path::new(FILE)).unwrap().settings;
    assert!(next.restart_only_changes(&running).is_empty());
}
