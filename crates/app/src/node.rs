//! One running tahc node: the log, the views and the process managers of a
//! data directory, wired together.
//!
//! Layout of a data directory:
//!
//! | path | what |
//! |---|---|
//! | `log/` | the event log (sled), unless the node runs on a shared log |
//! | `views/` | read models and process managers' memory (sled) |
//! | `email.key` | the key that hashes email addresses into claim ids |
//! | `token.key` | the key that signs visitor tokens |
//!
//! A node on a shared log ([`Node::start_on`] with a PostgreSQL log) keeps
//! only its views here: the log, the subject keys and both secrets live in
//! the database, the same for every node.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tahc_events::Position;
use tahc_projections::{
    Contacts, ContactsProjector, Conversations, ConversationsProjector, Projection, Team,
    TeamProjector, Views,
};
use tahc_store::{EventStore, OpenError, SharedLog, SledLog, SledOptions};
use tokio::sync::watch;
use tokio::task::JoinSet;

use uuid::Uuid;

use crate::activity::{Activity, ActivityKind, TeamActivity};
use crate::aggregates::Aggregates;
use crate::applied_log::AppliedLog;
use crate::clock::Clock;
use crate::commands::Commands;
use crate::compaction::Compaction;
use crate::email_key::EmailKey;
use crate::error::AppError;
use crate::permission::{Action, allows};
use crate::principal::Principal;
use crate::process::{
    Assignments, EmailCapture, Erasure, Links, Orchestration, ProcessManager, Reactor, SnoozeTimer,
};
use crate::rebuild::file_error;
use crate::vault::Vault;

/// Records at the end of the log whose hash chain a start checks.
const TAIL_CHECKED: u64 = 1_024;

/// How often the snooze timer looks for due conversations.
const SNOOZE_TICK: Duration = Duration::from_secs(1);

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The log would not open.
    #[error("event log: {0}")]
    Log(#[from] OpenError),
    /// The views would not open.
    #[error("views: {0}")]
    Views(#[from] tahc_projections::ViewError),
    /// A file of the data directory could not be used.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// Catching up failed.
    #[error(transparent)]
    App(#[from] AppError),
    /// The end of the log does not verify: a record there is damaged or
    /// its hash does not follow from the one before.
    #[error(
        "the log is damaged at position {position} (its hash chain breaks there): run \
         `tahc verify` and restore the data directory from a backup"
    )]
    DamagedLog {
        /// The first bad position found.
        position: Position,
    },
    /// A view or a process manager's memory has applied more of the log
    /// than the log holds: the log was lost, replaced or cut short.
    #[error(
        "the view `{view}` has applied the log up to position {applied}, but the log ends at \
         {head}: the log is missing or damaged. Restore it from a backup (or, to start over \
         on the log that is there, move the views directory away so they are rebuilt from it)"
    )]
    AheadOfLog {
        /// The view.
        view: String,
        /// Where it stands.
        applied: Position,
        /// The log's last position.
        head: Position,
    },
    /// A secret of the data directory is missing while the log holds
    /// events: a new one would silently change what the old one decided.
    #[error(
        "{path} is missing, but the log holds {events} events: restore it from a backup \
         ({consequence})"
    )]
    MissingSecret {
        /// The file.
        path: PathBuf,
        /// Events in the log.
        events: u64,
        /// What else a new key would break.
        consequence: &'static str,
    },
}

/// The read models of a node.
pub struct ReadModels {
    /// Conversations, timelines, inbox indexes and counts.
    pub conversations: Projection<ConversationsProjector>,
    /// Contacts and visitors.
    pub contacts: Projection<ContactsProjector>,
    /// Workspaces, teams and keys.
    pub team: Projection<TeamProjector>,
}

impl ReadModels {
    /// Resolves once every read model has applied `position`.
    pub async fn reached(&self, position: Position) {
        self.conversations.reached(position).await;
        self.contacts.reached(position).await;
        self.team.reached(position).await;
    }

    /// Whether a read model is stuck retrying a failed write (a full or
    /// failing disk): the log moves on, the views do not meanwhile.
    #[must_use]
    pub fn failing(&self) -> bool {
        self.conversations.failing() || self.contacts.failing() || self.team.failing()
    }

    /// The last position every read model has applied.
    #[must_use]
    pub fn position(&self) -> Position {
        self.conversations
            .position()
            .min(self.contacts.position())
            .min(self.team.position())
    }
}

