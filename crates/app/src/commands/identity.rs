//! Identification and contact addresses: every email belongs to at most one
//! live contact per workspace, enforced by claim streams.

use tahc_domain::contact::{Command as ContactCommand, Contact, ContactState};
use tahc_domain::email_claim::{ClaimState, Command as ClaimCommand, EmailClaim};
use tahc_domain::visitor::{Command as VisitorCommand, Visitor};
use tahc_domain::{DomainError, Email};
use tahc_events::{Event, Role, StreamCategory};
use uuid::Uuid;

use super::{Commands, stream};
use crate::aggregates::Executed;
use crate::error::AppError;
use crate::permission::Action;
use crate::principal::Principal;

/// Races for one address settled before giving up.
const CLAIM_ATTEMPTS: usize = 4;

impl Commands {
    /// A visitor gives an email (itself, or the service or a bot from its
    /// message), or an admin or agent identifies a visitor. Their word
    /// links the visitor to the contact holding the address (created when
    /// there is none). A visitor's unverified word does that only for an
    /// address no other contact holds: one that another contact holds
    /// becomes a claim ([`Identified::Claimed`]), linked to nothing until
    /// the team confirms it ([`Commands::confirm_visitor_claim`]).
    pub async fn identify_visitor(
        &self,
        principal: &Principal,
        visitor_id: Option<Uuid>,
        email: String,
        name: Option<String>,
    ) -> Result<Identified, AppError> {
        Self::require(principal, Action::IdentifyVisitor)?;
        let (visitor_id, by_visitor) = Self::visitor_of(principal, visitor_id)?;
        let visitor = self.acting_visitor(principal, visitor_id).await?;
        if by_visitor && self.blocked(principal, &visitor).await? {
            return Err(DomainError::Blocked.into());
        }
        let address = Email::parse(&email, "email")?;
        // People vouch for an address; a bot only passes on what the
        // visitor typed.
        let verified = matches!(principal.role(), Some(Role::Admin | Role::Agent));
        let contact_id = match self
            .contact_for(principal, &address, name.clone(), visitor_id, verified)
            .await?
        {
            Holder::Joined(contact_id) => contact_id,
            Holder::Other(contact_id) => {
                self.aggregates
                    .execute::<Visitor>(
                        &stream(StreamCategory::Visitor, visitor_id),
                        &self.context(principal),
                        |_| {
                            Ok(VisitorCommand::Claim {
                                contact_id,
                                email: address.to_string(),
                                name: name.clone(),
                            })
                        },
                    )
                    .await?;
                return Ok(Identified::Claimed { contact_id });
            }
        };
        self.aggregates
            .execute::<Visitor>(
                &stream(StreamCategory::Visitor, visitor_id),
                &self.context(principal),
                |_| {
                    Ok(VisitorCommand::Identify {
                        contact_id,
                        email: address.to_string(),
                        name: name.clone(),
                        by_visitor,
                    })
                },
            )
            .await?;
        let mut contact = self.contact(principal, contact_id).await?;
        // The name given names a contact that has none; it never replaces
        // the one it has (the visitor keeps the name it gave).
        if contact.name.is_none()
            && let Some(name) = name
        {
            self.aggregates
                .execute::<Contact>(
                    &stream(StreamCategory::Contact, contact_id),
                    &self.context(principal),
                    |_| {
                        Ok(ContactCommand::Update {
                            name: Some(name.clone()),
                            email: None,
                            email_taken: false,
                        })
                    },
                )
                .await?;
            contact = self.contact(principal, contact_id).await?;
        }
        Ok(Identified::Linked {
            contact_id,
            contact,
        })
    }

    /// The team confirms a visitor's claim to an address another contact
    /// holds: the visitor joins that contact, its conversations with it.
    pub async fn confirm_visitor_claim(
        &self,
        principal: &Principal,
        visitor_id: Uuid,
    ) -> Result<Identified, AppError> {
        Self::require(principal, Action::UpdateContact)?;
        let visitor = self.visitor(principal, visitor_id).await?;
        let Some(claim) = visitor.claim else {
            return Err(
                DomainError::invalid("visitorId", "the visitor has no unconfirmed email").into(),
            );
        };
        self.identify_visitor(principal, Some(visitor_id), claim.email, claim.name)
            .await
    }

