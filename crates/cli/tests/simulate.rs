//! `switchboard simulate` as ops run it: the shipped scenario as a table, JSON and a
//! chart, two configs compared, a store's recorded calls replayed, and bad input refused.

mod support;

use std::{path::PathBuf, process::Command, time::Duration};

use support::{channel, config, press_zero, route, serve};
use switchboard_proto::v1::{self as pb, routing_client::RoutingClient};

fn switchboard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

fn shipped_config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/switchboard.toml")
}

/// `switchboard simulate` with `args`, run to its end.
fn simulate(args: &[&str]) -> std::process::Output {
    switchboard().arg("simulate").args(args).output().unwrap()
}

/// Asserts `out` is a refusal of bad flags (exit 2) whose message says `says`.
fn refused_flags(out: std::process::Output, says: &str) {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(says), "{stderr}");
}

/// `switchboard simulate --target` on the shipped config with `replications`.
fn target(scenario: &std::path::Path, replications: &str) -> std::process::Output {
    simulate(&[
        "--config",
        shipped_config().to_str().unwrap(),
        "--scenario",
        scenario.to_str().unwrap(),
        "--target",
        "--replications",
        replications,
    ])
}

fn weekday() -> PathBuf {
    shipped_config()
        .with_file_name("scenarios")
        .join("weekday.toml")
}

