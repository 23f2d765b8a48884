//! `tahc serve --demo`: a realistic inbox to look around in, written
//! through the same commands the API runs (so every event, view and
//! subscription is real): visitors, a bot answering as the AI, a handoff
//! taken by an agent, contacts with notes and a custom field, closed and
//! pending conversations.

use tahc_app::{AppError, Node, Principal, SendMessage};
use tahc_events::{ConversationStatus, CustomFieldType, HandoffReason, Role};

/// What the demo created, for the banner.
pub struct Demo {
    /// Conversations started.
    pub conversations: usize,
    /// The agent's API key (an AGENT, to try the inbox as one).
    pub agent_key: String,
}

/// One message of a scripted conversation.
enum Line {
    Visitor(&'static str),
    Ai(&'static str, f64),
    Agent(&'static str),
    Note(&'static str),
    AsksForHuman,
    TakenOver,
}

/// A scripted conversation: what is said, who the visitor turns out to be,
/// and where it ends.
struct Script {
    lines: &'static [Line],
    /// Email and name the visitor gives, a team note and a plan.
    contact: Option<Contact>,
    status: Option<ConversationStatus>,
}

/// Who a visitor turns out to be.
struct Contact {
    email: &'static str,
    name: &'static str,
    note: Option<&'static str>,
    plan: Option<&'static str>,
}

const SCRIPTS: &[Script] = &[
    Script {
        lines: &[
            Line::Visitor("Hi! Where is my order #4410? It was due yesterday."),
            Line::Ai(
                "Order #4410 left our warehouse on Monday and is with the carrier; the tracking page says it arrives tomorrow before noon.",
                0.91,
            ),
            Line::Visitor("Great, thanks!"),
            Line::Ai("You're welcome! Anything else I can help with?", 0.95),
        ],
        contact: Some(Contact {
            email: "maya@example.com",
            name: "Maya Lopez",
            note: None,
            plan: Some("Starter"),
        }),
        status: Some(ConversationStatus::Closed),
    },
    Script {
        lines: &[
            Line::Visitor("I was charged twice for my subscription this month."),
            Line::Ai(
                "I'm sorry about that. I can see two payments; refunds need a person on our team.",
                0.42,
            ),
            Line::AsksForHuman,
            Line::TakenOver,
            Line::Agent(
                "Hi Jon, Sam here. I've refunded the duplicate payment; it shows on your card in 3–5 days.",
            ),
            Line::Note(
                "Duplicate charge from the payment retry bug (see incident 212). Refund issued.",
            ),
        ],
        contact: Some(Contact {
            email: "jon@example.com",
            name: "Jon Park",
            note: Some("Long-time customer (since 2021); prefers email."),
            plan: Some("Pro"),
        }),
        status: Some(ConversationStatus::Pending),
    },
    Script {
        lines: &[
            Line::Visitor("Can I talk to a real person about a custom plan for 40 seats?"),
            Line::Ai(
                "Of course — I've asked our team to join. Meanwhile: custom plans start at 25 seats.",
                0.88,
            ),
            Line::AsksForHuman,
        ],
        contact: None,
        status: None,
    },
    Script {
        lines: &[
            Line::Visitor("Do you ship to Canada?"),
            Line::Ai(
                "Yes! Shipping to Canada takes 4–6 business days and is free over $50.",
                0.97,
            ),
        ],
        contact: None,
        status: None,
    },
];

/// Loads the demo into `admin`'s workspace.
pub async fn load(node: &Node, admin: &Principal) -> Result<Demo, AppError> {
    let workspace = admin.workspace_id;
    let commands = &node.commands;
    let bot = commands
        .add_agent(admin, "Tahc AI".into(), "ai@tahc.local".into(), Role::Bot)
        .await?;
    let bot = Principal::team(workspace, bot.agent_id, Role::Bot);
    let sam = commands
        .add_agent(
            admin,
            "Sam Rivera".into(),
            "sam@tahc.local".into(),
            Role::Agent,
        )
        .await?;
    let agent = Principal::team(workspace, sam.agent_id, Role::Agent);
    commands
        .define_custom_field(admin, "plan".into(), "Plan".into(), CustomFieldType::Text)
        .await?;
    for script in SCRIPTS {
        play(node, &bot, &agent, script).await?;
    }
    Ok(Demo {
        conversations: SCRIPTS.len(),
        agent_key: sam.api_key,
    })
}

async fn play(
    node: &Node,
    bot: &Principal,
    agent: &Principal,
    script: &Script,
) -> Result<(), AppError> {
    let commands = &node.commands;
    let visitor = commands.new_visitor(bot.workspace_id).await?;
    let Some((Line::Visitor(first), rest)) = script.lines.split_first() else {
        return Ok(());
    };
    let (conversation, _) = commands
        .start_conversation(&visitor, None, (*first).into())
        .await?;
    let say = |principal: &Principal, body: &str, internal: bool, confidence: Option<f64>| {
        let message = SendMessage {
            conversation_id: conversation,
            body: body.into(),
            internal,
            confidence,
            idempotency_key: None,
        };
        let principal = *principal;
        async move { commands.send_message(&principal, message).await }
    };
    for line in rest {
        match line {
            Line::Visitor(body) => drop(say(&visitor, body, false, None).await?),
            Line::Ai(body, confidence) => drop(say(bot, body, false, Some(*confidence)).await?),
            Line::Agent(body) => drop(say(agent, body, false, None).await?),
            Line::Note(body) => drop(say(agent, body, true, None).await?),
            Line::AsksForHuman => drop(
                commands
                    .request_human(&visitor, conversation, HandoffReason::CustomerRequest)
                    .await?,
            ),
            Line::TakenOver => drop(commands.take_over(agent, conversation).await?),
        }
    }
    if let Some(contact) = &script.contact {
        let identified = commands
            .identify_visitor(
                &visitor,
                None,
                contact.email.into(),
                Some(contact.name.into()),
            )
            .await?;
        // Every demo address is new: the visitor's word makes its contact.
        if let Some(contact_id) = identified.linked() {
            if let Some(note) = contact.note {
                commands.add_note(agent, contact_id, note.into()).await?;
            }
            if let Some(plan) = contact.plan {
                commands
                    .set_custom_field(agent, contact_id, "plan".into(), plan.into())
                    .await?;
            }
        }
    }
    if let Some(status) = script.status {
        commands.set_status(agent, conversation, status).await?;
    }
    Ok(())
}