    /// The team edits a contact's name and/or email.
    pub async fn update_contact(
        &self,
        principal: &Principal,
        contact_id: Uuid,
        name: Option<String>,
        email: Option<String>,
    ) -> Result<Executed<ContactState>, AppError> {
        Self::require(principal, Action::UpdateContact)?;
        let contact = self.contact(principal, contact_id).await?;
        let new_address = match email {
            Some(email) => Some(Email::parse(&email, "email")?),
            None => None,
        }
        .filter(|address| contact.email.as_deref() != Some(address.as_str()));
        if let Some(address) = &new_address
            && !contact.erased
            && contact.merged_into.is_none()
        {
            self.claim(principal, address, contact_id).await?;
        }
        let executed = self
            .aggregates
            .execute::<Contact>(
                &stream(StreamCategory::Contact, contact_id),
                &self.context(principal),
                |_| {
                    Ok(ContactCommand::Update {
                        name: name.clone(),
                        email: new_address.as_ref().map(ToString::to_string),
                        email_taken: false,
                    })
                },
            )
            .await?;
        if new_address.is_some()
            && let Some(old) = contact.email.as_deref()
        {
            self.release(principal, old, contact_id).await?;
        }
        Ok(executed)
    }

    /// Erases a contact's personal data on a privacy request; its address
    /// becomes free for someone new.
    pub async fn erase_contact(
        &self,
        principal: &Principal,
        contact_id: Uuid,
    ) -> Result<Executed<ContactState>, AppError> {
        Self::require(principal, Action::EraseContact)?;
        let contact = self.contact(principal, contact_id).await?;
        let executed = self
            .aggregates
            .execute::<Contact>(
                &stream(StreamCategory::Contact, contact_id),
                &self.context(principal),
                |_| Ok(ContactCommand::Erase),
            )
            .await?;
        for event in &executed.events {
            if let Event::ContactErased(erased) = event {
                let contact = stream(StreamCategory::Contact, contact_id);
                self.aggregates.vault().shred(&contact, erased)?;
            }
        }
        if let Some(old) = contact.email.as_deref() {
            self.release(principal, old, contact_id).await?;
        }
        Ok(executed)
    }

    /// A contact of the principal's workspace.
    pub(super) async fn contact(
        &self,
        principal: &Principal,
        contact_id: Uuid,
    ) -> Result<ContactState, AppError> {
        self.existing::<Contact>(principal, StreamCategory::Contact, contact_id, |s| s.exists)
            .await
    }

    /// The contact holding `address`, created (with the visitor) when there
    /// is none. The visitor joins the contact that holds it when the
    /// identification is `verified` (or the contact is its own already);
    /// otherwise that contact is only named ([`Holder::Other`]).
    async fn contact_for(
        &self,
        principal: &Principal,
        address: &Email,
        name: Option<String>,
        visitor_id: Uuid,
        verified: bool,
    ) -> Result<Holder, AppError> {
        let claim_stream = self.claim_stream(principal, address);
        for _ in 0..CLAIM_ATTEMPTS {
            let claim = self
                .aggregates
                .load::<EmailClaim>(&claim_stream, principal.workspace_id)
                .await?
                .state;
            let holder = match claim.holder {
                Some(holder) => match self.holder_state(principal, holder).await? {
                    // Erased, merged or moved to another address: stale.
                    Some(contact) if !holds(&contact, address) => Some(holder),
                    // The visitor's own contact.
                    Some(contact) if contact.visitors.contains(&visitor_id) => {
                        return Ok(Holder::Joined(holder));
                    }
                    // Live, or claimed by a request that has not created the
                    // contact yet (or crashed before it could): join it, on
                    // the team's word only.
                    _ if !verified => return Ok(Holder::Other(holder)),
                    _ => {
                        self.join_contact(principal, holder, address, &name, visitor_id)
                            .await?;
                        return Ok(Holder::Joined(holder));
                    }
                },
                None => None,
            };
            let contact_id = Uuid::now_v7();
            let command = match holder {
                Some(stale) => ClaimCommand::Reclaim {
                    from: stale,
                    contact_id,
                },
                None => ClaimCommand::Claim { contact_id },
            };
            match self.claim_with(principal, &claim_stream, command).await {
                Ok(()) => {
                    self.join_contact(principal, contact_id, address, &name, visitor_id)
                        .await?;
                    return Ok(Holder::Joined(contact_id));
                }
                // Someone claimed it first: settle with them on the next round.
                Err(AppError::Domain(DomainError::Taken { .. })) => {}
                Err(other) => return Err(other),
            }
        }
        Err(AppError::Contention {
            stream: claim_stream,
        })
    }

