//! Serving the officer API's connections, for both listeners: HTTP/1.1 through hyper, with
//! the limits `axum::serve` does not offer, so that no client — not even one on this host —
//! can hold the API or the node's descriptors.
//!
//! * **Header timeout** (`api.header_timeout_secs`): a request's complete headers must
//!   arrive within it, counted from the connection's opening (after the TLS handshake) or,
//!   on a kept-alive connection, from the request's first byte. Then the connection closes.
//! * **Idle timeout** (`api.idle_timeout_secs`): a kept-alive connection with no request in
//!   progress and no byte of a new one closes after it.
//! * **Body timeout** (`api.body_timeout_secs`): a request body still arriving this long
//!   after its headers fails to read; the handler answers 408.
//! * **Cap** ([`ConnLimits::max_connections`]): each listener holds at most this many
//!   connections, TLS handshakes included. A new connection at the cap does not wait: the
//!   connection idle longest with no request in progress (one still sending its headers,
//!   or kept alive between requests) is closed to make room. Only when every connection has
//!   a request in progress is the newcomer closed at once.
//! * **Shutdown**: when `cancel` fires the listener stops accepting, connections with no
//!   request in progress close at once, and requests in progress finish (the caller bounds
//!   that wait, see [`super::SHUTDOWN_GRACE`]).
//!
//! A request is *in progress* from its complete headers until hyper has written the last
//! byte of its answer (the answer's body is dropped then), so neither the cap nor a timeout
//! ever cuts off an answer. Everything about one connection happens on its own task — the
//! handlers run inside hyper's connection future — so when that task decides to close a
//! connection because it has no request in progress, no request can start meanwhile.
//!
//! Calling shape: [`serve`] with a [`Handshake`] ([`Plain`] or the HTTPS listener's
//! [`super::tls::OfficerHandshake`]); it returns once `cancel` fired and every connection
//! finished.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{self, JoinSet};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

use crate::config::ApiConfig;

/// hyper's read buffer per connection, which bounds a request's headers (hyper answers 431
/// beyond it) and so the memory a connection that never finishes them can hold.
pub const MAX_READ_BUFFER: usize = 64 * 1024;

/// How often the log says that the cap closed connections, at most.
const CAP_WARNING_EVERY: Duration = Duration::from_secs(60);

/// The limits of one listener (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// Most connections at once.
    pub max_connections: usize,
    /// From opening or first byte to complete request headers.
    pub header_timeout: Duration,
    /// With no request in progress and no byte of a new one.
    pub idle_timeout: Duration,
    /// From complete headers to the request body's end.
    pub body_timeout: Duration,
}

impl ConnLimits {
    /// The limits `api` configures, with the cap `max_connections` (the configured one, or
    /// lower if the open-file limit says so).
    pub fn new(api: &ApiConfig, max_connections: usize) -> Self {
        Self {
            max_connections,
            header_timeout: Duration::from_secs(api.header_timeout_secs),
            idle_timeout: Duration::from_secs(api.idle_timeout_secs),
            body_timeout: Duration::from_secs(api.body_timeout_secs),
        }
    }
}

/// Turns an accepted TCP connection into the stream HTTP is served on, and says who is at
/// the other end (handlers find it as `ConnectInfo<Self::Peer>`).
pub trait Handshake: Clone + Send + Sync + 'static {
    /// The stream HTTP is served on.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Who is at the other end.
    type Peer: Clone + Send + Sync + 'static;
    /// The stream and peer, or `None` if the connection is refused (it is closed).
    fn handshake(
        &self,
        tcp: TcpStream,
        remote: SocketAddr,
    ) -> impl Future<Output = Option<(Self::Io, Self::Peer)>> + Send;
}

/// The plain listener: HTTP straight on TCP; the peer is the client's address.
#[derive(Clone, Copy, Debug)]
pub struct Plain;

impl Handshake for Plain {
    type Io = TcpStream;
    type Peer = SocketAddr;

    fn handshake(
        &self,
        tcp: TcpStream,
        remote: SocketAddr,
    ) -> impl Future<Output = Option<(TcpStream, SocketAddr)>> + Send {
        std::future::ready(Some((tcp, remote)))
    }
}

