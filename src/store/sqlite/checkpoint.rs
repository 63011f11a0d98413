//! WAL checkpoints on a connection and thread of their own, finished by the store thread.
//!
//! Left to SQLite, a checkpoint runs inside whichever commit crosses the threshold, and the
//! store thread waits tens of milliseconds while pages are copied and the database synced:
//! that was the p99 of token exchange. Here the store's connection does not checkpoint on
//! its own; this thread copies the WAL into the database a few times a second, beside it,
//! in `PASSIVE` mode, which never blocks the writer.
//!
//! Under steady load that copy never completes: the writer appends while it runs, and
//! SQLite starts the WAL over only once a checkpoint has copied every frame. The WAL then
//! grows without bound (600 MiB in a 15-second benchmark), and every commit pays for
//! extending the file: the kernel zeroes each new page and the WAL's sync must also write
//! its new size and blocks. So once the WAL is `RESTART_FRAMES` long, this thread asks the
//! store thread to finish the copy (`CatchUp`): between two groups no writer runs, so a
//! checkpoint there copies the few frames appended since, completes, and the next commit
//! starts the WAL over, overwriting the file in place.
//!
//! That last step syncs the database file with no commit running. SQLite syncs the database
//! only after a copy that completes, so every page copied since the WAL last started over
//! would still be waiting for the disk there: thousands of scattered pages, a pause of 10 to
//! 30 ms. So before it asks, this thread syncs the database file itself, beside the writer,
//! and the store thread's sync is left with the few pages of its own short copy.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How often the WAL is copied into the database.
const INTERVAL: Duration = Duration::from_millis(200);
/// WAL frames (one page each) from which the WAL is started over: 64 MiB of 4 KiB pages.
/// Against 4,096 frames, a quarter as many restarts took about 4 µs of the store thread's
/// CPU off each exchange; 65,536 gained nothing more (docs/performance.md).
const RESTART_FRAMES: i64 = 16384;
/// WAL frames from which a WAL that is not starting over is logged.
const LONG_WAL_FRAMES: i64 = 100_000;

/// Keeps the checkpoint thread running; it stops when this is dropped.
pub(super) struct Checkpointer {
    _running: mpsc::Sender<()>,
}

/// Set by the checkpoint thread when the WAL should start over; taken by the store
/// thread, which then finishes the checkpoint.
#[derive(Clone, Default)]
pub(super) struct CatchUp(Arc<AtomicBool>);

impl CatchUp {
    fn ask(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// On the store thread, between groups: finishes the checkpoint when asked to.
    pub(super) fn finish_if_asked(&self, connection: &Connection) {
        if self.0.swap(false, Ordering::Acquire) {
            let started = std::time::Instant::now();
            match checkpoint(connection) {
                Ok(done) => log::debug!(
                    "WAL checkpoint finished by the store thread: {} of {} frames in {:?}",
                    done.copied,
                    done.frames,
                    started.elapsed()
                ),
                Err(err) => log::error!("WAL checkpoint on the store connection: {err}"),
            }
        }
    }
}

impl Checkpointer {
    pub(super) fn start(database: PathBuf, catch_up: CatchUp) -> anyhow::Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&database, flags)?;
        connection.busy_timeout(Duration::from_secs(5))?;
        let file = File::open(&database)?;
        let (running, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(&connection, &file, &stopped, &catch_up))?;
        Ok(Checkpointer { _running: running })
    }
}

/// `database` is the database file, synced here before the store thread is asked to finish.
fn checkpoint_loop(
    connection: &Connection,
    database: &File,
    stopped: &mpsc::Receiver<()>,
    catch_up: &CatchUp,
) {
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        match checkpoint(connection) {
            Ok(Copied { frames, copied }) if frames >= RESTART_FRAMES => {
                if frames > LONG_WAL_FRAMES {
                    log::warn!("WAL long: {frames} frames, {copied} copied");
                }
                prepare_to_finish(connection, database);
                catch_up.ask();
            }
            Ok(_) => {}
            Err(err) => log::error!("WAL checkpoint: {err}"),
        }
    }
}

