//! `Store::claim_code` for a whole group in one statement: each code is checked, claimed and
//! its token inserted by the database, without the read that the two-step default takes
//! first (README "Performance"). Only the claims that statement did not take are read:
//! unknown codes, codes that fail a check, and replays.

use std::collections::HashSet;

use sqlx::PgConnection;

use super::{copy_error, statements};
use crate::store::{Claim, CodeClaim, StoreError, StoreResult};

/// Rounds of the claim statement one group may take. A second round runs only for a code
/// whose first claim in the group failed a check while a later one passes; a third finds
/// nothing left to claim.
const MAX_ROUNDS: usize = 3;

/// What each claim did, in the order of `claims`, as if they ran one after another: per
/// code, the first claim that passes the checks of an unclaimed code issues its token;
/// every later one that passes is a replay and revokes that token (RFC 6749 §4.1.2), even
/// when it was issued in this same group. An error before anything was claimed fails the
/// whole group, whose claims may then be retried alone; after that, the claims answered
/// keep their answers (what they wrote is committed) and only the others get the error.
pub(super) async fn claim_all(
    conn: &mut PgConnection,
    claims: &[&CodeClaim],
) -> StoreResult<Vec<StoreResult<Claim>>> {
    let mut answers: Vec<Option<StoreResult<Claim>>> = claims.iter().map(|_| None).collect();
    let mut replays = Vec::new();
    match claim_rounds(conn, claims, &mut answers, &mut replays).await {
        Ok(()) => revoke_replayed(conn, claims, &replays, &mut answers).await,
        Err(err) if answers.iter().all(Option::is_none) => return Err(err),
        Err(err) => {
            for answer in answers.iter_mut().filter(|answer| answer.is_none()) {
                *answer = Some(Err(copy_error(&err)));
            }
        }
    }
    Ok(answers
        .into_iter()
        .map(|answer| answer.expect("every claim answered"))
        .collect())
}

/// Answers every claim but the replays, which it lists for `revoke_replayed`.
async fn claim_rounds(
    conn: &mut PgConnection,
    claims: &[&CodeClaim],
    answers: &mut [Option<StoreResult<Claim>>],
    replays: &mut Vec<usize>,
) -> StoreResult<()> {
    let mut pending: Vec<usize> = (0..claims.len()).collect();
    for _ in 0..MAX_ROUNDS {
        let leaders = first_per_code(claims, &pending);
        let chosen: Vec<&CodeClaim> = leaders.iter().map(|&i| claims[i]).collect();
        let issued = statements::claim_codes(conn, &chosen).await?;
        for &i in &leaders {
            if let Some(code) = issued.get(&claims[i].code_hash) {
                answers[i] = Some(Ok(Claim::Issued(code.clone())));
            }
        }
        pending.retain(|&i| answers[i].is_none());
        if pending.is_empty() {
            return Ok(());
        }
        // Read after the claim statement returned, so a claim committed by another
        // replica meanwhile is seen.
        let codes = statements::find_codes(conn, &hashes_at(claims, &pending)).await?;
        let mut unclaimed = Vec::new();
        for &i in &pending {
            match codes.get(&claims[i].code_hash) {
                None => answers[i] = Some(Ok(Claim::Refused(None))),
                Some(code) if !claims[i].admits(code) => {
                    answers[i] = Some(Ok(Claim::Refused(Some(code.clone()))));
                }
                Some(code) if code.redeemed_at.is_some() => replays.push(i),
                Some(_) => unclaimed.push(i),
            }
        }
        pending = unclaimed;
        if pending.is_empty() {
            return Ok(());
        }
    }
    for i in pending {
        let unexpected = "a code that passes every check stayed unclaimed".to_owned();
        answers[i] = Some(Err(StoreError::Internal(unexpected)));
    }
    Ok(())
}

/// Of the claims at `pending`, the first for each code, sorted by code, so concurrent groups
/// lock the codes they share in the same order. Should a plan lock them otherwise, the
/// database's deadlock error fails one statement, whose claims are then retried alone.
fn first_per_code(claims: &[&CodeClaim], pending: &[usize]) -> Vec<usize> {
    let mut seen = HashSet::new();
    let mut leaders: Vec<usize> = pending
        .iter()
        .copied()
        .filter(|&i| seen.insert(claims[i].code_hash.as_str()))
        .collect();
    leaders.sort_unstable_by(|&a, &b| claims[a].code_hash.cmp(&claims[b].code_hash));
    leaders
}

/// The code hashes of the claims at `positions`.
fn hashes_at<'a>(claims: &[&'a CodeClaim], positions: &[usize]) -> Vec<&'a str> {
    positions
        .iter()
        .map(|&i| claims[i].code_hash.as_str())
        .collect()
}

/// Revokes the tokens of the replayed codes in one statement and answers the replays. It
/// runs after every claim statement of the group, so it also revokes a token issued in this
/// group; the claims it follows stay committed if it fails.
async fn revoke_replayed(
    conn: &mut PgConnection,
    claims: &[&CodeClaim],
    replays: &[usize],
    answers: &mut [Option<StoreResult<Claim>>],
) {
    let Some(now) = replays.iter().map(|&i| claims[i].now).max() else {
        return;
    };
    let revoked = statements::revoke_tokens_of(conn, &hashes_at(claims, replays), now).await;
    for &i in replays {
        answers[i] = Some(match &revoked {
            Ok(()) => Ok(Claim::Replayed),
            Err(err) => Err(copy_error(err)),
        });
    }
}
