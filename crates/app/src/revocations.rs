//! Revoked principals: a team member deactivated or given a new key, the
//! visitors of an erased contact. A live connection watches its principal
//! here and ends at once when it is revoked. The applied log marks a
//! revocation before it lets anyone see the revoking event (its head and
//! its live feed), so nothing that happened after it reaches a revoked
//! connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tahc_events::{Event, RecordedEvent};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::principal::{Principal, PrincipalKind};

/// One connection's watch on its principal.
#[derive(Debug, Default)]
pub struct Revocation {
    revoked: AtomicBool,
    notify: Notify,
}

impl Revocation {
    /// Whether the principal was revoked.
    #[must_use]
    pub fn is_revoked(&self) -> bool {
        self.revoked.load(Ordering::Acquire)
    }

    /// Resolves once the principal is revoked (at once if it was).
    pub async fn revoked(&self) {
        while !self.is_revoked() {
            self.notify.notified().await;
        }
    }

    fn revoke(&self) {
        self.revoked.store(true, Ordering::Release);
        // Only the connection's reader waits; a stored permit wakes it
        // even if it is not waiting yet.
        self.notify.notify_one();
    }
}

/// Watches registered per principal (team member or visitor id).
#[derive(Debug, Default)]
pub struct Revocations {
    watched: Mutex<HashMap<Uuid, Vec<Weak<Revocation>>>>,
}

/// Registrations between sweeps of watches whose connection is gone.
const SWEEP_EVERY: usize = 1_024;

impl Revocations {
    /// Watches `principal`: `revocation` is marked when it is revoked. The
    /// caller checks the credential once more after this (a revocation
    /// noted just before is then refused by authentication itself).
    pub fn watch(&self, principal: &Principal, revocation: &Arc<Revocation>) {
        let Some(id) = watched_id(principal) else {
            return;
        };
        let mut watched = self.watched.lock().unwrap_or_else(|e| e.into_inner());
        let watches = watched.entry(id).or_default();
        watches.retain(|watch| watch.strong_count() > 0);
        watches.push(Arc::downgrade(revocation));
        if watched.len() % SWEEP_EVERY == 0 {
            watched.retain(|_, watches| {
                watches.retain(|watch| watch.strong_count() > 0);
                !watches.is_empty()
            });
        }
    }

    /// Marks every watch of a principal that `records` revoke.
    pub(crate) fn note(&self, records: &[RecordedEvent]) {
        let revoking = records.iter().filter(|record| {
            matches!(
                record.event_type.as_ref(),
                "workspace.agent_deactivated" | "workspace.agent_key_rotated" | "contact.erased"
            )
        });
        for event in revoking.filter_map(|record| record.decode().ok()) {
            self.revoke(&event);
        }
    }

    /// Marks every watch of a principal that `event` revokes.
    fn revoke(&self, event: &Event) {
        for id in revoked_by(event) {
            let watches = self
                .watched
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            for revocation in watches.into_iter().flatten().filter_map(|w| w.upgrade()) {
                revocation.revoke();
            }
        }
    }
}

/// The id a principal is revoked by: its team member's or its visitor's.
fn watched_id(principal: &Principal) -> Option<Uuid> {
    match principal.kind {
        PrincipalKind::Team { agent_id, .. } => Some(agent_id),
        PrincipalKind::Visitor { visitor_id } => Some(visitor_id),
        PrincipalKind::System => None,
    }
}

/// The principals an event revokes: a deactivated member, a member whose
/// key was replaced (connections made with the old key), the visitors of
/// an erased contact.
#[must_use]
pub fn revoked_by(event: &Event) -> Vec<Uuid> {
    match event {
        Event::AgentDeactivated(e) => vec![e.agent_id],
        Event::AgentKeyRotated(e) => vec![e.agent_id],
        Event::ContactErased(e) => e.visitor_ids.clone(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tahc_events::{AgentDeactivated, AgentKeyRotated, ContactErased, Role, VisitorBlocked};

    #[test]
    fn deactivation_rotation_and_erasure_revoke_their_principals_and_nothing_else_does() {
        let (agent, visitor) = (Uuid::now_v7(), Uuid::now_v7());
        let cases: [(Event, Vec<Uuid>); 4] = [
            (AgentDeactivated { agent_id: agent }.into(), vec![agent]),
            (
                AgentKeyRotated {
                    agent_id: agent,
                    key_hash: String::new(),
                }
                .into(),
                vec![agent],
            ),
            (
                ContactErased {
                    visitor_ids: vec![visitor],
                }
                .into(),
                vec![visitor],
            ),
            (VisitorBlocked { reason: None }.into(), vec![]),
        ];
        for (event, revoked) in cases {
            assert_eq!(revoked_by(&event), revoked, "{event:?}");
        }
    }

    #[tokio::test]
    async fn a_revoked_watch_is_marked_and_wakes_its_waiter_and_others_stay() {
        let revocations = Revocations::default();
        let (agent, other) = (Uuid::now_v7(), Uuid::now_v7());
        let mine = Arc::new(Revocation::default());
        let theirs = Arc::new(Revocation::default());
        revocations.watch(&Principal::team(Uuid::nil(), agent, Role::Agent), &mine);
        revocations.watch(&Principal::team(Uuid::nil(), other, Role::Agent), &theirs);
        let waiting = tokio::spawn({
            let mine = mine.clone();
            async move { mine.revoked().await }
        });
        revocations.revoke(&AgentDeactivated { agent_id: agent }.into());
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("the waiter wakes")
            .unwrap();
        assert!(mine.is_revoked());
        assert!(!theirs.is_revoked());
    }
}
