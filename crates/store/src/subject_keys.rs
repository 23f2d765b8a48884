//! The keys personal data is sealed with: one per subject (a visitor or a
//! contact), kept beside the log and never in it. Destroying a subject's key
//! erases its personal data everywhere the log is read (crypto-shredding),
//! while the events, their hashes and the audit trail stay.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::sled_log::durability::Durability;

/// A subject's data key: 32 random bytes.
pub type SubjectKey = [u8; 32];

/// Why the key store failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The storage underneath failed.
    #[error("subject keys: {0}")]
    Storage(String),
    /// A stored key is not 32 bytes: the store was damaged.
    #[error("subject keys: the key of {subject} is malformed")]
    Malformed {
        /// Whose key.
        subject: String,
    },
}

/// The subject keys of one log.
pub trait SubjectKeys: Send + Sync {
    /// The subject's key; `None` when it never had one or it was destroyed.
    fn key(&self, subject: &str) -> Result<Option<SubjectKey>, KeyError>;

    /// The subject's key, created when it has none. A created key is durable
    /// no later than any append to the same log made after this returns, so
    /// nothing acknowledged is ever sealed with a key that could be lost.
    fn key_or_create(&self, subject: &str) -> Result<SubjectKey, KeyError>;

    /// Destroys the keys of `subjects` for good; durable on return.
    fn destroy(&self, subjects: &[String]) -> Result<(), KeyError>;

    /// Every subject's key, to copy a log's keys to another backend.
    fn all(&self) -> Result<Vec<(String, SubjectKey)>, KeyError>;
}

/// The name of the sled tree beside the log's that holds the keys.
pub const SLED_KEYS_TREE: &str = "subject-keys";

/// The file beside the log's sled files holding the key every stored
/// subject key is sealed with (its wrapping key).
pub const WRAPPING_KEY_FILE: &str = "subject-keys.key";

/// The wrapping key a destruction is moving the stored keys to, until it
/// replaces [`WRAPPING_KEY_FILE`].
const NEXT_WRAPPING_KEY_FILE: &str = "subject-keys.key.next";

/// Stored keys re-sealed per batch.
const REWRAP_BATCH: usize = 4096;

/// Subject keys in a tree of the log's own sled database: the writer's
/// flush of any later append makes a new key durable with it.
///
/// Each key is stored sealed with a wrapping key kept in a file beside the
/// database ([`WRAPPING_KEY_FILE`]). sled keeps a removed value's bytes in
/// its file until it reuses the space, so destroying keys also moves every
/// remaining key to a new wrapping key and replaces the file: what sled
/// kept of a destroyed key is sealed with a wrapping key that no longer
/// exists anywhere in the data directory.
#[derive(Clone)]
pub struct SledKeys {
    db: sled::Db,
    tree: sled::Tree,
    dir: PathBuf,
    /// Held shared while a key is read or created, exclusively while the
    /// keys move to a new wrapping key.
    wrapping: Arc<RwLock<Wrappings>>,
}

/// The wrapping key new keys are sealed with, and the one before it while
/// a move away from it has not finished (a failing disk): stored keys are
/// sealed with one or the other.
#[derive(Clone)]
struct Wrappings {
    current: Wrapping,
    previous: Option<Wrapping>,
}

impl Wrappings {
    fn all(&self) -> impl Iterator<Item = &Wrapping> {
        std::iter::once(&self.current).chain(&self.previous)
    }
}

/// A wrapping key and its generation, which every key sealed with it names.
#[derive(Clone)]
struct Wrapping {
    generation: u64,
    key: [u8; 32],
}

/// Bytes of a stored key: generation, nonce, the sealed key and its tag.
const SEALED_LEN: usize = 8 + 24 + 32 + 16;

impl Wrapping {
    fn random(generation: u64) -> Self {
        Wrapping {
            generation,
            key: rand::random(),
        }
    }

