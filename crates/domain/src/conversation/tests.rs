//! Every conversation rule, as given/when/then.

use chrono::{Duration, TimeZone};
use tahc_events::ConversationStatus::{Closed, Open, Pending};

use super::*;
use crate::harness::given;

const THRESHOLD: f64 = 0.6;

fn visitor() -> Uuid {
    Uuid::from_u128(1)
}
fn agent() -> Uuid {
    Uuid::from_u128(2)
}
fn bot() -> Uuid {
    Uuid::from_u128(3)
}
fn msg() -> Uuid {
    Uuid::from_u128(100)
}
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap()
}

fn started(controller: Controller) -> Event {
    ConversationStarted {
        visitor_id: visitor(),
        controller,
    }
    .into()
}

fn status(from: ConversationStatus, to: ConversationStatus) -> Event {
    ConversationStatusChanged { from, to }.into()
}

fn posted(kind: AuthorKind, agent_id: Option<Uuid>, body: &str, internal: bool) -> Event {
    message(msg(), kind, agent_id, body.into(), internal, None, None)
}

fn post(author: Author, body: &str, internal: bool) -> Command {
    Command::Post {
        message: NewMessage {
            message_id: msg(),
            author,
            body: body.into(),
            internal,
            idempotency_key: None,
        },
        visitor_blocked: false,
        ai_confidence_threshold: THRESHOLD,
    }
}

fn ai(confidence: f64) -> Author {
    Author::Ai {
        bot_id: bot(),
        confidence: Some(confidence),
    }
}

fn as_agent() -> Author {
    Author::Agent { agent_id: agent() }
}

fn as_visitor() -> Author {
    Author::Visitor {
        visitor_id: visitor(),
    }
}

fn ai_message(body: &str, confidence: f64) -> Event {
    message(
        msg(),
        AuthorKind::Ai,
        Some(bot()),
        body.into(),
        false,
        Some(confidence),
        None,
    )
}

fn taken_over() -> [Event; 3] {
    [
        started(Controller::Ai),
        HandoffRequested {
            reason: HandoffReason::AgentInitiated,
        }
        .into(),
        ConversationTakenOver { agent_id: agent() }.into(),
    ]
}

fn start(ai_enabled: bool, visitor_blocked: bool) -> Command {
    Command::Start {
        visitor_id: visitor(),
        message_id: msg(),
        body: "Hi, my order is late".into(),
        visitor_blocked,
        ai_enabled,
    }
}

// ---------------------------------------------------------------- start

#[test]
fn a_visitor_starts_under_ai_control_when_the_workspace_has_ai() {
    given::<Conversation>([]).when(start(true, false)).then([
        started(Controller::Ai),
        posted(AuthorKind::Visitor, None, "Hi, my order is late", false),
    ]);
}

#[test]
fn a_visitor_starts_under_human_control_when_ai_is_disabled() {
    given::<Conversation>([]).when(start(false, false)).then([
        started(Controller::Human),
        posted(AuthorKind::Visitor, None, "Hi, my order is late", false),
    ]);
}

#[test]
fn a_blocked_visitor_cannot_start_a_conversation() {
    given::<Conversation>([])
        .when(start(true, true))
        .then_err(DomainError::Blocked);
}

#[test]
fn a_conversation_cannot_start_twice() {
    given::<Conversation>([started(Controller::Ai)])
        .when(start(true, false))
        .then_err(DomainError::AlreadyExists {
            what: "conversation",
        });
}

#[test]
fn an_empty_or_overlong_first_message_is_invalid() {
    let mut command = start(true, false);
    if let Command::Start { body, .. } = &mut command {
        *body = "   ".into();
    }
    given::<Conversation>([])
        .when(command)
        .then_err(DomainError::invalid("body", "must not be empty"));
    let err = Conversation::decide(
        &ConversationState::default(),
        Command::Start {
            visitor_id: visitor(),
            message_id: msg(),
            body: "x".repeat(MAX_BODY_CHARS + 1),
            visitor_blocked: false,
            ai_enabled: true,
        },
    )
    .unwrap_err();
    assert!(matches!(err, DomainError::Invalid { field: "body", .. }));
}

