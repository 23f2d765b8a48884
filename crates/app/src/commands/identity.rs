//! Identification and contact addresses: every email belongs to at most one
//! live contact per workspace, enforced by claim streams.

use tahc_domain::contact::{Command as ContactCommand, Contact, ContactState};
use tahc_domain::email_claim::{ClaimState, Command as ClaimCommand, EmailClaim};
use tahc_domain::visitor::{Command as VisitorCommand, Visitor};
use tahc_domain::{DomainError, Email};
use tahc_events::{Event, StreamCategory};
use uuid::Uuid;

use super::{Commands, stream};
use crate::aggregates::Executed;
use crate::error::AppError;
use crate::permission::Action;
use crate::principal::Principal;

/// Races for one address settled before giving up.
const CLAIM_ATTEMPTS: usize = 4;

impl Commands {
    /// A visitor gives an email: the contact with that address is found (or
    /// created) and the visitor is linked to it. Returns the contact.
    pub async fn identify_visitor(
        &self,
        principal: &Principal,
        visitor_id: Option<Uuid>,
        email: String,
        name: Option<String>,
    ) -> Result<(Uuid, ContactState), AppError> {
        Self::require(principal, Action::IdentifyVisitor)?;
        let (visitor_id, by_visitor) = Self::visitor_of(principal, visitor_id)?;
        let visitor = self.visitor(principal, visitor_id).await?;
        if by_visitor && visitor.blocked {
            return Err(DomainError::Blocked.into());
        }
        let address = Email::parse(&email, "email")?;
        let contact_id = self
            .contact_for(principal, &address, name.clone(), visitor_id)
            .await?;
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
        let contact = self.contact(principal, contact_id).await?;
        Ok((contact_id, contact))
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
    /// is none, or the visitor linked to it when there is.
    async fn contact_for(
        &self,
        principal: &Principal,
        address: &Email,
        name: Option<String>,
        visitor_id: Uuid,
    ) -> Result<Uuid, AppError> {
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
                    // Live, or claimed by a request that has not created the
                    // contact yet (or crashed before it could): join it.
                    _ => {
                        self.join_contact(principal, holder, address, &name, visitor_id)
                            .await?;
                        return Ok(holder);
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
                    return Ok(contact_id);
                }
                // Someone claimed it first: link to them on the next round.
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

/// Whether a live contact still holds this address.
fn holds(contact: &ContactState, address: &Email) -> bool {
    !contact.erased
        && contact.merged_into.is_none()
        && contact.email.as_deref() == Some(address.as_str())
}
