//! The API of one function, from its description: `GET /{name}/{p1}/.../` answering
//! `{"p1": .., ..., "result": "<decimal>"}`, refusals as problem documents, and the same
//! OpenAPI operation, schema and tag a hand-written poem-openapi API would publish.
//!
//! poem-openapi's `#[OpenApi]` macro needs literal paths, so the trait is implemented here
//! by hand, once, for every function: [`OpenApi::meta`] and [`OpenApi::register`] describe
//! the operation, [`OpenApi::add_routes`] mounts the handler (and, hidden from the document,
//! the shorter paths that answer `400 missing_argument` with the right usage).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::marker::PhantomData;
use std::sync::Arc;

use mathapi_http::{Call, MathApi, ParamBound, ProblemResponse};
use mathapi_telemetry::Metrics;
use poem::endpoint::BoxEndpoint;
use poem::error::IntoResult;
use poem::http::Method;
use poem::{EndpointExt, IntoResponse, Request, Response};
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{
    MetaApi, MetaMediaType, MetaOperation, MetaOperationParam, MetaParamIn, MetaPath,
    MetaResponses, MetaSchema, MetaSchemaRef, MetaTag, Registry,
};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, OpenApi, OperationId};

use crate::description::{Description, Function};
use crate::limits::Limits;

/// The API of the function `F`, with its configured limits.
pub struct FunctionApi<F> {
    inner: Arc<Inner>,
    function: PhantomData<fn() -> F>,
}

struct Inner {
    maxima: Vec<u64>,
    metrics: Metrics,
    /// `/{name}/{p1}/.../`: the usage a refusal for a missing argument names.
    usage: &'static str,
    /// `/{name}/`: where the parameter bounds apply in the documents.
    prefix: &'static str,
}

impl<F> Clone for FunctionApi<F> {
    fn clone(&self) -> Self {
        FunctionApi {
            inner: self.inner.clone(),
            function: PhantomData,
        }
    }
}

impl<F: Function> FunctionApi<F> {
    /// The API with `F`'s maxima from `limits`.
    pub fn new<C>(limits: &Limits<C>, metrics: &Metrics) -> Self {
        Self::with_maxima(limits.maxima(&crate::Entry::of::<F>()), metrics)
    }

    /// The API with these maxima, one per parameter in path order.
    pub fn with_maxima(maxima: impl Into<Vec<u64>>, metrics: &Metrics) -> Self {
        let description = F::DESCRIPTION;
        let maxima = maxima.into();
        assert_eq!(
            maxima.len(),
            description.params.len(),
            "one maximum per parameter"
        );
        FunctionApi {
            inner: Arc::new(Inner {
                maxima,
                metrics: metrics.clone(),
                // Once per API built (a server builds each once): the documents and
                // problem types hold `&'static str`.
                usage: Box::leak(description.route().into_boxed_str()),
                prefix: Box::leak(format!("/{}/", description.name).into_boxed_str()),
            }),
            function: PhantomData,
        }
    }

    /// The configured maximum of each parameter, in path order.
    pub fn maxima(&self) -> &[u64] {
        &self.inner.maxima
    }

    /// Answers `GET /{name}/{raw...}/`: parses, computes (under the compute limit when
    /// heavy) and renders; refusals are counted and noted on the log line.
    async fn answer(&self, raw: &[&str]) -> Result<Response, ProblemResponse> {
        let description = F::DESCRIPTION;
        let call = Call::new(
            description.name,
            &arguments(description, raw),
            &self.inner.metrics,
        );
        let mut args = Vec::with_capacity(raw.len());
        for ((param, raw), max) in description.params.iter().zip(raw).zip(&self.inner.maxima) {
            args.push(call.argument(param.name, raw, *max)?);
        }
        let cost = F::cost(&args);
        let result = {
            let args = args.clone();
            let function = crate::Entry::of::<F>();
            call.compute(cost, move || function.result(&args)).await?
        };
        Ok(document(description, &args, &result))
    }

    /// Answers a path that stops before parameter `given.len()`: `400 missing_argument`.
    fn missing(&self, given: &[&str]) -> ProblemResponse {
        let description = F::DESCRIPTION;
        let call = Call::new(
            description.name,
            &arguments(description, given),
            &self.inner.metrics,
        );
        call.missing(description.params[given.len()].name, self.inner.usage)
    }

    fn endpoint(self, given: usize) -> BoxEndpoint<'static> {
        let complete = given == F::DESCRIPTION.params.len();
        poem::endpoint::make(move |request: Request| {
            let api = self.clone();
            async move {
                let raw: Vec<&str> = PARAM_NAMES[..given]
                    .iter()
                    .map(|name| request.raw_path_param(name).unwrap_or_default())
                    .collect();
                let answer = if complete {
                    api.answer(&raw).await
                } else {
                    Err(api.missing(&raw))
                };
                answer.into_result().map(IntoResponse::into_response)
            }
        })
        .after(|mut result| async move {
            let id = OperationId(F::DESCRIPTION.name);
            match &mut result {
                Ok(response) => response.set_data(id),
                Err(error) => error.set_data(id),
            }
            result
        })
        .boxed()
    }
}

/// The raw arguments as the log line gives them: `m=3,n=4`.
fn arguments(description: &Description, raw: &[&str]) -> String {
    let mut out = String::new();
    for (param, raw) in description.params.iter().zip(raw) {
        if !out.is_empty() {
            out.push(',');
        }
        let _ = write!(out, "{}={raw}", param.name);
    }
    out
}

