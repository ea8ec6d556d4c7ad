//! The fault file: its format, its bounds, and reading it.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use rustix::fs::OFlags;

use serde::Deserialize;

/// Longest injected latency: ten seconds shows any latency alert, and stays well below the
/// server's idle and shutdown timeouts.
pub const MAX_LATENCY_MS: u64 = 10_000;

/// Largest fault file read: a handful of entries fit in a few hundred bytes.
const MAX_FILE_BYTES: u64 = 16 * 1024;

/// Longest a read of the fault file may take before it is given up.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Refuses what is not a regular file, naming what it is.
fn refuse_unless_regular(path: &Path, metadata: &Metadata) -> Result<(), FaultError> {
    if metadata.is_file() {
        return Ok(());
    }
    Err(FaultError::Invalid(format!(
        "{} is not a regular file (a {})",
        path.display(),
        kind_of(metadata)
    )))
}

/// What a non-regular file is, in words.
fn kind_of(metadata: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = metadata.file_type();
    match () {
        _ if kind.is_dir() => "directory",
        _ if kind.is_fifo() => "named pipe",
        _ if kind.is_socket() => "socket",
        _ if kind.is_char_device() || kind.is_block_device() => "device",
        _ => "special file",
    }
}

/// Opens `path` for reading with `O_NONBLOCK`: opening a FIFO that has no writer returns at
/// once instead of waiting for one. (On a regular file the flag changes nothing.)
fn open_non_blocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NONBLOCK.bits() as i32)
        .open(path)
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

    /// Reads `path`: no file means no faults. Anything but a regular file (a FIFO, a
    /// device, a directory) is refused without being opened, since opening or reading one
    /// can block for ever; the file is opened non-blocking as a second guard, in case it is
    /// replaced between the check and the open. Blocking I/O: callers on an async runtime
    /// use [`FaultSettings::read_bounded`].
    pub fn read(path: &Path, functions: &[&str]) -> Result<Self, FaultError> {
        let read_error = |source| FaultError::Read {
            path: path.to_owned(),
            source,
        };
        match std::fs::metadata(path) {
            Ok(metadata) => refuse_unless_regular(path, &metadata)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(read_error(e)),
        }
        let file = match open_non_blocking(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(read_error(e)),
        };
        refuse_unless_regular(path, &file.metadata().map_err(read_error)?)?;
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

    /// [`FaultSettings::read`] on a thread of its own, given at most [`READ_TIMEOUT`]: a file
    /// system that hangs (a dead network mount) costs a refused reload, never a stuck caller.
    /// `busy` is set while a read runs; a read that never ends keeps it set and every later
    /// one is refused at once, so at most one thread is ever stuck.
    pub fn read_bounded(
        path: &Path,
        functions: &[&'static str],
        busy: &Arc<AtomicBool>,
    ) -> Result<Self, FaultError> {
        if busy.swap(true, Ordering::AcqRel) {
            return Err(FaultError::Invalid(format!(
                "the previous read of {} has not finished",
                path.display()
            )));
        }
        let (sent, answer) = mpsc::sync_channel(1);
        let (path_owned, functions, reading) = (path.to_owned(), functions.to_vec(), busy.clone());
        let spawned = std::thread::Builder::new()
            .name("fault-file".into())
            .spawn(move || {
                let _ = sent.send(Self::read(&path_owned, &functions));
                reading.store(false, Ordering::Release);
            });
        if let Err(e) = spawned {
            busy.store(false, Ordering::Release);
            return Err(FaultError::Read {
                path: path.to_owned(),
                source: e,
            });
        }
        answer.recv_timeout(READ_TIMEOUT).unwrap_or_else(|_| {
            Err(FaultError::Invalid(format!(
                "reading {} took longer than {} s",
                path.display(),
                READ_TIMEOUT.as_secs()
            )))
        })
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
    fn anything_but_a_regular_file_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.json");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        for (path, kind) in [
            (fifo.as_path(), "a named pipe"),
            (dir.path(), "a directory"),
        ] {
            let error = FaultSettings::read(path, SERVED).unwrap_err().to_string();
            assert!(
                error.contains(&format!("not a regular file ({kind})")),
                "{error}"
            );
        }
    }

    #[test]
    fn a_read_still_running_refuses_the_next_one_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faults.json");
        std::fs::write(&path, "{}").unwrap();
        let busy = Arc::new(AtomicBool::new(false));
        assert!(FaultSettings::read_bounded(&path, SERVED, &busy).is_ok());
        wait_until_idle(&busy);
        busy.store(true, Ordering::Release);
        let error = FaultSettings::read_bounded(&path, SERVED, &busy)
            .unwrap_err()
            .to_string();
        assert!(error.contains("has not finished"), "{error}");
    }

    /// The reading thread clears the flag just after it answers: wait for it.
    fn wait_until_idle(busy: &AtomicBool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while busy.load(Ordering::Acquire) {
            assert!(std::time::Instant::now() < deadline, "the read never ended");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
