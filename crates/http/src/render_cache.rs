//! Math results never change, so their rendered answers can be kept and served again.
//!
//! A successful computation marks its request as cacheable (see `call`); the middleware
//! then keeps the whole `200` answer (the JSON body and a strong `ETag` made from it) under
//! the request's normalized path, and serves the next `GET` of that path from here without
//! parsing, computing or rendering anything. Everything kept is weighed in bytes against one
//! budget (`--render-cache-bytes`); `0` turns the cache off. The eviction policy
//! (quick_cache's S3-FIFO) resists scans: a sweep of distinct arguments cannot flush the
//! answers that are asked for again and again.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use bytes::Bytes;
use poem::http::{HeaderMap, HeaderValue};
use quick_cache::sync::Cache;
use quick_cache::{Lifecycle, Weighter};

use mathapi_telemetry::Metrics;

use crate::cache_events::{CacheEvent, CacheEvents};

/// The default budget: about a hundred answers at the hard caps (20–36 KB each).
pub const DEFAULT_RENDER_CACHE_BYTES: u64 = 4 * 1024 * 1024;

/// Paths longer than this are never cached: a valid math path is short, and the key is
/// weighed too.
const MAX_KEY_LEN: usize = 64;

/// What an entry costs beyond its body, key, headers and arguments: the entry, the table
/// slot, the allocations' own headers.
const ENTRY_OVERHEAD: u64 = 256;

/// What a kept header costs beyond its name and value: its slot in the map.
const HEADER_OVERHEAD: usize = 64;

/// A body is weighed at 1 + 1/this of its length: what the allocator holds for answers of
/// 16–36 KB coming and going is about a fifth more than their bytes (rounding, and the
/// holes evictions leave), measured by `make attack` (docs/reliability.md).
const ALLOCATOR_ALLOWANCE: usize = 8;

/// `Cache-Control` of every math result: any cache may keep it for a year, and need never
/// revalidate it.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// One rendered answer, and what its request's log line says about it.
#[derive(Debug)]
pub struct Rendered {
    /// The JSON body.
    pub body: Bytes,
    /// The headers the routes gave it (`Content-Type`, CORS, ...), replayed on every hit.
    pub headers: HeaderMap,
    /// Its strong `ETag`, made from the body.
    pub etag: HeaderValue,
    /// The function that computed it, for the log line and the metrics.
    pub function: &'static str,
    /// The raw arguments of the request that computed it.
    pub arguments: Option<String>,
    /// Decimal digits of the result.
    pub result_digits: Option<usize>,
    /// The published route template, for the metrics and the log line.
    pub route: Option<Arc<str>>,
}

impl Rendered {
    /// The strong entity tag of `body`: a 64-bit hash, quoted. Math results are
    /// deterministic, so equal bodies are the same representation.
    pub fn etag_of(body: &[u8]) -> HeaderValue {
        let mut hasher = std::hash::DefaultHasher::new();
        body.hash(&mut hasher);
        let tag = format!("\"{:016x}\"", hasher.finish());
        HeaderValue::from_str(&tag).expect("hex digits in quotes are a valid header value")
    }
}

#[derive(Clone)]
struct ByteWeighter;

impl Weighter<String, Arc<Rendered>> for ByteWeighter {
    fn weight(&self, key: &String, value: &Arc<Rendered>) -> u64 {
        let headers: usize = value
            .headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + HEADER_OVERHEAD)
            .sum();
        let arguments = value.arguments.as_ref().map_or(0, String::len);
        let body = value.body.len() + value.body.len() / ALLOCATOR_ALLOWANCE;
        (body + key.len() + headers + arguments) as u64 + ENTRY_OVERHEAD
    }
}

/// Counts what leaves the cache (evicted, or too heavy to be admitted).
#[derive(Clone)]
struct CountEvictions {
    events: Arc<CacheEvents>,
}

impl Lifecycle<String, Arc<Rendered>> for CountEvictions {
    type RequestState = ();

    fn on_evict(&self, _: &mut (), _: String, value: Arc<Rendered>) {
        self.events.count(value.function, CacheEvent::Evicted);
    }
}

type Store = Cache<String, Arc<Rendered>, ByteWeighter, std::hash::RandomState, CountEvictions>;

/// The cache of rendered answers; cheap to clone, clones share it.
#[derive(Clone)]
pub struct RenderCache {
    store: Option<Arc<Store>>,
    events: Arc<CacheEvents>,
}

