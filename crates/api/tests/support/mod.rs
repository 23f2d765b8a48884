//! A real node behind a real HTTP server on a free port, and a client.
#![allow(dead_code, missing_docs)]

pub mod ws;

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tahc_api::graphql_ws::LiveSettings;
use tahc_api::limits::Limits;
use tahc_api::rate_limit::{Admission, RateLimitSettings, RateLimits};
use tahc_app::{Clock, Node, Principal, Reactions, SystemClock};
use tahc_store::{DiskFaults, SledOptions};
use tempfile::TempDir;

/// One tenant: its admin's key and principal, and its global id.
pub struct Tenant {
    pub admin_key: String,
    pub admin: Principal,
    pub workspace: String,
}

pub struct Server {
    _dir: TempDir,
    pub node: Arc<Node>,
    pub url: String,
    pub admin_key: String,
    pub admin: Principal,
    pub workspace: String,
    client: reqwest::Client,
    serving: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

/// The default limits, but for blocking addresses: every client of these
/// tests shares one address (127.0.0.1), as behind a reverse proxy.
/// tests/adversarial checks the default.
pub const TEST_LIMITS: Limits = Limits {
    address_block: std::time::Duration::ZERO,
    ..Limits::DEFAULT
};

/// Admits every caller at once: tests call far faster than people.
fn unlimited() -> Arc<dyn Admission> {
    Arc::new(RateLimits::new(RateLimitSettings::OFF))
}

impl Server {
    /// A server without rate limits (tests call far faster than people).
    pub async fn start() -> Server {
        Self::start_with(unlimited()).await
    }

    /// A server admitting callers by `admission`.
    pub async fn start_with(admission: Arc<dyn Admission>) -> Server {
        Self::start_configured(admission, LiveSettings::default(), TEST_LIMITS).await
    }

    /// A server without rate limits, with these WebSocket settings.
    pub async fn start_live(live: LiveSettings) -> Server {
        Self::start_configured(unlimited(), live, TEST_LIMITS).await
    }

    /// A server without rate limits, with these input limits.
    pub async fn start_limited(limits: Limits) -> Server {
        Self::start_configured(unlimited(), LiveSettings::default(), limits).await
    }

    /// A server admitting callers by `admission`, with these WebSocket
    /// settings and input limits.
    pub async fn start_configured(
        admission: Arc<dyn Admission>,
        live: LiveSettings,
        limits: Limits,
    ) -> Server {
        Self::start_full(
            admission,
            live,
            limits,
            Arc::new(SystemClock),
            SledOptions::default(),
        )
        .await
    }

    /// A server without rate limits whose log writes to `disk`.
    pub async fn start_on(disk: Arc<DiskFaults>) -> Server {
        let log = SledOptions {
            faults: disk,
            ..SledOptions::default()
        };
        Self::start_full(
            unlimited(),
            LiveSettings::default(),
            TEST_LIMITS,
            Arc::new(SystemClock),
            log,
        )
        .await
    }

    /// A server without rate limits whose node reads time from `clock`.
    pub async fn start_at(clock: Arc<dyn Clock>) -> Server {
        Self::start_full(
            unlimited(),
            LiveSettings::default(),
            TEST_LIMITS,
            clock,
            SledOptions::default(),
        )
        .await
    }

