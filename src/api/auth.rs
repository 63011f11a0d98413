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

/// Properties over arbitrary input (proptest); the fuzz target `basic_auth` checks the same.
#[cfg(test)]
mod props {
    use super::*;
    use actix_web::http::header::HeaderValue;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parse_basic_never_panics_on_any_header_bytes(
            values in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..3),
        ) {
            let mut map = HeaderMap::new();
            // Only what the HTTP layer would let through: HeaderValue refuses control bytes.
            for value in values.iter().filter_map(|v| HeaderValue::from_bytes(v).ok()) {
                map.append(AUTHORIZATION, value);
            }
            let _ = parse_basic(&map);
        }

        #[test]
        fn parse_basic_never_panics_on_basic_with_any_payload(payload in "[ -~]{0,64}") {
            let mut map = HeaderMap::new();
            map.insert(AUTHORIZATION, HeaderValue::from_str(&format!("Basic {payload}")).unwrap());
            let _ = parse_basic(&map);
        }

        #[test]
        fn any_id_and_secret_round_trip_through_basic(
            id in "[^:]*",
            secret in ".*",
            scheme in "[bB][aA][sS][iI][cC]",
            padded in any::<bool>(),
        ) {
            let pair = format!("{id}:{secret}");
            let encoded = if padded { STANDARD.encode(&pair) } else { STANDARD_NO_PAD.encode(&pair) };
            let mut map = HeaderMap::new();
            map.insert(AUTHORIZATION, HeaderValue::from_str(&format!("{scheme} {encoded}")).unwrap());

            let creds = parse_basic(&map).expect("a well-formed Basic header");

            prop_assert_eq!(creds, BasicCredentials { client_id: id, secret });
        }

        #[test]
        fn any_bytes_encoded_as_basic_decode_iff_utf8_with_a_colon(
            data in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            crate::api::fuzzing::basic_auth(&data);
        }
    }
}