/// A node: every part of tahc over one data directory.
pub struct Node {
    /// The log.
    pub log: Arc<dyn EventStore>,
    /// Every command of the service.
    pub commands: Commands,
    /// The read models.
    pub views: Arc<ReadModels>,
    /// The key visitor tokens are signed with.
    pub token_key: [u8; 32],
    /// Who is viewing or typing where, live and never stored.
    pub activity: TeamActivity,
    /// The log as the views have applied it, for live subscriptions.
    pub applied: Arc<AppliedLog>,
    compaction: Arc<Compaction>,
    processes: Arc<Processes>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

struct Processes {
    links: ProcessManager<Links>,
    assignments: ProcessManager<Assignments>,
    orchestration: ProcessManager<Orchestration>,
    capture: ProcessManager<EmailCapture>,
    snooze: ProcessManager<SnoozeTimer>,
    erasure: ProcessManager<Erasure>,
    reactor: Reactor,
}

/// Whether a node runs the process managers (the service's reactions to
/// events: linking, assignment release, orchestration rules, snoozes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reactions {
    /// Run them: the normal node.
    Run,
    /// Leave them to another node (or to none, in a benchmark that measures
    /// the views and the API alone).
    Off,
}

/// How a node runs beside its log: whether it reacts, and how much of its
/// views it keeps in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeOptions {
    /// Whether the node runs the process managers.
    pub reactions: Reactions,
    /// Bytes of view pages kept in memory.
    pub views_cache_bytes: u64,
}

impl From<Reactions> for NodeOptions {
    fn from(reactions: Reactions) -> Self {
        NodeOptions {
            reactions,
            views_cache_bytes: tahc_store::DEFAULT_CACHE_BYTES,
        }
    }
}

impl Node {
    /// Opens the data directory (creating it when new), catches every view
    /// and process manager up with the log, and starts following it.
    pub async fn start(data_dir: &Path, clock: Arc<dyn Clock>) -> Result<Node, NodeError> {
        Self::start_with(data_dir, clock, Reactions::Run).await
    }

    /// [`Node::start`], choosing whether to run the process managers.
    pub async fn start_with(
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        reactions: Reactions,
    ) -> Result<Node, NodeError> {
        Self::start_with_log(data_dir, clock, reactions, SledOptions::default()).await
    }

    /// [`Node::start_with`], opening the log with `log_options` (tests inject a
    /// failing disk this way); the views keep as many bytes of pages in
    /// memory as the log (`cache_bytes`).
    pub async fn start_with_log(
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        reactions: Reactions,
        log_options: SledOptions,
    ) -> Result<Node, NodeError> {
        std::fs::create_dir_all(data_dir).map_err(file_error(data_dir))?;
        let options = NodeOptions {
            reactions,
            views_cache_bytes: log_options.cache_bytes,
        };
        let log = SledLog::open_with(data_dir.join("log"), log_options)?;
        Self::start_on(data_dir, clock, options, Arc::new(log)).await
    }

    /// Starts a node whose views live in `data_dir` on `log`, which may be
    /// shared with other nodes (each keeps views of its own).
    pub async fn start_on(
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        options: impl Into<NodeOptions>,
        log: Arc<dyn EventStore>,
    ) -> Result<Node, NodeError> {
        let NodeOptions {
            reactions,
            views_cache_bytes,
        } = options.into();
        std::fs::create_dir_all(data_dir).map_err(file_error(data_dir))?;
        private_dir(data_dir)?;
        crate::rebuild::finish_interrupted(&data_dir.join("views"))?;
        let views = Views::open_with_cache(data_dir.join("views"), views_cache_bytes)?;
        let head = log.head().await.map_err(AppError::from)?;
        let tail = tahc_store::verify_tail(&*log, head, TAIL_CHECKED)
            .await
            .map_err(AppError::from)?;
        if let Some(position) = tail.first_bad {
            return Err(NodeError::DamagedLog { position });
        }
        not_ahead_of(&views, head)?;
        let email_key = EmailKey::from_bytes(secret(&*log, data_dir, "email.key", head).await?);
        let token_key = secret(&*log, data_dir, "token.key", head).await?;
        let shared: SharedLog = log.clone();
        let vault = Arc::new(Vault::new(log.subject_keys()));
        let commands = Commands::new(
            Aggregates::new(shared.clone(), vault.clone()),
            clock,
            email_key,
        );
        let read_models = Arc::new(ReadModels {
            conversations: Projection::new(ConversationsProjector, vault.clone(), &views)?,
            contacts: Projection::new(ContactsProjector, vault.clone(), &views)?,
            team: Projection::new(TeamProjector, vault.clone(), &views)?,
        });
        let reactor = Reactor {
            commands: commands.clone(),
        };
        let processes = Arc::new(Processes {
            links: ProcessManager::new(Links, reactor.clone(), &views)?,
            assignments: ProcessManager::new(Assignments, reactor.clone(), &views)?,
            orchestration: ProcessManager::new(Orchestration, reactor.clone(), &views)?,
            capture: ProcessManager::new(EmailCapture, reactor.clone(), &views)?,
            snooze: ProcessManager::new(SnoozeTimer, reactor.clone(), &views)?,
            erasure: ProcessManager::new(Erasure, reactor.clone(), &views)?,
            reactor,
        });
        read_models
            .conversations
            .catch_up(&*log)
            .await
            .map_err(projection_error)?;
        read_models
            .contacts
            .catch_up(&*log)
            .await
            .map_err(projection_error)?;
        read_models
            .team
            .catch_up(&*log)
            .await
            .map_err(projection_error)?;
        let compaction = Arc::new(Compaction::new(views, read_models.position()));
        compaction.finish_pending().await?;
        let (stop, _) = watch::channel(false);
        let applied = Arc::new(AppliedLog::new(shared.clone(), read_models.position()));
        let mut node = Node {
            log,
            commands,
            views: read_models,
            token_key,
            activity: TeamActivity::default(),
            applied,
            compaction,
            processes,
            stop,
            tasks: JoinSet::new(),
        };
        node.follow(&shared, reactions);
        Ok(node)
    }

