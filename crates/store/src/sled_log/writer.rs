//! The one writer that owns the tail of the log (group commit).
//!
//! Callers send appends through a channel. The writer takes everything that
//! is waiting (a round), checks each append against the stream heads, gives
//! positions, extends the hash chain, writes the whole round as ONE atomic
//! sled batch, makes it durable once, and only then acknowledges every caller
//! of the round and publishes the new records.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tahc_events::{NewEvent, Position, RecordedEvent, StreamId};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::durability::Durability;
use super::{Shared, keys};
use crate::error::{AppendError, ReadError};
use crate::log::{Appended, ExpectedVersion};
use crate::record::{self, Digest};

/// Most appends taken into one round.
const MAX_ROUND: usize = 1024;

/// One caller's append, waiting for its round.
pub(super) struct AppendJob {
    pub stream: StreamId,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
    pub reply: oneshot::Sender<Result<Appended, AppendError>>,
}

/// Where an event id is stored (in sled or earlier in the current round).
#[derive(Clone)]
struct Stored {
    position: Position,
    stream: StreamId,
    version: u64,
}

/// What one round has staged so far.
struct Round {
    batch: sled::Batch,
    head: Position,
    tail_hash: Digest,
    stream_heads: HashMap<StreamId, u64>,
    ids: HashMap<Uuid, Stored>,
    records: Vec<RecordedEvent>,
}

/// The outcome of one append of the round, waiting for the round to end.
struct Outcome {
    reply: oneshot::Sender<Result<Appended, AppendError>>,
    result: Result<Appended, AppendError>,
}

pub(super) struct Writer {
    pub db: sled::Db,
    pub tree: sled::Tree,
    pub durability: Durability,
    pub head: Position,
    pub tail_hash: Digest,
    pub shared: Arc<Shared>,
    pub jobs: mpsc::Receiver<AppendJob>,
}

impl Writer {
    /// Runs rounds until every sender is gone, then flushes and ends the live
    /// feed.
    pub fn run(mut self) {
        while let Some(first) = self.jobs.blocking_recv() {
            let mut round = vec![first];
            while round.len() < MAX_ROUND {
                match self.jobs.try_recv() {
                    Ok(job) => round.push(job),
                    Err(_) => break,
                }
            }
            self.commit(round);
        }
        if let Err(error) = self.durability.make_durable(&self.db) {
            tracing::error!(%error, "final flush of the event log failed");
        }
        self.shared.live.close();
    }

    fn commit(&mut self, jobs: Vec<AppendJob>) {
        let mut round = Round {
            batch: sled::Batch::default(),
            head: self.head,
            tail_hash: self.tail_hash,
            stream_heads: HashMap::new(),
            ids: HashMap::new(),
            records: Vec::new(),
        };
        let durable = Position(self.shared.durable_head.load(Ordering::Acquire));
        let mut needs_flush = false;
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in jobs {
            let result = self.stage(&mut round, &job.stream, job.expected, job.events);
            // An idempotent repeat of an append that is stored but not yet
            // durable must not be acknowledged before it is.
            needs_flush |= matches!(&result, Ok(a) if a.last_position > durable);
            outcomes.push(Outcome {
                reply: job.reply,
                result,
            });
        }
        if !needs_flush {
            return reply(outcomes);
        }
        for (stream, version) in &round.stream_heads {
            round
                .batch
                .insert(keys::stream_head(stream), &version.to_be_bytes());
        }
        if let Err(error) = self.tree.apply_batch(round.batch) {
            tracing::error!(%error, "event log write failed");
            return reply(fail_successes(outcomes, || {
                AppendError::Storage(error.to_string())
            }));
        }
        self.head = round.head;
        self.tail_hash = round.tail_hash;
        if let Err(error) = self.durability.make_durable(&self.db) {
            tracing::error!(%error, "event log flush failed");
            return reply(fail_successes(outcomes, || {
                AppendError::NotDurable(error.to_string())
            }));
        }
        self.shared
            .durable_head
            .store(self.head.0, Ordering::Release);
        self.shared.record_round(round.records.len());
        reply(outcomes);
        if !round.records.is_empty() {
            self.shared.live.publish(round.records.into());
        }
    }

