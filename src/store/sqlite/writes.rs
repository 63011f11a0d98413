//! The flow's writes on SQLite, one prepared statement each, run inside the engine's group
//! transaction.

use rusqlite::{Connection, OptionalExtension, params};

use super::token_ids::{RecentIds, token_id};
use super::{map_err, reads};
use crate::store::writes::{GroupWrite, WriteOp, Written};
use crate::store::{AccessTokenRecord, AuthCodeRecord, CcgTokenRecord, Millis, Redemption};
use crate::store::{Claim, CodeClaim, StoreError, StoreResult};

/// Runs one write of the store thread's group. The ids of the tokens it issues are recorded
/// in `recent`; if it fails, the engine forgets them (`RecentIds::forget_since`).
pub(super) fn apply(
    connection: &Connection,
    recent: &mut RecentIds,
    write: &GroupWrite,
) -> StoreResult<Written> {
    match write {
        GroupWrite::Flow(op) => apply_write(connection, recent, op),
        GroupWrite::Claim(claim) => {
            apply_claim(connection, recent, claim).map(|c| Written::Claim(Box::new(c)))
        }
    }
}

/// Whether `write` may write with more than one statement, so that a failure must undo
/// its earlier statements (the engine's savepoint). A single statement that fails is
/// undone alone by SQLite itself, and the transaction goes on. A claim needs no savepoint:
/// `apply_claim` orders its two statements so that it never stops half done.
pub(super) fn writes_more_than_once(write: &GroupWrite) -> bool {
    matches!(write, GroupWrite::Flow(WriteOp::Redeem { .. }))
}

/// Inside the group's transaction nothing else writes, so the code as read is the code as
/// claimed: a replay is known before anything is written (RFC 6749 §4.1.2), and a claim
/// writes the token first. If that INSERT fails, SQLite undoes it alone and nothing else
/// was written. The UPDATE after it changes a row just read, so only a fault that ends
/// the whole transaction should stop it; if anything else does, `undo_issue` deletes the
/// token again.
fn apply_claim(
    connection: &Connection,
    recent: &mut RecentIds,
    claim: &CodeClaim,
) -> StoreResult<Claim> {
    let Some(code) = reads::find_auth_code(connection, &claim.code_hash)? else {
        return Ok(Claim::Refused(None));
    };
    if !claim.admits(&code) {
        return Ok(Claim::Refused(Some(code)));
    }
    if code.redeemed_at.is_some() {
        revoke_code_tokens(connection, recent, &code.code_hash, claim.now).map_err(map_err)?;
        return Ok(Claim::Replayed);
    }
    let token = claim.token_from(&code);
    let issued_id = insert_access_token(connection, recent, &token).map_err(map_err)?;
    match mark_redeemed(connection, &token, claim.now) {
        Ok(1) => Ok(Claim::Issued(code)),
        Ok(_) => Err(undo_issue(
            connection,
            issued_id,
            StoreError::Internal("a code read unclaimed was claimed within its group".into()),
        )),
        Err(err) => Err(undo_issue(connection, issued_id, map_err(err))),
    }
}

/// Deletes the token of a claim that failed after inserting it, unless the failure ended
/// the transaction (which undid the insert too); returns the claim's error. If even the
/// delete fails, the transaction is rolled back, and with it the whole group, rather
/// than commit a token whose code stays redeemable.
fn undo_issue(connection: &Connection, token_id: i64, err: StoreError) -> StoreError {
    if connection.is_autocommit() {
        return err;
    }
    let undone = connection
        .prepare_cached("DELETE FROM access_tokens WHERE id = ?1")
        .and_then(|mut statement| statement.execute([token_id]));
    if let Err(undo) = undone {
        log::error!("undoing a failed claim: {undo}; rolling its group back");
        rollback(connection);
        return map_err(undo);
    }
    err
}

