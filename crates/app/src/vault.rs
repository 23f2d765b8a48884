//! Sealing personal data into the log and opening it again: XChaCha20-
//! Poly1305 under each subject's key, the subject's id bound in as
//! associated data so a sealed field cannot be passed off as another's.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use lru::LruCache;
use tahc_events::{
    ContactErased, Event, KeysUnavailable, Opener, Personal, RecordedEvent, Sealed, StreamCategory,
    StreamId,
};

use crate::error::AppError;
use tahc_store::{KeyError, SubjectKey, SubjectKeys};

/// Keys kept in memory, the most recently used (about 13 MiB when full).
const CACHED_KEYS: NonZeroUsize = NonZeroUsize::new(100_000).expect("not zero");

/// Seals and opens personal fields with the subject keys of one log.
pub struct Vault {
    keys: Arc<dyn SubjectKeys>,
    /// Keys known to exist. Held while the store is read, so that a key
    /// destroyed meanwhile can never be put back.
    cache: Mutex<LruCache<String, SubjectKey>>,
}

impl Vault {
    /// Over a key store.
    #[must_use]
    pub fn new(keys: Arc<dyn SubjectKeys>) -> Self {
        Vault {
            keys,
            cache: Mutex::new(LruCache::new(CACHED_KEYS)),
        }
    }

    fn key(&self, subject: &str, create: bool) -> Result<Option<SubjectKey>, KeyError> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(key) = cache.get(subject) {
            return Ok(Some(*key));
        }
        let key = if create {
            Some(self.keys.key_or_create(subject)?)
        } else {
            self.keys.key(subject)?
        };
        if let Some(key) = key {
            cache.put(subject.to_owned(), key);
        }
        Ok(key)
    }

    /// Seals every plain personal field of `event` with the key of
    /// `subject` (a visitor or contact stream id), creating the key if the
    /// subject has none yet.
    pub fn seal(&self, subject: &str, event: &mut Event) -> Result<(), KeyError> {
        let mut fields = event.personal_fields_mut();
        fields.retain(|field| matches!(field, Personal::Plain(_)));
        if fields.is_empty() {
            return Ok(());
        }
        let key = self
            .key(subject, true)?
            .ok_or_else(|| KeyError::Storage("a created key is missing".into()))?;
        let cipher = XChaCha20Poly1305::new((&key).into());
        for field in fields {
            let Personal::Plain(text) = field else {
                continue;
            };
            let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
            let ciphertext = cipher
                .encrypt(
                    &nonce,
                    Payload {
                        msg: text.as_bytes(),
                        aad: subject.as_bytes(),
                    },
                )
                .map_err(|_| KeyError::Storage("sealing failed".into()))?;
            *field = Personal::Sealed(Sealed {
                subject: subject.to_owned(),
                nonce: STANDARD.encode(nonce),
                ciphertext: STANDARD.encode(ciphertext),
            });
        }
        Ok(())
    }

    /// `record` as a reader with these keys sees it: the payload decoded,
    /// upcast to the current schema and its personal fields opened (erased
    /// ones `null`). Its hashes stay those of the stored bytes, which is what
    /// verification checks. A type this release does not know stays as
    /// stored.
    pub fn readable(&self, record: &RecordedEvent) -> Result<RecordedEvent, AppError> {
        let Ok(mut event) = record.decode() else {
            return Ok(record.clone());
        };
        event.open_with(self)?;
        Ok(RecordedEvent {
            schema_version: event.schema_version(),
            payload: tahc_events::Payload::from_json_bytes(event.payload_json()?),
            ..record.clone()
        })
    }

    /// Destroys the keys a contact's erasure names: the contact's own and
    /// those of its visitors.
    pub fn shred(&self, contact: &StreamId, erased: &ContactErased) -> Result<(), KeyError> {
        let mut subjects = vec![contact.as_str().to_owned()];
        subjects.extend(erased.visitor_ids.iter().map(|visitor| {
            StreamId::of(StreamCategory::Visitor, *visitor)
                .as_str()
                .to_owned()
        }));
        self.destroy(&subjects)
    }

    /// Destroys the keys of `subjects`: from now on everything sealed with
    /// them reads as erased, wherever the log is read.
    pub fn destroy(&self, subjects: &[String]) -> Result<(), KeyError> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        for subject in subjects {
            cache.pop(subject);
        }
        self.keys.destroy(subjects)
    }
}

