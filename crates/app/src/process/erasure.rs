//! A contact's erasure destroys the keys of the contact and of its
//! visitors. The erasing command does it at once; this reaction does it
//! again from the log, so that a crash between the `ContactErased` append
//! and the key destruction cannot leave the keys behind.

use tahc_events::{Event, RecordedEvent};
use tahc_projections::{View, ViewChanges};

use super::{Reaction, Reactor};
use crate::error::AppError;

/// Destroys the keys a `ContactErased` names.
pub struct Erasure;

impl Reaction for Erasure {
    const NAME: &'static str = "erasure";

    async fn react(
        &self,
        reactor: &Reactor,
        record: &RecordedEvent,
        event: &Event,
        _memory: &View,
        _changes: &mut ViewChanges,
    ) -> Result<(), AppError> {
        if let Event::ContactErased(erased) = event {
            let vault = reactor.commands.aggregates().vault();
            vault.shred(&record.stream_id, erased)?;
        }
        Ok(())
    }
}
