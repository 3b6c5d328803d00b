//! The real binary for tests: a config in a fresh folder, the server started on a free
//! port with its log read, and stopped (SIGKILL) when the handle drops.
#![allow(dead_code, unreachable_pub)]

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use switchboard_proto::v1 as pb;
use tonic::transport::Channel;

/// The switch the tests' calls come from.
pub const SWITCH: &str = "sbc-1";

/// A call on the main line from a new caller (`n` picks the number), from an area code
/// no sample customer has: all such calls wait at the same priority, so their order in
/// a queue is their order of arrival.
pub fn route(id: &str, n: usize) -> pb::RouteCallRequest {
    pb::RouteCallRequest {
        call_id: id.into(),
        caller: format!("+1907555{:04}", n % 10_000),
        dialed: "+18005550100".into(),
        switch_id: SWITCH.into(),
        ..Default::default()
    }
}

/// The caller presses 0 for a person: the operators' queue.
pub fn press_zero(id: &str) -> pb::SubmitInputRequest {
    pb::SubmitInputRequest {
        call_id: id.into(),
        input: Some(pb::submit_input_request::Input::Digits("0".into())),
    }
}

/// The shipped config in a fresh folder named after the test, with its store at
/// `data/s.db`, file watching off and `edits` (from, to) made to its text.
pub fn config(name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut text = std::fs::read_to_string(root.join("switchboard.toml")).unwrap();
    let from = "listen = \"127.0.0.1:50051\"";
    assert!(text.contains(from));
    text = text.replacen(
        from,
        "listen = \"127.0.0.1:50051\"\nreload_on_change = false\n\n[store]\npath = \"data/s.db\"\ncommit_delay = \"50ms\"",
        1,
    );
    for (from, to) in edits {
        assert!(text.contains(from), "{from:?} is not in the config");
        text = text.replacen(from, to, 1);
    }
    std::fs::write(dir.join("switchboard.toml"), text).unwrap();
    std::fs::copy(root.join("customers.csv"), dir.join("customers.csv")).unwrap();
    dir.join("switchboard.toml")
}

/// A server process, killed with SIGKILL when dropped (also when a test fails).
pub struct Server {
    pub child: Child,
    pub address: String,
    /// Log lines from after it started serving.
    pub log: mpsc::Receiver<String>,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `signal` (e.g. "TERM") to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits up to `within` for the process to exit.
    pub fn exit_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Log lines until the process exits (or 30 s pass).
    pub fn rest_of_log(&self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.log.recv_timeout(Duration::from_secs(30)) {
            lines.push(line);
        }
        lines
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `command` (a `switchboard serve` to which `--listen 127.0.0.1:0
/// --metrics-listen off --config CONFIG` are added); once it serves, the handle and
/// what it logged until then.
pub fn serve_with(command: Command, config: &Path) -> (Server, Vec<String>) {
    let (server, _, log) = start(command, config, false);
    (server, log)
}

/// `switchboard serve` on `config` with its metrics on a free port too: the handle, the
/// metrics address and what it logged until it served.
pub fn serve_with_metrics(config: &Path) -> (Server, String, Vec<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command.arg("serve");
    let (server, metrics, log) = start(command, config, true);
    (server, metrics.expect("the metrics address"), log)
}

fn start(
    mut command: Command,
    config: &Path,
    metrics: bool,
) -> (Server, Option<String>, Vec<String>) {
    let mut child = command
        .args([
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            if metrics { "127.0.0.1:0" } else { "off" },
            "--config",
        ])
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let address_in = |line: &str| {
        line.split("address=")
            .nth(1)
            .map(|rest| rest.split_whitespace().next().unwrap().to_owned())
    };
    let (mut grpc, mut metrics_at) = (None, None);
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        if line.contains("switchboard serving gRPC") {
            grpc = address_in(&line);
        } else if line.contains("switchboard serving metrics") {
            metrics_at = address_in(&line);
        }
        seen.push(line);
        if let Some(address) = &grpc
            && (!metrics || metrics_at.is_some())
        {
            let address = address.clone();
            return (
                Server {
                    child,
                    address,
                    log: rx,
                },
                metrics_at,
                seen,
            );
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not start: {seen:#?}");
}

/// `switchboard serve` on `config`.
pub fn serve(config: &Path) -> (Server, Vec<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command.arg("serve");
    serve_with(command, config)
}

/// Logs agent `id` in, available, with the general skill at 5 (the operators' queue).
pub async fn log_in_general(address: &str, id: &str) {
    switchboard_proto::v1::agents_client::AgentsClient::new(channel(address).await)
        .set_agent_state(pb::SetAgentStateRequest {
            agent_id: id.into(),
            state: pb::AgentState::Available.into(),
            skills: vec![pb::Skill {
                name: "general".into(),
                proficiency: 5,
            }],
            endpoint: format!("sip:{id}@pbx"),
            ..Default::default()
        })
        .await
        .unwrap();
}

pub async fn channel(address: &str) -> Channel {
    Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}
