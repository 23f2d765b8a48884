//! docs/events.md is generated from the catalogue and the golden fixtures;
//! this test fails when it drifts. `TAHC_BLESS=1 cargo test -p tahc-events`
//! rewrites it.

use std::fmt::Write;
use std::path::PathBuf;

use tahc_events::{CATALOGUE, StreamCategory, upcast::UPCASTERS};

fn render() -> String {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out = String::from(
        "# Event catalogue\n\n\
         <!-- Generated from proto-events (catalogue and fixtures) by \
         `TAHC_BLESS=1 cargo test -p tahc-events --test catalogue_doc`. Do not edit. -->\n\n\
         Every change to tahc is one of these events, appended to the log inside an \
         envelope (position, event id, stream and version, type, schema version, time, \
         actor, workspace, correlation and causation ids, payload, and the hash chain: \
         see [architecture](architecture.md)). Fields marked *Personal* are sealed with \
         the key of their subject and read as `null` once the subject is erased.\n\n\
         Older schema versions are upcast on read; every type and version has a golden \
         fixture in `proto-events/fixtures/` that must decode forever.\n",
    );
    for category in StreamCategory::ALL {
        write!(out, "\n## Stream `{}-<id>`\n", category.prefix()).unwrap();
        for spec in CATALOGUE.iter().filter(|s| s.category == category) {
            let file = fixtures.join(format!("{}.v{}.json", spec.event_type, spec.schema_version));
            let record: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            let example = serde_json::to_string_pretty(&record["payload"]).unwrap();
            write!(
                out,
                "\n### `{}` (v{})\n\n{}\n\n```json\n{}\n```\n",
                spec.event_type, spec.schema_version, spec.summary, example
            )
            .unwrap();
            for upcaster in UPCASTERS.iter().filter(|u| u.event_type == spec.event_type) {
                write!(
                    out,
                    "\nv{} records are upcast to v{} on read.\n",
                    upcaster.from,
                    upcaster.from + 1
                )
                .unwrap();
            }
        }
    }
    out
}

#[test]
fn docs_events_md_matches_the_catalogue() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/events.md");
    let expected = render();
    if std::env::var_os("TAHC_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/events.md is out of date: run `TAHC_BLESS=1 cargo test -p tahc-events --test catalogue_doc`"
    );
}
