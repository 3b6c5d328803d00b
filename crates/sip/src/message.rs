//! A SIP message read strictly (RFC 3261 section 7): a start line, header lines ended by
//! CRLF, a blank line, and a body whose length the Content-Length header gives.
//!
//! The parser borrows from the bytes it reads and allocates only for a header folded over
//! several lines. It bounds everything: the message's size, the number of header lines,
//! and what an error repeats of the input.

use std::borrow::Cow;

use crate::{ParseError, error::shown, header::Name};

/// The largest message read, in bytes. A request with SDP is usually 1 to 3 KiB; RFC 3261
/// wants anything near the path MTU sent over TCP anyway.
pub const MAX_MESSAGE: usize = 8 * 1024;
/// The most header lines a message may carry.
pub const MAX_HEADERS: usize = 64;
/// The longest method name read (the longest standard one, SUBSCRIBE, has 9).
const MAX_METHOD: usize = 32;

/// A request's method. Those a redirect server acts on are named; any other is kept as
/// text, to be answered 405.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method<'a> {
    Invite,
    Ack,
    Cancel,
    Options,
    Bye,
    Other(&'a str),
}

impl<'a> Method<'a> {
    fn parse(text: &'a str) -> Method<'a> {
        // Methods are case-sensitive (RFC 3261 section 7.1).
        match text {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "BYE" => Method::Bye,
            other => Method::Other(other),
        }
    }

    pub fn as_str(&self) -> &'a str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Bye => "BYE",
            Method::Other(text) => text,
        }
    }
}

/// A message's header lines in the order they came, folded lines joined.
#[derive(Debug, Clone, Default)]
pub struct Headers<'a> {
    lines: Vec<(Name<'a>, Cow<'a, str>)>,
}

impl<'a> Headers<'a> {
    /// Every value of header `name`, in order.
    pub fn all(&self, name: Name<'_>) -> impl Iterator<Item = &str> {
        self.lines
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v.as_ref())
    }

    /// The first value of header `name`.
    pub fn first(&self, name: Name<'_>) -> Option<&str> {
        self.all(name).next()
    }

    /// The one value of header `name`, which must appear once.
    pub fn single(&self, name: Name<'_>, label: &'static str) -> Result<&str, ParseError> {
        let mut all = self.all(name);
        let value = all.next().ok_or(ParseError::Missing { header: label })?;
        if all.next().is_some() {
            return Err(ParseError::BadValue {
                header: label,
                why: "appears more than once",
            });
        }
        Ok(value)
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// A request as it came.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: Method<'a>,
    /// The Request-URI, as text.
    pub uri: &'a str,
    pub headers: Headers<'a>,
    pub body: &'a [u8],
}

/// A response's status line and headers: a redirect server sends responses, so one that
/// reaches it is only recognized (and dropped).
#[derive(Debug, Clone)]
pub struct ResponseHead<'a> {
    pub code: u16,
    pub headers: Headers<'a>,
}

