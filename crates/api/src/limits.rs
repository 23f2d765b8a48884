//! How big each input may be. Every limit has a default here and a
//! `tahc serve` setting; exceeding one is a clear, typed error that changes
//! nothing:
//!
//! * an HTTP body over `body_bytes`: 413, `PAYLOAD_TOO_LARGE`;
//! * a GraphQL document over `query_bytes`, nested deeper than
//!   [`crate::nesting::MAX_NESTING`] (its text or its variables' values),
//!   selecting too deep or too complex: `BAD_USER_INPUT`, nothing runs;
//! * a mutation selecting more than `mutation_fields` fields:
//!   `LIMIT_EXCEEDED`, nothing runs;
//! * a WebSocket message over `frame_bytes`: closed with 1009;
//! * an operation past `operations_per_connection`: that operation gets
//!   `LIMIT_EXCEEDED`, the connection goes on;
//! * a visitor's connection past `connections_per_visitor`: closed with 1008
//!   at `connection_init`;
//! * a WebSocket past `connections_per_address` from one client address, or
//!   past `connections` on the node: 429 before the upgrade;
//! * a text over its [`TextLimits`]: a user error on the field, as the
//!   domain's own checks give;
//! * a request head (line and headers) not complete `request_read` after
//!   the connection opened or its last answer: the connection is closed;
//!   a body not complete `request_read` after its head: 408,
//!   `REQUEST_TIMEOUT`, nothing runs;
//! * a client that takes none of what is written to it (an answer, an
//!   export, WebSocket frames) for `response_write`: the connection is
//!   closed.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
};
use async_graphql::parser::types::{
    BaseType, ExecutableDocument, OperationType, Selection, SelectionSet, Type,
};
use async_graphql::{ErrorExtensions, ServerError, ServerResult, Variables};
use std::sync::Arc;
use std::time::Duration;
use tahc_app::AppError;
use tahc_domain::{MAX_EMAIL_LEN, contact, conversation, text, visitor};

use crate::rate_limit::Admission;
use crate::schema::Caller;

/// The input limits of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of an HTTP request body.
    pub body_bytes: usize,
    /// Bytes of a GraphQL document, over HTTP or WebSocket.
    pub query_bytes: usize,
    /// Nesting depth of a GraphQL selection.
    pub depth: usize,
    /// Complexity of a GraphQL operation (each selected field counts 1).
    pub complexity: usize,
    /// Fields one mutation operation may select (each is a write, and
    /// each past the first is charged to the caller's rate limit).
    pub mutation_fields: usize,
    /// Bytes of one WebSocket message.
    pub frame_bytes: usize,
    /// Operations (subscriptions) running at once on one connection.
    pub operations_per_connection: usize,
    /// WebSocket connections one visitor may hold open at once.
    pub connections_per_visitor: usize,
    /// WebSocket connections one client address may hold open at once.
    pub connections_per_address: usize,
    /// WebSocket connections the node holds open at once.
    pub connections: usize,
    /// Lengths of free-text inputs.
    pub text: TextLimits,
    /// Time a connection has to send a whole request head, from when it
    /// opened or was last answered, and then again its body: no
    /// connection is held by a client that sends nothing, or a request a
    /// byte at a time.
    pub request_read: Duration,
    /// Time a write may wait for the client to take any of it: no
    /// connection, nor what its answer holds, is kept by a client that
    /// asked and stopped reading.
    pub response_write: Duration,
    /// Time the client address of a blocked visitor opens no new widget
    /// session (zero: never blocked by address).
    pub address_block: Duration,
}

impl Limits {
    /// Generous for every real client (a 10,000-character message is about
    /// 40 KiB; GraphiQL's introspection query about 3 KiB), small enough
    /// that no request can make the server work or hold much.
    pub const DEFAULT: Limits = Limits {
        body_bytes: 1 << 20,
        query_bytes: 32 << 10,
        depth: 12,
        complexity: 2_000,
        mutation_fields: 10,
        frame_bytes: 1 << 20,
        operations_per_connection: 100,
        connections_per_visitor: 8,
        connections_per_address: 1_024,
        connections: 16_384,
        text: TextLimits::CEILING,
        request_read: Duration::from_secs(30),
        response_write: Duration::from_secs(60),
        address_block: crate::address_blocks::DEFAULT_BLOCK,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Longest free texts, in characters. They may be set lower than the
/// domain's own ceilings (what the log stores), not higher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLimits {
    /// A message body.
    pub message_chars: usize,
    /// A visitor's or contact's name.
    pub name_chars: usize,
    /// An email address.
    pub email_chars: usize,
    /// A note on a contact.
    pub note_chars: usize,
    /// A custom field's text value.
    pub field_value_chars: usize,
}

impl TextLimits {
    /// The domain's ceilings: the longest texts the log stores.
    pub const CEILING: TextLimits = TextLimits {
        message_chars: conversation::MAX_BODY_CHARS,
        name_chars: visitor::MAX_NAME_CHARS,
        email_chars: MAX_EMAIL_LEN,
        note_chars: contact::MAX_NOTE_CHARS,
        field_value_chars: contact::MAX_FIELD_TEXT_CHARS,
    };

