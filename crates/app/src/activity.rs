//! Team activity: who is viewing or typing in which conversation. It is
//! ephemeral — shown live to the team, never written to the log.

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;
use uuid::Uuid;

/// What a team member is doing in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityKind {
    /// Has the conversation open.
    Viewing,
    /// Is writing a reply.
    Typing,
    /// Closed the conversation.
    Left,
}

/// One report of activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    /// The workspace it happens in (the only one that sees it).
    pub workspace_id: Uuid,
    /// Who.
    pub agent_id: Uuid,
    /// Where.
    pub conversation_id: Uuid,
    /// What.
    pub kind: ActivityKind,
    /// When it was reported.
    pub at: DateTime<Utc>,
}

/// How many reports a slow follower may fall behind before it skips some:
/// activity is a hint, so skipping is fine where losing events is not.
const BACKLOG: usize = 1_024;

/// The live channel of activity reports of every workspace.
#[derive(Debug, Clone)]
pub struct TeamActivity {
    sender: broadcast::Sender<Activity>,
}

impl Default for TeamActivity {
    fn default() -> Self {
        TeamActivity {
            sender: broadcast::channel(BACKLOG).0,
        }
    }
}

impl TeamActivity {
    /// Shows a report to everyone following now; nobody following is fine.
    pub fn publish(&self, activity: Activity) {
        let _ = self.sender.send(activity);
    }

    /// Follows reports from now on (filtering by workspace is the
    /// follower's job).
    #[must_use]
    pub fn follow(&self) -> broadcast::Receiver<Activity> {
        self.sender.subscribe()
    }
}