    /// The wrapping key stored at `path`, if there is one.
    fn read(path: &Path) -> Result<Option<Self>, KeyError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(storage(format!("{}: {error}", path.display()))),
        };
        let (generation, key) = bytes
            .split_first_chunk::<8>()
            .and_then(|(generation, key)| Some((*generation, <[u8; 32]>::try_from(key).ok()?)))
            .ok_or_else(|| storage(format!("{} is damaged (not 40 bytes)", path.display())))?;
        Ok(Some(Wrapping {
            generation: u64::from_be_bytes(generation),
            key,
        }))
    }

    /// Writes the wrapping key to `path`, durably.
    fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut file = std::fs::File::create(path)?;
        file.write_all(&self.generation.to_be_bytes())?;
        file.write_all(&self.key)?;
        file.sync_all()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.key).into())
    }

    /// `key` sealed for `subject` (bound in as associated data).
    fn seal(&self, subject: &str, key: &SubjectKey) -> Result<Vec<u8>, KeyError> {
        let nonce: [u8; 24] = rand::random();
        let sealed = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: key,
                    aad: subject.as_bytes(),
                },
            )
            .map_err(|_| storage("sealing a subject key failed"))?;
        Ok([&self.generation.to_be_bytes()[..], &nonce, &sealed].concat())
    }

    /// The key `stored` holds, if it is sealed with this wrapping key.
    fn open(&self, subject: &str, stored: &[u8]) -> Option<SubjectKey> {
        let (generation, rest) = stored.split_first_chunk::<8>()?;
        if stored.len() != SEALED_LEN || u64::from_be_bytes(*generation) != self.generation {
            return None;
        }
        let (nonce, sealed) = rest.split_at(24);
        let key = self
            .cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: subject.as_bytes(),
                },
            )
            .ok()?;
        key.try_into().ok()
    }
}

impl SledKeys {
    /// The key tree of the sled database in `dir`, with its wrapping key:
    /// created with the first key store, and a move to a new one that a
    /// crash cut short is finished here. Keys stored plain by an earlier
    /// release are sealed here.
    pub(crate) fn open(db: &sled::Db, dir: &Path) -> Result<Self, KeyError> {
        let tree = db.open_tree(SLED_KEYS_TREE).map_err(storage)?;
        let current = Wrapping::read(&dir.join(WRAPPING_KEY_FILE))?;
        let next = Wrapping::read(&dir.join(NEXT_WRAPPING_KEY_FILE))?;
        let keys = |current: Wrapping, previous: Option<Wrapping>| SledKeys {
            db: db.clone(),
            tree: tree.clone(),
            dir: dir.to_path_buf(),
            wrapping: Arc::new(RwLock::new(Wrappings { current, previous })),
        };
        match (current, next) {
            (Some(current), None) => Ok(keys(current, None)),
            (current, Some(next)) => {
                let opened = keys(next, current);
                opened.finish_move(&mut opened.wrappings_mut())?;
                Ok(opened)
            }
            (None, None) => {
                let sealed_before = tree
                    .iter()
                    .values()
                    .any(|value| value.is_ok_and(|v| v.len() != 32));
                if sealed_before {
                    return Err(storage(format!(
                        "{} is missing: the subject keys cannot be opened without it",
                        dir.join(WRAPPING_KEY_FILE).display()
                    )));
                }
                let first = Wrapping::random(1);
                first
                    .write(&dir.join(NEXT_WRAPPING_KEY_FILE))
                    .map_err(storage)?;
                let opened = keys(first, None);
                opened.finish_move(&mut opened.wrappings_mut())?;
                Ok(opened)
            }
        }
    }

    /// The key `stored` holds: sealed with one of `wrappings`, or plain as
    /// an earlier release stored it.
    fn unwrap(subject: &str, stored: &[u8], wrappings: &Wrappings) -> Result<SubjectKey, KeyError> {
        if stored.len() == 32 {
            return parse(subject, stored);
        }
        wrappings
            .all()
            .find_map(|wrapping| wrapping.open(subject, stored))
            .ok_or_else(|| KeyError::Malformed {
                subject: subject.to_owned(),
            })
    }

