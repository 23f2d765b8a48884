//! Words for search: case- and accent-insensitive, so that "Zoë" finds
//! "zoe" and "ZOE". Indexing and querying use the same normalisation.

use std::collections::BTreeSet;

use uuid::Uuid;

use crate::view::{View, ViewError, id_at_end};

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Longest word indexed, in characters; longer ones are cut (a prefix
/// search still finds them).
pub const MAX_WORD_CHARS: usize = 32;

/// The distinct normalised words of `text`, sorted.
#[must_use]
pub fn words(text: &str) -> BTreeSet<String> {
    normalise(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| word.chars().take(MAX_WORD_CHARS).collect())
        .collect()
}

/// Lowercase, without accents.
#[must_use]
pub fn normalise(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The ids indexed under words starting with every word of `search` (AND
/// across words, prefix within a word). `prefixes` names the index
/// prefixes of one word; index keys end with the 16-byte id.
pub(crate) fn search(
    view: &View,
    search: &str,
    prefixes: impl Fn(&str) -> Vec<Vec<u8>>,
) -> Result<BTreeSet<Uuid>, ViewError> {
    let mut found: Option<BTreeSet<Uuid>> = None;
    for word in words(search) {
        let mut matches = BTreeSet::new();
        for prefix in prefixes(&word) {
            for entry in view.scan(prefix) {
                let (key, _) = entry?;
                matches.insert(id_at_end(&key)?);
            }
        }
        found = Some(match found {
            None => matches,
            Some(so_far) => so_far.intersection(&matches).copied().collect(),
        });
    }
    Ok(found.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercase_accentless_and_split_on_punctuation() {
        let found: Vec<String> = words("Zoë Saldaña <ZOE.s@Exämple.com>, zoe!")
            .into_iter()
            .collect();
        assert_eq!(found, ["com", "example", "s", "saldana", "zoe"]);
        assert_eq!(normalise("ÉCOLE Crème"), "ecole creme");
        assert!(words("  ...  ").is_empty());
        assert_eq!(
            words(&"a".repeat(100)).into_iter().next().unwrap().len(),
            MAX_WORD_CHARS
        );
    }
}
