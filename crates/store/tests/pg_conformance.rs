//! The PostgreSQL log against the backend conformance suite, on the real
//! server (`TAHC_TEST_POSTGRES`, default the local `test` database). Each
//! case gets a schema of its own.

mod pg_support;

use std::sync::Arc;

use async_trait::async_trait;
use pg_support::{fresh_schema, url};
use tahc_store::conformance::TestLog;
use tahc_store::{EventStore, PgLog, PgOptions, SharedLog, SubjectKeys};

struct PgTestLog {
    options: PgOptions,
    log: Option<PgLog>,
}

#[async_trait]
impl TestLog for PgTestLog {
    fn log(&self) -> SharedLog {
        Arc::new(self.log.clone().expect("log is open"))
    }

    fn keys(&self) -> Arc<dyn SubjectKeys> {
        self.log.as_ref().expect("log is open").subject_keys()
    }

    async fn reopen(&mut self) {
        let log = self.log.take().expect("log is open");
        log.close().await;
        drop(log);
        self.log = Some(
            PgLog::connect_with(&url(), self.options.clone())
                .await
                .expect("reopen"),
        );
    }
}

/// A fresh schema, and a log in it with a tiny live channel, so that every
/// subscription case also runs the fall-back from a lagging feed to the
/// table.
async fn fresh() -> Box<dyn TestLog> {
    let (_, schema) = fresh_schema("tahc_test").await;
    let options = PgOptions {
        schema: Some(schema),
        live_capacity: 2,
        ..PgOptions::default()
    };
    let log = PgLog::connect_with(&url(), options.clone())
        .await
        .expect("connect");
    Box::new(PgTestLog {
        options,
        log: Some(log),
    })
}

tahc_store::conformance_suite!(fresh().await);

#[tokio::test]
async fn a_bad_or_unreachable_database_is_a_clear_open_error_without_the_password() {
    for (url, says) in [
        ("not a url", "not a PostgreSQL URL"),
        (
            "postgres://tahc:hunter2@127.0.0.1:1/test",
            "cannot use the database postgres://tahc:***@127.0.0.1:1/test",
        ),
    ] {
        let error = PgLog::connect(url)
            .await
            .err()
            .expect("refused")
            .to_string();
        assert!(error.contains(says), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
}
