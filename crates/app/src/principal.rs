//! Who is asking: a team member with a role, or a website visitor, always
//! inside one workspace.

use tahc_events::{Actor, ActorKind, Role};
use uuid::Uuid;

/// The caller of a command, as authenticated by the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The one workspace the caller belongs to.
    pub workspace_id: Uuid,
    /// Team member or visitor.
    pub kind: PrincipalKind,
}

/// The kind of caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// A team member with an API key.
    Team {
        /// Their agent id.
        agent_id: Uuid,
        /// Their role.
        role: Role,
    },
    /// A website visitor with a widget token.
    Visitor {
        /// The visitor.
        visitor_id: Uuid,
    },
    /// The service itself: process managers reacting to the log. Never
    /// derived from a credential, so no caller of the API can act as it.
    System,
}

impl Principal {
    /// A team member.
    #[must_use]
    pub fn team(workspace_id: Uuid, agent_id: Uuid, role: Role) -> Self {
        Principal {
            workspace_id,
            kind: PrincipalKind::Team { agent_id, role },
        }
    }

    /// A visitor.
    #[must_use]
    pub fn visitor(workspace_id: Uuid, visitor_id: Uuid) -> Self {
        Principal {
            workspace_id,
            kind: PrincipalKind::Visitor { visitor_id },
        }
    }

    /// The service itself, acting in a workspace.
    #[must_use]
    pub fn system(workspace_id: Uuid) -> Self {
        Principal {
            workspace_id,
            kind: PrincipalKind::System,
        }
    }

    /// The role, for team members.
    #[must_use]
    pub fn role(&self) -> Option<Role> {
        match self.kind {
            PrincipalKind::Team { role, .. } => Some(role),
            PrincipalKind::Visitor { .. } | PrincipalKind::System => None,
        }
    }

    /// The agent id, for team members.
    #[must_use]
    pub fn agent_id(&self) -> Option<Uuid> {
        match self.kind {
            PrincipalKind::Team { agent_id, .. } => Some(agent_id),
            PrincipalKind::Visitor { .. } | PrincipalKind::System => None,
        }
    }

    /// The visitor id, for visitors.
    #[must_use]
    pub fn visitor_id(&self) -> Option<Uuid> {
        match self.kind {
            PrincipalKind::Visitor { visitor_id } => Some(visitor_id),
            PrincipalKind::Team { .. } | PrincipalKind::System => None,
        }
    }

    /// The actor recorded on the events this principal causes.
    #[must_use]
    pub fn actor(&self) -> Actor {
        match self.kind {
            PrincipalKind::Team { agent_id, role } => Actor::new(
                match role {
                    Role::Admin => ActorKind::Admin,
                    Role::Agent => ActorKind::Agent,
                    Role::Bot => ActorKind::Bot,
                    Role::Auditor => ActorKind::Auditor,
                },
                agent_id,
            ),
            PrincipalKind::Visitor { visitor_id } => Actor::new(ActorKind::Visitor, visitor_id),
            PrincipalKind::System => Actor::system(),
        }
    }
}
