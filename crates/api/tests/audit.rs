//! The audit surface over real HTTP: the log as a connection, a
//! conversation as it stood at any point, and erasure by crypto-shredding
//! that leaves no plaintext in the log while the hash chain still holds.

mod support;

use serde_json::{Value, json};
use tahc_events::Position;

use support::{Server, code};

const IDENTIFY: &str = "mutation($e:String!,$n:String){identifyVisitor(input:{email:$e,name:$n}){contact{id} userErrors{code}}}";
const SEND: &str = "mutation($c:ID!,$b:String!,$i:Boolean){sendMessage(input:{conversationId:$c,body:$b,internal:$i}){message{id} userErrors{code}}}";
const EVENTS: &str = "query($f:Int,$a:String,$filter:LogEventFilter){events(first:$f,after:$a,filter:$filter){edges{cursor node{position type streamId payload actor{kind id}}} pageInfo{hasNextPage hasPreviousPage endCursor}}}";
const AS_OF: &str = "query($c:ID!,$p:String,$t:DateTime){conversationAsOf(id:$c,position:$p,at:$t){status controller assignee{name} messageCount messages(first:50){nodes{body authorKind}} position}}";

async fn auditor(server: &Server) -> String {
    server
        .add_agent(&server.admin_key, "Audrey", "AUDITOR")
        .await
        .1
}

