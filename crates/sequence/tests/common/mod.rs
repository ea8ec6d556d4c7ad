//! Behaviour every backend must show, run against each real backend.

use std::collections::BTreeSet;

use mathapi_sequence::{SequenceError, SequenceStore};

/// The walk from a reset, the 409-style conflicts, and that conflicts change nothing.
pub async fn walk_and_conflicts(store: &impl SequenceStore) {
    assert_eq!(store.reset().await.unwrap(), 0);
    assert_eq!(store.current().await.unwrap(), 0);
    assert!(matches!(
        store.previous().await,
        Err(SequenceError::AtStart)
    ));
    assert_eq!(
        store.current().await.unwrap(),
        0,
        "previous at 0 must not move"
    );
    assert!(matches!(
        store.next(0).await,
        Err(SequenceError::AtEnd { index: 0 })
    ));

    for expected in 1..=3 {
        assert_eq!(store.next(3).await.unwrap(), expected);
        assert_eq!(store.current().await.unwrap(), expected);
    }
    for _ in 0..2 {
        assert!(matches!(
            store.next(3).await,
            Err(SequenceError::AtEnd { index: 3 })
        ));
    }
    assert_eq!(
        store.current().await.unwrap(),
        3,
        "next at max must not move"
    );
    // A higher maximum lets the walk continue; a lower one stops it where it stands.
    assert_eq!(store.next(5).await.unwrap(), 4);
    assert!(matches!(
        store.next(2).await,
        Err(SequenceError::AtEnd { index: 4 })
    ));
    assert_eq!(store.previous().await.unwrap(), 3);
    assert_eq!(store.previous().await.unwrap(), 2);
    assert_eq!(store.current().await.unwrap(), 2);
    assert_eq!(store.reset().await.unwrap(), 0);
    assert_eq!(store.current().await.unwrap(), 0);
    assert!(matches!(
        store.previous().await,
        Err(SequenceError::AtStart)
    ));
    assert_eq!(store.reset().await.unwrap(), 0, "reset at 0 is fine");
}

/// `n` concurrent `next`s from index i return exactly i+1..=i+n and leave the state at i+n.
pub async fn concurrent_nexts<S: SequenceStore + Clone + 'static>(store: S, n: u64) {
    let start = store.current().await.unwrap();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.next(u64::MAX).await })
        })
        .collect();
    let mut indices = BTreeSet::new();
    for task in tasks {
        let index = task.await.unwrap().unwrap();
        assert!(indices.insert(index), "index {index} returned twice");
    }
    assert_eq!(indices, (start + 1..=start + n).collect::<BTreeSet<_>>());
    assert_eq!(store.current().await.unwrap(), start + n);
}

/// 200 concurrent `next`s from 0 with maximum 50: exactly 50 succeed (1..=50), the other 150
/// conflict at 50, and the state ends at 50.
pub async fn concurrent_nexts_stop_at_max<S: SequenceStore + Clone + 'static>(store: S) {
    assert_eq!(store.reset().await.unwrap(), 0);
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.next(50).await })
        })
        .collect();
    let mut indices = BTreeSet::new();
    let mut conflicts = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(index) => assert!(indices.insert(index), "index {index} returned twice"),
            Err(SequenceError::AtEnd { index: 50 }) => conflicts += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(indices, (1..=50).collect::<BTreeSet<_>>());
    assert_eq!(conflicts, 150);
    assert_eq!(store.current().await.unwrap(), 50);
}

/// Concurrent `next`s and `previous`es from 100: each succeeds (the bounds are out of reach)
/// and the state ends where the counts say.
pub async fn concurrent_mixed_steps<S: SequenceStore + Clone + 'static>(store: S) {
    assert_eq!(store.reset().await.unwrap(), 0);
    for expected in 1..=100 {
        assert_eq!(store.next(1_000).await.unwrap(), expected);
    }
    let tasks: Vec<_> = (0..150)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                if i % 3 == 0 {
                    store.previous().await
                } else {
                    store.next(1_000).await
                }
            })
        })
        .collect();
    for task in tasks {
        let index = task.await.unwrap().unwrap();
        assert!((50..=200).contains(&index), "index {index} out of reach");
    }
    // 100 nexts and 50 previouses.
    assert_eq!(store.current().await.unwrap(), 150);
}
