//! JSON request bodies (SPEC §3): `Content-Type` (415), then JSON syntax and shape
//! (`body_malformed`), then every field problem of the body in one 400. Fields parse
//! straight into domain types, so a decoded body is a valid one.

use actix_web::dev::{Decompress, Payload};
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::{Stream, StreamExt};
use serde_json::error::Category;
use serde_json::{Map, Value};

use super::errors::{ApiError, ErrorCode, Problem};
use crate::domain::types::InvalidValue;

mod unique_keys;

/// The largest body accepted; larger ones get 413 as they are read (SPEC §3).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A request body read but not yet judged: judging waits until the caller is
/// authenticated, so an unauthenticated caller learns nothing about its body (SPEC §3).
pub struct JsonBody {
    is_json: bool,
    bytes: Bytes,
}

impl FromRequest for JsonBody {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = is_json_content_type(req);
        let declared = declared_length(req);
        // Content-Encoding (gzip, br, zstd) is undone as the body is read; the size limit
        // applies to what it decodes to.
        let stream = Decompress::from_headers(payload.take(), req.headers());
        Box::pin(async move {
            let bytes = read_body(declared?, stream).await?;
            Ok(JsonBody { is_json, bytes })
        })
    }
}

/// The declared `Content-Length`: one over the limit is refused before the body is read.
fn declared_length(req: &HttpRequest) -> Result<Option<usize>, PayloadError> {
    let Some(value) = req.headers().get(CONTENT_LENGTH) else {
        return Ok(None);
    };
    let length = value
        .to_str()
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .ok_or(PayloadError::UnknownLength)?;
    if length > MAX_BODY_BYTES {
        return Err(PayloadError::Overflow);
    }
    Ok(Some(length))
}

