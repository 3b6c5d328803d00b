//! The real server under load over HTTP/2 on 127.0.0.1, measured against the floor: the
//! same harness driving an empty tonic service.
//!
//! `cargo bench --bench grpc_load` (`-- --quick` for one short round)
//!
//! Two parts:
//! - **RouteCall** at concurrency 1, 16 and 64 (each client its own connection, one
//!   request in flight): requests per second and p50/p99/p99.9 latency, for the real
//!   server (shipped config, sample customers, store on in a temporary folder), the
//!   real server with the store off, and an empty service that answers every RouteCall
//!   with the decision the real server gave that caller, so requests and responses are
//!   the same size. The servers run in this process; the clients in a separate one (this
//!   binary again, with `--client`), so the servers' CPU is their own, and it is printed
//!   per request. Windows rotate between the three; medians of the rounds and the ratios
//!   to the empty service are printed. Budgets: at least 85% of the empty one's
//!   throughput at concurrency 64 (issue 6); at least 90% at 1, 16 and 64 with the store
//!   on (issue 19). For profiling, `--empty REAL_ADDRESS` runs the empty service alone
//!   (answering as the daemon at that address does) and `--client` drives either.
//! - **A mixed floor**: 500 callers a second arrive (RouteCall, then menu answers for
//!   those sent to a menu) for 50 agents, who answer (CONNECTED), talk 20-180 ms, hang
//!   up (ENDED) and say ready again (SetAgentState AVAILABLE) after a pause, with a
//!   switch watching its assignment stream: a little more work than the agents can
//!   take, so a queue builds. Assignment latency is from the later of "the call was
//!   queued" and "the agent said ready" (as the client sent it) to the assignment
//!   arriving on the stream.

use std::{
    collections::HashMap,
    path::Path,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use switchboard_config::DEFAULT_CONFIG;
use switchboard_proto::v1::{
    self as pb,
    agents_client::AgentsClient,
    routing_client::RoutingClient,
    routing_server::{Routing, RoutingServer},
};
use switchboard_server::{App, CustomerSource, SystemClock};
use tokio::net::TcpListener;
use tokio_stream::{Stream, StreamExt};
use tonic::{
    Request, Response, Status,
    transport::{Channel, server::TcpIncoming},
};

/// The daemon's allocator, so figures are the daemon's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MAIN_LINE: &str = "+18005550100";
const PLATINUM_LINE: &str = "+18005550199";

/// Callers as the sample customers and strangers come: a known number four times in
/// five (some skip the menu and queue at once), an unknown one otherwise.
fn caller(n: u64) -> String {
    if n % 5 == 4 {
        format!("+1907555{:04}", n % 10_000)
    } else {
        format!("+121255501{:02}", n % 8 + 1)
    }
}

/// Callers of the mixed floor: one in five a sample customer (each calling about once
/// in the run), the rest strangers, none calling twice. Repeat callers are kept for the
/// agent who served them last (`learning.same_agent_for`), so a few numbers calling
/// again and again would measure that wait instead of the floor.
fn floor_caller(n: u64) -> String {
    if n.is_multiple_of(5) {
        switchboard_benches::synthetic::customer_number((n / 5) % 1_192)
    } else {
        format!("+1303{:07}", 5_550_000 + n % 10_000)
    }
}

/// The distinct callers [`caller`] yields.
fn callers() -> impl Iterator<Item = String> {
    (0..50_000).map(caller)
}

/// The real server; with `dir`, its store in that folder, else with the store off.
async fn start_real(dir: Option<&Path>) -> (App, String) {
    let store = match dir {
        Some(dir) => format!("path = {:?}", dir.join("load.db").display().to_string()),
        None => "enabled = false".to_owned(),
    };
    let text = format!("{DEFAULT_CONFIG}\n[store]\n{store}\n");
    let config = switchboard_config::parse(&text, Path::new("bench.toml")).expect("bench config");
    let (app, _) = App::with_store(config, &CustomerSource::Embedded, Arc::new(SystemClock))
        .expect("server start");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let served = app.clone();
    tokio::spawn(async move {
        switchboard_server::serve(served, listener, std::future::pending())
            .await
            .unwrap();
    });
    (app, address)
}

/// The floor: a Routing service that does no routing, answering each caller with a
/// decision captured from the real server.
#[derive(Debug)]
struct Empty {
    decisions: HashMap<String, pb::Decision>,
}

type NoAssignments = Pin<Box<dyn Stream<Item = Result<pb::Assignment, Status>> + Send>>;

#[tonic::async_trait]
impl Routing for Empty {
    async fn route_call(
        &self,
        request: Request<pb::RouteCallRequest>,
    ) -> Result<Response<pb::Decision>, Status> {
        let req = request.into_inner();
        let mut decision = self
            .decisions
            .get(&req.caller)
            .cloned()
            .ok_or_else(|| Status::not_found("caller not captured"))?;
        decision.call_id = req.call_id;
        Ok(Response::new(decision))
    }

    async fn submit_input(
        &self,
        _: Request<pb::SubmitInputRequest>,
    ) -> Result<Response<pb::Decision>, Status> {
        Err(Status::unimplemented("the empty service routes nothing"))
    }

    async fn report_call_event(
        &self,
        _: Request<pb::CallEvent>,
    ) -> Result<Response<pb::CallEventAck>, Status> {
        Err(Status::unimplemented("the empty service routes nothing"))
    }

    type WatchAssignmentsStream = NoAssignments;

    async fn watch_assignments(
        &self,
        _: Request<pb::WatchAssignmentsRequest>,
    ) -> Result<Response<Self::WatchAssignmentsStream>, Status> {
        Err(Status::unimplemented("the empty service routes nothing"))
    }
}

async fn start_empty(decisions: HashMap<String, pb::Decision>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(RoutingServer::new(Empty { decisions }))
            .serve_with_incoming(TcpIncoming::from(listener).with_nodelay(Some(true)))
            .await
            .unwrap();
    });
    address
}

