//! A node's one writer: group commit over the head row's lock.
//!
//! Callers send appends through a channel. The writer takes everything
//! waiting (a round) and runs it as ONE transaction: lock the head row,
//! check each append (idempotent retries, expected versions), give
//! positions and extend the hash chain, insert every record at once, move
//! the head, notify the other nodes, commit. Each caller hears its own
//! outcome once the commit is durable.
//!
//! A round costs two round trips to the database, its statements prepared
//! once per connection and pipelined: the first opens the transaction,
//! locks the head and reads the round's stored ids and stream versions; the
//! second writes, moves the head, notifies and commits.

use std::collections::HashMap;
use std::sync::Arc;

use tahc_events::{Position, StreamId};
use tokio::sync::{Notify, mpsc};
use tokio_postgres::{Client, Config, Statement};
use uuid::Uuid;

use crate::append_queue::AppendJob;
use crate::error::AppendError;
use crate::log::Appended;
use crate::record::{self, Digest};

/// Most appends taken into one round.
const MAX_ROUND: usize = 512;

/// A statement parameter.
type Param<'a> = dyn tokio_postgres::types::ToSql + Sync + 'a;

/// Where an event id is stored.
#[derive(Clone)]
struct Stored {
    position: Position,
    stream: String,
    version: u64,
}

/// What one round has staged so far.
struct Round {
    head: Position,
    tail_hash: Digest,
    versions: HashMap<StreamId, u64>,
    ids: HashMap<Uuid, Stored>,
    positions: Vec<i64>,
    event_ids: Vec<Uuid>,
    streams: Vec<String>,
    stream_versions: Vec<i64>,
    records: Vec<Vec<u8>>,
}

/// The writer's statements, prepared on its connection.
struct Statements {
    head: Statement,
    stored_ids: Statement,
    stream_versions: Statement,
    insert: Statement,
    move_head: Statement,
    notify: Statement,
}

impl Statements {
    async fn prepare(client: &Client) -> Result<Statements, tokio_postgres::Error> {
        Ok(Statements {
            head: client
                .prepare("SELECT position, hash FROM tahc_log_head WHERE id = 1 FOR UPDATE")
                .await?,
            stored_ids: client
                .prepare(
                    "SELECT event_id, position, stream_id, stream_version FROM tahc_events
                     WHERE event_id = ANY($1)",
                )
                .await?,
            // One backward index step per stream, however long it is.
            stream_versions: client
                .prepare(
                    "SELECT s.stream_id, v.stream_version
                     FROM UNNEST($1::text[]) AS s(stream_id)
                     CROSS JOIN LATERAL (
                         SELECT e.stream_version FROM tahc_events e
                         WHERE e.stream_id = s.stream_id
                         ORDER BY e.stream_version DESC LIMIT 1
                     ) v",
                )
                .await?,
            insert: client
                .prepare(
                    "INSERT INTO tahc_events (position, event_id, stream_id, stream_version, record)
                     SELECT * FROM UNNEST($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::bytea[])",
                )
                .await?,
            move_head: client
                .prepare("UPDATE tahc_log_head SET position = $1, hash = $2 WHERE id = 1")
                .await?,
            notify: client
                .prepare("SELECT pg_notify('tahc_log', $1)")
                .await?,
        })
    }
}

/// The writer and its connection.
pub(super) struct Writer {
    client: Client,
    statements: Option<Statements>,
    config: Config,
    wake: Arc<Notify>,
}

impl Writer {
    pub fn new(client: Client, config: Config, wake: Arc<Notify>) -> Self {
        Writer {
            client,
            statements: None,
            config,
            wake,
        }
    }

