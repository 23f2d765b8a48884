//! Running a domain decision against the log: load the stream, fold it,
//! decide, append with the version that was loaded, and on a conflict do it
//! all again (bounded, with jitter).

use std::any::Any;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lru::LruCache;
use rand::Rng;
use tahc_domain::Aggregate;
use tahc_events::{Event, EventMeta, NewEvent, StreamId};
use tahc_store::{AppendError, Appended, ExpectedVersion, SharedLog};
use uuid::Uuid;

use crate::error::AppError;
use crate::vault::Vault;

/// How many times a command is decided again after losing a race.
const ATTEMPTS: u32 = 8;

/// Events read per page while loading a stream.
const PAGE: usize = 512;

/// An aggregate as loaded from its stream.
#[derive(Debug, Clone)]
pub struct Loaded<S> {
    /// Its state.
    pub state: S,
    /// The version of its last event (0: no stream).
    pub version: u64,
}

/// What a command did.
#[derive(Debug, Clone)]
pub struct Executed<S> {
    /// The state after the command.
    pub state: S,
    /// The events it caused (empty: nothing to do).
    pub events: Vec<Event>,
    /// Where they landed, when there were any.
    pub appended: Option<Appended>,
}

/// How the events of a command get their ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventIds {
    /// Fresh UUID v7s.
    Fresh,
    /// Derived from a seed (the triggering event's id): running the same
    /// reaction twice appends nothing twice, because the log treats a
    /// repeated id as the same append.
    DerivedFrom(Uuid),
}

/// Who, when and why, for the events of one command.
#[derive(Debug, Clone)]
pub struct Context {
    /// The envelope fields every event shares.
    pub meta: EventMeta,
    /// How event ids are chosen.
    pub ids: EventIds,
}

/// Loads and changes aggregates in the log.
#[derive(Clone)]
pub struct Aggregates {
    log: SharedLog,
    vault: Arc<Vault>,
    recent: Arc<Mutex<LruCache<StreamId, Recent>>>,
    /// Streams this node is changing right now: one command per stream at a
    /// time, so commands on a busy stream queue instead of losing races to
    /// each other (other nodes may still race; the retries are for them).
    writing: Arc<Mutex<HashMap<StreamId, Arc<tokio::sync::Mutex<()>>>>>,
    /// When the last append failed for the storage (a full or failing
    /// disk), if none has succeeded since.
    storage_failed: Arc<Mutex<Option<std::time::Instant>>>,
}

/// A stream's state as last folded, so the next load reads only the
/// events after it instead of the whole stream again.
struct Recent {
    workspace_id: Uuid,
    version: u64,
    state: Box<dyn Any + Send>,
}

/// Streams whose folded state is kept: the ones written or loaded most
/// recently, so a busy node's memory for them stays flat (a few MiB) however
/// many conversations it has seen. A stream that fell out is folded from the
/// log again, as always.
const RECENT_STREAMS: NonZeroUsize = NonZeroUsize::new(4_096).expect("not zero");

impl Aggregates {
    /// Over a log, sealing personal data with the keys of `vault`.
    #[must_use]
    pub fn new(log: SharedLog, vault: Arc<Vault>) -> Self {
        Aggregates {
            log,
            vault,
            recent: Arc::new(Mutex::new(LruCache::new(RECENT_STREAMS))),
            writing: Arc::default(),
            storage_failed: Arc::default(),
        }
    }

