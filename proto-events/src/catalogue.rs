//! Every event type of the service, its current schema version, its stream
//! and what it means: one table, from which the [`Event`] enum, its names and
//! the auditors' catalogue (docs/events.md) are all generated.

use serde::Serialize;

use crate::contact::*;
use crate::conversation::*;
use crate::email::*;
use crate::visitor::*;
use crate::workspace::*;

/// The kind of stream (aggregate) an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum StreamCategory {
    /// `workspace-<id>`: settings, team, custom fields, rules.
    Workspace,
    /// `visitor-<id>`: a widget visitor.
    Visitor,
    /// `contact-<id>`: a known person.
    Contact,
    /// `conversation-<id>`: one conversation.
    Conversation,
    /// `email-<keyed hash>`: who holds an email address in a workspace.
    Email,
}

impl StreamCategory {
    /// Every category.
    pub const ALL: [StreamCategory; 5] = [
        StreamCategory::Workspace,
        StreamCategory::Visitor,
        StreamCategory::Contact,
        StreamCategory::Conversation,
        StreamCategory::Email,
    ];

    /// The stream id prefix.
    #[must_use]
    pub fn prefix(self) -> &'static str {
        match self {
            StreamCategory::Workspace => "workspace",
            StreamCategory::Visitor => "visitor",
            StreamCategory::Contact => "contact",
            StreamCategory::Conversation => "conversation",
            StreamCategory::Email => "email",
        }
    }

    /// The category of a stream id prefix.
    #[must_use]
    pub fn from_prefix(prefix: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.prefix() == prefix)
    }
}

/// One row of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSpec {
    /// Stored type name.
    pub event_type: &'static str,
    /// Current schema version; older ones are upcast on read.
    pub schema_version: u16,
    /// The stream it is appended to.
    pub category: StreamCategory,
    /// What it means, for auditors.
    pub summary: &'static str,
}

/// The catalogue row of a type name.
#[must_use]
pub fn spec(event_type: &str) -> Option<&'static EventSpec> {
    CATALOGUE.iter().find(|s| s.event_type == event_type)
}

macro_rules! catalogue {
    ($(
        $category:ident {
            $( $variant:ident = $name:literal, v $version:literal, $summary:literal; )*
        }
    )*) => {
        /// Every event the service records, with its current payload.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $($(
                #[doc = $summary]
                $variant($variant),
            )*)*
        }

        impl Event {
            /// The stored type name.
            #[must_use]
            pub fn event_type(&self) -> &'static str {
                match self { $($( Event::$variant(_) => $name, )*)* }
            }

            /// The current schema version of this type.
            #[must_use]
            pub fn schema_version(&self) -> u16 {
                match self { $($( Event::$variant(_) => $version, )*)* }
            }

            /// The kind of stream it belongs to.
            #[must_use]
            pub fn category(&self) -> StreamCategory {
                match self { $($( Event::$variant(_) => StreamCategory::$category, )*)* }
            }

            /// The payload as JSON text.
            pub fn payload_json(&self) -> Result<Vec<u8>, serde_json::Error> {
                match self { $($( Event::$variant(p) => serde_json::to_vec(p), )*)* }
            }

            /// Decodes a payload of the current schema version, `None` for an
            /// unknown type.
            pub(crate) fn from_current(
                event_type: &str,
                payload: &[u8],
            ) -> Option<Result<Event, serde_json::Error>> {
                Some(match event_type {
                    $($( $name => serde_json::from_slice(payload).map(Event::$variant), )*)*
                    _ => return None,
                })
            }
        }

        $($(
            impl From<$variant> for Event {
                fn from(payload: $variant) -> Self {
                    Event::$variant(payload)
                }
            }
        )*)*

        /// The whole catalogue, in stream order.
        pub const CATALOGUE: &[EventSpec] = &[
            $($(
                EventSpec {
                    event_type: $name,
                    schema_version: $version,
                    category: StreamCategory::$category,
                    summary: $summary,
                },
            )*)*
        ];
    };
}

