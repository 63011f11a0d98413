//! `Authorization: Basic …` parsing (RFC 7617). Anything that is not one well-formed
//! Basic header yields `None`, answered as 401 `authentication_required`.

use actix_web::http::header::{AUTHORIZATION, HeaderMap};
use base64::Engine;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Credentials as presented; nothing about them is verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    pub client_id: String,
    pub secret: String,
}

/// Padding is optional on input: some clients omit it and RFC 7617 does not forbid it.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub fn parse_basic(headers: &HeaderMap) -> Option<BasicCredentials> {
    let mut values = headers.get_all(AUTHORIZATION);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    // RFC 7235 §2.1: the auth-scheme is case-insensitive.
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = LENIENT_BASE64.decode(encoded.trim()).ok()?;
    // RFC 7617 §2.1: user-id and password are UTF-8; the user-id has no colon.
    let decoded = String::from_utf8(decoded).ok()?;
    let (client_id, secret) = decoded.split_once(':')?;
    Some(BasicCredentials {
        client_id: client_id.to_owned(),
        secret: secret.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn with(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn sandbox_header_decodes_to_the_sandbox_consumer() {
        let creds = parse_basic(&with(&["Basic YXBpLWNvbnN1bWVyLWlkOnBhc3N3b3Jk"])).unwrap();
        assert_eq!(creds.client_id, "api-consumer-id");
        assert_eq!(creds.secret, "password");
    }

    #[test]
    fn scheme_is_case_insensitive_and_padding_optional() {
        assert!(parse_basic(&with(&["bAsIc YTpi"])).is_some());
        assert_eq!(parse_basic(&with(&["Basic YTpiYw"])).unwrap().secret, "bc");
    }

    #[test]
    fn secret_may_contain_colons() {
        // "id:se:cret"
        assert_eq!(
            parse_basic(&with(&["Basic aWQ6c2U6Y3JldA=="]))
                .unwrap()
                .secret,
            "se:cret"
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        assert_eq!(parse_basic(&HeaderMap::new()), None);
        assert_eq!(parse_basic(&with(&["Bearer abc"])), None);
        assert_eq!(parse_basic(&with(&["Basic"])), None);
        assert_eq!(parse_basic(&with(&["Basic !!!"])), None);
        assert_eq!(parse_basic(&with(&["Basic bm9jb2xvbg=="])), None); // "nocolon"
        assert_eq!(parse_basic(&with(&["Basic /w=="])), None); // not UTF-8
        assert_eq!(parse_basic(&with(&["Basic YTpi", "Basic YTpi"])), None);
    }
}
