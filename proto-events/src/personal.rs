//! Personal data inside event payloads.
//!
//! Names, emails, message bodies, notes and custom field values are
//! [`Personal`]: in the log they are sealed with a key of their subject (the
//! visitor or contact), kept beside the log. Erasing the subject destroys the
//! key, and from then on the field reads as [`Personal::Erased`] everywhere,
//! while the event itself, its actor, time and hash stay for the audit trail.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Event;

/// Ciphertext of one personal field, and whose key opens it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The subject whose key sealed it (a visitor or contact stream id).
    pub subject: String,
    /// The AEAD nonce, base64.
    pub nonce: String,
    /// The AEAD ciphertext with its tag, base64.
    pub ciphertext: String,
}

/// A personal field: plain inside the service, sealed in the log, erased after
/// a privacy erasure.
///
/// In JSON a plain value is a string, a sealed one `{"sealed": {…}}`, and an
/// erased one `null`, so auditors reading the log see `null` exactly where the
/// contract promises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Personal {
    /// Readable text.
    Plain(String),
    /// Text sealed with the subject's key.
    Sealed(Sealed),
    /// The subject's key is destroyed: the text is gone for good.
    Erased,
}

impl Personal {
    /// Plain text.
    #[must_use]
    pub fn plain(text: impl Into<String>) -> Self {
        Personal::Plain(text.into())
    }

    /// The text, when it is readable.
    #[must_use]
    pub fn as_plain(&self) -> Option<&str> {
        match self {
            Personal::Plain(text) => Some(text),
            Personal::Sealed(_) | Personal::Erased => None,
        }
    }
}

impl From<&str> for Personal {
    fn from(text: &str) -> Self {
        Personal::plain(text)
    }
}

impl From<String> for Personal {
    fn from(text: String) -> Self {
        Personal::Plain(text)
    }
}

/// Turns sealed fields back into text: the vault of a node, or [`Keyless`]
/// where no keys are at hand.
pub trait Opener: Send + Sync {
    /// The text of `sealed`, or [`Personal::Erased`] when its key is gone
    /// or does not open it; an error when the keys cannot be read right now
    /// (the caller retries rather than take the field for erased).
    fn open(&self, sealed: &Sealed) -> Result<Personal, KeysUnavailable>;
}

/// The key store could not be read: whether a field is erased is unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the subject keys cannot be read: {0}")]
pub struct KeysUnavailable(pub String);

/// Opens nothing: every sealed field reads as erased. What a reader without
/// the keys (a copied log, a test over plain events) sees.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keyless;

impl Opener for Keyless {
    fn open(&self, _: &Sealed) -> Result<Personal, KeysUnavailable> {
        Ok(Personal::Erased)
    }
}

impl Event {
    /// Every personal field of the event, to seal or open in place.
    pub fn personal_fields_mut(&mut self) -> Vec<&mut Personal> {
        match self {
            Event::ContactCreated(e) => [Some(&mut e.email), e.name.as_mut()]
                .into_iter()
                .flatten()
                .collect(),
            Event::ContactUpdated(e) => [e.name.as_mut(), e.email.as_mut()]
                .into_iter()
                .flatten()
                .collect(),
            Event::VisitorIdentified(e) => [Some(&mut e.email), e.name.as_mut()]
                .into_iter()
                .flatten()
                .collect(),
            Event::VisitorEmailClaimed(e) => [Some(&mut e.email), e.name.as_mut()]
                .into_iter()
                .flatten()
                .collect(),
            Event::ContactNoteAdded(e) => vec![&mut e.body],
            Event::ContactNoteEdited(e) => vec![&mut e.body],
            Event::ContactCustomFieldSet(e) => e.value.as_mut().into_iter().collect(),
            Event::MessagePosted(e) => vec![&mut e.body],
            _ => Vec::new(),
        }
    }

    /// Replaces each sealed field with what `opener` makes of it.
    pub fn open_with(&mut self, opener: &dyn Opener) -> Result<(), KeysUnavailable> {
        for field in self.personal_fields_mut() {
            if let Personal::Sealed(sealed) = field {
                *field = opener.open(sealed)?;
            }
        }
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Wire {
    Plain(String),
    Sealed { sealed: Sealed },
    Erased(()),
}

impl Serialize for Personal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Personal::Plain(text) => serializer.serialize_str(text),
            Personal::Sealed(sealed) => Wire::Sealed {
                sealed: sealed.clone(),
            }
            .serialize(serializer),
            Personal::Erased => serializer.serialize_unit(),
        }
    }
}

impl<'de> Deserialize<'de> for Personal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Wire::deserialize(deserializer)? {
            Wire::Plain(text) => Personal::Plain(text),
            Wire::Sealed { sealed } => Personal::Sealed(sealed),
            Wire::Erased(()) => Personal::Erased,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_sealed_and_erased_fields_have_distinct_json_forms() {
        let sealed = Personal::Sealed(Sealed {
            subject: "contact-1".into(),
            nonce: "bm9uY2U=".into(),
            ciphertext: "Y3Q=".into(),
        });
        for (value, wire) in [
            (Personal::plain("ada@example.com"), json!("ada@example.com")),
            (
                sealed,
                json!({"sealed": {"subject": "contact-1", "nonce": "bm9uY2U=", "ciphertext": "Y3Q="}}),
            ),
            (Personal::Erased, json!(null)),
        ] {
            assert_eq!(serde_json::to_value(&value).unwrap(), wire);
            assert_eq!(serde_json::from_value::<Personal>(wire).unwrap(), value);
        }
    }

    #[test]
    fn a_reader_without_keys_sees_sealed_fields_as_erased_and_plain_ones_unchanged() {
        let sealed = Personal::Sealed(Sealed {
            subject: "visitor-1".into(),
            nonce: String::new(),
            ciphertext: String::new(),
        });
        let mut event = Event::ContactCreated(crate::ContactCreated {
            email: sealed,
            name: Some(Personal::plain("Ada")),
        });
        event.open_with(&Keyless).unwrap();
        let Event::ContactCreated(created) = event else {
            unreachable!()
        };
        assert_eq!(created.email, Personal::Erased);
        assert_eq!(created.name, Some(Personal::plain("Ada")));
    }

    #[test]
    fn a_number_is_not_a_personal_field() {
        assert!(serde_json::from_value::<Personal>(json!(42)).is_err());
    }
}
