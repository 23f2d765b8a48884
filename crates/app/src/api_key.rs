//! Team API keys: 256 random bits, shown once, stored only as a keyed hash.
//! Keys carry that much entropy, so a fast hash (BLAKE3) is the right one:
//! slow password hashes protect guessable secrets, which these are not.
//! The hash is keyed with a secret kept beside the log, never in it, so a
//! reader of the log (an auditor, a copied backup of the log alone) holds
//! no verifier to test guesses against. A key an operator chooses
//! (`TAHC_BOOTSTRAP_ADMIN_KEY`) must look like one the server generates.

use rand::RngCore;

/// Every key starts with this, so leaked keys are easy to spot and scan for.
pub const PREFIX: &str = "tahc_";

/// Fewest characters after [`PREFIX`] a chosen key may have.
pub const MIN_CHOSEN_CHARS: usize = 32;

/// Fewest distinct characters a chosen key may have (a generated key has
/// 64 hex digits, nearly always all 16 of them).
pub const MIN_DISTINCT_CHARS: usize = 12;

/// A freshly generated key and the hash to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedKey {
    /// The key, to show once.
    pub key: String,
    /// Its hash, to store.
    pub hash: String,
}

/// Turns keys into the hashes stored in the log, with the node's secret.
#[derive(Clone)]
pub struct KeyHasher([u8; 32]);

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher(…)")
    }
}

impl KeyHasher {
    /// The hasher keyed from the data directory's secret.
    #[must_use]
    pub fn new(secret: &[u8; 32]) -> Self {
        KeyHasher(blake3::derive_key("tahc 2026-12 team API key hash", secret))
    }

    /// The stored form of a key.
    #[must_use]
    pub fn hash(&self, key: &str) -> String {
        format!(
            "keyed:{}",
            blake3::keyed_hash(&self.0, key.as_bytes()).to_hex()
        )
    }

    /// Every stored form a key may have: the keyed one, and the unkeyed
    /// one that logs written before keyed hashes still hold.
    #[must_use]
    pub fn stored_forms(&self, key: &str) -> [String; 2] {
        [self.hash(key), unkeyed_hash(key)]
    }

    /// Generates a new key.
    #[must_use]
    pub fn issue(&self) -> IssuedKey {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let key = format!("{PREFIX}{}", tahc_events::hex(&secret));
        IssuedKey {
            hash: self.hash(&key),
            key,
        }
    }
}

/// The stored form of keys issued before hashes were keyed.
fn unkeyed_hash(key: &str) -> String {
    format!("blake3:{}", blake3::hash(key.as_bytes()).to_hex())
}

/// Why a chosen key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WeakKey {
    /// Not `tahc_` followed by letters, digits, `_` and `-`.
    #[error("a key is `{PREFIX}` followed by letters, digits, `_` and `-`")]
    Form,
    /// Too short to be random enough.
    #[error("a key has at least {MIN_CHOSEN_CHARS} characters after `{PREFIX}`")]
    Short,
    /// Too few distinct characters to be random.
    #[error(
        "a key has at least {MIN_DISTINCT_CHARS} distinct characters; generate one, e.g. `{PREFIX}$(openssl rand -hex 32)`"
    )]
    Repetitive,
}

/// Checks a key an operator chose: the form and (roughly) the entropy of
/// one the server generates.
pub fn check_chosen(key: &str) -> Result<(), WeakKey> {
    let secret = key.strip_prefix(PREFIX).ok_or(WeakKey::Form)?;
    if !secret
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(WeakKey::Form);
    }
    if secret.len() < MIN_CHOSEN_CHARS {
        return Err(WeakKey::Short);
    }
    let distinct: std::collections::HashSet<char> = secret.chars().collect();
    if distinct.len() < MIN_DISTINCT_CHARS {
        return Err(WeakKey::Repetitive);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_keys_are_unique_prefixed_and_stored_only_as_their_keyed_hash() {
        let hasher = KeyHasher::new(&[7; 32]);
        let a = hasher.issue();
        let b = hasher.issue();
        assert_ne!(a.key, b.key);
        assert!(a.key.starts_with(PREFIX) && a.key.len() == PREFIX.len() + 64);
        assert_eq!(a.hash, hasher.hash(&a.key));
        assert!(!a.hash.contains(&a.key[PREFIX.len()..]));
        assert_eq!(check_chosen(&a.key), Ok(()));
    }

    #[test]
    fn the_hash_depends_on_the_secret_and_old_unkeyed_hashes_still_match() {
        let (one, other) = (KeyHasher::new(&[1; 32]), KeyHasher::new(&[2; 32]));
        let key = one.issue().key;
        assert_ne!(one.hash(&key), other.hash(&key));
        assert_eq!(one.stored_forms(&key)[1], other.stored_forms(&key)[1]);
        assert!(one.stored_forms(&key)[1].starts_with("blake3:"));
    }

    #[test]
    fn weak_or_malformed_chosen_keys_are_refused() {
        assert_eq!(check_chosen("password"), Err(WeakKey::Form));
        assert_eq!(check_chosen("tahc_pass word"), Err(WeakKey::Form));
        assert_eq!(
            check_chosen("tahc_bootstrap_key_for_tests"),
            Err(WeakKey::Short)
        );
        assert_eq!(
            check_chosen(&format!("tahc_{}", "ab".repeat(32))),
            Err(WeakKey::Repetitive)
        );
        assert_eq!(
            check_chosen(&format!("tahc_{}", "0123456789abcdef".repeat(2))),
            Ok(())
        );
    }
}
