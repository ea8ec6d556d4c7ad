//! The embedded backend: a two-slot state file in a data directory, written by one thread
//! that commits queued operations in batches (group commit).
//!
//! # On-disk format
//!
//! `sequence.state` is 8 KiB: two slots at offsets 0 and 4096, each starting with a
//! 32-byte record (little-endian):
//!
//! | bytes  | field                                          |
//! |--------|------------------------------------------------|
//! | 0..4   | magic `MSEQ`                                   |
//! | 4..8   | format version (1)                             |
//! | 8..16  | generation (+1 per commit)                     |
//! | 16..24 | index                                          |
//! | 24..28 | reserved, zero                                 |
//! | 28..32 | CRC-32 (IEEE) of bytes 0..28                   |
//!
//! A commit writes generation `g + 1` into the slot that does *not* hold the newest valid
//! record `g`, then `fdatasync`s, and only then answers its callers. Recovery reads both
//! slots and takes the valid record (magic, version, checksum) with the highest
//! generation. A write torn by a crash only touches the other slot, so the record of the
//! last acknowledged commit survives intact; a torn record fails its checksum and is
//! ignored, and a complete but unsynced one holds a step that was still in flight. The
//! slots sit in separate 4 KiB blocks so that one slot's write cannot damage the other.
//! The file is created complete (written to a temporary name, synced, renamed, directory
//! synced), so it never exists half-initialised, and its size never changes afterwards,
//! which keeps `fdatasync` to a single data-block write.
//!
//! A slot that is neither a valid record nor the zeros of a never-written slot (a flipped
//! byte, a truncated file) is damage: the store still opens from the other slot, and
//! reports it as a [`Recovery`] (the service logs it at `warn` and counts it). If the
//! damaged slot held the newest record, the sequence restarts one acknowledged step back.
//! Every loaded index is checked against the configured maximum
//! ([`StoreOptions::max_index`](crate::StoreOptions::max_index)): outside it the store
//! refuses to open ([`OpenError::OutOfRange`]).
//!
//! [`decode_state_file`] is the pure decoder of the file's bytes (it is fuzzed).
//!
//! `sequence.lock` is held with `flock(LOCK_EX | LOCK_NB)` for the store's lifetime and
//! records the holder's pid, so a second process (or a second store in this process) on the
//! same directory fails with [`OpenError::Locked`].

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::idempotency::{Outcome, Records};
use crate::{
    CommitHook, OpenError, Operation, SequenceError, SequenceStore, StoreOptions, SyncHook,
};

/// The state file's name inside the data directory.
pub const STATE_FILE_NAME: &str = "sequence.state";
/// The lock file's name inside the data directory.
pub const LOCK_FILE_NAME: &str = "sequence.lock";

/// How many changes may wait for the writer thread; more are refused (`Unavailable`, not
/// applied). Far above what group commit needs: a batch is whatever queued during one fsync.
pub const QUEUE_CAPACITY: usize = 4096;

const TEMP_FILE_NAME: &str = "sequence.state.tmp";
const SLOT_SIZE: u64 = 4096;
const SLOTS: u64 = 2;
const RECORD_LEN: usize = 32;
const MAGIC: [u8; 4] = *b"MSEQ";
const FORMAT_VERSION: u32 = 1;

/// One committed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record {
    generation: u64,
    index: u64,
}