    /// A message body (kept as written, so counted as written).
    pub fn message(&self, body: &str) -> Result<(), AppError> {
        Ok(text::within(body, "body", self.message_chars)?)
    }

    /// A name, if given.
    pub fn name(&self, name: Option<&str>) -> Result<(), AppError> {
        name.map_or(Ok(()), |name| {
            Ok(text::within(name.trim(), "name", self.name_chars)?)
        })
    }

    /// An email address, if given.
    pub fn email(&self, email: Option<&str>) -> Result<(), AppError> {
        email.map_or(Ok(()), |email| {
            Ok(text::within(email.trim(), "email", self.email_chars)?)
        })
    }

    /// A contact note.
    pub fn note(&self, body: &str) -> Result<(), AppError> {
        Ok(text::within(body.trim(), "body", self.note_chars)?)
    }

    /// A custom field's value: its text, when it is one.
    pub fn field_value(&self, value: &serde_json::Value) -> Result<(), AppError> {
        value.as_str().map_or(Ok(()), |value| {
            Ok(text::within(value.trim(), "value", self.field_value_chars)?)
        })
    }
}

impl Default for TextLimits {
    fn default() -> Self {
        TextLimits::CEILING
    }
}

/// Runs `command` only if `check` passed; a failed check answers as the
/// command's own validation would.
pub async fn checked<T>(
    check: Result<(), AppError>,
    command: impl Future<Output = Result<T, AppError>>,
) -> Result<T, AppError> {
    check?;
    command.await
}

/// Holds each GraphQL request to the document limits before it runs:
/// refuses a document longer than `query_bytes` or nested deeper than
/// [`crate::nesting::MAX_NESTING`] (its text or its variables' values)
/// before parsing it, and a mutation selecting more than `mutation_fields`
/// fields after; then charges the caller's rate limit one more for each
/// mutation field past the first (the request itself was charged one at
/// the gate).
pub(crate) struct DocumentLimits {
    /// Bytes of a document.
    pub query_bytes: usize,
    /// Fields of one mutation operation.
    pub mutation_fields: usize,
}

impl ExtensionFactory for DocumentLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DocumentCheck {
            query_bytes: self.query_bytes,
            mutation_fields: self.mutation_fields,
            mutations: std::sync::Mutex::new(Vec::new()),
        })
    }
}

struct DocumentCheck {
    query_bytes: usize,
    mutation_fields: usize,
    /// Each mutation operation of the parsed document and its field count.
    mutations: std::sync::Mutex<Vec<(Option<String>, usize)>>,
}

/// A request refused before it ran, with `extensions.code`.
fn refusal(code: &'static str, message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    error.extensions = async_graphql::Error::new("")
        .extend_with(|_, e| e.set("code", code))
        .extensions;
    error
}

/// The first type a variable of `document` is declared with that the
/// schema does not have. async-graphql's validation refuses an unknown
/// named type but panics on a list of one with a default value
/// (`query($v: [Nope] = 1)`), so every one is refused here first.
fn unknown_variable_type<'d>(
    document: &'d ExecutableDocument,
    registry: &async_graphql::registry::Registry,
) -> Option<&'d str> {
    fn named(ty: &Type) -> &str {
        match &ty.base {
            BaseType::Named(name) => name.as_str(),
            BaseType::List(inner) => named(inner),
        }
    }
    document
        .operations
        .iter()
        .flat_map(|(_, operation)| &operation.node.variable_definitions)
        .map(|definition| named(&definition.node.var_type.node))
        .find(|name| !registry.types.contains_key(*name))
}

