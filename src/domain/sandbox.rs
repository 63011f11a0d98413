//! The sandbox profile of SPEC §7, seeded idempotently at start-up by `serve --sandbox`.

use super::secrets::SecretHash;
use super::{Rejection, TokenService, now_millis};
use crate::store::{CcgTokenRecord, ConsumerRecord, PspRecord};

pub const CONSUMER_ID: &str = "api-consumer-id";
pub const CONSUMER_SECRET: &str = "password";
/// `Basic base64("api-consumer-id:password")`.
pub const AUTHORIZATION: &str = "Basic YXBpLWNvbnN1bWVyLWlkOnBhc3N3b3Jk";
pub const FI_REFERENCE_ID: &str = "PSDGB-FCA-111111";
pub const PSP_ID: &str = "PSDGB-FCA-123456";
pub const WITHDRAWN_PSP_ID: &str = "PSDGB-FCA-999999";
pub const REDIRECT_URIS: [&str; 2] = ["https://www.google.com", "https://psp.example/callback"];
pub const CCG_TOKEN: &str = "good-access-token";
pub const CCG_SCOPE: &str = "accounts payments";

impl TokenService {
    /// Writes the sandbox records; running it again changes nothing.
    pub async fn seed_sandbox(&self) -> Result<(), Rejection> {
        let store = &self.store;
        store
            .upsert_consumer(&ConsumerRecord {
                client_id: CONSUMER_ID.into(),
                secret_hash: SecretHash::of(CONSUMER_SECRET).as_str().into(),
                fi_reference_ids: vec![FI_REFERENCE_ID.into()],
                enabled: true,
            })
            .await?;
        store
            .upsert_psp(&PspRecord {
                psp_id: PSP_ID.into(),
                name: "Sandbox PSP".into(),
                redirect_uris: REDIRECT_URIS.iter().map(|u| u.to_string()).collect(),
                active: true,
            })
            .await?;
        store
            .upsert_psp(&PspRecord {
                psp_id: WITHDRAWN_PSP_ID.into(),
                name: "Sandbox withdrawn PSP".into(),
                redirect_uris: vec![REDIRECT_URIS[0].into()],
                active: false,
            })
            .await?;
        store
            .insert_ccg_token(&CcgTokenRecord {
                token_hash: SecretHash::of(CCG_TOKEN).as_str().into(),
                client_id: CONSUMER_ID.into(),
                fi_reference_id: FI_REFERENCE_ID.into(),
                psp_id: PSP_ID.into(),
                scope: CCG_SCOPE.into(),
                created_at: now_millis(),
                expires_at: None,
            })
            .await?;
        Ok(())
    }
}
