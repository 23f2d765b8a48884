//! A privacy subject's data as one JSON document (ADMIN): the contact, its
//! visitors, every conversation with each public message and who wrote it,
//! its notes and custom fields. Served at `GET /export/contacts/{id}.json`
//! and printed by `tahc export --contact ID`, from the same code.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tahc_app::Node;
use tahc_events::AuthorKind;
use tahc_projections::{MessageRecord, ViewError, Window};
use uuid::Uuid;

/// The whole document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubjectExport {
    /// When it was made.
    pub exported_at: DateTime<Utc>,
    /// The contact.
    pub contact: ExportedContact,
    /// Every visitor known as the contact.
    pub visitors: Vec<ExportedVisitor>,
    /// Every conversation of the contact, oldest first.
    pub conversations: Vec<ExportedConversation>,
}

/// The contact's own data.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedContact {
    id: Uuid,
    workspace_id: Uuid,
    name: Option<String>,
    email: Option<String>,
    erased: bool,
    first_seen_at: DateTime<Utc>,
    last_active_at: DateTime<Utc>,
    custom_fields: BTreeMap<String, serde_json::Value>,
    notes: Vec<ExportedNote>,
}

/// A team note about the contact.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedNote {
    id: Uuid,
    body: String,
    author: ExportedAuthor,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// One widget visitor of the contact.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedVisitor {
    id: Uuid,
    name: Option<String>,
    email: Option<String>,
    blocked: bool,
    first_seen_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
}

/// One conversation and its public messages.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedConversation {
    id: Uuid,
    visitor_id: Uuid,
    status: tahc_events::ConversationStatus,
    created_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    messages: Vec<ExportedMessage>,
}

/// One public message.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedMessage {
    id: Uuid,
    at: DateTime<Utc>,
    author: ExportedAuthor,
    /// `null` once erased.
    body: Option<String>,
}

/// Who wrote something: the visitor, the AI, a named agent, the system.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedAuthor {
    kind: AuthorKind,
    agent_id: Option<Uuid>,
    name: Option<String>,
}

/// The export of `contact`; `None` when there is no such contact in
/// `workspace` (any workspace when `None`, for operators).
pub fn subject_export(
    node: &Node,
    workspace: Option<Uuid>,
    contact: Uuid,
) -> Result<Option<SubjectExport>, ViewError> {
    let contacts = node.contacts();
    let Some(record) = contacts.get(contact)? else {
        return Ok(None);
    };
    if workspace.is_some_and(|w| w != record.workspace_id) {
        return Ok(None);
    }
    let agents = node
        .team()
        .workspace(record.workspace_id)?
        .map(|w| w.agents)
        .unwrap_or_default();
    let author = |kind: AuthorKind, agent_id: Option<Uuid>| ExportedAuthor {
        kind,
        agent_id,
        name: agent_id.and_then(|id| agents.get(&id).map(|a| a.name.clone())),
    };
    let mut visitors = Vec::new();
    for id in &record.visitors {
        if let Some(v) = contacts.visitor(*id)? {
            visitors.push(ExportedVisitor {
                id: v.id,
                name: v.name,
                email: v.email,
                blocked: v.blocked,
                first_seen_at: v.first_seen_at,
                last_seen_at: v.last_seen_at,
            });
        }
    }
    let conversations_view = node.conversations();
    let mut conversations = Vec::new();
    for id in &record.conversations {
        let Some(conversation) = conversations_view.get(*id)? else {
            continue;
        };
        let messages = conversations_view
            .messages(*id, true, &Window::default())?
            .items
            .into_iter()
            .map(|(_, m): (_, MessageRecord)| ExportedMessage {
                id: m.id,
                at: m.created_at,
                author: author(m.author_kind, m.agent_id),
                body: m.body,
            })
            .collect();
        conversations.push(ExportedConversation {
            id: conversation.id,
            visitor_id: conversation.visitor_id,
            status: conversation.status,
            created_at: conversation.created_at,
            closed_at: conversation.closed_at,
            messages,
        });
    }
    conversations.sort_by_key(|c| c.created_at);
    let notes = record
        .notes
        .values()
        .map(|n| ExportedNote {
            id: n.id,
            body: n.body.clone(),
            author: author(AuthorKind::Agent, Some(n.author_id)),
            created_at: n.created_at,
            updated_at: n.updated_at,
        })
        .collect();
    Ok(Some(SubjectExport {
        exported_at: Utc::now(),
        contact: ExportedContact {
            id: record.id,
            workspace_id: record.workspace_id,
            name: record.name,
            email: record.email,
            erased: record.erased,
            first_seen_at: record.first_seen_at,
            last_active_at: record.last_active_at,
            custom_fields: record.custom_fields,
            notes,
        },
        visitors,
        conversations,
    }))
}
