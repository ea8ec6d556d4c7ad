//! The embedded backend against real files in temporary directories.

mod common;

use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration;

use mathapi_sequence::testing::Freezer;
use mathapi_sequence::{
    CommitHook, EmbeddedStore, IdempotencyLimits, LOCK_FILE_NAME, OpenError, Operation,
    QUEUE_CAPACITY, Recovery, STATE_FILE_NAME, SequenceError, SequenceStore, Store, StoreConfig,
    StoreOptions,
};

fn open(dir: &std::path::Path) -> EmbeddedStore {
    EmbeddedStore::open(dir, None).expect("open the embedded store")
}

#[tokio::test]
async fn walk_and_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    common::walk_and_conflicts(&open(dir.path())).await;
}

#[tokio::test]
async fn walk_through_the_store_enum() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &StoreConfig::Embedded {
            dir: dir.path().to_path_buf(),
        },
        None,
    )
    .unwrap();
    assert_eq!(store.backend_name(), "embedded");
    assert!(store.ready().await.is_ok());
    common::walk_and_conflicts(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_nexts_return_distinct_indices() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    common::concurrent_nexts(store.clone(), 200).await;
    // And again from a non-zero start.
    common::concurrent_nexts(store, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_nexts_stop_at_max() {
    let dir = tempfile::tempdir().unwrap();
    common::concurrent_nexts_stop_at_max(open(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_mixed_steps() {
    let dir = tempfile::tempdir().unwrap();
    common::concurrent_mixed_steps(open(dir.path())).await;
}

#[tokio::test]
async fn state_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        for _ in 0..7 {
            store.next(100).await.unwrap();
        }
        store.previous().await.unwrap();
    }
    let store = open(dir.path());
    assert_eq!(store.current().await.unwrap(), 6);
    assert_eq!(store.next(100).await.unwrap(), 7);
}

#[tokio::test]
async fn creates_missing_nested_directories() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("a/b/data");
    let store = open(&dir);
    assert_eq!(store.next(10).await.unwrap(), 1);
    assert_eq!(store.state_path(), dir.join(STATE_FILE_NAME));
    assert_eq!(
        std::fs::metadata(dir.join(STATE_FILE_NAME)).unwrap().len(),
        8192
    );
    assert!(dir.join(LOCK_FILE_NAME).exists());
}

#[tokio::test]
async fn a_locked_directory_is_refused_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    first.next(10).await.unwrap();
    match EmbeddedStore::open(dir.path(), None) {
        Err(error @ OpenError::Locked { .. }) => {
            let OpenError::Locked { holder, .. } = &error else {
                unreachable!()
            };
            assert_eq!(*holder, Some(std::process::id()));
            let message = error.to_string();
            assert!(message.contains("in use by another process"), "{message}");
            assert!(
                message.contains(&dir.path().display().to_string()),
                "{message}"
            );
        }
        Err(other) => panic!("expected Locked, got {other}"),
        Ok(_) => panic!("a second store opened a locked directory"),
    }
    // The first store is unaffected by the refused attempt.
    assert_eq!(first.next(10).await.unwrap(), 2);
    // Dropping the last handle releases the lock.
    let clone = first.clone();
    drop(first);
    assert!(matches!(
        EmbeddedStore::open(dir.path(), None),
        Err(OpenError::Locked { .. })
    ));
    drop(clone);
    let reopened = open(dir.path());
    assert_eq!(reopened.current().await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_steps_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let hook_calls = Arc::new(AtomicU64::new(0));
    let hook: CommitHook = {
        let hook_calls = hook_calls.clone();
        Arc::new(move |elapsed| {
            assert!(elapsed.as_secs() < 10);
            hook_calls.fetch_add(1, Ordering::Relaxed);
        })
    };
    let store = EmbeddedStore::open(dir.path(), Some(hook)).unwrap();

    // One at a time, every step is its own commit.
    for _ in 0..10 {
        store.next(u64::MAX).await.unwrap();
    }
    assert_eq!(store.commit_count(), 10);
    // Conflicts change nothing, so they write nothing.
    store.reset().await.unwrap();
    assert_eq!(store.commit_count(), 11);
    assert!(store.previous().await.is_err());
    assert!(store.next(0).await.is_err());
    assert_eq!(store.commit_count(), 11);

    let before = store.commit_count();
    let ops = 2_000;
    let tasks: Vec<_> = (0..ops)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.next(u64::MAX).await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.current().await.unwrap(), ops);
    let commits = store.commit_count() - before;
    println!("{ops} concurrent steps took {commits} fsyncs");
    assert!(
        commits < ops / 2,
        "{ops} concurrent steps took {commits} fsyncs: no group commit"
    );
    assert_eq!(hook_calls.load(Ordering::Relaxed), store.commit_count());
}

/// Closes a store at `index` after `index` single commits, so the newest record (generation
/// `index`) and the one before it (`index - 1`) are both on disk.
async fn store_at(dir: &std::path::Path, index: u64) -> std::fs::File {
    {
        let store = open(dir);
        for _ in 0..index {
            store.next(u64::MAX).await.unwrap();
        }
        assert_eq!(store.commit_count(), index);
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join(STATE_FILE_NAME))
        .unwrap()
}

/// The documented record layout, built independently of the crate's encoder.
fn record(generation: u64, index: u64) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    bytes[0..4].copy_from_slice(b"MSEQ");
    bytes[4..8].copy_from_slice(&1u32.to_le_bytes());
    bytes[8..16].copy_from_slice(&generation.to_le_bytes());
    bytes[16..24].copy_from_slice(&index.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..28]);
    bytes[28..32].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// The newest valid record's index in the state file, decoded independently of the crate.
