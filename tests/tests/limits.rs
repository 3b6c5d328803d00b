//! Limits that protect the server from its clients, from outside: the largest message,
//! streams and requests in progress per connection, header bytes per request, and
//! streams reset before they are handled (the HTTP/2 rapid-reset flood). The
//! per-identity rate limit is tested with security (`security.rs`).

use std::time::Duration;

use switchboard_config::DEFAULT_CONFIG;
use switchboard_proto::v1 as pb;
use switchboard_tests::*;
use tonic::{Code, Request};

/// The shipped config with `key` set in `[server]`.
fn with_server_key(key: &str) -> String {
    DEFAULT_CONFIG.replacen(
        "listen = \"127.0.0.1:50051\"",
        &format!("listen = \"127.0.0.1:50051\"\n{key}"),
        1,
    )
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_refused_naming_the_limit_and_the_server_goes_on() {
    let config = with_server_key("max_message_size = \"64KiB\"");
    let server = start_with(&config).await;
    let mut c = server.admin().await;
    let e = c
        .upsert_customer(pb::UpsertCustomerRequest {
            customer: Some(pb::Customer {
                customer_id: "big".into(),
                name: "x".repeat(100 << 10),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::OutOfRange, "{e:?}");
    assert!(e.message().contains("the limit is: 65536 bytes"), "{e:?}");
    c.get_customer(pb::GetCustomerRequest {
        key: Some(pb::get_customer_request::Key::PhoneNumber(
            MARIA_PLATINUM.into(),
        )),
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_connection_holds_no_more_streams_than_the_limit_until_one_ends() {
    let config = with_server_key("max_streams_per_connection = 2");
    let server = start_with(&config).await;
    let channel = server.channel().await;
    let mut c = pb::routing_client::RoutingClient::new(channel.clone());
    let watch = |switch: &str| pb::WatchAssignmentsRequest {
        switch_id: switch.into(),
    };
    let first = c.watch_assignments(watch("s-1")).await.unwrap();
    let _second = c.watch_assignments(watch("s-2")).await.unwrap();
    // The third waits for a stream of the two to end.
    let mut third = pb::routing_client::RoutingClient::new(channel.clone());
    let waiting =
        tokio::spawn(async move { third.watch_assignments(watch("s-3")).await.map(|_| ()) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "a third stream opened past the limit of 2"
    );
    drop(first);
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the third stream opens once the first ends")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn headers_over_the_limit_are_refused_and_the_server_goes_on() {
    let server = start().await;
    let mut c = pb::admin_client::AdminClient::with_interceptor(
        server.channel().await,
        |mut r: Request<()>| {
            r.metadata_mut()
                .insert("x-padding", "p".repeat(32 << 10).parse().unwrap());
            Ok(r)
        },
    );
    let e = c
        .get_queue_stats(pb::GetQueueStatsRequest::default())
        .await
        .unwrap_err();
    assert_ne!(e.code(), Code::Ok);
    let mut fine = server.admin().await;
    fine.get_queue_stats(pb::GetQueueStatsRequest::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn requests_past_the_per_connection_limit_wait_for_one_in_progress_to_finish() {
    let config = with_server_key("max_requests_per_connection = 1");
    let server = start_with(&config).await;
    let channel = server.channel().await;
    // An import in progress: its handler waits for the rest of the file.
    let (chunks, rest) = tokio::sync::mpsc::channel(1);
    let mut importer = pb::admin_client::AdminClient::new(channel.clone());
    let import = tokio::spawn(async move {
        importer
            .import_customers(tokio_stream::wrappers::ReceiverStream::new(rest))
            .await
    });
    chunks
        .send(pb::ImportCustomersRequest {
            csv_chunk: b"customer_id,phone_numbers\n".to_vec(),
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut stats = pb::admin_client::AdminClient::new(channel);
    let waiting = tokio::spawn(async move {
        stats
            .get_queue_stats(pb::GetQueueStatsRequest::default())
            .await
            .map(|_| ())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "a second request ran past the limit of 1"
    );
    chunks
        .send(pb::ImportCustomersRequest {
            csv_chunk: b"C1,+13125550199\n".to_vec(),
        })
        .await
        .unwrap();
    drop(chunks);
    let imported = import.await.unwrap().unwrap().into_inner();
    assert_eq!(imported.imported, 1);
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the second request runs once the first is done")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_client_resetting_streams_before_they_are_handled_is_disconnected_and_others_are_served()
{
    let server = start_with(&with_server_key("max_pending_resets = 5")).await;
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut client, connection) = h2::client::handshake(tcp).await.unwrap();
    let connection = tokio::spawn(connection);
    // The rapid-reset pattern: open a stream and cancel it at once, again and again,
    // without waiting for anything.
    let mut sent = 0;
    for _ in 0..100_000 {
        client = match client.ready().await {
            Ok(c) => c,
            Err(_) => break,
        };
        let request = http::Request::post(format!(
            "http://{}/switchboard.v1.Admin/GetQueueStats",
            server.addr
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
        let Ok((_, mut stream)) = client.send_request(request, false) else {
            break;
        };
        stream.send_reset(h2::Reason::CANCEL);
        sent += 1;
    }
    let ended = tokio::time::timeout(Duration::from_secs(10), connection)
        .await
        .expect("the server closes the connection")
        .unwrap();
    let e = ended.expect_err("closed with an error");
    assert_eq!(
        e.reason(),
        Some(h2::Reason::ENHANCE_YOUR_CALM),
        "{e:?} after {sent} streams"
    );
    // Everyone else is served as before.
    server
        .admin()
        .await
        .get_queue_stats(pb::GetQueueStatsRequest::default())
        .await
        .unwrap();
}
