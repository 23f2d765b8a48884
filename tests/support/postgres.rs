//! The PostgreSQL server tests of shared logs use (the store's tests'
//! server: `TAHC_TEST_POSTGRES`, or the machine's local `test` database);
//! each test gets a schema of its own.

#[path = "../../crates/store/tests/pg_support/mod.rs"]
mod pg_support;

/// A new, empty schema: the `--store` URL of a log in it, its name, and a
/// connection to look into it (and drop it) with.
pub async fn fresh_store() -> (String, String, tokio_postgres::Client) {
    let (client, schema) = pg_support::fresh_schema("tahc_nodes").await;
    let database = pg_support::url();
    let separator = if database.contains('?') { '&' } else { '?' };
    let url = format!("{database}{separator}options=-c%20search_path%3D{schema}");
    (url, schema, client)
}
