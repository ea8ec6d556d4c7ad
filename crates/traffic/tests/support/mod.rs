//! A real HTTP server for the generator to talk to, answering like the math services.
//!
//! It serves every function of the platform's list at its default limits and applies the
//! services' contract on its own (400 problem+json for bad, missing or not computable arguments,
//! 404 for unknown paths, 405 for wrong methods) and counts what it received, so the tests
//! compare the generator's summary with an independent tally.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mathapi_functions::find;
use poem::http::{Method, StatusCode};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Path;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Response, Route, Server, handler};

/// What the server received.
#[derive(Debug, Default)]
pub struct Tally {
    pub total: AtomicU64,
    pub in_flight: AtomicU64,
    pub max_in_flight: AtomicU64,
    pub statuses: Mutex<BTreeMap<u16, u64>>,
}

impl Tally {
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }

    pub fn statuses(&self) -> BTreeMap<u16, u64> {
        self.statuses.lock().unwrap().clone()
    }
}

/// How the server answers.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// Like the services.
    Faithful,
    /// 200 to everything, whatever the method or path: a broken API.
    AlwaysOk,
}

/// A server running on 127.0.0.1 on a free port.
pub struct TestServer {
    pub addr: SocketAddr,
    pub tally: Arc<Tally>,
}

impl TestServer {
    /// Base URL including `prefix` (e.g. "" or "/api").
    pub fn url(&self, prefix: &str) -> String {
        format!("http://{}{prefix}", self.addr)
    }
}

/// Starts a server with the math routes under `prefix`, each request held for `delay`.
pub async fn start(behaviour: Behaviour, prefix: &str, delay: Duration) -> TestServer {
    let routes = match behaviour {
        Behaviour::Faithful => Route::new().at("/*path", faithful),
        Behaviour::AlwaysOk => Route::new().at("/*path", always_ok),
    };
    let app = if prefix.is_empty() {
        routes
    } else {
        Route::new().nest(prefix, routes)
    };
    let tally = Arc::new(Tally::default());
    let app = counted(app, Arc::clone(&tally), delay);

    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("bind 127.0.0.1:0");
    let addr = *acceptor.local_addr()[0]
        .as_socket_addr()
        .expect("a TCP address");
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    TestServer { addr, tally }
}

fn counted(app: Route, tally: Arc<Tally>, delay: Duration) -> impl Endpoint {
    app.into_endpoint().around(move |ep, req| {
        let tally = Arc::clone(&tally);
        async move {
            tally.total.fetch_add(1, Ordering::SeqCst);
            let now = tally.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            tally.max_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            let response = ep.get_response(req).await;
            tally.in_flight.fetch_sub(1, Ordering::SeqCst);
            *tally
                .statuses
                .lock()
                .unwrap()
                .entry(response.status().as_u16())
                .or_default() += 1;
            Ok(response)
        }
    })
}

/// The services' argument rules, written independently of the generator's plan.
fn parse(arg: &str, max: u64) -> Result<u64, &'static str> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if arg.strip_prefix('-').is_some_and(digits) {
        return Err("negative");
    }
    match arg.parse::<u64>() {
        Ok(v) if v <= max => Ok(v),
        Ok(_) => Err("out_of_range"),
        Err(_) if digits(arg) => Err("too_large_to_parse"),
        Err(_) => Err("not_an_integer"),
    }
}

fn problem(reason: &str, path: &str) -> Response {
    let body = serde_json::json!({
        "type": format!("https://mathapi.dev/problems/{reason}"),
        "title": "Invalid argument",
        "status": 400,
        "detail": reason,
        "instance": path,
        "reason": reason,
    });
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .content_type("application/problem+json")
        .body(body.to_string())
}

fn ok(body: serde_json::Value) -> Response {
    Response::builder()
        .content_type("application/json")
        .body(body.to_string())
}

/// `GET /{name}/{p1}/.../` of a listed function: 200, or 400 for a bad, missing or not
/// computable argument; 405 for another method; 404 for anything else.
#[handler]
fn faithful(method: Method, Path(path): Path<String>) -> Response {
    let not_found = || Response::builder().status(StatusCode::NOT_FOUND).finish();
    let Some(path) = path.trim_start_matches('/').strip_suffix('/') else {
        return not_found();
    };
    let mut segments = path.split('/');
    let Some(entry) = segments.next().and_then(find) else {
        return not_found();
    };
    let given: Vec<&str> = segments.collect();
    let params = entry.description.params;
    if given.len() > params.len() || given.iter().any(|s| s.is_empty()) {
        return not_found();
    }
    if method != Method::GET {
        return Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .finish();
    }
    let instance = format!("/{}", entry.name());
    if given.len() < params.len() {
        return problem("missing_argument", &instance);
    }
    let mut args = Vec::new();
    for (arg, param) in given.iter().zip(params) {
        match parse(arg, param.default_max) {
            Ok(value) => args.push(value),
            Err(reason) => return problem(reason, &instance),
        }
    }
    if !entry.computable(&args) {
        return problem("not_computable", &instance);
    }
    ok(serde_json::json!({ "args": args }))
}

#[handler]
fn always_ok() -> Response {
    ok(serde_json::json!({ "result": "0" }))
}

/// A local port with nothing listening on it.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
