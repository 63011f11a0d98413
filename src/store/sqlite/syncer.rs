//! Durability off the store thread: commits are answered only after an `fdatasync` of the
//! WAL file that holds them, taken on a thread of its own.
//!
//! The connection runs with `synchronous=NORMAL`: a commit appends its frames to the WAL
//! without waiting for the disk (SQLite still syncs around checkpoints). This thread then
//! syncs the WAL once for every group committed meanwhile, and only then answers their
//! callers, so a 201 still means the token survives a power loss (SPEC §6), exactly as with
//! `synchronous=FULL`, but the store thread goes on serving reads and committing the next
//! group while the disk works. Replies of several groups share one sync.

use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::store::writes::Written;
use crate::store::{StoreError, StoreResult};

/// A caller waiting for a commit to be durable, and what its write did.
pub(super) type Reply = oneshot::Sender<StoreResult<Written>>;
pub(super) type Pending = Vec<(Reply, StoreResult<Written>)>;

/// Where the store thread sends committed replies.
pub(super) enum Durability {
    /// A database file: its WAL is synced before callers are answered.
    Wal(mpsc::Sender<Pending>),
    /// An in-memory database: nothing to sync.
    Memory,
}

impl Durability {
    /// Starts the sync thread for the WAL beside `database`.
    pub(super) fn for_file(database: &std::path::Path) -> std::io::Result<Self> {
        let mut wal = database.as_os_str().to_owned();
        wal.push("-wal");
        let (committed, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-sync".into())
            .spawn(move || sync_loop(PathBuf::from(wal), &queue))?;
        Ok(Durability::Wal(committed))
    }

    /// Answers `pending` once what it wrote is durable.
    pub(super) fn answer(&self, pending: Pending) {
        match self {
            Durability::Wal(committed) => {
                if let Err(mpsc::SendError(pending)) = committed.send(pending) {
                    answer_all(pending, Err(io_gone()));
                }
            }
            Durability::Memory => answer_all(pending, Ok(())),
        }
    }
}

fn sync_loop(wal: PathBuf, queue: &mpsc::Receiver<Pending>) {
    let mut file = None;
    while let Ok(first) = queue.recv() {
        let mut pending = first;
        while let Ok(more) = queue.try_recv() {
            pending.extend(more);
        }
        let started = std::time::Instant::now();
        let synced = sync(&wal, &mut file).map_err(|err| {
            log::error!("fdatasync of {}: {err}", wal.display());
            // Reopen next time: the failure may be the descriptor's.
            file = None;
            StoreError::Unavailable(format!("the database could not be synced: {err}"))
        });
        log::debug!("synced {} writes in {:?}", pending.len(), started.elapsed());
        answer_all(pending, synced);
    }
}

/// The WAL exists from the first commit on and is kept (reset, never deleted) while the
/// store's connection is open, so one descriptor serves for the life of the store. No WAL
/// yet means no commit yet: nothing to sync.
fn sync(wal: &std::path::Path, file: &mut Option<File>) -> std::io::Result<()> {
    if file.is_none() {
        match File::open(wal) {
            Ok(opened) => *file = Some(opened),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err),
        }
    }
    file.as_ref().expect("opened above").sync_data()
}

fn answer_all(pending: Pending, synced: StoreResult<()>) {
    for (reply, result) in pending {
        let _ = reply.send(synced.clone().and(result));
    }
}

fn io_gone() -> StoreError {
    StoreError::Unavailable("the SQLite sync thread stopped".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer_one(durability: &Durability) -> StoreResult<Written> {
        let (reply, answer) = oneshot::channel();
        durability.answer(vec![(reply, Ok(Written::Done))]);
        answer.blocking_recv().expect("answered")
    }

    #[test]
    fn callers_are_answered_after_the_wal_is_synced() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("store.db");
        let durability = Durability::for_file(&database).unwrap();
        // Before the first commit there is no WAL, and nothing to sync.
        assert!(matches!(answer_one(&durability), Ok(Written::Done)));
        std::fs::write(dir.path().join("store.db-wal"), b"frames").unwrap();
        assert!(matches!(answer_one(&durability), Ok(Written::Done)));
    }

    #[test]
    fn a_failed_write_stays_failed_after_the_sync() {
        let (reply, mut answer) = oneshot::channel();
        let failed = Err(StoreError::Conflict("duplicate".into()));
        Durability::Memory.answer(vec![(reply, failed)]);
        assert!(matches!(
            answer.try_recv(),
            Ok(Err(StoreError::Conflict(_)))
        ));
    }
}
