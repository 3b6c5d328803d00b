//! Prometheus' own tools against what Switchboard serves and ships: `promtool check
//! metrics` on a live scrape in the text format; a real Prometheus scraping the daemon
//! (it asks for OpenMetrics first, with the `Accept` header the server's unit test of
//! the negotiation uses) and storing its series; `promtool check rules`
//! and `promtool test rules` on the alert rules in `deploy/`; every query of the Grafana
//! dashboard parsed by promtool as a recording rule; and `systemd-analyze verify` on the
//! systemd unit.
//!
//! Real-peer test: `cargo test -p switchboard --features real-peers --test peers_prometheus`
//! (`.ci/run` installs `prometheus`, which carries promtool; `systemd-analyze` comes with
//! systemd).

mod support;

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use support::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn require(tool: &str, package: &str) {
    assert!(
        Command::new(tool).arg("--version").output().is_ok(),
        "{tool} not found: apt-get install -y {package}"
    );
}

/// `GET path` from `address` with `accept`: the body.
fn get(address: &str, path: &str, accept: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: t\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

/// Runs `command` with `input` on stdin: its exit status and what it printed.
fn run(command: &mut Command, input: &str) -> (bool, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn promtool_finds_the_text_format_clean() {
    require("promtool", "prometheus");
    let config = config("promtool-metrics", &[]);
    let (_server, metrics, _) = serve_with_metrics(&config);
    let text = get(&metrics, "/metrics", "text/plain");
    let (ok, said) = run(Command::new("promtool").args(["check", "metrics"]), &text);
    assert!(
        ok && said.trim().is_empty(),
        "promtool check metrics:\n{said}"
    );
}

#[test]
fn a_real_prometheus_scrapes_openmetrics_and_stores_the_series() {
    require("prometheus", "prometheus");
    let config = config("prometheus-scrape", &[]);
    let (_server, metrics, _) = serve_with_metrics(&config);
    let dir = config.parent().unwrap().to_path_buf();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: switchboard\n    static_configs:\n      - targets: ['{metrics}']\n"
        ),
    )
    .unwrap();
    let mut prometheus = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let api = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    let ok = loop {
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(500));
        let Ok(mut stream) = std::net::TcpStream::connect(&api) else {
            continue;
        };
        let query = "/api/v1/query?query=switchboard_calls_offered_total%7Bqueue%3D%22care%22%2Ctier%3D%22gold%22%7D";
        let _ = write!(
            stream,
            "GET {query} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        );
        let mut raw = String::new();
        let _ = stream.read_to_string(&mut raw);
        last = raw.clone();
        if raw.contains("\"__name__\":\"switchboard_calls_offered_total\"") {
            break true;
        }
    };
    let targets = std::net::TcpStream::connect(&api).ok().map(|mut s| {
        let _ = write!(
            s,
            "GET /api/v1/targets HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        );
        let mut raw = String::new();
        let _ = s.read_to_string(&mut raw);
        raw
    });
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    assert!(
        ok,
        "Prometheus never stored the counter: {last}\n{targets:?}"
    );
    let targets = targets.unwrap_or_default();
    assert!(targets.contains("\"health\":\"up\""), "{targets}");
    assert!(targets.contains("\"lastError\":\"\""), "{targets}");
}

#[test]
fn the_alert_rules_check_and_pass_their_unit_tests() {
    require("promtool", "prometheus");
    let rules = repo().join("deploy/prometheus");
    for args in [
        &["check", "rules", "switchboard-alerts.yml"][..],
        &["test", "rules", "switchboard-alerts.test.yml"][..],
    ] {
        let (ok, said) = run(Command::new("promtool").args(args).current_dir(&rules), "");
        assert!(ok, "promtool {args:?}:\n{said}");
    }
}

#[test]
fn every_dashboard_query_is_promql_that_promtool_accepts() {
    require("promtool", "prometheus");
    let text =
        std::fs::read_to_string(repo().join("deploy/grafana/switchboard-dashboard.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    let mut n = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            n += 1;
            rules.push_str(&format!(
                "      - record: dashboard:query_{n}\n        expr: {}\n",
                serde_json::Value::String(expr.to_owned())
            ));
        }
    }
    assert!(n >= 20, "{n} queries");
    let file =
        std::env::temp_dir().join(format!("switchboard-dashboard-{}.yml", std::process::id()));
    std::fs::write(&file, rules).unwrap();
    let (ok, said) = run(
        Command::new("promtool")
            .arg("check")
            .arg("rules")
            .arg(&file),
        "",
    );
    let _ = std::fs::remove_file(&file);
    assert!(
        ok,
        "promtool check rules on the dashboard's queries:\n{said}"
    );
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    require("systemd-analyze", "systemd");
    let unit = std::fs::read_to_string(repo().join("deploy/systemd/switchboard.service")).unwrap();
    // The unit names the installed binary; verify checks that it exists, so point it at
    // the one this test was built with.
    let unit = unit.replace(
        "/usr/local/bin/switchboard",
        env!("CARGO_BIN_EXE_switchboard"),
    );
    let dir = std::env::temp_dir().join(format!("switchboard-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: &Path = &dir.join("switchboard.service");
    std::fs::write(path, unit).unwrap();
    let (ok, said) = run(Command::new("systemd-analyze").arg("verify").arg(path), "");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        ok && said.trim().is_empty(),
        "systemd-analyze verify:\n{said}"
    );
}
