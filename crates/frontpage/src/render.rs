//! Rendering the page's template from the list of functions: a calculator per function, the
//! list of their headings in the title and introduction, and a link to each one's document.

use std::fmt::Write as _;

use serde::Deserialize;

#[derive(Deserialize)]
struct Catalog {
    functions: Vec<Function>,
}

#[derive(Deserialize)]
struct Function {
    name: String,
    route: String,
    params: Vec<Param>,
    page: Page,
}

#[derive(Deserialize)]
struct Param {
    name: String,
}

#[derive(Deserialize)]
struct Page {
    heading: String,
    formula: String,
    hint: String,
    initial: Vec<u64>,
}

/// The page: `template` with its placeholders filled from `functions_json`.
///
/// # Panics
/// If `functions_json` is not the list's JSON form: it is compiled in, and its shape is
/// checked by the tests.
pub(crate) fn page(template: &str, functions_json: &str) -> String {
    let catalog: Catalog = serde_json::from_str(functions_json).expect("configs/functions.json");
    let headings: Vec<&str> = catalog
        .functions
        .iter()
        .map(|f| f.page.heading.as_str())
        .collect();
    let calculators: String = catalog.functions.iter().map(calculator).collect();
    let links: Vec<String> = catalog
        .functions
        .iter()
        .map(|f| {
            format!(
                "<a href=\"/{}/docs\">{}</a>",
                escape(&f.name),
                escape(&f.page.heading)
            )
        })
        .collect();
    template
        .replace("<!-- calculators -->\n", &calculators)
        .replace("<!-- function-list -->", &escape(&english_list(&headings)))
        .replace("<!-- docs-links -->", &links.join(", "))
}

/// `a`, `a and b`, `a, b and c`.
fn english_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// One calculator: a form whose inputs are the function's parameters; its script reads the
/// route and formula from the form's data attributes.
fn calculator(function: &Function) -> String {
    let name = escape(&function.name);
    let page = &function.page;
    let mut fields = String::new();
    for (param, initial) in function.params.iter().zip(&page.initial) {
        let id = format!("{name}-{}", escape(&param.name));
        let _ = write!(
            fields,
            "        <div class=\"field\">\n          <label for=\"{id}\">{label}</label>\n          \
             <input id=\"{id}\" name=\"{label}\" inputmode=\"numeric\" autocomplete=\"off\" \
             value=\"{initial}\" aria-describedby=\"{name}-hint\">\n        </div>\n",
            label = escape(&param.name),
        );
    }
    let fields = if function.params.len() > 1 {
        format!("      <div class=\"field-row\">\n{fields}      </div>\n")
    } else {
        fields
            .replace("\n        ", "\n      ")
            .replacen("        <div", "      <div", 1)
    };
    format!(
        "    <form id=\"{name}-form\" class=\"card\" data-function=\"{name}\" data-route=\"{route}\" \
         data-formula=\"{formula}\" novalidate>\n      <h2>{heading} <span class=\"formula\">{formula}</span></h2>\n\
         {fields}      <p id=\"{name}-hint\" class=\"hint\">{hint}</p>\n      \
         <button type=\"submit\">Compute {formula}</button>\n    </form>\n",
        route = escape(&function.route),
        formula = escape(&page.formula),
        heading = escape(&page.heading),
        hint = escape(&page.hint),
    )
}

/// Text made safe for HTML content and double-quoted attributes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"{"functions": [{"name": "square", "route": "/square/{n}/",
        "params": [{"name": "n"}], "page": {"heading": "Square", "formula": "n²",
        "hint": "n × n", "initial": [7]}}]}"#;

    #[test]
    fn a_function_gets_a_calculator_a_title_and_a_link() {
        let html = page(
            "<title><!-- function-list --></title>\n<!-- calculators -->\n<!-- docs-links -->",
            ONE,
        );
        assert!(html.contains("<title>Square</title>"), "{html}");
        assert!(html.contains("id=\"square-form\""), "{html}");
        assert!(html.contains("data-route=\"/square/{n}/\""), "{html}");
        assert!(html.contains("<label for=\"square-n\">n</label>"), "{html}");
        assert!(html.contains("value=\"7\""), "{html}");
        assert!(
            html.contains("<a href=\"/square/docs\">Square</a>"),
            "{html}"
        );
        assert!(!html.contains("<!--"), "{html}");
    }

    #[test]
    fn lists_read_as_english() {
        assert_eq!(english_list(&["a"]), "a");
        assert_eq!(english_list(&["a", "b"]), "a and b");
        assert_eq!(english_list(&["a", "b", "c"]), "a, b and c");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&"),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
    }
}
