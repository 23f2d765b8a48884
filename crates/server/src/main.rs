//! `tahc`: the conversation service's binary: `serve` runs a node; `events`
//! and `verify` read and check the event log of a data directory.

mod data_dir;
mod events;
mod serve;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: markedly faster than the system allocator for the log's many
/// small, short-lived records (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The tahc conversation backend.
#[derive(Parser)]
#[command(version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where a tahc node keeps its data.
#[derive(clap::Args)]
struct DataDirArg {
    /// The data directory (the log lives in DIR/log).
    #[arg(
        long,
        value_name = "DIR",
        env = "TAHC_DATA_DIR",
        default_value = "./tahc-data"
    )]
    data_dir: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service on a data directory (embedded sled by default).
    Serve(serve::ServeArgs),
    /// Print the event log, oldest first.
    Events(events::EventsArgs),
    /// Walk the hash chain; exit 0 when it holds, 1 with the first bad position.
    Verify(DataDirArg),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TAHC_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tahc: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Events(args) => events::run(args).await,
            Command::Verify(args) => verify::run(&args.data_dir).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(message) => {
            eprintln!("tahc: {message}");
            ExitCode::FAILURE
        }
    }
}
