//! Snoozed conversations wake when their time comes. The timer reads the
//! service's clock, so tests move time instead of sleeping.

use chrono::{DateTime, Utc};
use tahc_domain::conversation::{Command, Conversation};
use tahc_events::{Actor, Event, EventMeta, RecordedEvent, StreamCategory};
use tahc_projections::{View, ViewChanges};
use uuid::Uuid;

use super::links::subject;
use super::{Reaction, Reactor, view_error};
use crate::aggregates::{Context, EventIds};
use crate::commands::stream;
use crate::error::AppError;

/// Remembers snoozes and wakes them.
///
/// Memory: `d<until µs BE><conversation>` holding the workspace id, in
/// wake-up order; `c<conversation>` holding its `until`.
pub struct SnoozeTimer;

fn due_key(until: DateTime<Utc>, conversation: Uuid) -> Vec<u8> {
    [
        &b"d"[..],
        &until.timestamp_micros().to_be_bytes(),
        conversation.as_bytes(),
    ]
    .concat()
}

fn until_key(conversation: Uuid) -> Vec<u8> {
    [&b"c"[..], conversation.as_bytes()].concat()
}

impl Reaction for SnoozeTimer {
    const NAME: &'static str = "snooze";

    async fn react(
        &self,
        _reactor: &Reactor,
        record: &RecordedEvent,
        event: &Event,
        memory: &View,
        changes: &mut ViewChanges,
    ) -> Result<(), AppError> {
        let Some(conversation) = subject(record) else {
            return Ok(());
        };
        let until = match event {
            Event::ConversationSnoozed(snoozed) => Some(snoozed.until),
            Event::ConversationWoke(_) => None,
            _ => return Ok(()),
        };
        if let Some(previous) = memory.get(until_key(conversation)).map_err(view_error)? {
            let micros = i64::from_be_bytes(previous.as_ref().try_into().unwrap_or_default());
            if let Some(previous) = DateTime::from_timestamp_micros(micros) {
                changes.delete(due_key(previous, conversation));
            }
        }
        match until {
            Some(until) => {
                changes.put(due_key(until, conversation), record.workspace_id.as_bytes());
                changes.put(
                    until_key(conversation),
                    until.timestamp_micros().to_be_bytes(),
                );
            }
            None => changes.delete(until_key(conversation)),
        }
        Ok(())
    }
}

impl SnoozeTimer {
    /// Wakes every conversation whose snooze is due by the service's clock;
    /// returns how many were woken. Safe to call as often as wanted: waking
    /// a conversation that is awake already does nothing.
    pub async fn tick(&self, reactor: &Reactor, memory: &View) -> Result<usize, AppError> {
        let now = reactor.commands.now();
        let mut woken = 0;
        for entry in memory.scan(b"d") {
            let (key, workspace) = entry.map_err(view_error)?;
            let micros = i64::from_be_bytes(key[1..9].try_into().unwrap_or_default());
            if DateTime::from_timestamp_micros(micros).is_none_or(|until| until > now) {
                break;
            }
            let bad = |e: uuid::Error| AppError::View(e.to_string());
            let conversation = Uuid::from_slice(&key[9..]).map_err(bad)?;
            let workspace_id = Uuid::from_slice(&workspace).map_err(bad)?;
            let context = Context {
                meta: EventMeta {
                    actor: Actor::system(),
                    workspace_id,
                    occurred_at: now,
                    correlation_id: None,
                    causation_id: None,
                },
                // One wake-up per snooze, however often the timer ticks.
                ids: EventIds::DerivedFrom(Uuid::new_v8(key[1..17].try_into().unwrap_or_default())),
            };
            let outcome = reactor
                .commands
                .aggregates()
                .execute::<Conversation>(
                    &stream(StreamCategory::Conversation, conversation),
                    &context,
                    |_| Ok(Command::Wake { now }),
                )
                .await;
            match outcome {
                Ok(executed) if !executed.events.is_empty() => woken += 1,
                Ok(_) | Err(AppError::Domain(_)) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(woken)
    }
}
