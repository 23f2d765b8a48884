//! GraphQL documents through the server's own entry (`POST /graphql` of
//! the router over a real node), anonymous and as a visitor: deep and wide
//! values, aliases, fragments. Every answer is a response; nothing panics
//! or overflows the stack.
//!
//! The input is a compact program, so that short inputs reach deep
//! documents: the byte 0xFE followed by a count `n` and a byte `c` stands
//! for `c` repeated 8 × n times; every other byte stands for itself. The
//! document is cut at 64 KiB.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, header};
use libfuzzer_sys::fuzz_target;
use tahc_api::rate_limit::{RateLimitSettings, RateLimits};
use tahc_app::{Node, Principal, SystemClock};
use tower::ServiceExt;

/// A node on a scratch directory, its router, and a visitor's token.
struct Server {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    token: String,
    _dir: tempfile::TempDir,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (router, token) = runtime.block_on(async {
            let node = Node::start(dir.path(), Arc::new(SystemClock)).await.unwrap();
            let created = node
                .commands
                .create_default_workspace(None)
                .await
                .unwrap()
                .unwrap();
            let visitor: Principal = node.commands.new_visitor(created.workspace_id).await.unwrap();
            let token = tahc_api::visitor_token::sign(
                &node.token_key,
                &tahc_api::visitor_token::VisitorClaim {
                    visitor_id: visitor.visitor_id().unwrap(),
                    workspace_id: created.workspace_id,
                    expires_at: chrono::Utc::now() + chrono::Duration::days(1),
                },
            );
            let router = tahc_api::router_with(
                Arc::new(node),
                Arc::new(RateLimits::new(RateLimitSettings::OFF)),
                Default::default(),
                Default::default(),
            );
            (router, token)
        });
        Server {
            runtime,
            router,
            token,
            _dir: dir,
        }
    })
}

/// The document an input stands for.
fn expand(bytes: &[u8]) -> String {
    const MAX: usize = 64 << 10;
    let mut document = Vec::new();
    let mut i = 0;
    while i < bytes.len() && document.len() < MAX {
        match bytes[i..] {
            [0xFE, n, c, ..] => {
                document.extend(std::iter::repeat_n(c, 8 * usize::from(n)));
                i += 3;
            }
            _ => {
                document.push(bytes[i]);
                i += 1;
            }
        }
    }
    document.truncate(MAX);
    String::from_utf8_lossy(&document).into_owned()
}

fuzz_target!(|bytes: &[u8]| {
    let server = server();
    let body = serde_json::json!({ "query": expand(bytes) }).to_string();
    for credential in [None, Some(server.token.as_str())] {
        let mut request = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
        if let Some(credential) = credential {
            request = request.header(header::AUTHORIZATION, format!("Bearer {credential}"));
        }
        let request = request.body(Body::from(body.clone())).unwrap();
        let response = server
            .runtime
            .block_on(server.router.clone().oneshot(request))
            .unwrap();
        assert!(response.status().as_u16() < 500, "{}", response.status());
    }
});
