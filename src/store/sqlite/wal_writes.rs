//! A VFS over SQLite's default one (`unix`) that hands the store connection's WAL writes to
//! the kernel as one `pwrite` per run of frames instead of two per frame.
//!
//! SQLite writes each WAL frame with two system calls, its 24-byte header and then the page.
//! A group commit writes about 27 frames, and writing them took 18 % of the server's samples
//! in a profile of the exchange (docs/performance.md). Here writes to the WAL at consecutive
//! offsets are gathered in memory and written as one run before anything else touches the
//! WAL file, and at the latest when the commit publishes its frames: SQLite calls
//! `xShmBarrier` on the database file between writing the two copies of the wal-index header
//! (`walIndexWriteHdr`), and a reader trusts a frame only once both copies agree. So every
//! frame another connection (the checkpoint thread's) can see is in the file, and the sync
//! thread's `fdatasync`, which runs after the commit, covers it (SPEC §6).
//!
//! A run that fails to write at that barrier cannot be reported to SQLite (`xShmBarrier`
//! returns nothing), and the header must not be published over frames that are not in the
//! file, so the process aborts, as PostgreSQL stops when it cannot write its WAL. Nothing
//! acknowledged is lost: the group's callers are answered only after the sync, and the next
//! open recovers the WAL up to its last complete commit, checking every frame's checksum.
//! Any other failure to write a run is returned to SQLite from the call that found it, and
//! fails that transaction, whose frames the run held (a commit's barrier empties it).

use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;
use std::sync::OnceLock;

use rusqlite::ffi;

/// The name connections pass to `open_with_flags_and_vfs`.
pub(super) const VFS_NAME: &CStr = c"obie-tokens-wal-writes";

/// A run is written once it holds this much, so a large group holds at most this in memory.
const MAX_RUN_BYTES: usize = 1 << 20;

/// The most one write hands the inner VFS. The unix VFS writes at most 128 KiB - 1 bytes
/// per call (`seekAndWriteFd` masks the length with `0x1ffff`), and reports a longer write
/// whose remainder is a multiple of 128 KiB as a full disk, so runs go out in chunks.
const WRITE_CHUNK: usize = 124 * 1024;

/// Registers the VFS once per process (not as the default one).
pub(super) fn register() -> std::io::Result<()> {
    static REGISTERED: OnceLock<c_int> = OnceLock::new();
    let rc = *REGISTERED.get_or_init(|| unsafe { register_once() });
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "registering the WAL-writes VFS failed: SQLite error {rc}"
        )))
    }
}

/// The VFS this one wraps, found once by `register`.
static INNER_VFS: OnceLock<usize> = OnceLock::new();

unsafe fn register_once() -> c_int {
    // SAFETY: `sqlite3_vfs_find(NULL)` returns the default VFS, which lives as long as the
    // process; it is copied, and only `xOpen` and the file size are changed.
    unsafe {
        let inner = ffi::sqlite3_vfs_find(ptr::null());
        if inner.is_null() {
            return ffi::SQLITE_ERROR;
        }
        let _ = INNER_VFS.set(inner as usize);
        let mut vfs = *inner;
        vfs.pNext = ptr::null_mut();
        vfs.zName = VFS_NAME.as_ptr();
        vfs.szOsFile = (SHIM_BYTES + (*inner).szOsFile as usize) as c_int;
        vfs.xOpen = Some(open);
        ffi::sqlite3_vfs_register(Box::leak(Box::new(vfs)), 0)
    }
}

/// The file object SQLite allocates (`szOsFile` bytes): ours first, the inner VFS's after.
#[repr(C)]
struct ShimFile {
    /// What SQLite sees; must come first.
    base: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
    /// A WAL file's writes not yet in the file; null for other files.
    run: *mut Run,
    /// A database file's WAL, while both are open.
    wal: *mut ShimFile,
    /// A WAL file's database file.
    database: *mut ShimFile,
}