/// The `200` answer: `{"<param>": <value>, ..., "result": "<decimal>"}`, as the published
/// schema orders it.
fn document(description: &Description, args: &[u64], result: &str) -> Response {
    Response::builder()
        .content_type(Json::<serde_json::Value>::CONTENT_TYPE)
        .body(render(description, args, result))
}

/// The JSON document of an answer (also what `--json` prints on the command line).
pub(crate) fn render(description: &Description, args: &[u64], result: &str) -> String {
    let mut body = String::with_capacity(result.len() + 16 * args.len() + 16);
    body.push('{');
    for (param, value) in description.params.iter().zip(args) {
        let _ = write!(body, "\"{}\":{value},", param.name);
    }
    // A decimal string needs no escaping.
    let _ = write!(body, "\"result\":\"{result}\"}}");
    body
}

/// poem's names of the path parameters, as poem-openapi names them (`:param0`, ...), which
/// the middleware maps back to the published templates.
const PARAM_NAMES: [&str; 4] = ["param0", "param1", "param2", "param3"];

/// The poem path of the first `given` parameters: `/ackermann/:param0/:param1` when complete,
/// `/ackermann/:param0` when one is given. (Without the trailing slash, as poem-openapi
/// registers its routes: the middleware normalizes request paths.)
fn poem_path(description: &Description, given: usize) -> String {
    let mut path = format!("/{}", description.name);
    for name in &PARAM_NAMES[..given] {
        let _ = write!(path, "/:{name}");
    }
    path
}

impl<F: Function> OpenApi for FunctionApi<F> {
    fn meta() -> Vec<MetaApi> {
        let description = F::DESCRIPTION;
        let params = description
            .params
            .iter()
            .map(|param| MetaOperationParam {
                name: param.name.to_string(),
                schema: String::schema_ref(),
                in_type: MetaParamIn::Path,
                description: None,
                required: true,
                deprecated: false,
                explode: true,
                style: None,
            })
            .collect();
        let mut responses = <Json<serde_json::Value> as ApiResponse>::meta();
        for response in &mut responses.responses {
            response.content = vec![MetaMediaType {
                content_type: Json::<serde_json::Value>::CONTENT_TYPE,
                schema: MetaSchemaRef::Reference(description.result_schema.0.to_string()),
            }];
        }
        responses
            .responses
            .extend(<ProblemResponse as ApiResponse>::meta().responses);
        vec![MetaApi {
            paths: vec![MetaPath {
                path: description.route(),
                operations: vec![MetaOperation {
                    tags: vec![description.tag.0],
                    method: Method::GET,
                    summary: Some(description.summary),
                    description: Some(description.details),
                    external_docs: None,
                    params,
                    request: None,
                    responses: MetaResponses {
                        responses: responses.responses,
                    },
                    deprecated: false,
                    security: Vec::new(),
                    operation_id: Some(description.name),
                    code_samples: Vec::new(),
                }],
            }],
        }]
    }

    fn register(registry: &mut Registry) {
        let description = F::DESCRIPTION;
        registry.tags.insert(MetaTag {
            name: description.tag.0,
            description: Some(description.tag.1),
            external_docs: None,
        });
        <ProblemResponse as ApiResponse>::register(registry);
        let mut properties: Vec<(&'static str, MetaSchemaRef)> = description
            .params
            .iter()
            .map(|param| {
                let schema = MetaSchema {
                    description: Some(param.description),
                    ..MetaSchema::new_with_format("integer", "uint64")
                };
                (param.name, MetaSchemaRef::Inline(Box::new(schema)))
            })
            .collect();
        properties.push((
            "result",
            MetaSchemaRef::Inline(Box::new(MetaSchema {
                description: Some(description.result_description),
                ..MetaSchema::new("string")
            })),
        ));
        let example = serde_json::from_str(&render(
            description,
            description.example.args,
            description.example.result,
        ))
        .ok();
        let schema = MetaSchema {
            rust_typename: Some(description.result_schema.0),
            description: Some(description.result_schema.1),
            required: properties.iter().map(|(name, _)| *name).collect(),
            properties,
            example,
            ..MetaSchema::new("object")
        };
        registry
            .schemas
            .insert(description.result_schema.0.to_string(), schema);
    }

    fn add_routes(self, route_table: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {
        let description = F::DESCRIPTION;
        assert!(
            description.params.len() <= PARAM_NAMES.len(),
            "{}: at most {} parameters",
            description.name,
            PARAM_NAMES.len()
        );
        for given in 0..=description.params.len() {
            route_table
                .entry(poem_path(description, given))
                .or_default()
                .insert(Method::GET, self.clone().endpoint(given));
        }
    }
}

impl<F: Function> MathApi for FunctionApi<F> {
    const NAME: &'static str = F::DESCRIPTION.name;
    const TITLE: &'static str = F::DESCRIPTION.title;
    const DESCRIPTION: &'static str = F::DESCRIPTION.document;
    const DEFAULT_PORT: u16 = F::DESCRIPTION.default_port;

    fn bounds(&self) -> Vec<ParamBound> {
        let description = F::DESCRIPTION;
        let maxima = &self.inner.maxima;
        let mut examples: Vec<u64> = maxima.iter().map(|max| (*max).min(10)).collect();
        // The documented example of the last parameter must make the documented call
        // computable with the others' (Swagger UI's "Try it out" sends them together).
        if let Some((last, prefix)) = examples.split_last_mut() {
            *last = (*last).min(F::max_computable_last(prefix).unwrap_or(0));
        }
        description
            .params
            .iter()
            .zip(maxima)
            .zip(examples)
            .map(|((param, max), example)| ParamBound {
                path_prefix: self.inner.prefix,
                name: param.name,
                maximum: *max,
                example: Some(example),
            })
            .collect()
    }
}
