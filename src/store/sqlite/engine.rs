//! The thread that owns the SQLite connection, and its group commit.
//!
//! Callers queue requests on a channel; the thread takes every request waiting, runs the
//! reads at once, collects the flow's writes, and commits all of those in one transaction.
//! Their callers are answered by the sync thread once the commit is on disk (`syncer`), so
//! a 201 still means durable (SPEC §6) while hundreds of redemptions share one fsync.
//! Alone, a write commits at once.

use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::checkpoint::CatchUp;
use super::map_err;
use super::syncer::{Durability, Pending, Reply};
use super::token_ids::{Merger, RecentIds};
use super::writes::{apply, rollback, writes_more_than_once};
use crate::store::writes::{GroupWrite, WriteOp, Written};
use crate::store::{CodeClaim, StoreError, StoreResult};

/// Most writes one transaction takes, bounding the time a group holds the write lock.
const MAX_GROUP: usize = 512;
/// Most requests taken in one round, so a stream of reads cannot hold back a commit.
const MAX_ROUND: usize = 2048;

/// A job sees the connection and the recent token ids (`token_ids`), which only this
/// thread holds; a sweep also forgets the ids of the tokens it deletes.
type Job = Box<dyn FnOnce(&Connection, &mut RecentIds) + Send>;

enum Request {
    /// Runs on its own, outside any group: reads, and the rare writes of onboarding.
    Run(Job),
    /// One write of the flow, committed with its group (boxed: records are large).
    Write(Box<GroupWrite>, Reply),
    /// Answered once everything committed before it is durable.
    Barrier(Reply),
}

/// The sending side; the thread stops when the last `Engine` is dropped.
pub(super) struct Engine {
    requests: mpsc::Sender<Request>,
}

impl Engine {
    pub(super) fn start(
        connection: Connection,
        recent: RecentIds,
        durability: Durability,
        catch_up: CatchUp,
    ) -> std::io::Result<Self> {
        let (requests, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-store".into())
            .spawn(move || serve(&connection, recent, &queue, &durability, &catch_up))?;
        Ok(Engine { requests })
    }

    /// Runs `job` on the connection and returns what it returned.
    pub(super) async fn run<T, F>(&self, job: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.run_with_ids(move |connection, _| job(connection))
            .await
    }

    /// Like `run`, for a job that finds tokens by hash or deletes them, which needs the
    /// recent ids.
    pub(super) async fn run_with_ids<T, F>(&self, job: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut RecentIds) -> StoreResult<T> + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |connection, recent| {
            let _ = done.send(job(connection, recent));
        });
        self.send(Request::Run(job))?;
        result.await.map_err(|_| stopped())?
    }

    /// Queues `op` for the next group commit and waits until it is durable.
    pub(super) async fn write(&self, op: WriteOp) -> StoreResult<Written> {
        self.commit(GroupWrite::Flow(op)).await
    }

    /// Queues a whole redemption for the next group commit and waits until it is durable.
    pub(super) async fn claim(&self, claim: CodeClaim) -> StoreResult<Written> {
        self.commit(GroupWrite::Claim(claim)).await
    }

    async fn commit(&self, write: GroupWrite) -> StoreResult<Written> {
        let (done, written) = oneshot::channel();
        self.send(Request::Write(Box::new(write), done))?;
        written.await.map_err(|_| stopped())?
    }

    /// Like `run`, for a write outside the flow (onboarding): answered once durable.
    pub(super) async fn run_durably<T, F>(&self, job: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let result = self.run(job).await?;
        let (done, synced) = oneshot::channel();
        self.send(Request::Barrier(done))?;
        synced.await.map_err(|_| stopped())??;
        Ok(result)
    }

    fn send(&self, request: Request) -> StoreResult<()> {
        self.requests.send(request).map_err(|_| stopped())
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the SQLite store thread stopped".into())
}

