//! The SIP front's counters: requests by method, answers by code, 302s resent by the
//! retransmission timer, messages dropped and why, and the HTTP endpoints' requests.
//! Labels come from fixed lists (a peer's unknown method counts as `other`).

use prometheus_client::{
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};

type Labels = Vec<(&'static str, &'static str)>;

/// The methods counted by name.
const METHODS: [&str; 5] = ["INVITE", "ACK", "CANCEL", "OPTIONS", "BYE"];

/// Why a message got no answer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dropped {
    /// From an address not in `[[sip.peers]]`.
    NotAPeer,
    /// Not SIP the server can read.
    Unreadable,
    /// A request whose top Via cannot be read.
    Unanswerable,
}

#[derive(Debug, Default)]
pub(crate) struct Sip {
    requests: Family<Labels, Counter>,
    responses: Family<Labels, Counter>,
    resent: Counter,
    dropped: Family<Labels, Counter>,
    http: Family<Labels, Counter>,
}

impl Sip {
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "sip_requests",
            "SIP requests from peers, by method (others as other)",
            self.requests.clone(),
        );
        registry.register(
            "sip_responses",
            "SIP responses sent, by code, a retransmitted request's answer included",
            self.responses.clone(),
        );
        registry.register(
            "sip_responses_resent",
            "Final responses sent again over UDP while their ACK did not come (timer G)",
            self.resent.clone(),
        );
        registry.register(
            "sip_dropped",
            "SIP messages that got no answer, by reason: not_a_peer, unreadable, unanswerable",
            self.dropped.clone(),
        );
        registry.register(
            "sip_http_requests",
            "Requests to the HTTP endpoints for Kamailio, by endpoint and status",
            self.http.clone(),
        );
    }

    /// A request that starts with `method`.
    pub(crate) fn request(&self, method: &[u8]) {
        let name = METHODS
            .iter()
            .find(|m| m.as_bytes() == method)
            .copied()
            .unwrap_or("other");
        self.requests.get_or_create(&vec![("method", name)]).inc();
    }

    /// A response sent: its status line's code.
    pub(crate) fn response(&self, bytes: &[u8]) {
        let code: &'static str = match bytes.get(8..11) {
            Some(b"200") => "200",
            Some(b"302") => "302",
            Some(b"400") => "400",
            Some(b"403") => "403",
            Some(b"405") => "405",
            Some(b"480") => "480",
            Some(b"481") => "481",
            Some(b"483") => "483",
            Some(b"500") => "500",
            Some(b"503") => "503",
            _ => "other",
        };
        self.responses.get_or_create(&vec![("code", code)]).inc();
    }

    pub(crate) fn resent(&self, n: usize) {
        self.resent.inc_by(n as u64);
    }

    pub(crate) fn dropped(&self, why: Dropped) {
        let reason = match why {
            Dropped::NotAPeer => "not_a_peer",
            Dropped::Unreadable => "unreadable",
            Dropped::Unanswerable => "unanswerable",
        };
        self.dropped.get_or_create(&vec![("reason", reason)]).inc();
    }

    /// A request to an HTTP endpoint (`route` or `event`) answered with `status`.
    pub(crate) fn http(&self, endpoint: &'static str, status: u16) {
        let status = match status {
            200 => "200",
            400 => "400",
            403 => "403",
            404 => "404",
            409 => "409",
            413 => "413",
            503 => "503",
            _ => "other",
        };
        self.http
            .get_or_create(&vec![("endpoint", endpoint), ("status", status)])
            .inc();
    }
}
