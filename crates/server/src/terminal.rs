//! Text printed to an operator's terminal. What visitors wrote before
//! inputs were checked (or what a damaged log holds) may contain characters
//! a terminal acts on instead of showing: escape sequences, bidirectional
//! overrides. They are printed as visible `\uXXXX` escapes, which inside a
//! JSON string is the same character, so JSON output stays JSON.

use std::borrow::Cow;
use std::fmt::Write;

use tahc_domain::text::acts_on_display;

/// `text` with every character a terminal would act on escaped.
#[must_use]
pub fn safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts_on_display) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if acts_on_display(c) {
            let _ = write!(shown, "\\u{:04x}", u32::from(c));
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_overrides_are_shown_and_json_stays_the_same_json() {
        let stored = "red\u{1b}[31m alert \u{202e}txt.exe\u{7}";
        let json = serde_json::to_string(&serde_json::json!({ "body": stored })).unwrap();
        let shown = safe(&json);
        assert!(!shown.chars().any(acts_on_display), "{shown}");
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back["body"], stored);
        assert_eq!(safe("plain\ntext"), "plain\ntext");
        assert_eq!(safe("bell\u{7}"), "bell\\u0007");
    }
}
