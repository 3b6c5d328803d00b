//! Client connections: accepted up to a ceiling, with a back-off when the process is out
//! of file descriptors (rather than a loop that retries at once and spins), and closed
//! once idle: no request or stream open on them for `server.idle_timeout`.
//!
//! The accept loop runs as a task of its own and hands connections to tonic through a
//! channel. With TLS, each handshake runs in a task of its own (bounded in time), so a
//! slow or silent client never holds up the next accept; a client certificate's
//! identity is settled once, at the handshake. Each connection carries a shared [`Activity`]; a layer around every request
//! counts the requests open on its connection (a stream counts until it ends), and the
//! connection's reads look at that count when its idle timer fires.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed},
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::mpsc,
    time::{Instant, Sleep},
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{
    body::Body,
    codegen::{Service, http},
    transport::server::Connected,
};

use crate::security::{Guard, Identity, tls};

/// The longest a TLS handshake may take before the connection is closed.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The first pause after an accept error such as "too many open files", and the longest.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const LAST_BACKOFF: Duration = Duration::from_secs(1);

/// What limits connections, from `[server]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnectionLimits {
    pub(crate) max: usize,
    pub(crate) idle_timeout: Duration,
}

/// Connections now and refused since start, for metrics.
#[derive(Debug, Default)]
pub(crate) struct ConnectionCounts {
    pub(crate) open: AtomicUsize,
    pub(crate) refused: AtomicU64,
    pub(crate) accept_errors: AtomicU64,
    /// TLS handshakes that failed or timed out (a client certificate from another CA,
    /// an expired one, a client speaking plain HTTP/2).
    pub(crate) handshake_failures: AtomicU64,
    /// The second of the last handshake failure logged.
    handshake_logged_at: AtomicU64,
}

/// Seconds between two logged handshake failures: a client retrying with a bad
/// certificate must not flood the log, but ops must see why it cannot connect.
const HANDSHAKE_LOG_EVERY: u64 = 10;

impl ConnectionCounts {
    fn handshake_failed(&self, remote: SocketAddr, why: &str) {
        let total = self.handshake_failures.fetch_add(1, Relaxed) + 1;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.handshake_logged_at.load(Relaxed);
        if now >= last + HANDSHAKE_LOG_EVERY
            && self
                .handshake_logged_at
                .compare_exchange(last, now, Relaxed, Relaxed)
                .is_ok()
        {
            tracing::warn!(%remote, failures_since_start = total, "TLS handshake failed: {why}");
        } else {
            tracing::debug!(%remote, "TLS handshake failed: {why}");
        }
    }
}

/// Accepts connections from `listener` for tonic, until tonic drops the stream.
pub(crate) fn incoming(
    listener: TcpListener,
    limits: ConnectionLimits,
    counts: Arc<ConnectionCounts>,
    guard: Arc<Guard>,
) -> ReceiverStream<io::Result<Conn>> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(accept(listener, tx, limits, counts, guard));
    ReceiverStream::new(rx)
}

async fn accept(
    listener: TcpListener,
    tx: mpsc::Sender<io::Result<Conn>>,
    limits: ConnectionLimits,
    counts: Arc<ConnectionCounts>,
    guard: Arc<Guard>,
) {
    let mut backoff = FIRST_BACKOFF;
    let mut out_of_descriptors = false;
    let mut at_limit = false;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = tx.closed() => return,
        };
        match accepted {
            Ok((stream, remote)) => {
                backoff = FIRST_BACKOFF;
                if out_of_descriptors {
                    out_of_descriptors = false;
                    tracing::warn!("accepting connections again");
                }
                if counts.open.load(Relaxed) >= limits.max {
                    // Closed at once: the client sees a reset and can go elsewhere,
                    // rather than wait in the backlog for a connection that never comes.
                    counts.refused.fetch_add(1, Relaxed);
                    if !at_limit {
                        at_limit = true;
                        tracing::warn!(
                            max = limits.max,
                            "connection limit reached (server.max_connections): new connections are closed until others close"
                        );
                    }
                    continue;
                }
                if at_limit {
                    at_limit = false;
                    tracing::info!("below the connection limit again");
                }
                // Without it a small response can wait for the client's delayed ACK,
                // 40 ms on Linux.
                let _ = stream.set_nodelay(true);
                let slot = Slot::take(&counts);
                match &guard.tls {
                    None => {
                        let conn = Conn::new(
                            Io::Plain(stream),
                            remote,
                            Peer::None,
                            limits.idle_timeout,
                            slot,
                        );
                        if tx.send(Ok(conn)).await.is_err() {
                            return;
                        }
                    }
                    Some(tls) => {
                        let acceptor = tls.acceptor();
                        let (tx, guard) = (tx.clone(), Arc::clone(&guard));
                        let counts = Arc::clone(&counts);
                        let idle = limits.idle_timeout;
                        tokio::spawn(async move {
                            let shaken =
                                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                                    .await;
                            let stream = match shaken {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    counts.handshake_failed(remote, &e.to_string());
                                    return;
                                }
                                Err(_) => {
                                    counts.handshake_failed(remote, "no handshake within 10 s");
                                    return;
                                }
                            };
                            let peer = peer_of(&guard, stream.get_ref().1.peer_certificates());
                            let conn =
                                Conn::new(Io::Tls(Box::new(stream)), remote, peer, idle, slot);
                            let _ = tx.send(Ok(conn)).await;
                        });
                    }
                }
            }
            Err(e) if gone_before_accepted(&e) => {}
            Err(e) => {
                // Out of file descriptors (or memory): the connection stays in the
                // backlog and the listener stays readable, so retrying at once would
                // spin. Pause, longer each time, and say so once.
                counts.accept_errors.fetch_add(1, Relaxed);
                if !out_of_descriptors {
                    out_of_descriptors = true;
                    tracing::error!(error = %e, "cannot accept connections; backing off until descriptors free up");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(LAST_BACKOFF);
            }
        }
    }
}

