//! WAL checkpoints on a connection and thread of their own.
//!
//! Left to SQLite, a checkpoint runs inside whichever commit crosses the threshold, and the
//! store thread waits tens of milliseconds while pages are copied and the database synced:
//! that was the p99 of token exchange. Here the store's connection never checkpoints; this
//! thread copies the WAL into the database a few times a second, beside it, in `PASSIVE`
//! mode, which never blocks the writer. The writer starts the WAL over once a checkpoint
//! has caught up with it, so the WAL stays a few seconds of writes long.

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How often the WAL is copied into the database.
const INTERVAL: Duration = Duration::from_millis(200);
/// WAL frames above which a checkpoint that could not catch up is logged.
const LONG_WAL_FRAMES: i64 = 100_000;

/// Keeps the checkpoint thread running; it stops when this is dropped.
pub(super) struct Checkpointer {
    _running: mpsc::Sender<()>,
}

impl Checkpointer {
    pub(super) fn start(database: PathBuf) -> anyhow::Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&database, flags)?;
        connection.busy_timeout(Duration::from_secs(5))?;
        let (running, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(&connection, &stopped))?;
        Ok(Checkpointer { _running: running })
    }
}

fn checkpoint_loop(connection: &Connection, stopped: &mpsc::Receiver<()>) {
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        let done = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        });
        match done {
            Ok((frames, copied)) if frames > LONG_WAL_FRAMES && copied < frames => {
                log::warn!("WAL checkpoint behind: {copied} of {frames} frames copied");
            }
            Ok(_) => {}
            Err(err) => log::error!("WAL checkpoint: {err}"),
        }
    }
}
