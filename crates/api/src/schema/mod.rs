//! The GraphQL schema of the contract (docs/api-contract.graphql), served
//! over HTTP by [`crate::graphql_http`].

mod audit;
mod changes;
mod contact_mutations;
mod contacts;
mod conversation_mutations;
mod delivery;
pub(crate) mod errors;
pub(crate) mod ids;
mod log_events;
mod mutation;
mod nodes;
mod payload;
mod query;
mod subscription;
mod team_mutations;
mod types;

use std::sync::Arc;

use async_graphql::{Context, MergedObject, Result, Schema};
use axum::http::{HeaderMap, header};
use tahc_app::{Node, Principal};

pub use delivery::{Audience, Declaration, Delivery};
pub use errors::{UserError, UserErrorCode};
pub use ids::{decode as decode_id, encode as encode_id};
pub use subscription::SubscriptionRoot;

use crate::limits::{DocumentLimits, Limits, TextLimits};
use crate::rate_limit::Admission;
use crate::visitor_token;

/// The query root: every area's queries, merged.
#[derive(MergedObject, Default)]
pub struct Query(
    nodes::NodeQuery,
    query::ConversationQuery,
    contacts::ContactQuery,
    audit::AuditQuery,
);

/// The mutation root: every area's mutations, merged.
#[derive(MergedObject, Default)]
pub struct Mutation(
    mutation::MessageMutation,
    conversation_mutations::ConversationMutation,
    contact_mutations::ContactMutation,
    team_mutations::TeamMutation,
);

/// The schema type.
pub type TahcSchema = Schema<Query, Mutation, SubscriptionRoot>;

/// The schema over a node, held to `limits` (document size and nesting,
/// depth, complexity, mutation fields, text lengths), charging the
/// mutation fields of a request to `admission`.
#[must_use]
pub fn build(node: Arc<Node>, limits: &Limits, admission: Arc<dyn Admission>) -> TahcSchema {
    Schema::build(Query::default(), Mutation::default(), SubscriptionRoot)
        .data(node)
        .data(limits.text)
        .data(admission)
        .data(audit::ChainWalks::default())
        .extension(crate::metrics::GraphqlMetrics)
        .extension(errors::ErrorCodes)
        .extension(DocumentLimits {
            query_bytes: limits.query_bytes,
            mutation_fields: limits.mutation_fields,
        })
        .limit_depth(limits.depth)
        .limit_complexity(limits.complexity)
        .finish()
}

/// The text limits requests are held to.
fn text_limits<'a>(ctx: &Context<'a>) -> &'a TextLimits {
    ctx.data_unchecked::<TextLimits>()
}

/// The schema's SDL, as exported to docs/schema.graphql.
#[must_use]
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), SubscriptionRoot)
        .finish()
        .sdl()
}

/// The authenticated caller of one request (none: no credentials given).
#[derive(Debug, Clone, Copy)]
pub struct Caller(pub Option<Principal>);

/// The caller, or UNAUTHENTICATED.
pub fn caller(ctx: &Context<'_>) -> Result<Principal> {
    ctx.data_opt::<Caller>()
        .and_then(|c| c.0)
        .ok_or_else(errors::unauthenticated)
}

/// Why credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The `Authorization` header is not `Bearer <credential>`.
    #[error("the Authorization header must be `Bearer <key or token>`")]
    Scheme,
    /// Unknown, rotated or deactivated key; bad or expired token.
    #[error("invalid credentials")]
    Invalid,
}

/// Who is calling, from the `Authorization` header (none: anonymous).
pub fn authenticate(node: &Node, headers: &HeaderMap) -> Result<Option<Principal>, AuthError> {
    match bearer(headers)? {
        Some(credential) => principal_of(node, &credential).map(Some),
        None => Ok(None),
    }
}

/// The credential of an `Authorization: Bearer …` header (none: no header).
pub fn bearer(headers: &HeaderMap) -> Result<Option<String>, AuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| AuthError::Scheme)?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| Some(c.to_owned()))
        .ok_or(AuthError::Scheme)
}

/// The principal a team key or a visitor token stands for.
pub fn principal_of(node: &Node, credential: &str) -> Result<Principal, AuthError> {
    if credential.starts_with(visitor_token::PREFIX) {
        let claim = visitor_token::verify(&node.token_key, credential, node.commands.now())
            .map_err(|_| AuthError::Invalid)?;
        // Erasure ends the subject's sessions: a new one is a new visitor.
        let erased = node
            .contacts()
            .visitor(claim.visitor_id)
            .map_err(|_| AuthError::Invalid)?
            .is_some_and(|visitor| visitor.erased);
        if erased {
            return Err(AuthError::Invalid);
        }
        return Ok(Principal::visitor(claim.workspace_id, claim.visitor_id));
    }
    let team = node.team();
    for stored in node.commands.key_forms(credential) {
        if let Some((workspace, agent)) =
            team.authenticate(&stored).map_err(|_| AuthError::Invalid)?
        {
            return Ok(Principal::team(workspace, agent.id, agent.role));
        }
    }
    Err(AuthError::Invalid)
}
