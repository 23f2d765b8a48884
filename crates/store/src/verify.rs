//! Walking the hash chain: proof that no stored byte changed.

use tahc_events::Position;

use crate::error::ReadError;
use crate::log::LogReader;
use crate::record::{self, GENESIS};

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// How many records were checked and found good (counting those of the
    /// prefix a walk started after).
    pub checked: u64,
    /// The first position whose record is corrupt, out of order, or whose
    /// hash does not follow from the one before; `None` when the chain holds.
    pub first_bad: Option<Position>,
    /// The last record found good: where a later walk may go on from.
    pub verified: Verified,
}

impl Verification {
    /// Whether every record is intact.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// A prefix of the chain found good: its last position and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The last position checked (`Position::START` for none).
    pub position: Position,
    /// Its hash (the genesis hash for none).
    pub hash: record::Digest,
}

impl Verified {
    /// Nothing verified yet: a walk from the first record.
    pub const NOTHING: Verified = Verified {
        position: Position::START,
        hash: GENESIS,
    };
}

/// Events read per page while verifying.
const PAGE: usize = 1024;

/// Recomputes the chain over the whole log, oldest first, and names the first
/// position where it breaks. Storage failures (not corruption) are errors.
pub async fn verify(log: &dyn LogReader) -> Result<Verification, ReadError> {
    verify_after(log, Verified::NOTHING).await
}

/// Recomputes the chain over the last `count` records before `head`: the
/// quick check a node makes at start (a damaged tail, where the last writes
/// landed, is refused). The first of them is taken as found good.
pub async fn verify_tail(
    log: &dyn LogReader,
    head: Position,
    count: u64,
) -> Result<Verification, ReadError> {
    let Some(from) = head.0.checked_sub(count).filter(|from| *from > 0) else {
        return verify(log).await;
    };
    let start = Verified {
        position: Position(from),
        hash: GENESIS,
    };
    let first = match log.read_all(Position(from - 1), 1).await {
        Ok(first) => first,
        Err(ReadError::Corrupt { position, .. } | ReadError::Missing(position)) => {
            return Ok(Verification {
                checked: from - 1,
                first_bad: Some(position),
                verified: start,
            });
        }
        Err(other) => return Err(other),
    };
    match first.first() {
        Some(record) if record.position == Position(from) => {
            verify_after(
                log,
                Verified {
                    position: record.position,
                    hash: record.hash,
                },
            )
            .await
        }
        _ => Ok(Verification {
            checked: from - 1,
            first_bad: Some(Position(from)),
            verified: start,
        }),
    }
}

/// Recomputes the chain after a prefix already found good (the records
/// after `from.position`, the first of them chained to `from.hash`).
pub async fn verify_after(log: &dyn LogReader, from: Verified) -> Result<Verification, ReadError> {
    let mut verified = from;
    let bad = |position, verified: Verified| {
        Ok(Verification {
            checked: verified.position.0,
            first_bad: Some(position),
            verified,
        })
    };
    loop {
        let page = match log.read_all(verified.position, PAGE).await {
            Ok(page) => page,
            Err(ReadError::Corrupt { position, .. }) => return bad(position, verified),
            Err(ReadError::Missing(position)) => return bad(position, verified),
            Err(other) => return Err(other),
        };
        if page.is_empty() {
            return Ok(Verification {
                checked: verified.position.0,
                first_bad: None,
                verified,
            });
        }
        for event in page {
            let expected = verified.position.next();
            if event.position != expected
                || event.prev_hash != verified.hash
                || record::expected_hash(&event) != event.hash
            {
                return bad(expected, verified);
            }
            verified = Verified {
                position: event.position,
                hash: event.hash,
            };
        }
    }
}
