//! Copying a whole log into an empty PostgreSQL log (`tahc migrate`): every
//! record exactly as it was stored — positions, stream versions, hash chain
//! — with the subject keys and the secrets its nodes must share, in one
//! transaction: all of it or nothing.

use tahc_events::Position;

use super::PgLog;
use crate::error::ReadError;
use crate::log::EventStore;
use crate::record;
use crate::subject_keys::KeyError;

/// Records copied per statement.
const PAGE: usize = 1_000;

/// Why an import was refused or failed; the database is as it was.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The database's log is not empty.
    #[error("the database already holds a log of {head} events: migrate only into an empty one")]
    NotEmpty {
        /// Its last position.
        head: Position,
    },
    /// Reading the source failed.
    #[error("reading the source log: {0}")]
    Read(#[from] ReadError),
    /// The source's subject keys could not be read.
    #[error("reading the source's subject keys: {0}")]
    Keys(#[from] KeyError),
    /// The database failed.
    #[error("the database: {0}")]
    Storage(String),
}

/// What an import copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    /// Events copied.
    pub events: u64,
    /// The log's head afterwards (the source's head).
    pub head: Position,
    /// Subject keys copied.
    pub keys: usize,
}

fn storage(error: &tokio_postgres::Error) -> ImportError {
    ImportError::Storage(error.to_string())
}

impl PgLog {
    /// Copies `source` — its records as they are and its subject keys — and
    /// `secrets` (name, value; they replace any a node stored on first
    /// start) into this log, which must be empty. No node may write to the
    /// database meanwhile: the copy holds the head row's lock.
    pub async fn import(
        &self,
        source: &dyn EventStore,
        secrets: &[(&str, [u8; 32])],
    ) -> Result<Imported, ImportError> {
        let mut client = super::open(&self.inner.config)
            .await
            .map_err(|e| storage(&e))?;
        let transaction = client.transaction().await.map_err(|e| storage(&e))?;
        let head: i64 = transaction
            .query_one(
                "SELECT position FROM tahc_log_head WHERE id = 1 FOR UPDATE",
                &[],
            )
            .await
            .map_err(|e| storage(&e))?
            .get(0);
        if head != 0 {
            return Err(ImportError::NotEmpty {
                head: Position(head as u64),
            });
        }
        let mut copied = Position::START;
        let mut tail_hash = record::GENESIS;
        loop {
            let page = source.read_all(copied, PAGE).await?;
            let Some(last) = page.last() else { break };
            copied = last.position;
            tail_hash = last.hash;
            let positions: Vec<i64> = page.iter().map(|r| r.position.0 as i64).collect();
            let event_ids: Vec<uuid::Uuid> = page.iter().map(|r| r.event_id).collect();
            let streams: Vec<&str> = page.iter().map(|r| r.stream_id.as_str()).collect();
            let versions: Vec<i64> = page.iter().map(|r| r.stream_version as i64).collect();
            let records: Vec<Vec<u8>> = page.iter().map(record::encode).collect();
            transaction
                .execute(
                    "INSERT INTO tahc_events (position, event_id, stream_id, stream_version, record)
                     SELECT * FROM UNNEST($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::bytea[])",
                    &[&positions, &event_ids, &streams, &versions, &records],
                )
                .await
                .map_err(|e| storage(&e))?;
        }
        let keys = source.subject_keys().all()?;
        for chunk in keys.chunks(PAGE) {
            let subjects: Vec<&str> = chunk.iter().map(|(s, _)| s.as_str()).collect();
            let values: Vec<&[u8]> = chunk.iter().map(|(_, k)| &k[..]).collect();
            transaction
                .execute(
                    "INSERT INTO tahc_subject_keys (subject, key)
                     SELECT * FROM UNNEST($1::text[], $2::bytea[])",
                    &[&subjects, &values],
                )
                .await
                .map_err(|e| storage(&e))?;
        }
        for (name, value) in secrets {
            transaction
                .execute(
                    "INSERT INTO tahc_secrets (name, value) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                    &[name, &&value[..]],
                )
                .await
                .map_err(|e| storage(&e))?;
        }
        transaction
            .execute(
                "UPDATE tahc_log_head SET position = $1, hash = $2 WHERE id = 1",
                &[&(copied.0 as i64), &&tail_hash[..]],
            )
            .await
            .map_err(|e| storage(&e))?;
        transaction
            .execute("SELECT pg_notify('tahc_log', $1)", &[&copied.to_string()])
            .await
            .map_err(|e| storage(&e))?;
        transaction.commit().await.map_err(|e| storage(&e))?;
        self.inner.publisher.wake.notify_one();
        Ok(Imported {
            events: copied.0,
            head: copied,
            keys: keys.len(),
        })
    }
}
