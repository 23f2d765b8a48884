//! One checkpointed view: a sled tree plus the position it has applied.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tahc_events::Position;

/// The key of the checkpoint inside a view's tree. Views' own keys never
/// start with 0xFF, so it sorts after them and never collides.
const CHECKPOINT: &[u8] = b"\xffcheckpoint";

/// Why a view could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The storage failed.
    #[error("view storage: {0}")]
    Storage(#[from] sled::Error),
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
#[derive(Clone)]
pub struct Views {
    db: sled::Db,
}

impl Views {
    /// Opens (or creates) the views database in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, ViewError> {
        Self::open_with_cache(dir, tahc_store::DEFAULT_CACHE_BYTES)
    }

    /// [`Views::open`], keeping `cache_bytes` of pages in memory.
    pub fn open_with_cache(dir: impl AsRef<Path>, cache_bytes: u64) -> Result<Self, ViewError> {
        Ok(Views {
            db: sled::Config::new()
                .path(dir)
                .cache_capacity(cache_bytes)
                .open()?,
        })
    }

    /// Views in memory, gone when dropped: a conversation replayed as it
    /// stood at some point, a scratch rebuild.
    pub fn temporary() -> Result<Self, ViewError> {
        Ok(Views {
            db: sled::Config::new().temporary(true).open()?,
        })
    }

    /// The names of every view in the database.
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        self.db
            .tree_names()
            .into_iter()
            .filter_map(|name| String::from_utf8(name.to_vec()).ok())
            .filter(|name| name != "__sled__default")
            .collect()
    }

    /// Copies view `name`, checkpoint included, into `other`.
    pub fn copy_into(&self, name: &str, other: &Views) -> Result<(), ViewError> {
        let from = self.db.open_tree(name)?;
        let to = other.db.open_tree(name)?;
        let mut batch = sled::Batch::default();
        for entry in &from {
            let (key, value) = entry?;
            batch.insert(key, value);
        }
        to.apply_batch(batch)?;
        Ok(())
    }

    /// The view called `name`.
    pub fn view(&self, name: &str) -> Result<View, ViewError> {
        Ok(View {
            name: name.to_owned(),
            tree: self.db.open_tree(name)?,
            staged: None,
        })
    }

    /// Makes every applied change durable (checkpoints need not be: a view
    /// that loses its last changes replays them from the log).
    pub fn flush(&self) -> Result<(), ViewError> {
        self.db.flush()?;
        Ok(())
    }
}

/// A view's tree and checkpoint.
#[derive(Clone)]
pub struct View {
    name: String,
    tree: sled::Tree,
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

    /// Adds `later`'s writes after these.
    pub fn extend(&mut self, later: ViewChanges) {
        self.reserved_key |= later.reserved_key;
        self.writes.extend(later.writes);
    }
}

impl View {
    /// The position of the last event this view applied.
    pub fn checkpoint(&self) -> Result<Position, ViewError> {
        match self.tree.get(CHECKPOINT)? {
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
        if changes.reserved_key {
            return Err(ViewError::ReservedKey);
        }
        let mut batch = sled::Batch::default();
        for (key, value) in changes.writes {
            match value {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        batch.insert(CHECKPOINT, &position.0.to_be_bytes());
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// A handle on this view whose point reads see `staged` writes first.
    #[must_use]
    pub(crate) fn staging(&self, staged: Arc<Mutex<ViewChanges>>) -> View {
        View {
            name: self.name.clone(),
            tree: self.tree.clone(),
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
        Ok(self.tree.get(key)?)
    }

    /// The keys (with values) in `range`, in key order or reversed.
    pub fn range(
        &self,
        range: (std::ops::Bound<Vec<u8>>, std::ops::Bound<Vec<u8>>),
        reverse: bool,
    ) -> Box<dyn Iterator<Item = Result<(sled::IVec, sled::IVec), ViewError>> + '_> {
        debug_assert!(self.staged.is_none(), "ranges do not see staged writes");
        let entries = self.tree.range(range);
        if reverse {
            Box::new(entries.rev().map(|e| e.map_err(ViewError::from)))
        } else {
            Box::new(entries.map(|e| e.map_err(ViewError::from)))
        }
    }

    /// Every entry whose key starts with `prefix`, in key order; a staging
    /// handle sees its staged writes merged in.
    pub fn scan(
        &self,
        prefix: impl AsRef<[u8]>,
    ) -> Box<dyn Iterator<Item = Result<(sled::IVec, sled::IVec), ViewError>> + Send> {
        let prefix = prefix.as_ref();
        let stored = self
            .tree
            .scan_prefix(prefix)
            .map(|entry| entry.map_err(ViewError::from));
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
