//! Conversation commands: start, post, handoff, control, assignment, status.

use chrono::{DateTime, Utc};
use tahc_domain::DomainError;
use tahc_domain::conversation::{
    Assignee, Author, Command, Conversation, ConversationState, NewMessage,
};
use tahc_domain::visitor::{Visitor, VisitorState};
use tahc_events::{ConversationStatus, HandoffReason, Role, StreamCategory};
use uuid::Uuid;

use super::{Commands, stream};
use crate::aggregates::Executed;
use crate::error::AppError;
use crate::permission::Action;
use crate::principal::{Principal, PrincipalKind};

/// What the service asks when a rule asks for an email without its own text.
pub(crate) const DEFAULT_EMAIL_QUESTION: &str =
    "Could you leave your email address, so that we can follow up if we get cut off?";

/// A message to send, as the API receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct SendMessage {
    /// The conversation.
    pub conversation_id: Uuid,
    /// The text.
    pub body: String,
    /// Team only: an internal note.
    pub internal: bool,
    /// AI only: the answer's confidence.
    pub confidence: Option<f64>,
    /// Retrying with the same key never posts twice.
    pub idempotency_key: Option<String>,
}

impl Commands {
    /// A visitor (or the team on a visitor's behalf) starts a conversation.
    /// Returns its id and state.
    pub async fn start_conversation(
        &self,
        principal: &Principal,
        visitor_id: Option<Uuid>,
        body: String,
    ) -> Result<(Uuid, Executed<ConversationState>), AppError> {
        Self::require(principal, Action::StartConversation)?;
        let (visitor_id, _) = Self::visitor_of(principal, visitor_id)?;
        let visitor = self.acting_visitor(principal, visitor_id).await?;
        let visitor_blocked = self.blocked(principal, &visitor).await?;
        let workspace = self.workspace(principal.workspace_id).await?;
        let conversation_id = Uuid::now_v7();
        let message_id = Uuid::now_v7();
        let executed = self
            .aggregates
            .execute::<Conversation>(
                &stream(StreamCategory::Conversation, conversation_id),
                &self.context(principal),
                |_| {
                    Ok(Command::Start {
                        visitor_id,
                        message_id,
                        body: body.clone(),
                        visitor_blocked,
                        ai_enabled: workspace.ai_enabled,
                    })
                },
            )
            .await?;
        Ok((conversation_id, executed))
    }

    /// Posts a message: the visitor's, the AI's (bot keys) or an agent's.
    pub async fn send_message(
        &self,
        principal: &Principal,
        input: SendMessage,
    ) -> Result<(Uuid, Executed<ConversationState>), AppError> {
        Self::require(principal, Action::SendMessage)?;
        let conversation = self.conversation(principal, input.conversation_id).await?;
        let author = author(principal, &input)?;
        let visitor = self.visitor(principal, conversation.visitor_id).await?;
        let visitor_blocked = self.blocked(principal, &visitor).await?;
        let workspace = self.workspace(principal.workspace_id).await?;
        let message_id = match &input.idempotency_key {
            Some(key) => Self::keyed_id(input.conversation_id, key),
            None => Uuid::now_v7(),
        };
        let executed = self
            .aggregates
            .execute::<Conversation>(
                &stream(StreamCategory::Conversation, input.conversation_id),
                &self.context(principal),
                |_| {
                    Ok(Command::Post {
                        message: NewMessage {
                            message_id,
                            author,
                            body: input.body.clone(),
                            internal: input.internal,
                            idempotency_key: input.idempotency_key.clone(),
                        },
                        visitor_blocked,
                        ai_confidence_threshold: workspace.ai_confidence_threshold,
                    })
                },
            )
            .await?;
        let message_id = input
            .idempotency_key
            .as_ref()
            .and_then(|key| executed.state.idempotency_keys.get(key).copied())
            .unwrap_or(message_id);
        Ok((message_id, executed))
    }

    /// Asks for a human. Visitors may only give CUSTOMER_REQUEST.
    pub async fn request_human(
        &self,
        principal: &Principal,
        conversation_id: Uuid,
        reason: HandoffReason,
    ) -> Result<Executed<ConversationState>, AppError> {
        Self::require(principal, Action::RequestHuman)?;
        let by_visitor = matches!(principal.kind, PrincipalKind::Visitor { .. });
        if by_visitor && reason != HandoffReason::CustomerRequest {
            return Err(DomainError::invalid("reason", "visitors ask as CUSTOMER_REQUEST").into());
        }
        self.conversation(principal, conversation_id).await?;
        self.on_conversation(principal, conversation_id, Command::RequestHuman { reason })
            .await
    }

    /// The calling agent takes over from the AI.
    pub async fn take_over(
        &self,
        principal: &Principal,
        conversation_id: Uuid,
    ) -> Result<Executed<ConversationState>, AppError> {
        Self::require(principal, Action::TakeOver)?;
        let agent_id = principal.agent_id().ok_or(AppError::Forbidden {
            action: Action::TakeOver,
        })?;
        self.on_conversation(principal, conversation_id, Command::TakeOver { agent_id })
            .await
    }

