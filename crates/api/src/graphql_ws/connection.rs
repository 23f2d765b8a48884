//! One `graphql-transport-ws` connection: the protocol's state machine, its
//! operations, and the writer that sends their frames.
//!
//! Three parts run side by side. The reader (this connection's own task)
//! reads client messages and keeps the protocol's rules. Each operation runs
//! in its own task and queues its frames, holding one permit of its own
//! bounded buffer per frame; it never waits for the socket. The writer sends
//! queued frames in order and gives the permits back once they are written.
//! An operation that finds its buffer full means the client stopped reading:
//! the connection is closed (1013) while every other connection carries on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use async_graphql::Executor;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use tahc_app::{Principal, Revocation};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::{AbortHandle, JoinSet};

use super::broadcast::{Broadcasts, Departure, Results, Subscriber, Topic};
use super::protocol::{self, ClientMessage, Close, SubscribePayload};
use super::{Live, LiveSettings};
use crate::Refusal;
use crate::schema::{Caller, Delivery};

/// How long the writer tries to deliver a close frame to a peer that may
/// have stopped reading.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// How long a connection closed by a server shutdown waits for the peer's
/// close frame.
const SHUTDOWN_CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Protocol replies (acks, pongs, errors, completes) queued before the
/// client counts as not reading.
const CONTROL_BUFFER: usize = 64;

/// Most frames written before one flush.
const WRITE_BATCH: usize = 64;

/// A frame waiting for the writer, with the buffer slot it takes.
pub(super) struct Outbound {
    /// The frame.
    pub message: Message,
    /// Its place in its operation's (or the connection's) buffer.
    pub slot: OwnedSemaphorePermit,
}

/// What an operation's task reports when it stops.
enum Ended {
    /// The operation ran to its end (or failed before it started).
    Done {
        id: String,
        run: u64,
        refused: Option<Vec<async_graphql::ServerError>>,
    },
    /// Its buffer was full.
    Overflow { id: String },
}

/// Closes a connection at once, before any message.
pub async fn refuse(socket: WebSocket, close: Close) {
    let (sink, _) = socket.split();
    finish(sink, Some(close)).await;
}

/// The reader's side of a connection.
struct Connection {
    live: Live,
    settings: LiveSettings,
    outbound: mpsc::UnboundedSender<Outbound>,
    control: Arc<Semaphore>,
    principal: Option<Principal>,
    /// The credential the upgrade request's `Authorization` header carried,
    /// used when `connection_init` carries none.
    header_credential: Option<String>,
    /// Marked when the principal is revoked: the connection ends, and the
    /// writer sends nothing more.
    revocation: Arc<Revocation>,
    /// The client's address, when known.
    address: Option<std::net::IpAddr>,
    initialised: bool,
    /// A visitor's place among its connections, held while this one lasts.
    _seat: Option<super::seats::Seat<uuid::Uuid>>,
    /// Running operations: their run number (ids may be reused once an
    /// operation has ended) and a handle to stop them.
    running: HashMap<String, (u64, AbortHandle)>,
    runs: u64,
    tasks: JoinSet<Ended>,
}

