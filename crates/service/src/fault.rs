//! Fault injection for demonstrations: added latency and an error rate per function, to show
//! an incident on the dashboards (`make demo-incident`, docs/stack.md).
//!
//! Off unless the process starts with a fault file (`--fault-file` / `MATHAPI_FAULT_FILE`);
//! without one nothing can switch a fault on. With one, the file is read at start-up and
//! again on every `SIGHUP`, so changing a fault needs write access to the file *and* the right
//! to signal the process: no listening socket, nothing an HTTP client can reach. A file that
//! is missing means "no faults"; a file that does not parse, or asks for more than the bounds
//! below, is refused and the faults in force stay as they were.
//!
//! The file is JSON, one entry per function (the first segment of its paths):
//!
//! ```json
//! {"fibonacci": {"latency_ms": 400, "error_rate": 0.5}}
//! ```
//!
//! A fault applies to the requests of that function's published routes (not to its
//! documentation, `/health`, `/ready` or `/metrics`). Every injected fault is counted in
//! `mathapi_injected_faults_total` and named in the request's log line (`fault`); every
//! reload is logged and counted in `mathapi_fault_reloads_total`.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Deserialize;

use crate::telemetry::Metrics;

/// Longest injected latency: ten seconds shows any latency alert, and stays well below the
/// server's idle and shutdown timeouts.
pub const MAX_LATENCY_MS: u64 = 10_000;

/// Largest fault file read: a handful of entries fit in a few hundred bytes.
const MAX_FILE_BYTES: u64 = 16 * 1024;

/// The fault-injection flag every server takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FaultArgs {
    /// Enables fault injection for demonstrations, read from this JSON file at start-up and
    /// on SIGHUP (docs/stack.md). Without it faults cannot be switched on.
    #[arg(long, env = "MATHAPI_FAULT_FILE")]
    pub fault_file: Option<PathBuf>,
}

/// The fault of one function.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Added to every request, in milliseconds (at most [`MAX_LATENCY_MS`]).
    #[serde(default)]
    pub latency_ms: u64,
    /// Share of requests answered with an injected `500`, from 0 to 1.
    #[serde(default)]
    pub error_rate: f64,
}

impl Fault {
    fn check(&self, function: &str) -> Result<(), FaultError> {
        if self.latency_ms > MAX_LATENCY_MS {
            return Err(FaultError::Invalid(format!(
                "{function}: latency_ms must be at most {MAX_LATENCY_MS}, got {}",
                self.latency_ms
            )));
        }
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(FaultError::Invalid(format!(
                "{function}: error_rate must be from 0 to 1, got {}",
                self.error_rate
            )));
        }
        Ok(())
    }
}

/// Why a fault file was refused.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// The file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The fault file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid fault file.
    #[error("{0}")]
    Invalid(String),
}

/// The faults in force, by function.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSettings {
    by_function: HashMap<String, Fault>,
}

impl FaultSettings {
    /// Parses and checks a fault file's contents; `functions` are the ones this process
    /// serves, so a misspelt name is refused instead of silently doing nothing.
    pub fn parse(text: &str, functions: &[&str]) -> Result<Self, FaultError> {
        let by_function: HashMap<String, Fault> = serde_json::from_str(text)
            .map_err(|e| FaultError::Invalid(format!("not a fault file: {e}")))?;
        for (function, fault) in &by_function {
            if !functions.contains(&function.as_str()) {
                return Err(FaultError::Invalid(format!(
                    "unknown function {function:?}: this process serves {functions:?}"
                )));
            }
            fault.check(function)?;
        }
        Ok(FaultSettings { by_function })
    }

    /// Reads `path`: no file means no faults.
    pub fn read(path: &Path, functions: &[&str]) -> Result<Self, FaultError> {
        let read_error = |source| FaultError::Read {
            path: path.to_owned(),
            source,
        };
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(read_error(e)),
        };
        // One byte past the limit tells a file that is too large from one that fits exactly.
        let mut text = String::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(read_error)?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(FaultError::Invalid(format!(
                "{} is larger than {MAX_FILE_BYTES} bytes",
                path.display()
            )));
        }
        Self::parse(&text, functions)
    }

    /// The fault of `function`, if it has one that does anything.
    pub fn of(&self, function: &str) -> Option<Fault> {
        self.by_function
            .get(function)
            .copied()
            .filter(|f| f.latency_ms > 0 || f.error_rate > 0.0)
    }

    /// The settings as one log field, e.g. `fibonacci: 400 ms, 50% errors`; `none` when off.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .by_function
            .iter()
            .filter(|(function, _)| self.of(function).is_some())
            .map(|(function, f)| {
                format!(
                    "{function}: {} ms, {}% errors",
                    f.latency_ms,
                    f.error_rate * 100.0
                )
            })
            .collect();
        parts.sort();
        match parts.is_empty() {
            true => "none".to_owned(),
            false => parts.join("; "),
        }
    }
}

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Injected {
    /// Wait this long before answering.
    pub latency: Option<Duration>,
    /// Answer with an injected `500` instead of the real answer.
    pub error: bool,
}

