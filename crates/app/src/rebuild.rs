//! Rebuilding the read models of a data directory from its log.
//!
//! The views are written afresh into the views directory not in use
//! ([`ViewsDir`]), with the process managers' memory copied over unchanged
//! (rebuilding it would re-run reactions), and switched to whole: no page
//! of the old views directory, including personal data erased since it was
//! written, survives. A rebuild cut short by a crash leaves the old views
//! in use, and the next start removes what it wrote.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tahc_events::Position;
use tahc_projections::{
    ContactsProjector, ConversationsProjector, Projection, ProjectionError, TeamProjector, Views,
    ViewsDir, sibling,
};
use tahc_store::EventStore;

use crate::node::NodeError;
use crate::vault::Vault;

/// Events read and applied per step.
const PAGE: usize = 2048;

/// The marker of a complete rebuilt directory, as releases before the
/// switch of [`ViewsDir`] left it.
const COMPLETE: &str = "COMPLETE";

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rebuilt {
    /// The position the views now stand at.
    pub position: Position,
    /// Events applied.
    pub events: u64,
    /// How long it took.
    pub elapsed: Duration,
}

impl Rebuilt {
    /// Events applied per second.
    #[must_use]
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

pub(crate) fn file_error(path: &Path) -> impl FnOnce(io::Error) -> NodeError + '_ {
    move |source| NodeError::File {
        path: path.to_path_buf(),
        source,
    }
}

/// The outcome of a view's thread; a panic there is a failure of the view.
fn join(
    thread: std::thread::ScopedJoinHandle<'_, Result<(), ProjectionError>>,
) -> Result<(), ProjectionError> {
    thread.join().unwrap_or_else(|_| {
        Err(ProjectionError::View(tahc_projections::ViewError::Record(
            "a view's rebuild thread panicked".into(),
        )))
    })
}

/// Makes `views` whole after a crash: removes the views directory not in
/// use (a compaction or rebuild cut short, or views switched away from),
/// and finishes or undoes a swap of `views.rebuilt` that an earlier
/// release's rebuild left.
pub fn finish_interrupted(views: &Path) -> Result<(), NodeError> {
    let (rebuilt, old) = (sibling(views, ".rebuilt"), sibling(views, ".old"));
    if !views.exists() && rebuilt.join(COMPLETE).exists() {
        std::fs::rename(&rebuilt, views).map_err(file_error(views))?;
        std::fs::remove_file(views.join(COMPLETE)).map_err(file_error(views))?;
    }
    for leftover in [rebuilt, old] {
        if leftover.exists() && views.exists() {
            std::fs::remove_dir_all(&leftover).map_err(file_error(&leftover))?;
        }
    }
    ViewsDir::new(views)
        .remove_other()
        .map_err(file_error(views))
}

/// Rebuilds the views of `views` (a data directory's `views`) from `log`,
/// reporting `(applied, head)` after every step.
pub async fn rebuild(
    log: &(impl EventStore + ?Sized),
    views: &Path,
    mut progress: impl FnMut(Position, Position),
) -> Result<Rebuilt, NodeError> {
    finish_interrupted(views)?;
    let started = Instant::now();
    let dirs = ViewsDir::new(views);
    let (current, fresh_dir) = (
        dirs.current().map_err(file_error(views))?,
        dirs.other().map_err(file_error(views))?,
    );
    let head = log.head().await.map_err(crate::error::AppError::from)?;
    let mut events = 0;
    {
        let fresh = Views::open_at(&fresh_dir)?;
        let vault = Arc::new(Vault::new(log.subject_keys()));
        let conversations = Projection::new(ConversationsProjector, vault.clone(), &fresh)?;
        let contacts = Projection::new(ContactsProjector, vault.clone(), &fresh)?;
        let team = Projection::new(TeamProjector, vault, &fresh)?;
        let mut position = Position::START;
        loop {
            let page = log
                .read_all(position, PAGE)
                .await
                .map_err(crate::error::AppError::from)?;
            let Some(last) = page.last() else { break };
            position = last.position;
            events += page.len() as u64;
            // The three views are independent: apply the page to each on
            // its own thread.
            let applied = std::thread::scope(|threads| {
                let contacts = threads.spawn(|| contacts.apply(&page));
                let team = threads.spawn(|| team.apply(&page));
                let conversations = conversations.apply(&page);
                [conversations, join(contacts), join(team)]
            });
            for outcome in applied {
                outcome.map_err(crate::error::AppError::from)?;
            }
            progress(position, head.max(position));
        }
        if current.exists() {
            let current = Views::open_at(&current)?;
            for name in current.names().iter().filter(|n| n.starts_with("process/")) {
                current.copy_into(name, &fresh)?;
            }
        }
        // Written afresh: no old page holds an erasure's data.
        fresh.clear_erasure_marks()?;
        fresh.flush()?;
    }
    dirs.switch_to(&fresh_dir).map_err(file_error(views))?;
    dirs.remove_other().map_err(file_error(views))?;
    Ok(Rebuilt {
        position: head,
        events,
        elapsed: started.elapsed(),
    })
}
