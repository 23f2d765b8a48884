//! The public face of tahc: GraphQL over HTTP and WebSocket, exports,
//! health and metrics. Filled by the read-models and API issue.
