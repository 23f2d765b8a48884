//! Blocking that holds against a new widget session: the client addresses
//! of blocked visitors may open no new session for a while.
//!
//! Each node remembers, in memory only, the address each visitor last
//! called from (the most recent [`REMEMBERED`] visitors; addresses never
//! enter the log). When the log says a visitor was blocked, every node that
//! served it refuses new sessions from that address for the block time:
//! the blocked person cannot simply fetch a new token and write again.
//! Behind a reverse proxy every client shares the proxy's address: set the
//! block time to 0 there.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use lru::LruCache;
use tahc_app::Node;
use tahc_events::StreamCategory;
use uuid::Uuid;

/// Visitors whose last address a node remembers.
pub const REMEMBERED: usize = 100_000;

/// How long a blocked visitor's address opens no new session, by default:
/// long enough to end a bout of abuse, short enough that an office behind
/// one address is not shut out for the day.
pub const DEFAULT_BLOCK: Duration = Duration::from_secs(60 * 60);

/// Where visitors called from, and the addresses blocked until when.
pub struct AddressBlocks {
    duration: Duration,
    last_seen: Mutex<LruCache<Uuid, IpAddr>>,
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

impl AddressBlocks {
    /// Blocks lasting `duration` (zero: addresses are never blocked).
    #[must_use]
    pub fn new(duration: Duration) -> Self {
        AddressBlocks {
            duration,
            last_seen: Mutex::new(LruCache::new(
                NonZeroUsize::new(REMEMBERED).unwrap_or(NonZeroUsize::MIN),
            )),
            blocked: Mutex::default(),
        }
    }

    /// Notes that `visitor` called from `address`.
    pub fn seen(&self, visitor: Uuid, address: IpAddr) {
        if self.duration.is_zero() {
            return;
        }
        self.last_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .put(visitor, address);
    }

    /// Blocks the address `visitor` last called from, if this node knows it.
    pub fn block_visitor(&self, visitor: Uuid) {
        let address = self
            .last_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&visitor)
            .copied();
        if let Some(address) = address {
            let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
            blocked.insert(address, now + self.duration);
        }
    }

    /// Whether `address` may open no new session now.
    #[must_use]
    pub fn is_blocked(&self, address: IpAddr) -> bool {
        self.blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&address)
            .is_some_and(|until| *until > Instant::now())
    }

    /// Follows the node's log as its views apply it, blocking the address
    /// of each visitor the team blocks, until the node stops.
    pub fn follow(self: &Arc<Self>, node: &Arc<Node>) {
        if self.duration.is_zero() {
            return;
        }
        let blocks = Arc::downgrade(self);
        let events = node.applied.follow(node.applied.head()).into_stream();
        tokio::spawn(async move {
            let mut events = std::pin::pin!(events);
            while let Some(record) = events.next().await {
                let Ok(record) = record else { continue };
                if &*record.event_type != "visitor.blocked" {
                    continue;
                }
                let Some(blocks) = blocks.upgrade() else {
                    return;
                };
                if let Some((StreamCategory::Visitor, visitor)) = record.stream_id.parse() {
                    blocks.block_visitor(visitor);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_visitors_last_address_is_blocked_for_the_block_time_and_others_are_not() {
        let blocks = AddressBlocks::new(Duration::from_millis(200));
        let (mallory, alice) = (Uuid::now_v7(), Uuid::now_v7());
        let (theirs, hers) = (IpAddr::from([10, 0, 0, 66]), IpAddr::from([10, 0, 0, 7]));
        blocks.seen(mallory, IpAddr::from([10, 0, 0, 1]));
        blocks.seen(mallory, theirs);
        blocks.seen(alice, hers);
        blocks.block_visitor(mallory);
        blocks.block_visitor(Uuid::now_v7());
        assert!(blocks.is_blocked(theirs));
        assert!(!blocks.is_blocked(hers));
        assert!(
            !blocks.is_blocked(IpAddr::from([10, 0, 0, 1])),
            "only the last address"
        );
        std::thread::sleep(Duration::from_millis(250));
        assert!(!blocks.is_blocked(theirs), "for a while, not for ever");
    }

    #[test]
    fn a_zero_block_time_blocks_nothing() {
        let blocks = AddressBlocks::new(Duration::ZERO);
        let visitor = Uuid::now_v7();
        blocks.seen(visitor, IpAddr::from([10, 0, 0, 66]));
        blocks.block_visitor(visitor);
        assert!(!blocks.is_blocked(IpAddr::from([10, 0, 0, 66])));
    }
}
