//! SQLite's group commit: every write waiting is committed in one transaction, and the two
//! writes of the hot path (minting codes, redeeming them) run as a few multi-row statements
//! per group instead of one or two statements per write. Their text depends on the group's
//! size, so they are not kept in the prepared-statement cache. Each caller is answered only
//! after the group's commit returned, so a 201 still means durable (SPEC §6).

use std::collections::{HashMap, HashSet};

use sqlx::{AssertSqlSafe, Row, Sqlite, SqlitePool, Transaction};
use tokio::sync::mpsc;

use super::{PendingWrite, apply_write, bind_access_token, bind_auth_code, map_err, write_alone};
use crate::store::writes::{WriteOp, Written};
use crate::store::{AccessTokenRecord, AuthCodeRecord, Millis, Redemption, StoreResult};

/// Most writes one transaction takes, bounding the time a group holds the write lock.
const MAX_GROUP: usize = 512;
/// Rows per multi-row statement: 11 parameters a row stays far below SQLite's 32,766.
const ROWS_PER_STATEMENT: usize = 256;

/// Runs until the store is dropped: takes every queued write, commits them as one group.
pub(super) async fn commit_groups(
    pool: SqlitePool,
    mut pending: mpsc::UnboundedReceiver<PendingWrite>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while pending.recv_many(&mut group, MAX_GROUP).await > 0 {
        let ops: Vec<&WriteOp> = group.iter().map(|(op, _)| op).collect();
        let started = std::time::Instant::now();
        let results = commit_group(&pool, &ops).await;
        log::debug!(
            "committed a group of {} writes in {:?}",
            ops.len(),
            started.elapsed()
        );
        for ((_, done), result) in group.drain(..).zip(results) {
            let _ = done.send(result);
        }
    }
}

/// One transaction for the whole group; if it fails, each write alone, so one bad write
/// cannot fail the others.
async fn commit_group(pool: &SqlitePool, ops: &[&WriteOp]) -> Vec<StoreResult<Written>> {
    match try_group(pool, ops).await {
        Ok(written) => written.into_iter().map(Ok).collect(),
        Err(err) if ops.len() == 1 => vec![Err(err)],
        Err(_) => {
            let mut results = Vec::with_capacity(ops.len());
            for op in ops {
                results.push(write_alone(pool, op).await);
            }
            results
        }
    }
}

async fn try_group(pool: &SqlitePool, ops: &[&WriteOp]) -> StoreResult<Vec<Written>> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
    let mut written: Vec<Option<Written>> = vec![None; ops.len()];
    insert_codes(&mut tx, ops, &mut written).await?;
    redeem_codes(&mut tx, ops, &mut written).await?;
    for (slot, op) in written.iter_mut().zip(ops) {
        if slot.is_none() {
            *slot = Some(apply_write(&mut tx, op).await?);
        }
    }
    tx.commit().await.map_err(map_err)?;
    Ok(written
        .into_iter()
        .map(|w| w.expect("every write applied"))
        .collect())
}

