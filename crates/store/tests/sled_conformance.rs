//! The sled log against the backend conformance suite.

use std::sync::Arc;

use async_trait::async_trait;
use tahc_store::conformance::TestLog;
use tahc_store::{EventStore, SharedLog, SledLog, SledOptions, SubjectKeys};
use tempfile::TempDir;

struct SledTestLog {
    dir: TempDir,
    log: Option<SledLog>,
}

#[async_trait]
impl TestLog for SledTestLog {
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
        self.log = Some(SledLog::open_with(self.dir.path(), options()).expect("reopen"));
    }
}

/// A tiny live channel, so that every subscription case also runs the
/// fall-back from a lagging live feed to storage.
fn options() -> SledOptions {
    SledOptions {
        live_capacity: 2,
        ..SledOptions::default()
    }
}

fn fresh() -> Box<dyn TestLog> {
    let dir = TempDir::new().expect("temp dir");
    let log = SledLog::open_with(dir.path(), options()).expect("open");
    Box::new(SledTestLog {
        dir,
        log: Some(log),
    })
}

tahc_store::conformance_suite!(fresh());
