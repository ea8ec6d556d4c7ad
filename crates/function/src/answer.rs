//! One answer computed in this process, with the API's own parsing, limits and document, so
//! the command line and the API agree on every answer and every error message.

use mathapi_http::{ArgumentError, parse_argument};

use crate::api::render;
use crate::description::Entry;

/// A computed value: the bare decimal and the API's JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The result, e.g. `55`.
    pub decimal: String,
    /// The document `GET /{name}/.../` answers, e.g. `{"n":10,"result":"55"}`.
    pub document: String,
}

/// Computes `function` of the raw arguments within `maxima` (one per parameter).
pub(crate) fn answer(
    function: &Entry,
    raw: &[String],
    maxima: &[u64],
) -> Result<Answer, ArgumentError> {
    let description = function.description;
    let mut args = Vec::with_capacity(raw.len());
    for ((param, raw), max) in description.params.iter().zip(raw).zip(maxima) {
        args.push(parse_argument(param.name, raw, *max)?);
    }
    let decimal = function.result(&args)?;
    Ok(Answer {
        document: render(description, &args, &decimal),
        decimal,
    })
}
