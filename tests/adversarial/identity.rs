//! An email typed into the widget is an unverified claim: it never reveals
//! or joins the contact that holds the address, by the mutation or by the
//! message the service asked for.

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::{BOOTSTRAP_KEY, graphql, serve, start_conversation, visitor, workspace_of};

const IDENTIFY: &str = "mutation($e: String!, $n: String) { identifyVisitor(input: {email: $e, name: $n}) { contact { id name email conversationCount } userErrors { message code } } }";
const VIEWER: &str = "{ viewer { visitor { id contact { id name } } } }";
const CONTACT: &str = "query($id: ID!) { node(id: $id) { ... on Contact { name email conversationCount lastActiveAt notes { body } conversations(first: 10) { nodes { id } } } } }";

/// A victim who gave their address and name, with a team note: the
/// contact's id.
async fn victim(base: &str, workspace: &str) -> String {
    let token = visitor(base, workspace).await;
    start_conversation(base, &token, "my order never came").await;
    graphql(
        base,
        &token,
        IDENTIFY,
        json!({"e": "victor@example.com", "n": "Victor Victim"}),
    )
    .await;
    let id = crate::support::contact_by_email(base, "victor@example.com").await;
    let noted = graphql(
        base,
        BOOTSTRAP_KEY,
        "mutation($c: ID!) { addContactNote(input: {contactId: $c, body: \"VIP, refund approved\"}) { userErrors { message } } }",
        json!({ "c": id }),
    )
    .await;
    assert_eq!(
        noted["data"]["addContactNote"]["userErrors"],
        json!([]),
        "{noted}"
    );
    id
}