    /// Commits rounds until every sender is gone.
    pub async fn run(mut self, mut jobs: mpsc::Receiver<AppendJob>) {
        while let Some(first) = jobs.recv().await {
            let mut round = vec![first];
            while round.len() < MAX_ROUND {
                match jobs.try_recv() {
                    Ok(job) => round.push(job),
                    Err(_) => break,
                }
            }
            if self.client.is_closed() {
                self.statements = None;
                match super::open(&self.config).await {
                    Ok(client) => self.client = client,
                    Err(error) => {
                        let message = format!("the database is unreachable: {error}");
                        for job in round {
                            let _ = job.reply.send(Err(AppendError::Storage(message.clone())));
                        }
                        continue;
                    }
                }
            }
            if self.statements.is_none() {
                match Statements::prepare(&self.client).await {
                    Ok(statements) => self.statements = Some(statements),
                    Err(error) => {
                        let message = format!("cannot prepare the log's statements: {error}");
                        for job in round {
                            let _ = job.reply.send(Err(AppendError::Storage(message.clone())));
                        }
                        continue;
                    }
                }
            }
            let statements = self.statements.as_ref().expect("prepared above");
            let committed = commit(&self.client, statements, &round).await;
            if committed.is_err() {
                // A failed round may leave its transaction open and aborted.
                let _ = self.client.batch_execute("ROLLBACK").await;
            }
            match committed {
                Ok(results) => {
                    for (job, result) in round.into_iter().zip(results) {
                        let _ = job.reply.send(result);
                    }
                    self.wake.notify_one();
                }
                Err(failure) => {
                    for job in round {
                        let _ = job.reply.send(Err(failure.to_error()));
                    }
                }
            }
        }
    }
}

/// Why a round failed as a whole.
enum Failure {
    /// Before the commit: nothing was stored.
    Refused(String),
    /// At the commit: the outcome is unknown.
    Unknown(String),
}

impl Failure {
    fn to_error(&self) -> AppendError {
        match self {
            Failure::Refused(message) => AppendError::Storage(message.clone()),
            Failure::Unknown(message) => AppendError::NotDurable(message.clone()),
        }
    }
}

/// Runs one round as one transaction in two pipelined round trips; each
/// append's own outcome.
async fn commit(
    client: &Client,
    statements: &Statements,
    jobs: &[AppendJob],
) -> Result<Vec<Result<Appended, AppendError>>, Failure> {
    let refused = |e: tokio_postgres::Error| Failure::Refused(e.to_string());
    let ids: Vec<Uuid> = jobs
        .iter()
        .flat_map(|job| job.events.iter().map(|e| e.event_id))
        .collect();
    let streams: Vec<&str> = jobs.iter().map(|job| job.stream.as_str()).collect();
    let (ids, streams): ([&Param<'_>; 1], [&Param<'_>; 1]) = ([&ids], [&streams]);
    let (begun, head, stored, versions) = tokio::join!(
        client.batch_execute("BEGIN"),
        client.query_one(&statements.head, &[]),
        client.query(&statements.stored_ids, &ids),
        client.query(&statements.stream_versions, &streams),
    );
    begun.map_err(refused)?;
    let head = head.map_err(refused)?;
    let tail: Vec<u8> = head.get(1);
    let mut round = Round {
        head: Position(head.get::<_, i64>(0) as u64),
        tail_hash: tail
            .try_into()
            .map_err(|_| Failure::Refused("the stored head hash is not 32 bytes".into()))?,
        versions: stream_versions(jobs, &versions.map_err(refused)?),
        ids: HashMap::new(),
        positions: Vec::new(),
        event_ids: Vec::new(),
        streams: Vec::new(),
        stream_versions: Vec::new(),
        records: Vec::new(),
    };
    let stored = stored_ids(&stored.map_err(refused)?);
    let results = jobs
        .iter()
        .map(|job| stage(&mut round, &stored, job))
        .collect();
    if round.positions.is_empty() {
        client.batch_execute("COMMIT").await.map_err(refused)?;
        return Ok(results);
    }
    let head = round.head.0 as i64;
    let (notice, tail_hash) = (head.to_string(), round.tail_hash.as_slice());
    let records: [&Param<'_>; 5] = [
        &round.positions,
        &round.event_ids,
        &round.streams,
        &round.stream_versions,
        &round.records,
    ];
    let (moved_head, notice): ([&Param<'_>; 2], [&Param<'_>; 1]) = ([&head, &tail_hash], [&notice]);
    let (inserted, moved, notified, committed) = tokio::join!(
        client.execute(&statements.insert, &records),
        client.execute(&statements.move_head, &moved_head),
        client.execute(&statements.notify, &notice),
        client.batch_execute("COMMIT"),
    );
    // A statement that failed turned the COMMIT into a rollback: nothing
    // was stored. Only a failing COMMIT leaves the outcome unknown.
    inserted.map_err(refused)?;
    moved.map_err(refused)?;
    notified.map_err(refused)?;
    committed.map_err(|e| Failure::Unknown(e.to_string()))?;
    Ok(results)
}