async fn connect(address: &str) -> Channel {
    Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// The decision the real server gives each caller (on calls made for this).
async fn capture(address: &str) -> HashMap<String, pb::Decision> {
    let mut client = RoutingClient::new(connect(address).await);
    let mut decisions = HashMap::new();
    for (i, caller) in callers().enumerate() {
        if decisions.contains_key(&caller) {
            continue;
        }
        let decision = client
            .route_call(pb::RouteCallRequest {
                call_id: format!("capture-{i}"),
                caller: caller.clone(),
                dialed: MAIN_LINE.into(),
                switch_id: "bench".into(),
                ..Default::default()
            })
            .await
            .expect("RouteCall")
            .into_inner();
        decisions.insert(caller, decision);
    }
    decisions
}

struct Window {
    rps: f64,
    latencies: Vec<Duration>,
    /// This process's CPU time (the servers', not the client's) over the window.
    cpu: Duration,
    requests: usize,
}

/// CPU time this process has used (user and system), from `/proc/self/stat`.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after its ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    // The kernel's clock ticks are 100 a second on Linux.
    Duration::from_millis(ticks * 10)
}

/// `clients` clients, each on its own connection with one RouteCall in flight, for
/// `window`, driven from a separate process (this bench binary run again with
/// `--client`), so the client's work is not the server's and the kernel's loopback
/// carries every request.
async fn drive(address: &str, tag: &str, clients: usize, window: Duration) -> Window {
    let exe = std::env::current_exe().expect("the bench binary");
    let args = [
        "--client".to_owned(),
        address.to_owned(),
        tag.to_owned(),
        clients.to_string(),
        window.as_millis().to_string(),
    ];
    // Waited for on a blocking thread: the servers share this runtime's workers.
    let cpu_before = process_cpu();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(exe)
            .args(args)
            .output()
            .expect("the client process starts")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the client process failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("the client writes text");
    let mut lines = text.lines();
    let rps = lines
        .next()
        .and_then(|l| l.strip_prefix("rps "))
        .and_then(|r| r.parse().ok())
        .expect("the client's first line is its throughput");
    let latencies = lines
        .map(|l| Duration::from_nanos(l.parse().expect("a latency in ns")))
        .collect::<Vec<_>>();
    Window {
        rps,
        requests: latencies.len(),
        latencies,
        cpu: process_cpu().saturating_sub(cpu_before),
    }
}

