//! SIPp, the SIP test tool, as a switch sending INVITEs straight to the daemon's SIP
//! redirect server: each decision's 302 and Contact, the 302 sent again until an ACK
//! gets through, OPTIONS and CANCEL, and 100 calls a second for 20 seconds without a
//! failed call. The scenarios are in `tests/sipp/`.
//!
//! Real-peer test: `cargo test -p switchboard --features real-peers --test peers_sip`
//! (`.ci/run` installs Debian's `sip-tester`, which carries `sipp`).

mod support;

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use support::*;
use switchboard_proto::v1 as pb;

const SIP: &str = r#"
[sip]
listen_udp = "127.0.0.1:0"
ivr_uri = "sip:ivr-{menu}@media.example"
hold_uri = "sip:hold-{queue}@media.example"
voicemail_uri = "sip:vm-{queue}@media.example"

[[sip.peers]]
address = "127.0.0.1"
switch_id = "sipp"
"#;

fn scenarios() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sipp")
}

fn require_sipp() {
    assert!(
        Command::new("sipp").arg("-v").output().is_ok(),
        "sipp not found: apt-get install -y sip-tester"
    );
}

/// The daemon with `[sip]` on a free UDP port: the handle and the SIP address.
fn serve_sip(name: &str) -> (Server, String) {
    let config = config(name, &[]);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(SIP);
    std::fs::write(&config, text).unwrap();
    let (server, log) = serve(&config);
    let sip = log
        .iter()
        .find(|l| l.contains("switchboard serving SIP"))
        .and_then(|l| l.split("udp=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no SIP address in the log: {log:#?}"))
        .to_owned();
    (server, sip)
}

