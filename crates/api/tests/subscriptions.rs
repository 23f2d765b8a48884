//! The contract's subscriptions over a real WebSocket: what each role
//! receives, that nothing is missed or repeated on resume, and that a client
//! that stops reading is cut off without slowing anyone else.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::ws::Ws;
use support::{SEND, Server};
use tahc_api::graphql_ws::LiveSettings;

const INBOX: &str = "subscription($after:String){conversationChanges(after:$after){kind position conversation{id messageCount lastMessage{body}} message{body internal authorKind}}}";
const IDENTIFY: &str =
    "mutation($e:String!){identifyVisitor(input:{email:$e}){contact{id} userErrors{code}}}";

/// The change of a `next` payload.
fn change(payload: &Value) -> &Value {
    &payload["data"]["conversationChanges"]
}

fn position(change: &Value) -> u64 {
    change["position"].as_str().unwrap().parse().unwrap()
}

async fn post(server: &Server, credential: &str, conversation: &str, body: &str, internal: bool) {
    let sent = server
        .graphql(
            Some(credential),
            SEND,
            json!({"c": conversation, "b": body, "i": internal}),
        )
        .await;
    assert!(
        sent["data"]["sendMessage"]["message"]["id"].is_string(),
        "{sent}"
    );
}

/// The admin takes a conversation over, so the team may reply in public.
async fn take_over(server: &Server, conversation: &str) {
    let taken = server
        .graphql(
            Some(&server.admin_key),
            "mutation($c:ID!){takeOver(input:{conversationId:$c}){userErrors{code}}}",
            json!({"c": conversation}),
        )
        .await;
    assert_eq!(
        taken["data"]["takeOver"]["userErrors"],
        json!([]),
        "{taken}"
    );
}

#[tokio::test]
async fn the_team_receives_every_inbox_change_in_log_order_with_the_conversation_up_to_date() {
    let server = Server::start().await;
    let mut ws = Ws::open(&server.ws_url(), &server.admin_key).await;
    ws.subscribe("inbox", INBOX, json!({})).await;
    let visitor = server.visitor_token().await;
    let conversation = server.conversation_of(&visitor, "hello").await;
    post(&server, &visitor, &conversation, "anyone there?", false).await;
    let changes = ws.nexts("inbox", 3).await;
    let kinds: Vec<_> = changes.iter().map(|c| change(c)["kind"].clone()).collect();
    assert_eq!(
        kinds,
        [
            json!("CREATED"),
            json!("MESSAGE_ADDED"),
            json!("MESSAGE_ADDED")
        ]
    );
    let positions: Vec<_> = changes.iter().map(|c| position(change(c))).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    let last = change(&changes[2]);
    assert_eq!(last["message"]["body"], "anyone there?");
    // Produced after the views applied it: the conversation shows it.
    assert_eq!(last["conversation"]["lastMessage"]["body"], "anyone there?");
    assert_eq!(last["conversation"]["id"], conversation);
}

