//! `tahc-bench`: benchmarks of tahc. Each prints one JSON line per figure,
//! always beside a baseline measured in the same run, because these machines
//! are noisy and only ratios travel.

mod footprint;
mod live;
mod pg;
mod query;
mod rebuild;
mod report;
mod soak;
mod store;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The same allocator as the `tahc` binary, so figures match production.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Benchmarks of tahc, each beside a same-run baseline.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// The event log: durable append throughput and latency, and reading.
    Store(store::StoreArgs),
    /// The API over a big inbox: seeding, first page and contact search,
    /// in-process and over HTTP.
    Query(query::QueryArgs),
    /// `sendMessage` over HTTP from concurrent clients.
    Mutation(query::MutationArgs),
    /// Subscribers on `conversationChanges` while writers post.
    Live(live::LiveArgs),
    /// `tahc rebuild` over sealed conversations, beside reading the log.
    Rebuild(rebuild::RebuildArgs),
    /// Appends through the PostgreSQL log beside single-row INSERT commits.
    Pg(pg::PgArgs),
    /// The idle clients of `live`, run in their own process so that the
    /// server's memory is measured alone.
    #[command(hide = true)]
    IdleClients(live::IdleClientsArgs),
    /// A realistic mix for N minutes; the server's RSS, open files and
    /// view lag each minute.
    Soak(soak::SoakArgs),
    /// The clients of `soak`, in their own process.
    #[command(hide = true)]
    SoakClients(soak::SoakClientsArgs),
    /// The memory a stopped node's sled databases take once opened, per
    /// event in its log: the part of a node's memory that grows with its
    /// data.
    Footprint(footprint::FootprintArgs),
    /// One database of `footprint`, opened in its own process.
    #[command(hide = true)]
    FootprintOpen(footprint::OpenArgs),
}

fn main() {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = match cli.bench {
        Bench::Store(args) => runtime.block_on(store::run(args)),
        Bench::Query(args) => runtime.block_on(query::run_query(args)),
        Bench::Mutation(args) => runtime.block_on(query::run_mutation(args)),
        Bench::Live(args) => runtime.block_on(live::run(args)).map_err(|e| e as _),
        Bench::Rebuild(args) => runtime.block_on(rebuild::run(args)).map_err(|e| e as _),
        Bench::Pg(args) => runtime.block_on(pg::run(args)).map_err(|e| e as _),
        Bench::IdleClients(args) => runtime.block_on(live::idle_clients(args)),
        Bench::Soak(args) => runtime.block_on(soak::run(args)).map_err(|e| e as _),
        Bench::SoakClients(args) => runtime.block_on(soak::soak_clients(args)),
        Bench::Footprint(args) => runtime.block_on(footprint::run(args)).map_err(|e| e as _),
        Bench::FootprintOpen(args) => footprint::open(&args).map_err(|e| e as _),
    };
    if let Err(error) = result {
        eprintln!("tahc-bench: {error}");
        std::process::exit(1);
    }
}

/// `--cache-mib` of the benchmarks that run a node, as `tahc serve
/// --cache-mib`.
#[derive(clap::Args)]
struct CacheArgs {
    /// MiB of pages each sled database (the log, the views) keeps in memory.
    #[arg(long, default_value_t = tahc_store::DEFAULT_CACHE_BYTES >> 20)]
    cache_mib: u64,
}

impl CacheArgs {
    /// Log options with this cache (a node's views take the same).
    fn sled_options(&self) -> tahc_store::SledOptions {
        tahc_store::SledOptions {
            cache_bytes: self.cache_mib << 20,
            ..tahc_store::SledOptions::default()
        }
    }
}

/// A node on `dir` without reactions (the benchmarks measure the log, the
/// views and the API alone), and a new workspace in it with its admin.
async fn bench_node(
    dir: &std::path::Path,
) -> Result<(tahc_app::Node, tahc_app::CreatedWorkspace), Box<dyn std::error::Error + Send + Sync>>
{
    use std::sync::Arc;
    let node = tahc_app::Node::start_with(
        dir,
        Arc::new(tahc_app::SystemClock),
        tahc_app::Reactions::Off,
    )
    .await?;
    let created = bench_workspace(&node).await?;
    Ok((node, created))
}

/// A new workspace on `node` with its admin, as every benchmark makes it.
async fn bench_workspace(
    node: &tahc_app::Node,
) -> Result<tahc_app::CreatedWorkspace, tahc_app::AppError> {
    node.commands
        .create_workspace(
            "Bench".into(),
            "Ada".into(),
            "ada@bench.example".into(),
            None,
        )
        .await
}

/// Serves every route of `node` on a free local port, without rate limits
/// (the benchmarks' clients call far faster than people) or a cap per
/// client address: its address.
async fn serve(
    node: std::sync::Arc<tahc_app::Node>,
    live: tahc_api::graphql_ws::LiveSettings,
) -> std::io::Result<std::net::SocketAddr> {
    use tahc_api::rate_limit::{RateLimitSettings, RateLimits};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let unlimited = RateLimitSettings::OFF;
    // Every client of a benchmark shares one address: the node's own cap
    // is the only one that applies.
    let limits = tahc_api::limits::Limits {
        connections_per_address: tahc_api::limits::Limits::DEFAULT.connections,
        ..tahc_api::limits::Limits::DEFAULT
    };
    let router = tahc_api::router_with(
        node,
        std::sync::Arc::new(RateLimits::new(unlimited)),
        live,
        limits,
    );
    tokio::spawn(tahc_api::connections::serve(
        listener,
        router,
        limits,
        std::future::pending(),
    ));
    Ok(address)
}

/// A scratch directory on the same file system as `base` (or the system's
/// temporary directory), removed afterwards.
fn scratch(base: Option<&PathBuf>) -> std::io::Result<tempfile::TempDir> {
    match base {
        Some(base) => tempfile::TempDir::new_in(base),
        None => tempfile::TempDir::new(),
    }
}
