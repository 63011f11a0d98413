//! Liveness and readiness probes for orchestrators and load balancers.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::errors::ApiError;
use super::responses::{ProbeClientErrors, ReadinessErrors};
use crate::data_envelope;

/// A probe's verdict.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` (alive) or `ready` (the store answers).
    #[schema(example = "ok")]
    pub status: String,
}

data_envelope!(
    /// A probe's verdict.
    HealthResult,
    Health
);

/// Liveness
///
/// Answers 200 while the process serves requests; checks nothing else.
#[utoipa::path(get, path = "/healthz", tag = "health", operation_id = "getLiveness",
    responses((status = 200, description = "The process is alive.", body = HealthResult), ProbeClientErrors),
    security(()))]
#[get("/healthz", wrap = "super::catch_panic::catch_panic()")]
pub async fn liveness() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"data": {"status": "ok"}}))
}

/// Readiness
///
/// Answers 200 when the store answers a query, 503 `service_unavailable` when it does not.
#[utoipa::path(get, path = "/readyz", tag = "health", operation_id = "getReadiness",
    responses((status = 200, description = "The store answers.", body = HealthResult), ProbeClientErrors, ReadinessErrors),
    security(()))]
#[get("/readyz", wrap = "super::catch_panic::catch_panic()")]
pub async fn readiness(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.service.store.ping().await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"data": {"status": "ready"}})))
}
