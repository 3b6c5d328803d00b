//! RouteCall throughput over gRPC with no store, the SQLite store and a PostgreSQL store,
//! side by side in one run.
//!
//! Real servers run in this process on 127.0.0.1, on the shipped config and sample
//! customers: one keeps nothing, one keeps its SQLite store in a temporary folder, and
//! one (when PostgreSQL's programs are installed; the run says so when they are not)
//! leads the routing domain of a PostgreSQL server of its own, started with fsync on as
//! SQLite's synchronous=FULL is. Every call is journaled, its call record written, what
//! it teaches stored. The same clients drive each in turn for a few seconds at a time,
//! rotating which goes first, and the medians and their ratios are printed. The budget:
//! the SQLite store costs at most 10%. Then the journal the SQLite run left is opened,
//! replayed and compacted, each timed.
//!
//! `cargo bench --bench persistence` (`-- --quick` for one short round)

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use switchboard_config::DEFAULT_CONFIG;
use switchboard_proto::v1::{self as pb, routing_client::RoutingClient};
use switchboard_server::{App, CustomerSource, SystemClock};
use tokio::net::TcpListener;
use tonic::transport::Channel;

/// The daemon's allocator, so figures are the daemon's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Concurrent requests in flight, each on its own HTTP/2 connection.
const CLIENTS: usize = 16;

