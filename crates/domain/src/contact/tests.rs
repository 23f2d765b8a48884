//! Every contact rule, as given/when/then.

use serde_json::json;

use super::*;
use crate::harness::given;

fn visitor() -> Uuid {
    Uuid::from_u128(1)
}
fn author() -> Uuid {
    Uuid::from_u128(2)
}
fn note() -> Uuid {
    Uuid::from_u128(50)
}

fn created() -> Event {
    ContactCreated {
        email: Personal::plain("ada@example.com"),
        name: Some(Personal::plain("Ada")),
    }
    .into()
}

fn note_added(body: &str) -> Event {
    ContactNoteAdded {
        note_id: note(),
        author_id: author(),
        body: Personal::plain(body),
    }
    .into()
}

fn create(email: &str, email_taken: bool) -> Command {
    Command::Create {
        email: email.into(),
        name: Some("Ada".into()),
        visitor_id: Some(visitor()),
        email_taken,
    }
}

#[test]
fn identifying_creates_the_contact_and_links_the_visitor() {
    let state = given::<Contact>([])
        .when(create("ADA@example.com", false))
        .then([
            created(),
            ContactVisitorLinked {
                visitor_id: visitor(),
            }
            .into(),
        ]);
    assert_eq!(state.email.as_deref(), Some("ada@example.com"));
    assert!(state.visitors.contains(&visitor()));
}

#[test]
fn an_email_in_use_by_another_contact_is_taken() {
    given::<Contact>([])
        .when(create("ada@example.com", true))
        .then_err(DomainError::Taken { field: "email" });
}

#[test]
fn an_invalid_email_is_refused_before_anything_else() {
    given::<Contact>([])
        .when(create("ada-at-example", true))
        .then_err(DomainError::invalid("email", "must contain @"));
}

#[test]
fn linking_a_visitor_twice_is_a_no_op() {
    let linked: Event = ContactVisitorLinked {
        visitor_id: visitor(),
    }
    .into();
    given::<Contact>([created(), linked])
        .when(Command::LinkVisitor {
            visitor_id: visitor(),
        })
        .then_nothing();
}

#[test]
fn updating_records_only_what_changed() {
    given::<Contact>([created()])
        .when(Command::Update {
            name: Some("Ada".into()),
            email: Some("Ada@Example.com".into()),
            email_taken: false,
        })
        .then_nothing();
    given::<Contact>([created()])
        .when(Command::Update {
            name: Some("Ada King".into()),
            email: None,
            email_taken: false,
        })
        .then([ContactUpdated {
            name: Some(Personal::plain("Ada King")),
            email: None,
        }
        .into()]);
}

#[test]
fn changing_to_an_email_someone_else_has_is_taken() {
    given::<Contact>([created()])
        .when(Command::Update {
            name: None,
            email: Some("grace@example.com".into()),
            email_taken: true,
        })
        .then_err(DomainError::Taken { field: "email" });
}

#[test]
fn notes_are_added_by_anyone_on_the_team_and_must_have_text() {
    given::<Contact>([created()])
        .when(Command::AddNote {
            note_id: note(),
            body: "  Prefers email ".into(),
            author_id: author(),
        })
        .then([note_added("Prefers email")]);
    given::<Contact>([created()])
        .when(Command::AddNote {
            note_id: note(),
            body: " ".into(),
            author_id: author(),
        })
        .then_err(DomainError::invalid("body", "must not be empty"));
}

#[test]
fn only_the_author_or_an_admin_edits_or_deletes_a_note() {
    let other = Editor {
        agent_id: Uuid::from_u128(9),
        is_admin: false,
    };
    let forbidden = DomainError::Forbidden {
        reason: "only the note's author or an admin may change it",
    };
    given::<Contact>([created(), note_added("a")])
        .when(Command::EditNote {
            note_id: note(),
            body: "b".into(),
            editor: other,
        })
        .then_err(forbidden.clone());
    given::<Contact>([created(), note_added("a")])
        .when(Command::DeleteNote {
            note_id: note(),
            editor: other,
        })
        .then_err(forbidden);
    given::<Contact>([created(), note_added("a")])
        .when(Command::EditNote {
            note_id: note(),
            body: "b".into(),
            editor: Editor {
                agent_id: author(),
                is_admin: false,
            },
        })
        .then([ContactNoteEdited {
            note_id: note(),
            body: Personal::plain("b"),
        }
        .into()]);
    let state = given::<Contact>([created(), note_added("a")])
        .when(Command::DeleteNote {
            note_id: note(),
            editor: Editor {
                is_admin: true,
                ..other
            },
        })
        .then([ContactNoteDeleted { note_id: note() }.into()]);
    assert!(state.notes.is_empty());
}

