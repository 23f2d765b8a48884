//! Invariants of a conversation under any sequence of commands: whatever
//! happens, the AI never posts under human control, a blocked visitor never
//! gets a message in, and every status change follows the rules.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use tahc_domain::Aggregate;
use tahc_domain::conversation::{
    Assignee, Author, Command, Conversation, ConversationState, NewMessage,
};
use tahc_events::{AuthorKind, Controller, ConversationStatus, Event, HandoffReason};
use uuid::Uuid;

const THRESHOLD: f64 = 0.5;

fn visitor() -> Uuid {
    Uuid::from_u128(1)
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

#[derive(Debug, Clone)]
enum Step {
    Post {
        who: u8,
        internal: bool,
        confidence: f64,
        blocked: bool,
    },
    RequestHuman(u8),
    TakeOver(u8),
    ReturnToAi(bool),
    Assign(Option<(u8, bool)>),
    SetStatus(u8),
    Snooze(i64),
    Wake(i64),
    LinkContact(u8),
    Block,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..5, any::<bool>(), 0.0f64..1.0, prop::bool::weighted(0.1))
            .prop_map(|(who, internal, confidence, blocked)| Step::Post { who, internal, confidence, blocked }),
        1 => (0u8..4).prop_map(Step::RequestHuman),
        1 => (0u8..3).prop_map(Step::TakeOver),
        1 => any::<bool>().prop_map(Step::ReturnToAi),
        1 => prop::option::of((0u8..3, any::<bool>())).prop_map(Step::Assign),
        1 => (0u8..3).prop_map(Step::SetStatus),
        1 => (-5i64..48).prop_map(Step::Snooze),
        1 => (0i64..72).prop_map(Step::Wake),
        1 => (0u8..3).prop_map(Step::LinkContact),
        1 => Just(Step::Block),
    ]
}

fn status(i: u8) -> ConversationStatus {
    [
        ConversationStatus::Open,
        ConversationStatus::Pending,
        ConversationStatus::Closed,
    ][i as usize % 3]
}

fn command(step: &Step, n: usize, clock: DateTime<Utc>) -> (Command, bool) {
    let id = Uuid::from_u128(1000 + n as u128);
    match *step {
        Step::Post {
            who,
            internal,
            confidence,
            blocked,
        } => {
            let author = match who {
                0 => Author::Visitor {
                    visitor_id: visitor(),
                },
                1 => Author::Visitor {
                    visitor_id: Uuid::from_u128(2),
                },
                2 => Author::Ai {
                    bot_id: Uuid::from_u128(3),
                    confidence: Some(confidence),
                },
                3 => Author::Agent {
                    agent_id: Uuid::from_u128(4),
                },
                _ => Author::System,
            };
            let message = NewMessage {
                message_id: id,
                author,
                body: "hi".into(),
                internal,
                idempotency_key: None,
            };
            (
                Command::Post {
                    message,
                    visitor_blocked: blocked,
                    ai_confidence_threshold: THRESHOLD,
                },
                blocked,
            )
        }
        Step::RequestHuman(r) => (
            Command::RequestHuman {
                reason: [
                    HandoffReason::LowConfidence,
                    HandoffReason::CustomerRequest,
                    HandoffReason::Rule,
                    HandoffReason::AgentInitiated,
                ][r as usize % 4],
            },
            false,
        ),
        Step::TakeOver(a) => (
            Command::TakeOver {
                agent_id: Uuid::from_u128(10 + u128::from(a)),
            },
            false,
        ),
        Step::ReturnToAi(enabled) => (
            Command::ReturnToAi {
                ai_enabled: enabled,
            },
            false,
        ),
        Step::Assign(a) => (
            Command::Assign {
                assignee: a.map(|(a, active)| Assignee {
                    agent_id: Uuid::from_u128(10 + u128::from(a)),
                    active,
                }),
            },
            false,
        ),
        Step::SetStatus(s) => (Command::SetStatus { status: status(s) }, false),
        Step::Snooze(h) => (
            Command::Snooze {
                until: clock + Duration::hours(h),
                now: clock,
            },
            false,
        ),
        Step::Wake(h) => (
            Command::Wake {
                now: clock + Duration::hours(h),
            },
            false,
        ),
        Step::LinkContact(c) => (
            Command::LinkContact {
                contact_id: Uuid::from_u128(20 + u128::from(c)),
            },
            false,
        ),
        Step::Block => (
            Command::CloseForBlockedVisitor {
                message_id: id,
                reason: None,
            },
            false,
        ),
    }
}

