use std::net::SocketAddr;

use proptest::prelude::*;

use crate::{
    ParseError,
    header::{CSeq, Name, NameAddr, Via, privacy_hides_caller},
    message::{MAX_HEADERS, MAX_MESSAGE, Message, Method, frame, parse},
    redirect::{Answer, Destination, Handled, Invite, RedirectServer},
    transaction::{T1_MS, T2_MS, T4_MS},
    uri::{Scheme, Uri, escape_param},
};

const SOURCE: &str = "192.0.2.10:40000";

fn source() -> SocketAddr {
    SOURCE.parse().unwrap()
}

/// An INVITE as a switch sends it, with `extra` header lines after the usual ones.
fn invite(branch: &str, call_id: &str, extra: &str) -> String {
    format!(
        "INVITE sip:+18005550100@switchboard.example;user=phone SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5070;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: \"Ada\" <sip:+12125550101@carrier.example>;tag=from1\r\n\
         To: <sip:+18005550100@switchboard.example>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         {extra}\
         Contact: <sip:ada@192.0.2.10:5070>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: 4\r\n\r\nv=0\n"
    )
}

fn request_like(method: &str, branch: &str, call_id: &str) -> String {
    format!(
        "{method} sip:+18005550100@switchboard.example SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5070;branch={branch}\r\n\
         From: <sip:+12125550101@carrier.example>;tag=from1\r\n\
         To: <sip:+18005550100@switchboard.example>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn reply(handled: Handled) -> (Destination, String) {
    match handled {
        Handled::Reply(to, bytes) => (to, String::from_utf8(bytes.to_vec()).unwrap()),
        other => panic!("expected a reply, got {other:?}"),
    }
}

fn header<'a>(response: &'a str, name: &str) -> Vec<&'a str> {
    response
        .split("\r\n")
        .filter_map(|l| l.split_once(": "))
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .collect()
}

fn redirect_to(uri: &str) -> impl FnOnce(&Invite<'_>) -> Answer + '_ {
    move |_| Answer::Redirect(uri.to_owned())
}

#[test]
fn an_invite_with_compact_and_folded_headers_is_read_whole_with_its_body() {
    let text = "\r\nINVITE sip:100@example.com SIP/2.0\r\n\
                v: SIP/2.0/UDP host.example:5060;branch=z9hG4bKa\r\n\
                f: <sip:ada@example.com>\r\n\
                \x20;tag=x\r\n\
                t: <sip:100@example.com>\r\n\
                i: abc@host\r\n\
                CSeq: 7 INVITE\r\n\
                l: 5\r\n\r\nhelloextra";
    let Message::Request(r) = parse(text.as_bytes()).unwrap() else {
        panic!("a request")
    };
    assert_eq!(r.method, Method::Invite);
    assert_eq!(r.uri, "sip:100@example.com");
    assert_eq!(r.headers.first(Name::CallId), Some("abc@host"));
    assert_eq!(
        r.headers.first(Name::From),
        Some("<sip:ada@example.com> ;tag=x")
    );
    // Bytes past Content-Length in a datagram are dropped.
    assert_eq!(r.body, b"hello");
    let from = NameAddr::parse(r.headers.first(Name::From).unwrap(), "From").unwrap();
    assert_eq!(from.tag, Some("x"));
}

#[test]
fn what_is_not_sip_is_refused_with_an_error_that_names_it_and_repeats_little() {
    let long = "x".repeat(5_000);
    let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: y\r\n")).collect();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"\x00\x01\x02\xff binary".to_vec(),
            "ends before its blank line",
        ),
        (
            b"INVITE sip:a@b SIP/2.0\r\nVia: x".to_vec(),
            "ends before its blank line",
        ),
        (
            b"INVITE  sip:a@b SIP/2.0\r\n\r\n".to_vec(),
            "bad start line",
        ),
        (
            format!("{long} sip:a@b SIP/2.0\r\n\r\n").into_bytes(),
            "bad start line",
        ),
        (
            b"INVITE sip:a@b SIP/3.0\r\n\r\n".to_vec(),
            "unsupported version",
        ),
        (
            b"INVITE sip:a@b SIP/2.0\r\nno colon here\r\n\r\n".to_vec(),
            "bad header line",
        ),
        (
            b"INVITE sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n".to_vec(),
            "bad header line",
        ),
        (
            b"INVITE sip:a@b SIP/2.0\r\n folded first\r\n\r\n".to_vec(),
            "bad header line",
        ),
        (
            b"INVITE sip:a@b SIP/2.0\r\nX: a\x01b\r\n\r\n".to_vec(),
            "bad header line",
        ),
        (
            b"INVITE sip:a@b SIP/2.0\r\nX: \xff\r\n\r\n".to_vec(),
            "not UTF-8",
        ),
        (
            format!("INVITE sip:a@b SIP/2.0\r\n{many}\r\n").into_bytes(),
            "more than 64 header lines",
        ),
        (
            b"INVITE sip:a@b SIP/2.0\r\nl: 10\r\n\r\nshort".to_vec(),
            "over the 5 bytes",
        ),
        (
            b"INVITE sip:a@b SIP/2.0\r\nl: -1\r\n\r\n".to_vec(),
            "bad Content-Length",
        ),
        (
            b"INVITE sip:a@b SIP/2.0\r\nl: 99999\r\n\r\n".to_vec(),
            "over the limit",
        ),
        (vec![b'A'; MAX_MESSAGE + 1], "over the limit"),
        (b"SIP/2.0 99 Low\r\n\r\n".to_vec(), "bad start line"),
    ];
    for (data, expected) in cases {
        let error = parse(&data).expect_err(expected).to_string();
        assert!(
            error.contains(expected),
            "{error:?} should say {expected:?}"
        );
        assert!(error.len() < 120, "{error:?} repeats too much of the input");
    }
}

