//! [`Position`]: a position's JSON answer, `{"index":…,"value":"…"}`, rendered once per index
//! and answered as it is.
//!
//! A step's answer is at most a few kilobytes of digits. Made through `poem-openapi`'s `Json`
//! it would be converted to a `serde_json::Value` and escaped character by character on every
//! answer; here the pair renders the document once, and each answer of that index shares its
//! bytes. The published schema is [`SequenceValue`]'s, and the bytes are what serializing a
//! [`SequenceValue`] gives (the tests compare them).

use bytes::Bytes;
use poem::{IntoResponse, Response};
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;

use crate::SequenceValue;

const INDEX_PREFIX: &[u8] = b"{\"index\":";
const VALUE_PREFIX: &[u8] = b",\"value\":\"";
const SUFFIX: &[u8] = b"\"}";
/// The most digits an index can have (`u64::MAX` has 20).
const INDEX_DIGITS: usize = 20;

/// A position in the sequence as its JSON document: cheap to clone (the bytes are shared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    index: u64,
    /// Where the value's digits start in `document`.
    value_start: usize,
    document: Bytes,
}

impl Position {
    /// The document of F(`index`), whose decimal digits `write_digits` appends.
    pub(crate) fn render(
        index: u64,
        digits: usize,
        write_digits: impl FnOnce(&mut Vec<u8>),
    ) -> Self {
        let mut document = Vec::with_capacity(
            INDEX_PREFIX.len() + INDEX_DIGITS + VALUE_PREFIX.len() + digits + SUFFIX.len(),
        );
        document.extend_from_slice(INDEX_PREFIX);
        document.extend_from_slice(itoa::Buffer::new().format(index).as_bytes());
        document.extend_from_slice(VALUE_PREFIX);
        let value_start = document.len();
        write_digits(&mut document);
        document.extend_from_slice(SUFFIX);
        Position {
            index,
            value_start,
            document: document.into(),
        }
    }

    /// How many steps from the start.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// F(index) in decimal.
    pub fn value(&self) -> &str {
        let digits = &self.document[self.value_start..self.document.len() - SUFFIX.len()];
        // Only ASCII digits are ever written between the prefix and the suffix.
        std::str::from_utf8(digits).unwrap_or_default()
    }

    /// The JSON document, as answered.
    pub fn json(&self) -> &str {
        std::str::from_utf8(&self.document).unwrap_or_default()
    }
}

impl Payload for Position {
    const CONTENT_TYPE: &'static str = <Json<SequenceValue> as Payload>::CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        SequenceValue::schema_ref()
    }

    fn register(registry: &mut Registry) {
        SequenceValue::register(registry);
    }
}

impl IntoResponse for Position {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(Self::CONTENT_TYPE)
            .body(self.document)
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ToJSON;

    use super::*;

    #[test]
    fn the_document_is_what_serializing_the_schema_type_gives() {
        for (index, value) in [(0, "0"), (3, "2"), (u64::MAX, "12345678901234567890123")] {
            let position = Position::render(index, value.len(), |out| {
                out.extend_from_slice(value.as_bytes())
            });
            let expected = SequenceValue {
                index,
                value: value.into(),
            };
            assert_eq!(position.json(), expected.to_json_string());
            assert_eq!((position.index(), position.value()), (index, value));
        }
    }
}
