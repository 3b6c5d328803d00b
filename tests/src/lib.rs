//! One way to start the real server for end-to-end tests: on 127.0.0.1:0, with the
//! embedded default config and sample customers unless told otherwise, stopped when the
//! handle drops.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use switchboard_config::DEFAULT_CONFIG;
use switchboard_core::Millis;
use switchboard_proto::v1::{
    self as pb, admin_client::AdminClient, agents_client::AgentsClient,
    routing_client::RoutingClient,
};
use switchboard_server::{App, Clock, CustomerSource, SystemClock};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::oneshot,
    task::JoinHandle,
};
use tokio_stream::StreamExt;
use tonic::{Streaming, transport::Channel};

/// The main line and the platinum line of the shipped config.
pub const MAIN_LINE: &str = "+18005550100";
pub const PLATINUM_LINE: &str = "+18005550199";

/// Sample customers (personas in `config/customers.csv`).
pub const MARIA_PLATINUM: &str = "+12125550101";
pub const JAMES_GOLD: &str = "+12125550102";
pub const PRIYA_CONCIERGE: &str = "+12125550103";
pub const TOM_ALWAYS_OPERATOR: &str = "+12125550104";
pub const GRACE_GET_IT_DONE: &str = "+12125550105";
pub const LUIS_FRIENDLY_CHAT: &str = "+12125550106";
pub const EMMA_STANDARD: &str = "+12125550107";

#[derive(Debug)]
pub struct TestServer {
    pub addr: SocketAddr,
    pub app: App,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<switchboard_server::Stopped>>,
}

/// The server on the shipped config and sample customers.
pub async fn start() -> TestServer {
    start_with(DEFAULT_CONFIG).await
}

/// The server on `config` (TOML text) with the sample customers.
pub async fn start_with(config: &str) -> TestServer {
    start_with_clock(config, Arc::new(SystemClock)).await
}

