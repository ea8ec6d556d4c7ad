//! Sends the planned requests: open-loop pacing, bounded concurrency, progress bar.

use std::error::Error as _;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use mathapi_functions::{All, Entry, Limits};
use reqwest::{Client, Url};
use tokio::sync::Semaphore;
use tokio::time::{self, Interval, MissedTickBehavior};

use crate::plan::{Class, Method, Mix};
use crate::summary::{Outcome, RunInfo, Stats, Summary, TransportErrorKind};

/// Everything a run needs; built from the command line by [`crate::cli`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Base URL; request paths are appended to it, so it may carry a path prefix.
    pub url: Url,
    /// Requests per second across all functions; `None` sends as fast as slots free up.
    pub rate: Option<f64>,
    /// Stop sending after this long (`None`: no time bound).
    pub duration: Option<Duration>,
    /// Stop after this many requests (`None`: no count bound).
    pub max_requests: Option<u64>,
    /// Requests in flight at most.
    pub concurrency: u32,
    /// Per-request timeout, connection through body.
    pub timeout: Duration,
    pub error_share: f64,
    /// The functions to call (none: every function of the list).
    pub functions: Vec<&'static Entry>,
    /// The services' limits, which valid arguments stay within.
    pub limits: Limits<All>,
    pub seed: u64,
    /// Draw a progress bar on stderr (it stays hidden anyway when stderr is not a terminal).
    pub progress: bool,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("the run needs a bound: a duration, a request count, or both")]
    Unbounded,
}

/// Counters the progress bar reads while requests are in flight.
#[derive(Debug, Default)]
struct Live {
    sent: AtomicU64,
    done: AtomicU64,
    invalid_answered: AtomicU64,
    unexpected: AtomicU64,
}

