//! The HTTP edge: one module per resource. Handlers decode, call one domain function and
//! encode (STYLE principle 3); the route table here is the only list of paths, and the
//! OpenAPI document is generated from it.

mod auth;
pub mod authorization_codes;
mod body;
pub mod catch_panic;
pub mod ccg_tokens;
pub mod docs;
pub mod envelope;
pub mod errors;
#[doc(hidden)]
pub mod fuzzing;
mod guard;
pub mod headers;
pub mod health;
pub mod metrics;
pub mod rate_limit;
mod rejection;
mod respond;
mod responses;
pub mod token_status;
pub mod tokens;

use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, Error, web};
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, UtoipaApp};
use utoipa_swagger_ui::SwaggerUi;

use crate::domain::TokenService;
use rate_limit::Limiters;

/// What every handler shares.
pub struct AppState {
    pub service: TokenService,
    /// Base of error `link`s (SPEC §3).
    pub public_url: String,
    pub limiters: Limiters,
    pub metrics: metrics::Metrics,
}

/// Registers every documented operation. This is the route table: the document is
/// generated from it, so an operation cannot be served without being documented.
fn operations<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse,
            Error = Error,
            InitError = (),
        >,
{
    app.service(ccg_tokens::create_ccg_token)
        .service(authorization_codes::create_authorization_code)
        .service(tokens::create_access_token)
        .service(token_status::introspect_access_token)
        .service(token_status::revoke_access_token)
        .service(health::liveness)
        .service(health::readiness)
}

/// The OpenAPI document, exactly as served at `/api-docs/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    operations(
        App::new()
            .into_utoipa_app()
            .openapi(docs::ApiDoc::openapi()),
    )
    .split_for_parts()
    .1
}

/// The whole application: operations, docs, the fallback and the envelope middleware.
pub fn build_app(
    state: web::Data<AppState>,
    doc: utoipa::openapi::OpenApi,
    routes: web::Data<docs::RouteTable>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl actix_web::body::MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let app = App::new()
        .app_data(state)
        .app_data(routes)
        .app_data(web::PayloadConfig::new(body::MAX_BODY_BYTES));
    operations(app.into_utoipa_app())
        .into_app()
        .service(SwaggerUi::new("/swagger-ui/{_:.*}").url(docs::OPENAPI_PATH, doc))
        .route("/swagger-ui", web::get().to(docs::swagger_ui_redirect))
        .route(docs::ERRORS_PAGE_PATH, web::get().to(docs::errors_page))
        .route(metrics::METRICS_PATH, web::get().to(metrics::metrics))
        .default_service(web::to(docs::fallback))
        .wrap(actix_web::middleware::from_fn(envelope::envelope))
}
