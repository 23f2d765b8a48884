//! How the server takes and keeps its TCP connections: Nagle's algorithm
//! off, a deadline for every request's head and then for its body, one for
//! every write the client leaves waiting, a stop that lets requests in
//! flight finish.
//!
//! `axum::serve` leaves Nagle on and has no such deadlines, so a client
//! could hold a connection (and a file descriptor, and whatever its answer
//! holds) forever by sending nothing, a request a byte at a time, or by
//! never reading what it asked for.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use http_body::{Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::limits::Limits;

/// Serves `router` on `listener` until `stop` completes; then accepts no
/// more, lets every connection finish the request it is answering (upgraded
/// WebSockets are closed by their own handle), and returns once all of
/// them have closed.
///
/// A connection that has not sent a whole request head (line and headers)
/// `limits.request_read` after it opened, or after its last answer, is
/// closed; a body not complete `request_read` after its head fails with
/// [`BodyTooSlow`]; a connection whose client takes none of what is
/// written to it for `limits.response_write` is closed.
pub async fn serve<F>(listener: TcpListener, router: Router, limits: Limits, stop: F)
where
    F: Future<Output = ()> + Send,
{
    let read_timeout = limits.request_read;
    let router = router.layer(axum::middleware::map_request(move |request| async move {
        body_deadline(request, read_timeout)
    }));
    let (stopping, _) = watch::channel(false);
    // Each connection holds a receiver; `closed()` once all have gone.
    let (open, held) = watch::channel(());
    let mut stop = std::pin::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        match accepted {
            Ok((connection, peer)) => {
                // Handlers that limit by client address read it as axum's
                // `ConnectInfo`.
                let service = TowerToHyperService::new(
                    router
                        .clone()
                        .layer(axum::Extension(axum::extract::ConnectInfo(peer))),
                );
                let stopping = stopping.subscribe();
                let held = held.clone();
                tokio::spawn(async move {
                    answer(connection, service, limits, stopping).await;
                    drop(held);
                });
            }
            Err(error) => refused(error).await,
        }
    }
    drop(listener);
    stopping.send_replace(true);
    drop(held);
    open.closed().await;
}

/// Answers the requests of one connection until it closes, or until
/// `stopping` (then after the request in flight), within the deadlines of
/// `limits` for a request head and for a write the client leaves waiting.
async fn answer(
    connection: TcpStream,
    service: TowerToHyperService<Router>,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
) {
    if let Err(error) = connection.set_nodelay(true) {
        tracing::warn!(%error, "TCP_NODELAY could not be set on a connection");
    }
    let connection = WriteDeadline::new(connection, limits.response_write);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.request_read);
    let served = http
        .serve_connection(TokioIo::new(connection), service)
        .with_upgrades();
    let mut served = std::pin::pin!(served);
    let outcome = tokio::select! {
        outcome = served.as_mut() => outcome,
        () = async { drop(stopping.wait_for(|stopping| *stopping).await) } => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(error) = outcome {
        tracing::debug!(%error, "a connection ended with an error");
    }
}

