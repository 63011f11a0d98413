//! obie-tokens: issues and checks the access tokens of the UK Open Banking
//! authorization-code flow (SPEC §1–§2).

pub mod api;
pub mod app;
pub mod cli;
pub mod domain;
pub mod store;
pub mod tls;
