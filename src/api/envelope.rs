//! The outermost middleware: request id, failed-authentication limits, metrics, the
//! error envelope for every 4xx/5xx (ours and the framework's), and the access log line.
//!
//! Handlers and extractors only say *which* problems occurred (`ApiError`); the body is
//! written here, where the request id is known, so every error object carries it (SPEC §3).

use std::net::IpAddr;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};

use super::AppState;
use super::auth::parse_basic;
use super::errors::{ApiError, ErrorCode, ErrorEnvelope};
use super::metrics::Observation;
use crate::domain::types::is_visible_ascii_token;

/// Built once, like the names in `headers.rs`: a lookup by `&str` builds, and for a
/// non-standard name allocates, the name on every request.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const WWW_AUTHENTICATE: &str = r#"Basic realm="obie-tokens""#;

/// The id of the request being served: the caller's `x-request-id` when it is 1–128
/// visible ASCII characters, else a fresh UUID (SPEC §3).
#[derive(Clone)]
pub struct RequestId(pub String);

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_visible_ascii_token(v))
        .map(str::to_owned)
        .unwrap_or_else(fresh_request_id)
}

/// A UUID v4 from a fast generator seeded once per thread. A request id correlates logs and
/// errors and is no secret, so it need not cost a read of the OS CSPRNG that credentials
/// come from (SPEC §6).
fn fresh_request_id() -> String {
    uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes())
        .into_uuid()
        .to_string()
}

pub async fn envelope(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .expect("AppState is registered");
    let peer = req.peer_addr().map(|a| a.ip());
    let (method, path) = (req.method().clone(), req.path().to_owned());
    let is_v1 = path.starts_with("/v1/");
    let client_id = is_v1
        .then(|| parse_basic(req.headers()).map(|c| c.client_id))
        .flatten();
    let blocked = is_v1
        .then(|| state.limiters.blocked(peer, client_id.as_deref()))
        .flatten();
    let response = match blocked {
        Some(wait) => {
            let err = ApiError {
                retry_after: Some(wait),
                ..ApiError::one(ErrorCode::RateLimited)
            };
            // `error_response` keeps the `ApiError` (and its `Retry-After`) on the response;
            // `into_response` would drop it.
            req.error_response(err)
        }
        // Errors, even the framework's, arrive as responses: handlers' through actix, and
        // panics through `catch_panic` on each operation.
        None => next.call(req).await?.map_into_boxed_body(),
    };

    let status = response.status();
    let route = response.request().match_pattern();
    let (mut response, error) = if status.is_client_error() || status.is_server_error() {
        render_error(response, &id, &state.public_url)
    } else {
        (response, None)
    };
    count_failure(&state, peer, client_id, error);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    let seconds = started.elapsed().as_secs_f64();
    state.metrics.observe(&Observation {
        route: route.as_deref().unwrap_or("unmatched"),
        method: method.as_str(),
        status: response.status(),
        error,
        seconds,
    });
    log::info!(
        "{method} {path} {} {:.3}ms id={id}",
        response.status().as_u16(),
        seconds * 1000.0
    );
    Ok(response)
}

/// Every 401 counts against the client address (SPEC §5); a wrong secret also counts
/// against the client id it was tried for.
fn count_failure(
    state: &AppState,
    peer: Option<IpAddr>,
    client_id: Option<String>,
    error: Option<ErrorCode>,
) {
    let Some(code) = error.filter(|c| c.status() == StatusCode::UNAUTHORIZED) else {
        return;
    };
    if let Some(ip) = peer {
        state.limiters.by_address.record_failure(ip);
    }
    if let (ErrorCode::AuthenticationFailed, Some(client_id)) = (code, client_id) {
        state.limiters.by_client.record_failure(client_id);
    }
}

