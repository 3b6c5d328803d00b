//! `switchboard backup` beside a running, writing server, and the README's restore steps:
//! stop the server, put the copy in the store's place, start it.

mod support;

use std::{path::Path, process::Command, time::Duration};

use support::*;
use switchboard_proto::v1::{
    self as pb, admin_client::AdminClient, get_customer_request::Key, routing_client::RoutingClient,
};

fn switchboard(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .output()
        .unwrap()
}

async fn upsert(address: &str, id: &str, number: &str) {
    AdminClient::new(channel(address).await)
        .upsert_customer(pb::UpsertCustomerRequest {
            customer: Some(pb::Customer {
                customer_id: id.into(),
                phone_numbers: vec![number.into()],
                ..Default::default()
            }),
        })
        .await
        .unwrap();
}

async fn known(address: &str, id: &str) -> bool {
    AdminClient::new(channel(address).await)
        .get_customer(pb::GetCustomerRequest {
            key: Some(Key::CustomerId(id.into())),
        })
        .await
        .is_ok()
}

#[test]
fn a_backup_taken_under_load_restores_to_the_moment_it_was_taken() {
    let config = config("backup", &[]);
    let dir = config.parent().unwrap().to_path_buf();
    let store = dir.join("data/s.db");
    let copy = dir.join("copy.db");
    let (server, _) = serve(&config);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(upsert(&server.address, "BK-BEFORE", "+13125550171"));

    // Calls keep coming while the copy is made.
    let address = server.address.clone();
    let load = rt.spawn(async move {
        let mut routing = RoutingClient::new(channel(&address).await);
        for n in 0..400 {
            routing
                .route_call(route(&format!("load-{n}"), n))
                .await
                .unwrap();
        }
    });
    let out = switchboard(&[
        "backup",
        "--config",
        config.to_str().unwrap(),
        "--to",
        copy.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("1201 customers"), "{text}");
    assert!(text.contains("integrity checked"), "{text}");
    rt.block_on(load).unwrap();

    // Never over an existing file.
    let again = switchboard(&[
        "backup",
        "--config",
        config.to_str().unwrap(),
        "--to",
        copy.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(74));
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));

    // A change after the backup, then the restore: stop, replace, start.
    rt.block_on(upsert(&server.address, "BK-AFTER", "+13125550172"));
    drop(server);
    for leftover in ["data/s.db-wal", "data/s.db-shm"] {
        let _ = std::fs::remove_file(dir.join(leftover));
    }
    std::fs::copy(&copy, &store).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let (server, _) = serve(&config);
    rt.block_on(async {
        assert!(known(&server.address, "BK-BEFORE").await, "in the backup");
        assert!(
            !known(&server.address, "BK-AFTER").await,
            "made after the backup"
        );
    });
    assert!(Path::new(&copy).exists());
}

#[test]
fn backup_without_a_store_or_of_a_store_never_made_says_why() {
    let off = config(
        "backup-off",
        &[("[store]\npath = \"data/s.db\"", "[store]\nenabled = false")],
    );
    let out = switchboard(&[
        "backup",
        "--config",
        off.to_str().unwrap(),
        "--to",
        "/tmp/never.db",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the store is off"));

    // The server never ran here: there is no store file to copy.
    let fresh = config("backup-missing", &[]);
    let to = fresh.parent().unwrap().join("copy.db");
    let out = switchboard(&[
        "backup",
        "--config",
        fresh.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "{err}");
    assert!(
        err.starts_with("switchboard: backup failed, nothing written"),
        "{err}"
    );
    assert!(err.contains("s.db"), "{err}");
    assert!(!to.exists());
}
