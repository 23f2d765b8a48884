//! The contacts export's rows: whatever a name or email holds, the CSV
//! reads back as exactly one record of five cells, the text cells as
//! written but never starting like a spreadsheet formula.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use tahc_api::export::{neutralise, write_row, writer};
use tahc_events::Position;
use tahc_projections::ContactRecord;
use uuid::Uuid;

fuzz_target!(|bytes: &[u8]| {
    let text = String::from_utf8_lossy(bytes);
    let (name, email) = text.split_once('\u{1f}').unwrap_or((&text, ""));
    let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let contact = ContactRecord {
        id: Uuid::nil(),
        workspace_id: Uuid::nil(),
        name: Some(name.to_owned()),
        email: Some(email.to_owned()),
        first_seen_at: at,
        last_active_at: at,
        last_conversation_at: None,
        conversations: BTreeSet::new(),
        notes: BTreeMap::new(),
        custom_fields: BTreeMap::new(),
        visitors: BTreeSet::new(),
        blocked_visitors: BTreeSet::new(),
        erased: false,
        position: Position(0),
    };
    let mut csv = writer();
    write_row(&mut csv, &contact).unwrap();
    let bytes = csv.into_inner().unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes.as_slice());
    let records: Vec<_> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.len(), 5);
    assert_eq!(&record[0], neutralise(name).as_ref());
    assert_eq!(&record[1], neutralise(email).as_ref());
    for cell in [&record[0], &record[1]] {
        assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "{cell:?}");
    }
});