#[test]
fn a_deleted_or_unknown_note_is_not_found() {
    given::<Contact>([
        created(),
        note_added("a"),
        ContactNoteDeleted { note_id: note() }.into(),
    ])
    .when(Command::DeleteNote {
        note_id: note(),
        editor: Editor {
            agent_id: author(),
            is_admin: true,
        },
    })
    .then_err(DomainError::NotFound { what: "note" });
}

fn set(key: &str, value: serde_json::Value, field_type: Option<CustomFieldType>) -> Command {
    Command::SetCustomField {
        key: key.into(),
        value,
        field_type,
    }
}

#[test]
fn a_custom_field_value_must_match_its_type() {
    for (field_type, good, bad) in [
        (CustomFieldType::Text, json!("pro"), json!(3)),
        (CustomFieldType::Number, json!(42.5), json!("42")),
        (CustomFieldType::Boolean, json!(true), json!("yes")),
        (
            CustomFieldType::Date,
            json!("2026-11-21"),
            json!("21/11/2026"),
        ),
    ] {
        let events = given::<Contact>([created()])
            .when(set("f", good.clone(), Some(field_type)))
            .events();
        assert_eq!(
            events,
            vec![Event::from(ContactCustomFieldSet {
                key: "f".into(),
                value: Some(Personal::Plain(good.to_string())),
            })]
        );
        let err = Contact::decide(
            &Contact::replay(&[created()]),
            set("f", bad, Some(field_type)),
        )
        .unwrap_err();
        assert!(
            matches!(err, DomainError::Invalid { field: "value", .. }),
            "{field_type:?}"
        );
    }
}

#[test]
fn an_undefined_field_is_refused_and_null_clears_a_set_one() {
    given::<Contact>([created()])
        .when(set("plan", json!("pro"), None))
        .then_err(DomainError::invalid(
            "key",
            "no custom field \"plan\" is defined",
        ));
    let set_event: Event = ContactCustomFieldSet {
        key: "plan".into(),
        value: Some(Personal::plain("\"pro\"")),
    }
    .into();
    let state = given::<Contact>([created(), set_event.clone()])
        .when(set("plan", json!(null), Some(CustomFieldType::Text)))
        .then([ContactCustomFieldSet {
            key: "plan".into(),
            value: None,
        }
        .into()]);
    assert!(state.fields.is_empty());
    given::<Contact>([created(), set_event])
        .when(set("plan", json!("pro"), Some(CustomFieldType::Text)))
        .then_nothing();
}

#[test]
fn erasure_names_every_visitor_and_freezes_the_contact() {
    let linked: Event = ContactVisitorLinked {
        visitor_id: visitor(),
    }
    .into();
    let state = given::<Contact>([created(), linked, note_added("x")])
        .when(Command::Erase)
        .then([ContactErased {
            visitor_ids: vec![visitor()],
        }
        .into()]);
    assert!(state.erased && state.email.is_none() && state.notes.is_empty());
    let erased = [
        created(),
        ContactErased {
            visitor_ids: vec![],
        }
        .into(),
    ];
    given::<Contact>(erased.clone())
        .when(Command::Erase)
        .then_nothing();
    given::<Contact>(erased)
        .when(Command::Update {
            name: Some("x".into()),
            email: None,
            email_taken: false,
        })
        .then_err(DomainError::InvalidTransition {
            action: "change a contact",
            reason: "its personal data was erased",
        });
}

#[test]
fn a_merged_contact_takes_no_more_changes() {
    given::<Contact>([
        created(),
        ContactMerged {
            into_contact_id: Uuid::from_u128(8),
        }
        .into(),
    ])
    .when(Command::LinkVisitor {
        visitor_id: visitor(),
    })
    .then_err(DomainError::InvalidTransition {
        action: "change a contact",
        reason: "it was merged into another contact",
    });
}

#[test]
fn an_unknown_contact_is_not_found() {
    given::<Contact>([])
        .when(Command::Erase)
        .then_err(DomainError::NotFound { what: "contact" });
}
