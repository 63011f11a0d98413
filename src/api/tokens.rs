//! `POST /v1/obie/tokens`: the heart of the service. The FI trades the PSP's one-time
//! authorization code for the bearer access token (RFC 6749 §4.1.3, SPEC §4).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::body::{Fields, JsonBody, WireBody};
use super::ccg_tokens::TokenType;
use super::errors::ApiError;
use super::guard::CcgGrant;
use super::headers::FiHeaders;
use super::respond::no_store;
use super::responses::ExchangeErrors;
use crate::data_envelope;
use crate::domain::types::{Identifier, RedirectUri};

/// Trades an authorization code for an access token.
#[derive(ToSchema)]
#[schema(example = json!({"auth_code": "019ac7a5f1c0Zk1pQ2Vb9xTn0r4Ywq8sJd3LmA6uHc2eFg7iKo5pRtU", "redirect_uri": "https://www.google.com"}))]
pub struct TokenRequest {
    /// The one-time code from `POST /v1/obie/authorization_codes`, within its lifetime (60 s by default).
    #[schema(value_type = String, min_length = 1, max_length = 256, example = "019ac7a5f1c0Zk1pQ2Vb9xTn0r4Ywq8sJd3LmA6uHc2eFg7iKo5pRtU")]
    pub auth_code: Identifier,
    /// Byte-identical to the `redirect_uri` the code was issued for.
    #[schema(value_type = String, format = "uri", min_length = 1, max_length = 2048, example = "https://www.google.com")]
    pub redirect_uri: RedirectUri,
}

impl WireBody for TokenRequest {
    fn read(f: &mut Fields<'_>) -> Option<Self> {
        let (auth_code, redirect_uri) = (f.required("auth_code"), f.required("redirect_uri"));
        Some(TokenRequest {
            auth_code: auth_code?,
            redirect_uri: redirect_uri?,
        })
    }
}

/// The access token for the PSP.
#[derive(Serialize, ToSchema)]
pub struct AccessToken {
    /// The bearer access token the FI hands to the PSP (a UUID).
    #[schema(example = "8c9378f8-e27f-4e0a-a643-d73585d1249f")]
    pub access_token: String,
    /// Seconds the token is granted for.
    #[schema(example = 31104000)]
    pub expires_in: u32,
    /// Always `bearer`.
    pub token_type: TokenType,
    /// The `state` the code was issued with; absent when it had none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "example-state")]
    pub state: Option<String>,
}

data_envelope!(
    /// The access token just issued.
    AccessTokenCreated,
    AccessToken
);

/// Exchange an authorization code for an access token (flow step 3)
///
/// Step 3 of the flow. Send the same ccg_token as in step 2 and the `auth_code` it
/// returned, with the same `redirect_uri`. A code is single-use: a second exchange answers
/// `auth_code_used` and revokes the token the first one issued (RFC 6749 §4.1.2). A failed
/// check other than `auth_code_used` leaves the code redeemable. Next: introspect the token
/// at `POST /v1/obie/tokens/introspection`.
#[utoipa::path(
    post,
    path = "/v1/obie/tokens",
    tag = "access tokens",
    operation_id = "createAccessToken",
    params(FiHeaders),
    request_body(content = TokenRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Request received and access token created; committed to the store.", body = AccessTokenCreated,
            headers(("Cache-Control" = String, description = "`no-store`"), ("x-request-id" = String, description = "The request id.")),
            links(
                ("introspectAccessToken" = (
                    operation_id = "introspectAccessToken",
                    request_body = json!({"access_token": "$response.body#/data/access_token"}),
                    description = "Step 4: is the token active, and whose is it?",
                )),
                ("revokeAccessToken" = (
                    operation_id = "revokeAccessToken",
                    request_body = json!({"access_token": "$response.body#/data/access_token"}),
                    description = "Step 5: revoke the token when the consent is withdrawn.",
                )),
            )),
        ExchangeErrors,
    ),
    security(("basic_auth" = [], "ccg_token" = []))
)]
#[post("/v1/obie/tokens", wrap = "super::catch_panic::catch_panic()")]
pub async fn create_access_token(
    state: web::Data<AppState>,
    grant: CcgGrant,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let request: TokenRequest = body.decode()?;
    let issued = state
        .service
        .exchange_code(
            &grant.0,
            request.auth_code.as_str(),
            request.redirect_uri.as_str(),
        )
        .await?;
    let token = AccessToken {
        access_token: issued.access_token,
        expires_in: issued.expires_in,
        token_type: TokenType::Bearer,
        state: issued.state,
    };
    Ok(no_store(StatusCode::CREATED, token))
}
