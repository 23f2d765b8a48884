//! Free-text inputs: trimmed, bounded, blank treated as absent, and free of
//! characters that act instead of showing: control characters (escape
//! sequences, NUL, BEL) and the bidirectional overrides and isolates that
//! make text read differently than it is stored ("Trojan Source"). Line
//! breaks and tabs are text; in a single-line field (a name) they are not.

use crate::DomainError;

/// A required text: trimmed, not blank, at most `max` characters.
pub fn required(value: String, field: &'static str, max: usize) -> Result<String, DomainError> {
    optional(Some(value), field, max)?
        .ok_or_else(|| DomainError::invalid(field, "must not be empty"))
}

/// An optional text: trimmed, blank means absent, at most `max` characters.
pub fn optional(
    value: Option<String>,
    field: &'static str,
    max: usize,
) -> Result<Option<String>, DomainError> {
    let Some(value) = value else { return Ok(None) };
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    within(trimmed, field, max)?;
    Ok(Some(trimmed.to_owned()))
}

/// A text kept exactly as written (a message body): not blank, at most
/// `max` characters.
pub fn verbatim(value: String, field: &'static str, max: usize) -> Result<String, DomainError> {
    if value.trim().is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    within(&value, field, max)?;
    Ok(value)
}

/// Fails unless `value` is at most `max` characters and free of
/// [`acts_on_display`] characters, naming `field`.
pub fn within(value: &str, field: &'static str, max: usize) -> Result<(), DomainError> {
    let chars = value.chars().count();
    if chars > max {
        return Err(DomainError::invalid(
            field,
            format!("is {chars} characters; at most {max} are allowed"),
        ));
    }
    if let Some(c) = value.chars().find(|c| acts_on_display(*c)) {
        return Err(DomainError::invalid(
            field,
            format!("contains the control character U+{:04X}", u32::from(c)),
        ));
    }
    Ok(())
}

/// A required single-line text (a name, a label): as [`required`], and
/// without line breaks or tabs.
pub fn required_line(
    value: String,
    field: &'static str,
    max: usize,
) -> Result<String, DomainError> {
    let value = required(value, field, max)?;
    single_line(&value, field)?;
    Ok(value)
}

/// An optional single-line text (a name): as [`optional`], and without
/// line breaks or tabs.
pub fn optional_line(
    value: Option<String>,
    field: &'static str,
    max: usize,
) -> Result<Option<String>, DomainError> {
    let value = optional(value, field, max)?;
    if let Some(value) = &value {
        single_line(value, field)?;
    }
    Ok(value)
}

fn single_line(value: &str, field: &'static str) -> Result<(), DomainError> {
    if value.contains(['\n', '\r', '\t', '\u{2028}', '\u{2029}']) {
        return Err(DomainError::invalid(field, "must be a single line"));
    }
    Ok(())
}

/// Whether `c` acts on a terminal or on how text around it displays,
/// rather than showing: a control character other than a line break or a
/// tab, or a bidirectional mark, embedding, override or isolate.
#[must_use]
pub fn acts_on_display(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_refused_and_line_breaks_are_text() {
        for bad in [
            "nul\0",
            "bell\u{7}",
            "esc\u{1b}[31m",
            "del\u{7f}",
            "c1\u{9b}",
            "rlo\u{202e}gpj.exe",
            "iso\u{2066}",
        ] {
            let refused = within(bad, "body", 100).unwrap_err();
            assert!(
                matches!(refused, DomainError::Invalid { field: "body", .. }),
                "{bad:?}"
            );
        }
        assert!(within("two\nlines\twith a tab, עברית and 日本語", "body", 100).is_ok());
    }

    #[test]
    fn a_name_is_one_line() {
        for broken in ["Ada\nLovelace", "Ada\u{2028}Admin", "Ada\tAdmin"] {
            assert_eq!(
                required_line(broken.into(), "name", 100),
                Err(DomainError::invalid("name", "must be a single line"))
            );
        }
        assert_eq!(
            optional_line(Some(" Ada ".into()), "name", 100),
            Ok(Some("Ada".into()))
        );
        assert_eq!(optional_line(Some("  ".into()), "name", 100), Ok(None));
    }
}
