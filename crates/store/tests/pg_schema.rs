//! The PostgreSQL log's schema: a node creates and migrates it; a command
//! that only reads (`PgOptions::migrate = false`) finds an existing log or
//! says there is none, and creates nothing either way.

mod pg_support;

use pg_support::{close_and_drop, fresh_schema, node, url};
use tahc_store::conformance::{event, stream};
use tahc_store::{
    EventAppender, EventStore, ExpectedVersion, LogReader, OpenError, PgLog, PgOptions,
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
