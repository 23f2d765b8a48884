//! `tahc-bench query` and `tahc-bench mutation`: the API over a big inbox.
//!
//! Seeding writes realistic events straight into the log from many writers
//! (a visitor, a conversation with its messages, some closed or pending, one
//! in ten visitors a named contact), then a node catches its views up.
//!
//! * `seed_log`: events appended per second (target ≥ 100,000/s), beside
//!   the same events' record bytes written in sled batches
//!   (`raw_sled_batch`).
//! * `seed_views` (informational): events the views apply per second when
//!   a node catches up from scratch.
//! * `inbox_first_page` / `contact_search`: p50/p99 in-process (through the
//!   schema, no HTTP) and over HTTP (one client on a loopback connection),
//!   beside `{ __typename }` over the same path (targets: first page p99
//!   ≤ 2 ms in-process, ≤ 5 ms over HTTP).
//! * `mutation`: `sendMessage` over HTTP from 64 concurrent clients (each
//!   answered once the views show the write), as a ratio of `{ __typename }`
//!   from 64 clients over the same HTTP stack.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use tahc_api::graphql_ws::LiveSettings;
use tahc_api::schema::{Caller, TahcSchema};
use tahc_app::{Node, Principal, Reactions, SystemClock};
use tahc_events::{
    Actor, AuthorKind, ContactCreated, Controller, ConversationContactLinked, ConversationStarted,
    ConversationStatus, ConversationStatusChanged, Event, EventMeta, MessagePosted, NewEvent,
    Personal, StreamCategory, StreamId, VisitorFirstSeen,
};
use tahc_store::{EventAppender, EventStore, ExpectedVersion, SledLog, SledOptions};
use uuid::Uuid;

