//! Success responses: the `{"data": …}` envelope and the no-store headers of every
//! response that carries a token or code (SPEC §3, RFC 6749 §5.1).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, PRAGMA};
use serde::Serialize;

/// `{"data": body}` with the given status and `Cache-Control: no-store`, `Pragma: no-cache`.
pub fn no_store<T: Serialize>(status: StatusCode, data: T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .json(Data { data })
}

#[derive(Serialize)]
struct Data<T> {
    data: T,
}

/// Declares a named `{"data": T}` schema, so generated clients get a real class name.
#[macro_export]
macro_rules! data_envelope {
    ($(#[$doc:meta])* $name:ident, $inner:ty) => {
        $(#[$doc])*
        #[derive(utoipa::ToSchema)]
        #[allow(dead_code)]
        pub struct $name {
            /// The response data.
            pub data: $inner,
        }
    };
}