fn index_on_disk(path: &std::path::Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    (0..2)
        .filter_map(|slot| {
            let record = &bytes[slot * 4096..slot * 4096 + 32];
            let crc = u32::from_le_bytes(record[28..32].try_into().unwrap());
            (crc == crc32fast::hash(&record[..28]) && &record[0..4] == b"MSEQ").then(|| {
                (
                    u64::from_le_bytes(record[8..16].try_into().unwrap()),
                    u64::from_le_bytes(record[16..24].try_into().unwrap()),
                )
            })
        })
        .max()
        .expect("a valid record")
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_step_is_already_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let path = store.state_path().to_path_buf();
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let path = path.clone();
            tokio::spawn(async move {
                for _ in 0..250 {
                    let index = store.next(u64::MAX).await.unwrap();
                    let on_disk = index_on_disk(&path);
                    assert!(
                        on_disk >= index,
                        "acknowledged {index}, file holds {on_disk}"
                    );
                    // `current` never reports a state the file does not hold yet.
                    let current = store.current().await.unwrap();
                    assert!(index_on_disk(&path) >= current);
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    assert_eq!(index_on_disk(&path), 2_000);
}

fn slot_of(file: &std::fs::File, generation: u64, index: u64) -> u64 {
    let wanted = record(generation, index);
    (0..2)
        .find(|slot| {
            let mut bytes = [0u8; 32];
            file.read_exact_at(&mut bytes, slot * 4096).unwrap();
            bytes == wanted
        })
        .unwrap_or_else(|| panic!("no slot holds generation {generation} index {index}"))
}

#[tokio::test]
async fn the_file_holds_the_last_two_commits_in_the_documented_format() {
    let dir = tempfile::tempdir().unwrap();
    let file = store_at(dir.path(), 5).await;
    let newest = slot_of(&file, 5, 5);
    let older = slot_of(&file, 4, 4);
    assert_ne!(newest, older);
}

#[tokio::test]
async fn a_torn_write_keeps_the_last_acknowledged_state() {
    let dir = tempfile::tempdir().unwrap();
    let file = store_at(dir.path(), 5).await;
    // A crash while writing generation 6 (index 6, never acknowledged) into the older slot:
    // only a prefix of the new record reached the disk.
    let target = slot_of(&file, 4, 4) * 4096;
    let torn = record(6, 6);
    for cut in [9, 16, 20, 28, 31] {
        file.write_all_at(&torn[..cut], target).unwrap();
        let store = open(dir.path());
        assert_eq!(store.current().await.unwrap(), 5, "torn at byte {cut}");
        drop(store);
        // Put the older record back for the next cut (reopening wrote nothing).
        file.write_all_at(&record(4, 4), target).unwrap();
    }
    // The complete (but unacknowledged) write is recovered: it was in flight.
    file.write_all_at(&torn, target).unwrap();
    let store = open(dir.path());
    assert_eq!(store.current().await.unwrap(), 6);
    // The next commit goes to the other slot, keeping generation 6 intact.
    assert_eq!(store.next(u64::MAX).await.unwrap(), 7);
    drop(store);
    assert_eq!(slot_of(&file, 6, 6) * 4096, target);
    slot_of(&file, 7, 7);
}

#[tokio::test]
async fn a_damaged_newest_record_falls_back_to_the_one_before() {
    let dir = tempfile::tempdir().unwrap();
    let file = store_at(dir.path(), 5).await;
    let newest = slot_of(&file, 5, 5) * 4096;
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, newest + 17).unwrap();
    file.write_all_at(&[byte[0] ^ 0x10], newest + 17).unwrap();
    let store = open(dir.path());
    assert_eq!(store.current().await.unwrap(), 4);
}

#[tokio::test]
async fn a_file_without_a_valid_record_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let file = store_at(dir.path(), 3).await;
    for slot in 0..2 {
        file.write_all_at(&[0xff; 8], slot * 4096 + 8).unwrap();
    }
    let before = std::fs::read(dir.path().join(STATE_FILE_NAME)).unwrap();
    match EmbeddedStore::open(dir.path(), None) {
        Err(error @ OpenError::Corrupt { .. }) => {
            let message = error.to_string();
            assert!(message.contains(STATE_FILE_NAME), "{message}");
        }
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(_) => panic!("opened a corrupt state file"),
    }
    assert_eq!(
        std::fs::read(dir.path().join(STATE_FILE_NAME)).unwrap(),
        before
    );

    // A truncated file is refused too, not silently restarted at 0.
    file.set_len(20).unwrap();
    assert!(matches!(
        EmbeddedStore::open(dir.path(), None),
        Err(OpenError::Corrupt { .. })
    ));
}

#[tokio::test]
async fn an_unusable_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    assert!(matches!(
        EmbeddedStore::open(&not_a_dir, None),
        Err(OpenError::Io { .. })
    ));
}