fn serve(
    connection: &Connection,
    mut recent: RecentIds,
    queue: &mpsc::Receiver<Request>,
    durability: &Durability,
    catch_up: &CatchUp,
) {
    let mut group: Vec<(Box<GroupWrite>, Reply)> = Vec::with_capacity(MAX_GROUP);
    let mut merger = Merger::default();
    while let Ok(first) = queue.recv() {
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(request) = next.take() {
            match request {
                Request::Run(job) => job(connection, &mut recent),
                Request::Write(op, reply) => group.push((op, reply)),
                Request::Barrier(reply) => durability.answer(vec![(reply, Ok(Written::Done))]),
            }
            taken += 1;
            if group.len() < MAX_GROUP && taken < MAX_ROUND {
                next = queue.try_recv().ok();
            }
        }
        if !group.is_empty() {
            durability.answer(commit_group(connection, &mut recent, &mut group));
        }
        merger.step(connection, &mut recent);
        catch_up.finish_if_asked(connection);
    }
}

/// One transaction for the group. A write that fails is undone alone (by its savepoint
/// when it has more than one statement) and the others still commit; if the commit
/// fails, all fail.
/// Returns each caller with its result, to be answered once the commit is durable.
fn commit_group(
    connection: &Connection,
    recent: &mut RecentIds,
    group: &mut Vec<(Box<GroupWrite>, Reply)>,
) -> Pending {
    let started = std::time::Instant::now();
    let results = match apply_group(connection, recent, group) {
        Ok(results) => {
            recent.committed();
            results
        }
        Err(err) => {
            rollback(connection);
            recent.forget_since(0);
            group.iter().map(|_| Err(err.clone())).collect()
        }
    };
    log::debug!(
        "committed a group of {} writes in {:?}",
        group.len(),
        started.elapsed()
    );
    group
        .drain(..)
        .zip(results)
        .map(|((_, reply), result)| (reply, result))
        .collect()
}

fn apply_group(
    connection: &Connection,
    recent: &mut RecentIds,
    group: &[(Box<GroupWrite>, Reply)],
) -> StoreResult<Vec<StoreResult<Written>>> {
    run_cached(connection, "BEGIN IMMEDIATE")?;
    let mut results = Vec::with_capacity(group.len());
    for (op, _) in group {
        let mark = recent.mark();
        let result = apply_undoably(connection, recent, op);
        if result.is_err() {
            // Undone, by SQLite, its savepoint or `undo_issue`: so are its tokens.
            recent.forget_since(mark);
        }
        if let Err(err) = &result
            && connection.is_autocommit()
        {
            // A severe error (I/O, disk full) rolled the whole transaction back.
            return Err(err.clone());
        }
        results.push(result);
    }
    run_cached(connection, "COMMIT")?;
    Ok(results)
}

/// Runs one write of the group so that, if it fails, it is undone whole and alone: by
/// SQLite itself for a single statement, by a savepoint for more.
fn apply_undoably(
    connection: &Connection,
    recent: &mut RecentIds,
    write: &GroupWrite,
) -> StoreResult<Written> {
    if !writes_more_than_once(write) {
        return apply(connection, recent, write);
    }
    run_cached(connection, "SAVEPOINT write")?;
    match apply(connection, recent, write) {
        Ok(written) => {
            run_cached(connection, "RELEASE write")?;
            Ok(written)
        }
        Err(err) => {
            if !connection.is_autocommit() {
                run_cached(connection, "ROLLBACK TO write")?;
                run_cached(connection, "RELEASE write")?;
            }
            Err(err)
        }
    }
}

