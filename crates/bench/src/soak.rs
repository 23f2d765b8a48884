//! `tahc-bench soak --minutes N`: a realistic mix for N minutes against a
//! node with its reactions on, sampling the server's resident memory, open
//! file descriptors and view lag every minute.
//!
//! The mix, from a child process (`tahc-bench soak-clients`) so that the
//! samples are the server's alone: visitors arrive at a steady rate, chat
//! with think time, some identify themselves, some follow their timeline
//! live; a bot answers as the AI with varied confidence (low confidence
//! hands off through the workspace's threshold), some customers ask for a
//! human; an agent takes over, replies and closes; agent dashboards
//! subscribe to the inbox and leave again.
//!
//! Passes when, after the warm-up (the first sixth of the run), every
//! minute's RSS is within ±10 % of their mean, and the view lag is zero
//! once the load stops.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::{Value, json};
use tahc_api::graphql_ws::LiveSettings;
use tahc_events::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Options of `tahc-bench soak`.
#[derive(clap::Args)]
pub struct SoakArgs {
    /// Minutes of load.
    #[arg(long, default_value_t = 30)]
    minutes: u64,
    /// New visitors a second.
    #[arg(long, default_value_t = 4)]
    visitors: u32,
    #[command(flatten)]
    cache: crate::CacheArgs,
    /// Run the node on this directory (new, or empty) and keep it, for
    /// `tahc-bench footprint` (default: a scratch directory, removed).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// Options of the hidden `tahc-bench soak-clients`.
#[derive(clap::Args)]
pub struct SoakClientsArgs {
    /// The server's base URL.
    #[arg(long)]
    base: String,
    /// The workspace's global id.
    #[arg(long)]
    workspace: String,
    /// A bot's key (answers as the AI).
    #[arg(long)]
    bot: String,
    /// An agent's key.
    #[arg(long)]
    agent: String,
    /// Minutes of load.
    #[arg(long)]
    minutes: u64,
    /// New visitors a second.
    #[arg(long)]
    visitors: u32,
}

/// One minute's sample of the server.
struct Sample {
    minute: u64,
    rss_kib: u64,
    fds: usize,
    lag: u64,
    events: u64,
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// The directory the soak's node runs on: `--data-dir` if it is new or
/// empty (a soak never runs on, or mixes into, data it did not write),
/// otherwise `scratch`.
fn node_dir(data_dir: Option<&Path>, scratch: &Path) -> Result<PathBuf> {
    match data_dir {
        Some(dir) if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) => {
            Err(format!("{} is not empty", dir.display()).into())
        }
        Some(dir) => Ok(dir.to_path_buf()),
        None => Ok(scratch.to_path_buf()),
    }
}

/// Runs `tahc-bench soak`.
pub async fn run(args: SoakArgs) -> Result<()> {
    let scratch = tempfile::TempDir::new()?;
    let dir = node_dir(args.data_dir.as_deref(), scratch.path())?;
    let node = Arc::new(
        tahc_app::Node::start_with_log(
            &dir,
            Arc::new(tahc_app::SystemClock),
            tahc_app::Reactions::Run,
            args.cache.sled_options(),
        )
        .await?,
    );
    let created = node
        .commands
        .create_workspace("Soak".into(), "Ada".into(), "ada@soak.example".into(), None)
        .await?;
    let commands = &node.commands;
    let bot = commands
        .add_agent(
            &created.admin,
            "Soak AI".into(),
            "ai@soak.example".into(),
            Role::Bot,
        )
        .await?;
    let agent = commands
        .add_agent(
            &created.admin,
            "Sam".into(),
            "sam@soak.example".into(),
            Role::Agent,
        )
        .await?;
    let base = format!(
        "http://{}",
        crate::serve(node.clone(), LiveSettings::default()).await?
    );
    let head = node.log.head().await?;
    if !node.wait_for(head, Duration::from_secs(30)).await {
        return Err("the views did not catch up with the new workspace".into());
    }

    let workspace = tahc_api::schema::encode_id("Workspace", created.workspace_id).0;
    let mut clients = tokio::process::Command::new(std::env::current_exe()?)
        .args(["soak-clients", "--base", &base, "--workspace", &workspace])
        .args(["--bot", &bot.api_key, "--agent", &agent.api_key])
        .args(["--minutes", &args.minutes.to_string()])
        .args(["--visitors", &args.visitors.to_string()])
        .kill_on_drop(true)
        .spawn()?;

    let sample = |minute| {
        let node = node.clone();
        async move {
            let head = node.log.head().await.map(|p| p.0).unwrap_or_default();
            Sample {
                minute,
                rss_kib: crate::live::rss_kib(),
                fds: open_fds(),
                lag: head.saturating_sub(node.views.position().0),
                events: head,
            }
        }
    };
    let started = Instant::now();
    let mut samples = Vec::new();
    for minute in 1..=args.minutes {
        tokio::time::sleep_until((started + Duration::from_secs(60 * minute)).into()).await;
        let s = sample(minute).await;
        eprintln!(
            "minute {:>3}: rss {:>7} KiB, fds {:>5}, view lag {:>5}, events {:>9}",
            s.minute, s.rss_kib, s.fds, s.lag, s.events
        );
        samples.push(s);
    }
    let status = clients.wait().await?;
    if !status.success() {
        return Err(format!("the soak clients failed: {status}").into());
    }
    // Once the load stops, the views catch up completely.
    let settled = Instant::now();
    let mut last = sample(args.minutes).await;
    while last.lag > 0 && settled.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        last = sample(args.minutes).await;
    }

