//! `tahc serve`: one node on a data directory, serving the API.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use tahc_api::graphql_ws::LiveSettings;
use tahc_api::rate_limit::{Rate, RateLimitSettings, RateLimits};
use tahc_app::{Node, NodeOptions, Reactions, SystemClock};
use tahc_events::Position;
use tahc_store::SledOptions;

use crate::log_store::{LogStore, StoreArg};

/// Prints a line of the banner; a closed stdout (a terminal gone, a pipe
/// nobody reads) must never stop the server.
macro_rules! say {
    ($($line:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($line)*);
    }};
}

/// Options of `tahc serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// A TOML file of settings: each key is one of these flags' long names
    /// (`listen = "0.0.0.0:8080"`, `data-dir = "/var/lib/tahc"`). A flag or
    /// its TAHC_* variable wins over the file.
    #[arg(long, value_name = "FILE", env = "TAHC_CONFIG")]
    pub config: Option<PathBuf>,
    /// The data directory (created when missing).
    #[arg(
        long,
        value_name = "DIR",
        env = "TAHC_DATA_DIR",
        default_value = "./tahc-data"
    )]
    data_dir: PathBuf,
    #[command(flatten)]
    store: StoreArg,
    /// The address to listen on (port 0 picks a free one).
    #[arg(
        long,
        value_name = "ADDR",
        env = "TAHC_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    listen: SocketAddr,
    /// On the first start of an empty data directory, this becomes the admin
    /// key of the default workspace (for automation) instead of a new one.
    /// It must look like a generated key: `tahc_` and at least 32 random
    /// letters, digits, `_` or `-` (e.g. `tahc_$(openssl rand -hex 32)`).
    #[arg(
        long,
        value_name = "KEY",
        env = "TAHC_BOOTSTRAP_ADMIN_KEY",
        hide_env_values = true
    )]
    bootstrap_admin_key: Option<String>,
    /// Requests a minute one visitor may make, sustained (0: no limit).
    #[arg(
        long,
        value_name = "N",
        env = "TAHC_VISITOR_RATE",
        default_value_t = 120
    )]
    visitor_rate: u32,
    /// Requests one visitor may make at once after a quiet spell.
    #[arg(
        long,
        value_name = "N",
        env = "TAHC_VISITOR_BURST",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    visitor_burst: u32,
    /// Requests a minute one team key may make, sustained (0: no limit).
    #[arg(
        long,
        value_name = "N",
        env = "TAHC_TEAM_RATE",
        default_value_t = 1_200
    )]
    team_rate: u32,
    /// Requests one team key may make at once after a quiet spell.
    #[arg(
        long,
        value_name = "N",
        env = "TAHC_TEAM_BURST",
        default_value_t = 200,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    team_burst: u32,
    /// New widget sessions a minute from one client address, sustained (0:
    /// no limit). Behind a reverse proxy every client shares its address.
    #[arg(
        long,
        value_name = "N",
        env = "TAHC_SESSIONS_PER_ADDRESS_RATE",
        default_value_t = 20
    )]
    sessions_per_address_rate: u32,
    /// New widget sessions one client address may open at once.
    #[arg(
        long,
        value_name = "N",
        env = "TAHC_SESSIONS_PER_ADDRESS_BURST",
        default_value_t = 20,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    sessions_per_address_burst: u32,
    /// New widget sessions a minute on this node from every address
    /// together, sustained (0: no limit).
    #[arg(
        long,
        value_name = "N",
        env = "TAHC_SESSIONS_RATE",
        default_value_t = 600
    )]
    sessions_rate: u32,
    /// New widget sessions this node opens at once, from every address.
    #[arg(
        long,
        value_name = "N",
        env = "TAHC_SESSIONS_BURST",
        default_value_t = 200,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    sessions_burst: u32,
    /// Seconds a shutdown (SIGTERM, SIGINT) waits for requests in flight
    /// and closing WebSockets before it stops anyway.
    #[arg(
        long,
        value_name = "SECONDS",
        env = "TAHC_SHUTDOWN_TIMEOUT",
        default_value = "10",
        value_parser = seconds
    )]
    shutdown_timeout: std::time::Duration,
    /// MiB of recently used pages each sled database (the log, the views)
    /// keeps in memory. The memory they take is somewhat more than this.
    #[arg(
        long,
        value_name = "MIB",
        env = "TAHC_CACHE_MIB",
        default_value_t = tahc_store::DEFAULT_CACHE_BYTES >> 20,
        value_parser = clap::value_parser!(u64).range(1..=1 << 20)
    )]
    cache_mib: u64,
    /// MiB kept free on the file system of the sled log: below it, writes
    /// are refused (UNAVAILABLE) until space is freed, so a full disk never
    /// reaches the log (0: no reserve).
    #[arg(
        long,
        value_name = "MIB",
        env = "TAHC_DISK_RESERVE_MIB",
        default_value_t = tahc_store::DEFAULT_RESERVE_BYTES >> 20,
        value_parser = clap::value_parser!(u64).range(0..=1 << 20)
    )]
    disk_reserve_mib: u64,
    /// On the first start of an empty data directory, load a realistic
    /// sample inbox (visitors, AI and human replies, a handoff, contacts
    /// with notes, closed and pending conversations) through the real
    /// commands.
    #[arg(long, env = "TAHC_DEMO")]
    demo: bool,
    #[command(flatten)]
    limits: crate::limit_args::LimitArgs,
}