#[test]
fn a_stream_is_cut_into_messages_by_content_length_which_it_requires() {
    let one = request_like("OPTIONS", "z9hG4bK1", "c1");
    let mut two = one.clone().into_bytes();
    two.extend_from_slice(b"\r\n");
    two.extend_from_slice(invite("z9hG4bK2", "c2", "").as_bytes());
    assert_eq!(frame(&two).unwrap(), Some(one.len()));
    // The second message, after a keep-alive's blank line, is cut whole too.
    let rest = &two[one.len()..];
    let second = frame(rest).unwrap().unwrap();
    assert_eq!(&rest[second - 4..second], b"v=0\n");
    // Not yet whole: more bytes are needed.
    assert_eq!(frame(&two[..one.len() - 3]).unwrap(), None);
    assert_eq!(frame(&rest[..second - 1]).unwrap(), None);
    // Without Content-Length a stream cannot be read on.
    let bare = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n";
    assert_eq!(
        frame(bare),
        Err(ParseError::Missing {
            header: "Content-Length"
        })
    );
    // Headers that never end are cut off at the limit.
    let endless = vec![b'a'; MAX_MESSAGE + 1];
    assert!(matches!(frame(&endless), Err(ParseError::TooLarge { .. })));
}

#[test]
fn vias_cseqs_and_addresses_are_read_and_bad_ones_refused() {
    let via = Via::parse("SIP/2.0/UDP [2001:db8::1]:5070;rport;branch=z9hG4bKx;received=1.2.3.4")
        .unwrap();
    assert_eq!(
        (via.transport, via.host, via.port),
        ("UDP", "[2001:db8::1]", Some(5070))
    );
    assert!(via.rport);
    assert_eq!(via.rfc3261_branch(), Some("z9hG4bKx"));
    let old = Via::parse("SIP / 2.0 / TCP host.example;branch=1234").unwrap();
    assert_eq!(
        (old.transport, old.port, old.rfc3261_branch()),
        ("TCP", None, None)
    );
    for bad in [
        "SIP/2.0/UDP",
        "SIP/1.0/UDP host",
        "SIP/2.0/UDP host:0",
        "SIP/2.0/UDP host:99999",
        "SIP/2.0/UDP ho st",
        "SIP/2.0/UDP [zz::1]",
        "SIP/2.0/UDP host;branch=",
    ] {
        assert!(Via::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        CSeq::parse("4711 INVITE").unwrap(),
        CSeq {
            number: 4711,
            method: "INVITE"
        }
    );
    for bad in ["INVITE", "x INVITE", "4294967296 INVITE", "1 IN VITE?"] {
        assert!(CSeq::parse(bad).is_err(), "{bad:?}");
    }
    let a = NameAddr::parse("\"Doe, \\\"J\\\" <x>\" <sip:j@d.example>;tag=9", "From").unwrap();
    assert_eq!((a.uri, a.tag), ("sip:j@d.example", Some("9")));
    let bare = NameAddr::parse("sip:j@d.example;tag=5", "To").unwrap();
    assert_eq!((bare.uri, bare.tag), ("sip:j@d.example", Some("5")));
    assert!(NameAddr::parse("<sip:j@d.example", "To").is_err());
    assert!(NameAddr::parse("<sip:j@d.example> junk", "To").is_err());
    assert!(privacy_hides_caller("id"));
    assert!(privacy_hides_caller("header; user"));
    assert!(!privacy_hides_caller("none"));
}

#[test]
fn uris_give_their_user_as_a_number_and_their_host() {
    let u = Uri::parse("sip:%2B1212555%200101;npdi@gw.example:5060;user=phone?X=1").unwrap();
    assert_eq!(
        (u.scheme, u.user.as_str(), u.host, u.user_phone),
        (Scheme::Sip, "+1212555 0101;npdi", "gw.example", true)
    );
    let t = Uri::parse("tel:+1-212-555-0101;phone-context=example.com").unwrap();
    assert_eq!(
        (t.scheme, t.user.as_str(), t.host),
        (Scheme::Tel, "+1-212-555-0101", "")
    );
    let v6 = Uri::parse("sips:agent:secret@[2001:db8::2]:5061").unwrap();
    assert_eq!((v6.user.as_str(), v6.host), ("agent", "[2001:db8::2]"));
    for bad in [
        "mailto:a@b",
        "sip:",
        "sip:user@",
        "tel:",
        "sip:%zz@h",
        "nocolon",
    ] {
        assert!(Uri::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(escape_param("call 1;x=\"y\""), "call%201%3Bx%3D%22y%22");
}

#[test]
fn an_invite_is_decided_once_and_answered_302_with_the_contact_and_its_headers_copied() {
    let mut server = RedirectServer::new(1);
    let text = invite("z9hG4bKone", "call-1@carrier", "");
    let mut seen = None;
    let (to, response) = reply(server.handle(text.as_bytes(), source(), false, 0, |i| {
        seen = Some((
            i.call_id.to_owned(),
            i.caller.clone(),
            i.dialed.clone(),
            i.host.to_owned(),
        ));
        Answer::Redirect("sip:agent-7@pbx.example".into())
    }));
    let (call_id, caller, dialed, host) = seen.unwrap();
    assert_eq!(call_id, "call-1@carrier");
    assert_eq!(caller, "+12125550101");
    assert_eq!(dialed, "+18005550100");
    assert_eq!(host, "switchboard.example");
    // No rport: the response goes to the source address at the Via's port.
    assert_eq!(to, Destination::Udp("192.0.2.10:5070".parse().unwrap()));
    assert!(response.starts_with("SIP/2.0 302 Moved Temporarily\r\n"));
    assert_eq!(header(&response, "Contact"), ["<sip:agent-7@pbx.example>"]);
    assert_eq!(header(&response, "Call-ID"), ["call-1@carrier"]);
    assert_eq!(header(&response, "CSeq"), ["1 INVITE"]);
    assert_eq!(
        header(&response, "Via"),
        ["SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKone"]
    );
    assert_eq!(
        header(&response, "From"),
        ["\"Ada\" <sip:+12125550101@carrier.example>;tag=from1"]
    );
    let to_header = header(&response, "To")[0];
    assert!(
        to_header.starts_with("<sip:+18005550100@switchboard.example>;tag=sb"),
        "{to_header}"
    );
    assert_eq!(header(&response, "Content-Length"), ["0"]);
    // The response parses as SIP.
    assert!(matches!(parse(response.as_bytes()), Ok(Message::Response(r)) if r.code == 302));

    // The same INVITE again (a retransmission) gets the same bytes, without a decision.
    let (_, again) = reply(server.handle(text.as_bytes(), source(), false, 100, |_| {
        panic!("a retransmission is not decided again")
    }));
    assert_eq!(again, response);
    assert_eq!(server.counts().retransmissions, 1);
    assert_eq!(server.counts().invites, 1);
}

#[test]
fn over_udp_the_302_is_sent_again_at_doubling_intervals_until_the_ack_which_is_absorbed() {
    let mut server = RedirectServer::new(1);
    let text = invite("z9hG4bKg", "call-g", "");
    let (_, response) =
        reply(server.handle(text.as_bytes(), source(), false, 0, redirect_to("sip:a@b")));
    let mut sent_at = Vec::new();
    let mut now = 0;
    while now <= 9_000 {
        for (to, bytes) in server.due(now) {
            assert_eq!(to, "192.0.2.10:5070".parse().unwrap());
            assert_eq!(String::from_utf8(bytes.to_vec()).unwrap(), response);
            sent_at.push(now);
        }
        now += 100;
    }
    // Timer G: T1, then doubling up to T2.
    assert_eq!(sent_at, [T1_MS, 3 * T1_MS, 7 * T1_MS, 7 * T1_MS + T2_MS]);
    let ack = request_like("ACK", "z9hG4bKg", "call-g");
    assert_eq!(
        server.handle(ack.as_bytes(), source(), false, now, |_| unreachable!()),
        Handled::Quiet
    );
    // Nothing more is sent, and the ACK's own retransmissions are absorbed for T4.
    assert!(
        (now..now + 60_000)
            .step_by(100)
            .all(|t| server.due(t).is_empty())
    );
    assert_eq!(
        server.handle(
            ack.as_bytes(),
            source(),
            false,
            now + T4_MS - 100,
            |_| unreachable!()
        ),
        Handled::Quiet
    );
    assert_eq!(server.transactions(), 0);
    assert_eq!(server.unacknowledged(), 0);
}

#[test]
fn without_an_ack_the_302_is_given_up_at_timer_h_and_counted() {
    let mut server = RedirectServer::new(1);
    let text = invite("z9hG4bKh", "call-h", "");
    server.handle(text.as_bytes(), source(), false, 0, redirect_to("sip:a@b"));
    let mut sends = 0;
    for t in (0..=64 * T1_MS + 1_000).step_by(50) {
        sends += server.due(t).len();
    }
    // G at 0.5, 1.5, 3.5, 7.5, then every 4 s until H at 32 s.
    assert_eq!(sends, 4 + 6);
    assert_eq!(server.unacknowledged(), 1);
    assert_eq!(server.transactions(), 0);
}

#[test]
fn over_a_stream_nothing_is_retransmitted_and_rport_sends_to_the_source_port() {
    let mut server = RedirectServer::new(1);
    let text = invite("z9hG4bKt", "call-t", "").replace("5070;branch", "5070;rport;branch");
    let (to, response) =
        reply(server.handle(text.as_bytes(), source(), true, 0, redirect_to("sip:a@b")));
    assert_eq!(to, Destination::Stream);
    assert_eq!(
        header(&response, "Via"),
        ["SIP/2.0/UDP 192.0.2.10:5070;rport=40000;branch=z9hG4bKt;received=192.0.2.10"]
    );
    assert!((0..40_000).step_by(100).all(|t| server.due(t).is_empty()));
    // Over UDP with rport, the answer goes to the port it came from.
    let (to, _) = reply(server.handle(
        text.replace("bKt", "bKu").as_bytes(),
        source(),
        false,
        0,
        redirect_to("sip:a@b"),
    ));
    assert_eq!(to, Destination::Udp(source()));
}

#[test]
fn cancel_options_bye_and_other_methods_get_their_answers() {
    let mut server = RedirectServer::new(1);
    server.handle(
        invite("z9hG4bKc", "call-c", "").as_bytes(),
        source(),
        false,
        0,
        redirect_to("sip:a@b"),
    );
    let code = |s: &str| s.split(' ').nth(1).unwrap().to_owned();
    let cases = [
        (request_like("CANCEL", "z9hG4bKc", "call-c"), "200", None),
        (request_like("CANCEL", "z9hG4bKnone", "call-x"), "481", None),
        (
            request_like("OPTIONS", "z9hG4bKo", "ping"),
            "200",
            Some("INVITE, ACK, CANCEL, OPTIONS"),
        ),
        (request_like("BYE", "z9hG4bKb", "call-c"), "481", None),
        (
            request_like("REGISTER", "z9hG4bKr", "reg"),
            "405",
            Some("INVITE, ACK, CANCEL, OPTIONS"),
        ),
    ];
    for (text, expected, allow) in cases {
        let (_, response) =
            reply(server.handle(text.as_bytes(), source(), false, 10, |_| unreachable!()));
        assert_eq!(code(&response), expected, "{text}");
        assert_eq!(header(&response, "Allow").first().copied(), allow, "{text}");
    }
    // A stray ACK (of no transaction) and a response are met with silence.
    let stray = request_like("ACK", "z9hG4bKnothing", "x");
    assert_eq!(
        server.handle(stray.as_bytes(), source(), false, 10, |_| unreachable!()),
        Handled::Quiet
    );
    let response =
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKq\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        server.handle(response.as_bytes(), source(), false, 10, |_| unreachable!()),
        Handled::Quiet
    );
    assert_eq!(
        server.handle(b"\r\n\r\n", source(), false, 10, |_| unreachable!()),
        Handled::Quiet
    );
}

#[test]
fn a_request_missing_what_a_response_needs_gets_400_naming_it_and_no_decision() {
    let mut server = RedirectServer::new(1);
    let base = invite("z9hG4bKm", "call-m", "");
    let cases = [
        (
            base.replace("Call-ID: call-m\r\n", ""),
            "missing Call-ID header",
        ),
        (
            base.replace("CSeq: 1 INVITE", "CSeq: 1 OPTIONS"),
            "method differs",
        ),
        (
            base.replace("CSeq: 1 INVITE", "CSeq: one INVITE"),
            "bad CSeq header",
        ),
        (
            base.replace(
                "To: <sip:+18005550100@switchboard.example>",
                "To: <sip:broken",
            ),
            "bad To header",
        ),
        (
            base.replace("Call-ID: call-m", &format!("Call-ID: {}", "c".repeat(129))),
            "over 128 characters",
        ),
        (
            base.replace(
                "INVITE sip:+18005550100@switchboard.example;user=phone",
                "INVITE mailto:x@y",
            ),
            "scheme is not sip",
        ),
        (
            base.replace("Max-Forwards: 70", "Max-Forwards: many"),
            "bad Max-Forwards",
        ),
    ];
    for (n, (text, why)) in cases.into_iter().enumerate() {
        let text = text.replace("z9hG4bKm", &format!("z9hG4bKm{n}"));
        let (_, response) = reply(server.handle(text.as_bytes(), source(), false, 0, |_| {
            panic!("a malformed request is not routed")
        }));
        assert!(
            response.starts_with("SIP/2.0 400 Bad Request\r\n"),
            "{why}: {response}"
        );
        let warning = header(&response, "Warning");
        assert!(
            warning.len() == 1 && warning[0].contains(why),
            "{why}: {warning:?}"
        );
    }
    let hops = base
        .replace("Max-Forwards: 70", "Max-Forwards: 0")
        .replace("bKm", "bKhops");
    let (_, response) =
        reply(server.handle(hops.as_bytes(), source(), false, 0, |_| unreachable!()));
    assert!(response.starts_with("SIP/2.0 483 Too Many Hops\r\n"));
    // With no readable top Via there is nowhere to answer: silence.
    let no_via = base.replace("Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKm\r\n", "");
    assert!(matches!(
        server.handle(no_via.as_bytes(), source(), false, 0, |_| unreachable!()),
        Handled::Unanswerable(_)
    ));
    assert_eq!(server.counts().refused_malformed, 7);
}

#[test]
fn the_caller_comes_from_p_asserted_identity_else_from_and_a_withheld_one_is_anonymous() {
    let cases = [
        ("", "+12125550101"),
        (
            "P-Asserted-Identity: <tel:+12125550199>\r\n",
            "+12125550199",
        ),
        (
            "P-Asserted-Identity: \"X\" <sip:alice@x.example>, <tel:+12125550188>\r\n",
            "alice",
        ),
        (
            "P-Asserted-Identity: <tel:+12125550199>\r\nPrivacy: id\r\n",
            "anonymous",
        ),
        ("Privacy: none\r\n", "+12125550101"),
    ];
    for (n, (extra, caller)) in cases.into_iter().enumerate() {
        let mut server = RedirectServer::new(1);
        let text = invite(&format!("z9hG4bKp{n}"), "call-p", extra);
        let mut seen = String::new();
        server.handle(text.as_bytes(), source(), false, 0, |i| {
            seen = i.caller.clone();
            Answer::Redirect("sip:a@b".into())
        });
        assert_eq!(seen, caller, "{extra:?}");
    }
    let anonymous = invite("z9hG4bKanon", "call-a", "").replace(
        "\"Ada\" <sip:+12125550101@carrier.example>",
        "\"Anonymous\" <sip:anonymous@anonymous.invalid>",
    );
    let mut seen = String::new();
    RedirectServer::new(1).handle(anonymous.as_bytes(), source(), false, 0, |i| {
        seen = i.caller.clone();
        Answer::Redirect("sip:a@b".into())
    });
    assert_eq!(seen, "anonymous");
}

#[test]
fn a_refusal_carries_its_code_retry_after_and_warning() {
    let mut server = RedirectServer::new(1);
    let text = invite("z9hG4bKr", "call-r", "");
    let (_, response) =
        reply(
            server.handle(text.as_bytes(), source(), false, 0, |_| Answer::Refuse {
                code: 503,
                retry_after: Some(5),
                warning: Some("store \"down\"".into()),
            }),
        );
    assert!(response.starts_with("SIP/2.0 503 Service Unavailable\r\n"));
    assert_eq!(header(&response, "Retry-After"), ["5"]);
    assert_eq!(
        header(&response, "Warning"),
        ["399 switchboard \"store \\\"down\\\"\""]
    );
}

proptest! {
    #[test]
    fn no_bytes_make_the_server_panic(data in proptest::collection::vec(any::<u8>(), 0..2_000)) {
        let mut server = RedirectServer::new(1);
        let _ = server.handle(&data, source(), false, 0, redirect_to("sip:a@b"));
        let _ = frame(&data);
    }

    #[test]
    fn no_change_to_a_good_invite_makes_the_server_panic(
        cut in 0usize..700,
        at in 0usize..700,
        byte in any::<u8>(),
        stream in any::<bool>(),
    ) {
        let mut data = invite("z9hG4bKf", "call-f", "P-Asserted-Identity: <tel:+1>\r\n").into_bytes();
        let at = at.min(data.len() - 1);
        data[at] = byte;
        data.truncate(cut.max(1).min(data.len()));
        let mut server = RedirectServer::new(1);
        for now in [0, 0, 600] {
            let _ = server.handle(&data, source(), stream, now, redirect_to("sip:a@b"));
            let _ = server.due(now);
        }
    }
}

#[test]
fn an_invite_that_follows_our_redirect_keeps_the_call_id_it_carries() {
    let text = invite("z9hG4bKs", "new-leg-2", "").replace(
        "INVITE sip:+18005550100@switchboard.example;user=phone",
        "INVITE sip:+18005550100@switchboard.example;sb-call=first%40carrier",
    );
    let mut seen = String::new();
    RedirectServer::new(1).handle(text.as_bytes(), source(), false, 0, |i| {
        seen = i.call_id.clone();
        Answer::Redirect("sip:a@b".into())
    });
    assert_eq!(seen, "first@carrier");
    // A carried id is held to the same limits as a Call-ID.
    let long = text.replace("first%40carrier", &"x".repeat(129));
    let (_, response) =
        reply(
            RedirectServer::new(1).handle(long.as_bytes(), source(), false, 0, |_| {
                panic!("an over-long call id is not routed")
            }),
        );
    assert!(
        response.contains("the Request-URI's sb-call is over 128 characters"),
        "{response}"
    );
}