/// The whole body, refused with 413 once it passes `MAX_BODY_BYTES`. A body that arrives in
/// one chunk, as nearly every request's does, is kept as that chunk without a copy; a longer
/// one is gathered in a buffer sized from its `Content-Length`. (actix-web's `Bytes`
/// extractor copies every body into a fresh 8 KiB buffer.)
async fn read_body(
    declared: Option<usize>,
    stream: impl Stream<Item = Result<Bytes, PayloadError>>,
) -> Result<Bytes, PayloadError> {
    let mut stream = std::pin::pin!(stream);
    let Some(first) = stream.next().await.transpose()? else {
        return Ok(Bytes::new());
    };
    within_limit(first.len())?;
    let Some(second) = stream.next().await.transpose()? else {
        return Ok(first);
    };
    let so_far = first.len() + second.len();
    within_limit(so_far)?;
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).clamp(so_far, MAX_BODY_BYTES));
    body.extend_from_slice(&first);
    body.extend_from_slice(&second);
    while let Some(chunk) = stream.next().await.transpose()? {
        within_limit(body.len() + chunk.len())?;
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn within_limit(length: usize) -> Result<(), PayloadError> {
    if length > MAX_BODY_BYTES {
        return Err(PayloadError::Overflow);
    }
    Ok(())
}

/// `application/json`, with any parameters (`charset=utf-8`), compared case-insensitively.
fn is_json_content_type(req: &HttpRequest) -> bool {
    let mut values = req.headers().get_all(CONTENT_TYPE);
    match (values.next().map(|v| v.to_str()), values.next()) {
        (Some(Ok(value)), None) => {
            let essence = value.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("application/json")
        }
        _ => false,
    }
}

/// A request body type: reads its fields, each parsed into its domain type.
pub trait WireBody: Sized {
    /// Returns `None` when a field had a problem (recorded in `fields`).
    fn read(fields: &mut Fields<'_>) -> Option<Self>;
}

impl JsonBody {
    /// A body as read, for the fuzz targets and tests (`fuzzing.rs`).
    pub(crate) fn new(is_json: bool, bytes: Bytes) -> Self {
        JsonBody { is_json, bytes }
    }

    pub fn decode<T: WireBody>(&self) -> Result<T, ApiError> {
        if !self.is_json {
            return Err(ApiError::one(ErrorCode::ContentTypeUnsupported));
        }
        // Duplicate keys are refused, not resolved (see `unique_keys`).
        let value = unique_keys::from_slice(&self.bytes).map_err(|e| {
            let title = match e.classify() {
                Category::Data => format!("The request body is ambiguous: {e}."),
                _ => format!("The request body is not valid JSON: {e}."),
            };
            ApiError::one(Problem::new(ErrorCode::BodyMalformed, title))
        })?;
        let Value::Object(map) = value else {
            return Err(ApiError::one(Problem::new(
                ErrorCode::BodyMalformed,
                "The request body must be a JSON object.",
            )));
        };
        let mut fields = Fields {
            map: &map,
            problems: Vec::new(),
        };
        let decoded = T::read(&mut fields);
        match decoded {
            Some(body) if fields.problems.is_empty() => Ok(body),
            _ => Err(ApiError::many(fields.problems)),
        }
    }
}

/// The fields of one JSON object and the problems found in them so far.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    problems: Vec<Problem>,
}

impl<'a> Fields<'a> {
    /// A field that must be present: absent or `null` is `parameter_missing`.
    pub fn required<T>(&mut self, name: &str) -> Option<T>
    where
        T: for<'s> TryFrom<&'s str, Error = InvalidValue>,
    {
        match self.map.get(name) {
            None | Some(Value::Null) => {
                self.problems.push(Problem::new(
                    ErrorCode::ParameterMissing,
                    format!("The body field {name} is missing."),
                ));
                None
            }
            Some(value) => self.parse(name, value),
        }
    }

    /// A field that may be absent; `null` counts as absent.
    pub fn optional<T>(&mut self, name: &str) -> Option<Option<T>>
    where
        T: for<'s> TryFrom<&'s str, Error = InvalidValue>,
    {
        match self.map.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(value) => self.parse(name, value).map(Some),
        }
    }

    /// Records a problem found by the body type itself.
    pub fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    fn parse<T>(&mut self, name: &str, value: &Value) -> Option<T>
    where
        T: for<'s> TryFrom<&'s str, Error = InvalidValue>,
    {
        let Value::String(text) = value else {
            self.problems.push(Problem::new(
                ErrorCode::ParameterInvalid,
                format!("The body field {name} must be a string."),
            ));
            return None;
        };
        // PostgreSQL text cannot hold U+0000; refusing it here keeps both stores alike.
        if text.contains('\0') {
            self.problems.push(Problem::new(
                ErrorCode::ParameterInvalid,
                format!("The body field {name} must not contain NUL characters."),
            ));
            return None;
        }
        match T::try_from(text.as_str()) {
            Ok(parsed) => Some(parsed),
            Err(InvalidValue(why)) => {
                self.problems.push(Problem::new(
                    ErrorCode::ParameterInvalid,
                    format!("The body field {name} {why}."),
                ));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::types::{Identifier, State};

    struct Sample {
        _a: Identifier,
        _b: Option<State>,
        _c: Identifier,
    }

    impl WireBody for Sample {
        fn read(f: &mut Fields<'_>) -> Option<Self> {
            let (a, b, c) = (f.required("a"), f.optional("b"), f.required("c"));
            Some(Sample {
                _a: a?,
                _b: b?,
                _c: c?,
            })
        }
    }

    fn decode(json: &str, is_json: bool) -> Result<Sample, Vec<&'static str>> {
        let body = JsonBody {
            is_json,
            bytes: Bytes::copy_from_slice(json.as_bytes()),
        };
        body.decode::<Sample>()
            .map_err(|e| e.problems.iter().map(|p| p.code.as_str()).collect())
    }

    #[test]
    fn a_complete_body_decodes() {
        assert!(decode(r#"{"a":"x","c":"y","unknown":1}"#, true).is_ok());
    }

    #[test]
    fn content_type_is_judged_before_the_json() {
        assert_eq!(
            decode("not json", false).err().unwrap(),
            ["content_type_unsupported"]
        );
    }

    #[test]
    fn malformed_json_and_non_objects_are_body_malformed() {
        assert_eq!(decode("{", true).err().unwrap(), ["body_malformed"]);
        assert_eq!(decode("[1]", true).err().unwrap(), ["body_malformed"]);
        assert_eq!(decode("", true).err().unwrap(), ["body_malformed"]);
    }

    #[test]
    fn a_repeated_key_is_body_malformed_and_a_nul_in_a_field_is_invalid() {
        assert_eq!(
            decode(r#"{"a":"x","c":"y","a":"z"}"#, true).err().unwrap(),
            ["body_malformed"]
        );
        assert_eq!(
            decode(r#"{"a":"x\u0000","c":"y"}"#, true).err().unwrap(),
            ["parameter_invalid"]
        );
    }

    #[test]
    fn every_field_problem_is_reported_in_one_answer() {
        let codes = decode(r#"{"a":"","b":7}"#, true).err().unwrap();
        assert_eq!(
            codes,
            [
                "parameter_invalid",
                "parameter_invalid",
                "parameter_missing"
            ]
        );
        assert_eq!(
            decode(r#"{"a":null,"c":"y"}"#, true).err().unwrap(),
            ["parameter_missing"]
        );
    }
}

/// Properties over arbitrary bodies (proptest); the fuzz target `json_body` checks the same
/// invariants (`fuzzing::check_body`): never a panic, and any failure is a 4xx of this stage.
#[cfg(test)]
mod props {
    use super::*;
    use crate::api::fuzzing::check_body;
    use proptest::prelude::*;

    const NAMES: &[&str] = &[
        "grant_type",
        "psp_id",
        "scope",
        "redirect_uri",
        "state",
        "consent_id",
        "psu_account_id",
        "auth_code",
        "access_token",
        "other",
    ];

    /// JSON text, including values of every type, NUL and other escapes, nesting.
    fn json_value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            any::<bool>().prop_map(|b| b.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|n| n.to_string()),
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
            Just(r#""client_credentials""#.to_owned()),
            Just(r#""https://www.google.com""#.to_owned()),
            Just(r#""accounts payments""#.to_owned()),
            Just(r#""a\u0000b""#.to_owned()),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                object(inner),
            ]
        })
    }

    /// An object whose keys come from the body fields, repeats possible.
    fn object(values: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
        prop::collection::vec((prop::sample::select(NAMES), values), 0..8).prop_map(|pairs| {
            let members: Vec<String> = pairs.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            format!("{{{}}}", members.join(","))
        })
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics_and_fails_with_a_body_4xx(
            is_json in any::<bool>(),
            bytes in prop::collection::vec(any::<u8>(), 0..512),
        ) {
            check_body(&JsonBody::new(is_json, Bytes::from(bytes)));
        }

        #[test]
        fn decoding_arbitrary_objects_never_panics_and_fails_with_a_body_4xx(
            text in object(json_value()),
        ) {
            check_body(&JsonBody::new(true, Bytes::from(text)));
        }

        #[test]
        fn an_object_repeating_a_key_is_body_malformed(
            text in object(json_value()),
            key in prop::sample::select(NAMES),
        ) {
            let members = &text[1..text.len() - 1];
            let sep = if members.is_empty() { "" } else { "," };
            let repeated = format!("{{\"{key}\":1,{members}{sep}\"{key}\":2}}");
            let body = JsonBody::new(true, Bytes::from(repeated));
            let codes: Vec<_> = body
                .decode::<crate::api::tokens::TokenRequest>()
                .err()
                .map(|e| e.problems.iter().map(|p| p.code).collect())
                .unwrap_or_default();
            prop_assert_eq!(codes, vec![ErrorCode::BodyMalformed]);
        }
    }

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, PayloadError>> {
        let parts: Vec<_> = parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        futures_util::stream::iter(parts)
    }

    fn read(declared: Option<usize>, parts: &[&'static [u8]]) -> Result<Bytes, PayloadError> {
        futures::executor::block_on(read_body(declared, chunks(parts)))
    }

    #[test]
    fn a_body_in_one_chunk_is_kept_as_that_chunk() {
        let chunk: &'static [u8] = br#"{"access_token":"x"}"#;
        let body = read(Some(chunk.len()), &[chunk]).unwrap();
        assert_eq!(body.as_ptr(), chunk.as_ptr(), "not copied");
        assert!(read(None, &[]).unwrap().is_empty());
    }

    #[test]
    fn a_body_in_many_chunks_is_joined_in_order() {
        let body = read(None, &[b"{\"access", b"_token\"", b":\"x\"}"]).unwrap();
        assert_eq!(&body[..], br#"{"access_token":"x"}"#);
    }

    #[test]
    fn a_body_past_the_limit_is_refused_as_it_is_read() {
        static HALF: [u8; MAX_BODY_BYTES / 2] = [b' '; MAX_BODY_BYTES / 2];
        assert_eq!(read(None, &[&HALF, &HALF]).unwrap().len(), MAX_BODY_BYTES);
        let over = read(None, &[&HALF, &HALF, b"x"]);
        assert!(matches!(over, Err(PayloadError::Overflow)), "{over:?}");
        let whole_chunk = read(None, &[&[b' '; MAX_BODY_BYTES + 1]]);
        assert!(matches!(whole_chunk, Err(PayloadError::Overflow)));
    }

    #[test]
    fn a_declared_length_past_the_limit_or_unreadable_is_refused_up_front() {
        let with_length = |value: &str| {
            let req = actix_web::test::TestRequest::default()
                .insert_header((CONTENT_LENGTH, value))
                .to_http_request();
            declared_length(&req)
        };
        assert_eq!(with_length("16384").unwrap(), Some(MAX_BODY_BYTES));
        assert!(matches!(with_length("16385"), Err(PayloadError::Overflow)));
        assert!(matches!(
            with_length("-1"),
            Err(PayloadError::UnknownLength)
        ));
        let none = actix_web::test::TestRequest::default().to_http_request();
        assert_eq!(declared_length(&none).unwrap(), None);
    }
}
