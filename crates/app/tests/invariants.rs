//! Invariants across aggregates, under random sequences of commands on the
//! real log: addresses stay unique per workspace, every conversation ends up
//! in its visitor's contact (so none belongs to two), and a blocked visitor
//! never gets a message in.

mod support;

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use tahc_app::{AppError, Principal, SendMessage};
use tahc_domain::conversation::Conversation;
use tahc_domain::visitor::Visitor;
use tahc_domain::{Aggregate, DomainError};
use tahc_events::StreamCategory;
use uuid::Uuid;

use support::{Processes, World};

const EMAILS: [&str; 3] = ["ann@example.com", "bob@example.com", "cy@example.com"];

#[derive(Debug, Clone)]
enum Op {
    Identify { visitor: usize, email: usize },
    ChangeEmail { contact: usize, email: usize },
    Erase { contact: usize },
    Block { visitor: usize },
    Unblock { visitor: usize },
    Post { visitor: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..3usize).prop_map(|(visitor, email)| Op::Identify { visitor, email }),
        2 => (0..4usize, 0..3usize).prop_map(|(contact, email)| Op::ChangeEmail { contact, email }),
        1 => (0..4usize).prop_map(|contact| Op::Erase { contact }),
        1 => (0..3usize).prop_map(|visitor| Op::Block { visitor }),
        1 => (0..3usize).prop_map(|visitor| Op::Unblock { visitor }),
        3 => (0..3usize).prop_map(|visitor| Op::Post { visitor }),
    ]
}

async fn load<A: Aggregate>(world: &World, category: StreamCategory, id: Uuid) -> A::State {
    let stream = tahc_app::stream(category, id);
    A::replay(&world.events(&stream).await)
}

fn tolerated(result: Result<impl Sized, AppError>) {
    match result {
        Ok(_) | Err(AppError::Domain(_)) => {}
        Err(other) => panic!("unexpected failure: {other}"),
    }
}

async fn run(ops: Vec<Op>) {
    let world = World::new().await;
    let c = &world.commands;
    let processes = Processes::new(c);
    let mut visitors: Vec<(Principal, Uuid, Uuid)> =
        vec![(world.visitor, world.visitor_id, world.conversation_id)];
    for _ in 0..2 {
        let visitor = c.new_visitor(world.workspace_id).await.unwrap();
        let (conversation, _) = c
            .start_conversation(&visitor, None, "hello".into())
            .await
            .unwrap();
        visitors.push((visitor, visitor.visitor_id().unwrap(), conversation));
    }
    let mut contacts = vec![world.contact_id];
    let mut blocked = [false; 3];
    for op in ops {
        match op {
            Op::Identify { visitor, email } => {
                let result = c
                    .identify_visitor(&visitors[visitor].0, None, EMAILS[email].into(), None)
                    .await;
                if let Some(contact) = result.as_ref().ok().and_then(|i| i.linked())
                    && !contacts.contains(&contact)
                {
                    contacts.push(contact);
                }
                tolerated(result);
            }
            Op::ChangeEmail { contact, email } => {
                if let Some(contact) = contacts.get(contact) {
                    tolerated(
                        c.update_contact(
                            &world.team.agent,
                            *contact,
                            None,
                            Some(EMAILS[email].into()),
                        )
                        .await,
                    );
                }
            }
            Op::Erase { contact } => {
                if let Some(contact) = contacts.get(contact) {
                    tolerated(c.erase_contact(&world.team.admin, *contact).await);
                }
            }
            Op::Block { visitor } => {
                c.block_visitor(&world.team.agent, visitors[visitor].1, None)
                    .await
                    .unwrap();
                blocked[visitor] = true;
            }
            Op::Unblock { visitor } => {
                c.unblock_visitor(&world.team.agent, visitors[visitor].1)
                    .await
                    .unwrap();
                blocked[visitor] = false;
            }
            Op::Post { visitor } => {
                let (principal, _, conversation) = visitors[visitor];
                let message = SendMessage {
                    conversation_id: conversation,
                    body: "still there?".into(),
                    internal: false,
                    confidence: None,
                    idempotency_key: None,
                };
                let result = c.send_message(&principal, message).await;
                if blocked[visitor] {
                    assert!(
                        matches!(result, Err(AppError::Domain(DomainError::Blocked))),
                        "a blocked visitor's message got in: {result:?}"
                    );
                } else {
                    result.expect("an unblocked visitor may write");
                }
            }
        }
        processes.settle().await;
    }

    let mut holders: HashMap<String, Uuid> = HashMap::new();
    for contact in &contacts {
        let state =
            load::<tahc_domain::contact::Contact>(&world, StreamCategory::Contact, *contact).await;
        if state.erased {
            continue;
        }
        if let Some(email) = state.email
            && let Some(other) = holders.insert(email.clone(), *contact)
        {
            panic!("{email} is held by {other} and {contact}");
        }
    }
    let mut seen = HashSet::new();
    for (_, visitor_id, conversation_id) in &visitors {
        let visitor = load::<Visitor>(&world, StreamCategory::Visitor, *visitor_id).await;
        let conversation =
            load::<Conversation>(&world, StreamCategory::Conversation, *conversation_id).await;
        assert_eq!(
            conversation.contact_id, visitor.contact_id,
            "conversation not in its visitor's contact"
        );
        assert!(seen.insert(*conversation_id));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_across_aggregates_for_any_command_sequence(ops in prop::collection::vec(op(), 1..25)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(run(ops));
    }
}
