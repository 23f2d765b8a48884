//! A failing disk under the API: a write answers UNAVAILABLE and leaves
//! nothing behind, reads go on, and writes work again once the disk does.

mod support;

use std::sync::Arc;

use serde_json::json;
use support::{SEND, Server, code};
use tahc_store::DiskFaults;

/// The status of `/readyz`.
async fn ready(server: &Server) -> u16 {
    reqwest::get(format!("{}/readyz", server.url))
        .await
        .unwrap()
        .status()
        .as_u16()
}

const COUNT: &str = "query($c:ID!){node(id:$c){... on Conversation{messageCount}}}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_disk_refuses_writes_with_unavailable_serves_reads_and_recovers() {
    let disk = Arc::new(DiskFaults::default());
    let server = Server::start_on(disk.clone()).await;
    let admin = Some(server.admin_key.as_str());
    let visitor = server.visitor_token().await;
    let conversation = server.conversation_of(&visitor, "hello").await;

    disk.fail(true);
    let refused = server
        .graphql(
            Some(&visitor),
            SEND,
            json!({"c": conversation, "b": "lost?"}),
        )
        .await;
    assert_eq!(code(&refused), "UNAVAILABLE", "{refused}");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nothing was written"),
        "{refused}"
    );
    // Reads go on, and show nothing of the refused write.
    let read = server
        .graphql(admin, COUNT, json!({"c": conversation}))
        .await;
    assert_eq!(read["data"]["node"]["messageCount"], 1, "{read}");
    // A load balancer sees that this node cannot take writes.
    assert_eq!(ready(&server).await, 503);

    disk.fail(false);
    let sent = server
        .graphql(
            Some(&visitor),
            SEND,
            json!({"c": conversation, "b": "back"}),
        )
        .await;
    assert_eq!(
        sent["data"]["sendMessage"]["conversation"]["messageCount"], 2,
        "{sent}"
    );
    assert_eq!(ready(&server).await, 200);
    let verified = server
        .graphql(admin, "{ verifyLog { ok checkedEvents } }", json!({}))
        .await;
    assert_eq!(verified["data"]["verifyLog"]["ok"], true, "{verified}");
}