/// Runs `sql`, prepared once: a group's `BEGIN` and `COMMIT` were parsed again for every
/// group, 1.6 % of the store thread under load (docs/performance.md).
fn run_cached(connection: &Connection, sql: &str) -> StoreResult<()> {
    connection
        .prepare_cached(sql)
        .and_then(|mut statement| statement.execute([]))
        .map(drop)
        .map_err(map_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Claim, Redemption};

    use super::super::migrated_in_memory as database;
    use super::super::redeemed_by;

    fn code(code_hash: &str) -> WriteOp {
        WriteOp::InsertAuthCode(super::super::sample_code(code_hash, 100))
    }

    fn redeem(code_hash: &str, token_hash: &str) -> WriteOp {
        WriteOp::Redeem {
            token: crate::store::sample_token(token_hash, code_hash, 2, 200),
            now: 2,
        }
    }

    fn claim(code_hash: &str, token_hash: &str) -> GroupWrite {
        GroupWrite::Claim(CodeClaim {
            code_hash: code_hash.into(),
            fi_reference_id: "fi".into(),
            psp_id: "psp".into(),
            redirect_uri: "https://example.com".into(),
            now: 2,
            client_id: "client".into(),
            token_hash: token_hash.into(),
            token_expires_at: 200,
        })
    }

    /// Commits `ops` as one group; returns what each caller is answered.
    fn commit(connection: &Connection, ops: Vec<WriteOp>) -> Vec<StoreResult<Written>> {
        commit_writes(connection, ops.into_iter().map(GroupWrite::Flow).collect())
    }

    fn commit_writes(
        connection: &Connection,
        writes: Vec<GroupWrite>,
    ) -> Vec<StoreResult<Written>> {
        // The tokens committed before are loaded again, as at a restart.
        let mut recent = RecentIds::load(connection).unwrap();
        commit_with(connection, &mut recent, writes)
    }

    /// Commits `writes` as one group with the store thread's `recent` ids.
    fn commit_with(
        connection: &Connection,
        recent: &mut RecentIds,
        writes: Vec<GroupWrite>,
    ) -> Vec<StoreResult<Written>> {
        let mut group = Vec::new();
        let mut answers = Vec::new();
        for write in writes {
            let (reply, answer) = oneshot::channel();
            group.push((Box::new(write), reply));
            answers.push(answer);
        }
        Durability::Memory.answer(commit_group(connection, recent, &mut group));
        answers
            .into_iter()
            .map(|mut answer| answer.try_recv().expect("answered"))
            .collect()
    }

    fn revoked(connection: &Connection, token_hash: &str) -> bool {
        connection
            .query_row(
                "SELECT revoked_at IS NOT NULL FROM access_tokens WHERE token_hash = ?1",
                [token_hash],
                |row| row.get(0),
            )
            .unwrap()
    }

    #[test]
    fn a_failing_write_is_undone_alone_and_the_rest_of_its_group_commits() {
        let connection = database();
        let answers = commit(
            &connection,
            vec![code("a"), code("a"), redeem("a", "token-a"), code("b")],
        );
        assert!(matches!(answers[0], Ok(Written::Done)));
        assert!(matches!(answers[1], Err(StoreError::Conflict(_))));
        assert_eq!(
            answers[2].as_ref().unwrap(),
            &Written::Redemption(Redemption::Issued)
        );
        assert!(matches!(answers[3], Ok(Written::Done)));
        let codes: i64 = connection
            .query_row("SELECT COUNT(*) FROM auth_codes", [], |row| row.get(0))
            .unwrap();
        assert_eq!(codes, 2);
        assert!(!revoked(&connection, "token-a"));
    }

    #[test]
    fn a_replay_in_the_same_group_revokes_the_token_just_issued() {
        let connection = database();
        commit(&connection, vec![code("a")]);
        let answers = commit(
            &connection,
            vec![redeem("a", "token-1"), redeem("a", "token-2")],
        );
        let outcomes: Vec<Written> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            outcomes,
            [
                Written::Redemption(Redemption::Issued),
                Written::Redemption(Redemption::Replayed)
            ]
        );
        assert!(revoked(&connection, "token-1"));
        let second: i64 = connection
            .query_row(
                "SELECT COUNT(*) FROM access_tokens WHERE token_hash = 'token-2'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(second, 0, "a replay issues nothing");
    }

    fn tokens(connection: &Connection) -> Vec<String> {
        let mut statement = connection
            .prepare("SELECT token_hash FROM access_tokens ORDER BY token_hash")
            .unwrap();
        let rows = statement.query_map([], |row| row.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    }

    fn claimed(answer: &StoreResult<Written>) -> Claim {
        answer.clone().unwrap().into_claim().unwrap()
    }

    #[test]
    fn claims_in_one_group_issue_once_per_code_and_a_replay_revokes() {
        let connection = database();
        commit(&connection, vec![code("a"), code("b")]);
        let answers = commit_writes(
            &connection,
            vec![claim("a", "t1"), claim("a", "t2"), claim("b", "t3")],
        );
        assert!(matches!(claimed(&answers[0]), Claim::Issued(_)));
        assert_eq!(claimed(&answers[1]), Claim::Replayed);
        assert!(matches!(claimed(&answers[2]), Claim::Issued(_)));
        assert_eq!(tokens(&connection), ["t1", "t3"]);
        assert!(
            revoked(&connection, "t1"),
            "the replay revokes the first token"
        );
        assert!(!revoked(&connection, "t3"));
        assert_eq!(redeemed_by(&connection, "a").as_deref(), Some("t1"));
    }

    #[test]
    fn a_claim_whose_token_cannot_be_inserted_fails_alone_and_leaves_its_code_redeemable() {
        let connection = database();
        commit(&connection, vec![code("a"), code("b"), code("c")]);
        commit_writes(&connection, vec![claim("a", "taken")]);
        let answers = commit_writes(&connection, vec![claim("b", "taken"), claim("c", "t-c")]);
        assert!(
            matches!(answers[0], Err(StoreError::Conflict(_))),
            "{answers:?}"
        );
        assert!(matches!(claimed(&answers[1]), Claim::Issued(_)));
        assert_eq!(redeemed_by(&connection, "b"), None);
        let retried = commit_writes(&connection, vec![claim("b", "t-b")]);
        assert!(matches!(claimed(&retried[0]), Claim::Issued(_)));
    }

    #[test]
    fn a_claim_failing_after_its_token_is_written_leaves_neither_token_nor_claim() {
        let connection = database();
        commit(&connection, vec![code("a"), code("b")]);
        // Makes the claim's second statement fail, as no database here otherwise would.
        connection
            .execute_batch(
                "CREATE TEMP TRIGGER refuse_a BEFORE UPDATE ON auth_codes
                 WHEN old.code_hash = 'a' BEGIN SELECT RAISE(ABORT, 'refused'); END",
            )
            .unwrap();
        let mut recent = RecentIds::load(&connection).unwrap();
        let writes = vec![claim("a", "t-a"), claim("b", "t-b")];
        let answers = commit_with(&connection, &mut recent, writes);
        assert!(answers[0].is_err(), "{answers:?}");
        assert!(matches!(claimed(&answers[1]), Claim::Issued(_)));
        assert_eq!(tokens(&connection), ["t-b"]);
        assert_eq!(redeemed_by(&connection, "a"), None);
        assert_eq!(recent.len(), 1, "the undone token's id is forgotten");
    }

    #[test]
    fn a_group_whose_commit_fails_issues_nothing_and_forgets_its_tokens_ids() {
        let connection = database();
        commit(&connection, vec![code("a")]);
        // A deferred foreign key that the token's insert breaks fails the COMMIT itself.
        connection
            .execute_batch(
                "CREATE TABLE dangling (
                     code TEXT REFERENCES auth_codes (code_hash) DEFERRABLE INITIALLY DEFERRED
                 );
                 CREATE TEMP TRIGGER break_commit AFTER INSERT ON access_tokens
                 BEGIN INSERT INTO dangling VALUES ('no such code'); END",
            )
            .unwrap();
        let mut recent = RecentIds::load(&connection).unwrap();
        let answers = commit_with(&connection, &mut recent, vec![claim("a", "t-a")]);
        assert!(answers[0].is_err(), "{answers:?}");
        assert!(tokens(&connection).is_empty());
        assert_eq!(redeemed_by(&connection, "a"), None);
        assert_eq!(recent.len(), 0, "the rolled-back token's id is forgotten");
    }

    #[test]
    fn a_database_refusing_writes_answers_each_write_unavailable() {
        let connection = database();
        connection.execute_batch("PRAGMA query_only = ON").unwrap();
        let answers = commit(&connection, vec![code("a"), code("b")]);
        assert!(
            answers
                .iter()
                .all(|answer| matches!(answer, Err(StoreError::Unavailable(_)))),
            "{answers:?}"
        );
    }
}
