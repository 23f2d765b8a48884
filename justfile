# The everyday recipes. Each is a plain cargo command; `just` is optional.

# Run the service on ./tahc-data (the README's first command).
serve:
    cargo run --release -p tahc -- serve

# Run the service on a sample inbox in ./tahc-demo (a new directory).
demo:
    cargo run --release -p tahc -- serve --demo --data-dir ./tahc-demo

# Run every test (the README's test command).
test:
    cargo test --workspace

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Print the event log of a data directory.
events dir="./tahc-data":
    cargo run --release -p tahc -- events --data-dir {{dir}}

# Verify the hash chain of a data directory's log.
verify dir="./tahc-data":
    cargo run --release -p tahc -- verify --data-dir {{dir}}

# The browser test alone (headless Chromium; screenshots in
# target/tmp/browser-screenshots).
browser:
    cargo test -p tahc --test browser -- --nocapture

# The event log benchmarks (JSON lines; copy them into docs/benchmarks.md).
bench-store:
    cargo run --release -p tahc-bench -- store

# Live updates: 1,000 subscribers while writers post 1,000 messages/s.
bench-live:
    cargo run --release -p tahc-bench -- live

# The PostgreSQL log: appends beside single-row commits, and cross-node
# latency (needs PostgreSQL at 127.0.0.1:5432, database `test`).
bench-pg:
    cargo run --release -p tahc-bench -- pg

# The soak: a realistic mix for N minutes, RSS, fds and view lag each minute
# (`just bench-soak 30 --data-dir DIR` keeps the node's data for
# `just footprint DIR`).
bench-soak minutes="30" *flags:
    cargo run --release -p tahc-bench -- soak --minutes {{minutes}} {{flags}}

# The memory a stopped node's sled databases take once opened, per event.
footprint dir="./tahc-data":
    cargo run --release -p tahc-bench -- footprint --data-dir {{dir}}

# Every fuzz target for longer (seconds each; CI runs 15).
fuzz seconds="300":
    fuzz/run {{seconds}}

# Regenerate docs/events.md from the catalogue and fixtures.
bless:
    TAHC_BLESS=1 cargo test -p tahc-events --test catalogue_doc
    TAHC_BLESS=1 cargo test -p tahc-api --test schema_contract
