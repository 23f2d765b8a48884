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
    /// A new widget session: records a new visitor of `workspace_id` and
    /// returns its principal.
    pub async fn new_visitor(&self, workspace_id: Uuid) -> Result<Principal, AppError> {
        self.workspace(workspace_id).await?;
        let visitor_id = Uuid::now_v7();
        let principal = Principal::visitor(workspace_id, visitor_id);
        self.aggregates
            .execute::<Visitor>(
                &stream(StreamCategory::Visitor, visitor_id),
                &self.context(&principal),
                |_| Ok(Command::FirstSeen),
            )
            .await?;
        Ok(principal)
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
