//! A deactivated agent's conversations lose their assignee (their history
//! stays), so nothing waits on someone who is gone.

use tahc_domain::conversation::Command;
use tahc_events::{Event, RecordedEvent};
use tahc_projections::{View, ViewChanges};
use uuid::Uuid;

use super::links::{act, subject};
use super::{Reaction, Reactor, view_error};
use crate::error::AppError;

/// Remembers who is assigned to what.
///
/// Memory: `c<conversation>` holding its assignee, `a<agent><conversation>`
/// for each conversation assigned to an agent.
pub struct Assignments;

fn assignee_key(conversation: Uuid) -> Vec<u8> {
    [&b"c"[..], conversation.as_bytes()].concat()
}

fn assigned_key(agent: Uuid, conversation: Uuid) -> Vec<u8> {
    [&b"a"[..], agent.as_bytes(), conversation.as_bytes()].concat()
}

fn previous(memory: &View, conversation: Uuid) -> Result<Option<Uuid>, AppError> {
    memory
        .get(assignee_key(conversation))
        .map_err(view_error)?
        .map(|bytes| Uuid::from_slice(&bytes).map_err(|e| AppError::View(e.to_string())))
        .transpose()
}

impl Reaction for Assignments {
    const NAME: &'static str = "assignments";

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
        let assigned = match event {
            Event::ConversationAssigned(e) => Some(e.agent_id),
            Event::ConversationTakenOver(e) => Some(e.agent_id),
            Event::ConversationUnassigned(_) => None,
            Event::AgentDeactivated(e) => {
                let prefix = [&b"a"[..], e.agent_id.as_bytes()].concat();
                for entry in memory.scan(&prefix) {
                    let (key, _) = entry.map_err(view_error)?;
                    let conversation = Uuid::from_slice(&key[prefix.len()..])
                        .map_err(|e| AppError::View(e.to_string()))?;
                    let release = Command::ReleaseAgent {
                        agent_id: e.agent_id,
                    };
                    act(reactor, record, conversation, release).await?;
                }
                return Ok(());
            }
            _ => return Ok(()),
        };
        if let Some(before) = previous(memory, subject)? {
            changes.delete(assigned_key(before, subject));
        }
        match assigned {
            Some(agent) => {
                changes.put(assignee_key(subject), agent.as_bytes());
                changes.put(assigned_key(agent, subject), b"");
            }
            None => changes.delete(assignee_key(subject)),
        }
        Ok(())
    }
}