#[test]
fn commands_on_a_conversation_that_does_not_exist_are_not_found() {
    given::<Conversation>([])
        .when(post(as_visitor(), "hello", false))
        .then_err(DomainError::NotFound {
            what: "conversation",
        });
}

// ---------------------------------------------------------------- status

#[test]
fn a_confident_ai_reply_to_an_open_conversation_makes_it_pending() {
    given::<Conversation>([started(Controller::Ai)])
        .when(post(ai(0.9), "Your parcel ships today.", false))
        .then([
            ai_message("Your parcel ships today.", 0.9),
            status(Open, Pending),
        ]);
}

#[test]
fn an_agent_reply_to_an_open_conversation_makes_it_pending() {
    given::<Conversation>(taken_over())
        .when(post(as_agent(), "On it!", false))
        .then([
            posted(AuthorKind::Agent, Some(agent()), "On it!", false),
            status(Open, Pending),
        ]);
}

#[test]
fn an_internal_note_changes_no_status() {
    given::<Conversation>(taken_over())
        .when(post(as_agent(), "VIP customer", true))
        .then([posted(
            AuthorKind::Agent,
            Some(agent()),
            "VIP customer",
            true,
        )]);
}

#[test]
fn a_visitor_message_reopens_a_pending_conversation() {
    given::<Conversation>([started(Controller::Ai), status(Open, Pending)])
        .when(post(as_visitor(), "Still waiting", false))
        .then([
            posted(AuthorKind::Visitor, None, "Still waiting", false),
            status(Pending, Open),
        ]);
}

#[test]
fn a_visitor_message_reopens_a_closed_conversation() {
    given::<Conversation>([started(Controller::Ai), status(Open, Closed)])
        .when(post(as_visitor(), "One more thing", false))
        .then([
            posted(AuthorKind::Visitor, None, "One more thing", false),
            status(Closed, Open),
        ]);
}

#[test]
fn a_visitor_message_wakes_a_snoozed_conversation() {
    let later = now() + Duration::hours(3);
    given::<Conversation>([
        started(Controller::Ai),
        status(Open, Pending),
        ConversationSnoozed { until: later }.into(),
    ])
    .when(post(as_visitor(), "Hello?", false))
    .then([
        posted(AuthorKind::Visitor, None, "Hello?", false),
        ConversationWoke {}.into(),
        status(Pending, Open),
    ]);
}

#[test]
fn a_visitor_message_to_an_open_conversation_changes_no_status() {
    given::<Conversation>([started(Controller::Ai)])
        .when(post(as_visitor(), "And also…", false))
        .then([posted(AuthorKind::Visitor, None, "And also…", false)]);
}

#[test]
fn setting_the_same_status_does_nothing_and_another_one_is_recorded() {
    given::<Conversation>([started(Controller::Ai)])
        .when(Command::SetStatus { status: Open })
        .then_nothing();
    given::<Conversation>([started(Controller::Ai)])
        .when(Command::SetStatus { status: Closed })
        .then([status(Open, Closed)]);
    given::<Conversation>([started(Controller::Ai), status(Open, Closed)])
        .when(Command::SetStatus { status: Open })
        .then([status(Closed, Open)]);
}

#[test]
fn closing_a_snoozed_conversation_ends_the_snooze() {
    given::<Conversation>([
        started(Controller::Ai),
        ConversationSnoozed {
            until: now() + Duration::days(1),
        }
        .into(),
    ])
    .when(Command::SetStatus { status: Closed })
    .then([ConversationWoke {}.into(), status(Open, Closed)]);
}

