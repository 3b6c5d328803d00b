//! Kamailio in front of the daemon, with the shipped `deploy/kamailio/kamailio.cfg`:
//! SIPp callers call through Kamailio, which asks Switchboard over HTTP where each call
//! goes (rtjson routes), rings SIPp phones standing in for agents (one that answers, one
//! nobody picks up, one busy) and a media server, and reports its dialogs' events back.
//! The agents' states are read over gRPC as each call goes on.
//!
//! Real-peer test: `cargo test -p switchboard --features real-peers --test peers_kamailio`
//! (`.ci/run` installs Debian's `kamailio`, `kamailio-utils-modules` (http_client),
//! `kamailio-extra-modules` (jansson) and `sip-tester` (SIPp)).

mod support;

use std::{
    net::UdpSocket,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use support::*;
use switchboard_proto::v1::{self as pb, agents_client::AgentsClient};

const MAIN: &str = "+18005550100";
const PLATINUM: &str = "+18005550199";
const TOM_ALWAYS_OPERATOR: &str = "+12125550104";
const MARIA_PLATINUM: &str = "+12125550101";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn scenarios() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sipp")
}

fn require(tool: &str, packages: &str) {
    assert!(
        Command::new(tool).arg("-v").output().is_ok(),
        "{tool} not found: apt-get install -y {packages}"
    );
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A SIPp phone (`scenario`, a UAS) on `port`, logging its messages in `dir`.
fn phone(dir: &Path, scenario: &str, port: u16) -> Running {
    std::fs::create_dir_all(dir).unwrap();
    Running(
        Command::new("sipp")
            .arg("-sf")
            .arg(scenarios().join(scenario))
            .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-nostdin"])
            .args(["-trace_msg", "-trace_err"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sipp starts"),
    )
}

/// Kamailio with the shipped config on `port`, asking Switchboard at `http`; once it
/// answers an OPTIONS.
fn kamailio(dir: &Path, port: u16, http: &str) -> Running {
    std::fs::create_dir_all(dir).unwrap();
    let log = std::fs::File::create(dir.join("kamailio.log")).unwrap();
    let child = Command::new("kamailio")
        .args(["-DD", "-E", "-f"])
        .arg(repo().join("deploy/kamailio/kamailio.cfg"))
        .args(["-l", &format!("udp:127.0.0.1:{port}")])
        .args(["-Y", &dir.display().to_string()])
        .args(["-A", &format!("SWITCHBOARD=\"http://{http}\"")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("kamailio starts");
    let running = Running(child);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let local = socket.local_addr().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let ping = format!(
            "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-ping-{}\r\nFrom: <sip:test@{local}>;tag=t\r\nTo: <sip:127.0.0.1:{port}>\r\nCall-ID: ping@test\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            Instant::now().elapsed().as_nanos()
        );
        let _ = socket.send_to(ping.as_bytes(), ("127.0.0.1", port));
        let mut buf = [0u8; 2_048];
        if let Ok((n, _)) = socket.recv_from(&mut buf)
            && buf[..n].starts_with(b"SIP/2.0 200")
        {
            return running;
        }
    }
    let log = std::fs::read_to_string(dir.join("kamailio.log")).unwrap_or_default();
    panic!("kamailio did not answer OPTIONS within 15 s:\n{log}");
}

/// A caller (SIPp UAC) from `caller` to `dialed` through Kamailio at `port`, talking
/// `talk_ms` once answered; started in the background.
fn caller(dir: &Path, port: u16, call_id: &str, caller: &str, dialed: &str, talk_ms: u64) -> Child {
    let dir = dir.join(call_id);
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = std::fs::read_to_string(scenarios().join("caller.xml"))
        .unwrap()
        .replace("CALLER", caller)
        .replace("DIALED", dialed)
        .replace("HOLD_MS", &talk_ms.to_string());
    std::fs::write(dir.join("caller.xml"), scenario).unwrap();
    Command::new("sipp")
        .arg(format!("127.0.0.1:{port}"))
        .args(["-sf", "caller.xml", "-m", "1", "-cid_str", call_id])
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &free_port().to_string(),
            "-nostdin",
        ])
        .args([
            "-trace_msg",
            "-trace_err",
            "-timeout",
            "40s",
            "-timeout_error",
        ])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp starts")
}

/// Waits for the caller to finish its call; it must succeed.
fn finished(mut call: Child, dir: &Path, call_id: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = call.try_wait().unwrap() {
            let errors: String = std::fs::read_dir(dir.join(call_id))
                .unwrap()
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with("_errors.log"))
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .collect();
            assert!(
                status.success(),
                "{call_id}: the caller's call failed:\n{errors}"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{call_id}: the call ran over a minute"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Floor {
    runtime: tokio::runtime::Runtime,
    address: String,
}

impl Floor {
    fn agent(&self, id: &str, endpoint: String, skills: &[(&str, u32)]) {
        self.runtime.block_on(async {
            AgentsClient::new(channel(&self.address).await)
                .set_agent_state(pb::SetAgentStateRequest {
                    agent_id: id.into(),
                    state: pb::AgentState::Available.into(),
                    skills: skills
                        .iter()
                        .map(|(name, proficiency)| pb::Skill {
                            name: (*name).into(),
                            proficiency: *proficiency,
                        })
                        .collect(),
                    endpoint,
                    ..Default::default()
                })
                .await
                .unwrap();
        });
    }

    fn log_out(&self, id: &str) {
        self.runtime.block_on(async {
            AgentsClient::new(channel(&self.address).await)
                .set_agent_state(pb::SetAgentStateRequest {
                    agent_id: id.into(),
                    state: pb::AgentState::LoggedOut.into(),
                    ..Default::default()
                })
                .await
                .unwrap();
        });
    }

    fn view(&self, id: &str) -> pb::Agent {
        self.runtime.block_on(async {
            AgentsClient::new(channel(&self.address).await)
                .get_agent(pb::GetAgentRequest {
                    agent_id: id.into(),
                })
                .await
                .unwrap()
                .into_inner()
        })
    }

    /// Waits up to 20 s for agent `id` to be in `state`.
    fn reaches(&self, id: &str, state: pb::AgentState) -> pb::Agent {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let agent = self.view(id);
            if agent.state() == state {
                return agent;
            }
            assert!(
                Instant::now() < deadline,
                "agent {id} is {:?} ({}), not {state:?}",
                agent.state(),
                agent.reason
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The daemon with `[sip]` (HTTP endpoint on a free port, the IVR and hold at the media
/// phone on `media`), offers that ring for 4 s, and no keeping a caller for the agent who
/// served them last; Kamailio in front.
fn floor(name: &str, dir: &Path, media: u16) -> (Server, Floor, u16, Running) {
    let config = config(
        name,
        &[
            ("offer_timeout = \"20s\"", "offer_timeout = \"6s\""),
            ("same_agent_for = \"20s\"", "same_agent_for = \"0s\""),
        ],
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[sip]\nhttp_listen = \"127.0.0.1:0\"\nivr_uri = \"sip:ivr-{{menu}}@127.0.0.1:{media}\"\nhold_uri = \"sip:hold-{{queue}}@127.0.0.1:{media}\"\n\n[[sip.peers]]\naddress = \"127.0.0.1\"\nswitch_id = \"kamailio-1\"\n"
    ));
    std::fs::write(&config, text).unwrap();
    let (server, log) = serve(&config);
    let http = log
        .iter()
        .find(|l| l.contains("switchboard serving SIP"))
        .and_then(|l| l.split("http=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no HTTP address in the log: {log:#?}"))
        .to_owned();
    let port = free_port();
    let proxy = kamailio(dir, port, &http);
    let floor = Floor {
        runtime: tokio::runtime::Runtime::new().unwrap(),
        address: server.address.clone(),
    };
    (server, floor, port, proxy)
}

fn require_all() {
    require(
        "kamailio",
        "kamailio kamailio-utils-modules kamailio-extra-modules",
    );
    require("sipp", "sip-tester");
}

#[test]
fn an_agents_answer_and_hang_up_reach_switchboard_and_the_next_call_goes_to_the_next_agent() {
    require_all();
    let dir = std::env::temp_dir().join(format!(
        "switchboard-kamailio-{}-answer",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let (media, phones) = (free_port(), free_port());
    let _media = phone(&dir.join("media"), "phone_answer.xml", media);
    let _phones = phone(&dir.join("phones"), "phone_answer.xml", phones);
    let (_server, floor, proxy, _kamailio) = floor("kamailio-answer", &dir, media);
    floor.agent(
        "ana",
        format!("sip:ana@127.0.0.1:{phones}"),
        &[("general", 5)],
    );
    floor.agent(
        "dan",
        format!("sip:dan@127.0.0.1:{phones}"),
        &[("general", 5)],
    );

    // A known zero-presser reaches the agent idle longest; the answer puts them on the
    // call and the hang-up into wrap-up.
    let call = caller(&dir, proxy, "k-tom-1", TOM_ALWAYS_OPERATOR, MAIN, 1_500);
    let ana = floor.reaches("ana", pb::AgentState::OnCall);
    assert_eq!(ana.call_ids, ["k-tom-1"]);
    finished(call, &dir, "k-tom-1");
    floor.reaches("ana", pb::AgentState::WrapUp);

    // The next call goes to the next agent.
    let call = caller(&dir, proxy, "k-tom-2", TOM_ALWAYS_OPERATOR, MAIN, 1_000);
    let dan = floor.reaches("dan", pb::AgentState::OnCall);
    assert_eq!(dan.call_ids, ["k-tom-2"]);
    finished(call, &dir, "k-tom-2");
    floor.reaches("dan", pb::AgentState::WrapUp);

    // A platinum member on the platinum line reaches the platinum desk's agent.
    floor.agent(
        "pat",
        format!("sip:pat@127.0.0.1:{phones}"),
        &[("general", 5), ("platinum", 1)],
    );
    let call = caller(&dir, proxy, "k-maria", MARIA_PLATINUM, PLATINUM, 1_000);
    let pat = floor.reaches("pat", pb::AgentState::OnCall);
    assert_eq!(pat.call_ids, ["k-maria"]);
    finished(call, &dir, "k-maria");

    // An unknown caller is sent to the main menu's IVR.
    let call = caller(&dir, proxy, "k-stranger", "+19075550199", MAIN, 500);
    finished(call, &dir, "k-stranger");
    let heard = messages(&dir.join("media"));
    assert!(
        heard.contains("INVITE sip:ivr-main@127.0.0.1")
            && heard.contains("sb-call=k-stranger;sb-menu=main"),
        "the IVR was not called:\n{heard}"
    );
}

#[test]
fn a_phone_nobody_answers_and_a_busy_one_put_their_agents_not_ready_and_the_caller_on_hold() {
    require_all();
    let dir = std::env::temp_dir().join(format!(
        "switchboard-kamailio-{}-missed",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let (media, silent, busy) = (free_port(), free_port(), free_port());
    let _media = phone(&dir.join("media"), "phone_answer.xml", media);
    let _silent = phone(&dir.join("silent"), "phone_no_answer.xml", silent);
    let _busy = phone(&dir.join("busy"), "phone_busy.xml", busy);
    let (_server, floor, proxy, _kamailio) = floor("kamailio-missed", &dir, media);

    // Nobody picks up: after 4 s of ringing the agent is not ready (a missed call) and
    // the caller hears the hold, then hangs up there.
    floor.agent(
        "bob",
        format!("sip:bob@127.0.0.1:{silent}"),
        &[("general", 5)],
    );
    let call = caller(&dir, proxy, "k-missed", TOM_ALWAYS_OPERATOR, MAIN, 500);
    let bob = floor.reaches("bob", pb::AgentState::NotReady);
    assert_eq!(bob.reason, "no_answer");
    finished(call, &dir, "k-missed");
    assert!(messages(&dir.join("media")).contains("INVITE sip:hold-operator@127.0.0.1"));
    floor.log_out("bob");

    // Busy: the same.
    floor.agent("cy", format!("sip:cy@127.0.0.1:{busy}"), &[("general", 5)]);
    let call = caller(&dir, proxy, "k-busy", TOM_ALWAYS_OPERATOR, MAIN, 500);
    let cy = floor.reaches("cy", pb::AgentState::NotReady);
    assert_eq!(cy.reason, "no_answer");
    finished(call, &dir, "k-busy");
}

/// Everything a phone's SIPp logged of its messages.
fn messages(dir: &Path) -> String {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with("_messages.log"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect()
}
