//! Route templates as published in the OpenAPI document, by poem's route pattern: metrics
//! and logs name a route as the document does, and the methods the document gives a path are
//! the one list that decides which methods are served there and what `Allow` says.

use std::collections::HashMap;
use std::sync::Arc;

/// Published route templates, by poem's route pattern.
///
/// poem-openapi registers `/ackermann/{m}/{n}/` as `/ackermann/:param0/:param1`; this maps
/// that back. Templates are shared (`Arc<str>`), so naming a request's route allocates
/// nothing.
#[derive(Debug, Clone, Default)]
pub struct RouteTemplates {
    by_pattern: HashMap<String, Arc<str>>,
    /// Each published template's segments, with the `Allow` value of its methods and the
    /// template itself.
    allowed: Vec<(Vec<String>, String, Arc<str>)>,
    /// The `Allow` value of the server as a whole (`OPTIONS *`): every method some path takes.
    server_wide: String,
}

/// Methods in the order an `Allow` header lists them.
const METHODS: [&str; 8] = [
    "get", "head", "post", "put", "patch", "delete", "options", "trace",
];

impl RouteTemplates {
    /// Reads the path templates of an OpenAPI document (JSON), and their methods.
    pub fn from_spec(spec: &str) -> Self {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let Some(paths) = doc["paths"].as_object() else {
            return RouteTemplates::default();
        };
        let by_pattern = paths
            .keys()
            .map(|template| (poem_pattern(template), Arc::from(template.as_str())))
            .collect();
        let allowed: Vec<(Vec<String>, String, Arc<str>)> = paths
            .iter()
            .map(|(template, item)| {
                let shared = Arc::from(template.as_str());
                (segments(template), allow_value(item), shared)
            })
            .collect();
        let server_wide = server_wide(allowed.iter().map(|(_, allow, _)| allow.as_str()));
        RouteTemplates {
            by_pattern,
            allowed,
            server_wide,
        }
    }

    /// The `Allow` value of the server as a whole, for `OPTIONS *`: every method some
    /// published path takes (`OPTIONS` alone when none is published).
    pub fn server_wide(&self) -> &str {
        if self.server_wide.is_empty() {
            return "OPTIONS";
        }
        &self.server_wide
    }

    /// Whether some published path takes `method` (any method when none is published).
    pub fn is_served_somewhere(&self, method: &str) -> bool {
        self.allowed.is_empty() || self.server_wide.split(", ").any(|m| m == method)
    }

    /// Whether `method` is served on `path`: `None` for an unpublished path (the routes
    /// decide), else whether [`RouteTemplates::allowed`] lists it.
    pub fn permits(&self, path: &str, method: &str) -> Option<bool> {
        self.allowed(path)
            .map(|allow| allow.split(", ").any(|listed| listed == method))
    }

    /// The `Allow` value for a request path: the methods published for the template it
    /// matches, `OPTIONS`, and `HEAD` wherever `GET` is safe (poem answers `HEAD` with the
    /// `GET` handler; on a path that also takes `POST` the `GET` changes state, so `HEAD` is
    /// refused there); or those of the published template it is a prefix of (poem's hidden
    /// routes, e.g. `/ackermann/{m}`, which answer "n is missing"). `None` for an
    /// unpublished path.
    pub fn allowed(&self, path: &str) -> Option<String> {
        let path = segments(path);
        self.exact_match(&path)
            .or_else(|| {
                self.allowed.iter().find(|(template, _, _)| {
                    template.len() > path.len() && matches(template, &path)
                })
            })
            .map(|(_, allow, _)| allow.clone())
    }

    /// The published template a request path matches exactly; `None` for any other path
    /// (documentation, operational endpoints, unknown paths).
    pub fn published(&self, path: &str) -> Option<Arc<str>> {
        self.exact_match(&segments(path))
            .map(|(_, _, template)| template.clone())
    }

    /// `/fibonacci/next` matches `/fibonacci/{n}/` too: the most literal template wins.
    fn exact_match(&self, path: &[String]) -> Option<&(Vec<String>, String, Arc<str>)> {
        self.allowed
            .iter()
            .filter(|(template, _, _)| template.len() == path.len() && matches(template, path))
            .max_by_key(|(template, _, _)| template.iter().filter(|t| !t.starts_with('{')).count())
    }

    /// The template for poem's `pattern`; `None` when no route matched.
    pub fn template(&self, pattern: &str) -> Option<Arc<str>> {
        if pattern.is_empty() {
            return None;
        }
        if let Some(template) = self.by_pattern.get(pattern) {
            return Some(template.clone());
        }
        self.prefix_of_published(pattern)
            .or_else(|| route_template(pattern))
            .map(Arc::from)
    }

    /// A hidden route that is a prefix of a published one (`/ackermann/:param0`, which
    /// answers "n is missing") takes its parameter names from that route.
    fn prefix_of_published(&self, pattern: &str) -> Option<String> {
        if !pattern.contains(":param") {
            return None;
        }
        let prefix = format!("{pattern}/");
        let depth = pattern.split('/').count();
        let (_, template) = self
            .by_pattern
            .iter()
            .find(|(p, _)| p.starts_with(&prefix))?;
        Some(
            template
                .split('/')
                .take(depth)
                .collect::<Vec<_>>()
                .join("/"),
        )
    }
}

/// A path's non-empty segments: `/fibonacci/10/` and `/fibonacci/10` are one path.
fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether `path` matches the first segments of `template` (`{n}` matches any segment).
fn matches(template: &[String], path: &[String]) -> bool {
    template
        .iter()
        .zip(path)
        .all(|(t, p)| t == p || t.starts_with('{'))
}

