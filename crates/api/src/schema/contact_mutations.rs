//! Mutations on visitors and contacts: blocking, editing, notes, custom
//! fields, and privacy erasure.

use async_graphql::{Context, ID, InputObject, Json, Object, Result, SimpleObject};
use tahc_app::ContactNoteRef;
use uuid::Uuid;

use super::caller;
use super::contacts::{Contact, ContactNote};
use super::errors::UserError;
use super::payload::{Written, compacted, errors_of, input_id, run, run_on};
use super::text_limits;
use super::types::{Visitor, node};
use crate::limits::checked;

/// Blocks or unblocks a visitor.
#[derive(InputObject)]
pub struct BlockVisitorInput {
    visitor_id: ID,
    reason: Option<String>,
    client_mutation_id: Option<String>,
}

/// Confirms a visitor's claim to an address.
#[derive(InputObject)]
pub struct ConfirmVisitorEmailInput {
    visitor_id: ID,
    client_mutation_id: Option<String>,
}

/// What a visitor mutation did.
#[derive(SimpleObject)]
pub struct VisitorPayload {
    visitor: Option<Visitor>,
    user_errors: Vec<UserError>,
    client_mutation_id: Option<String>,
}

/// Edits a contact's name and/or email.
#[derive(InputObject)]
pub struct UpdateContactInput {
    contact_id: ID,
    name: Option<String>,
    email: Option<String>,
    client_mutation_id: Option<String>,
}

/// What a contact mutation did.
#[derive(SimpleObject)]
pub struct ContactPayload {
    contact: Option<Contact>,
    user_errors: Vec<UserError>,
    client_mutation_id: Option<String>,
}

/// Adds a team note to a contact.
#[derive(InputObject)]
pub struct AddContactNoteInput {
    contact_id: ID,
    body: String,
    client_mutation_id: Option<String>,
}

/// Rewrites a note.
#[derive(InputObject)]
pub struct EditContactNoteInput {
    note_id: ID,
    body: String,
    client_mutation_id: Option<String>,
}

/// Deletes a note.
#[derive(InputObject)]
pub struct DeleteContactNoteInput {
    note_id: ID,
    client_mutation_id: Option<String>,
}

/// What a note mutation did.
#[derive(SimpleObject)]
pub struct ContactNotePayload {
    /// The note (null once deleted).
    note: Option<ContactNote>,
    contact: Option<Contact>,
    user_errors: Vec<UserError>,
    client_mutation_id: Option<String>,
}

/// Sets or clears a custom field value.
#[derive(InputObject)]
pub struct SetContactCustomFieldInput {
    contact_id: ID,
    key: String,
    /// null clears
    value: Option<Json<serde_json::Value>>,
    client_mutation_id: Option<String>,
}

/// Erases a contact's personal data.
#[derive(InputObject)]
pub struct EraseContactInput {
    contact_id: ID,
    client_mutation_id: Option<String>,
}

/// The contact as the views show it now.
fn contact_now(ctx: &Context<'_>, id: Uuid) -> Result<Option<Contact>> {
    Ok(node(ctx).contacts().get(id)?.map(Contact))
}

/// The payload of a contact mutation: the contact it left, if the caller
/// may see one.
pub(super) fn contact_payload(
    ctx: &Context<'_>,
    outcome: std::result::Result<Option<Uuid>, UserError>,
    client_mutation_id: Option<String>,
) -> Result<ContactPayload> {
    Ok(ContactPayload {
        contact: match &outcome {
            Ok(Some(id)) => contact_now(ctx, *id)?,
            Ok(None) | Err(_) => None,
        },
        user_errors: errors_of(&outcome),
        client_mutation_id,
    })
}

/// The payload of a visitor mutation.
fn visitor_payload(
    ctx: &Context<'_>,
    outcome: std::result::Result<Uuid, UserError>,
    client_mutation_id: Option<String>,
) -> Result<VisitorPayload> {
    Ok(VisitorPayload {
        visitor: match &outcome {
            Ok(id) => node(ctx).contacts().visitor(*id)?.map(Visitor),
            Err(_) => None,
        },
        user_errors: errors_of(&outcome),
        client_mutation_id,
    })
}

