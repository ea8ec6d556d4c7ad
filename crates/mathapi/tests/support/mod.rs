//! The all-in-one app served in-process on a random port, as the tests of this crate use it.

use clap::Parser;
use mathapi_http::AppContext;
use mathapi_telemetry::Metrics;
use mathapi_testing::TestApp;

/// `mathapi` with `flags`, in-process on 127.0.0.1 and a random port, with its metrics. Each
/// app gets its own sequence data directory (two stores cannot share one), kept as long as the
/// app.
pub async fn spawn_app(flags: &[&str]) -> (TestApp, Metrics) {
    let data = tempfile::tempdir().unwrap();
    let argv = [
        "mathapi",
        "--sequence-data-dir",
        data.path().to_str().unwrap(),
    ]
    .into_iter()
    .chain(flags.iter().copied());
    let args = mathapi::Args::try_parse_from(argv).unwrap();
    let metrics = Metrics::new("mathapi").unwrap();
    let context = AppContext::new(&metrics, args.server.render_cache(&metrics));
    let app = TestApp::spawn(mathapi::app(&args, &context).unwrap())
        .await
        .holding(data);
    (app, metrics)
}
