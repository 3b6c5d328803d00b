//! The redirect server's handling of one message, without I/O: what to answer, where,
//! and what to keep for retransmissions. The routing decision itself is the caller's
//! (a closure from an [`Invite`] to an [`Answer`]).
//!
//! - INVITE: decided once per transaction and answered with a final response at once
//!   (no 100 Trying: the decision takes microseconds).
//! - ACK: absorbed. CANCEL: 200 when its INVITE is known (already answered, so nothing
//!   is left to cancel), else 481. OPTIONS: 200 with Allow. BYE: 481 (the server is in
//!   no dialog). Any other method: 405 with Allow.
//! - A request missing what a response needs, or with a malformed header the server
//!   reads, is refused with 400 naming the problem in a Warning header. A message that
//!   cannot be read as SIP at all, a response, or a request whose top Via cannot be read
//!   (there is nowhere to answer) gets silence.

use std::net::SocketAddr;

use crate::{
    ParseError,
    header::{self, CSeq, Name, NameAddr, Via, split_list},
    message::{Message, Method, Request, parse},
    response::{self, ALLOW, Extra},
    transaction::{Key, Seen, Transactions, Transport},
    uri::Uri,
};

/// The longest Call-ID taken as a call id (the API's limit).
pub const MAX_CALL_ID: usize = 128;

/// The Request-URI parameter that carries a call id through our own redirects.
pub const CALL_PARAM: &str = "sb-call";

/// A new INVITE, as routing needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite<'a> {
    /// The call's id: the Request-URI's `sb-call` parameter when it has one (an INVITE
    /// that follows one of our redirects), else the Call-ID.
    pub call_id: String,
    /// The caller's number or URI user (from P-Asserted-Identity, else From), or
    /// `anonymous` when the caller withholds it.
    pub caller: String,
    /// The dialed number: the Request-URI's user (empty when it has none).
    pub dialed: String,
    /// The Request-URI's host, for building the URIs of answers relative to it.
    pub host: &'a str,
}

/// How to answer an INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 302 to this URI.
    Redirect(String),
    /// A refusal with this code (4xx-6xx), a Retry-After and a Warning text if given.
    Refuse {
        code: u16,
        retry_after: Option<u32>,
        warning: Option<String>,
    },
}

/// Where a reply goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// A datagram to this address.
    Udp(SocketAddr),
    /// Back on the connection the request came on.
    Stream,
}

/// What the server did with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// A reply to send.
    Reply(Destination, std::sync::Arc<[u8]>),
    /// Nothing to send: an ACK, a response, a keep-alive.
    Quiet,
    /// Not SIP the server can read; nothing sent.
    Unreadable(ParseError),
    /// A request with nowhere to answer (its top Via unreadable); nothing sent.
    Unanswerable(ParseError),
}

/// Counts of what the server handled, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub invites: u64,
    pub retransmissions: u64,
    pub acks: u64,
    pub cancels: u64,
    pub options: u64,
    pub refused_malformed: u64,
    pub unreadable: u64,
}

/// The redirect server's state: its transactions and counts.
#[derive(Debug, Default)]
pub struct RedirectServer {
    transactions: Transactions,
    counts: Counts,
    /// Makes To tags differ between servers and restarts.
    tag_seed: u64,
}

impl RedirectServer {
    pub fn new(tag_seed: u64) -> RedirectServer {
        RedirectServer {
            tag_seed,
            ..RedirectServer::default()
        }
    }

    /// Handles one message from `source` that came over UDP (`stream` false) or a
    /// stream, at `now` (ms).
    pub fn handle(
        &mut self,
        data: &[u8],
        source: SocketAddr,
        stream: bool,
        now: u64,
        decide: impl FnOnce(&Invite<'_>) -> Answer,
    ) -> Handled {
        if data.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            return Handled::Quiet;
        }
        let request = match parse(data) {
            Ok(Message::Request(r)) => r,
            Ok(Message::Response(_)) => return Handled::Quiet,
            Err(e) => {
                self.counts.unreadable += 1;
                return Handled::Unreadable(e);
            }
        };
        let via = match request.headers.first(Name::Via).map(|v| {
            let top = split_list(v).next().unwrap_or_default();
            Via::parse(top)
        }) {
            Some(Ok(via)) => via,
            Some(Err(e)) => return Handled::Unanswerable(e),
            None => return Handled::Unanswerable(ParseError::Missing { header: "Via" }),
        };
        let destination = if stream {
            Destination::Stream
        } else {
            Destination::Udp(response::udp_target(&via, source))
        };
        let transport = match destination {
            Destination::Udp(to) => Transport::Udp(to),
            Destination::Stream => Transport::Stream,
        };
        let key = Key::of(&request, &via);
        match self.transactions.seen(&key, request.method, now) {
            Seen::Again(bytes) => {
                self.counts.retransmissions += 1;
                return Handled::Reply(destination, bytes);
            }
            Seen::Absorbed | Seen::Stray => {
                self.counts.acks += 1;
                return Handled::Quiet;
            }
            Seen::New => {}
        }
        let tag = self.tag(&key);
        let (code, extra) = match self.answer(&request, &key, decide) {
            Ok(answer) => answer,
            Err(e) => {
                self.counts.refused_malformed += 1;
                let warning = format!("Warning: 399 switchboard \"{}\"", quoted(&e.to_string()));
                (
                    400,
                    Extra {
                        lines: vec![warning],
                        ..Extra::default()
                    },
                )
            }
        };
        let bytes = response::build(&request, source, code, &tag, &extra);
        let kept: std::sync::Arc<[u8]> = bytes.clone().into();
        self.transactions.answered(key, bytes, transport, now);
        Handled::Reply(destination, kept)
    }