    fn recall<S: Clone + 'static>(&self, stream: &StreamId) -> Option<(Uuid, Loaded<S>)> {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = recent.get(stream)?;
        let state = kept.state.downcast_ref::<S>()?.clone();
        Some((
            kept.workspace_id,
            Loaded {
                state,
                version: kept.version,
            },
        ))
    }

    fn remember<S: Send + 'static>(
        &self,
        stream: &StreamId,
        workspace_id: Uuid,
        version: u64,
        state: S,
    ) {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent.put(
            stream.clone(),
            Recent {
                workspace_id,
                version,
                state: Box::new(state),
            },
        );
    }

    /// The log underneath.
    #[must_use]
    pub fn log(&self) -> &SharedLog {
        &self.log
    }

    /// The keys personal data is sealed with.
    #[must_use]
    pub fn vault(&self) -> &Arc<Vault> {
        &self.vault
    }

    /// Loads the aggregate of `stream` in `workspace_id`. A stream of another
    /// workspace is `NotFound`, exactly like a stream that does not exist,
    /// so its existence never leaks and nothing is ever written into it.
    pub async fn load<A: Aggregate>(
        &self,
        stream: &StreamId,
        workspace_id: Uuid,
    ) -> Result<Loaded<A::State>, AppError> {
        let (mut state, mut version) = match self.recall::<A::State>(stream) {
            Some((owner, _)) if owner != workspace_id => {
                return Err(AppError::NotFound {
                    what: category_name(stream),
                });
            }
            Some((_, loaded)) => (loaded.state, loaded.version),
            None => (A::State::default(), 0),
        };
        let known = version;
        loop {
            let page = self.log.read_stream(stream, version, PAGE).await?;
            let Some(last) = page.last() else { break };
            let last_version = last.stream_version;
            for recorded in page {
                if recorded.workspace_id != workspace_id {
                    return Err(AppError::NotFound {
                        what: category_name(stream),
                    });
                }
                let mut event = recorded.decode().map_err(|source| AppError::Decode {
                    position: recorded.position,
                    source,
                })?;
                event.open_with(&*self.vault)?;
                state = A::evolve(state, &event);
            }
            version = last_version;
        }
        if version != known {
            self.remember(stream, workspace_id, version, state.clone());
        }
        Ok(Loaded { state, version })
    }

    /// Decides `command` (built from the current state, so that a retry
    /// decides afresh) and appends its events, retrying on conflicts.
    pub async fn execute<A: Aggregate>(
        &self,
        stream: &StreamId,
        context: &Context,
        command: impl FnMut(&A::State) -> Result<A::Command, AppError>,
    ) -> Result<Executed<A::State>, AppError> {
        let turn = {
            let mut writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
            writing.entry(stream.clone()).or_default().clone()
        };
        let executed = {
            let _turn = turn.clone().lock_owned().await;
            self.execute_in_turn::<A>(stream, context, command).await
        };
        drop(turn);
        let mut writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        if writing
            .get(stream)
            .is_some_and(|turn| Arc::strong_count(turn) == 1)
        {
            writing.remove(stream);
        }
        executed
    }

    async fn execute_in_turn<A: Aggregate>(
        &self,
        stream: &StreamId,
        context: &Context,
        mut command: impl FnMut(&A::State) -> Result<A::Command, AppError>,
    ) -> Result<Executed<A::State>, AppError> {
        for attempt in 0..ATTEMPTS {
            let loaded = self.load::<A>(stream, context.meta.workspace_id).await?;
            let events = A::decide(&loaded.state, command(&loaded.state)?)?;
            if events.is_empty() {
                return Ok(Executed {
                    state: loaded.state,
                    events,
                    appended: None,
                });
            }
            let state = events.iter().fold(loaded.state, A::evolve);
            let mut sealed = events.clone();
            if let Some(subject) = A::subject(stream, &state) {
                for event in &mut sealed {
                    self.vault.seal(subject.as_str(), event)?;
                }
            }
            let new_events = encode(stream, &sealed, context)?;
            let expected = match loaded.version {
                0 => ExpectedVersion::NoStream,
                version => ExpectedVersion::Exact(version),
            };
            let appending = std::time::Instant::now();
            let count = new_events.len() as u64;
            let outcome = self.log.append(stream, expected, new_events).await;
            metrics::histogram!("tahc_append_seconds").record(appending.elapsed().as_secs_f64());
            let storage_failed = matches!(
                outcome,
                Err(AppendError::DiskFull { .. }
                    | AppendError::NotDurable(_)
                    | AppendError::Storage(_))
            );
            *self
                .storage_failed
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = storage_failed.then(std::time::Instant::now);
            match outcome {
                Ok(appended) => {
                    metrics::counter!("tahc_appended_events_total").increment(count);
                    self.remember(
                        stream,
                        context.meta.workspace_id,
                        loaded.version + events.len() as u64,
                        state.clone(),
                    );
                    return Ok(Executed {
                        state,
                        events,
                        appended: Some(appended),
                    });
                }
                Err(AppendError::Conflict { .. }) => {
                    let ceiling = 1u64 << attempt.min(6);
                    let pause = rand::rng().random_range(0..=ceiling);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::Contention {
            stream: stream.clone(),
        })
    }
}

/// How long a failed append keeps the node unready when no append comes
/// after it: long enough for a load balancer to see it, short enough that
/// a node that got no traffic meanwhile tries again once space is freed.
const STORAGE_FAILURE_SHOWS: Duration = Duration::from_secs(10);

impl Aggregates {
    /// Whether an append failed for the storage in the last
    /// [`STORAGE_FAILURE_SHOWS`] and none has succeeded since.
    #[must_use]
    pub fn storage_failing(&self) -> bool {
        self.storage_failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|failed| failed.elapsed() < STORAGE_FAILURE_SHOWS)
    }
}

