//! `tahc export --contact ID`: everything about one contact as one JSON
//! document, the same as `GET /export/contacts/{id}.json`.

use std::process::ExitCode;
use std::sync::Arc;

use tahc_app::{Node, Reactions, SystemClock};
use uuid::Uuid;

use crate::DataDirArg;
use crate::data_dir::{id_arg, require_log};

/// Options of `tahc export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// The contact (UUID or API id).
    #[arg(long, value_name = "ID", value_parser = id_arg("Contact"))]
    contact: Uuid,
}

/// Prints the contact's export.
pub async fn run(args: ExportArgs) -> Result<ExitCode, String> {
    require_log(&args.data.data_dir).map_err(|e| e.to_string())?;
    let node = Node::start_with(&args.data.data_dir, Arc::new(SystemClock), Reactions::Off)
        .await
        .map_err(|e| e.to_string())?;
    let export = tahc_api::subject_export::subject_export(&node, None, args.contact);
    node.shutdown().await;
    match export.map_err(|e| e.to_string())? {
        Some(export) => {
            let text = serde_json::to_string_pretty(&export).map_err(|e| e.to_string())?;
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "no contact {} in {}",
                args.contact,
                args.data.data_dir.display()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
