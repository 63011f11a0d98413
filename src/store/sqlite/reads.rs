//! Everything but the flow's writes, as plain functions on the store's one connection:
//! lookups, onboarding, sweeping. Statements are prepared once and kept in the
//! connection's cache.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::map_err;
use super::token_ids::{RecentIds, find_token, merged_token};
use crate::store::sql::{json_list, parse_list};
use crate::store::{
    AccessTokenRecord, AuthCodeRecord, CcgTokenRecord, ConsumerRecord, Millis, PspRecord,
    StoreError, StoreResult,
};

/// Rows one sweep step deletes: small enough that the flow's writes wait milliseconds.
pub(super) const SWEEP_STEP: i64 = 2000;

fn find<T>(
    connection: &Connection,
    sql: &str,
    key: &str,
    from_row: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Option<T>> {
    connection
        .prepare_cached(sql)
        .and_then(|mut statement| statement.query_row([key], from_row).optional())
        .map_err(map_err)
}

fn list<T>(
    connection: &Connection,
    sql: &str,
    from_row: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let mut statement = connection.prepare_cached(sql).map_err(map_err)?;
    let rows = statement.query_map([], from_row).map_err(map_err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(map_err)
}

fn execute(
    connection: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<usize> {
    connection
        .prepare_cached(sql)
        .and_then(|mut statement| statement.execute(params))
        .map_err(map_err)
}

pub(super) fn ping(connection: &Connection) -> StoreResult<()> {
    connection
        .query_row("SELECT 1", [], |_| Ok(()))
        .map_err(map_err)
}

/// A JSON list column, parsed; a bad one is reported as a conversion failure of its column.
fn list_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Vec<String>> {
    let text: String = row.get(index)?;
    parse_list(&text).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, err.into())
    })
}

pub(super) fn upsert_consumer(connection: &Connection, c: &ConsumerRecord) -> StoreResult<()> {
    execute(
        connection,
        "INSERT INTO api_consumers (client_id, secret_hash, fi_reference_ids, enabled)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (client_id) DO UPDATE SET secret_hash = excluded.secret_hash,
           fi_reference_ids = excluded.fi_reference_ids, enabled = excluded.enabled",
        params![
            c.client_id,
            c.secret_hash,
            json_list(&c.fi_reference_ids),
            c.enabled
        ],
    )
    .map(drop)
}

const CONSUMER: &str =
    "SELECT client_id, secret_hash, fi_reference_ids, enabled FROM api_consumers";

fn consumer_from(row: &Row<'_>) -> rusqlite::Result<ConsumerRecord> {
    Ok(ConsumerRecord {
        client_id: row.get(0)?,
        secret_hash: row.get(1)?,
        fi_reference_ids: list_column(row, 2)?,
        enabled: row.get(3)?,
    })
}

pub(super) fn find_consumer(
    connection: &Connection,
    client_id: &str,
) -> StoreResult<Option<ConsumerRecord>> {
    let sql = format!("{CONSUMER} WHERE client_id = ?1");
    find(connection, &sql, client_id, consumer_from)
}

pub(super) fn list_consumers(connection: &Connection) -> StoreResult<Vec<ConsumerRecord>> {
    list(
        connection,
        &format!("{CONSUMER} ORDER BY client_id"),
        consumer_from,
    )
}

pub(super) fn disable_consumer(connection: &Connection, client_id: &str) -> StoreResult<bool> {
    let sql = "UPDATE api_consumers SET enabled = FALSE WHERE client_id = ?1";
    execute(connection, sql, [client_id]).map(|changed| changed == 1)
}

pub(super) fn upsert_psp(connection: &Connection, p: &PspRecord) -> StoreResult<()> {
    execute(
        connection,
        "INSERT INTO psps (psp_id, name, redirect_uris, active) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (psp_id) DO UPDATE SET name = excluded.name,
           redirect_uris = excluded.redirect_uris, active = excluded.active",
        params![p.psp_id, p.name, json_list(&p.redirect_uris), p.active],
    )
    .map(drop)
}

const PSP: &str = "SELECT psp_id, name, redirect_uris, active FROM psps";

fn psp_from(row: &Row<'_>) -> rusqlite::Result<PspRecord> {
    Ok(PspRecord {
        psp_id: row.get(0)?,
        name: row.get(1)?,
        redirect_uris: list_column(row, 2)?,
        active: row.get(3)?,
    })
}

pub(super) fn find_psp(connection: &Connection, psp_id: &str) -> StoreResult<Option<PspRecord>> {
    find(
        connection,
        &format!("{PSP} WHERE psp_id = ?1"),
        psp_id,
        psp_from,
    )
}

pub(super) fn list_psps(connection: &Connection) -> StoreResult<Vec<PspRecord>> {
    list(connection, &format!("{PSP} ORDER BY psp_id"), psp_from)
}

pub(super) fn withdraw_psp(connection: &Connection, psp_id: &str) -> StoreResult<bool> {
    let sql = "UPDATE psps SET active = FALSE WHERE psp_id = ?1";
    execute(connection, sql, [psp_id]).map(|changed| changed == 1)
}

