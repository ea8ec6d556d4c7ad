//! The request-id filter on any text: it never panics, and keeps exactly the ids that are
//! safe to echo in a header and a log line: 1 to 128 visible ASCII characters (no spaces,
//! controls or non-ASCII bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mathapi_http::request_id::{MAX_LEN, accept_client_id};

fuzz_target!(|id: &str| {
    let safe = (1..=128).contains(&id.len()) && id.bytes().all(|b| (0x21..=0x7e).contains(&b));
    assert_eq!(MAX_LEN, 128);
    assert_eq!(accept_client_id(id), safe, "{id:?}");
});
