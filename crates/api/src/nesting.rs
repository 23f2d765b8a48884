//! How deep a GraphQL document or a variable's value nests, measured
//! without a parser: the parser (and everything after it) recurses once per
//! level, so a document of a few kilobytes nested thousands of levels deep
//! would overflow a worker's stack. Every document and every set of
//! variables is measured here first, over HTTP (POST and GET) and over
//! WebSocket alike.

use async_graphql::Value as ConstValue;

/// The deepest nesting accepted: `{`, `[` and `(` together, anywhere in a
/// document (selection sets, arguments, list and object values, variable
/// definitions, directives), and lists and objects in a variable's value.
/// Real operations stay far below it (the standard introspection query
/// reaches 11); it is fixed, not a setting, because it protects the stack.
pub const MAX_NESTING: usize = 32;

/// A document or value nested deeper than [`MAX_NESTING`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the {what} nests deeper than {MAX_NESTING} levels (brackets, braces and parentheses)")]
pub struct TooDeep {
    /// What was too deep: "query" or "variables".
    pub what: &'static str,
}

/// Checks that `document`'s brackets, braces and parentheses nest at most
/// [`MAX_NESTING`] deep, skipping strings, block strings and comments as
/// the GraphQL lexer does. An unbalanced or otherwise malformed document
/// passes: the parser refuses it with its own message.
pub fn check_document(document: &str) -> Result<(), TooDeep> {
    let bytes = document.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            // A block string, when it is closed; the parser reads an
            // unclosed `"""` as an empty string and another string.
            b'"' if let Some(end) = block_string_end(&bytes[i..]) => i += end - 1,
            // A string, when it is closed on its line; an unclosed quote
            // hides nothing from the count.
            b'"' => {
                if let Some(end) = string_end(&bytes[i..]) {
                    i += end - 1;
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(TooDeep { what: "query" });
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The length of the block string `text` starts with (`"""` … `"""`, with
/// `\"""` escaped inside), if it is closed.
fn block_string_end(text: &[u8]) -> Option<usize> {
    let body = text.strip_prefix(b"\"\"\"")?;
    let mut i = 0;
    while i < body.len() {
        if body[i..].starts_with(b"\\\"\"\"") {
            i += 4;
        } else if body[i..].starts_with(b"\"\"\"") {
            return Some(3 + i + 3);
        } else {
            i += 1;
        }
    }
    None
}

/// The length of the string `text` starts with (`"` … `"`, with `\`
/// escapes, on one line), if it is closed.
fn string_end(text: &[u8]) -> Option<usize> {
    let mut i = 1;
    while i < text.len() {
        match text[i] {
            b'"' => return Some(i + 1),
            b'\n' | b'\r' => return None,
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

/// Checks that every variable's value nests at most [`MAX_NESTING`] lists
/// and objects deep (JSON bodies are held to 128 by their decoder already;
/// this keeps values to the same bound as documents).
pub fn check_variables<'a>(
    values: impl IntoIterator<Item = &'a ConstValue>,
) -> Result<(), TooDeep> {
    let mut pending: Vec<(&ConstValue, usize)> = values.into_iter().map(|v| (v, 1)).collect();
    while let Some((value, depth)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &ConstValue>> = match value {
            ConstValue::List(items) => Box::new(items.iter()),
            ConstValue::Object(fields) => Box::new(fields.values()),
            _ => continue,
        };
        if depth > MAX_NESTING {
            return Err(TooDeep { what: "variables" });
        }
        pending.extend(children.map(|child| (child, depth + 1)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn a_document_at_the_limit_passes_and_one_level_more_is_too_deep() {
        // `query {` and `nodes(ids:` take three levels.
        let at_limit = format!(
            "query {{ nodes(ids: {}) {{ id }} }}",
            nested(MAX_NESTING - 2)
        );
        assert_eq!(check_document(&at_limit), Ok(()));
        let over = format!(
            "query {{ nodes(ids: {}) {{ id }} }}",
            nested(MAX_NESTING - 1)
        );
        assert_eq!(check_document(&over), Err(TooDeep { what: "query" }));
    }

    #[test]
    fn every_kind_of_bracket_counts_and_closing_ones_give_levels_back() {
        let deep_objects = format!("{{ f(a: {}) }}", "{b: ".repeat(40) + &"}".repeat(40));
        assert!(check_document(&deep_objects).is_err());
        let wide = "{ a } ".repeat(10_000);
        assert_eq!(check_document(&wide), Ok(()));
        let parens = "(".repeat(MAX_NESTING + 1);
        assert!(check_document(&parens).is_err());
    }

    #[test]
    fn brackets_inside_strings_block_strings_and_comments_do_not_count() {
        let hidden = "[".repeat(1_000);
        let documents = [
            format!("{{ f(a: \"{hidden}\") }}"),
            format!("{{ f(a: \"\\\"{hidden}\") }}"),
            format!("{{ f(a: \"\"\"{hidden} \\\"\"\" {hidden}\"\"\") }}"),
            format!("# {hidden}\n{{ f }}"),
        ];
        for document in documents {
            assert_eq!(check_document(&document), Ok(()), "{document}");
        }
        // An unclosed string hides nothing, on its line or after it.
        let after = format!("{{ f(a: \"open\n{}) }}", nested(MAX_NESTING + 1));
        assert!(check_document(&after).is_err());
        let on_its_line = format!("{{ f(a: \"open {}) }}", nested(MAX_NESTING + 1));
        assert!(check_document(&on_its_line).is_err());
    }

    #[test]
    fn an_unclosed_block_string_hides_nothing() {
        // The parser reads `"""x"` as `""` and `"x"`, then the lists.
        let document = format!("{{ nodes(ids: [\"\"\"x\" {}]) {{ id }} }}", nested(2_000));
        assert_eq!(check_document(&document), Err(TooDeep { what: "query" }));
        let closed = format!("{{ f(a: \"\"\"{} \\\"\"\" \"\"\") }}", "[".repeat(1_000));
        assert_eq!(check_document(&closed), Ok(()));
    }

    #[test]
    fn deep_variable_values_are_refused_and_shallow_ones_pass() {
        let value = |depth: usize| {
            let json: serde_json::Value = serde_json::from_str(&nested(depth)).unwrap();
            ConstValue::from_json(json).unwrap()
        };
        assert_eq!(check_variables([&value(MAX_NESTING)]), Ok(()));
        assert_eq!(
            check_variables([&value(3), &value(MAX_NESTING + 1)]),
            Err(TooDeep { what: "variables" })
        );
    }
}
