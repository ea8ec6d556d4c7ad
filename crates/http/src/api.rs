//! What a service contributes: its API type, and what the published documents say about it
//! beyond what poem-openapi generates (parameter ranges, response examples).

use std::sync::Arc;

use poem_openapi::OpenApi;
use serde_json::Value;

use crate::ops::Readiness;

/// One math API, as the servers mount it.
pub trait MathApi: OpenApi + Clone + Send + Sync + 'static {
    /// Its name, which is also its path prefix: `fibonacci` serves `/fibonacci/...`.
    const NAME: &'static str;
    /// Title of its OpenAPI document.
    const TITLE: &'static str;
    /// What it computes, for its OpenAPI document (Markdown).
    const DESCRIPTION: &'static str;
    /// The port its own binary listens on by default.
    const DEFAULT_PORT: u16;

    /// The configured range of each path parameter, stated in the OpenAPI document.
    fn bounds(&self) -> Vec<ParamBound>;

    /// Example answers for its OpenAPI document.
    fn examples(&self) -> Vec<ResponseExample> {
        Vec::new()
    }

    /// Rules of request headers it checks itself, stated in its OpenAPI document.
    fn header_rules(&self) -> Vec<HeaderRule> {
        Vec::new()
    }

    /// Operations it serves but its configuration switched off, left out of its document.
    fn withdrawn(&self) -> Vec<Withdrawn> {
        Vec::new()
    }

    /// Its bounds, examples, header rules and withdrawn operations, as its OpenAPI document
    /// states them.
    fn annotations(&self) -> Annotations {
        Annotations {
            bounds: self.bounds(),
            examples: self.examples(),
            headers: self.header_rules(),
            withdrawn: self.withdrawn(),
        }
    }

    /// Dependencies that must be reachable for `/ready` to succeed.
    fn readiness(&self) -> Vec<Arc<dyn Readiness>> {
        Vec::new()
    }
}

/// A path parameter's range: `name` in paths starting with `path_prefix` is `0..=maximum`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamBound {
    pub path_prefix: &'static str,
    pub name: &'static str,
    pub maximum: u64,
    /// The documented example; `None` means `min(maximum, 10)`. Every example must be an
    /// answerable request (Swagger UI's "Try it out" sends the examples together).
    pub example: Option<u64>,
}

/// An example answer of an operation, shown in its OpenAPI document (poem-openapi gives
/// examples per schema only, and one schema, `Problem`, serves every error status).
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseExample {
    /// The published path, e.g. `/fibonacci/next`; every method on it gets the example.
    pub path: &'static str,
    pub status: u16,
    pub value: Value,
}

/// The rule a request header follows: its JSON schema in the published document, so that the
/// document says exactly what the handler accepts (poem-openapi documents a header taken as a
/// `String` as any string).
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderRule {
    /// The header's name as documented, e.g. `Idempotency-Key`.
    pub name: &'static str,
    /// Its schema, e.g. `{"type": "string", "pattern": ...}`.
    pub schema: Value,
}

/// An operation that an API's handlers include but its configuration switched off (e.g. the
/// stepper's `GET` steps): the published document leaves it out, so that everything derived
/// from the document (`Allow`, `OPTIONS`, CORS) leaves it out too. Its handler refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawn {
    /// The published path, e.g. `/fibonacci/next`.
    pub path: &'static str,
    /// The method as the document names it, lower case: `get`.
    pub method: &'static str,
}

/// What the published document adds to the generated one (and takes out of it).
#[derive(Debug, Clone, Default)]
pub struct Annotations {
    /// Ranges of path parameters.
    pub bounds: Vec<ParamBound>,
    /// Example answers.
    pub examples: Vec<ResponseExample>,
    /// Rules of request headers.
    pub headers: Vec<HeaderRule>,
    /// Operations left out.
    pub withdrawn: Vec<Withdrawn>,
}
