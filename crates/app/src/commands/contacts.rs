//! Contact commands: notes and custom fields.

use serde_json::Value;
use tahc_domain::contact::{Command, Contact, ContactState, Editor};
use tahc_events::{Role, StreamCategory};
use uuid::Uuid;

use super::{Commands, stream};
use crate::aggregates::Executed;
use crate::error::AppError;
use crate::permission::Action;
use crate::principal::{Principal, PrincipalKind};

/// A note of a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactNoteRef {
    /// The contact.
    pub contact_id: Uuid,
    /// The note.
    pub note_id: Uuid,
}

impl Commands {
    /// Adds a team note; returns its id.
    pub async fn add_note(
        &self,
        principal: &Principal,
        contact_id: Uuid,
        body: String,
    ) -> Result<(Uuid, Executed<ContactState>), AppError> {
        let editor = editor(principal, Action::ManageContactNotes)?;
        let note_id = Uuid::now_v7();
        let executed = self
            .on_contact(
                principal,
                contact_id,
                Command::AddNote {
                    note_id,
                    body,
                    author_id: editor.agent_id,
                },
            )
            .await?;
        Ok((note_id, executed))
    }

    /// Edits a note (its author or an admin).
    pub async fn edit_note(
        &self,
        principal: &Principal,
        note: ContactNoteRef,
        body: String,
    ) -> Result<Executed<ContactState>, AppError> {
        let editor = editor(principal, Action::ManageContactNotes)?;
        self.on_contact(
            principal,
            note.contact_id,
            Command::EditNote {
                note_id: note.note_id,
                body,
                editor,
            },
        )
        .await
    }

    /// Deletes a note (its author or an admin).
    pub async fn delete_note(
        &self,
        principal: &Principal,
        note: ContactNoteRef,
    ) -> Result<Executed<ContactState>, AppError> {
        let editor = editor(principal, Action::ManageContactNotes)?;
        self.on_contact(
            principal,
            note.contact_id,
            Command::DeleteNote {
                note_id: note.note_id,
                editor,
            },
        )
        .await
    }

    /// Sets (or with `null` clears) a custom field of a contact.
    pub async fn set_custom_field(
        &self,
        principal: &Principal,
        contact_id: Uuid,
        key: String,
        value: Value,
    ) -> Result<Executed<ContactState>, AppError> {
        Self::require(principal, Action::SetContactCustomField)?;
        let field_type = self
            .workspace(principal.workspace_id)
            .await?
            .field_type(&key);
        self.on_contact(
            principal,
            contact_id,
            Command::SetCustomField {
                key,
                value,
                field_type,
            },
        )
        .await
    }

    async fn on_contact(
        &self,
        principal: &Principal,
        contact_id: Uuid,
        command: Command,
    ) -> Result<Executed<ContactState>, AppError> {
        self.contact(principal, contact_id).await?;
        self.aggregates
            .execute::<Contact>(
                &stream(StreamCategory::Contact, contact_id),
                &self.context(principal),
                |_| Ok(command.clone()),
            )
            .await
    }
}

/// The team member editing notes, if the table allows them.
fn editor(principal: &Principal, action: Action) -> Result<Editor, AppError> {
    Commands::require(principal, action)?;
    match principal.kind {
        PrincipalKind::Team { agent_id, role } => Ok(Editor {
            agent_id,
            is_admin: role == Role::Admin,
        }),
        PrincipalKind::Visitor { .. } | PrincipalKind::System => {
            Err(AppError::Forbidden { action })
        }
    }
}
