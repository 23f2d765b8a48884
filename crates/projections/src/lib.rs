//! Read models of tahc, built by projectors that follow the log and keep
//! their views and checkpoints in sled. Filled by the read-models issue.
