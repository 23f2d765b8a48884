//! Payloads of the contact stream: a known person and what the team keeps
//! about them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Personal;

/// A contact was created from an identification or by the team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactCreated {
    /// Email, unique per workspace.
    pub email: Personal,
    /// Name, if known.
    pub name: Option<Personal>,
}

/// A visitor was linked to this contact; its conversations now belong here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactVisitorLinked {
    /// The visitor.
    pub visitor_id: Uuid,
}

/// The team edited the contact; absent fields kept their value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactUpdated {
    /// New name.
    pub name: Option<Personal>,
    /// New email.
    pub email: Option<Personal>,
}

/// This contact was merged into another, which now holds its visitors and
/// conversations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactMerged {
    /// The surviving contact.
    pub into_contact_id: Uuid,
}

/// A team note was added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactNoteAdded {
    /// The note.
    pub note_id: Uuid,
    /// The agent who wrote it (only they or an admin may change it).
    pub author_id: Uuid,
    /// Its text.
    pub body: Personal,
}

/// A team note was edited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactNoteEdited {
    /// The note.
    pub note_id: Uuid,
    /// Its new text.
    pub body: Personal,
}

/// A team note was deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactNoteDeleted {
    /// The note.
    pub note_id: Uuid,
}

/// A custom field value was set or cleared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactCustomFieldSet {
    /// The field's key.
    pub key: String,
    /// The JSON text of the value; `None` clears it.
    pub value: Option<Personal>,
}

/// The contact's personal data was erased on a privacy request: the keys of
/// the contact and of these visitors were destroyed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactErased {
    /// Every visitor linked to the contact at the time.
    pub visitor_ids: Vec<Uuid>,
}
