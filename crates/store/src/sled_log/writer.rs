//! The one writer that owns the tail of the log (group commit, pipelined).
//!
//! Callers send appends through a channel. The writer takes everything that
//! is waiting (a round), checks each append against the stream heads, gives
//! positions, extends the hash chain, and writes the whole round as ONE
//! atomic sled batch. It then hands the round to the flusher and goes on with
//! the next one. The flusher makes everything written so far durable with one
//! flush and fsync, and only then acknowledges every caller of the rounds it
//! covered and publishes their records, in order. A round thus costs the
//! larger of "check and write" and "make durable", not their sum, and one
//! fsync covers every round written while the previous one was running.
//!
//! When a flush fails (a full or failing disk), nothing it covered is
//! acknowledged, and neither is anything written after it: rounds carry the
//! writer's epoch, and the flusher fails every round of a failed epoch. The
//! writer then takes back everything after the last durable position before
//! its next round, in a new epoch, so the log goes on from there — gap-free,
//! its hash chain intact — as soon as the disk works again.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;

use tahc_events::{NewEvent, Position, RecordedEvent, StreamId};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::durability::Durability;
use super::reserve::DiskReserve;
use super::{Shared, keys};
use crate::append_queue::AppendJob;
use crate::error::{AppendError, ReadError};
use crate::log::{Appended, ExpectedVersion};
use crate::record::{self, Digest};
use crate::stream_versions::StreamVersions;

/// Most appends taken into one round.
const MAX_ROUND: usize = 1024;

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

/// A round written to sled, waiting to be made durable.
struct Written {
    outcomes: Vec<Outcome>,
    records: Vec<RecordedEvent>,
    head: Position,
    epoch: u64,
}

/// Checks appends and writes rounds; owns the tail of the log.
pub(super) struct Writer {
    tree: sled::Tree,
    /// Free space kept on the disk: below it, rounds are refused whole.
    reserve: DiskReserve,
    head: Position,
    tail_hash: Digest,
    /// Versions of recently written streams, as stored.
    stream_heads: StreamVersions,
    jobs: mpsc::Receiver<AppendJob>,
    written: std_mpsc::Sender<Written>,
    flusher: JoinHandle<()>,
    /// Counts roll-backs: the rounds of one epoch stand or fall together.
    epoch: u64,
    shared: Arc<Shared>,
}

/// Makes written rounds durable, then acknowledges and publishes them.
struct Flusher {
    db: sled::Db,
    durability: Durability,
    shared: Arc<Shared>,
    written: std_mpsc::Receiver<Written>,
    /// The last epoch a flush failed in, and why: its rounds are never
    /// acknowledged.
    failed: Option<(u64, String)>,
}

impl Writer {
    /// A writer continuing the log after `head`, whose record hashes to
    /// `tail_hash`, with its flusher thread started.
    pub fn start(
        db: sled::Db,
        tree: sled::Tree,
        (durability, reserve): (Durability, DiskReserve),
        (head, tail_hash): (Position, Digest),
        shared: Arc<Shared>,
        jobs: mpsc::Receiver<AppendJob>,
    ) -> std::io::Result<Self> {
        let (sender, written) = std_mpsc::channel();
        let flusher = Flusher {
            db,
            durability,
            shared: shared.clone(),
            written,
            failed: None,
        };
        let flusher = std::thread::Builder::new()
            .name("tahc-log-flusher".into())
            .spawn(move || flusher.run())?;
        Ok(Writer {
            tree,
            reserve,
            head,
            tail_hash,
            stream_heads: StreamVersions::new(),
            jobs,
            written: sender,
            flusher,
            epoch: 0,
            shared,
        })
    }