/// `($1, $2, …), ($n+1, …), …`: `rows` groups of `width` numbered placeholders.
fn placeholders(rows: usize, width: usize) -> String {
    let row = |r: usize| {
        let cells: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
        format!("({})", cells.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

async fn insert_codes(
    tx: &mut Transaction<'static, Sqlite>,
    ops: &[&WriteOp],
    written: &mut [Option<Written>],
) -> StoreResult<()> {
    let codes: Vec<(usize, &AuthCodeRecord)> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| match op {
            WriteOp::InsertAuthCode(code) => Some((i, code)),
            _ => None,
        })
        .collect();
    for chunk in codes.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO auth_codes (code_hash, client_id, fi_reference_id, psp_id, redirect_uri,
               scope, state, consent_id, psu_account_id, created_at, expires_at) VALUES {}",
            placeholders(chunk.len(), 11)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for (_, code) in chunk {
            query = bind_auth_code(query, code);
        }
        query.execute(&mut **tx).await.map_err(map_err)?;
        for (i, _) in chunk {
            written[*i] = Some(Written::Done);
        }
    }
    Ok(())
}

/// Redemptions in arrival order, as if one after another: per code, the first claims it
/// when unclaimed; every later one is a replay, and a replay revokes the code's token
/// (RFC 6749 §4.1.2), including a token issued earlier in this same group.
async fn redeem_codes(
    tx: &mut Transaction<'static, Sqlite>,
    ops: &[&WriteOp],
    written: &mut [Option<Written>],
) -> StoreResult<()> {
    let mut by_code: HashMap<&str, Vec<(usize, &AccessTokenRecord, Millis)>> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if let WriteOp::Redeem { token, now } = op {
            let attempts = by_code.entry(token.code_hash.as_str()).or_default();
            if attempts.is_empty() {
                order.push(token.code_hash.as_str());
            }
            attempts.push((i, token, *now));
        }
    }
    if order.is_empty() {
        return Ok(());
    }
    let now = by_code[order[0]][0].2;
    let claimed = claim(tx, &order, now).await?;
    let mut issued = Vec::new();
    let mut replayed_codes = Vec::new();
    for code in &order {
        let attempts = &by_code[code];
        let replayed = !claimed.contains(*code) || attempts.len() > 1;
        if claimed.contains(*code) {
            let (first, token, _) = attempts[0];
            issued.push((token, replayed.then_some(now)));
            written[first] = Some(Written::Redemption(Redemption::Issued));
        } else {
            replayed_codes.push(*code);
        }
        let skip = usize::from(claimed.contains(*code));
        for (i, _, _) in &attempts[skip..] {
            written[*i] = Some(Written::Redemption(Redemption::Replayed));
        }
    }
    insert_tokens(tx, &issued).await?;
    revoke_tokens_of(tx, &replayed_codes, now).await
}

/// Marks the unclaimed ones among `codes` redeemed; returns those it claimed.
async fn claim(
    tx: &mut Transaction<'static, Sqlite>,
    codes: &[&str],
    now: Millis,
) -> StoreResult<HashSet<String>> {
    let mut claimed = HashSet::new();
    for chunk in codes.chunks(ROWS_PER_STATEMENT) {
        let list: Vec<String> = (2..chunk.len() + 2).map(|n| format!("${n}")).collect();
        let sql = format!(
            "UPDATE auth_codes SET redeemed_at = $1
             WHERE redeemed_at IS NULL AND code_hash IN ({}) RETURNING code_hash",
            list.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false).bind(now);
        for code in chunk {
            query = query.bind(*code);
        }
        for row in query.fetch_all(&mut **tx).await.map_err(map_err)? {
            claimed.insert(row.get::<String, _>(0));
        }
    }
    Ok(claimed)
}

/// Inserts the issued tokens; one replayed within the group is inserted already revoked.
async fn insert_tokens(
    tx: &mut Transaction<'static, Sqlite>,
    tokens: &[(&AccessTokenRecord, Option<Millis>)],
) -> StoreResult<()> {
    for chunk in tokens.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO access_tokens (token_hash, code_hash, client_id, fi_reference_id, psp_id,
               scope, consent_id, psu_account_id, issued_at, expires_at, revoked_at) VALUES {}",
            placeholders(chunk.len(), 11)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for (token, revoked_at) in chunk {
            query = bind_access_token(query, token, *revoked_at);
        }
        query.execute(&mut **tx).await.map_err(map_err)?;
    }
    Ok(())
}

async fn revoke_tokens_of(
    tx: &mut Transaction<'static, Sqlite>,
    codes: &[&str],
    now: Millis,
) -> StoreResult<()> {
    for chunk in codes.chunks(ROWS_PER_STATEMENT) {
        let list: Vec<String> = (2..chunk.len() + 2).map(|n| format!("${n}")).collect();
        let sql = format!(
            "UPDATE access_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND code_hash IN ({})",
            list.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false).bind(now);
        for code in chunk {
            query = query.bind(*code);
        }
        query.execute(&mut **tx).await.map_err(map_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_number_rows_consecutively() {
        assert_eq!(placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
