//! Three real Switchboard processes on one real PostgreSQL store (lease 2 s): the leader
//! killed with SIGKILL under load, and a leader paused with SIGSTOP past its lease. A
//! "switch" here knows every node's address and sends each request to the first that
//! accepts it, as a switch with a list of addresses does; it watches the assignments of
//! whichever node leads. No agent may ever be offered two calls, and every call
//! acknowledged before the durability bound must be back, in order.
#![cfg(unix)]

mod support;

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use support::{SWITCH, press_zero, route};
use switchboard_pgtest::PgServer;
use switchboard_proto::v1::{
    self as pb, admin_client::AdminClient, agents_client::AgentsClient,
    routing_client::RoutingClient,
};
use tonic::transport::Channel;

/// A call acknowledged this long before the leader died must be back: `commit_delay`
/// (50 ms) plus a commit, with a wide margin for a loaded machine.
const DURABLE_WITHIN: Duration = Duration::from_millis(1_500);
/// Each request to one node waits at most this long (a paused node never answers).
const TRY_FOR: Duration = Duration::from_millis(700);

fn config(pg: &PgServer, name: &str, commit_delay: &str) -> PathBuf {
    config_with_lease(pg, name, commit_delay, "2s")
}

fn config_with_lease(pg: &PgServer, name: &str, commit_delay: &str, lease: &str) -> PathBuf {
    let url = pg.create_database(name);
    support::config(
        name,
        &[
            (
                "path = \"data/s.db\"",
                &format!("url = \"{url}\"\nlease = \"{lease}\""),
            ),
            (
                "commit_delay = \"50ms\"",
                &format!("commit_delay = \"{commit_delay}\""),
            ),
            // Offers stay open: no agent answers, and none may come back to the queue.
            ("offer_timeout = \"20s\"", "offer_timeout = \"10m\""),
        ],
    )
}

/// A channel that notices a node gone silent (paused) within about two seconds.
fn lazy(address: &str) -> Channel {
    Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect_timeout(TRY_FOR)
        .http2_keep_alive_interval(Duration::from_millis(500))
        .keep_alive_timeout(Duration::from_secs(1))
        .keep_alive_while_idle(true)
        .connect_lazy()
}

/// Every node's address, as a switch is configured with them.
#[derive(Clone)]
struct Nodes {
    addresses: Arc<Mutex<Vec<String>>>,
}

impl Nodes {
    fn all(&self) -> Vec<String> {
        self.addresses.lock().unwrap().clone()
    }

    /// Which node leads now, asked of each.
    async fn leader(&self) -> Option<String> {
        for address in self.all() {
            let answer = tokio::time::timeout(
                TRY_FOR,
                AdminClient::new(lazy(&address)).get_node(pb::GetNodeRequest {}),
            )
            .await;
            if let Ok(Ok(node)) = answer
                && node.get_ref().leading
            {
                return Some(address);
            }
        }
        None
    }

