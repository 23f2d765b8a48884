//! Commands against the real sled log: concurrency, idempotency across a
//! restart, the conversation flow, and time from the injected clock.

mod support;

use std::sync::Arc;

use chrono::Duration;
use tahc_app::{AppError, SendMessage};
use tahc_domain::DomainError;
use tahc_events::{Controller, ConversationStatus, HandoffReason};
use tahc_store::{EventStore, LogReader, SledLog, StreamReader};

use support::{World, commands_over, invalid_field};

fn message(world: &World, body: &str, internal: bool, key: Option<&str>) -> SendMessage {
    SendMessage {
        conversation_id: world.conversation_id,
        body: body.into(),
        internal,
        confidence: None,
        idempotency_key: key.map(str::to_owned),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commands_on_one_conversation_all_land_one_after_another() {
    let world = Arc::new(World::new().await);
    let before = world.log.head().await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let world = world.clone();
            tokio::spawn(async move {
                let note = message(&world, &format!("note {i}"), true, None);
                world.commands.send_message(&world.team.agent, note).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("every note lands");
    }
    let after = world.log.head().await.unwrap();
    assert_eq!(after.0 - before.0, 16);
    let stream = tahc_app::stream(
        tahc_events::StreamCategory::Conversation,
        world.conversation_id,
    );
    let events = world.log.read_stream(&stream, 0, usize::MAX).await.unwrap();
    let versions: Vec<u64> = events.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_retried_with_its_key_after_a_restart_posts_once() {
    let world = World::new().await;
    let (first, _) = world
        .commands
        .send_message(
            &world.visitor,
            message(&world, "are you there?", false, Some("k-1")),
        )
        .await
        .unwrap();
    let head = world.log.head().await.unwrap();
    world.log.close().await;
    let World {
        dir,
        log,
        clock,
        visitor,
        conversation_id,
        commands,
        ..
    } = world;
    drop((commands, log));
    let log = SledLog::open(dir.path()).unwrap();
    let commands = commands_over(&log, clock);
    let retry = SendMessage {
        conversation_id,
        body: "are you there?".into(),
        internal: false,
        confidence: None,
        idempotency_key: Some("k-1".into()),
    };
    let (again, executed) = commands.send_message(&visitor, retry).await.unwrap();
    assert_eq!(again, first, "the retry names the original message");
    assert!(executed.events.is_empty());
    assert_eq!(log.head().await.unwrap(), head, "nothing was appended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conversation_flow_runs_through_the_commands() {
    let world = World::new().await;
    let c = &world.commands;
    let bot_reply = |body: &str, confidence| SendMessage {
        confidence: Some(confidence),
        ..message(&world, body, false, None)
    };
    let (_, sent) = c
        .send_message(&world.team.bot, bot_reply("It ships today.", 0.9))
        .await
        .unwrap();
    assert_eq!(sent.state.status, ConversationStatus::Pending);
    let (_, sent) = c
        .send_message(
            &world.visitor,
            message(&world, "It did not arrive", false, None),
        )
        .await
        .unwrap();
    assert_eq!(sent.state.status, ConversationStatus::Open);
    let (_, sent) = c
        .send_message(&world.team.bot, bot_reply("Hmm, maybe?", 0.2))
        .await
        .unwrap();
    assert!(
        sent.state.awaiting_human(),
        "low confidence requests a human"
    );
    let taken = c
        .take_over(&world.team.agent, world.conversation_id)
        .await
        .unwrap();
    assert_eq!(taken.state.controller, Controller::Human);
    assert_eq!(taken.state.assignee, world.team.agent.agent_id());
    let err = c
        .send_message(&world.team.bot, bot_reply("Let me…", 0.99))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::Domain(DomainError::NotInControl { .. })),
        "{err}"
    );
    let (_, sent) = c
        .send_message(
            &world.team.agent,
            message(&world, "I've reshipped it.", false, None),
        )
        .await
        .unwrap();
    assert_eq!(sent.state.status, ConversationStatus::Pending);
    let closed = c
        .set_status(
            &world.team.agent,
            world.conversation_id,
            ConversationStatus::Closed,
        )
        .await
        .unwrap();
    assert_eq!(closed.state.status, ConversationStatus::Closed);
    let again = c
        .request_human(
            &world.visitor,
            world.conversation_id,
            HandoffReason::CustomerRequest,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(again, AppError::Domain(DomainError::WrongStatus { .. })),
        "{again}"
    );
    assert!(world.log.verify().await.unwrap().ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snoozing_reads_now_from_the_injected_clock() {
    let world = World::new().await;
    let c = &world.commands;
    let clock_now = {
        use tahc_app::Clock;
        world.clock.now()
    };
    let err = c
        .snooze(
            &world.team.agent,
            world.conversation_id,
            clock_now - Duration::minutes(1),
        )
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), Some("until"), "{err}");
    let snoozed = c
        .snooze(
            &world.team.agent,
            world.conversation_id,
            clock_now + Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(
        snoozed.state.snoozed_until,
        Some(clock_now + Duration::hours(1))
    );
    world.clock.advance(Duration::hours(2));
    let err = c
        .snooze(
            &world.team.agent,
            world.conversation_id,
            clock_now + Duration::hours(1),
        )
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), Some("until"), "the clock moved: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitors_cannot_claim_ai_confidence_or_write_notes() {
    let world = World::new().await;
    let err = world
        .commands
        .send_message(
            &world.visitor,
            SendMessage {
                confidence: Some(0.9),
                ..message(&world, "x", false, None)
            },
        )
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), Some("confidence"), "{err}");
    let err = world
        .commands
        .send_message(&world.visitor, message(&world, "x", true, None))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), Some("internal"), "{err}");
    let err = world
        .commands
        .request_human(&world.visitor, world.conversation_id, HandoffReason::Rule)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), Some("reason"), "{err}");
}
