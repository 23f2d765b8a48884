//! Visitor tokens: what the widget holds. A token names one visitor of one
//! workspace until it expires, and is signed with the node's token key, so
//! it cannot be forged or moved to another visitor.
//!
//! Form: `tahcv_` hex(visitor id ‖ workspace id ‖ expiry, seconds BE) `.`
//! hex(BLAKE3 keyed MAC of those 40 bytes).

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Every visitor token starts with this.
pub const PREFIX: &str = "tahcv_";

/// What a valid token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitorClaim {
    /// The visitor.
    pub visitor_id: Uuid,
    /// Its workspace.
    pub workspace_id: Uuid,
    /// Not valid after.
    pub expires_at: DateTime<Utc>,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not the form of a token.
    #[error("malformed visitor token")]
    Malformed,
    /// The signature does not match.
    #[error("visitor token signature mismatch")]
    Forged,
    /// Past its expiry.
    #[error("visitor token expired")]
    Expired,
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

fn payload(claim: &VisitorClaim) -> Vec<u8> {
    [
        &claim.visitor_id.as_bytes()[..],
        claim.workspace_id.as_bytes(),
        &claim.expires_at.timestamp().to_be_bytes(),
    ]
    .concat()
}

/// Signs a claim.
#[must_use]
pub fn sign(key: &[u8; 32], claim: &VisitorClaim) -> String {
    let payload = payload(claim);
    let mac = blake3::keyed_hash(key, &payload);
    format!(
        "{PREFIX}{}.{}",
        tahc_events::hex(&payload),
        tahc_events::hex(mac.as_bytes())
    )
}

/// Checks a token's form, signature and expiry at `now`.
pub fn verify(key: &[u8; 32], token: &str, now: DateTime<Utc>) -> Result<VisitorClaim, TokenError> {
    let body = token.strip_prefix(PREFIX).ok_or(TokenError::Malformed)?;
    let (payload, mac) = body.split_once('.').ok_or(TokenError::Malformed)?;
    let payload = unhex(payload)
        .filter(|p| p.len() == 40)
        .ok_or(TokenError::Malformed)?;
    let mac: [u8; 32] = unhex(mac)
        .and_then(|m| m.try_into().ok())
        .ok_or(TokenError::Malformed)?;
    // blake3::Hash compares in constant time.
    if blake3::keyed_hash(key, &payload) != blake3::Hash::from(mac) {
        return Err(TokenError::Forged);
    }
    let id = |range: std::ops::Range<usize>| {
        Uuid::from_slice(&payload[range]).map_err(|_| TokenError::Malformed)
    };
    let seconds = i64::from_be_bytes(
        payload[32..40]
            .try_into()
            .map_err(|_| TokenError::Malformed)?,
    );
    let expires_at = DateTime::from_timestamp(seconds, 0).ok_or(TokenError::Malformed)?;
    if expires_at <= now {
        return Err(TokenError::Expired);
    }
    Ok(VisitorClaim {
        visitor_id: id(0..16)?,
        workspace_id: id(16..32)?,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn claim(now: DateTime<Utc>) -> VisitorClaim {
        VisitorClaim {
            visitor_id: Uuid::now_v7(),
            workspace_id: Uuid::now_v7(),
            expires_at: DateTime::from_timestamp((now + Duration::days(30)).timestamp(), 0)
                .unwrap(),
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let key = [9; 32];
        let now = Utc::now();
        let claim = claim(now);
        let token = sign(&key, &claim);
        assert_eq!(verify(&key, &token, now), Ok(claim));
        assert_eq!(
            verify(&key, &token, now + Duration::days(31)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn altered_foreign_and_garbage_tokens_are_refused() {
        let key = [9; 32];
        let now = Utc::now();
        let token = sign(&key, &claim(now));
        assert_eq!(verify(&[8; 32], &token, now), Err(TokenError::Forged));
        let mut altered = token.clone().into_bytes();
        altered[PREFIX.len() + 3] = if altered[PREFIX.len() + 3] == b'0' {
            b'1'
        } else {
            b'0'
        };
        assert_eq!(
            verify(&key, &String::from_utf8(altered).unwrap(), now),
            Err(TokenError::Forged)
        );
        for garbage in [
            "",
            "tahcv_",
            "tahcv_zz.yy",
            "tahc_abc",
            &token.replace('.', ""),
            "tahcv_00.00",
            "tahcv_é.é",
        ] {
            assert_eq!(
                verify(&key, garbage, now),
                Err(TokenError::Malformed),
                "{garbage:?}"
            );
        }
    }
}
