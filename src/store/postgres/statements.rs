//! The multi-row statements of the group commit. Rows travel as one array parameter per
//! column, so the text of each statement is the same for any group size and stays in each
//! connection's prepared-statement cache. Each is a single statement, hence atomic on its
//! own: PostgreSQL commits it (one WAL flush) before it returns.

use std::collections::HashMap;

use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use super::{code_from, map_err};
use crate::store::{AuthCodeRecord, CodeClaim, Millis, StoreResult};

/// One column of `rows`, as an array parameter.
fn column<'a, R, T>(rows: &[&'a R], cell: impl Fn(&'a R) -> T) -> Vec<T> {
    rows.iter().map(|row| cell(row)).collect()
}

pub(super) async fn insert_codes(
    conn: &mut PgConnection,
    codes: &[&AuthCodeRecord],
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO auth_codes (code_hash, client_id, fi_reference_id, psp_id, redirect_uri,
           scope, state, consent_id, psu_account_id, created_at, expires_at)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
           $6::text[], $7::text[], $8::text[], $9::text[], $10::int8[], $11::int8[])",
    )
    .bind(column(codes, |c| c.code_hash.as_str()))
    .bind(column(codes, |c| c.client_id.as_str()))
    .bind(column(codes, |c| c.fi_reference_id.as_str()))
    .bind(column(codes, |c| c.psp_id.as_str()))
    .bind(column(codes, |c| c.redirect_uri.as_str()))
    .bind(column(codes, |c| c.scope.as_str()))
    .bind(column(codes, |c| c.state.as_deref()))
    .bind(column(codes, |c| c.consent_id.as_deref()))
    .bind(column(codes, |c| c.psu_account_id.as_deref()))
    .bind(column(codes, |c| c.created_at))
    .bind(column(codes, |c| c.expires_at))
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// Checks and claims each code of `claims` (one claim per code) and, in the same statement,
/// inserts the token of each code it claimed; returns the codes claimed, as they were before
/// the claim. A code is claimed only when it is unclaimed and passes every check of
/// `CodeClaim::admits` at the claim's own time; the conditional UPDATE is the claim, so of
/// concurrent claims of one code, from any replica, exactly one succeeds (SPEC §4). Sorted
/// by code, concurrent groups lock shared codes in the same order.
pub(super) async fn claim_codes(
    conn: &mut PgConnection,
    claims: &[&CodeClaim],
) -> StoreResult<HashMap<String, AuthCodeRecord>> {
    let rows = sqlx::query(
        "WITH claimed AS (
           UPDATE auth_codes a SET redeemed_at = c.now, token_hash = c.token_hash
           FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[],
             $7::text[], $8::int8[])
             AS c (code_hash, fi_reference_id, psp_id, redirect_uri, now, client_id,
               token_hash, token_expires_at)
           WHERE a.code_hash = c.code_hash AND a.redeemed_at IS NULL
             AND a.fi_reference_id = c.fi_reference_id AND a.psp_id = c.psp_id
             AND a.redirect_uri = c.redirect_uri AND a.expires_at > c.now
           RETURNING a.*, c.now, c.client_id AS token_client_id, c.token_expires_at),
         issued AS (
           INSERT INTO access_tokens (token_hash, code_hash, client_id, fi_reference_id,
             psp_id, scope, consent_id, psu_account_id, issued_at, expires_at)
           SELECT token_hash, code_hash, token_client_id, fi_reference_id, psp_id, scope,
             consent_id, psu_account_id, now, token_expires_at
           FROM claimed)
         SELECT code_hash, client_id, fi_reference_id, psp_id, redirect_uri, scope, state,
           consent_id, psu_account_id, created_at, expires_at, NULL::int8 AS redeemed_at
         FROM claimed",
    )
    .bind(column(claims, |c| c.code_hash.as_str()))
    .bind(column(claims, |c| c.fi_reference_id.as_str()))
    .bind(column(claims, |c| c.psp_id.as_str()))
    .bind(column(claims, |c| c.redirect_uri.as_str()))
    .bind(column(claims, |c| c.now))
    .bind(column(claims, |c| c.client_id.as_str()))
    .bind(column(claims, |c| c.token_hash.as_str()))
    .bind(column(claims, |c| c.token_expires_at))
    .fetch_all(&mut *conn)
    .await
    .map_err(map_err)?;
    Ok(codes_by_hash(&rows))
}

/// The codes of `code_hashes` that exist, by hash.
pub(super) async fn find_codes(
    conn: &mut PgConnection,
    code_hashes: &[&str],
) -> StoreResult<HashMap<String, AuthCodeRecord>> {
    let rows = sqlx::query("SELECT * FROM auth_codes WHERE code_hash = ANY($1)")
        .bind(code_hashes)
        .fetch_all(&mut *conn)
        .await
        .map_err(map_err)?;
    Ok(codes_by_hash(&rows))
}

fn codes_by_hash(rows: &[PgRow]) -> HashMap<String, AuthCodeRecord> {
    rows.iter()
        .map(code_from)
        .map(|code| (code.code_hash.clone(), code))
        .collect()
}

/// Revokes every live token issued from `codes` (RFC 6749 §4.1.2), found through the code's
/// row, which names its token (`migrations/postgres/0004_codes_name_their_token.sql`). It
/// must be a statement of its own, after the claim: only a new statement's snapshot sees the
/// claim of a concurrent transaction that the claim waited for.
pub(super) async fn revoke_tokens_of(
    conn: &mut PgConnection,
    codes: &[&str],
    now: Millis,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE access_tokens t SET revoked_at = $1
         FROM auth_codes c
         WHERE c.code_hash = ANY($2) AND t.token_hash = c.token_hash
           AND t.revoked_at IS NULL",
    )
    .bind(now)
    .bind(codes)
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    Ok(())
}
