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

fn page(body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HTML),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|asset| asset.name == file) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            asset.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
