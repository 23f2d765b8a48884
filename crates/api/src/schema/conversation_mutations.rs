//! Mutations on conversations: handoff, control, assignment, status,
//! snooze, and identifying visitors.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tahc_app::{AppError, Executed, Principal};
use uuid::Uuid;

use super::caller;
use super::contacts::Contact;
use super::errors::{Failure, UserError, UserErrorCode, classify};
use super::ids;
use super::mutation::settled;
use super::types::{Conversation, ConversationStatus, HandoffReason, node};

/// Asks for a human.
#[derive(InputObject)]
pub struct RequestHumanInput {
    conversation_id: ID,
    reason: HandoffReason,
    client_mutation_id: Option<String>,
}

/// Names a conversation.
#[derive(InputObject)]
pub struct ConversationInput {
    conversation_id: ID,
    client_mutation_id: Option<String>,
}

/// Assigns (or with a null assignee unassigns) a conversation.
#[derive(InputObject)]
pub struct AssignConversationInput {
    conversation_id: ID,
    /// null unassigns
    assignee_id: Option<ID>,
    client_mutation_id: Option<String>,
}

/// Sets a conversation's status.
#[derive(InputObject)]
pub struct SetConversationStatusInput {
    conversation_id: ID,
    status: ConversationStatus,
    client_mutation_id: Option<String>,
}

/// Snoozes a conversation.
#[derive(InputObject)]
pub struct SnoozeConversationInput {
    conversation_id: ID,
    until: DateTime<Utc>,
    client_mutation_id: Option<String>,
}

/// Identifies a visitor by email.
#[derive(InputObject)]
pub struct IdentifyVisitorInput {
    /// Required for team tokens; a visitor token identifies itself.
    visitor_id: Option<ID>,
    email: String,
    name: Option<String>,
    client_mutation_id: Option<String>,
}

/// What a conversation mutation did.
#[derive(SimpleObject, Default)]
pub struct ConversationPayload {
    conversation: Option<Conversation>,
    user_errors: Vec<UserError>,
    client_mutation_id: Option<String>,
}

/// What `identifyVisitor` did.
#[derive(SimpleObject, Default)]
pub struct ContactPayload {
    contact: Option<Contact>,
    user_errors: Vec<UserError>,
    client_mutation_id: Option<String>,
}

/// An id of `kind` from input `field`, or the user error saying it is not.
fn input_id(kind: &str, id: &ID, field: &str) -> std::result::Result<Uuid, UserError> {
    ids::decode(kind, id).ok_or_else(|| UserError {
        field: Some(vec!["input".into(), field.into()]),
        message: format!("not a {kind} id"),
        code: UserErrorCode::NotFound,
    })
}

/// Runs a conversation command and shows the conversation after it.
async fn on_conversation<S>(
    ctx: &Context<'_>,
    conversation_id: &ID,
    client_mutation_id: Option<String>,
    command: impl AsyncFnOnce(Principal, Uuid) -> std::result::Result<Executed<S>, AppError>,
) -> Result<ConversationPayload> {
    let caller = caller(ctx)?;
    let mut payload = ConversationPayload {
        client_mutation_id,
        ..ConversationPayload::default()
    };
    let id = match input_id("Conversation", conversation_id, "conversationId") {
        Ok(id) => id,
        Err(error) => {
            payload.user_errors.push(error);
            return Ok(payload);
        }
    };
    match command(caller, id).await {
        Ok(executed) => {
            settled(ctx, executed.appended.map(|a| a.last_position)).await?;
            payload.conversation = node(ctx)
                .conversations()
                .get(id)?
                .map(|record| Conversation::for_caller(record, &caller));
        }
        Err(error) => match classify(error, "conversationId") {
            Failure::User(user) => payload.user_errors.push(user),
            Failure::Top(top) => return Err(top),
        },
    }
    Ok(payload)
}

/// Conversation mutations.
#[derive(Default)]
pub struct ConversationMutation;