/// Bytes for `offset..offset + bytes.len()` of the file.
struct Run {
    offset: i64,
    bytes: Vec<u8>,
}

/// `ShimFile`'s size, rounded up so the inner file object is aligned.
const SHIM_BYTES: usize = std::mem::size_of::<ShimFile>().next_multiple_of(16);

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite hands `szOsFile` writable bytes at `file`; the inner object goes after
    // ours. On failure the inner VFS leaves its `pMethods` null, and so do we, so SQLite
    // closes neither.
    unsafe {
        let shim = file.cast::<ShimFile>();
        let inner = file
            .cast::<u8>()
            .add(SHIM_BYTES)
            .cast::<ffi::sqlite3_file>();
        (*shim).base.pMethods = ptr::null();
        let inner_vfs = *INNER_VFS.get().expect("registered") as *mut ffi::sqlite3_vfs;
        let xopen = (*inner_vfs).xOpen.expect("every VFS opens");
        let rc = xopen(inner_vfs, name, inner, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        (*shim).inner = inner;
        (*shim).run = ptr::null_mut();
        (*shim).wal = ptr::null_mut();
        (*shim).database = ptr::null_mut();
        (*shim).base.pMethods = &METHODS;
        if flags & ffi::SQLITE_OPEN_WAL != 0 && !name.is_null() {
            let database = ffi::sqlite3_database_file_object(name).cast::<ShimFile>();
            if !database.is_null() && ptr::eq((*database).base.pMethods, &METHODS) {
                (*database).wal = shim;
                (*shim).database = database;
                (*shim).run = Box::into_raw(Box::new(Run {
                    offset: 0,
                    bytes: Vec::new(),
                }));
            }
        }
        ffi::SQLITE_OK
    }
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

/// The inner file and its methods.
unsafe fn inner(
    file: *mut ffi::sqlite3_file,
) -> (*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods) {
    // SAFETY: `file` is one of ours, opened by `open`; the inner methods are static.
    unsafe {
        let inner = (*file.cast::<ShimFile>()).inner;
        (inner, &*(*inner).pMethods)
    }
}

/// Writes out `shim`'s run, if it holds one (only a WAL file does). The run is emptied
/// even when the write fails: its frames belong to the transaction that failure fails.
unsafe fn write_run(shim: *mut ShimFile) -> c_int {
    // SAFETY: `shim` is one of ours; its run, when not null, is owned by it.
    unsafe {
        let Some(run) = (*shim).run.as_mut() else {
            return ffi::SQLITE_OK;
        };
        if run.bytes.is_empty() {
            return ffi::SQLITE_OK;
        }
        let (inner, methods) = inner(shim.cast());
        let xwrite = methods.xWrite.expect("every file writes");
        let mut rc = ffi::SQLITE_OK;
        let mut offset = run.offset;
        for chunk in run.bytes.chunks(WRITE_CHUNK) {
            let length = c_int::try_from(chunk.len()).expect("a chunk is WRITE_CHUNK at most");
            rc = xwrite(inner, chunk.as_ptr().cast(), length, offset);
            if rc != ffi::SQLITE_OK {
                break;
            }
            offset += chunk.len() as i64;
        }
        run.bytes.clear();
        #[cfg(test)]
        tests::RUNS_WRITTEN.with(|runs| runs.set(runs.get() + 1));
        rc
    }
}

/// Writes out the run of a database file's WAL; see the module comment for why a failure
/// here ends the process.
unsafe fn write_wal_run_or_abort(database: *mut ShimFile) {
    // SAFETY: `database` is one of ours; its `wal`, while set, is open.
    unsafe {
        let wal = (*database).wal;
        if !wal.is_null() {
            let rc = write_run(wal);
            if rc != ffi::SQLITE_OK {
                log::error!(
                    "writing WAL frames failed (SQLite error {rc}) as their commit was being \
                     published; stopping, so that the next start recovers the WAL"
                );
                std::process::abort();
            }
        }
    }
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes each file once, after its last other call.
    unsafe {
        let shim = file.cast::<ShimFile>();
        let written = write_run(shim);
        if !(*shim).run.is_null() {
            drop(Box::from_raw((*shim).run));
            (*shim).run = ptr::null_mut();
        }
        if let Some(database) = (*shim).database.as_mut() {
            database.wal = ptr::null_mut();
        }
        if let Some(wal) = (*shim).wal.as_mut() {
            // A database closed before its WAL: not what SQLite does, but keep no dangling link.
            let _ = write_run(wal);
            wal.database = ptr::null_mut();
        }
        let (inner, methods) = inner(file);
        let rc = methods.xClose.expect("every file closes")(inner);
        if written != ffi::SQLITE_OK {
            written
        } else {
            rc
        }
    }
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    // SAFETY: SQLite passes `amount` readable bytes at `data`; they are copied here. The
    // run is reached through its pointer each time, never held across `write_run`.
    unsafe {
        let shim = file.cast::<ShimFile>();
        let run = (*shim).run;
        if run.is_null() {
            let (inner, methods) = inner(file);
            return methods.xWrite.expect("every file writes")(inner, data, amount, offset);
        }
        let amount = usize::try_from(amount).unwrap_or(0);
        let (start, held) = ((*run).offset, (*run).bytes.len());
        let follows = start + held as i64 == offset;
        if held > 0 && (!follows || held + amount > MAX_RUN_BYTES) {
            let rc = write_run(shim);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        let run = &mut *run;
        if run.bytes.is_empty() {
            run.offset = offset;
        }
        run.bytes
            .extend_from_slice(std::slice::from_raw_parts(data.cast::<u8>(), amount));
        ffi::SQLITE_OK
    }
}

/// Defines a method that writes out the file's run, then does what the inner file does. Only
/// a WAL file holds a run: for the database file (the `xShm*` methods, locks, fetches) the
/// first step does nothing.
macro_rules! after_run {
    ($name:ident, $method:ident ( $($arg:ident : $ty:ty),* )) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> c_int {
            // SAFETY: `file` is one of ours; the arguments are SQLite's, passed on as given.
            unsafe {
                let rc = write_run(file.cast());
                if rc != ffi::SQLITE_OK {
                    return rc;
                }
                let (inner, methods) = inner(file);
                match methods.$method {
                    Some(method) => method(inner $(, $arg)*),
                    None => ffi::SQLITE_IOERR,
                }
            }
        }
    };
}

after_run!(read, xRead(data: *mut c_void, amount: c_int, offset: i64));
after_run!(truncate, xTruncate(size: i64));
after_run!(sync, xSync(flags: c_int));
after_run!(file_size, xFileSize(size: *mut i64));
after_run!(lock, xLock(level: c_int));
after_run!(unlock, xUnlock(level: c_int));
after_run!(check_reserved_lock, xCheckReservedLock(out: *mut c_int));
after_run!(file_control, xFileControl(op: c_int, arg: *mut c_void));
after_run!(shm_map, xShmMap(page: c_int, page_size: c_int, extend: c_int, out: *mut *mut c_void));
after_run!(shm_lock, xShmLock(offset: c_int, n: c_int, flags: c_int));
after_run!(shm_unmap, xShmUnmap(delete: c_int));
after_run!(fetch, xFetch(offset: i64, amount: c_int, out: *mut *mut c_void));
after_run!(unfetch, xUnfetch(offset: i64, page: *mut c_void));

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: as in `after_run!`. This is where a commit's frames reach the file.
    unsafe {
        write_wal_run_or_abort(file.cast());
        let (inner, methods) = inner(file);
        if let Some(method) = methods.xShmBarrier {
            method(inner);
        }
    }
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: `file` is one of ours.
    unsafe {
        let (inner, methods) = inner(file);
        methods.xSectorSize.map_or(4096, |method| method(inner))
    }
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: `file` is one of ours.
    unsafe {
        let (inner, methods) = inner(file);
        methods
            .xDeviceCharacteristics
            .map_or(0, |method| method(inner))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::path::{Path, PathBuf};

    use rusqlite::{Connection, params};

    thread_local! {
        /// Runs this thread's connections wrote to their WAL files.
        pub(super) static RUNS_WRITTEN: Cell<usize> = const { Cell::new(0) };
    }

    fn runs_written() -> usize {
        RUNS_WRITTEN.with(Cell::get)
    }

    /// The store's connection (`connect`, through this VFS), with a table of test rows.
    fn gathering(path: &Path) -> Connection {
        let connection = super::super::connect(Some(path.to_owned())).unwrap();
        connection
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)")
            .unwrap();
        connection
    }

    /// A new database in a folder removed when the first is dropped, and a connection
    /// through this VFS.
    fn fresh() -> (tempfile::TempDir, PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let connection = gathering(&path);
        (dir, path, connection)
    }

    /// Inserts `rows` rows of 1 KiB, spread so that several pages change.
    fn insert(connection: &Connection, first: i64, rows: i64) {
        let mut statement = connection
            .prepare_cached("INSERT INTO t (id, payload) VALUES (?1, randomblob(1024))")
            .unwrap();
        for id in first..first + rows {
            statement.execute(params![id]).unwrap();
        }
    }

    /// Commits `rows` rows in one transaction.
    fn commit_rows(connection: &Connection, first: i64, rows: i64) {
        connection.execute_batch("BEGIN").unwrap();
        insert(connection, first, rows);
        connection.execute_batch("COMMIT").unwrap();
    }

    /// Another connection, through the default VFS, finds `rows` rows and an intact file.
    fn assert_holds(path: &Path, rows: i64) {
        let other = Connection::open(path).unwrap();
        assert_eq!(count(&other), rows);
        let check: String = other
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }

    fn count(connection: &Connection) -> i64 {
        connection
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn a_commit_reaches_its_wal_in_one_write() {
        let (_dir, _path, connection) = fresh();
        for round in 0..5 {
            let before = runs_written();
            commit_rows(&connection, round * 20, 20);
            // Twenty 1 KiB rows change at least five pages: ten writes without the VFS.
            assert_eq!(runs_written() - before, 1, "round {round}");
        }
    }

    #[test]
    fn a_commit_larger_than_one_write_arrives_whole() {
        let (_dir, path, connection) = fresh();
        // About 600 KiB of frames: several chunks, none of them a multiple of 128 KiB.
        commit_rows(&connection, 0, 600);
        assert_holds(&path, 600);
    }

    #[test]
    fn every_commit_is_visible_to_another_connection_at_once_and_after_reopening() {
        let (_dir, path, connection) = fresh();
        let other = Connection::open(&path).unwrap();
        for round in 0..40 {
            commit_rows(&connection, round * 25, 25);
            assert_eq!(count(&other), (round + 1) * 25, "round {round}");
            if round % 10 == 9 {
                other
                    .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    .unwrap();
            }
        }
        drop(connection);
        drop(other);
        assert_holds(&path, 1000);
    }

    #[test]
    fn a_rolled_back_transaction_that_spilled_frames_leaves_no_trace() {
        let (_dir, path, connection) = fresh();
        // A page cache of a few pages spills a large transaction's pages into the WAL
        // before its commit, and a later one rewrites frames of its own.
        connection.pragma_update(None, "cache_size", 4).unwrap();
        insert(&connection, 0, 10);
        connection.execute_batch("BEGIN").unwrap();
        insert(&connection, 10, 400);
        connection.execute_batch("ROLLBACK").unwrap();
        connection.execute_batch("BEGIN").unwrap();
        insert(&connection, 10, 200);
        connection
            .execute(
                "UPDATE t SET payload = randomblob(1024) WHERE id % 7 = 0",
                [],
            )
            .unwrap();
        connection.execute_batch("COMMIT").unwrap();

        assert_holds(&path, 210);
    }
}