/// Serves one upgraded connection from a client at `address` (when known)
/// until either side closes it. `header_credential` is what the upgrade
/// request's own `Authorization` header carried, used when
/// `connection_init` carries no credentials.
pub async fn serve(
    socket: WebSocket,
    live: Live,
    settings: LiveSettings,
    header_credential: Option<String>,
    address: Option<std::net::IpAddr>,
) {
    let _open = crate::metrics::Open::new("tahc_websocket_connections");
    let (sink, mut incoming) = socket.split();
    let (outbound, queued) = mpsc::unbounded_channel();
    let (close, closing) = oneshot::channel::<Close>();
    let revocation = Arc::new(Revocation::default());
    let writer = tokio::spawn(write(sink, queued, closing, revocation.clone()));
    let mut connection = Connection {
        live,
        settings,
        outbound,
        control: Arc::new(Semaphore::new(CONTROL_BUFFER)),
        principal: None,
        header_credential,
        revocation: revocation.clone(),
        address,
        initialised: false,
        _seat: None,
        running: HashMap::new(),
        runs: 0,
        tasks: JoinSet::new(),
    };
    let init_deadline = tokio::time::sleep(connection.settings.init_timeout);
    tokio::pin!(init_deadline);
    let mut keep_alive = tokio::time::interval(connection.settings.keep_alive);
    keep_alive.reset();
    let mut last_heard = Instant::now();
    let mut closing = connection.live.closing.clone();
    let shutdown = async move {
        // Without its `WebSockets` handle, nobody can close them.
        if closing.wait_for(|closing| *closing).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(shutdown);
    let closed = loop {
        let step = tokio::select! {
            () = &mut shutdown => Err(Close::going_away()),
            () = &mut init_deadline, if !connection.initialised => Err(Close::init_timeout()),
            () = revocation.revoked() => Err(Close::revoked()),
            _ = keep_alive.tick() => connection.keep_alive(),
            // Nothing, not even a pong, for the peer timeout: gone or stuck
            // (counted from the last message, not from the last ping).
            () = tokio::time::sleep_until(last_heard + connection.settings.peer_timeout) => {
                Err(Close::silent_peer(connection.settings.peer_timeout))
            }
            Some(ended) = connection.tasks.join_next() => match ended {
                Ok(ended) => connection.ended(ended),
                Err(failed) if failed.is_panic() => connection.panicked(failed.id()),
                // An aborted operation was completed by the client.
                Err(_) => Ok(()),
            },
            message = incoming.next() => {
                last_heard = Instant::now();
                match message {
                    Some(Err(error)) if too_big(&error) => {
                        Err(Close::too_big(connection.live.limits.frame_bytes))
                    }
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break None,
                    Some(Ok(Message::Text(text))) => connection.receive(text.as_str()),
                    Some(Ok(Message::Binary(_))) => {
                        Err(Close::bad_request("binary frames are not part of the protocol"))
                    }
                    // Pings are answered by the WebSocket layer itself; a
                    // pong only tells the peer is alive.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
                }
            }
        };
        if let Err(close) = step {
            break Some(close);
        }
    };
    connection.tasks.abort_all();
    if let Some(reason) = closed {
        tracing::debug!(code = reason.code, reason = %reason.reason, "closing a WebSocket");
        // A server shutting down waits less for its peers.
        let patience = if reason.code == Close::going_away().code {
            SHUTDOWN_CLOSE_WAIT
        } else {
            CLOSE_WAIT
        };
        let _ = close.send(reason);
        // As RFC 6455 asks, wait (bounded) for the peer's close frame before
        // dropping the socket: a peer still writing would otherwise get a
        // reset, which discards our close frame unread.
        let _ = tokio::time::timeout(patience, async {
            while let Some(Ok(message)) = incoming.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
    drop(connection);
    let _ = writer.await;
}

impl Connection {
    /// Pings the peer, both in the protocol (graphql-ws clients answer
    /// `pong`) and at the WebSocket level (every WebSocket answers), so a
    /// live peer is heard from within the peer timeout.
    fn keep_alive(&self) -> Result<(), Close> {
        self.send(protocol::ping())?;
        self.queue(Message::Ping(Default::default()))
    }

    /// Queues a protocol reply; a client that lets replies pile up has
    /// stopped reading.
    fn send(&self, text: String) -> Result<(), Close> {
        self.queue(Message::Text(text.into()))
    }

    /// Queues a frame, counted against the control buffer.
    fn queue(&self, message: Message) -> Result<(), Close> {
        let slot = self
            .control
            .clone()
            .try_acquire_owned()
            .map_err(|_| Close::slow_consumer("the connection"))?;
        self.outbound
            .send(Outbound { message, slot })
            .map_err(|_| Close::going_away())
    }

    fn receive(&mut self, text: &str) -> Result<(), Close> {
        match ClientMessage::parse(text)? {
            ClientMessage::ConnectionInit { payload } => self.init(payload),
            ClientMessage::Ping { payload } => self.send(protocol::pong(payload)),
            ClientMessage::Pong { .. } => Ok(()),
            ClientMessage::Subscribe { id, payload } => self.subscribe(id, payload),
            ClientMessage::Complete { id } => {
                if let Some((_, handle)) = self.running.remove(&id) {
                    handle.abort();
                }
                Ok(())
            }
        }
    }

    fn init(
        &mut self,
        payload: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> Result<(), Close> {
        if self.initialised {
            return Err(Close::too_many_inits());
        }
        let credential = payload.as_ref().and_then(|payload| {
            payload
                .get("authorization")
                .or_else(|| payload.get("Authorization"))
                .and_then(serde_json::Value::as_str)
                .map(|value| {
                    value
                        .strip_prefix("Bearer ")
                        .or_else(|| value.strip_prefix("bearer "))
                        .unwrap_or(value)
                })
                .or_else(|| payload.get("token").and_then(serde_json::Value::as_str))
        });
        let credential = credential
            .map(str::trim)
            .or(self.header_credential.as_deref())
            .ok_or_else(|| Close::forbidden("connection_init carries no credentials"))?
            .to_owned();
        let gate = &self.live.gate;
        let principal = gate
            .admit_credential(&credential)
            .map_err(|refusal| match refusal {
                // Not the credentials' fault: a client may try again later.
                Refusal::RateLimited(limited) => Close::try_later(&limited),
                Refusal::Unauthenticated(refused) => Close::forbidden(refused),
            })?;
        // Watch for a revocation first, then check the credential again: a
        // revocation noted in between is refused by the second check.
        gate.revocations().watch(&principal, &self.revocation);
        gate.authenticate_credential(&credential)
            .map_err(Close::forbidden)?;
        gate.seen(&principal, self.address);
        self.principal = Some(principal);
        if let Some(visitor) = self.principal.and_then(|p| p.visitor_id()) {
            let seats = &self.live.seats;
            self._seat = Some(
                seats
                    .take(visitor)
                    .ok_or_else(|| Close::too_many_connections(seats.max()))?,
            );
        }
        self.initialised = true;
        self.send(protocol::ack())
    }

    fn subscribe(&mut self, id: String, payload: SubscribePayload) -> Result<(), Close> {
        let Some(principal) = self.principal.filter(|_| self.initialised) else {
            return Err(Close::unauthorized());
        };
        if self.running.contains_key(&id) {
            return Err(Close::duplicate(&id));
        }
        if let Err(refusal) = self.live.gate.admit(&principal) {
            let errors = [refusal_error(&refusal)];
            crate::metrics::count_errors(&errors);
            return self.send(protocol::error(&id, &errors));
        }
        if self.running.len() >= self.live.limits.operations_per_connection {
            let limit = self.live.limits.operations_per_connection;
            let error = server_error(
                "LIMIT_EXCEEDED",
                format!("at most {limit} operations may run on one connection"),
            );
            return self.send(protocol::error(&id, &[error]));
        }
        self.runs += 1;
        let run = self.runs;
        let task = Operation {
            schema: self.live.schema.clone(),
            broadcasts: self.live.broadcasts.clone(),
            principal,
            payload,
            subscriber: Subscriber {
                id: id.clone(),
                outbound: self.outbound.clone(),
                buffer: Arc::new(Semaphore::new(self.settings.subscription_buffer)),
            },
            run,
            stall_timeout: self.settings.stall_timeout,
        }
        .run();
        let handle = self.tasks.spawn(task);
        self.running.insert(id, (run, handle));
        Ok(())
    }

    /// An operation's task panicked: it ends with `INTERNAL`, logged; the
    /// connection and its other operations go on.
    fn panicked(&mut self, task: tokio::task::Id) -> Result<(), Close> {
        let Some(id) = self
            .running
            .iter()
            .find(|(_, (_, handle))| handle.id() == task)
            .map(|(id, _)| id.clone())
        else {
            return Ok(());
        };
        self.running.remove(&id);
        tracing::error!(operation = %id, "a WebSocket operation panicked");
        let error = server_error("INTERNAL", "internal error".to_owned());
        self.send(protocol::error(&id, &[error]))
    }

    /// An operation stopped: forget it, then tell the client (in that
    /// order, so the client may reuse the id as soon as it hears).
    fn ended(&mut self, ended: Ended) -> Result<(), Close> {
        match ended {
            Ended::Overflow { id } => Err(Close::slow_consumer(&id)),
            Ended::Done { id, run, refused } => {
                if self
                    .running
                    .get(&id)
                    .is_none_or(|(current, _)| *current != run)
                {
                    // Completed by the client already.
                    return Ok(());
                }
                self.running.remove(&id);
                match refused {
                    Some(errors) => self.send(protocol::error(&id, &errors)),
                    None => self.send(protocol::complete(&id)),
                }
            }
        }
    }
}

/// One operation of a connection: the request, and where its frames go.
struct Operation {
    schema: crate::schema::TahcSchema,
    broadcasts: Arc<Broadcasts>,
    principal: Principal,
    payload: SubscribePayload,
    subscriber: Subscriber,
    run: u64,
    stall_timeout: Duration,
}

impl Operation {
    /// Runs the operation to its end. A subscription that declares its
    /// audience shares a broadcast with subscribers asking the same; if it
    /// lags there, it continues on its own after the last change it got.
    async fn run(self) -> Ended {
        let _open = crate::metrics::Open::new("tahc_subscriptions");
        let delivery = Delivery::new();
        let mut results = self.execute(&delivery);
        let declared = tokio::select! {
            biased;
            // A query, a mutation, a refusal, or a subscription that
            // renders for its caller alone.
            first = results.next() => return self.alone(Some(first), results).await,
            declared = delivery.declared() => declared,
        };
        let topic = Topic {
            query: self.payload.query.clone(),
            operation_name: self.payload.operation_name.clone(),
            variables: serde_json::to_string(&self.payload.variables).unwrap_or_default(),
            audience: declared.audience,
        };
        let subscriber = self.subscriber.clone();
        let mut membership =
            match self
                .broadcasts
                .join(topic, subscriber, declared.after, results, delivery)
            {
                Ok(membership) => membership,
                Err(results) => return self.alone(None, results).await,
            };
        match membership.departure().await {
            Departure::Ended => self.done(None),
            Departure::Lagged { after } => {
                drop(membership);
                let results = self.execute(&Delivery::resuming_after(after));
                self.alone(None, results).await
            }
        }
    }

    /// The operation's results, as the schema runs it with `delivery`.
    fn execute(&self, delivery: &Arc<Delivery>) -> Results {
        let payload = &self.payload;
        let mut request = async_graphql::Request::new(payload.query.clone())
            .data(Caller(Some(self.principal)))
            .data(delivery.clone());
        if let Some(name) = &payload.operation_name {
            request = request.operation_name(name.clone());
        }
        if let Some(variables) = &payload.variables {
            request = request.variables(async_graphql::Variables::from_json(
                serde_json::Value::Object(variables.clone()),
            ));
        }
        Executor::execute_stream(&self.schema, request, None)
    }

    /// Queues a `next` frame per result of this operation's own execution,
    /// `first` (already taken from `results`, if any) first. A full buffer
    /// is waited on for the stall timeout, while the execution falls back
    /// to reading the log.
    async fn alone(
        &self,
        mut first: Option<Option<async_graphql::Response>>,
        mut results: Results,
    ) -> Ended {
        // A request that fails before it runs (parse, validation, a
        // refused subscription) answers with `error`, not `next`.
        if let Some(Some(response)) = &first
            && response.data == async_graphql::Value::Null
            && !response.errors.is_empty()
        {
            let mut errors = response.errors.clone();
            errors
                .iter_mut()
                .for_each(crate::schema::errors::code_refusal);
            return self.done(Some(errors));
        }
        loop {
            let response = match first.take() {
                Some(first) => first,
                None => results.next().await,
            };
            let Some(response) = response else { break };
            let buffer = &self.subscriber.buffer;
            let slot = match buffer.clone().try_acquire_owned() {
                Ok(slot) => slot,
                Err(_) => {
                    match tokio::time::timeout(self.stall_timeout, buffer.clone().acquire_owned())
                        .await
                    {
                        Ok(Ok(slot)) => slot,
                        _ => {
                            return Ended::Overflow {
                                id: self.subscriber.id.clone(),
                            };
                        }
                    }
                }
            };
            let message = Message::Text(protocol::next(&self.subscriber.id, &response).into());
            if self
                .subscriber
                .outbound
                .send(Outbound { message, slot })
                .is_err()
            {
                break;
            }
        }
        self.done(None)
    }

    fn done(&self, refused: Option<Vec<async_graphql::ServerError>>) -> Ended {
        Ended::Done {
            id: self.subscriber.id.clone(),
            run: self.run,
            refused,
        }
    }
}

/// Sends queued frames, several per flush when they are ready together,
/// until the reader goes. A close from the reader goes out at once, even
/// past frames still queued or a write stuck on a peer that stopped
/// reading; a peer that does not take it within [`CLOSE_WAIT`] is dropped.
async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut queued: mpsc::UnboundedReceiver<Outbound>,
    mut closing: oneshot::Receiver<Close>,
    revocation: Arc<Revocation>,
) {
    loop {
        let first = tokio::select! {
            biased;
            close = &mut closing => return finish(sink, close.ok()).await,
            first = queued.recv() => first,
        };
        let Some(first) = first else {
            return finish(sink, None).await;
        };
        let mut batch = vec![first];
        while batch.len() < WRITE_BATCH {
            match queued.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        let written = async {
            let mut slots = Vec::with_capacity(batch.len());
            for frame in batch {
                // Nothing reaches a revoked principal once the revoking
                // event is visible.
                if revocation.is_revoked() {
                    return Err(Some(Close::revoked()));
                }
                slots.push(frame.slot);
                sink.feed(frame.message).await.map_err(|_| None)?;
            }
            // The slots go back once the frames are written.
            sink.flush().await.map_err(|_| None)
        };
        let result = tokio::select! {
            biased;
            close = &mut closing => Err(close.ok()),
            result = written => result,
        };
        if let Err(close) = result {
            return finish(sink, close).await;
        }
    }
}

/// Sends the close frame (if any) and closes the sink, within
/// [`CLOSE_WAIT`].
async fn finish(mut sink: SplitSink<WebSocket, Message>, close: Option<Close>) {
    let ending = async {
        if let Some(close) = close {
            let frame = CloseFrame {
                code: close.code,
                reason: close.reason.into(),
            };
            sink.send(Message::Close(Some(frame))).await?;
        }
        sink.close().await
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, ending).await;
}

/// Whether a read failed on a client message over the frame limit.
fn too_big(error: &axum::Error) -> bool {
    std::error::Error::source(error)
        .and_then(|inner| inner.downcast_ref::<tungstenite::Error>())
        .is_some_and(|inner| matches!(inner, tungstenite::Error::Capacity(_)))
}

/// A refusal at the gate as a GraphQL error with its code.
fn refusal_error(refusal: &Refusal) -> async_graphql::ServerError {
    match refusal {
        Refusal::Unauthenticated(error) => server_error("UNAUTHENTICATED", error.to_string()),
        Refusal::RateLimited(limited) => {
            let mut error = server_error("RATE_LIMITED", limited.to_string());
            if let Some(extensions) = error.extensions.as_mut() {
                extensions.set("retryAfter", limited.retry_after.as_secs_f64());
            }
            error
        }
    }
}

/// A GraphQL error with `extensions.code`.
fn server_error(code: &str, message: String) -> async_graphql::ServerError {
    let mut error = async_graphql::ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}
