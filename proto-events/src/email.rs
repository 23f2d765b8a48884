//! Payloads of email claim streams: which contact holds an address.
//!
//! A claim stream's id is a keyed hash of the workspace and the normalised
//! address (the key lives beside the log, never in it), so addresses stay
//! unique per workspace through the log's own concurrency control, while the
//! log never names them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The address now belongs to a contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailClaimed {
    /// The contact.
    pub contact_id: Uuid,
}

/// The contact gave the address up (changed it, or was erased or merged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailReleased {
    /// The contact that held it.
    pub contact_id: Uuid,
}