/// Serves `app` on the connections `listener` accepts until `cancel` fires, then lets the
/// requests in progress finish (see the module documentation). `name` names the listener
/// in the log.
pub async fn serve<H: Handshake>(
    listener: TcpListener,
    handshake: H,
    app: Router,
    limits: ConnLimits,
    cancel: CancellationToken,
    name: &'static str,
) {
    // The connections counted against the cap; one closed to make room leaves at once.
    let mut open: HashMap<task::Id, Arc<Conn>> = HashMap::new();
    let mut tasks = JoinSet::new();
    let mut closed_for_room = 0u64;
    let mut last_warning: Option<Instant> = None;
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(e) => {
                        if e.is_panic() {
                            tracing::error!(listener = name, "officer API: a connection task panicked");
                        }
                        e.id()
                    }
                };
                open.remove(&id);
            }
            accepted = listener.accept() => match accepted {
                Ok((tcp, remote)) => {
                    if open.len() >= limits.max_connections {
                        if close_longest_idle(&mut open) {
                            closed_for_room += 1;
                        } else {
                            tracing::warn!(listener = name, %remote, cap = limits.max_connections,
                                "officer API: every connection has a request in progress; new connection closed");
                            continue;
                        }
                        if last_warning.is_none_or(|t| t.elapsed() >= CAP_WARNING_EVERY) {
                            tracing::warn!(listener = name, cap = limits.max_connections, closed = closed_for_room,
                                "officer API: at its connection cap; idle connections closed to make room for new ones");
                            last_warning = Some(Instant::now());
                            closed_for_room = 0;
                        }
                    }
                    // Answers are written whole; waiting to fill a packet only adds latency.
                    let _ = tcp.set_nodelay(true);
                    let conn = Arc::new(Conn::new(Instant::now()));
                    let handle = tasks.spawn(serve_connection(
                        tcp,
                        remote,
                        handshake.clone(),
                        app.clone(),
                        conn.clone(),
                        limits,
                        cancel.clone(),
                    ));
                    open.insert(handle.id(), conn);
                }
                Err(e) => {
                    // Out of descriptors, most likely: give one back, and let the system breathe.
                    tracing::warn!(listener = name, error = %e, "officer API: accept failed");
                    close_longest_idle(&mut open);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    drop(listener);
    // Each connection task saw `cancel` too: idle ones close, busy ones finish their request.
    while tasks.join_next().await.is_some() {}
}

/// Closes the connection idle longest with no request in progress; false if there is none.
fn close_longest_idle(open: &mut HashMap<task::Id, Arc<Conn>>) -> bool {
    let victim = open
        .iter()
        .filter_map(|(id, c)| c.idle_since().map(|since| (since, *id)))
        .min_by_key(|(since, _)| *since)
        .map(|(_, id)| id);
    match victim.and_then(|id| open.remove(&id)) {
        Some(conn) => {
            conn.close.cancel();
            true
        }
        None => false,
    }
}

async fn serve_connection<H: Handshake>(
    tcp: TcpStream,
    remote: SocketAddr,
    handshake: H,
    app: Router,
    conn: Arc<Conn>,
    limits: ConnLimits,
    cancel: CancellationToken,
) {
    let shaken = tokio::select! {
        shaken = handshake.handshake(tcp, remote) => shaken,
        () = conn.close.cancelled() => return,
        () = cancel.cancelled() => return,
    };
    let Some((io, peer)) = shaken else {
        return;
    };
    conn.opened(Instant::now());
    let service = ConnService {
        app,
        peer,
        conn: conn.clone(),
        body_timeout: limits.body_timeout,
    };
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        // A backstop only: hyper counts from when it starts waiting for a request, so the
        // longest legitimate wait is an idle connection's, then a slow request's headers.
        .header_read_timeout(limits.idle_timeout + limits.header_timeout)
        .max_buf_size(MAX_READ_BUFFER);
    let io = TokioIo::new(Watched {
        io,
        conn: conn.clone(),
    });
    let served = http.serve_connection(io, service);
    tokio::pin!(served);
    let mut draining = false;
    loop {
        let deadline = conn.deadline(&limits);
        tokio::select! {
            r = served.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%remote, error = %e, "officer API: connection ended with an error");
                }
                break;
            }
            // A request began or ended, or the first byte of one arrived: a new deadline.
            () = conn.changed.notified() => {}
            () = sleep_until(deadline) => {
                if conn.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!(%remote, "officer API: connection closed: no complete request in time");
                    break;
                }
            }
            () = conn.close.cancelled(), if !draining => {
                if conn.idle_since().is_some() {
                    tracing::debug!(%remote, "officer API: idle connection closed to make room");
                    break;
                }
                served.as_mut().graceful_shutdown();
                draining = true;
            }
            () = cancel.cancelled(), if !draining => {
                if conn.idle_since().is_some() {
                    break;
                }
                served.as_mut().graceful_shutdown();
                draining = true;
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Where a connection is, as the cap and the timeouts see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No request in progress since `since` (the opening, or the end of the last answer);
    /// `head` is when the next request began (its first byte; the opening, for the first).
    Waiting {
        since: Instant,
        head: Option<Instant>,
    },
    /// Requests in progress (HTTP/1.1 answers one at a time; pipelined ones queue in hyper).
    Busy(usize),
}

