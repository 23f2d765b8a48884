//! The PostgreSQL log's schema: a node creates and migrates it; a command
//! that only reads (`PgOptions::migrate = false`) finds an existing log or
//! says there is none, and creates nothing either way.

mod pg_support;

use pg_support::{close_and_drop, fresh_schema, node, url};
use tahc_store::conformance::{event, stream};
use tahc_store::{
    AppendError, EventAppender, EventStore, ExpectedVersion, LogReader, OpenError, PgLog,
    PgOptions, StreamReader,
};
use tokio_postgres::Client;

fn reading(schema: &str) -> PgOptions {
    PgOptions {
        schema: Some(schema.to_owned()),
        migrate: false,
        ..PgOptions::default()
    }
}

async fn tables_in(client: &Client, schema: &str) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
            &[&schema],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_on_a_database_without_a_log_is_told_so_and_creates_nothing() {
    let (client, schema) = fresh_schema("tahc_schema").await;
    let refused = PgLog::connect_with(&url(), reading(&schema)).await;
    match refused {
        Err(OpenError::NoLog(location)) => {
            assert!(location.contains("database"), "{location}");
        }
        Err(other) => panic!("expected NoLog, got {other}"),
        Ok(_) => panic!("a log was found in an empty schema"),
    }
    assert_eq!(tables_in(&client, &schema).await, 0);
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_reads_the_log_a_node_created_and_refuses_an_older_schema() {
    let (client, schema) = fresh_schema("tahc_schema").await;
    let writer = node(&schema).await;
    writer
        .append(&stream("s"), ExpectedVersion::Any, vec![event(10)])
        .await
        .unwrap();
    let tables = tables_in(&client, &schema).await;

    let reader = PgLog::connect_with(&url(), reading(&schema)).await.unwrap();
    assert_eq!(
        reader
            .read_all(tahc_events::Position::START, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    reader.close().await;
    assert_eq!(tables_in(&client, &schema).await, tables);

    client
        .batch_execute(&format!(
            "UPDATE {schema}.tahc_schema_version SET version = 1"
        ))
        .await
        .unwrap();
    match PgLog::connect_with(&url(), reading(&schema)).await {
        Err(OpenError::Outdated { found, needed }) => {
            assert_eq!(found, 1);
            assert!(needed > 1, "{needed}");
        }
        Err(other) => panic!("expected Outdated, got {other}"),
        Ok(_) => panic!("an outdated schema was read"),
    }
    let version: i32 = client
        .query_one(
            &format!("SELECT version FROM {schema}.tahc_schema_version"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, 1, "a reader must not migrate");
    close_and_drop(&[&writer], &client, &schema).await;
}

/// The collation of the log's `stream_id` column.
async fn stream_id_collation(client: &Client, schema: &str) -> Option<String> {
    client
        .query_one(
            "SELECT collation_name::text FROM information_schema.columns
             WHERE table_schema = $1 AND table_name = 'tahc_events' AND column_name = 'stream_id'",
            &[&schema],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_of_schema_version_2_is_migrated_to_byte_compared_stream_ids_and_keeps_its_events() {
    let (client, schema) = fresh_schema("tahc_schema").await;
    let first = node(&schema).await;
    let written = stream("conversation-Ä");
    first
        .append(
            &written,
            ExpectedVersion::NoStream,
            vec![event(10), event(10)],
        )
        .await
        .unwrap();
    first.close().await;
    // The log as version 2 left it: stream ids in the database's collation.
    client
        .batch_execute(&format!(
            "ALTER TABLE {schema}.tahc_events ALTER COLUMN stream_id TYPE TEXT COLLATE \"default\";
             UPDATE {schema}.tahc_schema_version SET version = 2"
        ))
        .await
        .unwrap();
    assert_eq!(stream_id_collation(&client, &schema).await, None);

    let migrated = node(&schema).await;
    assert_eq!(
        stream_id_collation(&client, &schema).await.as_deref(),
        Some("C")
    );
    let events = migrated.read_stream(&written, 0, 10).await.unwrap();
    assert_eq!(events.len(), 2, "every event survives the migration");
    // The stream's version is still found through its index: a stale
    // expectation conflicts, the current one appends.
    let stale = migrated
        .append(&written, ExpectedVersion::Exact(1), vec![event(10)])
        .await;
    assert!(
        matches!(stale, Err(AppendError::Conflict { actual: 2, .. })),
        "{stale:?}"
    );
    migrated
        .append(&written, ExpectedVersion::Exact(2), vec![event(10)])
        .await
        .unwrap();
    assert_eq!(
        migrated.read_stream(&written, 0, 10).await.unwrap().len(),
        3
    );
    close_and_drop(&[&migrated], &client, &schema).await;
}
