//! Every mutation of the contract beyond the conversation flow, over real
//! HTTP: the team, custom fields, rules, settings, visitors, contacts,
//! notes, erasure, activity; and `node`/`nodes`.

mod support;

use serde_json::{Value, json};
use support::{Server, code, user_error};

const ADD_AGENT: &str = "mutation($n:String!,$e:String!,$r:Role!){addAgent(input:{name:$n,email:$e,role:$r,clientMutationId:\"a\"}){agent{id name role active} apiKey clientMutationId userErrors{code field}}}";

async fn add_agent(server: &Server, key: &str, name: &str, role: &str) -> (String, String) {
    let email = format!("{}@acme.example", name.to_lowercase());
    let added = server
        .graphql(
            Some(key),
            ADD_AGENT,
            json!({"n": name, "e": email, "r": role}),
        )
        .await;
    let payload = &added["data"]["addAgent"];
    assert_eq!(payload["agent"]["role"], role, "{added}");
    (
        payload["agent"]["id"].as_str().unwrap().to_owned(),
        payload["apiKey"].as_str().unwrap().to_owned(),
    )
}

async fn role_of(server: &Server, key: &str) -> Value {
    let me = server.graphql(Some(key), "{viewer{role}}", json!({})).await;
    if code(&me).is_empty() {
        me["data"]["viewer"]["role"].clone()
    } else {
        Value::String(code(&me).to_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_agents_and_their_keys() {
    let server = Server::start().await;
    let admin = server.admin_key.clone();
    let (agent_id, agent_key) = add_agent(&server, &admin, "Bo", "AGENT").await;
    assert_eq!(role_of(&server, &agent_key).await, "AGENT");
    let refused = server
        .graphql(
            Some(&agent_key),
            ADD_AGENT,
            json!({"n": "Cy", "e": "cy@acme.example", "r": "ADMIN"}),
        )
        .await;
    assert_eq!(code(&refused), "FORBIDDEN");
    let again = server
        .graphql(
            Some(&admin),
            ADD_AGENT,
            json!({"n": "Bo 2", "e": "bo@acme.example", "r": "AGENT"}),
        )
        .await;
    assert_eq!(user_error(&again, "addAgent"), "TAKEN", "{again}");
    let bad_email = server
        .graphql(
            Some(&admin),
            ADD_AGENT,
            json!({"n": "Cy", "e": "not-an-email", "r": "AGENT"}),
        )
        .await;
    assert_eq!(
        bad_email["data"]["addAgent"]["userErrors"][0]["field"],
        json!(["input", "email"])
    );

    let rotate =
        "mutation($a:ID!){rotateApiKey(input:{agentId:$a}){agent{name} apiKey userErrors{code}}}";
    let rotated = server
        .graphql(Some(&admin), rotate, json!({"a": agent_id}))
        .await;
    let new_key = rotated["data"]["rotateApiKey"]["apiKey"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_key, agent_key);
    assert_eq!(role_of(&server, &agent_key).await, "UNAUTHENTICATED");
    assert_eq!(role_of(&server, &new_key).await, "AGENT");

    let deactivate = "mutation($a:ID!){deactivateAgent(input:{agentId:$a}){agent{active} apiKey userErrors{code}}}";
    let gone = server
        .graphql(Some(&admin), deactivate, json!({"a": agent_id}))
        .await;
    assert_eq!(
        gone["data"]["deactivateAgent"]["agent"]["active"], false,
        "{gone}"
    );
    assert_eq!(gone["data"]["deactivateAgent"]["apiKey"], Value::Null);
    assert_eq!(role_of(&server, &new_key).await, "UNAUTHENTICATED");
    let unknown = server
        .graphql(
            Some(&admin),
            deactivate,
            json!({"a": "QWdlbnQ6MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw"}),
        )
        .await;
    assert_eq!(
        user_error(&unknown, "deactivateAgent"),
        "NOT_FOUND",
        "{unknown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_define_fields_save_rules_and_change_settings() {
    let server = Server::start().await;
    let admin = server.admin_key.clone();
    let define = "mutation($k:String!,$t:CustomFieldType!){defineCustomField(input:{key:$k,label:\"Plan\",type:$t}){definition{key label type} userErrors{code field}}}";
    let defined = server
        .graphql(Some(&admin), define, json!({"k": "plan", "t": "TEXT"}))
        .await;
    assert_eq!(
        defined["data"]["defineCustomField"]["definition"],
        json!({"key": "plan", "label": "Plan", "type": "TEXT"})
    );
    let listed = server
        .graphql(
            Some(&admin),
            "{customFieldDefinitions{key type}}",
            json!({}),
        )
        .await;
    assert_eq!(listed["data"]["customFieldDefinitions"][0]["key"], "plan");
    let bad_key = server
        .graphql(Some(&admin), define, json!({"k": " ", "t": "TEXT"}))
        .await;
    assert_eq!(
        user_error(&bad_key, "defineCustomField"),
        "INVALID",
        "{bad_key}"
    );

    let save = "mutation($r:ID,$n:String!,$k:[String!]){saveOrchestrationRule(input:{ruleId:$r,name:$n,enabled:true,condition:{trigger:MESSAGE_RECEIVED,keywords:$k},action:{kind:REQUEST_HUMAN}}){rule{id name enabled trigger keywords action} userErrors{code field}}}";
    let created = server
        .graphql(
            Some(&admin),
            save,
            json!({"r": null, "n": "Refunds", "k": ["refund"]}),
        )
        .await;
    let rule = &created["data"]["saveOrchestrationRule"]["rule"];
    assert_eq!(rule["name"], "Refunds", "{created}");
    assert_eq!(rule["keywords"], json!(["refund"]));
    assert_eq!(rule["action"], "REQUEST_HUMAN");
    let rule_id = rule["id"].as_str().unwrap().to_owned();
    let renamed = server
        .graphql(
            Some(&admin),
            save,
            json!({"r": rule_id, "n": "Refunds!", "k": ["refund", "money back"]}),
        )
        .await;
    assert_eq!(
        renamed["data"]["saveOrchestrationRule"]["rule"]["id"],
        rule_id.as_str()
    );
    assert_eq!(
        renamed["data"]["saveOrchestrationRule"]["rule"]["name"],
        "Refunds!"
    );
    let assign_nobody = server
        .graphql(Some(&admin), "mutation{saveOrchestrationRule(input:{name:\"x\",enabled:true,condition:{trigger:CONVERSATION_STARTED},action:{kind:ASSIGN_TO}}){userErrors{code field}}}", json!({}))
        .await;
    assert_eq!(
        user_error(&assign_nobody, "saveOrchestrationRule"),
        "INVALID",
        "{assign_nobody}"
    );
    let rules = server
        .graphql(Some(&admin), "{orchestrationRules{id}}", json!({}))
        .await;
    assert_eq!(
        rules["data"]["orchestrationRules"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let delete = "mutation($r:ID!){deleteOrchestrationRule(input:{ruleId:$r}){deletedId userErrors{code field}}}";
    let deleted = server
        .graphql(Some(&admin), delete, json!({"r": rule_id}))
        .await;
    assert_eq!(
        deleted["data"]["deleteOrchestrationRule"]["deletedId"],
        rule_id.as_str()
    );
    let twice = server
        .graphql(Some(&admin), delete, json!({"r": rule_id}))
        .await;
    assert_eq!(
        user_error(&twice, "deleteOrchestrationRule"),
        "NOT_FOUND",
        "{twice}"
    );
    let rules = server
        .graphql(Some(&admin), "{orchestrationRules{id}}", json!({}))
        .await;
    assert_eq!(rules["data"]["orchestrationRules"], json!([]));

    let settings = "mutation($t:Float,$e:Boolean){updateWorkspaceSettings(input:{aiConfidenceThreshold:$t,aiEnabled:$e}){workspace{settings{aiConfidenceThreshold aiEnabled}} userErrors{code field}}}";
    let changed = server
        .graphql(Some(&admin), settings, json!({"t": 0.8, "e": false}))
        .await;
    assert_eq!(
        changed["data"]["updateWorkspaceSettings"]["workspace"]["settings"],
        json!({"aiConfidenceThreshold": 0.8, "aiEnabled": false})
    );
    let out_of_range = server
        .graphql(Some(&admin), settings, json!({"t": 1.5}))
        .await;
    assert_eq!(
        out_of_range["data"]["updateWorkspaceSettings"]["userErrors"][0]["field"],
        json!(["input", "aiConfidenceThreshold"]),
        "{out_of_range}"
    );
}

const IDENTIFY: &str = "mutation($e:String!,$n:String){identifyVisitor(input:{email:$e,name:$n}){contact{id} userErrors{code}}}";

/// A visitor who gave an email: (visitor token, contact id).
async fn known_visitor(server: &Server, email: &str, name: &str) -> (String, String) {
    let visitor = server.visitor_token().await;
    server.conversation_of(&visitor, "Hello").await;
    let identified = server
        .graphql(Some(&visitor), IDENTIFY, json!({"e": email, "n": name}))
        .await;
    assert_eq!(
        identified["data"]["identifyVisitor"]["userErrors"],
        json!([]),
        "{identified}"
    );
    (visitor, server.contact_by_email(email).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_edit_contacts_and_keep_notes_on_them() {
    let server = Server::start().await;
    let admin = server.admin_key.clone();
    let (_, agent_key) = add_agent(&server, &admin, "Bo", "AGENT").await;
    let (_, zoe) = known_visitor(&server, "zoe@example.com", "Zoe").await;
    let (_, max) = known_visitor(&server, "max@example.com", "Max").await;

    let update = "mutation($c:ID!,$n:String,$e:String){updateContact(input:{contactId:$c,name:$n,email:$e}){contact{name email} userErrors{code field}}}";
    let renamed = server
        .graphql(
            Some(&agent_key),
            update,
            json!({"c": zoe, "n": "Zoë Saldaña", "e": "ZOE@new.example"}),
        )
        .await;
    assert_eq!(
        renamed["data"]["updateContact"]["contact"],
        json!({"name": "Zoë Saldaña", "email": "zoe@new.example"})
    );
    let taken = server
        .graphql(
            Some(&agent_key),
            update,
            json!({"c": max, "e": "zoe@new.example"}),
        )
        .await;
    assert_eq!(user_error(&taken, "updateContact"), "TAKEN", "{taken}");
    // The old address is free again.
    let reused = server
        .graphql(
            Some(&agent_key),
            update,
            json!({"c": max, "e": "zoe@example.com"}),
        )
        .await;
    assert_eq!(
        reused["data"]["updateContact"]["contact"]["email"], "zoe@example.com",
        "{reused}"
    );

    let add = "mutation($c:ID!,$b:String!){addContactNote(input:{contactId:$c,body:$b}){note{id body author{name}} contact{notes{body}} userErrors{code field}}}";
    let added = server
        .graphql(
            Some(&agent_key),
            add,
            json!({"c": zoe, "b": "Prefers email"}),
        )
        .await;
    let note = &added["data"]["addContactNote"]["note"];
    assert_eq!(note["body"], "Prefers email", "{added}");
    assert_eq!(note["author"]["name"], "Bo");
    let note_id = note["id"].as_str().unwrap().to_owned();
    let empty = server
        .graphql(Some(&agent_key), add, json!({"c": zoe, "b": "  "}))
        .await;
    assert_eq!(user_error(&empty, "addContactNote"), "INVALID");

    let edit = "mutation($n:ID!,$b:String!){editContactNote(input:{noteId:$n,body:$b}){note{body updatedAt} contact{id} userErrors{code field}}}";
    let edited = server
        .graphql(
            Some(&agent_key),
            edit,
            json!({"n": note_id, "b": "Prefers phone"}),
        )
        .await;
    assert_eq!(
        edited["data"]["editContactNote"]["note"]["body"], "Prefers phone",
        "{edited}"
    );
    assert_eq!(
        edited["data"]["editContactNote"]["contact"]["id"],
        zoe.as_str()
    );
    // Another agent may not edit Bo's note; an admin may.
    let (_, cy_key) = add_agent(&server, &admin, "Cy", "AGENT").await;
    let foreign = server
        .graphql(Some(&cy_key), edit, json!({"n": note_id, "b": "mine now"}))
        .await;
    assert_eq!(
        user_error(&foreign, "editContactNote"),
        "FORBIDDEN",
        "{foreign}"
    );
    let by_admin = server
        .graphql(
            Some(&admin),
            edit,
            json!({"n": note_id, "b": "Prefers phone (checked)"}),
        )
        .await;
    assert_eq!(
        by_admin["data"]["editContactNote"]["note"]["body"],
        "Prefers phone (checked)"
    );
    let found = server
        .graphql(
            Some(&admin),
            "query($n:ID!){node(id:$n){... on ContactNote{body}}}",
            json!({"n": note_id}),
        )
        .await;
    assert_eq!(found["data"]["node"]["body"], "Prefers phone (checked)");

    let delete = "mutation($n:ID!){deleteContactNote(input:{noteId:$n}){note{id} contact{notes{id}} userErrors{code field}}}";
    let deleted = server
        .graphql(Some(&agent_key), delete, json!({"n": note_id}))
        .await;
    assert_eq!(
        deleted["data"]["deleteContactNote"]["note"],
        Value::Null,
        "{deleted}"
    );
    assert_eq!(
        deleted["data"]["deleteContactNote"]["contact"]["notes"],
        json!([])
    );
    let twice = server
        .graphql(Some(&agent_key), delete, json!({"n": note_id}))
        .await;
    assert_eq!(
        twice["data"]["deleteContactNote"]["userErrors"][0],
        json!({"code": "NOT_FOUND", "field": ["input", "noteId"]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_field_values_follow_their_definitions() {
    let server = Server::start().await;
    let admin = server.admin_key.clone();
    server
        .graphql(Some(&admin), "mutation{defineCustomField(input:{key:\"seats\",label:\"Seats\",type:NUMBER}){userErrors{code}}}", json!({}))
        .await;
    let (_, contact) = known_visitor(&server, "ann@example.com", "Ann").await;
    let set = "mutation($c:ID!,$k:String!,$v:JSON){setContactCustomField(input:{contactId:$c,key:$k,value:$v}){contact{customFields{key type value}} userErrors{code field}}}";
    let seats = server
        .graphql(
            Some(&admin),
            set,
            json!({"c": contact, "k": "seats", "v": 12}),
        )
        .await;
    assert_eq!(
        seats["data"]["setContactCustomField"]["contact"]["customFields"],
        json!([{"key": "seats", "type": "NUMBER", "value": 12}]),
        "{seats}"
    );
    let wrong = server
        .graphql(
            Some(&admin),
            set,
            json!({"c": contact, "k": "seats", "v": "many"}),
        )
        .await;
    assert_eq!(
        user_error(&wrong, "setContactCustomField"),
        "INVALID",
        "{wrong}"
    );
    let undefined = server
        .graphql(
            Some(&admin),
            set,
            json!({"c": contact, "k": "shoe", "v": 42}),
        )
        .await;
    assert_eq!(
        user_error(&undefined, "setContactCustomField"),
        "INVALID",
        "{undefined}"
    );
    let cleared = server
        .graphql(
            Some(&admin),
            set,
            json!({"c": contact, "k": "seats", "v": null}),
        )
        .await;
    assert_eq!(
        cleared["data"]["setContactCustomField"]["contact"]["customFields"][0]["value"],
        Value::Null
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_visitor_can_no_longer_write_until_unblocked() {
    let server = Server::start().await;
    let admin = server.admin_key.clone();
    let visitor = server.visitor_token().await;
    let conversation = server.conversation_of(&visitor, "spam spam").await;
    let me = server
        .graphql(Some(&visitor), "{viewer{visitor{id}}}", json!({}))
        .await;
    let visitor_id = me["data"]["viewer"]["visitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let block = "mutation($v:ID!){blockVisitor(input:{visitorId:$v,reason:\"spam\"}){visitor{id blocked} userErrors{code field}}}";
    let blocked = server
        .graphql(Some(&admin), block, json!({"v": visitor_id}))
        .await;
    assert_eq!(
        blocked["data"]["blockVisitor"]["visitor"]["blocked"], true,
        "{blocked}"
    );
    let refused = server
        .graphql(
            Some(&visitor),
            support::SEND,
            json!({"c": conversation, "b": "more spam"}),
        )
        .await;
    assert_eq!(user_error(&refused, "sendMessage"), "BLOCKED", "{refused}");
    let by_visitor = server
        .graphql(Some(&visitor), block, json!({"v": visitor_id}))
        .await;
    assert_eq!(code(&by_visitor), "FORBIDDEN");

    let unblock =
        "mutation($v:ID!){unblockVisitor(input:{visitorId:$v}){visitor{blocked} userErrors{code}}}";
    let unblocked = server
        .graphql(Some(&admin), unblock, json!({"v": visitor_id}))
        .await;
    assert_eq!(
        unblocked["data"]["unblockVisitor"]["visitor"]["blocked"],
        false
    );
    let again = server
        .graphql(Some(&visitor), support::START, json!({"b": "sorry"}))
        .await;
    assert!(
        again["data"]["startConversation"]["userErrors"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{again}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_erases_a_contact_and_its_address_is_free_again() {
    let server = Server::start().await;
    let admin = server.admin_key.clone();
    let (_, agent_key) = add_agent(&server, &admin, "Bo", "AGENT").await;
    let (_, contact) = known_visitor(&server, "gone@example.com", "Gone Person").await;
    let erase = "mutation($c:ID!){eraseContact(input:{contactId:$c}){contact{name email erased} userErrors{code}}}";
    let by_agent = server
        .graphql(Some(&agent_key), erase, json!({"c": contact}))
        .await;
    assert_eq!(code(&by_agent), "FORBIDDEN");
    let erased = server
        .graphql(Some(&admin), erase, json!({"c": contact}))
        .await;
    assert_eq!(
        erased["data"]["eraseContact"]["contact"],
        json!({"name": null, "email": null, "erased": true}),
        "{erased}"
    );
    let found = server
        .graphql(
            Some(&admin),
            "{contacts(search:\"gone\"){totalCount}}",
            json!({}),
        )
        .await;
    assert_eq!(found["data"]["contacts"]["totalCount"], 0);
    let (_, someone_new) = known_visitor(&server, "gone@example.com", "New Person").await;
    assert_ne!(someone_new, contact);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_reaches_the_team_live_and_is_never_stored() {
    let server = Server::start().await;
    let visitor = server.visitor_token().await;
    let conversation = server.conversation_of(&visitor, "Hi").await;
    server.settle().await;
    let mut following = server.node.activity.follow();
    let head = server.node.log.head().await.unwrap();
    let report =
        "mutation($c:ID!,$k:ActivityKind!){reportActivity(input:{conversationId:$c,kind:$k})}";
    let reported = server
        .graphql(
            Some(&server.admin_key),
            report,
            json!({"c": conversation, "k": "TYPING"}),
        )
        .await;
    assert_eq!(reported["data"]["reportActivity"], true, "{reported}");
    let activity = following.recv().await.unwrap();
    assert_eq!(activity.kind, tahc_app::ActivityKind::Typing);
    assert_eq!(activity.agent_id, server.admin.agent_id().unwrap());
    assert_eq!(
        server.node.log.head().await.unwrap(),
        head,
        "activity is never stored"
    );
    let by_visitor = server
        .graphql(
            Some(&visitor),
            report,
            json!({"c": conversation, "k": "VIEWING"}),
        )
        .await;
    assert_eq!(code(&by_visitor), "FORBIDDEN");
    let other = server.tenant("Other", "Olga", "olga@other.example").await;
    let foreign = server
        .graphql(
            Some(&other.admin_key),
            report,
            json!({"c": conversation, "k": "VIEWING"}),
        )
        .await;
    assert_eq!(code(&foreign), "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_finds_what_the_caller_may_see_and_nothing_else() {
    let server = Server::start().await;
    let admin = server.admin_key.clone();
    let (visitor, contact) = known_visitor(&server, "nia@example.com", "Nia").await;
    let mine = server
        .graphql(
            Some(&visitor),
            "{conversations{nodes{id messages{nodes{id}}}} viewer{visitor{id} workspace{id}}}",
            json!({}),
        )
        .await;
    let conversation = mine["data"]["conversations"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let message = mine["data"]["conversations"]["nodes"][0]["messages"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let visitor_id = mine["data"]["viewer"]["visitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let note = server
        .graphql(Some(&admin), "mutation($c:ID!){sendMessage(input:{conversationId:$c,body:\"internal\",internal:true}){message{id}}}", json!({"c": conversation}))
        .await["data"]["sendMessage"]["message"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = server
        .graphql(Some(&admin), "{viewer{agent{id}}}", json!({}))
        .await;
    let agent = me["data"]["viewer"]["agent"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let all = [
        conversation.as_str(),
        message.as_str(),
        note.as_str(),
        visitor_id.as_str(),
        contact.as_str(),
        agent.as_str(),
        server.workspace.as_str(),
        "garbage",
    ];
    let query = "query($ids:[ID!]!){nodes(ids:$ids){__typename id}}";
    let seen = |body: &Value| -> Vec<Value> {
        body["data"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|n| n["__typename"].clone())
            .collect()
    };
    let team = server
        .graphql(Some(&admin), query, json!({"ids": all}))
        .await;
    assert_eq!(
        seen(&team),
        json!([
            "Conversation",
            "Message",
            "Message",
            "Visitor",
            "Contact",
            "Agent",
            "Workspace",
            null
        ])
        .as_array()
        .unwrap()
        .clone()
    );
    assert_eq!(team["data"]["nodes"][0]["id"], conversation.as_str());
    // The visitor: its own conversation, public message and self; never
    // the note, the contact record, or anything of another visitor.
    let by_visitor = server
        .graphql(Some(&visitor), query, json!({"ids": all}))
        .await;
    assert_eq!(
        seen(&by_visitor),
        json!([
            "Conversation",
            "Message",
            null,
            "Visitor",
            null,
            "Agent",
            "Workspace",
            null
        ])
        .as_array()
        .unwrap()
        .clone()
    );
    let stranger = server.visitor_token().await;
    let by_stranger = server
        .graphql(Some(&stranger), query, json!({"ids": all}))
        .await;
    assert_eq!(
        seen(&by_stranger),
        json!([null, null, null, null, null, "Agent", "Workspace", null])
            .as_array()
            .unwrap()
            .clone()
    );
    let other = server.tenant("Other", "Olga", "olga@other.example").await;
    let foreign = server
        .graphql(Some(&other.admin_key), query, json!({"ids": all}))
        .await;
    assert!(seen(&foreign).iter().all(Value::is_null), "{foreign}");
    let too_many: Vec<String> = (0..101).map(|_| conversation.clone()).collect();
    let refused = server
        .graphql(Some(&admin), query, json!({"ids": too_many}))
        .await;
    assert_eq!(code(&refused), "BAD_USER_INPUT");
}
