//! `tahc`: the conversation service's binary: `serve` runs a node; the
//! other commands read, check, replay, rebuild and export a data directory
//! for auditors and operators.

mod config_file;
mod data_dir;
mod demo;
mod events;
mod export;
mod limit_args;
mod log_store;
mod migrate;
mod rebuild;
mod replay;
mod serve;
mod terminal;
mod verify;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

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
    /// How log lines are written to stderr: text for people, or one JSON
    /// object per line for a log collector. TAHC_LOG sets the level filter
    /// (default `warn`, e.g. `info` or `tahc_api=debug`).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "TAHC_LOG_FORMAT",
        default_value = "human"
    )]
    log_format: LogFormat,
}

/// The format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Human-readable text.
    Human,
    /// One JSON object per line.
    Json,
}

impl Cli {
    /// The command line, with `serve --config FILE`'s settings as defaults.
    /// A bad file exits 2, as a bad flag does.
    fn parse_with_config() -> Cli {
        let cli = Cli::parse();
        let Command::Serve(serve) = &cli.command else {
            return cli;
        };
        let Some(path) = serve.config.clone() else {
            return cli;
        };
        let command = Cli::command();
        let settings = command
            .find_subcommand("serve")
            .ok_or_else(|| "no serve command".to_owned())
            .and_then(|serve| config_file::load(&path, serve).map_err(|e| e.to_string()));
        let settings = match settings {
            Ok(settings) => settings,
            Err(message) => {
                eprintln!("tahc: {message}");
                std::process::exit(2);
            }
        };
        let matches = command
            .mut_subcommand("serve", |serve| config_file::apply(serve, settings))
            .get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
    }

    /// Sends log lines to stderr in the chosen format.
    fn init_logs(&self) {
        let filter = tracing_subscriber::EnvFilter::try_from_env("TAHC_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let logs = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr);
        match self.log_format {
            LogFormat::Human => logs.init(),
            LogFormat::Json => logs.json().init(),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the service on a data directory (embedded sled by default).
    Serve(serve::ServeArgs),
    /// Print the event log, oldest first.
    Events(events::EventsArgs),
    /// Walk the hash chain; exit 0 when it holds, 1 with the first bad position.
    Verify(log_store::LogArgs),
    /// Print one conversation as it stood at a time or log position.
    Replay(replay::ReplayArgs),
    /// Drop every view and rebuild it from the log (the node must be stopped).
    Rebuild(log_store::LogArgs),
    /// Print everything about one contact as JSON (a privacy request).
    Export(export::ExportArgs),
    /// Copy a data directory's sled log into an empty PostgreSQL log, with
    /// its keys and secrets, and verify the copy (docs/scaling.md).
    Migrate(migrate::MigrateArgs),
}

fn main() -> ExitCode {
    // Every file and directory tahc creates (the log, the views, the keys,
    // rebuilt copies) is its owner's alone: they hold personal data and
    // the keys that open it.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse_with_config();
    cli.init_logs();
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
            Command::Verify(args) => verify::run(args).await,
            Command::Replay(args) => replay::run(args).await,
            Command::Rebuild(args) => rebuild::run(args).await,
            Command::Export(args) => export::run(args).await,
            Command::Migrate(args) => migrate::run(args).await,
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
