//! The PostgreSQL server tests of shared logs use: `TAHC_TEST_POSTGRES`, or
//! the machine's local `test` database; each test gets a schema of its own.

fn database() -> String {
    std::env::var("TAHC_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A new, empty schema: the `--store` URL of a log in it, its name, and a
/// connection to look into it (and drop it) with.
pub async fn fresh_store() -> (String, String, tokio_postgres::Client) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let schema = format!("tahc_nodes_{nanos:x}_{}", std::process::id());
    let (client, connection) = tokio_postgres::connect(&database(), tokio_postgres::NoTls)
        .await
        .expect("the PostgreSQL test database (set TAHC_TEST_POSTGRES)");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let separator = if database().contains('?') { '&' } else { '?' };
    let url = format!(
        "{}{separator}options=-c%20search_path%3D{schema}",
        database()
    );
    (url, schema, client)
}