/// Rolls back the group's transaction, if one is still open.
pub(super) fn rollback(connection: &Connection) {
    if !connection.is_autocommit()
        && let Err(err) = connection.execute_batch("ROLLBACK")
    {
        log::error!("rollback of a failed group: {err}");
    }
}

fn apply_write(
    connection: &Connection,
    recent: &mut RecentIds,
    op: &WriteOp,
) -> StoreResult<Written> {
    match op {
        WriteOp::InsertCcgToken(token) => insert_ccg_token(connection, token),
        WriteOp::InsertAuthCode(code) => insert_auth_code(connection, code),
        WriteOp::Redeem { token, now } => redeem(connection, recent, token, *now),
        WriteOp::RevokeCodeTokens { code_hash, now } => {
            revoke_code_tokens(connection, recent, code_hash, *now)
        }
        WriteOp::RevokeAccessToken {
            token_hash,
            fi_reference_id,
            now,
        } => revoke_access_token(connection, recent, token_hash, fi_reference_id, *now),
    }
    .map_err(map_err)
}

fn insert_ccg_token(connection: &Connection, t: &CcgTokenRecord) -> rusqlite::Result<Written> {
    connection
        .prepare_cached(
            "INSERT INTO ccg_tokens (token_hash, client_id, fi_reference_id, psp_id, scope,
               created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (token_hash) DO NOTHING",
        )?
        .execute(params![
            t.token_hash,
            t.client_id,
            t.fi_reference_id,
            t.psp_id,
            t.scope,
            t.created_at,
            t.expires_at
        ])?;
    Ok(Written::Done)
}

fn insert_auth_code(connection: &Connection, c: &AuthCodeRecord) -> rusqlite::Result<Written> {
    connection
        .prepare_cached(
            "INSERT INTO auth_codes (code_hash, client_id, fi_reference_id, psp_id, redirect_uri,
               scope, state, consent_id, psu_account_id, created_at, expires_at, claim_room)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, zeroblob(70))",
        )?
        .execute(params![
            c.code_hash,
            c.client_id,
            c.fi_reference_id,
            c.psp_id,
            c.redirect_uri,
            c.scope,
            c.state,
            c.consent_id,
            c.psu_account_id,
            c.created_at,
            c.expires_at
        ])?;
    Ok(Written::Done)
}

/// The conditional UPDATE is the claim: of the writes for one code, only the first sees
/// `redeemed_at IS NULL` (SPEC §4 atomic redemption); it also records which token the
/// code issued, so a later replay can revoke it (RFC 6749 §4.1.2).
fn redeem(
    connection: &Connection,
    recent: &mut RecentIds,
    t: &AccessTokenRecord,
    now: Millis,
) -> rusqlite::Result<Written> {
    if mark_redeemed(connection, t, now)? == 1 {
        insert_access_token(connection, recent, t)?;
        Ok(Written::Redemption(Redemption::Issued))
    } else {
        revoke_code_tokens(connection, recent, &t.code_hash, now)?;
        Ok(Written::Redemption(Redemption::Replayed))
    }
}

/// Marks the code of `t` redeemed by `t`, if no token redeemed it yet: the number of rows
/// claimed, 1 or 0. The code's `claim_room` gives way to the two columns it fills, so the
/// row keeps its length and its page does not split (`migrations/sqlite/0004`).
pub(super) fn mark_redeemed(
    connection: &Connection,
    t: &AccessTokenRecord,
    now: Millis,
) -> rusqlite::Result<usize> {
    connection
        .prepare_cached(
            "UPDATE auth_codes SET redeemed_at = ?1, token_hash = ?2, claim_room = NULL
             WHERE code_hash = ?3 AND redeemed_at IS NULL",
        )?
        .execute(params![now, t.token_hash, t.code_hash])
}