#[test]
fn team_replies_to_a_closed_conversation_are_refused_but_notes_are_not() {
    let closed = [taken_over().as_slice(), &[status(Open, Closed)]].concat();
    given::<Conversation>(closed.clone())
        .when(post(as_agent(), "Hello again", false))
        .then_err(DomainError::WrongStatus {
            action: "reply to",
            status: Closed,
        });
    given::<Conversation>(closed)
        .when(post(as_agent(), "Closed as duplicate", true))
        .then([posted(
            AuthorKind::Agent,
            Some(agent()),
            "Closed as duplicate",
            true,
        )]);
}

// ---------------------------------------------------------------- snooze

#[test]
fn snoozing_needs_a_future_time_and_an_unclosed_conversation() {
    given::<Conversation>([started(Controller::Ai)])
        .when(Command::Snooze {
            until: now(),
            now: now(),
        })
        .then_err(DomainError::invalid("until", "must be in the future"));
    given::<Conversation>([started(Controller::Ai), status(Open, Closed)])
        .when(Command::Snooze {
            until: now() + Duration::hours(1),
            now: now(),
        })
        .then_err(DomainError::WrongStatus {
            action: "snooze",
            status: Closed,
        });
    let state = given::<Conversation>([started(Controller::Ai)])
        .when(Command::Snooze {
            until: now() + Duration::hours(1),
            now: now(),
        })
        .then([ConversationSnoozed {
            until: now() + Duration::hours(1),
        }
        .into()]);
    assert_eq!(state.snoozed_until, Some(now() + Duration::hours(1)));
}

#[test]
fn a_snoozed_conversation_wakes_open_when_its_time_comes_and_not_before() {
    let history = [
        started(Controller::Ai),
        status(Open, Pending),
        ConversationSnoozed {
            until: now() + Duration::hours(1),
        }
        .into(),
    ];
    given::<Conversation>(history.clone())
        .when(Command::Wake {
            now: now() + Duration::minutes(59),
        })
        .then_nothing();
    let state = given::<Conversation>(history)
        .when(Command::Wake {
            now: now() + Duration::hours(1),
        })
        .then([ConversationWoke {}.into(), status(Pending, Open)]);
    // Waking twice (a timer that fires again) does nothing.
    assert_eq!(state.snoozed_until, None);
    assert!(
        Conversation::decide(
            &state,
            Command::Wake {
                now: now() + Duration::days(1)
            }
        )
        .unwrap()
        .is_empty()
    );
}

// ---------------------------------------------------------------- control and handoff

#[test]
fn an_unsure_ai_reply_requests_a_human_and_keeps_the_conversation_open() {
    given::<Conversation>([started(Controller::Ai)])
        .when(post(ai(0.3), "I think so?", false))
        .then([
            ai_message("I think so?", 0.3),
            HandoffRequested {
                reason: HandoffReason::LowConfidence,
            }
            .into(),
        ]);
}

#[test]
fn an_unsure_ai_reply_to_a_pending_conversation_reopens_it_for_a_human() {
    given::<Conversation>([started(Controller::Ai), status(Open, Pending)])
        .when(post(ai(0.1), "Maybe", false))
        .then([
            ai_message("Maybe", 0.1),
            HandoffRequested {
                reason: HandoffReason::LowConfidence,
            }
            .into(),
            status(Pending, Open),
        ]);
}

#[test]
fn a_reply_exactly_at_the_threshold_is_confident_enough() {
    given::<Conversation>([started(Controller::Ai)])
        .when(post(ai(THRESHOLD), "Sure", false))
        .then([ai_message("Sure", THRESHOLD), status(Open, Pending)]);
}

#[test]
fn the_ai_cannot_post_under_human_control() {
    given::<Conversation>(taken_over())
        .when(post(ai(0.99), "Let me help", false))
        .then_err(DomainError::NotInControl {
            controller: Controller::Human,
        });
    given::<Conversation>(taken_over())
        .when(post(ai(0.99), "summary", true))
        .then_err(DomainError::NotInControl {
            controller: Controller::Human,
        });
}

