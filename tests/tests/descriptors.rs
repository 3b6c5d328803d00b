//! Out of file descriptors: the server cannot accept the connections waiting for it, and
//! must pause and try again rather than retry at once and spin a core, then serve as
//! soon as descriptors free up. A test binary of its own: it lowers its own process's
//! limit.
#![cfg(target_os = "linux")]

use std::{fs::File, time::Duration};

use switchboard_proto::v1 as pb;
use switchboard_tests::*;

/// CPU time this process has used (user and system), from its /proc stat file (opened
/// beforehand: no descriptor is free when it is read).
fn cpu_time(stat_file: &mut File) -> Duration {
    use std::io::{Read, Seek};
    stat_file.rewind().unwrap();
    let mut stat = String::new();
    stat_file.read_to_string(&mut stat).unwrap();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // Linux reports in clock ticks of 1/100 s (USER_HZ).
    Duration::from_millis(ticks * 10)
}

#[tokio::test]
async fn out_of_descriptors_the_server_backs_off_instead_of_spinning_and_recovers() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Clients waiting in the listen backlog before the server accepts anything.
    let waiting: Vec<std::net::TcpStream> = (0..8)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    let mut stat = File::open("/proc/self/stat").unwrap();
    // Every descriptor this process may have, taken.
    let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
    rlimit::Resource::NOFILE.set(soft.min(512), hard).unwrap();
    let mut ballast = Vec::new();
    while let Ok(f) = File::open("/dev/null") {
        ballast.push(f);
    }
    listener.set_nonblocking(true).unwrap();
    let server = serve_on(
        start_app(),
        tokio::net::TcpListener::from_std(listener).unwrap(),
    );
    // Accepts fail for as long as the ballast is held: the process stays nearly idle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = cpu_time(&mut stat);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let used = cpu_time(&mut stat) - before;
    assert!(
        used < Duration::from_millis(600),
        "{used:?} of CPU in 3 s while unable to accept"
    );

    // Descriptors free up: the waiting clients are accepted and a switch is served.
    drop(ballast);
    drop(waiting);
    let d = tokio::time::timeout(Duration::from_secs(10), async {
        server
            .routing()
            .await
            .route_call(pb::RouteCallRequest {
                call_id: "after".into(),
                caller: EMMA_STANDARD.into(),
                dialed: MAIN_LINE.into(),
                switch_id: "sbc-1".into(),
                ..Default::default()
            })
            .await
            .unwrap()
    })
    .await
    .expect("served once descriptors are free");
    assert_eq!(d.into_inner().call_id, "after");
    let (server, metrics) = scraped(server).await;
    let s = scrape(metrics).await;
    assert!(s["switchboard_accept_errors_total"] >= 1.0, "{s:?}");
    drop(server);
}

/// The server on the shipped config, built before the descriptors run out.
fn start_app() -> switchboard_server::App {
    let config = switchboard_config::parse(
        switchboard_config::DEFAULT_CONFIG,
        std::path::Path::new("test.toml"),
    )
    .unwrap();
    switchboard_server::App::new(
        config,
        &switchboard_server::CustomerSource::Embedded,
        std::sync::Arc::new(switchboard_server::SystemClock),
    )
    .unwrap()
    .0
}