async fn start(config: &str) -> (App, String) {
    let config = switchboard_config::parse(config, Path::new("bench.toml")).expect("bench config");
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

/// Callers as the sample customers and strangers come: a known number four times in
/// five (some skip the menu and queue at once), an unknown one otherwise.
fn caller(n: u64) -> String {
    if n % 5 == 4 {
        format!("+1907555{:04}", n % 10_000)
    } else {
        format!("+121255501{:02}", n % 8 + 1)
    }
}

/// Calls routed per second against `address` over `window`. With a store, the time to
/// write what the window left queued for the writer counts too, so a writer that falls
/// behind shows in the figure rather than in the next window.
async fn measure(address: &str, tag: &str, window: Duration, store: Option<&App>) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let channel = Channel::from_shared(format!("http://{address}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = RoutingClient::new(channel);
        let (done, stop, tag) = (Arc::clone(&done), Arc::clone(&stop), tag.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Relaxed) {
                let call_id = format!("{tag}-{c}-{n}");
                let decision = client
                    .route_call(pb::RouteCallRequest {
                        call_id: call_id.clone(),
                        caller: caller(n),
                        dialed: "+18005550100".into(),
                        switch_id: "bench".into(),
                        ..Default::default()
                    })
                    .await
                    .expect("RouteCall")
                    .into_inner();
                // Nobody answers here: a queued caller hangs up, so queues stay at a
                // steady length instead of growing for the whole run.
                if matches!(decision.action, Some(pb::decision::Action::Enqueue(_))) {
                    client
                        .report_call_event(pb::CallEvent {
                            call_id,
                            kind: pb::CallEventKind::Abandoned.into(),
                            ..Default::default()
                        })
                        .await
                        .expect("ABANDONED");
                }
                n += 1;
                done.fetch_add(1, Relaxed);
            }
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(window).await;
    stop.store(true, Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    if let Some(app) = store {
        app.flush_store().expect("the store keeps up");
    }
    done.load(Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and gets one quick
    // round so the bench is checked to run.
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let (rounds, window) = if quick {
        (1, Duration::from_millis(300))
    } else {
        (7, Duration::from_secs(3))
    };
    let dir = std::env::temp_dir().join(format!("switchboard-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = dir.join("s.db");
    let on = format!(
        "{DEFAULT_CONFIG}\n[store]\npath = {:?}\n",
        store.display().to_string()
    );
    let off = format!("{DEFAULT_CONFIG}\n[store]\nenabled = false\n");
    // PostgreSQL when its programs are here; the run says so when they are not.
    let pg = switchboard_pgtest::binaries().map(|_| {
        switchboard_pgtest::PgServer::start_with(switchboard_pgtest::Options {
            fsync: true,
            ..Default::default()
        })
    });
    if pg.is_none() {
        println!("PostgreSQL left out: {}", switchboard_pgtest::INSTALL);
    }
    let pg_url = pg.as_ref().map(|pg| pg.create_database("bench"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut servers: Vec<(&str, String, Option<App>)> = Vec::new();
        let (_, off_addr) = start(&off).await;
        servers.push(("no store", off_addr, None));
        let (on_app, on_addr) = start(&on).await;
        servers.push(("SQLite", on_addr, Some(on_app)));
        if let Some(url) = &pg_url {
            let text = format!("{DEFAULT_CONFIG}\n[store]\nurl = {url:?}\nlease = \"5s\"\n");
            let (pg_app, pg_addr) = start(&text).await;
            while !pg_app.leads() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            servers.push(("PostgreSQL", pg_addr, Some(pg_app)));
        }
        // Warm each up (connections, allocator, the store's first pages).
        for (i, (_, address, app)) in servers.iter().enumerate() {
            measure(address, &format!("warm-{i}"), window / 3, app.as_ref()).await;
        }
        let mut runs = vec![Vec::new(); servers.len()];
        for round in 0..rounds {
            for k in 0..servers.len() {
                let i = (round + k) % servers.len();
                let (name, address, app) = &servers[i];
                let tag = format!("r{round}-{i}");
                let rps = measure(address, &tag, window, app.as_ref()).await;
                println!("round {round}: {name:<10} {rps:>9.0} RouteCall/s");
                runs[i].push(rps);
            }
        }
        let medians: Vec<f64> = runs.iter_mut().map(|r| median(r)).collect();
        let off = medians[0];
        for ((name, ..), m) in servers.iter().zip(&medians) {
            println!(
                "RouteCall at concurrency {CLIENTS}, {name}: {m:.0}/s (median of {rounds}), {:.3} of no store",
                m / off
            );
        }
        println!(
            "budget: the SQLite store at least 0.90 of no store: {:.3}",
            medians[1] / off
        );
    });
    // The servers stop with the runtime; the store's writer writes what it holds.
    drop(rt);
    journal_after(&store);
    if let Some(url) = pg_url {
        standby_after(&url);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the run left in the journal (every call still waiting or at a menu), and what
/// reading it back and compacting it cost: a start's open and replay, and the writer's
/// compaction of the whole log.
fn journal_after(store: &Path) {
    let size = |s: &switchboard_store::Store| {
        let (live, dead) = s.journal_log_bytes();
        (live + dead) as f64 / 1e6
    };
    let t = Instant::now();
    let mut s = switchboard_store::Store::open(store).expect("the bench's store");
    let opened = t.elapsed();
    let t = Instant::now();
    let journal = s.journal().expect("the journal reads");
    let replayed = t.elapsed();
    let before = size(&s);
    let t = Instant::now();
    s.compact_journal().expect("compaction");
    let compacted = t.elapsed();
    println!(
        "journal left by the run: {} calls in progress, log {before:.1} MB; open (counting the log) {:.0} ms, replay {:.0} ms, compaction {:.0} ms to {:.1} MB",
        journal.calls.len(),
        opened.as_secs_f64() * 1e3,
        replayed.as_secs_f64() * 1e3,
        compacted.as_secs_f64() * 1e3,
        size(&s)
    );
}

/// What a standby's warm copy of the PostgreSQL run's journal costs: reading the whole
/// log from nothing (a standby starting beside a busy leader), a poll with nothing new
/// (every quarter lease while standing by), and the journal put together at a takeover.
fn standby_after(url: &str) {
    use switchboard_store::{
        PgOptions,
        postgres::follow::{FollowFrom, Follower},
    };
    let options = PgOptions {
        url: url.to_owned(),
        tls_ca: None,
        pool_size: 1,
        domain: "default".to_owned(),
        lease: Duration::from_secs(5),
    };
    let mut copy = Follower::connect(&options, FollowFrom::default()).expect("a follower");
    let t = Instant::now();
    let first = copy
        .poll(|_| Some(switchboard_core::TierId(0)))
        .expect("the first poll");
    let whole = t.elapsed();
    let t = Instant::now();
    copy.poll(|_| Some(switchboard_core::TierId(0)))
        .expect("a poll");
    let idle = t.elapsed();
    let t = Instant::now();
    let journal = copy.journal().expect("the journal");
    let put_together = t.elapsed();
    println!(
        "standby on the PostgreSQL run's store: {} calls in progress ({} log rows, {} customers, {} numbers learned); first read {:.0} ms, an idle poll {:.1} ms, the journal at a takeover {:.0} ms",
        journal.calls.len(),
        first.log_rows,
        first.customers.len(),
        first.learned.len(),
        whole.as_secs_f64() * 1e3,
        idle.as_secs_f64() * 1e3,
        put_together.as_secs_f64() * 1e3
    );
}
