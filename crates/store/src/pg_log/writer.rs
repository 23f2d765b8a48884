//! A node's one writer: group commit over the head row.
//!
//! Callers send appends through a channel. The writer takes everything
//! waiting (a round) and runs it as ONE transaction: check each append
//! (idempotent retries, expected versions), give positions and extend the
//! hash chain, insert every record at once, move the head, notify the other
//! nodes, commit. Each caller hears its own outcome once the commit is
//! durable, and the node's live feed gets the round's events without
//! reading them back.
//!
//! **One round trip** when the writer knows every stream of the round: it
//! remembers the head, its hash and the versions of the streams it wrote
//! ([`Known`]), exact for as long as no other node appends. Such a round
//! stages from memory and sends one statement that moves the head,
//! inserts and notifies, and is a transaction of its own; it moves the
//! head only if it is still where this writer left it, and writes nothing
//! otherwise, so a stale memory stores nothing. **Two
//! round trips** otherwise (a stream it has not seen, another node
//! appended, an event id stored already): the first locks the head row and
//! reads the round's stored ids and stream versions, the second writes and
//! commits. Statements are prepared once per connection and pipelined.
//!
//! **Two rounds in flight.** A one-trip round is sent behind the one before
//! it before that one has landed, following on from its head: the database
//! has the next round queued while it flushes the last commit. If a round
//! stores nothing, the rounds behind it (which began at its head) store
//! nothing either, and all of them go again in two trips, in order.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use tahc_events::{Position, RecordedEvent, StreamId};
use tokio::sync::mpsc;
use tokio_postgres::{Client, Config, Statement};
use uuid::Uuid;

use super::Publisher;
use crate::append_queue::AppendJob;
use crate::error::AppendError;
use crate::log::Appended;
use crate::record::{self, Digest};
use crate::stream_versions::StreamVersions;

/// At most how many times the writer yields to gather a round.
const GATHER: usize = 4;
/// Most appends taken into one round.
const MAX_ROUND: usize = 512;

/// One-trip rounds sent before the first of them lands: the database
/// works on the next while the last one's commit is flushed and answered.
const IN_FLIGHT: usize = 2;

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
    bytes: Vec<Vec<u8>>,
    sealed: Vec<RecordedEvent>,
}

impl Round {
    /// A round starting at `head`, whose streams stand at `versions`.
    fn new(head: Position, tail_hash: Digest, versions: HashMap<StreamId, u64>) -> Round {
        Round {
            head,
            tail_hash,
            versions,
            ids: HashMap::new(),
            positions: Vec::new(),
            event_ids: Vec::new(),
            streams: Vec::new(),
            stream_versions: Vec::new(),
            bytes: Vec::new(),
            sealed: Vec::new(),
        }
    }
}

/// What the writer knows of the log since its last round, so that a round
/// need not read it first: exact while no other node appends, which every
/// one-trip round checks as it commits.
struct Known {
    /// The head and its hash as this writer's last round left them; `None`
    /// when unknown (at start, after a failed round).
    head: Option<(Position, Digest)>,
    /// The versions of the streams written most recently.
    versions: StreamVersions,
    /// Whether the last round found no other node's appends since the one
    /// before: one-trip rounds are tried only then, so that nodes writing
    /// together do not keep paying for attempts that miss.
    alone: bool,
}

impl Known {
    fn new() -> Known {
        Known {
            head: None,
            versions: StreamVersions::new(),
            alone: false,
        }
    }

    /// The head, its hash and the versions of `jobs`' streams, when a
    /// one-trip round may be tried.
    fn one_trip(&mut self, jobs: &[AppendJob]) -> Option<Round> {
        let (head, tail_hash) = self.head.filter(|_| self.alone)?;
        let mut versions = HashMap::with_capacity(jobs.len());
        for job in jobs {
            versions.insert(job.stream.clone(), self.versions.get(&job.stream)?);
        }
        Some(Round::new(head, tail_hash, versions))
    }

