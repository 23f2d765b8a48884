//! What a log-based subscription tells the transport that carries it, so
//! that subscribers asking the same thing share one rendering.
//!
//! A subscription's root field knows what its changes depend on: whose
//! rights they are judged and shown with (the [`Audience`]) and where in
//! the log they start. It declares both on the operation's [`Delivery`]
//! and records the position of every event it reads. The WebSocket
//! transport uses that to render each change once for every subscriber
//! with the same operation, variables and audience, and to resume a
//! subscriber on its own from the last change it received.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tahc_app::{Principal, PrincipalKind};
use tahc_events::Position;
use tokio::sync::Notify;
use uuid::Uuid;

/// Whom a subscription's changes are rendered for. Below the root field,
/// resolvers depend on the caller only through this: its workspace, and
/// whether it is the team (every member alike) or one visitor. Anything
/// that depends on the member's role or identity is checked at the root,
/// once per subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Any team member of the workspace.
    Team {
        /// The workspace.
        workspace_id: Uuid,
    },
    /// One visitor.
    Visitor {
        /// The visitor's workspace.
        workspace_id: Uuid,
        /// The visitor.
        visitor_id: Uuid,
    },
}

impl Audience {
    /// The audience `caller` belongs to; `None` for the service itself,
    /// which never subscribes through the API.
    #[must_use]
    pub fn of(caller: &Principal) -> Option<Self> {
        match caller.kind {
            PrincipalKind::Team { .. } => Some(Audience::Team {
                workspace_id: caller.workspace_id,
            }),
            PrincipalKind::Visitor { visitor_id } => Some(Audience::Visitor {
                workspace_id: caller.workspace_id,
                visitor_id,
            }),
            PrincipalKind::System => None,
        }
    }
}

/// A subscription operation selected more than one root field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a subscription selects exactly one root field")]
pub struct SecondRootField;

/// Where a declared subscription starts and whom it renders for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declaration {
    /// Whom the changes are rendered for.
    pub audience: Audience,
    /// Changes come from events after this position.
    pub after: Position,
}

/// The channel between one operation's subscription root field and its
/// transport (request data of WebSocket operations only).
#[derive(Debug, Default)]
pub struct Delivery {
    resume_after: Option<Position>,
    claimed: AtomicBool,
    declared: OnceLock<Declaration>,
    declared_signal: Notify,
    read: AtomicU64,
}

impl Delivery {
    /// A delivery for a new operation: it starts where its arguments say.
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// A delivery that resumes after `position`, whatever the operation's
    /// `after` argument says: the transport continues a subscriber on its
    /// own from the last change it received.
    #[must_use]
    pub fn resuming_after(position: Position) -> Arc<Self> {
        Arc::new(Delivery {
            resume_after: Some(position),
            ..Delivery::default()
        })
    }

    /// The position the transport asks the subscription to resume after.
    #[must_use]
    pub fn resume_after(&self) -> Option<Position> {
        self.resume_after
    }

    /// Claims the operation for one root field and, with `declaration`,
    /// offers its changes for sharing. A second root field is refused: a
    /// subscription selects exactly one (as the GraphQL spec says), so that
    /// every change has one position.
    pub fn claim(&self, declaration: Option<Declaration>) -> Result<(), SecondRootField> {
        if self.claimed.swap(true, Ordering::AcqRel) {
            return Err(SecondRootField);
        }
        if let Some(declaration) = declaration
            && self.declared.set(declaration).is_ok()
        {
            self.read.store(declaration.after.0, Ordering::Release);
            self.declared_signal.notify_one();
        }
        Ok(())
    }

    /// Waits until the root field has offered its changes for sharing
    /// (never, for one that does not).
    pub async fn declared(&self) -> Declaration {
        loop {
            if let Some(declaration) = self.declared.get() {
                return *declaration;
            }
            self.declared_signal.notified().await;
        }
    }

    /// Records that the subscription has read the event at `position`:
    /// the change it yields next, if any, comes from it.
    pub fn read(&self, position: Position) {
        self.read.store(position.0, Ordering::Release);
    }

    /// The position of the last event read (where it started, before any).
    #[must_use]
    pub fn last_read(&self) -> Position {
        Position(self.read.load(Ordering::Acquire))
    }
}
