//! A store that cannot write, over real gRPC: the failure is real (SQLite refuses the
//! writes, through triggers another connection puts on the journal's tables), and the
//! server must say so everywhere (health, metrics, admin writes) while keeping every
//! acknowledged call, follow `store.on_failure` for new calls, refuse new work past
//! `store.max_pending`, and write everything once the store takes writes again.
//! (`crates/cli/tests/disk_faults.rs` does the same with a full and a read-only file
//! system under the real binary.)

use std::{path::Path, time::Duration};

use switchboard_proto::v1 as pb;
use switchboard_server::{App, CustomerSource, STORE_HEALTH, SystemClock};
use switchboard_store::Store;
use switchboard_tests::*;
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// Every write of live calls, agents, customers and call records fails, as on a full
/// disk, until [`heal`].
fn break_store(store: &Path) -> rusqlite::Connection {
    let other = rusqlite::Connection::open(store).unwrap();
    for table in ["call_log", "live_agents", "customers", "call_records"] {
        other
            .execute_batch(&format!(
                "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table}
                 BEGIN SELECT RAISE(ABORT, 'database or disk is full (injected)'); END;"
            ))
            .unwrap();
    }
    other
}

fn heal(other: &rusqlite::Connection) {
    for table in ["call_log", "live_agents", "customers", "call_records"] {
        other
            .execute_batch(&format!("DROP TRIGGER refuse_{table}"))
            .unwrap();
    }
}

async fn start_with_store(store: &Path, extra: &str) -> TestServer {
    let text = format!("{}{extra}\n", stored_config(store));
    let config = switchboard_config::parse(&text, Path::new("test.toml")).unwrap();
    let (app, _) = App::with_store(
        config,
        &CustomerSource::Embedded,
        std::sync::Arc::new(SystemClock),
    )
    .unwrap();
    serve_app(app).await
}

fn stranger(id: &str, n: u32) -> pb::RouteCallRequest {
    pb::RouteCallRequest {
        call_id: id.into(),
        caller: format!("+1907555{n:04}"),
        // The platinum line sends strangers on to the main menu, which has them wait
        // for input: each call is one journal entry.
        dialed: MAIN_LINE.into(),
        switch_id: "sbc-1".into(),
        ..Default::default()
    }
}

async fn status(server: &TestServer, service: &str) -> ServingStatus {
    HealthClient::new(server.channel().await)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status()
}

