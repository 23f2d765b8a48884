//! The contacts view: contacts with their notes, fields, visitors and
//! activity; visitors; order indexes and a word index for search.
//!
//! | key | value |
//! |---|---|
//! | `c` contact | [`ContactRecord`] (JSON) |
//! | `v` visitor | [`VisitorRecord`] (JSON) |
//! | `x` conversation | the conversation's contact and start (JSON) |
//! | `o` workspace order sort-key contact | empty: contacts in an order |
//! | `s` workspace word 0x00 contact | empty: the words of names and emails |

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tahc_events::{AuthorKind, Event, Personal, Position, RecordedEvent, StreamCategory};
use uuid::Uuid;

use crate::conversations::{read, sortable};
use crate::page::{Cursor, Page, Window, bounds};
use crate::projection::Projector;
use crate::view::{View, ViewChanges, ViewError, id_at_end, json};
use crate::words::words;

/// A team note on a contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteRecord {
    /// The note.
    pub id: Uuid,
    /// Its text.
    pub body: String,
    /// Who wrote it.
    pub author_id: Uuid,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Last edit.
    pub updated_at: DateTime<Utc>,
}

/// A contact as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactRecord {
    /// The contact.
    pub id: Uuid,
    /// Its workspace.
    pub workspace_id: Uuid,
    /// Name, unless erased.
    pub name: Option<String>,
    /// Email, unless erased.
    pub email: Option<String>,
    /// When it was created.
    pub first_seen_at: DateTime<Utc>,
    /// The last time the person did something (the team's edits, notes
    /// and fields about them do not move it).
    pub last_active_at: DateTime<Utc>,
    /// When its newest conversation started.
    pub last_conversation_at: Option<DateTime<Utc>>,
    /// Its conversations.
    pub conversations: BTreeSet<Uuid>,
    /// Team notes, by id.
    pub notes: BTreeMap<Uuid, NoteRecord>,
    /// Custom field values (JSON), by key.
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    /// Its visitors.
    pub visitors: BTreeSet<Uuid>,
    /// Its blocked visitors.
    pub blocked_visitors: BTreeSet<Uuid>,
    /// Erased on a privacy request.
    pub erased: bool,
    /// The last change.
    pub position: Position,
}

impl ContactRecord {
    /// Whether any of its visitors is blocked.
    #[must_use]
    pub fn blocked(&self) -> bool {
        !self.blocked_visitors.is_empty()
    }
}

/// A visitor as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitorRecord {
    /// The visitor.
    pub id: Uuid,
    /// Its workspace.
    pub workspace_id: Uuid,
    /// The contact it is known as.
    pub contact_id: Option<Uuid>,
    /// The name it gave.
    pub name: Option<String>,
    /// The email it gave.
    pub email: Option<String>,
    /// Blocked visitors can neither start nor post.
    pub blocked: bool,
    /// Its contact was erased: its token is no longer accepted.
    #[serde(default)]
    pub erased: bool,
    /// An address it gave that another contact holds, not yet confirmed
    /// by the team, and that contact.
    #[serde(default)]
    pub claim: Option<(String, Uuid)>,
    /// First widget session.
    pub first_seen_at: DateTime<Utc>,
    /// Last message or session.
    pub last_seen_at: DateTime<Utc>,
    /// The last change.
    pub position: Position,
}

impl VisitorRecord {
    /// A visitor first seen at `at`, known for nothing yet.
    #[must_use]
    pub fn new(id: Uuid, workspace_id: Uuid, at: DateTime<Utc>, position: Position) -> Self {
        VisitorRecord {
            id,
            workspace_id,
            contact_id: None,
            name: None,
            email: None,
            blocked: false,
            erased: false,
            claim: None,
            first_seen_at: at,
            last_seen_at: at,
            position,
        }
    }

    /// What the inbox shows: name, else email, else a short visitor id.
    #[must_use]
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.email.clone())
            .unwrap_or_else(|| format!("Visitor {}", &self.id.simple().to_string()[24..]))
    }
}

