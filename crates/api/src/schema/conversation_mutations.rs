//! Mutations on conversations: handoff, control, assignment, status,
//! snooze, and identifying visitors.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tahc_app::{AppError, Principal};
use uuid::Uuid;

use super::caller;
use super::contact_mutations::{ContactPayload, contact_payload};
use super::errors::{Failure, UserError, UserErrorCode, classify, coded};
use super::ids;
use super::payload::{Written, errors_of, input_id, run, run_on};
use super::text_limits;
use super::types::{Conversation, ConversationStatus, HandoffReason, node};
use crate::limits::checked;

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

/// The least time `identifyVisitor` takes to answer a visitor, longer than
/// either of its paths takes on a node that is not overloaded.
const VISITOR_IDENTIFY_FLOOR: std::time::Duration = std::time::Duration::from_millis(100);

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

/// What a team member reports doing.
#[derive(InputObject)]
pub struct ReportActivityInput {
    conversation_id: ID,
    kind: ActivityKind,
}

/// What a team member is doing in a conversation.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "tahc_app::ActivityKind")]
#[allow(missing_docs)]
pub enum ActivityKind {
    Viewing,
    Typing,
    Left,
}

/// What a conversation mutation did.
#[derive(SimpleObject)]
pub struct ConversationPayload {
    conversation: Option<Conversation>,
    user_errors: Vec<UserError>,
    client_mutation_id: Option<String>,
}

/// Runs a conversation command and shows the conversation after it.
async fn on_conversation<T: Written, F>(
    ctx: &Context<'_>,
    conversation_id: &ID,
    client_mutation_id: Option<String>,
    command: impl FnOnce(Principal, Uuid) -> F,
) -> Result<ConversationPayload>
where
    F: Future<Output = std::result::Result<T, AppError>>,
{
    let caller = caller(ctx)?;
    let outcome = run_on(
        ctx,
        "Conversation",
        conversation_id,
        "conversationId",
        |id| command(caller, id),
    )
    .await?;
    let conversation = match &outcome {
        Ok((id, _)) => node(ctx)
            .conversations()
            .get(*id)?
            .map(|record| Conversation::for_caller(record, &caller)),
        Err(_) => None,
    };
    Ok(ConversationPayload {
        conversation,
        user_errors: errors_of(&outcome),
        client_mutation_id,
    })
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
                    conversation: None,
                    user_errors: vec![error],
                    client_mutation_id: input.client_mutation_id,
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

    /// A visitor gives an email, or the team identifies a visitor. The
    /// team's word links the visitor to the contact with that email
    /// (created when there is none); a visitor's links it only to a new
    /// contact: an address another contact holds becomes an unverified
    /// claim the team may confirm (`confirmVisitorEmail`). A visitor's
    /// payload carries no contact either way.
    async fn identify_visitor(
        &self,
        ctx: &Context<'_>,
        input: IdentifyVisitorInput,
    ) -> Result<ContactPayload> {
        let started = tokio::time::Instant::now();
        let caller = caller(ctx)?;
        let commands = &node(ctx).commands;
        let visitor_id = input
            .visitor_id
            .as_ref()
            .map(|id| input_id("Visitor", id, "visitorId"))
            .transpose();
        let outcome = match visitor_id {
            Ok(visitor_id) => run(
                ctx,
                "visitorId",
                checked(
                    text_limits(ctx)
                        .email(Some(&input.email))
                        .and_then(|()| text_limits(ctx).name(input.name.as_deref())),
                    commands.identify_visitor(&caller, visitor_id, input.email, input.name),
                ),
            )
            .await?
            // A visitor is shown no contact: whether its address was new or
            // another contact's is not revealed.
            .map(|identified| identified.linked().filter(|_| caller.agent_id().is_some())),
            Err(error) => Err(error),
        };
        if caller.visitor_id().is_some() {
            // A new address makes a contact (several writes), someone
            // else's only a claim (one): the time of the answer must not
            // tell which.
            tokio::time::sleep_until(started + VISITOR_IDENTIFY_FLOOR).await;
        }
        contact_payload(ctx, outcome, input.client_mutation_id)
    }

    /// Tells the team what the caller is doing in a conversation: shown
    /// live, never stored.
    async fn report_activity(&self, ctx: &Context<'_>, input: ReportActivityInput) -> Result<bool> {
        let caller = caller(ctx)?;
        let Some(id) = ids::decode("Conversation", &input.conversation_id) else {
            return Err(coded("NOT_FOUND", "conversation not found"));
        };
        match node(ctx).report_activity(&caller, id, input.kind.into()) {
            Ok(_) => Ok(true),
            Err(error) => match classify(error, "conversationId") {
                Failure::User(user) => Err(coded(
                    if user.code == UserErrorCode::NotFound {
                        "NOT_FOUND"
                    } else {
                        "BAD_USER_INPUT"
                    },
                    user.message,
                )),
                Failure::Top(top) => Err(top),
            },
        }
    }
}