/// Leaves the store thread's sync as little as possible: syncs what the copies so far
/// wrote to the database, copies what was committed meanwhile, and syncs that too. Only
/// shortens the pause: SQLite syncs the database itself before the WAL starts over, so a
/// failure here loses nothing.
fn prepare_to_finish(connection: &Connection, database: &File) {
    let synced = database.sync_data().and_then(|()| {
        checkpoint(connection).map_err(std::io::Error::other)?;
        database.sync_data()
    });
    if let Err(err) = synced {
        log::warn!("sync of the database file before the WAL starts over: {err}");
    }
}

/// What one `PASSIVE` checkpoint found: frames in the WAL, and how many are copied.
struct Copied {
    frames: i64,
    copied: i64,
}

fn checkpoint(connection: &Connection) -> rusqlite::Result<Copied> {
    connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok(Copied {
            frames: row.get(1)?,
            copied: row.get(2)?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database with one table, in a folder removed when the first is dropped: the
    /// store's connection (with its pragmas) and a second one, as the checkpoint thread's.
    fn store_and_checkpointer() -> (tempfile::TempDir, Connection, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = super::super::connect(Some(path.clone())).unwrap();
        store.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let other = Connection::open(&path).unwrap();
        (dir, store, other)
    }

    /// One commit of the store connection while the checkpoint thread copies: the copy
    /// runs inside the commit's transaction, as it does under load. Returns the frames
    /// the copy found in the WAL.
    fn commit_during_a_copy(store: &Connection, other: &Connection) -> i64 {
        store.execute_batch("BEGIN IMMEDIATE").unwrap();
        let found = checkpoint(other).unwrap().frames;
        store.execute("INSERT INTO t (x) VALUES (1)", []).unwrap();
        store.execute_batch("COMMIT").unwrap();
        found
    }

    #[test]
    fn a_checkpoint_finished_by_the_store_thread_starts_the_wal_over() {
        let (_dir, store, other) = store_and_checkpointer();

        // A copy that always overlaps a commit never completes, and the WAL only grows.
        let grown: Vec<i64> = (0..3)
            .map(|_| commit_during_a_copy(&store, &other))
            .collect();
        assert!(grown[0] < grown[1] && grown[1] < grown[2], "{grown:?}");

        let catch_up = CatchUp::default();
        catch_up.finish_if_asked(&store);
        assert!(
            commit_during_a_copy(&store, &other) > grown[2],
            "not asked: no change"
        );

        catch_up.ask();
        catch_up.finish_if_asked(&store);
        commit_during_a_copy(&store, &other);
        let after = commit_during_a_copy(&store, &other);
        assert!(
            after < grown[0],
            "the WAL started over: {after} frames, was {grown:?}"
        );
    }

    /// What the WAL holds and how much of it is copied, without copying anything.
    fn wal_state(connection: &Connection) -> (i64, i64) {
        connection
            .query_row("PRAGMA wal_checkpoint(NOOP)", [], |row| {
                Ok((row.get(1)?, row.get(2)?))
            })
            .unwrap()
    }

    #[test]
    fn before_asking_the_checkpoint_thread_copies_what_was_committed_after_its_copy() {
        let (dir, store, other) = store_and_checkpointer();
        let database = File::open(dir.path().join("store.db")).unwrap();

        let first = checkpoint(&other).unwrap();
        assert_eq!(first.frames, first.copied);
        for x in 0..3 {
            store.execute("INSERT INTO t (x) VALUES (?1)", [x]).unwrap();
        }
        let (frames, copied) = wal_state(&other);
        assert!(
            copied < frames,
            "three commits after the copy: {copied} of {frames}"
        );

        prepare_to_finish(&other, &database);
        assert_eq!(wal_state(&other), (frames, frames), "all copied");
    }
}
