//! The contract served by a real node over real HTTP.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{SEND, START, Server, code};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_decide_who_the_viewer_is() {
    let server = Server::start().await;
    let anonymous = server.graphql(None, "{viewer{role}}", json!({})).await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");
    let admin = server.graphql(Some(&server.admin_key), "{viewer{role agent{name} workspace{id name settings{aiEnabled aiConfidenceThreshold}}}}", json!({})).await;
    assert_eq!(admin["data"]["viewer"]["role"], "ADMIN");
    assert_eq!(admin["data"]["viewer"]["agent"]["name"], "Ada");
    assert_eq!(admin["data"]["viewer"]["workspace"]["id"], server.workspace);
    assert_eq!(
        admin["data"]["viewer"]["workspace"]["settings"]["aiConfidenceThreshold"],
        0.6
    );
    for bad in [
        "tahc_0000",
        "tahcv_00.00",
        &server.admin_key.replace('a', "b"),
    ] {
        let (status, body) = server
            .graphql_as(
                Some(bad),
                "{viewer{role}}",
                json!({}),
                "application/graphql-response+json",
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(code(&body), "UNAUTHENTICATED");
        assert!(body.get("data").is_none());
    }
    let visitor = server.visitor_token().await;
    let me = server
        .graphql(
            Some(&visitor),
            "{viewer{role agent{name} visitor{displayName}}}",
            json!({}),
        )
        .await;
    assert_eq!(me["data"]["viewer"]["role"], Value::Null);
    assert!(
        me["data"]["viewer"]["visitor"]["displayName"]
            .as_str()
            .unwrap()
            .starts_with("Visitor ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_starts_and_writes_and_the_team_sees_it_in_the_inbox() {
    let server = Server::start().await;
    let visitor = server.visitor_token().await;
    let started = server
        .graphql(Some(&visitor), START, json!({"b": "Where is my order?"}))
        .await;
    let conversation = &started["data"]["startConversation"]["conversation"];
    assert_eq!(conversation["status"], "OPEN");
    assert_eq!(conversation["controller"], "AI");
    assert_eq!(
        started["data"]["startConversation"]["message"]["authorKind"],
        "VISITOR"
    );
    let id = conversation["id"].as_str().unwrap().to_owned();

    let note = server
        .graphql(
            Some(&server.admin_key),
            SEND,
            json!({"c": id, "b": "VIP", "i": true}),
        )
        .await;
    assert_eq!(note["data"]["sendMessage"]["message"]["internal"], true);
    assert_eq!(
        note["data"]["sendMessage"]["conversation"]["messageCount"],
        2
    );
    let inbox = server
        .graphql(Some(&server.admin_key), "{conversations(first:10,filter:{status:[OPEN]}){totalCount nodes{id messageCount lastMessage{body}}} conversationCounts{open unassigned}}", json!({}))
        .await;
    assert_eq!(inbox["data"]["conversations"]["totalCount"], 1);
    assert_eq!(
        inbox["data"]["conversations"]["nodes"][0]["id"],
        id.as_str()
    );
    assert_eq!(
        inbox["data"]["conversations"]["nodes"][0]["lastMessage"]["body"],
        "Where is my order?"
    );
    assert_eq!(inbox["data"]["conversationCounts"]["open"], 1);

    // The visitor never sees the note.
    let mine = server.graphql(Some(&visitor), "query($c:ID!){conversation(id:$c){messageCount messages{totalCount nodes{body internal}}}}", json!({"c": id})).await;
    assert_eq!(mine["data"]["conversation"]["messageCount"], 1);
    assert_eq!(
        mine["data"]["conversation"]["messages"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Another visitor of the same workspace sees nothing of it.
    let stranger = server.visitor_token().await;
    let theirs = server
        .graphql(
            Some(&stranger),
            "query($c:ID!){conversation(id:$c){id} conversations{totalCount}}",
            json!({"c": id}),
        )
        .await;
    assert_eq!(theirs["data"]["conversation"], Value::Null);
    assert_eq!(theirs["data"]["conversations"]["totalCount"], 0);
    let hijack = server
        .graphql(Some(&stranger), SEND, json!({"c": id, "b": "hi"}))
        .await;
    assert_eq!(
        hijack["data"]["sendMessage"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_come_back_as_user_errors_and_bad_arguments_as_bad_user_input() {
    let server = Server::start().await;
    let visitor = server.visitor_token().await;
    let empty = server
        .graphql(Some(&visitor), START, json!({"b": "   "}))
        .await;
    let error = &empty["data"]["startConversation"]["userErrors"][0];
    assert_eq!(error["code"], "INVALID");
    assert_eq!(error["field"], json!(["input", "body"]));
    let started = server
        .graphql(Some(&visitor), START, json!({"b": "hi"}))
        .await;
    let id = started["data"]["startConversation"]["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let note = server
        .graphql(
            Some(&visitor),
            SEND,
            json!({"c": id, "b": "psst", "i": true}),
        )
        .await;
    assert_eq!(
        note["data"]["sendMessage"]["userErrors"][0]["field"],
        json!(["input", "internal"])
    );
    for arguments in ["first:0", "first:101", "first:2,last:2", "after:\"zz\""] {
        let body = server
            .graphql(
                Some(&server.admin_key),
                &format!("{{conversations({arguments}){{totalCount}}}}"),
                json!({}),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{arguments}");
    }
    let session = |body: &'static str| {
        server
            .client()
            .post(format!("{}/widget/session", server.url))
            .body(body)
    };
    assert_eq!(
        server.send(session("{\"workspace\":\"nope\"}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.send(session("not json")).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_team_reads_contacts_and_visitors_may_not() {
    let server = Server::start().await;
    let visitor_token = server.visitor_token().await;
    let started = server
        .graphql(Some(&visitor_token), START, json!({"b": "Hello"}))
        .await;
    let conversation = started["data"]["startConversation"]["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Identify through the commands (the mutation arrives with the rest of the contract).
    let claim =
        tahc_api::visitor_token::verify(&server.node.token_key, &visitor_token, chrono::Utc::now())
            .unwrap();
    let visitor = tahc_app::Principal::visitor(claim.workspace_id, claim.visitor_id);
    let contact_id = server
        .node
        .commands
        .identify_visitor(
            &visitor,
            None,
            "Zoe@Example.com".into(),
            Some("Zoë Saldaña".into()),
        )
        .await
        .unwrap()
        .linked()
        .unwrap();
    let (_, noted) = server
        .node
        .commands
        .add_note(&server.admin, contact_id, "Prefers email".into())
        .await
        .unwrap();
    assert!(
        server
            .node
            .wait_for(
                noted.appended.unwrap().last_position,
                std::time::Duration::from_secs(5)
            )
            .await
    );
    // The links process manager puts the conversation into the contact.
    let mut linked = Value::Null;
    for _ in 0..100 {
        linked = server
            .graphql(Some(&server.admin_key), "query($c:ID!){conversation(id:$c){contact{name email conversationCount notes{body author{name}} customFields{key}}}}", json!({"c": conversation}))
            .await;
        if linked["data"]["conversation"]["contact"]["conversationCount"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let contact = &linked["data"]["conversation"]["contact"];
    assert_eq!(contact["name"], "Zoë Saldaña", "{linked}");
    assert_eq!(contact["email"], "zoe@example.com");
    assert_eq!(contact["conversationCount"], 1);
    assert_eq!(contact["notes"][0]["body"], "Prefers email");
    assert_eq!(contact["notes"][0]["author"]["name"], "Ada");

    let found = server.graphql(Some(&server.admin_key), "{contacts(search:\"zoe\"){totalCount nodes{name conversations{totalCount}}} contactByEmail(email:\"ZOE@example.com\"){name} agents{name role}}", json!({})).await;
    assert_eq!(found["data"]["contacts"]["totalCount"], 1, "{found}");
    assert_eq!(
        found["data"]["contacts"]["nodes"][0]["conversations"]["totalCount"],
        1
    );
    assert_eq!(found["data"]["contactByEmail"]["name"], "Zoë Saldaña");
    assert_eq!(found["data"]["agents"][0]["role"], "ADMIN");
    let nobody = server.graphql(Some(&server.admin_key), "{contacts(search:\"nobody\"){totalCount} contactByEmail(email:\"none@example.com\"){name}}", json!({})).await;
    assert_eq!(nobody["data"]["contacts"]["totalCount"], 0);
    assert_eq!(nobody["data"]["contactByEmail"], Value::Null);

    let refused = server
        .graphql(Some(&visitor_token), "{contacts{totalCount}}", json!({}))
        .await;
    assert_eq!(code(&refused), "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_takes_over_assigns_and_closes_through_the_api() {
    let server = Server::start().await;
    let visitor = server.visitor_token().await;
    let started = server
        .graphql(Some(&visitor), START, json!({"b": "I need a human"}))
        .await;
    let id = started["data"]["startConversation"]["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let v = json!({"c": id});

    let asked = server.graphql(Some(&visitor), "mutation($c:ID!){requestHuman(input:{conversationId:$c,reason:CUSTOMER_REQUEST}){conversation{handoff{reason acceptedBy{name}}} userErrors{code}}}", v.clone()).await;
    assert_eq!(
        asked["data"]["requestHuman"]["conversation"]["handoff"]["reason"], "CUSTOMER_REQUEST",
        "{asked}"
    );
    let sneaky = server.graphql(Some(&visitor), "mutation($c:ID!){requestHuman(input:{conversationId:$c,reason:RULE}){userErrors{code field}}}", v.clone()).await;
    assert_eq!(
        sneaky["data"]["requestHuman"]["userErrors"][0]["field"],
        json!(["input", "reason"])
    );
    let forbidden = server
        .graphql(
            Some(&visitor),
            "mutation($c:ID!){takeOver(input:{conversationId:$c}){conversation{id}}}",
            v.clone(),
        )
        .await;
    assert_eq!(code(&forbidden), "FORBIDDEN");

    let taken = server.graphql(Some(&server.admin_key), "mutation($c:ID!){takeOver(input:{conversationId:$c,clientMutationId:\"m1\"}){clientMutationId conversation{controller assignee{name} handoff{acceptedBy{name}}}}}", v.clone()).await;
    let payload = &taken["data"]["takeOver"];
    assert_eq!(payload["clientMutationId"], "m1");
    assert_eq!(payload["conversation"]["controller"], "HUMAN");
    assert_eq!(payload["conversation"]["assignee"]["name"], "Ada");
    assert_eq!(
        payload["conversation"]["handoff"]["acceptedBy"]["name"],
        "Ada"
    );

    // The visitor is shown no contact; the team finds the new one.
    let identified = server.graphql(Some(&visitor), "mutation{identifyVisitor(input:{email:\"lin@example.com\",name:\"Lin\"}){contact{name email} userErrors{code field}}}", json!({})).await;
    assert_eq!(
        identified["data"]["identifyVisitor"],
        json!({"contact": null, "userErrors": []}),
        "{identified}"
    );
    let lin = server
        .graphql(
            Some(&server.admin_key),
            "{contactByEmail(email:\"lin@example.com\"){name email}}",
            json!({}),
        )
        .await;
    assert_eq!(
        lin["data"]["contactByEmail"],
        json!({"name": "Lin", "email": "lin@example.com"})
    );
    let bad = server.graphql(Some(&visitor), "mutation{identifyVisitor(input:{email:\"nope\"}){contact{name} userErrors{code field}}}", json!({})).await;
    assert_eq!(
        bad["data"]["identifyVisitor"]["userErrors"][0]["code"],
        "INVALID"
    );

    let unassigned = server.graphql(Some(&server.admin_key), "mutation($c:ID!){assignConversation(input:{conversationId:$c,assigneeId:null}){conversation{assignee{name}}}}", v.clone()).await;
    assert_eq!(
        unassigned["data"]["assignConversation"]["conversation"]["assignee"],
        Value::Null
    );
    let past = server.graphql(Some(&server.admin_key), "mutation($c:ID!){snoozeConversation(input:{conversationId:$c,until:\"2001-01-01T00:00:00Z\"}){userErrors{code field}}}", v.clone()).await;
    assert_eq!(
        past["data"]["snoozeConversation"]["userErrors"][0]["field"],
        json!(["input", "until"])
    );
    // Snooze hides the conversation from the team's list and counts until
    // it wakes; asked for, it is there, and the visitor still sees it.
    let inbox = "{conversations(first:50){nodes{id}} conversationCounts{open pending}}";
    let before = server
        .graphql(Some(&server.admin_key), inbox, json!({}))
        .await;
    let snoozed = server.graphql(Some(&server.admin_key), "mutation($c:ID!){snoozeConversation(input:{conversationId:$c,until:\"2999-01-01T00:00:00Z\"}){userErrors{code}}}", v.clone()).await;
    assert_eq!(
        snoozed["data"]["snoozeConversation"]["userErrors"],
        json!([])
    );
    let ids = |answer: &Value| answer["data"]["conversations"]["nodes"].clone();
    let not_closed = |answer: &Value| {
        let counts = &answer["data"]["conversationCounts"];
        counts["open"].as_i64().unwrap() + counts["pending"].as_i64().unwrap()
    };
    let after = server
        .graphql(Some(&server.admin_key), inbox, json!({}))
        .await;
    assert!(
        ids(&before)
            .as_array()
            .unwrap()
            .contains(&json!({"id": v["c"]}))
    );
    assert!(
        !ids(&after)
            .as_array()
            .unwrap()
            .contains(&json!({"id": v["c"]}))
    );
    assert_eq!(not_closed(&after), not_closed(&before) - 1);
    let asked = server
        .graphql(
            Some(&server.admin_key),
            "{conversations(first:50, filter:{snoozed:true}){nodes{id}}}",
            json!({}),
        )
        .await;
    assert_eq!(ids(&asked), json!([{"id": v["c"]}]));
    let own = server
        .graphql(
            Some(&visitor),
            "{conversations(first:50){nodes{id}}}",
            json!({}),
        )
        .await;
    assert!(
        ids(&own)
            .as_array()
            .unwrap()
            .contains(&json!({"id": v["c"]}))
    );
    let closed = server.graphql(Some(&server.admin_key), "mutation($c:ID!){setConversationStatus(input:{conversationId:$c,status:CLOSED}){conversation{status closedAt}}}", v.clone()).await;
    assert_eq!(
        closed["data"]["setConversationStatus"]["conversation"]["status"],
        "CLOSED"
    );
    assert!(closed["data"]["setConversationStatus"]["conversation"]["closedAt"].is_string());
    let unknown = server
        .graphql(
            Some(&server.admin_key),
            "mutation{takeOver(input:{conversationId:\"bm9wZQ\"}){userErrors{code field}}}",
            json!({}),
        )
        .await;
    assert_eq!(
        unknown["data"]["takeOver"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
}
