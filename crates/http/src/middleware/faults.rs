//! Injected latency and errors for demonstrations (docs/stack.md), mounted only in a process
//! started with a fault file.

use std::future::Future;
use std::sync::Arc;

use futures_util::future::Either;
use mathapi_faults::{FaultSwitch, Injected};
use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Middleware, Request};

use super::routes::RouteTemplates;
use super::{Answered, Wrapped};
use crate::docs;
use crate::problem::Problem;
use crate::request_log::RequestRecord;

/// Delays or fails the requests to the published routes of a function with a fault (not its
/// documentation), as the fault switch draws them; the answer's log line names the fault.
pub(crate) struct InjectFaults {
    switch: FaultSwitch,
    routes: Arc<RouteTemplates>,
}

impl InjectFaults {
    pub(crate) fn new(switch: &FaultSwitch, routes: &Arc<RouteTemplates>) -> Self {
        InjectFaults {
            switch: switch.clone(),
            routes: routes.clone(),
        }
    }

    /// The faults to inject into a request to `path`, with its function and route; `None`
    /// when there are none.
    fn faults_for(&self, path: &str) -> Option<(&'static str, Arc<str>, Injected)> {
        if docs::is_documentation(path) {
            return None;
        }
        let route = self.routes.published(path)?;
        let function = self
            .switch
            .function(route.split('/').find(|s| !s.is_empty())?)?;
        let injected = self.switch.draw(function);
        injected
            .label()
            .is_some()
            .then_some((function, route, injected))
    }
}

impl<E: Endpoint<Output = Answered>> Middleware<E> for InjectFaults {
    type Output = Wrapped<InjectFaults, E>;

    fn transform(&self, inner: E) -> Self::Output {
        Wrapped {
            layer: InjectFaults::new(&self.switch, &self.routes),
            inner,
        }
    }
}

impl<E: Endpoint<Output = Answered>> Endpoint for Wrapped<InjectFaults, E> {
    type Output = Answered;

    fn call(&self, req: Request) -> impl Future<Output = poem::Result<Answered>> + Send {
        match self.layer.faults_for(req.uri().path()) {
            None => Either::Left(self.inner.call(req)),
            Some(faults) => Either::Right(self.injected(req, faults)),
        }
    }
}

impl<E: Endpoint<Output = Answered>> Wrapped<InjectFaults, E> {
    /// The answer to a request with faults: later, or an error instead.
    async fn injected(
        &self,
        req: Request,
        (function, route, injected): (&'static str, Arc<str>, Injected),
    ) -> poem::Result<Answered> {
        if let Some(latency) = injected.latency {
            tokio::time::sleep(latency).await;
        }
        if injected.error {
            return Ok(injected_error(req.uri().path(), function, route, injected));
        }
        let mut answered = self.inner.call(req).await?;
        answered.record.fault = injected.label();
        Ok(answered)
    }
}

/// The answer to a request a fault was injected into: a `500` problem document, logged and
/// counted like any other server error.
fn injected_error(
    path: &str,
    function: &'static str,
    route: Arc<str>,
    injected: Injected,
) -> Answered {
    let problem = Problem::typed(
        StatusCode::INTERNAL_SERVER_ERROR,
        "injected_fault",
        "Injected fault",
        "an error injected for a demonstration by this server's fault file",
    )
    .with_instance(path);
    let record = RequestRecord {
        function: Some(function),
        fault: injected.label(),
        ..RequestRecord::of_problem(&problem)
    };
    Answered {
        response: problem.into_response(),
        record,
        route: Some(route),
    }
}
