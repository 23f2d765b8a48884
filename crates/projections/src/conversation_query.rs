//! Reading the conversations view: one conversation, its timeline, and the
//! inbox with filters, two orders, both directions and keyset pages.

use tahc_events::{Controller, ConversationStatus};
use uuid::Uuid;

use std::collections::BTreeSet;

use crate::conversations::{
    ConversationOrder, ConversationRecord, MessageRecord, Owner, counter_key, message_id_key,
    message_key, messages_prefix, order_prefix, owner_prefix, read, record_key, sortable,
    status_tag, word_prefix,
};

/// Sets up to this size (a search, a visitor's or contact's conversations)
/// are listed by loading them; larger ones walk the index.
const IN_MEMORY: usize = 10_000;
use crate::page::{Cursor, Page, Window, bounds};
use crate::view::{View, ViewError, id_at_end};

/// Which conversations of a workspace to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationFilter {
    /// Any of these statuses (empty: all).
    pub statuses: Vec<ConversationStatus>,
    /// Assigned to this agent.
    pub assignee: Option<Uuid>,
    /// `Some(true)`: unassigned only; `Some(false)`: assigned only.
    pub unassigned: Option<bool>,
    /// Under this control.
    pub controller: Option<Controller>,
    /// Belonging to this contact.
    pub contact: Option<Uuid>,
    /// `Some(true)`: with an open handoff request only.
    pub awaiting_human: Option<bool>,
    /// Of this visitor only (a visitor's own list).
    pub visitor: Option<Uuid>,
    /// `Some(true)`: snoozed only; `Some(false)`: not snoozed only.
    pub snoozed: Option<bool>,
    /// Only these (the result of a search).
    pub only: Option<BTreeSet<Uuid>>,
}

/// A workspace's inbox counts, of conversations not snoozed (snooze hides
/// a conversation until it wakes). Unassigned, awaiting human and mine
/// count conversations that are not closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConversationCounts {
    /// OPEN conversations.
    pub open: u64,
    /// PENDING conversations.
    pub pending: u64,
    /// CLOSED conversations.
    pub closed: u64,
    /// Not closed, nobody assigned.
    pub unassigned: u64,
    /// Not closed, a handoff request waiting.
    pub awaiting_human: u64,
    /// Not closed, assigned to the asking agent.
    pub mine: u64,
}

impl ConversationFilter {
    /// Whether a conversation passes every condition.
    #[must_use]
    pub fn matches(&self, c: &ConversationRecord) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&c.status))
            && self.assignee.is_none_or(|a| c.assignee == Some(a))
            && self.unassigned.is_none_or(|u| c.assignee.is_none() == u)
            && self.controller.is_none_or(|k| c.controller == k)
            && self.contact.is_none_or(|k| c.contact_id == Some(k))
            && self.awaiting_human.is_none_or(|a| c.awaiting_human() == a)
            && self.visitor.is_none_or(|v| c.visitor_id == v)
            && self.snoozed.is_none_or(|s| c.snoozed_until.is_some() == s)
            && self.only.as_ref().is_none_or(|only| only.contains(&c.id))
    }
}

/// Reads conversations.
#[derive(Clone)]
pub struct Conversations {
    view: View,
}

impl Conversations {
    /// Over the conversations view.
    #[must_use]
    pub fn new(view: View) -> Self {
        Conversations { view }
    }

    /// One conversation.
    pub fn get(&self, id: Uuid) -> Result<Option<ConversationRecord>, ViewError> {
        read(&self.view, &record_key(id))
    }

    /// A page of a workspace's conversations matching `filter`, in `order`
    /// (`descending` for newest first).
    pub fn list(
        &self,
        workspace: Uuid,
        filter: &ConversationFilter,
        order: ConversationOrder,
        descending: bool,
        window: &Window,
    ) -> Result<Page<ConversationRecord>, ViewError> {
        if let Some(candidates) = self.candidates(filter)?
            && candidates.len() <= IN_MEMORY
        {
            return self.list_among(&candidates, workspace, filter, order, descending, window);
        }
        let prefixes: Vec<Vec<u8>> = if filter.statuses.is_empty() {
            vec![order_prefix(order, workspace, None)]
        } else {
            let mut statuses = filter.statuses.clone();
            statuses.sort_by_key(|s| crate::conversations::status_tag(*s));
            statuses.dedup();
            statuses
                .into_iter()
                .map(|s| order_prefix(order, workspace, Some(s)))
                .collect()
        };
        // `first`/`after` walk the list's order; `last`/`before` walk against
        // it from the end and are turned around.
        let backward = window.last.is_some();
        let limit = window.first.or(window.last).unwrap_or(usize::MAX);
        let (after, before) = if descending {
            (window.before.as_ref(), window.after.as_ref())
        } else {
            (window.after.as_ref(), window.before.as_ref())
        };
        let reverse = descending != backward;
        let mut items = Vec::new();
        let mut more = false;
        for entry in merged(&self.view, &prefixes, after, before, reverse) {
            let (cursor, id) = entry?;
            let Some(record) = self.get(id)? else {
                continue;
            };
            if !filter.matches(&record) {
                continue;
            }
            if items.len() == limit {
                more = true;
                break;
            }
            items.push((cursor, record));
        }
        let has_cursor_behind = if backward {
            window.before.is_some()
        } else {
            window.after.is_some()
        };
        if backward {
            items.reverse();
            Ok(Page {
                items,
                has_next: has_cursor_behind,
                has_previous: more,
            })
        } else {
            Ok(Page {
                items,
                has_next: more,
                has_previous: has_cursor_behind,
            })
        }
    }

