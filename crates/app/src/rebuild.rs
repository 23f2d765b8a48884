//! Rebuilding the read models of a data directory from its log.
//!
//! The views are written afresh into `views.rebuilt/`, with the process
//! managers' memory copied over unchanged (rebuilding it would re-run
//! reactions), and swapped in whole: no page of the old views directory,
//! including personal data erased since it was written, survives. A swap
//! cut short by a crash is finished (or undone) on the next start.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tahc_events::Position;
use tahc_projections::{
    ContactsProjector, ConversationsProjector, Projection, ProjectionError, TeamProjector, Views,
};
use tahc_store::EventStore;

use crate::node::NodeError;
use crate::vault::Vault;

/// Events read and applied per step.
const PAGE: usize = 2048;

/// The marker of a complete rebuilt directory.
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

fn sibling(views: &Path, suffix: &str) -> PathBuf {
    let mut name = views.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
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

/// Finishes or undoes a swap a crash interrupted, so that `views` is
/// whole: the old directory or the complete new one, never half of each.
pub fn finish_interrupted(views: &Path) -> Result<(), NodeError> {
    let (rebuilt, old) = (sibling(views, ".rebuilt"), sibling(views, ".old"));
    if !views.exists() && rebuilt.join(COMPLETE).exists() {
        std::fs::rename(&rebuilt, views).map_err(file_error(views))?;
    }
    for leftover in [rebuilt, old] {
        if leftover.exists() && views.exists() {
            std::fs::remove_dir_all(&leftover).map_err(file_error(&leftover))?;
        }
    }
    Ok(())
}

/// Rebuilds the views of `views` from `log`, reporting `(applied, head)`
/// after every step.
pub async fn rebuild(
    log: &(impl EventStore + ?Sized),
    views: &Path,
    mut progress: impl FnMut(Position, Position),
) -> Result<Rebuilt, NodeError> {
    finish_interrupted(views)?;
    let started = Instant::now();
    let rebuilt_dir = sibling(views, ".rebuilt");
    if rebuilt_dir.exists() {
        std::fs::remove_dir_all(&rebuilt_dir).map_err(file_error(&rebuilt_dir))?;
    }
    let head = log.head().await.map_err(crate::error::AppError::from)?;
    let mut events = 0;
    {
        let fresh = Views::open(&rebuilt_dir)?;
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
        if views.exists() {
            let current = Views::open(views)?;
            for name in current.names().iter().filter(|n| n.starts_with("process/")) {
                current.copy_into(name, &fresh)?;
            }
        }
        fresh.flush()?;
    }
    std::fs::write(rebuilt_dir.join(COMPLETE), b"").map_err(file_error(&rebuilt_dir))?;
    let old = sibling(views, ".old");
    if views.exists() {
        std::fs::rename(views, &old).map_err(file_error(views))?;
    }
    std::fs::rename(&rebuilt_dir, views).map_err(file_error(views))?;
    std::fs::remove_file(views.join(COMPLETE)).map_err(file_error(views))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(file_error(&old))?;
    }
    Ok(Rebuilt {
        position: head,
        events,
        elapsed: started.elapsed(),
    })
}
