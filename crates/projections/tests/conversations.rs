//! The conversations view over a real sled log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use tahc_events::{
    Actor, AuthorKind, Controller, ConversationAssigned, ConversationContactLinked,
    ConversationSnoozed, ConversationStarted, ConversationStatus, ConversationStatusChanged,
    ConversationTakenOver, ConversationWoke, Event, EventMeta, HandoffReason, HandoffRequested,
    Keyless, MessagePosted, NewEvent, Personal, Position, StreamCategory, StreamId,
};
use tahc_projections::{
    ConversationFilter, ConversationOrder, Conversations, ConversationsProjector, Cursor,
    Projection, Views, Window,
};
use tahc_store::{EventAppender, ExpectedVersion, LogReader, SledLog};
use tempfile::TempDir;
use uuid::Uuid;

struct Log {
    _dir: TempDir,
    log: Arc<SledLog>,
    workspace: Uuid,
    clock: i64,
}

impl Log {
    fn new() -> Log {
        let dir = TempDir::new().unwrap();
        let log = Arc::new(SledLog::open(dir.path()).unwrap());
        Log {
            _dir: dir,
            log,
            workspace: Uuid::now_v7(),
            clock: 0,
        }
    }

    fn at(&self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(self.clock)
    }

    async fn append(&mut self, conversation: Uuid, events: Vec<Event>) -> Position {
        self.clock += 1;
        let meta = EventMeta {
            actor: Actor::system(),
            workspace_id: self.workspace,
            occurred_at: self.at(),
            correlation_id: None,
            causation_id: None,
        };
        let events = events
            .iter()
            .map(|e| NewEvent::encode(e, &meta).unwrap())
            .collect();
        let stream = StreamId::of(StreamCategory::Conversation, conversation);
        self.log
            .append(&stream, ExpectedVersion::Any, events)
            .await
            .unwrap()
            .last_position
    }

    async fn start(&mut self) -> Uuid {
        let id = Uuid::now_v7();
        let started = ConversationStarted {
            visitor_id: Uuid::now_v7(),
            controller: Controller::Ai,
        };
        self.append(
            id,
            vec![started.into(), message(AuthorKind::Visitor, "hello", false)],
        )
        .await;
        id
    }
}

fn message(author_kind: AuthorKind, body: &str, internal: bool) -> Event {
    MessagePosted {
        message_id: Uuid::now_v7(),
        author_kind,
        agent_id: None,
        body: Personal::plain(body),
        internal,
        confidence: None,
        idempotency_key: None,
    }
    .into()
}

fn status(from: ConversationStatus, to: ConversationStatus) -> Event {
    ConversationStatusChanged { from, to }.into()
}

