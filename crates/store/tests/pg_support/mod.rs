//! The PostgreSQL server the store's tests use: `TAHC_TEST_POSTGRES`, or
//! the machine's local `test` database; each test gets a schema of its own.

use tokio_postgres::{Client, NoTls};

/// The test database's URL.
pub fn url() -> String {
    std::env::var("TAHC_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A new, empty schema named `prefix_<unique>`, and a connection to use
/// beside the log.
pub async fn fresh_schema(prefix: &str) -> (Client, String) {
    let schema = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
    let (client, connection) = tokio_postgres::connect(&url(), NoTls)
        .await
        .expect("the PostgreSQL test database (set TAHC_TEST_POSTGRES)");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create a schema");
    (client, schema)
}

/// A node's log on `schema`.
#[allow(dead_code)] // not every test file uses every helper
pub async fn node(schema: &str) -> tahc_store::PgLog {
    let options = tahc_store::PgOptions {
        schema: Some(schema.to_owned()),
        ..tahc_store::PgOptions::default()
    };
    tahc_store::PgLog::connect_with(&url(), options)
        .await
        .expect("connect")
}

/// Closes `logs` and drops their schema.
#[allow(dead_code)] // not every test file uses every helper
pub async fn close_and_drop(logs: &[&tahc_store::PgLog], client: &Client, schema: &str) {
    for log in logs {
        tahc_store::EventStore::close(*log).await;
    }
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .expect("drop the schema");
}
