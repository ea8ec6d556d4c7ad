//! The Ackermann service: `GET /ackermann/{m}/{n}/`.

use mathapi_http::{ArgumentError, Call, Cost, MathApi, ParamBound, ProblemResponse};
use mathapi_math::{ackermann, max_computable_n};
use mathapi_telemetry::Metrics;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi, Tags};

/// The largest `m` any configuration may allow. Row 4 is computable only for n ≤ 2
/// (A(4, 2) = 2^65536 − 3); larger arguments there are refused as not computable.
pub const HARD_MAX_M: u64 = 4;
/// The largest `n` any configuration may allow: A(3, 100 000) = 2^100003 − 3 has 30 104
/// digits and is rendered in about a millisecond.
pub const HARD_MAX_N: u64 = 100_000;
/// The largest n of row 3 computed inline on the async worker: A(3, 3 000) has 905 digits
/// and takes tens of microseconds, about what handing it to the blocking pool costs (see
/// docs/reliability.md).
const CHEAP_MAX_N_ROW_3: u64 = 3_000;

/// Where A(m, n) is computed: rows 0–2, small row-3 values and the small row-4 values
/// inline; the rest (A(4, 2) has 19 729 digits) under the compute limit.
fn cost(m: u64, n: u64) -> Cost {
    match (m, n) {
        (0..=2, _) | (4, 0..=1) | (5.., _) => Cost::Cheap,
        (3, n) if n <= CHEAP_MAX_N_ROW_3 => Cost::Cheap,
        _ => Cost::Heavy,
    }
}

/// The Ackermann service's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct AckermannArgs {
    /// Largest m that ackermann accepts (at most 4).
    #[arg(
        id = "ackermann_max_m",
        long = "ackermann-max-m",
        env = "MATHAPI_ACKERMANN_MAX_M",
        default_value_t = 3,
        value_parser = clap::value_parser!(u64).range(0..=HARD_MAX_M)
    )]
    pub max_m: u64,

    /// Largest n that ackermann accepts (at most 100000).
    #[arg(
        id = "ackermann_max_n",
        long = "ackermann-max-n",
        env = "MATHAPI_ACKERMANN_MAX_N",
        default_value_t = 4,
        value_parser = clap::value_parser!(u64).range(0..=HARD_MAX_N)
    )]
    pub max_n: u64,
}

impl Default for AckermannArgs {
    fn default() -> Self {
        AckermannArgs { max_m: 3, max_n: 4 }
    }
}

#[derive(Tags)]
enum AckermannTags {
    /// The Ackermann–Péter function.
    Ackermann,
}

/// A value of the Ackermann function.
#[derive(Debug, Object)]
#[oai(example)]
pub struct AckermannResult {
    /// The first argument.
    pub m: u64,
    /// The second argument.
    pub n: u64,
    /// A(m, n), exact, as a decimal string.
    pub result: String,
}

impl Example for AckermannResult {
    fn example() -> Self {
        AckermannResult {
            m: 2,
            n: 3,
            result: "9".into(),
        }
    }
}

/// The Ackermann API.
#[derive(Clone)]
pub struct AckermannApi {
    max_m: u64,
    max_n: u64,
    metrics: Metrics,
}

const USAGE: &str = "/ackermann/{m}/{n}/";

impl AckermannApi {
    pub fn new(args: &AckermannArgs, metrics: &Metrics) -> Self {
        AckermannApi {
            max_m: args.max_m,
            max_n: args.max_n,
            metrics: metrics.clone(),
        }
    }

    async fn answer(
        &self,
        raw_m: &str,
        raw_n: &str,
    ) -> Result<Json<AckermannResult>, ProblemResponse> {
        let call = Call::new("ackermann", &format!("m={raw_m},n={raw_n}"), &self.metrics);
        let m = call.argument("m", raw_m, self.max_m)?;
        let n = call.argument("n", raw_n, self.max_n)?;
        let result = call
            .compute(cost(m, n), move || {
                ackermann(m, n)
                    .map(|value| value.to_string())
                    .map_err(|e| ArgumentError::NotComputable(e.to_string()))
            })
            .await?;
        Ok(Json(AckermannResult { m, n, result }))
    }

    /// The n documented with the largest allowed m: at most 10, and A(max m, n) exists.
    fn example_n(&self) -> u64 {
        let m = self.max_m.min(10);
        let computable = max_computable_n(m).unwrap_or(0);
        self.max_n.min(10).min(computable)
    }

    fn missing(&self, raw_m: Option<&str>) -> Result<Json<AckermannResult>, ProblemResponse> {
        let arguments = raw_m.map(|m| format!("m={m}")).unwrap_or_default();
        let call = Call::new("ackermann", &arguments, &self.metrics);
        Err(call.missing(if raw_m.is_some() { "n" } else { "m" }, USAGE))
    }
}

#[OpenApi(tag = "AckermannTags::Ackermann")]
impl AckermannApi {
    /// The Ackermann function A(m, n)
    ///
    /// A(0, n) = n + 1, A(m, 0) = A(m − 1, 1), A(m, n) = A(m − 1, A(m, n − 1)), computed
    /// exactly from closed forms. A(4, n) exists only for n ≤ 2 (A(4, 2) = 2^65536 − 3;
    /// A(4, 3) has about 10^19728 digits): larger n with m = 4 answer `400 not_computable`.
    #[oai(path = "/ackermann/:m/:n/", method = "get", operation_id = "ackermann")]
    async fn ackermann(
        &self,
        m: Path<String>,
        n: Path<String>,
    ) -> Result<Json<AckermannResult>, ProblemResponse> {
        self.answer(&m, &n).await
    }

    #[oai(path = "/ackermann/:m", method = "get", hidden)]
    async fn ackermann_missing_n(
        &self,
        m: Path<String>,
    ) -> Result<Json<AckermannResult>, ProblemResponse> {
        self.missing(Some(&m))
    }

    #[oai(path = "/ackermann", method = "get", hidden)]
    async fn ackermann_missing(&self) -> Result<Json<AckermannResult>, ProblemResponse> {
        self.missing(None)
    }
}

impl MathApi for AckermannApi {
    const NAME: &'static str = "ackermann";
    const TITLE: &'static str = "Ackermann API";
    const DESCRIPTION: &'static str = "The Ackermann–Péter function: `GET /ackermann/{m}/{n}/` answers A(m, n) as a decimal string, from closed forms (no recursion). Every n up to the configured maximum is computable for m ≤ 3; A(4, n) exists only for n ≤ 2 (A(4, 2) = 2^65536 − 3), so with m = 4 a larger n answers `400 not_computable`. Errors are RFC 9457 problem documents (`application/problem+json`).";
    const DEFAULT_PORT: u16 = 8003;

    fn bounds(&self) -> Vec<ParamBound> {
        vec![
            ParamBound {
                path_prefix: "/ackermann/",
                name: "m",
                maximum: self.max_m,
                example: None,
            },
            ParamBound {
                path_prefix: "/ackermann/",
                name: "n",
                maximum: self.max_n,
                // The documented m is the largest allowed; n must make A(m, n) computable
                // with it (A(4, 10) is not: the example would fail).
                example: Some(self.example_n()),
            },
        ]
    }
}
