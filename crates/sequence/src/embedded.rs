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

use crate::{CommitHook, OpenError, SequenceError, SequenceStore};

/// The state file's name inside the data directory.
pub const STATE_FILE_NAME: &str = "sequence.state";
/// The lock file's name inside the data directory.
pub const LOCK_FILE_NAME: &str = "sequence.lock";

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

/// Reads both slots and returns the newest valid record, or `None` if neither is valid.
fn recover(file: &File) -> io::Result<Option<Latest>> {
    let mut latest: Option<Latest> = None;
    for slot in 0..SLOTS {
        let mut bytes = [0u8; RECORD_LEN];
        match file.read_exact_at(&mut bytes, slot * SLOT_SIZE) {
            Ok(()) => {}
            // A short file just has no valid record in this slot.
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => continue,
            Err(error) => return Err(error),
        }
        let Some(record) = Record::decode(&bytes) else {
            continue;
        };
        if latest.is_none_or(|latest| record.generation > latest.record.generation) {
            latest = Some(Latest { record, slot });
        }
    }
    Ok(latest)
}

enum Op {
    Next { max_index: u64 },
    Previous,
    Reset,
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
/// Concurrent mutating calls are queued to a single writer thread, which applies every
/// queued operation in order, writes the resulting state once, `fdatasync`s once, and then
/// answers the whole batch. `current` reads the last durable index without queuing.
#[derive(Clone)]
pub struct EmbeddedStore {
    // Field order matters: the sender must drop before the guard joins the writer.
    requests: mpsc::UnboundedSender<Request>,
    shared: Arc<Shared>,
    state_path: Arc<Path>,
    _guard: Arc<Guard>,
}

impl EmbeddedStore {
    /// Opens (creating if missing) the state in `dir` and locks the directory.
    ///
    /// Fails with [`OpenError::Locked`] if another process or store holds `dir`, and with
    /// [`OpenError::Corrupt`] (leaving the file untouched) if no record is valid.
    pub fn open(dir: impl AsRef<Path>, on_commit: Option<CommitHook>) -> Result<Self, OpenError> {
        let dir = dir.as_ref();
        let io_error = |source| OpenError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        create_dir_durably(dir).map_err(io_error)?;
        let lock = lock_dir(dir)?;
        let state_path = dir.join(STATE_FILE_NAME);
        let (file, latest) = match OpenOptions::new().read(true).write(true).open(&state_path) {
            Ok(file) => {
                let latest =
                    recover(&file)
                        .map_err(io_error)?
                        .ok_or_else(|| OpenError::Corrupt {
                            path: state_path.clone(),
                        })?;
                // The recovered record may be an unsynced write that survived a process
                // crash in the page cache; make it durable before anyone can read it.
                file.sync_data().map_err(io_error)?;
                (file, latest)
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                create_state_file(dir, &state_path).map_err(io_error)?
            }
            Err(error) => return Err(io_error(error)),
        };

        let shared = Arc::new(Shared {
            index: AtomicU64::new(latest.record.index),
            commits: AtomicU64::new(0),
            poisoned: AtomicBool::new(false),
        });
        let (requests, queue) = mpsc::unbounded_channel();
        let writer = Writer {
            file,
            latest,
            shared: shared.clone(),
            on_commit,
        };
        let writer = std::thread::Builder::new()
            .name("sequence-writer".into())
            .spawn(move || writer.run(queue))
            .map_err(io_error)?;
        Ok(Self {
            requests,
            shared,
            state_path: state_path.into(),
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

    /// The state file's path.
    pub fn state_path(&self) -> &Path {
        &self.state_path
    }

    async fn submit(&self, op: Op) -> Result<u64, SequenceError> {
        if self.shared.poisoned.load(Ordering::Acquire) {
            return Err(poisoned_error());
        }
        let (reply, answer) = oneshot::channel();
        let stopped =
            || SequenceError::Unavailable("the sequence writer thread has stopped".into());
        self.requests
            .send(Request { op, reply })
            .map_err(|_| stopped())?;
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

    async fn next(&self, max_index: u64) -> Result<u64, SequenceError> {
        self.submit(Op::Next { max_index }).await
    }

    async fn previous(&self) -> Result<u64, SequenceError> {
        self.submit(Op::Previous).await
    }

    async fn reset(&self) -> Result<u64, SequenceError> {
        self.submit(Op::Reset).await
    }

    async fn ready(&self) -> bool {
        !self.shared.poisoned.load(Ordering::Acquire) && !self.requests.is_closed()
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
}

impl Writer {
    fn run(mut self, mut queue: mpsc::UnboundedReceiver<Request>) {
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
            .map(|request| match request.op {
                Op::Next { max_index } if index >= max_index => Err(SequenceError::AtEnd { index }),
                Op::Next { .. } => {
                    index += 1;
                    Ok(index)
                }
                Op::Previous if index == 0 => Err(SequenceError::AtStart),
                Op::Previous => {
                    index -= 1;
                    Ok(index)
                }
                Op::Reset => {
                    index = 0;
                    Ok(0)
                }
            })
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

    fn write(&mut self, index: u64) -> io::Result<()> {
        let started = Instant::now();
        let record = Record {
            generation: self.latest.record.generation + 1,
            index,
        };
        let slot = 1 - self.latest.slot;
        self.file.write_all_at(&record.encode(), slot * SLOT_SIZE)?;
        self.file.sync_data()?;
        self.latest = Latest { record, slot };
        self.shared.commits.fetch_add(1, Ordering::Relaxed);
        if let Some(on_commit) = &self.on_commit {
            on_commit(started.elapsed());
        }
        Ok(())
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
