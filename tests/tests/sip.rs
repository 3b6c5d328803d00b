//! The SIP redirect server on real sockets: INVITEs over UDP and TCP from a configured
//! peer become routing decisions answered with 302s, retransmissions and ACKs are
//! handled, and what is not a peer's or not SIP gets silence.

use std::{net::SocketAddr, time::Duration};

use switchboard_config::DEFAULT_CONFIG;
use switchboard_proto::v1 as pb;
use switchboard_sip::{Message, header::Name, parse};
use switchboard_tests::*;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, UdpSocket},
};

const SIP: &str = r#"
[sip]
listen_udp = "127.0.0.1:0"
listen_tcp = "127.0.0.1:0"
ivr_uri = "sip:ivr-{menu}@media.example"
hold_uri = "sip:hold-{queue}@media.example"
voicemail_uri = "sip:vm-{queue}@media.example"

[[sip.peers]]
address = "127.0.0.1"
switch_id = "kamailio-1"
"#;

async fn sip_server(sip: &str) -> (TestServer, SocketAddr, SocketAddr) {
    let server = start_with(&format!("{DEFAULT_CONFIG}\n{sip}")).await;
    for _ in 0..200 {
        if let Some(switchboard_server::SipAddresses {
            udp: Some(udp),
            tcp: Some(tcp),
            ..
        }) = server.app.sip_addresses()
        {
            return (server, udp, tcp);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the SIP listeners were not bound within 2 s");
}

/// An INVITE from `caller` to `dialed` with this Call-ID and branch, sent from `local`.
fn invite(
    local: SocketAddr,
    transport: &str,
    branch: &str,
    call_id: &str,
    caller: &str,
    to: &str,
) -> String {
    format!(
        "INVITE {to} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local};branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{caller}@carrier.example>;tag=f-{branch}\r\n\
         To: <{to}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:caller@{local}>\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn ack(local: SocketAddr, branch: &str, call_id: &str, to_header: &str) -> String {
    format!(
        "ACK sip:{MAIN_LINE}@switchboard.example SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:x@carrier.example>;tag=f-{branch}\r\n\
         To: {to_header}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 ACK\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn main_line() -> String {
    format!("sip:{MAIN_LINE}@switchboard.example;user=phone")
}

/// The status code and the named header of a response.
fn code_and(response: &[u8], name: Name<'_>) -> (u16, String) {
    let Ok(Message::Response(r)) = parse(response) else {
        panic!("not a response: {}", String::from_utf8_lossy(response))
    };
    (r.code, r.headers.first(name).unwrap_or_default().to_owned())
}

struct Phone {
    socket: UdpSocket,
    server: SocketAddr,
}

impl Phone {
    async fn new(server: SocketAddr) -> Phone {
        Phone {
            socket: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            server,
        }
    }

    fn local(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    async fn send(&self, text: &str) {
        self.socket
            .send_to(text.as_bytes(), self.server)
            .await
            .unwrap();
    }

    /// The next datagram within `wait`, if any.
    async fn receive_within(&self, wait: Duration) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 65_535];
        match tokio::time::timeout(wait, self.socket.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
            _ => None,
        }
    }

    async fn receive(&self) -> Vec<u8> {
        self.receive_within(Duration::from_secs(5))
            .await
            .expect("an answer within 5 s")
    }

    /// Sends an INVITE and returns the code and Contact of its answer.
    async fn call(&self, branch: &str, call_id: &str, caller: &str, to: &str) -> (u16, String) {
        self.send(&invite(self.local(), "UDP", branch, call_id, caller, to))
            .await;
        code_and(&self.receive().await, Name::Contact)
    }
}

#[tokio::test]
async fn an_unknown_caller_is_sent_to_the_main_menus_ivr_which_continues_the_same_call() {
    let (server, udp, _) = sip_server(SIP).await;
    let phone = Phone::new(udp).await;
    let (code, contact) = phone
        .call(
            "z9hG4bK-u1",
            "unknown-1@carrier",
            "+13125550177",
            &main_line(),
        )
        .await;
    assert_eq!(code, 302);
    assert_eq!(
        contact,
        "<sip:ivr-main@media.example;sb-call=unknown-1%40carrier;sb-menu=main;sb-prompt=main-menu;sb-attempt=1>"
    );
    // The IVR answers the menu for that call id; the call was routed for the SIP peer's
    // switch.
    let mut routing = server.routing().await;
    let d = press(&mut routing, "unknown-1@carrier", "3").await;
    assert!(
        matches!(&d.action, Some(pb::decision::Action::Enqueue(e)) if e.queue == "billing"),
        "{d:?}"
    );
    assert_eq!(
        server.app.router.switch_of("unknown-1@carrier").as_deref(),
        Some("kamailio-1")
    );
}

#[tokio::test]
async fn a_ready_agent_takes_a_known_zero_presser_at_once_and_the_302_names_the_agents_endpoint() {
    let (server, udp, _) = sip_server(SIP).await;
    server
        .agents()
        .await
        .set_agent_state(agent_with("ana", "general", 5))
        .await
        .unwrap();
    let phone = Phone::new(udp).await;
    let (code, contact) = phone
        .call(
            "z9hG4bK-t1",
            "tom-1@carrier",
            TOM_ALWAYS_OPERATOR,
            &main_line(),
        )
        .await;
    assert_eq!((code, contact.as_str()), (302, "<sip:ana@pbx.example>"));
    // The assignment is also pending for the peer's switch, as for any switch.
    let mut stream = server
        .routing()
        .await
        .watch_assignments(pb::WatchAssignmentsRequest {
            switch_id: "kamailio-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let a = next(&mut stream).await;
    assert_eq!(
        (a.call_id.as_str(), a.agent_id.as_str()),
        ("tom-1@carrier", "ana")
    );

    // With nobody free, the next one waits: the hold URI with its place and wait.
    let (code, contact) = phone
        .call(
            "z9hG4bK-t2",
            "tom-2@carrier",
            TOM_ALWAYS_OPERATOR,
            &main_line(),
        )
        .await;
    assert_eq!(code, 302);
    assert!(
        contact.starts_with(
            "<sip:hold-operator@media.example;sb-call=tom-2%40carrier;sb-queue=operator;sb-position=1"
        ),
        "{contact}"
    );
}

#[tokio::test]
async fn a_non_member_on_the_platinum_line_is_sent_to_the_main_line_and_the_invite_that_follows_gets_the_menu()
 {
    let (server, udp, _) = sip_server(SIP).await;
    let phone = Phone::new(udp).await;
    let platinum = format!("sip:{PLATINUM_LINE}@switchboard.example");
    let (code, contact) = phone
        .call("z9hG4bK-p1", "emma-1@carrier", EMMA_STANDARD, &platinum)
        .await;
    assert_eq!(
        (code, contact.as_str()),
        (
            302,
            "<sip:+18005550100@switchboard.example;sb-call=emma-1%40carrier>"
        )
    );
    // A switch that follows the 302 with a new call (a new Call-ID, the Contact as its
    // Request-URI) continues the same call: the main menu, once.
    let follow = contact.trim_matches(['<', '>']);
    let (code, contact) = phone
        .call("z9hG4bK-p2", "b2bua-leg-2", EMMA_STANDARD, follow)
        .await;
    assert_eq!(code, 302);
    assert!(
        contact.starts_with("<sip:ivr-main@media.example;sb-call=emma-1%40carrier;"),
        "{contact}"
    );
    assert!(!server.app.router.knows_call("b2bua-leg-2"));

    // A platinum member stays on the platinum line: straight to the platinum desk.
    let (code, contact) = phone
        .call("z9hG4bK-p3", "maria-1@carrier", MARIA_PLATINUM, &platinum)
        .await;
    assert_eq!(code, 302);
    assert!(
        contact.starts_with("<sip:hold-platinum_desk@media.example;sb-call=maria-1%40carrier;"),
        "{contact}"
    );
}

#[tokio::test]
async fn over_udp_a_retransmitted_invite_gets_the_same_answer_and_the_302_is_resent_until_the_ack()
{
    let (server, udp, _) = sip_server(SIP).await;
    let phone = Phone::new(udp).await;
    let text = invite(
        phone.local(),
        "UDP",
        "z9hG4bK-r1",
        "retx-1@carrier",
        "+13125550178",
        &main_line(),
    );
    phone.send(&text).await;
    let first = phone.receive().await;
    phone.send(&text).await;
    let again = phone.receive().await;
    assert_eq!(first, again, "a retransmission gets the same bytes");
    assert_eq!(server.app.router.calls_in_progress(), 1);
    // No ACK yet: the 302 comes again by itself (timer G, 500 ms first).
    let resent = phone
        .receive_within(Duration::from_secs(3))
        .await
        .expect("the 302 resent without an ACK");
    assert_eq!(resent, first);
    let (_, to) = code_and(&first, Name::To);
    phone
        .send(&ack(phone.local(), "z9hG4bK-r1", "retx-1@carrier", &to))
        .await;
    // Drain what was already on its way, then nothing more comes.
    while phone
        .receive_within(Duration::from_millis(300))
        .await
        .is_some()
    {}
    assert!(
        phone
            .receive_within(Duration::from_millis(4_500))
            .await
            .is_none(),
        "the 302 is not resent after the ACK"
    );
}

#[tokio::test]
async fn over_tcp_requests_are_framed_and_answered_on_the_connection() {
    let (_server, _, tcp) = sip_server(SIP).await;
    let mut stream = TcpStream::connect(tcp).await.unwrap();
    let local = stream.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:switchboard.example SIP/2.0\r\n\
         Via: SIP/2.0/TCP {local};branch=z9hG4bK-o1\r\n\
         From: <sip:kamailio@127.0.0.1>;tag=o\r\n\
         To: <sip:switchboard.example>\r\n\
         Call-ID: ping-1\r\n\
         CSeq: 10 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    );
    // Two requests in one write, the second split over two writes.
    let second = invite(
        local,
        "TCP",
        "z9hG4bK-c1",
        "tcp-1@carrier",
        "+13125550179",
        &main_line(),
    );
    let (head, tail) = second.split_at(40);
    stream
        .write_all(format!("{options}{head}").as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    stream.write_all(tail.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4_096];
    while got.windows(4).filter(|w| w == b"\r\n\r\n").count() < 2 {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("answers within 5 s")
            .unwrap();
        assert!(n > 0, "the connection stays open");
        got.extend_from_slice(&buf[..n]);
    }
    let split = switchboard_sip::frame(&got).unwrap().unwrap();
    let (code, allow) = code_and(&got[..split], Name::Other("Allow"));
    assert_eq!(
        (code, allow.as_str()),
        (200, "INVITE, ACK, CANCEL, OPTIONS")
    );
    let (code, contact) = code_and(&got[split..], Name::Contact);
    assert_eq!(code, 302);
    assert!(
        contact.starts_with("<sip:ivr-main@media.example;sb-call=tcp-1%40carrier"),
        "{contact}"
    );
}

#[tokio::test]
async fn another_switchs_call_id_is_refused_403_and_nothing_of_it_is_told() {
    let (server, udp, _) = sip_server(SIP).await;
    route_main(&server, "taken-1", EMMA_STANDARD).await;
    let phone = Phone::new(udp).await;
    let (code, contact) = phone
        .call("z9hG4bK-x1", "taken-1", EMMA_STANDARD, &main_line())
        .await;
    assert_eq!((code, contact.as_str()), (403, ""));
    let text = invite(
        phone.local(),
        "UDP",
        "z9hG4bK-x2",
        "taken-1",
        EMMA_STANDARD,
        &main_line(),
    );
    phone.send(&text).await;
    let (_, warning) = code_and(&phone.receive().await, Name::Other("Warning"));
    assert!(
        warning.contains("taken-1") && !warning.contains("main"),
        "{warning}"
    );
}

#[tokio::test]
async fn a_closed_queues_caller_is_sent_to_its_voicemail() {
    let (server, udp, _) = sip_server(SIP).await;
    server
        .admin()
        .await
        .close_queue(pb::CloseQueueRequest {
            queue: "operator".into(),
            reason: "fire drill".into(),
        })
        .await
        .unwrap();
    let phone = Phone::new(udp).await;
    let (code, contact) = phone
        .call(
            "z9hG4bK-v1",
            "vm-1@carrier",
            TOM_ALWAYS_OPERATOR,
            &main_line(),
        )
        .await;
    assert_eq!(
        (code, contact.as_str()),
        (
            302,
            "<sip:vm-operator@media.example;sb-call=vm-1%40carrier;sb-queue=operator>"
        )
    );
}

#[tokio::test]
async fn what_is_not_a_peers_or_not_sip_gets_silence_and_malformed_sip_gets_400() {
    let elsewhere = SIP.replace("address = \"127.0.0.1\"", "address = \"10.9.9.9\"");
    let (server, udp, tcp) = sip_server(&elsewhere).await;
    let phone = Phone::new(udp).await;
    phone
        .send(&invite(
            phone.local(),
            "UDP",
            "z9hG4bK-n1",
            "stranger-1",
            EMMA_STANDARD,
            &main_line(),
        ))
        .await;
    assert!(
        phone
            .receive_within(Duration::from_millis(500))
            .await
            .is_none()
    );
    assert!(!server.app.router.knows_call("stranger-1"));
    // A TCP connection from a stranger is closed at once.
    let mut stream = TcpStream::connect(tcp).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
    drop(server);

    let (server, udp, _) = sip_server(SIP).await;
    let phone = Phone::new(udp).await;
    for junk in [
        &b"\x00\x01\x02binary"[..],
        b"INVITE sip:x SIP/2.0\r\nVia: broken",
        b"hello",
    ] {
        phone.socket.send_to(junk, udp).await.unwrap();
    }
    assert!(
        phone
            .receive_within(Duration::from_millis(500))
            .await
            .is_none()
    );
    let no_call_id = invite(
        phone.local(),
        "UDP",
        "z9hG4bK-m1",
        "x",
        EMMA_STANDARD,
        &main_line(),
    )
    .replace("Call-ID: x\r\n", "");
    phone.send(&no_call_id).await;
    let (code, warning) = code_and(&phone.receive().await, Name::Other("Warning"));
    assert_eq!(code, 400);
    assert!(warning.contains("missing Call-ID header"), "{warning}");
    // The server still answers a good INVITE after all that.
    let (code, _) = phone
        .call("z9hG4bK-m2", "after-junk", EMMA_STANDARD, &main_line())
        .await;
    assert_eq!(code, 302);
    assert!(server.app.router.knows_call("after-junk"));
}

#[tokio::test]
async fn a_sip_address_already_taken_stops_the_start_naming_it() {
    let taken = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let at = taken.local_addr().unwrap();
    let text = format!(
        "{DEFAULT_CONFIG}\n{}",
        SIP.replace(
            "listen_udp = \"127.0.0.1:0\"",
            &format!("listen_udp = \"{at}\"")
        )
    );
    let config = switchboard_config::parse(&text, std::path::Path::new("test.toml")).unwrap();
    let (app, _) = switchboard_server::App::new(
        config,
        &switchboard_server::CustomerSource::None,
        std::sync::Arc::new(switchboard_server::SystemClock),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = switchboard_server::serve(app, listener, std::future::pending())
        .await
        .expect_err("the start fails");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("sip.listen_udp {at}: ")),
        "{message}"
    );
}

#[tokio::test]
async fn the_sip_front_counts_requests_answers_and_what_it_dropped() {
    let (server, udp, _) = sip_server(SIP).await;
    let (server, metrics) = scraped(server).await;
    let phone = Phone::new(udp).await;
    let text = invite(
        phone.local(),
        "UDP",
        "z9hG4bK-c1",
        "count-1",
        EMMA_STANDARD,
        &main_line(),
    );
    phone.send(&text).await;
    let answer = phone.receive().await;
    phone.send(&text).await;
    phone.receive().await;
    let (_, to) = code_and(&answer, Name::To);
    phone
        .send(&ack(phone.local(), "z9hG4bK-c1", "count-1", &to))
        .await;
    phone.socket.send_to(b"\x00junk", udp).await.unwrap();
    let (code, _) = phone
        .call("z9hG4bK-c2", "count-2", EMMA_STANDARD, "mailto:x@y")
        .await;
    assert_eq!(code, 400);
    // Until the counts show the ACK (sent last but one) and the junk.
    let mut seen = scrape(metrics).await;
    for _ in 0..100 {
        if seen.get("switchboard_sip_dropped_total{reason=\"unreadable\"}") == Some(&1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        seen = scrape(metrics).await;
    }
    let value = |series: &str| seen.get(series).copied().unwrap_or(0.0);
    assert_eq!(
        value("switchboard_sip_requests_total{method=\"INVITE\"}"),
        3.0
    );
    assert_eq!(value("switchboard_sip_requests_total{method=\"ACK\"}"), 1.0);
    assert_eq!(value("switchboard_sip_responses_total{code=\"302\"}"), 2.0);
    assert_eq!(value("switchboard_sip_responses_total{code=\"400\"}"), 1.0);
    assert_eq!(
        value("switchboard_sip_dropped_total{reason=\"unreadable\"}"),
        1.0
    );
    drop(server);
}

#[tokio::test]
async fn a_peer_that_hangs_up_mid_message_leaves_the_server_answering_everyone_else() {
    let (server, udp, tcp) = sip_server(SIP).await;
    // Half an INVITE, then the connection is gone.
    let mut gone = TcpStream::connect(tcp).await.unwrap();
    let local = gone.local_addr().unwrap();
    let text = invite(
        local,
        "TCP",
        "z9hG4bK-g1",
        "gone-1",
        EMMA_STANDARD,
        &main_line(),
    );
    gone.write_all(&text.as_bytes()[..text.len() / 2])
        .await
        .unwrap();
    drop(gone);
    assert!(
        !server.app.router.knows_call("gone-1"),
        "half a message routes nothing"
    );
    // A new connection and a datagram are answered as before.
    let mut stream = TcpStream::connect(tcp).await.unwrap();
    let local = stream.local_addr().unwrap();
    let text = invite(
        local,
        "TCP",
        "z9hG4bK-g2",
        "after-gone",
        EMMA_STANDARD,
        &main_line(),
    );
    stream.write_all(text.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4_096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        assert!(n > 0, "the connection stays open");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(code_and(&got, Name::Contact).0, 302);
    let phone = Phone::new(udp).await;
    let (code, _) = phone
        .call("z9hG4bK-g3", "after-gone-udp", EMMA_STANDARD, &main_line())
        .await;
    assert_eq!(code, 302);
}