impl Record {
    fn encode(self) -> [u8; RECORD_LEN] {
        let mut bytes = [0u8; RECORD_LEN];
        bytes[0..4].copy_from_slice(&MAGIC);
        bytes[4..8].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes[8..16].copy_from_slice(&self.generation.to_le_bytes());
        bytes[16..24].copy_from_slice(&self.index.to_le_bytes());
        let crc = crc32fast::hash(&bytes[..28]);
        bytes[28..32].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    /// The record in `bytes`, if it is complete and intact.
    fn decode(bytes: &[u8]) -> Option<Self> {
        let bytes = bytes.get(..RECORD_LEN)?;
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        if crc32fast::hash(&bytes[..28]) != u32_at(28)
            || bytes[0..4] != MAGIC
            || u32_at(4) != FORMAT_VERSION
        {
            return None;
        }
        Some(Self {
            generation: u64_at(8),
            index: u64_at(16),
        })
    }
}

/// The newest valid record and the slot holding it.
#[derive(Debug, Clone, Copy)]
struct Latest {
    record: Record,
    slot: u64,
}

/// What a state file's bytes hold, as [`decode_state_file`] reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateFile {
    /// The newest valid record's `(generation, index)`, if any slot is valid.
    pub newest: Option<(u64, u64)>,
    /// The slot holding it.
    pub slot: u64,
    /// A slot that is damaged (neither valid nor never written, or cut off by truncation).
    pub damaged_slot: Option<u64>,
    /// The index the damaged slot claims, if its bytes are there (unverified: the
    /// checksum failed).
    pub damaged_claim: Option<u64>,
}

/// A state file opened from one slot because the other was damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    /// The index the store opened at (from the intact slot).
    pub index: u64,
    /// That record's generation.
    pub generation: u64,
    /// The damaged slot (0 or 1).
    pub damaged_slot: u64,
    /// The index the damaged slot claims, if readable (unverified).
    pub damaged_claim: Option<u64>,
}

/// Decodes the bytes of a state file: pure, total (never panics, whatever the bytes).
pub fn decode_state_file(bytes: &[u8]) -> StateFile {
    let mut file = StateFile {
        newest: None,
        slot: 0,
        damaged_slot: None,
        damaged_claim: None,
    };
    for slot in 0..SLOTS {
        let start = (slot * SLOT_SIZE) as usize;
        let raw = bytes.get(start..).unwrap_or_default();
        let raw = &raw[..raw.len().min(RECORD_LEN)];
        match Record::decode(raw) {
            Some(record) => {
                if file
                    .newest
                    .is_none_or(|(generation, _)| record.generation > generation)
                {
                    file.newest = Some((record.generation, record.index));
                    file.slot = slot;
                }
            }
            // Never written: the second slot before the second commit.
            None if raw.len() == RECORD_LEN && raw.iter().all(|&b| b == 0) => {}
            None => {
                file.damaged_slot = Some(slot);
                file.damaged_claim = (raw.len() == RECORD_LEN)
                    .then(|| u64::from_le_bytes(raw[16..24].try_into().unwrap_or_default()));
            }
        }
    }
    file
}

/// Reads the whole state file and decodes it.
fn recover(file: &File) -> io::Result<StateFile> {
    let mut bytes = vec![0u8; (SLOT_SIZE * SLOTS) as usize];
    let mut filled = 0;
    // A short file is decoded as far as it goes (its missing slot counts as damaged).
    while filled < bytes.len() {
        match file.read_at(&mut bytes[filled..], filled as u64)? {
            0 => break,
            read => filled += read,
        }
    }
    bytes.truncate(filled);
    Ok(decode_state_file(&bytes))
}

enum Op {
    /// A change: never [`Operation::Current`] (a read needs no queue).
    Change {
        operation: Operation,
        /// The cap of a `next`.
        max_index: u64,
        key: Option<String>,
    },
    /// Answers once the writer gets to it: proof that it is not stuck (for `ready`).
    Ping,
}

struct Request {
    op: Op,
    reply: oneshot::Sender<Result<u64, SequenceError>>,
}

/// State shared by the handles and the writer thread.
struct Shared {
    /// The last durable index (what `current` returns).
    index: AtomicU64,
    /// Number of durable writes (`fdatasync`s) since open.
    commits: AtomicU64,
    /// Set after a failed write or fsync: the file's contents are then uncertain, so the
    /// store refuses further changes until the process restarts and recovers from disk.
    poisoned: AtomicBool,
}

