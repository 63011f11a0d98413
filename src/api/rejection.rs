//! Domain rejections become catalogue errors here, in one match (STYLE principle 5).

use super::errors::{ApiError, ErrorCode};
use crate::domain::Rejection;
use crate::store::StoreError;

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        let code = match rejection {
            Rejection::AuthenticationFailed => ErrorCode::AuthenticationFailed,
            Rejection::FiReferenceForbidden => ErrorCode::FiReferenceForbidden,
            Rejection::CcgTokenInvalid => ErrorCode::CcgTokenInvalid,
            Rejection::CcgTokenForbidden => ErrorCode::CcgTokenForbidden,
            Rejection::PspNotAuthorised => ErrorCode::PspNotAuthorised,
            Rejection::RedirectUriNotRegistered => ErrorCode::RedirectUriNotRegistered,
            Rejection::ScopeForbidden => ErrorCode::ScopeForbidden,
            Rejection::AuthCodeInvalid => ErrorCode::AuthCodeInvalid,
            Rejection::AuthCodeExpired => ErrorCode::AuthCodeExpired,
            Rejection::AuthCodePspMismatch => ErrorCode::AuthCodePspMismatch,
            Rejection::RedirectUriMismatch => ErrorCode::RedirectUriMismatch,
            Rejection::AuthCodeUsed => ErrorCode::AuthCodeUsed,
            Rejection::Store(err) => return err.into(),
        };
        ApiError::one(code)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(cause) => ApiError::unavailable(cause),
            other => ApiError::internal(other.to_string()),
        }
    }
}
