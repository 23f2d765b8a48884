//! One rendering of a subscription, fanned out to every subscriber that
//! asks the same thing.
//!
//! Subscribers with the same operation, variables and [`Audience`] would
//! each judge every event and render the same JSON. Instead, the first one's
//! execution becomes a [`Broadcast`]: it renders each change once, and the
//! bytes go to every member, each under its own operation id. A member
//! joins only if the broadcast has read no further than where the member
//! starts, and skips what comes before its start, so it receives exactly
//! what its own execution would have. A member whose buffer is full is let
//! go with the position of the last change it received, to continue on its
//! own from the log; nobody else waits for it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::Message;
use futures::StreamExt;
use futures::stream::BoxStream;
use tahc_events::Position;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};

use super::connection::Outbound;
use super::protocol;
use crate::schema::{Audience, Delivery};

/// An operation's results as async-graphql streams them.
pub(super) type Results = BoxStream<'static, async_graphql::Response>;

/// What subscribers ask for: those asking the same share a broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Topic {
    /// The GraphQL document.
    pub query: String,
    /// The operation chosen from it.
    pub operation_name: Option<String>,
    /// The variables, as canonical JSON.
    pub variables: String,
    /// Whom the changes are rendered for.
    pub audience: Audience,
}

/// Where one operation's frames go.
#[derive(Clone)]
pub(super) struct Subscriber {
    /// The operation's id on its connection.
    pub id: String,
    /// The connection's writer.
    pub outbound: mpsc::UnboundedSender<Outbound>,
    /// The operation's buffer: one permit per frame not yet written.
    pub buffer: Arc<Semaphore>,
}

/// Why a member stopped receiving from a broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Departure {
    /// The subscription ended (or its broadcast could not go on).
    Ended,
    /// Its buffer was full; it continues on its own after `after`, the
    /// position of the last change it received.
    Lagged {
        /// The last change it received (or where it started).
        after: Position,
    },
}

/// A subscriber inside a broadcast.
struct Member {
    number: u64,
    /// `{"id":…,"type":"next","payload":` for this member.
    frame_start: String,
    subscriber: Subscriber,
    /// Changes up to here were delivered already (or came before it
    /// started).
    after: Position,
    departure: oneshot::Sender<Departure>,
}

impl Member {
    /// Queues `payload` for this member; `Err` when its buffer is full.
    fn deliver(&mut self, position: Position, payload: &str) -> Result<(), ()> {
        let slot = self
            .subscriber
            .buffer
            .clone()
            .try_acquire_owned()
            .map_err(|_| ())?;
        let mut frame = String::with_capacity(self.frame_start.len() + payload.len() + 1);
        frame.push_str(&self.frame_start);
        frame.push_str(payload);
        frame.push('}');
        self.after = position;
        // A connection that is gone drops its membership soon; until then
        // its frames go nowhere.
        let _ = self.subscriber.outbound.send(Outbound {
            message: Message::Text(frame.into()),
            slot,
        });
        Ok(())
    }
}

/// The members of a broadcast; `closed` once it stopped taking new ones.
#[derive(Default)]
struct Members {
    list: Vec<Member>,
    closed: bool,
}

/// One execution whose changes go to every member.
struct Broadcast {
    topic: Topic,
    /// The execution's own record of what it has read.
    delivery: Arc<Delivery>,
    members: Mutex<Members>,
    /// Woken when the last member left.
    emptied: Notify,
}