/// Checks one append against what is stored (`stored`: the round's ids
/// already in the table) and what the round staged, and stages its records
/// in `round`; its outcome (a refusal stages nothing).
fn stage(
    round: &mut Round,
    stored: &HashMap<Uuid, Stored>,
    job: &AppendJob,
) -> Result<Appended, AppendError> {
    if job.events.is_empty() {
        return Err(AppendError::Empty);
    }
    for (index, event) in job.events.iter().enumerate() {
        if let Err(reason) = record::check_fits(event) {
            return Err(AppendError::InvalidEvent { index, reason });
        }
    }
    let ids: Vec<Uuid> = job.events.iter().map(|e| e.event_id).collect();
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = ids.iter().find(|id| !seen.insert(**id)) {
        return Err(AppendError::DuplicateEventId { event_id: *twice });
    }
    let known: HashMap<Uuid, Stored> = ids
        .iter()
        .filter_map(|id| {
            round
                .ids
                .get(id)
                .or_else(|| stored.get(id))
                .map(|s| (*id, s.clone()))
        })
        .collect();
    if !known.is_empty() {
        return retried(job, &ids, &known);
    }
    let version = round.versions.get(&job.stream).copied().unwrap_or(0);
    if !job.expected.admits(version) {
        return Err(AppendError::Conflict {
            stream: job.stream.clone(),
            expected: job.expected,
            actual: version,
        });
    }
    let first = Position(round.head.0 + 1);
    let mut stream_version = version;
    for event in job.events.iter().cloned() {
        stream_version += 1;
        round.head = Position(round.head.0 + 1);
        let event_id = event.event_id;
        let (sealed, bytes) = record::seal(
            event,
            &job.stream,
            stream_version,
            round.head,
            round.tail_hash,
        );
        round.tail_hash = sealed.hash;
        round.ids.insert(
            event_id,
            Stored {
                position: round.head,
                stream: job.stream.as_str().to_owned(),
                version: stream_version,
            },
        );
        round.positions.push(round.head.0 as i64);
        round.event_ids.push(event_id);
        round.streams.push(job.stream.as_str().to_owned());
        round.stream_versions.push(stream_version as i64);
        round.records.push(bytes);
    }
    round.versions.insert(job.stream.clone(), stream_version);
    Ok(Appended {
        first_position: first,
        last_position: round.head,
        stream_version,
    })
}

/// Where the round's event ids are stored already, from the rows of
/// [`Statements::stored_ids`].
fn stored_ids(rows: &[tokio_postgres::Row]) -> HashMap<Uuid, Stored> {
    rows.iter()
        .map(|row| {
            let stored = Stored {
                position: Position(row.get::<_, i64>(1) as u64),
                stream: row.get(2),
                version: row.get::<_, i64>(3) as u64,
            };
            (row.get(0), stored)
        })
        .collect()
}

/// The stored version of every stream the round appends to (absent: no
/// such stream yet), from the rows of [`Statements::stream_versions`].
fn stream_versions(jobs: &[AppendJob], rows: &[tokio_postgres::Row]) -> HashMap<StreamId, u64> {
    let versions: HashMap<&str, u64> = rows
        .iter()
        .map(|row| (row.get::<_, &str>(0), row.get::<_, i64>(1) as u64))
        .collect();
    jobs.iter()
        .filter_map(|job| {
            versions
                .get(job.stream.as_str())
                .map(|version| (job.stream.clone(), *version))
        })
        .collect()
}

/// A retry of an append already stored returns its original result; ids
/// stored as anything else are refused.
fn retried(
    job: &AppendJob,
    ids: &[Uuid],
    stored: &HashMap<Uuid, Stored>,
) -> Result<Appended, AppendError> {
    let places: Option<Vec<&Stored>> = ids.iter().map(|id| stored.get(id)).collect();
    let same_append = places.as_ref().is_some_and(|places| {
        places.iter().all(|s| s.stream == job.stream.as_str())
            && places
                .windows(2)
                .all(|w| w[1].position.0 == w[0].position.0 + 1 && w[1].version == w[0].version + 1)
    });
    match places {
        Some(places) if same_append => Ok(Appended {
            first_position: places[0].position,
            last_position: places[places.len() - 1].position,
            stream_version: places[places.len() - 1].version,
        }),
        _ => {
            let reused = ids
                .iter()
                .find(|id| stored.contains_key(id))
                .copied()
                .unwrap_or_default();
            Err(AppendError::DuplicateEventId { event_id: reused })
        }
    }
}
