//! `GET /export/contacts.csv` over real HTTP.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::Server;

async fn export(server: &Server, key: Option<&str>) -> (StatusCode, String, String) {
    let mut request = server
        .client()
        .get(format!("{}/export/contacts.csv", server.url));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

async fn contact(server: &Server, email: &str, name: &str) -> String {
    let visitor = server.visitor_token().await;
    let identified = server
        .graphql(
            Some(&visitor),
            "mutation($e:String!,$n:String){identifyVisitor(input:{email:$e,name:$n}){contact{id}}}",
            json!({"e": email, "n": name}),
        )
        .await;
    assert!(identified.get("errors").is_none(), "{identified}");
    server.contact_by_email(email).await
}

async fn key(server: &Server, role: &str) -> String {
    server.add_agent(&server.admin_key, role, role).await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_is_rfc_4180_with_formulas_neutralised_and_erased_contacts_left_out() {
    let server = Server::start().await;
    contact(&server, "ada@example.com", "Ada Lovelace").await;
    contact(
        &server,
        "evil@example.com",
        "=HYPERLINK(\"http://x\",\"click\")",
    )
    .await;
    contact(&server, "comma@example.com", "Smith, \"Jo\"").await;
    let gone = contact(&server, "gone@example.com", "Gone").await;
    server
        .graphql(
            Some(&server.admin_key),
            "mutation($c:ID!){eraseContact(input:{contactId:$c}){userErrors{code}}}",
            json!({ "c": gone }),
        )
        .await;

    let (status, content_type, body) = export(&server, Some(&server.admin_key)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let lines: Vec<&str> = body.split_terminator("\r\n").collect();
    assert_eq!(
        lines[0],
        "name,email,conversation_count,first_seen,last_active"
    );
    assert_eq!(lines.len(), 4, "{body}");
    // Sorted by name: "=" before letters.
    assert!(
        lines[1].starts_with("\"'=HYPERLINK(\"\"http://x\"\",\"\"click\"\")\",evil@example.com,0,"),
        "{body}"
    );
    assert!(
        lines[2].starts_with("Ada Lovelace,ada@example.com,0,"),
        "{body}"
    );
    assert!(
        lines[3].starts_with("\"Smith, \"\"Jo\"\"\",comma@example.com,0,"),
        "{body}"
    );
    assert!(!body.contains("gone@example.com"));
    // ISO 8601 times, UTC.
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    for row in reader.records() {
        let row = row.unwrap();
        for time in [&row[3], &row[4]] {
            assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{time}");
            assert!(time.ends_with('Z'));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_and_agents_of_the_workspace_may_export() {
    let server = Server::start().await;
    contact(&server, "ada@example.com", "Ada").await;
    let agent = key(&server, "AGENT").await;
    assert_eq!(export(&server, Some(&agent)).await.0, StatusCode::OK);
    for role in ["BOT", "AUDITOR"] {
        let key = key(&server, role).await;
        assert_eq!(
            export(&server, Some(&key)).await.0,
            StatusCode::FORBIDDEN,
            "{role}"
        );
    }
    let visitor = server.visitor_token().await;
    assert_eq!(
        export(&server, Some(&visitor)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(export(&server, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        export(&server, Some("tahc_nope")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let other = server.tenant("Other", "Olga", "olga@other.example").await;
    let (status, _, body) = export(&server, Some(&other.admin_key)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        "name,email,conversation_count,first_seen,last_active\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_export_streams_every_contact_once_in_name_order() {
    let server = Server::start().await;
    let total = 1_234;
    let mut tasks = tokio::task::JoinSet::new();
    let server = std::sync::Arc::new(server);
    for worker in 0..16 {
        let server = server.clone();
        tasks.spawn(async move {
            for n in (worker..total).step_by(16) {
                contact(
                    &server,
                    &format!("p{n:05}@example.com"),
                    &format!("Person {n:05}"),
                )
                .await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    server.settle().await;
    let (status, _, body) = export(&server, Some(&server.admin_key)).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<String> = csv::Reader::from_reader(body.as_bytes())
        .records()
        .map(|r| r.unwrap()[0].to_owned())
        .collect();
    let expected: Vec<String> = (0..total).map(|n| format!("Person {n:05}")).collect();
    assert_eq!(names, expected);
}
