//! Process managers against the real sled log: the seed flow end to end,
//! blocking, deactivation, snooze wake-ups by the clock, and re-running
//! every reaction without appending anything twice.

mod support;

use chrono::Duration;
use tahc_app::SendMessage;
use tahc_domain::Aggregate;
use tahc_domain::conversation::{Conversation, ConversationState};
use tahc_domain::workspace::RuleInput;
use tahc_events::{
    ActionKind, AuthorKind, Controller, ConversationStatus, Event, RuleAction, RuleCondition,
    StreamCategory, Trigger,
};
use tahc_store::LogReader;
use uuid::Uuid;

use support::{Processes, World};

async fn conversation(world: &World, id: Uuid) -> (ConversationState, Vec<Event>) {
    let stream = tahc_app::stream(StreamCategory::Conversation, id);
    let events = world.events(&stream).await;
    (Conversation::replay(&events), events)
}

fn ask_for_email_rule() -> RuleInput {
    RuleInput {
        name: "Ask new visitors for their email".into(),
        enabled: true,
        condition: RuleCondition {
            trigger: Trigger::ConversationStarted,
            unknown_visitor_only: true,
            keywords: vec![],
        },
        action: RuleAction {
            kind: ActionKind::AskForEmail,
            agent_id: None,
            status: None,
            message: None,
        },
    }
}

