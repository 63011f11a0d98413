//! Typed header extraction (SPEC §3). Each struct is both the validator and the OpenAPI
//! parameter list, so the document cannot drift from what is enforced.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use utoipa::{IntoParams, ToSchema};

use super::errors::{ErrorCode, Problem};
use crate::domain::types::{FiReferenceId, is_visible_ascii};

/// The `version` header's accepted values.
#[derive(ToSchema)]
#[allow(dead_code)]
pub enum ApiVersion {
    #[schema(rename = "1")]
    V1,
    #[schema(rename = "latest")]
    Latest,
}

/// Headers of every `/v1` operation besides `Authorization`.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct FiHeaders {
    /// The FI's regulator reference, eIDAS style; the credentials must be allowed to act for it.
    #[param(
        example = "PSDGB-FCA-111111",
        min_length = 1,
        max_length = 128,
        pattern = r"^[\x21-\x7E]{1,128}$"
    )]
    pub fi_reference_id: String,
    /// The API version: `1` or `latest`.
    #[param(value_type = ApiVersion, example = "1")]
    pub version: String,
}

// Header names built once: a lookup by `&str` parses the name and, for names that are not
// standard, allocates it on every request.
static FI_REFERENCE_ID: HeaderName = HeaderName::from_static("fi_reference_id");
static VERSION: HeaderName = HeaderName::from_static("version");
static CCG_TOKEN: HeaderName = HeaderName::from_static("ccg_token");

/// One header's raw value, if it is there exactly once; else records the problem.
fn present_once<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
    problems: &mut Vec<Problem>,
) -> Option<&'h HeaderValue> {
    let mut values = headers.get_all(name);
    let Some(first) = values.next() else {
        problems.push(Problem::new(
            ErrorCode::HeaderMissing,
            format!("The {name} header is missing."),
        ));
        return None;
    };
    if values.next().is_some() {
        problems.push(Problem::new(
            ErrorCode::HeaderInvalid,
            format!("The {name} header is sent more than once."),
        ));
        return None;
    }
    Some(first)
}

/// One header's value, if it is there once and is 1–`max` visible ASCII characters.
fn single<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
    max: usize,
    problems: &mut Vec<Problem>,
) -> Option<&'h str> {
    match present_once(headers, name, problems)?.to_str() {
        Ok(v) if v.len() <= max && is_visible_ascii(v) => Some(v),
        _ => {
            problems.push(Problem::new(
                ErrorCode::HeaderInvalid,
                format!("The {name} header must be 1-{max} visible ASCII characters."),
            ));
            None
        }
    }
}

/// Reads `fi_reference_id` and `version`, adding one problem per bad header.
pub fn read_fi_headers(headers: &HeaderMap, problems: &mut Vec<Problem>) -> Option<FiReferenceId> {
    let fi = single(headers, &FI_REFERENCE_ID, 128, problems)
        .and_then(|v| FiReferenceId::try_from(v).ok());
    // SPEC §3: any value but `1` or `latest` is an unsupported version.
    if let Some(version) = present_once(headers, &VERSION, problems)
        && version != "1"
        && version != "latest"
    {
        problems.push(Problem::new(
            ErrorCode::VersionUnsupported,
            "The version header must be 1 or latest.",
        ));
    }
    fi
}

/// Reads `ccg_token`, adding a problem when it is missing or malformed. The document declares
/// this header as the `ccg_token` API-key security scheme (see `docs.rs`), not as a parameter.
pub fn read_ccg_token<'h>(headers: &'h HeaderMap, problems: &mut Vec<Problem>) -> Option<&'h str> {
    single(headers, &CCG_TOKEN, 256, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v).unwrap(),
            );
        }
        map
    }

    fn codes(problems: &[Problem]) -> Vec<&'static str> {
        problems.iter().map(|p| p.code.as_str()).collect()
    }

    #[test]
    fn good_headers_parse_without_problems() {
        let mut problems = vec![];
        let map = headers(&[
            ("fi_reference_id", b"PSDGB-FCA-111111"),
            ("version", b"latest"),
        ]);
        assert_eq!(
            read_fi_headers(&map, &mut problems).unwrap().as_str(),
            "PSDGB-FCA-111111"
        );
        assert!(problems.is_empty());
    }

    #[test]
    fn every_bad_header_is_reported_together() {
        let mut problems = vec![];
        let map = headers(&[("version", b"v 2")]);
        read_fi_headers(&map, &mut problems);
        read_ccg_token(&map, &mut problems);
        assert_eq!(
            codes(&problems),
            ["header_missing", "version_unsupported", "header_missing"]
        );
    }

    #[test]
    fn malformed_and_duplicated_headers_are_invalid() {
        let mut problems = vec![];
        let map = headers(&[
            ("fi_reference_id", b"has space"),
            ("version", b"1"),
            ("version", b"1"),
            ("ccg_token", &[0xff]),
        ]);
        read_fi_headers(&map, &mut problems);
        read_ccg_token(&map, &mut problems);
        assert_eq!(
            codes(&problems),
            ["header_invalid", "header_invalid", "header_invalid"]
        );
        assert!(problems[0].title.contains("fi_reference_id"));
    }
}

/// Properties over arbitrary header values (proptest); the fuzz target `headers` checks the
/// same invariants (`fuzzing::check_headers`).
#[cfg(test)]
mod props {
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
    use proptest::prelude::*;

    /// Zero to three values of one header: absent, once, repeated.
    fn values() -> impl Strategy<Value = Vec<Vec<u8>>> {
        let value = prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            "[!-~]{1,140}".prop_map(String::into_bytes),
            Just(b"1".to_vec()),
            Just(b"latest".to_vec()),
        ];
        prop::collection::vec(value, 0..3)
    }

    proptest! {
        #[test]
        fn header_reading_never_panics_and_reports_only_header_codes(
            fi in values(), version in values(), ccg in values(), auth in values(),
        ) {
            let mut map = HeaderMap::new();
            for (name, values) in [
                ("fi_reference_id", fi), ("version", version), ("ccg_token", ccg), ("authorization", auth),
            ] {
                for value in values.iter().filter_map(|v| HeaderValue::from_bytes(v).ok()) {
                    map.append(HeaderName::from_static(name), value);
                }
            }
            crate::api::fuzzing::check_headers(&map);
        }

        #[test]
        fn header_reading_survives_any_raw_input(data in prop::collection::vec(any::<u8>(), 0..512)) {
            crate::api::fuzzing::headers(&data);
        }
    }
}