#[Object]
impl ConversationMutation {
    /// Asks for a human (visitors: CUSTOMER_REQUEST).
    async fn request_human(
        &self,
        ctx: &Context<'_>,
        input: RequestHumanInput,
    ) -> Result<ConversationPayload> {
        let commands = &node(ctx).commands;
        on_conversation(
            ctx,
            &input.conversation_id,
            input.client_mutation_id,
            async |caller, id| {
                commands
                    .request_human(&caller, id, input.reason.into())
                    .await
            },
        )
        .await
    }

    /// The calling agent takes over from the AI and becomes the assignee.
    async fn take_over(
        &self,
        ctx: &Context<'_>,
        input: ConversationInput,
    ) -> Result<ConversationPayload> {
        let commands = &node(ctx).commands;
        on_conversation(
            ctx,
            &input.conversation_id,
            input.client_mutation_id,
            async |caller, id| commands.take_over(&caller, id).await,
        )
        .await
    }

    /// Control goes back to the AI.
    async fn return_to_ai(
        &self,
        ctx: &Context<'_>,
        input: ConversationInput,
    ) -> Result<ConversationPayload> {
        let commands = &node(ctx).commands;
        on_conversation(
            ctx,
            &input.conversation_id,
            input.client_mutation_id,
            async |caller, id| commands.return_to_ai(&caller, id).await,
        )
        .await
    }

    /// Assigns to an agent of the workspace; a null assignee unassigns.
    async fn assign_conversation(
        &self,
        ctx: &Context<'_>,
        input: AssignConversationInput,
    ) -> Result<ConversationPayload> {
        let assignee = match input
            .assignee_id
            .as_ref()
            .map(|id| input_id("Agent", id, "assigneeId"))
            .transpose()
        {
            Ok(assignee) => assignee,
            Err(error) => {
                return Ok(ConversationPayload {
                    user_errors: vec![error],
                    client_mutation_id: input.client_mutation_id,
                    ..ConversationPayload::default()
                });
            }
        };
        let commands = &node(ctx).commands;
        on_conversation(
            ctx,
            &input.conversation_id,
            input.client_mutation_id,
            async |caller, id| commands.assign(&caller, id, assignee).await,
        )
        .await
    }

    /// Closes, reopens or marks pending.
    async fn set_conversation_status(
        &self,
        ctx: &Context<'_>,
        input: SetConversationStatusInput,
    ) -> Result<ConversationPayload> {
        let commands = &node(ctx).commands;
        on_conversation(
            ctx,
            &input.conversation_id,
            input.client_mutation_id,
            async |caller, id| commands.set_status(&caller, id, input.status.into()).await,
        )
        .await
    }

    /// Snoozes until a time in the future.
    async fn snooze_conversation(
        &self,
        ctx: &Context<'_>,
        input: SnoozeConversationInput,
    ) -> Result<ConversationPayload> {
        let commands = &node(ctx).commands;
        on_conversation(
            ctx,
            &input.conversation_id,
            input.client_mutation_id,
            async |caller, id| commands.snooze(&caller, id, input.until).await,
        )
        .await
    }

    /// A visitor gives an email: it joins (or creates) the contact with it.
    async fn identify_visitor(
        &self,
        ctx: &Context<'_>,
        input: IdentifyVisitorInput,
    ) -> Result<ContactPayload> {
        let caller = caller(ctx)?;
        let node = node(ctx);
        let mut payload = ContactPayload {
            client_mutation_id: input.client_mutation_id,
            ..ContactPayload::default()
        };
        let visitor_id = match input
            .visitor_id
            .as_ref()
            .map(|id| input_id("Visitor", id, "visitorId"))
            .transpose()
        {
            Ok(visitor_id) => visitor_id,
            Err(error) => {
                payload.user_errors.push(error);
                return Ok(payload);
            }
        };
        match node
            .commands
            .identify_visitor(&caller, visitor_id, input.email, input.name)
            .await
        {
            Ok((contact_id, _)) => {
                let head = tahc_store::LogReader::head(&node.log)
                    .await
                    .unwrap_or_default();
                settled(ctx, Some(head)).await?;
                payload.contact = node.contacts().get(contact_id)?.map(Contact);
            }
            Err(error) => match classify(error, "visitorId") {
                Failure::User(user) => payload.user_errors.push(user),
                Failure::Top(top) => return Err(top),
            },
        }
        Ok(payload)
    }
}
