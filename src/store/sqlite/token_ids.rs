//! How an access token is found by its hash without a random page per token per commit.
//!
//! A unique index on the hash put every new token on a random page of that index, so each
//! group commit wrote (and synced) about one such page per token: 16 of the 27 pages a
//! commit wrote under load (docs/performance.md). Instead a token is found through a
//! prefix of its hash, in two places:
//! - `RecentIds`, in the store thread's memory, recorded as tokens are issued
//!   (`writes::insert_access_token`): it writes no page of the database file;
//! - `access_token_ids`, in the file, into which the recent ones are merged in batches of
//!   `MERGE_AT` or more, a few hundred at a time in key order, so one page takes many. A
//!   lookup reads it only when a filter of its keys, also in the store thread's memory,
//!   may hold the key (`merged_filter`).
//!
//! Nothing is lost in a crash: the recent ids are rebuilt at start-up from the tokens after
//! `access_token_ids_merged.through_id`, and merging the same token twice is a no-op. A
//! recent id whose token is gone (swept, or its insert undone) is forgotten at once. Should
//! one be missed, it finds nothing, and once merged it stays an id no lookup matches: every
//! lookup compares the whole hash in the token's row. Only this process holds the recent
//! ids, so the SQLite store serves one process (the onboarding CLI touches no token); many
//! replicas share PostgreSQL.

use std::collections::BTreeSet;
use std::ops::Bound;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::merged_filter::MergedFilter;
use super::writes::rollback;

/// Unmerged tokens that start a batch. A batch of `n` tokens into `access_token_ids` of `l`
/// leaf pages writes about `l * (1 - e^(-n/l))` pages, so the larger the batch, the fewer
/// pages per token: at 1,000,000 tokens (about 6,000 leaves) 0.2 per token, where the unique
/// index wrote more than one. The recent ids hold them: under 1 MiB (20 bytes a key).
const MERGE_AT: i64 = 32_768;
/// Most tokens merged in one step, so a step holds the store thread for well under 1 ms.
const MERGE_STEP: i64 = 512;
/// How long merging rests after a failure (a full disk, say), so that it does not retry,
/// and log, after every round.
const REST_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// A recent token's key: the first 12 bytes of its hash, zero-padded, held inline so that a
/// search compares no string on the heap. Hashes are hex, so these are the 12 characters
/// (48 bits) that key `access_token_ids` (`substr(token_hash, 1, 12)`,
/// `migrations/sqlite/0003_access_token_ids.sql`), in the same order; the file's key is
/// always computed by SQLite itself, so an odd hash can cost a merge its order, never a
/// token.
type Prefix = [u8; 12];

fn prefix_of(token_hash: &str) -> Prefix {
    let mut prefix = [0; 12];
    let bytes = &token_hash.as_bytes()[..token_hash.len().min(12)];
    prefix[..bytes.len()].copy_from_slice(bytes);
    prefix
}

/// The ids of the tokens issued since the last merge, by key, in key order.
///
/// Tokens are written inside the store thread's group transaction, so a recorded id is
/// only sure once that commits: the engine keeps the ids recorded since it began
/// (`mark`, `forget_since`) and forgets them when a write or the whole group is undone.
#[derive(Debug)]
pub(super) struct RecentIds {
    ids: BTreeSet<(Prefix, i64)>,
    uncommitted: Vec<(Prefix, i64)>,
    /// The keys `access_token_ids` may hold (`merged_filter`).
    merged: MergedFilter,
}

