//! Extra HTTP headers on every export (`OTEL_EXPORTER_OTLP_HEADERS`, e.g. a collector's API
//! key): `key=value` pairs separated by commas, values percent-encoded, as the OpenTelemetry
//! exporter specification writes them. A list that is not that is refused at start-up rather
//! than sent in part.

use std::fmt;

use poem::http::{HeaderName, HeaderValue};

/// Headers to add to each export request. Their values are marked sensitive: debug output
/// does not show them.
#[derive(Clone, Default, PartialEq)]
pub struct ExportHeaders(Vec<(HeaderName, HeaderValue)>);

impl ExportHeaders {
    /// The headers, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.0.iter().map(|(name, value)| (name, value))
    }
}

impl fmt::Debug for ExportHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Parses `key1=value1,key2=value2` (spaces around keys and values ignored, a trailing comma
/// allowed).
pub fn parse(text: &str) -> Result<ExportHeaders, String> {
    text.split_terminator(',')
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not key=value"))?;
            let name = HeaderName::try_from(key.trim())
                .map_err(|_| format!("{:?} is not a header name", key.trim()))?;
            let decoded = percent_decode(value.trim())
                .ok_or_else(|| format!("the value of {name} is not percent-encoded UTF-8"))?;
            let mut value = HeaderValue::try_from(decoded)
                .map_err(|_| format!("the value of {name} is not a header value"))?;
            value.set_sensitive(true);
            Ok((name, value))
        })
        .collect::<Result<_, _>>()
        .map(ExportHeaders)
}

/// `%XX` sequences replaced by their bytes; `None` for a broken sequence or bytes that are
/// not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, after)) = rest.split_first() {
        if byte == b'%' {
            let hex = std::str::from_utf8(after.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &after[2..];
        } else {
            bytes.push(byte);
            rest = after;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(headers: &ExportHeaders) -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect()
    }

    #[test]
    fn pairs_are_split_trimmed_and_percent_decoded() {
        let headers = parse(" x-api-key = abc%3D%3D , Authorization=Basic%20dXNlcg,").unwrap();
        assert_eq!(
            pairs(&headers),
            [
                ("x-api-key".to_owned(), "abc==".to_owned()),
                ("authorization".to_owned(), "Basic dXNlcg".to_owned())
            ]
        );
        assert_eq!(parse("").unwrap(), ExportHeaders::default());
    }

    #[test]
    fn a_list_that_cannot_be_sent_as_given_is_refused() {
        for bad in [
            "novalue",
            "bad name=1",
            "=1",
            "k=%zz",
            "k=%4",
            "k=%ff",
            "k=a%0Ab",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn values_are_not_shown_in_debug_output() {
        let headers = parse("x-api-key=secret").unwrap();
        let shown = format!("{headers:?}");
        assert!(
            shown.contains("x-api-key") && !shown.contains("secret"),
            "{shown}"
        );
    }
}