/// Stops the writer thread and releases the directory lock when the last handle drops.
struct Guard {
    writer: Option<JoinHandle<()>>,
    // Held for its `flock`; dropped after the writer has closed the state file.
    _lock: File,
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Every sender is gone by now (`EmbeddedStore` drops its sender before its guard),
        // so the writer finishes its last batch and exits.
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The embedded backend. Clones share one writer thread and one state file.
///
/// Concurrent mutating calls are queued (at most [`QUEUE_CAPACITY`]; beyond that they are
/// refused at once) to a single writer thread, which applies every queued operation in
/// order, writes the resulting state once, `fdatasync`s once, and then answers the whole
/// batch. `current` reads the last durable index without queuing.
#[derive(Clone)]
pub struct EmbeddedStore {
    // Field order matters: the sender must drop before the guard joins the writer.
    requests: mpsc::Sender<Request>,
    shared: Arc<Shared>,
    state_path: Arc<Path>,
    recovery: Option<Recovery>,
    _guard: Arc<Guard>,
}

impl EmbeddedStore {
    /// Opens (creating if missing) the state in `dir` and locks the directory.
    ///
    /// Fails with [`OpenError::Locked`] if another process or store holds `dir`, and with
    /// [`OpenError::Corrupt`] (leaving the file untouched) if no record is valid.
    pub fn open(dir: impl AsRef<Path>, on_commit: Option<CommitHook>) -> Result<Self, OpenError> {
        let options = StoreOptions {
            on_commit,
            ..StoreOptions::default()
        };
        Self::open_with(dir, options)
    }

    /// [`EmbeddedStore::open`] with every option; also fails with [`OpenError::OutOfRange`]
    /// if the stored index is above `options.max_index`.
    pub fn open_with(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Self, OpenError> {
        let dir = dir.as_ref();
        let io_error = |source| OpenError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        create_dir_durably(dir).map_err(io_error)?;
        let lock = lock_dir(dir)?;
        let state_path = dir.join(STATE_FILE_NAME);
        let mut recovery = None;
        let (file, latest) = match OpenOptions::new().read(true).write(true).open(&state_path) {
            Ok(file) => {
                let decoded = recover(&file).map_err(io_error)?;
                let Some((generation, index)) = decoded.newest else {
                    return Err(OpenError::Corrupt { path: state_path });
                };
                if index > options.max_index {
                    return Err(OpenError::OutOfRange {
                        path: state_path,
                        index,
                        max: options.max_index,
                    });
                }
                recovery = decoded.damaged_slot.map(|damaged_slot| Recovery {
                    index,
                    generation,
                    damaged_slot,
                    damaged_claim: decoded.damaged_claim,
                });
                // The recovered record may be an unsynced write that survived a process
                // crash in the page cache; make it durable before anyone can read it.
                file.sync_data().map_err(io_error)?;
                let record = Record { generation, index };
                (
                    file,
                    Latest {
                        record,
                        slot: decoded.slot,
                    },
                )
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                create_state_file(dir, &state_path).map_err(io_error)?
            }
            Err(error) => return Err(io_error(error)),
        };
        if let Some(recovery) = recovery {
            // Only fields of the log contract (docs/observability.md): the index opened at,
            // and the rest in `detail`.
            let claim = recovery.damaged_claim.map_or_else(
                || "nothing: it is cut off".to_owned(),
                |i| format!("index {i}"),
            );
            tracing::warn!(
                index = recovery.index,
                detail = %format!(
                    "{}: slot {} is damaged (it claims {claim}); opened at index {} from the other \
                     slot (generation {}); if the damaged slot held the newest record, the last \
                     acknowledged step is lost",
                    state_path.display(),
                    recovery.damaged_slot,
                    recovery.index,
                    recovery.generation,
                ),
                "sequence state recovered from the older slot"
            );
        }
        let shared = Arc::new(Shared {
            index: AtomicU64::new(latest.record.index),
            commits: AtomicU64::new(0),
            poisoned: AtomicBool::new(false),
        });
        let (requests, queue) = mpsc::channel(QUEUE_CAPACITY);
        let writer = Writer {
            file,
            latest,
            shared: shared.clone(),
            on_commit: options.on_commit,
            before_sync: options.before_sync,
            records: Records::new(options.idempotency),
        };
        let writer = std::thread::Builder::new()
            .name("sequence-writer".into())
            .spawn(move || writer.run(queue))
            .map_err(io_error)?;
        Ok(Self {
            requests,
            shared,
            state_path: state_path.into(),
            recovery,
            _guard: Arc::new(Guard {
                writer: Some(writer),
                _lock: lock,
            }),
        })
    }

    /// Number of durable writes (each one `pwrite` + `fdatasync`) since open. Under
    /// concurrency it is lower than the number of state changes: that is group commit.
    pub fn commit_count(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }

    /// Changes waiting in the queue for the writer (not counting those it is committing).
    #[cfg(feature = "test-util")]
    pub fn queued_changes(&self) -> usize {
        QUEUE_CAPACITY - self.requests.capacity()
    }

    /// The state file's path.
    pub fn state_path(&self) -> &Path {
        &self.state_path
    }

    /// Whether opening recovered from one slot because the other was damaged.
    pub fn recovery(&self) -> Option<Recovery> {
        self.recovery
    }

    async fn submit(&self, op: Op) -> Result<u64, SequenceError> {
        if self.shared.poisoned.load(Ordering::Acquire) {
            return Err(poisoned_error());
        }
        let (reply, answer) = oneshot::channel();
        let stopped =
            || SequenceError::Unavailable("the sequence writer thread has stopped".into());
        // A full queue means the disk is far behind (or stalled): refuse at once, so the
        // caller knows nothing was applied, instead of queuing without bound.
        self.requests
            .try_send(Request { op, reply })
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => SequenceError::Unavailable(format!(
                    "{QUEUE_CAPACITY} changes are already waiting for the disk"
                )),
                mpsc::error::TrySendError::Closed(_) => stopped(),
            })?;
        answer.await.map_err(|_| stopped())?
    }
}

