//! Who holds an email address in a workspace: one claim stream per address,
//! so that two contacts can never hold the same one.

use tahc_events::{EmailClaimed, EmailReleased, Event};
use uuid::Uuid;

use crate::{Aggregate, DomainError};

/// The email claim aggregate.
pub struct EmailClaim;

/// The contact holding the address, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimState {
    /// The holder.
    pub holder: Option<Uuid>,
}

/// What can be asked of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// The contact takes the address.
    Claim {
        /// The contact.
        contact_id: Uuid,
    },
    /// The contact gives the address up.
    Release {
        /// The contact.
        contact_id: Uuid,
    },
    /// The holder's claim is stale (it no longer has this address or no
    /// longer exists): release it and let `contact_id` take it.
    Reclaim {
        /// The stale holder.
        from: Uuid,
        /// The new holder.
        contact_id: Uuid,
    },
}

impl Aggregate for EmailClaim {
    type State = ClaimState;
    type Command = Command;

    fn decide(state: &ClaimState, command: Command) -> Result<Vec<Event>, DomainError> {
        match (command, state.holder) {
            (Command::Claim { contact_id }, Some(holder)) if holder == contact_id => Ok(Vec::new()),
            (Command::Claim { .. }, Some(_)) => Err(DomainError::Taken { field: "email" }),
            (Command::Claim { contact_id }, None) => Ok(vec![EmailClaimed { contact_id }.into()]),
            (Command::Release { contact_id }, Some(holder)) if holder == contact_id => {
                Ok(vec![EmailReleased { contact_id }.into()])
            }
            (Command::Release { .. }, _) => Ok(Vec::new()),
            (Command::Reclaim { from, contact_id }, Some(holder)) if holder == from => Ok(vec![
                EmailReleased { contact_id: from }.into(),
                EmailClaimed { contact_id }.into(),
            ]),
            // The stale holder is already gone: an ordinary claim.
            (Command::Reclaim { contact_id, .. }, _) => {
                Self::decide(state, Command::Claim { contact_id })
            }
        }
    }

    fn evolve(mut state: ClaimState, event: &Event) -> ClaimState {
        match event {
            Event::EmailClaimed(e) => state.holder = Some(e.contact_id),
            Event::EmailReleased(e) if state.holder == Some(e.contact_id) => state.holder = None,
            _ => {}
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::given;

    fn a() -> Uuid {
        Uuid::from_u128(1)
    }
    fn b() -> Uuid {
        Uuid::from_u128(2)
    }
    fn claimed(contact_id: Uuid) -> Event {
        EmailClaimed { contact_id }.into()
    }
    fn released(contact_id: Uuid) -> Event {
        EmailReleased { contact_id }.into()
    }

    #[test]
    fn a_free_address_is_claimed_and_a_held_one_is_taken() {
        given::<EmailClaim>([])
            .when(Command::Claim { contact_id: a() })
            .then([claimed(a())]);
        given::<EmailClaim>([claimed(a())])
            .when(Command::Claim { contact_id: b() })
            .then_err(DomainError::Taken { field: "email" });
        given::<EmailClaim>([claimed(a())])
            .when(Command::Claim { contact_id: a() })
            .then_nothing();
    }

    #[test]
    fn only_the_holder_releases_and_then_anyone_may_claim() {
        given::<EmailClaim>([claimed(a())])
            .when(Command::Release { contact_id: b() })
            .then_nothing();
        given::<EmailClaim>([claimed(a()), released(a())])
            .when(Command::Claim { contact_id: b() })
            .then([claimed(b())]);
    }

    #[test]
    fn a_stale_claim_is_released_and_taken_over_in_one_step() {
        given::<EmailClaim>([claimed(a())])
            .when(Command::Reclaim {
                from: a(),
                contact_id: b(),
            })
            .then([released(a()), claimed(b())]);
        // If someone else holds it by now, the address is taken.
        given::<EmailClaim>([claimed(b())])
            .when(Command::Reclaim {
                from: a(),
                contact_id: Uuid::from_u128(3),
            })
            .then_err(DomainError::Taken { field: "email" });
        given::<EmailClaim>([])
            .when(Command::Reclaim {
                from: a(),
                contact_id: b(),
            })
            .then([claimed(b())]);
    }
}
