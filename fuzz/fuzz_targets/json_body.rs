//! JSON body decoding for every operation: never a panic; failures only 4xx body codes.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| obie_tokens::api::fuzzing::json_body(data));
