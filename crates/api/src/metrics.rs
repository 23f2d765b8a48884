//! The service's metrics at `/metrics`, in the Prometheus text format: what
//! an operator graphs and alerts on.
//!
//! | metric | kind | what |
//! |---|---|---|
//! | `tahc_appended_events_total` | counter | events appended to the log |
//! | `tahc_append_seconds` | summary | one append, until durable |
//! | `tahc_view_lag_events` | gauge | events in the log the views have not applied |
//! | `tahc_websocket_connections` | gauge | open WebSocket connections |
//! | `tahc_subscriptions` | gauge | operations running over WebSockets |
//! | `tahc_http_requests_total{method,route,status}` | counter | HTTP requests |
//! | `tahc_http_request_seconds{method,route}` | summary | HTTP request time |
//! | `tahc_graphql_requests_total{operation}` | counter | queries and mutations |
//! | `tahc_graphql_request_seconds{operation}` | summary | their time |
//! | `tahc_graphql_errors_total{code}` | counter | top-level errors by `extensions.code` |

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Response, ServerResult, Variables};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tahc_app::Node;

/// How often the recorder folds the samples its summaries have gathered
/// since the last time: the exporter's own default when it runs itself.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The name of the thread that does it.
const UPKEEP_THREAD: &str = "tahc-metrics";

/// The process's metrics recorder, installed on first use (metrics are
/// per process, however many routers it builds).
///
/// A summary keeps every sample recorded until it is folded in, which a
/// scrape of `/metrics` does, and otherwise nothing: a node no Prometheus
/// scraped kept every request's timing for as long as it ran (about 2.4 KB
/// a second under the soak's load). A thread of its own folds them
/// every few seconds, scraped or not.
pub fn install() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .install_recorder()
            .expect("the only metrics recorder of the process");
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name(UPKEEP_THREAD.into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            })
            .expect("a thread for the metrics' upkeep");
        handle
    })
}

/// GET `/metrics`.
pub async fn render(State(node): State<Arc<Node>>) -> impl IntoResponse {
    if let Ok(head) = node.log.head().await {
        let lag = head.0.saturating_sub(node.views.position().0);
        metrics::gauge!("tahc_view_lag_events").set(lag as f64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        install().render(),
    )
}

/// Counts and times every HTTP request by method, route and status. A
/// method outside the standard ones is counted as `OTHER`: a label taken
/// from what a client sends would let anyone grow the metrics (and the
/// memory that holds them) without bound.
pub async fn http(request: Request, next: Next) -> axum::response::Response {
    let started = Instant::now();
    let method: &'static str = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("tahc_http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("tahc_http_request_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// A gauge raised while this lives.
pub struct Open(&'static str);

impl Open {
    /// Raises gauge `name` by one until dropped.
    #[must_use]
    pub fn new(name: &'static str) -> Self {
        metrics::gauge!(name).increment(1.0);
        Open(name)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1.0);
    }
}

/// The schema extension that counts and times GraphQL requests and their
/// errors, whichever transport carried them.
pub struct GraphqlMetrics;

impl ExtensionFactory for GraphqlMetrics {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestMetrics::default())
    }
}

/// One request's operations (by name) and the one it ran.
#[derive(Default)]
struct RequestMetrics {
    kinds: Mutex<HashMap<Option<String>, &'static str>>,
    ran: Mutex<&'static str>,
}

fn kind(operation: OperationType) -> &'static str {
    match operation {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

impl RequestMetrics {
    /// Query, mutation or subscription: the kind of the operation run.
    fn operation_kind(&self, name: Option<&str>) -> &'static str {
        let kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        kinds
            .get(&name.map(str::to_owned))
            .or_else(|| kinds.get(&None))
            .or_else(|| (kinds.len() == 1).then(|| kinds.values().next()).flatten())
            .copied()
            .unwrap_or("unknown")
    }
}

#[async_trait::async_trait]
impl Extension for RequestMetrics {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        let operation = *self.ran.lock().unwrap_or_else(|e| e.into_inner());
        let operation = if operation.is_empty() {
            "invalid"
        } else {
            operation
        };
        metrics::counter!("tahc_graphql_requests_total", "operation" => operation).increment(1);
        metrics::histogram!("tahc_graphql_request_seconds", "operation" => operation)
            .record(started.elapsed().as_secs_f64());
        count_errors(&response.errors);
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let kinds = match &document.operations {
            DocumentOperations::Single(operation) => {
                HashMap::from([(None, kind(operation.node.ty))])
            }
            DocumentOperations::Multiple(operations) => operations
                .iter()
                .map(|(name, operation)| (Some(name.to_string()), kind(operation.node.ty)))
                .collect(),
        };
        *self.kinds.lock().unwrap_or_else(|e| e.into_inner()) = kinds;
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let ran = self.operation_kind(operation_name);
        *self.ran.lock().unwrap_or_else(|e| e.into_inner()) = ran;
        next.run(ctx, operation_name).await
    }
}

/// Counts top-level errors by `extensions.code` in
/// `tahc_graphql_errors_total`: those of requests that ran, and those of
/// requests refused before (credentials, rate limits).
pub(crate) fn count_errors(errors: &[async_graphql::ServerError]) {
    for error in errors {
        let code = error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .and_then(|code| match code {
                async_graphql::Value::String(code) => Some(code.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "GRAPHQL_VALIDATION_FAILED".to_owned());
        metrics::counter!("tahc_graphql_errors_total", "code" => code).increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of the process's threads, as the kernel has them.
    fn thread_names() -> Vec<String> {
        std::fs::read_dir("/proc/self/task")
            .expect("procfs")
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .map(|name| name.trim_end().to_owned())
            .collect()
    }

    #[test]
    fn installing_the_recorder_starts_the_upkeep_that_folds_samples_nobody_scraped() {
        let handle = install();
        // A new thread carries its parent's name until it has named itself.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !thread_names().iter().any(|name| name == UPKEEP_THREAD) {
            assert!(Instant::now() < deadline, "{:?}", thread_names());
            std::thread::sleep(Duration::from_millis(10));
        }
        for _ in 0..1_000 {
            metrics::histogram!("tahc_test_upkeep_seconds").record(0.25);
        }
        handle.run_upkeep();
        let text = handle.render();
        assert!(
            text.contains("tahc_test_upkeep_seconds_count 1000"),
            "folded samples are still counted: {text}"
        );
    }
}