#[test]
fn an_agent_cannot_answer_publicly_while_the_ai_is_in_control() {
    given::<Conversation>([started(Controller::Ai)])
        .when(post(as_agent(), "Hello", false))
        .then_err(DomainError::NotInControl {
            controller: Controller::Ai,
        });
    given::<Conversation>([started(Controller::Ai)])
        .when(post(as_agent(), "watching this one", true))
        .then([posted(
            AuthorKind::Agent,
            Some(agent()),
            "watching this one",
            true,
        )]);
}

#[test]
fn an_ai_confidence_outside_zero_to_one_is_invalid() {
    for confidence in [-0.1, 1.5, f64::NAN] {
        given::<Conversation>([started(Controller::Ai)])
            .when(post(ai(confidence), "x", false))
            .then_err(DomainError::invalid(
                "confidence",
                "must be between 0 and 1",
            ));
    }
}

#[test]
fn a_customer_request_asks_for_a_human_once() {
    let requested: Event = HandoffRequested {
        reason: HandoffReason::CustomerRequest,
    }
    .into();
    given::<Conversation>([started(Controller::Ai)])
        .when(Command::RequestHuman {
            reason: HandoffReason::CustomerRequest,
        })
        .then([requested.clone()]);
    given::<Conversation>([started(Controller::Ai), requested])
        .when(Command::RequestHuman {
            reason: HandoffReason::Rule,
        })
        .then_nothing();
}

#[test]
fn requesting_a_human_reopens_a_pending_conversation() {
    given::<Conversation>([started(Controller::Ai), status(Open, Pending)])
        .when(Command::RequestHuman {
            reason: HandoffReason::Rule,
        })
        .then([
            HandoffRequested {
                reason: HandoffReason::Rule,
            }
            .into(),
            status(Pending, Open),
        ]);
}

#[test]
fn a_human_cannot_be_requested_under_human_control_or_when_closed() {
    given::<Conversation>(taken_over())
        .when(Command::RequestHuman {
            reason: HandoffReason::CustomerRequest,
        })
        .then_err(DomainError::InvalidTransition {
            action: "request a human",
            reason: "a human is already in control",
        });
    given::<Conversation>([started(Controller::Ai), status(Open, Closed)])
        .when(Command::RequestHuman {
            reason: HandoffReason::CustomerRequest,
        })
        .then_err(DomainError::WrongStatus {
            action: "request a human for",
            status: Closed,
        });
}

#[test]
fn taking_over_an_open_request_accepts_it_and_assigns_the_agent() {
    let state = given::<Conversation>([
        started(Controller::Ai),
        HandoffRequested {
            reason: HandoffReason::LowConfidence,
        }
        .into(),
    ])
    .when(Command::TakeOver { agent_id: agent() })
    .then([ConversationTakenOver { agent_id: agent() }.into()]);
    assert_eq!(state.controller, Controller::Human);
    assert_eq!(state.assignee, Some(agent()));
    assert_eq!(
        state.handoff,
        Some(Handoff {
            reason: HandoffReason::LowConfidence,
            accepted_by: Some(agent()),
        })
    );
    assert!(!state.awaiting_human());
}

#[test]
fn taking_over_without_a_request_records_an_agent_initiated_handoff() {
    given::<Conversation>([started(Controller::Ai)])
        .when(Command::TakeOver { agent_id: agent() })
        .then([
            HandoffRequested {
                reason: HandoffReason::AgentInitiated,
            }
            .into(),
            ConversationTakenOver { agent_id: agent() }.into(),
        ]);
}

