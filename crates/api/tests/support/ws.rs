//! A `graphql-transport-ws` client over a real WebSocket (tokio-tungstenite).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame it expects.
const PATIENCE: Duration = Duration::from_secs(10);

/// What the server sent next.
#[derive(Debug)]
pub enum Frame {
    /// A protocol message.
    Json(Value),
    /// The close frame: code and reason.
    Closed(u16, String),
}

pub struct Ws {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    /// Connects offering `graphql-transport-ws`.
    pub async fn connect(url: &str) -> Ws {
        Self::connect_offering(url, Some("graphql-transport-ws")).await
    }

    /// Connects offering `protocol` (none: no subprotocol header).
    pub async fn connect_offering(url: &str, protocol: Option<&str>) -> Ws {
        Self::try_connect_offering(url, protocol).await.unwrap()
    }

    /// Connects offering `protocol`; the handshake's error, if it fails.
    pub async fn try_connect_offering(
        url: &str,
        protocol: Option<&str>,
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let mut request = url.into_client_request().unwrap();
        if let Some(protocol) = protocol {
            request.headers_mut().insert(
                "sec-websocket-protocol",
                HeaderValue::from_str(protocol).unwrap(),
            );
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Ws { socket })
    }

    /// Connects and initialises with `credential`, expecting the ack.
    pub async fn open(url: &str, credential: &str) -> Ws {
        let mut ws = Self::connect(url).await;
        ws.init(credential).await;
        ws
    }

    /// Like [`Ws::open`], over a socket with a tiny receive buffer: a client
    /// that then stops reading stalls the server's writes to it quickly.
    pub async fn open_stalling(url: &str, credential: &str) -> Ws {
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let host = request.uri().authority().unwrap().as_str().to_owned();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(host.parse().unwrap()).await.unwrap();
        let (socket, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
        let mut ws = Ws { socket };
        ws.init(credential).await;
        ws
    }

    async fn init(&mut self, credential: &str) {
        self.send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {credential}")}}))
            .await;
        let ack = self.message().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
    }

    pub async fn send(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket.send(Message::text(text)).await.unwrap();
    }

    pub async fn send_binary(&mut self, bytes: &[u8]) {
        self.socket
            .send(Message::binary(bytes.to_vec()))
            .await
            .unwrap();
    }

    /// Starts operation `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}))
            .await;
    }

    /// The next frame, within the patience of a test.
    pub async fn frame(&mut self) -> Frame {
        self.frame_within(PATIENCE)
            .await
            .expect("the server sent nothing in time")
    }

    /// The next frame, if one comes within `wait`; answers server pings at
    /// the WebSocket level silently (tungstenite does).
    pub async fn frame_within(&mut self, wait: Duration) -> Option<Frame> {
        loop {
            let next = tokio::time::timeout(wait, self.socket.next()).await.ok()?;
            match next {
                Some(Ok(Message::Text(text))) => {
                    return Some(Frame::Json(serde_json::from_str(text.as_str()).unwrap()));
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame.map_or((1005, String::new()), |f| {
                        (u16::from(f.code), f.reason.to_string())
                    });
                    return Some(Frame::Closed(code, reason));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Some(Frame::Closed(1006, String::new())),
            }
        }
    }

    /// The next protocol message, skipping the server's keep-alive pings.
    pub async fn message(&mut self) -> Value {
        loop {
            match self.frame().await {
                Frame::Json(message) if message["type"] == "ping" => {}
                Frame::Json(message) => return message,
                Frame::Closed(code, reason) => panic!("closed {code}: {reason}"),
            }
        }
    }

    /// The payloads of the next `count` `next` messages of operation `id`.
    pub async fn nexts(&mut self, id: &str, count: usize) -> Vec<Value> {
        let mut payloads = Vec::with_capacity(count);
        while payloads.len() < count {
            let message = self.message().await;
            assert_eq!(message["id"], id, "{message}");
            assert_eq!(message["type"], "next", "{message}");
            payloads.push(message["payload"].clone());
        }
        payloads
    }

    /// The close code and reason, skipping anything before it.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            if let Frame::Closed(code, reason) = self.frame().await {
                return (code, reason);
            }
        }
    }

    /// Nothing but pings arrives for `wait`.
    pub async fn silent_for(&mut self, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        while let Some(left) = until.checked_duration_since(tokio::time::Instant::now()) {
            match self.frame_within(left).await {
                None => return,
                Some(Frame::Json(message)) if message["type"] == "ping" => {}
                Some(frame) => panic!("expected silence, got {frame:?}"),
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