    /// Control goes back to the AI.
    pub async fn return_to_ai(
        &self,
        principal: &Principal,
        conversation_id: Uuid,
    ) -> Result<Executed<ConversationState>, AppError> {
        Self::require(principal, Action::ReturnToAi)?;
        let ai_enabled = self.workspace(principal.workspace_id).await?.ai_enabled;
        self.on_conversation(
            principal,
            conversation_id,
            Command::ReturnToAi { ai_enabled },
        )
        .await
    }

    /// Assigns to an agent of the workspace, or unassigns with `None`.
    pub async fn assign(
        &self,
        principal: &Principal,
        conversation_id: Uuid,
        assignee_id: Option<Uuid>,
    ) -> Result<Executed<ConversationState>, AppError> {
        Self::require(principal, Action::AssignConversation)?;
        let workspace = self.workspace(principal.workspace_id).await?;
        let assignee = assignee_id.map(|agent_id| Assignee {
            agent_id,
            active: workspace
                .active_agent(agent_id)
                .is_some_and(|agent| agent.role != Role::Auditor),
        });
        self.on_conversation(principal, conversation_id, Command::Assign { assignee })
            .await
    }

    /// Closes, reopens or marks pending.
    pub async fn set_status(
        &self,
        principal: &Principal,
        conversation_id: Uuid,
        status: ConversationStatus,
    ) -> Result<Executed<ConversationState>, AppError> {
        Self::require(principal, Action::SetConversationStatus)?;
        self.on_conversation(principal, conversation_id, Command::SetStatus { status })
            .await
    }

    /// Snoozes until a time in the future.
    pub async fn snooze(
        &self,
        principal: &Principal,
        conversation_id: Uuid,
        until: DateTime<Utc>,
    ) -> Result<Executed<ConversationState>, AppError> {
        Self::require(principal, Action::SnoozeConversation)?;
        let now = self.clock.now();
        self.on_conversation(principal, conversation_id, Command::Snooze { until, now })
            .await
    }

    /// Runs a command that needs no facts on a conversation.
    async fn on_conversation(
        &self,
        principal: &Principal,
        conversation_id: Uuid,
        command: Command,
    ) -> Result<Executed<ConversationState>, AppError> {
        self.conversation(principal, conversation_id).await?;
        self.aggregates
            .execute::<Conversation>(
                &stream(StreamCategory::Conversation, conversation_id),
                &self.context(principal),
                |_| Ok(command.clone()),
            )
            .await
    }

    /// A conversation the principal may act on: of its workspace, and for a
    /// visitor its own (another visitor's reads as absent).
    async fn conversation(
        &self,
        principal: &Principal,
        conversation_id: Uuid,
    ) -> Result<ConversationState, AppError> {
        let state = self
            .existing::<Conversation>(
                principal,
                StreamCategory::Conversation,
                conversation_id,
                |s| s.started,
            )
            .await?;
        match principal.kind {
            PrincipalKind::Visitor { visitor_id } if visitor_id != state.visitor_id => {
                Err(AppError::NotFound {
                    what: "conversation",
                })
            }
            _ => Ok(state),
        }
    }

    /// A visitor of the principal's workspace.
    pub(crate) async fn visitor(
        &self,
        principal: &Principal,
        visitor_id: Uuid,
    ) -> Result<VisitorState, AppError> {
        self.existing::<Visitor>(principal, StreamCategory::Visitor, visitor_id, |s| s.seen)
            .await
    }

    /// The message id a client's idempotency key stands for: the same key
    /// in the same conversation always names the same message.
    fn keyed_id(conversation_id: Uuid, key: &str) -> Uuid {
        let digest = blake3::hash(format!("{conversation_id}\0{key}").as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest.as_bytes()[..16]);
        Uuid::new_v8(bytes)
    }
}

/// Who writes, from who is asking.
fn author(principal: &Principal, input: &SendMessage) -> Result<Author, AppError> {
    let no_confidence = || -> Result<(), AppError> {
        match input.confidence {
            Some(_) => {
                Err(DomainError::invalid("confidence", "only AI replies carry a confidence").into())
            }
            None => Ok(()),
        }
    };
    match principal.kind {
        PrincipalKind::Visitor { visitor_id } => {
            no_confidence()?;
            Ok(Author::Visitor { visitor_id })
        }
        PrincipalKind::Team {
            agent_id,
            role: Role::Bot,
        } => Ok(Author::Ai {
            bot_id: agent_id,
            confidence: input.confidence,
        }),
        PrincipalKind::Team { agent_id, .. } => {
            no_confidence()?;
            Ok(Author::Agent { agent_id })
        }
        PrincipalKind::System => {
            no_confidence()?;
            Ok(Author::System)
        }
    }
}