    /// A two-trip round read `head` under the lock: if another node moved
    /// it since this writer's last round, what is remembered is stale.
    fn read_head(&mut self, head: Position) {
        self.alone = self.head.is_some_and(|(known, _)| known == head);
        if !self.alone {
            self.versions.clear();
        }
    }

    /// A round committed: the log stands where it left it.
    fn committed(&mut self, round: &Round) {
        self.head = Some((round.head, round.tail_hash));
        for (stream, version) in &round.versions {
            self.versions.written(stream.clone(), *version);
        }
    }

    /// Forgets everything (a round failed; its outcome may be unknown).
    fn forget(&mut self) {
        *self = Known::new();
    }
}

/// The writer's statements, prepared on its connection.
struct Statements {
    head: Statement,
    stored_ids: Statement,
    stream_versions: Statement,
    write: Statement,
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
            // Moves the head from ($8, $9) to ($6, $7), inserts the records
            // and notifies the other nodes, or, if the head is not at ($8,
            // $9), does nothing (0 rows). The hash tells this writer's chain
            // from another's that reached the same position. One statement,
            // so that outside a transaction block it is a transaction of
            // its own: one message, one answer, committed before it.
            write: client
                .prepare(
                    "WITH moved AS (
                         UPDATE tahc_log_head SET position = $6, hash = $7
                         WHERE id = 1 AND position = $8 AND hash = $9 RETURNING position
                     ), inserted AS (
                         INSERT INTO tahc_events (position, event_id, stream_id, stream_version, record)
                         SELECT * FROM UNNEST($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::bytea[])
                         WHERE EXISTS (SELECT 1 FROM moved)
                     )
                     SELECT pg_notify('tahc_log', position::text) FROM moved",
                )
                .await?,
        })
    }
}

/// A one-trip round on its way to the database: its appends, their
/// outcomes as staged, and the round.
struct Flight {
    jobs: Vec<AppendJob>,
    results: Vec<Result<Appended, AppendError>>,
    round: Round,
}

/// A flight and what its write came to (whether it stored the round).
type Landing = Pin<Box<dyn Future<Output = (Flight, Result<bool, Failure>)> + Send>>;

/// The writer and its connection.
pub(super) struct Writer {
    client: Arc<Client>,
    statements: Option<Arc<Statements>>,
    config: Config,
    publisher: Arc<Publisher>,
    known: Known,
    /// One-trip rounds in flight, in the order sent.
    in_flight: FuturesOrdered<Landing>,
    /// Appends of rounds that missed, to go again in two trips.
    missed: Vec<Vec<AppendJob>>,
}

impl Writer {
    pub fn new(client: Client, config: Config, publisher: Arc<Publisher>) -> Self {
        Writer {
            client: Arc::new(client),
            statements: None,
            config,
            publisher,
            known: Known::new(),
            in_flight: FuturesOrdered::new(),
            missed: Vec::new(),
        }
    }

