//! `[security]`: what is read, and every mistake named.

use std::path::Path;

use super::*;
use crate::security::{Agents, Reflection, Role};

const FILE: &str = "config/switchboard.toml";
const LISTEN: &str = "listen = \"127.0.0.1:50051\"";

fn with(listen: &str, security: &str) -> String {
    let text = DEFAULT_CONFIG.replacen(LISTEN, &format!("listen = \"{listen}\""), 1);
    format!("{text}\n{security}")
}

fn errors(text: &str) -> Vec<String> {
    match parse(text, Path::new(FILE)) {
        Ok(_) => panic!("expected the config to be refused"),
        Err(ConfigError::Invalid { errors, .. }) => {
            errors.iter().map(|e| e.message.clone()).collect()
        }
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn without_a_security_section_the_server_is_open_on_loopback_only() {
    let config = parse(DEFAULT_CONFIG, Path::new(FILE)).unwrap();
    assert_eq!(config.settings.security, security::Security::default());
    assert!(!config.settings.security.authenticates());

    for listen in ["0.0.0.0:50051", "[::]:50051", "192.0.2.10:50051"] {
        let errs = errors(&with(listen, ""));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("reachable from other hosts, so it needs TLS and authentication")
                && errs[0].contains("security.insecure = true"),
            "{errs:?}"
        );
    }
    parse(&with("[::1]:50051", ""), Path::new(FILE)).unwrap();
}

#[test]
fn insecure_lets_an_open_server_listen_anywhere() {
    let config = parse(
        &with("0.0.0.0:50051", "[security]\ninsecure = true\n"),
        Path::new(FILE),
    )
    .unwrap();
    assert!(config.settings.security.insecure);
    assert!(!config.settings.security.authenticates());
}

#[test]
fn tls_with_tokens_and_client_certificates_is_read_with_paths_from_the_config_folder() {
    let text = with(
        "0.0.0.0:50051",
        r#"[security]
tls_cert = "tls/server.crt"
tls_key = "tls/server.key"
client_ca = "tls/clients.crt"
tokens = "tokens.toml"
reflection = "off"
rate_limit = 500
metrics_tls = true

[[security.clients]]
name = "sbc-1.example.com"
role = "switch"
switches = ["sbc-1", "sbc-1b"]

[[security.clients]]
name = "desk-app"
role = "desk"
agents = ["*"]

[[security.clients]]
name = "ops"
role = "admin"
"#,
    );
    let dir = Path::new("/etc/switchboard");
    let config = parse(&text, &dir.join("switchboard.toml")).unwrap();
    let s = &config.settings.security;
    let tls = s.tls.as_ref().unwrap();
    assert_eq!(tls.cert, dir.join("tls/server.crt"));
    assert_eq!(tls.key, dir.join("tls/server.key"));
    assert_eq!(
        tls.client_ca.as_deref(),
        Some(&*dir.join("tls/clients.crt"))
    );
    assert_eq!(s.tokens.as_deref(), Some(&*dir.join("tokens.toml")));
    assert_eq!(s.reflection, Reflection::Off);
    assert_eq!(s.rate_limit, Some(500));
    assert!(s.metrics_tls && s.authenticates() && !s.insecure);
    assert_eq!(s.clients.len(), 3);
    assert_eq!(s.clients[0].grant.role, Role::Switch);
    assert!(s.clients[0].grant.switches.contains("sbc-1b"));
    assert_eq!(s.clients[1].grant.agents, Agents::Any);
    assert_eq!(s.clients[2].grant.role, Role::Admin);
}

#[test]
fn every_security_mistake_is_named() {
    let cases: &[(&str, &str, &str)] = &[
        ("127.0.0.1:50051", "[security]\n", "no way to authenticate"),
        (
            "0.0.0.0:50051",
            "[security]\ntokens = \"t.toml\"\n",
            "reachable from other hosts",
        ),
        (
            "127.0.0.1:50051",
            "[security]\ntokens = \"t.toml\"\ntls_cert = \"a.crt\"\n",
            "tls_cert and tls_key go together",
        ),
        (
            "127.0.0.1:50051",
            "[security]\ntokens = \"t.toml\"\nclient_ca = \"ca.crt\"\n",
            "client certificates need TLS",
        ),
        (
            "127.0.0.1:50051",
            "[security]\ntokens = \"t.toml\"\ntls_cert = \"a\"\ntls_key = \"b\"\nclient_ca = \"c\"\n",
            "no [[security.clients]] entry",
        ),
        (
            "127.0.0.1:50051",
            "[security]\ntokens = \"t.toml\"\n[[security.clients]]\nname = \"x\"\nrole = \"admin\"\n",
            "clients are known by their certificates",
        ),
        (
            "127.0.0.1:50051",
            "[security]\ntokens = \"t.toml\"\nclient_crl = \"c.crl\"\n",
            "revocation lists go with client certificates",
        ),
        (
            "127.0.0.1:50051",
            "[security]\ntokens = \"t.toml\"\nreflection = \"on\"\n",
            "\"on\" is not admin or off",
        ),
        (
            "127.0.0.1:50051",
            "[security]\ntokens = \"t.toml\"\nrate_limit = 0\n",
            "out of range",
        ),
        (
            "127.0.0.1:50051",
            "[security]\ntokens = \"t.toml\"\nmetrics_tls = true\n",
            "uses the gRPC port's certificate",
        ),
        (
            "127.0.0.1:50051",
            "[security]\ntokens = \"\"\n",
            "must name a file",
        ),
        (
            "127.0.0.1:50051",
            "[security]\ntokenz = \"t.toml\"\n",
            "unknown key \"tokenz\" (did you mean \"tokens\"?)",
        ),
    ];
    for (listen, section, expected) in cases {
        let errs = errors(&with(listen, section));
        assert!(
            errs.iter().any(|e| e.contains(expected)),
            "{section}: expected {expected:?} in {errs:?}"
        );
    }
}

#[test]
fn client_certificate_identities_are_checked() {
    let base = "[security]\ntls_cert = \"a\"\ntls_key = \"b\"\nclient_ca = \"c\"\n";
    let cases: &[(&str, &str)] = &[
        (
            "[[security.clients]]\nname = \"x\"\nrole = \"swich\"\n",
            "\"swich\" is not a role (switch, desk, supervisor or admin) (did you mean \"switch\"?)",
        ),
        (
            "[[security.clients]]\nname = \"x\"\nrole = \"switch\"\n",
            "a switch needs the switch ids it routes for",
        ),
        (
            "[[security.clients]]\nname = \"x\"\nrole = \"desk\"\n",
            "a desk needs the agents it acts for",
        ),
        (
            "[[security.clients]]\nname = \"x\"\nrole = \"admin\"\nswitches = [\"s\"]\n",
            "switches are bound to a switch only, not a admin",
        ),
        (
            "[[security.clients]]\nname = \"x\"\nrole = \"supervisor\"\nagents = [\"a\"]\n",
            "agents are bound to a desk only, not a supervisor",
        ),
        (
            "[[security.clients]]\nname = \"x\"\nrole = \"desk\"\nagents = [\"*\", \"a\"]\n",
            "stands alone",
        ),
        (
            "[[security.clients]]\nname = \"x\"\nrole = \"admin\"\n[[security.clients]]\nname = \"x\"\nrole = \"admin\"\n",
            "\"x\" is listed twice",
        ),
        (
            "[[security.clients]]\nname = \"\"\nrole = \"admin\"\n",
            "is not a certificate name",
        ),
    ];
    for (clients, expected) in cases {
        let errs = errors(&with("127.0.0.1:50051", &format!("{base}{clients}")));
        assert!(
            errs.iter().any(|e| e.contains(expected)),
            "{clients}: expected {expected:?} in {errs:?}"
        );
    }
}

#[test]
fn the_security_section_takes_effect_at_the_next_start() {
    let running = parse(DEFAULT_CONFIG, Path::new(FILE)).unwrap().settings;
    let edited = parse(
        &with("127.0.0.1:50051", "[security]\ntokens = \"t.toml\"\n"),
        Path::new(FILE),
    )
    .unwrap()
    .settings;
    assert_eq!(edited.restart_only_changes(&running), ["security"]);
}

#[test]
fn connection_limits_have_defaults_and_refuse_values_out_of_range() {
    let config = parse(DEFAULT_CONFIG, Path::new(FILE)).unwrap();
    let limits = &config.settings.limits;
    assert_eq!(limits.max_message_size, 4 << 20);
    assert_eq!(limits.max_header_list_size, 16 << 10);
    assert_eq!(limits.max_streams_per_connection, 256);
    assert_eq!(limits.max_requests_per_connection, 256);
    assert_eq!(limits.max_pending_resets, 20);

    let text = DEFAULT_CONFIG.replacen(
        LISTEN,
        "listen = \"127.0.0.1:50051\"\nmax_message_size = \"1KiB\"\nmax_header_list_size = \"lots\"\nmax_streams_per_connection = 0\nmax_requests_per_connection = 100001\nmax_pending_resets = -1",
        1,
    );
    let errs = errors(&text);
    let expected = [
        "\"1KiB\" is out of range (64KiB to 64MiB)",
        "\"lots\": expected a size such as \"256MiB\" or \"2GiB\"",
        "0 is out of range (1 to 100000)",
        "100001 is out of range (1 to 100000)",
        "-1 is out of range (1 to 100000)",
    ];
    assert_eq!(errs, expected, "{errs:#?}");
}
