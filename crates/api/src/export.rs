//! The exports: a contact's data as JSON, and the contacts CSV.
//!
//! `GET /export/contacts.csv` (ADMIN, AGENT): every contact of the
//! caller's workspace as RFC 4180 CSV, UTF-8, streamed page by page so
//! memory stays constant however many contacts there are.
//!
//! Spreadsheets run cells that start with `=`, `+`, `-` or `@` (and some
//! read a leading tab or carriage return the same way) as formulas; such
//! cells get a leading apostrophe, which shows as text.

use std::borrow::Cow;
use std::io;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use tahc_app::Principal;
use tahc_events::Role;
use tahc_projections::{ContactOrder, ContactRecord, Contacts, Window};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::{Gate, Refusal};

/// The header row.
pub const HEADER: [&str; 5] = [
    "name",
    "email",
    "conversation_count",
    "first_seen",
    "last_active",
];

/// Contacts read from the view per step.
const PAGE: usize = 500;
/// Chunks written ahead of a slow client, at most.
const CHUNKS_AHEAD: usize = 4;

/// A text cell as a spreadsheet will read it: never as a formula.
#[must_use]
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Writes one contact's row.
pub fn write_row<W: io::Write>(
    writer: &mut csv::Writer<W>,
    contact: &ContactRecord,
) -> csv::Result<()> {
    writer.write_record([
        neutralise(contact.name.as_deref().unwrap_or_default()).as_ref(),
        neutralise(contact.email.as_deref().unwrap_or_default()).as_ref(),
        &contact.conversations.len().to_string(),
        &iso(contact.first_seen_at),
        &iso(contact.last_active_at),
    ])
}

/// A CSV writer as the export writes: RFC 4180 line ends.
#[must_use]
pub fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, format!("{message}\n")).into_response()
}

/// The team member an export request comes from, if one of `roles`;
/// otherwise the response that refuses it (401, 429 with `Retry-After`,
/// 403).
fn team_member(
    gate: &Gate,
    headers: &HeaderMap,
    roles: &[Role],
    refusal: &str,
) -> Result<Principal, Box<Response>> {
    let principal = match gate.pass(headers, None) {
        Ok(Some(principal)) => principal,
        Ok(None) | Err(Refusal::Unauthenticated(_)) => {
            return Err(Box::new(refuse(
                StatusCode::UNAUTHORIZED,
                "send `Authorization: Bearer <team key>`",
            )));
        }
        Err(Refusal::RateLimited(limited)) => {
            let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, &limited.to_string());
            let seconds = limited.retry_after.as_secs_f64().ceil() as u64;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            return Err(Box::new(response));
        }
    };
    match principal.role() {
        Some(role) if roles.contains(&role) => Ok(principal),
        _ => Err(Box::new(refuse(StatusCode::FORBIDDEN, refusal))),
    }
}

/// An id as exports and the CLI take it: the global id of a `kind` (a
/// GraphQL type name), or the plain UUID.
#[must_use]
pub fn id_of(kind: &str, text: &str) -> Option<Uuid> {
    crate::schema::ids::decode(kind, text).or_else(|| Uuid::parse_str(text).ok())
}

/// A contact id as exports take it: its global id, or its UUID.
#[must_use]
pub fn contact_id(text: &str) -> Option<Uuid> {
    id_of("Contact", text)
}

/// `GET /export/contacts/{id}.json` (ADMIN): one contact's data, see
/// [`crate::subject_export`]. Another workspace's contact is 404, like one
/// that does not exist.
pub async fn contact_json(
    State(gate): State<Gate>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let principal = match team_member(
        &gate,
        &headers,
        &[Role::Admin],
        "a contact's data export is for admins",
    ) {
        Ok(principal) => principal,
        Err(refused) => return *refused,
    };
    let Some(contact) = file.strip_suffix(".json").and_then(contact_id) else {
        return refuse(StatusCode::NOT_FOUND, "no such contact");
    };
    match crate::subject_export::subject_export(&gate.node, Some(principal.workspace_id), contact) {
        Ok(Some(export)) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"contact.json\"",
                ),
            ],
            axum::Json(export),
        )
            .into_response(),
        Ok(None) => refuse(StatusCode::NOT_FOUND, "no such contact"),
        Err(error) => {
            tracing::error!(%error, "contact export failed");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "the export failed")
        }
    }
}

/// `GET /export/contacts.csv`.
pub async fn contacts_csv(State(gate): State<Gate>, headers: HeaderMap) -> Response {
    let principal = match team_member(
        &gate,
        &headers,
        &[Role::Admin, Role::Agent],
        "the contacts export is for admins and agents",
    ) {
        Ok(principal) => principal,
        Err(refused) => return *refused,
    };
    let (chunks, receiver) = mpsc::channel(CHUNKS_AHEAD);
    let contacts = gate.node.contacts();
    let workspace = principal.workspace_id;
    tokio::task::spawn_blocking(move || {
        if let Err(error) = produce(&contacts, workspace, &chunks) {
            tracing::error!(%error, "contacts export failed midway");
            let _ = chunks.blocking_send(Err(io::Error::other(error)));
        }
    });
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"contacts.csv\"",
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// Why the export stopped.
#[derive(Debug, thiserror::Error)]
enum ExportError {
    #[error("reading contacts: {0}")]
    View(#[from] tahc_projections::ViewError),
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// Writes the export page by page into `chunks`; stops early, without
/// error, when the client goes away.
fn produce(
    contacts: &Contacts,
    workspace: Uuid,
    chunks: &mpsc::Sender<io::Result<Bytes>>,
) -> Result<(), ExportError> {
    let mut csv = writer();
    csv.write_record(HEADER)?;
    let mut after = None;
    loop {
        // One writer per chunk: what it wrote is the chunk.
        let window = Window {
            first: Some(PAGE),
            after: after.take(),
            last: None,
            before: None,
        };
        let page = contacts.list(workspace, None, ContactOrder::Name, false, &window)?;
        for (cursor, contact) in page.items {
            if !contact.erased {
                write_row(&mut csv, &contact)?;
            }
            after = Some(cursor);
        }
        let chunk = std::mem::replace(&mut csv, writer())
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))?;
        if chunks.blocking_send(Ok(Bytes::from(chunk))).is_err() || !page.has_next {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_others_kept() {
        for formula in ["=1+1", "+31 6", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(formula), format!("'{formula}"));
        }
        for plain in ["Ada", "", "a=b", "ünïcödé", "'quoted"] {
            assert_eq!(neutralise(plain), plain);
        }
    }

    #[test]
    fn cells_are_quoted_as_rfc_4180_says() {
        let mut csv = writer();
        csv.write_record(["a,b", "say \"hi\"", "two\nlines", "plain"])
            .unwrap();
        let text = String::from_utf8(csv.into_inner().unwrap()).unwrap();
        assert_eq!(text, "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",plain\r\n");
    }
}