#[tokio::test]
async fn a_visitor_sees_only_its_own_conversation_and_never_an_internal_note() {
    let server = Server::start().await;
    let (alice, bob) = (server.visitor_token().await, server.visitor_token().await);
    let mine = server.conversation_of(&alice, "alice here").await;
    let theirs = server.conversation_of(&bob, "bob here").await;
    take_over(&server, &mine).await;
    take_over(&server, &theirs).await;
    let mut ws = Ws::open(&server.ws_url(), &alice).await;
    ws.subscribe("mine", INBOX, json!({})).await;
    let mut timeline = Ws::open(&server.ws_url(), &alice).await;
    timeline
        .subscribe(
            "t",
            "subscription($c:ID!){conversationTimeline(conversationId:$c){kind message{body internal}}}",
            json!({"c": mine}),
        )
        .await;
    post(&server, &bob, &theirs, "bob's secret", false).await;
    post(&server, &server.admin_key, &mine, "internal: refund?", true).await;
    post(&server, &server.admin_key, &theirs, "reply to bob", false).await;
    post(&server, &server.admin_key, &mine, "public reply", false).await;
    let seen = change(&ws.nexts("mine", 1).await[0]).clone();
    assert_eq!(seen["message"]["body"], "public reply", "{seen}");
    assert_eq!(seen["message"]["internal"], false);
    let seen = &timeline.nexts("t", 1).await[0]["data"]["conversationTimeline"];
    assert_eq!(seen["message"]["body"], "public reply", "{seen}");
    // Someone else's conversation cannot be followed.
    let mut ws = Ws::open(&server.ws_url(), &alice).await;
    ws.subscribe(
        "other",
        "subscription($c:ID!){conversationTimeline(conversationId:$c){kind}}",
        json!({"c": theirs}),
    )
    .await;
    let refused = ws.message().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn another_workspace_receives_nothing_of_this_one() {
    let server = Server::start().await;
    let other = server.tenant("Other", "Olga", "olga@other.example").await;
    let follow = |query: &'static str| {
        let (url, key) = (server.ws_url(), other.admin_key.clone());
        async move {
            let mut ws = Ws::open(&url, &key).await;
            ws.subscribe("s", query, json!({})).await;
            ws
        }
    };
    let mut inbox = follow(INBOX).await;
    let mut contacts = follow("subscription{contactChanges{kind contact{email}}}").await;
    let mut log =
        follow("subscription{events(filter:{types:[\"conversation.message_posted\"]}){payload}}")
            .await;
    // Everything happens in Acme first …
    let visitor = server.visitor_token().await;
    let conversation = server.conversation_of(&visitor, "in acme").await;
    server
        .graphql(Some(&visitor), IDENTIFY, json!({"e": "zed@acme.example"}))
        .await;
    take_over(&server, &conversation).await;
    post(
        &server,
        &server.admin_key,
        &conversation,
        "acme reply",
        false,
    )
    .await;
    // … then in the other workspace, which is the first thing each sees.
    let stranger = server.visitor_of(&other.workspace).await;
    server.conversation_of(&stranger, "in other").await;
    server
        .graphql(Some(&stranger), IDENTIFY, json!({"e": "oz@other.example"}))
        .await;
    let first = change(&inbox.nexts("s", 1).await[0]).clone();
    assert_eq!(first["kind"], "CREATED", "{first}");
    assert_eq!(first["conversation"]["lastMessage"]["body"], "in other");
    let first = contacts.nexts("s", 1).await[0].clone();
    assert_eq!(
        first["data"]["contactChanges"]["contact"]["email"],
        "oz@other.example"
    );
    let first = log.nexts("s", 1).await[0].to_string();
    assert!(first.contains("in other"), "{first}");
}

#[tokio::test]
async fn each_subscription_answers_to_the_roles_the_contract_names() {
    let server = Server::start().await;
    let (_, agent) = server.add_agent(&server.admin_key, "Ann", "AGENT").await;
    let (_, auditor) = server.add_agent(&server.admin_key, "Aud", "AUDITOR").await;
    let visitor = server.visitor_token().await;
    let cases = [
        (&visitor, "subscription{contactChanges{kind}}", "FORBIDDEN"),
        (&visitor, "subscription{teamActivity{kind}}", "FORBIDDEN"),
        (&visitor, "subscription{events{type}}", "FORBIDDEN"),
        (&agent, "subscription{events{type}}", "FORBIDDEN"),
        (
            &agent,
            "subscription{conversationChanges(after:\"x\"){kind}}",
            "BAD_USER_INPUT",
        ),
        (
            &agent,
            "subscription{conversationTimeline(conversationId:\"nope\"){kind}}",
            "NOT_FOUND",
        ),
        (
            &auditor,
            "subscription{events(filter:{conversationId:\"nope\"}){type}}",
            "BAD_USER_INPUT",
        ),
        (
            &auditor,
            "subscription{events(after:\"-1\"){type}}",
            "BAD_USER_INPUT",
        ),
    ];
    for (credential, query, code) in cases {
        let mut ws = Ws::open(&server.ws_url(), credential).await;
        ws.subscribe("s", query, json!({})).await;
        let refused = ws.message().await;
        assert_eq!(refused["type"], "error", "{query}: {refused}");
        assert_eq!(refused["payload"][0]["extensions"]["code"], code, "{query}");
    }
    // The auditor reads the raw log, the agent contact changes.
    let mut audit = Ws::open(&server.ws_url(), &auditor).await;
    audit
        .subscribe(
            "log",
            "subscription{events{type position streamId hash prevHash actor{kind}}}",
            json!({}),
        )
        .await;
    let mut contacts = Ws::open(&server.ws_url(), &agent).await;
    contacts
        .subscribe(
            "c",
            "subscription{contactChanges{kind contact{email}}}",
            json!({}),
        )
        .await;
    server.conversation_of(&visitor, "hi").await;
    server
        .graphql(Some(&visitor), IDENTIFY, json!({"e": "kim@acme.example"}))
        .await;
    // The visitor is recorded when it first acts, not when its session
    // opened.
    let events = audit.nexts("log", 4).await;
    assert_eq!(events[0]["data"]["events"]["type"], "visitor.first_seen");
    assert_eq!(events[1]["data"]["events"]["type"], "conversation.started");
    assert_eq!(events[1]["data"]["events"]["actor"]["kind"], "VISITOR");
    let created = &contacts.nexts("c", 1).await[0]["data"]["contactChanges"];
    assert_eq!(created["kind"], "CREATED");
    assert_eq!(created["contact"]["email"], "kim@acme.example");
}