    fn follow(&mut self, log: &SharedLog, reactions: Reactions) {
        macro_rules! follow_view {
            ($field:ident) => {{
                let (views, log, stop) = (self.views.clone(), log.clone(), self.stopped());
                self.tasks
                    .spawn(async move { views.$field.run(&*log, stop).await });
            }};
        }
        follow_view!(conversations);
        follow_view!(contacts);
        follow_view!(team);
        let (applied, views, compaction, stop) = (
            self.applied.clone(),
            self.views.clone(),
            self.compaction.clone(),
            self.stopped(),
        );
        self.tasks
            .spawn(async move { applied.run(&views, &compaction, stop).await });
        let (compaction, stop) = (self.compaction.clone(), self.stopped());
        self.tasks.spawn(async move { compaction.run(stop).await });
        if reactions == Reactions::Off {
            return;
        }
        macro_rules! follow_process {
            ($field:ident) => {{
                let (processes, stop) = (self.processes.clone(), self.stopped());
                self.tasks
                    .spawn(async move { processes.$field.run(stop).await });
            }};
        }
        follow_process!(links);
        follow_process!(assignments);
        follow_process!(orchestration);
        follow_process!(capture);
        follow_process!(snooze);
        follow_process!(erasure);
        let (processes, mut stop) = (self.processes.clone(), self.stop.subscribe());
        self.tasks.spawn(async move {
            let mut ticks = tokio::time::interval(SNOOZE_TICK);
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = ticks.tick() => {}
                }
                let snooze = &processes.snooze;
                if let Err(error) = snooze
                    .reaction()
                    .tick(&processes.reactor, snooze.memory())
                    .await
                {
                    tracing::warn!(%error, "snooze timer failed; retrying at the next tick");
                }
            }
        });
    }

    fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut stop = self.stop.subscribe();
        async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        }
    }

    /// Waits until every read model has applied `position`; false when it
    /// took longer than `patience`.
    pub async fn wait_for(&self, position: Position, patience: Duration) -> bool {
        tokio::time::timeout(patience, self.views.reached(position))
            .await
            .is_ok()
    }

    /// Waits until the views' files hold nothing of the erasure at
    /// `position` (their compaction after it finished); false when it took
    /// longer than `patience`.
    pub async fn erasure_compacted(&self, position: Position, patience: Duration) -> bool {
        tokio::time::timeout(patience, self.compaction.reached(position))
            .await
            .is_ok()
    }

    /// Whether the node can serve: every read model has caught up with the
    /// log, and writes are not failing for the storage (a full disk with
    /// no reserve left, a failing one): a load balancer then sends traffic
    /// elsewhere until a write goes through again.
    pub async fn ready(&self) -> bool {
        if self.commands.aggregates().storage_failing() {
            return false;
        }
        let Ok(head) = self.log.head().await else {
            return false;
        };
        self.views.position() >= head
    }

    /// The keys personal data in the log is sealed with.
    #[must_use]
    pub fn vault(&self) -> &Arc<Vault> {
        self.commands.aggregates().vault()
    }

    /// Conversation `id` of `workspace` as it stood at `point`.
    pub async fn conversation_as_of(
        &self,
        workspace: Uuid,
        id: Uuid,
        point: crate::history::AsOf,
    ) -> Result<Option<crate::history::ConversationAsOf>, AppError> {
        crate::history::conversation_as_of(
            &*self.log,
            self.vault().clone(),
            Some(workspace),
            id,
            point,
        )
        .await
    }

    /// Reads conversations.
    #[must_use]
    pub fn conversations(&self) -> Conversations {
        Conversations::new(self.views.conversations.view().clone())
    }

    /// Reads contacts and visitors.
    #[must_use]
    pub fn contacts(&self) -> Contacts {
        Contacts::new(self.views.contacts.view().clone())
    }

    /// Reads workspaces and teams.
    #[must_use]
    pub fn team(&self) -> Team {
        Team::new(self.views.team.view().clone())
    }

    /// A team member reports what they are doing in a conversation of
    /// their workspace: shown live to the team, never stored.
    pub fn report_activity(
        &self,
        principal: &Principal,
        conversation_id: Uuid,
        kind: ActivityKind,
    ) -> Result<Activity, AppError> {
        let forbidden = AppError::Forbidden {
            action: Action::ReportActivity,
        };
        let Some(agent_id) = principal.agent_id() else {
            return Err(forbidden);
        };
        if !allows(principal, Action::ReportActivity) {
            return Err(forbidden);
        }
        let visible = self
            .conversations()
            .get(conversation_id)
            .map_err(|e| AppError::View(e.to_string()))?
            .is_some_and(|c| c.workspace_id == principal.workspace_id);
        if !visible {
            return Err(AppError::NotFound {
                what: "conversation",
            });
        }
        let activity = Activity {
            workspace_id: principal.workspace_id,
            agent_id,
            conversation_id,
            kind,
            at: self.commands.now(),
        };
        self.activity.publish(activity);
        Ok(activity)
    }

    /// Stops following the log, waits for the tasks, and closes the log
    /// (everything acknowledged is durable already).
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        while self.tasks.join_next().await.is_some() {}
        self.log.close().await;
    }
}

