//! SIP messages as a peer may send them, to the redirect server. Never panics; whatever
//! it answers is a well-formed SIP response to the request (nothing a peer sends can
//! break the response's framing); a stream's frame never claims more bytes than it has.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_sip::{Answer, Handled, Message, ParseError, RedirectServer, frame, parse};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(len)) = frame(data) {
        assert!(len <= data.len(), "a frame of {len} bytes in {}", data.len());
    }
    let source = "192.0.2.1:5060".parse().unwrap();
    let mut server = RedirectServer::new(7);
    for (stream, now) in [(false, 0), (false, 600), (true, 700)] {
        let handled = server.handle(data, source, stream, now, |invite| {
            Answer::Redirect(format!("sip:{}@ivr.example", invite.dialed.len()))
        });
        if let Handled::Reply(_, bytes) = handled {
            match parse(&bytes) {
                Ok(Message::Response(r)) => assert!((200..700).contains(&r.code)),
                Ok(Message::Request(_)) => panic!("answered with a request"),
                // A request near the limits can make a response over them.
                Err(ParseError::TooManyHeaders { .. } | ParseError::TooLarge { .. }) => {}
                Err(e) => panic!("answered with a malformed response ({e}): {:?}", String::from_utf8_lossy(&bytes)),
            }
        }
        let _ = server.due(now + 40_000);
    }
});
