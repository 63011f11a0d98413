//! The hot read of token exchange, `find_auth_code`, batched like the writes: a reader
//! task takes every lookup waiting and answers them all with one query on a connection of
//! its own, instead of one pooled query (and the pool's liveness check) per request.
//! Codes are never cached (README "Running many replicas"): each lookup reads the
//! database after it was asked.

use std::collections::HashMap;

use sqlx::PgPool;
use sqlx::pool::PoolConnection;
use sqlx::postgres::Postgres;
use tokio::sync::{mpsc, oneshot};

use super::{copy_error, map_err, statements};
use crate::store::{AuthCodeRecord, StoreError, StoreResult};

/// Most lookups one query takes.
const MAX_BATCH: usize = 1024;

/// A lookup waiting for its batch, and where to send what it found.
pub(super) type PendingRead = (String, oneshot::Sender<StoreResult<Option<AuthCodeRecord>>>);

/// Runs until the store is dropped: answers every waiting lookup with one query.
pub(super) async fn serve_reads(
    readers: PgPool,
    mut pending: mpsc::UnboundedReceiver<PendingRead>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut held: Option<PoolConnection<Postgres>> = None;
    while pending.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let codes: Vec<&str> = batch.iter().map(|(code, _)| code.as_str()).collect();
        let found = find_codes(&readers, &mut held, &codes).await;
        for (code, done) in batch.drain(..) {
            let answer = match &found {
                Ok(found) => Ok(found.get(&code).cloned()),
                Err(err) => Err(copy_error(err)),
            };
            let _ = done.send(answer);
        }
    }
}

async fn find_codes(
    readers: &PgPool,
    held: &mut Option<PoolConnection<Postgres>>,
    codes: &[&str],
) -> StoreResult<HashMap<String, AuthCodeRecord>> {
    if held.is_none() {
        *held = Some(readers.acquire().await.map_err(map_err)?);
    }
    let conn = held.as_mut().expect("just acquired");
    let found = statements::find_codes(conn, codes).await;
    if matches!(found, Err(StoreError::Unavailable(_))) {
        // The connection is broken: the next batch takes a fresh one.
        *held = None;
    }
    found
}