/// A clock the test moves by hand, so time-dependent behaviour is tested without sleeps.
#[derive(Debug)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(ManualClock(AtomicU64::new(Millis::now().0)))
    }

    /// A clock stopped at `utc`, e.g. "2026-11-23T15:00:00Z".
    pub fn at(utc: &str) -> Arc<Self> {
        let ts: jiff::Timestamp = utc.parse().expect("an RFC 3339 time");
        Arc::new(ManualClock(AtomicU64::new(
            u64::try_from(ts.as_millisecond()).unwrap(),
        )))
    }

    pub fn advance(&self, by: Duration) {
        self.0
            .fetch_add(u64::try_from(by.as_millis()).unwrap(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        Millis(self.0.load(Ordering::SeqCst))
    }
}

/// The server on `config` with the sample customers and the given clock.
pub async fn start_with_clock(config: &str, clock: Arc<dyn Clock>) -> TestServer {
    let config = switchboard_config::parse(config, Path::new("test.toml"))
        .unwrap_or_else(|e| panic!("test config invalid: {:#?}", e.lines()));
    let (app, report) = App::new(config, &CustomerSource::Embedded, clock).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    serve(app).await
}

/// The server on the config file or directory at `path` (which it reloads from), with
/// the sample customers and the given clock.
pub async fn start_from_path(path: &Path, clock: Arc<dyn Clock>) -> TestServer {
    let config = switchboard_config::load(path)
        .unwrap_or_else(|e| panic!("test config invalid: {:#?}", e.lines()));
    let (app, _) = App::new(config, &CustomerSource::Embedded, clock).unwrap();
    serve(app.with_config_path(path.to_path_buf())).await
}

/// The server on the shipped config with its store at `store` (the sample customers
/// fill it on the first start), stopped when the handle drops.
pub async fn start_stored(store: &Path, clock: Arc<dyn Clock>) -> TestServer {
    start_stored_config(&stored_config(store), clock).await
}

/// The server on `config` (which names its store), as [`start_stored`].
pub async fn start_stored_config(config: &str, clock: Arc<dyn Clock>) -> TestServer {
    let config = switchboard_config::parse(config, Path::new("test.toml"))
        .unwrap_or_else(|e| panic!("test config invalid: {:#?}", e.lines()));
    let (app, loaded) = App::with_store(config, &CustomerSource::Embedded, clock).unwrap();
    assert!(loaded.is_some(), "the store is on");
    serve(app).await
}

/// The shipped config with its store at `store`.
pub fn stored_config(store: &Path) -> String {
    with_store(DEFAULT_CONFIG, store)
}

/// `config` with its store at `store`.
pub fn with_store(config: &str, store: &Path) -> String {
    format!(
        "{config}\n[store]\npath = {:?}\ncommit_delay = \"10ms\"\n",
        store.display().to_string()
    )
}

/// A fresh, empty folder for one test's files.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-tests-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Serves an app built by the test (its own config or store), stopped when the handle
/// drops.
pub async fn serve_app(app: App) -> TestServer {
    serve(app).await
}

async fn serve(app: App) -> TestServer {
    serve_on(app, TcpListener::bind("127.0.0.1:0").await.unwrap())
}

/// Serves an app on a listener the test made, stopped when the handle drops.
pub fn serve_on(app: App, listener: TcpListener) -> TestServer {
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let served = app.clone();
    let task = tokio::spawn(async move {
        switchboard_server::serve(served, listener, async {
            let _ = rx.await;
        })
        .await
        .unwrap()
    });
    TestServer {
        addr,
        app,
        shutdown: Some(tx),
        task: Some(task),
    }
}

impl TestServer {
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub async fn routing(&self) -> RoutingClient<Channel> {
        RoutingClient::new(self.channel().await)
    }

    pub async fn admin(&self) -> AdminClient<Channel> {
        AdminClient::new(self.channel().await)
    }

    pub async fn agents(&self) -> AgentsClient<Channel> {
        AgentsClient::new(self.channel().await)
    }

    /// Stops the server as a signal would and waits for it to finish; how it stopped.
    pub async fn stop(mut self) -> switchboard_server::Stopped {
        self.begin_stop();
        self.task
            .take()
            .expect("stopped once")
            .await
            .expect("the server task")
    }

    /// Starts the shutdown (as SIGTERM would) without waiting for it.
    pub fn begin_stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Waits for a shutdown begun with [`TestServer::begin_stop`] to finish.
    pub async fn stopped(mut self) -> switchboard_server::Stopped {
        self.task
            .take()
            .expect("stopped once")
            .await
            .expect("the server task")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A call from `caller` on the main line, through switch `sbc-1`; the request must
/// succeed.
pub async fn route_main(server: &TestServer, id: &str, caller: &str) -> pb::Decision {
    route_on(server, id, caller, pb::Channel::Voice).await
}

/// A contact on `channel` from `caller` (a number, or an address on the written
/// channels) on the main line, through switch `sbc-1`; the request must succeed.
pub async fn route_on(
    server: &TestServer,
    id: &str,
    caller: &str,
    channel: pb::Channel,
) -> pb::Decision {
    server
        .routing()
        .await
        .route_call(pb::RouteCallRequest {
            call_id: id.into(),
            caller: caller.into(),
            dialed: MAIN_LINE.into(),
            channel: channel.into(),
            switch_id: "sbc-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// Switch `sbc-1`'s assignment stream.
pub async fn assignments(server: &TestServer) -> Streaming<pb::Assignment> {
    server
        .routing()
        .await
        .watch_assignments(pb::WatchAssignmentsRequest {
            switch_id: "sbc-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// Reports `kind` for `call` (with its agent, when it names one); it must be accepted.
pub async fn report(server: &TestServer, call: &str, kind: pb::CallEventKind, agent: &str) {
    server
        .routing()
        .await
        .report_call_event(pb::CallEvent {
            call_id: call.into(),
            kind: kind.into(),
            agent_id: agent.into(),
            ..Default::default()
        })
        .await
        .unwrap();
}

/// An agent logging in available with one skill at `proficiency`.
pub fn agent_with(id: &str, skill: &str, proficiency: u32) -> pb::SetAgentStateRequest {
    pb::SetAgentStateRequest {
        agent_id: id.into(),
        state: pb::AgentState::Available.into(),
        skills: vec![pb::Skill {
            name: skill.into(),
            proficiency,
        }],
        endpoint: format!("sip:{id}@pbx.example"),
        ..Default::default()
    }
}

/// An agent as `GetAgent` shows them; the agent must exist.
pub async fn agent_view(server: &TestServer, id: &str) -> pb::Agent {
    server
        .agents()
        .await
        .get_agent(pb::GetAgentRequest {
            agent_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// The caller at a menu answers `digits`; the request must succeed.
pub async fn press(c: &mut RoutingClient<Channel>, id: &str, digits: &str) -> pb::Decision {
    c.submit_input(pb::SubmitInputRequest {
        call_id: id.into(),
        input: Some(pb::submit_input_request::Input::Digits(digits.into())),
    })
    .await
    .unwrap()
    .into_inner()
}

/// The next message on a switch's assignment stream, within 10 seconds.
pub async fn next(stream: &mut Streaming<pb::Assignment>) -> pb::Assignment {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an assignment within 10 s")
        .expect("the stream is open")
        .expect("not an error")
}

/// `GET path` over plain HTTP/1.1; the status line and the body.
pub async fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

/// `server` with its metrics served on a port of their own.
pub async fn scraped(server: TestServer) -> (TestServer, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics = listener.local_addr().unwrap();
    tokio::spawn(switchboard_server::serve_metrics(
        server.app.clone(),
        listener,
        std::future::pending(),
    ));
    (server, metrics)
}

/// Each sample line's value by its name and labels as written (`name{a="b"}`).
pub fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The metrics served at `addr`, by series.
pub async fn scrape(addr: SocketAddr) -> HashMap<String, f64> {
    let (status, body) = get(addr, "/metrics").await;
    assert!(status.contains("200"), "{status}");
    samples(&body)
}