/// After a failed accept: a client that gave up is nothing; anything else
/// (out of file descriptors, say) is logged, and accepting pauses a second
/// so that it does not spin while connections close.
async fn refused(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// A client that took none of what was written to it in time.
#[derive(Debug, thiserror::Error)]
#[error("the client took nothing written to it for {0:?}")]
pub struct ClientNotReading(pub Duration);

/// A connection whose writes fail with [`ClientNotReading`] once one has
/// waited `limit` for the client to take any of it. Each write that goes
/// through starts the clock again, so a slow reader that keeps reading is
/// served, and one that stopped is let go (as nginx's `send_timeout`).
/// Upgraded WebSockets keep it: their frames go through the same writes.
struct WriteDeadline<T> {
    io: T,
    limit: Duration,
    /// Running while a write waits for the client.
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> WriteDeadline<T> {
    fn new(io: T, limit: Duration) -> Self {
        WriteDeadline {
            io,
            limit,
            waiting: None,
        }
    }

    /// `written` unless it is still waiting and the deadline passed.
    fn judge<R>(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if written.is_ready() {
            self.waiting = None;
            return written;
        }
        let limit = self.limit;
        let waiting = self
            .waiting
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match waiting.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                ClientNotReading(limit),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write(cx, buf);
        self.judge(cx, written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.judge(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.io).poll_flush(cx);
        self.judge(cx, flushed)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let shut = Pin::new(&mut self.io).poll_shutdown(cx);
        self.judge(cx, shut)
    }
}

/// A request body that was not sent in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not sent within {0:?}")]
pub struct BodyTooSlow(pub Duration);

/// `request` with a body that fails with [`BodyTooSlow`] once `limit` has
/// passed since its head arrived, however the bytes trickle in.
fn body_deadline(request: Request, limit: Duration) -> Request {
    request.map(|body| {
        Body::new(Deadline {
            body,
            limit,
            expires: Box::pin(tokio::time::sleep(limit)),
        })
    })
}

/// A body with a deadline for all of it (`tower_http`'s resets with each
/// chunk).
struct Deadline {
    body: Body,
    limit: Duration,
    expires: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.expires.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTooSlow(self.limit))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// `head_timeout` and `write_timeout` as the connection deadlines.
    fn deadlines(head_timeout: Duration, write_timeout: Duration) -> Limits {
        Limits {
            request_read: head_timeout,
            response_write: write_timeout,
            ..Limits::DEFAULT
        }
    }

    /// A route that answers a body of `bytes` in 64 KiB chunks.
    fn big_answer(bytes: usize) -> Router {
        Router::new().route(
            "/big",
            get(move || async move {
                let chunks = futures::stream::iter(
                    std::iter::repeat_n(Bytes::from(vec![b'x'; 64 << 10]), bytes / (64 << 10))
                        .map(Ok::<_, std::convert::Infallible>),
                );
                Body::from_stream(chunks)
            }),
        )
    }

    /// A connection to `address` that asked for `/big` (with `headers`).
    async fn asking(address: std::net::SocketAddr, headers: &str) -> TcpStream {
        let mut client = TcpStream::connect(address).await.unwrap();
        let request = format!("GET /big HTTP/1.1\r\nHost: x\r\n{headers}\r\n");
        client.write_all(request.as_bytes()).await.unwrap();
        client
    }

    /// Serves `router` with `limits` until the returned sender is dropped
    /// or sent.
    async fn serving(
        router: Router,
        limits: Limits,
    ) -> (
        std::net::SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(serve(listener, router, limits, async {
            let _ = stopped.await;
        }));
        (address, stop, serving)
    }

    /// Serves a one-route router with `head_timeout` until the returned
    /// sender is dropped or sent.
    async fn served(
        head_timeout: Duration,
    ) -> (
        std::net::SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let router = Router::new().route("/", get(|| async { "hello" }));
        serving(router, deadlines(head_timeout, Duration::from_secs(60))).await
    }

    /// Reads until the server closes the connection (within `patience`):
    /// what it sent.
    async fn until_closed(connection: &mut TcpStream, patience: Duration) -> String {
        let mut received = Vec::new();
        tokio::time::timeout(patience, connection.read_to_end(&mut received))
            .await
            .expect("the server closes the connection")
            .unwrap();
        String::from_utf8_lossy(&received).into_owned()
    }

    #[tokio::test]
    async fn a_connection_that_sends_no_whole_request_head_in_time_is_closed() {
        let (address, _stop, _serving) = served(Duration::from_millis(300)).await;
        let mut silent = TcpStream::connect(address).await.unwrap();
        let mut trickling = TcpStream::connect(address).await.unwrap();
        trickling
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let patience = Duration::from_secs(10);
        until_closed(&mut silent, patience).await;
        let answer = until_closed(&mut trickling, patience).await;
        assert!(!answer.contains("hello"), "{answer}");
    }

    #[tokio::test]
    async fn a_request_sent_in_time_is_answered_and_then_an_idle_connection_is_closed() {
        let (address, _stop, _serving) = served(Duration::from_millis(300)).await;
        let mut client = TcpStream::connect(address).await.unwrap();
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let answer = until_closed(&mut client, Duration::from_secs(10)).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("hello"), "{answer}");
    }

    #[tokio::test]
    async fn accepted_connections_send_small_writes_without_waiting_for_acks() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let client = TcpStream::connect(address).await.unwrap();
        let (accepted, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let (_, stopping) = watch::channel(true);
        let service = TowerToHyperService::new(Router::new());
        // `answer` turns Nagle off first; a stopped server then closes.
        let std_socket = accepted.into_std().unwrap();
        let probe = std_socket.try_clone().unwrap();
        answer(
            TcpStream::from_std(std_socket).unwrap(),
            service,
            Limits::DEFAULT,
            stopping,
        )
        .await;
        assert!(probe.nodelay().unwrap(), "TCP_NODELAY is on");
    }

    #[tokio::test]
    async fn a_stop_waits_for_the_request_in_flight_and_then_returns() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (entered, mut inside) = tokio::sync::mpsc::channel::<()>(1);
        let router = Router::new().route(
            "/slow",
            get(move || {
                let entered = entered.clone();
                async move {
                    entered.send(()).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    "done"
                }
            }),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(serve(listener, router, Limits::DEFAULT, async {
            let _ = stopped.await;
        }));
        let mut client = TcpStream::connect(address).await.unwrap();
        client
            .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        inside.recv().await.unwrap();
        stop.send(()).unwrap();
        let answer = until_closed(&mut client, Duration::from_secs(10)).await;
        assert!(answer.ends_with("done"), "{answer}");
        tokio::time::timeout(Duration::from_secs(10), serving)
            .await
            .expect("serve returns once the connection closed")
            .unwrap();
        assert!(
            TcpStream::connect(address).await.is_err(),
            "no longer accepting"
        );
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_its_answer_is_let_go() {
        // Far more than the sockets' buffers hold: the server's writes wait.
        let router = big_answer(256 << 20);
        let limits = deadlines(Duration::from_secs(30), Duration::from_millis(300));
        let (address, stop, serving) = serving(router, limits).await;
        let mut client = asking(address, "").await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        // A stop waits for every answer in flight: it returns only if the
        // stalled one was given up.
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), serving)
            .await
            .expect("the stalled connection was closed, so serve returns")
            .unwrap();
        let mut received = Vec::new();
        let _ = client.read_to_end(&mut received).await;
        assert!(received.len() < 256 << 20, "the answer was cut short");
    }

    #[tokio::test]
    async fn a_client_that_reads_slowly_but_steadily_gets_all_of_its_answer() {
        let router = big_answer(8 << 20);
        // A write waits until the client has taken enough for the socket to
        // accept more (about a third of its send buffer, over a MiB here), so
        // the reader below takes one of those well within 3 s.
        let limits = deadlines(Duration::from_secs(30), Duration::from_secs(3));
        let (address, _stop, _serving) = serving(router, limits).await;
        let mut client = asking(address, "Connection: close\r\n").await;
        let mut received = 0usize;
        let mut chunk = vec![0u8; 256 << 10];
        loop {
            // Pauses, many of them in all, none near the deadline.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let read = tokio::time::timeout(Duration::from_secs(10), client.read(&mut chunk))
                .await
                .expect("the server keeps sending")
                .unwrap();
            if read == 0 {
                break;
            }
            received += read;
        }
        assert!(
            received > 8 << 20,
            "all of the body and its head: {received}"
        );
    }
}
