//! The secret that turns an email address into its claim stream's id.
//! It lives beside the log (the server keeps it in the data directory),
//! never in it: the log alone does not reveal which addresses it holds.

use rand::RngCore;
use tahc_domain::Email;
use uuid::Uuid;

/// A 256-bit key for hashing email addresses into claim ids.
#[derive(Clone)]
pub struct EmailKey([u8; 32]);

impl EmailKey {
    /// A key from stored bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        EmailKey(bytes)
    }

    /// A fresh random key.
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        EmailKey(bytes)
    }

    /// The bytes to store.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The claim id of `email` in `workspace_id`.
    #[must_use]
    pub fn claim_id(&self, workspace_id: Uuid, email: &Email) -> Uuid {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(workspace_id.as_bytes());
        hasher.update(email.as_str().as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
        Uuid::new_v8(bytes)
    }
}

impl std::fmt::Debug for EmailKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmailKey(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_ids_depend_on_key_workspace_and_normalised_address() {
        let key = EmailKey::generate();
        let workspace = Uuid::now_v7();
        let ada = Email::parse("ada@example.com", "email").unwrap();
        let same = Email::parse(" ADA@Example.com", "email").unwrap();
        assert_eq!(
            key.claim_id(workspace, &ada),
            key.claim_id(workspace, &same)
        );
        assert_ne!(
            key.claim_id(workspace, &ada),
            key.claim_id(Uuid::now_v7(), &ada)
        );
        assert_ne!(
            key.claim_id(workspace, &ada),
            EmailKey::generate().claim_id(workspace, &ada)
        );
    }
}
