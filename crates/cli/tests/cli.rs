//! The binary as ops use it: check, explain and serve, with their exit codes.

use switchboard_proto::v1::{self as pb, routing_client::RoutingClient};

use std::{
    io::{BufRead, BufReader},
    net::TcpStream,
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

/// `serve` on any free gRPC port and without the metrics port, so tests run side by side.
const SERVE_ON_FREE_PORTS: [&str; 5] = [
    "serve",
    "--listen",
    "127.0.0.1:0",
    "--metrics-listen",
    "off",
];

fn switchboard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

fn shipped_config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/switchboard.toml")
}

/// A copy of the shipped config folder with one edit, in a fresh temporary folder.
fn edited_config(name: &str, from: &str, to: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(shipped_config()).unwrap();
    assert!(text.contains(from));
    std::fs::write(dir.join("switchboard.toml"), text.replacen(from, to, 1)).unwrap();
    let csv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/customers.csv");
    std::fs::copy(csv, dir.join("customers.csv")).unwrap();
    dir.join("switchboard.toml")
}

#[test]
fn check_passes_the_shipped_config_with_a_one_line_summary() {
    let out = switchboard()
        .arg("check")
        .arg(shipped_config())
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.ends_with(
            "switchboard.toml: ok (4 tiers, 2 lines, 2 menus, 6 queues, 9 rules; 1200 customers)\n"
        ),
        "{stdout}"
    );
}

#[test]
fn check_prints_every_error_and_exits_1() {
    let path = edited_config(
        "check",
        "queue = \"platinum_desk\" }",
        "queue = \"platnum_desk\" }",
    );
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "repeat_window = \"7d\"",
        "repeat_window = \"soon\"",
        1,
    );
    std::fs::write(&path, text).unwrap();
    let out = switchboard().arg("check").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "errors go to stderr");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    let file = path.display().to_string();
    let written = std::fs::read_to_string(&path).unwrap();
    let line_of = |text: &str| written.lines().position(|l| l.contains(text)).unwrap() + 1;
    let queue_line = line_of("\"platnum_desk\"");
    let window_line = line_of("repeat_window = \"soon\"");
    assert_eq!(
        lines,
        [
            format!(
                "{file}:{window_line}:17: learning.repeat_window: \"soon\": expected a number before \"soon\""
            ),
            format!(
                "{file}:{queue_line}:18: rules[3].then.queue: unknown queue \"platnum_desk\" (did you mean \"platinum_desk\"?)"
            ),
            format!("{file}: 2 errors in config"),
        ]
    );
}

#[test]
fn check_reports_bad_customer_rows_as_warnings_with_their_lines() {
    let path = edited_config(
        "rows",
        "default_country = \"US\"",
        "default_country = \"US\"",
    );
    let csv = path.with_file_name("customers.csv");
    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str("C9999999,Bad Row,+1 212 555,gold,none,en,1,1,,,\n");
    std::fs::write(&csv, text).unwrap();
    let out = switchboard().arg("check").arg(&path).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("customers.csv: warning: line 1202: phone_numbers: \"+1 212 555\" is not a valid number (not a valid North American number) (row skipped)"),
        "{stderr}"
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains("1200 customers, 1 row skipped"), "{stdout}");
}

