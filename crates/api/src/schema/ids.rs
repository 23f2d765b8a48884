//! Opaque global ids (Relay): base64url of `Type:uuid`, so clients never
//! build or parse them, and `node(id)` knows what an id names.

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

/// The global id of a `kind` (a GraphQL type name) with `id`.
#[must_use]
pub fn encode(kind: &str, id: Uuid) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{kind}:{id}")))
}

/// The uuid inside a global id of `kind`; `None` for anything else.
#[must_use]
pub fn decode(kind: &str, id: &str) -> Option<Uuid> {
    parse(id)
        .filter(|(found, _)| found == kind)
        .map(|(_, uuid)| uuid)
}

/// The type name and uuid inside any global id.
#[must_use]
pub fn parse(id: &str) -> Option<(String, Uuid)> {
    let bytes = URL_SAFE_NO_PAD.decode(id).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (kind, uuid) = text.split_once(':')?;
    Some((kind.to_owned(), Uuid::parse_str(uuid).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_only_for_their_own_type() {
        let id = Uuid::now_v7();
        let global = encode("Conversation", id);
        assert_eq!(decode("Conversation", &global), Some(id));
        assert_eq!(decode("Contact", &global), None);
        for garbage in ["", "!!!", "Q29udmVyc2F0aW9uOm5vcGU", &id.to_string()] {
            assert_eq!(decode("Conversation", garbage), None, "{garbage}");
        }
    }
}
