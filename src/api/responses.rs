//! Documented error responses per operation, derived from types (`IntoResponses`), so
//! each status an operation can answer appears in the OpenAPI document with the envelope.

/// Declares an `IntoResponses` enum: one `ErrorEnvelope` response per listed status.
macro_rules! error_responses {
    ($(#[$doc:meta])* $name:ident { $($status:literal $variant:ident => $desc:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(utoipa::IntoResponses)]
        #[allow(dead_code)]
        pub enum $name {
            $(
                #[response(
                    status = $status,
                    description = $desc,
                    headers(("x-request-id" = String, description = "The request id; every error object's `id` equals it."))
                )]
                $variant($crate::api::errors::ErrorEnvelope),
            )*
        }
    };
}

error_responses!(
    /// Errors of `POST /v1/oauth2/tokens`.
    CcgTokenErrors {
        400 BadRequest => "`header_missing`, `header_invalid`, `version_unsupported` (all header problems together); or `body_malformed`; or `parameter_missing`, `parameter_invalid`, `grant_type_unsupported` (all body-field problems together).",
        401 Unauthorized => "`authentication_required` (no valid `Authorization: Basic` header; `WWW-Authenticate` is set), `authentication_failed` (unknown client id or wrong secret).",
        403 Forbidden => "`fi_reference_forbidden` (these credentials may not act for the FI), `psp_not_authorised` (unknown or withdrawn PSP).",
        413 PayloadTooLarge => "`payload_too_large`: the body is over 16 KiB.",
        415 UnsupportedMediaType => "`content_type_unsupported`: `Content-Type` is not `application/json`.",
        429 TooManyRequests => "`rate_limited`: too many failed authentications from this address; see `Retry-After`.",
        500 InternalError => "`internal_error`: opaque; the cause is logged under the error `id`.",
        503 ServiceUnavailable => "`service_unavailable`: the store is unreachable; see `Retry-After`.",
    }
);

error_responses!(
    /// Errors of `POST /v1/obie/authorization_codes`.
    AuthCodeErrors {
        400 BadRequest => "`header_missing`, `header_invalid`, `version_unsupported` (all header problems together); or `body_malformed`; or `parameter_missing`, `parameter_invalid` (all body-field problems together); or `redirect_uri_not_registered`.",
        401 Unauthorized => "`authentication_required` (no valid `Authorization: Basic` header; `WWW-Authenticate` is set), `authentication_failed` (unknown client id or wrong secret), `ccg_token_invalid` (unknown, expired or revoked ccg_token).",
        403 Forbidden => "`fi_reference_forbidden`, `ccg_token_forbidden` (issued for another FI), `psp_not_authorised` (the token's PSP is withdrawn), `scope_forbidden` (scope outside the ccg_token's).",
        413 PayloadTooLarge => "`payload_too_large`: the body is over 16 KiB.",
        415 UnsupportedMediaType => "`content_type_unsupported`: `Content-Type` is not `application/json`.",
        429 TooManyRequests => "`rate_limited`: too many failed authentications from this address; see `Retry-After`.",
        500 InternalError => "`internal_error`: opaque; the cause is logged under the error `id`.",
        503 ServiceUnavailable => "`service_unavailable`: the store is unreachable; see `Retry-After`.",
    }
);

error_responses!(
    /// Errors of `POST /v1/obie/tokens`.
    ExchangeErrors {
        400 BadRequest => "`header_missing`, `header_invalid`, `version_unsupported` (all header problems together); or `body_malformed`; or `parameter_missing`, `parameter_invalid` (all body-field problems together); or `auth_code_invalid`, `auth_code_expired`, `redirect_uri_mismatch` (the code stays redeemable), `auth_code_used` (the token issued from it is revoked).",
        401 Unauthorized => "`authentication_required` (no valid `Authorization: Basic` header; `WWW-Authenticate` is set), `authentication_failed` (unknown client id or wrong secret), `ccg_token_invalid` (unknown, expired or revoked ccg_token).",
        403 Forbidden => "`fi_reference_forbidden`, `ccg_token_forbidden` (issued for another FI), `psp_not_authorised` (the token's PSP is withdrawn), `auth_code_psp_mismatch` (the code was issued to another PSP).",
        413 PayloadTooLarge => "`payload_too_large`: the body is over 16 KiB.",
        415 UnsupportedMediaType => "`content_type_unsupported`: `Content-Type` is not `application/json`.",
        429 TooManyRequests => "`rate_limited`: too many failed authentications from this address; see `Retry-After`.",
        500 InternalError => "`internal_error`: opaque; the cause is logged under the error `id`.",
        503 ServiceUnavailable => "`service_unavailable`: the store is unreachable; see `Retry-After`.",
    }
);

error_responses!(
    /// Errors of introspection and revocation.
    TokenStatusErrors {
        400 BadRequest => "`header_missing`, `header_invalid`, `version_unsupported` (all header problems together); or `body_malformed`; or `parameter_missing`, `parameter_invalid` (all body-field problems together).",
        401 Unauthorized => "`authentication_required` (no valid `Authorization: Basic` header; `WWW-Authenticate` is set), `authentication_failed` (unknown client id or wrong secret).",
        403 Forbidden => "`fi_reference_forbidden`: these credentials may not act for the FI.",
        413 PayloadTooLarge => "`payload_too_large`: the body is over 16 KiB.",
        415 UnsupportedMediaType => "`content_type_unsupported`: `Content-Type` is not `application/json`.",
        429 TooManyRequests => "`rate_limited`: too many failed authentications from this address; see `Retry-After`.",
        500 InternalError => "`internal_error`: opaque; the cause is logged under the error `id`.",
        503 ServiceUnavailable => "`service_unavailable`: the store is unreachable; see `Retry-After`.",
    }
);

error_responses!(
    /// Errors of the readiness probe.
    ReadinessErrors {
        503 ServiceUnavailable => "`service_unavailable`: the store is unreachable; see `Retry-After`.",
    }
);