impl SequenceStore for EmbeddedStore {
    fn backend_name(&self) -> &'static str {
        "embedded"
    }

    async fn current(&self) -> Result<u64, SequenceError> {
        // The writer publishes an index only after it is durable, and before answering the
        // callers that changed it, so this read is linearizable without queuing.
        Ok(self.shared.index.load(Ordering::Acquire))
    }

    async fn apply(
        &self,
        operation: Operation,
        max_index: u64,
        key: Option<&str>,
    ) -> Result<u64, SequenceError> {
        if !operation.changes_state() {
            return self.current().await;
        }
        let key = key.map(str::to_owned);
        self.submit(Op::Change {
            operation,
            max_index,
            key,
        })
        .await
    }

    async fn ready(&self) -> Result<(), SequenceError> {
        // Through the writer's queue: a writer stuck in a stalled fsync does not answer.
        self.submit(Op::Ping).await.map(|_| ())
    }
}

fn poisoned_error() -> SequenceError {
    SequenceError::Unavailable(
        "an earlier write or fsync of the state file failed; restart to recover the state from disk"
            .into(),
    )
}

/// The single thread that owns the state file.
struct Writer {
    file: File,
    latest: Latest,
    shared: Arc<Shared>,
    on_commit: Option<CommitHook>,
    before_sync: Option<SyncHook>,
    records: Records,
}

impl Writer {
    fn run(mut self, mut queue: mpsc::Receiver<Request>) {
        let mut batch = Vec::new();
        // Whatever queued up while the previous batch was being synced forms the next batch.
        while let Some(first) = queue.blocking_recv() {
            batch.push(first);
            while let Ok(request) = queue.try_recv() {
                batch.push(request);
            }
            self.commit(&mut batch);
        }
    }