/// Inserts `t` and records it among the recent ids (`token_ids`), which makes it findable
/// by its hash; returns its row's id. Every access token is inserted here. A token whose
/// hash another token has is refused, as a unique index would refuse it: it would find the
/// other token's grant.
pub(super) fn insert_access_token(
    connection: &Connection,
    recent: &mut RecentIds,
    t: &AccessTokenRecord,
) -> rusqlite::Result<i64> {
    if token_id(connection, recent, &t.token_hash)?.is_some() {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE),
            Some("UNIQUE constraint failed: access_tokens.token_hash".into()),
        ));
    }
    connection
        .prepare_cached(
            "INSERT INTO access_tokens (token_hash, code_hash, client_id, fi_reference_id, psp_id,
               scope, consent_id, psu_account_id, issued_at, expires_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
            t.token_hash,
            t.code_hash,
            t.client_id,
            t.fi_reference_id,
            t.psp_id,
            t.scope,
            t.consent_id,
            t.psu_account_id,
            t.issued_at,
            t.expires_at,
            t.revoked_at
        ])?;
    let id = connection.last_insert_rowid();
    recent.record(&t.token_hash, id);
    Ok(id)
}

fn revoke_code_tokens(
    connection: &Connection,
    recent: &RecentIds,
    code_hash: &str,
    now: Millis,
) -> rusqlite::Result<Written> {
    let issued: Option<String> = connection
        .prepare_cached("SELECT token_hash FROM auth_codes WHERE code_hash = ?1")?
        .query_row([code_hash], |row| row.get(0))
        .optional()?
        .flatten();
    if let Some(id) = issued
        .map(|token_hash| token_id(connection, recent, &token_hash))
        .transpose()?
        .flatten()
    {
        connection
            .prepare_cached(
                "UPDATE access_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            )?
            .execute(params![id, now])?;
    }
    Ok(Written::Done)
}

fn revoke_access_token(
    connection: &Connection,
    recent: &RecentIds,
    token_hash: &str,
    fi_reference_id: &str,
    now: Millis,
) -> rusqlite::Result<Written> {
    if let Some(id) = token_id(connection, recent, token_hash)? {
        connection
            .prepare_cached(
                "UPDATE access_tokens SET revoked_at = ?2
                 WHERE id = ?1 AND fi_reference_id = ?3 AND revoked_at IS NULL",
            )?
            .execute(params![id, now, fi_reference_id])?;
    }
    Ok(Written::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::migrated_in_memory as database;

    fn page_count(connection: &Connection) -> i64 {
        connection
            .query_row("PRAGMA page_count", [], |row| row.get(0))
            .unwrap()
    }

    /// A claim as the flow makes it: a 64-character hash and a time of this century.
    fn token_for(code_hash: &str, n: usize) -> AccessTokenRecord {
        crate::store::sample_token(&format!("{n:064x}"), code_hash, NOW, NOW + 300_000)
    }

    const NOW: Millis = 1_796_601_600_000; // 2026-12-07

    #[test]
    fn claiming_codes_rewrites_their_rows_in_place() {
        let connection = database();
        let codes: Vec<AuthCodeRecord> = (0..2_000)
            .map(|n| super::super::sample_code(&format!("{n:016x}{}", "c".repeat(48)), NOW))
            .collect();
        for code in &codes {
            insert_auth_code(&connection, code).unwrap();
        }
        let minted = page_count(&connection);
        for (n, code) in codes.iter().enumerate() {
            let claimed = mark_redeemed(&connection, &token_for(&code.code_hash, n), NOW);
            assert_eq!(claimed.unwrap(), 1);
        }
        // Without the room each claimed row grows by 70 bytes and the codes' full pages
        // split: about a quarter more pages (164 against 129 here).
        assert_eq!(page_count(&connection), minted);
        let claimed_by: String = connection
            .query_row(
                "SELECT token_hash FROM auth_codes WHERE code_hash = ?1 AND claim_room IS NULL",
                [&codes[7].code_hash],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(claimed_by, format!("{:064x}", 7));
    }
}
