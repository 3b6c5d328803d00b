//! `[sip]`: the SIP redirect server. Off unless a listen address is given; then it needs
//! its peers (only they are answered) and the URIs that menus and queues send calls to.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use serde::Deserialize;

use crate::{
    raw::S,
    validate::{Checker, humanize},
};

/// How long a switch told to retry (503, 480) waits, unless `sip.retry_after` says.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// The longest URI template taken.
const MAX_URI: usize = 256;
/// Peers listed at most.
const MAX_PEERS: usize = 1_000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSip {
    pub(crate) listen_udp: Option<S<String>>,
    pub(crate) listen_tcp: Option<S<String>>,
    pub(crate) http_listen: Option<S<String>>,
    pub(crate) ivr_uri: Option<S<String>>,
    pub(crate) hold_uri: Option<S<String>>,
    pub(crate) voicemail_uri: Option<S<String>>,
    pub(crate) agent_domain: Option<S<String>>,
    pub(crate) retry_after: Option<S<String>>,
    #[serde(default)]
    pub(crate) peers: Vec<S<RawPeer>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPeer {
    pub(crate) address: S<String>,
    pub(crate) switch_id: S<String>,
}

/// The SIP redirect server's settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sip {
    pub listen_udp: Option<SocketAddr>,
    pub listen_tcp: Option<SocketAddr>,
    /// The HTTP endpoints for Kamailio (routes as rtjson, call events).
    pub http_listen: Option<SocketAddr>,
    /// Who may send requests, and the switch id their calls get.
    pub peers: Vec<Peer>,
    /// Where a menu decision sends the call; `{menu}` is the menu's name.
    pub ivr_uri: String,
    /// Where a call waiting in a queue is sent; `{queue}` is the queue's name.
    pub hold_uri: String,
    /// Where a call of a closed queue is sent; without it such a call is refused 480.
    pub voicemail_uri: Option<String>,
    /// The host of an agent whose endpoint is an extension rather than a URI; without
    /// it, the host of the INVITE's Request-URI.
    pub agent_domain: Option<String>,
    /// What Retry-After says on a refusal the switch may retry (480, 503).
    pub retry_after: Duration,
}

impl Sip {
    pub fn enabled(&self) -> bool {
        self.listen_udp.is_some() || self.listen_tcp.is_some() || self.http_listen.is_some()
    }

    /// The switch id of the peer at `ip`, the first listed that covers it.
    pub fn peer(&self, ip: IpAddr) -> Option<&str> {
        self.peers
            .iter()
            .find(|p| p.network.contains(ip))
            .map(|p| p.switch_id.as_str())
    }
}

/// `[[sip.peers]]`: an address or network, and the switch id of its calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub network: Network,
    pub switch_id: String,
}

/// An address, or a network as address/prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    pub address: IpAddr,
    pub prefix: u8,
}

