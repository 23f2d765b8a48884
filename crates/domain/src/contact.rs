//! A contact: a known person (by email), the visitors who are them, and what
//! the team keeps about them: notes and custom fields. Erasure ends it.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;
use tahc_events::{
    ContactCreated, ContactCustomFieldSet, ContactErased, ContactMerged, ContactNoteAdded,
    ContactNoteDeleted, ContactNoteEdited, ContactUpdated, ContactVisitorLinked, CustomFieldType,
    Event, Personal, StreamId,
};
use uuid::Uuid;

use crate::visitor::MAX_NAME_CHARS;
use crate::{Aggregate, DomainError, Email, text};

/// Longest note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 5_000;
/// Longest TEXT custom field value, in characters.
pub const MAX_FIELD_TEXT_CHARS: usize = 1_000;

/// The contact aggregate.
pub struct Contact;

/// A note as the contact remembers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    /// Who wrote it.
    pub author_id: Uuid,
    /// Its text.
    pub body: String,
}

/// What a contact remembers for its decisions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactState {
    /// Whether the contact exists.
    pub exists: bool,
    /// Its email (normal form), unless erased.
    pub email: Option<String>,
    /// Its name.
    pub name: Option<String>,
    /// Visitors known as this contact.
    pub visitors: BTreeSet<Uuid>,
    /// Live notes.
    pub notes: HashMap<Uuid, Note>,
    /// Custom field values as JSON.
    pub fields: HashMap<String, Value>,
    /// Merged into this contact.
    pub merged_into: Option<Uuid>,
    /// Personal data erased on a privacy request.
    pub erased: bool,
}

/// Who edits or deletes a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Editor {
    /// The agent.
    pub agent_id: Uuid,
    /// Admins may change anyone's notes.
    pub is_admin: bool,
}

/// What can be asked of a contact. Facts come from the application.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Create the contact for an email (and link the visitor who gave it).
    Create {
        /// The email.
        email: String,
        /// The name.
        name: Option<String>,
        /// The visitor who identified, if any.
        visitor_id: Option<Uuid>,
        /// Fact: another live contact of the workspace has this email.
        email_taken: bool,
    },
    /// A visitor is this contact.
    LinkVisitor {
        /// The visitor.
        visitor_id: Uuid,
    },
    /// The team edits name and/or email.
    Update {
        /// New name (`None`: unchanged).
        name: Option<String>,
        /// New email (`None`: unchanged).
        email: Option<String>,
        /// Fact: another live contact of the workspace has the new email.
        email_taken: bool,
    },
    /// A team note.
    AddNote {
        /// Its id.
        note_id: Uuid,
        /// Its text.
        body: String,
        /// Its author.
        author_id: Uuid,
    },
    /// Change a note's text.
    EditNote {
        /// The note.
        note_id: Uuid,
        /// The new text.
        body: String,
        /// Who edits.
        editor: Editor,
    },
    /// Delete a note.
    DeleteNote {
        /// The note.
        note_id: Uuid,
        /// Who deletes.
        editor: Editor,
    },
    /// Set (or clear, with `Value::Null`) a custom field.
    SetCustomField {
        /// The field's key.
        key: String,
        /// The value.
        value: Value,
        /// Fact: the field's definition in the workspace, if defined.
        field_type: Option<CustomFieldType>,
    },
    /// Fold this contact into another.
    MergeInto {
        /// The surviving contact.
        contact_id: Uuid,
    },
    /// Erase personal data on a privacy request.
    Erase,
}

impl Aggregate for Contact {
    type State = ContactState;
    type Command = Command;

    /// A contact is its own subject.
    fn subject(stream: &StreamId, _state: &ContactState) -> Option<StreamId> {
        Some(stream.clone())
    }

