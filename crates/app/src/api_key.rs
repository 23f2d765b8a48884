//! Team API keys: 256 random bits, shown once, stored only as a hash.
//! Keys carry that much entropy, so a fast hash (BLAKE3) is the right one:
//! slow password hashes protect guessable secrets, which these are not.

use rand::RngCore;

/// Every key starts with this, so leaked keys are easy to spot and scan for.
pub const PREFIX: &str = "tahc_";

/// A freshly generated key and the hash to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedKey {
    /// The key, to show once.
    pub key: String,
    /// Its hash, to store.
    pub hash: String,
}

/// Generates a new key.
#[must_use]
pub fn issue() -> IssuedKey {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let key = format!("{PREFIX}{}", tahc_events::hex(&secret));
    IssuedKey {
        hash: hash(&key),
        key,
    }
}

/// The stored form of a key (also of a key chosen by an operator, such as
/// `TAHC_BOOTSTRAP_ADMIN_KEY`).
#[must_use]
pub fn hash(key: &str) -> String {
    format!("blake3:{}", blake3::hash(key.as_bytes()).to_hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_keys_are_unique_prefixed_and_stored_only_as_their_hash() {
        let a = issue();
        let b = issue();
        assert_ne!(a.key, b.key);
        assert!(a.key.starts_with(PREFIX) && a.key.len() == PREFIX.len() + 64);
        assert_eq!(a.hash, hash(&a.key));
        assert!(!a.hash.contains(&a.key[PREFIX.len()..]));
    }
}
