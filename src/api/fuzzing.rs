//! Entry points for the cargo-fuzz targets in `fuzz/` (`make fuzz`): each feeds raw bytes to
//! one private parser of the HTTP edge and asserts what must hold for any input. Not an API:
//! hidden from the docs, used only by the fuzz crate.

use actix_web::http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use actix_web::web::Bytes;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::auth::parse_basic;
use super::body::{JsonBody, WireBody};
use super::errors::ErrorCode;
use super::headers::{read_ccg_token, read_fi_headers};
use super::{authorization_codes, ccg_tokens, token_status, tokens};
use crate::domain::types::is_visible_ascii;

/// `Authorization` values: any bytes the HTTP layer lets through parse without panicking;
/// any `id:secret` encoded as Basic decodes back to itself.
pub fn basic_auth(data: &[u8]) {
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let mut map = HeaderMap::new();
        map.insert(AUTHORIZATION, value);
        let _ = parse_basic(&map);
    }
    let mut map = HeaderMap::new();
    let encoded = format!("Basic {}", STANDARD.encode(data));
    map.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&encoded).expect("base64 is ASCII"),
    );
    let expected = std::str::from_utf8(data)
        .ok()
        .and_then(|text| text.split_once(':'));
    let parsed = parse_basic(&map);
    assert_eq!(
        parsed
            .as_ref()
            .map(|c| (c.client_id.as_str(), c.secret.as_str())),
        expected
    );
}

const HEADER_NAMES: [&str; 4] = ["fi_reference_id", "version", "ccg_token", "authorization"];

/// The `/v1` headers: the bytes are split at `\n` into values, each given to one of the read
/// headers (chosen by its first byte), so missing, repeated and malformed headers all occur.
/// Problems are only ever catalogue header codes, and an accepted value is well formed.
pub fn headers(data: &[u8]) {
    let mut map = HeaderMap::new();
    for chunk in data.split(|b| *b == b'\n') {
        let Some((selector, value)) = chunk.split_first() else {
            continue;
        };
        let name = HeaderName::from_static(HEADER_NAMES[usize::from(*selector) % 4]);
        if let Ok(value) = HeaderValue::from_bytes(value) {
            map.append(name, value);
        }
    }
    check_headers(&map);
}

/// What header reading guarantees for any header map.
pub(crate) fn check_headers(map: &HeaderMap) {
    let mut problems = Vec::new();
    let _ = parse_basic(map);
    let fi = read_fi_headers(map, &mut problems);
    let ccg = read_ccg_token(map, &mut problems);
    for problem in &problems {
        assert!(
            matches!(
                problem.code,
                ErrorCode::HeaderMissing | ErrorCode::HeaderInvalid | ErrorCode::VersionUnsupported
            ),
            "{problem:?}"
        );
        assert_eq!(problem.code.status(), 400);
    }
    if let Some(fi) = fi {
        assert!(fi.as_str().len() <= 128 && is_visible_ascii(fi.as_str()));
    }
    if let Some(ccg) = ccg {
        assert!(ccg.len() <= 256 && is_visible_ascii(ccg));
    }
}

/// JSON request bodies: the first byte says whether the content type was JSON, the rest is
/// the body, decoded as each operation's body type.
pub fn json_body(data: &[u8]) {
    let Some((flags, bytes)) = data.split_first() else {
        return;
    };
    let body = JsonBody::new(flags & 1 == 1, Bytes::copy_from_slice(bytes));
    check_body(&body);
}

/// What body decoding guarantees for any body: success, or 4xx problems of the body stage.
pub(crate) fn check_body(body: &JsonBody) {
    check_decode::<ccg_tokens::CcgTokenRequest>(body);
    check_decode::<authorization_codes::AuthCodeRequest>(body);
    check_decode::<tokens::TokenRequest>(body);
    check_decode::<token_status::TokenReference>(body);
}

fn check_decode<T: WireBody>(body: &JsonBody) {
    let Err(error) = body.decode::<T>() else {
        return;
    };
    assert!(!error.problems.is_empty());
    for problem in &error.problems {
        assert!(
            matches!(
                problem.code,
                ErrorCode::BodyMalformed
                    | ErrorCode::ParameterMissing
                    | ErrorCode::ParameterInvalid
                    | ErrorCode::GrantTypeUnsupported
                    | ErrorCode::ContentTypeUnsupported
            ),
            "{problem:?}"
        );
        assert!(problem.code.status().is_client_error());
    }
}
