//! The token flow with no HTTP types: the guard checks of SPEC §4 in order, over the
//! store trait. Handlers call one function here and encode its result.

pub mod admin;
mod flow;
mod random;
pub mod sandbox;
pub mod secrets;
pub mod types;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use flow::*;

use crate::store::{Millis, Store, StoreError};

/// Why the flow refused a request. Each variant is one rule of SPEC §3–§4; the edge maps
/// it to its catalogue code.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("unknown client id, wrong secret or disabled consumer")]
    AuthenticationFailed,
    #[error("consumer may not act for this FI")]
    FiReferenceForbidden,
    #[error("ccg_token unknown, expired or revoked")]
    CcgTokenInvalid,
    #[error("ccg_token issued for another FI or consumer")]
    CcgTokenForbidden,
    #[error("PSP unknown or withdrawn")]
    PspNotAuthorised,
    #[error("redirect_uri not registered for the PSP")]
    RedirectUriNotRegistered,
    #[error("scope outside the ccg_token's scope")]
    ScopeForbidden,
    #[error("authorization code unknown or another FI's")]
    AuthCodeInvalid,
    #[error("authorization code expired")]
    AuthCodeExpired,
    #[error("authorization code issued to another PSP")]
    AuthCodePspMismatch,
    #[error("redirect_uri differs from the code's")]
    RedirectUriMismatch,
    #[error("authorization code already used")]
    AuthCodeUsed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Lifetimes of what the service issues (SPEC §6), in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub auth_code: u32,
    pub ccg_token: u32,
    pub access_token: u32,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            auth_code: 60,
            ccg_token: 3600,
            access_token: 31_104_000,
        }
    }
}

/// The flow's entry point: a store and the configured lifetimes.
#[derive(Clone)]
pub struct TokenService {
    pub store: Arc<dyn Store>,
    pub lifetimes: Lifetimes,
}

/// Wall-clock Unix time in milliseconds.
pub fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

fn seconds(s: u32) -> Millis {
    Millis::from(s) * 1000
}