/// Checks what one accepted command did against the state before it.
fn check(before: &ConversationState, command: &Command, blocked: bool, events: &[Event]) {
    let mut status = before.status;
    for event in events {
        match event {
            Event::MessagePosted(m) => {
                if m.author_kind == AuthorKind::Ai {
                    assert_eq!(
                        before.controller,
                        Controller::Ai,
                        "the AI posted under human control"
                    );
                }
                if m.author_kind == AuthorKind::Visitor {
                    assert!(!blocked, "a blocked visitor's message got in");
                    assert!(!m.internal, "a visitor wrote an internal note");
                }
                if m.author_kind == AuthorKind::Agent && !m.internal {
                    assert_eq!(
                        before.controller,
                        Controller::Human,
                        "an agent answered under AI control"
                    );
                }
            }
            Event::ConversationStatusChanged(change) => {
                assert_eq!(
                    change.from, status,
                    "a status change from a status it was not in"
                );
                assert_ne!(change.from, change.to, "a status change to the same status");
                status = change.to;
            }
            _ => {}
        }
    }
    if let Command::Post { message, .. } = command {
        let posted_public = |kind| {
            events.iter().any(
                |e| matches!(e, Event::MessagePosted(m) if m.author_kind == kind && !m.internal),
            )
        };
        if posted_public(AuthorKind::Visitor) {
            assert_eq!(
                status,
                ConversationStatus::Open,
                "a visitor message left the conversation not open"
            );
        }
        let handoff = events
            .iter()
            .any(|e| matches!(e, Event::HandoffRequested(_)));
        if (posted_public(AuthorKind::Agent) || posted_public(AuthorKind::Ai))
            && before.status == ConversationStatus::Open
            && !handoff
        {
            assert_eq!(
                status,
                ConversationStatus::Pending,
                "a team reply to an open conversation did not make it pending"
            );
        }
        if message.internal {
            assert_eq!(status, before.status, "an internal note changed the status");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn conversation_invariants_hold_for_any_command_sequence(
        ai_enabled in any::<bool>(),
        steps in prop::collection::vec(step(), 1..60),
    ) {
        let mut state = Conversation::replay(&[]);
        let start = Command::Start {
            visitor_id: visitor(),
            message_id: Uuid::from_u128(999),
            body: "hello".into(),
            visitor_blocked: false,
            ai_enabled,
        };
        for event in Conversation::decide(&state, start).unwrap() {
            state = Conversation::evolve(state, &event);
        }
        let mut clock = t0();
        let mut ever_ai = ai_enabled;
        for (n, step) in steps.iter().enumerate() {
            clock += Duration::minutes(30);
            let (command, blocked) = command(step, n, clock);
            if let Ok(events) = Conversation::decide(&state, command.clone()) {
                check(&state, &command, blocked, &events);
                for event in &events {
                    state = Conversation::evolve(state, event);
                }
            }
            ever_ai |= state.controller == Controller::Ai;
            if ever_ai && state.controller == Controller::Human {
                prop_assert!(state.handoff.is_some(), "a human took over from the AI without a handoff record");
            }
            if state.status == ConversationStatus::Closed {
                prop_assert!(state.snoozed_until.is_none(), "a closed conversation is still snoozed");
            }
        }
    }
}
