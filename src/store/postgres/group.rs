//! PostgreSQL's group commit. A few committer tasks share one queue; each takes every write
//! waiting and commits them together, so under load hundreds of redemptions share one
//! statement and one WAL flush, while alone a write commits at once. With more than one
//! committer a group runs while the next one gathers, each on a connection of its own.
//!
//! The two writes of the hot path run as one multi-row statement per kind (minting codes;
//! checking and claiming codes and issuing their tokens, `claims`), each atomic on its own
//! and committed before any caller is answered, so a 201 still means durable (SPEC §6). The
//! rarer writes run in one transaction. If a grouped statement fails, each of its writes is
//! retried alone, so one bad write cannot fail the others.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::{Mutex, mpsc};

use super::statements::{self, Issue};
use super::{GroupWrite, PendingWrite, apply_write, claims, copy_error, map_err, write_alone};
use crate::store::writes::{WriteOp, Written};
use crate::store::{Claim, Millis, Redemption, StoreError, StoreResult};

/// Most writes one group takes, bounding the size of its statements and of a retry alone.
const MAX_GROUP: usize = 1024;
/// Groups in flight at once: with two, one commits while the next gathers. Not tuned
/// further: the shared two-core machine was too noisy to compare counts.
pub(super) const COMMITTERS: usize = 2;

/// The answer for each write of a group, by position; `None` until its part has run.
type Answers = Vec<Option<StoreResult<Written>>>;

/// Where a committer's statements run. The grouped statements use a connection of its
/// own, held across groups: taken from the shared pool, each would queue behind every
/// waiting read and pay the pool's liveness checks. The rare writes use the shared pool.
pub(super) struct Connections {
    writers: PgPool,
    shared: PgPool,
    held: Option<PoolConnection<Postgres>>,
}

impl Connections {
    pub(super) fn new(writers: PgPool, shared: PgPool) -> Self {
        Connections {
            writers,
            shared,
            held: None,
        }
    }

    async fn held(&mut self) -> StoreResult<&mut PgConnection> {
        if self.held.is_none() {
            self.held = Some(self.writers.acquire().await.map_err(map_err)?);
        }
        Ok(self.held.as_mut().expect("just acquired"))
    }

    /// Gives up the held connection after it failed to reach the database, so the next
    /// group gets a live one (the pool drops a broken connection on release).
    fn check<T>(&mut self, result: &StoreResult<T>) {
        if matches!(result, Err(StoreError::Unavailable(_))) {
            self.held = None;
        }
    }
}

/// Starts the committers; they stop when the store, and so the queue's sender, is dropped.
/// `writers` holds one connection per committer; `shared` is the store's pool.
pub(super) fn start(
    writers: PgPool,
    shared: PgPool,
    pending: mpsc::UnboundedReceiver<PendingWrite>,
) {
    let pending = Arc::new(Mutex::new(pending));
    for _ in 0..COMMITTERS {
        let connections = Connections::new(writers.clone(), shared.clone());
        tokio::spawn(commit_groups(connections, pending.clone()));
    }
}

async fn commit_groups(
    mut connections: Connections,
    pending: Arc<Mutex<mpsc::UnboundedReceiver<PendingWrite>>>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    loop {
        let received = pending.lock().await.recv_many(&mut group, MAX_GROUP).await;
        if received == 0 {
            return;
        }
        let ops: Vec<&GroupWrite> = group.iter().map(|(op, _)| op).collect();
        let started = std::time::Instant::now();
        let results = commit_group(&mut connections, &ops).await;
        log::debug!(
            "committed a group of {received} writes in {:?}",
            started.elapsed()
        );
        for ((_, done), result) in group.drain(..).zip(results) {
            let _ = done.send(result);
        }
    }
}

