//! The seed's flow, through the API over real HTTP: a visitor chats, the
//! AI answers first, the service asks for an email, the visitor becomes a
//! contact, the AI's confidence drops, an agent takes over, replies and
//! closes.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{SEND, Server};

const SAY: &str = "mutation($c:ID!,$b:String!,$x:Float){sendMessage(input:{conversationId:$c,body:$b,confidence:$x}){conversation{status controller handoff{reason}} userErrors{code field message}}}";
const LOOK: &str = "query($c:ID!){conversation(id:$c){status controller messageCount aiMessageCount humanMessageCount handoff{reason acceptedBy{name}} assignee{name} contact{email conversationCount} messages(first:50){nodes{authorKind body}}}}";

/// Polls the conversation until `ready` holds (process managers follow
/// the log in the background).
async fn until(server: &Server, id: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = server
            .graphql(Some(&server.admin_key), LOOK, json!({ "c": id }))
            .await["data"]["conversation"]
            .clone();
        if ready(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("never got there: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_flow_runs_through_the_api() {
    let server = Server::start().await;
    let admin = server.admin_key.clone();
    let add = "mutation($n:String!,$e:String!,$r:Role!){addAgent(input:{name:$n,email:$e,role:$r}){apiKey}}";
    let key = |body: Value| {
        body["data"]["addAgent"]["apiKey"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let bot = key(server
        .graphql(
            Some(&admin),
            add,
            json!({"n": "Answerbot", "e": "bot@acme.example", "r": "BOT"}),
        )
        .await);
    let agent = key(server
        .graphql(
            Some(&admin),
            add,
            json!({"n": "Bo", "e": "bo@acme.example", "r": "AGENT"}),
        )
        .await);
    let rule = server
        .graphql(Some(&admin), "mutation{saveOrchestrationRule(input:{name:\"Ask for email\",enabled:true,condition:{trigger:CONVERSATION_STARTED,unknownVisitorOnly:true},action:{kind:ASK_FOR_EMAIL}}){userErrors{code}}}", json!({}))
        .await;
    assert_eq!(
        rule["data"]["saveOrchestrationRule"]["userErrors"],
        json!([])
    );

    // A visitor starts; the AI answers first; the service asks for an email.
    let visitor = server.visitor_token().await;
    let id = server
        .conversation_of(&visitor, "Hi! Is my order shipped?")
        .await;
    let asked = until(&server, &id, |c| {
        c["messages"]["nodes"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["authorKind"] == "SYSTEM"))
    })
    .await;
    assert_eq!(asked["controller"], "AI");
    let answered = server
        .graphql(
            Some(&bot),
            SAY,
            json!({"c": id, "b": "It left our warehouse today.", "x": 0.92}),
        )
        .await;
    assert_eq!(
        answered["data"]["sendMessage"]["userErrors"],
        json!([]),
        "{answered}"
    );

    // The visitor gives it: a contact appears and the conversation joins it.
    server
        .graphql(
            Some(&visitor),
            SEND,
            json!({"c": id, "b": "Sure, it's ada@example.com!"}),
        )
        .await;
    let known = until(&server, &id, |c| c["contact"]["conversationCount"] == 1).await;
    assert_eq!(known["contact"]["email"], "ada@example.com");

    // The AI's confidence drops: a human is requested.
    let unsure = server
        .graphql(
            Some(&bot),
            SAY,
            json!({"c": id, "b": "I am not sure…", "x": 0.2}),
        )
        .await;
    assert_eq!(
        unsure["data"]["sendMessage"]["conversation"]["handoff"]["reason"], "LOW_CONFIDENCE",
        "{unsure}"
    );
    let counts = server
        .graphql(Some(&agent), "{conversationCounts{open awaitingHuman unassigned} conversations(filter:{awaitingHuman:true}){totalCount}}", json!({}))
        .await;
    assert_eq!(
        counts["data"]["conversationCounts"]["awaitingHuman"], 1,
        "{counts}"
    );
    assert_eq!(counts["data"]["conversations"]["totalCount"], 1);

    // An agent takes over, replies (the conversation waits for the
    // customer), and closes it.
    server
        .graphql(
            Some(&agent),
            "mutation($c:ID!){takeOver(input:{conversationId:$c}){userErrors{code}}}",
            json!({"c": id}),
        )
        .await;
    let replied = server
        .graphql(
            Some(&agent),
            SEND,
            json!({"c": id, "b": "I've checked: it arrives tomorrow."}),
        )
        .await;
    assert_eq!(
        replied["data"]["sendMessage"]["conversation"]["status"], "PENDING",
        "{replied}"
    );
    server
        .graphql(Some(&agent), "mutation($c:ID!){setConversationStatus(input:{conversationId:$c,status:CLOSED}){userErrors{code}}}", json!({"c": id}))
        .await;
    let done = until(&server, &id, |c| c["status"] == "CLOSED").await;
    assert_eq!(done["controller"], "HUMAN");
    assert_eq!(done["assignee"]["name"], "Bo");
    assert_eq!(done["handoff"]["acceptedBy"]["name"], "Bo");
    assert_eq!(done["aiMessageCount"], 2);
    assert_eq!(done["humanMessageCount"], 1);
    let authors: Vec<&str> = done["messages"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["authorKind"].as_str().unwrap())
        .collect();
    assert_eq!(
        authors,
        ["VISITOR", "SYSTEM", "AI", "VISITOR", "AI", "AGENT"]
    );

    // The visitor sees its whole public timeline; the chain holds.
    let mine = server
        .graphql(
            Some(&visitor),
            "query($c:ID!){conversation(id:$c){status messages{totalCount}}}",
            json!({"c": id}),
        )
        .await;
    assert_eq!(mine["data"]["conversation"]["messages"]["totalCount"], 6);
    assert!(tahc_store::verify(&*server.node.log).await.unwrap().ok());
}