/// A whole number of seconds.
fn seconds(text: &str) -> Result<std::time::Duration, String> {
    text.parse::<u64>()
        .map(std::time::Duration::from_secs)
        .map_err(|_| format!("`{text}` is not a whole number of seconds"))
}

impl ServeArgs {
    /// How the flags tune a sled log (the views take its cache size too).
    fn sled_options(&self) -> SledOptions {
        SledOptions {
            cache_bytes: self.cache_mib << 20,
            reserve_bytes: self.disk_reserve_mib << 20,
            ..SledOptions::default()
        }
    }

    /// The rate limits the flags ask for.
    fn rate_limits(&self) -> RateLimitSettings {
        RateLimitSettings {
            visitor: Rate::new(self.visitor_rate, self.visitor_burst),
            team: Rate::new(self.team_rate, self.team_burst),
            sessions_per_address: Rate::new(
                self.sessions_per_address_rate,
                self.sessions_per_address_burst,
            ),
            sessions: Rate::new(self.sessions_rate, self.sessions_burst),
        }
    }
}

/// Starts the node, prints where to go, serves until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs) -> Result<ExitCode, String> {
    // Refused like a bad flag, without repeating the key.
    if let Some(Err(weak)) = args
        .bootstrap_admin_key
        .as_deref()
        .filter(|key| !key.is_empty())
        .map(tahc_app::api_key::check_chosen)
    {
        eprintln!("tahc: --bootstrap-admin-key (TAHC_BOOTSTRAP_ADMIN_KEY) is refused: {weak}");
        return Ok(ExitCode::from(2));
    }
    let stop_asked = shutdown_signal()?;
    let limits = RateLimits::new(args.rate_limits());
    let cannot_start = |e: &dyn std::fmt::Display| {
        format!(
            "cannot start on {} with the log in {}: {e}",
            args.data_dir.display(),
            args.store.log
        )
    };
    let sled = args.sled_options();
    let options = NodeOptions {
        reactions: Reactions::Run,
        views_cache_bytes: sled.cache_bytes,
    };
    let log = args
        .store
        .log
        .open(&args.data_dir, sled)
        .await
        .map_err(|e| cannot_start(&e))?;
    let node = Node::start_on(&args.data_dir, Arc::new(SystemClock), options, log)
        .await
        .map_err(|e| cannot_start(&e))?;
    let fresh = node.log.head().await.map_err(|e| e.to_string())? == Position::START;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let base = format!("http://{address}");
    tracing::info!(%address, data_dir = %args.data_dir.display(), store = %args.store.log, "serving");
    say!("tahc is running at {base}");
    say!("  Agent inbox: {base}/");
    say!("  GraphQL endpoint (GraphiQL in a browser): {base}/graphql");
    say!("  Health: {base}/healthz   Readiness: {base}/readyz");
    say!("  Data directory: {}", args.data_dir.display());
    if args.store.log != LogStore::Sled {
        say!("  Event log: {}", args.store.log);
    }
    // Nodes of a shared log starting together on an empty database create
    // the default workspace once; the others find it there.
    let chosen_key = args
        .bootstrap_admin_key
        .as_ref()
        .is_some_and(|k| !k.is_empty());
    let created = if fresh {
        node.commands
            .create_default_workspace(args.bootstrap_admin_key.filter(|k| !k.is_empty()))
            .await
            .map_err(|e| format!("cannot create the default workspace: {e}"))?
    } else {
        None
    };
    if let Some(created) = created {
        let head = node.log.head().await.map_err(|e| e.to_string())?;
        if !node
            .wait_for(head, std::time::Duration::from_secs(30))
            .await
        {
            return Err("the views did not catch up with the new workspace".into());
        }
        if args.demo {
            let demo = crate::demo::load(&node, &created.admin)
                .await
                .map_err(|e| format!("cannot load the demo data: {e}"))?;
            say!(
                "  Demo data: {} conversations; an agent's key (Sam Rivera): {}",
                demo.conversations,
                demo.agent_key
            );
        }
        let workspace = tahc_api::schema::encode_id("Workspace", created.workspace_id).0;
        say!("  Workspace id (for the widget): {workspace}");
        say!("  Widget demo: {base}/widget-demo?workspace={workspace}");
        // A key the operator chose is never repeated.
        let key = if chosen_key {
            say!("  Admin API key: the one --bootstrap-admin-key (TAHC_BOOTSTRAP_ADMIN_KEY) gave");
            "$TAHC_BOOTSTRAP_ADMIN_KEY".to_owned()
        } else {
            say!(
                "  Admin API key (shown once, stored only as a hash): {}",
                created.api_key
            );
            created.api_key
        };
        say!(
            "  Try: curl -s {base}/graphql -H \"Authorization: Bearer {key}\" -H 'Content-Type: application/json' -d '{{\"query\":\"{{viewer{{role workspace{{name}}}}}}\"}}'"
        );
    } else {
        if args.demo {
            say!("  --demo: sample data goes only into a new, empty data directory");
        }
        say!("  Widget demo: {base}/widget-demo?workspace=<workspace id>");
        say!("  Existing data: use the admin key printed on the first start.");
    }
    let node = Arc::new(node);
    let input = args.limits.limits();
    let (app, sockets) = tahc_api::service(
        node.clone(),
        Arc::new(limits),
        LiveSettings::default(),
        input,
    );
    // When the stop was asked for: the shutdown timeout counts from there.
    let (signalled, mut stopping) = tokio::sync::watch::channel(None);
    let server = tahc_api::connections::serve(listener, app, input, async move {
        stop_asked.await;
        say!("tahc: shutting down");
        // Stop accepting, close every WebSocket with 1001; requests in
        // flight finish.
        sockets.close_all();
        signalled.send_replace(Some(tokio::time::Instant::now()));
    });
    let patience = args.shutdown_timeout;
    let deadline = async {
        if let Ok(asked) = stopping.wait_for(Option::is_some).await
            && let Some(asked) = *asked
        {
            tokio::time::sleep_until(asked + patience).await;
        }
    };
    tokio::select! {
        () = server => {}
        () = deadline => tracing::warn!(
            ?patience, "requests still in flight after the shutdown timeout; stopping anyway"
        ),
    }
    // Connections that are closing let go of the node; then the views
    // store their checkpoints and the log is flushed and closed.
    let asked = stopping.borrow().unwrap_or_else(tokio::time::Instant::now);
    let node = release(node, asked + patience).await;
    match node {
        Some(node) => {
            node.shutdown().await;
            tracing::info!("stopped: checkpoints stored, log closed");
        }
        None => tracing::warn!(
            "connections still hold the node; every acknowledged write is durable already"
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// The node, once nothing else holds it (until `deadline`).
async fn release(mut node: Arc<Node>, deadline: tokio::time::Instant) -> Option<Node> {
    loop {
        match Arc::try_unwrap(node) {
            Ok(node) => return Some(node),
            Err(held) if tokio::time::Instant::now() < deadline => {
                node = held;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(_) => return None,
        }
    }
}

/// SIGINT or SIGTERM, listened for from the moment this is called (so a
/// signal that comes while the node is still starting is not lost).
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind| signal(kind).map_err(|e| format!("cannot listen for signals: {e}"));
    let mut interrupt = listen(SignalKind::interrupt())?;
    let mut terminate = listen(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