#[tokio::test]
async fn team_activity_reaches_the_team_of_its_workspace_only() {
    let server = Server::start().await;
    let (_, agent) = server.add_agent(&server.admin_key, "Ann", "AGENT").await;
    let other = server.tenant("Other", "Olga", "olga@other.example").await;
    let mut team = Ws::open(&server.ws_url(), &server.admin_key).await;
    team.subscribe(
        "a",
        "subscription{teamActivity{kind agent{name} conversation{id}}}",
        json!({}),
    )
    .await;
    let mut outsider = Ws::open(&server.ws_url(), &other.admin_key).await;
    outsider
        .subscribe("a", "subscription{teamActivity{kind}}", json!({}))
        .await;
    let visitor = server.visitor_token().await;
    let conversation = server.conversation_of(&visitor, "hi").await;
    let reported = server
        .graphql(
            Some(&agent),
            "mutation($c:ID!){reportActivity(input:{conversationId:$c,kind:TYPING})}",
            json!({"c": conversation}),
        )
        .await;
    assert_eq!(reported["data"]["reportActivity"], true, "{reported}");
    let seen = &team.nexts("a", 1).await[0]["data"]["teamActivity"];
    assert_eq!(seen["kind"], "TYPING");
    assert_eq!(seen["agent"]["name"], "Ann");
    assert_eq!(seen["conversation"]["id"], conversation);
    outsider.silent_for(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn resuming_after_a_disconnect_delivers_every_missed_change_once_in_order() {
    let server = Server::start().await;
    let visitor = server.visitor_token().await;
    let conversation = server.conversation_of(&visitor, "m0").await;
    let mut ws = Ws::open(&server.ws_url(), &server.admin_key).await;
    ws.subscribe("inbox", INBOX, json!({})).await;
    post(&server, &visitor, &conversation, "m1", false).await;
    let seen = ws.nexts("inbox", 1).await;
    let resume_at = change(&seen[0])["position"].as_str().unwrap().to_owned();
    ws.close().await;
    for n in 2..=6 {
        post(&server, &visitor, &conversation, &format!("m{n}"), false).await;
    }
    let mut ws = Ws::open(&server.ws_url(), &server.admin_key).await;
    ws.subscribe("inbox", INBOX, json!({"after": resume_at}))
        .await;
    let missed = ws.nexts("inbox", 5).await;
    let bodies: Vec<_> = missed
        .iter()
        .map(|c| change(c)["message"]["body"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(bodies, ["m2", "m3", "m4", "m5", "m6"]);
    // Then live, with nothing repeated.
    post(&server, &visitor, &conversation, "m7", false).await;
    let live = ws.nexts("inbox", 1).await;
    assert_eq!(change(&live[0])["message"]["body"], "m7");
    assert!(position(change(&live[0])) > position(change(&missed[4])));
    ws.silent_for(Duration::from_millis(200)).await;
}

/// The bodies of the next `count` messages on inbox operation `id`,
/// skipping changes without one.
async fn bodies(ws: &mut Ws, id: &str, count: usize) -> Vec<String> {
    let mut bodies = Vec::with_capacity(count);
    while bodies.len() < count {
        let next = ws.nexts(id, 1).await;
        if let Some(body) = change(&next[0])["message"]["body"].as_str() {
            bodies.push(body.to_owned());
        }
    }
    bodies
}

/// A server whose operations buffer 8 frames and wait `stall` for room,
/// with a conversation and two admin inbox subscribers: one with a tiny
/// receive window that does not read, one that reads.
struct Flood {
    chat: Chat,
    stalled: Ws,
    reader: Ws,
}

/// A visitor's conversation on a server.
struct Chat {
    server: Server,
    visitor: String,
    conversation: String,
}

impl Flood {
    async fn start(stall: Duration) -> Flood {
        let server = Server::start_live(LiveSettings {
            subscription_buffer: 8,
            stall_timeout: stall,
            ..LiveSettings::default()
        })
        .await;
        let visitor = server.visitor_token().await;
        let conversation = server.conversation_of(&visitor, "flood").await;
        let mut stalled = Ws::open_stalling(&server.ws_url(), &server.admin_key).await;
        stalled.subscribe("inbox", INBOX, json!({})).await;
        let mut reader = Ws::open(&server.ws_url(), &server.admin_key).await;
        reader.subscribe("inbox", INBOX, json!({})).await;
        Flood {
            chat: Chat {
                server,
                visitor,
                conversation,
            },
            stalled,
            reader,
        }
    }

    /// The numbers of the next `count` messages `ws` receives.
    async fn numbers(ws: &mut Ws, count: usize) -> Vec<usize> {
        bodies(ws, "inbox", count)
            .await
            .iter()
            .map(|body| body.split(' ').next().unwrap().parse().unwrap())
            .collect()
    }
}

impl Chat {
    /// Posts messages numbered `0..count`, each far larger than the
    /// stalled client's receive window.
    async fn post_numbered(&self, count: usize) {
        let body = "x".repeat(9_000);
        for n in 0..count {
            let numbered = format!("{n} {body}");
            post(
                &self.server,
                &self.visitor,
                &self.conversation,
                &numbered,
                false,
            )
            .await;
        }
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_while_another_receives_everything() {
    let mut flood = Flood::start(Duration::from_millis(200)).await;
    let messages = 400;
    let (_, received) = tokio::join!(
        flood.chat.post_numbered(messages),
        Flood::numbers(&mut flood.reader, messages)
    );
    assert_eq!(received, (0..messages).collect::<Vec<_>>());
    // The stalled client reads at last: what was sent, then the close.
    let (code, reason) = flood.stalled.closed().await;
    assert_eq!(code, 1013, "{reason}");
    assert!(reason.contains("Slow consumer"), "{reason}");
}

#[tokio::test]
async fn subscribers_asking_the_same_each_receive_only_what_their_own_rights_allow() {
    let server = Server::start().await;
    let (alice, bob) = (server.visitor_token().await, server.visitor_token().await);
    let hers = server.conversation_of(&alice, "alice here").await;
    let his = server.conversation_of(&bob, "bob here").await;
    take_over(&server, &hers).await;
    // Five subscribers, one document, no variables: two visitors, two
    // connections of the admin, and an agent.
    let (_, agent) = server.add_agent(&server.admin_key, "Grace", "AGENT").await;
    let mut sockets = Vec::new();
    for credential in [&alice, &bob, &server.admin_key, &server.admin_key, &agent] {
        let mut ws = Ws::open(&server.ws_url(), credential).await;
        ws.subscribe("inbox", INBOX, json!({})).await;
        sockets.push(ws);
    }
    post(&server, &alice, &hers, "from alice", false).await;
    post(&server, &bob, &his, "from bob", false).await;
    post(&server, &server.admin_key, &hers, "note on alice", true).await;
    post(&server, &server.admin_key, &hers, "to alice", false).await;
    post(&server, &bob, &his, "bob again", false).await;
    let [alice_ws, bob_ws, admin, admin_again, agent_ws] = &mut sockets[..] else {
        unreachable!()
    };
    // In log order: whatever was kept from one would show before the
    // message that follows it.
    assert_eq!(
        bodies(alice_ws, "inbox", 2).await,
        ["from alice", "to alice"]
    );
    assert_eq!(bodies(bob_ws, "inbox", 2).await, ["from bob", "bob again"]);
    let team = [
        "from alice",
        "from bob",
        "note on alice",
        "to alice",
        "bob again",
    ];
    assert_eq!(bodies(admin, "inbox", 5).await, team);
    assert_eq!(bodies(admin_again, "inbox", 5).await, team);
    assert_eq!(bodies(agent_ws, "inbox", 5).await, team);
}

#[tokio::test]
async fn a_later_subscriber_gets_only_what_comes_after_it_even_when_another_asks_the_same() {
    let server = Server::start().await;
    let visitor = server.visitor_token().await;
    let conversation = server.conversation_of(&visitor, "first").await;
    let mut early = Ws::open(&server.ws_url(), &server.admin_key).await;
    early.subscribe("inbox", INBOX, json!({})).await;
    post(&server, &visitor, &conversation, "m1", false).await;
    assert_eq!(bodies(&mut early, "inbox", 1).await, ["m1"]);
    let mut late = Ws::open(&server.ws_url(), &server.admin_key).await;
    late.subscribe("inbox", INBOX, json!({})).await;
    // The subscription is running once the connection answers a ping.
    late.send(json!({"type": "ping"})).await;
    assert_eq!(late.message().await["type"], "pong");
    post(&server, &visitor, &conversation, "m2", false).await;
    assert_eq!(bodies(&mut late, "inbox", 1).await, ["m2"]);
    assert_eq!(bodies(&mut early, "inbox", 1).await, ["m2"]);
    late.silent_for(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_resume_from_further_back_than_a_running_subscription_still_gets_everything() {
    let server = Server::start().await;
    let visitor = server.visitor_token().await;
    let conversation = server.conversation_of(&visitor, "first").await;
    let mut first = Ws::open(&server.ws_url(), &server.admin_key).await;
    first.subscribe("inbox", INBOX, json!({})).await;
    post(&server, &visitor, &conversation, "m1", false).await;
    let resume_at = position(change(&first.nexts("inbox", 1).await[0])) - 1;
    let from_m1 = json!({"after": resume_at.to_string()});
    let mut a = Ws::open(&server.ws_url(), &server.admin_key).await;
    a.subscribe("inbox", INBOX, from_m1.clone()).await;
    assert_eq!(bodies(&mut a, "inbox", 1).await, ["m1"]);
    post(&server, &visitor, &conversation, "m2", false).await;
    assert_eq!(bodies(&mut a, "inbox", 1).await, ["m2"]);
    // The same operation and variables, now that `a` has read past them.
    let mut b = Ws::open(&server.ws_url(), &server.admin_key).await;
    b.subscribe("inbox", INBOX, from_m1).await;
    assert_eq!(bodies(&mut b, "inbox", 2).await, ["m1", "m2"]);
    post(&server, &visitor, &conversation, "m3", false).await;
    assert_eq!(bodies(&mut b, "inbox", 1).await, ["m3"]);
    assert_eq!(bodies(&mut a, "inbox", 1).await, ["m3"]);
}

#[tokio::test]
async fn a_client_that_pauses_reading_catches_up_from_the_log_with_nothing_lost_or_repeated() {
    let mut flood = Flood::start(Duration::from_secs(30)).await;
    let messages = 100;
    flood.chat.post_numbered(messages).await;
    let expected: Vec<usize> = (0..messages).collect();
    assert_eq!(Flood::numbers(&mut flood.reader, messages).await, expected);
    // Far more than its buffer went past it; reading again, it gets all.
    assert_eq!(Flood::numbers(&mut flood.stalled, messages).await, expected);
    flood.stalled.silent_for(Duration::from_millis(200)).await;
}