#[tokio::test]
async fn conflicts_carry_the_current_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.next(2).await.unwrap();
    store.next(2).await.unwrap();
    let error = store.next(2).await.unwrap_err();
    assert!(matches!(error, SequenceError::AtEnd { index: 2 }));
    assert!(error.to_string().contains("index 2"), "{error}");
}

/// Writes `records` (slot, generation, index) into a fresh state file, built independently
/// of the crate's encoder.
fn state_file_with(dir: &std::path::Path, records: &[(u64, u64, u64)]) {
    let mut bytes = vec![0u8; 8192];
    for &(slot, generation, index) in records {
        let at = slot as usize * 4096;
        bytes[at..at + 32].copy_from_slice(&record(generation, index));
    }
    std::fs::write(dir.join(STATE_FILE_NAME), bytes).unwrap();
}

fn open_capped(dir: &std::path::Path, max_index: u64) -> Result<EmbeddedStore, OpenError> {
    let options = StoreOptions {
        max_index,
        ..StoreOptions::default()
    };
    EmbeddedStore::open_with(dir, options)
}

#[tokio::test]
async fn an_index_beyond_the_maximum_is_refused_at_open() {
    for index in [10_001, 99_999_999, u64::MAX - 3] {
        let dir = tempfile::tempdir().unwrap();
        state_file_with(dir.path(), &[(0, 1, index)]);
        match open_capped(dir.path(), 10_000) {
            Err(error @ OpenError::OutOfRange { .. }) => {
                let message = error.to_string();
                assert!(message.contains(&index.to_string()), "{message}");
                assert!(message.contains("0..=10000"), "{message}");
            }
            Err(other) => panic!("expected OutOfRange for {index}, got {other}"),
            Ok(_) => panic!("opened a state file at index {index} with maximum 10000"),
        }
    }
    // The maximum itself is fine.
    let dir = tempfile::tempdir().unwrap();
    state_file_with(dir.path(), &[(0, 1, 10_000)]);
    let store = open_capped(dir.path(), 10_000).unwrap();
    assert_eq!(store.current().await.unwrap(), 10_000);
}

