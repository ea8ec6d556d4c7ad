//! `parse_argument` on any text and any maximum: it never panics, accepts exactly the
//! decimal integers in `0..=max` (a leading `-` only for zero), and every refusal is a
//! 400 problem document whose detail stays short whatever the input's length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mathapi_http::parse_argument;

fuzz_target!(|input: (&str, u64)| {
    let (raw, max) = input;
    let expected = expected(raw, max);
    match parse_argument("n", raw, max) {
        Ok(value) => assert_eq!(Some(value), expected, "accepted {raw:?} (max {max})"),
        Err(error) => {
            assert_eq!(expected, None, "refused {raw:?} (max {max}): {error}");
            let problem = error.problem();
            assert_eq!(problem.status, 400);
            assert!(
                problem.detail.len() <= 512,
                "detail of {} bytes",
                problem.detail.len()
            );
        }
    }
});

/// The value an independent reading of the rule accepts, if any.
fn expected(raw: &str, max: u64) -> Option<u64> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(magnitude) = raw.strip_prefix('-') {
        return (digits(magnitude) && magnitude.bytes().all(|b| b == b'0')).then_some(0);
    }
    if !digits(raw) {
        return None;
    }
    // Leading zeros are allowed; the value must fit and be within the maximum.
    let significant = raw.trim_start_matches('0');
    let value = if significant.is_empty() {
        0
    } else {
        significant.parse::<u128>().ok()?
    };
    u64::try_from(value).ok().filter(|value| *value <= max)
}