#[derive(Debug, Clone)]
pub enum Message<'a> {
    Request(Request<'a>),
    Response(ResponseHead<'a>),
}

/// What a stream (TCP) holds at its start: a whole message of `len` bytes, or not yet.
///
/// Over a stream, a message's end is known only from its Content-Length, which is
/// therefore required there. `Ok(None)` means more bytes are needed; an error means the
/// stream cannot be read on (the connection should be closed).
pub fn frame(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    let start = leading_blank_lines(buf);
    let Some(end) = find(&buf[start..], b"\r\n\r\n") else {
        if buf.len() > MAX_MESSAGE {
            return Err(ParseError::TooLarge {
                len: buf.len(),
                limit: MAX_MESSAGE,
            });
        }
        return Ok(None);
    };
    let head_end = start + end + 4;
    let head = std::str::from_utf8(&buf[start..head_end]).map_err(|_| ParseError::NotUtf8)?;
    let mut length = None;
    for line in head.split("\r\n").skip(1) {
        if let Some((name, value)) = line.split_once(':')
            && Name::parse(name.trim_end_matches([' ', '\t'])) == Name::ContentLength
        {
            length = Some(content_length(value.trim())?);
        }
    }
    let length = length.ok_or(ParseError::Missing {
        header: "Content-Length",
    })?;
    let total = head_end + length;
    if total > MAX_MESSAGE + start {
        return Err(ParseError::TooLarge {
            len: total - start,
            limit: MAX_MESSAGE,
        });
    }
    Ok((buf.len() >= total).then_some(total))
}

/// Reads one message from a datagram (or a frame cut from a stream by [`frame`]).
pub fn parse(data: &[u8]) -> Result<Message<'_>, ParseError> {
    // Blank lines before a message are ignored (RFC 3261 section 7.5): keep-alives.
    let data = &data[leading_blank_lines(data)..];
    if data.len() > MAX_MESSAGE {
        return Err(ParseError::TooLarge {
            len: data.len(),
            limit: MAX_MESSAGE,
        });
    }
    let end = find(data, b"\r\n\r\n").ok_or(ParseError::NoHeaderEnd)?;
    let head = std::str::from_utf8(&data[..end]).map_err(|_| ParseError::NotUtf8)?;
    let rest = &data[end + 4..];
    let (start, lines) = head.split_once("\r\n").unwrap_or((head, ""));
    let headers = headers(lines)?;
    let body = match headers.first(Name::ContentLength) {
        Some(value) => {
            let declared = content_length(value)?;
            // Over UDP, bytes past the declared length are dropped (section 18.3).
            rest.get(..declared).ok_or(ParseError::Truncated {
                declared,
                available: rest.len(),
            })?
        }
        None => rest,
    };
    if let Some(status) = start.strip_prefix("SIP/2.0 ") {
        let code = status
            .split(' ')
            .next()
            .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse().ok())
            .filter(|c| (100..700).contains(c))
            .ok_or_else(|| ParseError::BadStartLine { line: shown(start) })?;
        return Ok(Message::Response(ResponseHead { code, headers }));
    }
    let mut parts = start.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::BadStartLine { line: shown(start) });
    };
    let method_ok = (1..=MAX_METHOD).contains(&method.len()) && method.bytes().all(is_token);
    if !method_ok || uri.is_empty() || !visible(uri) {
        return Err(ParseError::BadStartLine { line: shown(start) });
    }
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return Err(ParseError::Version {
            version: shown(version),
        });
    }
    Ok(Message::Request(Request {
        method: Method::parse(method),
        uri,
        headers,
        body,
    }))
}

fn headers(text: &str) -> Result<Headers<'_>, ParseError> {
    let mut lines: Vec<(Name<'_>, Cow<'_, str>)> = Vec::new();
    if text.is_empty() {
        return Ok(Headers { lines });
    }
    for line in text.split("\r\n") {
        if line.chars().any(|c| c.is_control() && c != '\t') {
            return Err(ParseError::BadHeader { line: shown(line) });
        }
        if line.starts_with([' ', '\t']) {
            // A folded line continues the header above it, joined by one space.
            let Some((_, value)) = lines.last_mut() else {
                return Err(ParseError::BadHeader { line: shown(line) });
            };
            let more = line.trim_matches([' ', '\t']);
            if !more.is_empty() {
                let joined = value.to_mut();
                if !joined.is_empty() {
                    joined.push(' ');
                }
                joined.push_str(more);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ParseError::BadHeader { line: shown(line) });
        };
        let name = name.trim_end_matches([' ', '\t']);
        if name.is_empty() || !name.bytes().all(is_token) {
            return Err(ParseError::BadHeader { line: shown(line) });
        }
        if lines.len() == MAX_HEADERS {
            return Err(ParseError::TooManyHeaders { limit: MAX_HEADERS });
        }
        lines.push((
            Name::parse(name),
            Cow::Borrowed(value.trim_matches([' ', '\t'])),
        ));
    }
    Ok(Headers { lines })
}

fn content_length(value: &str) -> Result<usize, ParseError> {
    let bad = |why| ParseError::BadValue {
        header: "Content-Length",
        why,
    };
    if value.is_empty() || value.len() > 9 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a number of bytes"));
    }
    let length: usize = value.parse().map_err(|_| bad("not a number of bytes"))?;
    if length > MAX_MESSAGE {
        return Err(ParseError::TooLarge {
            len: length,
            limit: MAX_MESSAGE,
        });
    }
    Ok(length)
}

/// A character of a token (RFC 3261 section 25.1).
pub(crate) fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// Text of visible ASCII characters only (a Request-URI: no spaces, no controls).
fn visible(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_graphic())
}

fn leading_blank_lines(data: &[u8]) -> usize {
    let mut at = 0;
    while data[at..].starts_with(b"\r\n") {
        at += 2;
    }
    at
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
