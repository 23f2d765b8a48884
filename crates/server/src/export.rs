//! `tahc export --contact ID`: everything about one contact as one JSON
//! document, the same as `GET /export/contacts/{id}.json`.

use std::process::ExitCode;
use std::sync::Arc;

use tahc_app::{Node, Reactions, SystemClock};
use tahc_store::OpenError;
use uuid::Uuid;

use crate::data_dir::id_arg;
use crate::log_store::LogArgs;

/// Options of `tahc export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    log: LogArgs,
    /// The contact (UUID or API id).
    #[arg(long, value_name = "ID", value_parser = id_arg("Contact"))]
    contact: Uuid,
}

/// Prints the contact's export.
pub async fn run(args: ExportArgs) -> Result<ExitCode, String> {
    let data_dir = &args.log.data_dir;
    // The export is read from a node's views, kept in the data directory
    // (and brought up to date with the log first): a mistyped path must
    // not become a new directory.
    if !data_dir.is_dir() {
        return Err(OpenError::NoLog(data_dir.display().to_string()).to_string());
    }
    let log = args.log.open().await.map_err(|e| e.to_string())?;
    let node = Node::start_on(data_dir, Arc::new(SystemClock), Reactions::Off, log)
        .await
        .map_err(|e| e.to_string())?;
    let export = tahc_api::subject_export::subject_export(&node, None, args.contact);
    node.shutdown().await;
    match export.map_err(|e| e.to_string())? {
        Some(export) => {
            let text = serde_json::to_string_pretty(&export).map_err(|e| e.to_string())?;
            println!("{}", crate::terminal::safe(&text));
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("no contact {} in {}", args.contact, args.log.location());
            Ok(ExitCode::FAILURE)
        }
    }
}
