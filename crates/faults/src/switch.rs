//! The faults in force in a running process: drawn per request, reloaded on `SIGHUP`.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use mathapi_telemetry::Metrics;

use crate::settings::{FaultError, FaultSettings};

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
/// gives it to the middleware that injects the faults, and reloads it on `SIGHUP`.
#[derive(Clone)]
pub struct FaultSwitch {
    inner: Arc<Switch>,
}

struct Switch {
    file: PathBuf,
    functions: Vec<&'static str>,
    /// A read of the file is running ([`FaultSettings::read_bounded`]).
    reading: Arc<AtomicBool>,
    settings: RwLock<Arc<FaultSettings>>,
    metrics: Metrics,
}

impl FaultSwitch {
    /// Reads `file` for the first time; a file that exists but is invalid (or is no regular
    /// file, or takes longer than [`crate::READ_TIMEOUT`] to read) is an error, so a
    /// demonstration does not start with faults other than the ones asked for.
    pub fn open(
        file: PathBuf,
        functions: &[&'static str],
        metrics: &Metrics,
    ) -> Result<Self, FaultError> {
        let reading = Arc::new(AtomicBool::new(false));
        let settings = FaultSettings::read_bounded(&file, functions, &reading)?;
        tracing::warn!(
            detail = format!("{}: {}", file.display(), settings.describe()),
            "fault injection enabled"
        );
        Ok(FaultSwitch {
            inner: Arc::new(Switch {
                file,
                functions: functions.to_vec(),
                reading,
                settings: RwLock::new(Arc::new(settings)),
                metrics: metrics.clone(),
            }),
        })
    }

    /// Reads the file again. A file that is refused leaves the faults in force unchanged.
    /// Blocks for at most [`crate::READ_TIMEOUT`]: call it off the async workers.
    pub fn reload(&self) -> Result<(), FaultError> {
        let switch = &self.inner;
        match FaultSettings::read_bounded(&switch.file, &switch.functions, &switch.reading) {
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
    pub(crate) fn settings(&self) -> Arc<FaultSettings> {
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
                // Reading a file is blocking I/O: on the blocking pool, never on a worker
                // that answers requests.
                let switch = switch.clone();
                let _ = tokio::task::spawn_blocking(move || switch.reload()).await;
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
