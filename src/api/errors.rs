//! The error catalogue (SPEC §5) and the `{"errors": [...]}` envelope (SPEC §3).
//!
//! `ErrorCode` is the contract: its status, stable code and default title all come from
//! here, and so does the `/docs/errors` page. Handlers return `ApiError`; the envelope
//! middleware (`envelope.rs`) renders it with the request id, so every object of one
//! response carries the same `id`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

macro_rules! catalogue {
    ($($variant:ident => ($status:expr, $code:literal, $title:literal, $when:literal),)*) => {
        /// Every error code the service can answer with (SPEC §5).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $($variant,)* }

        impl ErrorCode {
            /// All codes, in catalogue order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The HTTP status this code is answered with.
            pub fn status(self) -> StatusCode {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// The stable snake_case code, part of the contract.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The default human sentence for this code.
            pub fn title(self) -> &'static str {
                match self { $(ErrorCode::$variant => $title,)* }
            }

            /// When the service answers with this code (for the docs page).
            pub fn when(self) -> &'static str {
                match self { $(ErrorCode::$variant => $when,)* }
            }
        }
    };
}

catalogue! {
    HeaderMissing => (StatusCode::BAD_REQUEST, "header_missing", "A required header is missing.", "`fi_reference_id`, `version` or `ccg_token` is absent; one object per header."),
    HeaderInvalid => (StatusCode::BAD_REQUEST, "header_invalid", "A header is malformed.", "A header is present but malformed: not 1–128 visible ASCII characters, or sent more than once."),
    VersionUnsupported => (StatusCode::BAD_REQUEST, "version_unsupported", "The version header must be 1 or latest.", "`version` is neither `1` nor `latest`."),
    BodyMalformed => (StatusCode::BAD_REQUEST, "body_malformed", "The request body is not a JSON object.", "The body is not valid JSON (or not UTF-8), is JSON but not an object, repeats a key in an object, or nests deeper than 128 levels."),
    ParameterMissing => (StatusCode::BAD_REQUEST, "parameter_missing", "A required body field is missing.", "A required body field is absent or null; one object per field."),
    ParameterInvalid => (StatusCode::BAD_REQUEST, "parameter_invalid", "A body field is invalid.", "A body field has the wrong type, is empty or too long, contains a NUL character, is not an absolute URL, or names an unknown scope."),
    GrantTypeUnsupported => (StatusCode::BAD_REQUEST, "grant_type_unsupported", "The grant_type must be client_credentials.", "`POST /v1/oauth2/tokens` with a `grant_type` other than `client_credentials`."),
    RedirectUriNotRegistered => (StatusCode::BAD_REQUEST, "redirect_uri_not_registered", "The redirect_uri is not registered for this PSP.", "An authorization code was asked for a `redirect_uri` that is not exactly one of the PSP's registered URIs."),
    AuthCodeInvalid => (StatusCode::BAD_REQUEST, "auth_code_invalid", "The authorization code is not valid.", "The authorization code is unknown, or was issued for another FI."),
    AuthCodeExpired => (StatusCode::BAD_REQUEST, "auth_code_expired", "The authorization code has expired.", "The authorization code is past its lifetime (60 s by default)."),
    AuthCodeUsed => (StatusCode::BAD_REQUEST, "auth_code_used", "The authorization code has already been used.", "The authorization code was already redeemed; the access token issued from it is revoked (RFC 6749 §4.1.2)."),
    RedirectUriMismatch => (StatusCode::BAD_REQUEST, "redirect_uri_mismatch", "The redirect_uri does not match the authorization code.", "The `redirect_uri` is not byte-identical to the one the code was issued for. The code stays redeemable."),
    AuthenticationRequired => (StatusCode::UNAUTHORIZED, "authentication_required", "Basic authentication is required.", "The `Authorization` header is missing, not `Basic`, not valid base64, or has no colon."),
    AuthenticationFailed => (StatusCode::UNAUTHORIZED, "authentication_failed", "The client credentials are not valid.", "Unknown client id, wrong secret, or a disabled API consumer."),
    CcgTokenInvalid => (StatusCode::UNAUTHORIZED, "ccg_token_invalid", "The ccg_token is not valid.", "The `ccg_token` is unknown, expired or revoked."),
    FiReferenceForbidden => (StatusCode::FORBIDDEN, "fi_reference_forbidden", "These credentials may not act for this fi_reference_id.", "The API consumer is not allowed to act for the `fi_reference_id`."),
    CcgTokenForbidden => (StatusCode::FORBIDDEN, "ccg_token_forbidden", "The ccg_token was issued to another FI or API consumer.", "The `ccg_token` was issued for another FI or another API consumer."),
    PspNotAuthorised => (StatusCode::FORBIDDEN, "psp_not_authorised", "The PSP is unknown or withdrawn.", "The PSP is unknown or withdrawn."),
    AuthCodePspMismatch => (StatusCode::FORBIDDEN, "auth_code_psp_mismatch", "The authorization code was issued to another PSP.", "The authorization code was issued to another PSP than the `ccg_token`'s."),
    ScopeForbidden => (StatusCode::FORBIDDEN, "scope_forbidden", "The requested scope exceeds the ccg_token's scope.", "An authorization code was asked for a scope outside the `ccg_token`'s scope."),
    NotFound => (StatusCode::NOT_FOUND, "not_found", "No such route.", "No route has this path."),
    MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "This method is not allowed on this route.", "The path exists but not with this method; the `Allow` header lists the methods it has."),
    PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The request body is larger than 16 KiB.", "The request body is over 16 KiB."),
    ContentTypeUnsupported => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "content_type_unsupported", "The Content-Type must be application/json.", "A POST without `Content-Type: application/json` (parameters such as `charset=utf-8` are allowed)."),
    RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many failed authentications; retry later.", "Too many failed authentications (401s of any kind) from one client address: by default more than 20 in a minute. `Retry-After` says when to retry."),
    InternalError => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "An internal error occurred.", "An unexpected fault. The body is opaque; the cause is logged under the error `id`."),
    ServiceUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", "The token store is unavailable; retry later.", "The store is unreachable. `Retry-After` says when to retry."),
}

