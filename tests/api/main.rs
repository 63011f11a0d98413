//! Integration tests: the real service on port 0, spoken to over HTTP.

mod cache;
mod concurrency;
mod crash;
mod edge;
mod errors;
mod flow;
mod flow_errors;
mod helpers;
mod hostile;
mod isolation;
mod limits;
mod log_hygiene;
mod observability;
mod openapi;
mod ordering;
mod outage;
mod pages;
mod pg;
mod process;
mod replicas;
mod shutdown;
mod storage;
mod store_postgres;
mod store_sqlite;
mod store_suite;
mod tls;
