//! The versions of the streams a log's writer wrote most recently, so that
//! checking an append's expected version seldom reads the log first.

use std::num::NonZeroUsize;

use lru::LruCache;
use tahc_events::StreamId;

/// How many streams' versions a writer remembers: more than a node has
/// conversations going at once, few enough that the memory for them is
/// flat (about a MiB) however many streams the log has seen.
pub(crate) const REMEMBERED: NonZeroUsize = NonZeroUsize::new(8_192).expect("not zero");

/// Stream versions as stored, for the streams written most recently; a
/// stream that fell out is read from the log again.
pub(crate) struct StreamVersions(LruCache<StreamId, u64>);

impl StreamVersions {
    /// Remembering nothing yet.
    pub fn new() -> Self {
        Self::with_capacity(REMEMBERED)
    }

    fn with_capacity(capacity: NonZeroUsize) -> Self {
        StreamVersions(LruCache::new(capacity))
    }

    /// The version `stream` stands at, if remembered.
    pub fn get(&self, stream: &StreamId) -> Option<u64> {
        self.0.peek(stream).copied()
    }

    /// `stream` was written up to `version`: it is now the most recent.
    pub fn written(&mut self, stream: StreamId, version: u64) {
        self.0.put(stream, version);
    }

    /// Forgets every stream (what is stored may have moved on).
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(n: usize) -> StreamId {
        StreamId::new(format!("conversation-{n}")).expect("a valid stream id")
    }

    #[test]
    fn the_streams_written_last_are_remembered_and_the_oldest_forgotten() {
        let mut versions = StreamVersions::with_capacity(NonZeroUsize::new(3).expect("not zero"));
        for n in 0..4 {
            versions.written(stream(n), n as u64 + 1);
        }
        assert_eq!(versions.get(&stream(0)), None);
        assert_eq!(versions.get(&stream(3)), Some(4));
        versions.written(stream(1), 7);
        versions.written(stream(4), 1);
        assert_eq!(versions.get(&stream(1)), Some(7), "written again: kept");
        assert_eq!(
            versions.get(&stream(2)),
            None,
            "the oldest write: forgotten"
        );
    }

    #[test]
    fn cleared_versions_remember_nothing() {
        let mut versions = StreamVersions::new();
        versions.written(stream(1), 3);
        versions.clear();
        assert_eq!(versions.get(&stream(1)), None);
    }
}
