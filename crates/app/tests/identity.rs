//! Identification: one live contact per address and workspace, whatever the
//! case, the races, the edits and the erasures.

mod support;

use std::collections::HashSet;
use std::sync::Arc;

use tahc_app::{AppError, Identified};
use tahc_domain::DomainError;
use tahc_store::LogReader;
use uuid::Uuid;

use support::{World, invalid_field, other_workspace};

/// The contact an identification linked the visitor to.
fn linked(identified: Identified) -> Uuid {
    identified
        .linked()
        .unwrap_or_else(|| panic!("not linked: {identified:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_visitor_giving_a_known_address_only_claims_it_until_the_team_confirms() {
    let world = World::new().await;
    let c = &world.commands;
    let other = c.new_visitor(world.workspace_id).await.unwrap();
    let other_id = other.visitor_id().unwrap();
    let identified = c
        .identify_visitor(
            &other,
            None,
            " GRACE@example.com ".into(),
            Some("Mallory".into()),
        )
        .await
        .unwrap();
    assert_eq!(
        identified,
        Identified::Claimed {
            contact_id: world.contact_id
        }
    );
    // Grace's contact is untouched: one visitor, her name.
    let grace = c
        .update_contact(&world.team.agent, world.contact_id, None, None)
        .await
        .unwrap()
        .state;
    assert_eq!(grace.visitors.len(), 1);
    assert_eq!(grace.name.as_deref(), Some("Grace"));
    // The team confirms: the claimant joins.
    let confirmed = c
        .confirm_visitor_claim(&world.team.agent, other_id)
        .await
        .unwrap();
    assert_eq!(confirmed.linked(), Some(world.contact_id));
    let Identified::Linked { contact, .. } = confirmed else {
        unreachable!()
    };
    assert_eq!(contact.visitors.len(), 2);
    // Nothing left to confirm, and visitors confirm nothing.
    let err = c
        .confirm_visitor_claim(&world.team.agent, other_id)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), Some("visitorId"), "{err}");
    let err = c.confirm_visitor_claim(&other, other_id).await.unwrap_err();
    assert!(matches!(err, AppError::Forbidden { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn visitors_racing_for_a_new_address_make_one_contact_and_the_rest_claim_it() {
    let world = Arc::new(World::new().await);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let world = world.clone();
            tokio::spawn(async move {
                let visitor = world
                    .commands
                    .new_visitor(world.workspace_id)
                    .await
                    .unwrap();
                world
                    .commands
                    .identify_visitor(&visitor, None, "race@example.com".into(), None)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut contacts = HashSet::new();
    let mut linked = 0;
    for task in tasks {
        match task.await.unwrap() {
            Identified::Linked { contact_id, .. } => {
                linked += 1;
                contacts.insert(contact_id);
            }
            Identified::Claimed { contact_id } => {
                contacts.insert(contact_id);
            }
        }
    }
    assert_eq!(contacts.len(), 1, "one address, one contact");
    assert_eq!(
        linked, 1,
        "the first word makes the contact; the others claim it"
    );
    let contact_id = *contacts.iter().next().unwrap();
    let contact = world
        .commands
        .update_contact(&world.team.agent, contact_id, None, None)
        .await
        .unwrap()
        .state;
    assert_eq!(contact.visitors.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_address_in_two_workspaces_is_two_contacts() {
    let world = World::new().await;
    let stranger = other_workspace(&world.commands).await;
    let visitor = world
        .commands
        .new_visitor(stranger.workspace_id)
        .await
        .unwrap();
    let contact_id = linked(
        world
            .commands
            .identify_visitor(&visitor, None, "grace@example.com".into(), None)
            .await
            .unwrap(),
    );
    assert_ne!(contact_id, world.contact_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_held_by_another_contact_is_taken_and_a_freed_one_is_reusable() {
    let world = World::new().await;
    let c = &world.commands;
    let ada = c.new_visitor(world.workspace_id).await.unwrap();
    let ada_contact = linked(
        c.identify_visitor(&ada, None, "ada@example.com".into(), None)
            .await
            .unwrap(),
    );
    let err = c
        .update_contact(
            &world.team.agent,
            ada_contact,
            None,
            Some("Grace@Example.com".into()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::Domain(DomainError::Taken { field: "email" })),
        "{err}"
    );
    let moved = c
        .update_contact(
            &world.team.agent,
            ada_contact,
            None,
            Some("ada@newmail.example".into()),
        )
        .await
        .unwrap();
    assert_eq!(moved.state.email.as_deref(), Some("ada@newmail.example"));
    // The old address is free again: someone new gets a new contact.
    let newcomer = c.new_visitor(world.workspace_id).await.unwrap();
    let fresh = linked(
        c.identify_visitor(&newcomer, None, "ada@example.com".into(), None)
            .await
            .unwrap(),
    );
    assert_ne!(fresh, ada_contact);
    // And the new address leads to Ada's contact.
    let found = linked(
        c.identify_visitor(
            &world.team.agent,
            Some(world.visitor_id),
            "ada@newmail.example".into(),
            None,
        )
        .await
        .unwrap(),
    );
    assert_eq!(found, ada_contact);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_erasure_the_address_belongs_to_whoever_gives_it_next() {
    let world = World::new().await;
    let c = &world.commands;
    let erased = c
        .erase_contact(&world.team.admin, world.contact_id)
        .await
        .unwrap();
    assert!(erased.state.erased);
    let newcomer = c.new_visitor(world.workspace_id).await.unwrap();
    let Identified::Linked {
        contact_id: fresh,
        contact,
    } = c
        .identify_visitor(&newcomer, None, "grace@example.com".into(), None)
        .await
        .unwrap()
    else {
        panic!("an erased contact's address is free")
    };
    assert_ne!(fresh, world.contact_id);
    assert_eq!(contact.email.as_deref(), Some("grace@example.com"));
    let err = c
        .update_contact(
            &world.team.admin,
            world.contact_id,
            Some("Grace".into()),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::Domain(DomainError::InvalidTransition { .. })),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_identifications_change_nothing() {
    let world = World::new().await;
    let c = &world.commands;
    let head = world.log.head().await.unwrap();
    let err = c
        .identify_visitor(&world.visitor, None, "not an email".into(), None)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), Some("email"), "{err}");
    let err = c
        .identify_visitor(&world.team.agent, None, "x@example.com".into(), None)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), Some("visitorId"), "{err}");
    assert_eq!(world.log.head().await.unwrap(), head);

    c.block_visitor(&world.team.agent, world.visitor_id, None)
        .await
        .unwrap();
    let head = world.log.head().await.unwrap();
    let err = c
        .identify_visitor(&world.visitor, None, "blocked@example.com".into(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::Domain(DomainError::Blocked)),
        "{err}"
    );
    assert_eq!(
        world.log.head().await.unwrap(),
        head,
        "no claim, no contact"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_given_names_a_contact_without_one_and_never_replaces_a_name() {
    let world = World::new().await;
    let c = &world.commands;
    let visitor = c.new_visitor(world.workspace_id).await.unwrap();
    let visitor_id = visitor.visitor_id().unwrap();
    c.start_conversation(&visitor, None, "hello".into())
        .await
        .unwrap();
    // The team files the visitor under a new address, with no name.
    let contact_id = linked(
        c.identify_visitor(
            &world.team.agent,
            Some(visitor_id),
            "ada@example.com".into(),
            None,
        )
        .await
        .unwrap(),
    );
    // The visitor gives its own address again, with a name: it is kept.
    let Identified::Linked { contact, .. } = c
        .identify_visitor(&visitor, None, "ada@example.com".into(), Some("Ada".into()))
        .await
        .unwrap()
    else {
        panic!("its own contact")
    };
    assert_eq!(contact.name.as_deref(), Some("Ada"));
    // A later name does not replace it.
    let Identified::Linked { contact, .. } = c
        .identify_visitor(
            &world.team.agent,
            Some(visitor_id),
            "ada@example.com".into(),
            Some("Someone Else".into()),
        )
        .await
        .unwrap()
    else {
        panic!("linked")
    };
    assert_eq!(
        (contact_id, contact.name.as_deref()),
        (contact_id, Some("Ada"))
    );
}
