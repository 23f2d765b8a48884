//! `tahc`: the conversation service's binary: `serve` runs a node; the
//! other commands read, check, replay, rebuild and export a data directory
//! for auditors and operators.

mod data_dir;
mod events;
mod export;
mod rebuild;
mod replay;
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
    /// Print one conversation as it stood at a time or log position.
    Replay(replay::ReplayArgs),
    /// Drop every view and rebuild it from the log (the node must be stopped).
    Rebuild(DataDirArg),
    /// Print everything about one contact as JSON (a privacy request).
    Export(export::ExportArgs),
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
            Command::Replay(args) => replay::run(args).await,
            Command::Rebuild(args) => rebuild::run(args).await,
            Command::Export(args) => export::run(args).await,
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