    fn decide(state: &ContactState, command: Command) -> Result<Vec<Event>, DomainError> {
        if let Command::Create {
            email,
            name,
            visitor_id,
            email_taken,
        } = command
        {
            return create(state, &email, name, visitor_id, email_taken);
        }
        if !state.exists {
            return Err(DomainError::NotFound { what: "contact" });
        }
        if matches!(command, Command::Erase) {
            return Ok(if state.erased {
                Vec::new()
            } else {
                vec![
                    ContactErased {
                        visitor_ids: state.visitors.iter().copied().collect(),
                    }
                    .into(),
                ]
            });
        }
        if state.erased {
            return Err(DomainError::InvalidTransition {
                action: "change a contact",
                reason: "its personal data was erased",
            });
        }
        if state.merged_into.is_some() {
            return Err(DomainError::InvalidTransition {
                action: "change a contact",
                reason: "it was merged into another contact",
            });
        }
        match command {
            Command::Create { .. } | Command::Erase => unreachable!("handled above"),
            Command::LinkVisitor { visitor_id } if state.visitors.contains(&visitor_id) => {
                Ok(Vec::new())
            }
            Command::LinkVisitor { visitor_id } => {
                Ok(vec![ContactVisitorLinked { visitor_id }.into()])
            }
            Command::Update {
                name,
                email,
                email_taken,
            } => update(state, name, email, email_taken),
            Command::AddNote {
                note_id,
                body,
                author_id,
            } => {
                if state.notes.contains_key(&note_id) {
                    return Err(DomainError::AlreadyExists { what: "note" });
                }
                Ok(vec![
                    ContactNoteAdded {
                        note_id,
                        author_id,
                        body: Personal::Plain(text::required(body, "body", MAX_NOTE_CHARS)?),
                    }
                    .into(),
                ])
            }
            Command::EditNote {
                note_id,
                body,
                editor,
            } => {
                let note = editable(state, note_id, editor)?;
                let body = text::required(body, "body", MAX_NOTE_CHARS)?;
                if note.body == body {
                    return Ok(Vec::new());
                }
                Ok(vec![
                    ContactNoteEdited {
                        note_id,
                        body: Personal::Plain(body),
                    }
                    .into(),
                ])
            }
            Command::DeleteNote { note_id, editor } => {
                editable(state, note_id, editor)?;
                Ok(vec![ContactNoteDeleted { note_id }.into()])
            }
            Command::SetCustomField {
                key,
                value,
                field_type,
            } => set_field(state, key, value, field_type),
            Command::MergeInto { contact_id } => Ok(vec![
                ContactMerged {
                    into_contact_id: contact_id,
                }
                .into(),
            ]),
        }
    }

    fn evolve(mut state: ContactState, event: &Event) -> ContactState {
        let plain = |p: &Personal| p.as_plain().map(str::to_owned);
        match event {
            Event::ContactCreated(e) => {
                state.exists = true;
                state.email = plain(&e.email);
                state.name = e.name.as_ref().and_then(plain);
            }
            Event::ContactVisitorLinked(e) => {
                state.visitors.insert(e.visitor_id);
            }
            Event::ContactUpdated(e) => {
                if let Some(name) = &e.name {
                    state.name = plain(name);
                }
                if let Some(email) = &e.email {
                    state.email = plain(email);
                }
            }
            Event::ContactMerged(e) => state.merged_into = Some(e.into_contact_id),
            Event::ContactNoteAdded(e) => {
                state.notes.insert(
                    e.note_id,
                    Note {
                        author_id: e.author_id,
                        body: plain(&e.body).unwrap_or_default(),
                    },
                );
            }
            Event::ContactNoteEdited(e) => {
                if let Some(note) = state.notes.get_mut(&e.note_id) {
                    note.body = plain(&e.body).unwrap_or_default();
                }
            }
            Event::ContactNoteDeleted(e) => {
                state.notes.remove(&e.note_id);
            }
            Event::ContactCustomFieldSet(e) => {
                let value = e
                    .value
                    .as_ref()
                    .and_then(|v| v.as_plain())
                    .and_then(|json| serde_json::from_str(json).ok());
                match value {
                    Some(value) => state.fields.insert(e.key.clone(), value),
                    None => state.fields.remove(&e.key),
                };
            }
            Event::ContactErased(_) => {
                state.erased = true;
                state.email = None;
                state.name = None;
                state.notes.clear();
                state.fields.clear();
            }
            _ => {}
        }
        state
    }
}