/// The `Allow` value of a path item of the document: its methods, `OPTIONS`, and `HEAD`
/// where its `GET` is safe (a path that takes `POST` changes state; its `GET` too).
fn allow_value(item: &serde_json::Value) -> String {
    let published = |m: &str| item.get(m).is_some();
    let head = published("get") && !published("post");
    let listed: Vec<String> = METHODS
        .iter()
        .filter(|&&m| published(m) || (m == "head" && head) || m == "options")
        .map(|m| m.to_ascii_uppercase())
        .collect();
    listed.join(", ")
}

/// Every method of the `Allow` values `allows`, in [`METHODS`] order.
fn server_wide<'a>(allows: impl Iterator<Item = &'a str> + Clone) -> String {
    let listed: Vec<String> = METHODS
        .iter()
        .map(|m| m.to_ascii_uppercase())
        .filter(|m| {
            allows
                .clone()
                .any(|allow| allow.split(", ").any(|a| a == m))
        })
        .collect();
    listed.join(", ")
}

/// The pattern poem-openapi registers for a published template:
/// `/ackermann/{m}/{n}/` → `/ackermann/:param0/:param1`.
fn poem_pattern(template: &str) -> String {
    let mut index = 0;
    let segments: Vec<String> = template
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| match s.starts_with('{') {
            true => {
                index += 1;
                format!(":param{}", index - 1)
            }
            false => s.to_owned(),
        })
        .collect();
    format!("/{}", segments.join("/"))
}

/// poem's route pattern (`/fibonacci/:n`) in OpenAPI/semantic-convention form
/// (`/fibonacci/{n}`); `None` when no route matched.
fn route_template(pattern: &str) -> Option<String> {
    if pattern.is_empty() {
        return None;
    }
    let segments: Vec<String> = pattern
        .split('/')
        .map(|s| match s.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => s.to_owned(),
        })
        .collect();
    Some(segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_templates_use_braces() {
        assert_eq!(
            route_template("/ackermann/:m/:n/").as_deref(),
            Some("/ackermann/{m}/{n}/")
        );
        assert_eq!(route_template("/health").as_deref(), Some("/health"));
        assert_eq!(route_template(""), None);
    }

    #[test]
    fn published_templates_replace_poem_openapi_parameter_names() {
        let spec = r#"{"paths": {"/ackermann/{m}/{n}/": {}, "/health": {}}}"#;
        let routes = RouteTemplates::from_spec(spec);
        let template = |p: &str| routes.template(p).map(|t| t.to_string());
        assert_eq!(
            template("/ackermann/:param0/:param1").as_deref(),
            Some("/ackermann/{m}/{n}/")
        );
        assert_eq!(template("/health").as_deref(), Some("/health"));
        assert_eq!(
            template("/fibonacci/docs").as_deref(),
            Some("/fibonacci/docs")
        );
        assert_eq!(
            template("/ackermann/:param0").as_deref(),
            Some("/ackermann/{m}")
        );
        assert_eq!(template(""), None);
    }

    #[test]
    fn allow_lists_the_published_methods_of_the_matching_path() {
        let spec = r#"{"paths": {
            "/ackermann/{m}/{n}/": {"get": {}},
            "/fibonacci/next": {"post": {}, "get": {}},
            "/fibonacci/reset": {"post": {}},
            "/fibonacci/{n}/": {"get": {}}
        }}"#;
        let routes = RouteTemplates::from_spec(spec);
        let allowed = |p: &str| routes.allowed(p);
        assert_eq!(
            allowed("/ackermann/3/4/").as_deref(),
            Some("GET, HEAD, OPTIONS")
        );
        assert_eq!(
            allowed("/ackermann/3").as_deref(),
            Some("GET, HEAD, OPTIONS")
        );
        // Its GET steps: HEAD must not, so it is not served there.
        assert_eq!(
            allowed("/fibonacci/next").as_deref(),
            Some("GET, POST, OPTIONS")
        );
        assert_eq!(routes.permits("/fibonacci/next", "HEAD"), Some(false));
        assert_eq!(routes.permits("/fibonacci/10/", "HEAD"), Some(true));
        assert_eq!(routes.permits("/docs", "HEAD"), None);
        assert_eq!(routes.server_wide(), "GET, HEAD, POST, OPTIONS");
        assert_eq!(
            allowed("/fibonacci/reset").as_deref(),
            Some("POST, OPTIONS")
        );
        assert_eq!(
            allowed("/fibonacci/10").as_deref(),
            Some("GET, HEAD, OPTIONS")
        );
        assert_eq!(allowed("/nothing/here"), None);
    }

    #[test]
    fn published_finds_the_template_a_path_matches_exactly() {
        let spec =
            r#"{"paths": {"/fibonacci/next": {"post": {}}, "/fibonacci/{n}/": {"get": {}}}}"#;
        let routes = RouteTemplates::from_spec(spec);
        let published = |p: &str| routes.published(p).map(|t| t.to_string());
        assert_eq!(
            published("/fibonacci/10/").as_deref(),
            Some("/fibonacci/{n}/")
        );
        assert_eq!(
            published("/fibonacci/10").as_deref(),
            Some("/fibonacci/{n}/")
        );
        assert_eq!(
            published("/fibonacci/next").as_deref(),
            Some("/fibonacci/next")
        );
        assert_eq!(published("/fibonacci"), None);
        assert_eq!(published("/fibonacci/1/2"), None);
        assert_eq!(published("/health"), None);
    }
}
