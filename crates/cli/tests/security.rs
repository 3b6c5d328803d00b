//! The daemon's security from outside: mutual TLS with certificates made at test time
//! (a CA, the server's certificate and clients'; no private key is checked in),
//! certificate rotation without a restart, the refusal to serve other hosts in the
//! clear, tokens made with `switchboard token`, and the audit trail read back with
//! `switchboard audit`.

mod support;

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, RevocationReason, RevokedCertParams, SanType,
    SerialNumber,
};
use support::*;
use switchboard_proto::v1::{self as pb, admin_client::AdminClient, routing_client::RoutingClient};
use tonic::{
    Code,
    transport::{Certificate, Channel, ClientTlsConfig, Identity},
};

/// A certificate authority made for one test.
struct Ca(CertifiedIssuer<'static, KeyPair>);

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        Ca(CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap())
    }

    fn pem(&self) -> String {
        self.0.pem()
    }

    /// A certificate revocation list (PEM) of this CA revoking the certificates with
    /// these serial numbers.
    fn revocation_list(&self, number: u64, revoked: &[u64]) -> String {
        let params = CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2020, 1, 1),
            next_update: rcgen::date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|serial| RevokedCertParams {
                    serial_number: SerialNumber::from(*serial),
                    revocation_time: rcgen::date_time_ymd(2021, 1, 1),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        params.signed_by(&self.0).unwrap().pem().unwrap()
    }

    /// A client certificate and key (PEM) named `name`, with this serial number.
    fn client(&self, name: &str, serial: u64) -> (String, String) {
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.serial_number = Some(SerialNumber::from(serial));
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.0).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A certificate and key (PEM) with these DNS names and common name.
    fn issue(
        &self,
        names: &[&str],
        common_name: &str,
        usage: ExtendedKeyUsagePurpose,
    ) -> (String, String) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap();
        if names.contains(&"localhost") {
            params
                .subject_alt_names
                .push(SanType::IpAddress([127, 0, 0, 1].into()));
        }
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.0).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// The server's certificate and key and the clients' CA in `tls/` beside the config at
/// `path`, where the tests' `[security]` sections name them; the folder.
fn tls_files(path: &Path, server: &(String, String), ca: &Ca) -> PathBuf {
    let dir = path.parent().unwrap().join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("server.crt"), &server.0).unwrap();
    std::fs::write(dir.join("server.key"), &server.1).unwrap();
    std::fs::write(dir.join("clients-ca.crt"), ca.pem()).unwrap();
    dir
}

/// Writes `text` to `path` in one step (a rename), as a deploy tool would.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The test's config with `security` appended.
fn secured_config(name: &str, security: &str) -> PathBuf {
    let path = config(name, &[]);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(security);
    std::fs::write(&path, text).unwrap();
    path
}

/// A TLS channel to `address` trusting `ca`, with a client certificate when given.
async fn tls_channel(
    address: &str,
    ca: &str,
    client: Option<&(String, String)>,
) -> Result<Channel, String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("localhost");
    if let Some((cert, key)) = client {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    let channel = Channel::from_shared(format!("https://{address}"))
        .unwrap()
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(channel)
}

/// A TLS client config trusting `ca` only, speaking `alpn`.
fn client_config(ca: &str, alpn: &[u8]) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    Arc::new(config)
}

