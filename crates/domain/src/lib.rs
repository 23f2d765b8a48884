//! Pure decisions of tahc.
//!
//! Every aggregate is two functions over plain data:
//! `decide(&State, Command) -> Result<Vec<Event>, DomainError>` says what
//! happens when a command meets the current state, and
//! `evolve(State, &Event) -> State` folds what happened into the state. No
//! I/O, no clocks, no async: what a decision needs from elsewhere (the time,
//! the workspace's AI threshold, whether a visitor is blocked) arrives inside
//! the command as facts the application looked up.
//!
//! [`harness`] tests them the way people describe rules:
//! `given(events).when(command).then(events)`.

pub mod contact;
pub mod conversation;
mod email;
pub mod email_claim;
mod error;
pub mod harness;
pub mod text;
pub mod visitor;
pub mod workspace;

pub use email::{Email, MAX_EMAIL_LEN};
pub use error::{DomainError, ErrorCode};

use tahc_events::{Event, StreamId};

/// An aggregate: the state of one stream and the rules that change it.
pub trait Aggregate {
    /// What the aggregate remembers; `Default` is "no such stream yet".
    type State: Default + Clone + std::fmt::Debug + Send + Sync + 'static;
    /// What callers ask of it.
    type Command;

    /// The events a command causes, or why it is refused. An empty list
    /// means "nothing to do" (e.g. an idempotent repeat).
    fn decide(state: &Self::State, command: Self::Command) -> Result<Vec<Event>, DomainError>;

    /// The state after one more event. Events that do not concern the
    /// aggregate leave it unchanged.
    fn evolve(state: Self::State, event: &Event) -> Self::State;

    /// Whose personal data the stream's events carry: the privacy subject
    /// (a visitor or contact stream) whose key seals them, judged on the
    /// state after the events. `None`: the stream holds no personal data.
    fn subject(_stream: &StreamId, _state: &Self::State) -> Option<StreamId> {
        None
    }

    /// The state after a history of events.
    fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self::State {
        events
            .into_iter()
            .fold(Self::State::default(), |state, event| {
                Self::evolve(state, event)
            })
    }
}
