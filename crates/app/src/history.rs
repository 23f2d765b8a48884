//! Time travel for auditors: a conversation replayed from its own stream
//! up to a point, through the very projector that builds the live view, so
//! "as it stood then" and "as it stands now" can never disagree on rules.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tahc_events::{Position, RecordedEvent, StreamCategory, StreamId};
use tahc_projections::{
    ConversationRecord, Conversations, ConversationsProjector, Projection, Views,
};
use tahc_store::StreamReader;
use uuid::Uuid;

use crate::error::AppError;
use crate::vault::Vault;

/// Events read per page while replaying.
const PAGE: usize = 512;

/// A point in the log's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// Just after the event at this position.
    Position(Position),
    /// Just after every event that occurred at or before this time.
    Time(DateTime<Utc>),
}

impl AsOf {
    fn includes(self, record: &RecordedEvent) -> bool {
        match self {
            AsOf::Position(position) => record.position <= position,
            AsOf::Time(at) => record.occurred_at <= at,
        }
    }
}

/// A conversation as it stood at a point in history.
pub struct ConversationAsOf {
    /// Its state then.
    pub record: ConversationRecord,
    /// Its messages up to then (a private replay, not the live view).
    pub messages: Conversations,
}

/// Replays conversation `id` up to `point`. `None` when it had not started
/// by then, does not exist, or belongs to a workspace other than
/// `workspace` (when one is given): indistinguishable on purpose.
pub async fn conversation_as_of(
    log: &(impl StreamReader + ?Sized),
    vault: Arc<Vault>,
    workspace: Option<Uuid>,
    id: Uuid,
    point: AsOf,
) -> Result<Option<ConversationAsOf>, AppError> {
    let stream = StreamId::of(StreamCategory::Conversation, id);
    let mut history = Vec::new();
    let mut version = 0;
    loop {
        let page = log.read_stream(&stream, version, PAGE).await?;
        let Some(last) = page.last() else { break };
        version = last.stream_version;
        let full = page.len() == PAGE;
        let mut past_the_point = false;
        for record in page {
            if !point.includes(&record) {
                past_the_point = true;
                break;
            }
            history.push(record);
        }
        if past_the_point || !full {
            break;
        }
    }
    let Some(first) = history.first() else {
        return Ok(None);
    };
    if workspace.is_some_and(|w| w != first.workspace_id) {
        return Ok(None);
    }
    let views = Views::temporary()?;
    let projection = Projection::new(ConversationsProjector, vault, &views)?;
    projection.apply(&history)?;
    let messages = Conversations::new(projection.view().clone());
    Ok(messages
        .get(id)?
        .map(|record| ConversationAsOf { record, messages }))
}