    /// Commits rounds until every sender is gone.
    pub async fn run(mut self, mut queue: mpsc::Receiver<AppendJob>) {
        loop {
            self.retry_missed().await;
            tokio::select! {
                biased;
                Some((flight, written)) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    self.land(flight, written);
                }
                job = queue.recv(), if self.in_flight.len() < IN_FLIGHT => {
                    let Some(first) = job else { break };
                    let mut jobs = vec![first];
                    // Appends answered by the last round are on their way
                    // back: gather while they keep coming.
                    for _ in 0..GATHER {
                        tokio::task::yield_now().await;
                        let before = jobs.len();
                        while jobs.len() < MAX_ROUND {
                            match queue.try_recv() {
                                Ok(job) => jobs.push(job),
                                Err(_) => break,
                            }
                        }
                        if jobs.len() == before {
                            break;
                        }
                    }
                    self.take(jobs).await;
                }
            }
        }
        self.land_all().await;
        self.retry_missed().await;
    }

    /// Once every round in flight has landed, runs the rounds that missed
    /// (or could not go in one trip) in two trips, in order.
    async fn retry_missed(&mut self) {
        if self.missed.is_empty() {
            return;
        }
        self.land_all().await;
        for jobs in std::mem::take(&mut self.missed) {
            self.two_trips(jobs).await;
        }
    }

    /// Sends a round in one trip behind those in flight when the writer
    /// knows its streams, or else leaves it for two (once those landed).
    async fn take(&mut self, jobs: Vec<AppendJob>) {
        if self.client.is_closed() {
            self.land_all().await;
        }
        if self.in_flight.is_empty() {
            if let Err(failure) = self.connected().await {
                return reply_all(jobs, &failure);
            }
        }
        let Some(mut round) = self.known.one_trip(&jobs) else {
            return self.missed.push(jobs);
        };
        let from = (round.head, round.tail_hash);
        let results: Vec<_> = jobs
            .iter()
            .map(|job| stage(&mut round, &HashMap::new(), job))
            .collect();
        if round.positions.is_empty() {
            // A refusal is certain only once a commit proved the memory
            // current: the two-trip round reads what is stored.
            return self.missed.push(jobs);
        }
        // The next round follows on from this one, before it lands.
        self.known.committed(&round);
        self.publisher.claim(round.head);
        let (client, statements) = (self.client.clone(), self.statements.clone());
        let statements = statements.expect("prepared before a one-trip round");
        self.in_flight.push_back(Box::pin(async move {
            let flight = Flight {
                jobs,
                results,
                round,
            };
            let written = write(&client, &statements, &flight.round, from, Transaction::Own).await;
            (flight, written)
        }));
    }

    /// Answers a landed one-trip round; one that stored nothing (and, as
    /// they follow on from it, every round behind it) goes again in two
    /// trips.
    fn land(&mut self, flight: Flight, written: Result<bool, Failure>) {
        match written {
            Ok(true) => {
                self.publisher.publish(flight.round.sealed);
                reply_each(flight.jobs, flight.results);
            }
            Ok(false) | Err(Failure::Refused(_)) => {
                self.lose_track();
                self.missed.push(flight.jobs);
            }
            Err(unknown) => {
                self.lose_track();
                reply_all(flight.jobs, &unknown);
            }
        }
    }

    /// Waits for every round in flight and answers it.
    async fn land_all(&mut self) {
        while let Some((flight, written)) = self.in_flight.next().await {
            self.land(flight, written);
        }
    }

    /// Runs a round in two trips (none in flight), reading what is stored.
    async fn two_trips(&mut self, jobs: Vec<AppendJob>) {
        if let Err(failure) = self.connected().await {
            return reply_all(jobs, &failure);
        }
        let statements = self.statements.clone().expect("prepared above");
        let committed = two_trips(&self.client, &statements, &mut self.known, &jobs).await;
        match committed {
            Ok((results, round)) => {
                self.known.committed(&round);
                self.publisher.publish(round.sealed);
                reply_each(jobs, results);
            }
            Err(failure) => {
                // A failed round may leave its transaction open and aborted.
                let _ = self.client.batch_execute("ROLLBACK").await;
                self.lose_track();
                reply_all(jobs, &failure);
            }
        }
    }

    /// After a round that stored nothing or failed: what the writer
    /// remembers and has claimed may not be what is stored.
    fn lose_track(&mut self) {
        self.known.forget();
        self.publisher.release();
    }

    /// Opens the connection again if it was lost and prepares the
    /// statements on it.
    async fn connected(&mut self) -> Result<(), Failure> {
        if self.client.is_closed() {
            self.statements = None;
            let client = super::open(&self.config).await.map_err(|error| {
                Failure::Refused(format!("the database is unreachable: {error}"))
            })?;
            self.client = Arc::new(client);
        }
        if self.statements.is_none() {
            let statements = Statements::prepare(&self.client).await.map_err(|error| {
                Failure::Refused(format!("cannot prepare the log's statements: {error}"))
            })?;
            self.statements = Some(Arc::new(statements));
        }
        Ok(())
    }
}

/// Answers each append of a round with its own outcome.
fn reply_each(jobs: Vec<AppendJob>, results: Vec<Result<Appended, AppendError>>) {
    for (job, result) in jobs.into_iter().zip(results) {
        let _ = job.reply.send(result);
    }
}