/// The payload of a note mutation: the contact, and the note unless gone.
fn note_payload(
    ctx: &Context<'_>,
    outcome: std::result::Result<ContactNoteRef, UserError>,
    client_mutation_id: Option<String>,
) -> Result<ContactNotePayload> {
    let contact = match &outcome {
        Ok(note) => contact_now(ctx, note.contact_id)?,
        Err(_) => None,
    };
    let note = match (&outcome, &contact) {
        (Ok(note), Some(contact)) => {
            contact
                .0
                .notes
                .get(&note.note_id)
                .cloned()
                .map(|record| ContactNote {
                    record,
                    workspace: contact.0.workspace_id,
                })
        }
        _ => None,
    };
    Ok(ContactNotePayload {
        note,
        contact,
        user_errors: errors_of(&outcome),
        client_mutation_id,
    })
}

/// The note a global id names, with its contact; a user error otherwise.
fn note_ref(ctx: &Context<'_>, id: &ID) -> Result<std::result::Result<ContactNoteRef, UserError>> {
    let note_id = match input_id("ContactNote", id, "noteId") {
        Ok(note_id) => note_id,
        Err(error) => return Ok(Err(error)),
    };
    Ok(match node(ctx).contacts().note_contact(note_id)? {
        Some(contact_id) => Ok(ContactNoteRef {
            contact_id,
            note_id,
        }),
        None => Err(UserError::not_found(&["noteId"], "note not found")),
    })
}

/// Visitor and contact mutations.
#[derive(Default)]
pub struct ContactMutation;

#[Object]
impl ContactMutation {
    /// Blocks a visitor: it can no longer start or write in conversations.
    async fn block_visitor(
        &self,
        ctx: &Context<'_>,
        input: BlockVisitorInput,
    ) -> Result<VisitorPayload> {
        let caller = caller(ctx)?;
        let commands = &node(ctx).commands;
        let outcome = run_on(ctx, "Visitor", &input.visitor_id, "visitorId", |id| {
            commands.block_visitor(&caller, id, input.reason)
        })
        .await?;
        visitor_payload(ctx, outcome.map(|(id, _)| id), input.client_mutation_id)
    }

    /// Lifts a block.
    async fn unblock_visitor(
        &self,
        ctx: &Context<'_>,
        input: BlockVisitorInput,
    ) -> Result<VisitorPayload> {
        let caller = caller(ctx)?;
        let commands = &node(ctx).commands;
        let outcome = run_on(ctx, "Visitor", &input.visitor_id, "visitorId", |id| {
            commands.unblock_visitor(&caller, id)
        })
        .await?;
        visitor_payload(ctx, outcome.map(|(id, _)| id), input.client_mutation_id)
    }

    /// Confirms a visitor's unverified claim to an address another contact
    /// holds (ADMIN, AGENT): the visitor joins that contact, with its
    /// conversations. INVALID when the visitor claims nothing.
    async fn confirm_visitor_email(
        &self,
        ctx: &Context<'_>,
        input: ConfirmVisitorEmailInput,
    ) -> Result<ContactPayload> {
        let caller = caller(ctx)?;
        let commands = &node(ctx).commands;
        let outcome = run_on(ctx, "Visitor", &input.visitor_id, "visitorId", |id| {
            commands.confirm_visitor_claim(&caller, id)
        })
        .await?;
        contact_payload(
            ctx,
            outcome.map(|(_, identified)| identified.linked()),
            input.client_mutation_id,
        )
    }