/// A free UDP port on 127.0.0.1 for SIPp's own socket.
fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs SIPp against `target` with `scenario` and `args`, in `dir` (where its logs go),
/// within two minutes: whether it exited 0, and what it printed.
fn sipp(dir: &Path, target: &str, scenario: &Path, args: &[&str]) -> (bool, String) {
    std::fs::create_dir_all(dir).unwrap();
    let port = free_port().to_string();
    let mut child = Command::new("sipp")
        .arg(target)
        .arg("-sf")
        .arg(scenario)
        .args(["-i", "127.0.0.1", "-p", &port, "-nostdin", "-trace_err"])
        .args(["-timeout", "60s", "-timeout_error"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sipp ran over two minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let errors: String = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with("_errors.log"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    (
        out.status.success(),
        format!(
            "{}{}\n{errors}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The file in `dir` whose name ends with `suffix` (SIPp names its logs after the
/// scenario and its process id).
fn log_ending(dir: &Path, suffix: &str) -> String {
    let entry = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no *{suffix} in {}", dir.display()));
    std::fs::read_to_string(entry.path()).unwrap()
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One call from `caller` to `dialed` whose 302's Contact must match `contact` (a
/// regular expression), run by SIPp; panics with SIPp's account otherwise.
fn decided(dir: &Path, target: &str, call_id: &str, caller: &str, dialed: &str, contact: &str) {
    let template = std::fs::read_to_string(scenarios().join("decision.xml")).unwrap();
    let scenario = template
        .replace("CALLER", caller)
        .replace("DIALED", dialed)
        .replace("CONTACT_REGEXP", &escape_xml(contact));
    let dir = dir.join(call_id);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("decision.xml");
    std::fs::write(&file, scenario).unwrap();
    let (ok, said) = sipp(&dir, target, &file, &["-m", "1", "-cid_str", call_id]);
    assert!(ok, "{call_id}: the 302 did not match {contact:?}:\n{said}");
}

#[test]
fn each_decision_gets_its_302_and_contact_from_sipp() {
    require_sipp();
    let (server, target) = serve_sip("sipp-decisions");
    let dir =
        std::env::temp_dir().join(format!("switchboard-sipp-{}-decisions", std::process::id()));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(log_in_general(&server.address, "ana"));

    let main = "+18005550100";
    let platinum = "+18005550199";
    // An unknown caller: the main menu's IVR, with the call id and the menu.
    decided(
        &dir,
        &target,
        "sipp-unknown",
        "+19075550101",
        main,
        "<sip:ivr-main@media\\.example;sb-call=sipp-unknown;sb-menu=main;sb-prompt=main-menu;sb-attempt=1>",
    );
    // A known zero-presser with an agent free: the agent's endpoint.
    decided(
        &dir,
        &target,
        "sipp-tom-1",
        "+12125550104",
        main,
        "^ *<sip:ana@pbx>$",
    );
    // The next one waits: the hold URI with the place and the expected wait.
    decided(
        &dir,
        &target,
        "sipp-tom-2",
        "+12125550104",
        main,
        "<sip:hold-operator@media\\.example;sb-call=sipp-tom-2;sb-queue=operator;sb-position=1;sb-wait=[0-9]+>",
    );
    // A non-member on the platinum line: to the main line, keeping the call id.
    decided(
        &dir,
        &target,
        "sipp-emma",
        "+12125550107",
        platinum,
        "<sip:\\+18005550100@127\\.0\\.0\\.1;sb-call=sipp-emma>",
    );
    // A platinum member on the platinum line: the platinum desk.
    decided(
        &dir,
        &target,
        "sipp-maria",
        "+12125550101",
        platinum,
        "<sip:hold-platinum_desk@media\\.example;sb-call=sipp-maria;sb-queue=platinum_desk;",
    );
    // A closed queue: its voicemail.
    runtime.block_on(async {
        switchboard_proto::v1::admin_client::AdminClient::new(channel(&server.address).await)
            .close_queue(pb::CloseQueueRequest {
                queue: "operator".into(),
                reason: "drill".into(),
            })
            .await
            .unwrap();
    });
    decided(
        &dir,
        &target,
        "sipp-tom-3",
        "+12125550104",
        main,
        "<sip:vm-operator@media\\.example;sb-call=sipp-tom-3;sb-queue=operator>",
    );
    // Another switch's call id: refused.
    runtime.block_on(async {
        switchboard_proto::v1::routing_client::RoutingClient::new(channel(&server.address).await)
            .route_call(route("sipp-taken", 1))
            .await
            .unwrap();
    });
    refused(&dir, &target, "sipp-taken", "+19075550102", main, 403);
}

/// One call from `caller` to `dialed` that must be refused with `code`, run by SIPp.
fn refused(dir: &Path, target: &str, call_id: &str, caller: &str, dialed: &str, code: u16) {
    let scenario = std::fs::read_to_string(scenarios().join("refusal.xml"))
        .unwrap()
        .replace("CALLER", caller)
        .replace("DIALED", dialed)
        .replace("CODE", &code.to_string());
    let dir = dir.join(call_id);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("refusal.xml");
    std::fs::write(&file, scenario).unwrap();
    let (ok, said) = sipp(&dir, target, &file, &["-m", "1", "-cid_str", call_id]);
    assert!(ok, "{call_id}: not refused with {code}:\n{said}");
}

#[test]
fn the_302_is_sent_again_until_an_ack_gets_through_and_then_no_more() {
    require_sipp();
    let (_server, target) = serve_sip("sipp-retransmissions");
    let dir = std::env::temp_dir().join(format!("switchboard-sipp-{}-retx", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (ok, said) = sipp(
        &dir,
        &target,
        &scenarios().join("retransmissions.xml"),
        &["-m", "1", "-trace_msg"],
    );
    assert!(ok, "{said}");
    // SIPp's message log: what it received before its ACK got out, and after (a lost
    // ACK is logged without its text).
    let log = log_ending(&dir, "_messages.log");
    let at = log.find("\nACK sip:").expect("an ACK sent");
    let (before_ack, after) = log.split_at(at);
    let received_302 = |text: &str| text.matches("SIP/2.0 302 Moved Temporarily").count();
    // The first answer, then timer G's at 0.5 s and 1.5 s, in the 2.2 s without an ACK.
    assert!(received_302(before_ack) >= 3, "{log}");
    assert_eq!(received_302(after), 0, "a 302 after the ACK:\n{log}");
}

#[test]
fn options_and_cancel_are_answered() {
    require_sipp();
    let (_server, target) = serve_sip("sipp-options");
    let dir = std::env::temp_dir().join(format!("switchboard-sipp-{}-options", std::process::id()));
    let (ok, said) = sipp(
        &dir,
        &target,
        &scenarios().join("options_cancel.xml"),
        &["-m", "1"],
    );
    assert!(ok, "{said}");
}

#[test]
fn a_hundred_calls_a_second_for_twenty_seconds_without_a_failed_call() {
    require_sipp();
    let (_server, target) = serve_sip("sipp-load");
    let dir = std::env::temp_dir().join(format!("switchboard-sipp-{}-load", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (ok, said) = sipp(
        &dir,
        &target,
        &scenarios().join("load.xml"),
        &[
            "-r",
            "100",
            "-m",
            "2000",
            "-l",
            "500",
            "-trace_stat",
            "-stf",
            "stat.csv",
        ],
    );
    assert!(ok, "{said}");
    let stats = std::fs::read_to_string(dir.join("stat.csv")).unwrap();
    let mut lines = stats.lines();
    let names: Vec<&str> = lines.next().unwrap().split(';').collect();
    let last: Vec<&str> = lines.last().unwrap().split(';').collect();
    let value = |name: &str| {
        let at = names.iter().position(|n| *n == name).unwrap();
        last[at].to_owned()
    };
    assert_eq!(value("SuccessfulCall(C)"), "2000", "{stats}");
    assert_eq!(value("FailedCall(C)"), "0", "{stats}");
    println!(
        "SIPp: 2000 calls at {} calls/s, {} INVITE retransmissions",
        value("CallRate(C)"),
        value("Retransmissions(C)")
    );
}
