//! Walking the hash chain: proof that no stored byte changed.

use tahc_events::Position;

use crate::error::ReadError;
use crate::log::LogReader;
use crate::record::{self, GENESIS};

/// The outcome of walking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// How many records were checked and found good.
    pub checked: u64,
    /// The first position whose record is corrupt, out of order, or whose
    /// hash does not follow from the one before; `None` when the chain holds.
    pub first_bad: Option<Position>,
}

impl Verification {
    /// Whether every record is intact.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// Events read per page while verifying.
const PAGE: usize = 1024;

/// Recomputes the chain over the whole log, oldest first, and names the first
/// position where it breaks. Storage failures (not corruption) are errors.
pub async fn verify(log: &dyn LogReader) -> Result<Verification, ReadError> {
    let mut prev_hash = GENESIS;
    let mut expected = Position::START.next();
    let mut checked = 0;
    let bad = |position, checked| {
        Ok(Verification {
            checked,
            first_bad: Some(position),
        })
    };
    loop {
        let page = match log
            .read_all(expected.0.saturating_sub(1).into(), PAGE)
            .await
        {
            Ok(page) => page,
            Err(ReadError::Corrupt { position, .. }) => return bad(position, checked),
            Err(ReadError::Missing(position)) => return bad(position, checked),
            Err(other) => return Err(other),
        };
        if page.is_empty() {
            return Ok(Verification {
                checked,
                first_bad: None,
            });
        }
        for event in page {
            if event.position != expected
                || event.prev_hash != prev_hash
                || record::expected_hash(&event) != event.hash
            {
                return bad(expected, checked);
            }
            prev_hash = event.hash;
            expected = expected.next();
            checked += 1;
        }
    }
}
