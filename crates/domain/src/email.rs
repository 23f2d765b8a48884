//! Email addresses: validation, the normal form used for uniqueness, and
//! spotting one inside a visitor's message (email capture).

use crate::DomainError;

/// Longest address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// A valid email address in normal form: trimmed and lowercased, so that
/// `Ada@Example.com` and `ada@example.com` are the same contact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// Validates and normalises `text`; `field` names the input at fault.
    pub fn parse(text: &str, field: &'static str) -> Result<Self, DomainError> {
        let candidate = text.trim().to_lowercase();
        check(&candidate).map_err(|reason| DomainError::invalid(field, reason))?;
        Ok(Email(candidate))
    }

    /// The normal form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first valid address in free text, if any: what a visitor typed
    /// after being asked for one ("sure, it's ada@example.com!").
    #[must_use]
    pub fn find_in(text: &str) -> Option<Self> {
        text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '(' | ')'))
            .map(|word| {
                word.trim_matches(|c: char| matches!(c, '.' | '!' | '?' | ':' | '"' | '\''))
            })
            .filter(|word| word.contains('@'))
            .find_map(|word| Email::parse(word, "email").ok())
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn check(email: &str) -> Result<(), &'static str> {
    if email.is_empty() {
        return Err("must not be empty");
    }
    if email.len() > MAX_EMAIL_LEN {
        return Err("is too long");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("must contain @");
    };
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return Err("is not a valid email address");
    }
    let local_ok = local
        .chars()
        .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()));
    if local_ok && domain_ok {
        Ok(())
    } else {
        Err("is not a valid email address")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_addresses_are_trimmed_and_lowercased() {
        let email = Email::parse("  Ada.Lovelace+tahc@Example.CO.uk ", "email").unwrap();
        assert_eq!(email.as_str(), "ada.lovelace+tahc@example.co.uk");
    }

    #[test]
    fn malformed_addresses_are_invalid_and_name_the_field() {
        for bad in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "ada@exa mple.com",
            "ada@-example.com",
            "a..b@example.com",
            ".ada@example.com",
            "ada@example.c",
            "ada@1.2",
            "ada lovelace@example.com",
        ] {
            let err = Email::parse(bad, "input.email").unwrap_err();
            assert!(
                matches!(
                    err,
                    DomainError::Invalid {
                        field: "input.email",
                        ..
                    }
                ),
                "{bad:?}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long, "email").is_err());
    }

    #[test]
    fn an_email_is_found_inside_a_sentence() {
        for (text, found) in [
            ("sure, it's ada@example.com!", Some("ada@example.com")),
            ("Mail me at <Grace@Navy.mil>.", Some("grace@navy.mil")),
            ("(bob@example.org)", Some("bob@example.org")),
            ("no address here, just @mentions", None),
            ("user@localhost is not one", None),
        ] {
            assert_eq!(
                Email::find_in(text).map(|e| e.to_string()).as_deref(),
                found,
                "{text}"
            );
        }
    }
}