    /// Claims `address` for `contact_id`, taking it from a stale holder;
    /// `Taken` when a live contact holds it.
    async fn claim(
        &self,
        principal: &Principal,
        address: &Email,
        contact_id: Uuid,
    ) -> Result<(), AppError> {
        let claim_stream = self.claim_stream(principal, address);
        let claim: ClaimState = self
            .aggregates
            .load::<EmailClaim>(&claim_stream, principal.workspace_id)
            .await?
            .state;
        let command = match claim.holder {
            Some(holder) if holder != contact_id => {
                match self.holder_state(principal, holder).await? {
                    Some(contact) if holds(&contact, address) => {
                        return Err(DomainError::Taken { field: "email" }.into());
                    }
                    _ => ClaimCommand::Reclaim {
                        from: holder,
                        contact_id,
                    },
                }
            }
            _ => ClaimCommand::Claim { contact_id },
        };
        self.claim_with(principal, &claim_stream, command).await
    }

    async fn release(
        &self,
        principal: &Principal,
        old: &str,
        contact_id: Uuid,
    ) -> Result<(), AppError> {
        let address = Email::parse(old, "email")?;
        let claim_stream = self.claim_stream(principal, &address);
        self.claim_with(
            principal,
            &claim_stream,
            ClaimCommand::Release { contact_id },
        )
        .await
    }

    async fn claim_with(
        &self,
        principal: &Principal,
        claim_stream: &tahc_events::StreamId,
        command: ClaimCommand,
    ) -> Result<(), AppError> {
        self.aggregates
            .execute::<EmailClaim>(claim_stream, &self.context(principal), |_| Ok(command))
            .await
            .map(|_| ())
    }

    fn claim_stream(&self, principal: &Principal, address: &Email) -> tahc_events::StreamId {
        stream(
            StreamCategory::Email,
            self.email_key.claim_id(principal.workspace_id, address),
        )
    }

    /// The holder's contact, `None` when it was never created.
    async fn holder_state(
        &self,
        principal: &Principal,
        holder: Uuid,
    ) -> Result<Option<ContactState>, AppError> {
        let loaded = self
            .aggregates
            .load::<Contact>(
                &stream(StreamCategory::Contact, holder),
                principal.workspace_id,
            )
            .await?;
        Ok(loaded.state.exists.then_some(loaded.state))
    }

    /// Puts the visitor into the contact, creating the contact first when it
    /// does not exist yet. Decided afresh on every attempt, so two requests
    /// racing to create the same contact end with one creation and one link.
    async fn join_contact(
        &self,
        principal: &Principal,
        contact_id: Uuid,
        address: &Email,
        name: &Option<String>,
        visitor_id: Uuid,
    ) -> Result<(), AppError> {
        self.aggregates
            .execute::<Contact>(
                &stream(StreamCategory::Contact, contact_id),
                &self.context(principal),
                |state| {
                    Ok(if state.exists {
                        ContactCommand::LinkVisitor { visitor_id }
                    } else {
                        ContactCommand::Create {
                            email: address.to_string(),
                            name: name.clone(),
                            visitor_id: Some(visitor_id),
                            email_taken: false,
                        }
                    })
                },
            )
            .await
            .map(|_| ())
    }
}

/// What identifying a visitor did.
#[derive(Debug, Clone, PartialEq)]
pub enum Identified {
    /// The visitor is known as this contact (created, joined, or its own).
    Linked {
        /// The contact.
        contact_id: Uuid,
        /// Its state now.
        contact: ContactState,
    },
    /// The address belongs to another contact and the visitor's word is
    /// unverified: recorded as a claim, linked to nothing.
    Claimed {
        /// The contact holding the address.
        contact_id: Uuid,
    },
}

impl Identified {
    /// The contact the visitor is now known as; `None` for a claim.
    #[must_use]
    pub fn linked(&self) -> Option<Uuid> {
        match self {
            Identified::Linked { contact_id, .. } => Some(*contact_id),
            Identified::Claimed { .. } => None,
        }
    }
}

/// Who holds an address, for one identification.
enum Holder {
    /// The visitor's contact, now.
    Joined(Uuid),
    /// Another contact, which an unverified word does not join.
    Other(Uuid),
}

/// Whether a live contact still holds this address.
fn holds(contact: &ContactState, address: &Email) -> bool {
    !contact.erased
        && contact.merged_into.is_none()
        && contact.email.as_deref() == Some(address.as_str())
}