impl ErrorCode {
    /// The code for a status the framework produced on its own (no `ApiError` attached).
    pub fn for_status(status: StatusCode) -> ErrorCode {
        match status.as_u16() {
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            413 => ErrorCode::PayloadTooLarge,
            415 => ErrorCode::ContentTypeUnsupported,
            429 => ErrorCode::RateLimited,
            503 => ErrorCode::ServiceUnavailable,
            400..=499 => ErrorCode::BodyMalformed,
            _ => ErrorCode::InternalError,
        }
    }
}

/// One problem: a catalogue code and the sentence that explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: ErrorCode,
    pub title: String,
}

impl Problem {
    pub fn new(code: ErrorCode, title: impl Into<String>) -> Self {
        Problem {
            code,
            title: title.into(),
        }
    }
}

impl From<ErrorCode> for Problem {
    fn from(code: ErrorCode) -> Self {
        Problem::new(code, code.title())
    }
}

/// The error a handler returns: one or more problems of one stage, all of one status,
/// plus the headers that status calls for.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub problems: Vec<Problem>,
    /// `Allow` for 405.
    pub allow: Option<String>,
    /// `Retry-After` in seconds for 429 and 503.
    pub retry_after: Option<u64>,
    /// Logged under the request id, never sent (5xx causes).
    pub cause: Option<String>,
}

impl ApiError {
    pub fn many(problems: Vec<Problem>) -> Self {
        debug_assert!(!problems.is_empty());
        ApiError {
            problems,
            allow: None,
            retry_after: None,
            cause: None,
        }
    }

    pub fn one(problem: impl Into<Problem>) -> Self {
        ApiError::many(vec![problem.into()])
    }

    pub fn internal(cause: impl Into<String>) -> Self {
        ApiError {
            cause: Some(cause.into()),
            ..ApiError::one(ErrorCode::InternalError)
        }
    }

    pub fn unavailable(cause: impl Into<String>) -> Self {
        ApiError {
            cause: Some(cause.into()),
            retry_after: Some(1),
            ..ApiError::one(ErrorCode::ServiceUnavailable)
        }
    }

    pub fn code(&self) -> ErrorCode {
        self.problems[0].code
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let codes: Vec<&str> = self.problems.iter().map(|p| p.code.as_str()).collect();
        write!(f, "{}", codes.join(","))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code().status()
    }

    /// The body is written by the envelope middleware, which knows the request id.
    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).finish()
    }
}

/// The failure envelope of every 4xx and 5xx answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"errors": [{
    "id": "3f1c2a8e-7b9d-4e2f-9a61-0c5d8e7f1b2a",
    "code": "header_missing",
    "title": "The fi_reference_id header is missing.",
    "link": "http://127.0.0.1:8080/docs/errors#header_missing"
}]}))]
pub struct ErrorEnvelope {
    /// The problems found, one object each; all of one stage of the checks.
    pub errors: Vec<ErrorObject>,
}

/// One problem with the request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    /// The request id: equals the `x-request-id` response header, the same for every object of one response.
    pub id: String,
    /// Stable snake_case code from the error catalogue (see `link`).
    pub code: String,
    /// One human sentence; it may name the offending header or field.
    pub title: String,
    /// Where the code is documented: `{public_url}/docs/errors#{code}`.
    pub link: String,
}

impl ErrorEnvelope {
    pub fn render(problems: &[Problem], request_id: &str, public_url: &str) -> Self {
        let errors = problems
            .iter()
            .map(|p| ErrorObject {
                id: request_id.to_owned(),
                code: p.code.as_str().to_owned(),
                title: p.title.clone(),
                link: format!("{public_url}/docs/errors#{}", p.code.as_str()),
            })
            .collect();
        ErrorEnvelope { errors }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_snake_case_and_match_their_status_class() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
            assert!(code.status().is_client_error() || code.status().is_server_error());
            assert!(code.title().ends_with('.'), "{s} title is a sentence");
        }
    }

    #[test]
    fn framework_statuses_map_to_their_catalogue_codes() {
        assert_eq!(
            ErrorCode::for_status(StatusCode::NOT_FOUND),
            ErrorCode::NotFound
        );
        assert_eq!(
            ErrorCode::for_status(StatusCode::PAYLOAD_TOO_LARGE),
            ErrorCode::PayloadTooLarge
        );
        assert_eq!(
            ErrorCode::for_status(StatusCode::BAD_GATEWAY),
            ErrorCode::InternalError
        );
    }

    #[test]
    fn every_object_of_one_response_shares_the_request_id() {
        let problems = [
            ErrorCode::HeaderMissing.into(),
            ErrorCode::VersionUnsupported.into(),
        ];
        let env = ErrorEnvelope::render(&problems, "req-1", "http://h");
        assert!(env.errors.iter().all(|e| e.id == "req-1"));
        assert_eq!(
            env.errors[1].link,
            "http://h/docs/errors#version_unsupported"
        );
    }
}