pub(super) fn find_ccg_token(
    connection: &Connection,
    token_hash: &str,
) -> StoreResult<Option<CcgTokenRecord>> {
    let sql = "SELECT token_hash, client_id, fi_reference_id, psp_id, scope, created_at,
                 expires_at FROM ccg_tokens WHERE token_hash = ?1";
    find(connection, sql, token_hash, |row| {
        Ok(CcgTokenRecord {
            token_hash: row.get(0)?,
            client_id: row.get(1)?,
            fi_reference_id: row.get(2)?,
            psp_id: row.get(3)?,
            scope: row.get(4)?,
            created_at: row.get(5)?,
            expires_at: row.get(6)?,
        })
    })
}

pub(super) fn find_auth_code(
    connection: &Connection,
    code_hash: &str,
) -> StoreResult<Option<AuthCodeRecord>> {
    let sql = "SELECT code_hash, client_id, fi_reference_id, psp_id, redirect_uri, scope, state,
                 consent_id, psu_account_id, created_at, expires_at, redeemed_at
               FROM auth_codes WHERE code_hash = ?1";
    find(connection, sql, code_hash, |row| {
        Ok(AuthCodeRecord {
            code_hash: row.get(0)?,
            client_id: row.get(1)?,
            fi_reference_id: row.get(2)?,
            psp_id: row.get(3)?,
            redirect_uri: row.get(4)?,
            scope: row.get(5)?,
            state: row.get(6)?,
            consent_id: row.get(7)?,
            psu_account_id: row.get(8)?,
            created_at: row.get(9)?,
            expires_at: row.get(10)?,
            redeemed_at: row.get(11)?,
        })
    })
}

/// The columns of an access token, as `t`, in the order `find_access_token` reads them.
macro_rules! token_columns {
    () => {
        "t.token_hash, t.code_hash, t.client_id, t.fi_reference_id, t.psp_id, t.scope,
         t.consent_id, t.psu_account_id, t.issued_at, t.expires_at, t.revoked_at"
    };
}

pub(super) fn find_access_token(
    connection: &Connection,
    recent: &RecentIds,
    token_hash: &str,
) -> StoreResult<Option<AccessTokenRecord>> {
    let sql = (
        concat!(
            "SELECT ",
            token_columns!(),
            " FROM access_tokens AS t WHERE t.id = ?1 AND t.token_hash = ?2"
        ),
        merged_token!(token_columns!()),
    );
    find_token(connection, recent, token_hash, sql, |row| {
        Ok(AccessTokenRecord {
            token_hash: row.get(0)?,
            code_hash: row.get(1)?,
            client_id: row.get(2)?,
            fi_reference_id: row.get(3)?,
            psp_id: row.get(4)?,
            scope: row.get(5)?,
            consent_id: row.get(6)?,
            psu_account_id: row.get(7)?,
            issued_at: row.get(8)?,
            expires_at: row.get(9)?,
            revoked_at: row.get(10)?,
        })
    })
    .map_err(map_err)
}

/// The tables a sweep clears, each with the key that names a row and what it keeps even
/// when expired. The newest access token stays, so a new token's id is never one already
/// merged into `access_token_ids` (`token_ids`): SQLite gives a new row the largest id + 1.
pub(super) const SWEPT_TABLES: [(&str, &str, &str); 3] = [
    ("auth_codes", "code_hash", ""),
    (
        "access_tokens",
        "id",
        "AND id < (SELECT max(id) FROM access_tokens)",
    ),
    ("ccg_tokens", "token_hash", ""),
];

/// Deletes up to `SWEEP_STEP` rows of `table` expired before `before`; returns how many.
pub(super) fn sweep_step(
    connection: &Connection,
    recent: &mut RecentIds,
    (table, key, kept): (&str, &str, &str),
    before: Millis,
) -> StoreResult<u64> {
    if !SWEPT_TABLES.contains(&(table, key, kept)) {
        return Err(StoreError::Internal(format!("not a swept table: {table}")));
    }
    let sql = format!(
        "DELETE FROM {table} WHERE {key} IN
           (SELECT {key} FROM {table} WHERE expires_at < ?1 {kept} LIMIT ?2)"
    );
    if table != "access_tokens" {
        return execute(connection, &sql, params![before, SWEEP_STEP]).map(|n| n as u64);
    }
    // A swept token leaves the recent ids as well, since a merge writes their ids without
    // reading the tokens back (`token_ids::merge`). The DELETE has run to its end, and
    // committed, once every row it returns is read.
    let swept = connection
        .prepare_cached(&format!("{sql} RETURNING token_hash, id"))
        .and_then(|mut statement| {
            statement
                .query_map(params![before, SWEEP_STEP], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(map_err)?;
    for (token_hash, id) in &swept {
        recent.forget_swept(token_hash, *id);
    }
    Ok(swept.len() as u64)
}
