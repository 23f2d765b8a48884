//! `tahc-bench live`: subscribers on `conversationChanges` while writers
//! post at a steady rate.
//!
//! * `live_delivery`: frames delivered / frames expected (every subscriber
//!   sees every message; must be exactly 1.0).
//! * `live_latency`: from the append's acknowledgement (the command
//!   returned, durable) to the frame arriving at a subscriber, beside a
//!   `{ __typename }` round trip over one of the same sockets (targets: p99
//!   ≤ 10 ms).
//! * `live_applied_latency`: from the acknowledgement to the views having
//!   applied the message (where changes are produced): the pipeline's share
//!   of `live_latency`; the rest is rendering and fan-out.
//! * `live_cpu`: the CPU the load took (server, writers and subscribers, all
//!   in this process), from the first message to the last frame: cores busy
//!   against the machine's (`ratio`), and microseconds per frame delivered.
//!   A saturated machine's latency is its queue, not the server's path.
//! * `live_idle_rss`: the server's resident memory added per idle connection
//!   with one subscription, measured first on the quiet server, the clients
//!   in a process of their own (target ≤ 64 KiB).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::json;
use tahc_api::graphql_ws::LiveSettings;
use tahc_app::SendMessage;
use tahc_events::Event;
use tokio::io::AsyncBufReadExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use uuid::Uuid;

use crate::report;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Options of `tahc-bench live`.
#[derive(clap::Args)]
pub struct LiveArgs {
    /// Subscribers on `conversationChanges`.
    #[arg(long, default_value_t = 1_000)]
    subscribers: usize,
    /// Messages posted per second.
    #[arg(long, default_value_t = 1_000)]
    rate: u32,
    /// Seconds of posting.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Idle connections (one subscription each) for the memory figure.
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
}

pub(crate) const CHANGES: &str = "subscription{conversationChanges{position message{body}}}";

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An acknowledged socket with operation `s` subscribed to `query`.
pub(crate) async fn subscriber(url: &str, key: &str, query: &str) -> Result<Socket> {
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    // Small buffers, as a server would want its clients' to be.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), false).await?;
    let init = json!({"type": "connection_init", "payload": {"token": key}});
    socket.send(Message::text(init.to_string())).await?;
    let ack = socket.next().await.ok_or("closed before the ack")??;
    if !ack
        .to_text()
        .is_ok_and(|text| text.contains("connection_ack"))
    {
        return Err(format!("expected connection_ack, got {ack:?}").into());
    }
    let subscribe = json!({"id": "s", "type": "subscribe", "payload": {"query": query}});
    socket.send(Message::text(subscribe.to_string())).await?;
    Ok(socket)
}

/// Bench message `seq` into `conversation`: its body is the number, which
/// subscribers read back with [`body_number`].
pub(crate) fn numbered_message(conversation: Uuid, seq: u64) -> SendMessage {
    SendMessage {
        conversation_id: conversation,
        body: seq.to_string(),
        internal: false,
        confidence: None,
        idempotency_key: None,
    }
}

