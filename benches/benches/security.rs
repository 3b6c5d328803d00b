//! What security costs.
//!
//! `cargo bench --bench security` (`-- --quick` for a short look)
//!
//! Two parts:
//! - **The authorization layer per request** (criterion): the method's rule, the bearer
//!   token's hash and constant-time compare, the role and the rate limit, as the layer
//!   runs them before any service; on a server without security; and refusals.
//!   Budget: well under a microsecond.
//! - **RouteCall over the network**: the real server (shipped config, store off) with no
//!   security, with tokens in plaintext, and with TLS and tokens, each client on its own
//!   connection with one request in flight, at concurrency 1 and 16. Windows rotate
//!   between the three; medians of the rounds and ratios to the open server are printed.

use std::{path::Path, sync::Arc, time::Duration};

use criterion::Criterion;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};
use switchboard_config::{
    DEFAULT_CONFIG,
    security::{Grant, Role, Security},
};
use switchboard_proto::v1::{self as pb, routing_client::RoutingClient};
use switchboard_server::{
    App, CustomerSource, SystemClock,
    security::{Guard, tokens},
};
use tokio::net::TcpListener;
use tonic::{
    codegen::http::{HeaderMap, HeaderValue, header::AUTHORIZATION},
    metadata::{Ascii, MetadataValue},
    service::interceptor::InterceptedService,
    transport::{Certificate, Channel, ClientTlsConfig},
};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MAIN_LINE: &str = "+18005550100";

fn temp_dir() -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("switchboard-bench-security-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A tokens file with a switch's and an admin's token; the tokens.
fn tokens_in(dir: &Path) -> (String, String) {
    let file = dir.join("tokens.toml");
    let switch = tokens::create(
        &file,
        "sbc-1",
        &Grant::new(Role::Switch, vec!["bench".into()], vec![]).unwrap(),
    )
    .unwrap()
    .token;
    let admin = tokens::create(
        &file,
        "ops",
        &Grant::new(Role::Admin, vec![], vec![]).unwrap(),
    )
    .unwrap()
    .token;
    (switch, admin)
}

fn layer(c: &mut Criterion, dir: &Path, switch: &str) {
    let with_tokens = Security {
        tokens: Some(dir.join("tokens.toml")),
        ..Security::default()
    };
    let limited = Security {
        rate_limit: Some(1_000_000),
        ..with_tokens.clone()
    };
    let open = Guard::load(&Security::default()).unwrap();
    let guarded = Guard::load(&with_tokens).unwrap();
    let rate_limited = Guard::load(&limited).unwrap();
    let mut bearer = HeaderMap::new();
    bearer.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {switch}")).unwrap(),
    );
    let route = "/switchboard.v1.Routing/RouteCall";
    let mut g = c.benchmark_group("authorize");
    g.bench_function("open server", |b| {
        b.iter(|| open.check(std::hint::black_box(route), &bearer).unwrap())
    });
    g.bench_function("token, switch on RouteCall", |b| {
        b.iter(|| guarded.check(std::hint::black_box(route), &bearer).unwrap())
    });
    g.bench_function("of which the token's SHA-256", |b| {
        use sha2::Digest;
        b.iter(|| sha2::Sha256::digest(std::hint::black_box(switch.as_bytes())))
    });
    g.bench_function("refused: no credentials", |b| {
        let none = HeaderMap::new();
        b.iter(|| {
            guarded
                .check(std::hint::black_box(route), &none)
                .unwrap_err()
        })
    });
    g.bench_function("refused: wrong role", |b| {
        b.iter(|| {
            guarded
                .check(
                    std::hint::black_box("/switchboard.v1.Admin/ReloadConfig"),
                    &bearer,
                )
                .unwrap_err()
        })
    });
    g.finish();
    // Within the limit: each timed run is a part of the burst the limit allows (a
    // second's worth), and the limit refills between runs, untimed.
    let mut g = c.benchmark_group("authorize");
    g.sample_size(10);
    g.bench_function("token and rate limit", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let run = left.min(200_000);
                std::thread::sleep(Duration::from_millis(250));
                let start = std::time::Instant::now();
                for _ in 0..run {
                    rate_limited
                        .check(std::hint::black_box(route), &bearer)
                        .unwrap();
                }
                total += start.elapsed();
                left -= run;
            }
            total
        })
    });
    g.finish();
}

/// The real server on the shipped config with `security` (TOML lines), store off.
async fn start(security: &str) -> String {
    let text = format!("{DEFAULT_CONFIG}\n[store]\nenabled = false\n{security}\n");
    let config = switchboard_config::parse(&text, Path::new("bench.toml")).expect("bench config");
    let (app, _) = App::new(config, &CustomerSource::Embedded, Arc::new(SystemClock)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        switchboard_server::serve(app, listener, std::future::pending())
            .await
            .unwrap();
    });
    address
}

