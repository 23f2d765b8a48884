//! The schema the server exports (docs/schema.graphql) must not drift from
//! the code, and must contain the whole public contract
//! (docs/api-contract.graphql): every type, field, argument, input field
//! and enum value, with the same types. `TAHC_BLESS=1 cargo test -p
//! tahc-api --test schema_contract` rewrites docs/schema.graphql.

use std::collections::BTreeSet;
use std::path::PathBuf;

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

fn docs(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(file)
}

/// Every member of a schema as a line: `Type.field(arg: T): T`,
/// `Input.field: T`, `Enum.VALUE`, `Type implements I`, `scalar S`.
fn members(sdl: &str) -> BTreeSet<String> {
    let document = parse_schema(sdl).expect("a valid SDL");
    let mut out = BTreeSet::new();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let name = ty.node.name.node.to_string();
        match ty.node.kind {
            TypeKind::Scalar => {
                out.insert(format!("scalar {name}"));
            }
            TypeKind::Object(object) => {
                for interface in object.implements {
                    out.insert(format!("{name} implements {}", interface.node));
                }
                fields(&name, &object.fields, &mut out);
            }
            TypeKind::Interface(interface) => fields(&name, &interface.fields, &mut out),
            TypeKind::Union(union) => {
                for member in union.members {
                    out.insert(format!("{name} | {}", member.node));
                }
            }
            TypeKind::Enum(values) => {
                for value in values.values {
                    out.insert(format!("{name}.{}", value.node.value.node));
                }
            }
            TypeKind::InputObject(input) => {
                for field in input.fields {
                    out.insert(format!(
                        "{name}.{}: {}",
                        field.node.name.node, field.node.ty.node
                    ));
                }
            }
        }
    }
    out
}

fn fields(
    owner: &str,
    fields: &[async_graphql::Positioned<async_graphql::parser::types::FieldDefinition>],
    out: &mut BTreeSet<String>,
) {
    for field in fields {
        let field = &field.node;
        out.insert(format!("{owner}.{}: {}", field.name.node, field.ty.node));
        for argument in &field.arguments {
            out.insert(format!(
                "{owner}.{}({}: {})",
                field.name.node, argument.node.name.node, argument.node.ty.node
            ));
        }
    }
}

/// What the contract names and the server does not serve yet, each with
/// the issue that brings it. The test fails when one of these is served
/// (so the list only shrinks) and for anything missing that is not here.
const NOT_YET: &[(&str, &str)] = &[];

/// Whether `member` belongs to `prefix` (a type, or one field of it).
fn under(member: &str, prefix: &str) -> bool {
    member
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', ' ', '(', ':']))
        || member.strip_prefix("scalar ") == Some(prefix)
}

fn pending(member: &str) -> bool {
    NOT_YET.iter().any(|(prefix, _)| under(member, prefix))
}

#[test]
fn exported_schema_matches_the_code() {
    let path = docs("schema.graphql");
    let sdl = tahc_api::schema::sdl();
    if std::env::var_os("TAHC_BLESS").is_some() {
        std::fs::write(&path, &sdl).unwrap();
    }
    let exported = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        exported == sdl,
        "docs/schema.graphql drifted from the code; run \
         `TAHC_BLESS=1 cargo test -p tahc-api --test schema_contract`"
    );
}

#[test]
fn exported_schema_contains_the_whole_contract() {
    let contract = members(&std::fs::read_to_string(docs("api-contract.graphql")).unwrap());
    let served = members(&tahc_api::schema::sdl());
    let missing: Vec<_> = contract
        .iter()
        .filter(|m| !served.contains(*m) && !pending(m))
        .collect();
    assert!(missing.is_empty(), "the schema lacks: {missing:#?}");
    let arrived: Vec<_> = NOT_YET
        .iter()
        .filter(|(prefix, _)| {
            let owed: Vec<_> = contract.iter().filter(|m| under(m, prefix)).collect();
            owed.is_empty() || owed.iter().all(|m| served.contains(*m))
        })
        .collect();
    assert!(
        arrived.is_empty(),
        "served now, remove from NOT_YET: {arrived:?}"
    );
}