    /// Seals every stored key not sealed with the current wrapping key yet
    /// with it, makes that durable, and replaces the previous wrapping
    /// key's file with the current one's. The current one is already
    /// durable in [`NEXT_WRAPPING_KEY_FILE`], so a crash midway is finished
    /// by [`SledKeys::open`], and a failure by the next destruction.
    fn finish_move(&self, wrappings: &mut Wrappings) -> Result<(), KeyError> {
        let next = &wrappings.current;
        let mut batch = sled::Batch::default();
        let mut size = 0;
        for entry in &self.tree {
            let (subject, stored) = entry.map_err(storage)?;
            let subject = String::from_utf8_lossy(&subject).into_owned();
            if next.open(&subject, &stored).is_some() {
                continue;
            }
            let key = Self::unwrap(&subject, &stored, wrappings)?;
            batch.insert(subject.as_bytes(), next.seal(&subject, &key)?);
            size += 1;
            if size == REWRAP_BATCH {
                self.tree
                    .apply_batch(std::mem::take(&mut batch))
                    .map_err(storage)?;
                size = 0;
            }
        }
        self.tree.apply_batch(batch).map_err(storage)?;
        self.make_durable()?;
        std::fs::rename(
            self.dir.join(NEXT_WRAPPING_KEY_FILE),
            self.dir.join(WRAPPING_KEY_FILE),
        )
        .and_then(|()| std::fs::File::open(&self.dir)?.sync_all())
        .map_err(storage)?;
        wrappings.previous = None;
        Ok(())
    }

    fn make_durable(&self) -> Result<(), KeyError> {
        Durability::open(&self.dir, Arc::default())
            .and_then(|mut durability| durability.make_durable(&self.db))
            .map_err(storage)
    }

    fn wrappings(&self) -> std::sync::RwLockReadGuard<'_, Wrappings> {
        self.wrapping
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn wrappings_mut(&self) -> std::sync::RwLockWriteGuard<'_, Wrappings> {
        self.wrapping
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn storage(error: impl std::fmt::Display) -> KeyError {
    KeyError::Storage(error.to_string())
}

pub(crate) fn parse(subject: &str, bytes: &[u8]) -> Result<SubjectKey, KeyError> {
    bytes.try_into().map_err(|_| KeyError::Malformed {
        subject: subject.to_owned(),
    })
}

impl SubjectKeys for SledKeys {
    fn key(&self, subject: &str) -> Result<Option<SubjectKey>, KeyError> {
        let wrapping = self.wrappings();
        self.tree
            .get(subject)
            .map_err(storage)?
            .map(|stored| Self::unwrap(subject, &stored, &wrapping))
            .transpose()
    }

    fn key_or_create(&self, subject: &str) -> Result<SubjectKey, KeyError> {
        // Held until the key is stored: a move to a new wrapping key waits,
        // so no key is stored sealed with the one it replaces.
        let wrapping = self.wrappings();
        if let Some(stored) = self.tree.get(subject).map_err(storage)? {
            return Self::unwrap(subject, &stored, &wrapping);
        }
        let fresh: SubjectKey = rand::random();
        match self
            .tree
            .compare_and_swap(
                subject,
                None::<&[u8]>,
                Some(wrapping.current.seal(subject, &fresh)?),
            )
            .map_err(storage)?
        {
            Ok(()) => Ok(fresh),
            // Someone else created it first: theirs is the key.
            Err(lost) => Self::unwrap(
                subject,
                &lost.current.ok_or_else(|| storage("key vanished"))?,
                &wrapping,
            ),
        }
    }

    fn all(&self) -> Result<Vec<(String, SubjectKey)>, KeyError> {
        let wrapping = self.wrappings();
        self.tree
            .iter()
            .map(|entry| {
                let (subject, stored) = entry.map_err(storage)?;
                let subject = String::from_utf8_lossy(&subject).into_owned();
                let key = Self::unwrap(&subject, &stored, &wrapping)?;
                Ok((subject, key))
            })
            .collect()
    }

