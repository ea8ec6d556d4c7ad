//! Command line: flags (each with a `MATHAPI_TRAFFIC_*` environment fallback, the services'
//! limits with the services' own `MATHAPI_*` ones), the run, the report and the exit code.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use mathapi_functions::{All, Entry, Limits, entries};
use rand::TryRngCore;
use rand::rngs::OsRng;
use reqwest::Url;

use crate::runner::{self, Config};
use crate::summary::Summary;

/// Exit code when no request got any HTTP response.
pub const EXIT_UNREACHABLE: u8 = 3;
/// Exit code under `--check` when a response had an unexpected status or a request failed.
pub const EXIT_CHECK_FAILED: u8 = 4;

/// Time bound when neither `--duration` nor `--requests` is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(30);

/// Sends a mix of valid and invalid requests to the math APIs and reports what came back.
#[derive(Debug, Clone, Parser)]
#[command(name = "mathapi-traffic", version)]
pub struct Args {
    /// Base URL of the API; may include a path prefix.
    #[arg(
        long,
        env = "MATHAPI_TRAFFIC_URL",
        default_value = "http://localhost:8000"
    )]
    pub url: Url,

    /// Target requests per second across all functions; 0 sends as fast as --concurrency allows.
    #[arg(long, env = "MATHAPI_TRAFFIC_RATE", default_value_t = 50.0, value_parser = parse_rate)]
    pub rate: f64,

    /// How long to send, e.g. 30s, 2m, 1h30m [default: 30s unless --requests is given].
    #[arg(long, env = "MATHAPI_TRAFFIC_DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Stop after this many requests (with --duration too: whichever comes first).
    #[arg(long, env = "MATHAPI_TRAFFIC_REQUESTS", value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,

    /// Requests in flight at most.
    #[arg(long, env = "MATHAPI_TRAFFIC_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,

    /// Share of deliberately invalid requests, 0.0 to 1.0.
    #[arg(long, env = "MATHAPI_TRAFFIC_ERROR_SHARE", default_value_t = 0.2, value_parser = parse_share)]
    pub error_share: f64,

    /// Functions to call, comma-separated or repeated [default: every function].
    #[arg(
        long,
        env = "MATHAPI_TRAFFIC_FUNCTIONS",
        value_delimiter = ',',
        value_parser = function_parser()
    )]
    pub functions: Vec<&'static Entry>,

    /// Seed of the request mix, to replay a run exactly [default: random, printed in the summary].
    #[arg(long, env = "MATHAPI_TRAFFIC_SEED")]
    pub seed: Option<u64>,

    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long, env = "MATHAPI_TRAFFIC_NO_PROGRESS")]
    pub no_progress: bool,

    /// Per-request timeout, e.g. 5s, 500ms.
    #[arg(long, env = "MATHAPI_TRAFFIC_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Also write the summary as JSON to this file.
    #[arg(long, env = "MATHAPI_TRAFFIC_SUMMARY_JSON")]
    pub summary_json: Option<PathBuf>,

    /// Exit with status 4 unless every request got the status its plan expected.
    #[arg(long, env = "MATHAPI_TRAFFIC_CHECK")]
    pub check: bool,

    /// The services' limits: valid requests draw their arguments within them. The same flags
    /// and environment variables as the services', so one setting configures both.
    #[command(flatten, next_help_heading = "Limits of the services")]
    pub limits: Limits<All>,
}

impl Args {
    /// The run configuration; draws a random seed when none was given.
    pub fn config(&self) -> Config {
        let duration = match (self.duration, self.requests) {
            (None, None) => Some(DEFAULT_DURATION),
            (duration, _) => duration,
        };
        Config {
            url: self.url.clone(),
            rate: (self.rate > 0.0).then_some(self.rate),
            duration,
            max_requests: self.requests,
            concurrency: self.concurrency,
            timeout: self.timeout,
            error_share: self.error_share,
            functions: if self.functions.is_empty() {
                entries().iter().collect()
            } else {
                self.functions.clone()
            },
            limits: self.limits.clone(),
            seed: self.seed.unwrap_or_else(random_seed),
            progress: !self.no_progress,
        }
    }
}