    /// Waits until some node leads; its address.
    async fn wait_for_leader(&self, within: Duration) -> String {
        let until = Instant::now() + within;
        loop {
            if let Some(a) = self.leader().await {
                return a;
            }
            assert!(Instant::now() < until, "no node led within {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Routes call `id` and presses 0 on the first node that takes both; the node.
    async fn queue_call(&self, id: &str, n: usize) -> Option<String> {
        for address in self.all() {
            let mut routing = RoutingClient::new(lazy(&address));
            let routed = tokio::time::timeout(TRY_FOR, routing.route_call(route(id, n))).await;
            if !matches!(routed, Ok(Ok(_))) {
                continue;
            }
            let pressed = tokio::time::timeout(TRY_FOR, routing.submit_input(press_zero(id))).await;
            if matches!(pressed, Ok(Ok(_))) {
                return Some(address);
            }
        }
        None
    }
}

/// Every assignment the switch was sent, by any node, in the order it got them.
type Seen = Arc<Mutex<Vec<(String, pb::Assignment)>>>;

/// The switch's assignment stream, kept open on whichever node takes it.
fn watch(nodes: &Nodes, seen: &Seen) -> tokio::task::JoinHandle<()> {
    let (nodes, seen) = (nodes.clone(), Arc::clone(seen));
    tokio::spawn(async move {
        loop {
            for address in nodes.all() {
                let mut routing = RoutingClient::new(lazy(&address));
                let opened = tokio::time::timeout(
                    TRY_FOR,
                    routing.watch_assignments(pb::WatchAssignmentsRequest {
                        switch_id: SWITCH.into(),
                    }),
                )
                .await;
                let Ok(Ok(stream)) = opened else { continue };
                let mut stream = stream.into_inner();
                while let Ok(Some(a)) = stream.message().await {
                    seen.lock().unwrap().push((address.clone(), a));
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// No agent was ever offered two different calls (no agent here answers or declines,
/// so an offer stands until the end); the offers by agent.
fn offers_by_agent(seen: &Seen) -> BTreeMap<String, String> {
    let mut by_agent: BTreeMap<String, String> = BTreeMap::new();
    for (node, a) in seen.lock().unwrap().iter() {
        if a.kind() != pb::AssignmentKind::Call {
            continue;
        }
        match by_agent.get(&a.agent_id) {
            Some(call) => assert_eq!(
                call, &a.call_id,
                "agent {} was offered {call} and then {} (by {node})",
                a.agent_id, a.call_id
            ),
            None => {
                by_agent.insert(a.agent_id.clone(), a.call_id.clone());
            }
        }
    }
    by_agent
}

fn agent(id: &str, state: pb::AgentState) -> pb::SetAgentStateRequest {
    pb::SetAgentStateRequest {
        agent_id: id.into(),
        state: state.into(),
        skills: vec![pb::Skill {
            name: "general".into(),
            proficiency: 1,
        }],
        endpoint: format!("sip:{id}@pbx.example"),
        ..Default::default()
    }
}

async fn waiting(address: &str) -> Vec<String> {
    AdminClient::new(lazy(address))
        .list_waiting_calls(pb::ListWaitingCallsRequest {
            queue: "operator".into(),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .calls
        .into_iter()
        .map(|c| c.call_id)
        .collect()
}

fn start_three(config: &std::path::Path) -> (Vec<support::Server>, Nodes) {
    let servers: Vec<support::Server> = (0..3).map(|_| support::serve(config).0).collect();
    let nodes = Nodes {
        addresses: Arc::new(Mutex::new(
            servers.iter().map(|s| s.address.clone()).collect(),
        )),
    };
    (servers, nodes)
}

#[test]
fn a_standby_takes_over_a_killed_leader_under_load_with_every_acknowledged_call_and_agent() {
    let pg = PgServer::start();
    let config = config(&pg, "failover_kill", "50ms");
    let (mut servers, nodes) = start_three(&config);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let leader = nodes.wait_for_leader(Duration::from_secs(10)).await;
        let seen: Seen = Arc::default();
        let watcher = watch(&nodes, &seen);
        let mut agents = AgentsClient::new(lazy(&leader));
        let mut routing = RoutingClient::new(lazy(&leader));
        // Ann is offered the first call and never answers; Cy is on the second; Bo is
        // at lunch.
        agents
            .set_agent_state(agent("ann", pb::AgentState::Available))
            .await
            .unwrap();
        assert_eq!(
            nodes.queue_call("first", 9001).await.as_ref(),
            Some(&leader)
        );
        agents
            .set_agent_state(agent("cy", pb::AgentState::Available))
            .await
            .unwrap();
        assert_eq!(
            nodes.queue_call("second", 9002).await.as_ref(),
            Some(&leader)
        );
        routing
            .report_call_event(pb::CallEvent {
                call_id: "second".into(),
                kind: pb::CallEventKind::Connected.into(),
                agent_id: "cy".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        agents
            .set_agent_state(pb::SetAgentStateRequest {
                reason: "lunch".into(),
                ..agent("bo", pb::AgentState::NotReady)
            })
            .await
            .unwrap();

        // The load: a call every 10 ms, to whichever node takes it, before and after the
        // kill until a new leader has taken calls for a second.
        let victim = servers
            .iter()
            .position(|s| s.address == leader)
            .expect("the leader is one of the three");
        let mut acked: Vec<(String, Instant, String)> = Vec::new();
        let mut killed: Option<Instant> = None;
        let mut served_again: Option<Instant> = None;
        let started = Instant::now();
        for n in 0.. {
            if killed.is_none() && started.elapsed() > Duration::from_secs(3) {
                servers[victim].kill();
                killed = Some(Instant::now());
            }
            if served_again.is_some_and(|t| t.elapsed() > Duration::from_secs(1)) {
                break;
            }
            assert!(
                killed.is_none_or(|k| k.elapsed() < Duration::from_secs(30)),
                "no node took calls within 30 s of the kill"
            );
            let id = format!("load-{n:05}");
            if let Some(node) = nodes.queue_call(&id, n).await {
                if killed.is_some() && served_again.is_none() {
                    assert_ne!(node, leader, "a killed node answered");
                    served_again = Some(Instant::now());
                }
                acked.push((id, Instant::now(), node));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (killed, served_again) = (killed.unwrap(), served_again.unwrap());
        let new_leader = nodes.leader().await.expect("a leader after the kill");
        eprintln!(
            "failover: a standby took calls {} ms after the leader was killed (lease 2 s)",
            served_again.duration_since(killed).as_millis()
        );

        // Agents are in their states on the new leader.
        let mut agents = AgentsClient::new(lazy(&new_leader));
        let get = |id: &str| pb::GetAgentRequest {
            agent_id: id.into(),
        };
        let ann = agents.get_agent(get("ann")).await.unwrap().into_inner();
        let bo = agents.get_agent(get("bo")).await.unwrap().into_inner();
        let cy = agents.get_agent(get("cy")).await.unwrap().into_inner();
        assert_eq!(
            (ann.state(), ann.call_ids.as_slice()),
            (pb::AgentState::Reserved, ["first".to_owned()].as_slice())
        );
        assert_eq!(
            (bo.state(), bo.reason.as_str()),
            (pb::AgentState::NotReady, "lunch")
        );
        assert_eq!(
            (cy.state(), cy.call_ids.as_slice()),
            (pb::AgentState::OnCall, ["second".to_owned()].as_slice())
        );

        // Every call acknowledged before the durability bound waits, in the order it was
        // acknowledged, each once; those after the takeover follow them.
        let back = waiting(&new_leader).await;
        let before: Vec<&str> = acked
            .iter()
            .filter(|(_, at, _)| *at < killed)
            .map(|(id, ..)| id.as_str())
            .collect();
        let must = acked
            .iter()
            .filter(|(_, at, _)| killed.duration_since(*at) > DURABLE_WITHIN && *at < killed)
            .count();
        let after: Vec<&str> = acked
            .iter()
            .filter(|(_, at, _)| *at > killed)
            .map(|(id, ..)| id.as_str())
            .collect();
        let kept = back.len() - after.len();
        assert!(
            kept >= must,
            "{kept} calls from before the kill are back; {must} had to be"
        );
        assert_eq!(
            &back[..kept],
            &before[..kept],
            "the calls from before, in order"
        );
        assert_eq!(
            &back[kept..],
            after.as_slice(),
            "then the calls after the takeover"
        );
        eprintln!(
            "{} calls acknowledged before the kill, {kept} back ({must} had to be), {} after",
            before.len(),
            after.len()
        );

        // The switch, back on the new leader, got Ann's offer again: the same call.
        let until = Instant::now() + Duration::from_secs(10);
        while !seen
            .lock()
            .unwrap()
            .iter()
            .any(|(node, a)| *node == new_leader && a.agent_id == "ann")
        {
            assert!(Instant::now() < until, "Ann's offer was not sent again");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let offers = offers_by_agent(&seen);
        assert_eq!(offers.get("ann").map(String::as_str), Some("first"));
        // Reports read the shared store on connections of their own.
        let mut admin = AdminClient::new(lazy(&new_leader));
        let report = admin
            .get_standards_report(pb::GetStandardsReportRequest { window: None })
            .await
            .expect("the standards report reads the shared store")
            .into_inner();
        assert_eq!(report.source, "call records");
        assert!(!report.tiers.is_empty(), "{report:?}");
        admin
            .list_audit(pb::ListAuditRequest {
                since: None,
                limit: 10,
            })
            .await
            .expect("the audit trail reads the shared store");
        watcher.abort();
    });
}

#[test]
fn a_leader_paused_past_its_lease_is_fenced_steps_down_by_itself_and_no_agent_holds_two_calls() {
    let pg = PgServer::start();
    let config = config(&pg, "failover_stop", "50ms");
    let (mut servers, nodes) = start_three(&config);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let leader = nodes.wait_for_leader(Duration::from_secs(10)).await;
        let paused = servers.iter().position(|s| s.address == leader).unwrap();
        let pid = servers[paused].pid();
        let seen: Seen = Arc::default();
        let watcher = watch(&nodes, &seen);
        let mut agents = AgentsClient::new(lazy(&leader));
        for id in ["a1", "a2", "a3"] {
            agents.set_agent_state(agent(id, pb::AgentState::Available)).await.unwrap();
        }
        for n in 0..6 {
            assert!(nodes.queue_call(&format!("early-{n}"), n).await.is_some());
        }
        // The three offers go out once the journal holds them.
        let until = Instant::now() + Duration::from_secs(10);
        while offers_by_agent(&seen).len() < 3 {
            assert!(Instant::now() < until, "the first three offers never went out");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The calls still waiting are durable past this bound (a pause is no excuse to
        // lose what was acknowledged long enough before).
        tokio::time::sleep(DURABLE_WITHIN).await;
        // Paused for twice the lease: a standby takes over meanwhile.
        servers[paused].signal("STOP");
        let stopped = Instant::now();
        let new_leader = loop {
            if let Some(a) = nodes.leader().await.filter(|a| *a != leader) {
                break a;
            }
            assert!(stopped.elapsed() < Duration::from_secs(15), "no standby took over");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        eprintln!(
            "a standby led {} ms after the leader was paused (lease 2 s)",
            stopped.elapsed().as_millis()
        );
        // Work goes on at the new leader: a new agent takes a waiting call, more calls.
        let mut agents = AgentsClient::new(lazy(&new_leader));
        agents.set_agent_state(agent("a4", pb::AgentState::Available)).await.unwrap();
        for n in 0..4 {
            let node = nodes.queue_call(&format!("later-{n}"), 100 + n).await;
            assert_eq!(node.as_ref(), Some(&new_leader));
        }
        std::thread::sleep(Duration::from_secs(4).saturating_sub(stopped.elapsed()));
        servers[paused].signal("CONT");
        // The old leader finds it lost the lease and starts over as a standby, in the
        // same process, on a new port (it was started on port 0).
        let until = Instant::now() + Duration::from_secs(20);
        let mut stepped_down = false;
        let mut again = None;
        while again.is_none() {
            let Ok(line) = servers[paused].log.recv_timeout(Duration::from_millis(100)) else {
                if Instant::now() > until {
                    let threads = std::process::Command::new("sh")
                        .arg("-c")
                        .arg(format!(
                            "for t in /proc/{pid}/task/*; do echo \"$(cat $t/comm) $(cat $t/wchan) $(cut -d' ' -f3 $t/stat) $(cat $t/syscall)\"; done; gdb -batch -ex 'thread apply all bt 12' -p {pid} 2>&1 | grep -E '^#|^Thread' | head -40"
                        ))
                        .output()
                        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                        .unwrap_or_default();
                    let sessions = pg.psql(
                        "failover_stop",
                        "SELECT pid, application_name, state, wait_event_type, wait_event, left(query, 80) FROM pg_stat_activity WHERE datname IS NOT NULL",
                    );
                    let status = servers[paused].child.try_wait();
                    panic!("the old leader did not start over ({status:?}); its threads:\n{threads}\nsessions:\n{sessions}");
                }
                continue;
            };
            eprintln!("old leader: {line}");
            if line.contains("no longer leading") {
                stepped_down = true;
            }
            if stepped_down && line.contains("switchboard serving gRPC") {
                again = line
                    .split("address=")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .map(str::to_owned);
            }
        }
        let again = again.unwrap();
        assert_eq!(servers[paused].pid(), pid);
        assert!(servers[paused].child.try_wait().unwrap().is_none(), "it is still running");
        // Standing by: once it has read the lease, it names the new leader.
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let node = AdminClient::new(lazy(&again))
                .get_node(pb::GetNodeRequest {})
                .await
                .unwrap()
                .into_inner();
            assert!(!node.leading, "{node:?}");
            if !node.leader_address.is_empty() {
                assert_eq!(node.leader_address, new_leader);
                break;
            }
            assert!(Instant::now() < until, "the standby never named the leader");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Asked for work, it names the leader.
        let refused = RoutingClient::new(lazy(&again))
            .route_call(route("to-standby", 7))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unavailable);
        assert!(refused.message().contains(&new_leader), "{}", refused.message());
        assert_eq!(
            refused.metadata().get("switchboard-leader").and_then(|v| v.to_str().ok()),
            Some(new_leader.as_str())
        );
        // Whatever the switch was sent, by either leader, no agent holds two calls.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let offers = offers_by_agent(&seen);
        let expected: BTreeMap<String, String> = [
            ("a1", "early-0"),
            ("a2", "early-1"),
            ("a3", "early-2"),
            ("a4", "early-3"),
        ]
        .into_iter()
        .map(|(a, c)| (a.to_owned(), c.to_owned()))
        .collect();
        assert_eq!(offers, expected);
        // The new leader still has every agent on the call it was first offered.
        for (id, call) in &offers {
            let a = agents
                .get_agent(pb::GetAgentRequest { agent_id: id.clone() })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(a.call_ids, std::slice::from_ref(call), "{id}");
        }
        watcher.abort();
    });
}

#[test]
fn a_standby_answers_a_sip_invite_with_503_and_retry_after_while_the_leader_redirects_it() {
    let pg = PgServer::start();
    let config = config(&pg, "failover_sip", "50ms");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "\n[sip]\nlisten_udp = \"127.0.0.1:0\"\nivr_uri = \"sip:ivr-{menu}@media.example\"\n\
         hold_uri = \"sip:hold-{queue}@media.example\"\n\n[[sip.peers]]\naddress = \"127.0.0.1\"\n\
         switch_id = \"kamailio-1\"\n",
    );
    std::fs::write(&config, text).unwrap();
    let udp_of = |log: &[String]| {
        log.iter()
            .find_map(|l| l.split("udp=").nth(1))
            .and_then(|r| r.split_whitespace().next())
            .map(|a| a.trim_matches('"').to_owned())
            .expect("the SIP listener's address in the log")
    };
    let (leader, leader_log) = support::serve(&config);
    let (_standby, standby_log) = support::serve(&config);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let nodes = Nodes {
        addresses: Arc::new(Mutex::new(vec![leader.address.clone()])),
    };
    rt.block_on(nodes.wait_for_leader(Duration::from_secs(10)));
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let local = socket.local_addr().unwrap();
    let answer = |to: &str, branch: &str| {
        let invite = format!(
            "INVITE sip:+18005550100@switchboard SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK-{branch}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:+19075550001@carrier.example>;tag=f-{branch}\r\n\
             To: <sip:+18005550100@switchboard>\r\n\
             Call-ID: sip-{branch}\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:caller@{local}>\r\n\
             Content-Length: 0\r\n\r\n"
        );
        socket.send_to(invite.as_bytes(), to).unwrap();
        let mut buf = [0u8; 4096];
        let (n, _) = socket.recv_from(&mut buf).expect("an answer");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let refused = answer(&udp_of(&standby_log), "standby");
    assert!(refused.starts_with("SIP/2.0 503"), "{refused}");
    assert!(refused.contains("Retry-After:"), "{refused}");
    assert!(
        refused.contains("standby of routing domain default"),
        "{refused}"
    );
    let redirected = answer(&udp_of(&leader_log), "leader");
    assert!(redirected.starts_with("SIP/2.0 302"), "{redirected}");
}

/// `GET /metrics` from `address`: the body (as sent, chunked or not).
fn metrics(address: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    raw
}

/// `switchboard status --server http://ADDRESS`: its exit code and what it printed.
fn status(address: &str) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["status", "--server", &format!("http://{address}")])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn status_and_metrics_say_who_leads_and_a_leader_stopped_with_sigterm_hands_over_before_its_lease_ends()
 {
    let pg = PgServer::start();
    // A lease far longer than the test waits: a standby leads early only if it is given up.
    let config = config_with_lease(&pg, "failover_term", "50ms", "60s");
    let (mut leader, leader_metrics, _) = support::serve_with_metrics(&config);
    let (standby, standby_metrics, _) = support::serve_with_metrics(&config);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let nodes = Nodes {
        addresses: Arc::new(Mutex::new(vec![leader.address.clone()])),
    };
    rt.block_on(nodes.wait_for_leader(Duration::from_secs(10)));
    // The standby names the leader once it has read the lease.
    let until = Instant::now() + Duration::from_secs(10);
    let said = loop {
        let (code, out) = status(&standby.address);
        assert_eq!(code, 0, "{out}");
        if out.contains("the leader is") {
            break out;
        }
        assert!(
            Instant::now() < until,
            "the standby never named the leader: {out}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        said.contains("standby of routing domain default")
            && said.contains(&format!("at {} (epoch 1", leader.address))
            && said.contains("lag "),
        "{said}"
    );
    assert_eq!(said.lines().count(), 1, "a standby shows no floor: {said}");
    let (code, said) = status(&leader.address);
    assert_eq!(code, 0, "{said}");
    assert!(
        said.lines()
            .next()
            .unwrap()
            .contains("leader of routing domain default, epoch 1"),
        "{said}"
    );
    assert!(said.contains("queue"), "the leader's floor follows: {said}");
    let scraped = metrics(&leader_metrics);
    assert!(scraped.contains("switchboard_lease_leading 1"), "{scraped}");
    assert!(scraped.contains("switchboard_lease_epoch 1"), "{scraped}");
    assert!(
        scraped.contains("switchboard_lease_takeovers_total 1"),
        "{scraped}"
    );
    let scraped = metrics(&standby_metrics);
    assert!(scraped.contains("switchboard_lease_leading 0"), "{scraped}");
    assert!(
        scraped.contains("switchboard_replay_lag_seconds"),
        "{scraped}"
    );
    // SIGTERM: the leader writes what it holds and gives the lease up, so the standby
    // leads long before the 60 s lease would have run out.
    leader.signal("TERM");
    assert!(
        leader.exit_within(Duration::from_secs(30)).is_some(),
        "the leader did not stop"
    );
    assert!(
        leader
            .rest_of_log()
            .iter()
            .any(|l| l.contains("lease given up")),
        "the leader did not say it gave the lease up"
    );
    nodes.addresses.lock().unwrap()[0] = standby.address.clone();
    rt.block_on(nodes.wait_for_leader(Duration::from_secs(20)));
    let scraped = metrics(&standby_metrics);
    assert!(scraped.contains("switchboard_lease_leading 1"), "{scraped}");
    assert!(scraped.contains("switchboard_lease_epoch 2"), "{scraped}");
}

#[test]
fn when_the_database_goes_away_past_the_lease_no_node_leads_and_once_it_is_back_one_does_with_every_call()
 {
    let mut pg = PgServer::start();
    let config = config(&pg, "failover_outage", "50ms");
    let (mut first, _) = support::serve(&config);
    let (second, _) = support::serve(&config);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let nodes = Nodes {
        addresses: Arc::new(Mutex::new(vec![
            first.address.clone(),
            second.address.clone(),
        ])),
    };
    let leader = rt.block_on(nodes.wait_for_leader(Duration::from_secs(10)));
    assert_eq!(leader, first.address);
    let queued: Vec<String> = (0..20).map(|n| format!("before-{n:02}")).collect();
    rt.block_on(async {
        for (n, id) in queued.iter().enumerate() {
            assert_eq!(nodes.queue_call(id, n).await.as_ref(), Some(&leader));
        }
    });
    std::thread::sleep(DURABLE_WITHIN);
    // The database is gone for 6 s, three times the lease.
    let outage = std::thread::spawn(move || {
        pg.stop_for(Duration::from_secs(6));
        pg
    });
    std::thread::sleep(Duration::from_secs(4));
    // Past the lease nobody leads: the leader could not renew and stopped by itself.
    assert_eq!(
        rt.block_on(nodes.leader()),
        None,
        "a node led without its lease"
    );
    let pg = outage.join().unwrap();
    // The database is back: a node leads again, with every call queued before.
    let leader = rt.block_on(async {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(a) = nodes.leader().await {
                return a;
            }
            if Instant::now() > until {
                let mut lines = Vec::new();
                while let Ok(l) = second.log.try_recv() {
                    lines.push(l);
                }
                panic!("no node led again; the standby logged: {lines:#?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let back = rt.block_on(waiting(&leader));
    assert_eq!(back, queued, "the calls from before the outage, in order");
    // The old leader started over without its database, which failed: it exited for the
    // service manager to start it again (74), or came back as a standby.
    match first.exit_within(Duration::from_millis(100)) {
        Some(status) => assert_eq!(status.code(), Some(74), "{status:?}"),
        None => assert_ne!(leader, first.address, "the old leader stayed on"),
    }
    drop(pg);
}