/// The number a bench message carries as its body, read straight from the
/// frame's text: a subscriber that parsed every frame as JSON would cost
/// the shared two cores more than the server it measures.
fn body_number(frame: &str) -> Option<u64> {
    let start = frame.find(r#""body":""#)? + r#""body":""#.len();
    let digits = &frame[start..];
    let end = digits.find('"')?;
    digits[..end].parse().ok()
}

/// Reads `expected` bench messages from `socket`: how many arrived, and for
/// each the time from its acknowledgement (`acks[n]`, microseconds since
/// `epoch`, 0 until acknowledged) to its frame.
pub(crate) async fn latencies(
    socket: &mut Socket,
    expected: u64,
    acks: &[AtomicU64],
    epoch: Instant,
) -> (u64, hdrhistogram::Histogram<u64>) {
    let mut latencies = report::micros();
    let mut seen = 0u64;
    while seen < expected {
        let text = match socket.next().await {
            Some(Ok(Message::Text(text))) => text,
            // Keep-alive pings (answered by tungstenite itself).
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            _ => break,
        };
        let arrived = epoch.elapsed().as_micros() as u64;
        let Some(seq) = body_number(text.as_str()) else {
            continue;
        };
        seen += 1;
        // Not acknowledged yet: the frame beat the command's return.
        let acked = acks
            .get(seq as usize)
            .map_or(0, |a| a.load(Ordering::Acquire));
        let latency = if acked == 0 {
            1
        } else {
            arrived.saturating_sub(acked).max(1)
        };
        latencies.record(latency).ok();
    }
    (seen, latencies)
}

/// From each message's acknowledgement to the views having applied it.
fn pipeline_latency(
    applied_at: &Mutex<HashMap<Uuid, u64>>,
    posted: &Mutex<Vec<(Uuid, u64)>>,
    acks: &[AtomicU64],
) -> hdrhistogram::Histogram<u64> {
    let mut pipeline = report::micros();
    let applied_at = applied_at.lock().expect("applied");
    for (message_id, seq) in posted.lock().expect("posted").iter() {
        let acked = acks[*seq as usize].load(Ordering::Acquire);
        if let Some(at) = applied_at.get(message_id) {
            pipeline.record(at.saturating_sub(acked).max(1)).ok();
        }
    }
    pipeline
}

/// Options of the hidden `tahc-bench idle-clients`.
#[derive(clap::Args)]
pub struct IdleClientsArgs {
    /// The server's WebSocket URL.
    #[arg(long)]
    url: String,
    /// The key to subscribe with.
    #[arg(long)]
    key: String,
    /// Connections, each with one `conversationChanges` subscription.
    #[arg(long)]
    count: usize,
}

/// Opens `count` subscribed connections, prints `ready`, and holds them
/// until killed.
pub async fn idle_clients(
    args: IdleClientsArgs,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let mut idle = Vec::with_capacity(args.count);
    for _ in 0..args.count {
        idle.push(
            subscriber(&args.url, &args.key, CHANGES)
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    println!("ready");
    std::future::pending::<()>().await;
    Ok(())
}

/// CPU time this process has used, all threads, user and system.
fn process_cpu() -> Duration {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(
        u64::try_from(time.tv_sec).unwrap_or(0),
        u32::try_from(time.tv_nsec).unwrap_or(0),
    )
}

pub(crate) fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `tahc-bench live`.
pub async fn run(args: LiveArgs) -> Result<()> {
    let scratch = tempfile::TempDir::new()?;
    let (node, created) = crate::bench_node(scratch.path()).await?;
    let node = Arc::new(node);
    let address = crate::serve(node.clone(), LiveSettings::default()).await?;
    let url = format!("ws://{address}/graphql");
    let key = created.api_key.clone();
    // The key works once the views know it.
    let head = node.log.head().await?;
    if !node.wait_for(head, Duration::from_secs(30)).await {
        return Err("the views did not catch up with the new workspace".into());
    }

    if args.idle > 0 {
        idle_rss(&url, &key, args.idle).await?;
        // The load's subscribers share a broadcast with the idle ones: the
        // server lets the last of them go before the load starts.
        until_no_connections(&format!("http://{address}/metrics")).await?;
    }

    // Subscribers count frames and latencies against the acknowledgements
    // (microseconds since `epoch`, 0 until acknowledged), each in its own
    // histogram so that measuring does not make readers contend.
    let epoch = Instant::now();
    let expected = args.rate as u64 * args.seconds;
    let acks: Arc<Vec<AtomicU64>> = Arc::new((0..expected).map(|_| AtomicU64::new(0)).collect());
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..args.subscribers {
        let mut socket = subscriber(&url, &key, CHANGES).await?;
        let acks = acks.clone();
        readers.spawn(async move { latencies(&mut socket, expected, &acks, epoch).await });
    }
    // When each message became visible in the views (where live changes
    // are produced), to split the latency into the pipeline and the fan-out.
    let applied_at: Arc<Mutex<HashMap<Uuid, u64>>> = Arc::default();
    let mut applied = node.applied.follow(node.applied.head());
    let follower = {
        let applied_at = applied_at.clone();
        tokio::spawn(async move {
            while let Some(Ok(record)) = applied.next().await {
                if let Ok(Event::MessagePosted(posted)) = record.decode() {
                    let at = epoch.elapsed().as_micros() as u64;
                    applied_at
                        .lock()
                        .expect("applied")
                        .insert(posted.message_id, at);
                }
            }
        })
    };
    let posted: Arc<Mutex<Vec<(Uuid, u64)>>> = Arc::default();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // One writer per 100 messages/s, each posting into its own conversation.
    let writers = (args.rate as usize).div_ceil(100).max(1);
    let per_writer = Duration::from_secs_f64(writers as f64 / f64::from(args.rate));
    // The CPU the whole load takes (server, writers and subscribers alike,
    // all in this process), from the first message to the last frame.
    let (load_began, cpu_before) = (Instant::now(), process_cpu());
    let mut posting = tokio::task::JoinSet::new();
    let next = Arc::new(AtomicU64::new(0));
    for _ in 0..writers {
        let visitor = node.commands.new_visitor(created.workspace_id).await?;
        let (conversation, _) = node
            .commands
            .start_conversation(&visitor, None, "start".into())
            .await?;
        let (node, acks, next, posted) = (node.clone(), acks.clone(), next.clone(), posted.clone());
        posting.spawn(async move {
            let mut ticks = tokio::time::interval(per_writer);
            loop {
                ticks.tick().await;
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= expected {
                    return Ok::<_, String>(());
                }
                let (message_id, _) = node
                    .commands
                    .send_message(&visitor, numbered_message(conversation, seq))
                    .await
                    .map_err(|e| e.to_string())?;
                posted.lock().expect("posted").push((message_id, seq));
                let acked = epoch.elapsed().as_micros() as u64;
                acks[seq as usize].store(acked.max(1), Ordering::Release);
            }
        });
    }
    while let Some(done) = posting.join_next().await {
        done??;
    }
    let mut delivered = 0u64;
    let mut measured = report::micros();
    let deadline = tokio::time::sleep(Duration::from_secs(60));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => { readers.abort_all(); break; }
            next = readers.join_next() => match next {
                Some(Ok((seen, latencies))) => {
                    delivered += seen;
                    measured.add(latencies).ok();
                }
                Some(Err(_)) => {}
                None => break,
            },
        }
    }
    let expected_total = expected * args.subscribers as u64;
    let (wall, cpu) = (
        load_began.elapsed(),
        process_cpu().saturating_sub(cpu_before),
    );
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let busy = cpu.as_secs_f64() / wall.as_secs_f64();
    println!(
        "{}",
        json!({"bench": "live_cpu", "cores_busy": report::round3(busy), "cores": cores,
               "ratio": report::round3(busy / cores as f64),
               "cpu_us_per_frame": report::round3(cpu.as_secs_f64() * 1e6 / delivered.max(1) as f64)})
    );
    println!(
        "{}",
        json!({"bench": "live_delivery", "subscribers": args.subscribers, "messages": expected,
               "delivered": delivered, "expected": expected_total,
               "ratio": delivered as f64 / expected_total.max(1) as f64})
    );

    // Baseline: a `{ __typename }` round trip over the same kind of socket.
    let mut socket = subscriber(&url, &key, "{ __typename }").await?;
    let mut baseline = report::micros();
    for i in 0..2_000 {
        let started = Instant::now();
        let query = json!({"id": format!("q{i}"), "type": "subscribe", "payload": {"query": "{ __typename }"}});
        socket.send(Message::text(query.to_string())).await?;
        loop {
            let Some(Ok(Message::Text(text))) = socket.next().await else {
                return Err("the baseline socket closed".into());
            };
            if text.as_str().contains("\"complete\"")
                && text.as_str().contains(&format!("\"q{i}\""))
            {
                break;
            }
        }
        baseline.record(started.elapsed().as_micros() as u64).ok();
    }
    report::latency(
        "live_latency",
        &measured,
        "typename_ws_round_trip",
        &baseline,
    );
    follower.abort();
    report::latency(
        "live_applied_latency",
        &pipeline_latency(&applied_at, &posted, &acks),
        "typename_ws_round_trip",
        &baseline,
    );

    Ok(())
}

/// The server's resident memory added per idle connection with one
/// subscription (`live_idle_rss`), the clients in a process of their own.
/// Measured on the quiet server before the load, whose freed memory the
/// allocator would otherwise be giving back while the connections open.
async fn idle_rss(url: &str, key: &str, count: usize) -> Result<()> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib();
    let mut clients = tokio::process::Command::new(std::env::current_exe()?)
        .args(["idle-clients", "--url", url, "--key", key])
        .args(["--count", &count.to_string()])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = clients
        .stdout
        .take()
        .ok_or("no stdout of the idle clients")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let ready = lines.next_line().await?;
    if ready.as_deref() != Some("ready") {
        return Err(format!("the idle clients did not connect: {ready:?}").into());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib();
    println!(
        "{}",
        json!({"bench": "live_idle_rss", "connections": count,
               "server_kib_before": before, "server_kib_after": after,
               "kib_per_connection": (after.saturating_sub(before)) as f64 / count.max(1) as f64})
    );
    clients.kill().await?;
    Ok(())
}

/// Waits until the server at `metrics` counts no open WebSocket connection.
async fn until_no_connections(metrics: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = reqwest::get(metrics).await?.text().await?;
        let open = text
            .lines()
            .find_map(|line| line.strip_prefix("tahc_websocket_connections "))
            .and_then(|value| value.trim().parse::<f64>().ok());
        if open == Some(0.0) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("WebSocket connections still open: {open:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
