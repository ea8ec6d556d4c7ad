//! The `Idempotency-Key` header, read from its raw bytes.
//!
//! poem-openapi's header parameter reads a value with `HeaderValue::to_str`, which drops any
//! value that is not visible ASCII: `café-retry-1` would look like no key at all, and every
//! retry would step again. So the routes read the header themselves and refuse (`400`, not
//! applied) every value the store cannot use: not visible ASCII, empty, longer than
//! [`MAX_KEY_LEN`], or sent more than once.

use mathapi_http::Problem;
use mathapi_sequence::MAX_KEY_LEN;
use poem::http::HeaderMap;

use crate::problems;

/// The header's name.
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The request's key, `None` without one, or the problem with the one it sent.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, Box<Problem>> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Box::new(problems::invalid_key("was sent more than once")));
    }
    // Whitespace around a field value is not part of it (RFC 9110 §5.5).
    let bytes = value.as_bytes().trim_ascii();
    let what = if bytes.is_empty() {
        "is empty".to_owned()
    } else if bytes.len() > MAX_KEY_LEN {
        format!("is {} bytes long", bytes.len())
    } else if let Some(position) = bytes.iter().position(|b| !b.is_ascii_graphic()) {
        format!(
            "has byte 0x{:02X} at position {position}, which is not visible ASCII",
            bytes[position]
        )
    } else {
        // Every byte is visible ASCII, so this is valid UTF-8.
        return Ok(std::str::from_utf8(bytes).ok());
    };
    Err(Box::new(problems::invalid_key(&what)))
}

#[cfg(test)]
mod tests {
    use poem::http::HeaderValue;

    use super::*;

    fn key_of(values: &[&[u8]]) -> Result<Option<String>, String> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(IDEMPOTENCY_KEY, HeaderValue::from_bytes(value).unwrap());
        }
        idempotency_key(&headers)
            .map(|key| key.map(str::to_owned))
            .map_err(|problem| problem.detail)
    }

    #[test]
    fn a_visible_ascii_key_is_taken_as_sent() {
        assert_eq!(key_of(&[]), Ok(None));
        assert_eq!(
            key_of(&[b"5f2b7c0e-1d2a"]),
            Ok(Some("5f2b7c0e-1d2a".into()))
        );
        assert_eq!(key_of(&[b" \tk1\t "]), Ok(Some("k1".into())));
        let longest = "x".repeat(MAX_KEY_LEN);
        assert_eq!(key_of(&[longest.as_bytes()]), Ok(Some(longest.clone())));
    }

    #[test]
    fn every_unusable_key_is_refused_with_a_reason() {
        for (value, reason) in [
            ("café-retry-1".as_bytes(), "0xC3"),
            ("ключ".as_bytes(), "0xD0"),
            (b"\x80", "0x80"),
            (b"a\xffb", "0xFF at position 1"),
            (b"two words", "0x20"),
            (b"   ", "empty"),
        ] {
            let refused = key_of(&[value]).unwrap_err();
            assert!(refused.contains(reason), "{value:?}: {refused}");
        }
        let long = "x".repeat(MAX_KEY_LEN + 1);
        assert!(
            key_of(&[long.as_bytes()])
                .unwrap_err()
                .contains("256 bytes")
        );
        let twice = key_of(&[b"a", b"b"]).unwrap_err();
        assert!(twice.contains("more than once"), "{twice}");
    }
}