#[test]
fn taking_over_twice_is_a_no_op_for_the_same_agent_and_refused_for_another() {
    given::<Conversation>(taken_over())
        .when(Command::TakeOver { agent_id: agent() })
        .then_nothing();
    given::<Conversation>(taken_over())
        .when(Command::TakeOver {
            agent_id: Uuid::from_u128(9),
        })
        .then_err(DomainError::InvalidTransition {
            action: "take over",
            reason: "a human is already in control; assign the conversation instead",
        });
}

#[test]
fn a_closed_conversation_cannot_be_taken_over() {
    given::<Conversation>([started(Controller::Ai), status(Open, Closed)])
        .when(Command::TakeOver { agent_id: agent() })
        .then_err(DomainError::WrongStatus {
            action: "take over",
            status: Closed,
        });
}

#[test]
fn an_agent_returns_control_to_the_ai_when_the_workspace_has_ai() {
    let state = given::<Conversation>(taken_over())
        .when(Command::ReturnToAi { ai_enabled: true })
        .then([ConversationReturnedToAi {}.into()]);
    assert_eq!(state.controller, Controller::Ai);
    given::<Conversation>(taken_over())
        .when(Command::ReturnToAi { ai_enabled: false })
        .then_err(DomainError::InvalidTransition {
            action: "return to the AI",
            reason: "AI is disabled in this workspace",
        });
    given::<Conversation>([started(Controller::Ai)])
        .when(Command::ReturnToAi { ai_enabled: true })
        .then_err(DomainError::InvalidTransition {
            action: "return to the AI",
            reason: "the AI is already in control",
        });
}

// ---------------------------------------------------------------- assignment

#[test]
fn assigning_needs_an_active_agent_and_repeats_are_no_ops() {
    let active = Assignee {
        agent_id: agent(),
        active: true,
    };
    given::<Conversation>([started(Controller::Ai)])
        .when(Command::Assign {
            assignee: Some(Assignee {
                active: false,
                ..active
            }),
        })
        .then_err(DomainError::invalid(
            "assigneeId",
            "not an active agent of this workspace",
        ));
    let state = given::<Conversation>([started(Controller::Ai)])
        .when(Command::Assign {
            assignee: Some(active),
        })
        .then([ConversationAssigned { agent_id: agent() }.into()]);
    assert_eq!(state.assignee, Some(agent()));
    given::<Conversation>([
        started(Controller::Ai),
        ConversationAssigned { agent_id: agent() }.into(),
    ])
    .when(Command::Assign {
        assignee: Some(active),
    })
    .then_nothing();
}

#[test]
fn unassigning_clears_the_assignee_once() {
    given::<Conversation>([
        started(Controller::Ai),
        ConversationAssigned { agent_id: agent() }.into(),
    ])
    .when(Command::Assign { assignee: None })
    .then([ConversationUnassigned {}.into()]);
    given::<Conversation>([started(Controller::Ai)])
        .when(Command::Assign { assignee: None })
        .then_nothing();
}

#[test]
fn a_deactivated_agent_is_released_from_their_conversations_only() {
    given::<Conversation>(taken_over())
        .when(Command::ReleaseAgent { agent_id: agent() })
        .then([ConversationUnassigned {}.into()]);
    given::<Conversation>(taken_over())
        .when(Command::ReleaseAgent {
            agent_id: Uuid::from_u128(9),
        })
        .then_nothing();
}

// ---------------------------------------------------------------- visitors

#[test]
fn a_visitor_writes_only_in_its_own_conversation() {
    given::<Conversation>([started(Controller::Ai)])
        .when(post(
            Author::Visitor {
                visitor_id: Uuid::from_u128(77),
            },
            "hi",
            false,
        ))
        .then_err(DomainError::Forbidden {
            reason: "a visitor may only write in its own conversations",
        });
}

#[test]
fn a_blocked_visitor_cannot_post() {
    let Command::Post { message, .. } = post(as_visitor(), "spam", false) else {
        unreachable!()
    };
    given::<Conversation>([started(Controller::Ai)])
        .when(Command::Post {
            message,
            visitor_blocked: true,
            ai_confidence_threshold: THRESHOLD,
        })
        .then_err(DomainError::Blocked);
}

