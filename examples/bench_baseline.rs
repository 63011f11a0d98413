//! The ceiling `make bench` compares against: a bare actix-web handler with the request and
//! response shape of `POST /v1/obie/tokens` and no storage, no checks beyond reading the
//! headers and parsing the body. Every benchmark result is also reported as a ratio to this
//! server, measured in the same run on the same machine, which survives a noisy machine.
//!
//! Bench-only: it issues nothing real. Binds `127.0.0.1:0` (or the first argument) and prints
//! `listening on http://ADDR`, as `serve` logs it.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, post, web};
use serde_json::{Value, json};

/// The service's own allocator, so the ratio measures the service's work, not the allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HEADERS: [&str; 5] = [
    "authorization",
    "fi_reference_id",
    "version",
    "ccg_token",
    "content-type",
];

#[post("/v1/obie/tokens")]
async fn exchange(request: HttpRequest, body: web::Bytes) -> HttpResponse {
    // The same work a real handler cannot skip: every header is read, the body parsed.
    let headers = request.headers();
    if HEADERS.iter().any(|name| headers.get(*name).is_none()) {
        return HttpResponse::BadRequest().finish();
    }
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(_) => return HttpResponse::BadRequest().finish(),
    };
    let (Some(_code), Some(_uri)) = (
        parsed.get("auth_code").and_then(Value::as_str),
        parsed.get("redirect_uri").and_then(Value::as_str),
    ) else {
        return HttpResponse::BadRequest().finish();
    };
    HttpResponse::Created()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(json!({"data": {
            "access_token": uuid::Uuid::new_v4().to_string(),
            "expires_in": 31_104_000,
            "token_type": "bearer",
            "state": "s",
        }}))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server = HttpServer::new(|| App::new().service(exchange))
        .workers(workers)
        .bind(bind)?;
    for addr in server.addrs() {
        println!("listening on http://{addr}");
    }
    server.run().await
}
