//! The PostgreSQL server tests of shared logs use (the store's tests'
//! server: `TAHC_TEST_POSTGRES`, or the machine's local `test` database);
//! each test gets a schema of its own.

#[path = "../../crates/store/tests/pg_support/mod.rs"]
mod pg_support;

/// A log of its own in the test database.
pub struct TestStore {
    /// The `--store` URL of the log.
    pub url: String,
    /// Its schema's name.
    pub schema: String,
    /// A connection to look into it with.
    pub database: tokio_postgres::Client,
}

/// A new, empty schema for a log.
pub async fn fresh_store() -> TestStore {
    let (database, schema) = pg_support::fresh_schema("tahc_nodes").await;
    let server = pg_support::url();
    let separator = if server.contains('?') { '&' } else { '?' };
    let url = format!("{server}{separator}options=-c%20search_path%3D{schema}");
    TestStore {
        url,
        schema,
        database,
    }
}

impl TestStore {
    /// Drops the schema and everything in it (nodes on it stopped first).
    pub async fn remove(self) {
        self.database
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .await
            .unwrap();
    }
}