    for s in &samples {
        println!(
            "{}",
            json!({
                "bench": "soak_minute",
                "minute": s.minute,
                "rss_kib": s.rss_kib,
                "open_fds": s.fds,
                "view_lag_events": s.lag,
                "events": s.events,
            })
        );
    }
    let warm = usize::try_from(args.minutes.div_ceil(6)).unwrap_or(usize::MAX);
    let steady: Vec<f64> = samples
        .iter()
        .skip(warm)
        .map(|s| s.rss_kib as f64)
        .collect();
    let mean = steady.iter().sum::<f64>() / steady.len().max(1) as f64;
    let spread = steady
        .iter()
        .map(|rss| (rss - mean).abs() / mean)
        .fold(0.0, f64::max);
    let fds: Vec<usize> = samples.iter().skip(warm).map(|s| s.fds).collect();
    println!(
        "{}",
        json!({
            "bench": "soak",
            "minutes": args.minutes,
            "cache_mib": args.cache.cache_mib,
            "warm_up_minutes": warm,
            "events": last.events,
            "rss_mean_kib": mean.round(),
            "rss_max_deviation": (spread * 1000.0).round() / 1000.0,
            "rss_within_10_percent": spread <= 0.10,
            "open_fds_min_max": [fds.iter().min(), fds.iter().max()],
            "view_lag_after_load": last.lag,
            "lag_returned_to_zero": last.lag == 0,
        })
    );
    Ok(())
}

/// One GraphQL request; the response's `data`, or the errors as an error.
async fn graphql(
    http: &reqwest::Client,
    base: &str,
    credential: &str,
    query: &str,
    variables: Value,
) -> Result<Value> {
    let response: Value = http
        .post(format!("{base}/graphql"))
        .bearer_auth(credential)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await?
        .json()
        .await?;
    match response.get("errors") {
        Some(errors) => Err(errors.to_string().into()),
        None => Ok(response["data"].clone()),
    }
}

/// The shared settings of the soak clients.
struct Mix {
    base: String,
    workspace: String,
    bot: String,
    agent: String,
    http: reqwest::Client,
}