    async fn start_full(
        admission: Arc<dyn Admission>,
        live: LiveSettings,
        limits: Limits,
        clock: Arc<dyn Clock>,
        log: SledOptions,
    ) -> Server {
        let dir = TempDir::new().unwrap();
        let node = Arc::new(
            Node::start_with_log(dir.path(), clock, Reactions::Run, log)
                .await
                .unwrap(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = tahc_api::router_with(node.clone(), admission, live, limits);
        let serving = tokio::spawn(tahc_api::connections::serve(
            listener,
            router,
            limits,
            std::future::pending(),
        ));
        let mut server = Server {
            _dir: dir,
            node,
            url,
            admin_key: String::new(),
            admin: Principal::visitor(uuid::Uuid::nil(), uuid::Uuid::nil()),
            workspace: String::new(),
            client: reqwest::Client::new(),
            serving,
        };
        let tenant = server.tenant("Acme", "Ada", "ada@acme.example").await;
        server.admin_key = tenant.admin_key;
        server.admin = tenant.admin;
        server.workspace = tenant.workspace;
        server
    }

    /// Creates another workspace with its admin.
    pub async fn tenant(&self, name: &str, admin: &str, email: &str) -> Tenant {
        let created = self
            .node
            .commands
            .create_workspace(name.into(), admin.into(), email.into(), None)
            .await
            .unwrap();
        self.settle().await;
        Tenant {
            admin_key: created.api_key,
            admin: created.admin,
            workspace: tahc_api::schema::encode_id("Workspace", created.workspace_id).0,
        }
    }

    /// Waits until the views show everything in the log.
    pub async fn settle(&self) {
        for _ in 0..500 {
            if self.node.ready().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the views never caught up");
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A JSON request; the status and the body as JSON (null if not JSON).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.unwrap();
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn graphql(&self, credential: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self
            .graphql_as(credential, query, variables, "application/json")
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub async fn graphql_as(
        &self,
        credential: Option<&str>,
        query: &str,
        variables: Value,
        accept: &str,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.url))
            .header("content-type", "application/json")
            .header("accept", accept)
            .body(json!({"query": query, "variables": variables}).to_string());
        if let Some(credential) = credential {
            request = request.bearer_auth(credential);
        }
        self.send(request).await
    }

    /// The WebSocket URL of `/graphql`.
    pub fn ws_url(&self) -> String {
        format!("{}/graphql", self.url.replacen("http", "ws", 1))
    }

    /// `admin_key` adds a team member: their global id and API key.
    pub async fn add_agent(&self, admin_key: &str, name: &str, role: &str) -> (String, String) {
        let added = self
            .graphql(
                Some(admin_key),
                "mutation($n:String!,$e:String!,$r:Role!){addAgent(input:{name:$n,email:$e,role:$r}){agent{id} apiKey userErrors{code}}}",
                json!({"n": name, "e": format!("{}@agents.example", name.to_lowercase()), "r": role}),
            )
            .await;
        let payload = &added["data"]["addAgent"];
        (
            payload["agent"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{added}"))
                .to_owned(),
            payload["apiKey"].as_str().unwrap().to_owned(),
        )
    }

    /// A new visitor of `workspace` (a global id): its token.
    pub async fn visitor_of(&self, workspace: &str) -> String {
        let request = self
            .client
            .post(format!("{}/widget/session", self.url))
            .header("content-type", "application/json")
            .body(json!({ "workspace": workspace }).to_string());
        let (status, body) = self.send(request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// A new visitor of the first workspace: its token.
    pub async fn visitor_token(&self) -> String {
        self.visitor_of(&self.workspace).await
    }

    /// The global id of the first workspace's contact with `email`, as its
    /// admin finds it.
    pub async fn contact_by_email(&self, email: &str) -> String {
        let found = self
            .graphql(
                Some(&self.admin_key),
                "query($e:String!){contactByEmail(email:$e){id}}",
                json!({ "e": email }),
            )
            .await;
        found["data"]["contactByEmail"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{found}"))
            .to_owned()
    }

    /// A visitor starts a conversation: its global id.
    pub async fn conversation_of(&self, visitor: &str, body: &str) -> String {
        let started = self
            .graphql(Some(visitor), START, json!({ "b": body }))
            .await;
        started["data"]["startConversation"]["conversation"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{started}"))
            .to_owned()
    }
}

/// The `extensions.code` of the first top-level error.
pub fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

/// The code of the first user error of a mutation's payload.
pub fn user_error<'a>(body: &'a Value, mutation: &str) -> &'a str {
    body["data"][mutation]["userErrors"][0]["code"]
        .as_str()
        .unwrap_or_default()
}

pub const START: &str = "mutation($b:String!){startConversation(input:{body:$b}){conversation{id status controller messageCount visitor{displayName}} message{body authorKind} userErrors{code field message}}}";
pub const SEND: &str = "mutation($c:ID!,$b:String!,$i:Boolean){sendMessage(input:{conversationId:$c,body:$b,internal:$i}){message{id body internal} conversation{status messageCount} userErrors{code field message}}}";
