//! Onboarding operations behind the admin subcommands (SPEC §8).

use super::secrets::{SecretHash, new_opaque_secret};
use super::types::{FiReferenceId, RedirectUri};
use crate::store::{ConsumerRecord, PspRecord, Store};

/// Adds (or replaces) an API consumer and returns its new secret, shown once.
pub async fn add_consumer(
    store: &dyn Store,
    client_id: &str,
    fi_reference_ids: &[String],
) -> anyhow::Result<String> {
    anyhow::ensure!(
        !client_id.is_empty() && !client_id.contains(':'),
        "client id must be non-empty and contain no ':' (RFC 7617)"
    );
    anyhow::ensure!(
        !fi_reference_ids.is_empty(),
        "name at least one --fi-reference-id"
    );
    for fi in fi_reference_ids {
        FiReferenceId::try_from(fi.as_str())
            .map_err(|e| anyhow::anyhow!("fi_reference_id {fi:?} {}", e.0))?;
    }
    let secret = new_opaque_secret();
    store
        .upsert_consumer(&ConsumerRecord {
            client_id: client_id.into(),
            secret_hash: SecretHash::of(&secret).as_str().into(),
            fi_reference_ids: fi_reference_ids.to_vec(),
            enabled: true,
        })
        .await?;
    Ok(secret)
}

/// Registers (or updates) a PSP with its redirect URIs; it is active.
pub async fn register_psp(
    store: &dyn Store,
    psp_id: &str,
    name: &str,
    redirect_uris: &[String],
) -> anyhow::Result<()> {
    anyhow::ensure!(!psp_id.is_empty(), "psp id must be non-empty");
    anyhow::ensure!(
        !redirect_uris.is_empty(),
        "name at least one --redirect-uri"
    );
    for uri in redirect_uris {
        RedirectUri::try_from(uri.as_str())
            .map_err(|e| anyhow::anyhow!("redirect URI {uri:?} {}", e.0))?;
    }
    store
        .upsert_psp(&PspRecord {
            psp_id: psp_id.into(),
            name: name.into(),
            redirect_uris: redirect_uris.to_vec(),
            active: true,
        })
        .await?;
    Ok(())
}