/// Every event the `events` query yields for `filter`, page by page.
async fn all_events(server: &Server, key: &str, filter: Value, page: i64) -> Vec<Value> {
    let mut after = Value::Null;
    let mut events = Vec::new();
    loop {
        let body = server
            .graphql(
                Some(key),
                EVENTS,
                json!({"f": page, "a": after, "filter": filter}),
            )
            .await;
        let connection = &body["data"]["events"];
        let edges = connection["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"));
        assert!(edges.len() as i64 <= page);
        events.extend(edges.iter().map(|e| e["node"].clone()));
        if connection["pageInfo"]["hasNextPage"] != json!(true) {
            return events;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
}

/// `visitor` gives a new email and a name: the global id of its contact
/// (which the team sees; the visitor is shown none).
async fn identify(server: &Server, visitor: &str, email: &str, name: &str) -> String {
    let identified = server
        .graphql(Some(visitor), IDENTIFY, json!({"e": email, "n": name}))
        .await;
    assert!(identified.get("errors").is_none(), "{identified}");
    server.contact_by_email(email).await
}

/// `key` writes a note on `contact`.
async fn add_note(server: &Server, key: &str, contact: &str, body: &str) {
    let note = server
        .graphql(
            Some(key),
            "mutation($k:ID!,$b:String!){addContactNote(input:{contactId:$k,body:$b}){userErrors{code}}}",
            json!({"k": contact, "b": body}),
        )
        .await;
    assert_eq!(
        note["data"]["addContactNote"]["userErrors"],
        json!([]),
        "{note}"
    );
}

async fn send(server: &Server, key: &str, conversation: &str, body: &str, internal: bool) {
    let sent = server
        .graphql(
            Some(key),
            SEND,
            json!({"c": conversation, "b": body, "i": internal}),
        )
        .await;
    assert_eq!(
        sent["data"]["sendMessage"]["userErrors"],
        json!([]),
        "{sent}"
    );
}

#[tokio::test]
async fn auditors_page_through_a_conversations_history_in_order_with_their_filters() {
    let server = Server::start().await;
    let auditor = auditor(&server).await;
    let visitor = server.visitor_token().await;
    let conversation = server.conversation_of(&visitor, "first words").await;
    for n in 0..4 {
        send(
            &server,
            &visitor,
            &conversation,
            &format!("visitor message {n}"),
            false,
        )
        .await;
    }
    send(&server, &server.admin_key, &conversation, "a note", true).await;
    let filter = json!({"conversationId": conversation});
    let events = all_events(&server, &auditor, filter.clone(), 2).await;
    let positions: Vec<u64> = events
        .iter()
        .map(|e| e["position"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert!(
        events
            .iter()
            .all(|e| e["streamId"] == events[0]["streamId"])
    );
    let bodies: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "conversation.message_posted")
        .map(|e| e["payload"]["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            "first words",
            "visitor message 0",
            "visitor message 1",
            "visitor message 2",
            "visitor message 3",
            "a note"
        ]
    );
    assert_eq!(
        events.len(),
        all_events(&server, &auditor, filter.clone(), 100)
            .await
            .len()
    );

    let only_messages =
        json!({"conversationId": conversation, "types": ["conversation.message_posted"]});
    assert_eq!(
        all_events(&server, &auditor, only_messages, 100)
            .await
            .len(),
        6
    );
    let future = json!({"conversationId": conversation, "from": "2999-01-01T00:00:00Z"});
    assert!(all_events(&server, &auditor, future, 100).await.is_empty());
    let whole_workspace = all_events(&server, &server.admin_key, json!({}), 100).await;
    assert!(whole_workspace.len() > events.len());
    let second_page = server
        .graphql(
            Some(&auditor),
            EVENTS,
            json!({"f": 1, "a": events[0]["position"], "filter": filter}),
        )
        .await;
    assert_eq!(second_page["data"]["events"]["edges"][0]["node"], events[1]);
    assert_eq!(
        second_page["data"]["events"]["pageInfo"]["hasPreviousPage"],
        true
    );
}

#[tokio::test]
async fn the_log_is_for_admins_and_auditors_of_its_own_workspace_only() {
    let server = Server::start().await;
    let visitor = server.visitor_token().await;
    let conversation = server.conversation_of(&visitor, "mine").await;
    let (_, agent) = server.add_agent(&server.admin_key, "Ann", "AGENT").await;
    let (_, bot) = server.add_agent(&server.admin_key, "Robo", "BOT").await;
    for key in [&visitor, &agent, &bot] {
        let refused = server.graphql(Some(key), EVENTS, json!({})).await;
        assert_eq!(code(&refused), "FORBIDDEN", "{refused}");
        assert!(refused["data"].is_null(), "{refused}");
        let refused = server
            .graphql(Some(key), AS_OF, json!({"c": conversation, "p": "1000"}))
            .await;
        assert_eq!(code(&refused), "FORBIDDEN", "{refused}");
    }
    let stranger = server.tenant("Other", "Olga", "olga@other.example").await;
    let theirs = all_events(&server, &stranger.admin_key, json!({}), 100).await;
    assert!(!theirs.is_empty());
    assert!(
        theirs.iter().all(|e| !e.to_string().contains("mine")),
        "{theirs:?}"
    );
    let ours = json!({"conversationId": conversation});
    assert!(
        all_events(&server, &stranger.admin_key, ours, 100)
            .await
            .is_empty()
    );
    let as_of = server
        .graphql(
            Some(&stranger.admin_key),
            AS_OF,
            json!({"c": conversation, "p": "1000"}),
        )
        .await;
    assert_eq!(as_of["data"]["conversationAsOf"], Value::Null, "{as_of}");
}

#[tokio::test]
async fn malformed_cursors_points_and_page_sizes_are_bad_user_input() {
    let server = Server::start().await;
    let visitor = server.visitor_token().await;
    let conversation = server.conversation_of(&visitor, "hi").await;
    let key = Some(server.admin_key.as_str());
    for variables in [
        json!({"a": "x"}),
        json!({"f": 0}),
        json!({"f": 101}),
        json!({"filter": {"conversationId": "nope"}}),
    ] {
        let refused = server.graphql(key, EVENTS, variables.clone()).await;
        assert_eq!(code(&refused), "BAD_USER_INPUT", "{variables}: {refused}");
    }
    for variables in [
        json!({"c": conversation}),
        json!({"c": conversation, "p": "1", "t": "2026-01-01T00:00:00Z"}),
        json!({"c": conversation, "p": "first"}),
    ] {
        let refused = server.graphql(key, AS_OF, variables.clone()).await;
        assert_eq!(code(&refused), "BAD_USER_INPUT", "{variables}: {refused}");
    }
}

#[tokio::test]
async fn a_conversation_as_of_a_position_or_time_is_exactly_what_it_was_then() {
    let server = Server::start().await;
    let auditor = auditor(&server).await;
    let visitor = server.visitor_token().await;
    let conversation = server.conversation_of(&visitor, "my order is late").await;
    let started = server.node.log.head().await.unwrap();
    let taken = server
        .graphql(
            Some(&server.admin_key),
            "mutation($c:ID!){takeOver(input:{conversationId:$c}){conversation{position} userErrors{code}}}",
            json!({"c": conversation}),
        )
        .await;
    let taken_at = taken["data"]["takeOver"]["conversation"]["position"].clone();
    send(
        &server,
        &server.admin_key,
        &conversation,
        "on its way",
        false,
    )
    .await;
    let closed = server
        .graphql(
            Some(&server.admin_key),
            "mutation($c:ID!){setConversationStatus(input:{conversationId:$c,status:CLOSED}){conversation{position} userErrors{code}}}",
            json!({"c": conversation}),
        )
        .await;
    assert_eq!(
        closed["data"]["setConversationStatus"]["userErrors"],
        json!([]),
        "{closed}"
    );

    let as_of = |position: String| {
        let server = &server;
        let auditor = auditor.clone();
        let conversation = conversation.clone();
        async move {
            server
                .graphql(
                    Some(&auditor),
                    AS_OF,
                    json!({"c": conversation, "p": position}),
                )
                .await["data"]["conversationAsOf"]
                .clone()
        }
    };
    let then = as_of(started.to_string()).await;
    assert_eq!(then["status"], "OPEN", "{then}");
    assert_eq!(then["controller"], "AI");
    assert_eq!(then["assignee"], Value::Null);
    assert_eq!(
        then["messages"]["nodes"],
        json!([{"body": "my order is late", "authorKind": "VISITOR"}])
    );

    let taken = as_of(taken_at.as_str().unwrap().to_owned()).await;
    assert_eq!(taken["controller"], "HUMAN", "{taken}");
    assert!(taken["assignee"]["name"].is_string(), "{taken}");
    assert_eq!(taken["messageCount"], 1);

    let now = as_of(server.node.log.head().await.unwrap().to_string()).await;
    assert_eq!(now["status"], "CLOSED", "{now}");
    assert_eq!(now["messageCount"], 2);
    let live = server
        .graphql(
            Some(&auditor),
            "query($c:ID!){conversation(id:$c){status controller messageCount position}}",
            json!({"c": conversation}),
        )
        .await;
    for field in ["status", "controller", "messageCount", "position"] {
        assert_eq!(now[field], live["data"]["conversation"][field], "{field}");
    }

    let first = all_events(
        &server,
        &auditor,
        json!({"conversationId": conversation}),
        100,
    )
    .await;
    let start: u64 = first[0]["position"].as_str().unwrap().parse().unwrap();
    let before = as_of((start - 1).to_string()).await;
    assert_eq!(before, Value::Null, "not started yet");

    // By time: the moment it started.
    let events = server
        .node
        .log
        .read_all(Position::START, 10_000)
        .await
        .unwrap();
    let start_event = events
        .iter()
        .find(|r| r.position.to_string() == first[0]["position"].as_str().unwrap())
        .unwrap();
    let by_time = server
        .graphql(
            Some(&auditor),
            AS_OF,
            json!({"c": conversation, "t": start_event.occurred_at.to_rfc3339()}),
        )
        .await;
    assert_eq!(
        by_time["data"]["conversationAsOf"]["status"], "OPEN",
        "{by_time}"
    );
}

/// Whether any stored record of the log holds `text` in its bytes.
async fn log_holds(server: &Server, text: &str) -> bool {
    let records = server
        .node
        .log
        .read_all(Position::START, 100_000)
        .await
        .unwrap();
    records.iter().any(|r| {
        r.payload
            .as_bytes()
            .windows(text.len())
            .any(|w| w == text.as_bytes())
    })
}

#[tokio::test]
async fn personal_data_is_sealed_in_the_log_and_erasure_shreds_it_everywhere_while_the_chain_holds()
{
    let server = Server::start().await;
    let auditor = auditor(&server).await;
    let visitor = server.visitor_token().await;
    let conversation = server
        .conversation_of(&visitor, "my secret plan is ready")
        .await;
    let contact = identify(&server, &visitor, "ada.secret@example.com", "Ada Lovelace").await;
    add_note(&server, &server.admin_key, &contact, "prefers tea").await;
    server.settle().await;

    // Sealed at rest from the first byte, readable through the service.
    for secret in [
        "secret plan",
        "ada.secret@example.com",
        "Lovelace",
        "prefers tea",
    ] {
        assert!(!log_holds(&server, secret).await, "{secret} in the log");
    }
    let readable = all_events(
        &server,
        &auditor,
        json!({"conversationId": conversation}),
        100,
    )
    .await;
    assert_eq!(
        readable[1]["payload"]["body"], "my secret plan is ready",
        "{readable:?}"
    );

    let erased = server
        .graphql(
            Some(&server.admin_key),
            "mutation($k:ID!){eraseContact(input:{contactId:$k}){contact{erased name email} userErrors{code}}}",
            json!({"k": contact}),
        )
        .await;
    assert_eq!(
        erased["data"]["eraseContact"]["contact"],
        json!({"erased": true, "name": null, "email": null}),
        "{erased}"
    );

    // The log: the same events, their fields now null; the erasure itself
    // is an event naming who did it.
    let after = all_events(
        &server,
        &auditor,
        json!({"conversationId": conversation}),
        100,
    )
    .await;
    assert_eq!(after.len(), readable.len());
    let message = after
        .iter()
        .find(|e| e["type"] == "conversation.message_posted")
        .unwrap();
    assert_eq!(message["payload"]["body"], Value::Null, "{message}");
    let contact_events = all_events(&server, &auditor, json!({"contactId": contact}), 100).await;
    let created = contact_events
        .iter()
        .find(|e| e["type"] == "contact.created")
        .unwrap();
    assert_eq!(created["payload"]["email"], Value::Null, "{created}");
    let erasure = contact_events
        .iter()
        .find(|e| e["type"] == "contact.erased")
        .unwrap();
    assert_eq!(erasure["actor"]["kind"], "ADMIN", "{erasure}");
    assert!(!erasure.to_string().contains("secret"));

    // The views.
    let seen = server
        .graphql(
            Some(&server.admin_key),
            "query($c:ID!){conversation(id:$c){lastMessage{body} messages(first:10){nodes{body}}}}",
            json!({"c": conversation}),
        )
        .await;
    assert_eq!(
        seen["data"]["conversation"]["lastMessage"]["body"], "",
        "{seen}"
    );
    assert!(
        seen["data"]["conversation"]["messages"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["body"] == ""),
        "{seen}"
    );
    // The live log, replayed from the start, shows them erased too.
    let mut live = support::ws::Ws::open(&server.ws_url(), &auditor).await;
    live.subscribe(
        "log",
        "subscription($c:ID!){events(after:\"0\",filter:{conversationId:$c}){type payload}}",
        json!({"c": conversation}),
    )
    .await;
    let replayed = live.nexts("log", after.len()).await;
    let posted = replayed
        .iter()
        .map(|n| &n["data"]["events"])
        .find(|e| e["type"] == "conversation.message_posted")
        .unwrap();
    assert_eq!(posted["payload"]["body"], Value::Null, "{posted}");

    let search = server
        .graphql(
            Some(&server.admin_key),
            "{conversations(filter:{search:\"secret\"}){totalCount}}",
            json!({}),
        )
        .await;
    assert_eq!(search["data"]["conversations"]["totalCount"], 0, "{search}");

    // The chain still holds, and the address is free for someone new.
    let verified = server
        .graphql(
            Some(&auditor),
            "{verifyLog{ok firstBadPosition}}",
            json!({}),
        )
        .await;
    assert_eq!(verified["data"]["verifyLog"]["ok"], true, "{verified}");
    let newcomer = server.visitor_token().await;
    server.conversation_of(&newcomer, "hello again").await;
    let reused = server
        .graphql(
            Some(&newcomer),
            IDENTIFY,
            json!({"e": "ada.secret@example.com"}),
        )
        .await;
    assert_eq!(
        reused["data"]["identifyVisitor"]["userErrors"],
        json!([]),
        "{reused}"
    );
}

#[tokio::test]
async fn an_admin_exports_everything_about_a_contact_as_one_json_document() {
    let server = Server::start().await;
    let (_, bot) = server.add_agent(&server.admin_key, "Robo", "BOT").await;
    let (_, agent) = server.add_agent(&server.admin_key, "Ann", "AGENT").await;
    let visitor = server.visitor_token().await;
    let conversation = server
        .conversation_of(&visitor, "where is my parcel?")
        .await;
    let contact = identify(&server, &visitor, "pat@example.com", "Pat").await;
    let ai = server
        .graphql(
            Some(&bot),
            "mutation($c:ID!){sendMessage(input:{conversationId:$c,body:\"It ships today.\",confidence:0.95}){userErrors{code}}}",
            json!({"c": conversation}),
        )
        .await;
    assert_eq!(ai["data"]["sendMessage"]["userErrors"], json!([]), "{ai}");
    send(
        &server,
        &agent,
        &conversation,
        "internal: VIP customer",
        true,
    )
    .await;
    add_note(&server, &agent, &contact, "called twice").await;
    server.settle().await;

    let url = format!("{}/export/contacts/{contact}.json", server.url);
    let get = |key: Option<String>, url: String| {
        let mut request = server.client().get(url);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        server.send(request)
    };
    let (status, export) = get(Some(server.admin_key.clone()), url.clone()).await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(export["contact"]["email"], "pat@example.com", "{export}");
    assert_eq!(export["contact"]["name"], "Pat");
    assert_eq!(export["contact"]["notes"][0]["body"], "called twice");
    assert_eq!(export["contact"]["notes"][0]["author"]["name"], "Ann");
    assert_eq!(export["visitors"].as_array().unwrap().len(), 1);
    let messages = &export["conversations"][0]["messages"];
    let authors: Vec<(&str, &str)> = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["author"]["kind"].as_str().unwrap(),
                m["body"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        authors,
        [
            ("VISITOR", "where is my parcel?"),
            ("AI", "It ships today.")
        ]
    );
    assert_eq!(messages[1]["author"]["name"], "Robo");
    assert!(
        !export.to_string().contains("VIP"),
        "internal notes stay internal"
    );

    let uuid = tahc_api::export::contact_id(&contact).unwrap();
    let (status, by_uuid) = get(
        Some(server.admin_key.clone()),
        format!("{}/export/contacts/{uuid}.json", server.url),
    )
    .await;
    assert_eq!(
        (status.as_u16(), &by_uuid["contact"]),
        (200, &export["contact"])
    );

    let (status, _) = get(None, url.clone()).await;
    assert_eq!(status, 401);
    let (status, _) = get(Some(agent.clone()), url.clone()).await;
    assert_eq!(status, 403);
    let stranger = server.tenant("Other", "Olga", "olga@other.example").await;
    let (status, _) = get(Some(stranger.admin_key.clone()), url.clone()).await;
    assert_eq!(status, 404, "another workspace's contact does not exist");
    for garbage in ["nope.json", "x", &format!("{uuid}.csv")] {
        let (status, _) = get(
            Some(server.admin_key.clone()),
            format!("{}/export/contacts/{garbage}", server.url),
        )
        .await;
        assert_eq!(status, 404, "{garbage}");
    }

    server
        .graphql(
            Some(&server.admin_key),
            "mutation($k:ID!){eraseContact(input:{contactId:$k}){userErrors{code}}}",
            json!({"k": contact}),
        )
        .await;
    let (_, erased) = get(Some(server.admin_key.clone()), url).await;
    assert_eq!(erased["contact"]["erased"], true, "{erased}");
    assert!(!erased.to_string().contains("parcel"), "{erased}");
    assert!(!erased.to_string().contains("pat@example.com"), "{erased}");
}
