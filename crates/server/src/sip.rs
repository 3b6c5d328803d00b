//! The SIP redirect server (`[sip]`): switches that speak SIP send an INVITE, and the
//! answer is where the call goes, as a 302. The SIP itself (parsing, responses,
//! transactions and their timers) is `switchboard_sip`'s; this module owns the sockets,
//! lets in only the configured peers, and turns a routing decision into an answer:
//!
//! - an agent took the call at once: 302 to the agent's endpoint;
//! - a menu: 302 to `sip.ivr_uri`, the call id in `sb-call` so the IVR's SubmitInput
//!   continues the same call, with the menu, its prompt and the attempt;
//! - waiting in a queue: 302 to `sip.hold_uri` with the call id, the place, the expected
//!   wait and whether to offer a callback; the agent's assignment comes later on the
//!   switch's WatchAssignments stream, as for any switch;
//! - the queue is closed: 302 to `sip.voicemail_uri`, or 480 without one;
//! - a line that redirects the caller (a non-member on the platinum line): 302 to the
//!   line the caller is sent to, at the host the INVITE was sent to, with the call id;
//!   the INVITE that follows it gets the decision's menu or queue;
//! - a refusal: 503 with Retry-After when the server cannot take calls now (shutting
//!   down, its store failing), 403 for a call id of another switch's call.
//!
//! The call id is the Call-ID header, or the Request-URI's `sb-call` parameter when it
//! has one (an INVITE that follows one of our 302s from a switch that makes a new call
//! to follow it, as a B2BUA does).

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use switchboard_config::sip::Sip;
use switchboard_sip::{Answer, Destination, Handled, Invite, RedirectServer, frame};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, UdpSocket},
    sync::{Semaphore, watch},
    task::JoinHandle,
};

use crate::{App, StartError, metrics::sip::Dropped};

mod decide;
mod http;

use decide::{Peers, SipCall, Target};

/// TCP connections from peers held at once; more are closed when accepted.
const MAX_TCP_CONNECTIONS: usize = 1_024;
/// The biggest datagram read (anything over the parser's limit is refused by it).
const DATAGRAM: usize = 65_535;

/// Where the SIP listeners are bound, once they are.
#[derive(Debug, Default)]
pub(crate) struct Bound {
    addresses: OnceLock<SipAddresses>,
}

/// The addresses `[sip]`'s listeners are bound to; `None` for one that is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipAddresses {
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
}

impl App {
    /// The addresses the SIP listeners are bound to, once the server serves.
    pub fn sip_addresses(&self) -> Option<SipAddresses> {
        self.sip.addresses.get().copied()
    }
}

