//! The OBIE authorization-code flow (SPEC §2, §4), one function per operation, each a
//! list of guard clauses in the order SPEC §4 gives.

use super::secrets::{SecretHash, new_access_token, new_auth_code, new_opaque_secret};
use super::types::{FiReferenceId, Identifier, RedirectUri, Scope, State};
use super::{Rejection, TokenService, now_millis, seconds};
use crate::store::{
    AuthCodeRecord, CcgTokenRecord, Claim, CodeClaim, Millis, PspRecord, StoreError,
};

/// An API consumer whose credentials were verified.
#[derive(Debug, Clone)]
pub struct Consumer {
    pub client_id: String,
    pub fi_reference_ids: Vec<String>,
}

impl Consumer {
    /// SPEC §3: the consumer must be allowed to act for this FI (an aggregator may act
    /// for several).
    pub fn act_for(self, fi: FiReferenceId) -> Result<Caller, Rejection> {
        if self.fi_reference_ids.iter().any(|f| f == fi.as_str()) {
            Ok(Caller {
                client_id: self.client_id,
                fi_reference_id: fi,
            })
        } else {
            Err(Rejection::FiReferenceForbidden)
        }
    }
}

/// An authenticated API consumer acting for one FI it is allowed to act for.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client_id: String,
    pub fi_reference_id: FiReferenceId,
}

/// A caller presenting a valid ccg_token: the PSP and scope the token grants.
#[derive(Debug, Clone)]
pub struct Grant {
    pub caller: Caller,
    pub psp: PspRecord,
    pub scope: Scope,
}

pub struct IssuedCcgToken {
    pub access_token: String,
    pub expires_in: u32,
}

pub struct CodeRequest {
    pub redirect_uri: RedirectUri,
    pub scope: Option<Scope>,
    pub state: Option<State>,
    pub consent_id: Option<Identifier>,
    pub psu_account_id: Option<Identifier>,
}

pub struct IssuedCode {
    pub auth_code: String,
    pub expires_in: u32,
    pub redirect_to: String,
}

pub struct IssuedAccessToken {
    pub access_token: String,
    pub expires_in: u32,
    pub state: Option<String>,
}

/// What introspection tells about a live token; `None` means `active: false`.
pub struct ActiveToken {
    pub psp_id: String,
    pub fi_reference_id: String,
    pub scope: String,
    pub consent_id: Option<String>,
    pub psu_account_id: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// Why a code was refused to `grant` for `redirect_uri` at `now`, in the order SPEC §4
/// gives: the checks of `CodeClaim::admits`, one by one.
fn refusal(
    code: Option<AuthCodeRecord>,
    grant: &Grant,
    redirect_uri: &str,
    now: Millis,
) -> Rejection {
    // Another FI's code is reported as unknown: no oracle across FIs.
    let fi = grant.caller.fi_reference_id.as_str();
    let Some(code) = code.filter(|c| c.fi_reference_id == fi) else {
        return Rejection::AuthCodeInvalid;
    };
    if code.expires_at <= now {
        return Rejection::AuthCodeExpired;
    }
    // RFC 6749 §4.1.3: the code was issued to this client.
    if code.psp_id != grant.psp.psp_id {
        return Rejection::AuthCodePspMismatch;
    }
    // RFC 6749 §4.1.3: redirect_uri identical to the authorization request's.
    if code.redirect_uri != redirect_uri {
        return Rejection::RedirectUriMismatch;
    }
    Rejection::Store(StoreError::Internal(
        "the store refused a code that passes every check".into(),
    ))
}

impl TokenService {
    /// SPEC §3: unknown id, wrong secret or a disabled consumer all fail alike, so the
    /// answer tells an attacker nothing about which ids exist.
    pub async fn authenticate(&self, client_id: &str, secret: &str) -> Result<Consumer, Rejection> {
        let presented = SecretHash::of(secret);
        let consumer = self.store.find_consumer(client_id).await?;
        let Some(consumer) = consumer.filter(|c| c.enabled) else {
            return Err(Rejection::AuthenticationFailed);
        };
        if !presented.matches(&SecretHash::from_stored(consumer.secret_hash)) {
            return Err(Rejection::AuthenticationFailed);
        }
        Ok(Consumer {
            client_id: consumer.client_id,
            fi_reference_ids: consumer.fi_reference_ids,
        })
    }

    /// SPEC §4: ccg_token unknown/expired → 401; another FI's or consumer's → 403;
    /// its PSP withdrawn → 403 (SPEC §6: a ccg_token stops working then).
    pub async fn check_ccg_token(&self, caller: Caller, token: &str) -> Result<Grant, Rejection> {
        let hash = SecretHash::of(token);
        let record = self.store.find_ccg_token(hash.as_str()).await?;
        let now = now_millis();
        let Some(record) = record.filter(|t| t.expires_at.is_none_or(|e| e > now)) else {
            return Err(Rejection::CcgTokenInvalid);
        };
        if record.fi_reference_id != caller.fi_reference_id.as_str()
            || record.client_id != caller.client_id
        {
            return Err(Rejection::CcgTokenForbidden);
        }
        let psp = self.active_psp(&record.psp_id).await?;
        let scope = Scope::try_from(record.scope.as_str())
            .map_err(|e| crate::store::StoreError::Internal(format!("stored scope: {}", e.0)))?;
        Ok(Grant { caller, psp, scope })
    }

    async fn active_psp(&self, psp_id: &str) -> Result<PspRecord, Rejection> {
        match self.store.find_psp(psp_id).await? {
            Some(psp) if psp.active => Ok(psp),
            _ => Err(Rejection::PspNotAuthorised),
        }
    }

