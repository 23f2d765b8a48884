//! A website visitor: first seen, identified as a contact by email, blocked.

use tahc_events::{
    Event, Personal, StreamId, VisitorBlocked, VisitorEmailClaimed, VisitorFirstSeen,
    VisitorIdentified, VisitorUnblocked,
};
use uuid::Uuid;

use crate::{Aggregate, DomainError, Email, text};

/// Longest display name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest blocking reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// The visitor aggregate.
pub struct Visitor;

/// What a visitor remembers for its decisions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VisitorState {
    /// Whether the visitor exists.
    pub seen: bool,
    /// Blocked visitors can neither start conversations nor post.
    pub blocked: bool,
    /// The contact the visitor is known as.
    pub contact_id: Option<Uuid>,
    /// The email it gave.
    pub email: Option<String>,
    /// The name it gave.
    pub name: Option<String>,
    /// An address it gave that another contact holds, not yet confirmed.
    pub claim: Option<EmailClaim>,
}

/// An unverified claim to an address an existing contact holds.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailClaim {
    /// The contact holding the address.
    pub contact_id: Uuid,
    /// The address.
    pub email: String,
    /// The name given with it.
    pub name: Option<String>,
}

/// What can be asked of a visitor.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// The widget opened a session for a new visitor.
    FirstSeen,
    /// The visitor gave an email (and maybe a name).
    Identify {
        /// The contact that holds (or will hold) this email, chosen by the
        /// application from the workspace's contacts.
        contact_id: Uuid,
        /// The email given.
        email: String,
        /// The name given.
        name: Option<String>,
        /// The visitor identifies itself (not a team member on its behalf).
        by_visitor: bool,
    },
    /// The visitor (or the service, from its message) gave an address
    /// that another contact holds: recorded as an unverified claim, linked
    /// to nothing until the team confirms it.
    Claim {
        /// The contact holding the address.
        contact_id: Uuid,
        /// The email given.
        email: String,
        /// The name given.
        name: Option<String>,
    },
    /// The team blocks the visitor.
    Block {
        /// Why, for the team.
        reason: Option<String>,
    },
    /// The team lifts the block.
    Unblock,
}

impl Aggregate for Visitor {
    type State = VisitorState;
    type Command = Command;

    /// A visitor is its own subject.
    fn subject(stream: &StreamId, _state: &VisitorState) -> Option<StreamId> {
        Some(stream.clone())
    }

    fn decide(state: &VisitorState, command: Command) -> Result<Vec<Event>, DomainError> {
        if !matches!(command, Command::FirstSeen) && !state.seen {
            return Err(DomainError::NotFound { what: "visitor" });
        }
        match command {
            Command::FirstSeen if state.seen => Ok(Vec::new()),
            Command::FirstSeen => Ok(vec![VisitorFirstSeen {}.into()]),
            Command::Identify {
                contact_id,
                email,
                name,
                by_visitor,
            } => {
                if by_visitor && state.blocked {
                    return Err(DomainError::Blocked);
                }
                let email = Email::parse(&email, "email")?;
                let name = text::optional_line(name, "name", MAX_NAME_CHARS)?;
                let known = state.contact_id == Some(contact_id)
                    && state.email.as_deref() == Some(email.as_str())
                    && (name.is_none() || name == state.name);
                if known {
                    return Ok(Vec::new());
                }
                Ok(vec![
                    VisitorIdentified {
                        contact_id,
                        email: Personal::Plain(email.to_string()),
                        name: name.map(Personal::Plain),
                    }
                    .into(),
                ])
            }
            Command::Claim { .. } if state.blocked => Err(DomainError::Blocked),
            Command::Claim {
                contact_id,
                email,
                name,
            } => {
                let email = Email::parse(&email, "email")?;
                let name = text::optional_line(name, "name", MAX_NAME_CHARS)?;
                let claim = EmailClaim {
                    contact_id,
                    email: email.to_string(),
                    name,
                };
                if state.contact_id == Some(contact_id) || state.claim.as_ref() == Some(&claim) {
                    return Ok(Vec::new());
                }
                Ok(vec![
                    VisitorEmailClaimed {
                        contact_id,
                        email: Personal::Plain(claim.email),
                        name: claim.name.map(Personal::Plain),
                    }
                    .into(),
                ])
            }
            Command::Block { .. } if state.blocked => Ok(Vec::new()),
            Command::Block { reason } => Ok(vec![
                VisitorBlocked {
                    reason: text::optional(reason, "reason", MAX_REASON_CHARS)?,
                }
                .into(),
            ]),
            Command::Unblock if !state.blocked => Ok(Vec::new()),
            Command::Unblock => Ok(vec![VisitorUnblocked {}.into()]),
        }
    }

