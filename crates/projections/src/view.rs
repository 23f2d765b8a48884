//! One checkpointed view: a sled tree plus the position it has applied.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tahc_events::Position;
use tokio::sync::watch;

use crate::views_dir::ViewsDir;

/// The key of the checkpoint inside a view's tree. Views' own keys never
/// start with 0xFF, so it sorts after them and never collides.
const CHECKPOINT: &[u8] = b"\xffcheckpoint";

/// The key marking a view that applied an erasure its files may still
/// hold: written with the erasure, atomically, and removed by the
/// compaction that rewrites the files (so a crash between the two leaves
/// the mark, and the next start compacts).
const ERASURE: &[u8] = b"\xfferasure";

/// Why a view could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The storage failed.
    #[error("view storage: {0}")]
    Storage(#[from] sled::Error),
    /// The views' directories could not be read or switched.
    #[error("views directory: {0}")]
    Directory(#[from] std::io::Error),
    /// A stored checkpoint is not 8 bytes.
    #[error("view {0} has a malformed checkpoint")]
    Checkpoint(String),
    /// A stored record does not decode.
    #[error("malformed view record: {0}")]
    Record(String),
    /// A key of the view's own would collide with the checkpoint.
    #[error("view keys must not start with 0xFF")]
    ReservedKey,
}

/// The sled database holding every view of a node.
///
/// After an erasure it is compacted: copied whole into a fresh database in
/// the other views directory ([`ViewsDir`]), switched to, and the old
/// directory removed, so that no page of its files keeps what was erased
/// (sled rewrites a page elsewhere and leaves the old bytes until it
/// reuses the space). Every [`View`] handle follows the switch.
#[derive(Clone)]
pub struct Views {
    shared: Arc<Shared>,
}

/// What every handle on one views database shares.
struct Shared {
    /// The directories the database alternates between; `None` in memory.
    dirs: Option<ViewsDir>,
    cache_bytes: u64,
    /// Held shared by every write and exclusively by a compaction, so that
    /// nothing is written while the views are copied.
    writes: RwLock<()>,
    /// Whether a compaction is copying: writers that can wait without
    /// holding a thread wait for this first ([`View::unpaused`]).
    compacting: watch::Sender<bool>,
    state: RwLock<State>,
}

/// The database in use and where each opened view sits in it.
struct State {
    generation: Arc<Generation>,
    slots: HashMap<String, usize>,
}

/// One opened database and the trees of the views opened so far, by slot.
/// A read holds it while it runs, so the files of a database compacted
/// away are removed only once no read uses them.
/// (The trees are dropped before the files: fields drop in order.)
#[derive(Clone)]
struct Generation {
    trees: Vec<sled::Tree>,
    files: Arc<Files>,
}

/// An opened database and its directory (`None` in memory).
struct Files {
    db: sled::Db,
    dir: Option<PathBuf>,
}

/// Entries copied per batch by a compaction or a copy.
const COPY_BATCH: usize = 4096;

/// How often a compaction looks whether reads of the old database ended.
const RELEASE_POLL: Duration = Duration::from_millis(5);

/// How long reads may hold the old database before a compaction says so.
const RELEASE_WARNING: Duration = Duration::from_secs(10);

fn read_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Views {
    /// Opens (or creates) the views database of `base` (a data directory's
    /// `views`): the one of its two directories in use.
    pub fn open(base: impl AsRef<Path>) -> Result<Self, ViewError> {
        Self::open_with_cache(base, tahc_store::DEFAULT_CACHE_BYTES)
    }

    /// [`Views::open`], keeping `cache_bytes` of pages in memory.
    pub fn open_with_cache(base: impl AsRef<Path>, cache_bytes: u64) -> Result<Self, ViewError> {
        let dirs = ViewsDir::new(base.as_ref());
        let dir = dirs.current()?;
        let db = Self::config(cache_bytes).path(&dir).open()?;
        Ok(Self::over(
            Files { db, dir: Some(dir) },
            Some(dirs),
            cache_bytes,
        ))
    }

    /// Opens (or creates) a views database in exactly `dir`, with no second
    /// directory to compact into: the views a rebuild writes before they
    /// are switched to.
    pub fn open_at(dir: impl AsRef<Path>) -> Result<Self, ViewError> {
        let dir = dir.as_ref().to_path_buf();
        let db = Self::config(tahc_store::DEFAULT_CACHE_BYTES)
            .path(&dir)
            .open()?;
        Ok(Self::over(Files { db, dir: Some(dir) }, None, 0))
    }

    /// Views in memory, gone when dropped: a conversation replayed as it
    /// stood at some point, a scratch rebuild.
    pub fn temporary() -> Result<Self, ViewError> {
        let db = sled::Config::new().temporary(true).open()?;
        Ok(Self::over(Files { db, dir: None }, None, 0))
    }

    fn config(cache_bytes: u64) -> sled::Config {
        sled::Config::new().cache_capacity(cache_bytes)
    }

    fn over(files: Files, dirs: Option<ViewsDir>, cache_bytes: u64) -> Self {
        Views {
            shared: Arc::new(Shared {
                dirs,
                cache_bytes,
                writes: RwLock::new(()),
                compacting: watch::channel(false).0,
                state: RwLock::new(State {
                    generation: Arc::new(Generation {
                        trees: Vec::new(),
                        files: Arc::new(files),
                    }),
                    slots: HashMap::new(),
                }),
            }),
        }
    }

    fn generation(&self) -> Arc<Generation> {
        read_lock(&self.shared.state).generation.clone()
    }

    /// The names of every view in the database.
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        tree_names(&self.generation().files.db)
    }

    /// Copies view `name`, checkpoint included, into `other`.
    pub fn copy_into(&self, name: &str, other: &Views) -> Result<(), ViewError> {
        let source = self.generation();
        let to = other.view(name)?;
        let _writing = read_lock(&other.shared.writes);
        let (_held, tree) = to.current();
        copy_tree(&source.files.db.open_tree(name)?, &tree)
    }

    /// The view called `name`.
    pub fn view(&self, name: &str) -> Result<View, ViewError> {
        let _writing = read_lock(&self.shared.writes);
        let mut state = write_lock(&self.shared.state);
        let slot = match state.slots.get(name) {
            Some(slot) => *slot,
            None => {
                let mut generation = (*state.generation).clone();
                generation.trees.push(generation.files.db.open_tree(name)?);
                let slot = generation.trees.len() - 1;
                state.generation = Arc::new(generation);
                state.slots.insert(name.to_owned(), slot);
                slot
            }
        };
        Ok(View {
            name: name.to_owned(),
            slot,
            shared: self.shared.clone(),
            staged: None,
        })
    }

    /// Makes every applied change durable (checkpoints need not be: a view
    /// that loses its last changes replays them from the log).
    pub fn flush(&self) -> Result<(), ViewError> {
        self.generation().files.db.flush()?;
        Ok(())
    }

    /// Whether a view applied an erasure its files may still hold (one not
    /// compacted since).
    pub fn erasure_pending(&self) -> Result<bool, ViewError> {
        let generation = self.generation();
        for name in tree_names(&generation.files.db) {
            if generation.files.db.open_tree(name)?.contains_key(ERASURE)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Removes every view's erasure mark: its files were just written
    /// afresh (by a compaction or a rebuild).
    pub fn clear_erasure_marks(&self) -> Result<(), ViewError> {
        let generation = self.generation();
        for name in tree_names(&generation.files.db) {
            generation.files.db.open_tree(name)?.remove(ERASURE)?;
        }
        Ok(())
    }

    /// Copies every view into a fresh database in the other directory,
    /// switches to it, and removes the old directory once no read uses it
    /// (waiting for the last): after this no file of the views holds a
    /// value that was overwritten or removed before it. Writes wait during
    /// the copy (async writers without holding a thread,
    /// [`View::apply_unpaused`]); reads go on. Views in memory have no
    /// files: nothing to do.
    pub fn compact(&self) -> Result<(), ViewError> {
        let Some(dirs) = &self.shared.dirs else {
            return Ok(());
        };
        self.shared.compacting.send_replace(true);
        let compacted = self.copy_to_other(dirs);
        self.shared.compacting.send_replace(false);
        let (old, switched) = compacted?;
        let files = old.files.clone();
        drop(old);
        match switched {
            Ok(()) => {
                release(files);
                Ok(())
            }
            // The pointer names the new directory but may not be durable:
            // the old one stays until a compaction or start succeeds.
            Err(error) => Err(error.into()),
        }
    }

    /// The copy and switch of [`Views::compact`]: the old generation, and
    /// whether the switch is durable. When the pointer could not be
    /// written the views stay on the old database.
    fn copy_to_other(
        &self,
        dirs: &ViewsDir,
    ) -> Result<(Arc<Generation>, std::io::Result<()>), ViewError> {
        let _paused = write_lock(&self.shared.writes);
        let old = self.generation();
        let dir = dirs.other()?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        let db = Self::config(self.shared.cache_bytes).path(&dir).open()?;
        for name in tree_names(&old.files.db) {
            let tree = db.open_tree(&name)?;
            copy_tree(&old.files.db.open_tree(&name)?, &tree)?;
            tree.remove(ERASURE)?;
        }
        let mut slots: Vec<_> = read_lock(&self.shared.state)
            .slots
            .clone()
            .into_iter()
            .collect();
        slots.sort_by_key(|(_, slot)| *slot);
        let trees = slots
            .iter()
            .map(|(name, _)| db.open_tree(name))
            .collect::<Result<_, _>>()?;
        db.flush()?;
        let switched = dirs.switch_to(&dir);
        if let Err(error) = &switched
            && dirs.current()? != dir
        {
            return Err(std::io::Error::new(error.kind(), error.to_string()).into());
        }
        let generation = Generation {
            trees,
            files: Arc::new(Files { db, dir: Some(dir) }),
        };
        write_lock(&self.shared.state).generation = Arc::new(generation);
        Ok((old, switched))
    }
}

/// Removes the files of a database compacted away once no read holds it.
/// The removal is by path, so it finishes before the next compaction (which
/// may write a fresh database there) can start.
fn release(files: Arc<Files>) {
    let mut files = files;
    let mut waited = Duration::ZERO;
    loop {
        match Arc::try_unwrap(files) {
            Ok(files) => return remove_files(files),
            Err(held) => {
                files = held;
                if waited == RELEASE_WARNING {
                    tracing::warn!(
                        "a read still holds the views compacted away; their files go when it ends"
                    );
                }
                std::thread::sleep(RELEASE_POLL);
                waited += RELEASE_POLL;
            }
        }
    }
}

/// Closes a database (flushing it) and then removes its directory.
fn remove_files(files: Files) {
    let Files { db, dir } = files;
    drop(db);
    if let Some(dir) = dir
        && let Err(error) = std::fs::remove_dir_all(&dir)
    {
        tracing::warn!(%error, dir = %dir.display(), "could not remove views compacted away; the next start does");
    }
}

fn tree_names(db: &sled::Db) -> Vec<String> {
    db.tree_names()
        .into_iter()
        .filter_map(|name| String::from_utf8(name.to_vec()).ok())
        .filter(|name| name != "__sled__default")
        .collect()
}

/// Copies every entry of `from` into `to`, a batch at a time.
fn copy_tree(from: &sled::Tree, to: &sled::Tree) -> Result<(), ViewError> {
    let mut batch = sled::Batch::default();
    let mut size = 0;
    for entry in from {
        let (key, value) = entry?;
        batch.insert(key, value);
        size += 1;
        if size == COPY_BATCH {
            to.apply_batch(std::mem::take(&mut batch))?;
            size = 0;
        }
    }
    to.apply_batch(batch)?;
    Ok(())
}

/// A view's tree and checkpoint.
#[derive(Clone)]
pub struct View {
    name: String,
    slot: usize,
    shared: Arc<Shared>,
    /// Writes staged but not yet applied, which reads of this handle see
    /// first (a projection applying a page of events in one batch).
    staged: Option<Arc<Mutex<ViewChanges>>>,
}

/// Pending writes by key: a value, or `None` for a removal.
type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The writes of one or more events to a view, applied with its
/// checkpoint. A later write of a key replaces an earlier one.
#[derive(Default)]
pub struct ViewChanges {
    writes: Writes,
    reserved_key: bool,
    erasure: bool,
}

impl ViewChanges {
    /// Sets `key` to `value`.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.reserved_key |= key.as_ref().first() == Some(&0xff);
        self.writes
            .insert(key.as_ref().to_vec(), Some(value.as_ref().to_vec()));
    }

    /// Removes `key`.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) {
        self.reserved_key |= key.as_ref().first() == Some(&0xff);
        self.writes.insert(key.as_ref().to_vec(), None);
    }

    /// Marks these changes as an erasure of personal data: once applied,
    /// the views' files are compacted ([`Views::compact`]) so that no old
    /// page of them keeps what was erased.
    pub fn erase(&mut self) {
        self.erasure = true;
    }

    /// The sled batch of these changes and of the checkpoint `position`.
    fn into_batch(self, position: Position) -> Result<sled::Batch, ViewError> {
        if self.reserved_key {
            return Err(ViewError::ReservedKey);
        }
        let mut batch = sled::Batch::default();
        for (key, value) in self.writes {
            match value {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        batch.insert(CHECKPOINT, &position.0.to_be_bytes());
        if self.erasure {
            batch.insert(ERASURE, &position.0.to_be_bytes());
        }
        Ok(batch)
    }

    /// Adds `later`'s writes after these.
    pub fn extend(&mut self, later: ViewChanges) {
        self.reserved_key |= later.reserved_key;
        self.erasure |= later.erasure;
        self.writes.extend(later.writes);
    }
}

impl View {
    /// The database in use and this view's tree in it.
    fn current(&self) -> (Arc<Generation>, sled::Tree) {
        let generation = read_lock(&self.shared.state).generation.clone();
        let tree = generation.trees[self.slot].clone();
        (generation, tree)
    }

    /// Resolves when no compaction is copying the views: a writer that can
    /// wait without holding a thread waits here before it writes.
    pub async fn unpaused(&self) {
        let mut compacting = self.shared.compacting.subscribe();
        let _ = compacting.wait_for(|compacting| !compacting).await;
    }

    /// The position of the last event this view applied.
    pub fn checkpoint(&self) -> Result<Position, ViewError> {
        let (_held, tree) = self.current();
        match tree.get(CHECKPOINT)? {
            None => Ok(Position::START),
            Some(bytes) => {
                let bytes: [u8; 8] = bytes
                    .as_ref()
                    .try_into()
                    .map_err(|_| ViewError::Checkpoint(self.name.clone()))?;
                Ok(Position(u64::from_be_bytes(bytes)))
            }
        }
    }

    /// Applies `changes` and moves the checkpoint to `position`, atomically.
    pub fn apply(&self, position: Position, changes: ViewChanges) -> Result<(), ViewError> {
        let batch = changes.into_batch(position)?;
        let _writing = read_lock(&self.shared.writes);
        let (_held, tree) = self.current();
        tree.apply_batch(batch)?;
        Ok(())
    }

    /// [`View::apply`] from async code: while a compaction copies the
    /// views it waits here, never in a thread of the runtime.
    pub async fn apply_unpaused(
        &self,
        position: Position,
        changes: ViewChanges,
    ) -> Result<(), ViewError> {
        let batch = changes.into_batch(position)?;
        loop {
            self.unpaused().await;
            let writing = match self.shared.writes.try_read() {
                Ok(writing) => writing,
                Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                // A compaction began after the wait: wait for it again.
                Err(std::sync::TryLockError::WouldBlock) => continue,
            };
            let (_held, tree) = self.current();
            tree.apply_batch(batch)?;
            drop(writing);
            return Ok(());
        }
    }

    /// A handle on this view whose point reads see `staged` writes first.
    #[must_use]
    pub(crate) fn staging(&self, staged: Arc<Mutex<ViewChanges>>) -> View {
        View {
            name: self.name.clone(),
            slot: self.slot,
            shared: self.shared.clone(),
            staged: Some(staged),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<sled::IVec>, ViewError> {
        if let Some(staged) = &self.staged {
            let staged = staged
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(write) = staged.writes.get(key.as_ref()) {
                return Ok(write.as_deref().map(sled::IVec::from));
            }
        }
        let (_held, tree) = self.current();
        Ok(tree.get(key)?)
    }

    /// The keys (with values) in `range`, in key order or reversed.
    pub fn range(
        &self,
        range: (std::ops::Bound<Vec<u8>>, std::ops::Bound<Vec<u8>>),
        reverse: bool,
    ) -> Box<dyn Iterator<Item = Result<(sled::IVec, sled::IVec), ViewError>> + '_> {
        debug_assert!(self.staged.is_none(), "ranges do not see staged writes");
        let (generation, tree) = self.current();
        let entries = tree.range(range);
        // The entries hold the database they come from open.
        let held = move |entry: sled::Result<_>| {
            let _ = &generation;
            entry.map_err(ViewError::from)
        };
        if reverse {
            Box::new(entries.rev().map(held))
        } else {
            Box::new(entries.map(held))
        }
    }

    /// Every entry whose key starts with `prefix`, in key order; a staging
    /// handle sees its staged writes merged in.
    pub fn scan(
        &self,
        prefix: impl AsRef<[u8]>,
    ) -> Box<dyn Iterator<Item = Result<(sled::IVec, sled::IVec), ViewError>> + Send> {
        let prefix = prefix.as_ref();
        let (generation, tree) = self.current();
        let stored = tree.scan_prefix(prefix).map(move |entry| {
            let _ = &generation;
            entry.map_err(ViewError::from)
        });
        let Some(staged) = &self.staged else {
            return Box::new(stored);
        };
        let mut merged = BTreeMap::new();
        for entry in stored {
            match entry {
                Ok((key, value)) => merged.insert(key.to_vec(), Some(value)),
                Err(error) => return Box::new(std::iter::once(Err(error))),
            };
        }
        let staged = staged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (key, write) in staged
            .writes
            .range(prefix.to_vec()..)
            .take_while(|(key, _)| key.starts_with(prefix))
        {
            merged.insert(key.clone(), write.as_deref().map(sled::IVec::from));
        }
        Box::new(
            merged
                .into_iter()
                .filter_map(|(key, value)| Some(Ok((sled::IVec::from(key), value?)))),
        )
    }
}

/// The id an index key ends with (every index key ends with the id of the
/// thing it lists); a key too short to hold one is a malformed record.
pub(crate) fn id_at_end(key: &[u8]) -> Result<uuid::Uuid, ViewError> {
    key.len()
        .checked_sub(16)
        .and_then(|start| uuid::Uuid::from_slice(&key[start..]).ok())
        .ok_or_else(|| ViewError::Record(format!("index key {key:02x?} does not end with an id")))
}

/// A view record as stored: JSON.
pub(crate) fn json(value: &impl serde::Serialize) -> Result<Vec<u8>, ViewError> {
    serde_json::to_vec(value).map_err(|e| ViewError::Record(e.to_string()))
}

/// Reads a JSON record of a view.
pub(crate) fn read<T: for<'de> serde::Deserialize<'de>>(
    view: &View,
    key: &[u8],
) -> Result<Option<T>, ViewError> {
    view.get(key)?
        .map(|bytes| serde_json::from_slice(&bytes).map_err(|e| ViewError::Record(e.to_string())))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_and_checkpoint_land_together_and_survive_a_reopen() {
        let dir = tempfile::TempDir::new().unwrap();
        {
            let views = Views::open(dir.path()).unwrap();
            let view = views.view("v").unwrap();
            assert_eq!(view.checkpoint().unwrap(), Position::START);
            let mut changes = ViewChanges::default();
            changes.put(b"a", b"1");
            changes.put(b"b", b"2");
            view.apply(Position(7), changes).unwrap();
            let mut changes = ViewChanges::default();
            changes.delete(b"a");
            view.apply(Position(8), changes).unwrap();
            views.flush().unwrap();
        }
        let views = Views::open(dir.path()).unwrap();
        let view = views.view("v").unwrap();
        assert_eq!(view.checkpoint().unwrap(), Position(8));
        assert_eq!(view.get(b"a").unwrap(), None);
        assert_eq!(view.get(b"b").unwrap().as_deref(), Some(&b"2"[..]));
        let keys: Vec<_> = view.scan(b"").map(|e| e.unwrap().0.to_vec()).collect();
        assert_eq!(keys, [b"b".to_vec(), CHECKPOINT.to_vec()]);
    }

    /// Whether any file under `dir` holds `text`.
    fn on_disk(dir: &Path, text: &[u8]) -> bool {
        let mut pending = vec![dir.to_path_buf()];
        while let Some(path) = pending.pop() {
            if path.is_dir() {
                pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            } else if std::fs::read(&path)
                .is_ok_and(|bytes| bytes.windows(text.len()).any(|w| w == text))
            {
                return true;
            }
        }
        false
    }

    #[test]
    fn a_compaction_leaves_no_overwritten_value_on_disk_and_every_handle_follows_it() {
        let data = tempfile::tempdir().unwrap();
        let base = data.path().join("views");
        let views = Views::open(&base).unwrap();
        let view = views.view("v").unwrap();
        let mut changes = ViewChanges::default();
        changes.put(b"name", b"zqxsecret");
        changes.put(b"kept", b"1");
        view.apply(Position(1), changes).unwrap();
        let mut changes = ViewChanges::default();
        changes.put(b"name", b"erased");
        changes.erase();
        view.apply(Position(2), changes).unwrap();
        views.flush().unwrap();
        assert!(
            on_disk(data.path(), b"zqxsecret"),
            "sled keeps the old page"
        );
        assert!(views.erasure_pending().unwrap());

        views.compact().unwrap();
        assert!(!on_disk(data.path(), b"zqxsecret"));
        assert!(!views.erasure_pending().unwrap());
        assert!(!base.exists(), "the old directory is removed");
        // The handle taken before reads and writes the compacted views.
        assert_eq!(view.get(b"name").unwrap().as_deref(), Some(&b"erased"[..]));
        assert_eq!(view.checkpoint().unwrap(), Position(2));
        let mut changes = ViewChanges::default();
        changes.put(b"later", b"2");
        view.apply(Position(3), changes).unwrap();
        drop((view, views));

        let views = Views::open(&base).unwrap();
        let view = views.view("v").unwrap();
        assert_eq!(view.checkpoint().unwrap(), Position(3));
        let keys: Vec<_> = view.scan(b"").map(|e| e.unwrap().0.to_vec()).collect();
        assert_eq!(
            keys,
            [
                b"kept".to_vec(),
                b"later".to_vec(),
                b"name".to_vec(),
                CHECKPOINT.to_vec()
            ]
        );
        // And compacts back into the first directory.
        views.compact().unwrap();
        assert!(base.exists() && !data.path().join("views.next").exists());
    }

    #[test]
    fn a_compaction_waits_for_a_read_of_the_old_views_before_removing_them() {
        let data = tempfile::tempdir().unwrap();
        let views = Views::open(data.path().join("views")).unwrap();
        let view = views.view("v").unwrap();
        let mut changes = ViewChanges::default();
        changes.put(b"a", b"1");
        changes.put(b"b", b"2");
        view.apply(Position(1), changes).unwrap();
        let mut reading = view.scan(b"");
        let first = reading.next().unwrap().unwrap();
        let compacting = std::thread::spawn(move || views.compact().unwrap());
        std::thread::sleep(Duration::from_millis(100));
        // The read goes on over the old files, which are still there.
        assert!(data.path().join("views").exists());
        let rest: Vec<_> = reading.map(|e| e.unwrap().0.to_vec()).collect();
        assert_eq!(
            (first.0.to_vec(), rest),
            (b"a".to_vec(), vec![b"b".to_vec(), CHECKPOINT.to_vec()])
        );
        compacting.join().unwrap();
        assert!(!data.path().join("views").exists());
    }

    #[test]
    fn an_index_key_yields_the_id_it_ends_with_or_a_typed_error() {
        let id = uuid::Uuid::now_v7();
        let key = [&b"prefix"[..], id.as_bytes()].concat();
        assert_eq!(id_at_end(&key).unwrap(), id);
        assert!(matches!(id_at_end(b"short"), Err(ViewError::Record(_))));
    }

    #[test]
    fn a_staging_scan_merges_staged_puts_and_deletes_into_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let view = Views::open(dir.path()).unwrap().view("v").unwrap();
        let mut stored = ViewChanges::default();
        stored.put(b"pa", b"1");
        stored.put(b"pb", b"2");
        stored.put(b"q", b"3");
        view.apply(Position(1), stored).unwrap();
        let staged = Arc::new(Mutex::new(ViewChanges::default()));
        let staging = view.staging(staged.clone());
        let mut later = ViewChanges::default();
        later.delete(b"pa");
        later.put(b"pc", b"4");
        later.put(b"r", b"5");
        staged.lock().unwrap().extend(later);
        let seen: Vec<_> = staging
            .scan(b"p")
            .map(|e| {
                let (k, v) = e.unwrap();
                (k.to_vec(), v.to_vec())
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (b"pb".to_vec(), b"2".to_vec()),
                (b"pc".to_vec(), b"4".to_vec())
            ]
        );
    }

    #[test]
    fn a_staging_handle_reads_staged_writes_before_the_tree() {
        let dir = tempfile::TempDir::new().unwrap();
        let view = Views::open(dir.path()).unwrap().view("v").unwrap();
        let mut changes = ViewChanges::default();
        changes.put(b"kept", b"old");
        changes.put(b"gone", b"old");
        view.apply(Position(1), changes).unwrap();
        let staged = Arc::new(Mutex::new(ViewChanges::default()));
        let staging = view.staging(staged.clone());
        let mut later = ViewChanges::default();
        later.put(b"new", b"1");
        later.delete(b"gone");
        staged.lock().unwrap().extend(later);
        assert_eq!(staging.get(b"new").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(staging.get(b"gone").unwrap(), None);
        assert_eq!(staging.get(b"kept").unwrap().as_deref(), Some(&b"old"[..]));
        // The shared view sees nothing until the batch is applied.
        assert_eq!(view.get(b"new").unwrap(), None);
        assert!(view.get(b"gone").unwrap().is_some());
        let batch = std::mem::take(&mut *staged.lock().unwrap());
        view.apply(Position(2), batch).unwrap();
        assert_eq!(view.get(b"new").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(view.get(b"gone").unwrap(), None);
        assert_eq!(view.checkpoint().unwrap(), Position(2));
    }

    #[test]
    fn a_key_that_could_shadow_the_checkpoint_is_refused_and_nothing_is_applied() {
        let dir = tempfile::TempDir::new().unwrap();
        let view = Views::open(dir.path()).unwrap().view("v").unwrap();
        let mut changes = ViewChanges::default();
        changes.put(b"ok", b"1");
        changes.put(CHECKPOINT, b"garbage");
        assert!(matches!(
            view.apply(Position(1), changes),
            Err(ViewError::ReservedKey)
        ));
        assert_eq!(view.get(b"ok").unwrap(), None);
        assert_eq!(view.checkpoint().unwrap(), Position::START);
    }
}