impl Network {
    pub fn parse(text: &str) -> Result<Network, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or a network (10.0.0.0/8)"))?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {bits}"))?,
        };
        Ok(Network { address, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer seen on a dual-stack socket arrives as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

pub(crate) fn sip(c: &mut Checker<'_>, raw: Option<&S<RawSip>>) -> Option<Sip> {
    let Some(raw) = raw else {
        return Some(Sip {
            retry_after: DEFAULT_RETRY_AFTER,
            ..Sip::default()
        });
    };
    let section = raw.span();
    let raw = raw.get_ref();
    let mut ok = true;
    let mut address = |c: &mut Checker<'_>, v: &Option<S<String>>, path: &str| match v {
        None => None,
        Some(v) => match v.get_ref().parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                c.error(
                    v.span(),
                    path,
                    format!(
                        "{:?} is not an address with a port, e.g. \"127.0.0.1:5060\"",
                        v.get_ref()
                    ),
                );
                ok = false;
                None
            }
        },
    };
    let listen_udp = address(c, &raw.listen_udp, "sip.listen_udp");
    let listen_tcp = address(c, &raw.listen_tcp, "sip.listen_tcp");
    let http_listen = address(c, &raw.http_listen, "sip.http_listen");
    let enabled = raw.listen_udp.is_some() || raw.listen_tcp.is_some() || raw.http_listen.is_some();

    let mut peers = Vec::new();
    if raw.peers.len() > MAX_PEERS {
        c.error(
            section.clone(),
            "sip.peers",
            format!("{} peers is over the limit of {MAX_PEERS}", raw.peers.len()),
        );
        ok = false;
    }
    for (n, peer) in raw.peers.iter().enumerate() {
        let path = format!("sip.peers[{n}]");
        let peer = peer.get_ref();
        let network = match Network::parse(peer.address.get_ref()) {
            Ok(net) => Some(net),
            Err(e) => {
                c.error(peer.address.span(), format!("{path}.address"), e);
                ok = false;
                None
            }
        };
        let id = peer.switch_id.get_ref();
        if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
            c.error(
                peer.switch_id.span(),
                format!("{path}.switch_id"),
                format!("{id:?} must be 1 to 128 printable ASCII characters"),
            );
            ok = false;
        }
        if let Some(network) = network {
            peers.push(Peer {
                network,
                switch_id: id.clone(),
            });
        }
    }
    if enabled && raw.peers.is_empty() {
        c.error(
            section.clone(),
            "sip.peers",
            "no peers: the SIP listeners and the HTTP endpoint answer only the addresses listed in [[sip.peers]]",
        );
        ok = false;
    }

    let mut uri = |c: &mut Checker<'_>,
                   v: &Option<S<String>>,
                   key: &str,
                   holes: &[&str],
                   required: bool| {
        let path = format!("sip.{key}");
        let Some(v) = v else {
            if enabled && required {
                c.error(
                    section.clone(),
                    path,
                    format!(
                        "missing: where calls go for a {} decision, e.g. \"sip:{}@media.example.com\"",
                        holes[0].trim_matches(['{', '}']),
                        holes[0]
                    ),
                );
                ok = false;
            }
            return None;
        };
        let text = v.get_ref();
        let scheme_ok = ["sip:", "sips:"].iter().any(|s| {
            text.get(..s.len())
                .is_some_and(|t| t.eq_ignore_ascii_case(s))
        });
        let unknown_hole = text
            .match_indices('{')
            .any(|(at, _)| !holes.iter().any(|h| text[at..].starts_with(h)));
        let problem = if !scheme_ok {
            Some("must be a sip: or sips: URI".to_owned())
        } else if text.len() > MAX_URI || !text.bytes().all(|b| b.is_ascii_graphic()) {
            Some(format!(
                "must be at most {MAX_URI} visible ASCII characters"
            ))
        } else if unknown_hole {
            Some(format!(
                "may hold only {} (replaced by the name)",
                holes.join(" or ")
            ))
        } else {
            None
        };
        match problem {
            Some(p) => {
                c.error(v.span(), path, format!("{text:?} {p}"));
                ok = false;
                None
            }
            None => Some(text.clone()),
        }
    };
    let ivr_uri = uri(c, &raw.ivr_uri, "ivr_uri", &["{menu}"], true);
    let hold_uri = uri(c, &raw.hold_uri, "hold_uri", &["{queue}"], true);
    let voicemail_uri = uri(c, &raw.voicemail_uri, "voicemail_uri", &["{queue}"], false);

    let agent_domain = match &raw.agent_domain {
        Some(d) => {
            let text = d.get_ref();
            let host_ok = !text.is_empty()
                && text.len() <= 253
                && text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
            if !host_ok {
                c.error(
                    d.span(),
                    "sip.agent_domain",
                    format!("{text:?} is not a host name or address"),
                );
                ok = false;
            }
            Some(text.clone())
        }
        None => None,
    };
    let retry_after = match &raw.retry_after {
        Some(d) => match c.duration(d, "sip.retry_after", Duration::from_secs(1)) {
            Some(r) if r <= MAX_RETRY_AFTER => Some(r),
            Some(_) => {
                c.error(
                    d.span(),
                    "sip.retry_after",
                    format!(
                        "{:?} is longer than {}",
                        d.get_ref(),
                        humanize(MAX_RETRY_AFTER)
                    ),
                );
                None
            }
            None => None,
        },
        None => Some(DEFAULT_RETRY_AFTER),
    };
    if !ok {
        return None;
    }
    Some(Sip {
        listen_udp,
        listen_tcp,
        http_listen,
        peers,
        ivr_uri: ivr_uri.unwrap_or_default(),
        hold_uri: hold_uri.unwrap_or_default(),
        voicemail_uri,
        agent_domain,
        retry_after: retry_after?,
    })
}
