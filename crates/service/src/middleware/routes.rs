//! Route templates as published in the OpenAPI document, by poem's route pattern: metrics
//! and logs name a route as the document does.

use std::collections::HashMap;
use std::sync::Arc;

/// Published route templates, by poem's route pattern.
///
/// poem-openapi registers `/ackermann/{m}/{n}/` as `/ackermann/:param0/:param1`; this maps
/// that back. Templates are shared (`Arc<str>`), so naming a request's route allocates
/// nothing.
#[derive(Debug, Clone, Default)]
pub struct RouteTemplates(HashMap<String, Arc<str>>);

impl RouteTemplates {
    /// Reads the path templates of an OpenAPI document (JSON).
    pub fn from_spec(spec: &str) -> Self {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let Some(paths) = doc["paths"].as_object() else {
            return RouteTemplates::default();
        };
        let by_pattern = paths
            .keys()
            .map(|template| (poem_pattern(template), Arc::from(template.as_str())))
            .collect();
        RouteTemplates(by_pattern)
    }

    /// The template for poem's `pattern`; `None` when no route matched.
    pub fn template(&self, pattern: &str) -> Option<Arc<str>> {
        if pattern.is_empty() {
            return None;
        }
        if let Some(template) = self.0.get(pattern) {
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
        let (_, template) = self.0.iter().find(|(p, _)| p.starts_with(&prefix))?;
        Some(
            template
                .split('/')
                .take(depth)
                .collect::<Vec<_>>()
                .join("/"),
        )
    }
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
}
