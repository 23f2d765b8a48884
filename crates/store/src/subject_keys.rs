//! The keys personal data is sealed with: one per subject (a visitor or a
//! contact), kept beside the log and never in it. Destroying a subject's key
//! erases its personal data everywhere the log is read (crypto-shredding),
//! while the events, their hashes and the audit trail stay.

use std::path::{Path, PathBuf};

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

/// Subject keys in a tree of the log's own sled database: the writer's
/// flush of any later append makes a new key durable with it.
#[derive(Clone)]
pub struct SledKeys {
    db: sled::Db,
    tree: sled::Tree,
    dir: PathBuf,
}

impl SledKeys {
    /// The key tree of the sled database in `dir`.
    pub(crate) fn open(db: &sled::Db, dir: &Path) -> sled::Result<Self> {
        Ok(SledKeys {
            db: db.clone(),
            tree: db.open_tree(SLED_KEYS_TREE)?,
            dir: dir.to_path_buf(),
        })
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
        self.tree
            .get(subject)
            .map_err(storage)?
            .map(|bytes| parse(subject, &bytes))
            .transpose()
    }

    fn key_or_create(&self, subject: &str) -> Result<SubjectKey, KeyError> {
        if let Some(key) = self.key(subject)? {
            return Ok(key);
        }
        let fresh: SubjectKey = rand::random();
        match self
            .tree
            .compare_and_swap(subject, None::<&[u8]>, Some(&fresh[..]))
            .map_err(storage)?
        {
            Ok(()) => Ok(fresh),
            // Someone else created it first: theirs is the key.
            Err(lost) => parse(
                subject,
                &lost.current.ok_or_else(|| storage("key vanished"))?,
            ),
        }
    }

    fn all(&self) -> Result<Vec<(String, SubjectKey)>, KeyError> {
        self.tree
            .iter()
            .map(|entry| {
                let (subject, key) = entry.map_err(storage)?;
                let subject = String::from_utf8_lossy(&subject).into_owned();
                let key = parse(&subject, &key)?;
                Ok((subject, key))
            })
            .collect()
    }

    fn destroy(&self, subjects: &[String]) -> Result<(), KeyError> {
        let mut batch = sled::Batch::default();
        for subject in subjects {
            batch.remove(subject.as_bytes());
        }
        self.tree.apply_batch(batch).map_err(storage)?;
        Durability::open(&self.dir, std::sync::Arc::default())
            .and_then(|mut durability| durability.make_durable(&self.db))
            .map_err(storage)
    }
}
