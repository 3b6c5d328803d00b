//! `switchboard status` against a running daemon: the floor as tables, once and with
//! `--watch`.

mod support;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use support::*;
use switchboard_proto::v1::routing_client::RoutingClient;

fn switchboard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

/// Logs Ann in (general skills) and routes a new caller who presses 0: the operators'
/// queue, where Ann is offered the call.
fn ann_and_a_call(address: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        log_in_general(address, "ann").await;
        let mut routing = RoutingClient::new(channel(address).await);
        routing.route_call(route("s1", 1)).await.unwrap();
        routing.submit_input(press_zero("s1")).await.unwrap();
    });
}

#[test]
fn status_prints_the_floor_and_watch_redraws_it_as_it_changes() {
    let config = config("status", &[]);
    let (server, _) = serve(&config);
    let url = format!("http://{}", server.address);

    let once = switchboard()
        .args(["status", "--server", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&once.stdout);
    assert_eq!(once.status.code(), Some(0), "{text}");
    assert!(text.starts_with("Switchboard floor at "), "{text}");
    for queue in ["operator ", "billing ", "platinum_desk "] {
        assert!(
            text.lines().any(|l| l.starts_with(queue)),
            "{queue} in\n{text}"
        );
    }
    assert!(text.contains("(no agent logged in)"), "{text}");

    // Watching: the tables come again when Ann logs in and is offered the call.
    let mut watch = switchboard()
        .args(["status", "--watch", "--server", &url])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let reader = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        for line in lines {
            let line = line.unwrap();
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.first() == Some(&"ann")
                && line.contains("ringing")
                && line.contains("s1 (operator)")
            {
                return Some(line);
            }
            if Instant::now() > deadline {
                break;
            }
        }
        None
    });
    std::thread::sleep(Duration::from_millis(500));
    ann_and_a_call(&server.address);
    let seen = reader.join().unwrap();
    watch.kill().unwrap();
    watch.wait().unwrap();
    assert!(
        seen.is_some(),
        "Ann ringing with s1 appeared in the watched tables"
    );

    let unreachable = switchboard()
        .args(["status", "--server", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unreachable.stderr)
            .starts_with("switchboard: cannot reach the server at http://127.0.0.1:1"),
        "{}",
        String::from_utf8_lossy(&unreachable.stderr)
    );
}