/// Sends requests as `config` says until its bound is reached or `shutdown` completes,
/// waits for the requests in flight, and returns the summary.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<Summary, RunError> {
    if config.duration.is_none() && config.max_requests.is_none() {
        return Err(RunError::Unbounded);
    }
    let concurrency = config.concurrency.max(1);
    let client = Client::builder()
        .timeout(config.timeout)
        .pool_max_idle_per_host(concurrency as usize)
        .user_agent(concat!("mathapi-traffic/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let base = config.url.as_str().trim_end_matches('/').to_string();
    let mut mix = Mix::new(
        config.seed,
        config.functions.iter().copied(),
        &config.limits,
        config.error_share,
    );
    let stats = Arc::new(Mutex::new(Stats::default()));
    let live = Arc::new(Live::default());
    let slots = Arc::new(Semaphore::new(concurrency as usize));
    let bar = progress_bar(&config);

    let start = Instant::now();
    let deadline = config.duration.map(|d| time::Instant::from_std(start + d));
    let mut pacer = config.rate.map(pacer);
    let ticker = tokio::spawn(tick_progress(
        bar.clone(),
        Arc::clone(&live),
        start,
        config.max_requests.is_some(),
        config.rate,
    ));

    tokio::pin!(shutdown);
    let past_deadline = async {
        match deadline {
            Some(at) => time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(past_deadline);

    let mut sent = 0u64;
    let mut slot_waits = 0u64;
    let mut interrupted = false;
    while config.max_requests.is_none_or(|max| sent < max) {
        tokio::select! {
            biased;
            () = &mut shutdown => { interrupted = true; break; }
            () = &mut past_deadline => break,
            () = next_slot(&mut pacer) => {}
        }
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                slot_waits += 1;
                tokio::select! {
                    biased;
                    () = &mut shutdown => { interrupted = true; break; }
                    () = &mut past_deadline => break,
                    permit = Arc::clone(&slots).acquire_owned() => {
                        permit.expect("the semaphore is never closed")
                    }
                }
            }
        };
        let request = mix.next_request();
        sent += 1;
        live.sent.fetch_add(1, Ordering::Relaxed);
        let client = client.clone();
        let url = format!("{base}{}", request.path);
        let stats = Arc::clone(&stats);
        let live = Arc::clone(&live);
        tokio::spawn(async move {
            let outcome = send(&client, &url, request.method).await;
            let matched = stats
                .lock()
                .expect("stats lock poisoned")
                .record(&request, &outcome);
            live.done.fetch_add(1, Ordering::Relaxed);
            if !matched {
                live.unexpected.fetch_add(1, Ordering::Relaxed);
            } else if request.class != Class::Valid {
                live.invalid_answered.fetch_add(1, Ordering::Relaxed);
            }
            drop(permit);
        });
    }

    // Every task holds a slot until its outcome is recorded: owning all slots means all done.
    let _all = slots
        .acquire_many(concurrency)
        .await
        .expect("the semaphore is never closed");
    let elapsed = start.elapsed();
    ticker.abort();
    bar.finish_and_clear();

    let summary = stats
        .lock()
        .expect("stats lock poisoned")
        .summarize(RunInfo {
            target: config.url.to_string(),
            seed: config.seed,
            target_rate: config.rate,
            concurrency,
            interrupted,
            elapsed,
            slot_waits,
        });
    Ok(summary)
}

/// An interval that fires `rate` times a second on a fixed schedule: when a tick is late
/// (slots busy, timer granularity) the next ones fire at once to catch up, so the average
/// rate holds even above the timer's 1 ms resolution.
fn pacer(rate: f64) -> Interval {
    let period = Duration::from_secs_f64(1.0 / rate).max(Duration::from_nanos(1));
    let mut interval = time::interval(period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
    interval
}

async fn next_slot(pacer: &mut Option<Interval>) {
    if let Some(interval) = pacer {
        interval.tick().await;
    }
}

async fn send(client: &Client, url: &str, method: Method) -> Outcome {
    let method = match method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
    };
    let started = Instant::now();
    let result = async {
        let response = client.request(method, url).send().await?;
        let status = response.status().as_u16();
        // Read the whole body: the latency covers it and the connection goes back to the pool.
        response.bytes().await?;
        Ok::<_, reqwest::Error>(status)
    }
    .await;
    match result {
        Ok(status) => Outcome::Response {
            status,
            latency: started.elapsed(),
        },
        Err(error) => Outcome::Transport {
            kind: if error.is_timeout() {
                TransportErrorKind::Timeout
            } else if error.is_connect() {
                TransportErrorKind::Connect
            } else {
                TransportErrorKind::Other
            },
            message: error_chain(&error),
        },
    }
}

/// The error and its sources on one line (reqwest's own message omits the cause).
fn error_chain(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

fn progress_bar(config: &Config) -> ProgressBar {
    if !config.progress {
        return ProgressBar::hidden();
    }
    // Count-bound runs show requests done of the total; time-bound runs show time passed
    // (both bounds: the count, as `tick_progress` does).
    let (len, template) = match (config.max_requests, config.duration) {
        (Some(max), _) => (
            max,
            "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} {msg}",
        ),
        (None, Some(d)) => (
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            "{spinner} {elapsed_precise} [{bar:30}] {msg}",
        ),
        (None, None) => (0, "{spinner} {elapsed_precise} {msg}"),
    };
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("the progress templates are valid")
            .progress_chars("=> "),
    );
    bar
}

async fn tick_progress(
    bar: ProgressBar,
    live: Arc<Live>,
    start: Instant,
    count_bound: bool,
    rate: Option<f64>,
) {
    let mut interval = time::interval(Duration::from_millis(200));
    loop {
        interval.tick().await;
        let elapsed = start.elapsed();
        let sent = live.sent.load(Ordering::Relaxed);
        let done = live.done.load(Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        let achieved = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        if count_bound {
            bar.set_position(done);
        } else {
            bar.set_position(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        }
        let target = rate.map_or(String::new(), |r| format!(" (target {r:.0})"));
        bar.set_message(format!(
            "{sent} sent, {achieved:.1} req/s{target}, {} 4xx as planned, {} unexpected",
            live.invalid_answered.load(Ordering::Relaxed),
            live.unexpected.load(Ordering::Relaxed),
        ));
    }
}
