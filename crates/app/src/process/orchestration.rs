//! Orchestration rules: when a trigger fires and the conditions hold, the
//! rule's action runs. Rules react to what visitors, agents and the AI do,
//! never to what rules (the system) did, so rules cannot trigger each other
//! in a loop.

use tahc_domain::conversation::{Assignee, Author, Command, Conversation, NewMessage};
use tahc_domain::visitor::Visitor;
use tahc_events::{
    ActionKind, ActorKind, AuthorKind, ConversationStatus, Event, HandoffReason, RecordedEvent,
    StreamCategory, Trigger,
};
use tahc_projections::{View, ViewChanges};

use super::links::{act, subject};
use super::{Reaction, Reactor};
use crate::commands::{DEFAULT_EMAIL_QUESTION, stream};
use crate::error::AppError;

/// Runs the workspace's orchestration rules.
pub struct Orchestration;

/// The triggers an event fires, with the visitor's message for keywords.
fn triggers(record: &RecordedEvent, event: &Event) -> Vec<(Trigger, Option<String>)> {
    match event {
        Event::MessagePosted(m) if m.author_kind == AuthorKind::Visitor && !m.internal => {
            let body = m.body.as_plain().map(str::to_owned);
            let mut fired = vec![(Trigger::MessageReceived, body.clone())];
            // The first message arrives with the conversation itself.
            if record.stream_version == 2 {
                fired.insert(0, (Trigger::ConversationStarted, body));
            }
            fired
        }
        Event::HandoffRequested(_) => vec![(Trigger::HandoffRequested, None)],
        Event::ConversationStatusChanged(c) if c.to == ConversationStatus::Closed => {
            vec![(Trigger::ConversationClosed, None)]
        }
        _ => Vec::new(),
    }
}

impl Reaction for Orchestration {
    const NAME: &'static str = "orchestration";

    async fn react(
        &self,
        reactor: &Reactor,
        record: &RecordedEvent,
        event: &Event,
        _memory: &View,
        _changes: &mut ViewChanges,
    ) -> Result<(), AppError> {
        if record.actor.kind == ActorKind::System {
            return Ok(());
        }
        let fired = triggers(record, event);
        let Some(conversation) = subject(record).filter(|_| !fired.is_empty()) else {
            return Ok(());
        };
        let commands = &reactor.commands;
        let workspace = commands.workspace(record.workspace_id).await?;
        let state = commands
            .aggregates()
            .load::<Conversation>(&record.stream_id, record.workspace_id)
            .await?
            .state;
        let known_visitor = commands
            .aggregates()
            .load::<Visitor>(
                &stream(StreamCategory::Visitor, state.visitor_id),
                record.workspace_id,
            )
            .await?
            .state
            .contact_id
            .is_some();
        let mut rules: Vec<_> = workspace.rules.iter().filter(|(_, r)| r.enabled).collect();
        rules.sort_by_key(|(id, _)| **id);
        for (trigger, body) in &fired {
            for (rule_id, rule) in &rules {
                let condition = &rule.condition;
                let words = body.as_deref().unwrap_or_default().to_lowercase();
                let applies = condition.trigger == *trigger
                    && !(condition.unknown_visitor_only && known_visitor)
                    && (condition.keywords.is_empty()
                        || condition
                            .keywords
                            .iter()
                            .any(|k| words.contains(k.as_str())));
                if !applies {
                    continue;
                }
                let purpose = format!("rule {rule_id} {trigger:?}");
                let action = &rule.action;
                let command = match action.kind {
                    ActionKind::AskForEmail => Command::AskForEmail {
                        message_id: reactor.derived_id(record, &purpose),
                        question: action
                            .message
                            .clone()
                            .unwrap_or_else(|| DEFAULT_EMAIL_QUESTION.to_owned()),
                    },
                    ActionKind::AssignTo => Command::Assign {
                        assignee: action.agent_id.map(|agent_id| Assignee {
                            agent_id,
                            active: workspace.active_agent(agent_id).is_some(),
                        }),
                    },
                    ActionKind::SetStatus => Command::SetStatus {
                        status: action.status.unwrap_or(ConversationStatus::Open),
                    },
                    ActionKind::RequestHuman => Command::RequestHuman {
                        reason: HandoffReason::Rule,
                    },
                    ActionKind::SendMessage => Command::Post {
                        message: NewMessage {
                            message_id: reactor.derived_id(record, &purpose),
                            author: Author::System,
                            body: action.message.clone().unwrap_or_default(),
                            internal: false,
                            idempotency_key: None,
                        },
                        visitor_blocked: false,
                        ai_confidence_threshold: workspace.ai_confidence_threshold,
                    },
                };
                act(reactor, record, conversation, command).await?;
            }
        }
        Ok(())
    }
}
