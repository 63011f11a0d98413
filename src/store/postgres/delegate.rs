//! `Store` for `PostgresStore`: the shared SQL implementation, except the batched
//! `find_auth_code` and `claim_code`, which runs as one statement per group.

use async_trait::async_trait;

use super::PostgresStore;
use crate::store::*;

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        self.sql.ping().await
    }

    async fn upsert_consumer(&self, consumer: &ConsumerRecord) -> StoreResult<()> {
        self.sql.upsert_consumer(consumer).await
    }

    async fn find_consumer(&self, client_id: &str) -> StoreResult<Option<ConsumerRecord>> {
        self.sql.find_consumer(client_id).await
    }

    async fn list_consumers(&self) -> StoreResult<Vec<ConsumerRecord>> {
        self.sql.list_consumers().await
    }

    async fn disable_consumer(&self, client_id: &str) -> StoreResult<bool> {
        self.sql.disable_consumer(client_id).await
    }

    async fn upsert_psp(&self, psp: &PspRecord) -> StoreResult<()> {
        self.sql.upsert_psp(psp).await
    }

    async fn find_psp(&self, psp_id: &str) -> StoreResult<Option<PspRecord>> {
        self.sql.find_psp(psp_id).await
    }

    async fn list_psps(&self) -> StoreResult<Vec<PspRecord>> {
        self.sql.list_psps().await
    }

    async fn withdraw_psp(&self, psp_id: &str) -> StoreResult<bool> {
        self.sql.withdraw_psp(psp_id).await
    }

    async fn insert_ccg_token(&self, token: &CcgTokenRecord) -> StoreResult<()> {
        self.sql.insert_ccg_token(token).await
    }

    async fn find_ccg_token(&self, token_hash: &str) -> StoreResult<Option<CcgTokenRecord>> {
        self.sql.find_ccg_token(token_hash).await
    }

    async fn insert_auth_code(&self, code: &AuthCodeRecord) -> StoreResult<()> {
        self.sql.insert_auth_code(code).await
    }

    async fn find_auth_code(&self, code_hash: &str) -> StoreResult<Option<AuthCodeRecord>> {
        PostgresStore::find_auth_code(self, code_hash).await
    }

    async fn redeem_auth_code(
        &self,
        token: &AccessTokenRecord,
        now: Millis,
    ) -> StoreResult<Redemption> {
        self.sql.redeem_auth_code(token, now).await
    }

    /// In one statement with the group's other claims (`claims`), not the two-step default.
    async fn claim_code(&self, claim: CodeClaim) -> StoreResult<Claim> {
        self.sql.claim(claim).await
    }

    async fn revoke_tokens_of_code(&self, code_hash: &str, now: Millis) -> StoreResult<()> {
        self.sql.revoke_tokens_of_code(code_hash, now).await
    }

    async fn find_access_token(&self, token_hash: &str) -> StoreResult<Option<AccessTokenRecord>> {
        self.sql.find_access_token(token_hash).await
    }

    async fn revoke_access_token(
        &self,
        token_hash: &str,
        fi_reference_id: &str,
        now: Millis,
    ) -> StoreResult<()> {
        self.sql
            .revoke_access_token(token_hash, fi_reference_id, now)
            .await
    }

    async fn sweep_expired(&self, before: Millis) -> StoreResult<Swept> {
        self.sql.sweep_expired(before).await
    }
}