/// Where a conversation belongs, as this view tracks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ConversationLink {
    visitor_id: Uuid,
    contact_id: Option<Uuid>,
    started_at: DateTime<Utc>,
}

/// The orders of the contacts list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactOrder {
    /// Alphabetical by name (contacts without a name last).
    Name,
    /// By last activity.
    LastActiveAt,
    /// By creation.
    FirstSeenAt,
    /// By number of conversations.
    ConversationCount,
}

impl ContactOrder {
    const ALL: [ContactOrder; 4] = [
        ContactOrder::Name,
        ContactOrder::LastActiveAt,
        ContactOrder::FirstSeenAt,
        ContactOrder::ConversationCount,
    ];

    fn tag(self) -> u8 {
        match self {
            ContactOrder::Name => b'n',
            ContactOrder::LastActiveAt => b'a',
            ContactOrder::FirstSeenAt => b'f',
            ContactOrder::ConversationCount => b'k',
        }
    }

    /// The bytes a contact sorts by in this order, then its id.
    fn sort_key(self, contact: &ContactRecord) -> Vec<u8> {
        let mut key = match self {
            ContactOrder::Name => {
                let name = contact.name.as_deref().map(crate::words::normalise);
                let mut key = match name {
                    Some(name) => [&[1u8][..], &name.as_bytes()[..name.len().min(64)]].concat(),
                    None => vec![2u8],
                };
                key.push(0);
                key
            }
            ContactOrder::LastActiveAt => sortable(contact.last_active_at).to_vec(),
            ContactOrder::FirstSeenAt => sortable(contact.first_seen_at).to_vec(),
            ContactOrder::ConversationCount => {
                (contact.conversations.len() as u64).to_be_bytes().to_vec()
            }
        };
        key.extend_from_slice(contact.id.as_bytes());
        key
    }
}

fn contact_key(id: Uuid) -> Vec<u8> {
    [&b"c"[..], id.as_bytes()].concat()
}

fn visitor_key(id: Uuid) -> Vec<u8> {
    [&b"v"[..], id.as_bytes()].concat()
}

fn link_key(conversation: Uuid) -> Vec<u8> {
    [&b"x"[..], conversation.as_bytes()].concat()
}

/// Where a note's id leads: the index entry ends with its contact's id.
fn note_prefix(note: Uuid) -> Vec<u8> {
    [&b"n"[..], note.as_bytes()].concat()
}

fn order_prefix(workspace: Uuid, order: ContactOrder) -> Vec<u8> {
    [&b"o"[..], workspace.as_bytes(), &[order.tag()]].concat()
}

fn word_prefix(workspace: Uuid, word: &str) -> Vec<u8> {
    [&b"s"[..], workspace.as_bytes(), word.as_bytes()].concat()
}

fn word_key(workspace: Uuid, word: &str, contact: Uuid) -> Vec<u8> {
    [&word_prefix(workspace, word)[..], &[0], contact.as_bytes()].concat()
}

fn index_keys(contact: &ContactRecord) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = ContactOrder::ALL
        .iter()
        .map(|order| {
            [
                order_prefix(contact.workspace_id, *order),
                order.sort_key(contact),
            ]
            .concat()
        })
        .collect();
    let text = format!(
        "{} {}",
        contact.name.as_deref().unwrap_or_default(),
        contact.email.as_deref().unwrap_or_default()
    );
    let mut searchable = words(&text);
    if let Some(email) = &contact.email {
        searchable.insert(crate::words::normalise(email));
    }
    keys.extend(
        searchable
            .iter()
            .map(|w| word_key(contact.workspace_id, w, contact.id)),
    );
    keys.extend(
        contact
            .notes
            .keys()
            .map(|note| [&note_prefix(*note)[..], contact.id.as_bytes()].concat()),
    );
    keys
}

fn plain(personal: &Personal) -> Option<String> {
    personal.as_plain().map(str::to_owned)
}

/// Builds the contacts view.
pub struct ContactsProjector;

impl Projector for ContactsProjector {
    const NAME: &'static str = "contacts";

