//! Starting conversations and posting messages. Every mutation answers
//! once every view has applied its write.

use std::time::Duration;

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use tahc_app::SendMessage;
use tahc_events::Position;

use super::caller;
use super::errors::{Failure, UserError, classify, coded};
use super::payload::input_id;
use super::types::{Conversation, Message, node};

/// How long a mutation waits for the views to show its write.
const VIEW_PATIENCE: Duration = Duration::from_secs(5);

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

/// Waits until the views show `position`.
pub(super) async fn settled(ctx: &Context<'_>, position: Option<Position>) -> Result<()> {
    if let Some(position) = position
        && !node(ctx).wait_for(position, VIEW_PATIENCE).await
    {
        return Err(coded(
            "INTERNAL",
            "the views did not catch up in time; the write is stored",
        ));
    }
    Ok(())
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
        let outcome = node
            .commands
            .start_conversation(&caller, None, input.body)
            .await;
        let mut payload = StartConversationPayload {
            conversation: None,
            message: None,
            user_errors: Vec::new(),
            client_mutation_id: input.client_mutation_id,
        };
        match outcome {
            Ok((id, executed)) => {
                settled(ctx, executed.appended.map(|a| a.last_position)).await?;
                let record = node.conversations().get(id)?;
                payload.message = record
                    .as_ref()
                    .and_then(|r| r.last_message.clone())
                    .map(|m| Message {
                        record: m,
                        workspace: caller.workspace_id,
                    });
                payload.conversation = record.map(|r| Conversation::for_caller(r, &caller));
            }
            Err(error) => match classify(error, "body") {
                Failure::User(user) => payload.user_errors.push(user),
                Failure::Top(top) => return Err(top),
            },
        }
        Ok(payload)
    }

    /// Posts a message: the visitor's, the AI's (bot keys) or an agent's.
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        input: SendMessageInput,
    ) -> Result<SendMessagePayload> {
        let caller = caller(ctx)?;
        let node = node(ctx);
        let mut payload = SendMessagePayload {
            message: None,
            conversation: None,
            user_errors: Vec::new(),
            client_mutation_id: input.client_mutation_id,
        };
        let conversation_id =
            match input_id("Conversation", &input.conversation_id, "conversationId") {
                Ok(id) => id,
                Err(error) => {
                    payload.user_errors.push(error);
                    return Ok(payload);
                }
            };
        let command = SendMessage {
            conversation_id,
            body: input.body,
            internal: input.internal.unwrap_or(false),
            confidence: input.confidence,
            idempotency_key: input.idempotency_key,
        };
        match node.commands.send_message(&caller, command).await {
            Ok((message_id, executed)) => {
                settled(ctx, executed.appended.map(|a| a.last_position)).await?;
                let conversations = node.conversations();
                let record = conversations.get(conversation_id)?;
                let visitor_view = caller.visitor_id().is_some();
                // A post's message is its first event; an idempotent repeat
                // appended nothing, so its message is looked up by id.
                let message = match executed.appended {
                    Some(appended) => conversations.message(
                        conversation_id,
                        appended.first_position,
                        visitor_view,
                    )?,
                    None => conversations
                        .message_by_id(message_id)?
                        .filter(|m| !(visitor_view && m.internal)),
                };
                payload.message = message.map(|record| Message {
                    record,
                    workspace: caller.workspace_id,
                });
                payload.conversation = record.map(|r| Conversation::for_caller(r, &caller));
            }
            Err(error) => match classify(error, "conversationId") {
                Failure::User(user) => payload.user_errors.push(user),
                Failure::Top(top) => return Err(top),
            },
        }
        Ok(payload)
    }
}