/// Commits `ops` and returns what each did, in order. Minted codes go first, then claims
/// and redemptions, then the rest: no write of a group depends on a later kind's.
pub(super) async fn commit_group(
    connections: &mut Connections,
    ops: &[&GroupWrite],
) -> Vec<StoreResult<Written>> {
    let mut answers: Answers = (0..ops.len()).map(|_| None).collect();
    insert_codes(connections, ops, &mut answers).await;
    claim_codes(connections, ops, &mut answers).await;
    redeem_codes(connections, ops, &mut answers).await;
    apply_rest(&connections.shared, ops, &mut answers).await;
    answers
        .into_iter()
        .map(|answer| answer.expect("every write answered"))
        .collect()
}

async fn insert_codes(connections: &mut Connections, ops: &[&GroupWrite], answers: &mut Answers) {
    let (part, codes): (Vec<usize>, Vec<_>) = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| match op {
            GroupWrite::Flow(WriteOp::InsertAuthCode(code)) => Some((i, code)),
            _ => None,
        })
        .unzip();
    if part.is_empty() {
        return;
    }
    let grouped = match connections.held().await {
        Ok(conn) => statements::insert_codes(conn, &codes).await,
        Err(err) => Err(err),
    };
    connections.check(&grouped);
    let grouped = grouped.map(|()| part.iter().map(|_| Ok(Written::Done)).collect());
    settle(&connections.shared, ops, &part, grouped, answers).await;
}

/// Whole claims (`Store::claim_code`), in arrival order (`claims::claim_all`).
async fn claim_codes(connections: &mut Connections, ops: &[&GroupWrite], answers: &mut Answers) {
    let (part, claims): (Vec<usize>, Vec<_>) = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| match op {
            GroupWrite::Claim(claim) => Some((i, claim)),
            _ => None,
        })
        .unzip();
    if part.is_empty() {
        return;
    }
    let grouped = match connections.held().await {
        Ok(conn) => claims::claim_all(conn, &claims).await,
        Err(err) => Err(err),
    };
    connections.check(&grouped);
    let grouped = grouped.map(|claimed| claimed.into_iter().map(claim_written).collect());
    settle(&connections.shared, ops, &part, grouped, answers).await;
}

fn claim_written(claimed: StoreResult<Claim>) -> StoreResult<Written> {
    claimed.map(|claim| Written::Claim(Box::new(claim)))
}

/// Redemptions behave as if run one after another in arrival order: per code, the first
/// claims it when unclaimed; every later one is a replay, and a replay revokes the code's
/// token (RFC 6749 §4.1.2), including a token issued earlier in this same group.
async fn redeem_codes(connections: &mut Connections, ops: &[&GroupWrite], answers: &mut Answers) {
    let attempts = attempts_by_code(ops);
    if attempts.is_empty() {
        return;
    }
    let part: Vec<usize> = attempts.iter().flat_map(|a| a.positions.clone()).collect();
    let grouped = match connections.held().await {
        Ok(conn) => redeem_attempts(conn, &attempts).await,
        Err(err) => Err(err),
    };
    connections.check(&grouped);
    settle(&connections.shared, ops, &part, grouped, answers).await;
}

/// The redemptions of one code within a group, in arrival order.
struct Attempts<'a> {
    code_hash: &'a str,
    positions: Vec<usize>,
    issue: Issue<'a>,
    now: Millis,
}

/// The group's redemptions by code, sorted by code (the order the claim locks them in).
fn attempts_by_code<'a>(ops: &[&'a GroupWrite]) -> Vec<Attempts<'a>> {
    let mut by_code: HashMap<&str, Attempts<'a>> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        if let GroupWrite::Flow(WriteOp::Redeem { token, now }) = op {
            let code = by_code.entry(&token.code_hash).or_insert_with(|| Attempts {
                code_hash: &token.code_hash,
                positions: Vec::new(),
                issue: Issue {
                    token,
                    revoked_at: None,
                },
                now: *now,
            });
            code.positions.push(i);
            if code.positions.len() > 1 {
                // Replayed within the group: the token is issued already revoked.
                code.issue.revoked_at = Some(*now);
            }
        }
    }
    let mut attempts: Vec<Attempts> = by_code.into_values().collect();
    attempts.sort_unstable_by_key(|a| a.code_hash);
    attempts
}

