//! The graceful shutdown, in process: health goes NOT_SERVING at once, new calls are
//! refused, streams end with UNAVAILABLE, a request in flight finishes, and one that
//! never does is cut off once `server.shutdown_grace` is over. (The binary's SIGTERM,
//! exit code and zero loss under load: `crates/cli/tests/lifecycle.rs`.)

use std::{path::Path, sync::Arc, time::Duration};

use switchboard_proto::v1 as pb;
use switchboard_server::{App, CustomerSource, SystemClock};
use switchboard_tests::*;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

async fn start_with_grace(grace: &str) -> TestServer {
    let text = switchboard_config::DEFAULT_CONFIG.replacen(
        "[server]\n",
        &format!("[server]\nshutdown_grace = \"{grace}\"\n"),
        1,
    );
    let config = switchboard_config::parse(&text, Path::new("test.toml")).unwrap();
    let (app, _) = App::new(config, &CustomerSource::Embedded, Arc::new(SystemClock)).unwrap();
    serve_app(app).await
}

#[tokio::test]
async fn a_shutdown_says_so_at_once_and_lets_a_request_in_flight_finish() {
    let mut server = start_with_grace("10s").await;
    let channel = server.channel().await;
    let mut health = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.next().await.unwrap().unwrap().status(),
        ServingStatus::Serving
    );
    let mut assignments = server
        .routing()
        .await
        .watch_assignments(pb::WatchAssignmentsRequest {
            switch_id: "sbc-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    // An import in flight: its first chunk is sent, the rest comes after the signal.
    let (chunks, rest) = tokio::sync::mpsc::channel(4);
    chunks
        .send(pb::ImportCustomersRequest {
            csv_chunk: b"customer_id,phone_numbers\nC9600001,+1312555".to_vec(),
        })
        .await
        .unwrap();
    let mut admin = server.admin().await;
    let import = tokio::spawn(async move {
        admin
            .import_customers(tokio_stream::wrappers::ReceiverStream::new(rest))
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    server.begin_stop();
    assert_eq!(
        health.next().await.unwrap().unwrap().status(),
        ServingStatus::NotServing
    );
    let ended = tokio::time::timeout(Duration::from_secs(5), assignments.next())
        .await
        .expect("the stream ends at once")
        .expect("with a status")
        .unwrap_err();
    assert_eq!(ended.code(), Code::Unavailable);
    assert_eq!(
        ended.message(),
        "the server is shutting down: reconnect (to this server once it is back, or to another)"
    );
    // A new call on a connection that is still open is refused: by the server
    // (UNAVAILABLE) or, once HTTP/2's goaway has reached the client, by the transport.
    let refused = pb::routing_client::RoutingClient::new(channel)
        .route_call(pb::RouteCallRequest {
            call_id: "late".into(),
            caller: EMMA_STANDARD.into(),
            dialed: MAIN_LINE.into(),
            switch_id: "sbc-1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(refused.code(), Code::Unavailable | Code::Cancelled),
        "{refused:?}"
    );
    // The import in flight finishes (refused as a durable write would be: the server is
    // stopping, so nothing was changed), and the server stops well inside the grace.
    chunks
        .send(pb::ImportCustomersRequest {
            csv_chunk: b"0161\n".to_vec(),
        })
        .await
        .unwrap();
    drop(chunks);
    let answered = import.await.unwrap();
    assert_eq!(answered.unwrap_err().code(), Code::Unavailable);
    let started = std::time::Instant::now();
    let stopped = server.stopped().await;
    assert!(!stopped.cut_short);
    assert!(stopped.flushed.is_ok());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_request_that_never_finishes_is_cut_off_after_the_grace_period() {
    let mut server = start_with_grace("1s").await;
    // An import whose client never finishes sending.
    let (chunks, rest) = tokio::sync::mpsc::channel(1);
    let mut admin = server.admin().await;
    let _import = tokio::spawn(async move {
        admin
            .import_customers(tokio_stream::wrappers::ReceiverStream::new(rest))
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    server.begin_stop();
    let stopped = server.stopped().await;
    let took = started.elapsed();
    assert!(stopped.cut_short);
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(5)).contains(&took),
        "{took:?}"
    );
    drop(chunks);
}