    /// Edits a contact's name and/or email (an email in use is TAKEN).
    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        input: UpdateContactInput,
    ) -> Result<ContactPayload> {
        let caller = caller(ctx)?;
        let commands = &node(ctx).commands;
        let outcome = run_on(ctx, "Contact", &input.contact_id, "contactId", |id| {
            let limits = text_limits(ctx);
            let check = limits
                .name(input.name.as_deref())
                .and_then(|()| limits.email(input.email.as_deref()));
            checked(
                check,
                commands.update_contact(&caller, id, input.name, input.email),
            )
        })
        .await?;
        contact_payload(
            ctx,
            outcome.map(|(id, _)| Some(id)),
            input.client_mutation_id,
        )
    }

    /// Adds a team note.
    async fn add_contact_note(
        &self,
        ctx: &Context<'_>,
        input: AddContactNoteInput,
    ) -> Result<ContactNotePayload> {
        let caller = caller(ctx)?;
        let commands = &node(ctx).commands;
        let outcome = run_on(ctx, "Contact", &input.contact_id, "contactId", |id| {
            checked(
                text_limits(ctx).note(&input.body),
                commands.add_note(&caller, id, input.body),
            )
        })
        .await?;
        let note = outcome.map(|(contact_id, (note_id, _))| ContactNoteRef {
            contact_id,
            note_id,
        });
        note_payload(ctx, note, input.client_mutation_id)
    }

    /// Rewrites a note (its author or an admin).
    async fn edit_contact_note(
        &self,
        ctx: &Context<'_>,
        input: EditContactNoteInput,
    ) -> Result<ContactNotePayload> {
        let caller = caller(ctx)?;
        let commands = &node(ctx).commands;
        let outcome = match note_ref(ctx, &input.note_id)? {
            Ok(note) => {
                let edit = checked(
                    text_limits(ctx).note(&input.body),
                    commands.edit_note(&caller, note, input.body),
                );
                run(ctx, "noteId", edit).await?.map(|_| note)
            }
            Err(error) => Err(error),
        };
        note_payload(ctx, outcome, input.client_mutation_id)
    }

    /// Deletes a note (its author or an admin).
    async fn delete_contact_note(
        &self,
        ctx: &Context<'_>,
        input: DeleteContactNoteInput,
    ) -> Result<ContactNotePayload> {
        let caller = caller(ctx)?;
        let commands = &node(ctx).commands;
        let outcome = match note_ref(ctx, &input.note_id)? {
            Ok(note) => run(ctx, "noteId", commands.delete_note(&caller, note))
                .await?
                .map(|_| note),
            Err(error) => Err(error),
        };
        note_payload(ctx, outcome, input.client_mutation_id)
    }

    /// Sets a custom field value (checked against its definition); null
    /// clears it.
    async fn set_contact_custom_field(
        &self,
        ctx: &Context<'_>,
        input: SetContactCustomFieldInput,
    ) -> Result<ContactPayload> {
        let caller = caller(ctx)?;
        let commands = &node(ctx).commands;
        let value = input.value.map_or(serde_json::Value::Null, |v| v.0);
        let outcome = run_on(ctx, "Contact", &input.contact_id, "contactId", |id| {
            checked(
                text_limits(ctx).field_value(&value),
                commands.set_custom_field(&caller, id, input.key, value),
            )
        })
        .await?;
        contact_payload(
            ctx,
            outcome.map(|(id, _)| Some(id)),
            input.client_mutation_id,
        )
    }

    /// Privacy erasure (ADMIN): the contact's personal data becomes
    /// unreadable; the audit trail of who did what stays.
    async fn erase_contact(
        &self,
        ctx: &Context<'_>,
        input: EraseContactInput,
    ) -> Result<ContactPayload> {
        let caller = caller(ctx)?;
        let commands = &node(ctx).commands;
        let outcome = run_on(ctx, "Contact", &input.contact_id, "contactId", |id| {
            commands.erase_contact(&caller, id)
        })
        .await?;
        if let Ok((_, executed)) = &outcome
            && let Some(position) = executed.written()
        {
            compacted(ctx, position).await?;
        }
        contact_payload(
            ctx,
            outcome.map(|(id, _)| Some(id)),
            input.client_mutation_id,
        )
    }
}
