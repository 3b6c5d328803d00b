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