/// Binds the listeners `[sip]` asks for and serves them until `stop`.
pub(crate) async fn start(
    app: &App,
    stop: &watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, StartError> {
    let sip = app.settings().sip.clone();
    let mut tasks = Vec::new();
    let bind_error =
        |at: SocketAddr, key: &str, e: std::io::Error| StartError::Sip(format!("{key} {at}: {e}"));
    let udp = match sip.listen_udp {
        Some(at) => {
            let socket = UdpSocket::bind(at)
                .await
                .map_err(|e| bind_error(at, "sip.listen_udp", e))?;
            let bound = socket.local_addr().ok();
            tasks.push(tokio::spawn(serve_udp(app.clone(), socket, stop.clone())));
            bound
        }
        None => None,
    };
    let tcp = match sip.listen_tcp {
        Some(at) => {
            let listener = TcpListener::bind(at)
                .await
                .map_err(|e| bind_error(at, "sip.listen_tcp", e))?;
            let bound = listener.local_addr().ok();
            tasks.push(tokio::spawn(serve_tcp(app.clone(), listener, stop.clone())));
            bound
        }
        None => None,
    };
    let http = match sip.http_listen {
        Some(at) => {
            let listener = TcpListener::bind(at)
                .await
                .map_err(|e| bind_error(at, "sip.http_listen", e))?;
            let bound = listener.local_addr().ok();
            tasks.push(tokio::spawn(http::serve(
                app.clone(),
                listener,
                stop.clone(),
            )));
            bound
        }
        None => None,
    };
    if sip.enabled() {
        let shown = |a: Option<SocketAddr>| a.map_or_else(|| "off".to_owned(), |a| a.to_string());
        tracing::info!(
            udp = %shown(udp),
            tcp = %shown(tcp),
            http = %shown(http),
            peers = sip.peers.len(),
            "switchboard serving SIP"
        );
    }
    let _ = app.sip.addresses.set(SipAddresses { udp, tcp, http });
    Ok(tasks)
}

/// Milliseconds since `start`, the transactions' clock.
fn millis(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

async fn serve_udp(app: App, socket: UdpSocket, mut stop: watch::Receiver<bool>) {
    let start = Instant::now();
    let mut server = RedirectServer::new(seed());
    let mut peers = Peers::default();
    let mut buf = vec![0u8; DATAGRAM];
    loop {
        let next = server
            .next_due()
            .map(|at| start + Duration::from_millis(at))
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let (n, source) = match received {
                    Ok(r) => r,
                    Err(e) => {
                        // An ICMP error from an earlier send, on some systems: not fatal.
                        tracing::debug!(error = %e, "SIP: receive failed");
                        continue;
                    }
                };
                let settings = app.settings();
                let Some(switch_id) = settings.sip.peer(source.ip()) else {
                    tracing::debug!(%source, "SIP: datagram from an address not in sip.peers; dropped");
                    app.metrics.sip.dropped(Dropped::NotAPeer);
                    continue;
                };
                let handled = server.handle(&buf[..n], source, false, millis(start), |invite| {
                    decide(&app, &settings.sip, &mut peers, switch_id, source, invite)
                });
                count(&app, &buf[..n], &handled);
                if let Some((Destination::Udp(to), bytes)) = reply(handled, source) {
                    send(&socket, &bytes, to).await;
                }
            }
            () = tokio::time::sleep_until(next.into()) => {
                let due = server.due(millis(start));
                app.metrics.sip.resent(due.len());
                for (to, bytes) in due {
                    send(&socket, &bytes, to).await;
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// Counts a message handled: its method, the answer's code, or why it got none.
fn count(app: &App, data: &[u8], handled: &Handled) {
    let metrics = &app.metrics.sip;
    let text = &data[data
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count()..];
    let method = text
        .split(|b| *b == b' ')
        .next()
        .filter(|m| !m.is_empty() && !m.starts_with(b"SIP/"));
    match handled {
        Handled::Unreadable(_) => metrics.dropped(Dropped::Unreadable),
        Handled::Unanswerable(_) => metrics.dropped(Dropped::Unanswerable),
        Handled::Reply(_, bytes) => {
            if let Some(m) = method {
                metrics.request(m);
            }
            metrics.response(bytes);
        }
        Handled::Quiet => {
            if let Some(m) = method {
                metrics.request(m);
            }
        }
    }
}

async fn send(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    if let Err(e) = socket.send_to(bytes, to).await {
        tracing::debug!(%to, error = %e, "SIP: send failed");
    }
}

/// The reply to send, logging what gets none.
fn reply(handled: Handled, source: SocketAddr) -> Option<(Destination, Arc<[u8]>)> {
    match handled {
        Handled::Reply(to, bytes) => Some((to, bytes)),
        Handled::Quiet => None,
        Handled::Unreadable(e) => {
            tracing::debug!(%source, error = %e, "SIP: message not read; no answer");
            None
        }
        Handled::Unanswerable(e) => {
            tracing::debug!(%source, error = %e, "SIP: request with nowhere to answer; no answer");
            None
        }
    }
}

async fn serve_tcp(app: App, listener: TcpListener, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_TCP_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let (stream, source) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "SIP: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(switch_id) = app.settings().sip.peer(source.ip()).map(str::to_owned) else {
            tracing::debug!(%source, "SIP: connection from an address not in sip.peers; closed");
            app.metrics.sip.dropped(Dropped::NotAPeer);
            continue;
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(%source, max = MAX_TCP_CONNECTIONS, "SIP: too many TCP connections; closed");
            continue;
        };
        let (app, stop) = (app.clone(), stop.clone());
        tokio::spawn(async move {
            connection(app, stream, source, switch_id, stop).await;
            drop(slot);
        });
    }
}

/// One peer's TCP connection: messages framed by Content-Length, each answered on it.
/// Closed when the peer closes it, sends what cannot be framed, stays silent past
/// `server.idle_timeout`, or the server stops.
async fn connection(
    app: App,
    mut stream: TcpStream,
    source: SocketAddr,
    switch_id: String,
    mut stop: watch::Receiver<bool>,
) {
    let start = Instant::now();
    let mut server = RedirectServer::new(seed());
    let mut peers = Peers::default();
    let mut buf: Vec<u8> = Vec::with_capacity(4_096);
    let mut chunk = [0u8; 8_192];
    let idle = app.settings().limits.idle_timeout;
    loop {
        let read = tokio::select! {
            read = tokio::time::timeout(idle, stream.read(&mut chunk)) => read,
            _ = stop.changed() => return,
        };
        let n = match read {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => n,
            Err(_) => {
                tracing::debug!(%source, "SIP: idle TCP connection closed");
                return;
            }
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            let len = match frame(&buf) {
                Ok(Some(len)) => len,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(%source, error = %e, "SIP: stream cannot be read on; closed");
                    return;
                }
            };
            let message: Vec<u8> = buf.drain(..len).collect();
            let settings = app.settings();
            let handled = server.handle(&message, source, true, millis(start), |invite| {
                decide(&app, &settings.sip, &mut peers, &switch_id, source, invite)
            });
            count(&app, &message, &handled);
            if let Some((_, bytes)) = reply(handled, source)
                && stream.write_all(&bytes).await.is_err()
            {
                return;
            }
        }
    }
}

/// A random seed for To tags, different for each listener and start.
fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    u64::from_le_bytes(bytes)
}

/// Routes an INVITE's call and answers it.
fn decide(
    app: &App,
    sip: &Sip,
    peers: &mut Peers,
    switch_id: &str,
    source: SocketAddr,
    invite: &Invite<'_>,
) -> Answer {
    let caller = peers.caller(switch_id, source);
    let call = SipCall {
        call_id: &invite.call_id,
        caller: &invite.caller,
        dialed: &invite.dialed,
        host: invite.host,
    };
    match decide::place(app, sip, (switch_id, &caller), &call, true) {
        Target::Agent { uri, .. } | Target::Elsewhere(uri) => Answer::Redirect(uri),
        Target::Refused {
            code,
            retry_after,
            why,
        } => Answer::Refuse {
            code,
            retry_after,
            warning: Some(why),
        },
    }
}
