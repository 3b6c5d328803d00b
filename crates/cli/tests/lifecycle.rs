//! The daemon's life with the real binary: SIGTERM under load with a switch's stream
//! open (exit 0 within the grace period, the stream ended with a status, zero
//! acknowledged calls lost); one daemon per store; a low file-descriptor limit.
#![cfg(target_os = "linux")]

mod support;

use std::{
    collections::HashSet,
    process::Command,
    time::{Duration, Instant},
};

use support::{SWITCH, channel, config, press_zero, route, serve, serve_with};
use switchboard_core::router::PlaceImage;
use switchboard_proto::v1::{self as pb, admin_client::AdminClient, routing_client::RoutingClient};
use switchboard_store::Store;
use tokio_stream::StreamExt;

#[test]
fn sigterm_under_load_exits_0_in_the_grace_period_ends_streams_and_loses_nothing() {
    let path = config(
        "sigterm",
        &[(
            "reload_on_change = false",
            "reload_on_change = false\nshutdown_grace = \"10s\"",
        )],
    );
    let (mut server, _) = serve(&path);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (acked, stream_end, shutdown) = rt.block_on(async {
        let ch = channel(&server.address).await;
        let mut stream = RoutingClient::new(ch.clone())
            .watch_assignments(pb::WatchAssignmentsRequest {
                switch_id: SWITCH.into(),
            })
            .await
            .unwrap()
            .into_inner();
        // Eight switches' worth of callers, each pressing 0 for a person: every call
        // acknowledged by both answers is waiting in the operators' queue.
        let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel();
        let mut load = Vec::new();
        for worker in 0..8 {
            let mut routing = RoutingClient::new(ch.clone());
            let acked = acked_tx.clone();
            load.push(tokio::spawn(async move {
                for i in 0.. {
                    let id = format!("w{worker}-{i:05}");
                    if routing
                        .route_call(route(&id, worker * 1_000 + i))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    if routing.submit_input(press_zero(&id)).await.is_err() {
                        return;
                    }
                    let _ = acked.send(id);
                }
            }));
        }
        drop(acked_tx);
        tokio::time::sleep(Duration::from_secs(2)).await;
        server.signal("TERM");
        let signalled = Instant::now();
        let end = tokio::time::timeout(Duration::from_secs(15), stream.next())
            .await
            .expect("the stream ends within the grace period");
        for task in load {
            task.await.unwrap();
        }
        let mut acked = Vec::new();
        while let Some(id) = acked_rx.recv().await {
            acked.push(id);
        }
        (acked, end, signalled)
    });
    let status = server
        .exit_within(Duration::from_secs(15))
        .expect("exits within the grace period");
    let took = shutdown.elapsed();
    assert_eq!(status.code(), Some(0), "{:#?}", server.rest_of_log());
    assert!(took < Duration::from_secs(12), "{took:?}");
    let log = server.rest_of_log();
    assert!(log.iter().any(|l| l.contains("store flushed")), "{log:#?}");
    // The switch's stream ended with a status telling it to reconnect.
    let status = stream_end
        .expect("a status, not a silent end")
        .expect_err("an error status");
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(
        status.message().contains("shutting down"),
        "{}",
        status.message()
    );

    // Every call acknowledged is in the journal, waiting in its queue: none lost.
    assert!(acked.len() > 100, "only {} calls in the load", acked.len());
    let store = path.parent().unwrap().join("data/s.db");
    let journal = Store::open(&store).unwrap().journal().unwrap();
    let waiting: HashSet<&str> = journal
        .calls
        .iter()
        .filter(|c| matches!(c.place, Some(PlaceImage::Waiting { .. })))
        .map(|c| c.call_id.as_str())
        .collect();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|id| !waiting.contains(id.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} lost: {lost:?}",
        lost.len(),
        acked.len()
    );

    // And a new server puts them back in the queue.
    let (mut again, _) = serve(&path);
    let waiting_now = rt.block_on(async {
        let stats = AdminClient::new(channel(&again.address).await)
            .get_queue_stats(pb::GetQueueStatsRequest {
                queue: "operator".into(),
            })
            .await
            .unwrap()
            .into_inner();
        stats.queues[0].waiting as usize
    });
    again.kill();
    assert_eq!(waiting_now, waiting.len());
    // More may be back than were acknowledged: a request the server finished whose
    // answer the client gave up on as the connection closed.
    eprintln!(
        "{} calls acknowledged, all back ({} waiting after the restart); SIGTERM to exit took {took:?}",
        acked.len(),
        waiting.len()
    );
}

#[test]
fn a_second_daemon_on_a_running_daemons_store_is_refused_with_exit_75() {
    let path = config("second", &[]);
    let (mut first, _) = serve(&path);
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "off",
            "--config",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(75));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let store = path.parent().unwrap().join("data/s.db");
    assert!(
        stderr.contains(&format!(
            "switchboard: not starting: {}: in use by another Switchboard (pid {}); one server per store",
            store.display(),
            first.pid()
        )),
        "{stderr}"
    );
    // Reading beside the running daemon still works.
    let report = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["report", "--server", &format!("http://{}", first.address)])
        .output()
        .unwrap();
    assert!(report.status.success(), "{report:?}");
    let csv = path.parent().unwrap().join("more.csv");
    std::fs::write(&csv, "customer_id,phone_numbers\nC9700001,+13125550197\n").unwrap();
    let import = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("import")
        .arg(&csv)
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(import.status.success(), "{import:?}");
    // Once the first is gone (even by SIGKILL), the store is free.
    first.kill();
    let (mut second, _) = serve(&path);
    second.kill();
}