/// Claims and issues in one statement, then revokes the tokens of codes claimed before
/// this group. Answers follow the order of `attempts` and of their positions.
async fn redeem_attempts(
    conn: &mut PgConnection,
    attempts: &[Attempts<'_>],
) -> StoreResult<Vec<StoreResult<Written>>> {
    let issues: Vec<Issue> = attempts.iter().map(|a| a.issue.clone()).collect();
    let now = attempts
        .iter()
        .map(|a| a.now)
        .max()
        .expect("one attempt at least");
    let claimed = statements::claim_and_issue(conn, &issues, now).await?;
    let replayed: Vec<&str> = attempts
        .iter()
        .map(|a| a.code_hash)
        .filter(|code| !claimed.contains(*code))
        .collect();
    // The claims are committed whatever happens to the revocation; only the replays that
    // needed it share its failure.
    let revoked = match replayed.is_empty() {
        true => Ok(()),
        false => statements::revoke_tokens_of(conn, &replayed, now).await,
    };
    let mut answers = Vec::new();
    for a in attempts {
        for (n, _) in a.positions.iter().enumerate() {
            answers.push(match (claimed.contains(a.code_hash), n, &revoked) {
                (true, 0, _) => Ok(Written::Redemption(Redemption::Issued)),
                (false, _, Err(err)) => Err(copy_error(err)),
                _ => Ok(Written::Redemption(Redemption::Replayed)),
            });
        }
    }
    Ok(answers)
}

/// The rarer writes (ccg tokens, revocations) in arrival order, in one transaction.
async fn apply_rest(pool: &PgPool, ops: &[&GroupWrite], answers: &mut Answers) {
    let (part, rest): (Vec<usize>, Vec<&WriteOp>) = (0..ops.len())
        .filter(|i| answers[*i].is_none())
        .filter_map(|i| match ops[i] {
            GroupWrite::Flow(op) => Some((i, op)),
            GroupWrite::Claim(_) => None,
        })
        .unzip();
    if part.is_empty() {
        return;
    }
    let grouped = in_one_transaction(pool, &rest).await;
    settle(pool, ops, &part, grouped, answers).await;
}

async fn in_one_transaction(
    pool: &PgPool,
    ops: &[&WriteOp],
) -> StoreResult<Vec<StoreResult<Written>>> {
    let mut tx = pool.begin().await.map_err(map_err)?;
    let mut written = Vec::with_capacity(ops.len());
    for op in ops {
        written.push(Ok(apply_write(&mut tx, op).await?));
    }
    tx.commit().await.map_err(map_err)?;
    Ok(written)
}

/// One write of a group on its own, after its grouped statement failed.
async fn alone(pool: &PgPool, op: &GroupWrite) -> StoreResult<Written> {
    match op {
        GroupWrite::Flow(op) => write_alone(pool, op).await,
        GroupWrite::Claim(claim) => {
            let mut conn = pool.acquire().await.map_err(map_err)?;
            let claimed = claims::claim_all(&mut conn, &[claim]).await?;
            claim_written(claimed.into_iter().next().expect("one claim, one answer"))
        }
    }
}

/// Answers the writes at `part` with what their grouped statement did. If it failed, each
/// write is retried alone, so one bad write cannot fail the others; an unreachable
/// database fails them all at once instead (each would wait for its own timeout).
async fn settle(
    pool: &PgPool,
    ops: &[&GroupWrite],
    part: &[usize],
    grouped: StoreResult<Vec<StoreResult<Written>>>,
    answers: &mut Answers,
) {
    match grouped {
        Ok(written) => {
            for (i, result) in part.iter().zip(written) {
                answers[*i] = Some(result);
            }
        }
        Err(err) if part.len() == 1 || matches!(err, StoreError::Unavailable(_)) => {
            for i in part {
                answers[*i] = Some(Err(copy_error(&err)));
            }
        }
        Err(err) => {
            log::debug!(
                "a group of {} writes failed, retrying each alone: {err}",
                part.len()
            );
            for i in part {
                answers[*i] = Some(alone(pool, ops[*i]).await);
            }
        }
    }
}