    /// Runs rounds until every sender is gone, then waits for the flusher's
    /// last flush.
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
        drop(self.written);
        if self.flusher.join().is_err() {
            tracing::error!("the event log flusher panicked");
        }
    }

    fn commit(&mut self, jobs: Vec<AppendJob>) {
        if let Err(shortage) = self.reserve.check() {
            return refuse(jobs, || shortage.into());
        }
        if self.shared.roll_back.load(Ordering::Acquire) {
            if let Err(error) = self.roll_back() {
                tracing::error!(%error, "taking back writes that were not made durable failed");
                return refuse(jobs, || AppendError::Storage(error.to_string()));
            }
        }
        let mut round = Round {
            batch: sled::Batch::default(),
            head: self.head,
            tail_hash: self.tail_hash,
            stream_heads: HashMap::new(),
            ids: HashMap::new(),
            records: Vec::new(),
        };
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in jobs {
            let result = self.stage(&mut round, &job.stream, job.expected, job.events);
            outcomes.push(Outcome {
                reply: job.reply,
                result,
            });
        }
        // Successes, even idempotent repeats of appends that may not be
        // durable yet, are acknowledged by the flusher only.
        if outcomes.iter().all(|outcome| outcome.result.is_err()) {
            return reply(outcomes);
        }
        if let Err(error) = self.tree.apply_batch(round.batch) {
            tracing::error!(%error, "event log write failed");
            return reply(fail_successes(outcomes, || {
                AppendError::Storage(error.to_string())
            }));
        }
        self.head = round.head;
        self.tail_hash = round.tail_hash;
        for (stream, version) in round.stream_heads {
            self.stream_heads.written(stream, version);
        }
        let written = Written {
            outcomes,
            records: round.records,
            head: self.head,
            epoch: self.epoch,
        };
        if let Err(std_mpsc::SendError(written)) = self.written.send(written) {
            reply(fail_successes(written.outcomes, || {
                AppendError::NotDurable("the flusher has stopped".into())
            }));
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
        let current = match round
            .stream_heads
            .get(stream)
            .copied()
            .or_else(|| self.stream_heads.get(stream))
        {
            Some(version) => version,
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

    /// Takes back every record after the durable head (written, never
    /// acknowledged: a flush failed), so the next round follows the last
    /// durable record. Until the disk works again the removals stay in
    /// memory; a crash meanwhile may keep some of those rounds, whole, as
    /// sled's batches are atomic, which their callers were told may happen.
    fn roll_back(&mut self) -> Result<(), AppendError> {
        let storage = |e: &dyn std::fmt::Display| AppendError::Storage(e.to_string());
        let durable = Position(self.shared.durable_head.load(Ordering::Acquire));
        let mut batch = sled::Batch::default();
        let mut tail_hash = record::GENESIS;
        for entry in self
            .tree
            .range(keys::event(durable)..=keys::event(self.head))
        {
            let (key, bytes) = entry.map_err(|e| storage(&e))?;
            let record = record::decode(&bytes).map_err(|e| storage(&e))?;
            if record.position == durable {
                tail_hash = record.hash;
                continue;
            }
            batch.remove(key);
            batch.remove(keys::stream_entry(&record.stream_id, record.stream_version));
            batch.remove(&keys::event_id(record.event_id));
        }
        self.tree.apply_batch(batch).map_err(|e| storage(&e))?;
        tracing::warn!(from = %durable, to = %self.head, "took back writes a failed flush left unacknowledged");
        self.head = durable;
        self.tail_hash = tail_hash;
        self.stream_heads.clear();
        self.epoch += 1;
        self.shared.roll_back.store(false, Ordering::Release);
        Ok(())
    }

    /// The version of the stream's last stored event (0: no stream), from
    /// the last entry of its index.
    fn stored_version(&self, stream: &StreamId) -> Result<u64, AppendError> {
        let last = self
            .tree
            .range(keys::stream_prefix(stream)..keys::stream_end(stream))
            .next_back()
            .transpose()
            .map_err(|e| AppendError::Storage(e.to_string()))?;
        match last {
            None => Ok(0),
            Some((key, _)) => keys::stream_version(&key)
                .ok_or_else(|| AppendError::Storage(format!("malformed index of {stream}"))),
        }
    }
}

impl Flusher {
    fn run(mut self) {
        while let Ok(first) = self.written.recv() {
            let mut rounds = vec![first];
            rounds.extend(self.written.try_iter());
            self.flush(rounds);
        }
        if let Err(error) = self.durability.make_durable(&self.db) {
            tracing::error!(%error, "final flush of the event log failed");
        }
        self.shared.live.close();
    }

    fn flush(&mut self, mut rounds: Vec<Written>) {
        // Rounds of an epoch that failed follow records that were taken
        // back: they fail too.
        if let Some((epoch, cause)) = &self.failed {
            let stale = rounds.partition_point(|round| round.epoch <= *epoch);
            for round in rounds.drain(..stale) {
                reply(fail_successes(round.outcomes, || {
                    AppendError::NotDurable(cause.clone())
                }));
            }
        }
        if rounds.is_empty() {
            return;
        }
        if let Err(error) = self.durability.make_durable(&self.db) {
            tracing::error!(%error, "event log flush failed");
            let epoch = rounds.iter().map(|round| round.epoch).max();
            self.failed = epoch.map(|epoch| (epoch, error.to_string()));
            self.shared.roll_back.store(true, Ordering::Release);
            for round in rounds {
                reply(fail_successes(round.outcomes, || {
                    AppendError::NotDurable(error.to_string())
                }));
            }
            return;
        }
        let head = rounds.last().map_or(Position::START, |round| round.head);
        self.shared.durable_head.fetch_max(head.0, Ordering::AcqRel);
        let events = rounds.iter().map(|round| round.records.len()).sum();
        self.shared.record_flush(events);
        let mut published = Vec::with_capacity(rounds.len());
        for round in rounds {
            reply(round.outcomes);
            published.push(round.records);
        }
        for records in published.into_iter().filter(|r| !r.is_empty()) {
            self.shared.live.publish(records.into());
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

/// Answers every append of a round that cannot be written with `error`.
fn refuse(jobs: Vec<AppendJob>, error: impl Fn() -> AppendError) {
    reply(
        jobs.into_iter()
            .map(|job| Outcome {
                reply: job.reply,
                result: Err(error()),
            })
            .collect(),
    );
}

fn reply(outcomes: Vec<Outcome>) {
    for outcome in outcomes {
        // A caller that gave up waiting is not an error of the log.
        let _ = outcome.reply.send(outcome.result);
    }
}
