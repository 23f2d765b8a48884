//! Visitors' conversations follow them: into their contact once they are
//! identified, and closed (with a note) when they are blocked.

use tahc_domain::conversation::{Command, Conversation};
use tahc_events::{Event, RecordedEvent, StreamCategory};
use tahc_projections::{View, ViewChanges};
use uuid::Uuid;

use super::{Reaction, Reactor, view_error};
use crate::commands::stream;
use crate::error::AppError;

/// Remembers each visitor's conversations and contact.
///
/// Memory: `v<visitor>c<conversation>` for each conversation of a visitor,
/// `v<visitor>k` holding the visitor's contact.
pub struct Links;

fn conversation_key(visitor: Uuid, conversation: Uuid) -> Vec<u8> {
    [&b"v"[..], visitor.as_bytes(), b"c", conversation.as_bytes()].concat()
}

fn contact_key(visitor: Uuid) -> Vec<u8> {
    [&b"v"[..], visitor.as_bytes(), b"k"].concat()
}

/// The conversations memory knows for a visitor.
fn conversations(memory: &View, visitor: Uuid) -> Result<Vec<Uuid>, AppError> {
    let prefix = [&b"v"[..], visitor.as_bytes(), b"c"].concat();
    memory
        .scan(&prefix)
        .map(|entry| {
            let (key, _) = entry.map_err(view_error)?;
            Uuid::from_slice(&key[prefix.len()..]).map_err(|e| AppError::View(e.to_string()))
        })
        .collect()
}

/// The aggregate id of the event's stream.
pub(super) fn subject(record: &RecordedEvent) -> Option<Uuid> {
    record.stream_id.parse().map(|(_, id)| id)
}

impl Reaction for Links {
    const NAME: &'static str = "links";

    async fn react(
        &self,
        reactor: &Reactor,
        record: &RecordedEvent,
        event: &Event,
        memory: &View,
        changes: &mut ViewChanges,
    ) -> Result<(), AppError> {
        let Some(subject) = subject(record) else {
            return Ok(());
        };
        match event {
            Event::ConversationStarted(started) => {
                changes.put(conversation_key(started.visitor_id, subject), b"");
                if let Some(contact) = memory
                    .get(contact_key(started.visitor_id))
                    .map_err(view_error)?
                {
                    let contact_id =
                        Uuid::from_slice(&contact).map_err(|e| AppError::View(e.to_string()))?;
                    act(
                        reactor,
                        record,
                        subject,
                        Command::LinkContact { contact_id },
                    )
                    .await?;
                }
            }
            Event::VisitorIdentified(identified) => {
                changes.put(contact_key(subject), identified.contact_id.as_bytes());
                for conversation in conversations(memory, subject)? {
                    let link = Command::LinkContact {
                        contact_id: identified.contact_id,
                    };
                    act(reactor, record, conversation, link).await?;
                }
            }
            Event::VisitorBlocked(blocked) => {
                for conversation in conversations(memory, subject)? {
                    let close = Command::CloseForBlockedVisitor {
                        message_id: reactor.derived_id(record, &format!("close {conversation}")),
                        reason: blocked.reason.clone(),
                    };
                    act(reactor, record, conversation, close).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Runs a conversation command caused by `record`; a domain refusal (e.g.
/// already linked) only means there was nothing to do for that one.
pub(super) async fn act(
    reactor: &Reactor,
    record: &RecordedEvent,
    conversation: Uuid,
    command: Command,
) -> Result<(), AppError> {
    let purpose = format!("{command:?} {conversation}");
    let outcome = reactor
        .commands
        .aggregates()
        .execute::<Conversation>(
            &stream(StreamCategory::Conversation, conversation),
            &reactor.caused_by(record, &purpose),
            |_| Ok(command.clone()),
        )
        .await;
    match outcome {
        Ok(_) | Err(AppError::Domain(_)) => Ok(()),
        Err(other) => Err(other),
    }
}
