//! How long the store can fail before the changes kept for it put memory at risk.
//!
//! A real server (shipped config, sample customers, store on) takes whole calls over
//! gRPC while SQLite refuses every write (triggers another connection adds): a new caller
//! routed, pressing 0, offered to one of 20 agents, connected, ended, the agent ready
//! again. The bytes the backlog holds per call by the writer's count, and so how long
//! `store.max_pending` (256 MiB by default) lasts at a given call rate, are printed;
//! then the store is healed, and the time to write the whole backlog and the heap bytes
//! that gives back (what the backlog really held) are measured.
//!
//! `cargo bench --bench outage` (`-- --quick` for a short run)

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use switchboard_benches::memory::{LiveBytes, live_bytes};
use switchboard_config::DEFAULT_CONFIG;
use switchboard_proto::v1::{
    self as pb, agents_client::AgentsClient, routing_client::RoutingClient,
};
use switchboard_server::{App, CustomerSource, SystemClock};
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

#[global_allocator]
static GLOBAL: LiveBytes = LiveBytes;

const AGENTS: usize = 20;
const TABLES: [&str; 5] = [
    "live_calls",
    "live_agents",
    "customers",
    "call_records",
    "learned",
];

fn agent(id: &str) -> pb::SetAgentStateRequest {
    pb::SetAgentStateRequest {
        agent_id: id.into(),
        state: pb::AgentState::Available.into(),
        skills: vec![pb::Skill {
            name: "general".into(),
            proficiency: 5,
        }],
        endpoint: format!("sip:{id}@pbx"),
        ..Default::default()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let calls: usize = if quick { 300 } else { 10_000 };
    let dir = std::env::temp_dir().join(format!("switchboard-outage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = dir.join("s.db");
    let text = format!(
        "{DEFAULT_CONFIG}\n[store]\npath = {:?}\nmax_pending = \"1024GiB\"\n",
        store.display().to_string()
    );
    let config = switchboard_config::parse(&text, Path::new("bench.toml")).expect("config");
    let (app, _) = App::with_store(config, &CustomerSource::Embedded, Arc::new(SystemClock))
        .expect("server start");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let served = app.clone();
        tokio::spawn(async move {
            switchboard_server::serve(served, listener, std::future::pending())
                .await
                .unwrap()
        });
        let channel = Channel::from_shared(format!("http://{address}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut routing = RoutingClient::new(channel.clone());
        let mut agents = AgentsClient::new(channel);
        let mut stream = routing
            .watch_assignments(pb::WatchAssignmentsRequest {
                switch_id: "bench".into(),
            })
            .await
            .unwrap()
            .into_inner();
        for a in 0..AGENTS {
            agents.set_agent_state(agent(&format!("a{a}"))).await.unwrap();
        }
        app.flush_store().unwrap();

        let other = rusqlite::Connection::open(&store).unwrap();
        for table in TABLES {
            other
                .execute_batch(&format!(
                    "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table}
                     BEGIN SELECT RAISE(ABORT, 'injected'); END;"
                ))
                .unwrap();
        }
        let started = Instant::now();
        whole_calls(&mut routing, &mut agents, &mut stream, 0, calls).await;
        let took = started.elapsed();
        // Let the writer fold in what is still on its way.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stats = app_stats(&app);
        assert!(!stats.0, "the store was meant to be failing");
        let (pending, bytes) = (stats.1, stats.2);
        let per_call = bytes as f64 / calls as f64;
        println!(
            "store failing: {calls} whole calls in {took:.1?} left {pending} changes waiting, {bytes} bytes by the writer's count: {per_call:.0} bytes a call"
        );
        for rate in [50.0, 200.0, 500.0] {
            let minutes = (256u64 << 20) as f64 / (per_call * rate) / 60.0;
            println!(
                "  at {rate:>3.0} calls/s the default store.max_pending (256 MiB) lasts {minutes:.0} minutes"
            );
        }
        for table in TABLES {
            other
                .execute_batch(&format!("DROP TRIGGER refuse_{table}"))
                .unwrap();
        }
        let held = live_bytes();
        let healed = Instant::now();
        let app2 = app.clone();
        tokio::task::spawn_blocking(move || {
            while app2.flush_store().is_err() {
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .await
        .unwrap();
        let written = healed.elapsed();
        // What writing the backlog gave back is what it held (the calls themselves stay
        // in memory until calls.forget_after either way).
        let freed = held - live_bytes();
        println!(
            "store healed: the backlog written {written:.1?} after (retries wait up to 5 s); the heap gave back {freed} bytes, {:.0} a call",
            freed as f64 / calls as f64
        );
    });
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
}

/// (up, pending changes, pending bytes) of the server's store, read through its metrics'
/// source: the writer's own figures.
fn app_stats(app: &App) -> (bool, u64, u64) {
    let s = app.store_stats().expect("a store");
    (s.is_up(), s.pending(), s.pending_bytes())
}

/// `count` whole calls from new callers numbered from `first`: routed, pressing 0,
/// offered, connected, ended, and the agent ready again.
async fn whole_calls(
    routing: &mut RoutingClient<Channel>,
    agents: &mut AgentsClient<Channel>,
    stream: &mut tonic::Streaming<pb::Assignment>,
    first: usize,
    count: usize,
) {
    for n in first..first + count {
        let id = format!("c{n}");
        routing
            .route_call(pb::RouteCallRequest {
                call_id: id.clone(),
                // Valid North American numbers (exchanges start 2-9), each new.
                caller: format!("+1907{:07}", 2_000_000 + n),
                dialed: "+18005550100".into(),
                switch_id: "bench".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        routing
            .submit_input(pb::SubmitInputRequest {
                call_id: id.clone(),
                input: Some(pb::submit_input_request::Input::Digits("0".into())),
            })
            .await
            .unwrap();
        let offer = stream.next().await.unwrap().unwrap();
        for kind in [pb::CallEventKind::Connected, pb::CallEventKind::Ended] {
            routing
                .report_call_event(pb::CallEvent {
                    call_id: id.clone(),
                    kind: kind.into(),
                    agent_id: offer.agent_id.clone(),
                    resolved: true,
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        agents
            .set_agent_state(pb::SetAgentStateRequest {
                agent_id: offer.agent_id,
                state: pb::AgentState::Available.into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
}
