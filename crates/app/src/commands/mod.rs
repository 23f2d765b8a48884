//! The service's commands, one method per mutation of the API. Each checks
//! the permission table, gathers the facts its decision needs from other
//! aggregates, and executes the decision against the log.

mod contacts;
mod conversations;
mod identity;
mod visitors;
mod workspaces;

use std::sync::Arc;

use tahc_domain::workspace::{Workspace, WorkspaceState};
use tahc_domain::{Aggregate, DomainError};
use tahc_events::{EventMeta, StreamCategory, StreamId};
use uuid::Uuid;

use crate::aggregates::{Aggregates, Context, EventIds};
use crate::api_key::KeyHasher;
use crate::clock::Clock;
use crate::email_key::EmailKey;
use crate::error::AppError;
use crate::permission::{Action, allows};
use crate::principal::{Principal, PrincipalKind};

pub use contacts::ContactNoteRef;
pub(crate) use conversations::DEFAULT_EMAIL_QUESTION;
pub use conversations::SendMessage;
pub use identity::Identified;
pub use workspaces::{CreatedWorkspace, IssuedAgent};

/// Every command of the service.
#[derive(Clone)]
pub struct Commands {
    aggregates: Aggregates,
    clock: Arc<dyn Clock>,
    email_key: EmailKey,
    keys: KeyHasher,
}

impl Commands {
    /// Commands over `aggregates`, reading time from `clock`, hashing
    /// email addresses into claim ids with `email_key` and team keys with a
    /// hasher derived from it (both secrets beside the log, never in it).
    pub fn new(aggregates: Aggregates, clock: Arc<dyn Clock>, email_key: EmailKey) -> Self {
        Commands {
            keys: KeyHasher::new(&email_key.to_bytes()),
            aggregates,
            clock,
            email_key,
        }
    }

    /// Every stored form a team key may have (see [`KeyHasher`]), to
    /// authenticate it.
    #[must_use]
    pub fn key_forms(&self, key: &str) -> [String; 2] {
        self.keys.stored_forms(key)
    }

    /// The current time, from the service's clock.
    #[must_use]
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The aggregates underneath, for reads.
    #[must_use]
    pub fn aggregates(&self) -> &Aggregates {
        &self.aggregates
    }

    /// The context of one request by `principal`.
    fn context(&self, principal: &Principal) -> Context {
        Context {
            meta: EventMeta {
                actor: principal.actor(),
                workspace_id: principal.workspace_id,
                occurred_at: self.clock.now(),
                correlation_id: Some(Uuid::now_v7()),
                causation_id: None,
            },
            ids: EventIds::Fresh,
        }
    }

    /// Fails with `Forbidden` unless the table allows `action`.
    fn require(principal: &Principal, action: Action) -> Result<(), AppError> {
        if allows(principal, action) {
            Ok(())
        } else {
            Err(AppError::Forbidden { action })
        }
    }

    /// The visitor a command is for: a visitor acts for itself; the team
    /// and the system must name one. Also tells whether the visitor acts.
    fn visitor_of(principal: &Principal, named: Option<Uuid>) -> Result<(Uuid, bool), AppError> {
        match (principal.kind, named) {
            (PrincipalKind::Visitor { visitor_id }, _) => Ok((visitor_id, true)),
            (PrincipalKind::Team { .. } | PrincipalKind::System, Some(visitor_id)) => {
                Ok((visitor_id, false))
            }
            (PrincipalKind::Team { .. } | PrincipalKind::System, None) => {
                Err(DomainError::invalid("visitorId", "is required for team tokens").into())
            }
        }
    }

    /// The principal's workspace, which must exist.
    pub(crate) async fn workspace(&self, workspace_id: Uuid) -> Result<WorkspaceState, AppError> {
        let loaded = self
            .aggregates
            .load::<Workspace>(
                &stream(StreamCategory::Workspace, workspace_id),
                workspace_id,
            )
            .await?;
        if loaded.state.exists {
            Ok(loaded.state)
        } else {
            Err(AppError::NotFound { what: "workspace" })
        }
    }

    /// An aggregate of the principal's workspace that must exist.
    async fn existing<A: Aggregate>(
        &self,
        principal: &Principal,
        category: StreamCategory,
        id: Uuid,
        exists: impl Fn(&A::State) -> bool,
    ) -> Result<A::State, AppError> {
        let loaded = self
            .aggregates
            .load::<A>(&stream(category, id), principal.workspace_id)
            .await?;
        if exists(&loaded.state) {
            Ok(loaded.state)
        } else {
            Err(AppError::NotFound {
                what: category.prefix(),
            })
        }
    }
}

/// The stream of an aggregate.
#[must_use]
pub fn stream(category: StreamCategory, id: Uuid) -> StreamId {
    StreamId::of(category, id)
}
