//! A read-through cache in front of any store, for what every request reads and rarely
//! changes: API consumers, ccg tokens and PSPs. An entry lives at most `ttl`, which is the
//! documented staleness bound across replicas: a consumer disabled or a PSP withdrawn on
//! another replica (or by the CLI) stops working here within `ttl` (default 1 s). Codes and
//! access tokens are never cached, so single use and revocation are immediate everywhere.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::*;

/// Past this many entries a cache drops its expired ones, and empties itself if that is not
/// enough: memory stays bounded whatever the traffic (entries live at most the TTL anyway).
const MAX_ENTRIES: usize = 10_000;

struct TtlCache<V> {
    ttl: Duration,
    entries: RwLock<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> TtlCache<V> {
    fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    fn get(&self, key: &str) -> Option<V> {
        let entries = self.entries.read().expect("cache lock");
        let (stored, value) = entries.get(key)?;
        (stored.elapsed() < self.ttl).then(|| value.clone())
    }

    fn put(&self, key: &str, value: V) {
        let mut entries = self.entries.write().expect("cache lock");
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (stored, _)| stored.elapsed() < self.ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.shrink_to(MAX_ENTRIES);
        }
        entries.insert(key.to_owned(), (Instant::now(), value));
    }

    fn forget(&self, key: &str) {
        self.entries.write().expect("cache lock").remove(key);
    }

    /// Looks `key` up, asking `load` on a miss; only found records are cached. `load` makes
    /// its future only then: a store's lookup boxes its future as it is called.
    async fn read_through<F, L>(&self, key: &str, load: L) -> StoreResult<Option<V>>
    where
        L: FnOnce() -> F,
        F: std::future::Future<Output = StoreResult<Option<V>>>,
    {
        if let Some(hit) = self.get(key) {
            return Ok(Some(hit));
        }
        let loaded = load().await?;
        if let Some(value) = &loaded {
            self.put(key, value.clone());
        }
        Ok(loaded)
    }
}

pub struct CachedStore {
    inner: Arc<dyn Store>,
    consumers: TtlCache<ConsumerRecord>,
    ccg_tokens: TtlCache<CcgTokenRecord>,
    psps: TtlCache<PspRecord>,
}

impl CachedStore {
    pub fn new(inner: Arc<dyn Store>, ttl: Duration) -> Self {
        CachedStore {
            inner,
            consumers: TtlCache::new(ttl),
            ccg_tokens: TtlCache::new(ttl),
            psps: TtlCache::new(ttl),
        }
    }
}

#[async_trait]
impl Store for CachedStore {
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }

    async fn upsert_consumer(&self, consumer: &ConsumerRecord) -> StoreResult<()> {
        self.consumers.forget(&consumer.client_id);
        self.inner.upsert_consumer(consumer).await
    }

    async fn find_consumer(&self, client_id: &str) -> StoreResult<Option<ConsumerRecord>> {
        self.consumers
            .read_through(client_id, || self.inner.find_consumer(client_id))
            .await
    }

    async fn list_consumers(&self) -> StoreResult<Vec<ConsumerRecord>> {
        self.inner.list_consumers().await
    }

    async fn disable_consumer(&self, client_id: &str) -> StoreResult<bool> {
        self.consumers.forget(client_id);
        self.inner.disable_consumer(client_id).await
    }

    async fn upsert_psp(&self, psp: &PspRecord) -> StoreResult<()> {
        self.psps.forget(&psp.psp_id);
        self.inner.upsert_psp(psp).await
    }

    async fn find_psp(&self, psp_id: &str) -> StoreResult<Option<PspRecord>> {
        self.psps
            .read_through(psp_id, || self.inner.find_psp(psp_id))
            .await
    }

    async fn list_psps(&self) -> StoreResult<Vec<PspRecord>> {
        self.inner.list_psps().await
    }

    async fn withdraw_psp(&self, psp_id: &str) -> StoreResult<bool> {
        self.psps.forget(psp_id);
        self.inner.withdraw_psp(psp_id).await
    }

    async fn insert_ccg_token(&self, token: &CcgTokenRecord) -> StoreResult<()> {
        self.inner.insert_ccg_token(token).await
    }

    async fn find_ccg_token(&self, token_hash: &str) -> StoreResult<Option<CcgTokenRecord>> {
        self.ccg_tokens
            .read_through(token_hash, || self.inner.find_ccg_token(token_hash))
            .await
    }

    async fn insert_auth_code(&self, code: &AuthCodeRecord) -> StoreResult<()> {
        self.inner.insert_auth_code(code).await
    }

    async fn find_auth_code(&self, code_hash: &str) -> StoreResult<Option<AuthCodeRecord>> {
        self.inner.find_auth_code(code_hash).await
    }

    async fn redeem_auth_code(
        &self,
        token: &AccessTokenRecord,
        now: Millis,
    ) -> StoreResult<Redemption> {
        self.inner.redeem_auth_code(token, now).await
    }

    async fn claim_code(&self, claim: CodeClaim) -> StoreResult<Claim> {
        self.inner.claim_code(claim).await
    }

    async fn revoke_tokens_of_code(&self, code_hash: &str, now: Millis) -> StoreResult<()> {
        self.inner.revoke_tokens_of_code(code_hash, now).await
    }

    async fn find_access_token(&self, token_hash: &str) -> StoreResult<Option<AccessTokenRecord>> {
        self.inner.find_access_token(token_hash).await
    }

    async fn revoke_access_token(
        &self,
        token_hash: &str,
        fi: &str,
        now: Millis,
    ) -> StoreResult<()> {
        self.inner.revoke_access_token(token_hash, fi, now).await
    }

    async fn sweep_expired(&self, before: Millis) -> StoreResult<Swept> {
        self.inner.sweep_expired(before).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = TtlCache::new(Duration::from_millis(0));
        cache.put("k", 1);
        assert_eq!(cache.get("k"), None);
        let cache = TtlCache::new(Duration::from_secs(60));
        cache.put("k", 1);
        assert_eq!(cache.get("k"), Some(1));
        cache.forget("k");
        assert_eq!(cache.get("k"), None);
    }

    #[test]
    fn a_hit_asks_the_store_nothing_and_a_miss_asks_it_once() {
        let cache = TtlCache::new(Duration::from_secs(60));
        let asked = std::cell::Cell::new(0);
        let load = || {
            asked.set(asked.get() + 1);
            std::future::ready(Ok(Some(7)))
        };
        let read = |load| futures::executor::block_on(cache.read_through("k", load));
        assert_eq!(read(&load).unwrap(), Some(7));
        assert_eq!(read(&load).unwrap(), Some(7));
        assert_eq!(asked.get(), 1);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = TtlCache::new(Duration::from_secs(60));
        for i in 0..=MAX_ENTRIES {
            cache.put(&i.to_string(), i);
        }
        assert!(cache.entries.read().unwrap().len() <= MAX_ENTRIES);
    }
}
