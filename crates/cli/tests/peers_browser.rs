//! The wallboard in a real headless Chromium (Debian's `chromium`, driven by
//! `playwright-core` from npm): the daemon runs as a process, this test drives calls and
//! agents over gRPC, and `browser/wallboard.mjs` checks that the page follows within two
//! seconds, that a cut connection resumes from `Last-Event-ID`, and saves a screenshot
//! to `target/wallboard.png`.
//!
//! Real-peer test: `cargo test -p switchboard --features real-peers --test peers_browser`
//! (`.ci/run` installs what it needs: `apt-get install -y chromium`, Node.js with npm, and
//! `npm ci --prefix crates/cli/tests/browser`).

mod support;

use std::{
    io::{BufRead, BufReader, Write},
    path::PathBuf,
    process::{Command, Stdio},
    sync::{Arc, Mutex},
};

use support::*;
use switchboard_proto::v1::{
    self as pb, admin_client::AdminClient, agents_client::AgentsClient,
    routing_client::RoutingClient,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::AbortHandle,
};

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// What this test needs installed, checked first so a missing piece fails with what to
/// install rather than a puzzle.
fn require_tools() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "Chromium not found at {chromium}: apt-get install -y chromium (or set CHROMIUM)"
    );
    assert!(
        Command::new("node").arg("--version").output().is_ok(),
        "node not found: apt-get install -y nodejs npm"
    );
    assert!(
        browser_dir().join("node_modules/playwright-core").exists(),
        "playwright-core not installed: npm ci --prefix crates/cli/tests/browser"
    );
}

/// A loopback proxy in front of the wallboard's port: the test can cut every connection
/// through it, as a network would, and sees each connection's first request.
struct Proxy {
    address: String,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let connections = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (conns, reqs) = (Arc::clone(&connections), Arc::clone(&requests));
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let upstream = upstream.clone();
                let reqs = Arc::clone(&reqs);
                let task = tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let mut first = vec![0u8; 8192];
                    let Ok(n) = client.read(&mut first).await else {
                        return;
                    };
                    reqs.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&first[..n]).into_owned());
                    if server.write_all(&first[..n]).await.is_err() {
                        return;
                    }
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                conns.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy {
            address,
            connections,
            requests,
        }
    }

    /// Drops every connection made so far.
    fn cut(&self) {
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    fn feed_requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.starts_with("GET /floor/events"))
            .cloned()
            .collect()
    }
}

fn agent(id: &str, skills: &[(&str, u32)]) -> pb::SetAgentStateRequest {
    pb::SetAgentStateRequest {
        agent_id: id.into(),
        state: pb::AgentState::Available.into(),
        skills: skills
            .iter()
            .map(|(name, proficiency)| pb::Skill {
                name: (*name).into(),
                proficiency: *proficiency,
            })
            .collect(),
        endpoint: format!("sip:{id}@pbx.example"),
        ..Default::default()
    }
}

fn event(call: &str, kind: pb::CallEventKind, agent: &str) -> pb::CallEvent {
    pb::CallEvent {
        call_id: call.into(),
        kind: kind.into(),
        agent_id: agent.into(),
        ..Default::default()
    }
}

/// Does what the page asked for.
async fn step(step: &str, address: &str, proxy: &Proxy) {
    let channel = channel(address).await;
    let mut agents = AgentsClient::new(channel.clone());
    let mut routing = RoutingClient::new(channel.clone());
    let mut admin = AdminClient::new(channel);
    match step {
        "login ann" => {
            agents
                .set_agent_state(agent("ann", &[("general", 5)]))
                .await
                .unwrap();
        }
        "call tom" => {
            routing
                .route_call(pb::RouteCallRequest {
                    call_id: "t1".into(),
                    caller: "+12125550104".into(),
                    dialed: "+18005550100".into(),
                    switch_id: SWITCH.into(),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        "connect" => {
            routing
                .report_call_event(event("t1", pb::CallEventKind::Connected, "ann"))
                .await
                .unwrap();
        }
        "cut and end the call" => {
            proxy.cut();
            routing
                .report_call_event(event("t1", pb::CallEventKind::Ended, "ann"))
                .await
                .unwrap();
        }
        "check resumed" => {
            // The page's first feed request may share the page's own connection; the
            // one after the cut opens a new one, with the id it had reached.
            let feeds = proxy.feed_requests();
            assert!(
                feeds
                    .iter()
                    .any(|r| r.to_ascii_lowercase().contains("\r\nlast-event-id: ")),
                "the browser's own reconnect sent Last-Event-ID: {feeds:#?}"
            );
        }
        "populate" => {
            for (id, skills) in [
                ("bea", &[("billing", 6)][..]),
                ("cal", &[("technical", 7)][..]),
                ("dee", &[("general", 8), ("platinum", 4)][..]),
                ("eve", &[("concierge", 3)][..]),
            ] {
                agents.set_agent_state(agent(id, skills)).await.unwrap();
            }
            let mut away = agent("cal", &[]);
            away.state = pb::AgentState::NotReady.into();
            away.skills.clear();
            away.endpoint.clear();
            away.reason = "lunch".into();
            agents.set_agent_state(away).await.unwrap();
            // Bea takes the first billing call; three more wait.
            for n in 0..4 {
                let id = format!("b{n}");
                routing.route_call(route(&id, 100 + n)).await.unwrap();
                routing
                    .submit_input(pb::SubmitInputRequest {
                        call_id: id,
                        input: Some(pb::submit_input_request::Input::Digits("3".into())),
                    })
                    .await
                    .unwrap();
            }
            routing
                .report_call_event(event("b0", pb::CallEventKind::Connected, "bea"))
                .await
                .unwrap();
            for n in 0..2 {
                let id = format!("s{n}");
                routing.route_call(route(&id, 200 + n)).await.unwrap();
                routing
                    .submit_input(pb::SubmitInputRequest {
                        call_id: id,
                        input: Some(pb::submit_input_request::Input::Digits("2".into())),
                    })
                    .await
                    .unwrap();
            }
            admin
                .close_queue(pb::CloseQueueRequest {
                    queue: "concierge".into(),
                    reason: "team meeting".into(),
                })
                .await
                .unwrap();
        }
        other => panic!("the page asked for an unknown step {other:?}"),
    }
}

#[test]
fn the_wallboard_follows_the_floor_in_chromium_and_resumes_after_a_cut() {
    require_tools();
    let config = config("browser", &[]);
    let (server, metrics, _) = serve_with_metrics(&config);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = rt.block_on(Proxy::start(metrics));
    let screenshot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/wallboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let mut node = Command::new("node")
        .arg(browser_dir().join("wallboard.mjs"))
        .arg(format!("http://{}/wallboard", proxy.address))
        .arg(&screenshot)
        .current_dir(browser_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    let mut to_page = node.stdin.take().unwrap();
    let mut said = Vec::new();
    for line in BufReader::new(node.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        said.push(line.clone());
        if let Some(what) = line.strip_prefix("do ") {
            rt.block_on(step(what, &server.address, &proxy));
            writeln!(to_page, "ok").unwrap();
        }
    }
    let status = node.wait().unwrap();
    drop(server);
    assert!(
        status.success() && said.last().map(String::as_str) == Some("pass"),
        "the browser check failed:\n{}",
        said.join("\n")
    );
    assert!(
        std::fs::metadata(&screenshot).is_ok_and(|m| m.len() > 10_000),
        "a screenshot at {}",
        screenshot.display()
    );
}