fn encode(
    stream: &StreamId,
    events: &[Event],
    context: &Context,
) -> Result<Vec<NewEvent>, AppError> {
    events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let id = match context.ids {
                EventIds::Fresh => Uuid::now_v7(),
                EventIds::DerivedFrom(seed) => derived_id(seed, stream, index),
            };
            Ok(NewEvent::encode_with_id(id, event, &context.meta)?)
        })
        .collect()
}

/// A stable id for the `index`th event a reaction to `seed` appends to
/// `stream`.
fn derived_id(seed: Uuid, stream: &StreamId, index: usize) -> Uuid {
    let mut hasher = blake3::Hasher::new();
    hasher.update(seed.as_bytes());
    hasher.update(stream.as_str().as_bytes());
    hasher.update(&(index as u64).to_be_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_bytes()[..16]);
    Uuid::new_v8(bytes)
}

fn category_name(stream: &StreamId) -> &'static str {
    stream
        .parse()
        .map_or("stream", |(category, _)| category.prefix())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tahc_events::StreamCategory;
    use tahc_store::{EventStore, SledLog};

    fn aggregates() -> (tempfile::TempDir, Aggregates) {
        let dir = tempfile::TempDir::new().unwrap();
        let log = SledLog::open(dir.path()).unwrap();
        let vault = Arc::new(Vault::new(log.subject_keys()));
        (dir, Aggregates::new(Arc::new(log), vault))
    }

    fn conversation(n: usize) -> StreamId {
        crate::stream(StreamCategory::Conversation, Uuid::from_u128(n as u128))
    }

    #[test]
    fn the_remembered_states_are_bounded_and_the_least_recently_used_goes_first() {
        let (_dir, aggregates) = aggregates();
        let workspace = Uuid::from_u128(1);
        for n in 0..RECENT_STREAMS.get() {
            aggregates.remember(&conversation(n), workspace, 1, n);
        }
        // Touching the oldest keeps it; the next new stream pushes out the
        // second oldest instead.
        assert!(aggregates.recall::<usize>(&conversation(0)).is_some());
        aggregates.remember(&conversation(RECENT_STREAMS.get()), workspace, 1, 0usize);

        let recent = aggregates.recent.lock().unwrap();
        assert_eq!(recent.len(), RECENT_STREAMS.get());
        assert!(recent.contains(&conversation(0)));
        assert!(!recent.contains(&conversation(1)));
        assert!(recent.contains(&conversation(RECENT_STREAMS.get())));
    }
}
