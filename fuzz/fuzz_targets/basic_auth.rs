//! `Authorization: Basic` parsing: never a panic; any `id:secret` round-trips.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| obie_tokens::api::fuzzing::basic_auth(data));