/// A connection the client dropped while it waited to be accepted.
fn gone_before_accepted(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// What a connection has open, shared by its reads and the requests on it.
#[derive(Debug)]
pub(crate) struct Activity {
    open: AtomicUsize,
    /// When the last request ended (or the connection began).
    last: AtomicU64,
    base: Instant,
}

impl Activity {
    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// When the connection becomes idle past `timeout` if nothing opens: `None` while a
    /// request is open.
    fn idle_deadline(&self, timeout: Duration) -> Option<Instant> {
        if self.open.load(Relaxed) > 0 {
            return None;
        }
        let last = Duration::from_millis(self.last.load(Relaxed));
        Some(self.base + last + timeout)
    }

    fn begin(self: &Arc<Self>) -> RequestGuard {
        self.open.fetch_add(1, Relaxed);
        RequestGuard(Arc::clone(self))
    }
}

/// A request (or stream) open on a connection, until dropped.
#[derive(Debug)]
pub(crate) struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.last.store(self.0.now(), Relaxed);
        self.0.open.fetch_sub(1, Relaxed);
    }
}

/// Who the client certificate of a connection says its client is.
#[derive(Clone, Debug)]
pub(crate) enum Peer {
    /// No certificate (or no TLS).
    None,
    /// A certificate of one of `[[security.clients]]`.
    Known(Arc<Identity>),
    /// A certificate the CA signed whose names are none of the configured clients'.
    Unknown(Arc<str>),
}

fn peer_of(guard: &Guard, certs: Option<&[rustls::pki_types::CertificateDer<'static>]>) -> Peer {
    let Some(cert) = certs.and_then(<[_]>::first) else {
        return Peer::None;
    };
    let names = tls::names(cert);
    match guard.client(&names) {
        Some(identity) => Peer::Known(identity),
        None if names.is_empty() => Peer::Unknown(Arc::from("no names")),
        None => Peer::Unknown(Arc::from(names.join(", ").as_str())),
    }
}

/// What each request learns of its connection (a request extension).
#[derive(Clone, Debug)]
pub(crate) struct ConnInfo {
    activity: Arc<Activity>,
    remote: SocketAddr,
    pub(crate) peer: Peer,
}

impl ConnInfo {
    pub(crate) fn remote(&self) -> SocketAddr {
        self.remote
    }
}

/// A connection counted as open from its accept (its handshake included) until dropped.
#[derive(Debug)]
struct Slot(Arc<ConnectionCounts>);

impl Slot {
    fn take(counts: &Arc<ConnectionCounts>) -> Slot {
        counts.open.fetch_add(1, Relaxed);
        Slot(Arc::clone(counts))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Relaxed);
    }
}

/// A connection's bytes: plain TCP or TLS over it.
#[derive(Debug)]
enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// An accepted connection that closes itself once idle.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: Io,
    info: ConnInfo,
    idle_timeout: Duration,
    timer: Pin<Box<Sleep>>,
    /// The timer is registered for its deadline.
    armed: bool,
    _slot: Slot,
}

impl Conn {
    fn new(stream: Io, remote: SocketAddr, peer: Peer, idle_timeout: Duration, slot: Slot) -> Conn {
        let activity = Arc::new(Activity {
            open: AtomicUsize::new(0),
            last: AtomicU64::new(0),
            base: Instant::now(),
        });
        Conn {
            stream,
            timer: Box::pin(tokio::time::sleep(idle_timeout)),
            armed: false,
            info: ConnInfo {
                activity,
                remote,
                peer,
            },
            idle_timeout,
            _slot: slot,
        }
    }
}

impl Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        self.info.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let read = match &mut self.stream {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        if read.is_ready() {
            return read;
        }
        // Nothing to read: the connection's task is about to wait. The idle timer, once
        // armed (registered to wake this task, which never changes), is only looked at
        // again when it has fired, so a busy connection pays for it once per timeout,
        // not once per request.
        if self.armed && !self.timer.is_elapsed() {
            return Poll::Pending;
        }
        loop {
            if !tokio::task::coop::has_budget_remaining() {
                // The timer would not register now: come back with a fresh budget.
                self.armed = false;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                self.armed = true;
                return Poll::Pending;
            }
            let next = match self.info.activity.idle_deadline(self.idle_timeout) {
                Some(at) if at <= Instant::now() => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "idle past server.idle_timeout",
                    )));
                }
                Some(at) => at,
                // Busy: look again a whole timeout from now.
                None => Instant::now() + self.idle_timeout,
            };
            self.timer.as_mut().reset(next);
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Counts each request as open on its connection from its start until its response
/// (a stream included) is done or dropped.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TrackRequests;

impl<S> tower_layer::Layer<S> for TrackRequests {
    type Service = Tracked<S>;

    fn layer(&self, inner: S) -> Tracked<S> {
        Tracked { inner }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Tracked<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> Service<http::Request<Body>> for Tracked<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<http::Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let guard = request
            .extensions()
            .get::<ConnInfo>()
            .map(|c| c.activity.begin());
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(match guard {
                Some(guard) => response.map(|body| {
                    Body::new(GuardedBody {
                        body,
                        _guard: guard,
                    })
                }),
                None => response,
            })
        })
    }
}

/// A response body that keeps its request counted as open until it is done.
struct GuardedBody {
    body: Body,
    _guard: RequestGuard,
}

impl http_body::Body for GuardedBody {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