    /// Checks one append and stages its records; nothing is staged on error.
    fn stage(
        &self,
        round: &mut Round,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, AppendError> {
        if events.is_empty() {
            return Err(AppendError::Empty);
        }
        for (index, event) in events.iter().enumerate() {
            record::check_fits(event)
                .map_err(|reason| AppendError::InvalidEvent { index, reason })?;
            if events[..index].iter().any(|e| e.event_id == event.event_id) {
                return Err(AppendError::DuplicateEventId {
                    event_id: event.event_id,
                });
            }
        }
        if let Some(original) = self.find_original(round, stream, &events)? {
            return Ok(original);
        }
        let current = match round.stream_heads.get(stream) {
            Some(version) => *version,
            None => self.stored_version(stream)?,
        };
        if !expected.admits(current) {
            return Err(AppendError::Conflict {
                stream: stream.clone(),
                expected,
                actual: current,
            });
        }
        let first_position = round.head.next();
        let mut version = current;
        for event in events {
            version += 1;
            let position = round.head.next();
            let event_id = event.event_id;
            let (record, bytes) = record::seal(event, stream, version, position, round.tail_hash);
            let position_bytes = position.0.to_be_bytes();
            round.batch.insert(&keys::event(position), bytes);
            round
                .batch
                .insert(keys::stream_entry(stream, version), &position_bytes);
            round
                .batch
                .insert(&keys::event_id(event_id), &position_bytes);
            round.ids.insert(
                event_id,
                Stored {
                    position,
                    stream: stream.clone(),
                    version,
                },
            );
            round.tail_hash = record.hash;
            round.head = position;
            round.records.push(record);
        }
        round.stream_heads.insert(stream.clone(), version);
        Ok(Appended {
            first_position,
            last_position: round.head,
            stream_version: version,
        })
    }

    /// The original result when every event of this append is already
    /// stored, as one run in this stream; an error when only some are, or
    /// when they are stored in another stream.
    fn find_original(
        &self,
        round: &Round,
        stream: &StreamId,
        events: &[NewEvent],
    ) -> Result<Option<Appended>, AppendError> {
        let duplicate = |event_id| Err(AppendError::DuplicateEventId { event_id });
        let Some(first) = self.find_id(round, events[0].event_id)? else {
            for event in &events[1..] {
                if self.find_id(round, event.event_id)?.is_some() {
                    return duplicate(event.event_id);
                }
            }
            return Ok(None);
        };
        if first.stream != *stream {
            return duplicate(events[0].event_id);
        }
        let mut last = first.clone();
        for event in &events[1..] {
            match self.find_id(round, event.event_id)? {
                Some(stored)
                    if stored.stream == first.stream
                        && stored.position == last.position.next()
                        && stored.version == last.version + 1 =>
                {
                    last = stored;
                }
                _ => return duplicate(events[0].event_id),
            }
        }
        Ok(Some(Appended {
            first_position: first.position,
            last_position: last.position,
            stream_version: last.version,
        }))
    }

    fn find_id(&self, round: &Round, id: Uuid) -> Result<Option<Stored>, AppendError> {
        if let Some(stored) = round.ids.get(&id) {
            return Ok(Some(stored.clone()));
        }
        let storage = |e: &dyn std::fmt::Display| AppendError::Storage(e.to_string());
        let Some(position) = self.tree.get(keys::event_id(id)).map_err(|e| storage(&e))? else {
            return Ok(None);
        };
        let position = Position(
            keys::decode_u64(&position)
                .ok_or_else(|| storage(&"malformed event id index entry"))?,
        );
        let bytes = self
            .tree
            .get(keys::event(position))
            .map_err(|e| storage(&e))?
            .ok_or_else(|| storage(&ReadError::Missing(position)))?;
        let record = record::decode(&bytes)
            .map_err(|source| storage(&ReadError::Corrupt { position, source }))?;
        Ok(Some(Stored {
            position,
            stream: record.stream_id,
            version: record.stream_version,
        }))
    }

    fn stored_version(&self, stream: &StreamId) -> Result<u64, AppendError> {
        let value = self
            .tree
            .get(keys::stream_head(stream))
            .map_err(|e| AppendError::Storage(e.to_string()))?;
        match value {
            None => Ok(0),
            Some(bytes) => keys::decode_u64(&bytes)
                .ok_or_else(|| AppendError::Storage(format!("malformed head of {stream}"))),
        }
    }
}

/// Turns every success of a round that could not be made durable into an
/// error: nothing is acknowledged before it is durable.
fn fail_successes(outcomes: Vec<Outcome>, error: impl Fn() -> AppendError) -> Vec<Outcome> {
    outcomes
        .into_iter()
        .map(|mut outcome| {
            if outcome.result.is_ok() {
                outcome.result = Err(error());
            }
            outcome
        })
        .collect()
}

fn reply(outcomes: Vec<Outcome>) {
    for outcome in outcomes {
        // A caller that gave up waiting is not an error of the log.
        let _ = outcome.reply.send(outcome.result);
    }
}