fn say(conversation_id: Uuid, body: &str, confidence: Option<f64>) -> SendMessage {
    SendMessage {
        conversation_id,
        body: body.into(),
        internal: false,
        confidence,
        idempotency_key: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_flow_runs_end_to_end_on_the_real_log() {
    let world = World::new().await;
    let c = &world.commands;
    let processes = Processes::new(c);
    c.save_rule(&world.team.admin, None, ask_for_email_rule())
        .await
        .unwrap();
    processes.settle().await;

    // A visitor starts; the AI answers first; the service asks for an email.
    let visitor = c.new_visitor(world.workspace_id).await.unwrap();
    let (id, started) = c
        .start_conversation(&visitor, None, "Hi! Is my order shipped?".into())
        .await
        .unwrap();
    assert_eq!(started.state.controller, Controller::Ai);
    processes.settle().await;
    let (state, events) = conversation(&world, id).await;
    assert!(state.awaiting_email, "the rule asked for an email");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::MessagePosted(m) if m.author_kind == AuthorKind::System))
    );
    c.send_message(
        &world.team.bot,
        say(id, "It left our warehouse today.", Some(0.92)),
    )
    .await
    .unwrap();

    // The visitor gives it: a contact appears and the conversation joins it.
    c.send_message(&visitor, say(id, "Sure, it's ada@example.com!", None))
        .await
        .unwrap();
    processes.settle().await;
    let (state, _) = conversation(&world, id).await;
    let contact_id = state
        .contact_id
        .expect("the conversation belongs to the new contact");
    let tahc_app::Identified::Linked {
        contact_id: found,
        contact,
    } = c
        .identify_visitor(
            &world.team.agent,
            Some(world.visitor_id),
            "ada@example.com".into(),
            None,
        )
        .await
        .unwrap()
    else {
        panic!("the team's word links")
    };
    assert_eq!(found, contact_id);
    assert!(contact.visitors.len() >= 2);

    // The AI's confidence drops: a human is requested, an agent takes over.
    let (_, unsure) = c
        .send_message(&world.team.bot, say(id, "I am not sure…", Some(0.2)))
        .await
        .unwrap();
    assert!(unsure.state.awaiting_human());
    let taken = c.take_over(&world.team.agent, id).await.unwrap();
    assert_eq!(taken.state.controller, Controller::Human);
    let (_, replied) = c
        .send_message(
            &world.team.agent,
            say(id, "I've checked: it arrives tomorrow.", None),
        )
        .await
        .unwrap();
    assert_eq!(replied.state.status, ConversationStatus::Pending);
    let closed = c
        .set_status(&world.team.agent, id, ConversationStatus::Closed)
        .await
        .unwrap();
    assert_eq!(closed.state.status, ConversationStatus::Closed);
    processes.settle().await;
    assert!(world.log.verify().await.unwrap().ok());

    // Every reaction again, from the start, with fresh memory: nothing new.
    let head = world.log.head().await.unwrap();
    let again = Processes::new(c);
    again.settle().await;
    assert_eq!(
        world.log.head().await.unwrap(),
        head,
        "a reaction appended twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_a_visitor_closes_its_open_conversations_with_a_note() {
    let world = World::new().await;
    let c = &world.commands;
    let processes = Processes::new(c);
    let (second, _) = c
        .start_conversation(&world.visitor, None, "Another question".into())
        .await
        .unwrap();
    c.set_status(&world.team.agent, second, ConversationStatus::Closed)
        .await
        .unwrap();
    processes.settle().await;
    c.block_visitor(&world.team.agent, world.visitor_id, Some("abusive".into()))
        .await
        .unwrap();
    processes.settle().await;
    let (state, events) = conversation(&world, world.conversation_id).await;
    assert_eq!(state.status, ConversationStatus::Closed);
    let note = events.iter().find_map(|e| match e {
        Event::MessagePosted(m) if m.author_kind == AuthorKind::System => Some(m.clone()),
        _ => None,
    });
    let note = note.expect("a system note");
    assert!(note.internal, "the team sees it, the visitor does not");
    assert_eq!(
        note.body.as_plain(),
        Some("Conversation closed: the visitor was blocked (abusive).")
    );
    let (_, closed_before) = conversation(&world, second).await;
    assert!(
        !closed_before
            .iter()
            .any(|e| matches!(e, Event::MessagePosted(m) if m.author_kind == AuthorKind::System))
    );
    // And the blocked visitor can no longer write.
    let err = c
        .send_message(&world.visitor, say(world.conversation_id, "hello?", None))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            tahc_app::AppError::Domain(tahc_domain::DomainError::Blocked)
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_agent_is_released_from_their_conversations() {
    let world = World::new().await;
    let c = &world.commands;
    let processes = Processes::new(c);
    c.take_over(&world.team.agent, world.conversation_id)
        .await
        .unwrap();
    processes.settle().await;
    c.deactivate_agent(&world.team.admin, world.team.agent.agent_id().unwrap())
        .await
        .unwrap();
    processes.settle().await;
    let (state, _) = conversation(&world, world.conversation_id).await;
    assert_eq!(state.assignee, None);
    assert_eq!(
        state.controller,
        Controller::Human,
        "history and control stay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snoozed_conversation_wakes_when_the_clock_reaches_its_time() {
    let world = World::new().await;
    let c = &world.commands;
    let processes = Processes::new(c);
    c.set_status(
        &world.team.agent,
        world.conversation_id,
        ConversationStatus::Pending,
    )
    .await
    .unwrap();
    c.snooze(
        &world.team.agent,
        world.conversation_id,
        c.now() + Duration::hours(1),
    )
    .await
    .unwrap();
    processes.settle().await;
    world.clock.advance(Duration::minutes(30));
    assert_eq!(processes.tick().await, 0, "not yet");
    world.clock.advance(Duration::minutes(31));
    assert_eq!(processes.tick().await, 1);
    assert_eq!(processes.tick().await, 0, "a second tick wakes nothing");
    processes.settle().await;
    let (state, _) = conversation(&world, world.conversation_id).await;
    assert_eq!(state.snoozed_until, None);
    assert_eq!(state.status, ConversationStatus::Open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_with_keywords_escalate_only_matching_messages() {
    let world = World::new().await;
    let c = &world.commands;
    let processes = Processes::new(c);
    let mut rule = ask_for_email_rule();
    rule.condition = RuleCondition {
        trigger: Trigger::MessageReceived,
        unknown_visitor_only: false,
        keywords: vec!["refund".into()],
    };
    rule.action.kind = ActionKind::RequestHuman;
    c.save_rule(&world.team.admin, None, rule).await.unwrap();
    c.send_message(
        &world.visitor,
        say(world.conversation_id, "Thanks, all good", None),
    )
    .await
    .unwrap();
    processes.settle().await;
    assert!(
        !conversation(&world, world.conversation_id)
            .await
            .0
            .awaiting_human()
    );
    c.send_message(
        &world.visitor,
        say(world.conversation_id, "I want a REFUND now", None),
    )
    .await
    .unwrap();
    processes.settle().await;
    assert!(
        conversation(&world, world.conversation_id)
            .await
            .0
            .awaiting_human()
    );
}