#[test]
fn simulate_prints_what_the_shipped_scenario_delivers_as_a_table_or_json() {
    let scenario = shipped_config()
        .with_file_name("scenarios")
        .join("weekday.toml");
    let out = simulate(&["--scenario", scenario.to_str().unwrap(), "--seed", "3"]);
    assert!(out.status.success(), "{out:?}");
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains(" calls\n\ntier / queue     standard "),
        "{table}"
    );
    assert!(table.contains("\nplatinum         90% in 20s "), "{table}");
    assert!(table.contains("\n  support        80% in 60s "), "{table}");
    assert!(table.contains("\nestimated waits told: "), "{table}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("simulated ") && stderr.contains(" calls per second"),
        "{stderr}"
    );
    // The same seed as JSON: the same calls.
    let out = simulate(&[
        "--scenario",
        scenario.to_str().unwrap(),
        "--seed",
        "3",
        "--json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let calls = json["calls"].as_u64().unwrap();
    assert!(table.starts_with(&format!("{calls} calls\n")), "{table}");
    assert_eq!(json["tiers"][2]["tier"], "platinum");
    assert_eq!(json["tiers"][2]["intervals"].as_array().unwrap().len(), 48);
}

#[test]
fn simulate_refuses_a_bad_scenario_with_exit_64_naming_the_field() {
    let dir = std::env::temp_dir().join(format!("switchboard-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(
        shipped_config()
            .with_file_name("scenarios")
            .join("weekday.toml"),
    )
    .unwrap()
    .replacen("interval = \"15m\"", "interval = \"30s\"", 1);
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, text).unwrap();
    let out = simulate(&["--scenario", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        format!(
            "{}: scenario: interval: must be a minute or longer\n",
            bad.display()
        )
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn simulate_compares_two_configs_on_the_same_day() {
    let scenario = shipped_config()
        .with_file_name("scenarios")
        .join("weekday.toml");
    // The platinum desk opened to every agent with general 5, not only platinum ones.
    let other = config(
        "simulate-compare",
        &[(
            "skills = { general = 5, platinum = 1 }",
            "skills = { general = 5 }",
        )],
    );
    let out = simulate(&[
        "--scenario",
        scenario.to_str().unwrap(),
        "--compare",
        other.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[2].starts_with("tier / queue        level    other   change"),
        "{text}"
    );
    let platinum = lines
        .iter()
        .find(|l| l.starts_with("platinum "))
        .unwrap_or_else(|| panic!("{text}"));
    let cells: Vec<&str> = platinum.split_whitespace().collect();
    let level = |cell: &str| cell.trim_end_matches('%').parse::<f64>().unwrap();
    assert!(level(cells[2]) > level(cells[1]) + 10.0, "{platinum}");
    // The same config twice: nothing changes.
    let out = simulate(&[
        "--scenario",
        scenario.to_str().unwrap(),
        "--compare",
        shipped_config().to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    for line in text.lines().skip(3) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((cells[3], cells[6]), ("+0.0", "+0s"), "{line}");
    }
}

#[test]
fn simulate_draws_each_tiers_service_level_over_the_day_as_svg() {
    let scenario = shipped_config()
        .with_file_name("scenarios")
        .join("weekday.toml");
    let dir = std::env::temp_dir().join(format!("switchboard-sim-chart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("day.svg");
    let out = simulate(&[
        "--scenario",
        scenario.to_str().unwrap(),
        "--chart",
        svg.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{text}"
    );
    assert!(text.trim_end().ends_with("</svg>"));
    for tier in ["standard", "gold", "platinum", "concierge"] {
        assert!(
            text.contains(&format!(">{tier}</text>")),
            "{tier} in the legend"
        );
    }
    assert!(text.matches("<polyline").count() >= 4);
    assert!(text.contains(">12h</text>"), "the day's hours on the axis");
    // A chart that cannot be written: exit 1 naming the file, nothing else changes.
    let out = simulate(&[
        "--scenario",
        scenario.to_str().unwrap(),
        "--chart",
        "/nonexistent-dir/day.svg",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("/nonexistent-dir/day.svg: "), "{stderr}");
}

#[test]
fn simulate_replays_the_calls_a_store_recorded() {
    // A server with a store takes five calls; each caller presses 0 and hangs up in the
    // operators' queue (nobody is at the desk), so each ends with a record.
    let path = config("simulate-replay", &[]);
    let (mut server, _) = serve(&path);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    rt.block_on(async {
        let mut routing = RoutingClient::new(channel(&server.address).await);
        for n in 0..5 {
            let id = format!("recorded-{n}");
            routing.route_call(route(&id, n)).await.unwrap();
            routing.submit_input(press_zero(&id)).await.unwrap();
            routing
                .report_call_event(pb::CallEvent {
                    call_id: id,
                    kind: pb::CallEventKind::Abandoned.into(),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        // The store commits every 50 ms.
        tokio::time::sleep(Duration::from_millis(500)).await;
    });
    server.kill();
    let out = simulate(&[
        "--config",
        path.to_str().unwrap(),
        "--scenario",
        weekday().to_str().unwrap(),
        "--replay-from",
        &jiff::Timestamp::from_second(before as i64 - 60)
            .unwrap()
            .to_string(),
        "--replay-to",
        &jiff::Timestamp::from_second(before as i64 + 3_600)
            .unwrap()
            .to_string(),
        "--json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["calls"], 5, "{json}");
    let offered: u64 = json["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["all"]["offered"].as_u64().unwrap())
        .sum();
    assert_eq!(offered, 5);
    // Each reached the operators' queue again, by the digit it pressed.
    let standard = &json["tiers"][0]["queues"];
    assert_eq!(standard[0][0], "operator", "{standard}");

    // A period the store has nothing in: no calls, and still a report.
    let out = simulate(&[
        "--config",
        path.to_str().unwrap(),
        "--scenario",
        weekday().to_str().unwrap(),
        "--replay-from",
        "2020-01-01T00:00:00Z",
        "--replay-to",
        "2020-01-02T00:00:00Z",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with("0 calls\n")
    );
    // The shipped config's store was never made here: exit 74 naming it.
    let out = simulate(&[
        "--scenario",
        weekday().to_str().unwrap(),
        "--replay-from",
        "2020-01-01T00:00:00Z",
        "--replay-to",
        "2020-01-02T00:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(74));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("switchboard: ./data/switchboard.db: "),
        "{stderr}"
    );
}

#[test]
fn simulate_refuses_bad_flags_naming_them() {
    let scenario = weekday();
    let scenario = scenario.to_str().unwrap();
    // A time that is not one.
    let out = simulate(&[
        "--scenario",
        scenario,
        "--replay-from",
        "yesterday",
        "--replay-to",
        "2020-01-02T00:00:00Z",
    ]);
    refused_flags(out, "\"yesterday\" is not a time like 2026-12-01T08:00:00Z");
    // One end of the period without the other.
    let out = simulate(&[
        "--scenario",
        scenario,
        "--replay-from",
        "2020-01-01T00:00:00Z",
    ]);
    refused_flags(out, "--replay-to");
    // A period that ends before it starts, with a store to read.
    let path = config("simulate-bad-period", &[]);
    let out = simulate(&[
        "--config",
        path.to_str().unwrap(),
        "--scenario",
        scenario,
        "--replay-from",
        "2020-01-02T00:00:00Z",
        "--replay-to",
        "2020-01-01T00:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "--replay-to must be after --replay-from\n"
    );
    // A config to compare with that is not there.
    let out = simulate(&[
        "--scenario",
        scenario,
        "--compare",
        "/nonexistent/other.toml",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/other.toml"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// A morning of the shipped config's main line, with `agents` at the desk.
fn small_scenario(name: &str, agents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-sim-small-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"
seed = 9
interval = "15m"
handle_time = {{ default = {{ exponential = "3m" }} }}
patience = {{ default = {{ exponential = "3m" }} }}

[[arrivals]]
line = "+18005550100"
per_interval = [30, 60, 60, 30]
callers = {{ standard = 3, gold = 1 }}
menus = {{ main = {{ "2" = 1 }} }}

{agents}
"#
        ),
    )
    .unwrap();
    path
}

#[test]
fn simulate_target_finds_the_fewest_agents_per_interval_and_prints_them_as_a_roster() {
    let config = shipped_config();
    let scenario = small_scenario(
        "target",
        "[[agents]]\nname = \"desk\"\ncount = 10\nskills = { general = 5, technical = 5, billing = 5 }",
    );
    let out = target(&scenario, "2");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("from     calls  agents  scenario"),
        "{text}"
    );
    assert!(
        text.contains("every interval with every standard met"),
        "{text}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("searched in "), "{stderr}");
    // The roster it prints is scenario text: the day with it, against the day with the
    // ten agents all day, side by side.
    let roster = &text[text.find("\n[[agents]]\n").expect("a roster")..];
    let staffed: Vec<usize> = roster
        .lines()
        .find_map(|l| l.strip_prefix("staffed = ["))
        .unwrap()
        .trim_end_matches(']')
        .split(", ")
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(staffed.len(), 4);
    // Twice the calls in the middle half hour take more agents than its ends.
    assert!(
        staffed[1] > staffed[0] && staffed[2] > staffed[3],
        "{staffed:?}"
    );
    let found = small_scenario("found", roster);
    let out = simulate(&[
        "--config",
        config.to_str().unwrap(),
        "--scenario",
        scenario.to_str().unwrap(),
        "--compare-scenario",
        found.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!(
            "{0} calls with this scenario, {0} with ",
            text.split(' ').next().unwrap()
        )),
        "the same calls under both: {text}"
    );
    assert!(text.contains(&found.display().to_string()), "{text}");
    // The search and a bad count of replications are refused before anything runs.
    refused_flags(
        target(&scenario, "0"),
        "'--replications <REPLICATIONS>': 0 is not in 1..=50",
    );
    let out = simulate(&[
        "--scenario",
        scenario.to_str().unwrap(),
        "--target",
        "--compare",
        config.to_str().unwrap(),
    ]);
    refused_flags(out, "'--target' cannot be used with '--compare <COMPARE>'");
}

#[test]
fn simulate_target_exits_3_when_no_staffing_meets_the_standards() {
    // Callers go to support; the only agents are concierge agents, whom support never
    // reaches: more of them never helps, and every caller gives up.
    let scenario = small_scenario(
        "unservable",
        "[[agents]]\nname = \"concierge\"\ncount = 2\nskills = { concierge = 5 }",
    );
    let out = target(&scenario, "1");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("NOT every interval with every standard met"),
        "{text}"
    );
    assert!(text.contains("the best more agents reach"), "{text}");
}
