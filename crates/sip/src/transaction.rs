//! Server transactions of a redirect server (RFC 3261 section 17.2), without I/O: the
//! caller passes the time in milliseconds and sends what it is told to.
//!
//! Every request the server answers leaves its final response here for a while, so a
//! retransmitted request gets the same bytes again rather than a second decision:
//!
//! - **INVITE** (answered 3xx-6xx at once). Over UDP the response is sent again at T1,
//!   2·T1, ... up to T2 apart (timer G) until the ACK comes, and given up 64·T1 after it
//!   was first sent (timer H). The ACK ends the retransmissions; ACKs that follow are
//!   absorbed for T4 (timer I). Over TCP nothing is retransmitted and the ACK ends it.
//! - **Other requests** (OPTIONS, CANCEL, refused methods). Their response is kept for
//!   64·T1 over UDP (timer J) to answer retransmissions; over TCP not at all.
//!
//! The table is bounded: past [`MAX_TRANSACTIONS`] a response is sent without keeping
//! it, and a retransmission is then answered afresh (a RouteCall is idempotent on its
//! call id, so the answer is the same).

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap},
    net::SocketAddr,
    sync::Arc,
};

use crate::{
    header::{CSeq, Name, NameAddr, Via},
    message::{Method, Request},
};

/// RFC 3261's round-trip estimate, the first retransmission interval.
pub const T1_MS: u64 = 500;
/// The longest retransmission interval.
pub const T2_MS: u64 = 4_000;
/// How long a message may stay in the network.
pub const T4_MS: u64 = 5_000;
/// The most transactions kept at once.
pub const MAX_TRANSACTIONS: usize = 65_536;

/// What identifies a server transaction: the top Via's branch and sent-by (or, for a
/// peer without RFC 3261 branches, the Call-ID, CSeq number, From tag and top Via) and
/// whether it is an INVITE's (an ACK belongs to its INVITE's) or another method's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    id: String,
    method: String,
}

impl Key {
    /// The key of `request`, whose top Via is `via`.
    pub fn of(request: &Request<'_>, via: &Via<'_>) -> Key {
        let method = match request.method {
            Method::Ack | Method::Invite => "INVITE",
            other => other.as_str(),
        };
        let id = match via.rfc3261_branch() {
            Some(branch) => format!("{branch}|{}|{}", via.host, via.port.unwrap_or(0)),
            None => {
                let h = &request.headers;
                let cseq = h
                    .first(Name::CSeq)
                    .and_then(|c| CSeq::parse(c).ok())
                    .map_or(0, |c| c.number);
                let from_tag = h
                    .first(Name::From)
                    .and_then(|f| NameAddr::parse(f, "From").ok())
                    .and_then(|f| f.tag)
                    .unwrap_or_default();
                let call_id = h.first(Name::CallId).unwrap_or_default();
                let top = h.first(Name::Via).unwrap_or_default();
                format!("{call_id}|{cseq}|{from_tag}|{top}")
            }
        };
        Key {
            id,
            method: method.to_owned(),
        }
    }

    /// The key of the INVITE transaction a CANCEL with this key cancels.
    pub fn invite(&self) -> Key {
        Key {
            id: self.id.clone(),
            method: "INVITE".to_owned(),
        }
    }
}

/// Where a response is retransmitted to, and over what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Unreliable: retransmit to this address.
    Udp(SocketAddr),
    /// Reliable: never retransmitted.
    Stream,
}

#[derive(Debug)]
enum State {
    /// Final response sent to an INVITE; waiting for the ACK. `interval` is the current
    /// timer G interval (UDP only).
    Completed { interval: u64, give_up: u64 },
    /// The ACK came; absorbing its retransmissions until the entry expires.
    Confirmed,
    /// A non-INVITE request answered; its retransmissions get the same response.
    Answered,
}

#[derive(Debug)]
struct Entry {
    response: Arc<[u8]>,
    transport: Transport,
    state: State,
    /// When the entry goes (or, while Completed over UDP, when timer G fires next).
    at: u64,
}

