//! `tahc replay`: one conversation as it stood at a time or position,
//! replayed from the log of a data directory.

use std::io::Write;
use std::process::ExitCode;

use chrono::{DateTime, SecondsFormat, Utc};
use tahc_app::history::{AsOf, ConversationAsOf, conversation_as_of};
use tahc_events::Position;
use tahc_projections::Window;
use uuid::Uuid;

use crate::data_dir::{id_arg, vault_of};
use crate::log_store::LogArgs;

/// Options of `tahc replay`.
#[derive(clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    log: LogArgs,
    /// The conversation (UUID or API id).
    #[arg(long, value_name = "ID", value_parser = id_arg("Conversation"))]
    conversation: Uuid,
    /// The point to replay to: a log position (`1042`) or an RFC 3339 time
    /// (`2026-11-21T10:00:00Z`). Without it: now.
    #[arg(long, value_name = "TIME|POSITION", value_parser = point)]
    until: Option<AsOf>,
    /// Print JSON: the conversation and its messages as the views hold them.
    #[arg(long)]
    json: bool,
}

fn point(text: &str) -> Result<AsOf, String> {
    if let Ok(position) = text.parse::<u64>() {
        return Ok(AsOf::Position(Position(position)));
    }
    text.parse::<DateTime<Utc>>()
        .map(AsOf::Time)
        .map_err(|_| format!("`{text}` is neither a log position nor an RFC 3339 time"))
}

/// Prints the conversation as of the point asked for.
pub async fn run(args: ReplayArgs) -> Result<ExitCode, String> {
    let log = args.log.open().await.map_err(|e| e.to_string())?;
    let until = args.until.unwrap_or(AsOf::Position(Position(u64::MAX)));
    let replayed = conversation_as_of(&*log, vault_of(&*log), None, args.conversation, until).await;
    log.close().await;
    let Some(history) = replayed.map_err(|e| e.to_string())? else {
        eprintln!(
            "conversation {} had not started by then, or does not exist",
            args.conversation
        );
        return Ok(ExitCode::FAILURE);
    };
    let mut out = std::io::stdout().lock();
    print(&mut out, &history, args.json).map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

fn print(out: &mut impl Write, history: &ConversationAsOf, json: bool) -> std::io::Result<()> {
    let record = &history.record;
    let messages = history
        .messages
        .messages(record.id, false, &Window::default())
        .map_err(std::io::Error::other)?
        .items;
    if json {
        let messages: Vec<_> = messages.iter().map(|(_, m)| m).collect();
        let document = serde_json::json!({ "conversation": record, "messages": messages });
        return writeln!(out, "{}", crate::terminal::safe(&format!("{document:#}")));
    }
    writeln!(
        out,
        "conversation {} as of position {}",
        record.id, record.position
    )?;
    writeln!(
        out,
        "status {:?}  controller {:?}  assignee {}  messages {} (AI {}, human {})",
        record.status,
        record.controller,
        record
            .assignee
            .map_or_else(|| "-".to_owned(), |a| a.to_string()),
        record.message_count,
        record.ai_message_count,
        record.human_message_count,
    )?;
    for (_, message) in &messages {
        let author = format!(
            "{:?}{}",
            message.author_kind,
            if message.internal { " (note)" } else { "" }
        );
        writeln!(
            out,
            "{}  {:<14}  {}",
            message
                .created_at
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            author,
            crate::terminal::safe(message.body.as_deref().unwrap_or("[erased]")),
        )?;
    }
    Ok(())
}
