//! How many WebSocket connections each visitor holds open: a widget needs
//! one or two (a tab, a reload), so a visitor token cannot be used to open
//! thousands.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

/// The open connections of every visitor, each visitor held to `max`.
#[derive(Debug)]
pub(super) struct Seats {
    max: usize,
    taken: Mutex<HashMap<Uuid, usize>>,
}

/// One connection's seat; given back when dropped (the connection ended).
#[derive(Debug)]
pub(super) struct Seat {
    seats: Arc<Seats>,
    visitor: Uuid,
}

impl Seats {
    /// Room for `max` connections per visitor.
    pub(super) fn new(max: usize) -> Self {
        Seats {
            max,
            taken: Mutex::default(),
        }
    }

    /// The most connections one visitor may hold.
    pub(super) fn max(&self) -> usize {
        self.max
    }

    /// A seat for `visitor`, or `None` when it holds `max` already.
    pub(super) fn take(self: &Arc<Self>, visitor: Uuid) -> Option<Seat> {
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        let count = taken.entry(visitor).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Seat {
            seats: self.clone(),
            visitor,
        })
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut taken = self.seats.taken.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = taken.get_mut(&self.visitor) {
            *count -= 1;
            if *count == 0 {
                taken.remove(&self.visitor);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitor_holds_at_most_max_seats_and_gets_one_back_when_a_connection_ends() {
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
    fn a_visitor_with_no_connections_left_is_forgotten() {
        let seats = Arc::new(Seats::new(1));
        let visitor = Uuid::now_v7();
        drop(seats.take(visitor));
        assert!(seats.taken.lock().unwrap().is_empty());
    }
}