#[tokio::test]
async fn a_damaged_newest_slot_is_reported_with_both_indices() {
    let dir = tempfile::tempdir().unwrap();
    let file = store_at(dir.path(), 5).await;
    let newest = slot_of(&file, 5, 5);
    file.write_all_at(&[0xAB], newest * 4096 + 9).unwrap(); // a flipped generation byte
    let store = open(dir.path());
    assert_eq!(store.current().await.unwrap(), 4);
    assert_eq!(
        store.recovery(),
        Some(Recovery {
            index: 4,
            generation: 4,
            damaged_slot: newest,
            damaged_claim: Some(5),
        })
    );
}

#[tokio::test]
async fn a_file_truncated_to_one_slot_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = store_at(dir.path(), 5).await;
    let older = 1 - slot_of(&file, 5, 5);
    assert_eq!(older, 0, "the 5th commit lands in slot 1");
    file.set_len(4096).unwrap();
    let store = open(dir.path());
    assert_eq!(store.current().await.unwrap(), 4);
    let recovery = store.recovery().expect("a recovery");
    assert_eq!((recovery.index, recovery.damaged_slot), (4, 1));
    assert_eq!(recovery.damaged_claim, None, "the slot is gone");
}

#[tokio::test]
async fn an_intact_file_reports_no_recovery() {
    let dir = tempfile::tempdir().unwrap();
    drop(store_at(dir.path(), 1).await);
    assert_eq!(open(dir.path()).recovery(), None);
    drop(store_at(dir.path(), 3).await);
    assert_eq!(open(dir.path()).recovery(), None);
}

#[tokio::test]
async fn an_idempotency_key_steps_once_and_replays_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (next, cap) = (Operation::Next, 2);
    assert_eq!(store.apply(next, cap, Some("a")).await.unwrap(), 1);
    assert_eq!(
        store.apply(next, cap, Some("a")).await.unwrap(),
        1,
        "replayed"
    );
    assert_eq!(store.current().await.unwrap(), 1, "stepped once");
    assert_eq!(store.apply(next, cap, Some("b")).await.unwrap(), 2);
    assert!(matches!(
        store.apply(next, cap, Some("c")).await,
        Err(SequenceError::AtEnd { index: 2 })
    ));
    // The conflict is replayed too, even after the state moved on.
    store.previous().await.unwrap();
    assert!(matches!(
        store.apply(next, cap, Some("c")).await,
        Err(SequenceError::AtEnd { index: 2 })
    ));
    assert!(matches!(
        store.apply(Operation::Reset, cap, Some("a")).await,
        Err(SequenceError::KeyReused { .. })
    ));
    assert_eq!(store.current().await.unwrap(), 1);
}