impl Broadcast {
    fn members(&self) -> MutexGuard<'_, Members> {
        self.members
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The broadcasts running on this server, by topic.
#[derive(Default)]
pub(super) struct Broadcasts {
    open: Mutex<HashMap<Topic, Arc<Broadcast>>>,
    numbers: AtomicU64,
}

/// A subscriber's place in a broadcast; leaving is dropping it.
pub(super) struct Membership {
    broadcasts: Arc<Broadcasts>,
    broadcast: Arc<Broadcast>,
    number: u64,
    departure: oneshot::Receiver<Departure>,
}

impl Membership {
    /// Waits until the broadcast lets this member go.
    pub async fn departure(&mut self) -> Departure {
        (&mut self.departure).await.unwrap_or(Departure::Ended)
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.broadcasts.leave(&self.broadcast, self.number);
    }
}

impl Broadcasts {
    fn open(&self) -> MutexGuard<'_, HashMap<Topic, Arc<Broadcast>>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Subscribes `subscriber`, whose own execution `results` was declared
    /// for `topic` and starts after `after`, to the topic's broadcast:
    /// the running one if it has read no further than `after`, else a new
    /// one made of `results`. `Err` gives `results` back when a running
    /// broadcast is already past `after` (a resume from further back runs
    /// on its own).
    pub fn join(
        self: &Arc<Self>,
        topic: Topic,
        subscriber: Subscriber,
        after: Position,
        results: Results,
        delivery: Arc<Delivery>,
    ) -> Result<Membership, Results> {
        let number = self.numbers.fetch_add(1, Ordering::Relaxed);
        let (sender, departure) = oneshot::channel();
        let member = Member {
            number,
            frame_start: protocol::next_frame_start(&subscriber.id),
            subscriber,
            after,
            departure: sender,
        };
        let mut open = self.open();
        if let Some(running) = open.get(&topic).cloned() {
            let mut members = running.members();
            if !members.closed {
                if running.delivery.last_read() > after {
                    return Err(results);
                }
                members.list.push(member);
                drop(members);
                drop(open);
                return Ok(self.membership(running, number, departure));
            }
        }
        let broadcast = Arc::new(Broadcast {
            topic: topic.clone(),
            delivery,
            members: Mutex::new(Members {
                list: vec![member],
                closed: false,
            }),
            emptied: Notify::new(),
        });
        open.insert(topic, broadcast.clone());
        drop(open);
        tokio::spawn(self.clone().run(broadcast.clone(), results));
        Ok(self.membership(broadcast, number, departure))
    }

    fn membership(
        self: &Arc<Self>,
        broadcast: Arc<Broadcast>,
        number: u64,
        departure: oneshot::Receiver<Departure>,
    ) -> Membership {
        Membership {
            broadcasts: self.clone(),
            broadcast,
            number,
            departure,
        }
    }

    /// Removes member `number`; the last one out stops the broadcast.
    fn leave(&self, broadcast: &Arc<Broadcast>, number: u64) {
        let mut open = self.open();
        let mut members = broadcast.members();
        members.list.retain(|member| member.number != number);
        if members.list.is_empty() && !members.closed {
            Self::close(&mut open, broadcast, &mut members);
        }
    }

    /// Stops `broadcast` taking members and forgets it (it is emptied by
    /// the caller, or told to stop through `emptied`).
    fn close(
        open: &mut HashMap<Topic, Arc<Broadcast>>,
        broadcast: &Arc<Broadcast>,
        members: &mut Members,
    ) {
        members.closed = true;
        if open
            .get(&broadcast.topic)
            .is_some_and(|running| Arc::ptr_eq(running, broadcast))
        {
            open.remove(&broadcast.topic);
        }
        broadcast.emptied.notify_one();
    }

    /// Renders each change of `results` once and fans it out, until the
    /// execution ends or every member has left.
    async fn run(self: Arc<Self>, broadcast: Arc<Broadcast>, mut results: Results) {
        loop {
            let response = tokio::select! {
                response = results.next() => response,
                () = broadcast.emptied.notified() => None,
            };
            let Some(response) = response else { break };
            let position = broadcast.delivery.last_read();
            let payload = match serde_json::to_string(&response) {
                Ok(payload) => payload,
                Err(error) => {
                    tracing::error!(%error, "a change could not be rendered");
                    break;
                }
            };
            let mut members = broadcast.members();
            let mut index = 0;
            while index < members.list.len() {
                let member = &mut members.list[index];
                if position <= member.after || member.deliver(position, &payload).is_ok() {
                    index += 1;
                    continue;
                }
                let lagged = members.list.swap_remove(index);
                let _ = lagged.departure.send(Departure::Lagged {
                    after: lagged.after,
                });
            }
            let emptied = members.list.is_empty();
            // Locks are taken open-then-members; never the other way.
            drop(members);
            if emptied {
                break;
            }
        }
        // Ended, failed or emptied: whoever is still a member is done.
        let mut open = self.open();
        let mut members = broadcast.members();
        Self::close(&mut open, &broadcast, &mut members);
        for member in members.list.drain(..) {
            let _ = member.departure.send(Departure::Ended);
        }
    }
}