/// A function's name, checked against the list (clap's error lists the known names).
fn function_parser() -> impl TypedValueParser<Value = &'static Entry> {
    PossibleValuesParser::new(entries().iter().map(Entry::name)).map(|name| {
        mathapi_functions::find(&name).expect("the parser accepts only the list's names")
    })
}

fn random_seed() -> u64 {
    OsRng
        .try_next_u64()
        .expect("the operating system's random source is available")
}

/// Runs the generator as the binary does: Ctrl-C stops early, the summary goes to stdout
/// (and to `--summary-json`), the exit code tells unreachable and `--check` failures apart.
pub async fn main(args: Args) -> ExitCode {
    let config = args.config();
    eprintln!("{}", banner(&config));
    let ctrl_c = async {
        // If the handler cannot be installed, run to the bound rather than stop at once.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let summary = match runner::run(config, ctrl_c).await {
        Ok(summary) => summary,
        Err(error) => {
            eprintln!("mathapi-traffic: {error}");
            return ExitCode::FAILURE;
        }
    };
    print!("{summary}");
    if let Some(path) = &args.summary_json {
        if let Err(error) = write_json(path, &summary) {
            eprintln!("mathapi-traffic: cannot write {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::from(exit_code(&summary, args.check))
}

/// 3 if nothing answered, 4 if `check` and anything was unexpected, else 0.
pub fn exit_code(summary: &Summary, check: bool) -> u8 {
    if summary.unreachable() {
        eprintln!(
            "mathapi-traffic: no request got a response from {}; is the API running?",
            summary.target
        );
        EXIT_UNREACHABLE
    } else if check && !summary.all_as_expected() {
        eprintln!(
            "mathapi-traffic: check failed: {} unexpected status(es), {} transport error(s)",
            summary.mismatched, summary.transport_errors
        );
        EXIT_CHECK_FAILED
    } else {
        0
    }
}

fn write_json(path: &std::path::Path, summary: &Summary) -> std::io::Result<()> {
    let mut json = serde_json::to_string_pretty(summary).map_err(std::io::Error::other)?;
    json.push('\n');
    std::fs::write(path, json)
}

fn banner(config: &Config) -> String {
    let rate = config
        .rate
        .map_or("as fast as possible".to_string(), |r| format!("{r}/s"));
    let bound = match (config.duration, config.max_requests) {
        (Some(d), Some(n)) => format!("{} or {n} requests", humantime::format_duration(d)),
        (Some(d), None) => humantime::format_duration(d).to_string(),
        (None, Some(n)) => format!("{n} requests"),
        (None, None) => "no bound".to_string(),
    };
    let functions: Vec<&str> = config.functions.iter().map(|f| f.name()).collect();
    format!(
        "mathapi-traffic: {} at {rate} for {bound}, concurrency {}, error share {}, functions {}, seed {}",
        config.url,
        config.concurrency,
        config.error_share,
        functions.join(","),
        config.seed
    )
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if d.is_zero() => Err("must be longer than zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 0.0 => Ok(r),
        _ => Err(format!("`{s}` is not a rate: expected a number >= 0")),
    }
}

fn parse_share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "`{s}` is not a share: expected a number from 0.0 to 1.0"
        )),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("mathapi-traffic").chain(args.iter().copied()))
    }

    fn names(functions: &[&'static Entry]) -> Vec<&'static str> {
        functions.iter().map(|f| f.name()).collect()
    }

    #[test]
    fn defaults() {
        let args = parse(&[]).unwrap();
        let config = args.config();
        assert_eq!(config.url.as_str(), "http://localhost:8000/");
        assert_eq!(config.rate, Some(50.0));
        assert_eq!(config.duration, Some(Duration::from_secs(30)));
        assert_eq!(config.max_requests, None);
        assert_eq!(config.concurrency, 8);
        assert_eq!(config.error_share, 0.2);
        let all: Vec<&str> = entries().iter().map(Entry::name).collect();
        assert_eq!(names(&config.functions), all);
        for entry in entries() {
            let defaults: Vec<u64> = entry
                .description
                .params
                .iter()
                .map(|p| p.default_max)
                .collect();
            assert_eq!(config.limits.maxima(entry), defaults, "{}", entry.name());
        }
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert!(config.progress && !args.check);
    }

    #[test]
    fn flags() {
        let all = entries();
        let (first, last) = (all[0].name(), all[all.len() - 1].name());
        let functions = format!("--functions={last},{first}");
        // Every limit set, each to a value of its own within its hard maximum.
        let limits: Vec<(&Entry, Vec<u64>)> = all
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let params = entry.description.params;
                let values = params
                    .iter()
                    .enumerate()
                    .map(|(j, p)| p.hard_max.min((10 * i + j + 1) as u64))
                    .collect();
                (entry, values)
            })
            .collect();
        let limit_flags: Vec<String> = limits
            .iter()
            .flat_map(|(entry, values)| {
                entry
                    .description
                    .params
                    .iter()
                    .zip(values)
                    .map(|(p, v)| format!("--{}={v}", p.flag))
            })
            .collect();
        let mut flags = vec![
            "--url=http://127.0.0.1:9/api",
            "--rate=0",
            "--duration=2m",
            "--requests=10",
            "--concurrency=3",
            "--error-share=1",
            &functions,
            "--seed=9",
            "--no-progress",
            "--timeout=250ms",
            "--check",
        ];
        flags.extend(limit_flags.iter().map(String::as_str));
        let args = parse(&flags).unwrap();
        let config = args.config();
        assert_eq!(config.url.as_str(), "http://127.0.0.1:9/api");
        assert_eq!(config.rate, None);
        assert_eq!(config.duration, Some(Duration::from_secs(120)));
        assert_eq!(config.max_requests, Some(10));
        assert_eq!(config.concurrency, 3);
        assert_eq!(config.error_share, 1.0);
        assert_eq!(names(&config.functions), vec![last, first]);
        assert_eq!(config.seed, 9);
        assert_eq!(config.timeout, Duration::from_millis(250));
        for (entry, values) in &limits {
            assert_eq!(&config.limits.maxima(entry), values, "{}", entry.name());
        }
        assert!(!config.progress && args.check);
    }

    #[test]
    fn functions_may_be_repeated() {
        let all = entries();
        let (first, last) = (all[0].name(), all[all.len() - 1].name());
        let config = parse(&["--functions", last, "--functions", first])
            .unwrap()
            .config();
        assert_eq!(names(&config.functions), vec![last, first]);
    }

    #[test]
    fn an_unknown_function_is_refused_with_the_known_names() {
        let error = parse(&["--functions", "sqrt"]).unwrap_err().to_string();
        assert!(error.contains("sqrt"), "{error}");
        for entry in entries() {
            assert!(error.contains(entry.name()), "{error}");
        }
    }

    #[test]
    fn the_limit_flags_are_the_services_with_their_environment_variables() {
        let command = Args::command();
        for param in entries().iter().flat_map(|e| e.description.params) {
            let arg = command
                .get_arguments()
                .find(|arg| arg.get_long() == Some(param.flag))
                .unwrap_or_else(|| panic!("--{} missing", param.flag));
            assert_eq!(
                arg.get_env().and_then(|env| env.to_str()),
                Some(param.env),
                "--{}",
                param.flag
            );
        }
    }

    #[test]
    fn requests_alone_drop_the_default_duration() {
        let config = parse(&["--requests", "5"]).unwrap().config();
        assert_eq!((config.duration, config.max_requests), (None, Some(5)));
    }

    #[test]
    fn bad_values_are_refused() {
        let unknown = format!("{},sqrt", entries()[0].name());
        let param = &entries()[0].description.params[0];
        let above_hard_max = format!("--{}={}", param.flag, param.hard_max + 1);
        for bad in [
            &["--error-share", "1.5"][..],
            &["--error-share", "-0.1"],
            &["--rate", "-1"],
            &["--rate", "inf"],
            &["--duration", "0s"],
            &["--duration", "ten"],
            &["--concurrency", "0"],
            &["--requests", "0"],
            &["--functions", &unknown],
            &["--functions", ""],
            &[&above_hard_max],
            &["--url", "not a url"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
