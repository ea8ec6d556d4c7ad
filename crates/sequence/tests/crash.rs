//! `kill -9` in the middle of concurrent steps: the recovered index is at least every
//! acknowledged one and at most the acknowledged steps plus those in flight.
//!
//! The test re-runs its own binary as the child (selected by an environment variable): the
//! child opens the store in the given directory, runs `CALLERS` tasks that call `next` in a
//! loop, and prints `ACK=INDEX` after each call returns. The parent kills it with SIGKILL
//! mid-stream, then reopens the store.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mathapi_sequence::{EmbeddedStore, OpenError, SequenceStore};

const TEST_NAME: &str = "kill_9_mid_stream_never_loses_an_acknowledged_step";
const CHILD_DIR_VAR: &str = "MATHAPI_SEQUENCE_CRASH_CHILD_DIR";
const CALLERS: u64 = 32;
const ACK_MARKER: &str = "ACK=";

#[test]
fn kill_9_mid_stream_never_loses_an_acknowledged_step() {
    if let Ok(dir) = std::env::var(CHILD_DIR_VAR) {
        run_child(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut start = 0;
    // Kill at different depths of the stream.
    for kill_after in [300, 2_000, 5_000] {
        let (acks, child_pid) = run_and_kill(dir.path(), kill_after);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let store = EmbeddedStore::open(dir.path(), None)
            .expect("the killed child's lock is released by the kernel");
        let recovered = runtime.block_on(store.current()).unwrap();

        let distinct: BTreeSet<u64> = acks.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            acks.len(),
            "an index was acknowledged twice"
        );
        let acked = acks.len() as u64;
        let max_acked = *distinct.last().unwrap();
        assert!(*distinct.first().unwrap() > start);
        println!(
            "child {child_pid}: started at {start}, {acked} acks (max {max_acked}), recovered {recovered}"
        );
        assert!(
            recovered >= max_acked,
            "lost acknowledged steps: recovered {recovered} < acknowledged {max_acked}"
        );
        // Each caller has at most one step that committed without its ack being printed.
        assert!(
            recovered <= start + acked + CALLERS,
            "recovered {recovered} > start {start} + {acked} acks + {CALLERS} in flight"
        );
        // The store keeps working from there.
        assert_eq!(
            runtime.block_on(store.next(u64::MAX)).unwrap(),
            recovered + 1
        );
        start = recovered + 1;
    }
}

/// Runs a child on `dir`, SIGKILLs it after `kill_after` acks, and returns every ack it
/// printed (including those still in the pipe at the kill) and its pid.
fn run_and_kill(dir: &Path, kill_after: usize) -> (Vec<u64>, u32) {
    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads", "1"])
            .env(CHILD_DIR_VAR, dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    let stdout = child.0.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest's unterminated "test NAME ... " header may precede the first ack.
            if let Some((_, index)) = line.split_once(ACK_MARKER) {
                let _ = lines_tx.send(index.parse::<u64>().unwrap());
            }
        }
    });

    let mut acks = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lock_checked = false;
    while acks.len() < kill_after {
        let timeout = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(timeout) {
            Ok(index) => acks.push(index),
            Err(_) => panic!(
                "the child stopped after {} acks (wanted {kill_after})",
                acks.len()
            ),
        }
        if !lock_checked && acks.len() >= 50 {
            // While the child runs, its data directory is locked against us.
            match EmbeddedStore::open(dir, None) {
                Err(OpenError::Locked { holder, .. }) => assert_eq!(holder, Some(pid)),
                Err(other) => panic!("expected Locked, got {other}"),
                Ok(_) => panic!("opened a directory the child holds"),
            }
            lock_checked = true;
        }
    }
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();
    reader.join().unwrap();
    acks.extend(lines.try_iter());
    (acks, pid)
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child: step forever (until killed), printing each acknowledged index.
fn run_child(dir: &Path) -> ! {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = EmbeddedStore::open(dir, None).unwrap();
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    loop {
                        let index = store.next(u64::MAX).await.unwrap();
                        println!("{ACK_MARKER}{index}");
                    }
                })
            })
            .collect();
        // A safety net in case the parent died without killing us.
        tokio::time::sleep(Duration::from_secs(120)).await;
        drop(callers);
    });
    std::process::exit(2)
}