fn first(n: usize, after: Option<Cursor>) -> Window {
    Window {
        first: Some(n),
        after,
        ..Window::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_life_is_projected_field_by_field() {
    let mut log = Log::new();
    let dir = TempDir::new().unwrap();
    let projection = Projection::new(
        ConversationsProjector,
        Arc::new(Keyless),
        &Views::open(dir.path()).unwrap(),
    )
    .unwrap();
    let id = log.start().await;
    let agent = Uuid::now_v7();
    let contact = Uuid::now_v7();
    log.append(
        id,
        vec![
            message(AuthorKind::Ai, "Hi! How can I help?", false),
            status(ConversationStatus::Open, ConversationStatus::Pending),
        ],
    )
    .await;
    log.append(
        id,
        vec![
            HandoffRequested {
                reason: HandoffReason::CustomerRequest,
            }
            .into(),
        ],
    )
    .await;
    log.append(id, vec![ConversationTakenOver { agent_id: agent }.into()])
        .await;
    log.append(id, vec![message(AuthorKind::Agent, "VIP, be nice", true)])
        .await;
    let last = log
        .append(
            id,
            vec![
                ConversationContactLinked {
                    contact_id: contact,
                }
                .into(),
            ],
        )
        .await;
    projection.catch_up(&*log.log).await.unwrap();

    let conversations = Conversations::new(projection.view().clone());
    let record = conversations.get(id).unwrap().unwrap();
    assert_eq!(record.status, ConversationStatus::Pending);
    assert_eq!(record.controller, Controller::Human);
    assert_eq!(record.assignee, Some(agent));
    assert_eq!(record.contact_id, Some(contact));
    let handoff = record.handoff.clone().unwrap();
    assert_eq!(
        (handoff.reason, handoff.accepted_by),
        (HandoffReason::CustomerRequest, Some(agent))
    );
    assert!(handoff.accepted_at.unwrap() > handoff.requested_at);
    assert_eq!((record.message_count, record.public_message_count), (3, 2));
    assert_eq!(
        (record.ai_message_count, record.human_message_count),
        (1, 0)
    );
    assert_eq!(
        record.last_message.unwrap().body.as_deref(),
        Some("Hi! How can I help?"),
        "notes are no preview"
    );
    assert_eq!(record.position, last);

    let team = conversations
        .messages(id, false, &Window::default())
        .unwrap();
    let visitor = conversations
        .messages(id, true, &Window::default())
        .unwrap();
    assert_eq!(team.items.len(), 3);
    assert_eq!(visitor.items.len(), 2);
    assert!(
        visitor.items.iter().all(|(_, m)| !m.internal),
        "a visitor never sees a note"
    );
}

async fn inbox(log: &mut Log, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = log.start().await;
        match i % 3 {
            0 => {}
            1 => {
                log.append(
                    id,
                    vec![status(
                        ConversationStatus::Open,
                        ConversationStatus::Pending,
                    )],
                )
                .await;
            }
            _ => {
                log.append(
                    id,
                    vec![status(ConversationStatus::Open, ConversationStatus::Closed)],
                )
                .await;
            }
        }
        ids.push(id);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_walk_the_inbox_both_ways_without_gaps_or_repeats() {
    let mut log = Log::new();
    let dir = TempDir::new().unwrap();
    let projection = Projection::new(
        ConversationsProjector,
        Arc::new(Keyless),
        &Views::open(dir.path()).unwrap(),
    )
    .unwrap();
    let ids = inbox(&mut log, 30).await;
    projection.catch_up(&*log.log).await.unwrap();
    let conversations = Conversations::new(projection.view().clone());
    let open_or_pending = ConversationFilter {
        statuses: vec![ConversationStatus::Open, ConversationStatus::Pending],
        ..ConversationFilter::default()
    };
    let expected: Vec<Uuid> = ids
        .iter()
        .enumerate()
        .rev()
        .filter(|(i, _)| i % 3 != 2)
        .map(|(_, id)| *id)
        .collect();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = conversations
            .list(
                log.workspace,
                &open_or_pending,
                ConversationOrder::LastActivity,
                true,
                &first(7, after.clone()),
            )
            .unwrap();
        seen.extend(page.items.iter().map(|(_, c)| c.id));
        assert_eq!(page.has_previous, after.is_some());
        if !page.has_next {
            break;
        }
        after = page.items.last().map(|(c, _)| c.clone());
    }
    assert_eq!(
        seen, expected,
        "newest activity first, merged across statuses"
    );

    let mut back = Vec::new();
    let mut before = None;
    loop {
        let window = Window {
            last: Some(6),
            before: before.clone(),
            ..Window::default()
        };
        let page = conversations
            .list(
                log.workspace,
                &open_or_pending,
                ConversationOrder::LastActivity,
                true,
                &window,
            )
            .unwrap();
        let mut ids: Vec<Uuid> = page.items.iter().map(|(_, c)| c.id).collect();
        ids.extend(back);
        back = ids;
        if !page.has_previous {
            break;
        }
        before = page.items.first().map(|(c, _)| c.clone());
    }
    assert_eq!(back, expected, "walking backwards gives the same list");

    let oldest = conversations
        .list(
            log.workspace,
            &ConversationFilter::default(),
            ConversationOrder::Created,
            false,
            &first(3, None),
        )
        .unwrap();
    assert_eq!(
        oldest.items.iter().map(|(_, c)| c.id).collect::<Vec<_>>(),
        ids[..3]
    );
    let closed = ConversationFilter {
        statuses: vec![ConversationStatus::Closed],
        ..Default::default()
    };
    assert_eq!(conversations.count(log.workspace, &closed).unwrap(), 10);
    assert_eq!(
        conversations
            .count(Uuid::now_v7(), &ConversationFilter::default())
            .unwrap(),
        0,
        "another workspace sees none"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_boundary_holds_while_new_activity_arrives() {
    let mut log = Log::new();
    let dir = TempDir::new().unwrap();
    let projection = Projection::new(
        ConversationsProjector,
        Arc::new(Keyless),
        &Views::open(dir.path()).unwrap(),
    )
    .unwrap();
    let ids = inbox(&mut log, 12).await;
    projection.catch_up(&*log.log).await.unwrap();
    let conversations = Conversations::new(projection.view().clone());
    let all = ConversationFilter::default();
    let page1 = conversations
        .list(
            log.workspace,
            &all,
            ConversationOrder::LastActivity,
            true,
            &first(5, None),
        )
        .unwrap();
    // Activity on a conversation of page 1 and a brand-new one.
    log.append(
        page1.items[2].1.id,
        vec![message(AuthorKind::Visitor, "ping", false)],
    )
    .await;
    log.start().await;
    projection.catch_up(&*log.log).await.unwrap();
    let cursor = page1.items.last().unwrap().0.clone();
    let page2 = conversations
        .list(
            log.workspace,
            &all,
            ConversationOrder::LastActivity,
            true,
            &first(5, Some(cursor)),
        )
        .unwrap();
    let expected: Vec<Uuid> = ids.iter().rev().skip(5).take(5).copied().collect();
    assert_eq!(
        page2.items.iter().map(|(_, c)| c.id).collect::<Vec<_>>(),
        expected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_select_by_assignee_control_contact_and_handoff() {
    let mut log = Log::new();
    let dir = TempDir::new().unwrap();
    let projection = Projection::new(
        ConversationsProjector,
        Arc::new(Keyless),
        &Views::open(dir.path()).unwrap(),
    )
    .unwrap();
    let ids = inbox(&mut log, 6).await;
    let agent = Uuid::now_v7();
    log.append(
        ids[0],
        vec![ConversationAssigned { agent_id: agent }.into()],
    )
    .await;
    log.append(
        ids[1],
        vec![
            HandoffRequested {
                reason: HandoffReason::Rule,
            }
            .into(),
        ],
    )
    .await;
    log.append(
        ids[3],
        vec![
            HandoffRequested {
                reason: HandoffReason::Rule,
            }
            .into(),
            ConversationTakenOver { agent_id: agent }.into(),
        ],
    )
    .await;
    projection.catch_up(&*log.log).await.unwrap();
    let conversations = Conversations::new(projection.view().clone());
    let count = |filter: ConversationFilter| conversations.count(log.workspace, &filter).unwrap();
    assert_eq!(
        count(ConversationFilter {
            assignee: Some(agent),
            ..Default::default()
        }),
        2
    );
    assert_eq!(
        count(ConversationFilter {
            unassigned: Some(true),
            ..Default::default()
        }),
        4
    );
    assert_eq!(
        count(ConversationFilter {
            awaiting_human: Some(true),
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        count(ConversationFilter {
            controller: Some(Controller::Human),
            ..Default::default()
        }),
        1
    );
}

fn dump(views: &Views) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let view = views.view("conversations").unwrap();
    view.scan(b"")
        .map(|e| {
            let (k, v) = e.unwrap();
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_from_the_start_is_byte_identical_and_a_restart_resumes() {
    let mut log = Log::new();
    let incremental = TempDir::new().unwrap();
    let views = Views::open(incremental.path()).unwrap();
    let projection = Projection::new(ConversationsProjector, Arc::new(Keyless), &views).unwrap();
    for round in 0..4 {
        let ids = inbox(&mut log, 5).await;
        log.append(ids[round], vec![message(AuthorKind::Ai, "answer", false)])
            .await;
        projection.catch_up(&*log.log).await.unwrap();
    }
    let head = log.log.head().await.unwrap();
    assert_eq!(projection.position(), head);
    drop(projection);
    // A restart resumes from the checkpoint: nothing left to apply.
    let resumed = Projection::new(ConversationsProjector, Arc::new(Keyless), &views).unwrap();
    assert_eq!(resumed.position(), head);
    assert!(resumed.wait_for(head, Duration::from_millis(10)).await);
    assert!(
        !resumed
            .wait_for(Position(head.0 + 1), Duration::from_millis(10))
            .await
    );

    let fresh = TempDir::new().unwrap();
    let rebuilt_views = Views::open(fresh.path()).unwrap();
    Projection::new(ConversationsProjector, Arc::new(Keyless), &rebuilt_views)
        .unwrap()
        .catch_up(&*log.log)
        .await
        .unwrap();
    assert_eq!(
        dump(&rebuilt_views),
        dump(&views),
        "rebuild differs from the incremental view"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_counters_always_agree_with_counting_the_records() {
    let mut log = Log::new();
    let dir = TempDir::new().unwrap();
    let projection = Projection::new(
        ConversationsProjector,
        Arc::new(Keyless),
        &Views::open(dir.path()).unwrap(),
    )
    .unwrap();
    let ids = inbox(&mut log, 12).await;
    let agent = Uuid::now_v7();
    log.append(
        ids[0],
        vec![ConversationAssigned { agent_id: agent }.into()],
    )
    .await;
    log.append(
        ids[3],
        vec![
            HandoffRequested {
                reason: HandoffReason::Rule,
            }
            .into(),
        ],
    )
    .await;
    log.append(
        ids[4],
        vec![
            HandoffRequested {
                reason: HandoffReason::Rule,
            }
            .into(),
            ConversationTakenOver { agent_id: agent }.into(),
        ],
    )
    .await;
    log.append(
        ids[0],
        vec![status(ConversationStatus::Open, ConversationStatus::Closed)],
    )
    .await;
    log.append(
        ids[2],
        vec![status(ConversationStatus::Closed, ConversationStatus::Open)],
    )
    .await;
    // Snooze hides a conversation from the counts until it wakes.
    let until = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
    for snoozed in [ids[5], ids[6], ids[7]] {
        log.append(snoozed, vec![ConversationSnoozed { until }.into()])
            .await;
    }
    log.append(ids[7], vec![ConversationWoke {}.into()]).await;
    projection.catch_up(&*log.log).await.unwrap();
    let conversations = Conversations::new(projection.view().clone());
    let counts = conversations.counts(log.workspace, Some(agent)).unwrap();
    // Counted by reading every record (`only` takes the counters' shortcut
    // away), leaving the snoozed out.
    let every: std::collections::BTreeSet<Uuid> = ids.iter().copied().collect();
    let scan = |filter: ConversationFilter| {
        let filter = ConversationFilter {
            snoozed: Some(false),
            only: Some(every.clone()),
            ..filter
        };
        conversations.count(log.workspace, &filter).unwrap() as u64
    };
    let of = |s| ConversationFilter {
        statuses: vec![s],
        ..Default::default()
    };
    let not_closed = vec![ConversationStatus::Open, ConversationStatus::Pending];
    assert_eq!(counts.open, scan(of(ConversationStatus::Open)));
    assert_eq!(counts.pending, scan(of(ConversationStatus::Pending)));
    assert_eq!(counts.closed, scan(of(ConversationStatus::Closed)));
    assert_eq!(
        counts.unassigned,
        scan(ConversationFilter {
            statuses: not_closed.clone(),
            unassigned: Some(true),
            ..Default::default()
        })
    );
    assert_eq!(
        counts.awaiting_human,
        scan(ConversationFilter {
            statuses: not_closed.clone(),
            awaiting_human: Some(true),
            ..Default::default()
        })
    );
    assert_eq!(
        counts.mine,
        scan(ConversationFilter {
            statuses: not_closed,
            assignee: Some(agent),
            ..Default::default()
        })
    );
    assert_eq!(
        (
            counts.open,
            counts.pending,
            counts.closed,
            counts.mine,
            counts.awaiting_human
        ),
        (3, 4, 3, 1, 1)
    );
    assert_eq!(
        conversations.counts(Uuid::now_v7(), None).unwrap(),
        Default::default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_words_by_prefix_and_keeps_notes_from_visitors() {
    let mut log = Log::new();
    let dir = TempDir::new().unwrap();
    let projection = Projection::new(
        ConversationsProjector,
        Arc::new(Keyless),
        &Views::open(dir.path()).unwrap(),
    )
    .unwrap();
    let refund = log.start().await;
    log.append(
        refund,
        vec![message(
            AuthorKind::Visitor,
            "Je veux un REMBOURSEMENT pour ma crème",
            false,
        )],
    )
    .await;
    let other = log.start().await;
    log.append(
        other,
        vec![message(
            AuthorKind::Agent,
            "Suspected fraud, do not refund",
            true,
        )],
    )
    .await;
    projection.catch_up(&*log.log).await.unwrap();
    let conversations = Conversations::new(projection.view().clone());
    let ws = log.workspace;
    let one = |ids: std::collections::BTreeSet<Uuid>| ids.into_iter().collect::<Vec<_>>();
    assert_eq!(
        one(conversations.search(ws, "rembours", false).unwrap()),
        [refund]
    );
    assert_eq!(
        one(conversations.search(ws, "CREME rembours", false).unwrap()),
        [refund]
    );
    assert!(
        conversations
            .search(ws, "creme fraud", true)
            .unwrap()
            .is_empty(),
        "all words must match"
    );
    assert!(
        conversations.search(ws, "fraud", false).unwrap().is_empty(),
        "visitors never search notes"
    );
    assert_eq!(
        one(conversations.search(ws, "fraud", true).unwrap()),
        [other]
    );
    assert!(
        conversations
            .search(Uuid::now_v7(), "rembours", true)
            .unwrap()
            .is_empty()
    );
}

/// Every id of a list, walked forward in pages of 7 and backward in pages
/// of 6 (the backward walk is turned around).
fn walk(
    conversations: &Conversations,
    workspace: Uuid,
    filter: &ConversationFilter,
    order: ConversationOrder,
    descending: bool,
) -> (Vec<Uuid>, Vec<Uuid>) {
    let mut forward = Vec::new();
    let mut after = None;
    loop {
        let page = conversations
            .list(
                workspace,
                filter,
                order,
                descending,
                &first(7, after.clone()),
            )
            .unwrap();
        forward.extend(page.items.iter().map(|(_, c)| c.id));
        if !page.has_next {
            break;
        }
        after = page.items.last().map(|(c, _)| c.clone());
    }
    let mut backward = Vec::new();
    let mut before = None;
    loop {
        let window = Window {
            last: Some(6),
            before: before.clone(),
            ..Window::default()
        };
        let page = conversations
            .list(workspace, filter, order, descending, &window)
            .unwrap();
        let mut ids: Vec<Uuid> = page.items.iter().map(|(_, c)| c.id).collect();
        ids.extend(backward);
        backward = ids;
        if !page.has_previous {
            break;
        }
        before = page.items.first().map(|(c, _)| c.clone());
    }
    (forward, backward)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_set_pages_and_counts_exactly_like_the_index() {
    let mut log = Log::new();
    let dir = TempDir::new().unwrap();
    let projection = Projection::new(
        ConversationsProjector,
        Arc::new(Keyless),
        &Views::open(dir.path()).unwrap(),
    )
    .unwrap();
    let ids = inbox(&mut log, 30).await;
    projection.catch_up(&*log.log).await.unwrap();
    let conversations = Conversations::new(projection.view().clone());
    for statuses in [
        vec![],
        vec![ConversationStatus::Open, ConversationStatus::Pending],
    ] {
        let by_index = ConversationFilter {
            statuses: statuses.clone(),
            ..ConversationFilter::default()
        };
        let by_set = ConversationFilter {
            only: Some(ids.iter().copied().collect()),
            ..by_index.clone()
        };
        for order in [ConversationOrder::LastActivity, ConversationOrder::Created] {
            for descending in [true, false] {
                let indexed = walk(&conversations, log.workspace, &by_index, order, descending);
                assert_eq!(indexed.0, indexed.1);
                assert!(!indexed.0.is_empty());
                assert_eq!(
                    walk(&conversations, log.workspace, &by_set, order, descending),
                    indexed,
                    "{statuses:?} {order:?} descending {descending}"
                );
            }
        }
        assert_eq!(
            conversations.count(log.workspace, &by_set).unwrap(),
            conversations.count(log.workspace, &by_index).unwrap()
        );
        let elsewhere = Uuid::now_v7();
        assert_eq!(conversations.count(elsewhere, &by_set).unwrap(), 0);
        assert!(
            walk(
                &conversations,
                elsewhere,
                &by_set,
                ConversationOrder::Created,
                true
            )
            .0
            .is_empty(),
            "a set never reaches into another workspace"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_a_busy_log_live_builds_the_same_view_as_a_rebuild() {
    let mut log = Log::new();
    let live_dir = TempDir::new().unwrap();
    let live_views = Views::open(live_dir.path()).unwrap();
    let projection =
        Arc::new(Projection::new(ConversationsProjector, Arc::new(Keyless), &live_views).unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let following = {
        let (projection, log) = (projection.clone(), log.log.clone());
        tokio::spawn(async move {
            projection
                .run(&*log, async {
                    let _ = stopped.await;
                })
                .await;
        })
    };
    // Many writers at once, so events arrive in bursts the view applies
    // together, several on the same conversation.
    let ids = inbox(&mut log, 8).await;
    let mut writers = tokio::task::JoinSet::new();
    for &id in &ids {
        let (store, workspace) = (log.log.clone(), log.workspace);
        writers.spawn(async move {
            for n in 0..40 {
                let meta = EventMeta {
                    actor: Actor::system(),
                    workspace_id: workspace,
                    occurred_at: Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap()
                        + chrono::Duration::seconds(n),
                    correlation_id: None,
                    causation_id: None,
                };
                let event = message(AuthorKind::Ai, &format!("answer {n}"), n % 5 == 0);
                store
                    .append(
                        &StreamId::of(StreamCategory::Conversation, id),
                        ExpectedVersion::Any,
                        vec![NewEvent::encode(&event, &meta).unwrap()],
                    )
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    let head = log.log.head().await.unwrap();
    assert!(projection.wait_for(head, Duration::from_secs(10)).await);
    let _ = stop.send(());
    following.await.unwrap();

    let fresh = TempDir::new().unwrap();
    let rebuilt = Views::open(fresh.path()).unwrap();
    Projection::new(ConversationsProjector, Arc::new(Keyless), &rebuilt)
        .unwrap()
        .catch_up(&*log.log)
        .await
        .unwrap();
    assert_eq!(
        dump(&rebuilt),
        dump(&live_views),
        "live view differs from a rebuild"
    );
}