    /// Applies `batch` in order, makes the final state durable, then answers everyone.
    fn commit(&mut self, batch: &mut Vec<Request>) {
        if self.shared.poisoned.load(Ordering::Acquire) {
            for request in batch.drain(..) {
                let _ = request.reply.send(Err(poisoned_error()));
            }
            return;
        }
        let mut index = self.latest.record.index;
        let mut results: Vec<Result<u64, SequenceError>> = batch
            .iter()
            .map(|request| self.apply(&request.op, request.reply.is_closed(), &mut index))
            .collect();

        // A batch whose net effect is nil (e.g. only conflicts) needs no write: the state
        // its answers lead to is already durable.
        if index != self.latest.record.index {
            match self.write(index) {
                Ok(()) => self.shared.index.store(index, Ordering::Release),
                Err(error) => {
                    self.shared.poisoned.store(true, Ordering::Release);
                    for result in &mut results {
                        *result = Err(SequenceError::Io(io::Error::new(
                            error.kind(),
                            format!("writing the sequence state file failed: {error}"),
                        )));
                    }
                }
            }
        }
        for (request, result) in batch.drain(..).zip(results) {
            // The caller may have gone away (request cancelled); its step still counts.
            let _ = request.reply.send(result);
        }
    }

    /// One operation of a batch, applied to `index`.
    fn apply(&mut self, op: &Op, abandoned: bool, index: &mut u64) -> Result<u64, SequenceError> {
        let Op::Change {
            operation,
            max_index,
            key,
        } = op
        else {
            return Ok(*index);
        };
        // The caller gave up (timed out or went away) before its step was applied: skip it,
        // so that a stalled disk does not apply steps nobody waits for any more.
        if abandoned {
            return Err(SequenceError::Unavailable("the caller gave up".into()));
        }
        if let Some(replayed) = key
            .as_deref()
            .and_then(|key| self.records.replay(key, *operation))
        {
            return replayed;
        }
        let result = step_index(*operation, *max_index, index);
        if let (Some(key), Some(outcome)) = (key, Outcome::of(&result)) {
            self.records.record(key, *operation, outcome);
        }
        result
    }

    fn write(&mut self, index: u64) -> io::Result<()> {
        let started = Instant::now();
        let record = Record {
            generation: self.latest.record.generation + 1,
            index,
        };
        let slot = 1 - self.latest.slot;
        self.file.write_all_at(&record.encode(), slot * SLOT_SIZE)?;
        if let Some(before_sync) = &self.before_sync {
            before_sync();
        }
        self.file.sync_data()?;
        self.latest = Latest { record, slot };
        self.shared.commits.fetch_add(1, Ordering::Relaxed);
        if let Some(on_commit) = &self.on_commit {
            on_commit(started.elapsed());
        }
        Ok(())
    }
}

/// Applies one operation to `index` (`max_index` caps a `next`), or says why it cannot move.
fn step_index(operation: Operation, max_index: u64, index: &mut u64) -> Result<u64, SequenceError> {
    match operation {
        Operation::Current => Ok(*index),
        Operation::Next if *index >= max_index => Err(SequenceError::AtEnd { index: *index }),
        Operation::Next => {
            *index += 1;
            Ok(*index)
        }
        Operation::Previous if *index == 0 => Err(SequenceError::AtStart),
        Operation::Previous => {
            *index -= 1;
            Ok(*index)
        }
        Operation::Reset => {
            *index = 0;
            Ok(0)
        }
    }
}

/// Creates `dir` and any missing ancestors, syncing each new entry's parent directory so
/// that the directory itself survives a power loss.
fn create_dir_durably(dir: &Path) -> io::Result<()> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|path| !path.as_os_str().is_empty() && !path.exists())
        .collect();
    fs::create_dir_all(dir)?;
    for path in missing {
        sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)?.sync_all()
}

/// Takes the directory's exclusive lock and records our pid in it.
fn lock_dir(dir: &Path) -> Result<File, OpenError> {
    let io_error = |source| OpenError::Io {
        dir: dir.to_path_buf(),
        source,
    };
    let path = dir.join(LOCK_FILE_NAME);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_error)?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            let holder = fs::read_to_string(&path)
                .ok()
                .and_then(|pid| pid.trim().parse().ok());
            return Err(OpenError::Locked {
                dir: dir.to_path_buf(),
                holder,
            });
        }
        Err(errno) => return Err(io_error(errno.into())),
    }
    file.set_len(0).map_err(io_error)?;
    file.write_all_at(format!("{}\n", std::process::id()).as_bytes(), 0)
        .map_err(io_error)?;
    Ok(file)
}

