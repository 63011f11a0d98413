//! PostgreSQL's group commit. One committer task takes every write waiting and commits them
//! together, so under load hundreds of redemptions share one statement and one WAL flush,
//! while alone a write commits at once. The writes that arrive while a group commits wait
//! in the queue and form the next group.
//!
//! One committer, not several: each group pays a statement per kind and a WAL flush
//! whatever its size, and a second committer taking whatever waits while the first commits
//! made many small groups. Against two, one committer exchanged more codes per second with
//! less CPU in the database and in this process; three and four were slower still
//! (docs/performance.md).
//!
//! The two writes of the hot path run as one multi-row statement per kind (minting codes;
//! checking and claiming codes and issuing their tokens, `claims`), each atomic on its own
//! and committed before any caller is answered, so a 201 still means durable (SPEC §6). The
//! rarer writes run in one transaction. If a grouped statement fails, each of its writes is
//! retried alone, so one bad write cannot fail the others.

use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgConnection, PgPool, Postgres};
use tokio::sync::mpsc;

use super::statements;
use super::{PendingWrite, apply_write, claims, copy_error, map_err, write_alone};
use crate::store::writes::{GroupWrite, WriteOp, Written};
use crate::store::{Claim, StoreError, StoreResult};

/// Most writes one group takes, bounding the size of its statements and of a retry alone.
const MAX_GROUP: usize = 1024;

/// The answer for each write of a group, by position; `None` until its part has run.
type Answers = Vec<Option<StoreResult<Written>>>;

/// How long the held connection may sit unused before the committer checks it with a
/// round trip (a ping) before the next group. Under load the next group is waiting when one
/// ends and pays nothing; a group that starts after a quiet spell pays one round trip, and
/// a connection that died meanwhile (a database restart, a network outage) is replaced
/// instead of failing that group with a 503 (tests/api/outage.rs).
const CHECK_AFTER_IDLE: Duration = Duration::from_millis(1);

/// Where the committer's statements run. The grouped statements use a connection of its
/// own, held across groups: taken from the shared pool, each would queue behind every
/// waiting read and pay the pool's liveness checks. The rare writes use the shared pool.
pub(super) struct Connections {
    /// A pool of one connection: the committer's own, taken into `held`.
    writer: PgPool,
    shared: PgPool,
    held: Option<PoolConnection<Postgres>>,
    /// When the last group ended.
    last_used: Instant,
}

impl Connections {
    pub(super) fn new(writer: PgPool, shared: PgPool) -> Self {
        Connections {
            writer,
            shared,
            held: None,
            last_used: Instant::now(),
        }
    }

    async fn held(&mut self) -> StoreResult<&mut PgConnection> {
        if self.held.is_none() {
            self.held = Some(self.writer.acquire().await.map_err(map_err)?);
        }
        Ok(self.held.as_mut().expect("just acquired"))
    }

    /// Before a group that follows a quiet spell (`CHECK_AFTER_IDLE`), gives up the held
    /// connection if it no longer answers, so the group gets a live one.
    async fn give_up_if_lost_while_idle(&mut self) {
        if self.last_used.elapsed() >= CHECK_AFTER_IDLE
            && let Some(conn) = self.held.as_mut()
            && conn.ping().await.is_err()
        {
            log::warn!("the group committer's connection was lost while idle; reconnecting");
            self.held = None;
        }
    }

    /// Gives up the held connection after it failed to reach the database, so the next
    /// group gets a live one (the pool drops a broken connection on release).
    fn check<T>(&mut self, result: &StoreResult<T>) {
        if matches!(result, Err(StoreError::Unavailable(_))) {
            self.held = None;
        }
    }
}

/// Starts the committer; it stops when the store, and so the queue's sender, is dropped.
/// `writer` holds the committer's own connection; `shared` is the store's pool.
pub(super) fn start(
    writer: PgPool,
    shared: PgPool,
    pending: mpsc::UnboundedReceiver<PendingWrite>,
) {
    tokio::spawn(commit_groups(Connections::new(writer, shared), pending));
}

async fn commit_groups(
    mut connections: Connections,
    mut pending: mpsc::UnboundedReceiver<PendingWrite>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    loop {
        let received = pending.recv_many(&mut group, MAX_GROUP).await;
        if received == 0 {
            return;
        }
        let ops: Vec<&GroupWrite> = group.iter().map(|(op, _)| op).collect();
        let started = Instant::now();
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

/// Commits `ops` and returns what each did, in order. Minted codes go first, then claims,
/// then the rest: no write of a group depends on a later kind's.
pub(super) async fn commit_group(
    connections: &mut Connections,
    ops: &[&GroupWrite],
) -> Vec<StoreResult<Written>> {
    let mut answers: Answers = (0..ops.len()).map(|_| None).collect();
    connections.give_up_if_lost_while_idle().await;
    insert_codes(connections, ops, &mut answers).await;
    claim_codes(connections, ops, &mut answers).await;
    apply_rest(&connections.shared, ops, &mut answers).await;
    connections.last_used = Instant::now();
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

/// The rarer writes (ccg tokens, revocations, and the two-step redemption that nothing in the
/// flow takes on this store) in arrival order, in one transaction.
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