/// CPU time of a process (user and system), from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[test]
fn with_a_low_descriptor_limit_idle_connections_neither_spin_the_daemon_nor_lock_clients_out() {
    let path = config("descriptors", &[]);
    // A hard limit of 128 open files, which the daemon cannot raise.
    let mut command = Command::new("sh");
    command.args([
        "-c",
        "ulimit -n 128 && exec \"$0\" serve \"$@\"",
        env!("CARGO_BIN_EXE_switchboard"),
    ]);
    let (server, start_log) = serve_with(command, &path);
    assert!(
        start_log
            .iter()
            .any(|l| l.contains("server.max_connections lowered") && l.contains("usable=64")),
        "{start_log:#?}"
    );
    // Twice as many idle connections as it may hold.
    let idle: Vec<std::net::TcpStream> = (0..150)
        .map(|_| std::net::TcpStream::connect(&server.address).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_time(server.pid());
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_time(server.pid()) - before;
    assert!(used < Duration::from_millis(500), "{used:?} of CPU in 3 s");
    drop(idle);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // The daemon counts a connection closed when it reads the close, a moment after
        // the client's; until then a new connection is over the limit and reset at once,
        // and the client tries again, as a switch would.
        let d = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let connected =
                    tonic::transport::Channel::from_shared(format!("http://{}", server.address))
                        .unwrap()
                        .connect()
                        .await;
                let reset = match connected {
                    Ok(ch) => match RoutingClient::new(ch).route_call(route("after", 1)).await {
                        Ok(d) => break d,
                        Err(e) if e.message().contains("transport error") => e.to_string(),
                        Err(e) => panic!("{e:?}"),
                    },
                    Err(e) => e.to_string(),
                };
                eprintln!("not in yet: {reset}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("a client gets in once the idle connections close");
        assert_eq!(d.into_inner().call_id, "after");
    });
}

#[test]
fn a_second_signal_stops_at_once_after_flushing_the_store() {
    let path = config(
        "second-signal",
        &[(
            "reload_on_change = false",
            "reload_on_change = false\nshutdown_grace = \"5m\"",
        )],
    );
    let (mut server, _) = serve(&path);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_chunks, _import) = rt.block_on(async {
        let ch = channel(&server.address).await;
        RoutingClient::new(ch.clone())
            .route_call(route("kept", 1))
            .await
            .unwrap();
        // An import whose client never finishes: it holds the shutdown for the grace.
        let (chunks, rest) = tokio::sync::mpsc::channel(1);
        chunks
            .send(pb::ImportCustomersRequest {
                csv_chunk: b"customer_id,phone_numbers\n".to_vec(),
            })
            .await
            .unwrap();
        let import = tokio::spawn(async move {
            AdminClient::new(ch)
                .import_customers(tokio_stream::wrappers::ReceiverStream::new(rest))
                .await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        (chunks, import)
    });
    server.signal("TERM");
    assert!(
        server.exit_within(Duration::from_secs(1)).is_none(),
        "the first signal waits for the import"
    );
    let second = Instant::now();
    server.signal("INT");
    let status = server
        .exit_within(Duration::from_secs(5))
        .expect("the second signal stops it at once");
    assert_eq!(status.code(), Some(0));
    assert!(
        second.elapsed() < Duration::from_secs(3),
        "{:?}",
        second.elapsed()
    );
    let log = server.rest_of_log();
    assert!(
        log.iter()
            .any(|l| l.contains("second signal: stopping now")),
        "{log:#?}"
    );
    assert!(log.iter().any(|l| l.contains("store flushed")), "{log:#?}");
    // The call acknowledged before is on disk.
    let store = path.parent().unwrap().join("data/s.db");
    assert!(Store::open(&store).unwrap().has_live_call("kept").unwrap());
}

#[test]
fn a_journal_row_that_cannot_be_read_is_named_at_start_left_in_place_and_the_calls_before_it_come_back()
 {
    let path = config("unreadable-row", &[]);
    let store = path.parent().unwrap().join("data/s.db");
    let (mut first, _) = serve(&path);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        RoutingClient::new(channel(&first.address).await)
            .route_call(route("before-the-bad-row", 1))
            .await
            .unwrap();
    });
    // Past the commit delay (50 ms): the call is on disk before the kill.
    std::thread::sleep(Duration::from_millis(500));
    first.kill();
    // A row of the log in a format this build does not know, after the call's.
    rusqlite::Connection::open(&store)
        .unwrap()
        .execute("INSERT INTO call_log (entries) VALUES (x'09010203')", [])
        .unwrap();
    let (mut second, start_log) = serve(&path);
    second.kill();
    assert!(
        start_log
            .iter()
            .any(|l| l.contains("journal: left unread: journal row")
                && l.contains("log format 9 is not one this version reads")),
        "{start_log:#?}"
    );
    let journal = Store::open(&store).unwrap().journal().unwrap();
    assert_eq!(journal.unreadable.len(), 1, "{:?}", journal.unreadable);
    assert!(
        journal
            .calls
            .iter()
            .any(|c| c.call_id == "before-the-bad-row")
    );
}
