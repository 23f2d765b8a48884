//! Given/when/then for aggregates, in the style of cqrs-es's TestFramework:
//!
//! ```
//! # use tahc_domain::{conversation::*, harness::given};
//! # use tahc_events::*;
//! # let visitor = uuid::Uuid::now_v7();
//! # let started = Event::from(ConversationStarted { visitor_id: visitor, controller: Controller::Ai });
//! given::<Conversation>([started])
//!     .when(Command::SetStatus { status: ConversationStatus::Closed })
//!     .then([Event::from(ConversationStatusChanged {
//!         from: ConversationStatus::Open,
//!         to: ConversationStatus::Closed,
//!     })]);
//! ```

use tahc_events::Event;

use crate::{Aggregate, DomainError};

/// A history, ready for a command.
pub struct Given<A: Aggregate> {
    state: A::State,
}

/// Starts a scenario from the events that already happened.
pub fn given<A: Aggregate>(history: impl IntoIterator<Item = Event>) -> Given<A> {
    let history: Vec<Event> = history.into_iter().collect();
    Given {
        state: A::replay(&history),
    }
}

impl<A: Aggregate> Given<A> {
    /// Runs the command against the history.
    pub fn when(self, command: A::Command) -> Then<A> {
        let outcome = A::decide(&self.state, command);
        Then {
            state: self.state,
            outcome,
        }
    }
}

/// The outcome of a command, to be checked.
pub struct Then<A: Aggregate> {
    state: A::State,
    outcome: Result<Vec<Event>, DomainError>,
}

impl<A: Aggregate> Then<A> {
    /// The command caused exactly these events; returns the state after them.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = Event>) -> A::State {
        let expected: Vec<Event> = expected.into_iter().collect();
        match self.outcome {
            Ok(events) => {
                assert_eq!(events, expected, "unexpected events");
                A::replay_onto(self.state, &events)
            }
            Err(error) => panic!("expected {expected:?}, but the command was refused: {error}"),
        }
    }

    /// The command was accepted and changed nothing.
    #[track_caller]
    pub fn then_nothing(self) {
        self.then([]);
    }

    /// The command was refused with exactly this error.
    #[track_caller]
    pub fn then_err(self, expected: DomainError) {
        match self.outcome {
            Ok(events) => panic!("expected {expected}, but the command caused {events:?}"),
            Err(error) => assert_eq!(error, expected),
        }
    }

    /// The events of an accepted command, for checks that need to look inside
    /// them (e.g. generated ids).
    #[track_caller]
    pub fn events(self) -> Vec<Event> {
        self.outcome
            .unwrap_or_else(|error| panic!("the command was refused: {error}"))
    }
}

/// Folding more events onto a state.
trait ReplayOnto: Aggregate {
    fn replay_onto(state: Self::State, events: &[Event]) -> Self::State {
        events
            .iter()
            .fold(state, |state, event| Self::evolve(state, event))
    }
}

impl<A: Aggregate> ReplayOnto for A {}
