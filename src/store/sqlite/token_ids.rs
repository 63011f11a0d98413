//! How an access token is found by its hash without a random page per token per commit.
//!
//! A unique index on the hash put every new token on a random page of that index, so each
//! group commit wrote (and synced) about one such page per token: 16 of the 27 pages a
//! commit wrote under load (README "Performance"). Instead a token is found through a
//! prefix of its hash, in two tables of the same shape:
//! - `recent_access_token_ids`, in memory (this connection's `temp` schema), filled by a
//!   trigger as tokens are issued: it writes no page of the database file;
//! - `access_token_ids`, in the file, into which the recent ones are merged in batches of
//!   `MERGE_AT` or more, a few hundred at a time in key order, so one page takes many.
//!
//! Nothing is lost in a crash: the recent table is rebuilt at start-up from the tokens
//! after `access_token_ids_merged.through_id`, and merging the same token twice is a no-op.
//! Only this process sees the recent table, so the SQLite store serves one process (the
//! onboarding CLI touches no token); many replicas share PostgreSQL.

use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};

use super::writes::rollback;

/// Unmerged tokens that start a batch. A batch of `n` tokens into `access_token_ids` of `l`
/// leaf pages writes about `l * (1 - e^(-n/l))` pages, so the larger the batch, the fewer
/// pages per token: at 1,000,000 tokens (about 6,000 leaves) 0.2 per token, where the unique
/// index wrote more than one. The in-memory table holds them: about 1 MiB.
const MERGE_AT: i64 = 32_768;
/// Most tokens merged in one step, so a step holds the store thread for well under 1 ms.
const MERGE_STEP: i64 = 512;
/// How long merging rests after a failure (a full disk, say), so that it does not retry,
/// and log, after every round.
const REST_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// This connection's half of the index, its triggers, and its rows rebuilt from the file.
/// Run once per connection, after the migrations. A token whose hash another token has is
/// refused, as the unique index refused it: it would find the other token's grant.
pub(super) fn prepare(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(concat!(
        "PRAGMA temp_store = MEMORY;
         CREATE TEMP TABLE recent_access_token_ids (
             hash_prefix TEXT NOT NULL,
             token_id    INTEGER NOT NULL,
             PRIMARY KEY (hash_prefix, token_id)
         ) WITHOUT ROWID;
         CREATE TEMP VIEW all_access_token_ids AS
             SELECT hash_prefix, token_id FROM main.access_token_ids
             UNION ALL
             SELECT hash_prefix, token_id FROM temp.recent_access_token_ids;
         CREATE TEMP TRIGGER access_token_hash_unique BEFORE INSERT ON main.access_tokens
         WHEN EXISTS (SELECT 1 FROM ",
        by_hash!("new.token_hash"),
        ")
         BEGIN
             SELECT RAISE(ABORT, 'UNIQUE constraint failed: access_tokens.token_hash');
         END;
         CREATE TEMP TRIGGER recent_access_token_issued AFTER INSERT ON main.access_tokens
         BEGIN
             INSERT INTO recent_access_token_ids (hash_prefix, token_id)
             VALUES (",
        prefix_of!("new.token_hash"),
        ", new.id);
         END;
         CREATE TEMP TRIGGER recent_access_token_forgotten AFTER DELETE ON main.access_tokens
         BEGIN
             DELETE FROM recent_access_token_ids
             WHERE hash_prefix = ",
        prefix_of!("old.token_hash"),
        " AND token_id = old.id;
         END;
         INSERT INTO recent_access_token_ids (hash_prefix, token_id)
             SELECT ",
        prefix_of!("token_hash"),
        ", id FROM main.access_tokens
             WHERE id > (SELECT through_id FROM main.access_token_ids_merged)
             ORDER BY 1, 2;"
    ))
}

/// The key of a hash in both tables: its first 12 hex digits (48 bits), as in
/// `migrations/sqlite/0003_access_token_ids.sql`. Macros, so that statements can `concat!`
/// them and stay literals for the statement cache.
macro_rules! prefix_of {
    ($hash:literal) => {
        concat!("substr(", $hash, ", 1, 12)")
    };
}
pub(super) use prefix_of;

/// The rows of `access_tokens`, as `t`, whose hash is the given one, `?1` unless named
/// (SPEC §6: only hashes are stored): the prefix finds a row or two in either table of
/// ids, the whole hash picks the one. A join, not `id IN (…)`: SQLite runs it as one
/// primary-key search in each table, where `IN` would first build a temporary b-tree of
/// the ids, on every token issued (the uniqueness trigger). A revocation, rare, is an
/// UPDATE, which names its rows as `id IN (SELECT t.id FROM …)` and does build it.
macro_rules! by_hash {
    () => {
        $crate::store::sqlite::token_ids::by_hash!("?1")
    };
    ($hash:literal) => {
        concat!(
            "all_access_token_ids AS ids JOIN main.access_tokens AS t ON t.id = ids.token_id
             WHERE ids.hash_prefix = ",
            $crate::store::sqlite::token_ids::prefix_of!($hash),
            " AND t.token_hash = ",
            $hash
        )
    };
}
pub(super) use by_hash;

/// A batch being merged: every recent token with an id up to `through_id`, in key order.
#[derive(Debug)]
struct Batch {
    through_id: i64,
    /// The last key merged so far.
    after: (String, i64),
}

/// The store thread's merging, one step after each round of requests.
#[derive(Debug)]
pub(super) struct Merger {
    batch: Option<Batch>,
    resting_until: Option<Instant>,
    /// `MERGE_AT` and `MERGE_STEP`; smaller in tests.
    merge_at: i64,
    merge_step: i64,
}

impl Default for Merger {
    fn default() -> Self {
        Merger {
            batch: None,
            resting_until: None,
            merge_at: MERGE_AT,
            merge_step: MERGE_STEP,
        }
    }
}

impl Merger {
    /// Merges the next few hundred recent tokens when a batch is due or under way. A
    /// failure is logged and the batch starts over after a rest: until then the tokens are
    /// still found in the recent table, so nothing but speed depends on the merge.
    pub(super) fn step(&mut self, connection: &Connection) {
        if self
            .resting_until
            .is_some_and(|until| Instant::now() < until)
        {
            return;
        }
        self.resting_until = None;
        if let Err(err) = self.try_step(connection) {
            log::warn!("merging access token ids: {err}; trying again in {REST_AFTER_FAILURE:?}");
            rollback(connection);
            self.batch = None;
            self.resting_until = Some(Instant::now() + REST_AFTER_FAILURE);
        }
    }

    fn try_step(&mut self, connection: &Connection) -> rusqlite::Result<()> {
        let batch = match self.batch.take() {
            Some(batch) => batch,
            None => match due(connection, self.merge_at)? {
                Some(batch) => batch,
                None => return Ok(()),
            },
        };
        connection.execute_batch("BEGIN IMMEDIATE")?;
        let next = merge_step(connection, &batch, self.merge_step)?;
        if next.is_none() {
            connection
                .prepare_cached("UPDATE access_token_ids_merged SET through_id = ?1")?
                .execute([batch.through_id])?;
        }
        connection.execute_batch("COMMIT")?;
        self.batch = next;
        Ok(())
    }
}

/// A new batch, if `merge_at` tokens or more were issued since the last one. It ends at the
/// newest token this connection knows: every token up to it was issued before this
/// connection rebuilt its recent table, or after, through its trigger, so none is missed
/// even when another process (the onboarding CLI) opened the file meanwhile.
fn due(connection: &Connection, merge_at: i64) -> rusqlite::Result<Option<Batch>> {
    let (merged, behind): (i64, i64) = connection
        .prepare_cached(
            "SELECT through_id, coalesce((SELECT max(id) FROM access_tokens), 0) - through_id
             FROM access_token_ids_merged",
        )?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    if behind < merge_at {
        return Ok(None);
    }
    let newest: Option<i64> = connection
        .prepare_cached("SELECT max(token_id) FROM recent_access_token_ids")?
        .query_row([], |row| row.get(0))?;
    Ok(newest
        .filter(|&newest| newest > merged)
        .map(|through_id| Batch {
            through_id,
            after: (String::new(), i64::MIN),
        }))
}

/// Merges up to `most` of the batch's tokens after its last key, and forgets them from the
/// recent table; returns the batch still to go, or `None` when it is done.
fn merge_step(
    connection: &Connection,
    batch: &Batch,
    most: i64,
) -> rusqlite::Result<Option<Batch>> {
    let (prefix, id) = &batch.after;
    let upto: Option<(String, i64)> = connection
        .prepare_cached(
            "SELECT hash_prefix, token_id FROM recent_access_token_ids
             WHERE (hash_prefix, token_id) > (?1, ?2) AND token_id <= ?3
             ORDER BY hash_prefix, token_id LIMIT 1 OFFSET ?4",
        )?
        .query_row(params![prefix, id, batch.through_id, most - 1], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    let last = match &upto {
        Some(key) => key.clone(),
        None => match last_key(connection)? {
            Some(key) => key,
            None => return Ok(None),
        },
    };
    let range = params![prefix, id, last.0, last.1, batch.through_id];
    connection
        .prepare_cached(
            "INSERT OR IGNORE INTO access_token_ids (hash_prefix, token_id)
             SELECT hash_prefix, token_id FROM recent_access_token_ids
             WHERE (hash_prefix, token_id) > (?1, ?2) AND (hash_prefix, token_id) <= (?3, ?4)
               AND token_id <= ?5
             ORDER BY hash_prefix, token_id",
        )?
        .execute(range)?;
    connection
        .prepare_cached(
            "DELETE FROM recent_access_token_ids
             WHERE (hash_prefix, token_id) > (?1, ?2) AND (hash_prefix, token_id) <= (?3, ?4)
               AND token_id <= ?5",
        )?
        .execute(range)?;
    Ok(upto.map(|after| Batch {
        through_id: batch.through_id,
        after,
    }))
}

fn last_key(connection: &Connection) -> rusqlite::Result<Option<(String, i64)>> {
    connection
        .prepare_cached(
            "SELECT hash_prefix, token_id FROM recent_access_token_ids
             ORDER BY hash_prefix DESC, token_id DESC LIMIT 1",
        )?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::store::sqlite::reads::{SWEPT_TABLES, find_access_token, sweep_step};

    /// The tests' batch and step: small, so that a batch takes several steps.
    const MERGE_AT: i64 = 300;
    const MERGE_STEP: i64 = 64;

    fn merger() -> Merger {
        Merger {
            merge_at: MERGE_AT,
            merge_step: MERGE_STEP,
            ..Merger::default()
        }
    }

    /// A hash-like string (64 hex digits) whose prefixes spread over the key space.
    fn hash(n: i64) -> String {
        format!(
            "{:016x}{:048x}",
            (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            n
        )
    }

    fn issue(connection: &Connection, tokens: std::ops::Range<i64>, expires_at: i64) {
        let mut insert = connection
            .prepare(
                "INSERT INTO access_tokens (token_hash, code_hash, client_id, fi_reference_id,
                   psp_id, scope, issued_at, expires_at) VALUES (?1, 'c', 'c', 'fi', 'p', 's', 1, ?2)",
            )
            .unwrap();
        for n in tokens {
            insert.execute(params![hash(n), expires_at]).unwrap();
        }
    }

    fn count(connection: &Connection, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        connection.query_row(&sql, [], |row| row.get(0)).unwrap()
    }

    fn merged_through(connection: &Connection) -> i64 {
        let sql = "SELECT through_id FROM access_token_ids_merged";
        connection.query_row(sql, [], |row| row.get(0)).unwrap()
    }

    fn all_found(connection: &Connection, tokens: std::ops::Range<i64>) -> bool {
        tokens.into_iter().all(|n| {
            find_access_token(connection, &hash(n))
                .unwrap()
                .is_some_and(|token| token.token_hash == hash(n))
        })
    }

    /// Asserts that tokens `0..total` are all in the file's table and all found by hash.
    fn assert_merged_and_found(connection: &Connection, total: i64) {
        assert_eq!(count(connection, "access_token_ids"), total);
        assert!(all_found(connection, 0..total));
    }

    /// Steps until the batch under way (if any) is done; returns how many steps it took.
    fn merge_all(connection: &Connection, merger: &mut Merger) -> usize {
        let mut steps = 0;
        loop {
            merger.step(connection);
            steps += 1;
            assert!(steps < 1000, "the merge does not end");
            if merger.batch.is_none() {
                return steps;
            }
        }
    }

    fn open(path: &Path) -> Connection {
        crate::store::sqlite::connect(Some(path.to_owned())).unwrap()
    }

    /// The store's connection to a new database file, kept while the folder lives.
    fn fresh() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let connection = open(&dir.path().join("t.db"));
        (dir, connection)
    }

    /// The opcodes SQLite runs for `sql`, a statement of one parameter.
    fn opcodes(connection: &Connection, sql: &str) -> Vec<String> {
        let mut statement = connection.prepare(&format!("EXPLAIN {sql}")).unwrap();
        let rows = statement.query_map(["-"], |row| row.get(1)).unwrap();
        rows.map(Result::unwrap).collect()
    }

    #[test]
    fn a_token_is_found_by_primary_key_searches_without_a_temporary_b_tree() {
        let (_dir, connection) = fresh();
        let lookup = opcodes(&connection, concat!("SELECT 1 FROM ", by_hash!()));
        assert!(lookup.iter().any(|op| op == "SeekRowid"), "{lookup:?}");
        assert!(!lookup.iter().any(|op| op == "OpenEphemeral"), "{lookup:?}");
    }

    #[test]
    fn tokens_are_found_before_their_batch_is_due_and_after_it_is_merged() {
        let (_dir, connection) = fresh();
        let mut merger = merger();
        issue(&connection, 0..MERGE_AT - 1, 99);
        merger.step(&connection);
        assert_eq!(count(&connection, "access_token_ids"), 0, "not yet due");
        assert!(all_found(&connection, 0..MERGE_AT - 1));

        issue(&connection, MERGE_AT - 1..MERGE_AT + 10, 99);
        let steps = merge_all(&connection, &mut merger);
        assert!(steps > 1, "a batch is merged a step at a time");
        assert_eq!(count(&connection, "access_token_ids"), MERGE_AT + 10);
        assert_eq!(count(&connection, "recent_access_token_ids"), 0);
        assert_eq!(merged_through(&connection), MERGE_AT + 10);
        assert!(all_found(&connection, 0..MERGE_AT + 10));
        assert!(find_access_token(&connection, &hash(-1)).unwrap().is_none());
    }

    #[test]
    fn tokens_issued_during_a_batch_wait_for_the_next_one() {
        let (_dir, connection) = fresh();
        let mut merger = merger();
        issue(&connection, 0..MERGE_AT, 99);
        merger.step(&connection);
        issue(&connection, MERGE_AT..MERGE_AT + 100, 99);
        merge_all(&connection, &mut merger);
        assert_eq!(count(&connection, "access_token_ids"), MERGE_AT);
        assert_eq!(count(&connection, "recent_access_token_ids"), 100);
        assert_eq!(merged_through(&connection), MERGE_AT);
        assert!(all_found(&connection, 0..MERGE_AT + 100));
    }

    #[test]
    fn a_batch_cut_short_by_a_restart_loses_no_token_and_merges_each_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let total = MERGE_AT + 50;
        {
            let connection = open(&path);
            issue(&connection, 0..total, 99);
            let mut merger = merger();
            merger.step(&connection);
            merger.step(&connection);
            assert!(merger.batch.is_some(), "the batch is under way");
            assert_eq!(count(&connection, "access_token_ids"), 2 * MERGE_STEP);
        }
        let connection = open(&path);
        assert_eq!(count(&connection, "recent_access_token_ids"), total);
        assert!(all_found(&connection, 0..total));
        merge_all(&connection, &mut merger());
        assert_merged_and_found(&connection, total);
    }

    #[test]
    fn a_failed_merge_rests_and_later_finishes_while_every_token_stays_found() {
        let (_dir, connection) = fresh();
        issue(&connection, 0..MERGE_AT, 99);
        connection.execute_batch("PRAGMA query_only = ON").unwrap();
        let mut merger = merger();
        merger.step(&connection);
        assert!(merger.resting_until.is_some(), "a failure starts a rest");
        assert!(connection.is_autocommit(), "the failed step is rolled back");
        assert!(all_found(&connection, 0..MERGE_AT));

        connection.execute_batch("PRAGMA query_only = OFF").unwrap();
        merger.step(&connection);
        assert_eq!(count(&connection, "access_token_ids"), 0, "still resting");
        merger.resting_until = Some(Instant::now());
        merge_all(&connection, &mut merger);
        assert_merged_and_found(&connection, MERGE_AT);
    }

    #[test]
    fn a_swept_token_leaves_no_id_and_a_new_token_never_reuses_a_merged_id() {
        let (_dir, connection) = fresh();
        issue(&connection, 0..MERGE_AT, 5);
        merge_all(&connection, &mut merger());
        issue(&connection, MERGE_AT..MERGE_AT + 3, 5);
        let tokens = SWEPT_TABLES[1];
        assert_eq!(tokens.0, "access_tokens");
        while sweep_step(&connection, tokens, 10).unwrap() > 0 {}

        assert_eq!(count(&connection, "access_tokens"), 1, "the newest stays");
        assert_eq!(count(&connection, "access_token_ids"), 0);
        assert_eq!(count(&connection, "recent_access_token_ids"), 1);
        issue(&connection, MERGE_AT + 3..MERGE_AT + 4, 99);
        let newest: i64 = connection
            .query_row("SELECT max(id) FROM access_tokens", [], |row| row.get(0))
            .unwrap();
        assert!(newest > merged_through(&connection));
        assert!(all_found(&connection, MERGE_AT + 2..MERGE_AT + 4));
    }
}
