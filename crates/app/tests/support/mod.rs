//! A workspace with one member of every role, a visitor with a conversation
//! and a contact, on a real sled log in a temporary directory.

#![allow(dead_code)]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use tahc_app::process::{
    Assignments, EmailCapture, Links, Orchestration, ProcessManager, Reactor, SnoozeTimer,
};
use tahc_app::{Aggregates, Commands, EmailKey, ManualClock, Principal, Vault};
use tahc_events::{Position, Role};
use tahc_projections::Views;
use tahc_store::{EventStore, SharedLog, SledLog};
use tempfile::TempDir;
use uuid::Uuid;

/// The input field a domain refusal names, if it is an `Invalid` one.
pub fn invalid_field(error: &tahc_app::AppError) -> Option<&'static str> {
    match error {
        tahc_app::AppError::Domain(tahc_domain::DomainError::Invalid { field, .. }) => Some(field),
        _ => None,
    }
}

pub struct Team {
    pub admin: Principal,
    pub agent: Principal,
    pub bot: Principal,
    pub auditor: Principal,
}

pub struct World {
    pub dir: TempDir,
    pub log: SledLog,
    pub clock: Arc<ManualClock>,
    pub commands: Commands,
    pub workspace_id: Uuid,
    pub team: Team,
    pub visitor: Principal,
    pub visitor_id: Uuid,
    pub conversation_id: Uuid,
    pub contact_id: Uuid,
}

pub fn commands_over(log: &SledLog, clock: Arc<ManualClock>) -> Commands {
    let shared: SharedLog = Arc::new(log.clone());
    Commands::new(
        Aggregates::new(shared, Arc::new(Vault::new(log.subject_keys()))),
        clock,
        EmailKey::from_bytes([7; 32]),
    )
}

/// A second workspace on the same log, with its admin.
pub async fn other_workspace(commands: &Commands) -> Principal {
    commands
        .create_workspace(
            "Other".into(),
            "Eve".into(),
            "eve@other.example".into(),
            None,
        )
        .await
        .unwrap()
        .admin
}

impl World {
    /// The events of `stream`, opened as the service reads them.
    pub async fn events(&self, stream: &tahc_events::StreamId) -> Vec<tahc_events::Event> {
        use tahc_store::StreamReader;
        let vault = self.commands.aggregates().vault();
        let records = self.log.read_stream(stream, 0, usize::MAX).await.unwrap();
        records
            .iter()
            .map(|r| {
                let mut event = r.decode().unwrap();
                event.open_with(&**vault).unwrap();
                event
            })
            .collect()
    }

    pub async fn new() -> World {
        let dir = TempDir::new().unwrap();
        let log = SledLog::open(dir.path()).unwrap();
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap(),
        ));
        let commands = commands_over(&log, clock.clone());
        let created = commands
            .create_workspace("Acme".into(), "Ada".into(), "ada@acme.example".into(), None)
            .await
            .unwrap();
        let admin = created.admin;
        let member = |role| {
            let commands = commands.clone();
            async move {
                let email = format!("{role:?}@acme.example").to_lowercase();
                let issued = commands
                    .add_agent(&admin, format!("{role:?}"), email, role)
                    .await
                    .unwrap();
                Principal::team(admin.workspace_id, issued.agent_id, role)
            }
        };
        let team = Team {
            admin,
            agent: member(Role::Agent).await,
            bot: member(Role::Bot).await,
            auditor: member(Role::Auditor).await,
        };
        let visitor = commands.new_visitor(created.workspace_id).await.unwrap();
        let visitor_id = visitor.visitor_id().unwrap();
        let (conversation_id, _) = commands
            .start_conversation(&visitor, None, "Hello, where is my order?".into())
            .await
            .unwrap();
        let contact_id = commands
            .identify_visitor(
                &visitor,
                None,
                "grace@example.com".into(),
                Some("Grace".into()),
            )
            .await
            .unwrap()
            .linked()
            .expect("a new address makes a contact");
        World {
            dir,
            log,
            clock,
            commands,
            workspace_id: created.workspace_id,
            team,
            visitor,
            visitor_id,
            conversation_id,
            contact_id,
        }
    }
}

/// Every process manager of the service, with its memory in `dir`.
pub struct Processes {
    links: ProcessManager<Links>,
    assignments: ProcessManager<Assignments>,
    orchestration: ProcessManager<Orchestration>,
    capture: ProcessManager<EmailCapture>,
    snooze: ProcessManager<SnoozeTimer>,
    reactor: Reactor,
    _dir: TempDir,
}

impl Processes {
    pub fn new(commands: &Commands) -> Processes {
        let dir = TempDir::new().unwrap();
        let views = Views::open(dir.path()).unwrap();
        let reactor = Reactor {
            commands: commands.clone(),
        };
        Processes {
            links: ProcessManager::new(Links, reactor.clone(), &views).unwrap(),
            assignments: ProcessManager::new(Assignments, reactor.clone(), &views).unwrap(),
            orchestration: ProcessManager::new(Orchestration, reactor.clone(), &views).unwrap(),
            capture: ProcessManager::new(EmailCapture, reactor.clone(), &views).unwrap(),
            snooze: ProcessManager::new(SnoozeTimer, reactor.clone(), &views).unwrap(),
            reactor,
            _dir: dir,
        }
    }

    /// Runs every process manager until none has anything left to do.
    pub async fn settle(&self) -> Position {
        loop {
            let log = self.reactor.commands.aggregates().log();
            let head = log.head().await.unwrap();
            self.links.catch_up().await.unwrap();
            self.assignments.catch_up().await.unwrap();
            self.orchestration.catch_up().await.unwrap();
            self.capture.catch_up().await.unwrap();
            self.snooze.catch_up().await.unwrap();
            if log.head().await.unwrap() == head {
                return head;
            }
        }
    }

    pub async fn tick(&self) -> usize {
        self.snooze
            .reaction()
            .tick(&self.reactor, self.snooze.memory())
            .await
            .unwrap()
    }
}
