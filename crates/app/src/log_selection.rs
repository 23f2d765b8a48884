//! Picking events out of the log for auditors: by workspace, stream, type
//! and time. Shared by the `events` query and subscription and by
//! `tahc events`, so that all three select exactly alike.

use chrono::{DateTime, Utc};
use tahc_events::{Position, RecordedEvent, StreamId};
use tahc_store::{LogReader, ReadError, StreamReader};
use uuid::Uuid;

/// Events read per storage page while selecting.
const PAGE: usize = 512;

/// Which events of the log to show. Every part that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSelection {
    /// Only this workspace's events (callers of the API always set it).
    pub workspace: Option<Uuid>,
    /// Only events of these streams; naming two different ones selects
    /// nothing.
    pub streams: Vec<StreamId>,
    /// Only events of one of these types.
    pub types: Option<Vec<String>>,
    /// Only events that occurred at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only events that occurred before this time.
    pub to: Option<DateTime<Utc>>,
}

impl LogSelection {
    /// Whether `record` is selected.
    #[must_use]
    pub fn matches(&self, record: &RecordedEvent) -> bool {
        self.workspace.is_none_or(|w| w == record.workspace_id)
            && self.streams.iter().all(|s| *s == record.stream_id)
            && self
                .types
                .as_ref()
                .is_none_or(|types| types.iter().any(|t| *t == *record.event_type))
            && self.from.is_none_or(|from| record.occurred_at >= from)
            && self.to.is_none_or(|to| record.occurred_at < to)
    }

    /// Up to `limit` selected events after `after`, in log order. A named
    /// stream is read by itself instead of scanning the whole log.
    pub async fn page<L: StreamReader + LogReader + ?Sized>(
        &self,
        log: &L,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, ReadError> {
        let mut selected = Vec::new();
        match self.streams.first() {
            Some(stream) => {
                let mut version = 0;
                while selected.len() < limit {
                    let page = log.read_stream(stream, version, PAGE).await?;
                    let Some(last) = page.last() else { break };
                    version = last.stream_version;
                    selected.extend(
                        page.into_iter()
                            .filter(|r| r.position > after && self.matches(r)),
                    );
                }
            }
            None => {
                let mut position = after;
                while selected.len() < limit {
                    let page = log.read_all(position, PAGE).await?;
                    let Some(last) = page.last() else { break };
                    position = last.position;
                    selected.extend(page.into_iter().filter(|r| self.matches(r)));
                }
            }
        }
        selected.truncate(limit);
        Ok(selected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tahc_events::{Actor, Event, EventMeta, NewEvent, VisitorFirstSeen};
    use tahc_store::{EventAppender, ExpectedVersion, SledLog};

    async fn log_of(streams: &[(&str, Uuid)]) -> (tempfile::TempDir, SledLog) {
        let dir = tempfile::tempdir().unwrap();
        let log = SledLog::open(dir.path()).unwrap();
        for (stream, workspace) in streams {
            let meta = EventMeta {
                actor: Actor::system(),
                workspace_id: *workspace,
                occurred_at: Utc::now(),
                correlation_id: None,
                causation_id: None,
            };
            let event = Event::VisitorFirstSeen(VisitorFirstSeen {});
            log.append(
                &StreamId::new(*stream).unwrap(),
                ExpectedVersion::Any,
                vec![NewEvent::encode(&event, &meta).unwrap()],
            )
            .await
            .unwrap();
        }
        (dir, log)
    }

    #[tokio::test]
    async fn a_page_holds_only_selected_events_after_the_cursor_in_log_order() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let (_dir, log) =
            log_of(&[("s-1", a), ("s-2", b), ("s-1", a), ("s-3", a), ("s-1", a)]).await;
        let all_of_a = LogSelection {
            workspace: Some(a),
            ..LogSelection::default()
        };
        let positions =
            |page: Vec<RecordedEvent>| page.iter().map(|r| r.position.0).collect::<Vec<_>>();
        assert_eq!(
            positions(all_of_a.page(&log, Position(0), 10).await.unwrap()),
            [1, 3, 4, 5]
        );
        assert_eq!(
            positions(all_of_a.page(&log, Position(1), 2).await.unwrap()),
            [3, 4]
        );
        let one_stream = LogSelection {
            streams: vec![StreamId::new("s-1").unwrap()],
            ..all_of_a.clone()
        };
        assert_eq!(
            positions(one_stream.page(&log, Position(1), 10).await.unwrap()),
            [3, 5]
        );
        let other_workspace = LogSelection {
            workspace: Some(b),
            ..one_stream
        };
        assert!(
            other_workspace
                .page(&log, Position(0), 10)
                .await
                .unwrap()
                .is_empty()
        );
        let no_type = LogSelection {
            types: Some(vec!["MessagePosted".into()]),
            ..all_of_a
        };
        assert!(
            no_type
                .page(&log, Position(0), 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