fn create(
    state: &ContactState,
    email: &str,
    name: Option<String>,
    visitor_id: Option<Uuid>,
    email_taken: bool,
) -> Result<Vec<Event>, DomainError> {
    if state.exists {
        return Err(DomainError::AlreadyExists { what: "contact" });
    }
    let email = Email::parse(email, "email")?;
    if email_taken {
        return Err(DomainError::Taken { field: "email" });
    }
    let name = text::optional_line(name, "name", MAX_NAME_CHARS)?;
    let mut events = vec![
        ContactCreated {
            email: Personal::Plain(email.to_string()),
            name: name.map(Personal::Plain),
        }
        .into(),
    ];
    if let Some(visitor_id) = visitor_id {
        events.push(ContactVisitorLinked { visitor_id }.into());
    }
    Ok(events)
}

fn update(
    state: &ContactState,
    name: Option<String>,
    email: Option<String>,
    email_taken: bool,
) -> Result<Vec<Event>, DomainError> {
    let name = text::optional_line(name, "name", MAX_NAME_CHARS)?
        .filter(|n| state.name.as_ref() != Some(n));
    let email = match email {
        None => None,
        Some(email) => {
            let email = Email::parse(&email, "email")?;
            if state.email.as_deref() == Some(email.as_str()) {
                None
            } else if email_taken {
                return Err(DomainError::Taken { field: "email" });
            } else {
                Some(email)
            }
        }
    };
    if name.is_none() && email.is_none() {
        return Ok(Vec::new());
    }
    Ok(vec![
        ContactUpdated {
            name: name.map(Personal::Plain),
            email: email.map(|e| Personal::Plain(e.to_string())),
        }
        .into(),
    ])
}

fn editable(state: &ContactState, note_id: Uuid, editor: Editor) -> Result<&Note, DomainError> {
    let note = state
        .notes
        .get(&note_id)
        .ok_or(DomainError::NotFound { what: "note" })?;
    if note.author_id != editor.agent_id && !editor.is_admin {
        return Err(DomainError::Forbidden {
            reason: "only the note's author or an admin may change it",
        });
    }
    Ok(note)
}

fn set_field(
    state: &ContactState,
    key: String,
    value: Value,
    field_type: Option<CustomFieldType>,
) -> Result<Vec<Event>, DomainError> {
    let Some(field_type) = field_type else {
        return Err(DomainError::invalid(
            "key",
            format!("no custom field {key:?} is defined"),
        ));
    };
    check_field_value(field_type, &value)?;
    let current = state.fields.get(&key);
    if current == Some(&value) || (current.is_none() && value.is_null()) {
        return Ok(Vec::new());
    }
    Ok(vec![
        ContactCustomFieldSet {
            key,
            value: (!value.is_null()).then(|| Personal::Plain(value.to_string())),
        }
        .into(),
    ])
}

/// Checks a custom field value against its type; `null` clears any field.
pub fn check_field_value(field_type: CustomFieldType, value: &Value) -> Result<(), DomainError> {
    let wrong = |expected: &str| DomainError::invalid("value", format!("must be {expected}"));
    match (field_type, value) {
        (_, Value::Null) => Ok(()),
        (CustomFieldType::Text, Value::String(s)) => {
            text::required(s.clone(), "value", MAX_FIELD_TEXT_CHARS).map(|_| ())
        }
        (CustomFieldType::Text, _) => Err(wrong("a string")),
        (CustomFieldType::Number, Value::Number(_)) => Ok(()),
        (CustomFieldType::Number, _) => Err(wrong("a number")),
        (CustomFieldType::Boolean, Value::Bool(_)) => Ok(()),
        (CustomFieldType::Boolean, _) => Err(wrong("true or false")),
        (CustomFieldType::Date, Value::String(s))
            if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() && s.len() == 10 =>
        {
            Ok(())
        }
        (CustomFieldType::Date, _) => Err(wrong("a date as YYYY-MM-DD")),
    }
}

#[cfg(test)]
mod tests;
