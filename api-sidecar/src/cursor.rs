//! Opaque pagination cursors. A list answers `next_cursor` when more rows may follow; the
//! cursor is the last row's `(received_at, id)` sealed with the API's signing key for one
//! resource and one customer, so a cursor cannot be forged, edited, or used by another
//! customer (400 `invalid_parameter`).

use crate::{error::ApiError, signing::SigningKey};

/// A list that pages with cursors.
#[derive(Debug, Clone, Copy)]
pub enum Listing {
    Quarantine,
    Verdicts,
    Threats,
}

impl Listing {
    fn name(self) -> &'static str {
        match self {
            Listing::Quarantine => "quarantine",
            Listing::Verdicts => "verdicts",
            Listing::Threats => "threats",
        }
    }
}

fn context(listing: Listing, customer_id: &str) -> String {
    format!("cursor:{}:{customer_id}", listing.name())
}

/// The cursor after the row `(received_at, id)`.
pub fn encode(
    key: &SigningKey,
    listing: Listing,
    customer_id: &str,
    received_at: i64,
    id: &str,
) -> String {
    let payload = serde_json::to_vec(&(received_at, id)).unwrap_or_default();
    key.seal(&context(listing, customer_id), &payload)
}

/// The row position a presented cursor stands for.
pub fn decode(
    key: &SigningKey,
    listing: Listing,
    customer_id: &str,
    cursor: &str,
) -> Result<(i64, String), ApiError> {
    let bad = || {
        ApiError::BadRequest(
            "cursor is not one this API gave you for this list (pass next_cursor unchanged)".into(),
        )
    };
    let payload = key
        .open(&context(listing, customer_id), cursor)
        .ok_or_else(bad)?;
    serde_json::from_slice(&payload).map_err(|_| bad())
}

/// `next_cursor` for a page of `limit` rows: present only when the page is full.
pub fn next<T>(
    key: &SigningKey,
    listing: Listing,
    customer_id: &str,
    page: &[T],
    limit: u32,
    position: impl Fn(&T) -> (i64, &str),
) -> Option<String> {
    if page.len() < limit as usize {
        return None;
    }
    let (t, id) = position(page.last()?);
    Some(encode(key, listing, customer_id, t, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_bound_to_list_and_customer() {
        let key = SigningKey::from_bytes([1; 32]);
        let c = encode(&key, Listing::Quarantine, "a", 42, "id-9");
        assert_eq!(
            decode(&key, Listing::Quarantine, "a", &c).expect("valid"),
            (42, "id-9".to_string())
        );
        assert!(decode(&key, Listing::Quarantine, "b", &c).is_err());
        assert!(decode(&key, Listing::Verdicts, "a", &c).is_err());
        assert!(decode(&key, Listing::Quarantine, "a", "eyJ4Ijo1fQ.AAAA").is_err());
    }
}