    fn destroy(&self, subjects: &[String]) -> Result<(), KeyError> {
        let mut wrappings = self.wrappings_mut();
        if wrappings.previous.is_some() {
            // A move a failure left midway: finish it first, so that the
            // new wrapping key replaces the only one in use.
            self.finish_move(&mut wrappings)?;
        }
        let mut batch = sled::Batch::default();
        for subject in subjects {
            batch.remove(subject.as_bytes());
        }
        self.tree.apply_batch(batch).map_err(storage)?;
        // What sled keeps of the removed keys stays sealed with the current
        // wrapping key: move every other key to a new one and drop it.
        let next = Wrapping::random(wrappings.current.generation + 1);
        next.write(&self.dir.join(NEXT_WRAPPING_KEY_FILE))
            .map_err(storage)?;
        let previous = std::mem::replace(&mut wrappings.current, next);
        wrappings.previous = Some(previous);
        self.finish_move(&mut wrappings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened(dir: &Path) -> (sled::Db, SledKeys) {
        let db = sled::Config::new().path(dir).open().unwrap();
        let keys = SledKeys::open(&db, dir).unwrap();
        (db, keys)
    }

    /// Whether any file under `dir` holds `bytes`.
    fn on_disk(dir: &Path, bytes: &[u8]) -> bool {
        let mut pending = vec![dir.to_path_buf()];
        while let Some(path) = pending.pop() {
            if path.is_dir() {
                pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            } else if std::fs::read(&path)
                .is_ok_and(|held| held.windows(bytes.len()).any(|w| w == bytes))
            {
                return true;
            }
        }
        false
    }

    #[test]
    fn a_destroyed_key_stays_only_sealed_with_a_wrapping_key_no_file_holds() {
        let dir = tempfile::tempdir().unwrap();
        let (db, keys) = opened(dir.path());
        let gone = keys.key_or_create("contact-a").unwrap();
        let kept = keys.key_or_create("contact-b").unwrap();
        keys.make_durable().unwrap();
        let stored = keys.tree.get("contact-a").unwrap().unwrap().to_vec();
        let old_wrapping = std::fs::read(dir.path().join(WRAPPING_KEY_FILE)).unwrap();
        assert!(!on_disk(dir.path(), &gone), "a key is never stored plain");
        assert!(
            on_disk(dir.path(), &stored),
            "sled's file holds the sealed key"
        );

        keys.destroy(&["contact-a".to_owned()]).unwrap();
        assert_eq!(keys.key("contact-a").unwrap(), None);
        assert_eq!(keys.key("contact-b").unwrap(), Some(kept));
        assert!(
            !on_disk(dir.path(), &old_wrapping[8..]),
            "the wrapping key the destroyed key was sealed with is in no file"
        );
        let now = Wrapping::read(&dir.path().join(WRAPPING_KEY_FILE))
            .unwrap()
            .unwrap();
        assert!(now.open("contact-a", &stored).is_none());
        assert!(!dir.path().join(NEXT_WRAPPING_KEY_FILE).exists());

        drop((keys, db));
        let (_db, keys) = opened(dir.path());
        assert_eq!(keys.key("contact-b").unwrap(), Some(kept));
        assert_eq!(keys.key("contact-a").unwrap(), None);
    }

    #[test]
    fn keys_an_earlier_release_stored_plain_are_sealed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let plain: SubjectKey = rand::random();
        {
            let db = sled::Config::new().path(dir.path()).open().unwrap();
            let tree = db.open_tree(SLED_KEYS_TREE).unwrap();
            tree.insert("visitor-x", &plain[..]).unwrap();
            db.flush().unwrap();
        }
        let (_db, keys) = opened(dir.path());
        assert_eq!(keys.key("visitor-x").unwrap(), Some(plain));
        assert_eq!(
            keys.tree.get("visitor-x").unwrap().unwrap().len(),
            SEALED_LEN
        );
        assert!(dir.path().join(WRAPPING_KEY_FILE).exists());
    }

    #[test]
    fn a_move_to_a_new_wrapping_key_cut_short_is_finished_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let key = {
            let (_db, keys) = opened(dir.path());
            let key = keys.key_or_create("contact-c").unwrap();
            keys.make_durable().unwrap();
            // A destruction wrote its new wrapping key, then the process died.
            Wrapping::random(2)
                .write(&dir.path().join(NEXT_WRAPPING_KEY_FILE))
                .unwrap();
            key
        };
        let (_db, keys) = opened(dir.path());
        assert_eq!(keys.key("contact-c").unwrap(), Some(key));
        assert!(!dir.path().join(NEXT_WRAPPING_KEY_FILE).exists());
        let current = Wrapping::read(&dir.path().join(WRAPPING_KEY_FILE))
            .unwrap()
            .unwrap();
        assert_eq!(current.generation, 2);
    }

    #[test]
    fn sealed_keys_without_their_wrapping_key_are_refused_at_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (_db, keys) = opened(dir.path());
            keys.key_or_create("contact-d").unwrap();
            keys.make_durable().unwrap();
        }
        std::fs::remove_file(dir.path().join(WRAPPING_KEY_FILE)).unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let Err(KeyError::Storage(message)) = SledKeys::open(&db, dir.path()) else {
            panic!("opened without the wrapping key");
        };
        assert!(message.contains("is missing"), "{message}");
    }
}
