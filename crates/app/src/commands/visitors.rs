//! Visitor commands: the widget's first contact, blocking.

use tahc_domain::visitor::{Command, Visitor, VisitorState};
use tahc_events::StreamCategory;
use uuid::Uuid;

use super::{Commands, stream};
use crate::aggregates::Executed;
use crate::error::AppError;
use crate::permission::Action;
use crate::principal::Principal;

impl Commands {
    /// A new widget session: a new visitor of `workspace_id`, as a
    /// principal. Nothing is written: a session alone is not an event, so
    /// anonymous callers cannot grow the log by opening sessions. The
    /// visitor is recorded ([`Self::acting_visitor`]) when it first does
    /// something.
    pub async fn new_visitor(&self, workspace_id: Uuid) -> Result<Principal, AppError> {
        self.workspace(workspace_id).await?;
        Ok(Principal::visitor(workspace_id, Uuid::now_v7()))
    }

    /// The visitor a command is for, recorded first (`visitor.first_seen`)
    /// when it is the caller itself acting for the first time. Anyone else
    /// may only name a visitor that exists.
    pub(crate) async fn acting_visitor(
        &self,
        principal: &Principal,
        visitor_id: Uuid,
    ) -> Result<VisitorState, AppError> {
        if principal.visitor_id() != Some(visitor_id) {
            return self.visitor(principal, visitor_id).await;
        }
        let executed = self
            .aggregates
            .execute::<Visitor>(
                &stream(StreamCategory::Visitor, visitor_id),
                &self.context(principal),
                |_| Ok(Command::FirstSeen),
            )
            .await?;
        Ok(executed.state)
    }

    /// Whether `visitor` may not write: it is blocked itself, or another
    /// visitor of its contact is (blocking a person holds on every device
    /// they are known on, not only the one the team saw).
    pub(crate) async fn blocked(
        &self,
        principal: &Principal,
        visitor: &VisitorState,
    ) -> Result<bool, AppError> {
        if visitor.blocked {
            return Ok(true);
        }
        let Some(contact_id) = visitor.contact_id else {
            return Ok(false);
        };
        let contact = self.contact(principal, contact_id).await?;
        for other in &contact.visitors {
            if self.visitor(principal, *other).await?.blocked {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Blocks a visitor. (Closing its open conversations with a note is the
    /// work of the blocking process manager, which follows the log.)
    pub async fn block_visitor(
        &self,
        principal: &Principal,
        visitor_id: Uuid,
        reason: Option<String>,
    ) -> Result<Executed<VisitorState>, AppError> {
        self.on_visitor(principal, visitor_id, Command::Block { reason })
            .await
    }

    /// Lifts a block.
    pub async fn unblock_visitor(
        &self,
        principal: &Principal,
        visitor_id: Uuid,
    ) -> Result<Executed<VisitorState>, AppError> {
        self.on_visitor(principal, visitor_id, Command::Unblock)
            .await
    }

    async fn on_visitor(
        &self,
        principal: &Principal,
        visitor_id: Uuid,
        command: Command,
    ) -> Result<Executed<VisitorState>, AppError> {
        Self::require(principal, Action::BlockVisitor)?;
        self.visitor(principal, visitor_id).await?;
        self.aggregates
            .execute::<Visitor>(
                &stream(StreamCategory::Visitor, visitor_id),
                &self.context(principal),
                |_| Ok(command.clone()),
            )
            .await
    }
}