catalogue! {
    Workspace {
        WorkspaceCreated = "workspace.created", v 1,
            "A workspace was created with its name and AI settings.";
        WorkspaceSettingsChanged = "workspace.settings_changed", v 1,
            "The AI confidence threshold or the AI switch changed.";
        AgentAdded = "workspace.agent_added", v 1,
            "A team member (admin, agent, bot or auditor) was added with the hash of their API key.";
        AgentDeactivated = "workspace.agent_deactivated", v 1,
            "A team member was deactivated; their key stops working, their history stays.";
        AgentKeyRotated = "workspace.agent_key_rotated", v 1,
            "A team member's API key was replaced; only its hash is recorded.";
        CustomFieldDefined = "workspace.custom_field_defined", v 1,
            "A custom contact field was defined with a key, a label and a type.";
        RuleSaved = "workspace.rule_saved", v 1,
            "An orchestration rule (trigger, conditions, action) was created or replaced.";
        RuleDeleted = "workspace.rule_deleted", v 1,
            "An orchestration rule was deleted.";
    }
    Visitor {
        VisitorFirstSeen = "visitor.first_seen", v 1,
            "A visitor opened the widget for the first time.";
        VisitorIdentified = "visitor.identified", v 1,
            "A visitor gave an email (and maybe a name) and is now known as a contact. Personal: email, name.";
        VisitorEmailClaimed = "visitor.email_claimed", v 1,
            "A visitor gave an email an existing contact holds: an unverified claim, linked only once the team confirms it. Personal: email, name.";
        VisitorBlocked = "visitor.blocked", v 1,
            "A visitor was blocked: it can no longer start conversations or post.";
        VisitorUnblocked = "visitor.unblocked", v 1,
            "A visitor was unblocked.";
    }
    Contact {
        ContactCreated = "contact.created", v 1,
            "A contact was created. Personal: email, name.";
        ContactVisitorLinked = "contact.visitor_linked", v 1,
            "A visitor was linked to the contact, carrying its conversations over.";
        ContactUpdated = "contact.updated", v 1,
            "The team changed the contact's name or email. Personal: email, name.";
        ContactMerged = "contact.merged", v 1,
            "The contact was merged into another one, which now holds its visitors and conversations.";
        ContactNoteAdded = "contact.note_added", v 1,
            "A team note was added to the contact. Personal: body.";
        ContactNoteEdited = "contact.note_edited", v 1,
            "A team note was edited. Personal: body.";
        ContactNoteDeleted = "contact.note_deleted", v 1,
            "A team note was deleted.";
        ContactCustomFieldSet = "contact.custom_field_set", v 1,
            "A custom field value was set or cleared. Personal: value.";
        ContactErased = "contact.erased", v 1,
            "The contact's personal data was erased on a privacy request; the keys of the contact and its visitors are destroyed.";
    }
    Conversation {
        ConversationStarted = "conversation.started", v 1,
            "A visitor started a conversation, under AI or human control.";
        MessagePosted = "conversation.message_posted", v 2,
            "A message was posted by the visitor, the AI, an agent or the system; public or an internal note. Personal: body.";
        ConversationStatusChanged = "conversation.status_changed", v 1,
            "The status moved between OPEN, PENDING and CLOSED.";
        ConversationSnoozed = "conversation.snoozed", v 1,
            "The conversation was snoozed until a time.";
        ConversationWoke = "conversation.woke", v 1,
            "A snoozed conversation woke up.";
        ConversationAssigned = "conversation.assigned", v 1,
            "The conversation was assigned to an agent.";
        ConversationUnassigned = "conversation.unassigned", v 1,
            "The conversation lost its assignee.";
        HandoffRequested = "conversation.handoff_requested", v 1,
            "A human was requested, with the reason (low confidence, customer request, rule, agent).";
        ConversationTakenOver = "conversation.taken_over", v 1,
            "An agent took control from the AI and became the assignee.";
        ConversationReturnedToAi = "conversation.returned_to_ai", v 1,
            "An agent returned control to the AI.";
        EmailAsked = "conversation.email_asked", v 1,
            "The service asked the visitor for an email; the next email typed identifies them.";
        ConversationContactLinked = "conversation.contact_linked", v 1,
            "The conversation now belongs to a contact.";
    }
    Email {
        EmailClaimed = "email.claimed", v 1,
            "An email address, known to the log only by a keyed hash in the stream id, now belongs to a contact.";
        EmailReleased = "email.released", v 1,
            "A contact gave an email address up (changed it, or was erased or merged); someone new may claim it.";
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn type_names_are_unique_and_prefixed_by_their_stream_category() {
        let mut seen = HashSet::new();
        for spec in CATALOGUE {
            assert!(seen.insert(spec.event_type), "{} twice", spec.event_type);
            let prefix = format!("{}.", spec.category.prefix());
            assert!(spec.event_type.starts_with(&prefix), "{}", spec.event_type);
            assert!(spec.schema_version >= 1);
        }
    }

    #[test]
    fn an_event_reports_the_catalogue_row_it_was_generated_from() {
        let event = Event::from(ConversationWoke {});
        let row = spec(event.event_type()).unwrap();
        assert_eq!(row.schema_version, event.schema_version());
        assert_eq!(row.category, event.category());
    }
}
