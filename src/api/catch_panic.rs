//! Panic capture: a panic in an operation becomes a 500 whose cause is logged under the
//! request id, instead of a dropped connection (SPEC §3).

use std::future::{Ready, ready};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use actix_web::HttpResponse;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use futures_util::FutureExt;
use futures_util::future::LocalBoxFuture;

use super::errors::ApiError;

/// Turns a panic in an operation into a 500 whose cause is logged under the request id,
/// instead of a dropped connection. Registered on each resource (`wrap = ...`), because only
/// after routing may the request be cloned.
pub struct CatchPanic;

pub fn catch_panic() -> CatchPanic {
    CatchPanic
}

impl<S, B> Transform<S, ServiceRequest> for CatchPanic
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Transform = CatchPanicService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CatchPanicService {
            service: Rc::new(service),
        }))
    }
}

pub struct CatchPanicService<S> {
    service: Rc<S>,
}

impl<S, B> Service<ServiceRequest> for CatchPanicService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let http_req = req.request().clone();
        let service = self.service.clone();
        Box::pin(async move {
            match AssertUnwindSafe(service.call(req)).catch_unwind().await {
                Ok(result) => result.map(ServiceResponse::map_into_boxed_body),
                Err(panic) => {
                    let cause = format!("handler panicked: {}", panic_message(&panic));
                    Ok(ServiceResponse::new(
                        http_req,
                        HttpResponse::from_error(ApiError::internal(cause)),
                    ))
                }
            }
        })
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