impl Injected {
    /// The request's `fault` log field: `latency`, `error`, `latency+error`, or none.
    pub fn label(&self) -> Option<&'static str> {
        match (self.latency.is_some(), self.error) {
            (false, false) => None,
            (true, false) => Some("latency"),
            (false, true) => Some("error"),
            (true, true) => Some("latency+error"),
        }
    }
}

/// The fault switch of a process started with a fault file. Cheap to clone; the process
/// hands it to the middleware as request data, and reloads it on `SIGHUP`.
#[derive(Clone)]
pub struct FaultSwitch {
    inner: Arc<Switch>,
}

struct Switch {
    file: PathBuf,
    functions: Vec<&'static str>,
    settings: RwLock<Arc<FaultSettings>>,
    metrics: Metrics,
}

impl FaultSwitch {
    /// Reads `file` for the first time; a file that exists but is invalid is an error, so a
    /// demonstration does not start with faults other than the ones asked for.
    pub fn open(
        file: PathBuf,
        functions: &[&'static str],
        metrics: &Metrics,
    ) -> Result<Self, FaultError> {
        let settings = FaultSettings::read(&file, functions)?;
        tracing::warn!(
            detail = format!("{}: {}", file.display(), settings.describe()),
            "fault injection enabled"
        );
        Ok(FaultSwitch {
            inner: Arc::new(Switch {
                file,
                functions: functions.to_vec(),
                settings: RwLock::new(Arc::new(settings)),
                metrics: metrics.clone(),
            }),
        })
    }

    /// Reads the file again. A file that is refused leaves the faults in force unchanged.
    pub fn reload(&self) -> Result<(), FaultError> {
        let switch = &self.inner;
        match FaultSettings::read(&switch.file, &switch.functions) {
            Ok(settings) => {
                tracing::warn!(detail = settings.describe(), "fault settings applied");
                switch.metrics.record_fault_reload("applied");
                *switch.settings.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(settings);
                Ok(())
            }
            Err(error) => {
                tracing::error!(
                    detail = format!("{error}; in force: {}", self.settings().describe()),
                    "fault file refused; the faults in force are unchanged"
                );
                switch.metrics.record_fault_reload("refused");
                Err(error)
            }
        }
    }

    /// The faults in force.
    pub fn settings(&self) -> Arc<FaultSettings> {
        self.inner
            .settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Draws the faults for one request to `function`, and counts them.
    pub fn draw(&self, function: &'static str) -> Injected {
        let Some(fault) = self.settings().of(function) else {
            return Injected::default();
        };
        let injected = Injected {
            latency: (fault.latency_ms > 0).then(|| Duration::from_millis(fault.latency_ms)),
            error: fault.error_rate > 0.0 && rand::random::<f64>() < fault.error_rate,
        };
        if injected.latency.is_some() {
            self.inner
                .metrics
                .record_injected_fault(function, "latency");
        }
        if injected.error {
            self.inner.metrics.record_injected_fault(function, "error");
        }
        injected
    }

    /// Whether this process serves `function` (the first segment of a path).
    pub fn function(&self, segment: &str) -> Option<&'static str> {
        self.inner.functions.iter().copied().find(|f| *f == segment)
    }
}

/// Reloads `switch` on every `SIGHUP`; without a switch, logs that a `SIGHUP` changes
/// nothing (instead of the default action, which would end the process). Runs until the
/// runtime stops.
#[cfg(unix)]
pub async fn reload_on_sighup(switch: Option<FaultSwitch>, metrics: Metrics) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hangup.recv().await.is_some() {
        match &switch {
            Some(switch) => {
                let _ = switch.reload();
            }
            None => {
                tracing::warn!(
                    "SIGHUP ignored: fault injection is not enabled (start with --fault-file)"
                );
                metrics.record_fault_reload("disabled");
            }
        }
    }
}

