//! Documented error responses per operation, derived from types (`IntoResponses`), so
//! each status an operation can answer appears in the OpenAPI document with the envelope.
//! Only the 400, 401 and 403 causes differ between operations; the rest are common to `/v1`.

/// Declares the `IntoResponses` enum of one `/v1` operation from its 400/401/403 causes.
macro_rules! v1_error_responses {
    ($(#[$doc:meta])* $name:ident { 400 => $bad:literal, 401 => $unauth:literal, 403 => $forbidden:literal $(,)? }) => {
        $(#[$doc])*
        #[derive(utoipa::IntoResponses)]
        #[allow(dead_code)]
        pub enum $name {
            #[response(status = 400, description = $bad, headers(("x-request-id" = String, description = "The request id; every error object's `id` equals it.")))]
            BadRequest($crate::api::errors::ErrorEnvelope),
            #[response(status = 401, description = $unauth, headers(
                ("x-request-id" = String, description = "The request id; every error object's `id` equals it."),
                ("WWW-Authenticate" = String, description = "`Basic realm=\"obie-tokens\"`")))]
            Unauthorized($crate::api::errors::ErrorEnvelope),
            #[response(status = 403, description = $forbidden, headers(("x-request-id" = String, description = "The request id; every error object's `id` equals it.")))]
            Forbidden($crate::api::errors::ErrorEnvelope),
            #[response(status = 413, description = "`payload_too_large`: the body is over 16 KiB.", headers(("x-request-id" = String, description = "The request id; every error object's `id` equals it.")))]
            PayloadTooLarge($crate::api::errors::ErrorEnvelope),
            #[response(status = 415, description = "`content_type_unsupported`: `Content-Type` is not `application/json`.", headers(("x-request-id" = String, description = "The request id; every error object's `id` equals it.")))]
            UnsupportedMediaType($crate::api::errors::ErrorEnvelope),
            #[response(status = 429, description = "`rate_limited`: too many failed authentications from this address.", headers(
                ("x-request-id" = String, description = "The request id; every error object's `id` equals it."),
                ("Retry-After" = String, description = "Seconds until the address may retry.")))]
            TooManyRequests($crate::api::errors::ErrorEnvelope),
            #[response(status = 500, description = "`internal_error`: opaque; the cause is logged under the error `id`.", headers(("x-request-id" = String, description = "The request id; every error object's `id` equals it.")))]
            InternalError($crate::api::errors::ErrorEnvelope),
            #[response(status = 503, description = "`service_unavailable`: the store is unreachable.", headers(
                ("x-request-id" = String, description = "The request id; every error object's `id` equals it."),
                ("Retry-After" = String, description = "Seconds to wait before retrying.")))]
            ServiceUnavailable($crate::api::errors::ErrorEnvelope),
        }
    };
}

v1_error_responses!(
    /// Errors of `POST /v1/oauth2/tokens`.
    CcgTokenErrors {
        400 => "`header_missing`, `header_invalid`, `version_unsupported` (all header problems together); or `body_malformed`; or `parameter_missing`, `parameter_invalid`, `grant_type_unsupported` (all body-field problems together).",
        401 => "`authentication_required` (no valid `Authorization: Basic` header), `authentication_failed` (unknown client id or wrong secret).",
        403 => "`fi_reference_forbidden` (these credentials may not act for the FI), `psp_not_authorised` (unknown or withdrawn PSP).",
    }
);

v1_error_responses!(
    /// Errors of `POST /v1/obie/authorization_codes`.
    AuthCodeErrors {
        400 => "`header_missing`, `header_invalid`, `version_unsupported` (all header problems together); or `body_malformed`; or `parameter_missing`, `parameter_invalid` (all body-field problems together); or `redirect_uri_not_registered`.",
        401 => "`authentication_required` (no valid `Authorization: Basic` header), `authentication_failed` (unknown client id or wrong secret), `ccg_token_invalid` (unknown, expired or revoked ccg_token).",
        403 => "`fi_reference_forbidden`, `ccg_token_forbidden` (issued for another FI), `psp_not_authorised` (the token's PSP is withdrawn), `scope_forbidden` (scope outside the ccg_token's).",
    }
);

v1_error_responses!(
    /// Errors of `POST /v1/obie/tokens`.
    ExchangeErrors {
        400 => "`header_missing`, `header_invalid`, `version_unsupported` (all header problems together); or `body_malformed`; or `parameter_missing`, `parameter_invalid` (all body-field problems together); or `auth_code_invalid`, `auth_code_expired`, `redirect_uri_mismatch` (the code stays redeemable), `auth_code_used` (the token issued from it is revoked).",
        401 => "`authentication_required` (no valid `Authorization: Basic` header), `authentication_failed` (unknown client id or wrong secret), `ccg_token_invalid` (unknown, expired or revoked ccg_token).",
        403 => "`fi_reference_forbidden`, `ccg_token_forbidden` (issued for another FI), `psp_not_authorised` (the token's PSP is withdrawn), `auth_code_psp_mismatch` (the code was issued to another PSP).",
    }
);

v1_error_responses!(
    /// Errors of introspection and revocation.
    TokenStatusErrors {
        400 => "`header_missing`, `header_invalid`, `version_unsupported` (all header problems together); or `body_malformed`; or `parameter_missing`, `parameter_invalid` (all body-field problems together).",
        401 => "`authentication_required` (no valid `Authorization: Basic` header), `authentication_failed` (unknown client id or wrong secret).",
        403 => "`fi_reference_forbidden`: these credentials may not act for the FI.",
    }
);

/// The client errors of the probes. They take no input, so they answer none themselves; the
/// range says what any 4xx on these paths would carry (the envelope, like every other error).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ProbeClientErrors {
    #[response(status = "4XX", description = "Not answered by the probe itself, which reads no input; any client error on this path carries the error envelope.", headers(
        ("x-request-id" = String, description = "The request id; every error object's `id` equals it.")))]
    ClientError(crate::api::errors::ErrorEnvelope),
}

/// Errors of the readiness probe.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ReadinessErrors {
    #[response(status = 503, description = "`service_unavailable`: the store is unreachable.", headers(
        ("Retry-After" = String, description = "Seconds to wait before retrying.")))]
    ServiceUnavailable(crate::api::errors::ErrorEnvelope),
}
