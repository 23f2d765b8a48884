//! Payloads of the visitor stream: a widget session's person.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Personal;

/// A visitor opened the widget for the first time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitorFirstSeen {}

/// A visitor gave an email and became (or joined) a contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitorIdentified {
    /// The contact the visitor is now known as.
    pub contact_id: Uuid,
    /// The email given.
    pub email: Personal,
    /// The name given, if any.
    pub name: Option<Personal>,
}

/// A visitor gave an email that an existing contact already holds. The
/// claim is unverified: the visitor is not linked to that contact (nor
/// shown anything of it) until the team confirms it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitorEmailClaimed {
    /// The contact that holds the address.
    pub contact_id: Uuid,
    /// The email given.
    pub email: Personal,
    /// The name given, if any.
    pub name: Option<Personal>,
}

/// A visitor was blocked: it can neither start conversations nor post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitorBlocked {
    /// Why, for the team.
    pub reason: Option<String>,
}

/// A visitor was unblocked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitorUnblocked {}
