//! Durable `next` throughput of a sequence backend: `--concurrency` callers step as fast as
//! they can for `--seconds`, each step acknowledged only once durable.
//!
//! ```text
//! taskset -c 0 cargo run --release -p mathapi-sequence --example sequence_bench -- --backend embedded
//! taskset -c 0 cargo run --release -p mathapi-sequence --example sequence_bench -- --backend redis
//! ```
//!
//! Without `--dir` the embedded store uses a fresh temporary directory; without
//! `--redis-url` a `redis-server` (appendonly yes, appendfsync always) is started on a free
//! port. Prints one `key=value` result line.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use mathapi_sequence::testing::RedisServer;
use mathapi_sequence::{Operation, RedisConfig, SequenceStore, Store, StoreConfig};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Backend {
    Embedded,
    Redis,
}

#[derive(Parser, Debug)]
#[command(about = "Durable `next` steps per second of a sequence backend")]
struct Args {
    /// The backend to measure.
    #[arg(long, value_enum, default_value = "embedded")]
    backend: Backend,
    /// Concurrent callers.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// How long to measure, in seconds.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Tokio worker threads (default: the CPUs this process may use, e.g. 1 under `taskset -c 0`).
    #[arg(long)]
    workers: Option<usize>,
    /// Embedded data directory (default: a fresh temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Redis URL (default: start a redis-server with appendfsync always). The bench uses its
    /// own key and resets it first.
    #[arg(long)]
    redis_url: Option<String>,
    /// Give every step its own Idempotency-Key, to measure the cost of recording it (with
    /// the default retention of 10,000 keys, trimmed as new ones arrive).
    #[arg(long)]
    keyed: bool,
}

fn main() {
    let args = Args::parse();
    let workers = args.workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("build the Tokio runtime");
    runtime.block_on(run(args, workers));
}

async fn run(args: Args, workers: usize) {
    let temp = tempfile::tempdir().expect("create a temporary directory");
    let mut _redis_server = None;
    let config = match args.backend {
        Backend::Embedded => StoreConfig::Embedded {
            dir: args.dir.clone().unwrap_or_else(|| temp.path().join("data")),
        },
        Backend::Redis => {
            let url = args.redis_url.clone().unwrap_or_else(|| {
                let server = RedisServer::start();
                let url = server.url();
                _redis_server = Some(server);
                url
            });
            let mut config = RedisConfig::new(url);
            config.key = "mathapi:bench:sequence:index".into();
            StoreConfig::Redis(config)
        }
    };
    let store = Store::open(&config, None).expect("open the store");
    if matches!(args.backend, Backend::Redis) {
        store.reset().await.expect("reset the bench key");
    }
    let start_index = store.current().await.expect("read the start index");
    let commits_before = commit_count(&store);

    let duration = Duration::from_secs_f64(args.seconds);
    let started = Instant::now();
    let deadline = started + duration;
    let keyed = args.keyed;
    let callers: Vec<_> = (0..args.concurrency)
        .map(|caller| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
                let mut steps = 0u64;
                while Instant::now() < deadline {
                    let step_started = Instant::now();
                    let key = keyed.then(|| format!("bench-{caller}-{steps}"));
                    store
                        .apply(Operation::Next, u64::MAX, key.as_deref())
                        .await
                        .expect("durable next");
                    latencies.saturating_record(step_started.elapsed().as_micros() as u64);
                    steps += 1;
                }
                (steps, latencies)
            })
        })
        .collect();
    let mut steps = 0;
    let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    for caller in callers {
        let (caller_steps, caller_latencies) = caller.await.expect("caller task");
        steps += caller_steps;
        latencies.add(caller_latencies).unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();

    let end_index = store.current().await.expect("read the end index");
    assert_eq!(end_index - start_index, steps, "steps lost or duplicated");
    let commits = commit_count(&store).map(|after| after - commits_before.unwrap_or(0));
    print!(
        "sequence-bench backend={} keyed={keyed} concurrency={} workers={workers} seconds={elapsed:.2} steps={steps} steps_per_second={:.0} p50_us={} p99_us={} max_us={}",
        store.backend_name(),
        args.concurrency,
        steps as f64 / elapsed,
        latencies.value_at_quantile(0.5),
        latencies.value_at_quantile(0.99),
        latencies.max(),
    );
    if let Some(commits) = commits {
        print!(
            " fsyncs={commits} steps_per_fsync={:.1}",
            steps as f64 / commits.max(1) as f64
        );
    }
    println!();
}

fn commit_count(store: &Store) -> Option<u64> {
    match store {
        Store::Embedded(store) => Some(store.commit_count()),
        Store::Redis(_) => None,
    }
}
