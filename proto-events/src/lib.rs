//! The tahc event catalogue.
//!
//! Every fact the service records is one [`Event`] inside an envelope
//! ([`NewEvent`] before it is stored, [`RecordedEvent`] after). This crate is
//! the vocabulary shared by the log, the domain and the read models: it knows
//! nothing about storage or transport.
//!
//! Payloads are versioned. [`decode`] turns a stored payload of any known
//! schema version into the current [`Event`], running the [`upcast`] chain for
//! older versions, so that logs written by earlier releases stay readable.

mod catalogue;
mod contact;
mod conversation;
mod email;
mod envelope;
mod personal;
pub mod upcast;
mod visitor;
mod vocabulary;
mod workspace;

pub use catalogue::{CATALOGUE, Event, EventSpec, StreamCategory, spec};
pub use contact::*;
pub use conversation::*;
pub use email::*;
pub use envelope::{
    Actor, ActorKind, EventMeta, InvalidStreamId, NewEvent, Payload, Position, RecordedEvent,
    StreamId, hex,
};
pub use personal::{Keyless, KeysUnavailable, Opener, Personal, Sealed};
pub use upcast::{DecodeError, decode, decode_payload};
pub use visitor::*;
pub use vocabulary::*;
pub use workspace::*;