use crate::report;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Options of `tahc-bench query`.
#[derive(clap::Args)]
pub struct QueryArgs {
    /// Conversations seeded.
    #[arg(long, default_value_t = 1_000_000)]
    conversations: usize,
    /// Messages per conversation.
    #[arg(long, default_value_t = 5)]
    messages: usize,
    /// Concurrent seeding writers.
    #[arg(long, default_value_t = 64)]
    writers: usize,
    /// Requests timed per figure.
    #[arg(long, default_value_t = 2_000)]
    samples: usize,
    #[command(flatten)]
    cache: crate::CacheArgs,
    /// Directory for the scratch data (default: the system's temporary
    /// directory).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Options of `tahc-bench mutation`.
#[derive(clap::Args)]
pub struct MutationArgs {
    /// Conversations seeded first (each client writes into its own).
    #[arg(long, default_value_t = 10_000)]
    conversations: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Requests per figure.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Directory for the scratch data.
    #[arg(long)]
    dir: Option<PathBuf>,
}

const FIRST_NAMES: [&str; 24] = [
    "Ada", "Bo", "Cy", "Dee", "Eli", "Fay", "Gus", "Hal", "Ida", "Jo", "Kai", "Lin", "Mo", "Nia",
    "Oz", "Pia", "Quin", "Ray", "Sol", "Tia", "Uma", "Vic", "Wes", "Zoe",
];
const WORDS: [&str; 16] = [
    "order", "refund", "shipping", "invoice", "password", "login", "delivery", "broken", "thanks",
    "price", "discount", "account", "upgrade", "cancel", "address", "payment",
];

/// The workspace a seeded data directory serves, and its admin.
struct Seeded {
    admin: Principal,
    admin_key: String,
    workspace: Uuid,
}

/// Creates the workspace through the node, then writes the inbox straight
/// into the log; returns the events written, the seconds it took and the
/// log's mean group-commit size.
async fn seed(
    dir: &Path,
    conversations: usize,
    messages: usize,
    writers: usize,
) -> Result<(Seeded, u64, f64, usize)> {
    let (node, created) = crate::bench_node(dir)
        .await
        .map_err(|e| e as Box<dyn Error>)?;
    node.shutdown().await;
    let seeded = Seeded {
        admin: created.admin,
        admin_key: created.api_key,
        workspace: created.workspace_id,
    };
    let log = Arc::new(SledLog::open(dir.join("log"))?);
    let next = Arc::new(AtomicUsize::new(0));
    let written = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..writers {
        let (log, next, written) = (log.clone(), next.clone(), written.clone());
        let workspace = seeded.workspace;
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= conversations {
                    return Ok::<_, String>(());
                }
                for (stream, events) in conversation(workspace, i, messages) {
                    written.fetch_add(events.len(), Ordering::Relaxed);
                    log.append(&stream, ExpectedVersion::Any, events)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let stats = log.write_stats();
    log.close().await;
    let batch = (stats.events / stats.flushes.max(1)).max(1) as usize;
    Ok((
        seeded,
        written.load(Ordering::Relaxed) as u64,
        seconds,
        batch,
    ))
}

/// The streams and events of the `i`th seeded conversation.
fn conversation(workspace: Uuid, i: usize, messages: usize) -> Vec<(StreamId, Vec<NewEvent>)> {
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let at = |offset: i64| base + chrono::Duration::seconds(i as i64 * 7 + offset);
    let meta = |offset: i64, actor: Actor| EventMeta {
        actor,
        workspace_id: workspace,
        occurred_at: at(offset),
        correlation_id: None,
        causation_id: None,
    };
    let encode = |events: &[(Event, EventMeta)]| -> Vec<NewEvent> {
        events
            .iter()
            .map(|(e, m)| NewEvent::encode(e, m).expect("encodes"))
            .collect()
    };
    let visitor_id = Uuid::now_v7();
    let conversation_id = Uuid::now_v7();
    let visitor_actor = Actor::new(tahc_events::ActorKind::Visitor, visitor_id);
    let mut streams = vec![(
        StreamId::of(StreamCategory::Visitor, visitor_id),
        encode(&[(VisitorFirstSeen {}.into(), meta(0, visitor_actor.clone()))]),
    )];
    let mut events: Vec<(Event, EventMeta)> = vec![(
        ConversationStarted {
            visitor_id,
            controller: Controller::Ai,
        }
        .into(),
        meta(0, visitor_actor.clone()),
    )];
    for m in 0..messages {
        let (author_kind, actor) = if m % 2 == 0 {
            (AuthorKind::Visitor, visitor_actor.clone())
        } else {
            (AuthorKind::Ai, Actor::system())
        };
        let body = format!(
            "{} {} {} #{i}",
            WORDS[(i + m) % WORDS.len()],
            WORDS[(i * 7 + m) % WORDS.len()],
            WORDS[(i * 13 + m * 3) % WORDS.len()]
        );
        events.push((
            MessagePosted {
                message_id: Uuid::now_v7(),
                author_kind,
                agent_id: None,
                body: Personal::plain(body),
                internal: false,
                confidence: (author_kind == AuthorKind::Ai).then_some(0.9),
                idempotency_key: None,
            }
            .into(),
            meta(1 + m as i64, actor),
        ));
    }
    let end = 1 + messages as i64;
    match i % 3 {
        1 => events.push((
            ConversationStatusChanged {
                from: ConversationStatus::Open,
                to: ConversationStatus::Pending,
            }
            .into(),
            meta(end, Actor::system()),
        )),
        2 => events.push((
            ConversationStatusChanged {
                from: ConversationStatus::Open,
                to: ConversationStatus::Closed,
            }
            .into(),
            meta(end, Actor::system()),
        )),
        _ => {}
    }
    if i % 10 == 0 {
        let contact_id = Uuid::now_v7();
        let name = format!(
            "{} {}{}",
            FIRST_NAMES[i / 10 % FIRST_NAMES.len()],
            WORDS[i / 240 % WORDS.len()],
            i
        );
        streams.push((
            StreamId::of(StreamCategory::Contact, contact_id),
            encode(&[(
                ContactCreated {
                    email: Personal::plain(format!("person{i}@bench.example")),
                    name: Some(Personal::plain(name)),
                }
                .into(),
                meta(end, visitor_actor),
            )]),
        ));
        events.push((
            ConversationContactLinked { contact_id }.into(),
            meta(end, Actor::system()),
        ));
    }
    streams.push((
        StreamId::of(StreamCategory::Conversation, conversation_id),
        encode(&events),
    ));
    streams
}

/// Requests run before each figure, so caches are as a running server's.
const WARM_UP: usize = 1_000;

/// Events replayed by the raw baseline (the first ones written).
const RAW_SAMPLE: usize = 500_000;

const INBOX: &str = "{ conversations(first: 50, filter: {status: [OPEN]}, orderBy: {field: LAST_ACTIVITY_AT, direction: DESC}) { nodes { id status controller visitor { displayName } lastMessage { body authorKind } lastActivityAt assignee { name } } pageInfo { hasNextPage endCursor } } }";
const SEARCH: &str = "{ contacts(first: 20, search: \"zoe\") { totalCount nodes { id name email conversationCount lastActiveAt } } }";
const TYPENAME: &str = "{ __typename }";

/// Latencies of `query` through the schema, on a runtime worker like the
/// server's requests (not on the thread blocked in `block_on`).
async fn in_process(
    schema: &TahcSchema,
    admin: Principal,
    query: &str,
    samples: usize,
) -> Result<hdrhistogram::Histogram<u64>> {
    let (schema, query) = (schema.clone(), query.to_owned());
    let measured = tokio::spawn(async move {
        let mut histogram = report::micros();
        for _ in 0..samples {
            let started = Instant::now();
            let request = async_graphql::Request::new(query.as_str()).data(Caller(Some(admin)));
            let response = schema.execute(request).await;
            histogram.record(started.elapsed().as_micros() as u64).ok();
            if !response.errors.is_empty() {
                return Err(format!("the query failed: {:?}", response.errors));
            }
        }
        Ok(histogram)
    })
    .await?;
    Ok(measured?)
}

async fn over_http(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    query: &str,
    samples: usize,
) -> Result<hdrhistogram::Histogram<u64>> {
    let mut histogram = report::micros();
    let body = json!({ "query": query }).to_string();
    for _ in 0..samples {
        let started = Instant::now();
        let response = client
            .post(url)
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await?;
        let bytes = response.bytes().await?;
        histogram.record(started.elapsed().as_micros() as u64).ok();
        if bytes.windows(9).any(|w| w == b"\"errors\":") {
            return Err(format!("the query failed: {}", String::from_utf8_lossy(&bytes)).into());
        }
    }
    Ok(histogram)
}

/// A node on the seeded directory serving the API on a free port; the
/// views' catch-up rate.
async fn serve(dir: &Path, events: u64, options: SledOptions) -> Result<(Arc<Node>, String, f64)> {
    let started = Instant::now();
    // The raw baseline's sled handle lets go of the directory's lock from
    // a background thread, shortly after it is dropped.
    let mut attempts = 0;
    let node = loop {
        let options = options.clone();
        match Node::start_with_log(dir, Arc::new(SystemClock), Reactions::Off, options).await {
            Ok(node) => break Arc::new(node),
            Err(tahc_app::NodeError::Log(tahc_store::OpenError::Locked { .. }))
                if attempts < 100 =>
            {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(error) => return Err(error.into()),
        }
    };
    let views_rate = events as f64 / started.elapsed().as_secs_f64();
    let address = crate::serve(node.clone(), LiveSettings::default()).await?;
    let url = format!("http://{address}/graphql");
    Ok((node, url, views_rate))
}

/// Lets the writes of seeding and catching up reach the disk before any
/// latency is timed: sled's background flusher and the kernel's writeback
/// would otherwise compete with the first figures.
async fn settle_disk() {
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let _ = tokio::process::Command::new("sync").status().await;
}

/// Runs `tahc-bench query`.
pub async fn run_query(args: QueryArgs) -> Result<()> {
    let scratch = crate::scratch(args.dir.as_ref())?;
    let dir = scratch.path().join("data");
    let (seeded, events, seconds, batch) =
        seed(&dir, args.conversations, args.messages, args.writers).await?;
    let seed_rate = events as f64 / seconds;
    let sample = crate::store::stored_writes(&dir.join("log"), RAW_SAMPLE)?;
    let raw_rate =
        crate::store::raw_batch_throughput(&scratch.path().join("raw"), &sample, batch, true)?;
    report::throughput(
        "seed_log",
        "events_per_s",
        seed_rate,
        "raw_sled_batch",
        raw_rate,
    );
    let (node, url, views_rate) = serve(&dir, events, args.cache.sled_options()).await?;
    println!(
        "{}",
        json!({"bench": "seed_views", "events": events, "events_per_s": views_rate.round(), "conversations": args.conversations, "messages": args.conversations * args.messages, "cache_mib": args.cache.cache_mib})
    );
    settle_disk().await;
    let schema = tahc_api::schema::build(
        node.clone(),
        &tahc_api::limits::Limits::DEFAULT,
        std::sync::Arc::new(tahc_api::rate_limit::RateLimits::new(
            tahc_api::rate_limit::RateLimitSettings::OFF,
        )),
    );
    let client = reqwest::Client::new();
    for (name, query) in [("inbox_first_page", INBOX), ("contact_search", SEARCH)] {
        // Warm up caches the way a running server has them.
        in_process(&schema, seeded.admin, query, WARM_UP).await?;
        over_http(&client, &url, &seeded.admin_key, query, WARM_UP).await?;
        let base = in_process(&schema, seeded.admin, TYPENAME, args.samples).await?;
        let measured = in_process(&schema, seeded.admin, query, args.samples).await?;
        report::latency(
            &format!("{name}_in_process"),
            &measured,
            "typename_in_process",
            &base,
        );
        let base = over_http(&client, &url, &seeded.admin_key, TYPENAME, args.samples).await?;
        let measured = over_http(&client, &url, &seeded.admin_key, query, args.samples).await?;
        report::latency(&format!("{name}_http"), &measured, "typename_http", &base);
    }
    Ok(())
}

/// Runs `tahc-bench mutation`.
pub async fn run_mutation(args: MutationArgs) -> Result<()> {
    let scratch = crate::scratch(args.dir.as_ref())?;
    let dir = scratch.path().join("data");
    let (seeded, events, _, _) = seed(&dir, args.conversations, 1, 64).await?;
    let (node, url, _) = serve(&dir, events, SledOptions::default()).await?;
    // A bot key: the AI answers in AI-controlled conversations.
    let bot = node
        .commands
        .add_agent(
            &seeded.admin,
            "Answerbot".into(),
            "bot@bench.example".into(),
            tahc_events::Role::Bot,
        )
        .await?;
    let open: Vec<String> = {
        let schema = tahc_api::schema::build(
            node.clone(),
            &tahc_api::limits::Limits::DEFAULT,
            std::sync::Arc::new(tahc_api::rate_limit::RateLimits::new(
                tahc_api::rate_limit::RateLimitSettings::OFF,
            )),
        );
        let mut ids = Vec::new();
        let mut after: Option<String> = None;
        while ids.len() < args.clients {
            let query = format!(
                "{{ conversations(first: 100, filter: {{status: [OPEN]}}{}) {{ nodes {{ id }} pageInfo {{ endCursor }} }} }}",
                after
                    .as_ref()
                    .map(|a| format!(", after: \"{a}\""))
                    .unwrap_or_default()
            );
            let response = schema
                .execute(async_graphql::Request::new(query).data(Caller(Some(seeded.admin))))
                .await
                .data
                .into_json()?;
            let nodes = response["conversations"]["nodes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if nodes.is_empty() {
                break;
            }
            ids.extend(
                nodes
                    .iter()
                    .filter_map(|n| n["id"].as_str().map(str::to_owned)),
            );
            after = response["conversations"]["pageInfo"]["endCursor"]
                .as_str()
                .map(str::to_owned);
        }
        ids
    };
    if open.len() < args.clients {
        return Err("not enough open conversations; seed more".into());
    }
    let typename = concurrent(
        &url,
        &bot.api_key,
        args.clients,
        args.requests,
        |_, _| json!({ "query": TYPENAME }),
    )
    .await?;
    let send = concurrent(&url, &bot.api_key, args.clients, args.requests, |client, n| {
        json!({
            "query": "mutation($c:ID!,$b:String!){sendMessage(input:{conversationId:$c,body:$b,confidence:0.95}){message{id} userErrors{code}}}",
            "variables": {"c": open[client], "b": format!("Answer number {n}")},
        })
    })
    .await?;
    report::throughput(
        "send_message_http",
        "requests_per_s",
        send,
        "typename_http",
        typename,
    );
    Ok(())
}

/// Requests per second from `clients` concurrent clients, `total` in all.
async fn concurrent(
    url: &str,
    key: &str,
    clients: usize,
    total: usize,
    body: impl Fn(usize, usize) -> Value,
) -> Result<f64> {
    let bodies: Vec<Vec<String>> = (0..clients)
        .map(|c| {
            (0..total / clients)
                .map(|n| body(c, n).to_string())
                .collect()
        })
        .collect();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for requests in bodies {
        let (client, url, key) = (client.clone(), url.to_owned(), key.to_owned());
        tasks.spawn(async move {
            for body in requests {
                let response = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let text = response.text().await.map_err(|e| e.to_string())?;
                if text.contains("\"errors\"") || text.contains("\"code\"") {
                    return Err(format!("request failed: {text}"));
                }
            }
            Ok::<_, String>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok((total / clients * clients) as f64 / started.elapsed().as_secs_f64())
}
