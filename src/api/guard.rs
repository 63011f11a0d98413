//! The checks every `/v1` operation starts with, in SPEC §4 order: authenticate (401),
//! headers (one 400), `fi_reference_id` allowed (403), then `ccg_token` (401/403) where
//! the operation takes one. Each is an extractor, so handlers receive a checked caller.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::AppState;
use super::auth::parse_basic;
use super::errors::{ApiError, ErrorCode};
use super::headers::{read_ccg_token, read_fi_headers};
use crate::domain::{Caller, Grant};

/// An authenticated consumer acting for the FI of its `fi_reference_id` header.
pub struct FiCaller(pub Caller);

/// A `FiCaller` whose `ccg_token` is live and bound to it.
pub struct CcgGrant(pub Grant);

async fn check(req: HttpRequest, needs_ccg: bool) -> Result<(Caller, Option<String>), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered");
    let credentials = parse_basic(req.headers())
        .ok_or_else(|| ApiError::one(ErrorCode::AuthenticationRequired))?;
    let consumer = state
        .service
        .authenticate(&credentials.client_id, &credentials.secret)
        .await?;
    let mut problems = Vec::new();
    let fi = read_fi_headers(req.headers(), &mut problems);
    let ccg = needs_ccg
        .then(|| read_ccg_token(req.headers(), &mut problems))
        .flatten();
    match fi {
        Some(fi) if problems.is_empty() => Ok((consumer.act_for(fi)?, ccg.map(str::to_owned))),
        _ => Err(ApiError::many(problems)),
    }
}

impl FromRequest for FiCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(FiCaller(check(req, false).await?.0)) })
    }
}

impl FromRequest for CcgGrant {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (caller, token) = check(req.clone(), true).await?;
            let token = token.expect("checked present with the headers");
            let state = req
                .app_data::<web::Data<AppState>>()
                .expect("AppState is registered");
            Ok(CcgGrant(
                state.service.check_ccg_token(caller, &token).await?,
            ))
        })
    }
}