/// `GET path` over HTTPS/1.1: the whole response as text.
async fn https_get(address: &str, path: &str, ca: &str) -> String {
    use rustls::pki_types::ServerName;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(client_config(ca, b"http/1.1"))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// The certificate the server presents to a new connection now.
async fn presented(address: &str, ca: &str) -> Vec<u8> {
    use rustls::pki_types::ServerName;
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(client_config(ca, b"h2"))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// Runs the binary with `args` to the end.
fn switchboard(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .env_remove("SWITCHBOARD_TOKEN")
        .output()
        .unwrap()
}

/// `switchboard token new` on the tokens file of the config at `path`.
fn token_new(path: &Path, role: &str, name: &str, extra: &[&str]) -> std::process::Output {
    let config = path.to_str().unwrap();
    let mut args = vec![
        "token", "new", "--config", config, "--role", role, "--name", name,
    ];
    args.extend_from_slice(extra);
    switchboard(&args)
}

fn route(id: &str) -> pb::RouteCallRequest {
    support::route(id, 1)
}

#[tokio::test]
async fn mutual_tls_names_each_client_by_its_certificate_and_a_rotated_certificate_is_served_without_a_restart()
 {
    let ca = Ca::new("Switchboard test CA");
    let other_ca = Ca::new("Someone else's CA");
    let server_cert = ca.issue(
        &["localhost"],
        "switchboard",
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let client = ExtendedKeyUsagePurpose::ClientAuth;
    let sbc1 = ca.issue(&["sbc-1.example"], "sbc-1.example", client.clone());
    // Known by its common name alone.
    let ops = ca.issue(&[], "ops", client.clone());
    let stranger = ca.issue(&["stranger.example"], "stranger", client.clone());
    let forged = other_ca.issue(&["sbc-1.example"], "sbc-1.example", client);

    let path = secured_config(
        "mtls",
        r#"
[security]
tls_cert = "tls/server.crt"
tls_key = "tls/server.key"
client_ca = "tls/clients-ca.crt"
metrics_tls = true

[[security.clients]]
name = "sbc-1.example"
role = "switch"
switches = ["sbc-1"]

[[security.clients]]
name = "ops"
role = "admin"
"#,
    );
    let tls_dir = tls_files(&path, &server_cert, &ca);
    let (server, metrics, log) = serve_with_metrics(&path);
    assert!(
        log.iter()
            .any(|l| l.contains("tls=true") && l.contains("authentication=true")),
        "{log:#?}"
    );
    let address = server.address.clone();
    // A client that connects and never starts its handshake.
    let mut silent = tokio::net::TcpStream::connect(&address).await.unwrap();
    // The metrics port speaks HTTPS with the same certificate.
    let scraped = https_get(&metrics, "/metrics", &ca.pem()).await;
    assert!(scraped.starts_with("HTTP/1.1 200"), "{scraped}");
    assert!(scraped.contains("switchboard_"), "{scraped}");

    // The switch's certificate: routing for its switch id, nothing of Admin.
    let switch = tls_channel(&address, &ca.pem(), Some(&sbc1)).await.unwrap();
    let mut routing = RoutingClient::new(switch.clone());
    routing.route_call(route("tls-1")).await.unwrap();
    let e = AdminClient::new(switch)
        .get_queue_stats(pb::GetQueueStatsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert!(
        e.message().contains(
            "needs role supervisor or admin; switch \"sbc-1.example\" (certificate) has role switch"
        ),
        "{e:?}"
    );

    // The admin's certificate, known by its common name.
    let admin = tls_channel(&address, &ca.pem(), Some(&ops)).await.unwrap();
    AdminClient::new(admin)
        .get_queue_stats(pb::GetQueueStatsRequest::default())
        .await
        .unwrap();

    // Signed by the CA but not a configured client: told so.
    let unknown = tls_channel(&address, &ca.pem(), Some(&stranger))
        .await
        .unwrap();
    let e = AdminClient::new(unknown)
        .get_queue_stats(pb::GetQueueStatsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
    assert!(e.message().contains("stranger.example"), "{e:?}");

    // A certificate from another CA, no certificate, or no TLS: no request gets through.
    for client in [Some(&forged), None] {
        let refused = match tls_channel(&address, &ca.pem(), client).await {
            Err(_) => true,
            Ok(channel) => AdminClient::new(channel)
                .get_queue_stats(pb::GetQueueStatsRequest::default())
                .await
                .is_err(),
        };
        assert!(refused, "a client without a good certificate got in");
    }
    let plain = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await;
    if let Ok(plain) = plain {
        assert!(
            AdminClient::new(plain)
                .get_queue_stats(pb::GetQueueStatsRequest::default())
                .await
                .is_err()
        );
    }

    // Failed handshakes are counted, and said in the log.
    let scraped = https_get(&metrics, "/metrics", &ca.pem()).await;
    let failures = scraped
        .lines()
        .find_map(|l| l.strip_prefix("switchboard_tls_handshake_failures_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .expect("the handshake failure counter");
    assert!(failures >= 1.0, "{failures}");
    let logged = server.log.recv_timeout(Duration::from_secs(5));
    let mut log = Vec::new();
    if let Ok(line) = logged {
        log.push(line);
    }
    while let Ok(line) = server.log.try_recv() {
        log.push(line);
    }
    assert!(
        log.iter()
            .any(|l| l.contains("WARN") && l.contains("TLS handshake failed")),
        "{log:#?}"
    );

    // Rotation: a new certificate on disk is served to new connections within seconds;
    // the connection already open carries on.
    let before = presented(&address, &ca.pem()).await;
    let rotated = ca.issue(
        &["localhost"],
        "switchboard-rotated",
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    replace(&tls_dir.join("server.key"), &rotated.1);
    replace(&tls_dir.join("server.crt"), &rotated.0);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = presented(&address, &ca.pem()).await;
        if now != before {
            use rustls::pki_types::{CertificateDer, pem::PemObject};
            assert_eq!(
                now,
                CertificateDer::from_pem_slice(rotated.0.as_bytes())
                    .unwrap()
                    .to_vec()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rotated certificate was not served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    routing.route_call(route("tls-2")).await.unwrap();
    let fresh = tls_channel(&address, &ca.pem(), Some(&sbc1)).await.unwrap();
    RoutingClient::new(fresh)
        .route_call(route("tls-3"))
        .await
        .unwrap();

    // The silent client is let go once the handshake time (10 s) is up: it holds no
    // connection slot for ever.
    use tokio::io::AsyncReadExt;
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(30), silent.read(&mut byte))
        .await
        .expect("a silent client is disconnected");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

/// Whether a client with `cert` gets a request through.
async fn served(address: &str, ca: &str, cert: &(String, String)) -> bool {
    match tls_channel(address, ca, Some(cert)).await {
        Err(_) => false,
        Ok(channel) => AdminClient::new(channel)
            .get_queue_stats(pb::GetQueueStatsRequest::default())
            .await
            .is_ok(),
    }
}

#[tokio::test]
async fn a_revoked_client_certificate_is_refused_and_a_new_revocation_list_is_read_without_a_restart()
 {
    let ca = Ca::new("Switchboard test CA");
    let server_cert = ca.issue(
        &["localhost"],
        "switchboard",
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let old_ops = ca.client("ops", 1001);
    let new_ops = ca.client("ops", 1002);
    let path = secured_config(
        "crl",
        r#"
[security]
tls_cert = "tls/server.crt"
tls_key = "tls/server.key"
client_ca = "tls/clients-ca.crt"
client_crl = "tls/clients.crl"

[[security.clients]]
name = "ops"
role = "admin"
"#,
    );
    let tls_dir = tls_files(&path, &server_cert, &ca);
    std::fs::write(tls_dir.join("clients.crl"), ca.revocation_list(1, &[])).unwrap();
    let (server, _) = serve(&path);
    let address = server.address.clone();
    assert!(served(&address, &ca.pem(), &old_ops).await);
    assert!(served(&address, &ca.pem(), &new_ops).await);

    // The old certificate is revoked: refused at the handshake within seconds, while
    // its successor (same name, another serial) carries on.
    replace(
        &tls_dir.join("clients.crl"),
        &ca.revocation_list(2, &[1001]),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while served(&address, &ca.pem(), &old_ops).await {
        assert!(
            Instant::now() < deadline,
            "the revoked certificate still gets in"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served(&address, &ca.pem(), &new_ops).await);
}

#[test]
fn a_server_other_hosts_can_reach_refuses_to_start_without_tls_and_authentication() {
    let run = |args: &[&str]| {
        let out = switchboard(args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // --listen on the embedded default.
    let (code, stderr) = run(&["serve", "--listen", "0.0.0.0:0", "--metrics-listen", "off"]);
    assert_eq!(code, Some(64), "{stderr}");
    assert!(
        stderr.contains(
            "0.0.0.0:0 is reachable from other hosts, so it needs TLS and authentication"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("security.insecure = true"), "{stderr}");

    // The config's own address: refused by `check` and by `serve` alike.
    let path = config(
        "open-wide",
        &[("listen = \"127.0.0.1:50051\"", "listen = \"0.0.0.0:50051\"")],
    );
    let path = path.to_str().unwrap();
    let (code, stderr) = run(&["check", path]);
    assert_eq!(code, Some(1), "{stderr}");
    let (code, stderr) = run(&["serve", "--config", path, "--metrics-listen", "off"]);
    assert_eq!(code, Some(64), "{stderr}");
    assert!(
        stderr.contains("server.listen: 0.0.0.0:50051 is reachable from other hosts"),
        "{stderr}"
    );

    // TLS files that cannot be used stop the start, naming the file.
    let path = secured_config(
        "missing-cert",
        "\n[security]\ntls_cert = \"tls/none.crt\"\ntls_key = \"tls/none.key\"\ntokens = \"tokens.toml\"\n",
    );
    let (code, stderr) = run(&[
        "serve",
        "--config",
        path.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "off",
    ]);
    assert_eq!(code, Some(78), "{stderr}");
    assert!(stderr.contains("tls/none.crt"), "{stderr}");
    // `check` reads them too, so a deploy can be checked before it is started.
    let out = switchboard(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tls/none.crt"));
}

#[test]
fn insecure_serves_in_the_clear_and_says_so_at_start() {
    let path = secured_config("insecure", "\n[security]\ninsecure = true\n");
    let (_server, log) = serve(&path);
    assert!(
        log.iter().any(|l| l.contains("WARN")
            && l.contains("anyone who reaches the server is an administrator")),
        "{log:#?}"
    );
}

#[tokio::test]
async fn tokens_made_with_the_cli_let_their_holders_in_and_admin_changes_are_audited() {
    let path = secured_config("tokens", "\n[security]\ntokens = \"tokens.toml\"\n");
    let token = |role: &str, name: &str, extra: &[&str]| {
        let out = token_new(&path, role, name, extra);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("shown once"), "{stderr}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let admin = token("admin", "ops", &[]);
    let supervisor = token("supervisor", "floor", &[]);
    let _desk = token("desk", "desk-3", &["--agent", "a-1"]);
    let stored = std::fs::read_to_string(path.parent().unwrap().join("tokens.toml")).unwrap();
    for t in [&admin, &supervisor] {
        assert!(
            !stored.contains(&t[t.len() - 32..]),
            "a token stored in the clear"
        );
    }
    let bad = token_new(&path, "switch", "sbc", &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("a switch needs the switch ids it routes for")
    );
    let listed = switchboard(&["token", "list", "--config", path.to_str().unwrap()]);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("desk-3") && listed.contains("agents a-1"),
        "{listed}"
    );

    let (server, _) = serve(&path);
    // `report` needs a token now: refused without, served with a supervisor's.
    let report = |token: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command.args(["report", "--server", &format!("http://{}", server.address)]);
        command.env_remove("SWITCHBOARD_TOKEN");
        if let Some(t) = token {
            command.env("SWITCHBOARD_TOKEN", t);
        }
        command.output().unwrap()
    };
    let refused = report(None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no credentials"));
    assert!(report(Some(&supervisor)).status.success());

    // An admin raises a customer; `switchboard audit` shows who did it.
    let channel = channel(&server.address).await;
    let header: tonic::metadata::MetadataValue<_> = format!("Bearer {admin}").parse().unwrap();
    let mut ops = AdminClient::with_interceptor(channel, move |mut r: tonic::Request<()>| {
        r.metadata_mut().insert("authorization", header.clone());
        Ok(r)
    });
    let mut james = ops
        .get_customer(pb::GetCustomerRequest {
            key: Some(pb::get_customer_request::Key::PhoneNumber(
                "+12125550102".into(),
            )),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    james.tier = "platinum".into();
    ops.upsert_customer(pb::UpsertCustomerRequest {
        customer: Some(james),
    })
    .await
    .unwrap();
    let audit = switchboard(&["audit", "--config", path.to_str().unwrap(), "--since", "1h"]);
    let shown = String::from_utf8(audit.stdout).unwrap();
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stderr)
    );
    assert!(shown.contains("admin \"ops\" (token "), "{shown}");
    assert!(
        shown.contains("switchboard.v1.Admin/UpsertCustomer"),
        "{shown}"
    );
    assert!(shown.contains("tier gold -> platinum"), "{shown}");
    assert!(!shown.contains(&admin[admin.len() - 32..]), "{shown}");
    let log = drop_and_log(server);
    assert!(
        !log.contains(&admin[admin.len() - 32..]),
        "a token in the log"
    );
}

/// Stops the server and returns everything it logged after it started.
fn drop_and_log(server: Server) -> String {
    server.signal("TERM");
    server.rest_of_log().join("\n")
}
