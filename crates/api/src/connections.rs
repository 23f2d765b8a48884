//! How the server takes and keeps its TCP connections: Nagle's algorithm
//! off, a deadline for every request's head and then for its body, a stop
//! that lets requests in flight finish.
//!
//! `axum::serve` leaves Nagle on and has no such deadlines, so a client
//! could hold a connection (and a file descriptor) forever by sending
//! nothing, or a request a byte at a time.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use http_body::{Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Serves `router` on `listener` until `stop` completes; then accepts no
/// more, lets every connection finish the request it is answering (upgraded
/// WebSockets are closed by their own handle), and returns once all of
/// them have closed.
///
/// A connection that has not sent a whole request head (line and headers)
/// `read_timeout` after it opened, or after its last answer, is closed; a
/// body not complete `read_timeout` after its head fails with
/// [`BodyTooSlow`].
pub async fn serve<F>(listener: TcpListener, router: Router, read_timeout: Duration, stop: F)
where
    F: Future<Output = ()> + Send,
{
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
            Ok((connection, _)) => {
                let service = TowerToHyperService::new(router.clone());
                let stopping = stopping.subscribe();
                let held = held.clone();
                tokio::spawn(async move {
                    answer(connection, service, read_timeout, stopping).await;
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
/// `stopping` (then after the request in flight).
async fn answer(
    connection: TcpStream,
    service: TowerToHyperService<Router>,
    head_timeout: Duration,
    mut stopping: watch::Receiver<bool>,
) {
    if let Err(error) = connection.set_nodelay(true) {
        tracing::warn!(%error, "TCP_NODELAY could not be set on a connection");
    }
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(head_timeout);
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

    /// Serves a one-route router with `head_timeout` until the returned
    /// sender is dropped or sent.
    async fn served(
        head_timeout: Duration,
    ) -> (
        std::net::SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = Router::new().route("/", get(|| async { "hello" }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(serve(listener, router, head_timeout, async {
            let _ = stopped.await;
        }));
        (address, stop, serving)
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
            Duration::from_secs(1),
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
        let serving = tokio::spawn(serve(listener, router, Duration::from_secs(30), async {
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
}