/// Creates the state file at index 0, atomically: it appears complete or not at all.
fn create_state_file(dir: &Path, path: &Path) -> io::Result<(File, Latest)> {
    let temp_path = dir.join(TEMP_FILE_NAME);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp_path)?;
    let record = Record {
        generation: 0,
        index: 0,
    };
    let mut contents = vec![0u8; (SLOT_SIZE * SLOTS) as usize];
    contents[..RECORD_LEN].copy_from_slice(&record.encode());
    file.write_all_at(&contents, 0)?;
    file.sync_all()?;
    fs::rename(&temp_path, path)?;
    sync_dir(dir)?;
    Ok((file, Latest { record, slot: 0 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        for (generation, index) in [(0, 0), (1, 1), (u64::MAX, 10_000), (7, u64::MAX)] {
            let record = Record { generation, index };
            assert_eq!(Record::decode(&record.encode()), Some(record));
        }
    }

    #[test]
    fn every_single_bit_flip_is_rejected() {
        let bytes = Record {
            generation: 42,
            index: 1234,
        }
        .encode();
        for bit in 0..RECORD_LEN * 8 {
            let mut damaged = bytes;
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(Record::decode(&damaged), None, "bit {bit} flipped");
        }
    }

    #[test]
    fn torn_and_short_records_are_rejected() {
        let old = Record {
            generation: 4,
            index: 4,
        }
        .encode();
        let new = Record {
            generation: 6,
            index: 6,
        }
        .encode();
        // A write that stopped part-way leaves a prefix of the new record over the old one.
        for cut in 1..RECORD_LEN {
            let mut torn = old;
            torn[..cut].copy_from_slice(&new[..cut]);
            if torn != old {
                assert_eq!(Record::decode(&torn), None, "cut at {cut}");
            }
            assert_eq!(
                Record::decode(&new[..cut]),
                None,
                "short record of {cut} bytes"
            );
        }
        assert_eq!(Record::decode(&[0u8; RECORD_LEN]), None, "zeroed slot");
    }

    #[test]
    fn the_decoder_reports_damage_and_picks_the_newest_valid_record() {
        let mut bytes = vec![0u8; (SLOT_SIZE * SLOTS) as usize];
        let write = |bytes: &mut Vec<u8>, slot: usize, generation, index| {
            let at = slot * SLOT_SIZE as usize;
            bytes[at..at + RECORD_LEN].copy_from_slice(&Record { generation, index }.encode());
        };
        write(&mut bytes, 0, 0, 0);
        let fresh = decode_state_file(&bytes);
        assert_eq!((fresh.newest, fresh.damaged_slot), (Some((0, 0)), None));
        write(&mut bytes, 1, 5, 5);
        write(&mut bytes, 0, 4, 4);
        assert_eq!(decode_state_file(&bytes).newest, Some((5, 5)));
        bytes[SLOT_SIZE as usize + 3] ^= 0x10;
        let damaged = decode_state_file(&bytes);
        assert_eq!(damaged.newest, Some((4, 4)));
        assert_eq!(
            (damaged.damaged_slot, damaged.damaged_claim),
            (Some(1), Some(5))
        );
        let truncated = decode_state_file(&bytes[..SLOT_SIZE as usize]);
        assert_eq!(
            (truncated.newest, truncated.damaged_slot),
            (Some((4, 4)), Some(1))
        );
        assert_eq!(decode_state_file(&[]).newest, None);
    }

    #[test]
    fn the_documented_layout_is_what_is_written() {
        let bytes = Record {
            generation: 0x0102,
            index: 0x0a0b,
        }
        .encode();
        assert_eq!(&bytes[0..4], b"MSEQ");
        assert_eq!(bytes[4..8], 1u32.to_le_bytes());
        assert_eq!(bytes[8..16], 0x0102u64.to_le_bytes());
        assert_eq!(bytes[16..24], 0x0a0bu64.to_le_bytes());
        assert_eq!(bytes[24..28], [0; 4]);
        assert_eq!(bytes[28..32], crc32fast::hash(&bytes[..28]).to_le_bytes());
    }
}
