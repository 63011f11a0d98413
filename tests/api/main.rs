//! Integration tests: the real service on port 0, spoken to over HTTP.

mod helpers;
mod openapi;
