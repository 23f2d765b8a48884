//! How many WebSocket connections each holder keeps open: a visitor (a
//! widget needs one or two: a tab, a reload), a client address, the node as
//! a whole. A connection takes a seat of each; a holder with none left is
//! refused, so no token, address or crowd can open thousands.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// The open connections of every holder, each held to `max`.
#[derive(Debug)]
pub(super) struct Seats<K: Hash + Eq> {
    max: usize,
    taken: Mutex<HashMap<K, usize>>,
}

/// One connection's seat; given back when dropped (the connection ended).
#[derive(Debug)]
pub(super) struct Seat<K: Hash + Eq> {
    seats: Arc<Seats<K>>,
    holder: K,
}

impl<K: Hash + Eq + Clone> Seats<K> {
    /// Room for `max` connections per holder.
    pub(super) fn new(max: usize) -> Self {
        Seats {
            max,
            taken: Mutex::default(),
        }
    }

    /// The most connections one holder may keep.
    pub(super) fn max(&self) -> usize {
        self.max
    }

    /// A seat for `holder`, or `None` when it holds `max` already.
    pub(super) fn take(self: &Arc<Self>, holder: K) -> Option<Seat<K>> {
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        let count = taken.entry(holder.clone()).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Seat {
            seats: self.clone(),
            holder,
        })
    }
}

impl<K: Hash + Eq> Drop for Seat<K> {
    fn drop(&mut self) {
        let mut taken = self.seats.taken.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = taken.get_mut(&self.holder) {
            *count -= 1;
            if *count == 0 {
                taken.remove(&self.holder);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn a_holder_keeps_at_most_max_seats_and_gets_one_back_when_a_connection_ends() {
        let seats = Arc::new(Seats::new(2));
        let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let first = seats.take(ada).unwrap();
        let _second = seats.take(ada).unwrap();
        assert!(seats.take(ada).is_none());
        assert!(seats.take(bob).is_some(), "others are not affected");
        drop(first);
        assert!(seats.take(ada).is_some());
    }

    #[test]
    fn a_holder_with_no_connections_left_is_forgotten() {
        let seats = Arc::new(Seats::new(1));
        drop(seats.take(std::net::IpAddr::from([127, 0, 0, 1])));
        assert!(seats.taken.lock().unwrap().is_empty());
    }
}
