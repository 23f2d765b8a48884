//! Email capture: after the service asked for an email, the next visitor
//! message that contains one identifies the visitor, as the visitor's own
//! unverified word: an address another contact holds becomes a claim.

use tahc_domain::Email;
use tahc_domain::conversation::Conversation;
use tahc_events::{AuthorKind, Event, RecordedEvent};
use tahc_projections::{View, ViewChanges};

use super::{Reaction, Reactor};
use crate::error::AppError;
use crate::principal::Principal;

/// Identifies visitors from the address they typed when asked.
pub struct EmailCapture;

impl Reaction for EmailCapture {
    const NAME: &'static str = "email-capture";

    async fn react(
        &self,
        reactor: &Reactor,
        record: &RecordedEvent,
        event: &Event,
        _memory: &View,
        _changes: &mut ViewChanges,
    ) -> Result<(), AppError> {
        let Event::MessagePosted(message) = event else {
            return Ok(());
        };
        if message.author_kind != AuthorKind::Visitor || message.internal {
            return Ok(());
        }
        let Some(address) = message.body.as_plain().and_then(Email::find_in) else {
            return Ok(());
        };
        let conversation = reactor
            .commands
            .aggregates()
            .load::<Conversation>(&record.stream_id, record.workspace_id)
            .await?
            .state;
        if !conversation.awaiting_email || conversation.contact_id.is_some() {
            return Ok(());
        }
        reactor
            .commands
            .identify_visitor(
                &Principal::system(record.workspace_id),
                Some(conversation.visitor_id),
                address.to_string(),
                None,
            )
            .await
            .map(|_| ())
    }
}
