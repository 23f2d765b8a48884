//! Golden fixtures: one stored record per event type and schema version, in
//! proto-events/fixtures/. They must decode forever: a change to the catalogue
//! that breaks an old log breaks this test first.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tahc_events::{CATALOGUE, RecordedEvent, spec};

fn fixtures() -> BTreeMap<String, RecordedEvent> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    std::fs::read_dir(&dir)
        .expect("fixtures directory")
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let record: RecordedEvent = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name} is not a stored record: {e}"));
            (name, record)
        })
        .collect()
}

#[test]
fn every_event_type_has_a_fixture_of_its_current_version() {
    let fixtures = fixtures();
    for spec in CATALOGUE {
        let name = format!("{}.v{}.json", spec.event_type, spec.schema_version);
        assert!(fixtures.contains_key(&name), "missing fixture {name}");
    }
}

#[test]
fn every_fixture_is_named_for_its_type_and_version_and_decodes() {
    for (name, record) in fixtures() {
        assert_eq!(
            name,
            format!("{}.v{}.json", record.event_type, record.schema_version),
            "fixture file name"
        );
        let event = record
            .decode()
            .unwrap_or_else(|e| panic!("{name} no longer decodes: {e}"));
        assert_eq!(event.event_type(), &*record.event_type);
        assert_eq!(
            record.stream_id.parse().map(|(category, _)| category),
            Some(event.category()),
            "{name} sits in the wrong stream"
        );
    }
}

#[test]
fn current_version_fixtures_re_encode_to_exactly_their_payload() {
    for (name, record) in fixtures() {
        let current = spec(&record.event_type).unwrap().schema_version;
        if record.schema_version != current {
            continue;
        }
        let event = record.decode().unwrap();
        let meta = tahc_events::EventMeta {
            actor: record.actor.clone(),
            workspace_id: record.workspace_id,
            occurred_at: record.occurred_at,
            correlation_id: record.correlation_id,
            causation_id: record.causation_id,
        };
        let encoded = tahc_events::NewEvent::encode(&event, &meta).unwrap();
        assert_eq!(
            encoded.payload.to_value().unwrap(),
            record.payload.to_value().unwrap(),
            "{name}: a field was added, renamed or dropped without a new schema version"
        );
    }
}