/// One connection's state, shared by its task, its requests and the accept loop.
#[derive(Debug)]
struct Conn {
    phase: Mutex<Phase>,
    /// Wakes the connection's task when the phase changed.
    changed: Notify,
    /// Asks the connection's task to close it (to make room for a new one).
    close: CancellationToken,
}

impl Conn {
    fn new(now: Instant) -> Self {
        Self {
            phase: Mutex::new(Phase::Waiting {
                since: now,
                head: Some(now),
            }),
            changed: Notify::new(),
            close: CancellationToken::new(),
        }
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        // The phase is plain data, whole after every assignment: a panic elsewhere cannot
        // leave it half-written.
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The handshake is done: the first request's headers are due from `now`.
    fn opened(&self, now: Instant) {
        *self.phase() = Phase::Waiting {
            since: now,
            head: Some(now),
        };
    }

    /// Bytes arrived: if the connection was idle, a request has begun.
    fn bytes_arrived(&self, now: Instant) {
        let mut phase = self.phase();
        if let Phase::Waiting {
            head: head @ None, ..
        } = &mut *phase
        {
            *head = Some(now);
            drop(phase);
            self.changed.notify_one();
        }
    }

    fn begin(&self) {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Waiting { .. } => Phase::Busy(1),
            Phase::Busy(n) => Phase::Busy(n + 1),
        };
        drop(phase);
        self.changed.notify_one();
    }

    fn end(&self, now: Instant) {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Waiting {
                since: now,
                head: None,
            },
        };
        drop(phase);
        self.changed.notify_one();
    }

    /// Since when the connection has had no request in progress; `None` while it has one.
    fn idle_since(&self) -> Option<Instant> {
        match *self.phase() {
            Phase::Waiting { since, .. } => Some(since),
            Phase::Busy(_) => None,
        }
    }

    /// When the connection is to be closed unless a request completes its headers first.
    fn deadline(&self, limits: &ConnLimits) -> Option<Instant> {
        match *self.phase() {
            Phase::Waiting {
                head: Some(head), ..
            } => Some(head + limits.header_timeout),
            Phase::Waiting { since, head: None } => Some(since + limits.idle_timeout),
            Phase::Busy(_) => None,
        }
    }
}

/// A request in progress: begun when hyper hands over complete headers, ended when hyper
/// drops the answer's body, after writing it.
struct InFlight(Arc<Conn>);

