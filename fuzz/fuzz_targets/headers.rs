//! `fi_reference_id`, `version`, `ccg_token` and `Authorization` reading: never a panic;
//! problems only from the header codes of the catalogue.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| obie_tokens::api::fuzzing::headers(data));