async fn contact(base: &str, id: &str) -> Value {
    graphql(base, BOOTSTRAP_KEY, CONTACT, json!({ "id": id })).await["data"]["node"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_elses_email_reveals_nothing_joins_nothing_and_waits_for_the_team() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let base = &served.base;
    let workspace = workspace_of(base, BOOTSTRAP_KEY).await;
    let victim_id = victim(base, &workspace).await;
    let before = contact(base, &victim_id).await;

    let attacker = visitor(base, &workspace).await;
    start_conversation(base, &attacker, "hi, about my refund").await;
    let claimed = graphql(
        base,
        &attacker,
        IDENTIFY,
        json!({"e": "VICTOR@example.com"}),
    )
    .await;
    assert_eq!(
        claimed["data"]["identifyVisitor"],
        json!({"contact": null, "userErrors": []}),
        "{claimed}"
    );
    let text = claimed.to_string()
        + &graphql(base, &attacker, VIEWER, json!({}))
            .await
            .to_string();
    for secret in ["Victor", "VIP", &victim_id] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    // The same answer as for an address nobody has.
    let fresh = visitor(base, &workspace).await;
    let new_address = graphql(base, &fresh, IDENTIFY, json!({"e": "new@example.com"})).await;
    assert_eq!(
        new_address["data"]["identifyVisitor"],
        claimed["data"]["identifyVisitor"]
    );

    // The victim's contact is untouched; the team sees an unverified claim.
    assert_eq!(contact(base, &victim_id).await, before);
    let attacker_id =
        graphql(base, &attacker, VIEWER, json!({})).await["data"]["viewer"]["visitor"]["id"]
            .clone();
    let seen = graphql(
        base,
        BOOTSTRAP_KEY,
        "query($v: ID!) { node(id: $v) { ... on Visitor { contact { id } unverifiedEmail claimedContact { id } } } }",
        json!({ "v": attacker_id }),
    )
    .await;
    assert_eq!(
        seen["data"]["node"],
        json!({"contact": null, "unverifiedEmail": "victor@example.com", "claimedContact": {"id": victim_id}}),
        "{seen}"
    );
    // Confirmed by an agent: now the visitor joins.
    let confirmed = graphql(
        base,
        BOOTSTRAP_KEY,
        "mutation($v: ID!) { confirmVisitorEmail(input: {visitorId: $v}) { contact { id conversationCount } userErrors { code } } }",
        json!({ "v": attacker_id }),
    )
    .await;
    let joined = &confirmed["data"]["confirmVisitorEmail"]["contact"];
    assert_eq!(joined["id"], victim_id.as_str(), "{confirmed}");
    // Its conversation follows (the links process does that in a moment).
    let count = crate::eventually(|| async {
        let count = contact(base, &victim_id).await["conversationCount"].clone();
        (count == 2).then_some(count)
    })
    .await;
    assert_eq!(count, Some(json!(2)), "the claimant's conversation joins");
    // A visitor cannot confirm itself.
    let refused = graphql(
        base,
        &attacker,
        "mutation($v: ID!) { confirmVisitorEmail(input: {visitorId: $v}) { userErrors { code } } }",
        json!({ "v": attacker_id }),
    )
    .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_typed_when_asked_for_is_only_a_claim_too() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let base = &served.base;
    let workspace = workspace_of(base, BOOTSTRAP_KEY).await;
    let victim_id = victim(base, &workspace).await;
    let before = contact(base, &victim_id).await;
    let rule = graphql(
        base,
        BOOTSTRAP_KEY,
        "mutation { saveOrchestrationRule(input: {name: \"ask\", enabled: true, condition: {trigger: CONVERSATION_STARTED}, action: {kind: ASK_FOR_EMAIL}}) { userErrors { message } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        rule["data"]["saveOrchestrationRule"]["userErrors"],
        json!([]),
        "{rule}"
    );
    let attacker = visitor(base, &workspace).await;
    let conversation = start_conversation(base, &attacker, "hello").await;
    // The rule asks in the background: answer once the question is there.
    let asked = crate::eventually(|| async {
        let timeline = graphql(
            base,
            &attacker,
            "query($c: ID!) { node(id: $c) { ... on Conversation { messages(first: 10) { nodes { body } } } } }",
            json!({ "c": conversation }),
        )
        .await;
        timeline["data"]["node"]["messages"]["nodes"]
            .as_array()?
            .iter()
            .any(|message| message["body"].as_str().is_some_and(|b| b.contains("email")))
            .then_some(())
    })
    .await;
    assert!(asked.is_some(), "the service asked for an email");
    graphql(
        base,
        &attacker,
        "mutation($c: ID!) { sendMessage(input: {conversationId: $c, body: \"sure: victor@example.com\"}) { message { id } } }",
        json!({ "c": conversation }),
    )
    .await;
    // The capture runs in the background: wait for its claim to show.
    let attacker_id =
        graphql(base, &attacker, VIEWER, json!({})).await["data"]["viewer"]["visitor"]["id"]
            .clone();
    let claim = crate::eventually(|| async {
        let seen = graphql(
            base,
            BOOTSTRAP_KEY,
            "query($v: ID!) { node(id: $v) { ... on Visitor { unverifiedEmail contact { id } } } }",
            json!({ "v": attacker_id }),
        )
        .await;
        let claim = seen["data"]["node"].clone();
        claim["unverifiedEmail"].is_string().then_some(claim)
    })
    .await
    .unwrap_or_default();
    assert_eq!(
        claim,
        json!({"unverifiedEmail": "victor@example.com", "contact": null})
    );
    assert_eq!(contact(base, &victim_id).await, before);
    let conversation_contact = graphql(
        base,
        BOOTSTRAP_KEY,
        "query($c: ID!) { node(id: $c) { ... on Conversation { contact { id } } } }",
        json!({ "c": conversation }),
    )
    .await;
    assert_eq!(conversation_contact["data"]["node"]["contact"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_sees_agents_by_name_and_never_their_email() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let base = &served.base;
    let workspace = workspace_of(base, BOOTSTRAP_KEY).await;
    let token = visitor(base, &workspace).await;
    let conversation = start_conversation(base, &token, "hello").await;
    let admin = graphql(
        base,
        BOOTSTRAP_KEY,
        "{ viewer { agent { id } } }",
        json!({}),
    )
    .await;
    let admin_id = admin["data"]["viewer"]["agent"]["id"].clone();
    for (mutation, variables) in [
        (
            "mutation($c: ID!) { takeOver(input: {conversationId: $c}) { conversation { id } } }",
            json!({ "c": conversation }),
        ),
        (
            "mutation($c: ID!) { sendMessage(input: {conversationId: $c, body: \"Hi, Ada here\"}) { message { id } } }",
            json!({ "c": conversation }),
        ),
    ] {
        let done = graphql(base, BOOTSTRAP_KEY, mutation, variables).await;
        assert!(done.get("errors").is_none(), "{done}");
    }
    for query in [
        "query($c: ID!) { node(id: $c) { ... on Conversation { assignee { name email } } } }",
        "query($c: ID!) { node(id: $c) { ... on Conversation { messages(first: 10) { nodes { agent { name email } } } } } }",
        "query($a: [ID!]!) { nodes(ids: $a) { ... on Agent { name email } } }",
    ] {
        let seen = graphql(
            base,
            &token,
            query,
            json!({ "c": conversation, "a": [admin_id] }),
        )
        .await;
        let text = seen.to_string();
        assert!(!text.contains("admin@tahc.local"), "{text}");
        assert_eq!(
            seen["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{text}"
        );
    }
    // The name alone is fine.
    let named = graphql(
        base,
        &token,
        "query($c: ID!) { node(id: $c) { ... on Conversation { assignee { name } } } }",
        json!({ "c": conversation }),
    )
    .await;
    assert_eq!(
        named["data"]["node"]["assignee"]["name"], "Admin",
        "{named}"
    );
}

/// What a visitor sees of itself right after giving `email`, and how long
/// the answer took.
async fn seen_after_giving(
    base: &str,
    workspace: &str,
    email: &str,
    name: Option<&str>,
) -> (Value, std::time::Duration) {
    let token = visitor(base, workspace).await;
    start_conversation(base, &token, "hello").await;
    let started = std::time::Instant::now();
    let answer = graphql(base, &token, IDENTIFY, json!({"e": email, "n": name})).await;
    let took = started.elapsed();
    assert_eq!(
        answer["data"]["identifyVisitor"]["userErrors"],
        json!([]),
        "{answer}"
    );
    let me = graphql(
        base,
        &token,
        "{ viewer { visitor { displayName unverifiedEmail contact { id } } } }",
        json!({}),
    )
    .await;
    (me["data"]["viewer"]["visitor"].clone(), took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_sees_itself_the_same_and_as_soon_whether_its_address_was_new_or_taken() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let base = &served.base;
    let workspace = workspace_of(base, BOOTSTRAP_KEY).await;
    victim(base, &workspace).await;
    for name in [Some("Probe Name"), None] {
        let (new, new_took) = seen_after_giving(
            base,
            &workspace,
            &format!("new-{}@example.com", name.is_some()),
            name,
        )
        .await;
        let (taken, taken_took) =
            seen_after_giving(base, &workspace, "victor@example.com", name).await;
        let expected = |email: &str| {
            json!({
                "displayName": name.unwrap_or(email),
                "unverifiedEmail": null,
                "contact": null,
            })
        };
        assert_eq!(
            new,
            expected(&format!("new-{}@example.com", name.is_some()))
        );
        assert_eq!(taken, expected("victor@example.com"));
        // Both paths answer no sooner than the floor that hides which ran.
        for took in [new_took, taken_took] {
            assert!(took >= std::time::Duration::from_millis(100), "{took:?}");
        }
    }
}