/// Replaces the body of an error response with the envelope, keeping its status and the
/// headers the status calls for.
fn render_error(
    response: ServiceResponse<BoxBody>,
    id: &str,
    public_url: &str,
) -> (ServiceResponse<BoxBody>, Option<ErrorCode>) {
    let status = response.status();
    let api_error = response
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .cloned();
    let api_error = api_error.unwrap_or_else(|| {
        if let Some(err) = response.response().error()
            && status.is_server_error()
        {
            return ApiError::internal(err.to_string());
        }
        ApiError::one(ErrorCode::for_status(status))
    });
    if let Some(cause) = &api_error.cause {
        log::error!("id={id} {cause}");
    }
    let mut builder = HttpResponse::build(api_error.code().status());
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            builder.append_header((name.clone(), value.clone()));
        }
    }
    if api_error.code().status() == StatusCode::UNAUTHORIZED {
        builder.insert_header((header::WWW_AUTHENTICATE, WWW_AUTHENTICATE));
    }
    if let Some(allow) = &api_error.allow {
        builder.insert_header((header::ALLOW, allow.as_str()));
    }
    if let Some(wait) = api_error.retry_after {
        builder.insert_header((header::RETRY_AFTER, wait.to_string()));
    }
    let body = ErrorEnvelope::render(&api_error.problems, id, public_url);
    (
        response.into_response(builder.json(body)),
        Some(api_error.code()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::catch_panic::catch_panic;
    use crate::api::metrics::Metrics;
    use crate::api::rate_limit::Limiters;
    use crate::domain::{Lifetimes, TokenService};
    use actix_web::{App, test, web};

    async fn state() -> web::Data<AppState> {
        let store = crate::store::open("sqlite::memory:").await.unwrap();
        web::Data::new(AppState {
            service: TokenService {
                store,
                lifetimes: Lifetimes::default(),
            },
            public_url: "http://test".into(),
            limiters: Limiters::new(0, 0),
            metrics: Metrics::new(),
        })
    }

    #[actix_web::test]
    async fn a_panicking_handler_answers_an_opaque_500_envelope_with_the_request_id() {
        let app = test::init_service(
            App::new()
                .app_data(state().await)
                .service(
                    web::resource("/boom")
                        .wrap(catch_panic())
                        .to(|| async { panic!("secret detail") as &'static str }),
                )
                .wrap(actix_web::middleware::from_fn(envelope)),
        )
        .await;

        let req = test::TestRequest::get()
            .uri("/boom")
            .insert_header((REQUEST_ID.clone(), "req-42"))
            .to_request();
        let res = test::call_service(&app, req).await;

        assert_eq!(res.status(), 500);
        assert_eq!(res.headers().get(&REQUEST_ID).unwrap(), "req-42");
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["errors"][0]["code"], "internal_error");
        assert_eq!(body["errors"][0]["id"], "req-42");
        assert!(
            !body.to_string().contains("secret detail"),
            "the cause is not sent"
        );
    }

    #[actix_web::test]
    async fn a_plain_framework_error_gets_the_envelope_and_a_fresh_uuid_id() {
        let app = test::init_service(
            App::new()
                .app_data(state().await)
                .route(
                    "/plain",
                    web::get().to(|| async { HttpResponse::BadGateway().body("nope") }),
                )
                .wrap(actix_web::middleware::from_fn(envelope)),
        )
        .await;

        let req = test::TestRequest::get()
            .uri("/plain")
            .insert_header((REQUEST_ID.clone(), "has space"))
            .to_request();
        let res = test::call_service(&app, req).await;

        let id = res
            .headers()
            .get(&REQUEST_ID)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            uuid::Uuid::parse_str(&id).is_ok(),
            "an invalid caller id is replaced by a UUID"
        );
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["errors"][0]["code"], "internal_error");
        assert_eq!(body["errors"][0]["id"], id.as_str());
    }

    #[actix_web::test]
    async fn fresh_request_ids_are_distinct_uuid_v4() {
        let ids: std::collections::HashSet<String> =
            (0..1000).map(|_| fresh_request_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
        }
    }
}