    fn apply(
        &self,
        record: &RecordedEvent,
        event: &Event,
        view: &View,
        changes: &mut ViewChanges,
    ) -> Result<(), ViewError> {
        let Some((category, id)) = record.stream_id.parse() else {
            return Ok(());
        };
        let at = record.occurred_at;
        match category {
            StreamCategory::Visitor => visitor_event(record, id, event, view, changes),
            StreamCategory::Contact => {
                let before: Option<ContactRecord> = read(view, &contact_key(id))?;
                let contact = match (event, before.clone()) {
                    (Event::ContactCreated(created), None) => Some(ContactRecord {
                        id,
                        workspace_id: record.workspace_id,
                        name: created.name.as_ref().and_then(plain),
                        email: plain(&created.email),
                        first_seen_at: at,
                        last_active_at: at,
                        last_conversation_at: None,
                        conversations: BTreeSet::new(),
                        notes: BTreeMap::new(),
                        custom_fields: BTreeMap::new(),
                        visitors: BTreeSet::new(),
                        blocked_visitors: BTreeSet::new(),
                        erased: false,
                        position: record.position,
                    }),
                    (_, Some(mut contact)) => {
                        contact_event(&mut contact, event, at, view, changes)?;
                        Some(contact)
                    }
                    (_, None) => None,
                };
                match contact {
                    Some(mut contact) => {
                        save(before.as_ref(), &mut contact, record.position, changes)
                    }
                    None => Ok(()),
                }
            }
            StreamCategory::Conversation => conversation_event(record, id, event, view, changes),
            StreamCategory::Workspace | StreamCategory::Email => Ok(()),
        }
    }
}

fn save(
    before: Option<&ContactRecord>,
    contact: &mut ContactRecord,
    position: Position,
    changes: &mut ViewChanges,
) -> Result<(), ViewError> {
    contact.position = position;
    if let Some(before) = before {
        for key in index_keys(before) {
            changes.delete(key);
        }
    }
    for key in index_keys(contact) {
        changes.put(key, b"");
    }
    changes.put(contact_key(contact.id), json(contact)?);
    Ok(())
}

