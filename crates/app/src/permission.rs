//! Who may do what: one table of role × action, checked by the application
//! for every command, whatever the transport.

use tahc_events::Role;

use crate::principal::{Principal, PrincipalKind};

/// Everything a caller can ask the service to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Start a conversation (visitors; the team on a visitor's behalf).
    StartConversation,
    /// Post a message or note.
    SendMessage,
    /// Ask for a human.
    RequestHuman,
    /// Identify a visitor by email.
    IdentifyVisitor,
    /// Take over from the AI.
    TakeOver,
    /// Give control back to the AI.
    ReturnToAi,
    /// Assign or unassign.
    AssignConversation,
    /// Close, reopen, mark pending.
    SetConversationStatus,
    /// Snooze.
    SnoozeConversation,
    /// Block or unblock a visitor.
    BlockVisitor,
    /// Edit a contact.
    UpdateContact,
    /// Add, edit, delete notes.
    ManageContactNotes,
    /// Set custom field values.
    SetContactCustomField,
    /// Report viewing/typing (ephemeral).
    ReportActivity,
    /// Add, deactivate agents and rotate their keys.
    ManageTeam,
    /// Define custom fields.
    DefineCustomField,
    /// Save and delete orchestration rules.
    ManageRules,
    /// Change workspace settings.
    UpdateWorkspaceSettings,
    /// Erase a contact's personal data.
    EraseContact,
}

impl Action {
    /// Every action, for exhaustive tests.
    pub const ALL: [Action; 19] = [
        Action::StartConversation,
        Action::SendMessage,
        Action::RequestHuman,
        Action::IdentifyVisitor,
        Action::TakeOver,
        Action::ReturnToAi,
        Action::AssignConversation,
        Action::SetConversationStatus,
        Action::SnoozeConversation,
        Action::BlockVisitor,
        Action::UpdateContact,
        Action::ManageContactNotes,
        Action::SetContactCustomField,
        Action::ReportActivity,
        Action::ManageTeam,
        Action::DefineCustomField,
        Action::ManageRules,
        Action::UpdateWorkspaceSettings,
        Action::EraseContact,
    ];
}

/// Who may act: the visitor, and which team roles.
struct Rule {
    visitor: bool,
    admin: bool,
    agent: bool,
    bot: bool,
}

const fn rule(visitor: bool, admin: bool, agent: bool, bot: bool) -> Rule {
    Rule {
        visitor,
        admin,
        agent,
        bot,
    }
}

/// The table. Auditors read everything and change nothing, so they have no
/// column. Visitors act only on their own conversations and identity, which
/// the application checks on the target.
fn table(action: Action) -> Rule {
    //                                             visitor admin  agent  bot
    match action {
        Action::StartConversation => rule(true, true, true, false),
        Action::SendMessage => rule(true, true, true, true),
        Action::RequestHuman => rule(true, true, true, true),
        Action::IdentifyVisitor => rule(true, true, true, true),
        Action::TakeOver => rule(false, true, true, false),
        Action::ReturnToAi => rule(false, true, true, false),
        Action::AssignConversation => rule(false, true, true, false),
        Action::SetConversationStatus => rule(false, true, true, true),
        Action::SnoozeConversation => rule(false, true, true, false),
        Action::BlockVisitor => rule(false, true, true, false),
        Action::UpdateContact => rule(false, true, true, false),
        Action::ManageContactNotes => rule(false, true, true, false),
        Action::SetContactCustomField => rule(false, true, true, true),
        Action::ReportActivity => rule(false, true, true, false),
        Action::ManageTeam => rule(false, true, false, false),
        Action::DefineCustomField => rule(false, true, false, false),
        Action::ManageRules => rule(false, true, false, false),
        Action::UpdateWorkspaceSettings => rule(false, true, false, false),
        Action::EraseContact => rule(false, true, false, false),
    }
}

/// Whether `principal` may perform `action` at all.
#[must_use]
pub fn allows(principal: &Principal, action: Action) -> bool {
    let rule = table(action);
    match principal.kind {
        PrincipalKind::Visitor { .. } => rule.visitor,
        PrincipalKind::System => true,
        PrincipalKind::Team { role, .. } => match role {
            Role::Admin => rule.admin,
            Role::Agent => rule.agent,
            Role::Bot => rule.bot,
            Role::Auditor => false,
        },
    }
}