    fn evolve(mut state: VisitorState, event: &Event) -> VisitorState {
        match event {
            Event::VisitorFirstSeen(_) => state.seen = true,
            Event::VisitorIdentified(e) => {
                state.contact_id = Some(e.contact_id);
                state.email = e.email.as_plain().map(str::to_owned);
                if let Some(name) = &e.name {
                    state.name = name.as_plain().map(str::to_owned);
                }
                state.claim = None;
            }
            Event::VisitorEmailClaimed(e) => {
                state.claim = e.email.as_plain().map(|email| EmailClaim {
                    contact_id: e.contact_id,
                    email: email.to_owned(),
                    name: e
                        .name
                        .as_ref()
                        .and_then(Personal::as_plain)
                        .map(str::to_owned),
                });
            }
            Event::VisitorBlocked(_) => state.blocked = true,
            Event::VisitorUnblocked(_) => state.blocked = false,
            _ => {}
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::given;

    fn seen() -> Event {
        VisitorFirstSeen {}.into()
    }

    fn identify(email: &str, name: Option<&str>, by_visitor: bool) -> Command {
        Command::Identify {
            contact_id: Uuid::from_u128(7),
            email: email.into(),
            name: name.map(str::to_owned),
            by_visitor,
        }
    }

    #[test]
    fn a_new_visitor_is_seen_once() {
        given::<Visitor>([]).when(Command::FirstSeen).then([seen()]);
        given::<Visitor>([seen()])
            .when(Command::FirstSeen)
            .then_nothing();
    }

    #[test]
    fn identifying_records_the_normalised_email_and_trimmed_name() {
        let state = given::<Visitor>([seen()])
            .when(identify(" Ada@Example.com ", Some("  Ada Lovelace "), true))
            .then([VisitorIdentified {
                contact_id: Uuid::from_u128(7),
                email: Personal::plain("ada@example.com"),
                name: Some(Personal::plain("Ada Lovelace")),
            }
            .into()]);
        assert_eq!(state.contact_id, Some(Uuid::from_u128(7)));
    }

    #[test]
    fn identifying_again_with_the_same_contact_and_address_is_a_no_op() {
        let identified: Event = VisitorIdentified {
            contact_id: Uuid::from_u128(7),
            email: Personal::plain("ada@example.com"),
            name: Some(Personal::plain("Ada")),
        }
        .into();
        given::<Visitor>([seen(), identified.clone()])
            .when(identify("ADA@example.com", None, true))
            .then_nothing();
        given::<Visitor>([seen(), identified])
            .when(identify("ada@example.com", Some("Ada King"), true))
            .then([VisitorIdentified {
                contact_id: Uuid::from_u128(7),
                email: Personal::plain("ada@example.com"),
                name: Some(Personal::plain("Ada King")),
            }
            .into()]);
    }

    #[test]
    fn an_invalid_email_or_overlong_name_is_refused() {
        given::<Visitor>([seen()])
            .when(identify("not-an-email", None, true))
            .then_err(DomainError::invalid("email", "must contain @"));
        let name = "n".repeat(MAX_NAME_CHARS + 1);
        let err = Visitor::decide(
            &Visitor::replay(&[seen()]),
            identify("ada@example.com", Some(&name), true),
        )
        .unwrap_err();
        assert!(matches!(err, DomainError::Invalid { field: "name", .. }));
    }

    #[test]
    fn a_blocked_visitor_cannot_identify_itself_but_the_team_may_identify_it() {
        let blocked: Event = VisitorBlocked { reason: None }.into();
        given::<Visitor>([seen(), blocked.clone()])
            .when(identify("ada@example.com", None, true))
            .then_err(DomainError::Blocked);
        assert_eq!(
            given::<Visitor>([seen(), blocked])
                .when(identify("ada@example.com", None, false))
                .events()
                .len(),
            1
        );
    }

    fn claim(email: &str, name: Option<&str>) -> Command {
        Command::Claim {
            contact_id: Uuid::from_u128(9),
            email: email.into(),
            name: name.map(str::to_owned),
        }
    }

    #[test]
    fn a_claim_to_another_contacts_address_is_recorded_once_and_links_nothing() {
        let claimed: Event = VisitorEmailClaimed {
            contact_id: Uuid::from_u128(9),
            email: Personal::plain("ada@example.com"),
            name: Some(Personal::plain("Ada")),
        }
        .into();
        let state = given::<Visitor>([seen()])
            .when(claim(" ADA@example.com", Some(" Ada ")))
            .then([claimed.clone()]);
        assert_eq!(state.contact_id, None, "a claim links nothing");
        given::<Visitor>([seen(), claimed.clone()])
            .when(claim("ada@example.com", Some("Ada")))
            .then_nothing();
        // Confirmed: the visitor is identified, and the claim is settled.
        let identified: Event = VisitorIdentified {
            contact_id: Uuid::from_u128(9),
            email: Personal::plain("ada@example.com"),
            name: None,
        }
        .into();
        let confirmed = [seen(), claimed, identified];
        assert_eq!(Visitor::replay(&confirmed).claim, None);
        given::<Visitor>(confirmed)
            .when(claim("ada@example.com", None))
            .then_nothing();
    }

    #[test]
    fn a_blocked_visitor_cannot_claim_and_a_bad_address_is_refused() {
        given::<Visitor>([seen(), VisitorBlocked { reason: None }.into()])
            .when(claim("ada@example.com", None))
            .then_err(DomainError::Blocked);
        given::<Visitor>([seen()])
            .when(claim("nobody", None))
            .then_err(DomainError::invalid("email", "must contain @"));
    }

    #[test]
    fn blocking_and_unblocking_are_recorded_once_each() {
        let state = given::<Visitor>([seen()])
            .when(Command::Block {
                reason: Some(" spam ".into()),
            })
            .then([VisitorBlocked {
                reason: Some("spam".into()),
            }
            .into()]);
        assert!(state.blocked);
        let blocked: Event = VisitorBlocked { reason: None }.into();
        given::<Visitor>([seen(), blocked.clone()])
            .when(Command::Block { reason: None })
            .then_nothing();
        given::<Visitor>([seen(), blocked])
            .when(Command::Unblock)
            .then([VisitorUnblocked {}.into()]);
        given::<Visitor>([seen()])
            .when(Command::Unblock)
            .then_nothing();
    }

    #[test]
    fn an_unknown_visitor_cannot_be_identified_or_blocked() {
        given::<Visitor>([])
            .when(Command::Block { reason: None })
            .then_err(DomainError::NotFound { what: "visitor" });
    }
}
