//! Real disk faults under the real binary: the store's folder on a small tmpfs that
//! fills up while calls flow. The daemon must say so in its log, its health and its
//! metrics, refuse admin writes, keep every acknowledged call, and write them all once
//! the disk takes writes again; after a `kill -9` then, every call acknowledged during
//! the outage is back. Asked to stop while the disk is still full, it says what it could
//! not write and exits 74.
//!
//! It mounts file systems, so it needs root, and runs apart from the default suite:
//! `cargo test -p switchboard --features fault-tests --test disk_faults` (CI runs it).
#![cfg(target_os = "linux")]

mod support;

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use support::{channel, config, press_zero, route, serve, serve_with_metrics};
use switchboard_proto::v1::{
    self as pb, admin_client::AdminClient, agents_client::AgentsClient,
    routing_client::RoutingClient,
};
use switchboard_store::Store;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn run(args: &[&str]) {
    let status = Command::new(args[0]).args(&args[1..]).status().unwrap();
    assert!(status.success(), "{args:?} failed");
}

/// A small tmpfs on the store's folder, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    fn new(dir: &Path, size: &str) -> Mount {
        assert!(
            is_root(),
            "this test mounts a tmpfs and needs root: run it as root (CI does), e.g. \
             sudo -E cargo test -p switchboard --features fault-tests --test disk_faults"
        );
        std::fs::create_dir_all(dir).unwrap();
        run(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size}"),
            "tmpfs",
            dir.to_str().unwrap(),
        ]);
        Mount(dir.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

async fn store_health(address: &str) -> ServingStatus {
    HealthClient::new(channel(address).await)
        .check(HealthCheckRequest {
            service: "switchboard.store".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status()
}

async fn metric(metrics: &str, name: &str) -> Option<f64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(metrics).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
}

/// Routes calls until `done` says the fault shows; returns the ids acknowledged.
async fn route_until(
    routing: &mut RoutingClient<tonic::transport::Channel>,
    prefix: &str,
    mut done: impl AsyncFnMut() -> bool,
) -> Vec<String> {
    let mut acked = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    for n in 0.. {
        let id = format!("{prefix}-{n:05}");
        routing.route_call(route(&id, n)).await.unwrap();
        acked.push(id);
        if n % 50 == 49 && done().await {
            return acked;
        }
        assert!(Instant::now() < deadline, "the fault never showed");
    }
    unreachable!()
}

/// Fills what is left of the file system at `data`.
fn fill(data: &Path) {
    let mut ballast = std::fs::File::create(data.join("ballast")).unwrap();
    let block = vec![0u8; 64 << 10];
    while ballast.write_all(&block).is_ok() {}
    let _ = ballast.sync_all();
}

#[test]
fn a_full_disk_loses_no_acknowledged_call() {
    let path = config("disk-full", &[]);
    let data = path.parent().unwrap().join("data");
    let mount = Mount::new(&data, "4m");
    let (mut server, metrics, _) = serve_with_metrics(&path);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let acked = rt.block_on(async {
        let ch = channel(&server.address).await;
        let mut routing = RoutingClient::new(ch.clone());
        let mut agents = AgentsClient::new(ch.clone());
        let mut admin = AdminClient::new(ch);
        let address = server.address.clone();
        let mut acked = route_until(&mut routing, "before", async || true).await;
        assert_eq!(store_health(&address).await, ServingStatus::Serving);

        fill(&data);
        // Calls flow on, acknowledged, while the store cannot write.
        acked.extend(
            route_until(&mut routing, "during", async || {
                store_health(&address).await == ServingStatus::NotServing
            })
            .await,
        );
        for n in 0..1_500 {
            let id = format!("outage-{n:05}");
            routing.route_call(route(&id, n)).await.unwrap();
            acked.push(id);
        }
        // A caller reaches the operators' queue and chooses a callback tomorrow: also
        // acknowledged while the disk is full.
        routing
            .submit_input(press_zero("outage-00000"))
            .await
            .unwrap();
        let tomorrow = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 86_400;
        routing
            .report_call_event(pb::CallEvent {
                call_id: "outage-00000".into(),
                kind: pb::CallEventKind::CallbackAccepted.into(),
                callback_at: Some(prost_types::Timestamp {
                    seconds: i64::try_from(tomorrow).unwrap(),
                    nanos: 0,
                }),
                ..Default::default()
            })
            .await
            .unwrap();
        // An agent comes in for chats only, and a chat reaches them through the
        // operators' queue and is answered: held by her, acknowledged while the disk is
        // full.
        agents
            .set_agent_state(pb::SetAgentStateRequest {
                agent_id: "desk-1".into(),
                state: pb::AgentState::Available.into(),
                skills: vec![pb::Skill {
                    name: "general".into(),
                    proficiency: 5,
                }],
                endpoint: "sip:desk-1@pbx".into(),
                capacity: [("chat".to_owned(), 3)].into(),
                ..Default::default()
            })
            .await
            .unwrap();
        routing
            .route_call(pb::RouteCallRequest {
                channel: pb::Channel::Chat.into(),
                ..route("outage-chat", 0)
            })
            .await
            .unwrap();
        routing
            .submit_input(press_zero("outage-chat"))
            .await
            .unwrap();
        routing
            .report_call_event(pb::CallEvent {
                call_id: "outage-chat".into(),
                kind: pb::CallEventKind::Connected.into(),
                agent_id: "desk-1".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        acked.push("outage-chat".into());
        assert_eq!(metric(&metrics, "switchboard_store_up").await, Some(0.0));
        assert!(metric(&metrics, "switchboard_store_pending_changes").await > Some(1_500.0));
        assert!(metric(&metrics, "switchboard_store_write_errors_total").await >= Some(1.0));
        // A customer with an email address and a social handle is refused whole.
        let with_addresses = |id: &str| pb::UpsertCustomerRequest {
            customer: Some(pb::Customer {
                customer_id: id.into(),
                phone_numbers: vec!["+13125550190".into()],
                emails: vec!["Outage@Example.com".into()],
                social_handles: vec!["x:outage_fan".into()],
                preferred_channel: pb::Channel::Email.into(),
                ..Default::default()
            }),
        };
        let refused = admin
            .upsert_customer(with_addresses("C9900001"))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unavailable);

        std::fs::remove_file(data.join("ballast")).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while store_health(&address).await != ServingStatus::Serving {
            assert!(Instant::now() < deadline, "the store never recovered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            metric(&metrics, "switchboard_store_pending_changes").await,
            Some(0.0)
        );
        // Nothing of the refused customer was kept: the number and addresses are free,
        // and the same customer under another id is written, addresses and all.
        let by_email = admin
            .get_customer(pb::GetCustomerRequest {
                key: Some(pb::get_customer_request::Key::Address(
                    "outage@example.com".into(),
                )),
            })
            .await
            .unwrap_err();
        assert_eq!(by_email.code(), tonic::Code::NotFound);
        admin
            .upsert_customer(with_addresses("C9900002"))
            .await
            .unwrap();
        acked
    });
    server.kill();
    let mut log = Vec::new();
    while let Ok(line) = server.log.try_recv() {
        log.push(line);
    }
    assert!(
        log.iter().any(|l| l.contains("ERROR")
            && l.contains("store cannot write: acknowledged changes are kept in memory")),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("ERROR") && l.contains("store writes again")),
        "{log:#?}"
    );

    // Killed after the disk recovered: every call acknowledged is in the journal.
    let journal = Store::open(&data.join("s.db")).unwrap().journal().unwrap();
    let stored: std::collections::HashSet<&str> =
        journal.calls.iter().map(|c| c.call_id.as_str()).collect();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|id| !stored.contains(id.as_str()))
        .collect();
    assert!(lost.is_empty(), "{} of {} lost", lost.len(), acked.len());
    let scheduled = journal
        .calls
        .iter()
        .find(|c| c.call_id == "outage-00000")
        .and_then(|c| c.place.clone());
    assert!(
        matches!(
            scheduled,
            Some(switchboard_core::router::PlaceImage::Scheduled { .. })
        ),
        "the callback scheduled during the outage is in the journal: {scheduled:?}"
    );
    let held = journal
        .calls
        .iter()
        .find(|c| c.call_id == "outage-chat")
        .and_then(|c| c.place.clone());
    assert!(
        matches!(
            &held,
            Some(switchboard_core::router::PlaceImage::Held { agent, connected: true, .. })
                if agent == "desk-1"
        ),
        "the chat answered during the outage is held by its agent: {held:?}"
    );
    let (mut again, start_log) = serve(&path);
    assert!(
        start_log
            .iter()
            .any(|l| l.contains("live state restored")
                && l.contains(&format!("calls={}", acked.len()))),
        "{start_log:#?}"
    );
    // After the restart: the agent holds the chat again, and the customer written after
    // the outage is found by their email address.
    rt.block_on(async {
        let ch = channel(&again.address).await;
        let desk = AgentsClient::new(ch.clone())
            .get_agent(pb::GetAgentRequest {
                agent_id: "desk-1".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(desk.call_ids, ["outage-chat"], "{desk:?}");
        let found = AdminClient::new(ch)
            .get_customer(pb::GetCustomerRequest {
                key: Some(pb::get_customer_request::Key::Address(
                    "x:outage_fan".into(),
                )),
            })
            .await
            .unwrap()
            .into_inner()
            .customer
            .unwrap();
        assert_eq!(found.customer_id, "C9900002");
        assert_eq!(found.emails, ["outage@example.com"]);
    });
    again.kill();
    drop(mount);
    eprintln!("{} calls acknowledged, all back", acked.len());
}

#[test]
fn a_shutdown_while_the_disk_is_full_says_what_it_could_not_write_and_exits_74() {
    let path = config(
        "disk-full-stop",
        &[(
            "reload_on_change = false",
            "reload_on_change = false\nshutdown_grace = \"2s\"",
        )],
    );
    let data = path.parent().unwrap().join("data");
    let mount = Mount::new(&data, "4m");
    let (mut server, _) = serve(&path);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut routing = RoutingClient::new(channel(&server.address).await);
        let address = server.address.clone();
        fill(&data);
        route_until(&mut routing, "during", async || {
            store_health(&address).await == ServingStatus::NotServing
        })
        .await;
    });
    server.signal("TERM");
    let status = server
        .exit_within(Duration::from_secs(15))
        .expect("exits once the grace period is over");
    assert_eq!(status.code(), Some(74));
    let log = server.rest_of_log();
    assert!(
        log.iter()
            .any(|l| l.contains("ERROR") && l.contains("could not be written and are lost")),
        "{log:#?}"
    );
    drop(mount);
}

#[test]
fn a_backup_onto_a_full_disk_fails_saying_so_and_leaves_nothing_behind() {
    let path = config("backup-full", &[]);
    let dir = path.parent().unwrap().to_path_buf();
    // The store (with the 1,200 sample customers, over 200 KiB) is bigger than this
    // 64 KiB disk.
    let (server, _) = serve(&path);
    let backups = dir.join("backups");
    let mount = Mount::new(&backups, "64k");
    let copy = backups.join("copy.db");
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "backup",
            "--config",
            path.to_str().unwrap(),
            "--to",
            copy.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "{err}");
    assert!(
        err.starts_with("switchboard: backup failed, nothing written"),
        "{err}"
    );
    assert!(
        std::fs::read_dir(&backups).unwrap().next().is_none(),
        "no half-made copy is left on the full disk"
    );
    // The server and its store never noticed.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        assert_eq!(store_health(&server.address).await, ServingStatus::Serving);
    });
    drop(server);
    drop(mount);
}