#[test]
fn a_visitor_cannot_write_internal_notes() {
    given::<Conversation>([started(Controller::Ai)])
        .when(post(as_visitor(), "psst", true))
        .then_err(DomainError::invalid(
            "internal",
            "visitors cannot write internal notes",
        ));
}

#[test]
fn blocking_the_visitor_closes_with_a_note_the_team_sees() {
    given::<Conversation>([started(Controller::Ai), status(Open, Pending)])
        .when(Command::CloseForBlockedVisitor {
            message_id: msg(),
            reason: Some("spam".into()),
        })
        .then([
            posted(
                AuthorKind::System,
                None,
                "Conversation closed: the visitor was blocked (spam).",
                true,
            ),
            status(Pending, Closed),
        ]);
    given::<Conversation>([started(Controller::Ai), status(Open, Closed)])
        .when(Command::CloseForBlockedVisitor {
            message_id: msg(),
            reason: None,
        })
        .then_nothing();
}

// ---------------------------------------------------------------- idempotency

#[test]
fn a_retried_message_with_the_same_idempotency_key_posts_once() {
    let command = || Command::Post {
        message: NewMessage {
            message_id: msg(),
            author: as_visitor(),
            body: "hello".into(),
            internal: false,
            idempotency_key: Some("client-1".into()),
        },
        visitor_blocked: false,
        ai_confidence_threshold: THRESHOLD,
    };
    let first = given::<Conversation>([started(Controller::Ai)])
        .when(command())
        .events();
    given::<Conversation>([[started(Controller::Ai)].as_slice(), &first].concat())
        .when(command())
        .then_nothing();
}

#[test]
fn an_empty_idempotency_key_is_invalid() {
    let Command::Post { mut message, .. } = post(as_visitor(), "x", false) else {
        unreachable!()
    };
    message.idempotency_key = Some(String::new());
    given::<Conversation>([started(Controller::Ai)])
        .when(Command::Post {
            message,
            visitor_blocked: false,
            ai_confidence_threshold: THRESHOLD,
        })
        .then_err(DomainError::invalid(
            "idempotencyKey",
            "must be 1 to 255 characters",
        ));
}

// ---------------------------------------------------------------- email and contact

#[test]
fn asking_for_an_email_posts_the_question_once_and_not_to_known_contacts() {
    let ask = || Command::AskForEmail {
        message_id: msg(),
        question: "What's your email?".into(),
    };
    let state = given::<Conversation>([started(Controller::Ai)])
        .when(ask())
        .then([
            posted(AuthorKind::System, None, "What's your email?", false),
            EmailAsked {}.into(),
        ]);
    assert!(state.awaiting_email);
    given::<Conversation>([started(Controller::Ai), EmailAsked {}.into()])
        .when(ask())
        .then_nothing();
    given::<Conversation>([
        started(Controller::Ai),
        ConversationContactLinked {
            contact_id: Uuid::from_u128(5),
        }
        .into(),
    ])
    .when(ask())
    .then_nothing();
}

#[test]
fn linking_a_contact_ends_the_wait_for_an_email_and_repeats_are_no_ops() {
    let contact = Uuid::from_u128(5);
    let state = given::<Conversation>([started(Controller::Ai), EmailAsked {}.into()])
        .when(Command::LinkContact {
            contact_id: contact,
        })
        .then([ConversationContactLinked {
            contact_id: contact,
        }
        .into()]);
    assert!(!state.awaiting_email);
    assert_eq!(state.contact_id, Some(contact));
    given::<Conversation>([
        started(Controller::Ai),
        ConversationContactLinked {
            contact_id: contact,
        }
        .into(),
    ])
    .when(Command::LinkContact {
        contact_id: contact,
    })
    .then_nothing();
}