/// Signals are a Unix feature: elsewhere faults are read at start-up only.
#[cfg(not(unix))]
pub async fn reload_on_sighup(_switch: Option<FaultSwitch>, _metrics: Metrics) {}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVED: &[&str] = &["fibonacci", "factorial"];

    #[test]
    fn a_valid_file_parses_with_defaults_for_missing_keys() {
        let settings =
            FaultSettings::parse(r#"{"fibonacci": {"latency_ms": 400}}"#, SERVED).unwrap();
        assert_eq!(
            settings.of("fibonacci"),
            Some(Fault {
                latency_ms: 400,
                error_rate: 0.0
            })
        );
        assert_eq!(settings.of("factorial"), None);
        assert_eq!(settings.describe(), "fibonacci: 400 ms, 0% errors");
    }

    #[test]
    fn an_entry_that_does_nothing_is_no_fault() {
        let settings = FaultSettings::parse(r#"{"fibonacci": {}}"#, SERVED).unwrap();
        assert_eq!(settings.of("fibonacci"), None);
        assert_eq!(settings.describe(), "none");
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        for (text, expected) in [
            (r#"{"fibonaci": {"latency_ms": 1}}"#, "unknown function"),
            (r#"{"fibonacci": {"latency_ms": 10001}}"#, "at most 10000"),
            (r#"{"fibonacci": {"error_rate": 1.5}}"#, "from 0 to 1"),
            (r#"{"fibonacci": {"error_rate": -0.1}}"#, "from 0 to 1"),
            (r#"{"fibonacci": {"latency": 5}}"#, "unknown field"),
            (r#"{"fibonacci": {"latency_ms": -5}}"#, "not a fault file"),
            ("[1, 2]", "not a fault file"),
            ("", "not a fault file"),
        ] {
            let error = FaultSettings::parse(text, SERVED).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn a_missing_file_means_no_faults_and_a_huge_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faults.json");
        assert_eq!(
            FaultSettings::read(&path, SERVED).unwrap(),
            FaultSettings::default()
        );
        std::fs::write(&path, " ".repeat(MAX_FILE_BYTES as usize + 1)).unwrap();
        let error = FaultSettings::read(&path, SERVED).unwrap_err().to_string();
        assert!(error.contains("larger than"), "{error}");
        // Exactly at the limit is read (and then parsed).
        std::fs::write(
            &path,
            format!("{{}}{}", " ".repeat(MAX_FILE_BYTES as usize - 2)),
        )
        .unwrap();
        assert!(FaultSettings::read(&path, SERVED).is_ok());
    }

    #[test]
    fn labels_name_what_was_injected() {
        let latency = Some(Duration::from_millis(1));
        let cases = [
            (None, false, None),
            (latency, false, Some("latency")),
            (None, true, Some("error")),
            (latency, true, Some("latency+error")),
        ];
        for (latency, error, label) in cases {
            assert_eq!(Injected { latency, error }.label(), label);
        }
    }

    #[test]
    fn the_error_rate_is_the_share_of_requests_that_fail() {
        let metrics = Metrics::new("test").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faults.json");
        std::fs::write(&path, r#"{"fibonacci": {"error_rate": 0.25}}"#).unwrap();
        let switch = FaultSwitch::open(path, SERVED, &metrics).unwrap();
        let errors = (0..10_000)
            .filter(|_| switch.draw("fibonacci").error)
            .count();
        // 0.25 * 10,000 = 2,500; the binomial standard deviation is about 43, so ±300 is
        // seven of them.
        assert!((2_200..=2_800).contains(&errors), "{errors} errors");
        assert!(!switch.draw("factorial").error);
        assert!(
            metrics
                .render()
                .contains(r#"mathapi_injected_faults_total{function="fibonacci",kind="error"} "#)
        );
    }

    #[test]
    fn a_refused_reload_keeps_the_faults_in_force() {
        let metrics = Metrics::new("test").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faults.json");
        std::fs::write(&path, r#"{"fibonacci": {"latency_ms": 5}}"#).unwrap();
        let switch = FaultSwitch::open(path.clone(), SERVED, &metrics).unwrap();
        std::fs::write(&path, r#"{"fibonacci": {"latency_ms": 99999}}"#).unwrap();
        assert!(switch.reload().is_err());
        assert_eq!(switch.settings().of("fibonacci").unwrap().latency_ms, 5);
        std::fs::remove_file(&path).unwrap();
        switch.reload().unwrap();
        assert_eq!(switch.settings().of("fibonacci"), None);
        let page = metrics.render();
        assert!(page.contains(r#"mathapi_fault_reloads_total{outcome="refused"} 1"#));
        assert!(page.contains(r#"mathapi_fault_reloads_total{outcome="applied"} 1"#));
    }
}