    /// `POST /v1/oauth2/tokens`: a ccg_token bound to (consumer, FI, PSP, scope).
    pub async fn issue_ccg_token(
        &self,
        caller: &Caller,
        psp_id: &str,
        scope: Option<Scope>,
    ) -> Result<IssuedCcgToken, Rejection> {
        let psp = self.active_psp(psp_id).await?;
        let token = new_opaque_secret();
        let now = now_millis();
        let lifetime = self.lifetimes.ccg_token;
        self.store
            .insert_ccg_token(&CcgTokenRecord {
                token_hash: SecretHash::of(&token).as_str().to_owned(),
                client_id: caller.client_id.clone(),
                fi_reference_id: caller.fi_reference_id.to_string(),
                psp_id: psp.psp_id,
                scope: scope.unwrap_or_else(Scope::accounts).to_string(),
                created_at: now,
                expires_at: Some(now + seconds(lifetime)),
            })
            .await?;
        Ok(IssuedCcgToken {
            access_token: token,
            expires_in: lifetime,
        })
    }

    /// `POST /v1/obie/authorization_codes`: a single-use code for the PSP's redirect.
    pub async fn issue_auth_code(
        &self,
        grant: &Grant,
        request: CodeRequest,
    ) -> Result<IssuedCode, Rejection> {
        // RFC 6749 §3.1.2.3: exact comparison against the registered URIs.
        if !grant
            .psp
            .redirect_uris
            .iter()
            .any(|u| u == request.redirect_uri.as_str())
        {
            return Err(Rejection::RedirectUriNotRegistered);
        }
        let scope = request.scope.unwrap_or_else(|| grant.scope.clone());
        if !scope.is_within(&grant.scope) {
            return Err(Rejection::ScopeForbidden);
        }
        let now = now_millis();
        let code = new_auth_code(now);
        let lifetime = self.lifetimes.auth_code;
        self.store
            .insert_auth_code(&AuthCodeRecord {
                code_hash: SecretHash::of_code(&code).as_str().to_owned(),
                client_id: grant.caller.client_id.clone(),
                fi_reference_id: grant.caller.fi_reference_id.to_string(),
                psp_id: grant.psp.psp_id.clone(),
                redirect_uri: request.redirect_uri.as_str().to_owned(),
                scope: scope.to_string(),
                state: request.state.as_ref().map(|s| s.as_str().to_owned()),
                consent_id: request.consent_id.map(Identifier::into_string),
                psu_account_id: request.psu_account_id.map(Identifier::into_string),
                created_at: now,
                expires_at: now + seconds(lifetime),
                redeemed_at: None,
            })
            .await?;
        let redirect_to = request
            .redirect_uri
            .with_code(&code, request.state.as_ref());
        Ok(IssuedCode {
            auth_code: code,
            expires_in: lifetime,
            redirect_to,
        })
    }

    /// `POST /v1/obie/tokens`: trade a code for an access token (RFC 6749 §4.1.3).
    pub async fn exchange_code(
        &self,
        grant: &Grant,
        auth_code: &str,
        redirect_uri: &str,
    ) -> Result<IssuedAccessToken, Rejection> {
        let access_token = new_access_token();
        let lifetime = self.lifetimes.access_token;
        let now = now_millis();
        let claim = CodeClaim {
            code_hash: SecretHash::of_code(auth_code).as_str().to_owned(),
            fi_reference_id: grant.caller.fi_reference_id.to_string(),
            psp_id: grant.psp.psp_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            now,
            client_id: grant.caller.client_id.clone(),
            token_hash: SecretHash::of(&access_token).as_str().to_owned(),
            token_expires_at: now + seconds(lifetime),
        };
        // The checks and the claim run in the store, atomically: of concurrent redemptions
        // of one code exactly one issues, and a code used twice has its token revoked
        // (RFC 6749 §4.1.2).
        match self.store.claim_code(claim).await? {
            Claim::Issued(code) => Ok(IssuedAccessToken {
                access_token,
                expires_in: lifetime,
                state: code.state,
            }),
            Claim::Replayed => Err(Rejection::AuthCodeUsed),
            Claim::Refused(code) => Err(refusal(code, grant, redirect_uri, now)),
        }
    }

    /// `POST /v1/obie/tokens/introspection` (RFC 7662 §2.2): unknown, expired, revoked
    /// and other FIs' tokens are all simply inactive.
    pub async fn introspect(
        &self,
        caller: &Caller,
        token: &str,
    ) -> Result<Option<ActiveToken>, Rejection> {
        let hash = SecretHash::of(token);
        let record = self.store.find_access_token(hash.as_str()).await?;
        let now = now_millis();
        Ok(record
            .filter(|t| t.fi_reference_id == caller.fi_reference_id.as_str())
            .filter(|t| t.revoked_at.is_none() && t.expires_at > now)
            .map(|t| ActiveToken {
                psp_id: t.psp_id,
                fi_reference_id: t.fi_reference_id,
                scope: t.scope,
                consent_id: t.consent_id,
                psu_account_id: t.psu_account_id,
                issued_at: t.issued_at / 1000,
                expires_at: t.expires_at / 1000,
            }))
    }

    /// `POST /v1/obie/tokens/revocation` (RFC 7009 §2.2): idempotent, and silent about
    /// tokens that are unknown or another FI's.
    pub async fn revoke(&self, caller: &Caller, token: &str) -> Result<(), Rejection> {
        let hash = SecretHash::of(token);
        let fi = caller.fi_reference_id.as_str();
        Ok(self
            .store
            .revoke_access_token(hash.as_str(), fi, now_millis())
            .await?)
    }
}
