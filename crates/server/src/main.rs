//! `tahc`: the conversation service's binary. For now it reads and checks
//! the event log of a data directory; `serve` arrives with the API.

mod data_dir;
mod events;
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
    /// Print the event log, oldest first.
    Events(events::EventsArgs),
    /// Walk the hash chain; exit 0 when it holds, 1 with the first bad position.
    Verify(DataDirArg),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tahc: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
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