/// Answers every append of a round that failed as a whole.
fn reply_all(jobs: Vec<AppendJob>, failure: &Failure) {
    for job in jobs {
        let _ = job.reply.send(Err(failure.to_error()));
    }
}

/// Why a round failed as a whole.
enum Failure {
    /// Nothing was stored.
    Refused(String),
    /// The connection failed at the commit: the outcome is unknown.
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

/// Locks the head and reads the round's stored ids and stream versions,
/// then writes the round.
async fn two_trips(
    client: &Client,
    statements: &Statements,
    known: &mut Known,
    jobs: &[AppendJob],
) -> Result<(Vec<Result<Appended, AppendError>>, Round), Failure> {
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
    let from = Position(head.get::<_, i64>(0) as u64);
    let tail: Vec<u8> = head.get(1);
    let tail_hash: Digest = tail
        .try_into()
        .map_err(|_| Failure::Refused("the stored head hash is not 32 bytes".into()))?;
    known.read_head(from);
    let mut round = Round::new(
        from,
        tail_hash,
        stream_versions(jobs, &versions.map_err(refused)?),
    );
    let stored = stored_ids(&stored.map_err(refused)?);
    let results = jobs
        .iter()
        .map(|job| stage(&mut round, &stored, job))
        .collect();
    if round.positions.is_empty() {
        client.batch_execute("COMMIT").await.map_err(refused)?;
        return Ok((results, round));
    }
    match write(
        client,
        statements,
        &round,
        (from, tail_hash),
        Transaction::Open,
    )
    .await?
    {
        true => Ok((results, round)),
        false => Err(Failure::Refused(
            "the head moved while its row was locked".into(),
        )),
    }
}

/// The transaction a round's write runs in.
#[derive(Clone, Copy)]
enum Transaction {
    /// None open: the write is a transaction of its own.
    Own,
    /// The two-trip round's, open and holding the head: committed after.
    Open,
}

/// Inserts the round's records if the head is still at `from` (position
/// and hash; moving it), notifies the other nodes and commits, in one
/// round trip; whether it stored the round (false: the head had moved,
/// nothing was stored).
async fn write(
    client: &Client,
    statements: &Statements,
    round: &Round,
    from: (Position, Digest),
    transaction: Transaction,
) -> Result<bool, Failure> {
    let (head, from_hash) = (round.head.0 as i64, from.1.as_slice());
    let (from, tail_hash) = (from.0.0 as i64, round.tail_hash.as_slice());
    let records: [&Param<'_>; 9] = [
        &round.positions,
        &round.event_ids,
        &round.streams,
        &round.stream_versions,
        &round.bytes,
        &head,
        &tail_hash,
        &from,
        &from_hash,
    ];
    let (written, committed) = match transaction {
        Transaction::Own => (client.execute(&statements.write, &records).await, Ok(())),
        Transaction::Open => tokio::join!(
            client.execute(&statements.write, &records),
            client.batch_execute("COMMIT"),
        ),
    };
    let (stored, failed) = match written {
        Ok(rows) => (rows > 0, None),
        Err(error) => (false, Some(error)),
    };
    settle(failed, committed)?;
    Ok(stored)
}

/// What a failed write (`failed`) and the COMMIT's own result (`Ok` where
/// the write was its own transaction) mean: the server refusing a
/// statement rolled the transaction back; a connection failing leaves the
/// commit unknown.
fn settle(
    failed: Option<tokio_postgres::Error>,
    committed: Result<(), tokio_postgres::Error>,
) -> Result<(), Failure> {
    match (failed, committed) {
        (None, Ok(())) => Ok(()),
        (Some(error), _) if error.as_db_error().is_some() => {
            Err(Failure::Refused(error.to_string()))
        }
        (None, Err(error)) if error.as_db_error().is_some() => {
            Err(Failure::Refused(error.to_string()))
        }
        (Some(error), _) | (None, Err(error)) => Err(Failure::Unknown(error.to_string())),
    }
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
        round.bytes.push(bytes);
        round.sealed.push(sealed);
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