impl RecentIds {
    /// The tokens of the file after the last merge: every token not yet in
    /// `access_token_ids`; and the keys of those that are.
    pub(super) fn load(connection: &Connection) -> rusqlite::Result<Self> {
        let mut statement = connection.prepare(
            "SELECT token_hash, id FROM access_tokens
             WHERE id > (SELECT through_id FROM access_token_ids_merged)",
        )?;
        let ids = statement
            .query_map([], |row| {
                Ok((prefix_of(row.get_ref(0)?.as_str()?), row.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut merged = MergedFilter::new();
        let mut keys = connection.prepare("SELECT hash_prefix FROM access_token_ids")?;
        let mut rows = keys.query([])?;
        while let Some(row) = rows.next()? {
            merged.insert(row.get_ref(0)?.as_bytes()?);
        }
        Ok(RecentIds {
            ids,
            uncommitted: Vec::new(),
            merged,
        })
    }

    /// Records the token `id` just inserted, uncommitted until `committed`.
    pub(super) fn record(&mut self, token_hash: &str, id: i64) {
        let key = (prefix_of(token_hash), id);
        self.ids.insert(key);
        self.uncommitted.push(key);
    }

    /// How many ids are uncommitted: the mark to undo a write by (`forget_since`).
    pub(super) fn mark(&self) -> usize {
        self.uncommitted.len()
    }

    /// Forgets the ids recorded since `mark`, whose writes were undone.
    pub(super) fn forget_since(&mut self, mark: usize) {
        for key in self.uncommitted.drain(mark..) {
            self.ids.remove(&key);
        }
    }

    /// The group's transaction committed: its ids are sure.
    pub(super) fn committed(&mut self) {
        self.uncommitted.clear();
    }

    /// Forgets the token `id`, which a sweep deleted: its id is not merged.
    pub(super) fn forget_swept(&mut self, token_hash: &str, id: i64) {
        self.ids.remove(&(prefix_of(token_hash), id));
    }

    /// How many ids wait for a merge.
    pub(super) fn len(&self) -> usize {
        self.ids.len()
    }

    fn with_prefix(&self, prefix: Prefix) -> impl Iterator<Item = i64> + '_ {
        self.ids
            .range((prefix, i64::MIN)..=(prefix, i64::MAX))
            .map(|(_, id)| *id)
    }
}

/// The access token whose hash is `token_hash` (SPEC §6: only hashes are stored), as `read`
/// reads it from the row the statements select: `recent_sql` names the token by `?1` id and
/// `?2` hash, `merged_sql` by `?1` hash through `access_token_ids`. The key finds a
/// candidate or two among the recent ids or in the file, and the whole hash in the token's
/// row picks the one. Both are primary-key searches.
pub(super) fn find_token<T>(
    connection: &Connection,
    recent: &RecentIds,
    token_hash: &str,
    (recent_sql, merged_sql): (&str, &str),
    read: impl Fn(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Option<T>> {
    let mut candidates = recent.with_prefix(prefix_of(token_hash)).peekable();
    if candidates.peek().is_some() {
        let mut by_id = connection.prepare_cached(recent_sql)?;
        for id in candidates {
            if let Some(found) = by_id.query_row(params![id, token_hash], &read).optional()? {
                return Ok(Some(found));
            }
        }
    }
    if !recent.merged.may_hold(token_hash) {
        return Ok(None);
    }
    connection
        .prepare_cached(merged_sql)?
        .query_row([token_hash], read)
        .optional()
}

/// The id of the access token whose hash is `token_hash` (`find_token`).
pub(super) fn token_id(
    connection: &Connection,
    recent: &RecentIds,
    token_hash: &str,
) -> rusqlite::Result<Option<i64>> {
    let sql = (
        "SELECT id FROM access_tokens WHERE id = ?1 AND token_hash = ?2",
        MERGED_TOKEN_ID,
    );
    find_token(connection, recent, token_hash, sql, |row| row.get(0))
}

/// The columns `columns` of a merged token, as `t`, found by `?1`, its hash: a join, not
/// `id IN (…)`, so SQLite runs it as one primary-key search in each table, where `IN`
/// would first build a temporary b-tree.
macro_rules! merged_token {
    ($($columns:tt)+) => {
        concat!(
            "SELECT ",
            $($columns)+,
            " FROM access_token_ids AS ids JOIN access_tokens AS t ON t.id = ids.token_id
             WHERE ids.hash_prefix = substr(?1, 1, 12) AND t.token_hash = ?1"
        )
    };
}
pub(super) use merged_token;

const MERGED_TOKEN_ID: &str = merged_token!("t.id");

/// A batch being merged: every recent token with an id up to `through_id`, in key order.
#[derive(Debug)]
struct Batch {
    through_id: i64,
    /// The last key merged so far.
    after: (Prefix, i64),
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
    /// still found among the recent ids, so nothing but speed depends on the merge.
    pub(super) fn step(&mut self, connection: &Connection, recent: &mut RecentIds) {
        if self
            .resting_until
            .is_some_and(|until| Instant::now() < until)
        {
            return;
        }
        self.resting_until = None;
        if let Err(err) = self.try_step(connection, recent) {
            log::warn!("merging access token ids: {err}; trying again in {REST_AFTER_FAILURE:?}");
            rollback(connection);
            self.batch = None;
            self.resting_until = Some(Instant::now() + REST_AFTER_FAILURE);
        }
    }

    fn try_step(
        &mut self,
        connection: &Connection,
        recent: &mut RecentIds,
    ) -> rusqlite::Result<()> {
        let batch = match self.batch.take() {
            Some(batch) => batch,
            None => match due(connection, recent, self.merge_at)? {
                Some(batch) => batch,
                None => return Ok(()),
            },
        };
        let keys = next_keys(recent, &batch, self.merge_step);
        connection.execute_batch("BEGIN IMMEDIATE")?;
        merge(connection, &keys)?;
        let done = keys.len() < self.merge_step as usize;
        if done {
            connection
                .prepare_cached("UPDATE access_token_ids_merged SET through_id = ?1")?
                .execute([batch.through_id])?;
        }
        connection.execute_batch("COMMIT")?;
        self.batch = match keys.last() {
            Some(&after) if !done => Some(Batch {
                through_id: batch.through_id,
                after,
            }),
            _ => None,
        };
        for key in &keys {
            recent.ids.remove(key);
            recent.merged.insert(&key.0);
        }
        Ok(())
    }
}

/// A new batch, if `merge_at` tokens or more were issued since the last one. It ends at the
/// newest recent token: every token up to it was issued before the recent ids were loaded,
/// or after, through this store thread, so none is missed even when another process (the
/// onboarding CLI) opened the file meanwhile.
fn due(
    connection: &Connection,
    recent: &RecentIds,
    merge_at: i64,
) -> rusqlite::Result<Option<Batch>> {
    // Every token issued since the last merge is among the recent ids, each with its own
    // id after the last merged one, so their count is what is behind: while they are fewer
    // no batch is due, and the store thread asks the file nothing after a round.
    if (recent.len() as i64) < merge_at {
        return Ok(None);
    }
    let merged: i64 = connection
        .prepare_cached("SELECT through_id FROM access_token_ids_merged")?
        .query_row([], |row| row.get(0))?;
    let newest = recent.ids.iter().map(|(_, id)| *id).max();
    Ok(newest
        .filter(|&newest| newest > merged)
        .map(|through_id| Batch {
            through_id,
            after: ([0; 12], i64::MIN),
        }))
}

/// Up to `most` of the batch's keys after its last one, in key order.
fn next_keys(recent: &RecentIds, batch: &Batch, most: i64) -> Vec<(Prefix, i64)> {
    recent
        .ids
        .range((Bound::Excluded(batch.after), Bound::Unbounded))
        .filter(|(_, id)| *id <= batch.through_id)
        .take(most as usize)
        .copied()
        .collect()
}

/// Writes the tokens of `keys` into `access_token_ids`, in key order, each under the key
/// recorded when it was issued. Reading each token's row back for its key, on pages long
/// gone from the page cache, was half of a merge's time (docs/performance.md). Every
/// recent id names a token in the file: the engine forgets the ids of the writes it undoes
/// and the sweep those of the tokens it deletes (`RecentIds::forget_swept`).
fn merge(connection: &Connection, keys: &[(Prefix, i64)]) -> rusqlite::Result<()> {
    let mut insert = connection.prepare_cached(
        "INSERT OR IGNORE INTO access_token_ids (hash_prefix, token_id) VALUES (?1, ?2)",
    )?;
    for (prefix, id) in keys {
        match file_key(prefix) {
            Some(key) => insert.execute(params![key, id])?,
            None => connection
                .prepare_cached(
                    "INSERT OR IGNORE INTO access_token_ids (hash_prefix, token_id)
                     SELECT substr(token_hash, 1, 12), id FROM access_tokens WHERE id = ?1",
                )?
                .execute([id])?,
        };
    }
    Ok(())
}

/// The key `access_token_ids` holds for a token whose recorded key is `prefix`, when it can
/// be told without the token's row: for 12 ASCII characters, as every hash the service
/// makes starts with, `substr(token_hash, 1, 12)` is those 12 bytes. A shorter hash (padded
/// with zeros here) or one with other characters is keyed by SQLite from its row.
fn file_key(prefix: &Prefix) -> Option<&str> {
    if prefix.iter().all(|&byte| byte.is_ascii() && byte != 0) {
        std::str::from_utf8(prefix).ok()
    } else {
        None
    }
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

    /// The store thread's connection and recent ids, on a database file kept while the
    /// folder lives.
    struct Store {
        _dir: Option<tempfile::TempDir>,
        connection: Connection,
        recent: RecentIds,
    }

    impl Store {
        /// The store's connection to `path`, with its recent ids loaded as at start-up.
        fn open(path: &Path) -> Self {
            let connection = crate::store::sqlite::connect(Some(path.to_owned())).unwrap();
            let recent = RecentIds::load(&connection).unwrap();
            Store {
                _dir: None,
                connection,
                recent,
            }
        }

        fn fresh() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(&dir.path().join("t.db"));
            Store {
                _dir: Some(dir),
                ..store
            }
        }

        /// Inserts token `n` through the service's own insert.
        fn insert(&mut self, n: i64, expires_at: i64) -> rusqlite::Result<i64> {
            self.insert_hash(&hash(n), expires_at)
        }

        /// Inserts a token whose hash is `token_hash` through the service's own insert.
        fn insert_hash(&mut self, token_hash: &str, expires_at: i64) -> rusqlite::Result<i64> {
            let token = crate::store::sample_token(token_hash, "c", 1, expires_at);
            super::super::writes::insert_access_token(&self.connection, &mut self.recent, &token)
        }

        /// Issues tokens `tokens`, committed.
        fn issue(&mut self, tokens: std::ops::Range<i64>, expires_at: i64) {
            for n in tokens {
                self.insert(n, expires_at).unwrap();
            }
            self.recent.committed();
        }

        fn step(&mut self, merger: &mut Merger) {
            merger.step(&self.connection, &mut self.recent);
        }

        /// Steps until the batch under way (if any) is done; returns how many steps it took.
        fn merge_all(&mut self, merger: &mut Merger) -> usize {
            let mut steps = 0;
            loop {
                self.step(merger);
                steps += 1;
                assert!(steps < 1000, "the merge does not end");
                if merger.batch.is_none() {
                    return steps;
                }
            }
        }

        fn count(&self, table: &str) -> i64 {
            let sql = format!("SELECT count(*) FROM {table}");
            self.connection
                .query_row(&sql, [], |row| row.get(0))
                .unwrap()
        }

        fn merged_through(&self) -> i64 {
            let sql = "SELECT through_id FROM access_token_ids_merged";
            self.connection
                .query_row(sql, [], |row| row.get(0))
                .unwrap()
        }

        fn found(&self, n: i64) -> bool {
            find_access_token(&self.connection, &self.recent, &hash(n))
                .unwrap()
                .is_some_and(|token| token.token_hash == hash(n))
        }

        fn all_found(&self, tokens: std::ops::Range<i64>) -> bool {
            tokens.into_iter().all(|n| self.found(n))
        }

        /// Asserts that inserting token `n` again is refused as a duplicate hash.
        fn assert_refused(&mut self, n: i64) {
            let refused = self.insert(n, 99).unwrap_err();
            assert_eq!(
                refused.sqlite_error_code(),
                Some(rusqlite::ErrorCode::ConstraintViolation),
                "token {n}: {refused}"
            );
        }

        /// Asserts that tokens `0..total` are all in the file's table and all found by hash.
        fn assert_merged_and_found(&self, total: i64) {
            assert_eq!(self.count("access_token_ids"), total);
            assert_eq!(self.recent.len(), 0);
            assert!(self.all_found(0..total));
        }
    }

    #[test]
    fn a_merged_token_is_found_by_primary_key_searches_without_a_temporary_b_tree() {
        let store = Store::fresh();
        let mut statement = store
            .connection
            .prepare(&format!("EXPLAIN {MERGED_TOKEN_ID}"))
            .unwrap();
        let opcodes: Vec<String> = statement
            .query_map(["-"], |row| row.get(1))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(opcodes.iter().any(|op| op == "SeekRowid"), "{opcodes:?}");
        assert!(
            !opcodes.iter().any(|op| op == "OpenEphemeral"),
            "{opcodes:?}"
        );
    }

    #[test]
    fn tokens_are_found_before_their_batch_is_due_and_after_it_is_merged() {
        let mut store = Store::fresh();
        let mut merger = merger();
        store.issue(0..MERGE_AT - 1, 99);
        store.step(&mut merger);
        assert_eq!(store.count("access_token_ids"), 0, "not yet due");
        assert!(store.all_found(0..MERGE_AT - 1));

        store.issue(MERGE_AT - 1..MERGE_AT + 10, 99);
        let steps = store.merge_all(&mut merger);
        assert!(steps > 1, "a batch is merged a step at a time");
        store.assert_merged_and_found(MERGE_AT + 10);
        assert_eq!(store.merged_through(), MERGE_AT + 10);
        assert!(!store.found(-1));
    }

    #[test]
    fn a_second_token_with_the_hash_of_a_recent_or_merged_one_is_refused() {
        let mut store = Store::fresh();
        store.issue(0..MERGE_AT, 99);
        store.merge_all(&mut merger());
        store.issue(MERGE_AT..MERGE_AT + 1, 99);
        for n in [0, MERGE_AT] {
            store.assert_refused(n);
        }
        assert_eq!(store.count("access_tokens"), MERGE_AT + 1);
        assert_eq!(store.recent.len(), 1);
    }

    #[test]
    fn tokens_issued_during_a_batch_wait_for_the_next_one() {
        let mut store = Store::fresh();
        let mut merger = merger();
        store.issue(0..MERGE_AT, 99);
        store.step(&mut merger);
        store.issue(MERGE_AT..MERGE_AT + 100, 99);
        store.merge_all(&mut merger);
        assert_eq!(store.count("access_token_ids"), MERGE_AT);
        assert_eq!(store.recent.len(), 100);
        assert_eq!(store.merged_through(), MERGE_AT);
        assert!(store.all_found(0..MERGE_AT + 100));
    }

    #[test]
    fn a_batch_cut_short_by_a_restart_loses_no_token_and_merges_each_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let total = MERGE_AT + 50;
        {
            let mut store = Store::open(&path);
            store.issue(0..total, 99);
            let mut merger = merger();
            store.step(&mut merger);
            store.step(&mut merger);
            assert!(merger.batch.is_some(), "the batch is under way");
            assert_eq!(store.count("access_token_ids"), 2 * MERGE_STEP);
        }
        let mut store = Store::open(&path);
        assert_eq!(store.recent.len() as i64, total);
        assert!(store.all_found(0..total));
        store.merge_all(&mut merger());
        store.assert_merged_and_found(total);
    }

    #[test]
    fn merged_tokens_are_found_and_their_hashes_refused_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            let mut store = Store::open(&path);
            store.issue(0..MERGE_AT, 99);
            store.merge_all(&mut merger());
            store.assert_merged_and_found(MERGE_AT);
        }
        // Nothing is recent now: every lookup goes by the merged keys, as loaded at start-up.
        let mut store = Store::open(&path);
        assert_eq!(store.recent.len(), 0);
        assert!(store.all_found(0..MERGE_AT));
        store.assert_refused(MERGE_AT / 2);
        assert!(!store.found(MERGE_AT));
    }

    #[test]
    fn a_failed_merge_rests_and_later_finishes_while_every_token_stays_found() {
        let mut store = Store::fresh();
        store.issue(0..MERGE_AT, 99);
        store
            .connection
            .execute_batch("PRAGMA query_only = ON")
            .unwrap();
        let mut merger = merger();
        store.step(&mut merger);
        assert!(merger.resting_until.is_some(), "a failure starts a rest");
        assert!(
            store.connection.is_autocommit(),
            "the failed step is rolled back"
        );
        assert!(store.all_found(0..MERGE_AT));

        store
            .connection
            .execute_batch("PRAGMA query_only = OFF")
            .unwrap();
        store.step(&mut merger);
        assert_eq!(store.count("access_token_ids"), 0, "still resting");
        merger.resting_until = Some(Instant::now());
        store.merge_all(&mut merger);
        store.assert_merged_and_found(MERGE_AT);
    }

    #[test]
    fn a_swept_token_leaves_no_id_and_a_new_token_never_reuses_a_merged_id() {
        let mut store = Store::fresh();
        store.issue(0..MERGE_AT, 5);
        store.merge_all(&mut merger());
        store.issue(MERGE_AT..MERGE_AT + 3, 5);
        let tokens = SWEPT_TABLES[1];
        assert_eq!(tokens.0, "access_tokens");
        while sweep_step(&store.connection, &mut store.recent, tokens, 10).unwrap() > 0 {}

        assert_eq!(store.count("access_tokens"), 1, "the newest stays");
        assert_eq!(store.count("access_token_ids"), 0);
        assert_eq!(
            store.recent.len(),
            1,
            "swept recent tokens are forgotten at once"
        );
        assert!(!store.found(MERGE_AT), "a swept recent token is not found");
        store.issue(MERGE_AT + 3..MERGE_AT + 4, 99);
        let newest: i64 = store
            .connection
            .query_row("SELECT max(id) FROM access_tokens", [], |row| row.get(0))
            .unwrap();
        assert!(newest > store.merged_through());
        assert!(store.all_found(MERGE_AT + 2..MERGE_AT + 4));

        // The next merge writes the ids of the tokens still in the file, and no other.
        store.issue(MERGE_AT + 4..2 * MERGE_AT + 4, 99);
        store.merge_all(&mut merger());
        assert_eq!(store.count("access_token_ids"), MERGE_AT + 2);
        assert_eq!(
            store.count("access_token_ids AS ids JOIN access_tokens AS t ON t.id = ids.token_id"),
            MERGE_AT + 2
        );
        assert_eq!(store.recent.len(), 0);
    }

    #[test]
    fn tokens_whose_hash_is_not_12_ascii_characters_are_merged_under_sqlites_key() {
        let mut store = Store::fresh();
        let mut merger = merger();
        // Short hashes, padded with zeros in memory, and hashes whose first 12 bytes are
        // fewer than 12 characters: the file's key is what `substr` makes of each.
        let odd = |n: i64| match n % 2 {
            0 => format!("{n:x}"),
            _ => format!("é{n:062x}"),
        };
        for n in 0..MERGE_AT {
            store.insert_hash(&odd(n), 99).unwrap();
        }
        store.recent.committed();
        store.merge_all(&mut merger);
        assert_eq!(store.recent.len(), 0);
        for n in 0..MERGE_AT {
            let found = find_access_token(&store.connection, &store.recent, &odd(n)).unwrap();
            assert_eq!(
                found.map(|token| token.token_hash),
                Some(odd(n)),
                "token {n}"
            );
        }
    }
}