impl RenderCache {
    /// A cache of at most `budget` bytes (`0`: off), counted in `metrics` as
    /// `mathapi_render_cache_events_total{function,event}` and `mathapi_render_cache_bytes`.
    pub fn new(budget: u64, metrics: &Metrics) -> Self {
        let events = Arc::new(CacheEvents::default());
        let observed = events.clone();
        metrics
            .meter()
            .u64_observable_counter("mathapi.render_cache.events")
            .with_description("Render cache lookups and evictions: event is hit, miss or evicted.")
            .with_callback(move |counter| observed.observe(counter))
            .build();
        let store = (budget > 0).then(|| {
            let lifecycle = CountEvictions {
                events: events.clone(),
            };
            // An entry is at least its overhead; most are far larger.
            let items = (budget / (ENTRY_OVERHEAD * 8)).max(16) as usize;
            Arc::new(Store::with(
                items,
                budget,
                ByteWeighter,
                Default::default(),
                lifecycle,
            ))
        });
        if let Some(store) = &store {
            let weighed = Arc::downgrade(store);
            metrics
                .meter()
                .u64_observable_gauge("mathapi.render_cache")
                .with_unit("By")
                .with_description("Bytes the render cache holds, as weighed against its budget.")
                .with_callback(move |gauge| {
                    if let Some(store) = weighed.upgrade() {
                        gauge.observe(store.weight(), &[]);
                    }
                })
                .build();
        }
        RenderCache { store, events }
    }

    /// The answer kept for `path`, if any.
    pub fn get(&self, path: &str) -> Option<Arc<Rendered>> {
        let store = self.store.as_ref()?;
        if path.len() > MAX_KEY_LEN {
            return None;
        }
        store.get(path)
    }

    /// Counts a lookup that found an answer (`hit`) or will compute one (`miss`).
    pub fn count(&self, function: &'static str, hit: bool) {
        let event = if hit {
            CacheEvent::Hit
        } else {
            CacheEvent::Miss
        };
        self.events.count(function, event);
    }

    /// Keeps `rendered` for `path` (when the cache is on and the path is short).
    pub fn insert(&self, path: &str, rendered: Arc<Rendered>) {
        if let Some(store) = &self.store
            && path.len() <= MAX_KEY_LEN
        {
            store.insert(path.to_owned(), rendered);
        }
    }

    /// Bytes held, as weighed against the budget.
    pub fn weight(&self) -> u64 {
        self.store.as_ref().map_or(0, |store| store.weight())
    }

    /// Whether the cache is on.
    pub fn is_enabled(&self) -> bool {
        self.store.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(size: usize) -> Arc<Rendered> {
        let body = Bytes::from(vec![b'7'; size]);
        Arc::new(Rendered {
            etag: Rendered::etag_of(&body),
            body,
            headers: HeaderMap::new(),
            function: "factorial",
            arguments: None,
            result_digits: None,
            route: None,
        })
    }

    #[test]
    fn a_scan_of_large_answers_never_exceeds_the_budget() {
        let metrics = Metrics::new("test").unwrap();
        let budget = 256 * 1024;
        let cache = RenderCache::new(budget, &metrics);
        for n in 0..2_000 {
            cache.insert(&format!("/factorial/{n}"), rendered(20_000 + n % 17_000));
            assert!(
                cache.weight() <= budget,
                "{} > {budget} at {n}",
                cache.weight()
            );
        }
        assert!(cache.weight() > budget / 2, "the budget is used");
        assert!(metrics.render().contains(r#"event="evicted""#));
    }

    #[test]
    fn an_answer_larger_than_the_budget_is_not_kept() {
        let metrics = Metrics::new("test").unwrap();
        let cache = RenderCache::new(10_000, &metrics);
        cache.insert("/factorial/10000", rendered(40_000));
        assert!(cache.get("/factorial/10000").is_none());
        assert!(cache.weight() <= 10_000);
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let metrics = Metrics::new("test").unwrap();
        let cache = RenderCache::new(0, &metrics);
        cache.insert("/fibonacci/10", rendered(10));
        assert!(!cache.is_enabled());
        assert!(cache.get("/fibonacci/10").is_none());
    }

    #[test]
    fn long_paths_are_never_keys() {
        let metrics = Metrics::new("test").unwrap();
        let cache = RenderCache::new(1 << 20, &metrics);
        let path = format!("/fibonacci/{}", "0".repeat(100));
        cache.insert(&path, rendered(10));
        assert!(cache.get(&path).is_none());
        assert_eq!(cache.weight(), 0);
    }

    #[test]
    fn etags_are_quoted_and_follow_the_body() {
        let a = Rendered::etag_of(b"{\"n\":1}");
        assert_eq!(a, Rendered::etag_of(b"{\"n\":1}"));
        assert_ne!(a, Rendered::etag_of(b"{\"n\":2}"));
        let text = a.to_str().unwrap();
        assert!(text.starts_with('"') && text.ends_with('"') && text.len() == 18);
    }
}
