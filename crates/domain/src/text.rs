//! Free-text inputs: trimmed, bounded, and blank treated as absent.

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

/// Fails unless `value` is at most `max` characters, naming `field`.
pub fn within(value: &str, field: &'static str, max: usize) -> Result<(), DomainError> {
    let chars = value.chars().count();
    if chars > max {
        return Err(DomainError::invalid(
            field,
            format!("is {chars} characters; at most {max} are allowed"),
        ));
    }
    Ok(())
}