fn contact_event(
    contact: &mut ContactRecord,
    event: &Event,
    at: DateTime<Utc>,
    view: &View,
    changes: &mut ViewChanges,
) -> Result<(), ViewError> {
    match event {
        Event::ContactVisitorLinked(e) => {
            contact.visitors.insert(e.visitor_id);
            if let Some(visitor) = read::<VisitorRecord>(view, &visitor_key(e.visitor_id))?
                && visitor.blocked
            {
                contact.blocked_visitors.insert(e.visitor_id);
            }
        }
        Event::ContactUpdated(e) => {
            if let Some(name) = &e.name {
                contact.name = plain(name);
            }
            if let Some(email) = &e.email {
                contact.email = plain(email);
            }
        }
        Event::ContactNoteAdded(e) => {
            contact.notes.insert(
                e.note_id,
                NoteRecord {
                    id: e.note_id,
                    body: plain(&e.body).unwrap_or_default(),
                    author_id: e.author_id,
                    created_at: at,
                    updated_at: at,
                },
            );
        }
        Event::ContactNoteEdited(e) => {
            if let Some(note) = contact.notes.get_mut(&e.note_id) {
                note.body = plain(&e.body).unwrap_or_default();
                note.updated_at = at;
            }
        }
        Event::ContactNoteDeleted(e) => {
            contact.notes.remove(&e.note_id);
        }
        Event::ContactCustomFieldSet(e) => {
            let value = e
                .value
                .as_ref()
                .and_then(Personal::as_plain)
                .and_then(|text| serde_json::from_str(text).ok());
            match value {
                Some(value) => contact.custom_fields.insert(e.key.clone(), value),
                None => contact.custom_fields.remove(&e.key),
            };
        }
        Event::ContactErased(e) => {
            changes.erase();
            contact.erased = true;
            contact.name = None;
            contact.email = None;
            contact.notes.clear();
            contact.custom_fields.clear();
            for visitor_id in &e.visitor_ids {
                if let Some(mut visitor) = read::<VisitorRecord>(view, &visitor_key(*visitor_id))? {
                    visitor.name = None;
                    visitor.email = None;
                    visitor.erased = true;
                    visitor.claim = None;
                    changes.put(visitor_key(*visitor_id), json(&visitor)?);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn visitor_event(
    record: &RecordedEvent,
    id: Uuid,
    event: &Event,
    view: &View,
    changes: &mut ViewChanges,
) -> Result<(), ViewError> {
    let at = record.occurred_at;
    let mut visitor = match (event, read::<VisitorRecord>(view, &visitor_key(id))?) {
        (Event::VisitorFirstSeen(_), None) => {
            VisitorRecord::new(id, record.workspace_id, at, record.position)
        }
        (_, Some(visitor)) => visitor,
        (_, None) => return Ok(()),
    };
    let blocked_changed = match event {
        Event::VisitorIdentified(e) => {
            visitor.contact_id = Some(e.contact_id);
            visitor.email = plain(&e.email);
            if let Some(name) = &e.name {
                visitor.name = plain(name);
            }
            visitor.claim = None;
            false
        }
        Event::VisitorEmailClaimed(e) => {
            visitor.claim = plain(&e.email).map(|email| (email, e.contact_id));
            // The name is the visitor's own, as when it identifies.
            if let Some(name) = &e.name {
                visitor.name = plain(name);
            }
            false
        }
        Event::VisitorBlocked(_) => {
            visitor.blocked = true;
            true
        }
        Event::VisitorUnblocked(_) => {
            visitor.blocked = false;
            true
        }
        _ => false,
    };
    visitor.position = record.position;
    changes.put(visitor_key(id), json(&visitor)?);
    if blocked_changed && let Some(contact_id) = visitor.contact_id {
        let before: Option<ContactRecord> = read(view, &contact_key(contact_id))?;
        if let Some(mut contact) = before.clone() {
            if visitor.blocked {
                contact.blocked_visitors.insert(id);
            } else {
                contact.blocked_visitors.remove(&id);
            }
            save(before.as_ref(), &mut contact, record.position, changes)?;
        }
    }
    Ok(())
}

fn conversation_event(
    record: &RecordedEvent,
    conversation: Uuid,
    event: &Event,
    view: &View,
    changes: &mut ViewChanges,
) -> Result<(), ViewError> {
    let at = record.occurred_at;
    let link: Option<ConversationLink> = read(view, &link_key(conversation))?;
    match (event, link) {
        (Event::ConversationStarted(started), None) => {
            let link = ConversationLink {
                visitor_id: started.visitor_id,
                contact_id: None,
                started_at: at,
            };
            changes.put(link_key(conversation), json(&link)?);
            touch_visitor(view, started.visitor_id, record, changes)
        }
        (Event::MessagePosted(m), Some(link)) if m.author_kind == AuthorKind::Visitor => {
            touch_visitor(view, link.visitor_id, record, changes)?;
            if let Some(contact_id) = link.contact_id {
                update_contact(view, contact_id, record, changes, |c| c.last_active_at = at)?;
            }
            Ok(())
        }
        (Event::ConversationContactLinked(linked), Some(mut link)) => {
            if let Some(previous) = link.contact_id.filter(|p| *p != linked.contact_id) {
                update_contact(view, previous, record, changes, |c| {
                    c.conversations.remove(&conversation);
                })?;
            }
            let started_at = link.started_at;
            update_contact(view, linked.contact_id, record, changes, |c| {
                c.conversations.insert(conversation);
                c.last_conversation_at = c.last_conversation_at.max(Some(started_at));
            })?;
            link.contact_id = Some(linked.contact_id);
            changes.put(link_key(conversation), json(&link)?);
            Ok(())
        }
        _ => Ok(()),
    }
}

fn touch_visitor(
    view: &View,
    visitor_id: Uuid,
    record: &RecordedEvent,
    changes: &mut ViewChanges,
) -> Result<(), ViewError> {
    if let Some(mut visitor) = read::<VisitorRecord>(view, &visitor_key(visitor_id))? {
        visitor.last_seen_at = record.occurred_at;
        visitor.position = record.position;
        changes.put(visitor_key(visitor_id), json(&visitor)?);
    }
    Ok(())
}

fn update_contact(
    view: &View,
    contact_id: Uuid,
    record: &RecordedEvent,
    changes: &mut ViewChanges,
    change: impl FnOnce(&mut ContactRecord),
) -> Result<(), ViewError> {
    let before: Option<ContactRecord> = read(view, &contact_key(contact_id))?;
    if let Some(mut contact) = before.clone() {
        change(&mut contact);
        save(before.as_ref(), &mut contact, record.position, changes)?;
    }
    Ok(())
}

/// Reads contacts and visitors.
#[derive(Clone)]
pub struct Contacts {
    view: View,
}

impl Contacts {
    /// Over the contacts view.
    #[must_use]
    pub fn new(view: View) -> Self {
        Contacts { view }
    }

    /// One contact.
    pub fn get(&self, id: Uuid) -> Result<Option<ContactRecord>, ViewError> {
        read(&self.view, &contact_key(id))
    }

    /// One visitor.
    pub fn visitor(&self, id: Uuid) -> Result<Option<VisitorRecord>, ViewError> {
        read(&self.view, &visitor_key(id))
    }

    /// The contact a note belongs to.
    pub fn note_contact(&self, note: Uuid) -> Result<Option<Uuid>, ViewError> {
        match self.view.scan(note_prefix(note)).next() {
            Some(entry) => {
                let (key, _) = entry?;
                id_at_end(&key).map(Some)
            }
            None => Ok(None),
        }
    }

    /// The contacts of a workspace whose name words (by prefix) or email
    /// match every word of `search`.
    pub fn search(&self, workspace: Uuid, search: &str) -> Result<BTreeSet<Uuid>, ViewError> {
        crate::words::search(&self.view, search, |word| {
            vec![word_prefix(workspace, word)]
        })
    }

    /// How many contacts a list of the workspace holds: the ids of `only`
    /// (a search, already limited to the workspace), or every contact,
    /// counted in an index without reading a record.
    pub fn count(
        &self,
        workspace: Uuid,
        only: Option<&BTreeSet<Uuid>>,
    ) -> Result<usize, ViewError> {
        match only {
            Some(only) => Ok(only.len()),
            None => {
                let mut count = 0;
                for entry in self
                    .view
                    .scan(order_prefix(workspace, ContactOrder::FirstSeenAt))
                {
                    entry?;
                    count += 1;
                }
                Ok(count)
            }
        }
    }

    /// A page of a workspace's contacts in `order`, limited to the ids of
    /// `only` when given (a search).
    pub fn list(
        &self,
        workspace: Uuid,
        only: Option<&BTreeSet<Uuid>>,
        order: ContactOrder,
        descending: bool,
        window: &Window,
    ) -> Result<Page<ContactRecord>, ViewError> {
        let prefix = order_prefix(workspace, order);
        let backward = window.last.is_some();
        let limit = window.first.or(window.last).unwrap_or(usize::MAX);
        let (after, before) = if descending {
            (window.before.as_ref(), window.after.as_ref())
        } else {
            (window.after.as_ref(), window.before.as_ref())
        };
        let mut items = Vec::new();
        let mut more = false;
        for entry in self
            .view
            .range(bounds(&prefix, after, before), descending != backward)
        {
            let (key, _) = entry?;
            let id = id_at_end(&key)?;
            if only.is_some_and(|only| !only.contains(&id)) {
                continue;
            }
            let Some(contact) = self.get(id)? else {
                continue;
            };
            if items.len() == limit {
                more = true;
                break;
            }
            items.push((Cursor(key[prefix.len()..].to_vec()), contact));
        }
        if backward {
            items.reverse();
        }
        let behind = if backward {
            window.before.is_some()
        } else {
            window.after.is_some()
        };
        let (has_next, has_previous) = if backward {
            (behind, more)
        } else {
            (more, behind)
        };
        Ok(Page {
            items,
            has_next,
            has_previous,
        })
    }
}
