//! Introspection (RFC 7662) and revocation (RFC 7009) of access tokens, for the FI that
//! issued them (SPEC §4).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::body::{Fields, JsonBody, WireBody};
use super::ccg_tokens::TokenType;
use super::errors::ApiError;
use super::guard::FiCaller;
use super::headers::FiHeaders;
use super::respond::no_store;
use super::responses::TokenStatusErrors;
use crate::data_envelope;
use crate::domain::types::Identifier;

/// Names the access token to introspect or revoke.
#[derive(ToSchema)]
#[schema(example = json!({"access_token": "8c9378f8-e27f-4e0a-a643-d73585d1249f"}))]
pub struct TokenReference {
    /// An access token from `POST /v1/obie/tokens`.
    #[schema(value_type = String, min_length = 1, max_length = 256, example = "8c9378f8-e27f-4e0a-a643-d73585d1249f")]
    pub access_token: Identifier,
}

impl WireBody for TokenReference {
    fn read(f: &mut Fields<'_>) -> Option<Self> {
        Some(TokenReference {
            access_token: f.required("access_token")?,
        })
    }
}

/// Whether a token is active and, if it is, whose it is.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "active": true, "token_type": "bearer", "psp_id": "PSDGB-FCA-123456",
    "fi_reference_id": "PSDGB-FCA-111111", "scope": "accounts", "consent_id": "consent-0001",
    "psu_account_id": "account-0001", "issued_at": 1795000000, "expires_at": 1826104000
}))]
pub struct TokenStatus {
    /// False for unknown, expired, revoked and other FIs' tokens; then nothing else is given.
    pub active: bool,
    /// Always `bearer` (active tokens only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub token_type: Option<TokenType>,
    /// The PSP the token was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub psp_id: Option<String>,
    /// The FI the token was issued for.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub fi_reference_id: Option<String>,
    /// Space-separated scopes the token grants.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub scope: Option<String>,
    /// The consent, when the code had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub consent_id: Option<String>,
    /// The PSU's account, when the code had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub psu_account_id: Option<String>,
    /// When the token was issued, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub issued_at: Option<i64>,
    /// When the token expires, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub expires_at: Option<i64>,
}

data_envelope!(
    /// The state of the token.
    TokenStatusResult,
    TokenStatus
);

/// Introspect an access token (flow step 4)
///
/// Step 4 of the flow: when the PSP calls the FI's API with an access token, the FI asks
/// whether it is active, whose it is and for which consent. Unknown, expired, revoked and
/// other FIs' tokens all answer `{"data": {"active": false}}`.
#[utoipa::path(
    post,
    path = "/v1/obie/tokens/introspection",
    tag = "access tokens",
    operation_id = "introspectAccessToken",
    params(FiHeaders),
    request_body(content = TokenReference, content_type = "application/json"),
    responses(
        (status = 200, description = "The token's state.", body = TokenStatusResult,
            headers(("Cache-Control" = String, description = "`no-store`"), ("x-request-id" = String, description = "The request id."))),
        TokenStatusErrors,
    ),
    security(("basic_auth" = []))
)]
#[post(
    "/v1/obie/tokens/introspection",
    wrap = "super::catch_panic::catch_panic()"
)]
pub async fn introspect_access_token(
    state: web::Data<AppState>,
    caller: FiCaller,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let request: TokenReference = body.decode()?;
    let found = state
        .service
        .introspect(&caller.0, request.access_token.as_str())
        .await?;
    let status = match found {
        None => TokenStatus {
            active: false,
            token_type: None,
            psp_id: None,
            fi_reference_id: None,
            scope: None,
            consent_id: None,
            psu_account_id: None,
            issued_at: None,
            expires_at: None,
        },
        Some(t) => TokenStatus {
            active: true,
            token_type: Some(TokenType::Bearer),
            psp_id: Some(t.psp_id),
            fi_reference_id: Some(t.fi_reference_id),
            scope: Some(t.scope),
            consent_id: t.consent_id,
            psu_account_id: t.psu_account_id,
            issued_at: Some(t.issued_at),
            expires_at: Some(t.expires_at),
        },
    };
    Ok(no_store(StatusCode::OK, status))
}

/// Revoke an access token (flow step 5)
///
/// Step 5, when the PSU withdraws consent: the token stops working at once. Answers 204
/// also for unknown tokens and other FIs' tokens, which stay untouched (idempotent, and no
/// oracle: RFC 7009 §2.2).
#[utoipa::path(
    post,
    path = "/v1/obie/tokens/revocation",
    tag = "access tokens",
    operation_id = "revokeAccessToken",
    params(FiHeaders),
    request_body(content = TokenReference, content_type = "application/json"),
    responses(
        (status = 204, description = "The token, if it was this FI's, is revoked.",
            headers(("x-request-id" = String, description = "The request id."))),
        TokenStatusErrors,
    ),
    security(("basic_auth" = []))
)]
#[post(
    "/v1/obie/tokens/revocation",
    wrap = "super::catch_panic::catch_panic()"
)]
pub async fn revoke_access_token(
    state: web::Data<AppState>,
    caller: FiCaller,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let request: TokenReference = body.decode()?;
    state
        .service
        .revoke(&caller.0, request.access_token.as_str())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
