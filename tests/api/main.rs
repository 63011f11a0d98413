//! Integration tests: the real service on port 0, spoken to over HTTP.

mod concurrency;
mod edge;
mod errors;
mod flow;
mod flow_errors;
mod helpers;
mod isolation;
mod limits;
mod openapi;
mod ordering;
mod outage;
mod pages;
mod pg;
mod replicas;
mod storage;
mod store_postgres;
mod store_sqlite;
mod store_suite;
