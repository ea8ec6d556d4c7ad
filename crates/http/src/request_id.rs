//! Request ids: the `X-Request-Id` a client sends is kept when it is safe to log and echo;
//! otherwise the server makes one up (a UUID v4).

use poem::Request;

/// The request-id header, read from requests and set on every response.
pub const HEADER: &str = "x-request-id";

/// Longest client-supplied request id kept; longer ones are replaced.
pub const MAX_LEN: usize = 128;

/// Whether a client's request id is kept: 1 to [`MAX_LEN`] visible ASCII characters (no
/// spaces or control characters, so it cannot break a log line or a header).
pub fn accept_client_id(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// A new random id, a UUID v4. Drawn from a thread-local generator seeded once from the OS,
/// not from a `getrandom` syscall per request.
pub fn new_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid.hyphenated().encode_lower(&mut text).to_owned()
}

/// The request's id: the client's when [`accept_client_id`] keeps it, a [`new_id`] otherwise.
pub fn of_request(req: &Request) -> String {
    req.headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| accept_client_id(id))
        .map_or_else(new_id, str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_kept_only_when_safe() {
        assert!(accept_client_id("abc-123_X.y:z"));
        assert!(accept_client_id(&"a".repeat(MAX_LEN)));
        assert!(!accept_client_id(&"a".repeat(MAX_LEN + 1)));
        assert!(!accept_client_id(""));
        assert!(!accept_client_id("a b"));
        assert!(!accept_client_id("a\nb"));
        assert!(!accept_client_id("é"));
    }

    #[test]
    fn new_ids_are_distinct_version_4_uuids() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids.iter().take(10) {
            let uuid = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(uuid.get_version_num(), 4, "{id}");
            assert_eq!(id, &id.to_lowercase());
        }
    }
}
