//! RouteCalls over 127.0.0.1 on one thread, client and server in one process: a fixed
//! workload for counting instructions with `valgrind --tool=callgrind`, which is
//! repeatable where timings on a shared machine are not.
//!
//! `cargo bench --bench route_instructions --no-run`, then run the binary it names under
//! callgrind with a number of calls, e.g. 500 and 2,500: the difference over 2,000 is
//! the cost of one call, start-up taken out. `SWITCHBOARD_BENCH_TOKENS=1` serves with
//! bearer tokens (`[security]`), the client sending a switch's token.

use std::{path::Path, sync::Arc};

use switchboard_config::DEFAULT_CONFIG;
use switchboard_proto::v1::{self as pb, routing_client::RoutingClient};
use switchboard_server::{App, CustomerSource, SystemClock};
use tokio::net::TcpListener;
use tonic::transport::Channel;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let calls: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000);
    let dir = std::env::temp_dir().join(format!("switchboard-instructions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (security, token) = if std::env::var_os("SWITCHBOARD_BENCH_TOKENS").is_some() {
        let token = tokens(&dir);
        let file = dir.join("tokens.toml").display().to_string();
        (format!("[security]\ntokens = {file:?}\n"), Some(token))
    } else {
        (String::new(), None)
    };
    let text = format!("{DEFAULT_CONFIG}\n[store]\nenabled = false\n{security}");
    let config = switchboard_config::parse(&text, Path::new("bench.toml")).expect("bench config");
    let (app, _) = App::new(config, &CustomerSource::Embedded, Arc::new(SystemClock)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(switchboard_server::serve(
            app,
            listener,
            std::future::pending(),
        ));
        let channel = Channel::from_shared(format!("http://{address}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = RoutingClient::new(channel);
        for n in 0..calls {
            let mut request = tonic::Request::new(pb::RouteCallRequest {
                call_id: format!("i-{n}"),
                caller: format!("+121255501{:02}", n % 8 + 1),
                dialed: "+18005550100".into(),
                switch_id: "bench".into(),
                ..Default::default()
            });
            if let Some(t) = &token {
                request
                    .metadata_mut()
                    .insert("authorization", format!("Bearer {t}").parse().unwrap());
            }
            client.route_call(request).await.expect("RouteCall");
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// A tokens file in `dir` with a switch's token for switch id `bench`; the token.
fn tokens(dir: &Path) -> String {
    use switchboard_config::security::{Grant, Role};
    let grant = Grant::new(Role::Switch, vec!["bench".into()], vec![]).unwrap();
    switchboard_server::security::tokens::create(&dir.join("tokens.toml"), "bench", &grant)
        .unwrap()
        .token
}
