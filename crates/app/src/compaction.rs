//! Erasure reaches the views' files: once a node's views have applied a
//! contact's erasure, they are compacted (copied whole into a fresh
//! directory and the old one removed, [`Views::compact`]), so that no page
//! of their files keeps what was erased. The applied log asks for it on
//! every node as it applies a `contact.erased`; a start finishes one a
//! crash cut short (the views' erasure mark says so).

use std::time::Duration;

use tahc_events::Position;
use tahc_projections::{ViewError, Views};
use tokio::sync::watch;

/// The first pause before a failed compaction is tried again; it doubles
/// up to [`MAX_RETRY`] (each try pauses the views' writes while it copies).
const RETRY: Duration = Duration::from_secs(1);

/// The longest pause between tries.
const MAX_RETRY: Duration = Duration::from_secs(60);

/// The compactions of one node's views.
pub struct Compaction {
    views: Views,
    /// The latest erasure the views applied.
    requested: watch::Sender<Position>,
    /// The latest erasure whose views were compacted.
    done: watch::Sender<Position>,
}

impl Compaction {
    /// Compactions of `views`, whose erasures up to `start` are compacted.
    #[must_use]
    pub fn new(views: Views, start: Position) -> Self {
        Compaction {
            views,
            requested: watch::channel(start).0,
            done: watch::channel(start).0,
        }
    }

    /// Asks for a compaction: the views applied an erasure at `at`.
    pub fn request(&self, at: Position) {
        self.requested.send_if_modified(|requested| {
            let later = at > *requested;
            if later {
                *requested = at;
            }
            later
        });
    }

    /// Compacts the views now if they hold an erasure not compacted yet.
    pub async fn finish_pending(&self) -> Result<(), ViewError> {
        if self.views.erasure_pending()? {
            self.compact().await?;
        }
        Ok(())
    }

    /// Resolves once the views are compacted after the erasure at `at`
    /// (applied before this is called).
    pub async fn reached(&self, at: Position) {
        let mut done = self.done.subscribe();
        // The sender lives as long as `self`.
        let _ = done.wait_for(|done| *done >= at).await;
    }

    /// Compacts after every requested erasure until `stop` resolves;
    /// erasures requested while one runs are covered by the next.
    pub async fn run(&self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        let mut requested = self.requested.subscribe();
        let mut pause = RETRY;
        loop {
            let target = *requested.borrow_and_update();
            if target > *self.done.borrow() {
                match self.compact().await {
                    Ok(()) => {
                        pause = RETRY;
                        self.done.send_replace(target);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "compacting the views after an erasure failed; retrying");
                        tokio::select! {
                            () = &mut stop => return,
                            () = tokio::time::sleep(pause) => {}
                        }
                        pause = (pause * 2).min(MAX_RETRY);
                        continue;
                    }
                }
            }
            tokio::select! {
                () = &mut stop => return,
                changed = requested.changed() => if changed.is_err() { return },
            }
        }
    }

    async fn compact(&self) -> Result<(), ViewError> {
        let views = self.views.clone();
        let started = std::time::Instant::now();
        tokio::task::spawn_blocking(move || views.compact())
            .await
            .map_err(|e| ViewError::Record(format!("the compaction's thread failed: {e}")))??;
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis(),
            "views compacted after an erasure"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tahc_projections::ViewChanges;

    fn erase_in(views: &Views, position: Position) {
        let mut changes = ViewChanges::default();
        changes.put(b"name", b"erased");
        changes.erase();
        views
            .view("contacts")
            .unwrap()
            .apply(position, changes)
            .unwrap();
    }

    #[tokio::test]
    async fn a_start_finishes_the_compaction_an_erasure_left_pending() {
        let data = tempfile::tempdir().unwrap();
        let views = Views::open(data.path().join("views")).unwrap();
        erase_in(&views, Position(3));
        let compaction = Compaction::new(views.clone(), Position(3));
        compaction.finish_pending().await.unwrap();
        assert!(!views.erasure_pending().unwrap());
        assert!(data.path().join("views.next").exists() && !data.path().join("views").exists());
        // Nothing pending: nothing copied.
        compaction.finish_pending().await.unwrap();
        assert!(data.path().join("views.next").exists());
    }

    #[tokio::test]
    async fn a_requested_compaction_runs_and_wakes_who_waits_for_it() {
        let data = tempfile::tempdir().unwrap();
        let views = Views::open(data.path().join("views")).unwrap();
        let compaction = std::sync::Arc::new(Compaction::new(views.clone(), Position::START));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn({
            let compaction = compaction.clone();
            async move { compaction.run(async { stopped.await.unwrap_or(()) }).await }
        });
        erase_in(&views, Position(7));
        compaction.request(Position(7));
        tokio::time::timeout(Duration::from_secs(10), compaction.reached(Position(7)))
            .await
            .expect("compacted");
        assert!(!views.erasure_pending().unwrap());
        stop.send(()).unwrap();
        running.await.unwrap();
    }
}
