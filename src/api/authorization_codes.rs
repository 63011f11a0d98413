//! `POST /v1/obie/authorization_codes`: after the PSU has authenticated and consented at
//! the FI, a single-use code for the PSP's redirect (RFC 6749 §4.1.2).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::body::{Fields, JsonBody, WireBody};
use super::errors::ApiError;
use super::guard::CcgGrant;
use super::headers::FiHeaders;
use super::respond::no_store;
use super::responses::AuthCodeErrors;
use crate::data_envelope;
use crate::domain::CodeRequest;
use crate::domain::types::{Identifier, RedirectUri, Scope, State};

/// Asks for an authorization code for the ccg_token's PSP.
#[derive(ToSchema)]
#[schema(example = json!({
    "redirect_uri": "https://www.google.com",
    "scope": "accounts",
    "state": "example-state",
    "consent_id": "consent-0001",
    "psu_account_id": "account-0001"
}))]
pub struct AuthCodeRequest {
    /// Exactly one of the PSP's registered redirect URIs (sandbox: `https://www.google.com`).
    #[schema(value_type = String, format = "uri", min_length = 1, max_length = 2048, example = "https://www.google.com")]
    pub redirect_uri: RedirectUri,
    /// Space-separated scopes within the ccg_token's; default (also when `null`) the ccg_token's scope.
    #[schema(value_type = Option<String>, pattern = "^ *(accounts|payments|fundsconfirmations)( +(accounts|payments|fundsconfirmations))* *$", example = "accounts")]
    pub scope: Option<Scope>,
    /// Opaque value echoed to the PSP in the redirect and the token response (≤ 512 characters);
    /// `null` is the same as absent.
    #[schema(value_type = Option<String>, min_length = 1, max_length = 512, example = "example-state")]
    pub state: Option<State>,
    /// The consent the PSU gave, reported by introspection; `null` is the same as absent.
    #[schema(value_type = Option<String>, min_length = 1, max_length = 256, example = "consent-0001")]
    pub consent_id: Option<Identifier>,
    /// The PSU's account, reported by introspection; `null` is the same as absent.
    #[schema(value_type = Option<String>, min_length = 1, max_length = 256, example = "account-0001")]
    pub psu_account_id: Option<Identifier>,
}

impl WireBody for AuthCodeRequest {
    fn read(f: &mut Fields<'_>) -> Option<Self> {
        let redirect_uri = f.required("redirect_uri");
        let (scope, state) = (f.optional("scope"), f.optional("state"));
        let (consent_id, psu_account_id) = (f.optional("consent_id"), f.optional("psu_account_id"));
        Some(AuthCodeRequest {
            redirect_uri: redirect_uri?,
            scope: scope?,
            state: state?,
            consent_id: consent_id?,
            psu_account_id: psu_account_id?,
        })
    }
}

/// A single-use authorization code and where to send the PSU's browser.
#[derive(Serialize, ToSchema)]
pub struct AuthCode {
    /// The code; the PSP trades it at `POST /v1/obie/tokens` before it expires.
    #[schema(example = "019ac7a5f1c0Zk1pQ2Vb9xTn0r4Ywq8sJd3LmA6uHc2eFg7iKo5pRtU")]
    pub auth_code: String,
    /// Seconds until the code expires (60 by default).
    #[schema(example = 60)]
    pub expires_in: u32,
    /// `redirect_uri` with `code` and `state` appended as query parameters.
    #[schema(
        format = "uri",
        example = "https://www.google.com/?code=019ac7a5f1c0Zk1pQ2Vb9xTn0r4Ywq8sJd3LmA6uHc2eFg7iKo5pRtU&state=example-state"
    )]
    pub redirect_to: String,
}

data_envelope!(
    /// The authorization code just issued.
    AuthCodeCreated,
    AuthCode
);

/// Issue an authorization code (flow step 2)
///
/// Step 2 of the flow, once the PSU has authenticated at the FI and consented. Send the
/// ccg_token from step 1 (sandbox: `good-access-token`). Redirect the PSU's browser to
/// `redirect_to`; the PSP then trades `auth_code` at `POST /v1/obie/tokens` within
/// `expires_in` seconds.
#[utoipa::path(
    post,
    path = "/v1/obie/authorization_codes",
    tag = "authorization codes",
    operation_id = "createAuthorizationCode",
    params(FiHeaders),
    request_body(content = AuthCodeRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The code was issued and committed.", body = AuthCodeCreated,
            headers(("Cache-Control" = String, description = "`no-store`"), ("x-request-id" = String, description = "The request id.")),
            links(("createAccessToken" = (
                operation_id = "createAccessToken",
                request_body = json!({"auth_code": "$response.body#/data/auth_code", "redirect_uri": "$request.body#/redirect_uri"}),
                description = "Step 3: trade the code for an access token, with the same `redirect_uri` and ccg_token.",
            )))),
        AuthCodeErrors,
    ),
    security(("basic_auth" = [], "ccg_token" = []))
)]
#[post(
    "/v1/obie/authorization_codes",
    wrap = "super::catch_panic::catch_panic()"
)]
pub async fn create_authorization_code(
    state: web::Data<AppState>,
    grant: CcgGrant,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let request: AuthCodeRequest = body.decode()?;
    let code_request = CodeRequest {
        redirect_uri: request.redirect_uri,
        scope: request.scope,
        state: request.state,
        consent_id: request.consent_id,
        psu_account_id: request.psu_account_id,
    };
    let issued = state
        .service
        .issue_auth_code(&grant.0, code_request)
        .await?;
    let code = AuthCode {
        auth_code: issued.auth_code,
        expires_in: issued.expires_in,
        redirect_to: issued.redirect_to,
    };
    Ok(no_store(StatusCode::CREATED, code))
}
