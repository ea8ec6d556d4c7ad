//! No client can add metric series: hundreds of hostile requests (made-up methods, random
//! paths, bad arguments, odd headers) leave the number of series on `/metrics` where a
//! first round of the same kinds of request put it.

use std::collections::BTreeSet;

use mathapi_telemetry::Metrics;
use mathapi_testing::TestApp;
use reqwest::Method;

mod support;

async fn spawn() -> (TestApp, Metrics) {
    support::spawn_app(&[]).await
}

/// The series on `/metrics`: every sample line's name and labels, without its value.
/// Process metrics (memory, CPU, fds) are left out: their values change, their series don't.
fn series(metrics: &Metrics) -> BTreeSet<String> {
    metrics
        .render()
        .lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with("process_"))
        .filter_map(|line| line.rsplit_once(' ').map(|(series, _)| series.to_owned()))
        .collect()
}

/// One round of hostile requests; `round` varies every made-up part.
async fn hostile_round(app: &TestApp, round: usize) {
    let paths = [
        format!("/fibonacci/{round}x/"),
        format!("/fibonacci/-{}/", round + 1),
        format!("/factorial/{}/", 10_000_000 + round),
        format!("/ackermann/{}/{round}/", round + 4),
        format!("/ackermann/{round}/"),
        format!("/no-such-route-{round}/deeper/{round}"),
        format!("/fibonacci/{round}/extra/segments"),
        format!("/metrics/{round}"),
    ];
    for (i, path) in paths.iter().enumerate() {
        let method = Method::from_bytes(format!("M{round}X{i}").as_bytes()).unwrap();
        for method in [Method::GET, Method::POST, Method::DELETE, method] {
            let response = app
                .client
                .request(method, app.url(path))
                .header("x-request-id", format!("hostile-{round}-{i}"))
                .header(format!("x-made-up-{round}"), "1")
                .send()
                .await
                .unwrap();
            assert!(response.status().as_u16() >= 400, "{path}");
        }
    }
}

#[tokio::test]
async fn hostile_requests_cannot_add_series() {
    let (app, metrics) = spawn().await;
    // A first round puts every series these kinds of request can reach on the page.
    for round in 0..3 {
        hostile_round(&app, round).await;
    }
    let settled = series(&metrics);

    for round in 3..40 {
        hostile_round(&app, round).await;
    }
    let after = series(&metrics);
    let added: Vec<&String> = after.difference(&settled).collect();
    assert!(added.is_empty(), "{} series added: {added:#?}", added.len());

    let page = metrics.render();
    assert!(
        page.contains(r#"http_request_method="_OTHER""#),
        "made-up methods are counted as _OTHER"
    );
    assert!(!page.contains("M39X"), "no made-up method is a label value");
    assert!(
        !page.contains("no-such-route"),
        "no raw path is a label value"
    );
    assert!(!page.contains("hostile-"), "no request id is a label value");
}