    /// The ids a filter confines the list to, when it names a set: the
    /// result of a search, a visitor's or a contact's conversations.
    fn candidates(&self, filter: &ConversationFilter) -> Result<Option<BTreeSet<Uuid>>, ViewError> {
        let mut set = filter.only.clone();
        let owners = [
            filter.visitor.map(Owner::Visitor),
            filter.contact.map(Owner::Contact),
        ];
        for owner in owners.into_iter().flatten() {
            let prefix = owner_prefix(owner);
            let mut members = BTreeSet::new();
            for entry in self.view.scan(&prefix) {
                let (key, _) = entry?;
                members.insert(id_at_end(&key)?);
            }
            set = Some(match set {
                Some(set) => set.intersection(&members).copied().collect(),
                None => members,
            });
        }
        Ok(set)
    }

    /// A page out of a small set of conversations, sorted in memory by the
    /// same cursors as the indexes.
    fn list_among(
        &self,
        candidates: &BTreeSet<Uuid>,
        workspace: Uuid,
        filter: &ConversationFilter,
        order: ConversationOrder,
        descending: bool,
        window: &Window,
    ) -> Result<Page<ConversationRecord>, ViewError> {
        let (lower, upper) = if descending {
            (window.before.as_ref(), window.after.as_ref())
        } else {
            (window.after.as_ref(), window.before.as_ref())
        };
        let mut rows = Vec::new();
        for id in candidates {
            let Some(record) = self.get(*id)? else {
                continue;
            };
            if record.workspace_id != workspace || !filter.matches(&record) {
                continue;
            }
            let cursor = Cursor([&sortable(order.key(&record))[..], record.id.as_bytes()].concat());
            if lower.is_some_and(|l| cursor <= *l) || upper.is_some_and(|u| cursor >= *u) {
                continue;
            }
            rows.push((cursor, record));
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        if descending {
            rows.reverse();
        }
        let limit = window.first.or(window.last).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        let backward = window.last.is_some();
        let items = if backward {
            rows.split_off(rows.len().saturating_sub(limit))
        } else {
            rows.truncate(limit);
            rows
        };
        Ok(if backward {
            Page {
                items,
                has_next: window.before.is_some(),
                has_previous: more,
            }
        } else {
            Page {
                items,
                has_next: more,
                has_previous: window.after.is_some(),
            }
        })
    }

    /// The inbox counts of a workspace, `mine` for `agent`.
    pub fn counts(
        &self,
        workspace: Uuid,
        agent: Option<Uuid>,
    ) -> Result<ConversationCounts, ViewError> {
        let counter = |name: &[u8]| self.counter(workspace, name);
        Ok(ConversationCounts {
            open: counter(b"o")?,
            pending: counter(b"p")?,
            closed: counter(b"c")?,
            unassigned: counter(b"u")?,
            awaiting_human: counter(b"h")?,
            mine: match agent {
                Some(agent) => counter(&[&b"m"[..], agent.as_bytes()].concat())?,
                None => 0,
            },
        })
    }

    /// One of a workspace's counters.
    fn counter(&self, workspace: Uuid, name: &[u8]) -> Result<u64, ViewError> {
        Ok(self
            .view
            .get(counter_key(workspace, name))?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
            .map_or(0, u64::from_be_bytes))
    }

    /// The conversations of a workspace with a message containing words
    /// starting with every word of `search`; `notes` also searches internal
    /// notes (the team's view).
    pub fn search(
        &self,
        workspace: Uuid,
        search: &str,
        notes: bool,
    ) -> Result<BTreeSet<Uuid>, ViewError> {
        crate::words::search(&self.view, search, |word| {
            let mut prefixes = vec![word_prefix(false, workspace, word)];
            if notes {
                prefixes.push(word_prefix(true, workspace, word));
            }
            prefixes
        })
    }

    /// How many of a workspace's conversations match `filter`: from the
    /// counters when it filters by status alone, from its set when it names
    /// one, else by walking the index.
    pub fn count(&self, workspace: Uuid, filter: &ConversationFilter) -> Result<usize, ViewError> {
        // The counters count conversations not snoozed.
        let by_status_only = *filter
            == ConversationFilter {
                statuses: filter.statuses.clone(),
                snoozed: Some(false),
                ..ConversationFilter::default()
            };
        if by_status_only {
            let mut statuses = if filter.statuses.is_empty() {
                vec![
                    ConversationStatus::Open,
                    ConversationStatus::Pending,
                    ConversationStatus::Closed,
                ]
            } else {
                filter.statuses.clone()
            };
            statuses.sort_by_key(|s| status_tag(*s));
            statuses.dedup();
            let mut total = 0;
            for status in statuses {
                total += self.counter(workspace, &[status_tag(status)])?;
            }
            return Ok(usize::try_from(total).unwrap_or(usize::MAX));
        }
        if let Some(candidates) = self.candidates(filter)? {
            let mut total = 0;
            for id in candidates {
                if self
                    .get(id)?
                    .is_some_and(|r| r.workspace_id == workspace && filter.matches(&r))
                {
                    total += 1;
                }
            }
            return Ok(total);
        }
        let page = self.list(
            workspace,
            filter,
            ConversationOrder::Created,
            false,
            &Window::default(),
        )?;
        Ok(page.items.len())
    }

    /// The message posted at `position`; `None` for a visitor when it is an
    /// internal note.
    pub fn message(
        &self,
        conversation: Uuid,
        position: tahc_events::Position,
        public_only: bool,
    ) -> Result<Option<MessageRecord>, ViewError> {
        let message: Option<MessageRecord> =
            read(&self.view, &message_key(false, conversation, position))?;
        Ok(message.filter(|m| !(public_only && m.internal)))
    }

    /// A message by its id, wherever it was posted.
    pub fn message_by_id(&self, message: Uuid) -> Result<Option<MessageRecord>, ViewError> {
        match self.view.get(message_id_key(message))? {
            Some(key) => read(&self.view, &key),
            None => Ok(None),
        }
    }

    /// A page of a conversation's timeline, oldest first; `public_only` for
    /// visitors, who never see internal notes.
    pub fn messages(
        &self,
        conversation: Uuid,
        public_only: bool,
        window: &Window,
    ) -> Result<Page<MessageRecord>, ViewError> {
        let prefix = &messages_prefix(public_only, conversation)[..];
        let backward = window.last.is_some();
        let limit = window.first.or(window.last).unwrap_or(usize::MAX);
        let range = bounds(prefix, window.after.as_ref(), window.before.as_ref());
        let mut items = Vec::new();
        let mut more = false;
        for entry in self.view.range(range, backward) {
            let (key, _) = entry?;
            let tail = key[17..].to_vec();
            let full = message_key(false, conversation, position_of(&tail));
            let Some(message) = read::<MessageRecord>(&self.view, &full)? else {
                continue;
            };
            if items.len() == limit {
                more = true;
                break;
            }
            items.push((Cursor(tail), message));
        }
        if backward {
            items.reverse();
        }
        let (has_next, has_previous) = if backward {
            (window.before.is_some(), more)
        } else {
            (more, window.after.is_some())
        };
        Ok(Page {
            items,
            has_next,
            has_previous,
        })
    }
}

fn position_of(tail: &[u8]) -> tahc_events::Position {
    tahc_events::Position(u64::from_be_bytes(tail.try_into().unwrap_or_default()))
}

type Entries<'a> = Box<dyn Iterator<Item = Result<(Cursor, Uuid), ViewError>> + 'a>;

/// The entries of several indexes (each sorted) merged into one order. The
/// cursor is the index key's tail (time, id), the same in every index.
fn merged<'a>(
    view: &'a View,
    prefixes: &'a [Vec<u8>],
    after: Option<&Cursor>,
    before: Option<&Cursor>,
    reverse: bool,
) -> impl Iterator<Item = Result<(Cursor, Uuid), ViewError>> + 'a {
    let mut sources: Vec<Entries<'a>> = prefixes
        .iter()
        .map(|prefix| {
            let len = prefix.len();
            let entries = view
                .range(bounds(prefix, after, before), reverse)
                .map(move |entry| {
                    let (key, _) = entry?;
                    let tail = key[len..].to_vec();
                    let id = id_at_end(&tail)?;
                    Ok((Cursor(tail), id))
                });
            Box::new(entries) as Entries<'a>
        })
        .collect();
    let mut heads: Vec<Option<Result<(Cursor, Uuid), ViewError>>> =
        sources.iter_mut().map(Iterator::next).collect();
    std::iter::from_fn(move || {
        if let Some(failed) = heads.iter().position(|h| matches!(h, Some(Err(_)))) {
            return heads[failed].take();
        }
        let pick = heads
            .iter()
            .enumerate()
            .filter_map(|(i, head)| match head {
                Some(Ok((cursor, _))) => Some((i, cursor)),
                _ => None,
            })
            .min_by(|(_, a), (_, b)| if reverse { b.cmp(a) } else { a.cmp(b) })?
            .0;
        let out = heads[pick].take();
        heads[pick] = sources[pick].next();
        out
    })
}
