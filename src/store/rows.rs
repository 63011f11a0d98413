//! Row to record mapping, expanded for each backend's row type by `sql_rows!`.

/// Defines `consumer_from`, `psp_from`, `ccg_from`, `code_from` and `token_from` for `$row`.
macro_rules! sql_rows {
    ($row:ty) => {
        fn consumer_from(row: &$row) -> StoreResult<ConsumerRecord> {
            Ok(ConsumerRecord {
                client_id: row.get("client_id"),
                secret_hash: row.get("secret_hash"),
                fi_reference_ids: parse_list(row.get("fi_reference_ids"))?,
                enabled: row.get("enabled"),
            })
        }

        fn psp_from(row: &$row) -> StoreResult<PspRecord> {
            Ok(PspRecord {
                psp_id: row.get("psp_id"),
                name: row.get("name"),
                redirect_uris: parse_list(row.get("redirect_uris"))?,
                active: row.get("active"),
            })
        }

        fn ccg_from(row: &$row) -> CcgTokenRecord {
            CcgTokenRecord {
                token_hash: row.get("token_hash"),
                client_id: row.get("client_id"),
                fi_reference_id: row.get("fi_reference_id"),
                psp_id: row.get("psp_id"),
                scope: row.get("scope"),
                created_at: row.get("created_at"),
                expires_at: row.get("expires_at"),
            }
        }

        fn code_from(row: &$row) -> AuthCodeRecord {
            AuthCodeRecord {
                code_hash: row.get("code_hash"),
                client_id: row.get("client_id"),
                fi_reference_id: row.get("fi_reference_id"),
                psp_id: row.get("psp_id"),
                redirect_uri: row.get("redirect_uri"),
                scope: row.get("scope"),
                state: row.get("state"),
                consent_id: row.get("consent_id"),
                psu_account_id: row.get("psu_account_id"),
                created_at: row.get("created_at"),
                expires_at: row.get("expires_at"),
                redeemed_at: row.get("redeemed_at"),
            }
        }

        fn token_from(row: &$row) -> AccessTokenRecord {
            AccessTokenRecord {
                token_hash: row.get("token_hash"),
                code_hash: row.get("code_hash"),
                client_id: row.get("client_id"),
                fi_reference_id: row.get("fi_reference_id"),
                psp_id: row.get("psp_id"),
                scope: row.get("scope"),
                consent_id: row.get("consent_id"),
                psu_account_id: row.get("psu_account_id"),
                issued_at: row.get("issued_at"),
                expires_at: row.get("expires_at"),
                revoked_at: row.get("revoked_at"),
            }
        }
    };
}

pub(super) use sql_rows;
