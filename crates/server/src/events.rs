//! `tahc events`: the log as a readable table or as JSON lines, filtered
//! as the API's `events` query filters.

use std::io::Write;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use tahc_app::LogSelection;
use tahc_events::{Position, RecordedEvent, StreamCategory, StreamId};
use tahc_store::OpenError;
use uuid::Uuid;

use crate::data_dir::{id_arg, vault_of};
use crate::log_store::LogArgs;

/// Options of `tahc events`.
#[derive(clap::Args)]
pub struct EventsArgs {
    #[command(flatten)]
    log: LogArgs,
    /// One JSON object per line: the envelope with its payload, personal
    /// data opened (`null` where erased).
    #[arg(long)]
    json: bool,
    /// Only this stream (e.g. `conversation-<uuid>`).
    #[arg(long, value_name = "STREAM")]
    stream: Option<String>,
    /// Only this conversation's events (UUID or API id).
    #[arg(long, value_name = "ID", value_parser = id_arg("Conversation"))]
    conversation: Option<Uuid>,
    /// Only this contact's events (UUID or API id).
    #[arg(long, value_name = "ID", value_parser = id_arg("Contact"))]
    contact: Option<Uuid>,
    /// Only this workspace's events (UUID or API id).
    #[arg(long, value_name = "ID", value_parser = id_arg("Workspace"))]
    workspace: Option<Uuid>,
    /// Only events of this type (repeat for several), e.g.
    /// `conversation.message_posted`.
    #[arg(long = "type", value_name = "TYPE")]
    types: Vec<String>,
    /// Only events at or after this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    from: Option<DateTime<Utc>>,
    /// Only events before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    to: Option<DateTime<Utc>>,
    /// Start after this position.
    #[arg(long, value_name = "POSITION", default_value_t = 0)]
    after: u64,
    /// Print at most this many events.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

const PAGE: usize = 1024;

impl EventsArgs {
    fn selection(&self) -> Result<LogSelection, String> {
        let mut streams = Vec::new();
        if let Some(stream) = &self.stream {
            streams.push(StreamId::new(stream.clone()).map_err(|e| format!("--stream: {e}"))?);
        }
        streams.extend(
            self.conversation
                .map(|id| StreamId::of(StreamCategory::Conversation, id)),
        );
        streams.extend(
            self.contact
                .map(|id| StreamId::of(StreamCategory::Contact, id)),
        );
        Ok(LogSelection {
            workspace: self.workspace,
            streams,
            types: (!self.types.is_empty()).then(|| self.types.clone()),
            from: self.from,
            to: self.to,
        })
    }
}

/// Prints the requested part of the log.
pub async fn run(args: EventsArgs) -> Result<ExitCode, String> {
    let selection = args.selection()?;
    let log = match args.log.open().await {
        Ok(log) => log,
        // A fresh data directory (or database) simply has no events yet;
        // nothing is created.
        Err(OpenError::NoLog(location)) => {
            eprintln!("no events yet: {location} holds no tahc event log");
            return Ok(ExitCode::SUCCESS);
        }
        Err(error) => return Err(error.to_string()),
    };
    let mut out = std::io::stdout().lock();
    let mut after = Position(args.after);
    let mut remaining = args.limit.unwrap_or(usize::MAX);
    if !args.json {
        writeln!(
            out,
            "{:>8}  {:<27}  {:<50}  {:>4}  {:<32}  ACTOR",
            "POSITION", "TIME", "STREAM", "VER", "TYPE"
        )
        .map_err(|e| e.to_string())?;
    }
    let vault = vault_of(&*log);
    while remaining > 0 {
        let page = selection
            .page(&*log, after, PAGE.min(remaining))
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        after = last.position;
        remaining -= page.len();
        for event in &page {
            if args.json {
                let readable = vault.readable(event).map_err(|e| e.to_string())?;
                let line = serde_json::to_string(&readable).map_err(|e| e.to_string())?;
                writeln!(out, "{}", crate::terminal::safe(&line)).map_err(|e| e.to_string())?;
            } else {
                print_row(&mut out, event).map_err(|e| e.to_string())?;
            }
        }
    }
    log.close().await;
    Ok(ExitCode::SUCCESS)
}

fn print_row(out: &mut impl Write, event: &RecordedEvent) -> std::io::Result<()> {
    let actor = match &event.actor.id {
        Some(id) => format!("{}:{id}", event.actor.kind.as_str()),
        None => event.actor.kind.as_str().to_owned(),
    };
    writeln!(
        out,
        "{:>8}  {:<27}  {:<50}  {:>4}  {:<32}  {actor}",
        event.position,
        event
            .occurred_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        event.stream_id,
        event.stream_version,
        format!("{} v{}", event.event_type, event.schema_version),
    )
}