impl InFlight {
    fn begin(conn: &Arc<Conn>) -> Self {
        conn.begin();
        Self(conn.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end(Instant::now());
    }
}

/// The stream of a connection, telling its [`Conn`] when bytes arrive.
struct Watched<T> {
    io: T,
    conn: Arc<Conn>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.bytes_arrived(Instant::now());
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Serves one connection's requests with the router, marking each in progress.
#[derive(Clone)]
struct ConnService<P> {
    app: Router,
    peer: P,
    conn: Arc<Conn>,
    body_timeout: Duration,
}

impl<P: Clone + Send + Sync + 'static> hyper::service::Service<hyper::Request<Incoming>>
    for ConnService<P>
{
    type Response = hyper::Response<TrackedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        let in_flight = InFlight::begin(&self.conn);
        let body_timeout = self.body_timeout;
        let mut req = req.map(|body| Body::new(TimedBody::new(body, body_timeout)));
        req.extensions_mut().insert(ConnectInfo(self.peer.clone()));
        let mut app = self.app.clone();
        Box::pin(async move {
            // A Router is always ready: no `poll_ready` needed before `call`.
            let resp = tower_service::Service::call(&mut app, req).await?;
            Ok(resp.map(|body| TrackedBody {
                body,
                _in_flight: in_flight,
            }))
        })
    }
}

/// An answer's body, which ends its request's time in progress when hyper drops it.
pub struct TrackedBody {
    body: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The request body did not arrive within `api.body_timeout_secs` of its headers.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} s of its headers", .0.as_secs())]
pub struct BodyTimedOut(Duration);

impl BodyTimedOut {
    /// The error of a body that had `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self(timeout)
    }

    /// The time the body had.
    pub fn timeout(&self) -> Duration {
        self.0
    }
}

/// A request's body, failing with [`BodyTimedOut`] once its time is up.
struct TimedBody {
    inner: Incoming,
    /// `None` for a request without a body.
    deadline: Option<Pin<Box<Sleep>>>,
    timeout: Duration,
}

impl TimedBody {
    fn new(inner: Incoming, timeout: Duration) -> Self {
        let deadline = (!hyper::body::Body::is_end_stream(&inner))
            .then(|| Box::pin(tokio::time::sleep(timeout)));
        Self {
            inner,
            deadline,
            timeout,
        }
    }
}

impl hyper::body::Body for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let expired = this
                    .deadline
                    .as_mut()
                    .is_some_and(|d| d.as_mut().poll(cx).is_ready());
                if expired {
                    Poll::Ready(Some(Err(BodyTimedOut(this.timeout).into())))
                } else {
                    Poll::Pending
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnLimits {
        ConnLimits {
            max_connections: 4,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
        }
    }

    #[test]
    fn a_new_connection_owes_its_headers_then_idles_between_requests() {
        let l = limits();
        let opened = Instant::now();
        let conn = Conn::new(opened);
        assert_eq!(conn.deadline(&l), Some(opened + l.header_timeout));
        assert_eq!(conn.idle_since(), Some(opened));

        conn.begin();
        assert_eq!(
            conn.deadline(&l),
            None,
            "no timeout while a request is in progress"
        );
        assert_eq!(
            conn.idle_since(),
            None,
            "never closed to make room while busy"
        );
        let ended = opened + Duration::from_secs(100);
        conn.end(ended);
        assert_eq!(conn.idle_since(), Some(ended));
        assert_eq!(conn.deadline(&l), Some(ended + l.idle_timeout));

        let head = ended + Duration::from_secs(5);
        conn.bytes_arrived(head);
        assert_eq!(conn.deadline(&l), Some(head + l.header_timeout));
        conn.bytes_arrived(head + Duration::from_secs(1));
        assert_eq!(
            conn.deadline(&l),
            Some(head + l.header_timeout),
            "counted from the first byte"
        );
        assert_eq!(
            conn.idle_since(),
            Some(ended),
            "still no request in progress"
        );
    }

    #[tokio::test]
    async fn room_is_made_by_closing_the_longest_idle_connection_without_a_request() {
        let mut open = HashMap::new();
        let mut tasks = JoinSet::new();
        let mut conns = Vec::new();
        let t0 = Instant::now();
        for k in 0..3 {
            let conn = Arc::new(Conn::new(t0 + Duration::from_secs(k)));
            let handle = tasks.spawn(std::future::pending::<()>());
            open.insert(handle.id(), conn.clone());
            conns.push(conn);
        }
        // The oldest is busy; the second oldest goes.
        let busy = InFlight::begin(&conns[0]);
        assert!(close_longest_idle(&mut open));
        assert!(conns[1].close.is_cancelled());
        assert!(!conns[0].close.is_cancelled() && !conns[2].close.is_cancelled());
        assert!(close_longest_idle(&mut open));
        assert!(conns[2].close.is_cancelled());
        assert!(!close_longest_idle(&mut open), "only a busy one is left");
        drop(busy);
        assert!(close_longest_idle(&mut open));
        assert!(open.is_empty());
    }
}