fn projection_error(error: tahc_projections::ProjectionError) -> NodeError {
    NodeError::App(AppError::View(error.to_string()))
}

/// Refuses views (and process managers' memory, kept beside them) that
/// have applied more than the log holds: served, they would show what the
/// log no longer backs, and new events would reuse their positions.
pub fn not_ahead_of(views: &Views, head: Position) -> Result<(), NodeError> {
    for name in views.names() {
        let applied = views.view(&name)?.checkpoint()?;
        if applied > head {
            return Err(NodeError::AheadOfLog {
                view: name,
                applied,
                head,
            });
        }
    }
    Ok(())
}

/// The data directory, readable by its owner only (it holds the keys that
/// open personal data, and the views that show it).
fn private_dir(data_dir: &Path) -> Result<(), NodeError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
        .map_err(file_error(data_dir))
}

/// The 256-bit secret `name`: the one every node of a shared log uses, or
/// else the data directory's file, created (readable by the owner only) on
/// the first start, on an empty log.
async fn secret(
    log: &dyn EventStore,
    data_dir: &Path,
    name: &str,
    head: Position,
) -> Result<[u8; 32], NodeError> {
    match log.shared_secret(name).await.map_err(AppError::Keys)? {
        Some(secret) => Ok(secret),
        None => secret_file(&data_dir.join(name), head),
    }
}

/// The secret in the file at `path`, created when missing on an empty log;
/// missing beside a log with events, refused.
fn secret_file(path: &Path, head: Position) -> Result<[u8; 32], NodeError> {
    let error = file_error(path);
    match std::fs::read(path) {
        Ok(bytes) => bytes.try_into().map_err(|_| {
            error(io::Error::new(
                io::ErrorKind::InvalidData,
                "expected 32 bytes",
            ))
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound && head > Position::START => {
            Err(NodeError::MissingSecret {
                path: path.to_owned(),
                events: head.0,
                consequence: if path.ends_with("token.key") {
                    "a new key would refuse every visitor's token"
                } else {
                    "a new key would file every known address under a second contact"
                },
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let key = EmailKey::generate().to_bytes();
            write_private(path, &key).map_err(error)?;
            Ok(key)
        }
        Err(e) => Err(error(e)),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
