//! The security matrix, over real HTTP: every role (and a visitor on
//! someone else's conversation, an admin of another workspace, nobody)
//! against every operation on fresh targets. Each cell expects one code,
//! and whatever is refused carries no data about its target. (An agent's
//! public reply while the AI is in control is INVALID_TRANSITION: humans
//! take over first.)

mod support;

use serde_json::{Value, json};
use support::{Server, code};

/// Who calls.
const CALLERS: [&str; 8] = [
    "admin", "agent", "bot", "auditor", "visitor", "stranger", "foreign", "nobody",
];

/// What a cell expects: Ok, Forbidden, Not found (or null), Unauthenticated,
/// Invalid (a user error other than those: allowed, but not like this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    O,
    F,
    N,
    U,
    I,
}
use Outcome::{F, I, N, O, U};

/// Fresh targets for one cell.
struct Targets {
    visitor_token: String,
    visitor: String,
    conversation: String,
    contact: String,
    note: String,
    agent: String,
    rule: String,
    email: String,
}

struct Keys {
    admin: String,
    agent: String,
    bot: String,
    auditor: String,
    foreign: String,
}

async fn keys(server: &Server) -> Keys {
    let add = |role: &'static str| async move {
        let added = server
            .graphql(
                Some(&server.admin_key),
                "mutation($n:String!,$e:String!,$r:Role!){addAgent(input:{name:$n,email:$e,role:$r}){apiKey}}",
                json!({"n": role, "e": format!("{}@acme.example", role.to_lowercase()), "r": role}),
            )
            .await;
        added["data"]["addAgent"]["apiKey"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let other = server.tenant("Other", "Olga", "olga@other.example").await;
    server
        .graphql(
            Some(&server.admin_key),
            "mutation{defineCustomField(input:{key:\"plan\",label:\"Plan\",type:TEXT}){userErrors{code}}}",
            json!({}),
        )
        .await;
    Keys {
        admin: server.admin_key.clone(),
        agent: add("AGENT").await,
        bot: add("BOT").await,
        auditor: add("AUDITOR").await,
        foreign: other.admin_key,
    }
}

async fn targets(server: &Server, cell: usize) -> Targets {
    let admin = Some(server.admin_key.as_str());
    let visitor_token = server.visitor_token().await;
    let conversation = server.conversation_of(&visitor_token, "Hello there").await;
    let email = format!("person{cell}@example.com");
    let identified = server
        .graphql(
            Some(&visitor_token),
            "mutation($e:String!){identifyVisitor(input:{email:$e,name:\"Pat\"}){contact{id}}}",
            json!({ "e": email }),
        )
        .await;
    assert!(identified.get("errors").is_none(), "{identified}");
    let contact = server.contact_by_email(&email).await;
    let me = server
        .graphql(Some(&visitor_token), "{viewer{visitor{id}}}", json!({}))
        .await;
    let note = server
        .graphql(
            admin,
            "mutation($c:ID!){addContactNote(input:{contactId:$c,body:\"secret note\"}){note{id}}}",
            json!({ "c": contact }),
        )
        .await;
    let agent = server
        .graphql(
            admin,
            "mutation($e:String!){addAgent(input:{name:\"Temp\",email:$e,role:AGENT}){agent{id}}}",
            json!({ "e": format!("temp{cell}@acme.example") }),
        )
        .await;
    let rule = server
        .graphql(
            admin,
            "mutation{saveOrchestrationRule(input:{name:\"r\",enabled:false,condition:{trigger:CONVERSATION_STARTED},action:{kind:REQUEST_HUMAN}}){rule{id}}}",
            json!({}),
        )
        .await;
    Targets {
        visitor: me["data"]["viewer"]["visitor"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        visitor_token,
        conversation,
        contact,
        note: note["data"]["addContactNote"]["note"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        agent: agent["data"]["addAgent"]["agent"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        rule: rule["data"]["saveOrchestrationRule"]["rule"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        email,
    }
}

/// One operation: its field, query, variables from the targets, and what
/// each caller (in `CALLERS` order) gets.
struct Operation {
    field: &'static str,
    query: &'static str,
    variables: fn(&Targets) -> Value,
    expect: [Outcome; 8],
}

fn operations() -> Vec<Operation> {
    macro_rules! op {
        ($field:literal, $query:literal, |$t:ident| $vars:expr, [$($o:ident),*]) => {
            Operation { field: $field, query: $query, variables: |$t| $vars, expect: [$($o),*] }
        };
    }
    vec![
        //                                                                   admin agent bot aud vis str for nob
        op!(
            "conversation",
            "query($c:ID!){conversation(id:$c){id messages{nodes{body}}}}",
            |t| json!({"c": t.conversation}),
            [O, O, O, O, O, N, N, U]
        ),
        op!(
            "events",
            "query($c:ID!){events(first:5,filter:{conversationId:$c}){edges{node{type payload}}}}",
            |t| json!({"c": t.conversation}),
            [O, F, F, O, F, F, O, U]
        ),
        op!(
            "conversationAsOf",
            "query($c:ID!){conversationAsOf(id:$c,position:\"999999999\"){id status messages{nodes{body}}}}",
            |t| json!({"c": t.conversation}),
            [O, F, F, O, F, F, N, U]
        ),
        op!(
            "verifyLog",
            "query{verifyLog{ok checkedEvents}}",
            |_t| json!({}),
            [O, F, F, O, F, F, O, U]
        ),
        op!(
            "node",
            "query($c:ID!){node(id:$c){id}}",
            |t| json!({"c": t.conversation}),
            [O, O, O, O, O, N, N, U]
        ),
        op!(
            "node",
            "query($k:ID!){node(id:$k){id}}",
            |t| json!({"k": t.contact}),
            [O, O, O, O, N, N, N, U]
        ),
        op!(
            "node",
            "query($n:ID!){node(id:$n){id}}",
            |t| json!({"n": t.note}),
            [O, O, O, O, N, N, N, U]
        ),
        op!(
            "contact",
            "query($k:ID!){contact(id:$k){id name notes{body}}}",
            |t| json!({"k": t.contact}),
            [O, O, O, O, F, F, N, U]
        ),
        op!(
            "contactByEmail",
            "query($e:String!){contactByEmail(email:$e){id name}}",
            |t| json!({"e": t.email}),
            [O, O, O, O, F, F, N, U]
        ),
        op!(
            "agents",
            "{agents{id}}",
            |_t| json!({}),
            [O, O, O, O, F, F, O, U]
        ),
        op!(
            "conversationCounts",
            "{conversationCounts{open}}",
            |_t| json!({}),
            [O, O, O, O, F, F, O, U]
        ),
        op!(
            "sendMessage",
            "mutation($c:ID!){sendMessage(input:{conversationId:$c,body:\"hi\"}){message{id body} conversation{id} userErrors{code}}}",
            |t| json!({"c": t.conversation}),
            [I, I, O, F, O, N, N, U]
        ),
        op!(
            "sendMessage",
            "mutation($c:ID!){sendMessage(input:{conversationId:$c,body:\"note\",internal:true}){message{id body} conversation{id} userErrors{code}}}",
            |t| json!({"c": t.conversation}),
            [O, O, O, F, I, N, N, U]
        ),
        op!(
            "requestHuman",
            "mutation($c:ID!){requestHuman(input:{conversationId:$c,reason:CUSTOMER_REQUEST}){conversation{id} userErrors{code}}}",
            |t| json!({"c": t.conversation}),
            [O, O, O, F, O, N, N, U]
        ),
        op!(
            "takeOver",
            "mutation($c:ID!){takeOver(input:{conversationId:$c}){conversation{id} userErrors{code}}}",
            |t| json!({"c": t.conversation}),
            [O, O, F, F, F, F, N, U]
        ),
        op!(
            "returnToAi",
            "mutation($c:ID!){returnToAi(input:{conversationId:$c}){conversation{id} userErrors{code}}}",
            |t| json!({"c": t.conversation}),
            [I, I, F, F, F, F, N, U]
        ),
        op!(
            "assignConversation",
            "mutation($c:ID!){assignConversation(input:{conversationId:$c,assigneeId:null}){conversation{id} userErrors{code}}}",
            |t| json!({"c": t.conversation}),
            [O, O, F, F, F, F, N, U]
        ),
        op!(
            "setConversationStatus",
            "mutation($c:ID!){setConversationStatus(input:{conversationId:$c,status:PENDING}){conversation{id} userErrors{code}}}",
            |t| json!({"c": t.conversation}),
            [O, O, O, F, F, F, N, U]
        ),
        op!(
            "snoozeConversation",
            "mutation($c:ID!){snoozeConversation(input:{conversationId:$c,until:\"2999-01-01T00:00:00Z\"}){conversation{id} userErrors{code}}}",
            |t| json!({"c": t.conversation}),
            [O, O, F, F, F, F, N, U]
        ),
        op!(
            "reportActivity",
            "mutation($c:ID!){reportActivity(input:{conversationId:$c,kind:VIEWING})}",
            |t| json!({"c": t.conversation}),
            [O, O, F, F, F, F, N, U]
        ),
        op!(
            "identifyVisitor",
            "mutation($v:ID!){identifyVisitor(input:{visitorId:$v,email:\"x@example.com\"}){contact{id name} userErrors{code}}}",
            |t| json!({"v": t.visitor}),
            [O, O, O, F, O, O, N, U]
        ),
        op!(
            "confirmVisitorEmail",
            // The fresh visitor claims nothing: the team may ask, and hears
            // there is nothing to confirm.
            "mutation($v:ID!){confirmVisitorEmail(input:{visitorId:$v}){contact{id} userErrors{code}}}",
            |t| json!({"v": t.visitor}),
            [I, I, F, F, F, F, N, U]
        ),
        op!(
            "blockVisitor",
            "mutation($v:ID!){blockVisitor(input:{visitorId:$v}){visitor{id} userErrors{code}}}",
            |t| json!({"v": t.visitor}),
            [O, O, F, F, F, F, N, U]
        ),
        op!(
            "unblockVisitor",
            "mutation($v:ID!){unblockVisitor(input:{visitorId:$v}){visitor{id} userErrors{code}}}",
            |t| json!({"v": t.visitor}),
            [O, O, F, F, F, F, N, U]
        ),
        op!(
            "updateContact",
            "mutation($k:ID!){updateContact(input:{contactId:$k,name:\"New\"}){contact{id name} userErrors{code}}}",
            |t| json!({"k": t.contact}),
            [O, O, F, F, F, F, N, U]
        ),
        op!(
            "addContactNote",
            "mutation($k:ID!){addContactNote(input:{contactId:$k,body:\"n\"}){note{id} contact{id} userErrors{code}}}",
            |t| json!({"k": t.contact}),
            [O, O, F, F, F, F, N, U]
        ),
        op!(
            "editContactNote",
            "mutation($n:ID!){editContactNote(input:{noteId:$n,body:\"e\"}){note{id body} contact{id} userErrors{code}}}",
            |t| json!({"n": t.note}),
            [O, F, F, F, F, F, N, U]
        ),
        op!(
            "deleteContactNote",
            "mutation($n:ID!){deleteContactNote(input:{noteId:$n}){note{id} contact{id} userErrors{code}}}",
            |t| json!({"n": t.note}),
            [O, F, F, F, F, F, N, U]
        ),
        op!(
            "setContactCustomField",
            "mutation($k:ID!){setContactCustomField(input:{contactId:$k,key:\"plan\",value:\"pro\"}){contact{id} userErrors{code}}}",
            |t| json!({"k": t.contact}),
            [O, O, O, F, F, F, N, U]
        ),
        op!(
            "eraseContact",
            "mutation($k:ID!){eraseContact(input:{contactId:$k}){contact{id} userErrors{code}}}",
            |t| json!({"k": t.contact}),
            [O, F, F, F, F, F, N, U]
        ),
        op!(
            "addAgent",
            "mutation{addAgent(input:{name:\"N\",email:\"new@acme.example\",role:AGENT}){agent{id} apiKey userErrors{code}}}",
            |_t| json!({}),
            [O, F, F, F, F, F, O, U]
        ),
        op!(
            "deactivateAgent",
            "mutation($a:ID!){deactivateAgent(input:{agentId:$a}){agent{id} userErrors{code}}}",
            |t| json!({"a": t.agent}),
            [O, F, F, F, F, F, N, U]
        ),
        op!(
            "rotateApiKey",
            "mutation($a:ID!){rotateApiKey(input:{agentId:$a}){agent{id} apiKey userErrors{code}}}",
            |t| json!({"a": t.agent}),
            [O, F, F, F, F, F, N, U]
        ),
        op!(
            "defineCustomField",
            "mutation{defineCustomField(input:{key:\"tier\",label:\"Tier\",type:TEXT}){definition{key} userErrors{code}}}",
            |_t| json!({}),
            [O, F, F, F, F, F, O, U]
        ),
        op!(
            "saveOrchestrationRule",
            "mutation($r:ID!){saveOrchestrationRule(input:{ruleId:$r,name:\"s\",enabled:true,condition:{trigger:MESSAGE_RECEIVED},action:{kind:REQUEST_HUMAN}}){rule{id} userErrors{code}}}",
            |t| json!({"r": t.rule}),
            [O, F, F, F, F, F, N, U]
        ),
        op!(
            "deleteOrchestrationRule",
            "mutation($r:ID!){deleteOrchestrationRule(input:{ruleId:$r}){deletedId userErrors{code}}}",
            |t| json!({"r": t.rule}),
            [O, F, F, F, F, F, N, U]
        ),
        op!(
            "updateWorkspaceSettings",
            "mutation{updateWorkspaceSettings(input:{aiEnabled:true}){workspace{id} userErrors{code}}}",
            |_t| json!({}),
            [O, F, F, F, F, F, O, U]
        ),
    ]
}

/// What a response says, for the operation's field.
fn outcome(body: &Value, field: &str) -> Outcome {
    match code(body) {
        "" => {}
        "FORBIDDEN" => return F,
        "UNAUTHENTICATED" => return U,
        "NOT_FOUND" => return N,
        other => panic!("unexpected top-level code {other}: {body}"),
    }
    let data = &body["data"][field];
    match data["userErrors"][0]["code"].as_str() {
        Some("NOT_FOUND") => N,
        Some("FORBIDDEN") => F,
        Some(_) => I,
        None if data.is_null() => N,
        None => O,
    }
}

/// Whether a refused answer carries anything but its errors.
fn leaks(body: &Value, field: &str) -> bool {
    match &body["data"][field] {
        Value::Object(payload) => payload.iter().any(|(key, value)| {
            key != "userErrors" && key != "clientMutationId" && !value.is_null()
        }),
        Value::Null => false,
        _ => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_gets_the_right_code_for_every_operation_and_nothing_leaks() {
    let server = Server::start().await;
    let keys = keys(&server).await;
    let stranger = server.visitor_token().await;
    let mut failures = Vec::new();
    let mut cell = 0;
    for operation in operations() {
        for (column, caller) in CALLERS.iter().enumerate() {
            cell += 1;
            let targets = targets(&server, cell).await;
            let credential = match *caller {
                "admin" => Some(keys.admin.as_str()),
                "agent" => Some(keys.agent.as_str()),
                "bot" => Some(keys.bot.as_str()),
                "auditor" => Some(keys.auditor.as_str()),
                "visitor" => Some(targets.visitor_token.as_str()),
                "stranger" => Some(stranger.as_str()),
                "foreign" => Some(keys.foreign.as_str()),
                _ => None,
            };
            let body = server
                .graphql(credential, operation.query, (operation.variables)(&targets))
                .await;
            let got = outcome(&body, operation.field);
            let expected = operation.expect[column];
            if got != expected {
                failures.push(format!(
                    "{} as {caller}: expected {expected:?}, got {got:?}: {body}",
                    operation.field
                ));
            } else if got != O && leaks(&body, operation.field) {
                failures.push(format!("{} as {caller} leaks: {body}", operation.field));
            }
        }
    }
    assert!(cell > 200, "the matrix has {cell} cells");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
