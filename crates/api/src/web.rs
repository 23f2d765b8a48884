//! The web pages the binary serves itself, with no build step: the agent
//! inbox at `/` and the widget demo at `/widget-demo`. Plain ES modules
//! over the public GraphQL API (HTTP and `graphql-transport-ws`), compiled
//! into the binary; the only vendored file is the graphql-ws browser
//! client, as its npm package ships it.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One file of the pages: its name under `/assets/`, type and content.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

const INBOX: &str = include_str!("../web/inbox.html");
const WIDGET_DEMO: &str = include_str!("../web/widget-demo.html");

/// An asset compiled in from `web/` (or a path below it).
macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        asset!($name, $content_type, $name)
    };
    ($name:literal, $content_type:expr, $path:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_str!(concat!("../web/", $path)),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("tahc.css", CSS),
    asset!("api.js", JS),
    asset!("inbox.js", JS),
    asset!("widget.js", JS),
    asset!("graphql-ws.min.js", JS, "vendor/graphql-ws.min.js"),
];

/// The routes of the pages.
pub fn routes() -> Router {
    Router::new()
        .route("/", get(|| async { page(INBOX) }))
        .route("/widget-demo", get(|| async { page(WIDGET_DEMO) }))
        .route("/assets/{file}", get(asset))
}

/// What the pages may load and who may frame them: only this server's own
/// files, scripts and connections; no inline script, no plugin, no frame
/// (the inbox holds a team key: no other site may frame it to click on it
/// or read it through an injected script).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// A file of the pages, with the headers that hold it to its origin.
fn served(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

fn page(body: &'static str) -> Response {
    served(HTML, body)
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|asset| asset.name == file) {
        Some(asset) => served(asset.content_type, asset.body),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