#[tokio::test]
async fn idempotency_records_are_bounded_in_count_and_time() {
    let (next, cap) = (Operation::Next, 100);
    // A window far longer than the test: here only the count cap forgets.
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        idempotency: IdempotencyLimits {
            capacity: 2,
            window: Duration::from_secs(3600),
        },
        ..StoreOptions::default()
    };
    let store = EmbeddedStore::open_with(dir.path(), options).unwrap();
    for key in ["a", "b", "c"] {
        store.apply(next, cap, Some(key)).await.unwrap();
    }
    // "a" was forgotten (count cap): it steps again; "c" is kept.
    assert_eq!(store.apply(next, cap, Some("c")).await.unwrap(), 3);
    assert_eq!(store.apply(next, cap, Some("a")).await.unwrap(), 4);

    // A short window: past it a key is forgotten, and its retry steps again, once.
    let dir = tempfile::tempdir().unwrap();
    let window = Duration::from_millis(100);
    let options = StoreOptions {
        idempotency: IdempotencyLimits {
            capacity: 100,
            window,
        },
        ..StoreOptions::default()
    };
    let store = EmbeddedStore::open_with(dir.path(), options).unwrap();
    assert_eq!(store.apply(next, cap, Some("a")).await.unwrap(), 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        // Each try starts a full window after the last, so a replay cannot keep it alive.
        tokio::time::sleep(window * 2).await;
        match store.apply(next, cap, Some("a")).await.unwrap() {
            1 => assert!(
                tokio::time::Instant::now() < deadline,
                "the key was never forgotten"
            ),
            stepped => {
                assert_eq!(stepped, 2);
                break;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_disk_makes_ready_wait_and_abandoned_steps_are_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let freezer = Freezer::default();
    let options = StoreOptions {
        before_sync: Some(freezer.hook()),
        ..StoreOptions::default()
    };
    let store = EmbeddedStore::open_with(dir.path(), options).unwrap();
    assert_eq!(store.next(100).await.unwrap(), 1);
    freezer.set(true);
    let limit = Duration::from_millis(300);
    // The step in the stalled commit: its outcome is decided, its answer waits.
    let stalled = tokio::spawn({
        let store = store.clone();
        async move { store.next(100).await }
    });
    freezer.wait_until_a_sync_is_held().await;
    assert!(
        tokio::time::timeout(limit, store.ready()).await.is_err(),
        "ready while stalled"
    );
    // Steps queued behind it whose callers give up are never applied.
    for _ in 0..3 {
        assert!(tokio::time::timeout(limit, store.next(100)).await.is_err());
    }
    freezer.set(false);
    assert_eq!(stalled.await.unwrap().unwrap(), 2);
    store.ready().await.unwrap();
    assert_eq!(
        store.current().await.unwrap(),
        2,
        "abandoned steps were applied"
    );
    assert_eq!(index_on_disk(store.state_path()), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_queue_is_bounded_and_refuses_at_once_when_full() {
    let dir = tempfile::tempdir().unwrap();
    let freezer = Freezer::default();
    let options = StoreOptions {
        before_sync: Some(freezer.hook()),
        ..StoreOptions::default()
    };
    let store = EmbeddedStore::open_with(dir.path(), options).unwrap();
    freezer.set(true);
    let spawn_next = || {
        let store = store.clone();
        tokio::spawn(async move { store.next(u64::MAX).await })
    };
    // One step stalls inside the fsync; then the queue fills up behind it.
    let stalled = spawn_next();
    freezer.wait_until_a_sync_is_held().await;
    let queued: Vec<_> = (0..QUEUE_CAPACITY).map(|_| spawn_next()).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while store.queued_changes() < QUEUE_CAPACITY {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the queue never filled: {}",
            store.queued_changes()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The disk stays frozen: a step that queued instead of being refused would never
    // answer, so the generous timeout only turns that into a failure instead of a hang.
    for _ in 0..10 {
        let refused = tokio::time::timeout(Duration::from_secs(30), store.next(u64::MAX))
            .await
            .expect("a step waited on a full queue instead of being refused");
        match refused {
            Err(error @ SequenceError::Unavailable(_)) => {
                assert!(
                    error.to_string().contains("waiting for the disk"),
                    "{error}"
                )
            }
            other => panic!("a full queue accepted a step: {other:?}"),
        }
    }
    freezer.set(false);
    assert_eq!(stalled.await.unwrap().unwrap(), 1);
    for task in queued {
        task.await.unwrap().unwrap();
    }
    let expected = 1 + QUEUE_CAPACITY as u64;
    assert_eq!(
        store.current().await.unwrap(),
        expected,
        "refused steps were applied"
    );
}
