//! Relay-style windows over an index: `first`/`after` forward, `last`/
//! `before` backward, with opaque cursors that stay valid while events
//! arrive (keyset pagination: nothing shifts between pages).

use std::ops::Bound;

/// A position in an ordered index: the index key's sortable tail.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor(pub Vec<u8>);

impl Cursor {
    /// The opaque text form handed to clients.
    #[must_use]
    pub fn encode(&self) -> String {
        tahc_events::hex(&self.0)
    }

    /// Reads a cursor a client sent back; `None` when it is not one of ours.
    #[must_use]
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() % 2 != 0 || text.len() > 256 || !text.is_ascii() {
            return None;
        }
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()
            .map(Cursor)
    }
}

/// Which slice of a list a client asks for (already validated: at most
/// one of `first`/`last`, each 1..=100).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window {
    /// The first n after `after`.
    pub first: Option<usize>,
    /// Exclusive lower cursor.
    pub after: Option<Cursor>,
    /// The last n before `before`.
    pub last: Option<usize>,
    /// Exclusive upper cursor.
    pub before: Option<Cursor>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, each with its cursor, in list order.
    pub items: Vec<(Cursor, T)>,
    /// More items follow the last one.
    pub has_next: bool,
    /// More items precede the first one.
    pub has_previous: bool,
}

/// The key range of an index under `prefix` between two exclusive cursors.
pub(crate) fn bounds(
    prefix: &[u8],
    after: Option<&Cursor>,
    before: Option<&Cursor>,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let lower = match after {
        Some(cursor) => Bound::Excluded([prefix, &cursor.0].concat()),
        None => Bound::Included(prefix.to_vec()),
    };
    let upper = match before {
        Some(cursor) => Bound::Excluded([prefix, &cursor.0].concat()),
        None => {
            let mut end = prefix.to_vec();
            end.push(0xff);
            Bound::Excluded(end)
        }
    };
    (lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_text_is_refused() {
        let cursor = Cursor(vec![0, 1, 0xab, 0xff]);
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        for bad in ["xyz", "abc", "zz", "é0", &"00".repeat(200)] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }
}