/// Each mutation operation of `document` (by name) and the fields it
/// selects at its root, fragments spread out: each costs a write.
fn mutation_fields(document: &ExecutableDocument) -> Vec<(Option<String>, usize)> {
    fn count(
        document: &ExecutableDocument,
        set: &SelectionSet,
        spread: &mut std::collections::HashSet<String>,
    ) -> usize {
        set.items
            .iter()
            .map(|selection| match &selection.node {
                Selection::Field(_) => 1,
                Selection::InlineFragment(inline) => {
                    count(document, &inline.node.selection_set.node, spread)
                }
                Selection::FragmentSpread(named) => {
                    let name = named.node.fragment_name.node.to_string();
                    match document.fragments.get(&named.node.fragment_name.node) {
                        // A fragment spread twice (or in a cycle, which
                        // validation refuses) counts once.
                        Some(fragment) if spread.insert(name) => {
                            count(document, &fragment.node.selection_set.node, spread)
                        }
                        _ => 0,
                    }
                }
            })
            .sum()
    }
    document
        .operations
        .iter()
        .filter(|(_, operation)| operation.node.ty == OperationType::Mutation)
        .map(|(name, operation)| {
            let fields = count(
                document,
                &operation.node.selection_set.node,
                &mut Default::default(),
            );
            (name.map(ToString::to_string), fields)
        })
        .collect()
}

#[async_trait::async_trait]
impl Extension for DocumentCheck {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if query.len() > self.query_bytes {
            return Err(refusal(
                "BAD_USER_INPUT",
                format!(
                    "the query is {} bytes; at most {} are allowed",
                    query.len(),
                    self.query_bytes
                ),
            ));
        }
        crate::nesting::check_document(query)
            .and_then(|()| crate::nesting::check_variables(variables.values()))
            .map_err(|too_deep| refusal("BAD_USER_INPUT", too_deep.to_string()))?;
        let document = next.run(ctx, query, variables).await?;
        if let Some(unknown) = unknown_variable_type(&document, &ctx.schema_env.registry) {
            return Err(refusal(
                "BAD_USER_INPUT",
                format!("a variable is of unknown type \"{unknown}\""),
            ));
        }
        let mutations = mutation_fields(&document);
        if let Some((_, fields)) = mutations.iter().find(|(_, n)| *n > self.mutation_fields) {
            return Err(refusal(
                "LIMIT_EXCEEDED",
                format!(
                    "the mutation selects {fields} fields; at most {} may run in one request",
                    self.mutation_fields
                ),
            ));
        }
        *self.mutations.lock().unwrap_or_else(|e| e.into_inner()) = mutations;
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        let fields = self
            .mutations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(name, _)| operation_name.is_none() || name.as_deref() == operation_name)
            .map_or(0, |(_, fields)| *fields);
        let extra = u32::try_from(fields.saturating_sub(1)).unwrap_or(u32::MAX);
        if let (Some(extra), Some(Caller(Some(principal))), Some(admission)) = (
            std::num::NonZeroU32::new(extra),
            ctx.data_opt::<Caller>(),
            ctx.data_opt::<Arc<dyn Admission>>(),
        ) && let Err(limited) = admission.charge(principal, extra)
        {
            let mut error = refusal("RATE_LIMITED", limited.to_string());
            if let Some(extensions) = error.extensions.as_mut() {
                extensions.set("retryAfter", limited.retry_after.as_secs_f64());
            }
            return async_graphql::Response::from_errors(vec![error]);
        }
        next.run(ctx, operation_name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tahc_domain::DomainError;

    #[test]
    fn texts_within_their_limits_pass_and_longer_ones_name_the_field() {
        let limits = TextLimits {
            message_chars: 5,
            name_chars: 3,
            email_chars: 10,
            note_chars: 4,
            field_value_chars: 2,
        };
        assert!(limits.message("héllo").is_ok());
        assert!(limits.name(Some("  Ada  ")).is_ok());
        assert!(limits.name(None).is_ok());
        assert!(limits.field_value(&serde_json::json!(12345)).is_ok());
        let field = |result: Result<(), AppError>| match result {
            Err(AppError::Domain(DomainError::Invalid { field, .. })) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(limits.message("hello!")), "body");
        assert_eq!(field(limits.name(Some("Adam"))), "name");
        assert_eq!(field(limits.email(Some("ada@acme.example"))), "email");
        assert_eq!(field(limits.note("notes")), "body");
        assert_eq!(
            field(limits.field_value(&serde_json::json!("abc"))),
            "value"
        );
    }
}
