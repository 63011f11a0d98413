//! `POST /v1/oauth2/tokens`: the client-credentials grant (RFC 6749 §4.4) that gives an
//! FI a ccg_token for one PSP, the first step of the flow (SPEC §2).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::body::{Fields, JsonBody, WireBody};
use super::errors::{ApiError, ErrorCode, Problem};
use super::guard::FiCaller;
use super::headers::FiHeaders;
use super::respond::no_store;
use super::responses::CcgTokenErrors;
use crate::data_envelope;
use crate::domain::types::{Identifier, Scope};

/// The only grant this endpoint performs.
#[derive(ToSchema)]
#[allow(dead_code)]
pub enum GrantType {
    #[schema(rename = "client_credentials")]
    ClientCredentials,
}

/// The token type of every token the service issues (RFC 6750).
#[derive(Serialize, ToSchema)]
pub enum TokenType {
    #[serde(rename = "bearer")]
    #[schema(rename = "bearer")]
    Bearer,
}

/// Asks for a ccg_token for one PSP.
#[derive(ToSchema)]
#[schema(example = json!({"grant_type": "client_credentials", "psp_id": "PSDGB-FCA-123456", "scope": "accounts payments"}))]
pub struct CcgTokenRequest {
    /// Must be `client_credentials`.
    #[schema(value_type = GrantType)]
    pub grant_type: Identifier,
    /// The PSP the token is for; it must be registered and active (sandbox: `PSDGB-FCA-123456`).
    #[schema(value_type = String, min_length = 1, max_length = 256, example = "PSDGB-FCA-123456")]
    pub psp_id: Identifier,
    /// Space-separated scopes from `accounts payments fundsconfirmations`; default `accounts`
    /// (also when `null`). Repeated names and extra spaces are tolerated.
    // The pattern is exactly what `Scope::try_from` accepts, so the contract and the parser agree.
    #[schema(value_type = Option<String>, pattern = "^ *(accounts|payments|fundsconfirmations)( +(accounts|payments|fundsconfirmations))* *$", example = "accounts payments")]
    pub scope: Option<Scope>,
}

impl WireBody for CcgTokenRequest {
    fn read(f: &mut Fields<'_>) -> Option<Self> {
        let grant_type = f.required::<Identifier>("grant_type");
        if let Some(grant) = &grant_type
            && grant.as_str() != "client_credentials"
        {
            f.push(Problem::new(
                ErrorCode::GrantTypeUnsupported,
                "The grant_type must be client_credentials.",
            ));
        }
        let (psp_id, scope) = (f.required("psp_id"), f.optional("scope"));
        Some(CcgTokenRequest {
            grant_type: grant_type?,
            psp_id: psp_id?,
            scope: scope?,
        })
    }
}

/// A ccg_token bound to (API consumer, FI, PSP, scope).
#[derive(Serialize, ToSchema)]
pub struct CcgToken {
    /// The ccg_token: send it as the `ccg_token` header of the OBIE operations.
    #[schema(example = "q0Jg1oXv2aN3Yy4iZbq7b0C8m9wLrQ1sT5uVx6zA_Ek")]
    pub access_token: String,
    /// Seconds until the token expires.
    #[schema(example = 3600)]
    pub expires_in: u32,
    /// Always `bearer`.
    pub token_type: TokenType,
}

data_envelope!(
    /// The ccg_token just issued.
    CcgTokenCreated,
    CcgToken
);

/// Issue a ccg_token (flow step 1)
///
/// Step 1 of the flow. The FI trades its Basic credentials for a client-credentials grant
/// token bound to one PSP. Next: `POST /v1/obie/authorization_codes` with it as the
/// `ccg_token` header. The sandbox also has a ready-made ccg_token, `good-access-token`.
#[utoipa::path(
    post,
    path = "/v1/oauth2/tokens",
    tag = "ccg tokens",
    operation_id = "createCcgToken",
    params(FiHeaders),
    request_body(content = CcgTokenRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The ccg_token was issued and committed.", body = CcgTokenCreated,
            headers(("Cache-Control" = String, description = "`no-store`"), ("x-request-id" = String, description = "The request id."))),
        CcgTokenErrors,
    ),
    security(("basic_auth" = []))
)]
#[post("/v1/oauth2/tokens", wrap = "super::catch_panic::catch_panic()")]
pub async fn create_ccg_token(
    state: web::Data<AppState>,
    caller: FiCaller,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let request: CcgTokenRequest = body.decode()?;
    let issued = state
        .service
        .issue_ccg_token(&caller.0, request.psp_id.as_str(), request.scope)
        .await?;
    let token = CcgToken {
        access_token: issued.access_token,
        expires_in: issued.expires_in,
        token_type: TokenType::Bearer,
    };
    Ok(no_store(StatusCode::CREATED, token))
}