/// Runs the mix for the given minutes, then exits.
pub async fn soak_clients(
    args: SoakClientsArgs,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let mix = Arc::new(Mix {
        base: args.base,
        workspace: args.workspace,
        bot: args.bot,
        agent: args.agent,
        http: reqwest::Client::new(),
    });
    let until = Instant::now() + Duration::from_secs(60 * args.minutes);
    let mut tasks = tokio::task::JoinSet::new();
    // Agent dashboards come and go.
    {
        let mix = mix.clone();
        tasks.spawn(async move {
            let mut dashboards = tokio::task::JoinSet::new();
            while Instant::now() < until {
                let mix = mix.clone();
                dashboards.spawn(async move {
                    let stay = Duration::from_secs(rand::rng().random_range(5..30));
                    follow(
                        &mix.base,
                        &mix.agent,
                        "subscription{conversationChanges{kind position}}",
                        json!({}),
                        stay,
                    )
                    .await
                });
                tokio::time::sleep(Duration::from_secs(2)).await;
                while let Some(done) = dashboards.try_join_next() {
                    done.map_err(|e| e.to_string())?
                        .map_err(|e| e.to_string())?;
                }
            }
            while let Some(done) = dashboards.join_next().await {
                done.map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        });
    }
    // Visitors arrive at a steady rate.
    let mut arrivals = tokio::time::interval(Duration::from_secs_f64(
        1.0 / f64::from(args.visitors.max(1)),
    ));
    let mut visitors = tokio::task::JoinSet::new();
    let mut failures = 0u64;
    while Instant::now() < until {
        arrivals.tick().await;
        let mix = mix.clone();
        visitors.spawn(async move { visit(&mix, until).await.map_err(|e| e.to_string()) });
        while let Some(done) = visitors.try_join_next() {
            if let Err(error) = done.map_err(|e| e.to_string()).and_then(|r| r) {
                failures += 1;
                eprintln!("soak: a visit failed: {error}");
            }
        }
    }
    while let Some(done) = visitors.join_next().await {
        if done.map_err(|e| e.to_string()).and_then(|r| r).is_err() {
            failures += 1;
        }
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    if failures > 0 {
        return Err(format!("{failures} visits failed").into());
    }
    Ok(())
}

/// Subscribes with `credential` and reads changes for `stay`, then leaves.
async fn follow(
    base: &str,
    credential: &str,
    query: &str,
    variables: Value,
    stay: Duration,
) -> Result<()> {
    let url = format!("{}/graphql", base.replacen("http", "ws", 1));
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let init = json!({"type": "connection_init", "payload": {"token": credential}});
    socket.send(Message::text(init.to_string())).await?;
    let subscribe = json!({"id": "s", "type": "subscribe", "payload": {"query": query, "variables": variables}});
    socket.send(Message::text(subscribe.to_string())).await?;
    tokio::time::timeout(stay, async {
        while let Some(frame) = socket.next().await {
            if let Message::Text(text) = frame? {
                if text.contains(r#""type":"error""#) {
                    return Err(format!("subscription refused: {text}").into());
                }
                if text.contains(r#""type":"ping""#) {
                    socket.send(Message::text(r#"{"type":"pong"}"#)).await?;
                }
            }
        }
        Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    })
    .await
    .unwrap_or(Ok(()))?;
    socket.close(None).await.ok();
    Ok(())
}

const START: &str = "mutation($b:String!){startConversation(input:{body:$b}){conversation{id}}}";
const SEND: &str = "mutation($c:ID!,$b:String!,$k:Float){sendMessage(input:{conversationId:$c,body:$b,confidence:$k}){userErrors{code message}}}";

/// One visitor's conversation, start to close.
async fn visit(mix: &Mix, until: Instant) -> Result<()> {
    let http = &mix.http;
    let base = &mix.base;
    let session: Value = http
        .post(format!("{base}/widget/session"))
        .json(&json!({"workspace": mix.workspace}))
        .send()
        .await?
        .json()
        .await?;
    let token = session["token"]
        .as_str()
        .ok_or("no visitor token")?
        .to_owned();
    let started = graphql(
        http,
        base,
        &token,
        START,
        json!({"b": "Hi, I have a question about my order"}),
    )
    .await?;
    let conversation = started["startConversation"]["conversation"]["id"]
        .as_str()
        .ok_or("no conversation")?
        .to_owned();
    let (turns, follows, identifies, asks_human) = {
        let mut rng = rand::rng();
        (
            rng.random_range(2..6),
            rng.random_bool(0.5),
            rng.random_bool(0.4),
            rng.random_bool(0.2),
        )
    };
    let timeline = follows.then(|| {
        let base = base.clone();
        let token = token.clone();
        let variables = json!({"c": conversation});
        tokio::spawn(async move {
            follow(
                &base,
                &token,
                "subscription($c:ID!){conversationTimeline(conversationId:$c){kind message{body}}}",
                variables,
                Duration::from_secs(40),
            )
            .await
        })
    });
    let think = || async {
        let pause = rand::rng().random_range(500..4_000);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    };
    for turn in 0..turns {
        if Instant::now() >= until {
            break;
        }
        let confidence: f64 = rand::rng().random_range(0.3..0.99);
        let reply = json!({"c": conversation, "b": format!("Here is what I found ({turn})"), "k": confidence});
        graphql(http, base, &mix.bot, SEND, reply).await?;
        think().await;
        let said =
            json!({"c": conversation, "b": format!("Thanks, and what about {turn}?"), "k": null});
        graphql(http, base, &token, SEND, said).await?;
        if identifies && turn == 0 {
            let email = format!("visitor-{}@soak.example", uuid::Uuid::now_v7().simple());
            graphql(
                http,
                base,
                &token,
                "mutation($e:String!){identifyVisitor(input:{email:$e,name:\"Soak Visitor\"}){userErrors{code}}}",
                json!({"e": email}),
            )
            .await?;
        }
        think().await;
    }
    let by_id = json!({"c": conversation});
    if asks_human {
        graphql(
            http,
            base,
            &token,
            "mutation($c:ID!){requestHuman(input:{conversationId:$c,reason:CUSTOMER_REQUEST}){userErrors{code}}}",
            by_id.clone(),
        )
        .await?;
    }
    // An agent takes over (a user error when a human already has it),
    // replies, and closes.
    graphql(
        http,
        base,
        &mix.agent,
        "mutation($c:ID!){takeOver(input:{conversationId:$c}){userErrors{code}}}",
        by_id.clone(),
    )
    .await?;
    let answer =
        json!({"c": conversation, "b": "A human here: all sorted, have a good day", "k": null});
    graphql(http, base, &mix.agent, SEND, answer).await?;
    graphql(
        http,
        base,
        &mix.agent,
        "mutation($c:ID!){setConversationStatus(input:{conversationId:$c,status:CLOSED}){userErrors{code}}}",
        by_id,
    )
    .await?;
    if let Some(timeline) = timeline {
        timeline.await??;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_dir_that_holds_anything_is_refused_and_left_as_it_was() {
        let scratch = tempfile::TempDir::new().unwrap();
        let data = tempfile::TempDir::new().unwrap();
        std::fs::write(data.path().join("notes.txt"), "keep me").unwrap();
        let error = node_dir(Some(data.path()), scratch.path())
            .unwrap_err()
            .to_string();
        assert!(error.ends_with("is not empty"), "{error}");
        assert_eq!(
            std::fs::read_to_string(data.path().join("notes.txt")).unwrap(),
            "keep me"
        );
    }

    #[test]
    fn a_new_or_empty_data_dir_is_used_and_none_means_the_scratch_directory() {
        let scratch = tempfile::TempDir::new().unwrap();
        let empty = tempfile::TempDir::new().unwrap();
        let new = empty.path().join("new");
        assert_eq!(
            node_dir(Some(empty.path()), scratch.path()).unwrap(),
            empty.path()
        );
        assert_eq!(node_dir(Some(&new), scratch.path()).unwrap(), new);
        assert_eq!(node_dir(None, scratch.path()).unwrap(), scratch.path());
    }
}