#[test]
fn check_of_a_missing_file_names_it() {
    let out = switchboard()
        .args(["check", "/nonexistent/switchboard.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("/nonexistent/switchboard.toml: No such file"),
        "{stderr}"
    );
    // Named once, not twice.
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(
        stderr.matches("/nonexistent/switchboard.toml").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn serve_refuses_a_bad_config_with_exit_64_and_the_errors() {
    let path = edited_config(
        "serve",
        "listen = \"127.0.0.1:50051\"",
        "listen = \"nowhere\"",
    );
    let out = switchboard()
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("server.listen: \"nowhere\" is not an address with a port"),
        "{stderr}"
    );
    assert!(
        stderr.contains("switchboard: not starting: 1 error in config"),
        "{stderr}"
    );
    // With JSON logs, every line of the refusal is a JSON log line.
    let out = switchboard()
        .args(["--log-format", "json", "serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l["level"] == "ERROR"), "{stderr}");
    assert!(
        lines.iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"nowhere\" is not an address with a port"))),
        "{stderr}"
    );
}

#[test]
fn explain_shows_rules_and_decisions_for_a_call() {
    let out = switchboard()
        .args([
            "explain",
            "--caller",
            "212-555-0104",
            "--dialed",
            "+18005550100",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("caller: +12125550104: customer C0000004 (Tom Becker), tier standard; preference always_operator (explicit)\n"), "{stdout}");
    assert!(
        stdout.contains("  [match] operator-seekers => queue operator, then stop\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "          yes caller.preference == \"always_operator\" (is always_operator (explicit))\n"
        ),
        "{stdout}"
    );
    assert!(stdout.ends_with("decision 1: queue operator at priority 0 on line main [rule operator-seekers, menu skipped]\n"), "{stdout}");
}

#[test]
fn explain_follows_menu_digits() {
    let out = switchboard()
        .args([
            "explain",
            "--caller",
            "anonymous",
            "--dialed",
            "+18005550100",
            "--digits",
            "9,3",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let decisions: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("decision"))
        .collect();
    assert_eq!(decisions.len(), 3, "{stdout}");
    assert!(
        decisions[1].contains("play menu main (attempt 2"),
        "{stdout}"
    );
    assert!(
        decisions[2].ends_with("queue billing at priority 0 on line main [menu main option 3]"),
        "{stdout}"
    );
}

/// Starts `command` logging at info, with its log lines on a channel. The log is read on
/// a thread so that a server that never logs what a test waits for fails the test
/// instead of hanging it.
fn with_log(mut command: Command) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    // At info unless the test chose a level.
    if !command.get_envs().any(|(k, _)| k == "RUST_LOG") {
        command.env("RUST_LOG", "info");
    }
    let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

#[test]
fn serve_logs_one_json_object_per_line_with_the_flag() {
    let dir = std::env::temp_dir().join(format!("switchboard-cli-{}-json", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut serve = switchboard();
    serve
        .args(["--log-format", "json"])
        .args(SERVE_ON_FREE_PORTS)
        .current_dir(&dir);
    let (mut child, rx) = with_log(serve);
    let mut serving = None;
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        let parsed: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        if parsed["fields"]["message"] == "switchboard serving gRPC" {
            serving = Some(parsed);
            break;
        }
        seen.push(line);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let serving = serving.unwrap_or_else(|| panic!("no serving line: {seen:?}"));
    assert_eq!(serving["level"], "INFO");
    assert!(
        serving["fields"]["address"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:")),
        "{serving}"
    );
}

/// Serves (on `config`, or the embedded defaults) with debug logs as JSON, routes Maria's
/// call, and returns its "routed call" line with every line seen until then.
fn log_of_a_routed_call(name: &str, config: Option<PathBuf>) -> (serde_json::Value, Vec<String>) {
    let dir = std::env::temp_dir().join(format!("switchboard-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut serve = switchboard();
    serve
        .env("RUST_LOG", "info,switchboard_server=debug")
        .args(["--log-format", "json"])
        .args(SERVE_ON_FREE_PORTS)
        .current_dir(&dir);
    if let Some(config) = &config {
        serve.arg("--config").arg(config);
    }
    let (mut child, rx) = with_log(serve);
    let mut address = None;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        if parsed["fields"]["message"] == "switchboard serving gRPC" {
            address = parsed["fields"]["address"].as_str().map(str::to_owned);
            break;
        }
    }
    let address = address.expect("the server started");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut routing = RoutingClient::connect(format!("http://{address}"))
            .await
            .unwrap();
        routing
            .route_call(pb::RouteCallRequest {
                call_id: "span-1".into(),
                caller: "+12125550101".into(),
                dialed: "+18005550199".into(),
                switch_id: "sbc-1".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    });
    let mut routed = None;
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        lines.push(line);
        if parsed["fields"]["message"] == "routed call" {
            routed = Some(parsed);
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let routed = routed.unwrap_or_else(|| panic!("no routed call line: {lines:#?}"));
    (routed, lines)
}

#[test]
fn what_is_logged_during_a_call_carries_its_id_and_never_the_callers_number() {
    let (routed, lines) = log_of_a_routed_call("span", None);
    assert_eq!(routed["span"]["name"], "call", "{routed}");
    assert_eq!(routed["span"]["call_id"], "span-1", "{routed}");
    assert!(
        lines.iter().all(|l| !l.contains("2125550101")),
        "{lines:#?}"
    );
}

#[test]
fn the_callers_number_is_logged_only_when_the_config_says_so() {
    let config = edited_config(
        "numbers",
        "log_caller_numbers = false",
        "log_caller_numbers = true",
    );
    let (routed, _) = log_of_a_routed_call("numbers-serve", Some(config.clone()));
    let _ = std::fs::remove_dir_all(config.parent().unwrap());
    assert_eq!(routed["span"]["call_id"], "span-1", "{routed}");
    assert_eq!(routed["span"]["caller"], "+12125550101", "{routed}");
}

#[test]
fn an_unknown_log_format_is_refused_with_the_choices() {
    let out = switchboard()
        .args(["--log-format", "xml", "check", "config/switchboard.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid value 'xml' for '--log-format <LOG_FORMAT>'")
            && stderr.contains("human")
            && stderr.contains("json"),
        "{stderr}"
    );
}

#[test]
fn serve_starts_on_the_embedded_defaults_and_listens() {
    // On the embedded defaults the store is data/switchboard.db under the working folder.
    let dir = std::env::temp_dir().join(format!("switchboard-cli-{}-defaults", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut serve = switchboard();
    serve.args(SERVE_ON_FREE_PORTS).current_dir(&dir);
    let (mut child, rx) = with_log(serve);
    let mut address = None;
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        if let Some(rest) = line.split("address=").nth(1) {
            address = rest.split_whitespace().next().map(str::to_owned);
            break;
        }
        seen.push(line);
    }
    let Some(address) = address else {
        child.kill().unwrap();
        panic!("no listen address logged: {seen:?}");
    };
    assert!(
        seen.iter().any(|l| l.contains("customers=1200")),
        "{seen:?}"
    );
    let stream = TcpStream::connect_timeout(&address.parse().unwrap(), Duration::from_secs(5));
    child.kill().unwrap();
    child.wait().unwrap();
    stream.unwrap();
    assert!(
        dir.join("data").join("switchboard.db").is_file(),
        "the store was created"
    );
}

#[test]
fn serve_refuses_a_store_it_cannot_trust_with_exit_74() {
    let path = edited_config(
        "badstore",
        "listen = \"127.0.0.1:50051\"",
        "listen = \"127.0.0.1:50051\"\n\n[store]\npath = \"notes.txt\"",
    );
    let notes = path.with_file_name("notes.txt");
    std::fs::write(&notes, "meeting notes, not a database").unwrap();
    let out = switchboard()
        .args(SERVE_ON_FREE_PORTS)
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(74));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "switchboard: not starting: {}: not a Switchboard store (not an SQLite database)",
            notes.display()
        )),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&notes).unwrap(),
        "meeting notes, not a database"
    );
}

/// Waits up to a minute for a log line containing `needle`; the lines before it.
fn wait_for(rx: &std::sync::mpsc::Receiver<String>, needle: &str) -> Result<String, Vec<String>> {
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        if line.contains(needle) {
            return Ok(line);
        }
        seen.push(line);
    }
    Err(seen)
}

#[cfg(unix)]
#[test]
fn serve_reloads_its_config_on_sighup_and_keeps_it_when_the_edit_is_broken() {
    // File changes are not watched here, so only SIGHUP can cause the reloads.
    let path = edited_config(
        "sighup",
        "listen = \"127.0.0.1:50051\"",
        "listen = \"127.0.0.1:50051\"\nreload_on_change = false",
    );
    let mut serve = switchboard();
    serve.args(SERVE_ON_FREE_PORTS).arg("--config").arg(&path);
    let (mut child, rx) = with_log(serve);
    let hangup = |child: &std::process::Child| {
        let status = Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let result = (|| {
        wait_for(&rx, "switchboard serving gRPC")?;
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replacen(
                "queue = \"platinum_desk\" }",
                "queue = \"platnum_desk\" }",
                1,
            ),
        )
        .unwrap();
        hangup(&child);
        let refused = wait_for(&rx, "config reload refused")?;
        let why = wait_for(&rx, "unknown queue \"platnum_desk\"")?;
        std::fs::write(&path, text).unwrap();
        hangup(&child);
        let applied = wait_for(&rx, "config reloaded")?;
        Ok::<_, Vec<String>>((refused, why, applied))
    })();
    child.kill().unwrap();
    child.wait().unwrap();
    let (refused, why, applied) =
        result.unwrap_or_else(|seen| panic!("log ended early: {seen:#?}"));
    assert!(
        refused.contains("trigger=\"SIGHUP\"") || refused.contains("trigger=SIGHUP"),
        "{refused}"
    );
    assert!(
        why.contains(
            "rules[3].then.queue: unknown queue \"platnum_desk\" (did you mean \"platinum_desk\"?)"
        ),
        "{why}"
    );
    assert!(applied.contains("SIGHUP"), "{applied}");
}

#[test]
fn explain_at_a_given_time_shows_business_hours_and_each_condition() {
    let out = switchboard()
        .args([
            "explain",
            "--caller",
            "212-555-0105",
            "--dialed",
            "+18005550100",
            "--at",
            "2026-11-28T18:00:00-05:00",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("  [match] get-it-done-busy => menu quick, offer a callback, then stop\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "          yes caller.preference == \"get_it_done\" (is get_it_done (explicit))\n"
        ),
        "{stdout}"
    );
    // Nobody staffs support in an offline explain: the wait has no bound.
    assert!(
        stdout.contains("          yes queue(\"support\").estimated_wait > 240 (is unbounded (nobody staffed))\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "          yes not open(\"support_hours\") (is closed at sat 18:00 America/New_York)\n"
        ),
        "{stdout}"
    );
    // Flags of the wrong kind: exit 2, naming the value and what is expected.
    for (flag, value, message) in [
        (
            "--channel",
            "fax",
            "unknown channel \"fax\" (voice, video, chat, email or callback)",
        ),
        (
            "--at",
            "yesterday",
            "\"yesterday\" is not a time like 2026-12-25T10:00:00-05:00",
        ),
    ] {
        let out = switchboard()
            .args(["explain", "--caller", "1", "--dialed", "2", flag, value])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{stderr}");
    }
}

#[test]
fn import_loads_customers_into_the_store_and_reports_bad_rows_by_line() {
    let config = edited_config(
        "import",
        "listen = \"127.0.0.1:50051\"",
        "listen = \"127.0.0.1:50051\"\n\n[store]\npath = \"data/store.db\"",
    );
    let dir = config.parent().unwrap().to_path_buf();
    let csv = dir.join("new.csv");
    std::fs::write(
        &csv,
        "customer_id,name,phone_numbers,tier\n\
         N1,Ada Byron,+13125550170,gold\n\
         N2,Bad Tier,+13125550171,golden\n\
         N3,Charles Babbage,+13125550172,platinum\n",
    )
    .unwrap();
    let out = switchboard()
        .arg("import")
        .arg(&csv)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let store = dir.join("data/store.db");
    assert_eq!(
        stdout,
        format!(
            "{csv}: line 3: tier: unknown tier \"golden\" (did you mean \"golden\"?) (row skipped)\n\
             {csv}: imported 2 customers into {store} (1 row skipped); a running server reads them at its next start (Admin.ImportCustomers loads them live)\n",
            csv = csv.display(),
            store = store.display()
        )
        .replace(" (did you mean \"golden\"?)", " (did you mean \"gold\"?)")
    );
    // The import is in the audit trail, as a change made on the host.
    let out = switchboard()
        .args(["audit", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let audit = String::from_utf8(out.stdout).unwrap();
    assert!(
        audit.contains("switchboard import (")
            && audit.contains(&format!(
                "import  {}  2 imported, 1 rows rejected",
                csv.display()
            )),
        "{audit}"
    );
    // They are stored: another customer cannot take Ada's number now.
    std::fs::write(&csv, "customer_id,phone_numbers\nN9,+13125550170\n").unwrap();
    let out = switchboard()
        .arg("import")
        .arg(&csv)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with(&format!(
            "{}: line 2: phone number +13125550170 belongs to customer N1 (row skipped)\n",
            csv.display()
        )),
        "{stdout}"
    );
    // A file that is not there is named, and creates no store.
    let fresh = edited_config(
        "import-missing",
        "listen = \"127.0.0.1:50051\"",
        "listen = \"127.0.0.1:50051\"\n\n[store]\npath = \"data/never.db\"",
    );
    let out = switchboard()
        .args(["import", "missing.csv", "--config"])
        .arg(&fresh)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!fresh.parent().unwrap().join("data/never.db").exists());
    // A file that is not there is named.
    let out = switchboard()
        .args(["import", "missing.csv", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("missing.csv: ") && !stderr.contains("missing.csv: missing.csv"),
        "{stderr}"
    );
    // So is a header that is not ours.
    std::fs::write(
        &csv,
        "id,phone
N9,+13125550170
",
    )
    .unwrap();
    let out = switchboard()
        .arg("import")
        .arg(&csv)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with(&format!("{}: header: unknown column \"id\"", csv.display())),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The gRPC address a server started with [`with_log`] logs, as a URL.
fn served_url(rx: &std::sync::mpsc::Receiver<String>) -> String {
    let line = wait_for(rx, "switchboard serving gRPC").expect("the server started");
    let address = line
        .split("address=")
        .nth(1)
        .and_then(|a| a.split_whitespace().next())
        .expect("the address is logged");
    format!("http://{address}")
}

/// Tom (standard, skips menus) calls as `call_id` and waits `wait`; then Ann logs in,
/// takes the call and ends it, resolved.
fn tom_answered_by_ann(server: &str, call_id: &str, wait: std::time::Duration) {
    use switchboard_proto::v1::agents_client::AgentsClient;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut routing = RoutingClient::connect(server.to_owned()).await.unwrap();
        routing
            .route_call(pb::RouteCallRequest {
                call_id: call_id.into(),
                caller: "+12125550104".into(),
                dialed: "+18005550100".into(),
                switch_id: "sbc-1".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        tokio::time::sleep(wait).await;
        AgentsClient::connect(server.to_owned())
            .await
            .unwrap()
            .set_agent_state(pb::SetAgentStateRequest {
                agent_id: "ann".into(),
                state: pb::AgentState::Available.into(),
                skills: vec![pb::Skill {
                    name: "general".into(),
                    proficiency: 5,
                }],
                endpoint: "sip:ann@pbx".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        for kind in [pb::CallEventKind::Connected, pb::CallEventKind::Ended] {
            routing
                .report_call_event(pb::CallEvent {
                    call_id: call_id.into(),
                    kind: kind.into(),
                    agent_id: "ann".into(),
                    resolved: true,
                    ..Default::default()
                })
                .await
                .unwrap();
        }
    });
}

#[test]
fn report_prints_each_tiers_standard_beside_what_was_delivered() {
    let dir = std::env::temp_dir().join(format!("switchboard-cli-{}-report", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut serve = switchboard();
    serve.args(SERVE_ON_FREE_PORTS).current_dir(&dir);
    let (mut child, rx) = with_log(serve);
    let server = served_url(&rx);
    // Tom is answered at once by Ann and the call ends.
    tom_answered_by_ann(&server, "r1", std::time::Duration::ZERO);
    let report = switchboard()
        .args([
            "report",
            "--fail-on-miss",
            "--agents",
            "--window",
            "1h",
            "--server",
            &server,
        ])
        .output()
        .unwrap();
    let short = switchboard()
        .args(["report", "--window", "10s", "--server", &server])
        .output()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&report.stdout);
    assert_eq!(report.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("Service standards from "), "{text}");
    assert!(lines[0].ends_with("(call records)"), "{text}");
    let standard = lines
        .iter()
        .find(|l| l.starts_with("standard "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(standard.contains("80% in 60s"), "{text}");
    assert!(
        standard.contains("100.0%") && standard.ends_with("met"),
        "{text}"
    );
    let gold = lines.iter().find(|l| l.starts_with("gold ")).unwrap();
    assert!(gold.ends_with("no calls"), "{text}");
    // Ann's one call, from the call records: resolved, within the handle-time standard
    // (2 points), too few calls to be judged.
    let ann = lines
        .iter()
        .find(|l| l.starts_with("ann "))
        .unwrap_or_else(|| panic!("{text}"));
    let columns: Vec<&str> = ann.split_whitespace().collect();
    assert_eq!(columns[1], "1", "{text}");
    assert_eq!(columns[3], "100.0%", "{text}");
    assert_eq!(&columns[5..], ["0/0", "2", "-"], "{text}");
    assert_eq!(short.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&short.stderr).trim(),
        "switchboard: window: must be a minute or longer"
    );
}

#[test]
fn report_names_a_server_it_cannot_reach_and_a_bad_window() {
    let unreachable = switchboard()
        .args(["report", "--server", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(1));
    let err = String::from_utf8_lossy(&unreachable.stderr);
    assert!(
        err.starts_with("switchboard: cannot reach the server at http://127.0.0.1:1"),
        "{err}"
    );
    let bad = switchboard()
        .args(["report", "--window", "soon"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("invalid value 'soon' for '--window"), "{err}");
}

#[test]
fn every_command_answers_version() {
    for command in [
        "serve", "check", "explain", "import", "report", "token", "audit", "status", "backup",
    ] {
        let out = switchboard().args([command, "--version"]).output().unwrap();
        assert!(out.status.success(), "{command} --version");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(env!("CARGO_PKG_VERSION")),
            "{command} --version: {stdout}"
        );
    }
}

#[test]
fn report_fail_on_miss_exits_3_when_a_tier_missed_its_standard() {
    // The standard tier's standard is one second, so a call answered after it misses.
    let config = edited_config(
        "report-missed",
        "standard = { answer_percent = 80, within = \"60s\" }",
        "standard = { answer_percent = 80, within = \"1s\" }",
    );
    let mut serve = switchboard();
    serve.args(SERVE_ON_FREE_PORTS).arg("--config").arg(&config);
    let (mut child, rx) = with_log(serve);
    let server = served_url(&rx);
    // Tom waits longer than the standard: no agent yet.
    tom_answered_by_ann(&server, "m1", std::time::Duration::from_millis(1_500));
    let report = switchboard()
        .args([
            "report",
            "--fail-on-miss",
            "--window",
            "1h",
            "--server",
            &server,
        ])
        .output()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let text = String::from_utf8_lossy(&report.stdout);
    let standard = text
        .lines()
        .find(|l| l.starts_with("standard "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(standard.ends_with("MISSED"), "{text}");
    // Apart from a usage error (2).
    assert_eq!(report.status.code(), Some(3), "{text}");
}

#[test]
fn explain_reads_the_store_when_there_is_one_and_says_so_without_creating_it() {
    let config = edited_config(
        "explain-store",
        "listen = \"127.0.0.1:50051\"",
        "listen = \"127.0.0.1:50051\"\n\n[store]\npath = \"data/store.db\"",
    );
    let store = config.parent().unwrap().join("data/store.db");
    let explain = || {
        switchboard()
            .args([
                "explain",
                "--caller",
                "+13125550170",
                "--dialed",
                "+18005550100",
                "--config",
            ])
            .arg(&config)
            .output()
            .unwrap()
    };
    // No store yet: the customers file, and no store is made.
    let out = explain();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no store yet"), "{stderr}");
    assert!(!store.exists());
    assert!(String::from_utf8_lossy(&out.stdout).contains("unknown caller"));

    // A customer imported into the store is known to explain, as to the server.
    let csv = config.parent().unwrap().join("new.csv");
    std::fs::write(
        &csv,
        "customer_id,name,phone_numbers,tier\nN1,Ada Byron,+13125550170,gold\n",
    )
    .unwrap();
    let imported = switchboard()
        .arg("import")
        .arg(&csv)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(imported.status.success());
    let out = explain();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("from the store {}", store.display())),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("customer N1 (Ada Byron), tier gold"),
        "{stdout}"
    );
}
