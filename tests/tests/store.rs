//! The store over real gRPC: what the server accepted is there after a restart, and a
//! store that cannot be trusted stops the start instead of starting empty.

use std::{path::Path, sync::Arc};

use switchboard_proto::v1::{self as pb, get_customer_request::Key};
use switchboard_server::{App, CustomerSource, StartError, SystemClock};
use switchboard_tests::*;

async fn customer(server: &TestServer, id: &str) -> Option<pb::Customer> {
    server
        .admin()
        .await
        .get_customer(pb::GetCustomerRequest {
            key: Some(Key::CustomerId(id.into())),
        })
        .await
        .ok()
        .and_then(|r| r.into_inner().customer)
}

#[tokio::test]
async fn customers_the_server_accepted_are_there_after_a_restart() {
    let store = temp_dir("restart").join("data").join("switchboard.db");
    let server = start_stored(&store, Arc::new(SystemClock)).await;
    // The first start filled the store with the sample customers.
    assert!(customer(&server, "C0000002").await.is_some());
    let mut james = customer(&server, "C0000002").await.unwrap();
    james.tier = "platinum".into();
    james.tags = vec!["upgraded; by ops".into()];
    server
        .admin()
        .await
        .upsert_customer(pb::UpsertCustomerRequest {
            customer: Some(james.clone()),
        })
        .await
        .unwrap();
    let new = pb::Customer {
        customer_id: "C9000001".into(),
        name: "Ada Byron".into(),
        phone_numbers: vec!["+13125550170".into()],
        tier: "gold".into(),
        ..Default::default()
    };
    server
        .admin()
        .await
        .upsert_customer(pb::UpsertCustomerRequest {
            customer: Some(new),
        })
        .await
        .unwrap();
    server.app.flush_store().unwrap();
    server.stop().await;

    // Started again on the same store: the samples are not loaded over the changes.
    let server = start_stored(&store, Arc::new(SystemClock)).await;
    let back = customer(&server, "C0000002").await.unwrap();
    assert_eq!(back.tier, "platinum");
    assert_eq!(back.tags, ["upgraded; by ops"]);
    assert_eq!(
        customer(&server, "C9000001").await.unwrap().name,
        "Ada Byron"
    );
    assert_eq!(server.app.router.directory().len(), 1_201);
}

fn start_error(store: &Path) -> String {
    let config = switchboard_config::parse(&stored_config(store), Path::new("test.toml")).unwrap();
    match App::with_store(config, &CustomerSource::Embedded, Arc::new(SystemClock)) {
        Err(e @ StartError::Store(_)) => e.to_string(),
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("started on {}", store.display()),
    }
}

#[test]
fn a_store_that_cannot_be_trusted_stops_the_start() {
    let dir = temp_dir("untrusted");
    let store = dir.join("switchboard.db");
    std::fs::write(&store, "not a database at all, but somebody's notes").unwrap();
    assert_eq!(
        start_error(&store),
        format!(
            "store: {}: not a Switchboard store (not an SQLite database); move it away or point the store elsewhere",
            store.display()
        )
    );
    // The file is left as it was.
    assert_eq!(
        std::fs::read_to_string(&store).unwrap(),
        "not a database at all, but somebody's notes"
    );
    // A folder that cannot be made.
    let blocked = dir.join("switchboard.db").join("data").join("s.db");
    assert!(
        start_error(&blocked).starts_with(&format!(
            "store: {}: cannot create the store's folder",
            dir.join("switchboard.db").join("data").display()
        )),
        "{}",
        start_error(&blocked)
    );
}

async fn import(
    server: &TestServer,
    chunks: &[&str],
) -> Result<pb::ImportCustomersResponse, tonic::Status> {
    let messages: Vec<pb::ImportCustomersRequest> = chunks
        .iter()
        .map(|c| pb::ImportCustomersRequest {
            csv_chunk: c.as_bytes().to_vec(),
        })
        .collect();
    server
        .admin()
        .await
        .import_customers(tokio_stream::iter(messages))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn imported_customers_route_at_once_and_are_stored() {
    let store = temp_dir("import").join("s.db");
    let server = start_stored(&store, Arc::new(SystemClock)).await;
    // Chunks may split a line anywhere.
    let r = import(
        &server,
        &[
            "customer_id,name,phone_numbers,tier\nN1,Ada Byron,+1312555",
            "0170,platinum\nN2,Bad,+13125550171,golden\nN3,Charles,+13125550172,gold\n",
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.imported, 2);
    assert_eq!(
        r.rejected,
        [pb::RowError {
            line: 3,
            message: "tier: unknown tier \"golden\" (did you mean \"gold\"?)".into()
        }]
    );
    // Ada is platinum at once: straight to the platinum desk.
    let d = server
        .routing()
        .await
        .route_call(pb::RouteCallRequest {
            call_id: "ada".into(),
            caller: "+13125550170".into(),
            dialed: PLATINUM_LINE.into(),
            switch_id: "sbc-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.reason, "rule platinum-desk");
    server.stop().await;
    let server = start_stored(&store, Arc::new(SystemClock)).await;
    assert_eq!(customer(&server, "N1").await.unwrap().tier, "platinum");
    assert!(customer(&server, "N2").await.is_none());
}

#[tokio::test]
async fn an_import_with_a_header_that_is_not_ours_is_refused_whole() {
    let server = start().await;
    let status = import(&server, &["id,phone\nN1,+13125550170\n"])
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("csv_chunk: header: unknown column \"id\""),
        "{}",
        status.message()
    );
    assert!(customer(&server, "N1").await.is_none());
    // Without a store the import still loads the directory.
    let r = import(&server, &["customer_id,phone_numbers\nN1,+13125550170\n"])
        .await
        .unwrap();
    assert_eq!((r.imported, r.rejected.len()), (1, 0));
}

#[tokio::test]
async fn what_callers_taught_is_remembered_after_a_restart() {
    let store = temp_dir("learned").join("s.db");
    let server = start_stored(&store, Arc::new(SystemClock)).await;
    let mut routing = server.routing().await;
    let call = |id: &str| pb::RouteCallRequest {
        call_id: id.into(),
        caller: "+13125550199".into(),
        dialed: MAIN_LINE.into(),
        switch_id: "sbc-1".into(),
        ..Default::default()
    };
    // An unknown caller asks for "a friendly chat" (1), which is remembered.
    let d = routing.route_call(call("l1")).await.unwrap().into_inner();
    assert_eq!(d.reason, "line entry");
    press(&mut routing, "l1", "1").await;
    server.app.flush_store().unwrap();
    server.stop().await;

    let server = start_stored(&store, Arc::new(SystemClock)).await;
    let mut routing = server.routing().await;
    let d = routing.route_call(call("l2")).await.unwrap().into_inner();
    // Known again: a repeat caller who likes a friendly chat skips the menu.
    assert_eq!(
        d.matched_rules,
        ["repeat-callers-first", "friendly-chat"],
        "{d:?}"
    );
    assert!(d.menu_skipped);
}
