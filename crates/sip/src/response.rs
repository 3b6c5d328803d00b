//! The responses a redirect server sends (RFC 3261 section 8.2.6): the request's Via
//! headers, From, Call-ID and CSeq copied, its To with our tag, and what the answer adds
//! (a Contact for a redirect, Retry-After for a refusal, Allow for OPTIONS).

use std::{fmt::Write, net::SocketAddr};

use crate::{
    header::{Name, Via, split_list},
    message::Request,
};

/// What a response adds to the headers it copies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extra {
    /// A Contact URI (3xx).
    pub contact: Option<String>,
    /// Seconds, for Retry-After (480, 503).
    pub retry_after: Option<u32>,
    /// Any other header lines, as `Name: value`.
    pub lines: Vec<String>,
}

/// The methods the redirect server answers, for Allow.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, OPTIONS";

/// The reason phrase of a status code the server sends.
pub fn reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        200 => "OK",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        483 => "Too Many Hops",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        _ => "Unknown",
    }
}

/// The response `code` to `request`, received from `source`. `to_tag` goes on the To
/// header unless it has a tag already (or the response is 100, which takes none).
pub fn build(
    request: &Request<'_>,
    source: SocketAddr,
    code: u16,
    to_tag: &str,
    extra: &Extra,
) -> Vec<u8> {
    let mut out = String::with_capacity(512);
    let _ = write!(out, "SIP/2.0 {code} {}\r\n", reason(code));
    let mut first = true;
    for line in request.headers.all(Name::Via) {
        out.push_str("Via: ");
        let mut values = split_list(line);
        if first {
            first = false;
            if let Some(top) = values.next() {
                top_via(&mut out, top, source);
            }
            for v in values {
                out.push_str(", ");
                out.push_str(v);
            }
        } else {
            out.push_str(line);
        }
        out.push_str("\r\n");
    }
    for (name, label) in [(Name::From, "From"), (Name::CallId, "Call-ID")] {
        if let Some(v) = request.headers.first(name) {
            let _ = write!(out, "{label}: {v}\r\n");
        }
    }
    if let Some(to) = request.headers.first(Name::To) {
        let tagged = crate::header::NameAddr::parse(to, "To").is_ok_and(|t| t.tag.is_some());
        if tagged || code == 100 || to_tag.is_empty() {
            let _ = write!(out, "To: {to}\r\n");
        } else {
            let _ = write!(out, "To: {to};tag={to_tag}\r\n");
        }
    }
    if let Some(v) = request.headers.first(Name::CSeq) {
        let _ = write!(out, "CSeq: {v}\r\n");
    }
    if let Some(contact) = &extra.contact {
        let _ = write!(out, "Contact: <{contact}>\r\n");
    }
    if let Some(seconds) = extra.retry_after {
        let _ = write!(out, "Retry-After: {seconds}\r\n");
    }
    for line in &extra.lines {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Server: Switchboard\r\nContent-Length: 0\r\n\r\n");
    out.into_bytes()
}

/// The top Via, with where the request really came from (RFC 3261 section 18.2.1, RFC
/// 3581): `received` when the address differs from the sent-by host, and the source port
/// in an `rport` the client asked for.
fn top_via(out: &mut String, top: &str, source: SocketAddr) {
    let parsed = Via::parse(top).ok();
    let ip = source.ip().to_string();
    let mut params = top.split(';');
    out.push_str(params.next().unwrap_or_default().trim_end());
    for p in params {
        let key = p.split('=').next().unwrap_or_default().trim();
        if key.eq_ignore_ascii_case("received") {
            continue;
        }
        if key.eq_ignore_ascii_case("rport") {
            let _ = write!(out, ";rport={}", source.port());
            continue;
        }
        out.push(';');
        out.push_str(p.trim());
    }
    let host = parsed.as_ref().map(|v| v.host.trim_matches(['[', ']']));
    if host != Some(ip.as_str()) || parsed.as_ref().is_some_and(|v| v.rport) {
        let _ = write!(out, ";received={ip}");
    }
}

/// Where a response to a request over UDP goes (RFC 3261 section 18.2.2, RFC 3581): the
/// source address, at the source port when the client asked for `rport`, else at the
/// port its Via names (5060 by default).
pub fn udp_target(via: &Via<'_>, source: SocketAddr) -> SocketAddr {
    if via.rport {
        source
    } else {
        SocketAddr::new(source.ip(), via.port.unwrap_or(5060))
    }
}