/// Waits (up to 10 s) until `service` reports `wanted`.
async fn until_status(server: &TestServer, service: &str, wanted: ServingStatus) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while status(server, service).await != wanted {
        assert!(
            std::time::Instant::now() < deadline,
            "{service} never became {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn customer(id: &str) -> pb::UpsertCustomerRequest {
    pb::UpsertCustomerRequest {
        customer: Some(pb::Customer {
            customer_id: id.into(),
            name: "Dana Store".into(),
            phone_numbers: vec!["+13125550177".into()],
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn a_store_that_cannot_write_is_reported_everywhere_and_loses_no_acknowledged_call() {
    let store = temp_dir("store-fails").join("s.db");
    let (server, metrics) = scraped(start_with_store(&store, "").await).await;
    let mut routing = server.routing().await;
    let mut admin = server.admin().await;
    assert_eq!(status(&server, STORE_HEALTH).await, ServingStatus::Serving);
    let s = scrape(metrics).await;
    assert_eq!(s.get("switchboard_store_up"), Some(&1.0), "{s:?}");

    let broken = break_store(&store);
    // Calls go on being routed (store.on_failure = "route", the default) ...
    for n in 0..20 {
        routing
            .route_call(stranger(&format!("f-{n}"), n))
            .await
            .unwrap();
    }
    // ... and the failure shows: health, metrics, admin writes.
    until_status(&server, STORE_HEALTH, ServingStatus::NotServing).await;
    assert_eq!(status(&server, "").await, ServingStatus::Serving);
    let s = scrape(metrics).await;
    assert_eq!(s.get("switchboard_store_up"), Some(&0.0), "{s:?}");
    assert!(s["switchboard_store_pending_changes"] >= 20.0, "{s:?}");
    assert!(s["switchboard_store_pending_bytes"] > 0.0, "{s:?}");
    assert!(s["switchboard_store_write_errors_total"] >= 1.0, "{s:?}");
    assert!(s.contains_key("switchboard_store_oldest_pending_seconds"));
    let err = admin
        .upsert_customer(customer("C8000001"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(
        err.message().starts_with("the store cannot write (")
            && err.message().contains("nothing was changed"),
        "{}",
        err.message()
    );
    let err = admin
        .import_customers(tokio_stream::iter([pb::ImportCustomersRequest {
            csv_chunk: b"customer_id,phone_numbers\nC8000002,+13125550178\n".to_vec(),
        }]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    // Refused means not applied.
    assert!(
        admin
            .get_customer(pb::GetCustomerRequest {
                key: Some(pb::get_customer_request::Key::CustomerId("C8000001".into())),
            })
            .await
            .is_err_and(|e| e.code() == Code::NotFound)
    );
    assert!(server.app.flush_store().is_err());

    // The store takes writes again: everything kept is written, in one go.
    heal(&broken);
    until_status(&server, STORE_HEALTH, ServingStatus::Serving).await;
    server.app.flush_store().unwrap();
    let s = scrape(metrics).await;
    assert_eq!(s.get("switchboard_store_up"), Some(&1.0));
    assert_eq!(s.get("switchboard_store_pending_changes"), Some(&0.0));
    let reader = Store::open(&store).unwrap();
    for n in 0..20 {
        assert!(reader.has_live_call(&format!("f-{n}")).unwrap(), "f-{n}");
    }
    admin.upsert_customer(customer("C8000001")).await.unwrap();
}

#[tokio::test]
async fn with_on_failure_refuse_new_calls_are_unavailable_while_the_store_fails() {
    let store = temp_dir("store-refuse").join("s.db");
    let server = start_with_store(&store, "on_failure = \"refuse\"").await;
    let mut routing = server.routing().await;
    let first = routing
        .route_call(stranger("before", 1))
        .await
        .unwrap()
        .into_inner();
    // The first call is on disk before the store breaks: otherwise its own batch could
    // be the one that finds the store failing, and the next call would be refused.
    server.app.flush_store().unwrap();
    let broken = break_store(&store);
    // The change that finds the store failing is still acknowledged (it is kept).
    routing.route_call(stranger("finds-it", 2)).await.unwrap();
    until_status(&server, "switchboard.v1.Routing", ServingStatus::NotServing).await;
    assert_eq!(status(&server, "").await, ServingStatus::NotServing);
    assert_eq!(
        status(&server, STORE_HEALTH).await,
        ServingStatus::NotServing
    );
    let err = routing.route_call(stranger("during", 3)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(
        err.message().contains("store.on_failure"),
        "{}",
        err.message()
    );
    // A call already routed gets its decision again, and calls in progress go on.
    let again = routing
        .route_call(stranger("before", 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, first);
    press(&mut routing, "before", "0").await;

    heal(&broken);
    until_status(&server, "switchboard.v1.Routing", ServingStatus::Serving).await;
    routing.route_call(stranger("after", 4)).await.unwrap();
    server.app.flush_store().unwrap();
    let reader = Store::open(&store).unwrap();
    for id in ["before", "finds-it", "after"] {
        assert!(reader.has_live_call(id).unwrap(), "{id}");
    }
    assert!(!reader.has_live_call("during").unwrap());
}

#[tokio::test]
async fn past_max_pending_new_calls_are_refused_whatever_on_failure_says() {
    let store = temp_dir("store-full").join("s.db");
    let (server, metrics) =
        scraped(start_with_store(&store, "max_pending = \"64KiB\"").await).await;
    let mut routing = server.routing().await;
    let broken = break_store(&store);
    let mut refused = None;
    for n in 0..20_000 {
        match routing
            .route_call(stranger(&format!("p-{n}"), n % 10_000))
            .await
        {
            Ok(_) => {}
            Err(e) => {
                refused = Some((n, e));
                break;
            }
        }
    }
    let (accepted, err) = refused.expect("refused before 20,000 calls");
    assert_eq!(err.code(), Code::Unavailable);
    assert!(
        err.message().contains("store.max_pending"),
        "{}",
        err.message()
    );
    let s = scrape(metrics).await;
    assert!(s["switchboard_store_pending_bytes"] > 65_536.0, "{s:?}");
    assert_eq!(
        s.get("switchboard_store_max_pending_bytes"),
        Some(&65_536.0)
    );
    until_status(&server, "", ServingStatus::NotServing).await;

    // Once the store recovers, the backlog is written and calls are taken again.
    heal(&broken);
    until_status(&server, "", ServingStatus::Serving).await;
    server.app.flush_store().unwrap();
    routing.route_call(stranger("after", 1)).await.unwrap();
    server.app.flush_store().unwrap();
    let reader = Store::open(&store).unwrap();
    assert!(reader.has_live_call("p-0").unwrap());
    assert!(
        reader
            .has_live_call(&format!("p-{}", accepted - 1))
            .unwrap()
    );
    eprintln!("{accepted} calls accepted before the 64 KiB backlog was full");
}

#[tokio::test]
async fn an_upsert_the_store_fails_to_write_is_applied_and_waits_for_the_store() {
    let store = temp_dir("store-fails-mid-upsert").join("s.db");
    let server = start_with_store(&store, "").await;
    let mut admin = server.admin().await;
    // The store takes writes, so the upsert is not refused up front; only customer rows
    // fail, so it fails while the change is being written.
    let other = rusqlite::Connection::open(&store).unwrap();
    other
        .execute_batch(
            "CREATE TRIGGER refuse_customers BEFORE INSERT ON customers
             BEGIN SELECT RAISE(ABORT, 'database or disk is full (injected)'); END;",
        )
        .unwrap();
    let err = admin
        .upsert_customer(customer("C8100001"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(
        err.message()
            .starts_with("applied, but the store cannot write (")
            && err.message().contains("written when the store recovers"),
        "{}",
        err.message()
    );
    // Applied: the directory has it, and it reaches the disk once the store recovers.
    let found = admin
        .get_customer(pb::GetCustomerRequest {
            key: Some(pb::get_customer_request::Key::CustomerId("C8100001".into())),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.customer.unwrap().name, "Dana Store");
    other
        .execute_batch("DROP TRIGGER refuse_customers")
        .unwrap();
    until_status(&server, STORE_HEALTH, ServingStatus::Serving).await;
    server.app.flush_store().unwrap();
    let (stored, _) = Store::open(&store)
        .unwrap()
        .customers(|_| Some(switchboard_core::TierId(0)))
        .unwrap();
    assert!(stored.iter().any(|c| &*c.id == "C8100001"));
}
