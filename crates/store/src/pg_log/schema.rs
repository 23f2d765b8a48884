//! The PostgreSQL schema of the log, created and migrated by the binary:
//! numbered migrations, each applied once, under an advisory lock so that
//! nodes starting together do not race.

use tokio_postgres::Client;

/// The migrations, in order; the schema's version is how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: the log, its head (one row, the lock every append takes), and the
    // privacy keys.
    "CREATE TABLE tahc_events (
        position BIGINT PRIMARY KEY,
        event_id UUID NOT NULL UNIQUE,
        stream_id TEXT NOT NULL,
        stream_version BIGINT NOT NULL,
        record BYTEA NOT NULL,
        UNIQUE (stream_id, stream_version)
    );
    CREATE TABLE tahc_log_head (
        id SMALLINT PRIMARY KEY CHECK (id = 1),
        position BIGINT NOT NULL,
        hash BYTEA NOT NULL
    );
    INSERT INTO tahc_log_head VALUES (1, 0, decode(repeat('00', 32), 'hex'));
    CREATE TABLE tahc_subject_keys (
        subject TEXT PRIMARY KEY,
        key BYTEA NOT NULL
    );",
    // 2: secrets every node of the log shares (the keys that sign visitor
    // tokens and hash email addresses).
    "CREATE TABLE tahc_secrets (
        name TEXT PRIMARY KEY,
        value BYTEA NOT NULL CHECK (length(value) = 32)
    );",
    // 3: stream ids compared as bytes: their index no longer goes through
    // the database's locale (strcoll on every comparison of every insert),
    // and cannot be corrupted by a C library upgrade that changes its
    // collation rules. Stream ids are opaque; only equality is ever asked.
    "ALTER TABLE tahc_events ALTER COLUMN stream_id TYPE TEXT COLLATE \"C\";",
];

/// The schema version this binary writes and reads.
pub const VERSION: i32 = MIGRATIONS.len() as i32;

/// The version of the schema in the database (on its `search_path`), or
/// `None` where there is no tahc log at all. Changes nothing.
pub async fn version(client: &Client) -> Result<Option<i32>, tokio_postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('tahc_schema_version') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(None);
    }
    Ok(client
        .query_opt("SELECT version FROM tahc_schema_version", &[])
        .await?
        .map(|row| row.get(0)))
}

/// A lock id of our own among the database's advisory locks.
const MIGRATION_LOCK: i64 = 0x7461_6863_6d69_6772; // "tahcmigr"

/// Brings the schema up to date.
pub async fn migrate(client: &mut Client) -> Result<(), tokio_postgres::Error> {
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    transaction
        .batch_execute("CREATE TABLE IF NOT EXISTS tahc_schema_version (version INT NOT NULL);")
        .await?;
    let applied: i32 = match transaction
        .query_opt("SELECT version FROM tahc_schema_version", &[])
        .await?
    {
        Some(row) => row.get(0),
        None => {
            transaction
                .execute("INSERT INTO tahc_schema_version VALUES (0)", &[])
                .await?;
            0
        }
    };
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        transaction.batch_execute(migration).await?;
        transaction
            .execute(
                "UPDATE tahc_schema_version SET version = $1",
                &[&(index as i32 + 1)],
            )
            .await?;
    }
    transaction.commit().await
}