impl Opener for Vault {
    fn open(&self, sealed: &Sealed) -> Result<Personal, KeysUnavailable> {
        let key = self
            .key(&sealed.subject, false)
            .map_err(|error| KeysUnavailable(error.to_string()))?;
        let Some(key) = key else {
            return Ok(Personal::Erased);
        };
        let (Ok(nonce), Ok(ciphertext)) = (
            STANDARD.decode(&sealed.nonce),
            STANDARD.decode(&sealed.ciphertext),
        ) else {
            return Ok(Personal::Erased);
        };
        if nonce.len() != 24 {
            return Ok(Personal::Erased);
        }
        let opened = XChaCha20Poly1305::new((&key).into()).decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &ciphertext,
                aad: sealed.subject.as_bytes(),
            },
        );
        // A key that does not open the field is a later key of the same
        // subject, made after an erasure: the text is gone.
        Ok(opened
            .ok()
            .and_then(|text| String::from_utf8(text).ok())
            .map_or(Personal::Erased, Personal::Plain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use tahc_events::MessagePosted;
    use uuid::Uuid;

    #[derive(Default)]
    struct MemoryKeys(Mutex<HashMap<String, SubjectKey>>);

    impl SubjectKeys for MemoryKeys {
        fn key(&self, subject: &str) -> Result<Option<SubjectKey>, KeyError> {
            Ok(self.0.lock().unwrap().get(subject).copied())
        }
        fn key_or_create(&self, subject: &str) -> Result<SubjectKey, KeyError> {
            Ok(*self
                .0
                .lock()
                .unwrap()
                .entry(subject.into())
                .or_insert_with(rand::random))
        }
        fn all(&self) -> Result<Vec<(String, SubjectKey)>, KeyError> {
            Ok(self.0.lock().unwrap().clone().into_iter().collect())
        }
        fn destroy(&self, subjects: &[String]) -> Result<(), KeyError> {
            let mut keys = self.0.lock().unwrap();
            for subject in subjects {
                keys.remove(subject);
            }
            Ok(())
        }
    }

    fn message(body: &str) -> Event {
        Event::MessagePosted(MessagePosted {
            message_id: Uuid::nil(),
            author_kind: tahc_events::AuthorKind::Visitor,
            agent_id: None,
            body: Personal::plain(body),
            internal: false,
            confidence: None,
            idempotency_key: None,
        })
    }

    fn body(event: &Event) -> &Personal {
        let Event::MessagePosted(m) = event else {
            unreachable!()
        };
        &m.body
    }

    #[test]
    fn a_sealed_field_holds_no_plaintext_and_opens_to_its_text() {
        let vault = Vault::new(Arc::new(MemoryKeys::default()));
        let mut event = message("my card ends in 4242");
        vault.seal("visitor-1", &mut event).unwrap();
        let meta = tahc_events::EventMeta {
            actor: tahc_events::Actor::system(),
            workspace_id: Uuid::nil(),
            occurred_at: chrono::Utc::now(),
            correlation_id: None,
            causation_id: None,
        };
        let encoded = tahc_events::NewEvent::encode(&event, &meta).unwrap();
        let stored = String::from_utf8_lossy(encoded.payload.as_bytes()).into_owned();
        assert!(!stored.contains("4242"), "{stored}");
        assert!(matches!(body(&event), Personal::Sealed(s) if s.subject == "visitor-1"));
        event.open_with(&vault).unwrap();
        assert_eq!(body(&event), &Personal::plain("my card ends in 4242"));
    }

    #[test]
    fn after_the_key_is_destroyed_the_field_reads_as_erased_even_under_a_new_key() {
        let vault = Vault::new(Arc::new(MemoryKeys::default()));
        let mut event = message("hello");
        vault.seal("visitor-1", &mut event).unwrap();
        vault.destroy(&["visitor-1".into()]).unwrap();
        let mut later = message("again");
        vault.seal("visitor-1", &mut later).unwrap();
        event.open_with(&vault).unwrap();
        assert_eq!(body(&event), &Personal::Erased);
        later.open_with(&vault).unwrap();
        assert_eq!(body(&later), &Personal::plain("again"));
    }

    #[test]
    fn a_field_moved_to_another_subject_does_not_open() {
        let vault = Vault::new(Arc::new(MemoryKeys::default()));
        vault.seal("visitor-2", &mut message("x")).unwrap();
        let mut event = message("secret");
        vault.seal("visitor-1", &mut event).unwrap();
        if let Event::MessagePosted(m) = &mut event
            && let Personal::Sealed(s) = &mut m.body
        {
            s.subject = "visitor-2".into();
        }
        event.open_with(&vault).unwrap();
        assert_eq!(body(&event), &Personal::Erased);
    }
}