/// What happened to a request the table was told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A request of no known transaction: decide and answer it, then call
    /// [`Transactions::answered`].
    New,
    /// A retransmission: send this response again.
    Again(Arc<[u8]>),
    /// An ACK of a transaction answered (or one already confirmed): nothing to send.
    Absorbed,
    /// An ACK of no known transaction: nothing to send (a late or stray ACK).
    Stray,
}

/// The server transactions, with their timers.
#[derive(Debug, Default)]
pub struct Transactions {
    entries: HashMap<Key, Entry>,
    /// When each entry's timer next fires; stale items are skipped when they come up.
    timers: BinaryHeap<Reverse<(u64, Key)>>,
    /// INVITE transactions given up (timer H) without their ACK.
    unacknowledged: u64,
}

impl Transactions {
    pub fn new() -> Transactions {
        Transactions::default()
    }

    /// A request arrived at `now` (ms), its key `key`.
    pub fn seen(&mut self, key: &Key, method: Method<'_>, now: u64) -> Seen {
        let Some(entry) = self.entries.get_mut(key) else {
            return if method == Method::Ack {
                Seen::Stray
            } else {
                Seen::New
            };
        };
        match (method, &entry.state) {
            (Method::Ack, State::Completed { .. }) => {
                // Timer I: absorb the ACK's own retransmissions for T4 over UDP.
                match entry.transport {
                    Transport::Udp(_) => {
                        entry.state = State::Confirmed;
                        entry.at = now + T4_MS;
                        self.timers.push(Reverse((entry.at, key.clone())));
                    }
                    Transport::Stream => {
                        self.entries.remove(key);
                    }
                }
                Seen::Absorbed
            }
            (Method::Ack, _) => Seen::Absorbed,
            _ => Seen::Again(Arc::clone(&entry.response)),
        }
    }

    /// The request under `key` was answered with `response` at `now`; false when the
    /// table is full and the response was not kept.
    pub fn answered(
        &mut self,
        key: Key,
        response: Vec<u8>,
        transport: Transport,
        now: u64,
    ) -> bool {
        let udp = matches!(transport, Transport::Udp(_));
        let (state, at) = if key.method == "INVITE" {
            let give_up = now + 64 * T1_MS;
            let first = if udp { now + T1_MS } else { give_up };
            (
                State::Completed {
                    interval: T1_MS,
                    give_up,
                },
                first,
            )
        } else if udp {
            (State::Answered, now + 64 * T1_MS)
        } else {
            // Over a stream nothing is retransmitted: nothing to keep.
            return true;
        };
        if self.entries.len() >= MAX_TRANSACTIONS && !self.entries.contains_key(&key) {
            return false;
        }
        self.timers.push(Reverse((at, key.clone())));
        self.entries.insert(
            key,
            Entry {
                response: response.into(),
                transport,
                state,
                at,
            },
        );
        true
    }

    /// Whether an INVITE transaction is under `key` (for a CANCEL).
    pub fn has(&self, key: &Key) -> bool {
        self.entries.contains_key(key)
    }

    /// Fires the timers due by `now`: the responses to send again and where.
    pub fn due(&mut self, now: u64) -> Vec<(SocketAddr, Arc<[u8]>)> {
        let mut send = Vec::new();
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, key))) = self.timers.pop() else {
                break;
            };
            let Some(entry) = self.entries.get_mut(&key) else {
                continue;
            };
            if entry.at != at {
                continue;
            }
            match entry.state {
                State::Completed { interval, give_up } if at < give_up => {
                    if let Transport::Udp(to) = entry.transport {
                        send.push((to, Arc::clone(&entry.response)));
                    }
                    let interval = (interval * 2).min(T2_MS);
                    entry.state = State::Completed { interval, give_up };
                    entry.at = (at + interval).min(give_up);
                    self.timers.push(Reverse((entry.at, key)));
                }
                State::Completed { .. } => {
                    // Timer H: the ACK never came.
                    self.unacknowledged += 1;
                    self.entries.remove(&key);
                }
                State::Confirmed | State::Answered => {
                    self.entries.remove(&key);
                }
            }
        }
        send
    }

    /// When the next timer fires, if any is set.
    pub fn next_due(&self) -> Option<u64> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Transactions kept now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// INVITE transactions given up without an ACK since the start.
    pub fn unacknowledged(&self) -> u64 {
        self.unacknowledged
    }
}