#[derive(Clone)]
struct Target {
    address: String,
    token: Option<MetadataValue<Ascii>>,
    ca: Option<String>,
}

type Client = RoutingClient<InterceptedService<Channel, Bearer>>;

#[derive(Clone)]
struct Bearer(Option<MetadataValue<Ascii>>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut r: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            r.metadata_mut().insert("authorization", v.clone());
        }
        Ok(r)
    }
}

async fn client(t: &Target) -> Client {
    let channel = match &t.ca {
        None => Channel::from_shared(format!("http://{}", t.address))
            .unwrap()
            .connect()
            .await
            .unwrap(),
        Some(ca) => Channel::from_shared(format!("https://{}", t.address))
            .unwrap()
            .tls_config(
                ClientTlsConfig::new()
                    .ca_certificate(Certificate::from_pem(ca))
                    .domain_name("localhost"),
            )
            .unwrap()
            .connect()
            .await
            .unwrap(),
    };
    RoutingClient::with_interceptor(channel, Bearer(t.token.clone()))
}

/// `clients` clients with one RouteCall in flight each, for `window`: requests a second.
async fn drive(t: &Target, tag: &str, clients: usize, window: Duration) -> (f64, Vec<Duration>) {
    let mut connected = Vec::new();
    for _ in 0..clients {
        connected.push(client(t).await);
    }
    let tag = tag.to_owned();
    switchboard_benches::load::closed_loop(connected, window, move |mut client, c, n| {
        let request = pb::RouteCallRequest {
            call_id: format!("{tag}-{c}-{n}"),
            caller: format!("+121255501{:02}", n % 8 + 1),
            dialed: MAIN_LINE.into(),
            switch_id: "bench".into(),
            ..Default::default()
        };
        async move {
            client.route_call(request).await.expect("RouteCall");
            client
        }
    })
    .await
}

fn pki(dir: &Path) -> String {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "bench CA");
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf.subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &ca).unwrap();
    std::fs::write(dir.join("server.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    ca.pem()
}

fn over_the_network(dir: &Path, switch: &str, quick: bool) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let ca = pki(dir);
        let tokens = format!(
            "tokens = {:?}",
            dir.join("tokens.toml").display().to_string()
        );
        let tls = format!(
            "tls_cert = {:?}\ntls_key = {:?}",
            dir.join("server.crt").display().to_string(),
            dir.join("server.key").display().to_string()
        );
        let bearer: MetadataValue<Ascii> = format!("Bearer {switch}").parse().unwrap();
        let targets = [
            (
                "open",
                Target {
                    address: start("").await,
                    token: None,
                    ca: None,
                },
            ),
            (
                "token",
                Target {
                    address: start(&format!("[security]\n{tokens}")).await,
                    token: Some(bearer.clone()),
                    ca: None,
                },
            ),
            (
                "tls+token",
                Target {
                    address: start(&format!("[security]\n{tokens}\n{tls}")).await,
                    token: Some(bearer),
                    ca: Some(ca),
                },
            ),
        ];
        let (rounds, window) = if quick {
            (1, Duration::from_millis(500))
        } else {
            (5, Duration::from_secs(2))
        };
        println!("RouteCall, {rounds} round(s) of {window:?} per server and concurrency:");
        println!(
            "{:>4} {:>10} {:>10} {:>9} {:>9}",
            "c", "server", "req/s", "p50 us", "p99 us"
        );
        for clients in [1, 16] {
            for (_, t) in &targets {
                drive(t, "warm", clients, window / 4).await;
            }
            let mut rps: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
            let mut lat: Vec<Vec<Duration>> = vec![Vec::new(); targets.len()];
            for round in 0..rounds {
                for k in 0..targets.len() {
                    let i = (round + k) % targets.len();
                    let (r, l) = drive(
                        &targets[i].1,
                        &format!("c{clients}-r{round}"),
                        clients,
                        window,
                    )
                    .await;
                    rps[i].push(r);
                    lat[i].extend(l);
                }
            }
            let medians = switchboard_benches::load::medians(&mut rps);
            for (i, (name, _)) in targets.iter().enumerate() {
                lat[i].sort_unstable();
                let p = |q: f64| {
                    let n = lat[i].len();
                    lat[i][((n as f64 * q) as usize).min(n - 1)].as_secs_f64() * 1e6
                };
                println!(
                    "{clients:>4} {name:>10} {:>10.0} {:>9.1} {:>9.1}   {:.3} of open",
                    medians[i],
                    p(0.5),
                    p(0.99),
                    medians[i] / medians[0]
                );
            }
        }
    });
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let dir = temp_dir();
    let (switch, _admin) = tokens_in(&dir);
    let mut c = Criterion::default().configure_from_args();
    layer(&mut c, &dir, &switch);
    c.final_summary();
    over_the_network(&dir, &switch, quick);
    let _ = std::fs::remove_dir_all(&dir);
}
