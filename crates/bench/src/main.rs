//! `tahc-bench`: benchmarks of tahc. Each prints one JSON line per figure,
//! always beside a baseline measured in the same run, because these machines
//! are noisy and only ratios travel.

mod report;
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
}

fn main() {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = match cli.bench {
        Bench::Store(args) => runtime.block_on(store::run(args)),
    };
    if let Err(error) = result {
        eprintln!("tahc-bench: {error}");
        std::process::exit(1);
    }
}

/// A scratch directory on the same file system as `base` (or the system's
/// temporary directory), removed afterwards.
fn scratch(base: Option<&PathBuf>) -> std::io::Result<tempfile::TempDir> {
    match base {
        Some(base) => tempfile::TempDir::new_in(base),
        None => tempfile::TempDir::new(),
    }
}
