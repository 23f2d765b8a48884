//! Starting conversations and posting messages. Every mutation answers
//! once every view has applied its write.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use tahc_app::SendMessage;

use super::caller;
use super::errors::UserError;
use super::payload::{errors_of, run, run_on};
use super::text_limits;
use super::types::{Conversation, Message, node};
use crate::limits::checked;

/// Starts a conversation.
#[derive(InputObject)]
pub struct StartConversationInput {
    body: String,
    client_mutation_id: Option<String>,
}

/// What `startConversation` did.
#[derive(SimpleObject)]
pub struct StartConversationPayload {
    conversation: Option<Conversation>,
    message: Option<Message>,
    user_errors: Vec<UserError>,
    client_mutation_id: Option<String>,
}

/// Posts a message or note.
#[derive(InputObject)]
pub struct SendMessageInput {
    conversation_id: ID,
    body: String,
    /// Team only: an internal note the visitor never sees.
    internal: Option<bool>,
    /// AI only: confidence of this answer (0..1).
    confidence: Option<f64>,
    /// Retrying with the same key never posts twice.
    idempotency_key: Option<String>,
    client_mutation_id: Option<String>,
}

/// What `sendMessage` did.
#[derive(SimpleObject)]
pub struct SendMessagePayload {
    message: Option<Message>,
    conversation: Option<Conversation>,
    user_errors: Vec<UserError>,
    client_mutation_id: Option<String>,
}

/// Starting conversations and posting messages.
#[derive(Default)]
pub struct MessageMutation;

#[Object]
impl MessageMutation {
    /// A visitor (or the team on a visitor's behalf) starts a conversation.
    async fn start_conversation(
        &self,
        ctx: &Context<'_>,
        input: StartConversationInput,
    ) -> Result<StartConversationPayload> {
        let caller = caller(ctx)?;
        let node = node(ctx);
        let outcome = run(
            ctx,
            "body",
            checked(
                text_limits(ctx).message(&input.body),
                node.commands.start_conversation(&caller, None, input.body),
            ),
        )
        .await?;
        let record = match &outcome {
            Ok((id, _)) => node.conversations().get(*id)?,
            Err(_) => None,
        };
        Ok(StartConversationPayload {
            message: record
                .as_ref()
                .and_then(|r| r.last_message.clone())
                .map(|m| Message {
                    record: m,
                    workspace: caller.workspace_id,
                }),
            conversation: record.map(|r| Conversation::for_caller(r, &caller)),
            user_errors: errors_of(&outcome),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Posts a message: the visitor's, the AI's (bot keys) or an agent's.
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        input: SendMessageInput,
    ) -> Result<SendMessagePayload> {
        let caller = caller(ctx)?;
        let node = node(ctx);
        let outcome = run_on(
            ctx,
            "Conversation",
            &input.conversation_id,
            "conversationId",
            |conversation_id| {
                let check = text_limits(ctx).message(&input.body);
                let command = SendMessage {
                    conversation_id,
                    body: input.body,
                    internal: input.internal.unwrap_or(false),
                    confidence: input.confidence,
                    idempotency_key: input.idempotency_key,
                };
                checked(check, node.commands.send_message(&caller, command))
            },
        )
        .await?;
        let mut payload = SendMessagePayload {
            message: None,
            conversation: None,
            user_errors: errors_of(&outcome),
            client_mutation_id: input.client_mutation_id,
        };
        if let Ok((conversation_id, (message_id, executed))) = outcome {
            let conversations = node.conversations();
            let visitor_view = caller.visitor_id().is_some();
            // A post's message is its first event; an idempotent repeat
            // appended nothing, so its message is looked up by id.
            let message = match executed.appended {
                Some(appended) => {
                    conversations.message(conversation_id, appended.first_position, visitor_view)?
                }
                None => conversations
                    .message_by_id(message_id)?
                    .filter(|m| !(visitor_view && m.internal)),
            };
            payload.message = message.map(|record| Message {
                record,
                workspace: caller.workspace_id,
            });
            payload.conversation = conversations
                .get(conversation_id)?
                .map(|r| Conversation::for_caller(r, &caller));
        }
        Ok(payload)
    }
}
