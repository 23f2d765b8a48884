//! The application layer of tahc: loads a stream, runs the domain decision,
//! appends with optimistic concurrency, and runs the process managers.
//! Filled by the domain and application issue.
