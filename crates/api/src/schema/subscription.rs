//! The subscription root: the log, as the views have applied it, turned
//! into changes each subscriber may see; and the team's live activity.
//!
//! Every log-based subscription starts after `after` (a position from an
//! earlier change) or, without it, at the present; it reads the log while
//! behind and then follows live, so a resumed subscriber gets every change
//! once, in order. Each change is judged against the subscriber's rights as
//! it passes.

use std::sync::Arc;

use async_graphql::{Context, ID, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures::{Stream, stream};
use tahc_app::{Node, Principal};
use tahc_events::{Position, RecordedEvent};
use tokio::sync::broadcast::error::RecvError;

use super::caller;
use super::changes::{ContactChange, ConversationChange, ConversationWatch, contact_change};
use super::conversation_mutations::ActivityKind;
use super::delivery::{Audience, Declaration, Delivery};
use super::errors::coded;
use super::ids;
use super::log_events::{LogEvent, LogEventFilter, may_read_log};
use super::query::{ConversationFilter, visible_conversation};
use super::types::{Agent, Conversation, node};

/// Where a subscription starts: where its transport resumes it, after
/// `after` (a position from an earlier change), or at the present — what
/// the views show now, so that nothing a caller has already read (its own
/// mutation's write, say) comes again as a change. The applied log may
/// announce a batch a moment after the views show it.
fn start(ctx: &Context<'_>, node: &Node, after: Option<String>) -> Result<Position> {
    if let Some(resumed) = delivery(ctx).and_then(|delivery| delivery.resume_after()) {
        return Ok(resumed);
    }
    match after {
        None => Ok(node.views.position().max(node.applied.head())),
        Some(after) => after
            .trim()
            .parse()
            .map_err(|_| coded("BAD_USER_INPUT", "`after` is not a log position")),
    }
}

/// The operation's delivery, when a transport that shares renderings
/// carries it.
fn delivery(ctx: &Context<'_>) -> Option<Arc<Delivery>> {
    ctx.data_opt::<Arc<Delivery>>().cloned()
}

/// The team only: FORBIDDEN for a visitor.
fn team_only(caller: &Principal, what: &str) -> Result<()> {
    if caller.agent_id().is_some() {
        Ok(())
    } else {
        Err(coded("FORBIDDEN", format!("{what} are for the team")))
    }
}

/// Claims the operation's delivery for this root field.
fn claim(delivery: &Delivery, declaration: Option<Declaration>) -> Result<()> {
    delivery
        .claim(declaration)
        .map_err(|error| coded("BAD_USER_INPUT", error.to_string()))
}

/// What `judge` makes of every event after `after` (or where the
/// transport resumes it), skipping those it leaves out. A read error is
/// delivered once and ends the stream. With `shared_as`, the subscription
/// declares that its changes depend on the caller only through that
/// audience, so subscribers asking the same may share one rendering.
fn follow<T, J>(
    ctx: &Context<'_>,
    after: Option<String>,
    shared_as: Option<Audience>,
    judge: J,
) -> Result<impl Stream<Item = Result<T>> + use<T, J>>
where
    T: Send + 'static,
    J: Fn(&Node, &RecordedEvent) -> Result<Option<T>> + Send + 'static,
{
    let node = node(ctx).clone();
    let after = start(ctx, &node, after)?;
    let delivery = delivery(ctx);
    if let Some(delivery) = &delivery {
        let declaration = shared_as.map(|audience| Declaration { audience, after });
        claim(delivery, declaration)?;
    }
    let subscription = node.applied.follow(after);
    Ok(stream::unfold(
        Some((node, subscription, judge, delivery)),
        |state| async move {
            let (node, mut subscription, judge, delivery) = state?;
            loop {
                let record = match subscription.next().await? {
                    Ok(record) => record,
                    Err(error) => {
                        tracing::error!(%error, "a subscription cannot read the log");
                        return Some((Err(coded("INTERNAL", "the log could not be read")), None));
                    }
                };
                if let Some(delivery) = &delivery {
                    delivery.read(record.position);
                }
                match judge(&node, &record) {
                    Ok(None) => {}
                    Ok(Some(item)) => {
                        return Some((Ok(item), Some((node, subscription, judge, delivery))));
                    }
                    Err(error) => return Some((Err(error), None)),
                }
            }
        },
    ))
}

/// One team member's activity in a conversation, live.
#[derive(SimpleObject)]
pub struct TeamActivity {
    agent: Agent,
    conversation: Conversation,
    kind: ActivityKind,
    at: DateTime<Utc>,
}

/// The subscriptions of the contract.
#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// The inbox, live: every change to conversations matching the filter.
    /// A visitor token sees only its own conversations and never internal
    /// notes.
    async fn conversation_changes(
        &self,
        ctx: &Context<'_>,
        filter: Option<ConversationFilter>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<ConversationChange>> + use<>> {
        let caller = caller(ctx)?;
        let filter = filter.unwrap_or_default();
        filter.to_view(node(ctx), &caller)?;
        // A search is resolved when the subscription starts: not shared.
        let shared_as = Audience::of(&caller).filter(|_| !filter.searches());
        let watch = ConversationWatch {
            caller,
            conversation: None,
            filter,
        };
        follow(ctx, after, shared_as, move |node, record| {
            watch.change(node, record)
        })
    }

    /// One conversation's timeline, live.
    async fn conversation_timeline(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<ConversationChange>> + use<>> {
        let caller = caller(ctx)?;
        let id = ids::decode("Conversation", &conversation_id)
            .filter(|id| matches!(visible_conversation(ctx, &caller, *id), Ok(Some(_))))
            .ok_or_else(|| coded("NOT_FOUND", "conversation not found"))?;
        let shared_as = Audience::of(&caller);
        let watch = ConversationWatch {
            caller,
            conversation: Some(id),
            filter: ConversationFilter::default(),
        };
        follow(ctx, after, shared_as, move |node, record| {
            watch.change(node, record)
        })
    }

    /// Every change to the workspace's contacts, live (team only).
    async fn contact_changes(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<ContactChange>> + use<>> {
        let caller = caller(ctx)?;
        team_only(&caller, "contact changes")?;
        follow(ctx, after, Audience::of(&caller), move |node, record| {
            contact_change(node, &caller, record)
        })
    }

    /// The raw log as it grows (ADMIN, AUDITOR): the workspace's events.
    async fn events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        filter: Option<LogEventFilter>,
    ) -> Result<impl Stream<Item = Result<LogEvent>> + use<>> {
        let caller = caller(ctx)?;
        may_read_log(&caller)?;
        let selection = filter.unwrap_or_default().select(caller.workspace_id)?;
        follow(ctx, after, Audience::of(&caller), move |_, record| {
            Ok(selection.matches(record).then(|| LogEvent(record.clone())))
        })
    }

    /// Who is viewing or typing where, live (team only; never stored, so
    /// there is nothing to resume).
    async fn team_activity(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = TeamActivity> + use<>> {
        let caller = caller(ctx)?;
        team_only(&caller, "team activity reports")?;
        if let Some(delivery) = delivery(ctx) {
            claim(&delivery, None)?;
        }
        let node = node(ctx).clone();
        let reports = node.activity.follow();
        Ok(stream::unfold(
            (node, reports),
            move |(node, mut reports)| async move {
                loop {
                    let activity = match reports.recv().await {
                        Ok(activity) => activity,
                        // Activity is a hint: a follower that fell behind skips.
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => return None,
                    };
                    if activity.workspace_id != caller.workspace_id {
                        continue;
                    }
                    let agent = node
                        .team()
                        .workspace(caller.workspace_id)
                        .ok()
                        .flatten()
                        .and_then(|w| w.agents.get(&activity.agent_id).cloned());
                    let conversation = node
                        .conversations()
                        .get(activity.conversation_id)
                        .ok()
                        .flatten();
                    if let (Some(agent), Some(conversation)) = (agent, conversation) {
                        let shown = TeamActivity {
                            agent: Agent(agent),
                            conversation: Conversation::for_caller(conversation, &caller),
                            kind: activity.kind.into(),
                            at: activity.at,
                        };
                        return Some((shown, (node, reports)));
                    }
                }
            },
        ))
    }
}