/// The client process: `--client ADDRESS TAG CLIENTS WINDOW_MS`. Connects, drives the
/// closed loop and prints the throughput (`rps N`), then each latency in ns, a line each.
fn client_process(args: &[String]) {
    let [address, tag, clients, window] = args else {
        panic!("usage: --client ADDRESS TAG CLIENTS WINDOW_MS");
    };
    let clients: usize = clients.parse().expect("CLIENTS is a number");
    let window = Duration::from_millis(window.parse().expect("WINDOW_MS is a number"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (rps, latencies) = rt.block_on(async {
        let mut connected = Vec::new();
        for _ in 0..clients {
            connected.push(RoutingClient::new(connect(address).await));
        }
        let tag = tag.clone();
        switchboard_benches::load::closed_loop(connected, window, move |mut client, c, n| {
            let request = pb::RouteCallRequest {
                call_id: format!("{tag}-{c}-{n}"),
                caller: caller(n),
                dialed: MAIN_LINE.into(),
                switch_id: "bench".into(),
                ..Default::default()
            };
            async move {
                client.route_call(request).await.expect("RouteCall");
                client
            }
        })
        .await
    });
    print_run(rps, &latencies);
}

/// What a client process prints: `rps N`, then each latency in nanoseconds, a line each.
fn print_run(rps: f64, latencies: &[Duration]) {
    let mut out = String::with_capacity(latencies.len() * 8);
    out.push_str(&format!("rps {rps}\n"));
    for l in latencies {
        out.push_str(&l.as_nanos().to_string());
        out.push('\n');
    }
    use std::io::Write;
    std::io::stdout().write_all(out.as_bytes()).unwrap();
}

/// `--sip-client ADDRESS TAG CLIENTS WINDOW_MS`: the same closed loop as `--client`, of
/// SIP calls over UDP to a daemon's redirect server (`[sip]`, this host a peer): each an
/// INVITE from the same mix of callers, its 302, and the ACK. Prints what `--client`
/// prints, a latency being the INVITE out to the ACK out.
fn sip_client_process(args: &[String]) {
    let [address, tag, clients, window] = args else {
        panic!("usage: --sip-client ADDRESS TAG CLIENTS WINDOW_MS");
    };
    let clients: usize = clients.parse().expect("CLIENTS is a number");
    let window = Duration::from_millis(window.parse().expect("WINDOW_MS is a number"));
    let target: std::net::SocketAddr = address.parse().expect("ADDRESS is host:port");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (rps, latencies) = rt.block_on(async {
        let mut sockets = Vec::new();
        for _ in 0..clients {
            let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            socket.connect(target).await.unwrap();
            sockets.push(socket);
        }
        let tag = tag.clone();
        switchboard_benches::load::closed_loop(sockets, window, move |socket, c, n| {
            let local = socket.local_addr().unwrap();
            let call_id = format!("{tag}-{c}-{n}");
            let head = |method: &str| {
                format!(
                    "{method} sip:{MAIN_LINE}@{target} SIP/2.0\r\n\
                     Via: SIP/2.0/UDP {local};branch=z9hG4bK-{call_id}\r\n\
                     From: <sip:{}@carrier.example>;tag={c}-{n}\r\n\
                     To: <sip:{MAIN_LINE}@{target}>\r\n\
                     Call-ID: {call_id}\r\n\
                     CSeq: 1 {method}\r\n\
                     Max-Forwards: 70\r\n\
                     Content-Length: 0\r\n\r\n",
                    caller(n)
                )
            };
            let invite = head("INVITE");
            let ack = head("ACK");
            async move {
                socket.send(invite.as_bytes()).await.unwrap();
                let mut buf = [0u8; 4_096];
                loop {
                    let got = socket.recv(&mut buf).await.unwrap();
                    let answer = std::str::from_utf8(&buf[..got]).unwrap_or_default();
                    // A late copy of an earlier call's 302 is not this call's answer.
                    if answer.contains(call_id.as_str()) {
                        assert!(answer.starts_with("SIP/2.0 302"), "{answer}");
                        break;
                    }
                }
                socket.send(ack.as_bytes()).await.unwrap();
                socket
            }
        })
        .await
    });
    print_run(rps, &latencies);
}

/// `--empty REAL_ADDRESS`: the empty service alone, answering with the decisions the
/// real server at that address gives, until killed; prints its address. For profiling
/// it beside a daemon under the same `--client` load.
fn empty_process(args: &[String]) {
    let [real] = args else {
        panic!("usage: --empty REAL_ADDRESS");
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let address = start_empty(capture(real).await).await;
        println!("{address}");
        std::future::pending::<()>().await;
    });
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// One service's figures at one concurrency: median throughput over the rounds, and
/// latency percentiles over every request of every round.
struct Figures {
    rps: f64,
    /// Server CPU per request, over all rounds.
    cpu: Duration,
    p50: Duration,
    p99: Duration,
    p999: Duration,
}

fn figures(windows: Vec<Window>) -> Figures {
    let mut rps: Vec<f64> = windows.iter().map(|w| w.rps).collect();
    let cpu: Duration = windows.iter().map(|w| w.cpu).sum();
    let requests: usize = windows.iter().map(|w| w.requests).sum();
    let mut all: Vec<Duration> = windows.into_iter().flat_map(|w| w.latencies).collect();
    all.sort_unstable();
    Figures {
        rps: median(&mut rps),
        cpu: cpu / u32::try_from(requests.max(1)).unwrap_or(u32::MAX),
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        p999: percentile(&all, 0.999),
    }
}

/// Drives each service in turn at each concurrency: `services` are (name, address),
/// the empty service last. Prints each one's figures and its throughput beside the
/// empty service's.
async fn route_call_load(services: &[(&str, &str)], rounds: usize, window: Duration) {
    println!("RouteCall, {rounds} round(s) of {window:?} per service and concurrency:");
    println!(
        "{:>4} {:>9} {:>10} {:>9} {:>9} {:>9} {:>11}",
        "c", "service", "req/s", "p50 us", "p99 us", "p99.9 us", "cpu us/req"
    );
    for clients in [1, 16, 64] {
        for (_, address) in services {
            drive(address, &format!("warm-{clients}"), clients, window / 4).await;
        }
        let mut windows: Vec<Vec<Window>> = services.iter().map(|_| Vec::new()).collect();
        for round in 0..rounds {
            // Each round starts with a different service, so none always runs first.
            for k in 0..services.len() {
                let i = (round + k) % services.len();
                let tag = format!("c{clients}-r{round}");
                windows[i].push(drive(services[i].1, &tag, clients, window).await);
            }
        }
        let figs: Vec<Figures> = windows.into_iter().map(figures).collect();
        let empty = figs.last().expect("the empty service").rps;
        for ((name, _), f) in services.iter().zip(&figs) {
            println!(
                "{clients:>4} {name:>9} {:>10.0} {:>9.1} {:>9.1} {:>9.1} {:>11.1}",
                f.rps,
                us(f.p50),
                us(f.p99),
                us(f.p999),
                us(f.cpu)
            );
        }
        let empty_p99 = figs.last().expect("the empty service").p99;
        for ((name, _), f) in services.iter().zip(&figs).take(services.len() - 1) {
            let budget = match (*name, clients) {
                ("real", _) => format!(
                    " (budget: at least 0.90); p99 {:.2}x the empty service's (budget: at most 1.5x)",
                    f.p99.as_secs_f64() / empty_p99.as_secs_f64()
                ),
                (_, 64) => " (budget at concurrency 64: at least 0.85)".to_owned(),
                _ => String::new(),
            };
            println!(
                "{clients:>4} {name}/empty throughput {:.3}{budget}",
                f.rps / empty
            );
        }
    }
}

/// When each call was queued and each agent said ready, as the clients sent them.
#[derive(Default)]
struct Marks {
    queued: HashMap<String, Instant>,
    ready: HashMap<String, Instant>,
}

/// Agents on the mixed floor: each call takes about 110 ms of an agent (talk and the
/// pause before ready), so 50 agents serve about 455 calls a second against 500
/// arriving: a surge, in which a queue builds and agents saying ready find calls
/// waiting.
const AGENTS: usize = 50;

async fn mixed_floor(address: &str, window: Duration) {
    let channel = connect(address).await;
    let marks = Arc::new(Mutex::new(Marks::default()));
    let mut agents = AgentsClient::new(channel.clone());
    for a in 0..AGENTS {
        let id = format!("mix-{a}");
        marks
            .lock()
            .unwrap()
            .ready
            .insert(id.clone(), Instant::now());
        agents
            .set_agent_state(pb::SetAgentStateRequest {
                agent_id: id.clone(),
                state: pb::AgentState::Available.into(),
                skills: ["general", "technical", "billing", "platinum", "concierge"]
                    .iter()
                    .map(|s| pb::Skill {
                        name: (*s).into(),
                        proficiency: 6,
                    })
                    .collect(),
                endpoint: format!("sip:{id}@pbx"),
                ..Default::default()
            })
            .await
            .expect("log in");
    }
    let mut stream = RoutingClient::new(channel.clone())
        .watch_assignments(pb::WatchAssignmentsRequest {
            switch_id: "mix".into(),
        })
        .await
        .expect("WatchAssignments")
        .into_inner();
    let latencies = Arc::new(Mutex::new((Vec::new(), Vec::new())));
    let served = Arc::new(AtomicU64::new(0));

    // The switch: each assignment is answered, talked through, ended, and the agent
    // says ready again after a pause.
    let switch = {
        let (marks, latencies, served, channel) = (
            Arc::clone(&marks),
            Arc::clone(&latencies),
            Arc::clone(&served),
            channel.clone(),
        );
        tokio::spawn(async move {
            let mut n = 0u64;
            // The calls in progress: aborted with the switch when the floor closes, so
            // none is cut off mid-request by the runtime shutting down.
            let mut calls = tokio::task::JoinSet::new();
            while let Some(Ok(assignment)) = stream.next().await {
                while let Some(done) = calls.try_join_next() {
                    done.expect("a call's events went through");
                }
                let arrived = Instant::now();
                {
                    let mut m = marks.lock().unwrap();
                    let queued = m.queued.remove(&assignment.call_id);
                    let ready = m.ready.remove(&assignment.agent_id);
                    if let (Some(q), Some(r)) = (queued, ready) {
                        let mut l = latencies.lock().unwrap();
                        // Which event made the assignment possible: the later one.
                        if q >= r {
                            l.0.push(arrived - q);
                        } else {
                            l.1.push(arrived - r);
                        }
                    }
                }
                served.fetch_add(1, Relaxed);
                n += 1;
                let (marks, channel) = (Arc::clone(&marks), channel.clone());
                // Talk for 20 to 180 ms, then 0 to 15 ms of wrap-up before ready.
                let talk = Duration::from_millis(20 + (n * 37) % 160);
                let pause = Duration::from_millis((n * 13) % 16);
                calls.spawn(async move {
                    let mut routing = RoutingClient::new(channel.clone());
                    let event = |kind: pb::CallEventKind| pb::CallEvent {
                        call_id: assignment.call_id.clone(),
                        kind: kind.into(),
                        agent_id: assignment.agent_id.clone(),
                        resolved: true,
                        ..Default::default()
                    };
                    routing
                        .report_call_event(event(pb::CallEventKind::Connected))
                        .await
                        .expect("CONNECTED");
                    tokio::time::sleep(talk).await;
                    routing
                        .report_call_event(event(pb::CallEventKind::Ended))
                        .await
                        .expect("ENDED");
                    tokio::time::sleep(pause).await;
                    marks
                        .lock()
                        .unwrap()
                        .ready
                        .insert(assignment.agent_id.clone(), Instant::now());
                    AgentsClient::new(channel)
                        .set_agent_state(pb::SetAgentStateRequest {
                            agent_id: assignment.agent_id.clone(),
                            state: pb::AgentState::Available.into(),
                            ..Default::default()
                        })
                        .await
                        .expect("ready");
                });
            }
        })
    };

    // Arrivals: one every 2 ms (500 calls a second), a quarter on the platinum line,
    // the rest through the main menu.
    let started = Instant::now();
    let mut arrivals = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(2));
    let mut n = 0u64;
    while started.elapsed() < window {
        tick.tick().await;
        n += 1;
        let (marks, channel) = (Arc::clone(&marks), channel.clone());
        arrivals.push(tokio::spawn(async move {
            let mut routing = RoutingClient::new(channel);
            let call_id = format!("mix-call-{n}");
            let dialed = if n.is_multiple_of(4) {
                PLATINUM_LINE
            } else {
                MAIN_LINE
            };
            let sent = Instant::now();
            marks.lock().unwrap().queued.insert(call_id.clone(), sent);
            let decision = routing
                .route_call(pb::RouteCallRequest {
                    call_id: call_id.clone(),
                    caller: floor_caller(n),
                    dialed: dialed.into(),
                    switch_id: "mix".into(),
                    ..Default::default()
                })
                .await
                .expect("RouteCall")
                .into_inner();
            // Through the menus (a second one may follow the first) to a queue.
            let mut decision = decision;
            let mut answers = ["1", "2", "3", "0"][(n % 4) as usize..].iter().cycle();
            while matches!(decision.action, Some(pb::decision::Action::PlayMenu(_))) {
                let sent = Instant::now();
                marks.lock().unwrap().queued.insert(call_id.clone(), sent);
                decision = routing
                    .submit_input(pb::SubmitInputRequest {
                        call_id: call_id.clone(),
                        input: Some(pb::submit_input_request::Input::Digits(
                            (*answers.next().unwrap()).into(),
                        )),
                    })
                    .await
                    .expect("SubmitInput")
                    .into_inner();
            }
        }));
    }
    for a in arrivals {
        a.await.unwrap();
    }
    // Let the last calls drain.
    tokio::time::sleep(Duration::from_millis(500)).await;
    switch.abort();
    let (mut at_arrival, mut at_ready) = std::mem::take(&mut *latencies.lock().unwrap());
    at_arrival.sort_unstable();
    at_ready.sort_unstable();
    println!(
        "mixed floor: {n} calls in {window:?}, {AGENTS} agents, {} assignments",
        served.load(Relaxed)
    );
    for (what, l) in [
        ("a call arriving to an idle agent", &at_arrival),
        ("an agent saying ready to a waiting call", &at_ready),
    ] {
        println!(
            "  assignment latency after {what}: {} samples, p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us",
            l.len(),
            us(percentile(l, 0.50)),
            us(percentile(l, 0.99)),
            us(percentile(l, 0.999))
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; without it (`cargo test --benches`) one quick round
    // checks that the bench runs.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--client") {
        client_process(&args[2..]);
        return;
    }
    if args.get(1).map(String::as_str) == Some("--sip-client") {
        sip_client_process(&args[2..]);
        return;
    }
    if args.get(1).map(String::as_str) == Some("--empty") {
        empty_process(&args[2..]);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let (rounds, window, floor) = if quick {
        (1, Duration::from_millis(400), Duration::from_secs(1))
    } else {
        (5, Duration::from_secs(3), Duration::from_secs(10))
    };
    let dir = std::env::temp_dir().join(format!("switchboard-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (_app, real) = start_real(Some(&dir)).await;
        let (_bare, no_store) = start_real(None).await;
        let empty = start_empty(capture(&real).await).await;
        route_call_load(
            &[("real", &real), ("no-store", &no_store), ("empty", &empty)],
            rounds,
            window,
        )
        .await;
        let (_floor_app, floor_address) = start_real(Some(&dir.join("floor"))).await;
        mixed_floor(&floor_address, floor).await;
    });
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
}
