//! Read models of tahc: views that follow the log, kept in sled.
//!
//! Every view (and every process manager's memory) is one sled tree whose
//! changes for an event are written in ONE atomic batch together with the
//! view's checkpoint, the position of the last event it applied. A restart
//! resumes from the checkpoint; a crash can never leave a view that applied
//! an event without remembering it, or the reverse.

mod contacts;
mod conversation_query;
mod conversations;
mod page;
mod projection;
mod team;
mod view;
mod views_dir;
pub mod words;

pub use contacts::{
    ContactOrder, ContactRecord, Contacts, ContactsProjector, NoteRecord, VisitorRecord,
};
pub use conversation_query::{ConversationCounts, ConversationFilter, Conversations};
pub use conversations::{
    ConversationOrder, ConversationRecord, ConversationsProjector, HandoffRecord, MessageRecord,
};
pub use page::{Cursor, Page, Window};
pub use projection::{Projection, ProjectionError, Projector};
pub use team::{
    AgentRecord, FieldRecord, KeyOwner, RuleRecord, Team, TeamProjector, WorkspaceRecord,
};
pub use view::{View, ViewChanges, ViewError, Views};
pub use views_dir::{ViewsDir, sibling};