    /// The response code and what it adds, for a new request.
    fn answer(
        &mut self,
        request: &Request<'_>,
        key: &Key,
        decide: impl FnOnce(&Invite<'_>) -> Answer,
    ) -> Result<(u16, Extra), ParseError> {
        let h = &request.headers;
        let call_id = h.single(Name::CallId, "Call-ID")?;
        let cseq = CSeq::parse(h.single(Name::CSeq, "CSeq")?)?;
        if cseq.method != request.method.as_str() {
            return Err(ParseError::BadValue {
                header: "CSeq",
                why: "method differs from the request's",
            });
        }
        NameAddr::parse(h.single(Name::From, "From")?, "From")?;
        NameAddr::parse(h.single(Name::To, "To")?, "To")?;
        if let Some(hops) = h.first(Name::MaxForwards) {
            let hops: u8 = hops.parse().map_err(|_| ParseError::BadValue {
                header: "Max-Forwards",
                why: "not a number from 0 to 255",
            })?;
            if hops == 0 && request.method != Method::Ack {
                return Ok((483, Extra::default()));
            }
        }
        let allow = || Extra {
            lines: vec![format!("Allow: {ALLOW}")],
            ..Extra::default()
        };
        Ok(match request.method {
            Method::Invite => {
                self.counts.invites += 1;
                let invite = invite(request, call_id)?;
                match decide(&invite) {
                    Answer::Redirect(contact) => (
                        302,
                        Extra {
                            contact: Some(contact),
                            ..Extra::default()
                        },
                    ),
                    Answer::Refuse {
                        code,
                        retry_after,
                        warning,
                    } => (
                        code,
                        Extra {
                            retry_after,
                            lines: warning
                                .map(|w| format!("Warning: 399 switchboard \"{}\"", quoted(&w)))
                                .into_iter()
                                .collect(),
                            ..Extra::default()
                        },
                    ),
                }
            }
            Method::Cancel => {
                self.counts.cancels += 1;
                if self.transactions.has(&key.invite()) {
                    (200, Extra::default())
                } else {
                    (481, Extra::default())
                }
            }
            Method::Options => {
                self.counts.options += 1;
                let mut extra = allow();
                extra.lines.push("Accept: application/sdp".to_owned());
                (200, extra)
            }
            Method::Bye => (481, Extra::default()),
            // An ACK never comes here: the transaction table absorbs every one.
            Method::Ack | Method::Other(_) => (405, allow()),
        })
    }

    /// Fires the retransmission timers due by `now`: datagrams to send.
    pub fn due(&mut self, now: u64) -> Vec<(SocketAddr, std::sync::Arc<[u8]>)> {
        self.transactions.due(now)
    }

    /// When [`RedirectServer::due`] next has something to do.
    pub fn next_due(&self) -> Option<u64> {
        self.transactions.next_due()
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// INVITE transactions given up without their ACK.
    pub fn unacknowledged(&self) -> u64 {
        self.transactions.unacknowledged()
    }

    /// Transactions kept for retransmissions now.
    pub fn transactions(&self) -> usize {
        self.transactions.len()
    }

    /// A To tag for the transaction: the same for its retransmissions, different across
    /// transactions and servers.
    fn tag(&self, key: &Key) -> String {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one((self.tag_seed, key));
        format!("sb{hash:016x}")
    }
}

/// The routing view of an INVITE.
fn invite<'a>(request: &Request<'a>, call_id: &'a str) -> Result<Invite<'a>, ParseError> {
    let target = Uri::parse(request.uri)?;
    let (call_id, why) = match target.param(CALL_PARAM) {
        Some(id) => (
            id,
            "the Request-URI's sb-call is over 128 characters or not printable ASCII",
        ),
        None => (
            call_id.to_owned(),
            "over 128 characters or not printable ASCII",
        ),
    };
    if call_id.is_empty()
        || call_id.len() > MAX_CALL_ID
        || !call_id.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ParseError::BadValue {
            header: "Call-ID",
            why,
        });
    }
    let h = &request.headers;
    let hidden = h.all(Name::Privacy).any(header::privacy_hides_caller);
    let asserted = h
        .all(Name::PAssertedIdentity)
        .flat_map(split_list)
        .filter_map(|v| NameAddr::parse(v, "P-Asserted-Identity").ok())
        .filter_map(|a| Uri::parse(a.uri).ok())
        .find(|u| !u.user.is_empty());
    let from = NameAddr::parse(h.first(Name::From).unwrap_or_default(), "From")?;
    let caller = match asserted {
        Some(uri) => uri.user,
        // An anonymous From (RFC 3323) hides the caller even where its URI has a user.
        None if from.display.eq_ignore_ascii_case("anonymous") => String::new(),
        None => Uri::parse(from.uri).map(|u| u.user).unwrap_or_default(),
    };
    let withheld = hidden || caller.is_empty() || caller.eq_ignore_ascii_case("anonymous");
    Ok(Invite {
        call_id,
        caller: if withheld {
            "anonymous".to_owned()
        } else {
            caller
        },
        dialed: target.user,
        host: target.host,
    })
}

/// `text` made safe inside a quoted Warning text: quotes and backslashes escaped,
/// controls dropped, at most 120 characters.
fn quoted(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(120)
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}
