//! What the live floor feed costs the route path.
//!
//! `cargo bench --bench live_feed` (`-- --quick` for a short look)
//!
//! Two real servers on the shipped config (store off), each with its metrics port: one
//! nobody watches, and one with 20 wallboards (Server-Sent Events from `/floor/events`)
//! and 5 `Admin.WatchFloor` streams connected the whole time, reading everything they
//! are sent. RouteCall closed-loop clients (one request in flight each, on their own
//! connections) alternate windows between the two, at concurrency 1 and 16; the medians
//! of the rounds and the watched server's throughput as a share of the unwatched one's
//! are printed. One caller in four is a known customer who skips the menu and waits in a
//! queue nobody staffs, and hangs up 200 requests later, so queue rows change every
//! second (a few dozen calls wait per client) and the feed has work to do.
//! Budget: the feed slows routing by at most 5%.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};

use switchboard_config::DEFAULT_CONFIG;
use switchboard_proto::v1::{self as pb, admin_client::AdminClient, routing_client::RoutingClient};
use switchboard_server::{App, CustomerSource, SystemClock};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};
use tonic::transport::Channel;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MAIN_LINE: &str = "+18005550100";
const WALLBOARDS: usize = 20;
const FLOOR_WATCHERS: usize = 5;

/// A server and its metrics port: (gRPC address, HTTP address).
async fn start() -> (String, String) {
    let config = switchboard_config::parse(DEFAULT_CONFIG, std::path::Path::new("bench.toml"))
        .expect("the shipped config");
    let (app, _) = App::new(config, &CustomerSource::Embedded, Arc::new(SystemClock)).unwrap();
    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addresses = (
        grpc.local_addr().unwrap().to_string(),
        http.local_addr().unwrap().to_string(),
    );
    tokio::spawn(switchboard_server::serve_metrics(
        app.clone(),
        http,
        std::future::pending(),
    ));
    tokio::spawn(switchboard_server::serve(app, grpc, std::future::pending()));
    addresses
}

async fn channel(address: &str) -> Channel {
    Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Connects the wallboards and floor watchers to a server; they read until the process
/// ends. The bytes and events they took, counted.
async fn watch(grpc: &str, http: &str, read: Arc<AtomicU64>) {
    for _ in 0..WALLBOARDS {
        let mut stream = tokio::net::TcpStream::connect(http).await.unwrap();
        stream
            .write_all(b"GET /floor/events HTTP/1.1\r\nHost: bench\r\n\r\n")
            .await
            .unwrap();
        let read = Arc::clone(&read);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                read.fetch_add(n as u64, Relaxed);
            }
        });
    }
    for _ in 0..FLOOR_WATCHERS {
        let mut floor = AdminClient::new(channel(grpc).await)
            .watch_floor(pb::WatchFloorRequest::default())
            .await
            .unwrap()
            .into_inner();
        let read = Arc::clone(&read);
        tokio::spawn(async move {
            while let Ok(Some(e)) = floor.message().await {
                read.fetch_add(prost::Message::encoded_len(&e) as u64, Relaxed);
            }
        });
    }
}

async fn drive(address: &str, tag: &str, clients: usize, window: Duration) -> f64 {
    let mut connected = Vec::new();
    for _ in 0..clients {
        connected.push(RoutingClient::new(channel(address).await));
    }
    let tag = tag.to_owned();
    let (rps, _) =
        switchboard_benches::load::closed_loop(connected, window, move |mut client, c, n| {
            // Tom (+12125550104) skips the menu to the operators' queue; the others hear it.
            let caller = if n % 4 == 0 {
                "+12125550104".to_owned()
            } else {
                format!("+1907555{:04}", n % 10_000)
            };
            let request = pb::RouteCallRequest {
                call_id: format!("{tag}-{c}-{n}"),
                caller,
                dialed: MAIN_LINE.into(),
                switch_id: "bench".into(),
                ..Default::default()
            };
            // A caller who queued 200 requests ago hangs up, so queues hold a realistic
            // few dozen calls per client rather than growing without end.
            // (`n` starts at `c * 7919` for client `c`.)
            let gone = (n % 4 == 0 && n >= c as u64 * 7_919 + 200).then(|| pb::CallEvent {
                call_id: format!("{tag}-{c}-{}", n - 200),
                kind: pb::CallEventKind::Abandoned.into(),
                ..Default::default()
            });
            async move {
                client.route_call(request).await.expect("RouteCall");
                if let Some(event) = gone {
                    client
                        .report_call_event(event)
                        .await
                        .expect("ReportCallEvent");
                }
                client
            }
        })
        .await;
    rps
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let quiet = start().await;
        let watched = start().await;
        let read = Arc::new(AtomicU64::new(0));
        watch(&watched.0, &watched.1, Arc::clone(&read)).await;
        let targets = [("unwatched", &quiet.0), ("watched", &watched.0)];
        let (rounds, window) = if quick {
            (2, Duration::from_millis(500))
        } else {
            (7, Duration::from_secs(2))
        };
        println!(
            "RouteCall with {WALLBOARDS} wallboards and {FLOOR_WATCHERS} WatchFloor streams on one server and none on the other; {rounds} round(s) of {window:?}:"
        );
        println!("{:>4} {:>10} {:>10}", "c", "server", "req/s");
        for clients in [1, 16] {
            for (_, address) in &targets {
                drive(address, "warm", clients, window / 4).await;
            }
            let mut rps: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
            for round in 0..rounds {
                for k in 0..targets.len() {
                    let i = (round + k) % targets.len();
                    let r = drive(
                        targets[i].1,
                        &format!("c{clients}-r{round}"),
                        clients,
                        window,
                    )
                    .await;
                    rps[i].push(r);
                }
            }
            let medians = switchboard_benches::load::medians(&mut rps);
            for (i, (name, _)) in targets.iter().enumerate() {
                println!(
                    "{clients:>4} {name:>10} {:>10.0}   {:.3} of unwatched",
                    medians[i],
                    medians[i] / medians[0]
                );
            }
        }
        println!(
            "the watchers took {} KiB of floor changes",
            read.load(Relaxed) / 1024
        );
    });
}
