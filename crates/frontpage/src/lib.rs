//! The front page at `/`: one calculator per function, the sequence stepper and links to the
//! docs and dashboards, in plain HTML, CSS and JavaScript.
//!
//! Layout: the files live in `assets/` and are compiled into the binary with `include_str!`,
//! so the page needs no build step, no CDN and no files at run time, and works offline. The
//! calculators, the title and the document links are rendered once, at first use, from the
//! list of functions in `configs/functions.json` (generated from the Rust list and checked
//! for drift), so every service binary shows every function without depending on them.
//! [`FrontPage`] is a middleware that answers `/`, `/assets/style.css` and `/assets/app.js`
//! and passes every other request on. (A middleware rather than routes: poem's router
//! gives `/` to an OpenAPI service nested at `/`, which is how every mathapi server mounts
//! its API.)
//! The script is a separate file because the Content-Security-Policy allows no inline script.

use std::sync::LazyLock;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

mod render;

/// The page's template: `<!-- calculators -->`, `<!-- function-list -->` and
/// `<!-- docs-links -->` are filled from the list of functions.
pub const INDEX_TEMPLATE: &str = include_str!("../assets/index.html");
/// The list of functions the page shows (generated: `mathapi functions --json`).
pub const FUNCTIONS_JSON: &str = include_str!("../../../configs/functions.json");
/// The page, rendered from [`INDEX_TEMPLATE`] and [`FUNCTIONS_JSON`].
pub static INDEX_HTML: LazyLock<String> =
    LazyLock::new(|| render::page(INDEX_TEMPLATE, FUNCTIONS_JSON));
/// Its stylesheet, served at [`STYLE_PATH`].
pub const STYLE_CSS: &str = include_str!("../assets/style.css");
/// Its script, served at [`SCRIPT_PATH`].
pub const APP_JS: &str = include_str!("../assets/app.js");

/// Where the stylesheet is served (the page links it by this path).
pub const STYLE_PATH: &str = "/assets/style.css";
/// Where the script is served (the page loads it by this path).
pub const SCRIPT_PATH: &str = "/assets/app.js";

/// Everything the page loads comes from its own origin; no inline script or style, no
/// plugins, no framing, forms and fetches only to the same origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// One file of the page, with its type and the security headers.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    body: &'static str,
    content_type: &'static str,
}

impl Asset {
    /// The page itself.
    pub fn page() -> Asset {
        Asset {
            body: INDEX_HTML.as_str(),
            content_type: "text/html; charset=utf-8",
        }
    }
    /// The stylesheet.
    pub const STYLE: Asset = Asset {
        body: STYLE_CSS,
        content_type: "text/css; charset=utf-8",
    };
    /// The script.
    pub const SCRIPT: Asset = Asset {
        body: APP_JS,
        content_type: "text/javascript; charset=utf-8",
    };

    /// The answer to a GET (full body) or HEAD (headers only).
    fn response(&self, head: bool) -> Response {
        let headers = [
            (header::CONTENT_TYPE, self.content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
            // Small files that change with the binary: revalidating costs one round trip.
            (header::CACHE_CONTROL, "no-cache"),
        ];
        let mut response = match head {
            true => Response::builder()
                .header(header::CONTENT_LENGTH, self.body.len())
                .finish(),
            false => Response::builder().body(self.body),
        };
        for (name, value) in headers {
            response
                .headers_mut()
                .insert(name, HeaderValue::from_static(value));
        }
        response
    }
}

impl Endpoint for Asset {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        match *req.method() {
            Method::GET => Ok(self.response(false)),
            Method::HEAD => Ok(self.response(true)),
            _ => Err(poem::Error::from_status(StatusCode::METHOD_NOT_ALLOWED)),
        }
    }
}

impl Asset {
    /// The file served at `path`, if any.
    pub fn at(path: &str) -> Option<Asset> {
        match path {
            "/" | "" => Some(Asset::page()),
            STYLE_PATH => Some(Asset::STYLE),
            SCRIPT_PATH => Some(Asset::SCRIPT),
            _ => None,
        }
    }
}

/// Serves the page and its files in front of `E`; see the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrontPage;

impl<E: Endpoint> Middleware<E> for FrontPage {
    type Output = FrontPageEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        FrontPageEndpoint { inner }
    }
}

/// The endpoint [`FrontPage`] wraps around an app.
pub struct FrontPageEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for FrontPageEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        match Asset::at(req.uri().path()) {
            Some(asset) => asset.call(req).await,
            None => Ok(self.inner.call(req).await?.into_response()),
        }
    }
}

/// Total bytes of the page and its files, for the docs and the size test.
pub fn total_size() -> usize {
    INDEX_HTML.len() + STYLE_CSS.len() + APP_JS.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_its_own_files() {
        assert!(INDEX_HTML.contains(&format!("href=\"{STYLE_PATH}\"")));
        assert!(INDEX_HTML.contains(&format!("src=\"{SCRIPT_PATH}\"")));
        // The CSP forbids inline script and style: the page must not rely on them.
        assert!(!INDEX_HTML.contains("<script>"), "inline script");
        assert!(!INDEX_HTML.contains("<style"), "inline style");
        assert!(!INDEX_HTML.contains(" style="), "style attribute");
        let handler = |rest: &str| {
            rest.split_once('=').is_some_and(|(name, _)| {
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase())
            })
        };
        assert!(
            !INDEX_HTML.split(" on").skip(1).any(handler),
            "inline event handler"
        );
        for text in [INDEX_HTML.as_str(), STYLE_CSS, APP_JS] {
            assert!(!text.contains("https://"), "external resource");
            assert!(!text.contains("@import"), "imported stylesheet");
        }
    }

    #[test]
    fn every_input_has_a_label() {
        let functions: serde_json::Value = serde_json::from_str(FUNCTIONS_JSON).unwrap();
        let ids: Vec<String> = functions["functions"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|f| {
                f["params"].as_array().unwrap().iter().map(move |p| {
                    format!(
                        "{}-{}",
                        f["name"].as_str().unwrap(),
                        p["name"].as_str().unwrap()
                    )
                })
            })
            .collect();
        assert!(ids.contains(&"ackermann-m".to_string()), "{ids:?}");
        for id in ids {
            assert!(INDEX_HTML.contains(&format!("id=\"{id}\"")), "{id}");
            assert!(INDEX_HTML.contains(&format!("for=\"{id}\"")), "{id}");
        }
    }

    #[test]
    fn the_page_stays_small() {
        // Under 32 KiB uncompressed: one round trip each, no bundler needed.
        assert!(total_size() < 32 * 1024, "{} bytes", total_size());
    }
}
